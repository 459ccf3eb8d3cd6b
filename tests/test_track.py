import json
import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from karting.track import (ASPHALT, KERB, TrackError, build_track, curvature_energy,
                           load_checkpoints_file, load_track, save_track_entry, DEFAULT_TRACKS_DIR)
from conftest import draw_ring

SHIPPED = sorted(p.name for p in DEFAULT_TRACKS_DIR.glob("*.png"))


def ellipse_perimeter(a, b):  # Ramanujan
    return math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b)))


def test_ring_geometry_matches_the_drawing(ring_track):
    tr = ring_track
    # the drawn band's medial ellipse has radii (120 - 9, 75 - 9) px at 0.5 m/px
    expected = ellipse_perimeter(111 * 0.5, 66 * 0.5)
    assert tr.length == pytest.approx(expected, rel=0.03)
    assert np.median(tr.width) == pytest.approx(9.0, abs=1.0)
    # clockwise by default: negative signed area with y up
    x, y = tr.centre[:, 0], tr.centre[:, 1]
    assert np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y) < 0
    # curvature of a clockwise loop is negative (right turns) and near 1/R at the ends
    assert np.all(tr.curvature < 0.01)
    assert np.abs(tr.curvature).max() == pytest.approx(111 * 0.5 / (66 * 0.5) ** 2, rel=0.2)
    # gates in driving order, first at s = 0, three sectors
    assert tr.gate_s[0] == 0 and np.all(np.diff(tr.gate_s) > 0)
    assert 0 < tr.sector_gates[1] < tr.sector_gates[2] < len(tr.gates)
    # every gate spans the asphalt: its endpoints are off it, its middle on it
    for g in tr.gates:
        assert tr.surface_at(g[:, 0], g[:, 1]).tolist() != [ASPHALT, ASPHALT]
        mid = g.mean(0)
        assert tr.surface_at(mid[:1], mid[1:])[0] == ASPHALT


def test_racing_line_stays_inside_and_is_straighter(ring_track):
    tr = ring_track
    half = tr.width / 2 - 1.2
    assert np.all(np.abs(tr.racing_offset) <= half + 1e-6)
    assert curvature_energy(tr.racing_line) < curvature_energy(tr.centre)
    assert np.abs(tr.racing_offset).max() > 0.8 * half.min()   # it uses the track's width
    on = tr.surface_at(tr.racing_line[:, 0], tr.racing_line[:, 1])
    assert np.all((on == ASPHALT) | (on == KERB))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_tracks_are_kart_circuits(name):
    tr = load_track(name)
    assert 600 <= tr.length <= 1500
    assert 7.0 <= np.median(tr.width) <= 11.0
    assert len(tr.gates) >= 8
    assert curvature_energy(tr.racing_line) < curvature_energy(tr.centre)


def test_project_recovers_arc_length_and_offset(ring_track):
    tr = ring_track
    i = np.arange(0, len(tr.centre), 37)
    p = tr.centre[i] + tr.normal[i] * 1.5
    idx, s, lat = tr.project(p[:, 0], p[:, 1])
    assert np.allclose(lat, 1.5, atol=0.1)
    err = (s - i * tr.spacing + tr.length / 2) % tr.length - tr.length / 2
    assert np.all(np.abs(err) < 0.6)


def test_antialiased_coloured_transparent_png(tmp_path):
    # a red track with soft edges on a transparent background must still load
    size = (300, 200)
    big = Image.new("RGBA", (size[0] * 4, size[1] * 4), (0, 0, 0, 0))
    d = ImageDraw.Draw(big)
    d.ellipse([120, 100, 1080, 700], outline=(120, 20, 20, 255), width=72)
    path = tmp_path / "soft.png"
    big.resize(size, Image.LANCZOS).save(path)
    tr = load_track(path)
    assert tr.length == pytest.approx(ellipse_perimeter(111 * 0.5, 66 * 0.5), rel=0.05)


def test_checkpoints_json_overrides(tmp_path, ring_track):
    png = draw_ring(tmp_path / "ring.png")
    tr = ring_track
    # gates in the opposite order reverse the driving direction; first gate = start/finish
    order = list(range(len(tr.gates)))[::-3]
    gates = [tr.world_to_pixel(tr.gates[i]).tolist() for i in order]
    save_track_entry("ring.png", {"checkpoints": gates, "scale_m_per_px": 0.5}, tmp_path / "checkpoints.json")
    t2 = load_track(png)
    assert len(t2.gates) == len(gates)
    assert np.dot(t2.tangent[0], tr.tangent[order[0] * len(tr.centre) // len(tr.gates)]) < -0.9
    assert np.allclose(t2.centre[0], tr.gates[order[0]].mean(0), atol=1.5)


def test_save_keeps_other_entries_and_is_valid_json(tmp_path):
    path = tmp_path / "checkpoints.json"
    save_track_entry("a.png", {"scale_m_per_px": 0.4}, path)
    save_track_entry("b.png", {"direction": "counterclockwise"}, path)
    data = json.loads(path.read_text())
    assert data["version"] == 1
    assert set(data["tracks"]) == {"a.png", "b.png"}
    assert list(tmp_path.iterdir()) == [path]          # no temporary files left behind
    with pytest.raises(TrackError):
        save_track_entry("c.png", {"scale_m_per_px": -1}, path)
    assert set(json.loads(path.read_text())["tracks"]) == {"a.png", "b.png"}


def _ring_with(tmp_path, draw):
    im = Image.new("L", (300, 200), 255)
    draw(ImageDraw.Draw(im))
    p = tmp_path / "bad.png"
    im.save(p)
    return p


@pytest.mark.parametrize("case,pattern", [
    ("blank", "only one colour"),
    ("blob", "closed loop"),
    ("line", "closed loop"),
    ("two_loops", "separate asphalt"),
    ("border", "touches the image border"),
    ("narrow", "too narrow"),
])
def test_bad_drawings_get_clear_errors(tmp_path, case, pattern):
    draws = {
        "blank": lambda d: None,
        "blob": lambda d: d.ellipse([50, 50, 250, 150], fill=0),
        "line": lambda d: d.line([(30, 100), (270, 100)], fill=0, width=18),
        "two_loops": lambda d: (d.ellipse([10, 20, 140, 180], outline=0, width=18),
                                d.ellipse([160, 20, 290, 180], outline=0, width=18)),
        "border": lambda d: d.ellipse([0, 20, 290, 180], outline=0, width=18),
        "narrow": lambda d: d.ellipse([30, 25, 270, 175], outline=0, width=5),
    }
    p = _ring_with(tmp_path, draws[case])
    with pytest.raises(TrackError, match=pattern) as e:
        build_track(p, {})
    assert "bad.png" in str(e.value)


def test_not_an_image_and_missing_file(tmp_path):
    p = tmp_path / "fake.png"
    p.write_text("this is not a png")
    with pytest.raises(TrackError, match="not a readable image"):
        build_track(p, {})
    with pytest.raises(TrackError, match="no such track"):
        load_track(tmp_path / "missing.png")


def test_decompression_bomb_is_refused(tmp_path):
    p = tmp_path / "huge.png"
    Image.new("1", (5000, 4000), 1).save(p)      # 20 Mpx: a tiny file, a huge image
    with pytest.raises(TrackError, match="too large|more than"):
        build_track(p, {})


@pytest.mark.parametrize("text,pattern", [
    ("{not json", "not valid JSON"),
    ('{"version": 1, "tracks": []}', "expected an object"),
    ('{"version": 7, "tracks": {}}', "unsupported version"),
    ('{"version": 1, "tracks": {"x.png": {"checkpoints": [[1, 2]]}}}', "checkpoints"),
    ('{"version": 1, "tracks": {"x.png": {"scale_m_per_px": "big"}}}', "scale_m_per_px"),
    ('{"version": 1, "tracks": {"x.png": {"colour": 1}}}', "unknown keys"),
    ('{"version": 1, "tracks": {"x.png": {"start": {"x": 1}}}}', "start"),
])
def test_bad_json_gets_clear_errors(tmp_path, text, pattern):
    p = tmp_path / "checkpoints.json"
    p.write_text(text)
    with pytest.raises(TrackError, match=pattern) as e:
        load_checkpoints_file(p)
    assert "checkpoints.json" in str(e.value)


def test_track_list_takes_a_file_a_list_or_a_folder(ring_png, tmp_path):
    from karting.track import track_list
    folder = tmp_path / "several"
    folder.mkdir()
    b, a = draw_ring(folder / "b.png"), draw_ring(folder / "a.png")
    assert track_list(str(ring_png)) == [ring_png.resolve()]
    assert track_list(f"{ring_png}, circuit.png")[1].name == "circuit.png"
    assert track_list(str(folder)) == [a.resolve(), b.resolve()]      # sorted by name
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrackError, match="no .png track"):
        track_list(str(tmp_path / "empty"))
    with pytest.raises(TrackError, match="no track given"):
        track_list(" , ")


@pytest.mark.parametrize("size", [(1, 1), (20, 300)])
def test_tiny_images_are_refused(tmp_path, size):
    for value in (0, 255):
        p = tmp_path / f"tiny{value}.png"
        Image.new("L", size, value).save(p)
        with pytest.raises(TrackError, match="a track needs at least") as e:
            build_track(p, {})
        assert str(p) in str(e.value)


@pytest.mark.parametrize("entry,field,pattern", [
    ({"start": {"x": 1e9, "y": 0, "heading_deg": 0}}, ".start", "outside the 300x200 image"),
    ({"start": {"x": -3, "y": 50, "heading_deg": 0}}, ".start", "outside"),
    ({"start": {"x": 150, "y": 100, "heading_deg": 0}}, ".start", "on the grass"),     # infield
    ({"checkpoints": [[[30, 100], [60, 100]], [[150, 5], [150, 40]], [[9e5, 0], [270, 100]]]},
     ".checkpoints[2]", "outside"),
    ({"checkpoints": [[[30, 100], [60, 100]], [[150, 5], [150, 40]], [[140, 90], [160, 110]]]},
     ".checkpoints[2]", "does not cross the asphalt"),
])
def test_start_and_gates_must_be_on_the_image_and_the_asphalt(ring_png, tmp_path, entry, field, pattern):
    png = tmp_path / "ring.png"
    png.write_bytes(ring_png.read_bytes())
    cp = tmp_path / "checkpoints.json"
    cp.write_text(json.dumps({"version": 1, "tracks": {"ring.png": entry}}))
    with pytest.raises(TrackError, match=pattern) as e:
        load_track(png)
    msg = str(e.value)
    assert str(cp) in msg and f"tracks['ring.png']{field}" in msg


def test_a_start_on_the_asphalt_is_used(ring_png, tmp_path):
    png = tmp_path / "ring.png"
    png.write_bytes(ring_png.read_bytes())
    (tmp_path / "checkpoints.json").write_text(json.dumps(
        {"version": 1, "tracks": {"ring.png": {"start": {"x": 150, "y": 30, "heading_deg": 0}}}}))
    tr = load_track(png)
    c, r = tr.world_to_pixel(tr.centre[0])
    assert abs(c - 150) < 2 and abs(r - 30) < 6


@pytest.fixture
def cache(tmp_path, monkeypatch):
    import karting.track.catalog as K
    d = tmp_path / "cache"
    monkeypatch.setenv("KARTING_CACHE_DIR", str(d))
    monkeypatch.setattr(K, "_CACHE", {})
    return d / "tracks"


def _fields_equal(a, b):
    for f in ("surface", "centre", "tangent", "normal", "width", "curvature", "gates", "gate_s",
              "racing_offset", "racing_line", "racing_curvature"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert (a.scale, a.length, a.sector_gates, a.start_pose) == (b.scale, b.length, b.sector_gates, b.start_pose)


def test_derived_tracks_are_cached_on_disk(ring_png, tmp_path, cache, monkeypatch):
    import karting.track.catalog as K
    png = tmp_path / "ring.png"
    png.write_bytes(ring_png.read_bytes())
    first = load_track(png)
    files = list(cache.glob("ring-*.npz"))
    assert len(files) == 1
    # another process: the memory cache is empty, the build is not called again
    monkeypatch.setattr(K, "_CACHE", {})
    monkeypatch.setattr(K, "build_track", lambda *a, **k: pytest.fail("rebuilt a cached track"))
    again = load_track(png)
    _fields_equal(first, again)
    assert again.path == png.resolve() and again.name == "ring.png"


def test_a_changed_png_or_entry_or_a_corrupt_cache_rebuilds(ring_png, tmp_path, cache, monkeypatch):
    import karting.track.catalog as K
    png = tmp_path / "ring.png"
    png.write_bytes(ring_png.read_bytes())
    builds = []
    real = K.build_track
    monkeypatch.setattr(K, "build_track", lambda *a, **k: builds.append(1) or real(*a, **k))
    a = load_track(png)
    draw_ring(png, radii=(125, 75))                       # the user repaints the track
    monkeypatch.setattr(K, "_CACHE", {})
    b = load_track(png)
    assert len(builds) == 2 and b.length > a.length
    (tmp_path / "checkpoints.json").write_text(json.dumps(
        {"version": 1, "tracks": {"ring.png": {"direction": "counterclockwise"}}}))
    c = load_track(png)
    assert len(builds) == 3 and not np.array_equal(c.centre, b.centre)
    assert len(list(cache.glob("*.npz"))) == 3
    for i, f in enumerate(sorted(cache.glob("*.npz"))):   # garbage, truncated, a foreign npz
        data = f.read_bytes()
        f.write_bytes([b"garbage", data[: len(data) // 2], None][i] or b"")
        if i == 2:
            np.savez(f, key=np.str_("someone else's"), surface=np.zeros(3))
    monkeypatch.setattr(K, "_CACHE", {})
    _fields_equal(load_track(png), c)
    assert len(builds) == 4                                # silently rebuilt ...
    monkeypatch.setattr(K, "_CACHE", {})
    load_track(png)
    assert len(builds) == 4                                # ... and the cache file rewritten


def test_cache_can_be_turned_off_or_unwritable(ring_png, tmp_path, monkeypatch):
    import karting.track.catalog as K
    png = tmp_path / "ring.png"
    png.write_bytes(ring_png.read_bytes())
    monkeypatch.setattr(K, "_CACHE", {})
    monkeypatch.setenv("KARTING_CACHE_DIR", "off")
    assert K.cache_dir() is None
    load_track(png)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv("KARTING_CACHE_DIR", str(blocker))   # cannot create the cache folder
    monkeypatch.setattr(K, "_CACHE", {})
    assert load_track(png).length > 0
    monkeypatch.delenv("KARTING_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert K.cache_dir() == tmp_path / "xdg" / "karting" / "tracks"
