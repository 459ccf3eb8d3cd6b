"""The scenery of the views made for people (level of detail per camera).

The 84x84 camera of the RL observation keeps :mod:`karting.env.render`'s cheap meshes (two boxes
per kart, flat tyre walls, the plain sky): trained models, golden pixels and the env's speed do
not change. The views a person watches (``Renderer.render_chase`` / ``render_from``: the drive
window, the race, replay and play videos, the TV camera) draw this instead:

- a low-poly kart (:func:`kart_mesh`): chassis, side pods, nose with a number plate, rear bumper,
  engine, seat, a driver in a dark suit with a helmet in the kart's colour, and four wheels that
  turn with the steering and roll with the distance travelled (their spokes blur at speed);
- a soft shadow under each kart (a rounded blob, blended onto the ground);
- tyre-stack barriers along the tyre walls: stacks of three tyres, the top one painted red or
  white, round on the side that faces the track (a flat band of the same look beyond
  ``STACK_VIEW_M``);
- kerbs with depth: a raised, rounded red-and-white band where the track has kerbs;
- trackside detail: trees (conifers and round ones), advertising boards along the start/finish
  straight and a start gantry across the line;
- a sky with clouds, a sun and two rows of hills; grain on the ground close up; a light haze far
  away. Everything is lit by one sun (:data:`SUN`).

All static geometry of a track is one vertex buffer cut into spatial chunks; the chunks within
reach of the camera are drawn with one indirect draw call.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..track import ASPHALT, KERB, WALL_RUNOFF_M, Track, distance_px
from ..track.geometry import simplify_polyline

#: the direction towards the sun (x east, y north, z up), unit length
SUN = np.array([-0.42, 0.36, 0.83]) / np.linalg.norm([-0.42, 0.36, 0.83])
TYRE_H = 0.3                 # one tyre of a stack [m]
STACK_R = 0.3                # radius of a stack [m]
STACK_STEP = 0.62            # between stack centres along the wall [m]
STACK_VIEW_M = 70.0          # stacks drawn round up to this distance, as a flat band beyond
FAR_VIEW_M = 450.0           # trees, boards, the gantry and far walls
CELL_M = 30.0                # chunk size of the static geometry [m]
KERB_PROFILE = ((-0.2, 0.0), (0.05, 0.055), (0.45, 0.08), (0.8, 0.06), (1.0, 0.0))   # (across, up) [m]

# materials of the static geometry (the fragment shader's ``v_mat``)
PLAIN, KERB_MAT, TYRE_SIDE, TYRE_TOP, BOARD, CHEQUER = 0, 1, 2, 3, 4, 5
#: static vertex: position, normal, colour, material, uv
STATIC_FORMAT = "3f 3f 3f 1f 2f"
STATIC_ATTRS = ("in_pos", "in_normal", "in_color", "in_mat", "in_uv")


# ---------------------------------------------------------------- the kart

class Mesh:
    """Triangles collected one face at a time; :meth:`array` gives (T*3, F) float32 vertices."""

    def __init__(self):
        self.rows = []

    def tri(self, a, b, c, normal, extra) -> None:
        for p in (a, b, c):
            self.rows.append((*p, *normal, *extra))

    def quad(self, a, b, c, d, extra, normal=None) -> None:
        """Quad a-b-c-d, counter-clockwise seen from the side its normal points to."""
        a, b, c, d = (np.asarray(v, np.float64) for v in (a, b, c, d))
        n = normal if normal is not None else _unit(np.cross(b - a, d - a))
        self.tri(a, b, c, n, extra)
        self.tri(a, c, d, n, extra)

    def box(self, lo, hi, extra, top_shrink=(0.0, 0.0)) -> None:
        """A box from corner ``lo`` to ``hi`` (its top face narrowed by ``top_shrink`` (x, y)
        on each side: a tapered pod or seat)."""
        (x0, y0, z0), (x1, y1, z1) = lo, hi
        sx, sy = top_shrink
        b = [(x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0)]
        t = [(x0 + sx, y0 + sy, z1), (x1 - sx, y0 + sy, z1), (x1 - sx, y1 - sy, z1), (x0 + sx, y1 - sy, z1)]
        self.quad(b[0], b[3], b[2], b[1], extra)           # bottom (normal -z)
        self.quad(t[0], t[1], t[2], t[3], extra)           # top
        for i in range(4):
            j = (i + 1) % 4
            self.quad(b[i], b[j], t[j], t[i], extra)

    def array(self) -> np.ndarray:
        return np.asarray(self.rows, np.float32)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v / max(float(np.linalg.norm(v)), 1e-12)


# kart vertex: position (3), normal (3), colour (3), part (1), pivot (3), extra (1). Colour r < 0
# is the kart's colour times -r; part 0 body, 1 front wheel, 2 rear wheel (position and normal
# relative to the wheel's centre ``pivot``; extra 1: a spoke, greyed at speed), 3 a segment of
# the number (extra: digit * 7 + segment; hidden when not lit for the kart's number)
KART_FORMAT = "3f 3f 3f 1f 3f 1f"
KART_ATTRS = ("in_pos", "in_normal", "in_color", "in_part", "in_pivot", "in_extra")
BODY, FRONT_WHEEL, REAR_WHEEL, DIGIT = 0, 1, 2, 3
TEAM, SUIT = (-1.0, 0.0, 0.0), (-0.5, 0.0, 0.0)       # the kart's colour; half as bright
BLACK, STEEL, WHITE = (0.06, 0.06, 0.07), (0.55, 0.56, 0.6), (0.93, 0.93, 0.93)
# seven segments (a..g) of a digit on a plate: (x0, y0, x1, y1) in a 1 x 2 cell
SEGMENTS = ((0.1, 1.8, 0.9, 2.0), (0.8, 1.0, 1.0, 1.9), (0.8, 0.1, 1.0, 1.0), (0.1, 0.0, 0.9, 0.2),
            (0.0, 0.1, 0.2, 1.0), (0.0, 1.0, 0.2, 1.9), (0.1, 0.9, 0.9, 1.1))
DIGIT_BITS = (0x3F, 0x06, 0x5B, 0x4F, 0x66, 0x6D, 0x7D, 0x07, 0x7F, 0x6F)   # bit k: segment k lit


def _wheel(m: Mesh, part: int, pivot, radius: float, width: float, rim, sides: int = 12) -> None:
    """A tyre (cylinder along y) with a rim on each face: every other rim sector is a spoke."""
    half = width / 2
    ring = [(radius * math.cos(2 * math.pi * k / sides), radius * math.sin(2 * math.pi * k / sides))
            for k in range(sides)]
    for k in range(sides):
        (x0, z0), (x1, z1) = ring[k], ring[(k + 1) % sides]
        n = _unit(((x0 + x1) / 2, 0.0, (z0 + z1) / 2))
        m.quad((x0, half, z0), (x1, half, z1), (x1, -half, z1), (x0, -half, z0), (*BLACK, part, *pivot, 0), n)
        for side in (1.0, -1.0):       # the two faces: tyre wall, then the rim
            y = side * half
            inner = 0.62
            nrm = (0.0, side, 0.0)
            a, b = (x0, y, z0), (x1, y, z1)
            ai, bi = (x0 * inner, y, z0 * inner), (x1 * inner, y, z1 * inner)
            if side > 0:
                m.quad(a, ai, bi, b, (*BLACK, part, *pivot, 0), nrm)
                m.tri((0.0, y, 0.0), bi, ai, nrm, (*(rim if k % 3 else STEEL), part, *pivot, 1))
            else:
                m.quad(a, b, bi, ai, (*BLACK, part, *pivot, 0), nrm)
                m.tri((0.0, y, 0.0), ai, bi, nrm, (*(rim if k % 3 else STEEL), part, *pivot, 1))


def _plate(m: Mesh, origin, u, v, width: float, height: float) -> None:
    """A white number plate spanning ``width`` along ``u`` and ``height`` along ``v`` from
    ``origin`` (its normal u x v faces out), with two digits' segments just in front of it."""
    o, u, v = (np.asarray(a, np.float64) for a in (origin, u, v))
    n = _unit(np.cross(u, v))
    m.quad(o, o + u * width, o + u * width + v * height, o + v * height, (*WHITE, BODY, 0, 0, 0, 0), n)
    cell_w, cell_h = width * 0.3, height * 0.4           # a digit: 1 x 2 units
    for d in range(2):
        base = o + n * 0.004 + u * (width * (0.12 + 0.46 * d)) + v * (height * 0.1)
        for s, (x0, y0, x1, y1) in enumerate(SEGMENTS):
            p = [base + u * (x * cell_w) + v * (y * cell_h) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
            m.quad(*p, (*BLACK, DIGIT, 0, 0, 0, d * 7 + s), n)


def _helmet(m: Mesh, centre, radius: float, rings: int = 5, sides: int = 10) -> None:
    """A low-poly helmet: a sphere in the kart's colour with a dark visor facing forward."""
    cx, cy, cz = centre

    def pt(i, k):
        th = math.pi * i / rings
        ph = 2 * math.pi * k / sides
        return np.array([math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph), math.cos(th)])

    for i in range(rings):
        for k in range(sides):
            a, b, c, d = pt(i, k), pt(i + 1, k), pt(i + 1, k + 1), pt(i, k + 1)
            mid = _unit(a + b + c + d)
            visor = i in (2, 3) and (k in (0, sides - 1))
            col = (0.05, 0.06, 0.09) if visor else TEAM
            pts = [np.array([cx, cy, cz]) + radius * p for p in (a, b, c, d)]
            m.quad(pts[0], pts[1], pts[2], pts[3], (*col, BODY, 0, 0, 0, 0), mid)


@functools.lru_cache(maxsize=1)
def kart_mesh() -> np.ndarray:
    """The kart of the views made for people, in the kart's frame (x forward, y left, z up,
    origin on the ground under the kart's position): (V, 14) float32 triangle vertices in
    :data:`KART_FORMAT`."""
    m = Mesh()

    def body(col):
        return (*col, BODY, 0, 0, 0, 0)

    m.box((-0.78, -0.36, 0.06), (0.62, 0.36, 0.09), body((0.2, 0.2, 0.22)))                  # floor tray
    m.box((-0.08, -0.62, 0.07), (0.36, -0.42, 0.25), body(TEAM), (0.04, 0.03))               # side pods
    m.box((-0.08, 0.42, 0.07), (0.36, 0.62, 0.25), body(TEAM), (0.04, 0.03))
    # nose: a wedge in the kart's colour, sloping down to the front
    nose_b = [(0.62, -0.42, 0.07), (0.95, -0.38, 0.07), (0.95, 0.38, 0.07), (0.62, 0.42, 0.07)]
    nose_t = [(0.62, -0.36, 0.27), (0.92, -0.34, 0.14), (0.92, 0.34, 0.14), (0.62, 0.36, 0.27)]
    m.quad(nose_t[0], nose_t[1], nose_t[2], nose_t[3], body(TEAM))
    for i in range(4):
        j = (i + 1) % 4
        m.quad(nose_b[i], nose_b[j], nose_t[j], nose_t[i], body(TEAM))
    # front number plate on the panel above the driver's feet, tilted back
    _plate(m, (0.58, -0.17, 0.3), (0.0, 1.0, 0.0), (-0.22, 0.0, 0.16), 0.34, 1.0)
    m.box((0.5, -0.2, 0.09), (0.6, 0.2, 0.34), body(TEAM))                                    # front panel
    m.box((-0.98, -0.58, 0.08), (-0.88, 0.58, 0.22), body(TEAM))                              # rear bumper
    m.box((-0.92, -0.5, 0.1), (-0.78, -0.42, 0.16), body((0.2, 0.2, 0.22)))
    m.box((-0.92, 0.42, 0.1), (-0.78, 0.5, 0.16), body((0.2, 0.2, 0.22)))
    m.box((-0.62, -0.04, 0.09), (-0.36, 0.02, 0.12), body((0.25, 0.25, 0.28)))                # rear axle
    m.box((-0.55, -0.42, 0.1), (-0.6 + 0.38, -0.62 + 0.1, 0.08 + 0.28), body((0.7, 0.7, 0.72)))  # engine
    m.box((-0.52, -0.6, 0.26), (-0.28, -0.48, 0.42), body((0.2, 0.2, 0.22)))                  # air box
    for side in (1, -1):   # side number plates on the pods, facing out
        y = 0.625 * side
        o = (0.3, y, 0.09) if side > 0 else (-0.05, y, 0.09)
        _plate(m, o, (-side * 0.35 / 0.35, 0.0, 0.0), (0.0, 0.0, 1.0), 0.3, 0.15)
    m.box((-0.5, -0.22, 0.09), (-0.18, 0.22, 0.22), body((0.1, 0.1, 0.12)))                   # seat base
    m.box((-0.56, -0.22, 0.09), (-0.46, 0.22, 0.5), body((0.1, 0.1, 0.12)), (0.02, 0.02))     # seat back
    # the driver: legs forward, torso leaning back, arms to the wheel, helmet in the kart's colour
    m.box((-0.2, -0.17, 0.12), (0.5, -0.04, 0.25), body(SUIT))
    m.box((-0.2, 0.04, 0.12), (0.5, 0.17, 0.25), body(SUIT))
    m.box((-0.45, -0.2, 0.2), (-0.2, 0.2, 0.78), body(SUIT), (0.02, 0.03))
    m.box((-0.3, -0.26, 0.5), (0.14, -0.18, 0.6), body(SUIT))
    m.box((-0.3, 0.18, 0.5), (0.14, 0.26, 0.6), body(SUIT))
    m.box((-0.36, -0.07, 0.76), (-0.28, 0.07, 0.86), body(SUIT))                              # neck
    _helmet(m, (-0.31, 0.0, 0.98), 0.15)
    m.box((0.14, -0.17, 0.5), (0.18, 0.17, 0.62), body((0.08, 0.08, 0.08)))                   # steering wheel
    m.box((0.16, -0.02, 0.25), (0.42, 0.02, 0.55), body((0.3, 0.3, 0.32)))                    # column
    for x, y, r, w, part in ((0.55, 0.6, 0.135, 0.13, FRONT_WHEEL), (0.55, -0.6, 0.135, 0.13, FRONT_WHEEL),
                             (-0.58, 0.62, 0.145, 0.2, REAR_WHEEL), (-0.58, -0.62, 0.145, 0.2, REAR_WHEEL)):
        _wheel(m, part, (x, y, r), r, w, (0.75, 0.75, 0.78))
    return m.array()


# ---------------------------------------------------------------- the track's scenery

def _lookup(track: Track, pts: np.ndarray) -> np.ndarray:
    """Surface codes at world points (..., 2)."""
    return track.surface_at(pts[..., 0], pts[..., 1])


def wall_lines(track: Track, runoff_m: float = WALL_RUNOFF_M) -> list:
    """The tyre walls as world polylines [(P, 2) float64], each with its normal towards the track
    (P, 2): contours of the distance to the track at ``runoff_m``."""
    import contourpy
    on = (track.surface == ASPHALT) | (track.surface == KERB)
    dist = distance_px(~on) * track.scale
    pad = np.pad(dist, 1, constant_values=dist.max())
    lines = contourpy.contour_generator(z=pad, name="serial").lines(runoff_m)
    h, w = track.surface.shape
    out = []
    for ln in lines:
        px = ln - 1.0
        world = np.stack([(px[:, 0] + 0.5) * track.scale, (h - px[:, 1] - 0.5) * track.scale], 1)
        if np.linalg.norm(np.diff(world, axis=0), axis=1).sum() < 10:
            continue
        p = simplify_polyline(world, 0.2)
        t = np.gradient(p, axis=0)
        t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-9)
        n = np.stack([-t[:, 1], t[:, 0]], 1)
        probe = p + n * 1.0                    # which side is nearer the track: the distance falls there
        col = np.clip((probe[:, 0] / track.scale).astype(int), 0, w - 1)
        row = np.clip((h - probe[:, 1] / track.scale).astype(int), 0, h - 1)
        if np.mean(dist[row, col] < runoff_m) < 0.5:
            n = -n
        out.append((p, n))
    return out


class StaticMesh:
    """Objects' triangles in world space (vertices in :data:`STATIC_FORMAT`), each object with
    its place (for the chunks) and the distance band it is drawn in."""

    def __init__(self):
        self.parts = []        # (vertices (V, 12), x, y, near, far)

    def add(self, verts: np.ndarray, xy, near: float = 0.0, far: float = FAR_VIEW_M) -> None:
        if len(verts):
            self.parts.append((np.asarray(verts, np.float32), float(xy[0]), float(xy[1]), near, far))

    def chunks(self) -> tuple:
        """(vertices (V, 12) float32, chunk first vertex (K,), count (K,), centre (K, 2),
        radius (K,), near (K,), far (K,)): objects grouped by distance band and cell."""
        if not self.parts:
            z = np.zeros(0, np.float32)
            return np.zeros((0, 12), np.float32), z.astype(np.int32), z.astype(np.int32), np.zeros((0, 2)), z, z, z
        keys = [(near, far, math.floor(x / CELL_M), math.floor(y / CELL_M)) for _, x, y, near, far in self.parts]
        order = sorted(range(len(keys)), key=lambda i: keys[i])
        verts, first, count, centre, radius, near, far = [], [], [], [], [], [], []
        n = 0
        i = 0
        while i < len(order):
            j = i
            group = []
            while j < len(order) and keys[order[j]] == keys[order[i]]:
                group.append(self.parts[order[j]][0])
                j += 1
            v = np.concatenate(group)
            lo, hi = v[:, :2].min(0), v[:, :2].max(0)
            verts.append(v)
            first.append(n)
            count.append(len(v))
            centre.append((lo + hi) / 2)
            radius.append(float(np.hypot(*(hi - lo))) / 2)
            near.append(keys[order[i]][0])
            far.append(keys[order[i]][1])
            n += len(v)
            i = j
        return (np.concatenate(verts), np.asarray(first, np.int32), np.asarray(count, np.int32),
                np.asarray(centre, np.float32), np.asarray(radius, np.float32), np.asarray(near, np.float32),
                np.asarray(far, np.float32))


def _verts(pos, normal, colour, mat, uv) -> np.ndarray:
    """Stack per-vertex arrays (broadcast) into (V, 12) static vertices."""
    pos = np.asarray(pos, np.float64)
    v = np.empty((len(pos), 12), np.float32)
    v[:, 0:3], v[:, 3:6], v[:, 6:9] = pos, normal, colour
    v[:, 9], v[:, 10:12] = mat, uv
    return v


def _quads(a, b, c, d):
    """Per-quad corner arrays (Q, k) -> triangle-vertex array (Q*6, k) (a-b-c, a-c-d)."""
    return np.stack([a, b, c, a, c, d], 1).reshape(-1, np.shape(a)[-1])


def tyre_stacks(mesh: StaticMesh, track: Track) -> int:
    """Stacks of three tyres along every tyre wall (round where they face the track, flat at the
    back) within STACK_VIEW_M, and a flat band of the same look beyond. Returns the stack count."""
    total = 0
    height = 3 * TYRE_H
    for p, n in wall_lines(track):
        seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
        s = np.concatenate([[0], np.cumsum(seg)])
        k = max(int(s[-1] // STACK_STEP), 1)
        at = (np.arange(k) + 0.5) * (s[-1] / k)
        cx, cy = np.interp(at, s, p[:, 0]), np.interp(at, s, p[:, 1])
        nx, ny = np.interp(at, s, n[:, 0]), np.interp(at, s, n[:, 1])
        nn = np.maximum(np.hypot(nx, ny), 1e-9)
        nx, ny = nx / nn, ny / nn                     # towards the track
        tx, ty = -ny, nx
        cx, cy = cx - nx * STACK_R, cy - ny * STACK_R    # the stack's front touches the wall line
        total += k
        red = ((np.arange(k) // 2) % 2 == 0).astype(np.float32)
        angles = np.radians([-90, -45, 0, 45, 90])
        # front half of each stack: 4 segments; rim points (k, 5, 2) and their normals
        dirs = np.stack([np.cos(angles)[None, :] * nx[:, None] + np.sin(angles)[None, :] * tx[:, None],
                         np.cos(angles)[None, :] * ny[:, None] + np.sin(angles)[None, :] * ty[:, None]], -1)
        rim = np.stack([cx, cy], 1)[:, None, :] + STACK_R * dirs
        stacks = []
        for j in range(4):
            a, b = rim[:, j], rim[:, j + 1]
            na, nb = dirs[:, j], dirs[:, j + 1]
            z0, z1 = np.zeros((k, 1)), np.full((k, 1), height)
            pos = _quads(np.c_[a, z0], np.c_[b, z0], np.c_[b, z1], np.c_[a, z1])
            nrm = _quads(np.c_[na, z0], np.c_[nb, z0], np.c_[nb, z0], np.c_[na, z0])
            uv = _quads(*[np.c_[red, zz] for zz in (z0, z0, z1, z1)])
            stacks.append((pos, nrm, uv, TYRE_SIDE))
        # the flat back (the diameter)
        a, b = rim[:, 4], rim[:, 0]
        z0, z1 = np.zeros((k, 1)), np.full((k, 1), height)
        back = -np.stack([nx, ny], 1)
        stacks.append((_quads(np.c_[a, z0], np.c_[b, z0], np.c_[b, z1], np.c_[a, z1]),
                       _quads(*[np.c_[back, z0]] * 4), _quads(*[np.c_[red, zz] for zz in (z0, z0, z1, z1)]),
                       TYRE_SIDE))
        # the top: a fan from the centre; uv = offset from the centre (the hole)
        c3 = np.c_[cx, cy, np.full(k, height)]
        up = np.tile([0.0, 0.0, 1.0], (k, 1))
        for j in range(4):
            a3, b3 = np.c_[rim[:, j], np.full(k, height)], np.c_[rim[:, j + 1], np.full(k, height)]
            pos = np.stack([c3, a3, b3], 1).reshape(-1, 3)
            uv = np.stack([np.zeros((k, 2)), STACK_R * dirs[:, j], STACK_R * dirs[:, j + 1]], 1).reshape(-1, 2)
            stacks.append((pos, np.repeat(up, 3, 0), uv, TYRE_TOP))
        # one object per stack (chunks group them by cell)
        per = []
        for pos, nrm, uv, mat in stacks:
            vpk = len(pos) // k
            colour = np.where(np.repeat(red, vpk)[:, None] > 0.5, [0.78, 0.1, 0.1], [0.9, 0.9, 0.9])
            per.append(_verts(pos, nrm, colour, mat, uv).reshape(k, vpk, 12))
        allv = np.concatenate(per, 1)
        for i in range(k):
            mesh.add(allv[i], (cx[i], cy[i]), 0.0, STACK_VIEW_M)
        # the far band: the stacks' middle plane, flat
        band_lo = np.c_[cx, cy, np.zeros(k)]
        band_hi = np.c_[cx, cy, np.full(k, height)]
        nrm = np.c_[nx, ny, np.zeros(k)]
        for i0 in range(0, k - 1, 16):
            i1 = min(i0 + 16, k - 1)
            idx = np.arange(i0, i1)
            pos = _quads(band_lo[idx], band_lo[idx + 1], band_hi[idx + 1], band_hi[idx])
            nr = _quads(nrm[idx], nrm[idx + 1], nrm[idx + 1], nrm[idx])
            uv = _quads(np.c_[red[idx], np.zeros(len(idx))], np.c_[red[idx], np.zeros(len(idx))],
                        np.c_[red[idx], np.full(len(idx), height)], np.c_[red[idx], np.full(len(idx), height)])
            colour = np.where(np.repeat(red[idx], 6)[:, None] > 0.5, [0.78, 0.1, 0.1], [0.9, 0.9, 0.9])
            mesh.add(_verts(pos, nr, colour, TYRE_SIDE, uv), (cx[(i0 + i1) // 2], cy[(i0 + i1) // 2]),
                     STACK_VIEW_M - 10.0, FAR_VIEW_M)
    return total


def kerb_edges(track: Track) -> list:
    """Where the track has kerbs: [(side (+1 left), centre-line indices (R,), distance of the
    asphalt's edge from the centre line (R,))], one entry per run of consecutive samples."""
    m = len(track.centre)
    d = np.arange(0.0, float(track.width.max()) / 2 + 3.0, 0.1)
    out = []
    for side in (1.0, -1.0):
        pts = track.centre[:, None, :] + side * track.normal[:, None, :] * d[None, :, None]
        surf = _lookup(track, pts)                                      # (M, D)
        off = surf != ASPHALT
        first = np.where(off.any(1), off.argmax(1), len(d) - 1)
        edge = d[first]
        edge = np.convolve(np.r_[edge[-3:], edge, edge[:3]], np.ones(7) / 7, mode="valid")   # smooth the pixel steps
        probe = track.centre + side * track.normal * (edge + 0.45)[:, None]
        has = _lookup(track, probe) == KERB
        if not has.any():
            continue
        if has.all():
            out.append((side, np.arange(m), edge))
            continue
        start = int(np.flatnonzero(~has)[0])            # runs, walking round from a sample without a kerb
        idx = (np.arange(m) + start) % m
        run = []
        for i in idx:
            if has[i]:
                run.append(i)
            elif run:
                out.append((side, np.asarray(run), edge[run]))
                run = []
        if run:
            out.append((side, np.asarray(run), edge[run]))
    return out


def kerbs(mesh: StaticMesh, track: Track) -> int:
    """Raised kerbs (:data:`KERB_PROFILE`) over the painted ones. Returns the number of kerbs."""
    runs = kerb_edges(track)
    prof = np.asarray(KERB_PROFILE)
    slope = np.gradient(prof[:, 1], prof[:, 0])
    for side, idx, edge in runs:
        if len(idx) < 2:
            continue
        c, n = track.centre[idx], track.normal[idx] * side
        s = idx * track.spacing
        s = np.where(np.diff(np.r_[idx[0], idx]) < 0, s + track.length, s)     # past the line
        s = np.maximum.accumulate(s)
        for j in range(len(prof) - 1):
            (a0, h0), (a1, h1) = prof[j], prof[j + 1]
            p0 = c + n * (edge + a0)[:, None]
            p1 = c + n * (edge + a1)[:, None]
            n0 = np.c_[-n * slope[j], np.ones(len(idx))]
            n1 = np.c_[-n * slope[j + 1], np.ones(len(idx))]
            q = slice(0, len(idx) - 1)
            r = slice(1, len(idx))
            pos = _quads(np.c_[p0[q], np.full(len(idx) - 1, h0)], np.c_[p0[r], np.full(len(idx) - 1, h0)],
                         np.c_[p1[r], np.full(len(idx) - 1, h1)], np.c_[p1[q], np.full(len(idx) - 1, h1)])
            nrm = _quads(n0[q], n0[r], n1[r], n1[q])
            uv = _quads(np.c_[s[q], np.zeros(len(idx) - 1)], np.c_[s[r], np.zeros(len(idx) - 1)],
                        np.c_[s[r], np.ones(len(idx) - 1)], np.c_[s[q], np.ones(len(idx) - 1)])
            v = _verts(pos, nrm, (0.9, 0.9, 0.9), KERB_MAT, uv).reshape(len(idx) - 1, 6, 12)
            for i0 in range(0, len(idx) - 1, 12):
                part = v[i0:i0 + 12].reshape(-1, 12)
                mesh.add(part, part[:, :2].mean(0), 0.0, 160.0)
    return len(runs)


def _cone(cx, cy, z0, z1, r, sides, colour, mat=PLAIN) -> np.ndarray:
    """A cone (or, with z0 == z1 - height and r a pair (bottom, top), a frustum) around a vertical axis."""
    rb, rt = (r, 0.0) if np.isscalar(r) else r
    a = 2 * np.pi * np.arange(sides + 1) / sides
    ca, sa = np.cos(a), np.sin(a)
    rows = []
    slope = (rb - rt) / max(z1 - z0, 1e-9)
    for i in range(sides):
        b0 = (cx + rb * ca[i], cy + rb * sa[i], z0)
        b1 = (cx + rb * ca[i + 1], cy + rb * sa[i + 1], z0)
        t0 = (cx + rt * ca[i], cy + rt * sa[i], z1)
        t1 = (cx + rt * ca[i + 1], cy + rt * sa[i + 1], z1)
        n0 = _unit((ca[i], sa[i], slope))
        n1 = _unit((ca[i + 1], sa[i + 1], slope))
        rows += [(*b0, *n0), (*b1, *n1), (*t1, *n1), (*b0, *n0), (*t1, *n1), (*t0, *n0)]
    arr = np.asarray(rows)
    return _verts(arr[:, :3], arr[:, 3:], colour, mat, (0.0, 0.0))


def _blob(cx, cy, cz, r, colour, rng) -> np.ndarray:
    """A round low-poly crown: an icosahedron, its vertices pushed in and out a little."""
    t = (1 + 5 ** 0.5) / 2
    v = np.array([(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
                  (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)], np.float64)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    v *= rng.uniform(0.85, 1.12, (12, 1))
    f = np.array([(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2),
                  (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5),
                  (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)])
    tri = v[f]                                               # (20, 3, 3)
    nrm = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    pos = tri.reshape(-1, 3) * np.array([r, r, r * 0.9]) + (cx, cy, cz)
    return _verts(pos, np.repeat(nrm, 3, 0), colour, PLAIN, (0.0, 0.0))


def trees(mesh: StaticMesh, track: Track, seed: int = 0, most: int = 420) -> int:
    """Trees in clumps on the grass beyond the tyre walls (11-120 m from the track), inside the
    image. Returns the number of trees."""
    rng = np.random.default_rng(seed + 7)
    on = (track.surface == ASPHALT) | (track.surface == KERB)
    dist = distance_px(~on) * track.scale
    h, w = dist.shape
    w_m, h_m = track.extent_m
    cand = rng.uniform([0, 0], [w_m, h_m], (6000, 2))
    col = np.clip((cand[:, 0] / track.scale).astype(int), 0, w - 1)
    row = np.clip((h - cand[:, 1] / track.scale).astype(int), 0, h - 1)
    d = dist[row, col]
    # clumps: a few centres; a candidate is kept near one of them
    centres = rng.uniform([0, 0], [w_m, h_m], (24, 2))
    near = np.min(np.linalg.norm(cand[:, None] - centres[None], axis=2), axis=1)
    keep = (d > WALL_RUNOFF_M + 6.0) & (d < 120.0) & (near < rng.uniform(30, 70, len(cand)))
    pts = cand[keep][:most]
    for x, y in pts:
        size = rng.uniform(0.8, 1.4)
        if rng.random() < 0.55:          # a conifer
            trunk = _cone(x, y, 0.0, 1.4 * size, (0.18 * size, 0.14 * size), 5, (0.35, 0.24, 0.15))
            g = rng.uniform(0.75, 1.05)
            green = (0.13 * g, 0.33 * g, 0.16 * g)
            parts = [trunk] + [_cone(x, y, (1.0 + 1.9 * i) * size, (4.4 + 1.7 * i) * size, (2.0 - 0.45 * i) * size, 7,
                                     green) for i in range(3)]
        else:                            # a round crown
            trunk = _cone(x, y, 0.0, 2.6 * size, (0.2 * size, 0.15 * size), 5, (0.38, 0.27, 0.17))
            g = rng.uniform(0.8, 1.1)
            parts = [trunk, _blob(x, y, 4.0 * size, 2.4 * size, (0.22 * g, 0.42 * g, 0.15 * g), rng)]
        mesh.add(np.concatenate(parts), (x, y))
    return len(pts)


BOARD_COLOURS = (((0.1, 0.25, 0.7), (0.95, 0.85, 0.1)), ((0.85, 0.1, 0.1), (0.95, 0.95, 0.95)),
                 ((0.1, 0.1, 0.12), (0.95, 0.45, 0.05)), ((0.05, 0.5, 0.3), (0.95, 0.95, 0.95)))


def _board(a, b, z0, z1, toward, kind: int, uv_w) -> np.ndarray:
    """A vertical board from ``a`` to ``b`` (x, y) between heights z0 and z1, its printed face
    (colours ``BOARD_COLOURS[kind]``) towards ``toward`` (a unit (x, y)); the back is grey. The
    face's uv.x is the distance along it plus 10 * kind (the shader's accent colour)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    n = np.array([toward[0], toward[1], 0.0])
    face = _quads(np.r_[a, z0][None], np.r_[b, z0][None], np.r_[b, z1][None], np.r_[a, z1][None])
    uv = _quads(np.array([[0.0, 0.0]]), np.array([[uv_w, 0.0]]), np.array([[uv_w, 1.0]]), np.array([[0.0, 1.0]]))
    uv[:, 0] += 10.0 * kind
    front = _verts(face + np.r_[n[:2] * 0.02, 0.0], np.tile(n, (6, 1)), BOARD_COLOURS[kind][0], BOARD, uv)
    back = _verts(face - np.r_[n[:2] * 0.02, 0.0], np.tile(-n, (6, 1)), (0.45, 0.45, 0.47), PLAIN, (0.0, 0.0))
    return np.concatenate([front, back])


def trackside(mesh: StaticMesh, track: Track, seed: int = 0) -> dict:
    """Advertising boards behind the tyre wall along the start/finish straight and the start
    gantry across the line. Returns what was placed."""
    rng = np.random.default_rng(seed + 11)
    m = len(track.centre)
    ds = float(track.spacing)
    # boards: on the outside of the straight through the line, where it is nearly straight
    side = 1.0 if np.mean(track.curvature[np.r_[-m // 8:m // 8] % m]) < 0 else -1.0
    boards = 0
    span = int(70 / ds)
    for k in range(-span, span, max(int(4.2 / ds), 1)):
        i = k % m
        if abs(track.curvature[i]) > 1 / 80 or abs(k) * ds < 12:
            continue
        j = (i + max(int(3.6 / ds), 1)) % m
        off_i = track.width[i] / 2 + WALL_RUNOFF_M + 1.2
        off_j = track.width[j] / 2 + WALL_RUNOFF_M + 1.2
        a = track.centre[i] + side * track.normal[i] * off_i
        b = track.centre[j] + side * track.normal[j] * off_j
        toward = -side * track.normal[i]
        if side > 0:        # the printed face's quad runs a -> b, counter-clockwise seen from the track
            a, b = b, a
        v = _board(a, b, 0.35, 1.35, toward, int(rng.integers(len(BOARD_COLOURS))), 3.6)
        legs = [_cone(*(a + (b - a) * f), 0.0, 0.4, (0.05, 0.05), 4, (0.3, 0.3, 0.32)) for f in (0.15, 0.85)]
        mesh.add(np.concatenate([v, *legs]), (a + b) / 2)
        boards += 1
    # the gantry: two posts beyond the edges and a beam with a chequered banner and five lights
    c, nrm, tan = track.centre[0], track.normal[0], track.tangent[0]
    half = track.width[0] / 2 + 1.6
    left, right = c + nrm * half, c - nrm * half
    parts = [_cone(*left, 0.0, 4.8, (0.22, 0.22), 6, (0.2, 0.2, 0.22)),
             _cone(*right, 0.0, 4.8, (0.22, 0.22), 6, (0.2, 0.2, 0.22))]
    for facing in (1.0, -1.0):      # the banner on both faces of the beam
        off = -tan * facing * 0.2
        a, b = right + off, left + off
        if facing < 0:
            a, b = b, a
        t = np.r_[-tan * facing]
        face = _quads(np.r_[a, 4.0][None], np.r_[b, 4.0][None], np.r_[b, 4.8][None], np.r_[a, 4.8][None])
        uv = _quads(np.array([[0.0, 0.0]]), np.array([[2 * half, 0.0]]), np.array([[2 * half, 0.8]]),
                    np.array([[0.0, 0.8]]))
        parts.append(_verts(face, np.tile(np.r_[t, 0.0], (6, 1)), (0.1, 0.1, 0.1), CHEQUER, uv))
    top = _quads(np.r_[right - tan * 0.2, 4.8][None], np.r_[right + tan * 0.2, 4.8][None],
                 np.r_[left + tan * 0.2, 4.8][None], np.r_[left - tan * 0.2, 4.8][None])
    parts.append(_verts(top, np.tile([0.0, 0.0, 1.0], (6, 1)), (0.15, 0.15, 0.16), PLAIN, (0.0, 0.0)))
    for q in range(5):              # light pods under the beam
        p = c + nrm * ((q - 2) * 0.7) - tan * 0.25
        parts.append(_cone(*p, 3.55, 4.0, (0.16, 0.16), 6, (0.08, 0.08, 0.09)))
        parts.append(_blob(*(p - tan * 0.12), 3.78, 0.09, (0.55, 0.05, 0.05), rng))
    mesh.add(np.concatenate(parts), c)
    return {"boards": boards, "gantry": 1}


def build_scenery(track: Track, seed: int = 0) -> tuple:
    """Everything static of a track: (chunks as :meth:`StaticMesh.chunks` gives them, counts)."""
    mesh = StaticMesh()
    counts = {"tyre_stacks": tyre_stacks(mesh, track), "kerbs": kerbs(mesh, track), "trees": trees(mesh, track, seed)}
    counts.update(trackside(mesh, track, seed))
    return mesh.chunks(), counts


# ---------------------------------------------------------------- the sky

def _noise2(u: np.ndarray, v: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Smooth periodic value noise of ``grid`` (G, G) at coordinates (u, v) in grid cells."""
    g = grid.shape[0]
    u0, v0 = np.floor(u), np.floor(v)
    fu, fv = u - u0, v - v0
    fu, fv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
    i0, j0 = u0.astype(np.int64) % g, v0.astype(np.int64) % g
    i1, j1 = (i0 + 1) % g, (j0 + 1) % g
    a = grid[i0, j0] * (1 - fu) + grid[i1, j0] * fu
    b = grid[i0, j1] * (1 - fu) + grid[i1, j1] * fu
    return a * (1 - fv) + b * fv


@functools.lru_cache(maxsize=2)
def sky_panorama(size: int = 320, seed: int = 0) -> tuple:
    """Six cube-map faces (size, size, 3) uint8 (GL order, lookup vector = world (east, north,
    up), as :func:`karting.env.render.sky_panorama`): a deep blue zenith fading to a hazy
    horizon, the sun and its glow, drifting cumulus, and two rows of hills (far ones blue with
    haze, near ones green with a tree line)."""
    t = (np.arange(size) + 0.5) / size * 2 - 1
    tc, sc = np.meshgrid(t, t, indexing="ij")
    one = np.ones_like(sc)
    dirs = [(one, -tc, -sc), (-one, -tc, sc), (sc, one, tc), (sc, -one, -tc), (sc, -tc, one), (-sc, -tc, -one)]
    rng = np.random.default_rng(seed + 3)
    grids = [rng.random((64, 64)) for _ in range(5)]
    hill_grid = rng.random((1, 256)).repeat(2, 0)
    sun = SUN
    zenith, horizon = np.array([0.22, 0.45, 0.82]), np.array([0.74, 0.84, 0.95])
    faces = []
    for x, y, z in dirs:
        norm = np.sqrt(x * x + y * y + z * z)
        dx, dy, dz = x / norm, y / norm, z / norm
        el = np.clip(dz, -1, 1)
        g = np.clip(el, 0, 1) ** 0.55
        rgb = horizon * (1 - g[..., None]) + zenith * g[..., None]
        cosang = dx * sun[0] + dy * sun[1] + dz * sun[2]
        rgb += (np.clip(cosang, 0, 1) ** 24 * 0.35)[..., None] * np.array([1.0, 0.9, 0.7])
        rgb = np.where((cosang > 0.9993)[..., None], np.array([1.0, 0.98, 0.9]), rgb)
        # clouds on a plane above: fBm of value noise, thinning towards the horizon
        k = 1.0 / np.maximum(dz + 0.12, 0.05)
        pu, pv = dx * k * 3.0 + 11.0, dy * k * 3.0 + 5.0
        f = sum(_noise2(pu * 2 ** o, pv * 2 ** o, grids[o]) * 0.5 ** o for o in range(5)) / 1.9375
        dens = np.clip((f - 0.5) / 0.22, 0, 1) * np.clip((dz - 0.02) / 0.2, 0, 1)
        shade = np.clip(_noise2(pu * 2 + 0.35, pv * 2 + 0.3, grids[1]) - f * 0.5, 0, 1)
        cloud = np.array([0.97, 0.97, 0.98]) - (0.22 * shade)[..., None]
        rgb = rgb * (1 - dens[..., None] * 0.9) + cloud * (dens[..., None] * 0.9)
        # hills: far (blue, hazy) and near (green, a ragged tree line)
        az = np.arctan2(dy, dx) / (2 * np.pi) * 256
        elh = dz / np.maximum(np.hypot(dx, dy), 1e-6)
        far = 0.03 + 0.045 * _noise2(az / 16 + 0.5, np.zeros_like(az), hill_grid) + 0.012 * _noise2(
            az / 3 + 0.5, np.ones_like(az), hill_grid)
        near = 0.012 + 0.016 * _noise2(az / 7, np.zeros_like(az), hill_grid) + 0.006 * _noise2(
            az * 4, np.ones_like(az), hill_grid)
        shade_far = (0.92 + 0.16 * _noise2(az / 2, np.ones_like(az) * 0.5, hill_grid))[..., None]
        far_col = (horizon * 0.5 + np.array([0.32, 0.42, 0.4]) * 0.5) * shade_far
        rgb = np.where((elh < far)[..., None], far_col, rgb)
        tree_line = (0.85 + 0.3 * _noise2(az * 6, np.zeros_like(az), hill_grid))[..., None]
        rgb = np.where((elh < near)[..., None], np.array([0.16, 0.3, 0.16]) * tree_line, rgb)
        rgb = np.where((elh < 0)[..., None], np.array([0.22, 0.36, 0.2]), rgb)
        faces.append((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    return tuple(faces)


def grain(shape: tuple, sc: float, seed: int = 0) -> np.ndarray:
    """(H, W) float32 brightness factors around 1 for a ground texture of ``sc`` metres per
    texel: blotches of ~8 m and a fine grain of ~0.6 m (random values on a grid of that size,
    interpolated), baked into the texture so that the ground costs one texture lookup a pixel."""
    from scipy import ndimage
    rng = np.random.default_rng(seed + 5)
    h, w = shape
    out = np.full(shape, 0.8, np.float32)
    for cell, amp in ((8.0, 0.2), (0.6, 0.2)):
        k = cell / sc                                   # texels per grid cell
        grid = rng.random((int(h / k) + 3, int(w / k) + 3)).astype(np.float32)
        up = ndimage.zoom(grid, k, order=1, prefilter=False, grid_mode=False)
        out += amp * up[:h, :w]
    return out
