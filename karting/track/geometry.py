"""Geometry of closed lines and pixel grids, shared by every track module: the resamplers (linear
and spline), one curvature, one frame, one signed area, one exact distance transform."""
from __future__ import annotations

import numpy as np

from .. import numerics as nm


def resample_closed(pts: np.ndarray, spacing: float) -> np.ndarray:
    """A closed polyline resampled linearly every ~``spacing`` (at least 16 points)."""
    seg = np.linalg.norm(np.diff(np.vstack([pts, pts[:1]]), axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = s[-1]
    n = max(16, int(round(total / spacing)))
    t = np.linspace(0.0, total, n, endpoint=False)
    closed = np.vstack([pts, pts[:1]])
    return np.stack([np.interp(t, s, closed[:, 0]), np.interp(t, s, closed[:, 1])], 1)


def resample_smooth(line: np.ndarray, spacing: float = 1.0) -> np.ndarray:
    """A closed polyline resampled every ``spacing`` metres along a periodic cubic spline, so
    that lines given at different point spacings (1 m here, ~5 m in shared/real_tracks) compare
    fairly: linear interpolation would add a kink, and a curvature spike, at every input point."""
    from scipy.interpolate import CubicSpline
    p = np.asarray(line, np.float64)
    p = np.vstack([p, p[:1]])
    t = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    cs = CubicSpline(t, p, bc_type="periodic")
    n = max(16, int(round(t[-1] / spacing)))
    return cs(np.linspace(0.0, t[-1], n, endpoint=False))


def curvature(p: np.ndarray) -> np.ndarray:
    """Signed curvature [1/unit] of a closed line at each point (+ = left turn), from central
    differences."""
    d1 = (np.roll(p, -1, 0) - np.roll(p, 1, 0)) / 2.0
    d2 = np.roll(p, -1, 0) - 2 * p + np.roll(p, 1, 0)
    cross = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    return cross / np.maximum(nm.cube(np.linalg.norm(d1, axis=1)), 1e-12)


def curvature_energy(line: np.ndarray, resample: bool = True) -> float:
    """Integral of curvature squared over a closed line [1/m]. ``resample`` (default) first
    resamples it every metre so that lines with different point spacing compare fairly."""
    p = resample_closed(line, 1.0) if resample else np.asarray(line, np.float64)
    seg = np.linalg.norm(np.roll(p, -1, 0) - p, axis=1)
    return float(np.sum(curvature(p) ** 2 * seg))


def frame(p: np.ndarray) -> tuple:
    """Unit tangents and left normals (each (M, 2)) of a closed line."""
    d1 = np.roll(p, -1, 0) - np.roll(p, 1, 0)
    t = d1 / np.linalg.norm(d1, axis=1, keepdims=True)
    n = np.stack([-t[:, 1], t[:, 0]], 1)
    return t, n


def signed_area(p: np.ndarray) -> float:
    """Signed area of a closed polygon (positive = counterclockwise with y up)."""
    x, y = p[:, 0], p[:, 1]
    return 0.5 * (nm.dot(x, np.roll(y, -1)) - nm.dot(np.roll(x, -1), y))


def pix_to_world(p: np.ndarray, scale: float, h: int) -> np.ndarray:
    """Pixel (col, row) -> world metres (x right, y up) on an image ``h`` pixels high."""
    return np.stack([(p[..., 0] + 0.5) * scale, (h - p[..., 1] - 0.5) * scale], -1)


def world_to_pix(p: np.ndarray, scale: float, h: int) -> tuple:
    """World metres -> pixel (col, row) as two arrays."""
    return p[..., 0] / scale - 0.5, h - p[..., 1] / scale - 0.5


def distance_px(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance [px] from every True pixel to the nearest False pixel (0 on False),
    as ``scipy.ndimage.distance_transform_edt`` gives it, bit for bit, ~3.7x faster (measured
    on a 2630 x 2490 track: 0.18 vs 0.68 s). seung-lab's ``edt`` returns the squared distance in
    float32, exact for these integers (< 2^24), and the root is taken in float64 as scipy does."""
    import edt
    sq = edt.edtsq(np.ascontiguousarray(mask, dtype=bool), black_border=False, parallel=1)
    return np.sqrt(sq, dtype=np.float64)


def simplify_polyline(p: np.ndarray, tol: float) -> np.ndarray:
    """Greedy simplification: keep a point when the chord from the last kept point would
    deviate more than ``tol`` metres from the points it replaces (or span over 30 m)."""
    keep = [0]
    i = 0
    n = len(p)
    while i < n - 1:
        j = i + 2
        while j < n:
            chord = p[j] - p[i]
            length = np.hypot(*chord)
            mid = p[i + 1:j] - p[i]
            dev = np.abs(mid[:, 0] * chord[1] - mid[:, 1] * chord[0]) / max(length, 1e-9)
            if dev.max() > tol or length > 30.0:
                break
            j += 1
        i = j - 1
        keep.append(i)
    return p[keep]
