"""Replays (karting.sim.replay, python -m karting.replay): a recorded session re-simulates bit for
bit (random starts, randomisation, weather and tyres included), its telemetry regenerates
identically, a changed track, a changed simulation, a truncated, foreign or newer file are
clear errors, and videos come out of any kart's camera."""
import json
import shutil

import numpy as np
import pytest

import karting
from karting.env.batch import KartBatch
from karting.sim import replay as R
from karting.sim.expert import PurePursuit
from karting.track import load_track


def record(track, path, steps=1400, n=3, **kw):
    """A session of ``n`` karts driven by the expert at different grips, with autoresets."""
    b = KartBatch(track, n, render=False, max_episode_steps=900, **kw)
    b.start_replay()
    rng = np.random.default_rng(11)
    b.reset(np.ones(n, bool), rng)
    pp = PurePursuit(track, mu_use=[2.0, 1.6, 2.6][:n])
    for _ in range(steps):
        grip = None if b.model is None else b.model.grip_now
        _, te, tr = b.step(pp.act(b.state, b.idx, grip))
        if (te | tr).any():
            b.reset(te | tr, rng)
    b.save_replay(path, "test")
    return b


@pytest.fixture(scope="module")
def oval():
    return load_track("oval.png")


@pytest.mark.parametrize("kw", [{}, {"randomize": "default,rain=0:1", "weather": "damp",
                                     "tyres": "new", "setup": {"sprocket": 83}, "fuel": 3.0}])
def test_a_session_re_simulates_bit_exactly(oval, tmp_path, kw):
    live = record(oval, tmp_path / "s.replay", **kw)
    assert sum(len(x) for x in live.replay_log.laps) >= 2          # laps were driven
    rep = R.load(tmp_path / "s.replay")
    assert rep.karts == 3 and rep.steps == 1400 and len(rep.reset_steps) >= 2   # autoresets recorded
    b = KartBatch.from_replay(rep, R.resolve_track(rep))
    R.simulate(rep, b)
    assert R.verify(rep, b) == []
    np.testing.assert_array_equal(b.state.x, live.state.x)
    # a different simulation (here: one action changed) is reported, not passed off as the recording
    rep.actions[100, 0, 1] = -0.5 if rep.actions[100, 0, 1] > 0 else 1.0
    b = KartBatch.from_replay(rep, R.resolve_track(rep))
    R.simulate(rep, b)
    problems = R.verify(rep, b)
    assert problems and any("differs" in p or "laps" in p for p in problems), problems


def test_the_cli_regenerates_the_telemetry_and_films(oval, tmp_path, capsys):
    env = karting.make_vec("oval.png", num_envs=2, record_telemetry=True, random_start=True)
    env.batch.start_replay()
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(300):
        tel = obs["telemetry"]
        a = np.stack([np.clip(3 * tel[:, 8] + rng.normal(0, 0.1, 2), -1, 1), np.full(2, 0.7)], 1)
        obs, *_ = env.step(a.astype(np.float32))
    live_csv = env.export_telemetry(tmp_path / "live.csv")
    env.batch.save_replay(tmp_path / "e.replay")
    env.close()
    from karting.replay import main
    assert main([str(tmp_path / "e.replay"), "--telemetry", str(tmp_path / "again.csv"), "--camera", "fp",
                 "--kart", "1", "--from", "2", "--to", "4", "--video", str(tmp_path / "fp.gif")]) == 0
    out = capsys.readouterr().out
    assert "bit-exactly" in out
    import pandas as pd
    a, b = pd.read_csv(live_csv), pd.read_csv(tmp_path / "again.csv")
    pd.testing.assert_frame_equal(a, b)
    assert (tmp_path / "fp.gif").stat().st_size > 1000
    assert main([str(tmp_path / "e.replay"), "--camera", "chase", "--speed", "0.5", "--from", "1", "--to", "2",
                 "--video", str(tmp_path / "slow.gif")]) == 0


def _bite(png):
    """Paint a bite of grass out of the track's edge (a changed track that still loads)."""
    from PIL import Image
    tr = load_track(png)
    img = np.array(Image.open(png).convert("RGB"))
    i = len(tr.centre) // 3
    edge = tr.centre[i] + tr.normal[i] * (tr.width[i] / 2 - 0.4)
    c, r = np.round(tr.world_to_pixel(edge[None])[0]).astype(int)
    img[r - 2:r + 3, c - 2:c + 3] = img[0, 0]
    Image.fromarray(img).save(png)


def test_a_changed_track_is_refused(tmp_path, capsys):
    src = karting.track.resolve_track_path("oval.png")
    png = tmp_path / "my_oval.png"                # no shipped track of this name to fall back to
    shutil.copy(src, png)
    record(load_track(png), tmp_path / "o.replay", steps=50, n=1)
    _bite(png)
    from karting.replay import main
    assert main([str(tmp_path / "o.replay")]) == 2
    err = capsys.readouterr().err
    assert "not found as it was recorded" in err and "my_oval.png" in err and "differs" in err


@pytest.mark.parametrize("edit", ["bite", "garbage"])
def test_a_fallback_to_the_shipped_track_says_which_file_and_why(tmp_path, capsys, edit):
    """A copy of oval.png was driven, then edited (it still loads, or no longer does): the replay
    plays on the shipped oval.png, whose content is what was driven, and says so."""
    src = karting.track.resolve_track_path("oval.png")
    png = tmp_path / "oval.png"
    shutil.copy(src, png)
    record(load_track(png), tmp_path / "o.replay", steps=50, n=1)
    if edit == "bite":
        _bite(png)
    else:
        png.write_bytes(b"not a PNG any more")
    from karting.replay import main
    assert main([str(tmp_path / "o.replay")]) == 0
    out = capsys.readouterr().out
    assert f"Played on {src}" in out and str(png) in out
    assert ("differs" if edit == "bite" else "cannot be loaded") in out
    assert "bit-exactly" in out


def test_missing_truncated_foreign_and_newer_files(oval, tmp_path, capsys):
    record(oval, tmp_path / "ok.replay", steps=30, n=1)
    data = (tmp_path / "ok.replay").read_bytes()
    (tmp_path / "cut.replay").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.replay").write_text("lap times: 50.1, 49.8\n")
    with pytest.raises(R.ReplayError, match="truncated"):
        R.load(tmp_path / "cut.replay")
    with pytest.raises(R.ReplayError, match="not a karting replay"):
        R.load(tmp_path / "text.replay")
    with pytest.raises(R.ReplayError, match="no such replay"):
        R.load(tmp_path / "nope.replay")
    # a newer format
    with np.load(tmp_path / "ok.replay") as z:
        header = json.loads(bytes(z["header"]).decode())
    header["version"] = R.VERSION + 1
    arrays = {}
    with np.load(tmp_path / "ok.replay") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with open(tmp_path / "new.replay", "wb") as f:
        np.savez_compressed(f, **arrays)
    with pytest.raises(R.ReplayError, match="newer karting"):
        R.load(tmp_path / "new.replay")
    from karting.replay import main
    assert main([str(tmp_path / "cut.replay")]) == 2
    assert "truncated" in capsys.readouterr().err


def _rewrite_header(src, dst, **changes):
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    header = {**json.loads(bytes(arrays["header"]).decode()), **changes}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with open(dst, "wb") as f:
        np.savez_compressed(f, **arrays)


def test_a_replay_re_simulates_the_physics_it_was_recorded_with(oval, tmp_path):
    """A kart pulling away from rest with its wheels turned: the tyre model changed there
    (physics version 2). A replay says which physics recorded it and plays with that one, so a
    replay recorded before the change is not reported as a different simulation."""
    b = KartBatch(oval, 1, render=False)
    b.start_replay()
    b.reset(np.ones(1, bool), np.random.default_rng(3))
    for _ in range(60):                                  # 3 s: steer 0.6, a light throttle
        b.step(np.array([[0.6, 0.15]], np.float32))
    assert b.state.speed[0] > 1.5                        # it pulled away
    b.save_replay(tmp_path / "now.replay")
    rep = R.load(tmp_path / "now.replay")
    assert rep.header["physics"] == R.PHYSICS_VERSION == 2 and not rep.params().slip_drag_at_rest
    again = KartBatch.from_replay(rep, R.resolve_track(rep))
    R.simulate(rep, again)
    assert R.verify(rep, again) == []
    # the same actions under physics 1 (what a replay of format 1 or 2 gets): the kart stays put,
    # and the recording made with physics 2 is not passed off as one
    _rewrite_header(tmp_path / "now.replay", tmp_path / "old.replay", physics=1, version=2)
    old = R.load(tmp_path / "old.replay")
    assert old.params().slip_drag_at_rest
    legacy = KartBatch.from_replay(old, R.resolve_track(old))
    speed = []                                           # until the first keyframe puts it back
    R.simulate(old, legacy, on_step=lambda t: speed.append(float(legacy.state.speed[0])))
    assert max(speed[:19]) < 0.2 and R.verify(old, legacy) != []
    _rewrite_header(tmp_path / "now.replay", tmp_path / "future.replay", physics=R.PHYSICS_VERSION + 1)
    with pytest.raises(R.ReplayError, match="physics of version 3, newer"):
        R.load(tmp_path / "future.replay")


def test_multi_track_batches_say_they_cannot_be_recorded(oval):
    b = KartBatch([oval, load_track("circuit.png")], 2, render=False)
    with pytest.raises(ValueError, match="one track"):
        b.start_replay()


def test_a_race_re_simulates_bit_exactly(tmp_path):
    """A race of AI karts (contacts, start lights, penalties) and one outside kart, restarted
    once: every kart's actions, the grids and the light timings come back; so do the results."""
    from karting.env import Scenario, Session
    sc = Scenario.race("oval.png", ["club", "pro", "alien", "rookie"], laps=1, start_lights=True,
                       record_telemetry=True)
    s = Session(sc, render=False, grid_order=[4, 0, 1, 2, 3])
    s.start_replay()
    rng = np.random.default_rng(5)
    s.reset(rng)
    pp = PurePursuit(s.track, mu_use=1.4)
    steps = 0
    for race in range(2):
        while not s.control.done:
            s.step(pp.act(s.batch.state, s.batch.idx)[:1])
            steps += 1
        if race == 0:
            first = s.control.results()
            s.reset(rng)                         # a second race, same session
    path = s.save_replay(tmp_path / "race.replay")
    rep = R.load(path)
    assert rep.karts == 5 and rep.steps == steps and len(rep.reset_grids) == 2
    assert rep.header["settings"]["race"]["rules"]["start_lights"] is True
    assert Scenario.from_dict(rep.header["scenario"]) == sc      # the session's scenario, kept
    assert sum(rep.header["race_outcome"]["collisions"]) >= 0
    b = KartBatch.from_replay(rep, R.resolve_track(rep))
    R.simulate(rep, b)
    assert R.verify(rep, b) == []
    np.testing.assert_array_equal(b.state.x, s.batch.state.x)
    assert b.control.results() == s.control.results()
    assert [r["driver"] for r in first] and b.control.drivers == s.control.drivers
    # the light timing comes from the recorded generator: a replay without it would start elsewhere
    assert b.control.lights_out_s[0] == s.control.lights_out_s[0] > 5.0
    # one AI action changed: the race no longer matches, and verify says so
    rep.actions[300, 2, 0] = -rep.actions[300, 2, 0] if rep.actions[300, 2, 0] else 1.0
    b = KartBatch.from_replay(rep, R.resolve_track(rep))
    R.simulate(rep, b)
    assert R.verify(rep, b)


def test_race_cli_replay_films_tv_and_map(tmp_path, capsys):
    """karting.race --replay; karting.replay re-runs it (exit 0), regenerates the race telemetry
    row for row and films it from the TV cameras (they cut) and the map."""
    from karting import race as race_cli
    from karting import replay as replay_cli
    from karting.telemetry import load as load_csv
    path, live = tmp_path / "race.replay", tmp_path / "live.csv"
    assert race_cli.main(["--track", "oval.png", "--opponents", "club,pro,alien", "--laps", "1", "--lights",
                          "--replay", str(path), "--telemetry", str(live), "--no-leaderboard"]) == 0
    capsys.readouterr()
    again, tv = tmp_path / "again.csv", tmp_path / "tv.mp4"
    assert replay_cli.main([str(path), "--camera", "tv", "--kart", "2", "--from", "5", "--to", "35",
                            "--speed", "2", "--video", str(tv), "--telemetry", str(again)]) == 0
    out = capsys.readouterr().out
    assert "bit-exactly" in out and "tv camera of kart 2" in out
    a, b = load_csv(live), load_csv(again)
    assert list(a.columns) == list(b.columns) and "position" in a.columns
    pd_testing = pytest.importorskip("pandas").testing
    pd_testing.assert_frame_equal(a, b)
    import imageio.v3 as iio
    frames = iio.imread(tv)
    assert frames.shape[1:] == (400, 640, 3) and len(frames) == 301
    # the followed kart (yellow) is in the picture
    yellow = (frames[..., 0] > 200) & (frames[..., 1] > 160) & (frames[..., 2] < 80)
    assert (yellow.sum(axis=(1, 2)) > 30).mean() > 0.8
    gif = tmp_path / "map.gif"
    assert replay_cli.main([str(path), "--camera", "map", "--to", "10", "--video", str(gif)]) == 0
    m = iio.imread(gif)
    assert m.shape[1:3] == (480, 480)


def test_the_tv_director_cuts_between_trackside_cameras():
    """Around a lap the director uses every camera, holds each shot at least 2 s, and the camera
    it shows is never far from the kart."""
    from karting.env.cameras import TVDirector
    from karting.track.corners import find_corners
    tr = load_track("circuit.png")
    tv = TVDirector(tr, hold_s=2.0)
    assert len(tv.positions) >= len(find_corners(tr)) + 1
    # cameras stand off the asphalt
    from karting.track import ASPHALT
    assert (tr.surface_at(tv.positions[:, 0], tv.positions[:, 1]) != ASPHALT).all()
    line = tr.racing_line[::2]                  # ~2 m a frame: 40 m/s
    shots = [tv.choose(x, y) for x, y in line]
    cuts = np.flatnonzero(np.diff(shots)) + 1
    assert len(set(shots)) == len(tv.positions)
    d = np.hypot(*(tv.positions[shots] - line).T)
    assert d.max() <= tv.max_m + 5
    # a shot lasts 2 s, unless the kart got more than max_m from that camera
    for c0, c1 in zip(cuts, cuts[1:]):
        if c1 - c0 < tv.hold:
            prev = tv.positions[shots[c1 - 1]]
            assert np.hypot(*(prev - line[c1])) > tv.max_m


def test_the_experts_drive_replays_bit_exactly(tmp_path, capsys):
    """karting.expert --replay: every setting is a kart, started exactly on the line; the replay
    re-simulates to the same laps (and a flawed lap, --brake-earlier, too)."""
    from karting import expert as expert_cli
    from karting import replay as replay_cli
    path = tmp_path / "expert.replay"
    assert expert_cli.main(["--track", "oval.png", "--replay", str(path), "--no-leaderboard"]) == 0
    out = capsys.readouterr().out
    assert "kart 0 drove the reference lap" in out
    rep = R.load(path)
    assert rep.header["settings"]["exact_start"] is True and rep.karts == 42
    assert replay_cli.main([str(path)]) == 0
    assert "bit-exactly" in capsys.readouterr().out
    bad = tmp_path / "flawed.replay"
    assert expert_cli.main(["--track", "oval.png", "--brake-earlier", "T1:10", "--replay", str(bad),
                            "--no-leaderboard"]) == 0
    assert R.load(bad).karts == 1
    assert replay_cli.main([str(bad)]) == 0
