"""Tracks painted the way people paint them: the asphalt is told from the grass by the image's
own colours (Otsu's split on luminance, chroma where the two paints are equally bright), and
every palette below loads as the same circuit and is lapped by the expert."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from karting.sim.expert import reference_lap
from karting.track import ASPHALT, KERB, TrackError, build_track, load_track, otsu_split
from karting.track.generate import draw, spline_loop

LAYOUT = [(40, 40), (150, 35), (200, 60), (190, 120), (120, 110), (70, 140), (30, 110)]
SIZE_M = (240, 180)


@pytest.fixture(scope="module")
def coverage():
    """(H, W) in [0, 1]: how much of each pixel the brush covered (anti-aliased edges)."""
    im = draw(spline_loop(LAYOUT), 9.0, SIZE_M)
    return 1.0 - np.asarray(im, np.float32) / 255.0


def paint(cov, asphalt, grass, noise=0.0, specks=0, seed=0):
    rng = np.random.default_rng(seed)
    a, g = np.float32(asphalt), np.float32(grass)
    img = cov[..., None] * a + (1 - cov[..., None]) * g
    if noise:
        img += rng.normal(0, noise, img.shape[:2])[..., None]
    for _ in range(specks):          # paper-white specks in the graphite, graphite on the paper
        r, c = rng.integers(0, cov.shape[0]), rng.integers(0, cov.shape[1])
        img[r:r + 2, c:c + 2] = g if cov[r, c] > 0.5 else a
    return Image.fromarray(np.clip(np.round(img), 0, 255).astype(np.uint8), "RGB")


PALETTES = {
    "black_on_white": dict(asphalt=(0, 0, 0), grass=(255, 255, 255)),
    "grey_on_green": dict(asphalt=(70, 70, 75), grass=(60, 160, 60)),       # issue 12's example
    "dark_on_light_grey": dict(asphalt=(90, 90, 90), grass=(200, 200, 200)),
    "brown_earth": dict(asphalt=(50, 50, 55), grass=(150, 110, 60)),
    "light_grey_on_dark_green": dict(asphalt=(165, 165, 165), grass=(35, 95, 40)),
    "grey_as_bright_as_green": dict(asphalt=(119, 119, 119), grass=(60, 160, 60)),
    "pencil_scan": dict(asphalt=(105, 105, 112), grass=(236, 233, 225), noise=14, specks=300),
}


def save_painting(tmp_path, name, cov):
    spec = dict(PALETTES[name])
    path = tmp_path / f"{name}.png"
    paint(cov, **spec).save(path)
    return path


def transparent(tmp_path, cov):
    rgba = np.zeros(cov.shape + (4,), np.uint8)
    rgba[..., :3] = (60, 60, 64)
    rgba[..., 3] = np.round(cov * 255).astype(np.uint8)
    path = tmp_path / "transparent.png"
    Image.fromarray(rgba, "RGBA").save(path)
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, coverage):
    path = save_painting(tmp_path_factory.mktemp("paint"), "black_on_white", coverage)
    return build_track(path, {})


def on_track(tr):
    return (tr.surface == ASPHALT) | (tr.surface == KERB)


@pytest.mark.parametrize("name", sorted(PALETTES) + ["transparent"])
def test_palettes_load_as_the_same_circuit_and_are_lapped(name, tmp_path, coverage, reference):
    path = transparent(tmp_path, coverage) if name == "transparent" else save_painting(tmp_path, name, coverage)
    tr = build_track(path, {})
    a, b = on_track(tr), on_track(reference)
    iou = (a & b).sum() / (a | b).sum()
    assert iou > 0.97, f"{name}: asphalt differs from the black-on-white painting (IoU {iou:.3f})"
    assert abs(tr.length - reference.length) < 0.02 * reference.length
    lap = reference_lap(tr, laps=1, mu_grid=(1.3,), line_grid=(1.0,))
    assert lap.completed, f"{name}: the expert did not lap it cleanly"


def test_pencil_specks_do_not_leave_grass_on_the_asphalt(tmp_path, coverage):
    tr = build_track(save_painting(tmp_path, "pencil_scan", coverage), {})
    # sample across the track every metre: every point within 3 m of the centre is asphalt/kerb
    lat = np.linspace(-3, 3, 7)
    pts = tr.centre[:, None, :] + tr.normal[:, None, :] * lat[None, :, None]
    surf = tr.surface_at(pts[..., 0], pts[..., 1])
    assert np.isin(surf, (ASPHALT, KERB)).all()


@pytest.mark.parametrize("what", ["noise", "gradient", "uniform"])
def test_an_image_with_no_two_tone_split_is_refused(tmp_path, what):
    rng = np.random.default_rng(1)
    if what == "noise":
        img = rng.integers(0, 256, (200, 300, 3))
    elif what == "gradient":
        img = np.broadcast_to(np.linspace(0, 255, 300)[None, :, None], (200, 300, 3))
    else:
        img = np.full((200, 300, 3), 90)
    path = tmp_path / f"{what}.png"
    Image.fromarray(np.asarray(img, np.uint8), "RGB").save(path)
    with pytest.raises(TrackError, match="cannot tell asphalt from grass"):
        build_track(path, {})


def test_otsu_split_on_two_paints():
    v = np.r_[np.full(500, 70.0), np.full(300, 119.0), np.linspace(70, 119, 50)]
    s = otsu_split(v)
    assert s.usable and s.low_mode == 70.5 and s.high_mode == 119.5 and s.threshold == 95.0
    assert s.eta > 0.9
    assert not otsu_split(np.random.default_rng(0).uniform(0, 255, 5000)).usable


SHIPPED = ("brands_kart.png", "circuit.png", "oval.png", "twisty.png")
GEOMETRY = Path(__file__).parent / "data" / "golden" / "tracks.npz"
#: the derived geometry across machines [m]: measured 5.5e-9 m between numpy's own kernels and
#: karting.numerics (the same bits on every x86-64 CPU tried: AVX-512, AVX2 and SSE numpy kernels,
#: OpenBLAS's Nehalem, Haswell, Zen and Prescott ones)
GEOMETRY_TOL_M = 1e-6


def derived(tr) -> dict:
    """What the shipped tracks' test compares: integers (grid, sizes, gate indices, sectors, keys)
    and every 10th point of the centre line, widths and racing line."""
    import hashlib
    from karting.track import track_cache_key
    from karting.track.catalog import load_checkpoints_file
    from karting.track.entry import default_checkpoints_path
    entry = load_checkpoints_file(default_checkpoints_path(tr.path))["tracks"].get(tr.name, {})
    return {"surface_sha256": np.array(hashlib.sha256(tr.surface.tobytes()).hexdigest()),
            "shape": np.array(tr.surface.shape), "points": np.array(len(tr.centre)),
            "gate_index": np.round(tr.gate_s / tr.spacing).astype(np.int64), "sectors": np.array(tr.sector_gates),
            "cache_key": np.array(track_cache_key(tr.path, entry)), "content_key": np.array(tr.content_key),
            "length": np.array(tr.length), "centre": tr.centre[::10], "width": tr.width[::10],
            "racing_offset": tr.racing_offset[::10], "gates": tr.gates}


def record_shipped():
    """Write tests/data/golden/tracks.npz (``python tests/test_paint.py``)."""
    out = {}
    for name in SHIPPED:
        out.update({f"{name}:{k}": v for k, v in derived(load_track(name)).items()})
    np.savez_compressed(GEOMETRY, **out)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_tracks_derive_as_before(name):
    """Integers exactly (the grid, the number of centre-line points, which points the gates are
    at, the sectors, the cache key), the geometry within GEOMETRY_TOL_M: on any machine."""
    got = derived(load_track(name))
    with np.load(GEOMETRY) as z:
        want = {k.split(":", 1)[1]: z[k] for k in z.files if k.startswith(name + ":")}
    for k in ("surface_sha256", "shape", "points", "gate_index", "sectors", "cache_key", "content_key"):
        assert np.array_equal(got[k], want[k]), f"{name}: {k} differs"
    for k in ("length", "centre", "width", "racing_offset", "gates"):
        err = np.abs(got[k] - want[k]).max()
        assert err <= GEOMETRY_TOL_M, f"{name}: {k} moved by {err:.3g} m"


if __name__ == "__main__":
    record_shipped()
