"""Making track PNGs: painting a centre line, importing real circuits, generating new ones.

A track is painted exactly as a user would draw it: a black band on white at the track's
metres-per-pixel scale, anti-aliased by drawing 4x larger and scaling down. Coordinates here are
metres with y *down* (image convention) unless a function says otherwise.

* :func:`draw` / :func:`draw_variable`: a closed centre line -> PNG, constant or per-point width;
* :func:`import_centreline_csv`: a centre line CSV in the format of ``shared/real_tracks``
  (``x_m, y_m, w_tr_right_m, w_tr_left_m``, y up, in driving order) -> image + checkpoints entry,
  scaled to a chosen lap length and kart-sized width;
* :func:`generate`: procedural kart circuits from a seed (a random star-shaped loop of control
  points through a periodic spline, kept only if its corners are drivable and no two parts of it
  come closer than the track width plus a grass strip).
"""
from __future__ import annotations

import functools
import hashlib
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

from ..files import atomic_write
from .build import MIN_TRACK_WIDTH_M
from .errors import TrackError
from .geometry import curvature, signed_area
from .paint import DEFAULT_SCALE_M_PER_PX

SUPERSAMPLE = 4


def spline_loop(points, n: int = 4000) -> np.ndarray:
    """A closed periodic cubic spline through ``points``, sampled at ``n`` points."""
    from scipy.interpolate import CubicSpline
    p = np.asarray(points, np.float64)
    p = np.vstack([p, p[:1]])
    t = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    cs = CubicSpline(t, p, bc_type="periodic")
    return cs(np.linspace(0, t[-1], n, endpoint=False))


def save_png(im, path: str | Path) -> None:
    """Save a PIL image as PNG atomically (creating its folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: im.save(f, format="PNG", optimize=True))


def draw(centre_m: np.ndarray, width_m: float, size_m: tuple, path: str | Path | None = None,
         scale: float = DEFAULT_SCALE_M_PER_PX) -> "Image.Image":
    """Paint a closed centre line (metres, y down) as a ``width_m`` black band on white.
    Returns the PIL image; saves it (atomically) when ``path`` is given."""
    from PIL import Image, ImageDraw
    s = SUPERSAMPLE / scale
    w, h = int(size_m[0] / scale), int(size_m[1] / scale)
    im = Image.new("L", (w * SUPERSAMPLE, h * SUPERSAMPLE), 255)
    d = ImageDraw.Draw(im)
    pts = [(float(x * s), float(y * s)) for x, y in centre_m]
    lw = int(round(width_m * s))
    d.line(pts + pts[:1], fill=0, width=lw, joint="curve")
    r = lw / 2
    for x, y in pts[:: max(1, len(pts) // 400)]:
        d.ellipse([x - r, y - r, x + r, y + r], fill=0)
    im = im.resize((w, h), Image.LANCZOS)
    if path is not None:
        save_png(im, path)
    return im


def draw_variable(centre_m: np.ndarray, w_right_m: np.ndarray, w_left_m: np.ndarray, size_m: tuple,
                  path: str | Path | None = None, scale: float = DEFAULT_SCALE_M_PER_PX) -> "Image.Image":
    """Paint a closed centre line (metres, y down, driving order) with per-point free widths to
    the right and left of it, as a union of quads between the two edges plus round joints."""
    from PIL import Image, ImageDraw
    c = np.asarray(centre_m, np.float64)
    d1 = np.roll(c, -1, 0) - np.roll(c, 1, 0)
    t = d1 / np.maximum(np.linalg.norm(d1, axis=1, keepdims=True), 1e-12)
    right = np.stack([-t[:, 1], t[:, 0]], 1)          # y down: (-ty, tx) is the driver's right
    s = SUPERSAMPLE / scale
    rt = (c + right * np.asarray(w_right_m)[:, None]) * s
    lf = (c - right * np.asarray(w_left_m)[:, None]) * s
    w, h = int(size_m[0] / scale), int(size_m[1] / scale)
    im = Image.new("L", (w * SUPERSAMPLE, h * SUPERSAMPLE), 255)
    d = ImageDraw.Draw(im)
    n = len(c)
    for i in range(n):
        j = (i + 1) % n
        d.polygon([tuple(rt[i]), tuple(rt[j]), tuple(lf[j]), tuple(lf[i])], fill=0)
    cs = c * s
    for i in range(0, n, max(1, n // 600)):
        r = min(w_right_m[i], w_left_m[i]) * s
        x, y = cs[i]
        d.ellipse([x - r, y - r, x + r, y + r], fill=0)
    im = im.resize((w, h), Image.LANCZOS)
    if path is not None:
        save_png(im, path)
    return im


def _frame_size(xy, margin_m):
    xy = xy - (xy.min(axis=0) - margin_m)
    return xy, (float(xy[:, 0].max() + margin_m), float(xy[:, 1].max() + margin_m))


def read_centreline_csv(path: str | Path) -> tuple:
    """``(xy (N, 2), w_right (N,), w_left (N,))`` from a real_tracks-style CSV, with clear errors."""
    path = Path(path)
    if not path.exists():
        raise TrackError(f"{path}: file not found")
    try:
        data = np.loadtxt(path, delimiter=",", comments="#", ndmin=2)
    except ValueError as e:
        raise TrackError(f"{path}: not a numeric CSV ({e}); expected rows 'x_m,y_m,w_tr_right_m,"
                         "w_tr_left_m' (lines starting with # are comments)") from None
    if data.ndim != 2 or data.shape[1] not in (2, 4):
        raise TrackError(f"{path}: expected 4 columns x_m,y_m,w_tr_right_m,w_tr_left_m (or 2 with "
                         f"--width), got {data.shape[1] if data.ndim == 2 else 0}")
    if len(data) < 10:
        raise TrackError(f"{path}: only {len(data)} points; a centre line needs at least 10")
    if not np.isfinite(data).all():
        raise TrackError(f"{path}: contains NaN or infinite values (row "
                         f"{int(np.argwhere(~np.isfinite(data))[0, 0]) + 1} of the data)")
    xy = data[:, :2]
    if data.shape[1] == 4:
        wr, wl = data[:, 2], data[:, 3]
        if (wr <= 0).any() or (wl <= 0).any():
            raise TrackError(f"{path}: track widths must be positive")
    else:
        wr = wl = None
    return xy, wr, wl


def import_centreline_csv(csv: str | Path, length_m: float | None = None, width_m: float | None = None,
                          scale: float = DEFAULT_SCALE_M_PER_PX, margin_m: float = 20.0,
                          return_transform: bool = False) -> tuple:
    """A real circuit as a kart track: ``(PIL image, checkpoints entry)``.

    ``length_m`` scales the layout to that lap length (None: keep it); ``width_m`` gives a
    constant track width (None: the CSV's own widths, scaled with the layout). The entry keeps
    the CSV's driving direction and puts start/finish at its first point. With
    ``return_transform`` a third value maps CSV points (metres, y up) to the track's world metres.
    """
    xy, wr, wl, seg, f = _scaled_centreline(csv, length_m, width_m)
    direction = "clockwise" if signed_area(xy) < 0 else "counterclockwise"   # y up
    pts = xy * f
    half = (np.full(len(pts), width_m / 2) if width_m is not None else (wr + wl) / 2)
    _check_no_overlap(csv, pts, half, seg * f)
    pts[:, 1] = -pts[:, 1]                                                    # y up -> y down
    half_max = (width_m / 2 if width_m is not None else max(wr.max(), wl.max()))
    shifted, size = _frame_size(pts, margin_m + half_max)
    shift = shifted[0] - pts[0]
    pts = shifted
    px = size[0] / scale * size[1] / scale
    if px > 12_000_000:
        raise TrackError(f"{csv}: at {scale} m/px the image would be {size[0] / scale:.0f} x "
                         f"{size[1] / scale:.0f} px; give a shorter --length or a larger --scale")
    dense = _densify(pts, 0.5)
    if width_m is not None:
        im = draw(dense[0], width_m, size, scale=scale)
    else:
        im = draw_variable(dense[0], np.interp(dense[1], np.arange(len(wr) + 1), np.r_[wr, wr[:1]]),
                           np.interp(dense[1], np.arange(len(wl) + 1), np.r_[wl, wl[:1]]), size, scale=scale)
    start_c, start_r = pts[0] / scale - 0.5
    d = pts[1] - pts[0]
    entry = {"scale_m_per_px": float(scale), "direction": direction,
             "start": {"x": round(float(start_c), 2), "y": round(float(start_r), 2),
                       "heading_deg": round(math.degrees(math.atan2(-d[1], d[0])), 2)}}
    if return_transform:
        # image metres (y down) -> world metres (y up): y_world = image height - y_image
        height_m = im.size[1] * scale

        def to_world(p):
            q = np.asarray(p, np.float64) * f
            return np.stack([q[:, 0] + shift[0], height_m - (-q[:, 1] + shift[1])], 1)
        return im, entry, to_world
    return im, entry


def _scaled_centreline(csv, length_m, width_m) -> tuple:
    """The CSV's centre line without repeated points, its widths scaled to ``length_m`` (checked
    against a kart's minimum width): ``(xy, w_right, w_left, segment lengths, scale factor)``."""
    xy, wr, wl = read_centreline_csv(csv)
    seg = np.linalg.norm(np.diff(np.vstack([xy, xy[:1]]), axis=0), axis=1)
    if (seg < 1e-9).any():
        keep = seg >= 1e-9
        xy = xy[keep]
        wr, wl = (wr[keep], wl[keep]) if wr is not None else (None, None)
        seg = seg[keep]
    f = 1.0 if length_m is None else float(length_m) / seg.sum()
    if width_m is None:
        if wr is None:
            raise TrackError(f"{csv}: no width columns; give --width")
        wr, wl = wr * f, wl * f
        if (wr + wl).min() < MIN_TRACK_WIDTH_M:
            raise TrackError(f"{csv}: scaled to {seg.sum() * f:.0f} m the track is only "
                             f"{(wr + wl).min():.1f} m wide in places (a kart needs "
                             f"{MIN_TRACK_WIDTH_M} m); give --width (e.g. 9) or a longer --length")
    elif not MIN_TRACK_WIDTH_M <= width_m <= 40:
        raise TrackError(f"--width {width_m}: must be between {MIN_TRACK_WIDTH_M} and 40 m")
    return xy, wr, wl, seg, f


def _check_no_overlap(csv, pts, half, seg):
    """Refuse layouts whose painted band would cross or touch itself: a bridge (Suzuka's figure
    of eight) or two sections closer than their widths. A PNG cannot draw either; the loader
    would find a different, shorter loop."""
    from scipy.spatial import cKDTree
    gap_m = 1.0                                   # grass needed between two sections (2 px)
    pairs = cKDTree(pts).query_pairs(2 * half.max() + gap_m, output_type="ndarray")
    if not len(pairs):
        return
    s = np.concatenate([[0.0], np.cumsum(seg)[:-1]])
    along = np.abs(s[pairs[:, 0]] - s[pairs[:, 1]])
    along = np.minimum(along, seg.sum() - along)
    dist = np.linalg.norm(pts[pairs[:, 0]] - pts[pairs[:, 1]], axis=1)
    bad = (along > 4 * half.max() + 20.0) & (dist < half[pairs[:, 0]] + half[pairs[:, 1]] + gap_m)
    if bad.any():
        k = pairs[bad][np.argmin(dist[bad])]
        d, a = float(dist[bad].min()), float(along[bad][np.argmin(dist[bad])])
        if d < half.min():
            raise TrackError(f"{csv}: the centre line crosses itself near CSV point {int(k[0])} (a bridge, "
                             "like Suzuka's figure of eight); a PNG cannot draw that: pick another circuit")
        raise TrackError(f"{csv}: at this size two sections of the track {a:.0f} m apart along the lap "
                         f"come within {d:.1f} m of each other near CSV point {int(k[0])}, so they would "
                         "merge on the PNG; give a longer --length or a narrower --width")


def _densify(pts, step_m):
    """Points every ~``step_m`` along a closed polyline, and their fractional input index."""
    closed = np.vstack([pts, pts[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    k = np.maximum(1, np.ceil(seg / step_m).astype(int))
    frac = np.concatenate([i + np.arange(n) / n for i, n in enumerate(k)])
    i0 = np.floor(frac).astype(int)
    u = (frac - i0)[:, None]
    return closed[i0] * (1 - u) + closed[i0 + 1] * u, frac


# ---------------------------------------------------------------- procedural generation

MIN_RADIUS_M = 9.0         # tightest corner generated (a kart hairpin)
GRASS_GAP_M = 8.0          # grass between two parts of the track that pass each other


def _layout_ok(c, width_m, min_radius_m=MIN_RADIUS_M, grass_gap_m=GRASS_GAP_M):
    """True when the closed centre line (metres) has no corner tighter than ``min_radius_m`` and no
    two parts (more than a few widths apart along the track) closer than width + ``grass_gap_m``."""
    from scipy.spatial import cKDTree
    if np.abs(curvature(c)).max() > 1.0 / min_radius_m:
        return False
    seg = np.linalg.norm(np.roll(c, -1, 0) - c, axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)[:-1]])
    total = seg.sum()
    pairs = cKDTree(c).query_pairs(width_m + grass_gap_m, output_type="ndarray")
    if len(pairs):
        gap = np.abs(s[pairs[:, 0]] - s[pairs[:, 1]])
        along = np.minimum(gap, total - gap)
        if (along > 3.0 * (width_m + grass_gap_m)).any():
            return False
    return True


def generate_layout(seed: int, max_tries: int = 500) -> tuple:
    """A random drivable closed centre line: ``(points (N, 2) metres y down, width_m)``."""
    rng = np.random.default_rng(seed)
    for _ in range(max_tries):
        n = int(rng.integers(10, 19))
        ang = 2 * np.pi * (np.arange(n) + rng.uniform(-0.4, 0.4, n)) / n
        rad = rng.uniform(0.55, 1.0, n)
        # control points pulled well inwards make hairpins and infield loops
        pull = rng.random(n) < 0.3
        rad[pull] *= rng.uniform(0.3, 0.65, pull.sum())
        aspect = rng.uniform(1.0, 1.8)
        pts = np.stack([aspect * rad * np.cos(ang), rad * np.sin(ang)], 1)
        c = spline_loop(pts, 3000)
        length = float(rng.uniform(800.0, 1400.0))
        seg = np.linalg.norm(np.roll(c, -1, 0) - c, axis=1).sum()
        c = c * (length / seg)
        width = float(rng.uniform(8.0, 10.5))
        if _layout_ok(c[::3], width):
            return c, width
    raise TrackError(f"seed {seed}: no drivable layout found in {max_tries} tries")


def generate(seed: int, scale: float = DEFAULT_SCALE_M_PER_PX, margin_m: float = 20.0) -> tuple:
    """A procedural kart circuit: ``(PIL image, layout info)``."""
    c, width = generate_layout(seed)
    pts, size = _frame_size(c, margin_m + width / 2)
    im = draw(pts, width, size, scale=scale)
    seg = np.linalg.norm(np.roll(c, -1, 0) - c, axis=1).sum()
    return im, {"seed": seed, "length_m": float(seg), "width_m": width}


# ---------------------------------------------------------------- varied generation (training, benchmark)

#: paint styles of :func:`generate_varied`: (asphalt RGB, grass RGB, noise sigma, transparent grass)
PAINT_STYLES = {
    "black_on_white": ((0, 0, 0), (255, 255, 255), 0.0, False),
    "grey_on_green": ((85, 85, 90), (70, 150, 60), 0.0, False),
    "dark_on_light_grey": ((40, 40, 48), (200, 200, 200), 0.0, False),
    "pencil_scan": ((60, 60, 70), (235, 232, 220), 10.0, False),
    "transparent": ((30, 30, 30), (255, 255, 255), 0.0, True),
}
SCALES_M_PER_PX = (0.35, 0.5, 0.65)


#: generate_varied's versions: the tightest corner [m], the share of technical layouts (polygons
#: with deep notches, rounded as little as that corner allows) and of flowing polygons. Version 1
#: made the benchmark's generated tracks; version 2 adds the kart hairpins (4-5 m radius at 1.4 km)
#: and the share of tight corners that the real circuits have at kart scale (7-11 % of a lap
#: under 15 m radius, where version 1 had ~1 %). Version 3 (issue 30) gives half its polygon
#: layouts a spike: a vertex pushed far out whose tip is a half-circle hairpin (the legs 1.5-4 m of
#: grass apart where they leave it), so that a long straight ends in the tightest corner a kart
#: takes: the speed the expert sheds in its hardest braking zone is >= 50 km/h on half of seeds
#: 0-19 (none of version 2's 0-29, at most 44 km/h on the 30 training tracks of the second
#: generalist's run); two parts of a version 3 loop may pass 4 m of grass apart (8 m before).
GENERATOR_VERSIONS = {1: {"min_radius_m": MIN_RADIUS_M, "technical": 0.35, "polygon": 0.6},
                      2: {"min_radius_m": 4.0, "technical": 0.6, "polygon": 0.75},
                      3: {"min_radius_m": 4.0, "technical": 0.6, "polygon": 0.75, "spike": 0.5, "grass_gap_m": 4.0}}
LATEST_GENERATOR = 3


@functools.lru_cache(maxsize=None)
def generator_stamp(version: int) -> str:
    """What a generated track of ``version`` is made by: the version and the source of the code
    that draws and paints it. A track kept on disk with another stamp is made again (a change to
    the generator that moves layouts, as version 3's cap fix did, is then never served stale)."""
    h = hashlib.sha256(f"generator v{int(version)}\n".encode())
    here = Path(__file__).parent
    for name in ("generate.py", "geometry.py", "paint.py", "entry.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:24]


def generate_varied_layout(seed: int, max_tries: int = 500, version: int = LATEST_GENERATOR) -> tuple:
    """A random drivable closed centre line with more variety than :func:`generate_layout`:
    ``(points (N, 2) metres y down, width_m)``. 6-22 control points around a star-shaped loop
    (some pulled in: hairpins and infield loops), an aspect ratio of 1-2.2, optionally a long
    straight (points on a line between two control points) and chicanes (a small lateral kink
    on a straight); lengths 0.6-2.0 km, widths 7-12 m; corners no tighter than the version's
    minimum radius (GENERATOR_VERSIONS)."""
    v = GENERATOR_VERSIONS[version]
    rmin, gap = v["min_radius_m"], v.get("grass_gap_m", GRASS_GAP_M)
    rng = np.random.default_rng(seed)
    u0 = rng.random() if version >= 2 else None     # v2: the family is kept until a layout fits
    for _ in range(max_tries):
        u = rng.random() if u0 is None else u0
        if u < v["polygon"]:        # straights and corners, as real circuits: flowing or technical
            c, width = _polygon_layout(rng, technical=u < v["technical"], min_radius_m=rmin, version=version)
            if c is not None and _layout_ok(c[::4], width, rmin, gap):
                return c, width
            continue
        n = int(rng.integers(6, 23))
        ang = 2 * np.pi * (np.arange(n) + rng.uniform(-0.4, 0.4, n)) / n
        rad = rng.uniform(0.55, 1.0, n)
        pull = rng.random(n) < rng.uniform(0.0, 0.45)
        rad[pull] *= rng.uniform(0.3, 0.65, pull.sum())
        aspect = rng.uniform(1.0, 2.2)
        pts = np.stack([aspect * rad * np.cos(ang), rad * np.sin(ang)], 1)
        if rng.random() < 0.5:                        # a long straight: 3 points on one line
            i = int(rng.integers(n))
            a, b = pts[i], pts[(i + 1) % n]
            extra = [a + (b - a) * f for f in (0.33, 0.66)]
            if rng.random() < 0.5:                    # a chicane in its middle
                d = (b - a) / max(np.linalg.norm(b - a), 1e-9)
                side = np.array([-d[1], d[0]]) * rng.uniform(0.04, 0.08) * rng.choice([-1, 1])
                extra = [a + (b - a) * 0.3, a + (b - a) * 0.45 + side, a + (b - a) * 0.6 - side,
                         a + (b - a) * 0.75]
            pts = np.vstack([pts[: i + 1], extra, pts[i + 1:]])
        c = spline_loop(pts, 4000)
        length = float(rng.uniform(600.0, 2000.0))
        seg = np.linalg.norm(np.roll(c, -1, 0) - c, axis=1).sum()
        c = c * (length / seg)
        width = float(rng.uniform(7.0, 12.0))
        if _layout_ok(c[::4], width, rmin, gap):
            return c, width
    raise TrackError(f"seed {seed}: no drivable layout found in {max_tries} tries")


#: the shape of technical polygons per generator version: vertices, radius range, share pulled
#: in and by how much (version 2: more and deeper notches, so more slow corners per lap)
TECHNICAL = {1: ((12, 29), (0.5, 1.0), 0.4, (0.25, 0.7)), 2: ((14, 31), (0.35, 1.0), 0.5, (0.2, 0.6))}
TECHNICAL[3] = TECHNICAL[2]
#: version 3's spike: the vertex pushed out to this multiple of the largest radius, so that two long
#: straights meet at its tip, which :func:`_hairpin_cap` turns into a hairpin that smoothing leaves alone
SPIKE_RADIUS = (1.8, 2.6)
SPIKE_CAP_GRASS_M = (1.5, 4.0)   # grass between the spike's two legs where they leave its U-turn [m]
CAP_POINTS = 13


def _hairpin_cap(pts, k: int, radius_m: float):
    """``pts`` (a closed polygon, metres) with vertex ``k``, the tip of a spike, replaced by a
    half circle of ``radius_m`` (centre line) that the spike's two legs run into and out of:
    a hairpin that smoothing keeps tight, the legs 2 x ``radius_m`` apart where it starts."""
    a, b = pts[k - 1], pts[(k + 1) % len(pts)]
    d = pts[k] - 0.5 * (a + b)
    d = d / max(np.linalg.norm(d), 1e-9)
    across = np.array([-d[1], d[0]])
    if np.dot(across, a - pts[k]) < 0:       # the cap starts on the side the track comes from
        across = -across
    centre = pts[k] - d * radius_m
    th = np.linspace(0.0, np.pi, CAP_POINTS)
    cap = centre + radius_m * (np.cos(th)[:, None] * across + np.sin(th)[:, None] * d)
    return np.vstack([pts[:k], cap, pts[k + 1:]])


def _polygon_layout(rng, technical: bool = False, min_radius_m: float = MIN_RADIUS_M, version: int = 1) -> tuple:
    """Straights joined by corners: a random star-shaped polygon (5-14 vertices; technical:
    12-30 with deep notches, like the real circuits' hairpins and infield sections), scaled to
    its lap length, its corners rounded by Gaussian smoothing of 5-16 m (technical: as little
    as keeps the tightest corner above ``min_radius_m``; :func:`_layout_ok` rejects the rest).
    With the version's ``spike`` probability one vertex becomes a long spike ending in a hairpin.
    ``(None, w)`` when degenerate."""
    from scipy.ndimage import gaussian_filter1d
    (n_lo, n_hi), (r_lo, r_hi), pull_p, (f_lo, f_hi) = TECHNICAL[version] if technical else (
        (5, 15), (0.5, 1.0), 0.3, (0.35, 0.7))
    n = int(rng.integers(n_lo, n_hi))
    ang = np.sort(2 * np.pi * (np.arange(n) + rng.uniform(-0.35, 0.35, n)) / n)
    rad = rng.uniform(r_lo, r_hi, n)
    pull = rng.random(n) < pull_p
    rad[pull] *= rng.uniform(f_lo, f_hi, pull.sum())
    spike = GENERATOR_VERSIONS[version].get("spike", 0.0)
    spiked = spike > 0 and rng.random() < spike
    if spiked:      # a long straight into a hairpin and out of it: the hardest braking a lap can ask
        k = int(rng.integers(n))
        rad[k] = r_hi * rng.uniform(*SPIKE_RADIUS)
    pts = np.stack([rng.uniform(1.0, 2.5 if technical else 2.0) * rad * np.cos(ang), rad * np.sin(ang)], 1)
    closed = np.vstack([pts, pts[:1]])
    per = np.linalg.norm(np.diff(closed, axis=0), axis=1).sum()
    length = float(rng.uniform(600.0, 2000.0))
    pts = pts * (length / per)
    width = None
    if spiked:      # the tip becomes a U-turn whose legs leave it with a little grass between them
        width = float(rng.uniform(7.0, 12.0))
        pts = _hairpin_cap(pts, k, 0.5 * width + 0.5 * float(rng.uniform(*SPIKE_CAP_GRASS_M)))
    dense, frac = _densify(pts, 1.0)
    technical = technical or spiked
    sigma = rng.uniform(min(3.0, min_radius_m * 0.4), 8.0) if technical else rng.uniform(5.0, 16.0)
    if spiked:      # samples (~1 m) from the cap, along the loop: the cap itself is not rounded away
        on_cap = np.flatnonzero((frac >= k) & (frac <= k + CAP_POINTS - 1))
        i = np.arange(len(dense))
        to_ends = np.abs(i[:, None] - on_cap[[0, -1]][None, :])     # to either end of the cap, either way round
        from_cap = np.minimum(to_ends, len(dense) - to_ends).min(axis=1)
        from_cap = np.where((i >= on_cap[0]) & (i <= on_cap[-1]), 0, from_cap)
    while True:     # technical: as little rounding as keeps the tightest corner drivable
        c = np.stack([gaussian_filter1d(dense[:, k], sigma, mode="wrap") for k in range(2)], 1)
        if spiked:  # the cap and its legs as drawn, blended into the smoothed loop over 3 sigma
            keep = np.clip(1.0 - from_cap / (3.0 * sigma), 0.0, 1.0)[:, None]
            c = keep * dense + (1.0 - keep) * c
        seg = np.linalg.norm(np.roll(c, -1, 0) - c, axis=1)
        if seg.sum() < 300:
            return None, 0.0
        c = c * (length / seg.sum())
        if not technical or sigma > 30 or np.abs(curvature(c[::4])).max() <= 1.0 / (min_radius_m + 0.5):
            break
        sigma *= 1.2
    return c, float(rng.uniform(7.0, 12.0)) if width is None else width


def paint_style(im: "Image.Image", style: str, seed: int = 0) -> "Image.Image":
    """Repaint a black-on-white track image (``L`` mode) in one of PAINT_STYLES."""
    from PIL import Image
    dark, light, noise, transparent = PAINT_STYLES[style]
    a = np.asarray(im, np.float32)[..., None] / 255.0          # 0 asphalt .. 1 grass
    rgb = np.float32(dark) * (1 - a) + np.float32(light) * a
    if noise:      # specks of pencil and paper grain on ~3 % of the pixels (PNG stays small)
        rng = np.random.default_rng(seed)
        speck = rng.random(rgb.shape[:2]) < 0.03
        rgb[speck] += rng.normal(0.0, 4 * noise, int(speck.sum()))[:, None]
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    if transparent:
        alpha = ((1 - a[..., 0]) * 255).astype(np.uint8)
        return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    return Image.fromarray(rgb, "RGB")


def generate_varied(seed: int, margin_m: float = 20.0, version: int = LATEST_GENERATOR) -> tuple:
    """A procedural track as a user might paint it: ``(PIL image, checkpoints entry, info)``.
    The layout is :func:`generate_varied_layout`; the scale (0.35/0.5/0.65 m/px), the paint
    style (PAINT_STYLES) and the driving direction are drawn from the same seed."""
    c, width = generate_varied_layout(seed, version=version)
    rng = np.random.default_rng([seed, 1])
    scale = float(rng.choice(SCALES_M_PER_PX))
    style = str(rng.choice(sorted(PAINT_STYLES)))
    direction = str(rng.choice(["clockwise", "counterclockwise"]))
    pts, size = _frame_size(c, margin_m + width / 2)
    im = paint_style(draw(pts, width, size, scale=scale), style, seed)
    seg = np.linalg.norm(np.roll(c, -1, 0) - c, axis=1).sum()
    entry = {"scale_m_per_px": scale, "direction": direction}
    return im, entry, {"seed": seed, "length_m": float(seg), "width_m": width, "style": style,
                       "scale_m_per_px": scale, "direction": direction}
