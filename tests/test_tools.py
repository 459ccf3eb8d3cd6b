"""Track generation, CSV import, gate checks, the expert's reference lap and tools/track_cli.py."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from karting.track import generate as trackgen
from karting.sim.expert import reference_lap
from karting.track.gates import auto_gates, check_gates
from karting.track import TrackError, build_track

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / "tools" / "track_cli.py"
DATA = Path(__file__).resolve().parent / "data"


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, str(CLI), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("seed", [0, 7])
def test_generated_tracks_are_loops_the_expert_laps_cleanly(tmp_path, seed):
    im, info = trackgen.generate(seed)
    p = tmp_path / f"gen{seed}.png"
    im.save(p)
    tr = build_track(p, {})
    assert abs(tr.length - info["length_m"]) < 0.02 * info["length_m"]
    assert 800 * 0.98 < tr.length < 1400 * 1.02
    r = reference_lap(tr)
    assert r.completed and r.lap_time_s > 0
    assert r.lap_time_s < r.standing_lap_s        # a flying lap beats the standing one


def test_generation_is_deterministic_and_seeds_differ():
    a, _ = trackgen.generate(3)
    b, _ = trackgen.generate(3)
    c, _ = trackgen.generate(4)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert a.size != c.size or not np.array_equal(np.asarray(a), np.asarray(c))


def test_import_csv_scales_keeps_direction_and_start(tmp_path):
    im, entry = trackgen.import_centreline_csv(DATA / "Monza.csv", length_m=1200, width_m=9)
    p = tmp_path / "monza.png"
    im.save(p)
    tr = build_track(p, entry)
    assert tr.length == pytest.approx(1200, rel=0.02)
    assert np.median(tr.width) == pytest.approx(9.0, abs=0.7)
    # start/finish at the CSV's first point, driving in the CSV's order
    d = np.loadtxt(DATA / "Monza.csv", delimiter=",", comments="#")[:, :2]
    first = np.array([entry["start"]["x"], entry["start"]["y"]])
    assert np.linalg.norm(tr.world_to_pixel(tr.centre[0]) - first) < 3
    step_csv = d[5] - d[0]                                   # y up, like the world frame
    assert np.dot(step_csv / np.linalg.norm(step_csv), tr.tangent[0]) > 0.9


def test_import_csv_native_widths(tmp_path):
    im, entry = trackgen.import_centreline_csv(DATA / "Monza.csv", length_m=4000, scale=1.0)
    p = tmp_path / "monza_w.png"
    im.save(p)
    tr = build_track(p, entry)
    d = np.loadtxt(DATA / "Monza.csv", delimiter=",", comments="#")
    csv_length = np.linalg.norm(np.diff(np.vstack([d[:, :2], d[:1, :2]]), axis=0), axis=1).sum()
    expect = np.median(d[:, 2] + d[:, 3]) * 4000 / csv_length
    assert np.median(tr.width) == pytest.approx(expect, rel=0.15)


@pytest.mark.parametrize("content,msg", [
    ("x,y\nfoo,bar\n", "not a numeric CSV"),
    ("1,2,3\n" * 20, "expected 4 columns"),
    ("1,2,3,4\n" * 5, "at least 10"),
    ("".join(f"{i},{i * i},nan,3\n" for i in range(20)), "NaN"),
])
def test_import_csv_bad_files(tmp_path, content, msg):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    with pytest.raises(TrackError, match=msg):
        trackgen.import_centreline_csv(f, width_m=9)


def test_import_csv_too_narrow_says_use_width():
    with pytest.raises(TrackError, match="--width"):
        trackgen.import_centreline_csv(DATA / "Monza.csv", length_m=600)


def test_gate_checks(ring_track):
    good = auto_gates(ring_track, 30.0)
    chk = check_gates(ring_track, good)
    assert chk.problems == [] and not chk.reversed
    assert check_gates(ring_track, good[::-1]).reversed          # reversed order = reversed direction
    assert check_gates(ring_track, good[::-1]).problems == []
    swapped = good.copy()
    swapped[[3, 4]] = swapped[[4, 3]]
    chk = check_gates(ring_track, swapped)
    assert any("out of order" in p for p in chk.problems) and chk.bad
    short = good.copy()
    mid = short[2].mean(axis=0)
    short[2, 1] = mid                                             # ends in the middle of the road
    chk = check_gates(ring_track, short)
    assert any("gate 2 does not span" in p for p in chk.problems)
    sparse = good[[0, 1, 2]]
    chk = check_gates(ring_track, sparse)
    assert any("add a gate" in p for p in chk.problems)
    off = good.copy()
    off[5] = [[2, 2], [3, 3]]                                     # on the grass in a corner
    assert "gate 5 does not cross the asphalt" in check_gates(ring_track, off).problems


def test_cli_generate_validate_preview_list(tmp_path):
    r = cli("generate", "--seed", 7, "--out", tmp_path / "gen7.png")
    assert r.returncode == 0, r.stderr
    assert "reference lap" in r.stdout
    r = cli("generate", "--seed", 7, "--out", tmp_path / "gen7.png")
    assert r.returncode == 2 and "--force" in r.stderr            # never overwrites silently
    r = cli("validate", tmp_path / "gen7.png")
    assert r.returncode == 0, r.stdout + r.stderr
    for word in ("length", "width", "checkpoints", "sectors", "expert", "problems    none"):
        assert word in r.stdout
    r = cli("preview", tmp_path / "gen7.png", "--out", tmp_path / "p.png")
    assert r.returncode == 0 and (tmp_path / "p.png").stat().st_size > 10_000
    r = cli("list", tmp_path)
    assert "gen7.png" in r.stdout and "UNUSABLE" in r.stdout     # the preview is not a track
    assert r.returncode == 1


def test_cli_import_csv_writes_entry_keeping_others(tmp_path):
    cp = tmp_path / "checkpoints.json"
    cp.write_text(json.dumps({"version": 1, "tracks": {"other.png": {"direction": "counterclockwise"}}}))
    r = cli("import-csv", DATA / "Monza.csv", "--width", 9, "--length", 1200, "--out", tmp_path / "monza.png")
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(cp.read_text())
    assert data["tracks"]["other.png"] == {"direction": "counterclockwise"}
    assert data["tracks"]["monza.png"]["direction"] in ("clockwise", "counterclockwise")


def test_cli_validate_reports_problems_and_bad_input(tmp_path, ring_png):
    import shutil
    png = tmp_path / "ring.png"
    shutil.copy(ring_png, png)
    tr = build_track(png, {})
    g = auto_gates(tr, 30.0)
    g[[3, 4]] = g[[4, 3]]
    (tmp_path / "checkpoints.json").write_text(json.dumps(
        {"version": 1, "tracks": {"ring.png": {"checkpoints": g.tolist()}}}))
    r = cli("validate", png, "--no-expert")
    assert r.returncode == 1
    assert "out of order" in r.stdout
    (tmp_path / "blank.png").write_bytes(b"not a png")
    r = cli("validate", tmp_path / "blank.png", "--no-expert")
    assert r.returncode == 1 and "not a readable image" in r.stdout


class FakeVolume:
    def __init__(self, files=None):
        self.files = dict(files or {})

    def read_file(self, path):
        if path not in self.files:
            raise FileNotFoundError(path)
        yield self.files[path]

    def batch_upload(self, force=False):
        vol = self

        class Batch:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def put_file(self, local, remote):
                vol.files[remote] = Path(local).read_bytes()
        return Batch()


def test_sync_uploads_and_merges_checkpoints(tmp_path, ring_png):
    import shutil
    from karting.cli.cloud import sync_tracks
    png = tmp_path / "ring.png"
    shutil.copy(ring_png, png)
    cp = tmp_path / "checkpoints.json"
    cp.write_text(json.dumps({"version": 1, "tracks": {"ring.png": {"direction": "counterclockwise"},
                                                        "local_only.png": {}}}))
    remote = {"/checkpoints.json": json.dumps({"version": 1, "tracks": {"theirs.png": {}}}).encode()}
    vol = FakeVolume(remote)
    written = sync_tracks([png], cp, volume=vol)
    assert written == ["/ring.png", "/checkpoints.json"]
    assert vol.files["/ring.png"] == png.read_bytes()
    merged = json.loads(vol.files["/checkpoints.json"])["tracks"]
    assert merged == {"theirs.png": {}, "ring.png": {"direction": "counterclockwise"}}


def test_sync_without_modal_login_says_what_to_do(tmp_path, ring_png, monkeypatch):
    monkeypatch.setenv("MODAL_TOKEN_ID", "")
    monkeypatch.setenv("MODAL_TOKEN_SECRET", "")
    monkeypatch.setenv("HOME", str(tmp_path))                    # no ~/.modal.toml
    r = subprocess.run([sys.executable, str(CLI), "sync", "--track-name", str(ring_png)],
                       capture_output=True, text=True, timeout=120, env={**__import__("os").environ})
    assert r.returncode == 1
    assert "modal setup" in r.stderr


def test_import_transform_maps_csv_points_onto_the_track(tmp_path):
    im, entry, to_world = trackgen.import_centreline_csv(DATA / "Monza.csv", length_m=1200, width_m=9,
                                                         return_transform=True)
    p = tmp_path / "m.png"
    im.save(p)
    tr = build_track(p, entry)
    d = np.loadtxt(DATA / "Monza.csv", delimiter=",", comments="#")[:, :2]
    _, _, lat = tr.project(*to_world(d).T)
    assert np.abs(lat).max() < 2.5 and np.median(np.abs(lat)) < 0.3   # the CSV centre line lies on ours


def test_import_refuses_a_figure_of_eight_and_merged_sections(tmp_path):
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    eight = np.stack([300 * np.sin(t), 150 * np.sin(2 * t), np.full_like(t, 5), np.full_like(t, 5)], 1)
    f = tmp_path / "eight.csv"
    np.savetxt(f, eight, delimiter=",", header="x_m,y_m,w_tr_right_m,w_tr_left_m")
    with pytest.raises(TrackError, match="crosses itself"):
        trackgen.import_centreline_csv(f)
    # a thin oval whose two straights are 12 m apart: fine at 9 m wide, merged at 11.5 m
    x = np.linspace(-200, 200, 200)
    a = np.linspace(-np.pi / 2, np.pi / 2, 30)
    oval = np.concatenate([np.stack([x, np.full_like(x, -6)], 1),
                           np.stack([200 + 6 * np.cos(a), 6 * np.sin(a)], 1)[1:-1],
                           np.stack([x[::-1], np.full_like(x, 6)], 1),
                           np.stack([-200 - 6 * np.cos(a), -6 * np.sin(a)], 1)[1:-1]])
    g = tmp_path / "oval.csv"
    np.savetxt(g, oval, delimiter=",")
    with pytest.raises(TrackError, match="merge on the PNG"):
        trackgen.import_centreline_csv(g, width_m=11.5)
    im, _ = trackgen.import_centreline_csv(g, width_m=9)        # 3 m of grass between: drawn
    assert im.size[0] > 400


@pytest.mark.parametrize("buffered", [False, True])
@pytest.mark.parametrize("command", [[str(CLI), "list"], ["-m", "karting", "expert", "--help"]])
def test_a_reader_that_stops_early_gets_no_traceback(command, buffered):
    """`... | head -1`: the tool stops quietly (status 141, as a Unix tool killed by SIGPIPE)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "" if buffered else "1"}
    if buffered:
        env.pop("PYTHONUNBUFFERED")
    p = subprocess.Popen([sys.executable, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=ROOT, env=env)
    if not buffered:
        assert p.stdout.readline()        # the first line, then the reader goes away
    p.stdout.close()                      # buffered: before anything is written
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) in (0, 141) and "Traceback" not in err and "BrokenPipe" not in err, err
    if command[-1] == "list":
        assert p.returncode == 141        # rows were still to come
