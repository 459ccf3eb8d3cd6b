"""The GL side of the views made for people (:mod:`karting.env.scenery` builds the meshes).

:class:`DetailPass` belongs to a :class:`karting.env.render.Renderer` and draws one camera's
picture with the detailed karts (wheels that steer and roll, a number, a driver), their soft
shadows, each track's static scenery (tyre stacks, raised kerbs, trees, boards, the gantry), the
ground with smooth edges, grain and haze and the sky with clouds. It is built the first time a detailed view
is asked for: an env that only renders its 84x84 observations never builds it.
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

import numpy as np

from . import scenery
from .glsl import CAMERA_GLSL, FRAG_GLSL, PALETTE_GLSL
from .ground import GROUND_FS, GROUND_VS, SKY_FS, SKY_VS, ground_texture, texture_upsample

HAZE = (0.74, 0.84, 0.95)
SUN_SHIFT_M = 0.45             # how far the shadow blob sits away from the sun [m]
WHEEL_R = 0.14                 # for the spokes' blur: rad per frame from metres per frame
GROUND_CELL_M = 25.0           # the ground's tiles over the image [m]
GROUND_TEXELS = 6e6            # the largest ground texture for people (x3 bytes, + mipmaps)
CACHED = 4                     # tracks' scenery and ground kept for the next renderer in this process

_LIGHT_GLSL = """
uniform vec3 sun;              // towards the sun, unit
uniform vec3 eye;              // the camera in the world [m]
uniform vec3 haze;
vec3 lit(vec3 c, vec3 n) {
    float d = max(dot(n, sun), 0.0);
    return c * (0.30 + 0.25 * (0.5 + 0.5 * n.z) + 0.62 * d);
}
vec3 hazed(vec3 c, vec3 world) {
    return mix(c, haze, clamp((length(world - eye) - 90.0) / 1500.0, 0.0, 0.4));
}
"""

KART_VS = "#version 330\n" + CAMERA_GLSL + PALETTE_GLSL + """
uniform sampler2D kart_poses;  // row 0: x, y, cos, sin of the yaw
uniform sampler2D kart_extra;  // (N, 1): steering angle [rad], distance rolled [m], spoke blur, number
in ivec2 in_pair;
in vec3 in_pos;
in vec3 in_normal;
in vec3 in_color;
in float in_part;
in vec3 in_pivot;
in float in_extra;
out vec3 v_color;
out vec3 v_normal;
out vec3 v_world;
const int digit_bits[10] = int[10](0x3F, 0x06, 0x5B, 0x4F, 0x66, 0x6D, 0x7D, 0x07, 0x7F, 0x6F);
void main() {
    int cam = in_pair.x;
    int kart = in_pair.y;
    vec4 kp = texelFetch(kart_poses, ivec2(kart, 0), 0);
    vec4 ke = texelFetch(kart_extra, ivec2(kart, 0), 0);
    vec3 p = in_pos;
    vec3 n = in_normal;
    vec3 col = in_color.r < 0.0 ? palette[kart % 8] * -in_color.r : in_color;
    int part = int(in_part + 0.5);
    if (part == 1 || part == 2) {              // a wheel: roll about its axle, the front ones steer
        float a = ke.y / in_pivot.z;
        float c = cos(a), s = sin(a);
        p = vec3(c * p.x + s * p.z, p.y, -s * p.x + c * p.z);
        n = vec3(c * n.x + s * n.z, n.y, -s * n.x + c * n.z);
        if (part == 1) {
            float cs = cos(ke.x), sn = sin(ke.x);
            p.xy = vec2(cs * p.x - sn * p.y, sn * p.x + cs * p.y);
            n.xy = vec2(cs * n.x - sn * n.y, sn * n.x + cs * n.y);
        }
        p += in_pivot;
        if (in_extra > 0.5) col = mix(col, vec3(0.62), ke.z);
    } else if (part == 3) {                    // a segment of the number: hidden unless lit
        int num = int(ke.w + 0.5);
        int seg = int(in_extra + 0.5);
        int digit = seg < 7 ? num / 10 : num % 10;
        bool shown = seg >= 7 || num >= 10;
        if (!shown || ((digit_bits[digit % 10] >> (seg % 7)) & 1) == 0) p = vec3(0.0);   // degenerate
    }
    vec2 w = kp.xy + kp.zw * p.x + vec2(-kp.w, kp.z) * p.y;
    v_normal = vec3(kp.zw * n.x + vec2(-kp.w, kp.z) * n.y, n.z);
    v_color = col;
    v_world = vec3(w, p.z);
    place(v_world, cam);
}
"""
KART_FS = "#version 330\n" + FRAG_GLSL + _LIGHT_GLSL + """
in vec3 v_color;
in vec3 v_normal;
in vec3 v_world;
void main() { frag = vec4(hazed(lit(v_color, normalize(v_normal)), v_world), 1.0); }
"""
STATIC_VS = "#version 330\n" + CAMERA_GLSL + """
in vec3 in_pos;
in vec3 in_normal;
in vec3 in_color;
in float in_mat;
in vec2 in_uv;
out vec3 v_color;
out vec3 v_normal;
out vec3 v_world;
out vec2 v_uv;
flat out int v_mat;
void main() {
    v_color = in_color;
    v_normal = in_normal;
    v_world = in_pos;
    v_uv = in_uv;
    v_mat = int(in_mat + 0.5);
    place(in_pos, 0);
}
"""
STATIC_FS = "#version 330\n" + FRAG_GLSL + _LIGHT_GLSL + """
in vec3 v_color;
in vec3 v_normal;
in vec3 v_world;
in vec2 v_uv;
flat in int v_mat;
const vec3 accents[4] = vec3[4](vec3(0.95, 0.85, 0.1), vec3(0.95), vec3(0.95, 0.45, 0.05), vec3(0.95));
void main() {
    vec3 c = v_color;
    vec3 n = normalize(v_normal);
    if (dot(n, eye - v_world) < 0.0) n = -n;           // seen from behind: lit as its other face
    if (v_mat == 1) {                                  // kerb: red and white every 1.2 m
        c = mod(floor(v_uv.x / 1.2), 2.0) < 0.5 ? vec3(0.8, 0.12, 0.12) : vec3(0.93);
    } else if (v_mat == 2) {                           // tyre stack side: three tyres, the top one painted
        float t = fract(v_uv.y / 0.3);
        vec3 paint = v_uv.x > 0.5 ? vec3(0.78, 0.1, 0.1) : vec3(0.9);
        c = v_uv.y > 0.6 ? paint : vec3(0.07);
        n = normalize(n + vec3(0.0, 0.0, (t - 0.5) * 1.6));
        c *= 0.35 + 0.65 * smoothstep(0.0, 0.5, sin(t * 3.14159));
    } else if (v_mat == 3) {                           // tyre stack top: the painted tyre, its hole
        c = length(v_uv) < 0.15 ? vec3(0.02) : c;
    } else if (v_mat == 4) {                           // advertising board: a band and slanted blocks
        float kind = floor(v_uv.x / 10.0);
        float u = v_uv.x - 10.0 * kind;
        vec3 acc = accents[int(kind) % 4];
        if ((v_uv.y > 0.7 && v_uv.y < 0.8) || (fract((u - v_uv.y * 0.6) / 1.2) < 0.3 && v_uv.y < 0.6)) c = acc;
    } else if (v_mat == 5) {                           // chequered banner
        c = mod(floor(v_uv.x / 0.4) + floor(v_uv.y / 0.4), 2.0) < 0.5 ? vec3(0.05) : vec3(0.95);
    }
    frag = vec4(hazed(lit(c, n), v_world), 1.0);
}
"""
SHADOW_VS = "#version 330\n" + CAMERA_GLSL + """
uniform sampler2D kart_poses;
uniform vec2 sun_shift;        // the blob sits a little away from the sun [m]
in ivec2 in_pair;
out vec2 v_local;
void main() {
    vec4 kp = texelFetch(kart_poses, ivec2(in_pair.y, 0), 0);
    vec2 q = vec2(gl_VertexID % 2 == 0 ? -1.0 : 1.0, gl_VertexID < 2 ? -1.0 : 1.0);
    v_local = q * vec2(1.7, 1.3);
    vec2 w = kp.xy + sun_shift + kp.zw * (v_local.x - 0.02) + vec2(-kp.w, kp.z) * v_local.y;
    place(vec3(w, 0.0), in_pair.x);
}
"""
SHADOW_FS = "#version 330\n" + FRAG_GLSL + """
in vec2 v_local;
void main() {
    vec2 d = abs(v_local) - vec2(0.85, 0.55);
    float sdf = length(max(d, 0.0)) + min(max(d.x, d.y), 0.0) - 0.15;   // a rounded rectangle
    frag = vec4(0.0, 0.0, 0.0, 0.55 * (1.0 - smoothstep(-0.3, 0.55, sdf)));
}
"""


_built: OrderedDict = OrderedDict()


def _track_key(track) -> tuple:
    """What a track's scenery depends on: its painting (as derived) and scale."""
    return (track.scale, track.surface.shape, len(track.centre), round(float(track.length), 6),
            hashlib.sha1(np.ascontiguousarray(track.surface).tobytes()).hexdigest())


def cached(kind: str, track, make):
    """``make()`` for this track, kept for the next renderers of this process (the last CACHED
    tracks': a race, its replay and its video build them once)."""
    key = (kind, *_track_key(track))
    if key in _built:
        _built.move_to_end(key)
        return _built[key]
    value = _built[key] = make()
    while len(_built) > 2 * CACHED:
        _built.popitem(last=False)
    return value


class DetailPass:
    """The detailed drawing of a :class:`~karting.env.render.Renderer`'s people views (see the
    module docstring). ``renderer`` lends its context, pose texture and grounds."""

    def __init__(self, renderer):
        import moderngl
        r = self.r = renderer
        ctx = self.ctx = r.ctx
        define = "#version 330\n#define DETAIL\n"
        self.p_ground = ctx.program(vertex_shader=GROUND_VS.replace("#version 330\n", define, 1),
                                    fragment_shader=GROUND_FS.replace("#version 330\n", define, 1))
        self.p_sky = ctx.program(vertex_shader=SKY_VS, fragment_shader=SKY_FS)
        self.p_kart = ctx.program(vertex_shader=KART_VS, fragment_shader=KART_FS)
        self.p_static = ctx.program(vertex_shader=STATIC_VS, fragment_shader=STATIC_FS)
        self.p_shadow = ctx.program(vertex_shader=SHADOW_VS, fragment_shader=SHADOW_FS)
        self.programs = (self.p_ground, self.p_sky, self.p_kart, self.p_static, self.p_shadow)
        faces = scenery.sky_panorama()
        self.sky_tex = ctx.texture_cube(faces[0].shape[:2][::-1], 3, b"".join(f.tobytes() for f in faces))
        self.sky_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.extra = np.zeros((max(r.n, 1), 4), np.float32)
        self.extra[:, 3] = np.arange(1, len(self.extra) + 1)          # kart numbers: 1, 2, ...
        self.extra_tex = ctx.texture((len(self.extra), 1), 4, dtype="f4")
        self.extra_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self._last = None                                             # poses of the last frame
        km = scenery.kart_mesh()
        self.vao_kart = ctx.vertex_array(self.p_kart, [(ctx.buffer(km.tobytes()), scenery.KART_FORMAT,
                                                        *scenery.KART_ATTRS), (r.pair_buf, "2i/i", "in_pair")])
        self.vao_shadow = ctx.vertex_array(self.p_shadow, [(r.pair_buf, "2i/i", "in_pair")],
                                           mode=moderngl.TRIANGLE_STRIP)
        self.vao_sky = ctx.vertex_array(self.p_sky, [], mode=moderngl.TRIANGLE_STRIP)
        self.grounds = [self._ground(t) for t in r.tracks]
        self.scenes = [None] * len(r.tracks)                          # built on first use per track
        self.textures = [None] * len(r.tracks)
        self.commands = ctx.buffer(reserve=20 * 64)
        values = {"cam_poses": 0, "ground": 1, "kart_poses": 2, "kart_extra": 3, "panorama": 4,
                  "sun": tuple(float(v) for v in scenery.SUN), "haze": HAZE, "wet_all": 0.0,
                  "sun_shift": tuple(float(v) for v in -scenery.SUN[:2] / scenery.SUN[2] * SUN_SHIFT_M)}
        for p in self.programs:
            for name, value in values.items():
                if name in p:
                    p[name].value = value

    def scene(self, k: int):
        """Track ``k``'s static scenery: (vertex array, chunk first (K,), count (K,), centre (K, 2),
        radius (K,), near (K,), far (K,), counts)."""
        if self.scenes[k] is None:
            track = self.r.tracks[k]
            (verts, first, count, centre, radius, near, far), counts = cached(
                "scenery", track, lambda: scenery.build_scenery(track))
            vao = self.ctx.vertex_array(self.p_static, [(self.ctx.buffer(verts.tobytes()), scenery.STATIC_FORMAT,
                                                         *scenery.STATIC_ATTRS)])
            self.scenes[k] = (vao, first, count, centre, radius, near, far, counts)
        return self.scenes[k]

    def texture(self, k: int):
        """Track ``k``'s ground texture for people: finer than the observation's where memory
        allows (at most GROUND_TEXELS texels), with smooth edges (built on first use)."""
        import moderngl
        if self.textures[k] is None:
            track = self.r.tracks[k]
            h, w = track.surface.shape
            u = max(texture_upsample(track.scale), min(4, int(math.sqrt(GROUND_TEXELS / (h * w)))))
            img = cached(f"ground{u}", track, lambda: ground_texture(track, upsample=u, smooth=True))
            tex = self.ctx.texture((img.shape[1], img.shape[0]), 3, img.tobytes())
            tex.build_mipmaps()
            tex.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)   # anisotropic: 5x slower on llvmpipe
            tex.repeat_x = tex.repeat_y = False
            self.textures[k] = tex
        return self.textures[k]

    def _ground(self, track):
        """The ground as a grid of GROUND_CELL_M tiles over the image, and wide tiles beyond to
        3 km (one 6 km quad would leave its depth too coarse near the eye for the shadows)."""
        import moderngl
        w_m, h_m = track.extent_m
        xs = np.r_[-3000.0, np.arange(0.0, w_m, GROUND_CELL_M), w_m, w_m + 3000.0]
        ys = np.r_[-3000.0, np.arange(0.0, h_m, GROUND_CELL_M), h_m, h_m + 3000.0]
        gx, gy = np.meshgrid(xs, ys, indexing="xy")
        v = np.stack([gx, gy, np.zeros_like(gx), gx / w_m, (h_m - gy) / h_m], -1).astype(np.float32)
        a, b, c, d = v[:-1, :-1], v[:-1, 1:], v[1:, 1:], v[1:, :-1]
        tris = np.stack([a, b, c, a, c, d], 2).reshape(-1, 5)
        return self.ctx.vertex_array(self.p_ground, [(self.ctx.buffer(tris.tobytes()), "3f 2f", "in_pos", "in_uv")],
                                     mode=moderngl.TRIANGLES)

    def replace_track(self, slot: int, track) -> None:
        """A new track in ``slot``: its ground now, its scenery and texture on first use."""
        self.grounds[slot] = self._ground(track)
        self.scenes[slot] = None
        if self.textures[slot] is not None:
            self.textures[slot].release()
            self.textures[slot] = None

    def motion(self, x, y, yaw, steer) -> None:
        """The karts' steering, distance rolled and spoke blur from this frame's poses (a jump of
        over 5 m, e.g. a reset, rolls nothing)."""
        k = len(x)
        e = self.extra
        e[:k, 0] = 0.0 if steer is None else np.asarray(steer, np.float32)[:k]
        if self._last is not None and len(self._last[0]) == k:
            lx, ly = self._last
            dx, dy = x - lx, y - ly
            fwd = dx * np.cos(yaw) + dy * np.sin(yaw)
            moved = np.hypot(dx, dy) > 0
            fwd = np.where(np.abs(fwd) > 5.0, 0.0, fwd)
            e[:k, 1] = np.mod(e[:k, 1] + fwd, 2 * math.pi * 0.135 * 0.145 * 1e3)
            e[:k, 2] = np.where(moved, np.clip((np.abs(fwd) / WHEEL_R - 0.35) / 0.6, 0, 1), e[:k, 2])
        self._last = (np.array(x, np.float64), np.array(y, np.float64))
        self.extra_tex.write(e.tobytes())

    def set_camera(self, values: dict, eye) -> None:
        for p in self.programs:
            for name, value in values.items():
                if name not in p:
                    continue
                if name == "proj":
                    p[name].write(value)
                else:
                    p[name].value = value
            if "eye" in p:
                p["eye"].value = tuple(float(v) for v in eye)

    def draw(self, cam_tex, pairs, track: int, eye, cam_cs, fov_deg: float, wet: float) -> dict:
        """One camera's picture (the framebuffer is bound and cleared, the camera uniforms set):
        the ground, the shadows blended onto it, the karts, the scenery, the sky. Returns what
        was drawn (karts, chunks, vertices)."""
        import moderngl
        ctx, r = self.ctx, self.r
        for i in range(4):
            ctx.disable_direct(0x3000 + i)
        ctx.enable(ctx.DEPTH_TEST)
        ctx.disable(ctx.CULL_FACE)
        cam_tex.use(0)
        r.pose_tex.use(2)
        self.extra_tex.use(3)
        self.sky_tex.use(4)
        for p in (self.p_ground, self.p_sky):
            p["wet_all"].value = wet
        # the ground first, then the shadows blended onto it with no depth test (a blob 3 cm up
        # fought the ground's depth in stripes near the eye), then what stands on it, the sky last
        self.texture(track).use(1)
        self.p_ground["cam_base"].value = 0
        self.grounds[track].render(instances=1)
        if len(pairs):
            r.pair_buf.write(pairs.tobytes())
            ctx.disable(ctx.DEPTH_TEST)            # (and so no depth written)
            ctx.enable(ctx.BLEND)
            ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
            self.vao_shadow.render(vertices=4, instances=len(pairs))
            ctx.disable(ctx.BLEND)
            ctx.enable(ctx.DEPTH_TEST)
            ctx.front_face = r.kart_front
            ctx.enable(ctx.CULL_FACE)
            self.vao_kart.render(instances=len(pairs))
            ctx.disable(ctx.CULL_FACE)
        vao, first, count, centre, radius, near, far, _ = self.scene(track)
        d = np.hypot(centre[:, 0] - eye[0], centre[:, 1] - eye[1])
        fwd = (centre[:, 0] - eye[0]) * cam_cs[0] + (centre[:, 1] - eye[1]) * cam_cs[1]
        lat = np.abs((centre[:, 1] - eye[1]) * cam_cs[0] - (centre[:, 0] - eye[0]) * cam_cs[1])
        tan = math.tan(math.radians(min(fov_deg * 1.3, 170.0)) / 2)
        ok = ((d - radius < far) & (d + radius > near) & (fwd > -radius - 2.0)
              & (lat < fwd * tan + radius * 1.5 + 2.0))
        sel = np.flatnonzero(ok)
        if len(sel):
            cmd = np.zeros((len(sel), 5), np.uint32)      # moderngl reads 20-byte commands
            cmd[:, 0], cmd[:, 1], cmd[:, 2] = count[sel], 1, first[sel]
            if cmd.nbytes > self.commands.size:
                self.commands.release()
                self.commands = ctx.buffer(reserve=cmd.nbytes * 2)
            self.commands.write(cmd.tobytes())
            vao.render_indirect(self.commands, mode=moderngl.TRIANGLES, count=len(sel))
        self.vao_sky.render(vertices=4, instances=1)
        return {"karts": len(pairs), "chunks": len(sel), "vertices": int(count[sel].sum())}
