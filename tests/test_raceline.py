import numpy as np
import pytest

from karting.track import raceline as rl
from karting.track import curvature, frame


def _rounded_square(side=200.0, r=25.0, n=800):
    """A closed square with rounded corners (metres, counter-clockwise)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    # superellipse: straights joined by tight corners
    x = side / 2 * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** 0.3
    y = side / 2 * np.sign(np.sin(t)) * np.abs(np.sin(t)) ** 0.3
    return rl.resample_smooth(np.stack([x, y], 1), 1.0)


def test_min_curvature_uses_the_width_and_beats_the_centre_line():
    c = _rounded_square()
    _, n = frame(c)
    half = np.full(len(c), 4.0)
    alpha = rl.min_curvature_offsets(c, n, -half, half)
    assert np.all(np.abs(alpha) <= half + 1e-6)
    assert np.abs(alpha).max() > 3.9                 # it goes to the track limits somewhere
    line = c + n * alpha[:, None]
    e_line = rl.line_metrics(line)["curvature_energy"]
    e_centre = rl.line_metrics(c)["curvature_energy"]
    assert e_line < 0.7 * e_centre


def test_asymmetric_bounds_are_respected():
    c = _rounded_square()
    _, n = frame(c)
    alpha = rl.min_curvature_offsets(c, n, np.full(len(c), -1.0), np.full(len(c), 5.0))
    assert alpha.min() >= -1.0 - 1e-6 and alpha.max() <= 5.0 + 1e-6
    assert alpha.max() > 4.5


def test_min_time_line_is_no_slower_than_min_curvature_or_shortest():
    c = _rounded_square()
    _, n = frame(c)
    half = np.full(len(c), 4.0)
    alpha, info = rl.min_time_offsets(c, n, -half, half)
    t = rl.qss_speed(c + n * alpha[:, None])[1]
    assert t == pytest.approx(info["lap_time_s"])
    assert t <= info["mincurv_lap_time_s"] + 1e-9
    assert t < rl.qss_speed(c)[1]                    # faster than the centre line


def test_qss_speed_on_a_circle_is_grip_limited():
    r = 20.0
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    circle = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    v, lap = rl.qss_speed(circle, grip_use=0.5)
    from karting.sim.physics import KartParams, G
    expect = np.sqrt(0.5 * KartParams().mu_asphalt * G * r)
    assert np.allclose(v, expect, rtol=0.03)
    assert lap == pytest.approx(2 * np.pi * r / expect, rel=0.03)


def test_qss_straight_accelerates_then_brakes():
    # a long thin loop: two 300 m straights, two tight ends
    t = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    loop = rl.resample_smooth(np.stack([300 * np.cos(t), 15 * np.sin(t)], 1), 1.0)
    v, _ = rl.qss_speed(loop)
    k = np.abs(curvature(loop))
    assert v[np.argmax(k)] < 0.6 * v.max()           # slow at the ends
    assert v.max() > 25.0                             # near the kart's top speed on the straight


def test_curvature_comparison_with_a_published_line(tmp_path):
    """On a real layout our minimum-curvature line is within 10 % of the published one (both
    measured on the same 1 m spline resampling, our margin set to the published line's)."""
    from pathlib import Path
    from scipy.spatial import cKDTree
    root = Path(__file__).resolve().parent / "data"
    d = np.loadtxt(root / "Monza.csv", delimiter=",", comments="#")
    pub = np.loadtxt(root / "Monza_raceline.csv", delimiter=",", comments="#")
    c = rl.resample_smooth(d[:, :2], 2.0)
    _, i = cKDTree(d[:, :2]).query(c)
    _, n = frame(c)
    res = rl.compare_with_published(c, n, d[i, 2], d[i, 3], pub)
    assert res["ours"]["curvature_energy"] < 1.1 * res["published"]["curvature_energy"]
