"""Tracks: a PNG (dark = asphalt, light = grass) plus an optional entry in ``checkpoints.json``.

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
DARK_THRESHOLD = 128             # luminance below this (after compositing alpha on white) is asphalt

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

def read_image_luminance(path: Path) -> np.ndarray:
    """(H, W) float luminance 0..255 with alpha composited on white (transparent = grass)."""
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
            im = im.convert("RGBA")
            rgba = np.asarray(im, dtype=np.float32)
    except TrackError:
        raise
    except FileNotFoundError:
        raise TrackError(f"{path}: file not found") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise TrackError(f"{path}: image too large to handle safely ({e}); scale it down") from None
    except Exception as e:  # PIL raises many types for broken files
        raise TrackError(f"{path}: not a readable image ({type(e).__name__}: {e}); "
                         "save the track as a PNG (dark asphalt on light grass)") from None
    rgb, a = rgba[..., :3], rgba[..., 3:4] / 255.0
    rgb = rgb * a + 255.0 * (1.0 - a)
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32)


def _asphalt_mask(path: Path, lum: np.ndarray) -> np.ndarray:
    from scipy import ndimage
    dark = lum < DARK_THRESHOLD
    if not dark.any():
        raise TrackError(f"{path}: no dark (asphalt) pixels found; draw the track in black on white")
    labels, n = ndimage.label(dark, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    big = np.flatnonzero(sizes >= max(200, 0.02 * sizes.max())) + 1
    if len(big) > 1:
        raise TrackError(f"{path}: {len(big)} separate asphalt areas found (sizes "
                         f"{sorted(sizes[big - 1].tolist(), reverse=True)} px); a track must be one "
                         "connected loop: join them or erase the extra ones")
    mask = labels == big[0]
    if mask[0, :].any() or mask[-1, :].any() or mask[:, 0].any() or mask[:, -1].any():
        raise TrackError(f"{path}: the asphalt touches the image border; leave a grass margin "
                         "(at least a few pixels) all around the track")
    return mask


def _centre_contour(path: Path, asphalt: np.ndarray) -> np.ndarray:
    """Closed medial curve (pixel coords, (P, 2) as col,row) between outside grass and infield."""
    from scipy import ndimage
    import contourpy
    grass_labels, n = ndimage.label(~asphalt)  # 4-connectivity: asphalt 8-connected loops close
    border = set(np.unique(np.concatenate([grass_labels[0], grass_labels[-1],
                                           grass_labels[:, 0], grass_labels[:, -1]]))) - {0}
    holes = [i for i in range(1, n + 1) if i not in border]
    if not holes:
        raise TrackError(f"{path}: the asphalt does not form a closed loop (no infield enclosed by "
                         "it); close the circuit so that it encloses grass")
    sizes = ndimage.sum_labels(np.ones_like(grass_labels), grass_labels, holes)
    infield = grass_labels == holes[int(np.argmax(sizes))]
    outside = np.isin(grass_labels, list(border))
    d_in = ndimage.distance_transform_edt(~infield)
    d_out = ndimage.distance_transform_edt(~outside)
    lines = contourpy.contour_generator(z=d_out - d_in, name="serial").lines(0.0)
    closed = [ln for ln in lines if len(ln) > 8 and np.allclose(ln[0], ln[-1], atol=1e-6)]
    if not closed:
        raise TrackError(f"{path}: could not trace a closed centre line; check that the circuit is "
                         "one loop of asphalt around one infield")
    best = max(closed, key=lambda ln: np.abs(np.diff(ln, axis=0)).sum())
    return best[:-1]  # contourpy gives (x=col, y=row); drop the repeated closing point


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


def load_track(track, checkpoints: Path | None = None) -> Track:
    """Load a track PNG (path or shipped name) and its optional checkpoints.json entry.

    Results are cached per (file, mtime, checkpoints entry) since derivation takes ~1 s.
    """
    path = resolve_track_path(track)
    cp_path = Path(checkpoints) if checkpoints is not None else default_checkpoints_path(path)
    entry = load_checkpoints_file(cp_path)["tracks"].get(path.name, {})
    key = (str(path), path.stat().st_mtime_ns, json.dumps(entry, sort_keys=True))
    if key not in _CACHE:
        _CACHE[key] = build_track(path, entry)
    return _CACHE[key]


def build_track(path: Path, entry: dict) -> Track:
    from scipy import ndimage
    from scipy.ndimage import gaussian_filter1d
    path = Path(path)
    validate_entry(entry, f"{path.name} entry")
    scale = float(entry.get("scale_m_per_px", DEFAULT_SCALE_M_PER_PX))
    lum = read_image_luminance(path)
    asphalt = _asphalt_mask(path, lum)
    h = asphalt.shape[0]

    px = _centre_contour(path, asphalt)
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

    dist_in = ndimage.distance_transform_edt(asphalt)  # px to the nearest non-asphalt pixel

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
    dist_out = ndimage.distance_transform_edt(~asphalt) * scale
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
