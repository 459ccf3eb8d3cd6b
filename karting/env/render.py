"""Batched first-person renderer: one moderngl context, N views in one framebuffer, one readback.

Every draw call is instanced once per camera (karts: once per camera x kart). The vertex shader
builds the camera from a small pose texture (x, y, cos yaw, sin yaw per kart), projects, clips
the primitive to that camera's own frustum with ``gl_ClipDistance`` and then moves it into the
camera's 84x84 tile of the shared framebuffer. So a step is: upload N poses (16 bytes each),
four instanced draws, one ``read_into``. The track scene (textured ground, kerbs, start line,
tyre walls, distant hills) is uploaded once.

The projection flips y, so framebuffer row 0 is the *top* of each image: the readback is already
in image order (rows top-down) and needs no flip on the CPU. Tiles are stacked in one column
(up to 195 views; more views use more columns), so the (N*84, 84, 4) readback reshapes to
(N, 84, 84, 4) without copying.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import moderngl

import os

from .. import numerics as nm
from ..track import WALL_RUNOFF_M, Track
from .detail import DetailPass
from .glsl import CAMERA_GLSL, FRAG_GLSL, PALETTE_GLSL
from .ground import (GROUND_FS, GROUND_VS, SKY, SKY_FS, SKY_VS, TEXTURE_M_PER_PX, ground_quad,  # noqa: F401
                     ground_texture, sky_panorama, texture_upsample)
from .scenery import wall_lines
from .spec import VIEW

MAX_FB = 16384
GL_CLIP_DISTANCE0 = 0x3000
GL_INSTALL_HINT = (
    "Headless OpenGL (EGL) is not available. Install Mesa's EGL and software rasteriser: on "
    "Debian/Ubuntu `sudo apt-get install libegl1 libgl1-mesa-dri libgles2` (the project's "
    "scripts/setup.sh does this). On a GPU machine install the vendor's EGL driver instead.")


class RendererUnavailable(RuntimeError):
    """No OpenGL context could be created; the message says which system packages to install."""
    pass


SOLID_VS = "#version 330\n" + CAMERA_GLSL + """
// Walls and hills are cut into chunks of CHUNK strip vertices; one instance draws one chunk for
// one camera, so only the chunks near each camera cost vertex work.
uniform sampler2D solid_verts; // 2 RGBA32F texels per vertex: (x, y, z, stripe), (r, g, b, -)
in ivec2 in_chunk;             // per instance: (camera, first vertex of the chunk)
out vec3 v_color;
out float v_stripe;
void main() {
    int i = in_chunk.y + gl_VertexID;
    ivec2 t = ivec2((i % 1024) * 2, i / 1024);
    vec4 a = texelFetch(solid_verts, t, 0);
    vec4 b = texelFetch(solid_verts, t + ivec2(1, 0), 0);
    v_color = b.rgb;
    v_stripe = a.w;   // arc length along a tyre wall (< 0: plain colour)
    place(a.xyz, in_chunk.x);
}
"""
SOLID_FS = "#version 330\n" + FRAG_GLSL + """
in vec3 v_color;
in float v_stripe;
void main() {
    vec3 c = v_color;
    if (v_stripe >= 0.0) c = mod(floor(v_stripe / 1.6), 2.0) < 0.5 ? vec3(0.85, 0.1, 0.1) : vec3(0.92);
    if (looks != 0) c *= look(1).rgb;
    frag = vec4(c, 1.0);
}
"""
KART_FS = "#version 330\n" + FRAG_GLSL + """
in vec3 v_color;
void main() { frag = vec4(looks != 0 ? v_color * look(1).rgb : v_color, 1.0); }
"""
KART_VS = "#version 330\n" + CAMERA_GLSL + """
uniform sampler2D kart_poses;
in ivec2 in_pair;              // per instance: (camera, kart), culled on the CPU
in vec3 in_pos;
in vec3 in_color;
out vec3 v_color;
""" + PALETTE_GLSL + """void main() {
    int cam = in_pair.x;
    int kart = in_pair.y;
    vec4 kp = texelFetch(kart_poses, ivec2(kart, 0), 0);
    vec2 w = kp.xy + kp.zw * in_pos.x + vec2(-kp.w, kp.z) * in_pos.y;
    v_color = in_color.r < 0.0 ? palette[kart % 8] : in_color;
    place(vec3(w, in_pos.z), cam);
}
"""


def perspective(fov_y_deg: float, aspect: float, near: float, far: float) -> np.ndarray:
    """OpenGL's perspective projection matrix (4, 4) float32."""
    f = 1.0 / math.tan(math.radians(fov_y_deg) / 2)
    return np.array([[f / aspect, 0, 0, 0], [0, f, 0, 0],
                     [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
                     [0, 0, -1, 0]], np.float32)


class Camera:
    """Where the camera sits on the kart and what it sees."""

    def __init__(self, forward=0.0, left=0.0, height=1.0, pitch_deg=6.0, fov_deg=80.0,
                 near=0.3, far=1500.0):
        self.offset = (forward, left, height)
        self.pitch_deg, self.fov_deg, self.near, self.far = pitch_deg, fov_deg, near, far


FIRST_PERSON = Camera(forward=0.1, height=0.95, pitch_deg=7.0, fov_deg=85.0)
CHASE = Camera(forward=-5.0, height=2.4, pitch_deg=12.0, fov_deg=60.0)


SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software rasterizer", "lavapipe")


def is_software_renderer(gl_renderer: str) -> bool:
    """True for Mesa's CPU rasterisers (what EGL falls back to when there is no GPU driver)."""
    return any(k in str(gl_renderer).lower() for k in SOFTWARE_RENDERERS)


def create_context(max_devices: int = 16) -> "moderngl.Context":
    """A headless moderngl context through EGL, with a clear error when there is none.

    EGL may list several devices (on a GPU machine with Mesa installed too: the GPU and Mesa's
    software device, in no fixed order): the first device that is not a software rasteriser is
    used, else device 0. ``GLCONTEXT_DEVICE_INDEX=k`` picks device k and nothing else."""
    import moderngl
    try:
        ctx = moderngl.create_context(standalone=True, backend="egl")
    except Exception as e:
        raise RendererUnavailable(f"{GL_INSTALL_HINT} (moderngl said: {e})") from None
    if os.environ.get("GLCONTEXT_DEVICE_INDEX") or not is_software_renderer(ctx.info.get("GL_RENDERER", "")):
        return ctx
    for k in range(1, max_devices):
        try:
            other = moderngl.create_context(standalone=True, backend="egl", device_index=k)
        except Exception:   # "requested device index k, but found k devices": no more
            break
        if not is_software_renderer(other.info.get("GL_RENDERER", "")):
            ctx.release()
            return other
        other.release()
    return ctx


# ---------------------------------------------------------------- scene construction

def _strip(points_lo, points_hi, colors):
    """Interleave bottom/top vertices into one triangle strip: (2P, 7) float32."""
    out = np.empty((2 * len(points_lo), 7), np.float32)
    out[0::2, :3], out[1::2, :3] = points_lo, points_hi
    out[0::2, 3:], out[1::2, 3:] = colors, colors
    return out


CHUNK = 16  # strip vertices per chunk (8 wall posts): +8% frames/s over 32, side by side


def chunk_strips(strips: list, ranges: list) -> tuple:
    """Cut triangle strips into chunks of CHUNK vertices (neighbours share an edge; the last is
    padded with degenerate triangles). Returns (vertex texture data (rows, 2048, 4) float32,
    first vertex (K,), centre (K, 2), radius (K,), visible range (K,), the strip each chunk
    comes from (K,))."""
    verts, first, centre, radius, rng, strip_of = [], [], [], [], [], []
    n = 0
    for si, (st, max_range) in enumerate(zip(strips, ranges)):
        step = CHUNK - 2
        for a in range(0, max(len(st) - 2, 1), step):
            ch = st[a:a + CHUNK]
            if len(ch) < CHUNK:
                ch = np.concatenate([ch, np.repeat(ch[-1:], CHUNK - len(ch), 0)])
            lo, hi = ch[:, :2].min(0), ch[:, :2].max(0)
            verts.append(ch)
            first.append(n)
            centre.append((lo + hi) / 2)
            radius.append(float(np.hypot(*(hi - lo))) / 2)
            rng.append(max_range)
            strip_of.append(si)
            n += CHUNK
    v = np.concatenate(verts)                                  # (V, 7)
    rows = -(-len(v) // 1024)
    tex = np.zeros((rows * 1024, 8), np.float32)
    tex[: len(v), :3], tex[: len(v), 3] = v[:, :3], v[:, 6]    # x, y, z, stripe
    tex[: len(v), 4:7] = v[:, 3:6]                             # r, g, b
    return (tex.reshape(rows, 2048, 4), np.asarray(first, np.int32), np.asarray(centre, np.float32),
            np.asarray(radius, np.float32), np.asarray(rng, np.float32), np.asarray(strip_of, np.int64))


def cull(cam_xy: np.ndarray, cam_cs: np.ndarray, obj_xy: np.ndarray, obj_radius, obj_range, fov_deg: float,
         min_dist: float = 0.0) -> np.ndarray:
    """(C, K) mask of objects (bounding circles) that may be seen by each camera, and are
    further than ``min_dist`` from it."""
    d = obj_xy[None, :, :] - cam_xy[:, None, :]
    fwd = d[..., 0] * cam_cs[:, None, 0] + d[..., 1] * cam_cs[:, None, 1]
    lat = np.abs(d[..., 1] * cam_cs[:, None, 0] - d[..., 0] * cam_cs[:, None, 1])
    dist2 = d[..., 0] ** 2 + d[..., 1] ** 2
    tan = math.tan(math.radians(min(fov_deg * 1.4, 170.0)) / 2)
    reach = obj_range + obj_radius
    return ((fwd > -obj_radius - 2.0) & (lat < fwd * tan + obj_radius * 1.5 + 2.0)
            & (dist2 < reach * reach) & (dist2 > min_dist * min_dist))


def wall_strips(track: Track, runoff_m: float = WALL_RUNOFF_M, height_m: float = 0.9) -> list:
    """Tyre walls at ``runoff_m`` outside the asphalt (:func:`karting.env.scenery.wall_lines`) as
    triangle strips whose 4th colour channel is arc length (the fragment shader paints red/white
    stacks from it)."""
    strips = []
    for p, _ in wall_lines(track, runoff_m):
        s = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
        lo = np.column_stack([p, np.zeros(len(p))])
        hi = np.column_stack([p, np.full(len(p), height_m)])
        col = np.column_stack([np.zeros((len(p), 3)), s])
        strips.append(_strip(lo, hi, col))
    return strips


def kart_mesh() -> tuple:
    """A kart as two indexed boxes (each triangle that reaches llvmpipe's rasteriser costs
    ~0.5 us, and at 84x84 a kart 20 m ahead is ~6 px wide): the chassis in the kart's colour
    (colour -1 = palette) and the driver. Returns (vertices (V, 6) float32, indices (I,) int32)."""
    verts, idx = [], []

    def box(cx, cy, cz, sx, sy, sz, col):
        x0, x1, y0, y1, z0, z1 = cx - sx / 2, cx + sx / 2, cy - sy / 2, cy + sy / 2, cz, cz + sz
        base = len(verts)
        for v in [(x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0),
                  (x0, y0, z1), (x1, y0, z1), (x1, y1, z1), (x0, y1, z1)]:
            verts.append((*v, *col))
        # each face wound counter-clockwise seen from outside the box (so back faces can be culled)
        for f in [(0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (2, 3, 7, 6), (1, 2, 6, 5), (0, 4, 7, 3)]:
            idx.extend(base + f[j] for j in (0, 1, 2, 0, 2, 3))
    pal = (-1.0, 0.0, 0.0)
    box(0.0, 0.0, 0.0, 1.8, 1.3, 0.3, pal)                          # chassis, wheels, bodywork
    box(-0.25, 0.0, 0.3, 0.45, 0.45, 0.8, (0.15, 0.15, 0.2))       # driver and helmet
    return np.asarray(verts, np.float32), np.asarray(idx, np.int32)


# ---------------------------------------------------------------- renderer

class Renderer:
    """Draws ``num_views`` first-person 84x84 views of karts in one pass.

    ``track`` is one Track or a list: view i is then on track ``view_track[i]`` (default: all on
    the first). Every track's scene (ground texture, tyre walls) is held at once; one pass draws
    all views whatever track each is on (the karts, the walls of every track and the sky in one
    draw call each, the ground in one call per track) into one framebuffer, read back once.

    ``render(x, y, yaw) -> (N, 84, 84, 3) uint8`` (a view into an internal buffer: copy it if you
    keep it). ``render_chase(x, y, yaw, index, size)`` draws a larger third-person view.
    Culling: at 84x84 with an 85 deg field of view one pixel is ~1 deg, so a 0.9 m tyre wall
    60 m away is under a pixel tall and a kart 55 m away ~1.4 px wide; walls and karts further
    than ``wall_view_m`` / ``kart_view_m`` are not drawn (each skipped triangle saves llvmpipe
    ~0.5 us; 80 -> 60 m gave +10 % frames/s, measured side by side).
    Other karts are drawn for each camera when they are within ``kart_view_m`` and in front;
    karts closer than ``ghost_m`` to a camera (e.g. several karts reset onto the same start
    line) are not drawn in it, so a camera never sits inside another kart.

    Races: ``views`` (indices of the karts that have a camera; default every kart) renders only
    those karts' views while drawing all ``num_views`` karts; ``kart_world`` (default the track
    of each kart) sets which karts see each other; ``kart_visible`` (an (N,) bool array that the
    caller may change) hides karts out of a race.

    ``looks=True`` allows per-kart looks (domain randomisation, :meth:`set_looks`): each
    camera's own height and pitch, light, sky, asphalt, grass and kerb colours. Without it (the
    default) the shaders take the fixed path and render bit-identically.
    """

    def __init__(self, track, num_views: int, size: int = VIEW, ctx=None,
                 camera: Camera = FIRST_PERSON, show_other_karts: bool = True,
                 kart_view_m: float = 55.0, wall_view_m: float = 60.0, ghost_m: float = 2.5,
                 view_track=None, views=None, kart_world=None, looks: bool = False):
        self.tracks = [track] if isinstance(track, Track) else list(track)
        self.track, self.n, self.size = self.tracks[0], int(num_views), int(size)
        vt = np.zeros(self.n, np.int64) if view_track is None else np.asarray(view_track, np.int64)
        if vt.shape != (self.n,) or (self.n and (vt.min() < 0 or vt.max() >= len(self.tracks))):
            raise ValueError(f"view_track must be {self.n} track indices in [0, {len(self.tracks)})")
        self.view_track = vt                                 # track of each kart
        self.views = np.arange(self.n) if views is None else np.asarray(views, np.int64)
        self.all_views = views is None
        self.nv = len(self.views)
        self.kart_world = vt.copy() if kart_world is None else np.asarray(kart_world, np.int64)
        self.kart_visible = np.ones(self.n, bool)
        self._cam_track = cam_track = vt[self.views]         # track of each camera
        order = np.argsort(cam_track, kind="stable")         # cameras grouped by track
        self._cam_base = np.searchsorted(cam_track[order], np.arange(len(self.tracks)))
        self._cam_count = np.bincount(cam_track, minlength=len(self.tracks))
        self.show_other_karts = show_other_karts
        self.kart_view_m, self.ghost_m = kart_view_m, ghost_m
        self.cull_karts = True         # back-face culling of the karts (False: every face drawn)
        self.kart_front = "cw"          # the view flips the handedness: outside faces come out clockwise
        self.ctx = ctx if ctx is not None else create_context()
        self.camera = camera
        self.looks_enabled, self._looks_on = bool(looks), False
        self._chase = None
        self._detail = None
        self.wet = 0.0
        # moderngl does not switch contexts by itself, and leaving ``with ctx`` makes no
        # context current: every method that touches GL enters this renderer's context
        with self.ctx:
            self._build(self.ctx, wall_view_m, order)

    def _build(self, ctx, wall_view_m, order):
        import moderngl
        self.gl_renderer = ctx.info.get("GL_RENDERER", "unknown")
        per_col = MAX_FB // self.size
        self.cols = max(1, math.ceil(self.nv / per_col))
        self.rows = math.ceil(self.nv / self.cols)
        fb_w, fb_h = self.cols * self.size, self.rows * self.size
        self.fbo = ctx.framebuffer(color_attachments=[ctx.renderbuffer((fb_w, fb_h), 4)],
                                   depth_attachment=ctx.depth_renderbuffer((fb_w, fb_h)))
        self._buf = np.empty((fb_h, fb_w, 4), np.uint8)
        self._texels = np.zeros((2, max(self.n, self.nv), 4), np.float32)
        self._texels[1, : self.nv, 0] = order
        self._poses = self._texels[0, : self.n]
        self.pose_tex = ctx.texture((self._texels.shape[1], 2), 4, dtype="f4")
        self.pose_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        # a subset of views: the cameras' own texture (row 0 poses, row 1 track order)
        self._cam_texels = np.zeros((2, max(self.nv, 1), 4), np.float32)
        self._cam_texels[1, : self.nv, 0] = order
        self.cam_tex = self.pose_tex
        if not self.all_views:
            self.cam_tex = ctx.texture((self._cam_texels.shape[1], 2), 4, dtype="f4")
            self.cam_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)

        self._build_programs(ctx)
        self._classes = [None] * len(self.tracks)    # surface classes (looks only)
        self.grounds = [self._ground(ctx, t, k) for k, t in enumerate(self.tracks)]
        self.look_tex = None
        if self.looks_enabled:
            self._build_looks(ctx)
        self._wall_view_m = wall_view_m
        self._walls = [wall_strips(t) for t in self.tracks]
        self.solid_tex = self.chunk_buf = self.vao_solid = None
        self._build_walls(ctx)
        # (V, N): the karts a camera may draw: same world, not its own kart (fixed: computed once)
        self._cam_sees = ((self.kart_world[self.views][:, None] == self.kart_world[None, :])
                          & (self.views[:, None] != np.arange(self.n)[None, :]))
        kv, ki = kart_mesh()
        self._pairs = np.zeros((max(self.nv * self.n, self.n, 1), 2), np.int32)
        self.pair_buf = ctx.buffer(reserve=self._pairs.nbytes)
        self.vao_kart = ctx.vertex_array(
            self.p_kart, [(ctx.buffer(kv.tobytes()), "3f 3f", "in_pos", "in_color"),
                          (self.pair_buf, "2i/i", "in_pair")],
            index_buffer=ctx.buffer(ki.tobytes()), index_element_size=4)
        for p in (self.p_ground, self.p_solid, self.p_kart, self.p_sky):
            for name, value in (("cam_poses", 0),):
                if name in p:      # a compiler may drop a uniform a shader does not need
                    p[name].value = value
        self.p_ground["ground"].value = 1
        self.p_kart["kart_poses"].value = 2
        self.p_solid["solid_verts"].value = 3

    def _build_programs(self, ctx):
        """The shader programs and the sky's cube texture."""
        import moderngl
        self.p_ground = ctx.program(vertex_shader=GROUND_VS, fragment_shader=GROUND_FS)
        self.p_solid = ctx.program(vertex_shader=SOLID_VS, fragment_shader=SOLID_FS)
        self.p_kart = ctx.program(vertex_shader=KART_VS, fragment_shader=KART_FS)
        self.p_sky = ctx.program(vertex_shader=SKY_VS, fragment_shader=SKY_FS)
        self.vao_sky = ctx.vertex_array(self.p_sky, [], mode=moderngl.TRIANGLE_STRIP)
        faces = sky_panorama()
        self.sky_tex = ctx.texture_cube(faces[0].shape[:2][::-1], 3, b"".join(f.tobytes() for f in faces))
        self.sky_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.p_sky["panorama"].value = 4

    def _build_looks(self, ctx):
        """The per-camera looks texture (domain randomisation) and its samplers."""
        import moderngl
        self._look_texels = np.zeros((5, max(self.nv, 1), 4), np.float32)
        self.look_tex = ctx.texture((self._look_texels.shape[1], 5), 4, dtype="f4")
        self.look_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        for p in (self.p_ground, self.p_solid, self.p_kart, self.p_sky):
            if "cam_looks" in p:
                p["cam_looks"].value = 5
        if "ground_class" in self.p_ground:
            self.p_ground["ground_class"].value = 6

    def _build_walls(self, ctx):
        """The tyre walls of every track as one chunked vertex texture, and which chunks each
        camera may draw (its own track's)."""
        import moderngl
        strips, chunk_track = [], []
        for k, w in enumerate(self._walls):
            strips += w
            chunk_track += [k] * len(w)
        tex_v, self.chunk_first, self.chunk_xy, self.chunk_r, self.chunk_range, strip_of = chunk_strips(
            strips, [self._wall_view_m] * len(strips))
        self.chunk_track = np.asarray(chunk_track, np.int64)[strip_of]
        self._track_chunks = np.arange(len(self.tracks))[:, None] == self.chunk_track[None, :]  # (K, C)
        cam_track = self._cam_track
        self._cam_chunks = self._track_chunks[cam_track]                                         # (V, C)
        for old in (self.solid_tex, self.vao_solid, self.chunk_buf):
            if old is not None:
                old.release()
        self.solid_tex = ctx.texture((tex_v.shape[1], tex_v.shape[0]), 4, tex_v.tobytes(), dtype="f4")
        self.solid_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        # each camera culls only its own track's chunks
        per_track = np.bincount(self.chunk_track, minlength=len(self.tracks))
        most = max(int(per_track[cam_track].sum()), int(per_track.max()), 1)
        self.chunk_buf = ctx.buffer(reserve=most * 8)
        self.vao_solid = ctx.vertex_array(self.p_solid, [(self.chunk_buf, "2i/i", "in_chunk")],
                                          mode=moderngl.TRIANGLE_STRIP)

    def replace_track(self, slot: int, track: Track) -> None:
        """Put ``track`` in place of track ``slot`` (its ground and walls; the cameras on that
        slot draw the new track from the next render)."""
        slot = int(slot)
        with self.ctx:
            for obj in (*self.grounds[slot], self._classes[slot]):
                if obj is not None:
                    obj.release()
            self.tracks[slot] = track
            self.track = self.tracks[0]
            self.grounds[slot] = self._ground(self.ctx, track, slot)
            self._walls[slot] = wall_strips(track)
            self._build_walls(self.ctx)
            if self._detail is not None:
                self._detail.replace_track(slot, track)

    def _ground(self, ctx, track, slot):
        """The textured ground of one track: (texture, vertex array); with looks also its
        surface-class texture (in ``self._classes[slot]``)."""
        import moderngl
        tex = ground_texture(track, classes=self.looks_enabled)
        if self.looks_enabled:
            tex, cls = tex
            ct = ctx.texture((cls.shape[1], cls.shape[0]), 1, cls.tobytes())
            ct.build_mipmaps()
            ct.filter = (moderngl.LINEAR_MIPMAP_NEAREST, moderngl.LINEAR)
            ct.repeat_x = ct.repeat_y = False
            self._classes[slot] = ct
        gt = ctx.texture((tex.shape[1], tex.shape[0]), 3, tex.tobytes())
        gt.build_mipmaps()
        gt.filter = (moderngl.LINEAR_MIPMAP_NEAREST, moderngl.LINEAR)
        gt.repeat_x = gt.repeat_y = False
        vao = ctx.vertex_array(self.p_ground, [(ctx.buffer(ground_quad(track).tobytes()), "3f 2f", "in_pos", "in_uv")],
                               mode=moderngl.TRIANGLE_STRIP)
        return gt, vao

    def scene_bytes(self) -> dict:
        """GL memory of the scene per track [bytes]: ground texture (as RGBA texels, with its
        mipmaps) and tyre-wall vertices."""
        ground = [int(t.width * t.height * 4 * 4 / 3) for t, _ in self.grounds]
        walls = self.solid_tex.width * self.solid_tex.height * 16
        return {"ground": ground, "walls_total": walls}

    def set_looks(self, values: dict | None) -> None:
        """Per-kart looks (``karting.sim.randomize.looks``: light (N, 3), sky (N,), asphalt,
        grass and kerb colours (N, 3), camera height and pitch offsets (N,) [m, degrees]), used
        by :meth:`render` from now on; ``None`` goes back to the fixed looks."""
        if values is None:
            self._looks_on = False
            return
        if not self.looks_enabled:
            raise RuntimeError("this Renderer was made without looks=True")
        v = {k: np.asarray(a, np.float32)[self.views] for k, a in values.items()}
        cam = self.camera
        pitch = np.radians(cam.pitch_deg + v["camera_pitch"].astype(np.float64))
        t = self._look_texels
        n = self.nv
        t[0, :n, 0] = cam.offset[2] + v["camera_height"]
        t[0, :n, 1], t[0, :n, 2] = nm.cos_sin(pitch)
        t[1, :n, :3], t[1, :n, 3] = v["light"], v["sky"]
        t[2, :n, :3], t[3, :n, :3], t[4, :n, :3] = v["asphalt"], v["grass"], v["kerb"]
        t[2, :n, 3] = v["wet"] if "wet" in v else 0.0
        with self.ctx:
            self.look_tex.write(t.tobytes())
        self._looks_on = True

    def set_wet(self, wet: float) -> None:
        """Water on every camera's track (0 dry .. 1 soaked) when looks are off (with looks,
        each camera's own from :meth:`set_looks`' ``wet``): darker, glossy asphalt."""
        self.wet = float(np.clip(wet, 0.0, 1.0))
        with self.ctx:
            for p in (self.p_ground, self.p_sky):
                if "wet_all" in p:
                    p["wet_all"].value = self.wet

    @staticmethod
    def _camera_values(cam: Camera, aspect: float, cols: int, rows: int, looks: bool = False) -> dict:
        proj = perspective(cam.fov_deg, aspect, cam.near, cam.far)
        cs = (math.cos(math.radians(cam.pitch_deg)), math.sin(math.radians(cam.pitch_deg)))
        tan_y = math.tan(math.radians(cam.fov_deg) / 2)
        return {"proj": proj.T.tobytes(), "cam_offset": cam.offset, "pitch_cs": cs,
                "grid": (cols, rows), "tan_half_fov": (tan_y * aspect, tan_y),
                "horizon_ndc": cs[1] / cs[0] / tan_y, "looks": int(looks)}

    def _set_camera(self, cam: Camera, aspect: float, cols: int, rows: int, looks: bool = False):
        values = self._camera_values(cam, aspect, cols, rows, looks)
        for p in (self.p_ground, self.p_solid, self.p_kart, self.p_sky):
            for name, value in values.items():
                if name not in p:   # not every program uses every uniform
                    continue
                if name == "proj":
                    p[name].write(value)
                else:
                    p[name].value = value

    def visible_pairs(self, cam_xy: np.ndarray, cam_cs: np.ndarray, kart_xy: np.ndarray, fov_deg: float,
                      self_index: bool = True) -> np.ndarray:
        """(camera, kart) index pairs worth drawing: in the same world, in front, within range,
        not a ghost, not hidden."""
        ok = cull(cam_xy, cam_cs, kart_xy, np.float32(1.2), np.float32(self.kart_view_m), fov_deg,
                  min_dist=self.ghost_m)
        if self_index:
            ok &= self._cam_sees
        ok &= self.kart_visible[None, :]
        c, k = np.nonzero(ok)
        return np.stack([c, k], 1).astype(np.int32)

    def visible_chunks(self, cam_xy: np.ndarray, cam_cs: np.ndarray, fov_deg: float, cam_track=None) -> np.ndarray:
        """(camera, first vertex) of the wall chunks each camera may see on its own track."""
        ok = cull(cam_xy, cam_cs, self.chunk_xy, self.chunk_r, self.chunk_range, fov_deg)
        if len(self.tracks) > 1:
            ok &= self._cam_chunks if cam_track is None else self._track_chunks[np.asarray(cam_track)]
        c, k = np.nonzero(ok)
        return np.stack([c, self.chunk_first[k]], 1).astype(np.int32)

    def _draw(self, cam_tex, kart_tex, num_cams, chunks, pairs, grounds, looks=False):
        """``grounds``: (track, first camera slot, number of cameras) for each ground draw."""
        ctx = self.ctx
        for i in range(4):   # a 5th plane halves llvmpipe's vertex throughput
            ctx.enable_direct(GL_CLIP_DISTANCE0 + i)
        ctx.enable(ctx.DEPTH_TEST)
        ctx.disable(ctx.CULL_FACE)
        cam_tex.use(0)
        kart_tex.use(2)
        self.solid_tex.use(3)
        self.sky_tex.use(4)
        if looks:
            self.look_tex.use(5)
        # front to back: the depth test then spares the shading of hidden ground and sky
        if len(pairs):            # closed boxes: their back faces never show (culled, half the triangles)
            self.pair_buf.write(pairs.tobytes())
            if self.cull_karts:
                ctx.front_face = self.kart_front
                ctx.enable(ctx.CULL_FACE)
            self.vao_kart.render(instances=len(pairs))
            ctx.disable(ctx.CULL_FACE)
        if len(chunks):
            self.chunk_buf.write(chunks.tobytes())
            self.vao_solid.render(vertices=CHUNK, instances=len(chunks))
        for k, base, count in grounds:
            tex, vao = self.grounds[k]
            tex.use(1)
            if looks:
                self._classes[k].use(6)
            self.p_ground["cam_base"].value = int(base)
            vao.render(instances=int(count))
        self.vao_sky.render(vertices=4, instances=num_cams)

    def render(self, x: np.ndarray, y: np.ndarray, yaw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """First-person views of the karts with cameras (all N by default) as (V, size, size, 3) uint8.

        With ``out`` (a C-contiguous (N, size, size, 3) uint8 array, single tile column) the
        pixels are read straight into it; otherwise the result is a view of an internal buffer.
        """
        with self.ctx:
            return self._render(x, y, yaw, out)

    def _render(self, x, y, yaw, out):
        p = self._poses
        p[:, 0], p[:, 1] = x, y
        p[:, 2], p[:, 3] = nm.cos_sin(yaw)
        self.pose_tex.write(self._texels.tobytes())
        cams = p
        if not self.all_views:
            cams = self._cam_texels[0, : self.nv]
            cams[:] = p[self.views]
            self.cam_tex.write(self._cam_texels.tobytes())
        self.fbo.use()
        self.fbo.clear(*SKY, 1.0, depth=1.0)
        self._set_camera(self.camera, 1.0, self.cols, self.rows, self._looks_on)
        pairs = (self.visible_pairs(cams[:, :2], cams[:, 2:], p[:, :2], self.camera.fov_deg)
                 if self.show_other_karts and self.n > 1 else self._pairs[:0])
        chunks = self.visible_chunks(cams[:, :2], cams[:, 2:], self.camera.fov_deg)
        grounds = [(k, b, c) for k, (b, c) in enumerate(zip(self._cam_base, self._cam_count)) if c]
        self._draw(self.cam_tex, self.pose_tex, self.nv, chunks, pairs, grounds, self._looks_on)
        s = self.size
        n = self.nv
        if out is not None and self.cols == 1 and n == self.rows:
            self.fbo.read_into(out, components=3, alignment=1)
            return out
        self.fbo.read_into(self._buf, components=4)
        if self.cols == 1:
            views = self._buf.reshape(self.rows, s, s, 4)[:n]
        else:
            views = (self._buf.reshape(self.rows, s, self.cols, s, 4).transpose(0, 2, 1, 3, 4)
                     .reshape(-1, s, s, 4)[:n])
        if out is not None:
            out[:] = views[..., :3]
            return out
        return views[..., :3]

    def render_chase(self, x: np.ndarray, y: np.ndarray, yaw: np.ndarray, index: int = 0, size: tuple = (480, 320),
                     camera: Camera = CHASE, detail: bool = True, steer=None, rgba: bool = False) -> np.ndarray:
        """A view from ``camera`` on kart ``index`` with every kart drawn: (H, W, 3) uint8.

        ``detail`` (the default) draws the scenery made for people (:mod:`karting.env.detail`:
        karts with wheels and drivers, shadows, tyre stacks, kerbs, trees, clouds), with the
        front wheels turned by ``steer`` ((N,) radians, default straight); ``detail=False`` draws
        what the 84x84 observation camera sees (boxes, flat walls). ``rgba`` returns the internal
        (H, W, 4) buffer itself (no copy; the next call overwrites it): a window blits it as is."""
        with self.ctx:
            return self._render_chase(x, y, yaw, index, size, camera, None, detail, steer, rgba)

    def render_from(self, x: np.ndarray, y: np.ndarray, yaw: np.ndarray, eye_xy, look_yaw: float, index: int = 0,
                    size: tuple = (480, 320), camera: Camera = CHASE, detail: bool = True, steer=None) -> np.ndarray:
        """A view from a camera standing at ``eye_xy`` (not on a kart: a trackside TV camera),
        looking along ``look_yaw`` with ``camera``'s height, pitch and field of view; the karts of
        kart ``index``'s world are drawn, that kart included: (H, W, 3) uint8. ``detail`` and
        ``steer`` as for :meth:`render_chase`."""
        anchor = np.array([eye_xy[0], eye_xy[1], math.cos(look_yaw), math.sin(look_yaw)], np.float32)
        with self.ctx:
            return self._render_chase(x, y, yaw, index, size, camera, anchor, detail, steer)

    def prepare_detail(self) -> None:
        """Build the people views' pass and every track's scenery and ground now (a window calls
        this before it opens, so that its first frame is not late)."""
        with self.ctx:
            for k in range(len(self.tracks)):
                self.detail.scene(k)
                self.detail.texture(k)

    @property
    def detail(self) -> DetailPass:
        """The drawing of the people views (built on first use)."""
        if self._detail is None:
            self._detail = DetailPass(self)
        return self._detail

    def _render_chase(self, x, y, yaw, index, size, camera, anchor=None, detail=False, steer=None, rgba=False):
        import moderngl
        w, h = size
        if self._chase is None or self._chase[0] != size:
            fbo = self.ctx.framebuffer(color_attachments=[self.ctx.renderbuffer((w, h), 4)],
                                       depth_attachment=self.ctx.depth_renderbuffer((w, h)))
            tex = self.ctx.texture((1, 2), 4, dtype="f4")    # row 1: camera slot 0 is camera 0
            tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self._chase = (size, fbo, tex, np.empty((h, w, 4), np.uint8))
        _, fbo, tex, buf = self._chase
        x, y, yaw = (np.atleast_1d(np.asarray(v, np.float32)) for v in (x, y, yaw))
        k = len(x)
        p = self._poses[:k]
        p[:, 0], p[:, 1] = x, y
        p[:, 2], p[:, 3] = nm.cos_sin(yaw)
        self.pose_tex.write(self._texels.tobytes())
        cam = p[index:index + 1] if anchor is None else anchor[None]
        tex.write(np.concatenate([cam[0], np.zeros(4, np.float32)]).tobytes())
        fbo.use()
        fbo.clear(*SKY, 1.0, depth=1.0)
        if not detail:
            self._set_camera(camera, w / h, 1, 1)
        pairs = np.stack([np.zeros(k, np.int32), np.arange(k, dtype=np.int32)], 1)
        show = (self.kart_world[:k] == self.kart_world[index]) & self.kart_visible[:k]   # its world
        if not self.show_other_karts:     # karts each alone on the circuit (an evaluation's episodes)
            show &= np.arange(k) == index
        if anchor is None and camera.offset[0] >= 0:   # a camera on the kart does not draw the kart itself
            show &= np.arange(k) != index
        pairs = pairs[show]
        eye = cam[:, :2] + cam[:, 2:] * camera.offset[0]
        track = int(self.view_track[index])
        if detail:
            d = self.detail
            d.motion(x, y, yaw, steer)
            left = np.array([-cam[0, 3], cam[0, 2]]) * camera.offset[1]
            d.set_camera(self._camera_values(camera, w / h, 1, 1), (*(eye[0] + left), camera.offset[2]))
            d.draw(tex, pairs, track, eye[0], cam[0, 2:], camera.fov_deg * w / h, self.wet)
            fbo.read_into(buf, components=4)
            return buf if rgba else buf[..., :3].copy()
        chunks = self.visible_chunks(eye, cam[:, 2:], camera.fov_deg * w / h, cam_track=[track])
        self._draw(tex, self.pose_tex, 1, chunks, pairs, [(track, 0, 1)])
        fbo.read_into(buf, components=4)
        return buf if rgba else buf[..., :3].copy()

    def release(self) -> None:
        """Free the GL context (and with it everything drawn in it)."""
        if getattr(self, "ctx", None) is not None:
            self.ctx.release()
            self.ctx = None
