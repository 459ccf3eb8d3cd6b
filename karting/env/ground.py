"""The ground and the sky: their textures (the painted track as mown grass, asphalt, kerbs and the
start line; the panorama of sky and hills) and their shaders, which the observation's renderer
(:mod:`karting.env.render`) and the people views (:mod:`karting.env.detail`, with ``#define
DETAIL``) share."""
from __future__ import annotations

import math

import numpy as np

from .. import numerics as nm
from ..track import ASPHALT, KERB, Track, distance_px
from . import scenery
from .glsl import CAMERA_GLSL, FRAG_GLSL

SKY = (0.55, 0.72, 0.92)

GROUND_VS = "#version 330\n" + CAMERA_GLSL + """
// One draw per track, instanced over the cameras on that track: they are listed together in
// row 1 of cam_poses, from cam_base on.
uniform int cam_base;
in vec3 in_pos;
in vec2 in_uv;
out vec2 v_uv;
out vec2 v_rel;                // ground point minus the eye (x, y) [m]: the wet gloss
flat out float v_eye_h;
void main() {
    v_uv = in_uv;
    int cam = int(texelFetch(cam_poses, ivec2(cam_base + gl_InstanceID, 1), 0).x);
    vec4 cp = texelFetch(cam_poses, ivec2(cam, 0), 0);
    v_rel = in_pos.xy - (cp.xy + cp.zw * cam_offset.x + vec2(-cp.w, cp.z) * cam_offset.y);
    v_eye_h = looks != 0 ? texelFetch(cam_looks, ivec2(cam, 0), 0).x : cam_offset.z;
    place(in_pos, cam);
}
"""
GROUND_FS = "#version 330\n" + FRAG_GLSL + """
uniform sampler2D ground;
uniform sampler2D ground_class;  // (looks only) R8: 1 asphalt, 0.5 paint (lines, kerbs), 0 grass
uniform float wet_all;           // water on the track (0 dry .. 1 soaked); per camera with looks
in vec2 v_uv;
in vec2 v_rel;
flat in float v_eye_h;
#ifdef DETAIL
uniform vec3 haze;
#endif
void main() {
    vec3 c = texture(ground, v_uv).rgb;
    float wet = looks != 0 ? look(2).a : wet_all;
    if (wet > 0.0) {
        // a wet track: darker asphalt and paint that mirror the overcast sky at grazing angles
        // (Schlick's Fresnel term), grass a little darker
        float grass = clamp((c.g - max(c.r, c.b)) * 8.0, 0.0, 1.0);
        float cos_v = v_eye_h / sqrt(v_eye_h * v_eye_h + dot(v_rel, v_rel));
        float fres = 0.04 + 0.96 * pow(1.0 - cos_v, 5.0);
        vec3 paved = mix(c * (1.0 - 0.45 * wet), vec3(0.66, 0.70, 0.76), clamp(wet * fres * 0.85, 0.0, 1.0));
        c = mix(paved, c * (1.0 - 0.15 * wet), grass);
    }
    if (looks != 0) {
        float a = texture(ground_class, v_uv).r;
        float wa = clamp(2.0 * a - 1.0, 0.0, 1.0);
        float wg = clamp(1.0 - 2.0 * a, 0.0, 1.0);
        // the share of the kerb's red (200, 30, 30) in this texel, swapped for the drawn colour
        float red = clamp((c.r - max(c.g, c.b)) / 0.667, 0.0, 1.0) * (1.0 - wa - wg);
        vec3 gain = wa * look(2).rgb + wg * look(3).rgb + vec3(1.0 - wa - wg);
        c = (c * gain + red * (look(4).rgb - vec3(0.784, 0.118, 0.118))) * look(1).rgb;
    }
#ifdef DETAIL
    c = mix(c, haze, clamp((length(v_rel) - 90.0) / 1500.0, 0.0, 0.4));
#endif
    frag = vec4(c, 1.0);
}
"""
SKY_VS = "#version 330\n" + CAMERA_GLSL + """
// One quad per camera over the part of its tile above the horizon (the ground covers the rest).
// The world-space view direction is linear across the quad, so it interpolates exactly and the
// fragment shader is a single cube-map lookup (no per-pixel trigonometry).
uniform float horizon_ndc;
uniform vec2 tan_half_fov;
out vec3 v_dir;                // view direction in the world frame (z up)
void main() {
    vec2 pcs = pitch_cs;
    float horizon = horizon_ndc;
    if (looks != 0) {
        pcs = texelFetch(cam_looks, ivec2(gl_InstanceID, 0), 0).yz;
        horizon = pcs.y / pcs.x / tan_half_fov.y;
    }
    vec2 ndc = vec2(gl_VertexID % 2 == 0 ? -1.0 : 1.0, gl_VertexID < 2 ? horizon - 0.05 : 1.0);
    vec3 c = vec3(ndc * tan_half_fov, -1.0);
    float fwd = c.y * pcs.y - c.z * pcs.x;
    float left = -c.x;
    vec4 cp = texelFetch(cam_poses, ivec2(gl_InstanceID, 0), 0);
    v_dir = vec3(fwd * cp.z - left * cp.w, fwd * cp.w + left * cp.z,
                 c.y * pcs.x + c.z * pcs.y);
    to_tile(vec4(ndc, 0.9999, 1.0), gl_InstanceID);   // behind the ground out to the far plane
}
"""
SKY_FS = "#version 330\n" + FRAG_GLSL + """
uniform samplerCube panorama;  // sky gradient and distant hills, fixed to the world
uniform float wet_all;
in vec3 v_dir;
void main() {
    vec3 c = texture(panorama, v_dir).rgb;
    float wet = looks != 0 ? look(2).a : wet_all;
    if (wet > 0.0) c = mix(c, vec3(dot(c, vec3(0.30, 0.45, 0.25))), 0.7 * wet) * (1.0 - 0.2 * wet);   // overcast
    if (looks != 0) c *= look(1).rgb * look(1).a;
    frag = vec4(c, 1.0);
}
"""


def sky_panorama(size: int = 256, seed: int = 0) -> list:
    """Six cube-map faces (size, size, 3) uint8: a sky gradient above a ring of distant hills
    whose skyline depends on the azimuth, so that the horizon tells the heading. Faces are in
    GL order (+X, -X, +Y, -Y, +Z, -Z) for lookup vectors (x, y, z) = world (east, north, up)."""
    t = (np.arange(size) + 0.5) / size * 2 - 1
    tc, sc = np.meshgrid(t, t, indexing="ij")        # rows = t, columns = s
    one = np.ones_like(sc)
    # direction for each texel, inverting the GL cube-map face table
    dirs = [(one, -tc, -sc), (-one, -tc, sc), (sc, one, tc), (sc, -one, -tc), (sc, -tc, one),
            (-sc, -tc, -one)]
    rng = np.random.default_rng(seed + 1)
    ph = rng.uniform(0, 2 * np.pi, 3)
    sky = np.float32(SKY)
    faces = []
    for x, y, z in dirs:
        # lookup vector (x, y, z) = world (east, north, up): the GL axes are just labels here
        az = nm.arctan2(y, x)
        el = z / np.maximum(np.hypot(x, y), 1e-6)
        hill = (0.035 + 0.03 * np.abs(nm.sin(3 * az + ph[0])) + 0.015 * nm.sin(7 * az + ph[1])
                + 0.008 * nm.sin(17 * az + ph[2]))
        f = np.clip(el / hill, 0, 1)[..., None]
        ground = (1 - f) * np.float32([0.30, 0.45, 0.32]) + f * np.float32([0.45, 0.58, 0.5])
        g = np.clip(el * 2, 0, 1)[..., None]
        air = (1 - g) * sky * 1.08 + g * sky * 0.85
        rgb = np.where((el < hill)[..., None], ground, air)
        faces.append((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    return faces


#: ground texture resolution to aim for [m/px]: 0.25 m resolves the 0.35 m edge lines and the
#: 0.5 m chequers; finer paintings are not upsampled (a 0.2 m/px image would give 26 Mpx)
TEXTURE_M_PER_PX = 0.25


def texture_upsample(scale: float) -> int:
    """Texels per image pixel along each axis: 2 at the default 0.5 m/px, 1 at 0.35 m/px or finer."""
    return max(1, int(round(scale / TEXTURE_M_PER_PX)))


def ground_texture(track: Track, upsample: int | None = None, seed: int = 0, classes: bool = False,
                   smooth: bool = False):
    """(H*u, W*u, 3) uint8 ground colours: mown grass, asphalt, red/white kerbs, start line.

    With ``classes`` also the (H*u, W*u) uint8 surface class the randomised looks recolour by:
    255 asphalt, 128 paint (edge lines, kerbs, the start line), 0 grass. ``smooth`` (the views
    made for people) follows the asphalt's edge between the pixels (its signed distance,
    interpolated) instead of repeating each pixel, with grain at two scales
    (:func:`karting.env.scenery.grain`), and leaves the kerbs to their meshes."""
    from scipy import ndimage
    from scipy.spatial import cKDTree
    u = texture_upsample(track.scale) if upsample is None else int(upsample)
    rng = np.random.default_rng(seed)
    surf = np.repeat(np.repeat(track.surface, u, 0), u, 1)
    if smooth:
        on = track.surface == ASPHALT
        sd = ndimage.gaussian_filter((distance_px(on) - distance_px(~on)).astype(np.float32), 1.5)   # no steps
        sd = ndimage.zoom(sd, u, order=1, grid_mode=True, mode="nearest")
        surf = np.where(sd > 0, np.uint8(ASPHALT), np.where(surf == ASPHALT, np.uint8(0), surf))
        surf[surf == KERB] = 0
        grain = scenery.grain(surf.shape, sc=track.scale / u, seed=seed)
    h, w = surf.shape
    sc = track.scale / u
    xs = (np.arange(w) + 0.5) * sc                  # texel centres [m]
    ys = (h - np.arange(h) - 0.5) * sc
    stripe = (np.floor((xs[None, :] + 0.6 * ys[:, None]) / 12.0) % 2) > 0.5      # mowing, 12 m
    img = np.where(stripe[..., None], np.float32([72, 144, 60]), np.float32([62, 128, 52]))
    noise = rng.normal(0.0, 1.0, (h, w)).astype(np.float32)[..., None]
    img += noise * 5
    asphalt = surf == ASPHALT
    if smooth:      # blended by how much of each texel is asphalt, line or grass: no steps when magnified
        sd_m = sd * np.float32(track.scale)
        inside = np.clip(sd_m / sc + 0.5, 0, 1)[..., None]
        beyond = np.clip((sd_m - 0.35) / sc + 0.5, 0, 1)[..., None]
        paved = np.float32([78, 78, 84]) + noise * 6
        img = img * (1 - inside) + np.float32([225, 225, 225]) * (inside - beyond) + paved * beyond
        edge = asphalt & (sd_m <= 0.35)
    else:
        img[asphalt] = np.array([78, 78, 84], np.float32) + noise[asphalt] * 6
        # white edge lines: asphalt within 0.35 m of the grass
        edge = asphalt & (distance_px(asphalt) * sc <= 0.35)
        img[edge] = (225, 225, 225)
    kerb = surf == KERB
    cls = None
    if classes:
        cls = np.where(asphalt & ~edge, np.uint8(255), np.where(edge | kerb, np.uint8(128), np.uint8(0)))
    if kerb.any():
        rr, cc = np.nonzero(kerb)
        _, idx = cKDTree(track.centre).query(np.stack([xs[cc], ys[rr]], 1))
        red = (np.floor(idx * track.spacing / 1.2) % 2) == 0
        img[rr, cc] = np.where(red[:, None], np.float32([200, 30, 30]), np.float32([235, 235, 235]))
    # chequered start/finish line, 1.5 m deep, across the asphalt at s = 0: only the texels
    # within reach of the line's centre are tested
    c0, w0 = track.centre[0], float(track.width[0])
    reach = math.hypot(0.75, w0) + 2 * sc
    c_lo, c_hi = max(0, int((c0[0] - reach) / sc)), min(w, int((c0[0] + reach) / sc) + 2)
    r_lo, r_hi = max(0, int(h - (c0[1] + reach) / sc)), min(h, int(h - (c0[1] - reach) / sc) + 2)
    on = (asphalt | kerb)[r_lo:r_hi, c_lo:c_hi]
    rr, cc = np.nonzero(on)
    d = np.stack([xs[c_lo + cc], ys[r_lo + rr]], 1) - c0
    along = d[:, 0] * track.tangent[0, 0] + d[:, 1] * track.tangent[0, 1]     # not BLAS: see karting.numerics
    lat = d[:, 0] * track.normal[0, 0] + d[:, 1] * track.normal[0, 1]
    line = (np.abs(along) < 0.75) & (np.abs(lat) < w0)
    chk = ((np.floor(along[line] / 0.5) + np.floor(lat[line] / 0.5)) % 2) == 0
    img[r_lo + rr[line], c_lo + cc[line]] = np.where(chk[:, None], np.float32([20, 20, 20]),
                                                     np.float32([240, 240, 240]))
    if smooth:
        img *= grain[..., None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    if classes:
        cls[r_lo + rr[line], c_lo + cc[line]] = 128
        return img, cls
    return img


def ground_quad(track: Track, big: float = 3000.0) -> np.ndarray:
    """The ground: one quad (4 strip vertices of x, y, z, u, v) reaching ``big`` metres past the
    image; uv outside [0, 1] clamps to the image border, which is grass by construction."""
    w_m, h_m = track.extent_m
    gx0, gy0, gx1, gy1 = -big, -big, w_m + big, h_m + big
    return np.array([(gx0, gy0, 0, gx0 / w_m, (h_m - gy0) / h_m), (gx1, gy0, 0, gx1 / w_m, (h_m - gy0) / h_m),
                     (gx0, gy1, 0, gx0 / w_m, (h_m - gy1) / h_m), (gx1, gy1, 0, gx1 / w_m, (h_m - gy1) / h_m)],
                    np.float32)
