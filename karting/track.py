"""Tracks: a PNG (a dark paint = asphalt, a light one = grass) plus an optional entry in ``checkpoints.json``.

Everything the simulator needs is derived from the image alone; the JSON entry only overrides it:

* the closed centre line (the medial curve between the outer grass and the infield, ordered,
  smoothed and resampled every ``CENTRE_SPACING_M``), full track widths, curvature, tangents;
* the driving direction (default: clockwise as seen on the image), start/finish on the middle of
  the longest straight, checkpoint gates across the track, three sectors;
* a racing line inside the track limits, keeping ``RACING_MARGIN_M`` from the edges: the blend of
  minimum curvature and shortest path with the lowest lap time (:mod:`karting.raceline`);
* a surface grid (grass / asphalt / kerb) at image resolution, used by physics and the renderer.

World coordinates are metres with x to the right and y *up* the image; pixel ``(col, row)`` has
its centre at ``((col + 0.5) * scale, (H - row - 0.5) * scale)``. The JSON stores pixel
coordinates so that an editor can write it without knowing the scale.

``checkpoints.json`` (this module is its one owner; use :func:`load_checkpoints_file` and
:func:`save_track_entry`)::

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

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 1
#: Metres per pixel when the JSON gives none: a brush of 16-20 px on a ~1000 x 800 canvas then
#: makes an 8-10 m wide, 0.6-1.5 km long kart circuit.
DEFAULT_SCALE_M_PER_PX = 0.5
CENTRE_SPACING_M = 1.0
MIN_TRACK_WIDTH_M = 4.0          # a kart is ~1.4 m wide; below this, racing is impossible
MAX_IMAGE_PIXELS = 16_000_000    # ~4000 x 4000; larger images are refused (decompression bombs)
RACING_MARGIN_M = 1.2            # racing line keeps this far from the track edge (half a kart + 0.5 m)
KERB_WIDTH_M = 1.0
KERB_MIN_CURVATURE = 1.0 / 60.0  # kerbs only where the corner is tighter than a 60 m radius
GATE_SPACING_M = 40.0

GRASS, ASPHALT, KERB, BARRIER = 0, 1, 2, 3
#: Tyre walls stand this far outside the asphalt; beyond them the surface is BARRIER (a crash).
WALL_RUNOFF_M = 5.0
DEFAULT_TRACKS_DIR = Path(__file__).resolve().parent.parent / "tracks"


class TrackError(ValueError):
    """A track PNG or its checkpoints.json entry cannot be used; the message says why and what to do."""


@dataclass
class Track:
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

    def __post_init__(self):
        self.racing_line = self.centre + self.normal * self.racing_offset[:, None]
        self.racing_curvature = _curvature(self.racing_line)
        t = self.tangent[0]
        self.start_pose = (float(self.centre[0, 0]), float(self.centre[0, 1]),
                           float(math.atan2(t[1], t[0])))
        self._tree = None
        self._flat_surface = self.surface.ravel()

    @property
    def extent_m(self):
        h, w = self.surface.shape
        return w * self.scale, h * self.scale

    @property
    def spacing(self):
        return self.length / len(self.centre)

    def surface_at(self, x, y):
        """Surface code under world points (arrays). Points outside the image read the nearest
        border pixel, which is never asphalt (a loop may not touch the border)."""
        h, w = self.surface.shape
        inv = np.float32(1.0 / self.scale)
        col = np.clip((np.asarray(x, np.float32) * inv).astype(np.int32), 0, w - 1)
        row = np.clip((np.float32(h) - np.asarray(y, np.float32) * inv).astype(np.int32), 0, h - 1)
        return self._flat_surface[row * w + col]

    def project(self, x, y):
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

    def pixel_to_world(self, pts):
        """Pixel (col, row) coordinates -> world metres (x right, y up)."""
        return _pix_to_world(np.asarray(pts, np.float64), self.scale, self.surface.shape[0])

    def world_to_pixel(self, pts):
        """World metres -> pixel (col, row) coordinates, as stored in checkpoints.json."""
        c, r = _world_to_pix(np.asarray(pts, np.float64), self.scale, self.surface.shape[0])
        return np.stack([c, r], -1)


# ---------------------------------------------------------------- image -> masks

MIN_IMAGE_PX = 32                # a smaller image cannot hold a loop with an infield
#: Otsu's eta (between-class / total variance) of two paints with anti-aliased edges is > 0.95;
#: one flat distribution (a gradient) gives 0.75, a bell curve (a photo of grass) ~0.64
MIN_SEPARABILITY = 0.85
MIN_CONTRAST = 20.0              # the two paints must differ by this much (0-255 levels)
SPECK_M = 2.0                    # grass specks inside the asphalt smaller than SPECK_M x SPECK_M are paint noise


def distance_px(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance [px] from every True pixel to the nearest False pixel (0 on False),
    as ``scipy.ndimage.distance_transform_edt`` gives it, bit for bit, ~3.7x faster (measured
    on a 2630 x 2490 track: 0.18 vs 0.68 s). seung-lab's ``edt`` returns the squared distance in
    float32, exact for these integers (< 2^24), and the root is taken in float64 as scipy does."""
    import edt
    sq = edt.edtsq(np.ascontiguousarray(mask, dtype=bool), black_border=False, parallel=1)
    return np.sqrt(sq, dtype=np.float64)


def read_image_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) float32 RGB 0..255 with alpha composited on white (transparent = grass)."""
    import warnings
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS:
                raise TrackError(f"{path}: image is {w}x{h} pixels, more than the {MAX_IMAGE_PIXELS:,} "
                                 "this loader accepts; scale it down (1000-3000 px a side is plenty)")
            if min(w, h) < MIN_IMAGE_PX:
                raise TrackError(f"{path}: image is only {w}x{h} pixels; a track needs at least "
                                 f"{MIN_IMAGE_PX}x{MIN_IMAGE_PX} (at {DEFAULT_SCALE_M_PER_PX} m/px a 1 km "
                                 "circuit is ~600x400 px): paint it on a larger canvas")
            has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
            rgba = np.asarray(im.convert("RGBA" if has_alpha else "RGB"), dtype=np.float32)
    except TrackError:
        raise
    except FileNotFoundError:
        raise TrackError(f"{path}: file not found") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise TrackError(f"{path}: image too large to handle safely ({e}); scale it down") from None
    except Exception as e:  # PIL raises many types for broken files
        raise TrackError(f"{path}: not a readable image ({type(e).__name__}: {e}); "
                         "save the track as a PNG (dark asphalt on light grass)") from None
    if not has_alpha:
        return rgba
    rgb, a = rgba[..., :3], rgba[..., 3:4] / 255.0
    return rgb * a + 255.0 * (1.0 - a)


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32)


@dataclass
class Split:
    """A two-tone split of one pixel feature (luminance or chroma) found by Otsu's method."""
    eta: float           # Otsu's separability: between-class / total variance (1 = two pure tones)
    low_mode: float      # the most common value of each class: the two paints
    high_mode: float

    @property
    def threshold(self):
        # half way between the two paints: an anti-aliased edge pixel goes to the paint that
        # covers more than half of it (for black on white this is the old fixed 128)
        return (self.low_mode + self.high_mode) / 2.0

    @property
    def usable(self):
        return self.eta >= MIN_SEPARABILITY and self.high_mode - self.low_mode >= MIN_CONTRAST


def otsu_split(values: np.ndarray) -> Split:
    """Otsu (1979) on a 256-bin histogram of values in [0, 256)."""
    hist = np.bincount(np.clip(values.astype(np.int32), 0, 255).ravel(), minlength=256).astype(np.float64)
    p = hist / hist.sum()
    centres = np.arange(256) + 0.5
    omega = np.cumsum(p)
    mu = np.cumsum(p * centres)
    mu_t = mu[-1]
    var_t = float(np.sum(p * (centres - mu_t) ** 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        var_b = (mu_t * omega - mu) ** 2 / (omega * (1.0 - omega))
    var_b = np.nan_to_num(var_b[:-1], nan=0.0, posinf=0.0)
    if var_t <= 1e-9 or not var_b.any():
        return Split(0.0, float(centres[np.argmax(hist)]), float(centres[np.argmax(hist)]))
    k = int(np.argmax(var_b))
    return Split(float(var_b[k] / var_t), float(centres[np.argmax(hist[:k + 1])]),
                 float(centres[k + 1 + np.argmax(hist[k + 1:])]))


def _grass_coloured(rgb_mean) -> bool:
    """Saturated green, yellow-green or brown: a colour people paint grass (or earth) with."""
    r, g, b = (float(v) for v in rgb_mean)
    hi, lo = max(r, g, b), min(r, g, b)
    if hi - lo < 40:
        return False
    if hi == r:
        hue = 60.0 * (((g - b) / (hi - lo)) % 6)
    elif hi == g:
        hue = 60.0 * ((b - r) / (hi - lo) + 2)
    else:
        hue = 60.0 * ((r - g) / (hi - lo) + 4)
    return 20.0 <= hue <= 170.0


def classify_asphalt(path: Path, rgb: np.ndarray) -> np.ndarray:
    """(H, W) bool: which pixels are painted asphalt, decided from the image's own colours.

    The painting is taken to be two paints plus their anti-aliased mixtures. Otsu's threshold on
    luminance finds the two; the darker one is asphalt (black on white, grey on green, pencil on
    paper), unless the darker one is grass-coloured (saturated green/brown) and the lighter one
    is grey, e.g. a light grey track on dark green grass. Where the two paints have about the same
    luminance, the split is made on chroma instead: the grey one is asphalt. An image with no
    clear two-tone split (a photo, a gradient, noise) is refused."""
    from scipy.ndimage import gaussian_filter
    lum = luminance(rgb)
    # the split is found on a lightly blurred copy (scanner or sensor noise averages out, the
    # two paints stay where they are); the pixels themselves are then classified unblurred
    split = otsu_split(gaussian_filter(lum, 1.0))
    step = max(1, int(math.sqrt(lum.size / 250_000)))     # colour means from ~250k pixels
    if split.usable:
        dark = lum < split.threshold
        sub, sub_dark = rgb[::step, ::step], dark[::step, ::step]
        dark_mean, light_mean = sub[sub_dark].mean(axis=0), sub[~sub_dark].mean(axis=0)
        light_grey = float(light_mean.max() - light_mean.min()) < 25.0
        return ~dark if (_grass_coloured(dark_mean) and light_grey) else dark
    chroma = rgb.max(axis=-1) - rgb.min(axis=-1)
    csplit = otsu_split(gaussian_filter(chroma, 1.0))
    if csplit.usable:
        grey = chroma < csplit.threshold
        if not _grass_coloured(rgb[::step, ::step][~grey[::step, ::step]].mean(axis=0)):
            raise TrackError(
                f"{path}: the two colours of the image have the same brightness and neither looks "
                "like grass; paint the track darker than the grass (e.g. dark grey on white or green)")
        return grey
    tone = "only one colour (nothing painted on it?)" if split.eta == 0.0 else (
        f"no clear two-tone split (separability {split.eta:.2f}, needs {MIN_SEPARABILITY}; "
        f"paints {split.low_mode:.0f} and {split.high_mode:.0f} of 255 in brightness)")
    raise TrackError(f"{path}: cannot tell asphalt from grass: the image has {tone}. Paint the "
                     "track in one dark colour on a light background (black on white, grey on "
                     "green), without shading or photos")


def _asphalt_mask(path: Path, rgb: np.ndarray, scale: float = DEFAULT_SCALE_M_PER_PX) -> np.ndarray:
    from scipy import ndimage
    dark = classify_asphalt(path, rgb)
    if not dark.any():
        raise TrackError(f"{path}: no dark (asphalt) pixels found; draw the track in black on white")
    labels, n = ndimage.label(dark, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    big = np.flatnonzero(sizes >= max(200, 0.02 * sizes.max())) + 1
    if len(big) == 0:
        raise TrackError(f"{path}: the asphalt is only specks (largest {sizes.max()} px); paint the "
                         "track as one thick closed loop")
    if len(big) > 1:
        raise TrackError(f"{path}: {len(big)} separate asphalt areas found (sizes "
                         f"{sorted(sizes[big - 1].tolist(), reverse=True)} px); a track must be one "
                         "connected loop: join them or erase the extra ones")
    mask = labels == big[0]
    if mask[0, :].any() or mask[-1, :].any() or mask[:, 0].any() or mask[:, -1].any():
        raise TrackError(f"{path}: the asphalt touches the image border; leave a grass margin "
                         "(at least a few pixels) all around the track")
    # specks of the light paint inside the asphalt (scanner noise, a missed brush stroke) are
    # asphalt too; the infield and any real island are far larger
    holes, k = ndimage.label(~mask)
    if k > 2:
        hole_px = np.bincount(holes.ravel())
        speck = np.flatnonzero(hole_px < max(4.0, (SPECK_M / scale) ** 2))
        speck = speck[speck > 0]
        if len(speck):
            mask |= np.isin(holes, speck)
    return mask


def _centre_contour(path: Path, asphalt: np.ndarray):
    """Closed medial curve (pixel coords, (P, 2) as col,row) between outside grass and infield,
    and the distance [px] from each asphalt pixel to the nearest grass."""
    from scipy import ndimage
    import contourpy
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
    d_in = distance_px(~infield)
    d_out = distance_px(~outside)
    # with no grass but the outside and the infield, the distance to the nearest grass is the
    # nearer of the two (the same numbers, one transform fewer)
    to_grass = np.minimum(d_in, d_out) if len(holes) == 1 else distance_px(asphalt)
    lines = contourpy.contour_generator(z=d_out - d_in, name="serial").lines(0.0)
    closed = [ln for ln in lines if len(ln) > 8 and np.allclose(ln[0], ln[-1], atol=1e-6)]
    if not closed:
        raise TrackError(f"{path}: could not trace a closed centre line; check that the circuit is "
                         "one loop of asphalt around one infield")
    best = max(closed, key=lambda ln: np.abs(np.diff(ln, axis=0)).sum())
    return best[:-1], to_grass  # contourpy gives (x=col, y=row); drop the repeated closing point


def _resample_closed(pts: np.ndarray, spacing: float) -> np.ndarray:
    seg = np.linalg.norm(np.diff(np.vstack([pts, pts[:1]]), axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = s[-1]
    n = max(16, int(round(total / spacing)))
    t = np.linspace(0.0, total, n, endpoint=False)
    closed = np.vstack([pts, pts[:1]])
    return np.stack([np.interp(t, s, closed[:, 0]), np.interp(t, s, closed[:, 1])], 1)


def _curvature(p: np.ndarray) -> np.ndarray:
    d1 = (np.roll(p, -1, 0) - np.roll(p, 1, 0)) / 2.0
    d2 = np.roll(p, -1, 0) - 2 * p + np.roll(p, 1, 0)
    cross = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    return cross / np.maximum(np.linalg.norm(d1, axis=1) ** 3, 1e-12)


def curvature_energy(line: np.ndarray) -> float:
    """Integral of curvature squared over a closed line [1/m], resampled every metre first so
    that lines with different point spacing compare fairly."""
    p = _resample_closed(line, 1.0)
    seg = np.linalg.norm(np.roll(p, -1, 0) - p, axis=1)
    return float(np.sum(_curvature(p) ** 2 * seg))


def _frame(p: np.ndarray):
    d1 = np.roll(p, -1, 0) - np.roll(p, 1, 0)
    t = d1 / np.linalg.norm(d1, axis=1, keepdims=True)
    n = np.stack([-t[:, 1], t[:, 0]], 1)
    return t, n


def _signed_area(p):
    x, y = p[:, 0], p[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


# ---------------------------------------------------------------- checkpoints.json

def default_checkpoints_path(png: Path) -> Path:
    return Path(png).resolve().parent / "checkpoints.json"


def load_checkpoints_file(path: Path) -> dict:
    """Read and validate a checkpoints.json; returns {"version": 1, "tracks": {...}}."""
    path = Path(path)
    if not path.exists():
        return {"version": SCHEMA_VERSION, "tracks": {}}
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TrackError(f"{path}: not valid JSON ({e}); fix or delete the file "
                         "(it is regenerated by the checkpoint editor)") from None
    if not isinstance(data, dict) or not isinstance(data.get("tracks"), dict):
        raise TrackError(f'{path}: expected an object {{"version": {SCHEMA_VERSION}, '
                         '"tracks": {"NAME.png": {...}}}')
    if data.get("version") != SCHEMA_VERSION:
        raise TrackError(f"{path}: unsupported version {data.get('version')!r}; "
                         f"this karting understands version {SCHEMA_VERSION}")
    for name, entry in data["tracks"].items():
        validate_entry(entry, f"{path}: tracks[{name!r}]")
    return data


def _is_point(p):
    return (isinstance(p, (list, tuple)) and len(p) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in p))


def validate_entry(entry, where="entry"):
    if not isinstance(entry, dict):
        raise TrackError(f"{where}: must be an object")
    known = {"scale_m_per_px", "direction", "checkpoints", "sectors", "start"}
    extra = set(entry) - known
    if extra:
        raise TrackError(f"{where}: unknown keys {sorted(extra)}; allowed: {sorted(known)}")
    sc = entry.get("scale_m_per_px", DEFAULT_SCALE_M_PER_PX)
    if not isinstance(sc, (int, float)) or isinstance(sc, bool) or not (0.01 <= sc <= 10):
        raise TrackError(f"{where}: scale_m_per_px must be a number in [0.01, 10], got {sc!r}")
    if entry.get("direction", "clockwise") not in ("clockwise", "counterclockwise"):
        raise TrackError(f'{where}: direction must be "clockwise" or "counterclockwise"')
    cps = entry.get("checkpoints")
    if cps is not None:
        if not isinstance(cps, list) or len(cps) < 3:
            raise TrackError(f"{where}: checkpoints must be a list of at least 3 gates")
        for i, g in enumerate(cps):
            if not (isinstance(g, list) and len(g) == 2 and all(_is_point(p) for p in g)):
                raise TrackError(f"{where}: checkpoints[{i}] must be [[x1, y1], [x2, y2]] in pixels")
    secs = entry.get("sectors")
    if secs is not None:
        n = len(cps) if cps is not None else None
        if (not isinstance(secs, list) or len(secs) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in secs)
                or not 0 < secs[0] < secs[1] or (n is not None and secs[1] >= n)):
            raise TrackError(f"{where}: sectors must be two increasing gate indices [i, j] with "
                             "0 < i < j < number of checkpoints")
    st = entry.get("start")
    if st is not None:
        if not (isinstance(st, dict) and set(st) <= {"x", "y", "heading_deg"}
                and all(k in st for k in ("x", "y", "heading_deg"))
                and _is_point([st["x"], st["y"]]) and _is_point([st["heading_deg"], 0])):
            raise TrackError(f'{where}: start must be {{"x": px, "y": px, "heading_deg": deg}}')


def save_track_entry(png_name: str, entry: dict, path: Path) -> None:
    """Write one track's entry into checkpoints.json, keeping the others, atomically."""
    path = Path(path)
    validate_entry(entry, f"{path}: tracks[{png_name!r}]")
    data = load_checkpoints_file(path)
    data["tracks"][png_name] = entry
    data["version"] = SCHEMA_VERSION
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    from .files import atomic_write
    atomic_write(path, lambda f: f.write(text), text=True)


# ---------------------------------------------------------------- loading

def resolve_track_path(track) -> Path:
    """A path, or a bare name looked up in the shipped ``tracks/`` folder."""
    p = Path(track)
    if p.exists():
        return p.resolve()
    q = DEFAULT_TRACKS_DIR / p.name
    if q.exists() and p.parent == Path("."):
        return q
    shipped = sorted(x.name for x in DEFAULT_TRACKS_DIR.glob("*.png"))
    raise TrackError(f"{track}: no such track file; give a path to a PNG or one of the shipped "
                     f"tracks: {', '.join(shipped)}")


def track_list(spec) -> list[Path]:
    """The tracks named by ``spec``: one PNG, a comma-separated list of PNGs, or a folder (its
    ``*.png`` files, sorted). Each entry is a path or a shipped track's name."""
    parts = [p.strip() for p in str(spec).split(",") if p.strip()]
    if not parts:
        raise TrackError("no track given: name a PNG, a comma-separated list of PNGs, or a folder")
    out = []
    for part in parts:
        p = Path(part)
        if p.is_dir():
            pngs = sorted(p.glob("*.png"))
            if not pngs:
                raise TrackError(f"{p}: the folder holds no .png track")
            out.extend(q.resolve() for q in pngs)
        else:
            out.append(resolve_track_path(part))
    return out


_CACHE: dict = {}
#: Bump whenever build_track derives something different from the same PNG and entry: cached
#: tracks of another version are then rebuilt.
TRACK_FORMAT_VERSION = 1
_CACHED_ARRAYS = ("surface", "centre", "tangent", "normal", "width", "curvature", "gates", "gate_s",
                  "racing_offset")


def cache_dir() -> Path | None:
    """Where derived tracks are kept between processes: ``$KARTING_CACHE_DIR`` (``off`` turns
    the cache off), else ``$XDG_CACHE_HOME/karting``, else ``~/.cache/karting``."""
    import os
    v = os.environ.get("KARTING_CACHE_DIR")
    if v is not None:
        return None if v.strip().lower() in ("", "0", "off", "none", "false") else Path(v) / "tracks"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "karting" / "tracks"


def track_cache_key(path: Path, entry: dict) -> str:
    """The image's content, the checkpoints.json entry and the derivation's version."""
    import hashlib
    h = hashlib.sha256(f"karting track v{TRACK_FORMAT_VERSION}\n".encode())
    h.update(json.dumps(entry, sort_keys=True).encode())
    h.update(b"\n")
    h.update(Path(path).read_bytes())
    return h.hexdigest()


def _cache_file(path: Path, key: str) -> Path | None:
    d = cache_dir()
    return None if d is None else d / f"{Path(path).stem[:40]}-{key[:24]}.npz"


def _read_cached(file: Path, key: str, path: Path) -> Track | None:
    """The cached track, or None when there is none or it cannot be used (a corrupt or foreign
    file is simply rebuilt)."""
    try:
        with np.load(file, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            a = {k: z[k] for k in _CACHED_ARRAYS}
            scale, length = (float(v) for v in z["scalars"])
            secs = tuple(int(v) for v in z["sector_gates"])
        return Track(name=path.name, path=path, scale=scale, length=length, sector_gates=secs, **a)
    except Exception:   # missing, truncated, not an npz, other fields: rebuild
        return None


def _write_cached(file: Path, key: str, tr: Track) -> None:
    from .files import atomic_write
    arrays = {k: getattr(tr, k) for k in _CACHED_ARRAYS}
    try:
        atomic_write(file, lambda f: np.savez_compressed(
            f, key=np.str_(key), scalars=np.array([tr.scale, tr.length]),
            sector_gates=np.array(tr.sector_gates), **arrays))
    except OSError:     # a read-only or full cache folder: the track is simply built next time
        pass


def load_track(track, checkpoints: Path | None = None) -> Track:
    """Load a track PNG (path or shipped name) and its optional checkpoints.json entry.

    Deriving a track takes seconds, so the result is kept in memory per (file, mtime, entry)
    and on disk in :func:`cache_dir`, keyed by the image's content, the entry and
    TRACK_FORMAT_VERSION (written atomically; a changed PNG or entry is rebuilt).
    """
    path = resolve_track_path(track)
    cp_path = Path(checkpoints) if checkpoints is not None else default_checkpoints_path(path)
    entry = load_checkpoints_file(cp_path)["tracks"].get(path.name, {})
    mem_key = (str(path), path.stat().st_mtime_ns, json.dumps(entry, sort_keys=True))
    if mem_key in _CACHE:
        return _CACHE[mem_key]
    where = f"{cp_path}: tracks[{path.name!r}]"
    validate_entry(entry, where)
    key = track_cache_key(path, entry)
    file = _cache_file(path, key)
    tr = _read_cached(file, key, path) if file is not None and file.exists() else None
    if tr is None:
        tr = build_track(path, entry, where=where)
        if file is not None:
            _write_cached(file, key, tr)
    _CACHE[mem_key] = tr
    return tr


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
    from scipy.ndimage import gaussian_filter1d
    path = Path(path)
    where = where or f"{default_checkpoints_path(path)}: tracks[{path.name!r}]"
    validate_entry(entry, where)
    scale = float(entry.get("scale_m_per_px", DEFAULT_SCALE_M_PER_PX))
    asphalt = _asphalt_mask(path, read_image_rgb(path), scale)
    check_entry_on_image(entry, asphalt, where)
    h = asphalt.shape[0]

    px, dist_in = _centre_contour(path, asphalt)   # dist_in: px to the nearest non-asphalt pixel
    px = _resample_closed(px, 1.0)
    # ~3 m of smoothing removes the pixel staircase of the contour (wavelengths ~8 m) while
    # moving a 10 m radius corner by ~sigma^2 / 2R = 0.45 m
    sigma_px = max(1.0, 3.0 / scale)
    px = np.stack([gaussian_filter1d(px[:, 0], sigma_px, mode="wrap"),
                   gaussian_filter1d(px[:, 1], sigma_px, mode="wrap")], 1)
    world = np.stack([(px[:, 0] + 0.5) * scale, (h - px[:, 1] - 0.5) * scale], 1)
    centre = _resample_closed(world, CENTRE_SPACING_M)
    length = float(np.linalg.norm(np.diff(np.vstack([centre, centre[:1]]), axis=0), axis=1).sum())

    # orientation: clockwise by default (negative signed area with y up)
    want_cw = entry.get("direction", "clockwise") == "clockwise"
    if (_signed_area(centre) < 0) != want_cw:
        centre = centre[::-1].copy()


    def sample(field, pts_world):
        c = pts_world[:, 0] / scale - 0.5
        r = h - pts_world[:, 1] / scale - 0.5
        return ndimage.map_coordinates(field, [r, c], order=1, mode="nearest")

    gates_px = entry.get("checkpoints")
    if gates_px is not None:
        gates_w = _pix_to_world(np.asarray(gates_px, np.float64), scale, h)
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

    tangent, normal = _frame(centre)
    curvature = _curvature(centre)
    width = 2.0 * sample(dist_in, centre) * scale
    if width.min() < MIN_TRACK_WIDTH_M:
        i = int(np.argmin(width))
        c, r = _world_to_pix(centre[i], scale, h)
        raise TrackError(f"{path}: asphalt too narrow for a kart: {width.min():.1f} m wide near pixel "
                         f"({c:.0f}, {r:.0f}); it must be at least {MIN_TRACK_WIDTH_M} m. Draw the "
                         f"track wider or raise scale_m_per_px (now {scale}) in checkpoints.json")

    spacing = length / len(centre)
    if gates_w is None:
        k = int(np.clip(round(length / GATE_SPACING_M), 8, 64))
        idx = np.round(np.arange(k) * len(centre) / k).astype(int)
        half = (width[idx] / 2.0 + 1.0)[:, None]
        gates_w = np.stack([centre[idx] + normal[idx] * half, centre[idx] - normal[idx] * half], 1)
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
    from .raceline import min_time_offsets
    half = np.maximum(width / 2.0 - RACING_MARGIN_M, 0.0)
    offsets, _ = min_time_offsets(centre, normal, -half, half)
    return Track(name=path.name, path=path, scale=scale, surface=surface, centre=centre,
                 tangent=tangent, normal=normal, width=width, curvature=curvature, length=length,
                 gates=gates_w, gate_s=np.asarray(gate_s, np.float64),
                 sector_gates=(0, int(secs[0]), int(secs[1])), racing_offset=offsets)


def _pix_to_world(p, scale, h):
    return np.stack([(p[..., 0] + 0.5) * scale, (h - p[..., 1] - 0.5) * scale], -1)


def _world_to_pix(p, scale, h):
    return p[..., 0] / scale - 0.5, h - p[..., 1] / scale - 0.5


def _start_index(centre, entry, scale, h):
    from scipy.spatial import cKDTree
    st = entry.get("start")
    if st is not None:
        p = _pix_to_world(np.array([st["x"], st["y"]], np.float64), scale, h)
        return int(cKDTree(centre).query(p)[1])
    # middle of the longest straight: the window of ~1/8 lap with the least total curvature
    k = np.abs(_curvature(centre))
    win = max(5, len(centre) // 8)
    kern = np.ones(win)
    total = np.convolve(np.concatenate([k, k[:win]]), kern, mode="valid")[: len(k)]
    return int((np.argmin(total) + win // 2) % len(centre))


def _surface(asphalt, centre, curvature, scale, h):
    """Grass / asphalt / kerb / barrier grid: kerbs are a band just outside the asphalt in
    corners; everything further than WALL_RUNOFF_M from the track is behind the tyre wall."""
    from scipy import ndimage
    from scipy.spatial import cKDTree
    surface = asphalt.astype(np.uint8) * ASPHALT
    dist_out = distance_px(~asphalt) * scale
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
