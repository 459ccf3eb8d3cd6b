"""Telemetry analysis (karting.telemetry laps/pick_lap/lap_trace/compare/gains) and its command line,
checked against what the simulation itself measured while the CSV was being recorded."""
import numpy as np
import pandas as pd
import pytest

from karting import telemetry as T
from karting.telemetry import cli as telemetry_cli
from karting.env import KartBatch, RewardConfig
from karting.sim.expert import PurePursuit

LENIENT = RewardConfig(max_off_track_s=1e9, max_wrong_way_s=1e9, max_backwards_m=1e9, max_stall_s=1e9)
GRIP = (1.6, 1.2, 0.9)          # three expert drivers, fastest first


def drive(track, n_laps=3, random_start=False, push_off=None, seed=0):
    """Karts driven by the expert (one grip setting each) for ``n_laps`` timed laps, recording.
    ``push_off=(kart, lap)`` steers that kart onto the grass for a stretch of that lap.
    Returns the recorder's DataFrame and, per kart, what the env reported at each lap's end."""
    n = len(GRIP)
    b = KartBatch(track, n, render=False, record_telemetry=True, max_episode_steps=10 ** 6,
                  random_start=random_start, reward=LENIENT)
    b.reset(np.ones(n, bool), np.random.default_rng(seed))
    b.observe()
    pp = PurePursuit(track, mu_use=np.array(GRIP))
    seen = np.zeros(n, int)
    env_laps = [[] for _ in range(n)]
    while (seen < n_laps).any() and b.steps[0] < 6000:
        a = pp.act(b.state, b.idx).astype(np.float32)
        if push_off is not None:
            k, lap = push_off
            if b.laps[k] == lap - 1 and 100 < b.s[k] < 112:
                a[k] = [-0.5, 0.3]
        b.step(a)
        b.observe()
        b.record()
        for i in np.flatnonzero(b.laps > seen):
            env_laps[i].append((float(b.last_lap_time[i]), bool(b.last_lap_valid[i]),
                                b.sector_times[i].copy()))
        seen = b.laps.copy()
    assert (seen >= n_laps).all(), "the expert should lap the ring"
    return b.recorder.to_dataframe(), env_laps


@pytest.fixture(scope="module")
def session(ring_track):
    return drive(ring_track, push_off=(2, 2))


@pytest.fixture(scope="module")
def csv(session, tmp_path_factory):
    return T.write_csv(session[0], tmp_path_factory.mktemp("tel") / "ai.csv")


def test_laps_table_matches_what_the_env_measured(session, csv):
    df, env_laps = session
    table = T.laps(T.load(csv))             # through the CSV, as a user reads it
    assert list(table.columns[:8]) == ["env", "episode", "lap", "lap_time_s", "s1_s", "s2_s", "s3_s", "valid"]
    for kart, reported in enumerate(env_laps):
        rows = table[table["env"] == kart]
        assert list(rows["lap"]) == list(range(1, len(reported) + 1))    # the lap in progress is not a lap
        for (_, r), (lap_t, valid, sectors) in zip(rows.iterrows(), reported):
            assert r["lap_time_s"] == pytest.approx(lap_t, abs=2e-3)
            assert bool(r["valid"]) == valid
            assert [r["s1_s"], r["s2_s"], r["s3_s"]] == pytest.approx(list(sectors), abs=2e-3)
            assert r["s1_s"] + r["s2_s"] + r["s3_s"] == pytest.approx(r["lap_time_s"], abs=3e-3)
            assert r["min_speed_kmh"] <= r["mean_speed_kmh"] <= r["max_speed_kmh"] < 120
    spoiled = table[(table["env"] == 2) & (table["lap"] == 2)].iloc[0]
    assert not spoiled["valid"] and spoiled["off_track_s"] >= 0.5
    assert table.loc[table["valid"], "off_track_s"].max() == 0.0
    # the fastest driver's laps beat the slowest's; session_best is the fastest valid lap
    assert table[table["env"] == 0]["lap_time_s"].min() < table[table["env"] == 2]["lap_time_s"].min()
    best = table[table["session_best"]]
    assert len(best) == 1 and best["lap_time_s"].iloc[0] == table.loc[table["valid"], "lap_time_s"].min()
    # a standing start is slower than a flying lap
    assert (table[table["lap"] == 1]["lap_time_s"].to_numpy() > table[table["lap"] == 3]["lap_time_s"].to_numpy()).all()


def test_random_start_out_laps_and_unfinished_episodes_are_not_laps(ring_track):
    df, env_laps = drive(ring_track, n_laps=1, random_start=True, seed=3)
    assert (df["lap"] == 0).any()                           # someone started mid-lap
    # cut every kart's session short mid-way through a second episode: it has no complete lap
    extra = df[df["episode"] == 0].head(40).assign(episode=1)
    table = T.laps(pd.concat([df, extra], ignore_index=True))
    assert (table["lap"] >= 1).all() and (table["episode"] == 0).all()
    assert len(table) == sum(len(r) for r in env_laps)
    for kart, reported in enumerate(env_laps):
        got = table[table["env"] == kart]["lap_time_s"].to_numpy()
        assert got == pytest.approx([r[0] for r in reported], abs=2e-3)


def test_pick_lap(session):
    df = session[0]
    key, row = T.pick_lap(df, "best")
    assert bool(row["session_best"]) and key[0] == 0
    assert T.pick_lap(df, "last")[0] == (2, 0, 3)
    assert T.pick_lap(df, "2")[0] == (0, 0, 2)
    assert T.pick_lap(df, "1:0:3")[0] == (1, 0, 3)
    with pytest.raises(T.TelemetryError, match="complete laps: 0:0:1"):
        T.pick_lap(df, "1:0:9")
    with pytest.raises(T.TelemetryError, match="ENV:EPISODE:LAP"):
        T.pick_lap(df, "fast")
    with pytest.raises(T.TelemetryError, match="no complete lap"):
        T.pick_lap(df[df["lap"] <= 1], "best")


def test_lap_trace_is_one_lap_on_a_distance_grid(session, ring_track):
    df = session[0]
    key, row = T.pick_lap(df, "best")
    tr = T.lap_trace(df, key, step_m=2.0)
    d = tr.index.to_numpy()
    assert d[0] == 0 and np.allclose(np.diff(d), 2.0)
    assert d[-1] == pytest.approx(ring_track.length, abs=6)
    t = tr["time_s"].to_numpy()
    assert t[0] == pytest.approx(0, abs=0.1) and np.all(np.diff(t) > 0)
    assert t[-1] == pytest.approx(row["lap_time_s"], abs=0.1)
    assert tr["speed_kmh"].max() <= row["max_speed_kmh"] + 1e-3
    assert set(tr["sector"]) == {1, 2, 3} and np.all(np.diff(tr["sector"]) >= 0)
    # the positions it carries lie on the track
    x, y = tr["x_m"].to_numpy(), tr["y_m"].to_numpy()
    _, _, lat = ring_track.project(x, y)
    assert np.abs(lat).max() < 6
    with pytest.raises(T.TelemetryError, match="not complete"):
        T.lap_trace(df, (0, 0, 9))


def test_compare_aligns_two_drivers_by_distance(session):
    df = session[0]
    fast, slow = df[df["env"] == 0], df[df["env"] == 1]
    traces, sectors, info = T.compare(fast, slow, "0:0:3", "1:0:3")
    lap_a, lap_b = info["lap_a"]["lap_time_s"], info["lap_b"]["lap_time_s"]
    assert lap_b > lap_a
    assert sectors.loc["lap", "b_minus_a_s"] == pytest.approx(lap_b - lap_a, abs=1e-9)
    assert sectors.loc[["S1", "S2", "S3"], "b_minus_a_s"].sum() == pytest.approx(lap_b - lap_a, abs=3e-3)
    delta = traces["delta_s"].to_numpy()
    assert delta[0] == pytest.approx(0, abs=0.06)
    assert delta[-1] == pytest.approx(lap_b - lap_a, abs=0.1)
    assert (traces["speed_kmh_a"].mean() > traces["speed_kmh_b"].mean())
    g = T.gains(traces, 50.0)
    assert g["b_minus_a_s"].sum() == pytest.approx(delta[-1], abs=1e-6)
    assert g["from_m"].iloc[0] == 0 and g["to_m"].iloc[-1] == pytest.approx(traces.index[-1])
    # a lap against itself: no delta anywhere
    same, sec, _ = T.compare(df, df, "0:0:2", "0:0:2")
    assert np.abs(same["delta_s"]).max() < 1e-9 and np.abs(sec["b_minus_a_s"]).max() < 1e-9


def test_cli_summary_compare_plot(csv, session, tmp_path, capsys):
    from PIL import Image
    table_csv = tmp_path / "laps.csv"
    assert telemetry_cli.main(["summary", str(csv), "--out", str(table_csv)]) == 0
    out = capsys.readouterr().out
    best = T.laps(session[0]).query("session_best").iloc[0]
    assert "9 complete lap(s), 8 valid" in out and f"best valid lap {best['lap_time_s']:.2f} s" in out
    assert len(pd.read_csv(table_csv)) == 9
    # the same file as A and B, different laps
    png, traces_csv = tmp_path / "cmp.png", tmp_path / "aligned.csv"
    assert telemetry_cli.main(["compare", str(csv), str(csv), "--lap-a", "0:0:3", "--lap-b", "2:0:3",
                               "--out", str(png), "--table", str(traces_csv)]) == 0
    out = capsys.readouterr().out
    assert "biggest differences" in out and "lap 2:0:3" in out and "note:" not in out
    assert telemetry_cli.main(["compare", str(csv), str(csv), "--lap-a", "0:0:1", "--lap-b", "0:0:3"]) == 0
    assert "note: A starts from rest" in capsys.readouterr().out
    assert Image.open(png).size[0] > 800
    assert {"delta_s", "speed_kmh_a", "speed_kmh_b"} <= set(pd.read_csv(traces_csv).columns)
    for x in ("distance", "time"):
        p = tmp_path / f"trace_{x}.png"
        assert telemetry_cli.main(["plot", str(csv), "--y", "speed_kmh,lat_g,steering", "--x", x,
                                   "--out", str(p)]) == 0
        assert Image.open(p).size[1] > 400
    assert telemetry_cli.main(["plot", str(csv), "--y", "speed,lat_g", "--out", str(tmp_path / "x.png")]) == 2
    assert "unknown columns ['speed']" in capsys.readouterr().err
    assert telemetry_cli.main(["plot", str(csv), "--y", "reward", "--out", str(tmp_path / "x.png")]) == 2
    assert "--x time" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_cli_runs_as_a_module(csv):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "karting.telemetry", "summary", str(csv)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "complete lap(s)" in r.stdout
    # piped into a reader that stops early (`| head -1`): no BrokenPipeError traceback
    p = subprocess.Popen([sys.executable, "-m", "karting.telemetry", "compare", str(csv), str(csv),
                          "--lap-b", "last"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    assert p.wait(timeout=120) == 0 and b"Traceback" not in p.stderr.read()


@pytest.mark.parametrize("content, message", [
    ("env,episode,step\n0,0,1\n", "missing telemetry columns"),
    (None, "has values that are not float32, e.g. 'fast' in data row 11"),   # a word in a number
    (None, "empty value(s), first in data row 50"),      # a file cut off mid-row by a crash
    ("", "not a telemetry CSV"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not a telemetry CSV"),
    ("dir", "is a directory"),
    ("missing", "no such telemetry file"),
])
def test_bad_files_get_a_clear_message(content, message, session, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    if content is None and "float32" in message:
        df = session[0].head(50).astype({"speed_kmh": object})
        df.loc[10, "speed_kmh"] = "fast"
        df.to_csv(path, index=False)
    elif content is None:
        session[0].head(50).to_csv(path, index=False)
        path.write_text(path.read_text()[:-40])            # the last row loses its tail
    elif content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content != "missing":
        path.write_text(content)
    for argv in (["summary", str(path)], ["compare", str(path), str(path)],
                 ["plot", str(path), "--y", "speed_kmh", "--out", str(tmp_path / "p.png")]):
        assert telemetry_cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_no_complete_lap(session, tmp_path, capsys):
    short = T.write_csv(session[0][session[0]["time_s"] < 5], tmp_path / "short.csv")
    assert telemetry_cli.main(["summary", str(short)]) == 0
    assert "0 complete lap(s)" in capsys.readouterr().out
    assert telemetry_cli.main(["compare", str(short), str(short), "--out", str(tmp_path / "c.png")]) == 2
    assert "no complete lap" in capsys.readouterr().err and not (tmp_path / "c.png").exists()
    # but a time plot of the episode works without a lap
    assert telemetry_cli.main(["plot", str(short), "--y", "speed_kmh", "--x", "time",
                               "--out", str(tmp_path / "t.png")]) == 0
    # and so does the plain command: the whole session against its steps
    capsys.readouterr()
    assert telemetry_cli.main(["plot", str(short), "--y", "speed_kmh,steering",
                               "--out", str(tmp_path / "s.png")]) == 0
    out = capsys.readouterr().out
    assert "no complete lap" in out and (tmp_path / "s.png").stat().st_size > 10_000
    assert telemetry_cli.main(["plot", str(short), "--y", "speed_kmh", "--x", "step", "--env", "7",
                               "--out", str(tmp_path / "e.png")]) == 2


def test_a_gymnasium_env_session_exports_laps_the_analysis_reads(ring_track, tmp_path):
    """The file env.export_telemetry writes (the env renders for real here) gives the env's laps."""
    from karting.env import KartingEnv
    e = KartingEnv(ring_track)
    e.reset(seed=0)
    pp = PurePursuit(ring_track, mu_use=1.4)
    lap_times = []
    for _ in range(2000):
        _, _, term, trunc, info = e.step(pp.act(e.batch.state, e.batch.idx)[0])
        if info["lap"] > len(lap_times):
            lap_times.append(info["lap_time"])
        if term or trunc or len(lap_times) == 2:
            break
    path = e.export_telemetry(tmp_path / "session.csv")
    e.close()
    assert len(lap_times) == 2
    table = T.laps(T.load(path))
    assert table["lap_time_s"].to_numpy() == pytest.approx(lap_times, abs=2e-3)
    assert table["valid"].all()
