"""Tracks: a PNG (a dark paint = asphalt, a light one = grass) plus an optional entry in ``checkpoints.json``.

Everything the simulator needs is derived from the image alone; the JSON entry only overrides it:

* the closed centre line (the medial curve between the outer grass and the infield, ordered,
  smoothed and resampled every ``CENTRE_SPACING_M``), full track widths, curvature, tangents;
* the driving direction (default: clockwise as seen on the image), start/finish on the middle of
  the longest straight, checkpoint gates across the track, three sectors;
* a racing line inside the track limits, keeping ``RACING_MARGIN_M`` from the edges: the blend of
  minimum curvature and shortest path with the lowest lap time (:mod:`karting.track.raceline`);
* a surface grid (grass / asphalt / kerb) at image resolution, used by physics and the renderer.

World coordinates are metres with x to the right and y *up* the image; pixel ``(col, row)`` has
its centre at ``((col + 0.5) * scale, (H - row - 0.5) * scale)``. The JSON stores pixel
coordinates so that an editor can write it without knowing the scale.

``checkpoints.json`` (owned by :mod:`karting.track.catalog`)::

    {"version": 1,
     "tracks": {"circuit.png": {
         "scale_m_per_px": 0.5,                      # optional, default DEFAULT_SCALE_M_PER_PX
         "direction": "clockwise",                   # optional: or "counterclockwise"
         "checkpoints": [[[c1, r1], [c2, r2]], ...],  # optional gates in driving order, pixels;
                                                     # the first one is start/finish
         "sectors": [7, 15],                         # optional: gate indices starting S2 and S3
         "start": {"x": c, "y": r, "heading_deg": 90} # optional start pose (pixels, image angle)
     }}}
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import numerics as nm
from . import geometry as geo
from .entry import default_checkpoints_path, track_content_key, validate_entry
from .errors import TrackError
from .paint import DEFAULT_SCALE_M_PER_PX, asphalt_mask, read_image_rgb
from .raceline import min_time_offsets

CENTRE_SPACING_M = 1.0
MIN_TRACK_WIDTH_M = 4.0          # a kart is ~1.4 m wide; below this, racing is impossible
RACING_MARGIN_M = 1.2            # racing line keeps this far from the track edge (half a kart + 0.5 m)
KERB_WIDTH_M = 1.0
KERB_MIN_CURVATURE = 1.0 / 60.0  # kerbs only where the corner is tighter than a 60 m radius
GATE_SPACING_M = 40.0

GRASS, ASPHALT, KERB, BARRIER = 0, 1, 2, 3
#: Tyre walls stand this far outside the asphalt; beyond them the surface is BARRIER (a crash).
WALL_RUNOFF_M = 5.0
DEFAULT_TRACKS_DIR = Path(__file__).resolve().parent.parent.parent / "tracks"


@dataclass
class Track:
    """A derived track: surface grid, centre line and its frame, widths, curvature, gates,
    sectors and racing line, in world metres (x right, y up)."""
    name: str
    path: Path
    scale: float                     # metres per pixel
    surface: np.ndarray              # (H, W) uint8: GRASS / ASPHALT / KERB / BARRIER
    centre: np.ndarray               # (M, 2) float64 world metres, index 0 = start/finish
    tangent: np.ndarray              # (M, 2) unit, driving direction
    normal: np.ndarray               # (M, 2) unit, pointing to the driver's left
    width: np.ndarray                # (M,) full asphalt width [m]
    curvature: np.ndarray            # (M,) signed [1/m], + = left turn
    length: float                    # [m]
    gates: np.ndarray                # (K, 2, 2) world metres, gate 0 = start/finish
    gate_s: np.ndarray               # (K,) arc length of each gate along the centre line [m]
    sector_gates: tuple              # (0, i, j): gates that start sectors 1, 2, 3
    racing_offset: np.ndarray        # (M,) lateral offset of the racing line from the centre [m]
    racing_line: np.ndarray = field(init=False)      # (M, 2)
    racing_curvature: np.ndarray = field(init=False)  # (M,)
    start_pose: tuple = field(init=False)            # (x, y, heading_rad)
    #: the PNG's bytes and its checkpoints.json entry, hashed (catalog.track_content_key): what
    #: names this track on any machine (its derived floats may differ in the last bits)
    content_key: str = field(default="", init=False)

    def __post_init__(self):
        self.racing_line = self.centre + self.normal * self.racing_offset[:, None]
        self.racing_curvature = geo.curvature(self.racing_line)
        t = self.tangent[0]
        self.start_pose = (float(self.centre[0, 0]), float(self.centre[0, 1]),
                           float(math.atan2(t[1], t[0])))
        self._tree = None
        self._flat_surface = self.surface.ravel()

    @property
    def extent_m(self) -> tuple:
        """(width, height) of the image in metres."""
        h, w = self.surface.shape
        return w * self.scale, h * self.scale

    @property
    def spacing(self) -> float:
        """Distance between centre-line points [m]."""
        return self.length / len(self.centre)

    def surface_at(self, x, y) -> np.ndarray:
        """Surface code under world points (arrays). Points outside the image read the nearest
        border pixel, which is never asphalt (a loop may not touch the border)."""
        h, w = self.surface.shape
        inv = np.float32(1.0 / self.scale)
        col = np.clip((np.asarray(x, np.float32) * inv).astype(np.int32), 0, w - 1)
        row = np.clip((np.float32(h) - np.asarray(y, np.float32) * inv).astype(np.int32), 0, h - 1)
        return self._flat_surface[row * w + col]

    def project(self, x, y) -> tuple:
        """Nearest centre-line index, arc length s [m] and signed lateral offset [m] (+ left)."""
        if self._tree is None:
            from scipy.spatial import cKDTree
            self._tree = cKDTree(self.centre)
        p = np.stack([np.asarray(x, np.float64), np.asarray(y, np.float64)], -1)
        _, idx = self._tree.query(p)
        d = p - self.centre[idx]
        along = np.einsum("...i,...i->...", d, self.tangent[idx])
        lateral = np.einsum("...i,...i->...", d, self.normal[idx])
        s = np.mod(idx * self.spacing + along, self.length)
        return idx, s, lateral

    def pixel_to_world(self, pts) -> np.ndarray:
        """Pixel (col, row) coordinates -> world metres (x right, y up)."""
        return geo.pix_to_world(np.asarray(pts, np.float64), self.scale, self.surface.shape[0])

    def world_to_pixel(self, pts) -> np.ndarray:
        """World metres -> pixel (col, row) coordinates, as stored in checkpoints.json."""
        c, r = geo.world_to_pix(np.asarray(pts, np.float64), self.scale, self.surface.shape[0])
        return np.stack([c, r], -1)


# ---------------------------------------------------------------- image -> masks

def _centre_contour(path: Path, asphalt: np.ndarray):
    """Closed medial curve (pixel coords, (P, 2) as col,row) between outside grass and infield,
    and the distance [px] from each asphalt pixel to the nearest grass."""
    import contourpy
    from scipy import ndimage
    grass_labels, n = ndimage.label(~asphalt)  # 4-connectivity: asphalt 8-connected loops close
    border = set(np.unique(np.concatenate([grass_labels[0], grass_labels[-1],
                                           grass_labels[:, 0], grass_labels[:, -1]]))) - {0}
    holes = [i for i in range(1, n + 1) if i not in border]
    if not holes:
        raise TrackError(f"{path}: the asphalt does not form a closed loop (no infield enclosed by "
                         "it); close the circuit so that it encloses grass")
    sizes = np.bincount(grass_labels.ravel(), minlength=n + 1)[holes]
    infield = grass_labels == holes[int(np.argmax(sizes))]
    outside = np.isin(grass_labels, list(border))
    d_in = geo.distance_px(~infield)
    d_out = geo.distance_px(~outside)
    # with no grass but the outside and the infield, the distance to the nearest grass is the
    # nearer of the two (the same numbers, one transform fewer)
    to_grass = np.minimum(d_in, d_out) if len(holes) == 1 else geo.distance_px(asphalt)
    lines = contourpy.contour_generator(z=d_out - d_in, name="serial").lines(0.0)
    closed = [ln for ln in lines if len(ln) > 8 and np.allclose(ln[0], ln[-1], atol=1e-6)]
    if not closed:
        raise TrackError(f"{path}: could not trace a closed centre line; check that the circuit is "
                         "one loop of asphalt around one infield")
    best = max(closed, key=lambda ln: np.abs(np.diff(ln, axis=0)).sum())
    return best[:-1], to_grass  # contourpy gives (x=col, y=row); drop the repeated closing point


#: how many gates a track derives for itself (one every GATE_SPACING_M, within these bounds)
DERIVED_GATES = (8, 64)


def spaced_gates(centre: np.ndarray, normal: np.ndarray, width: np.ndarray, length: float, spacing_m: float,
                 count_range: tuple = (3, 400), start_index: int = 0) -> tuple:
    """Gates across the track every ~``spacing_m`` along the centre line from point
    ``start_index`` in the driving direction, 1 m beyond each edge: ``(indices (K,), ends
    (K, 2, 2) world metres)``, K = length / spacing within ``count_range``. The one gate rule
    of the track builder (DERIVED_GATES) and the editor's auto gates (any spacing)."""
    m = len(centre)
    k = int(np.clip(round(length / max(spacing_m, 1.0)), *count_range))
    idx = (start_index + np.round(np.arange(k) * m / k).astype(int)) % m
    half = (width[idx] / 2.0 + 1.0)[:, None]
    return idx, np.stack([centre[idx] + normal[idx] * half, centre[idx] - normal[idx] * half], 1)


def check_entry_on_image(entry: dict, asphalt: np.ndarray, where: str) -> None:
    """The entry's start pose and gates must lie on the image; the start on the asphalt and
    every gate across it. Raises TrackError naming the field."""
    h, w = asphalt.shape

    def inside(x, y):
        return 0 <= x < w and 0 <= y < h

    st = entry.get("start")
    if st is not None:
        x, y = st["x"], st["y"]
        if not inside(x, y):
            raise TrackError(f"{where}.start: ({x:g}, {y:g}) is outside the {w}x{h} image; give "
                             "the pixel (column, row) of a point on the asphalt, or delete \"start\"")
        if not asphalt[int(y), int(x)]:
            raise TrackError(f"{where}.start: pixel ({x:g}, {y:g}) is on the grass; move it onto "
                             "the asphalt (the checkpoint editor's S key sets start/finish)")
    for i, gate in enumerate(entry.get("checkpoints") or ()):
        (x0, y0), (x1, y1) = gate
        for x, y in gate:
            if not inside(x, y):
                raise TrackError(f"{where}.checkpoints[{i}]: end ({x:g}, {y:g}) is outside the "
                                 f"{w}x{h} image; gates are pixel coordinates across the track "
                                 "(place them with tools/checkpoint_editor.py)")
        t = np.linspace(0.0, 1.0, max(2, int(math.hypot(x1 - x0, y1 - y0)) * 2 + 1))
        cols = np.clip((x0 + (x1 - x0) * t).astype(int), 0, w - 1)
        rows = np.clip((y0 + (y1 - y0) * t).astype(int), 0, h - 1)
        if not asphalt[rows, cols].any():
            raise TrackError(f"{where}.checkpoints[{i}]: the gate ({x0:g}, {y0:g})-({x1:g}, {y1:g}) "
                             "does not cross the asphalt; draw it across the track")


def build_track(path: Path, entry: dict, where: str | None = None) -> Track:
    """Derive a Track from a PNG and its checkpoints.json entry (``where`` names the entry in
    error messages)."""
    from scipy import ndimage
    path = Path(path)
    where = where or f"{default_checkpoints_path(path)}: tracks[{path.name!r}]"
    validate_entry(entry, where)
    scale = float(entry.get("scale_m_per_px", DEFAULT_SCALE_M_PER_PX))
    asphalt = asphalt_mask(path, read_image_rgb(path), scale)
    check_entry_on_image(entry, asphalt, where)
    h = asphalt.shape[0]

    px, dist_in = _centre_contour(path, asphalt)   # dist_in: px to the nearest non-asphalt pixel
    px = geo.resample_closed(px, 1.0)
    # ~3 m of smoothing removes the pixel staircase of the contour (wavelengths ~8 m) while
    # moving a 10 m radius corner by ~sigma^2 / 2R = 0.45 m
    sigma_px = max(1.0, 3.0 / scale)
    px = np.stack([nm.gaussian_filter1d(px[:, 0], sigma_px, mode="wrap"),
                   nm.gaussian_filter1d(px[:, 1], sigma_px, mode="wrap")], 1)
    world = np.stack([(px[:, 0] + 0.5) * scale, (h - px[:, 1] - 0.5) * scale], 1)
    centre = geo.resample_closed(world, CENTRE_SPACING_M)
    length = float(np.linalg.norm(np.diff(np.vstack([centre, centre[:1]]), axis=0), axis=1).sum())

    # orientation: clockwise by default (negative signed area with y up)
    want_cw = entry.get("direction", "clockwise") == "clockwise"
    if (geo.signed_area(centre) < 0) != want_cw:
        centre = centre[::-1].copy()


    def sample(field, pts_world):
        c = pts_world[:, 0] / scale - 0.5
        r = h - pts_world[:, 1] / scale - 0.5
        return ndimage.map_coordinates(field, [r, c], order=1, mode="nearest")

    gates_px = entry.get("checkpoints")
    if gates_px is not None:
        gates_w = geo.pix_to_world(np.asarray(gates_px, np.float64), scale, h)
        mids = gates_w.mean(axis=1)
        from scipy.spatial import cKDTree
        _, gi = cKDTree(centre).query(mids)
        centre = np.roll(centre, -int(gi[0]), axis=0)
        gi = (gi - gi[0]) % len(centre)
        # gates in driving order must advance along the centre line: driving the right way,
        # the forward gaps between consecutive gates add up to one lap; the wrong way, to K-1
        m = len(centre)
        laps_fwd = np.sum(np.diff(np.r_[gi, m]) % m)
        laps_rev = np.sum(np.diff(np.r_[(-gi) % m, m]) % m)
        if "direction" not in entry and laps_rev < laps_fwd:
            centre = np.roll(centre[::-1], 1, axis=0)
            gi = (-gi) % m
        gate_s = gi.astype(np.float64) * length / len(centre)
    else:
        start_idx = _start_index(centre, entry, scale, h)
        centre = np.roll(centre, -start_idx, axis=0)
        gates_w = gate_s = None

    tangent, normal = geo.frame(centre)
    curvature = geo.curvature(centre)
    width = 2.0 * sample(dist_in, centre) * scale
    if width.min() < MIN_TRACK_WIDTH_M:
        i = int(np.argmin(width))
        c, r = geo.world_to_pix(centre[i], scale, h)
        raise TrackError(f"{path}: asphalt too narrow for a kart: {width.min():.1f} m wide near pixel "
                         f"({c:.0f}, {r:.0f}); it must be at least {MIN_TRACK_WIDTH_M} m. Draw the "
                         f"track wider or raise scale_m_per_px (now {scale}) in checkpoints.json")

    spacing = length / len(centre)
    if gates_w is None:
        idx, gates_w = spaced_gates(centre, normal, width, length, GATE_SPACING_M, DERIVED_GATES)
        gate_s = idx * spacing
    order_ok = np.all(np.diff(gate_s) > 0)
    if not order_ok:
        raise TrackError(f"{path}: checkpoints are not in driving order along the track "
                         f"(arc lengths {np.round(gate_s).tolist()} m); reorder them in the editor")
    secs = entry.get("sectors")
    if secs is None:
        secs = [int(np.argmin(np.abs(gate_s - length / 3))), int(np.argmin(np.abs(gate_s - 2 * length / 3)))]
        if not 0 < secs[0] < secs[1]:
            secs = [max(1, len(gate_s) // 3), max(2, 2 * len(gate_s) // 3)]
    surface = _surface(asphalt, centre, curvature, scale, h)
    half = np.maximum(width / 2.0 - RACING_MARGIN_M, 0.0)
    offsets, _ = min_time_offsets(centre, normal, -half, half)
    tr = Track(name=path.name, path=path, scale=scale, surface=surface, centre=centre,
               tangent=tangent, normal=normal, width=width, curvature=curvature, length=length,
               gates=gates_w, gate_s=np.asarray(gate_s, np.float64),
               sector_gates=(0, int(secs[0]), int(secs[1])), racing_offset=offsets)
    tr.content_key = track_content_key(path, entry)
    return tr


def _start_index(centre, entry, scale, h):
    from scipy.spatial import cKDTree
    st = entry.get("start")
    if st is not None:
        p = geo.pix_to_world(np.array([st["x"], st["y"]], np.float64), scale, h)
        return int(cKDTree(centre).query(p)[1])
    # middle of the longest straight: the window of ~1/8 lap with the least total curvature
    k = np.abs(geo.curvature(centre))
    win = max(5, len(centre) // 8)
    total = nm.moving_sum(np.concatenate([k, k[:win]]), win)[: len(k)]
    return int((np.argmin(total) + win // 2) % len(centre))


def _surface(asphalt, centre, curvature, scale, h):
    """Grass / asphalt / kerb / barrier grid: kerbs are a band just outside the asphalt in
    corners; everything further than WALL_RUNOFF_M from the track is behind the tyre wall."""
    from scipy import ndimage
    from scipy.spatial import cKDTree
    surface = asphalt.astype(np.uint8) * ASPHALT
    dist_out = geo.distance_px(~asphalt) * scale
    band = (~asphalt) & (dist_out <= KERB_WIDTH_M)
    rr, cc = np.nonzero(band)
    if len(rr):
        pts = np.stack([(cc + 0.5) * scale, (h - rr - 0.5) * scale], 1)
        _, idx = cKDTree(centre).query(pts)
        corner = ndimage.maximum_filter1d(np.abs(curvature), size=9, mode="wrap") > KERB_MIN_CURVATURE
        keep = corner[idx]
        surface[rr[keep], cc[keep]] = KERB
    surface[dist_out > WALL_RUNOFF_M] = BARRIER
    return surface
