"""Driver coaching (karting.telemetry.coach, python -m karting.coach): corners from curvature, laps
measured corner by corner, and a deliberately flawed expert lap reported as exactly that flaw;
the HTML page looked at in headless Chromium."""
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from karting import coach as coach_cli
from karting import expert as expert_cli
from karting.sim.expert import reference_lap
from karting.telemetry import load as load_csv
from karting.telemetry.coach import coach
from karting.track.corners import find_corners
from karting.track import load_track


@pytest.fixture(scope="module")
def circuit():
    return load_track("circuit.png")


@pytest.fixture(scope="module")
def expert(circuit):
    return reference_lap(circuit, record=True)


def flawed(track, expert, corner: int, by_m: float = 10.0):
    c = find_corners(track)[corner - 1]
    return reference_lap(track, mu_grid=(expert.mu_use,), line_grid=(expert.line_weight,), record=True,
                         flaw=(c.zone_start_m, c.apex_m, by_m))


def test_corners_from_curvature(circuit, ring_track):
    cs = find_corners(circuit)
    assert len(cs) == 8 and [c.name for c in cs] == [f"T{i}" for i in range(1, 9)]
    starts = [c.start_m for c in cs]
    assert starts == sorted(starts)                             # numbered in driving order
    for a, b in zip(cs, cs[1:]):
        assert a.zone_end_m <= b.zone_start_m + 1e-9            # zones do not overlap
    for c in cs:
        assert 0 <= c.zone_start_m <= c.start_m <= c.apex_m <= c.end_m <= c.zone_end_m <= circuit.length
        assert c.turn_deg >= 20 and c.direction in ("left", "right")
        # the curvature at the apex has the corner's sign
        k = circuit.curvature[int(c.apex_m / circuit.spacing)]
        assert (k > 0) == (c.direction == "left")
    # a ring curves everywhere the same way: it is one long corner or none, never a crash
    try:
        rc = find_corners(ring_track)
        assert len(rc) <= 2
    except ValueError as e:
        assert "corner" in str(e)


@pytest.mark.parametrize("corner", [3, 2])
def test_braking_10m_earlier_is_reported_as_that(circuit, expert, corner):
    lap = flawed(circuit, expert, corner)
    assert lap.completed and lap.lap_time_s >= expert.lap_time_s
    c = coach(lap.telemetry, circuit, expert.telemetry, label="flawed", ref_label="expert")
    name = f"T{corner}"
    top = c.advice[0]
    assert top["corner"] == name and top["issue"] == "early_braking"
    assert f"{name} (" in top["text"] and "earlier than the reference" in top["text"] and "later" in top["text"]
    row = c.corners.loc[name]
    assert -13 <= row["brake_diff_m"] <= -7                      # 10 m, measured on the laps
    assert row["time_lost_s"] > 0.02
    others = c.corners.drop(index=name)["time_lost_s"]
    assert (others < row["time_lost_s"]).all()
    # every other corner: the same braking point within 2 m
    both = c.corners.drop(index=name).dropna(subset=["brake_diff_m"])
    assert (both["brake_diff_m"].abs() <= 2).all()
    # the parts add up to the lap: corner zones + straights = the delta at the line
    total = c.corners["time_lost_s"].sum() + c.straights["time_lost_s"].sum()
    assert total == pytest.approx(c.traces["delta_s"].iloc[-1], abs=1e-6)


def test_a_lap_against_itself_needs_no_advice(circuit, expert):
    c = coach(expert.telemetry, circuit, expert.telemetry)
    assert np.abs(c.corners["time_lost_s"]).max() < 1e-9
    shown, same = c.ranked()
    assert shown == [] and len(same) == 8
    assert "nothing to change" in c.text()


def test_cli_report_in_headless_chromium(circuit, tmp_path, capsys):
    """The flawed lap and the reference from the command line (karting.expert --brake-earlier),
    coached by karting.coach: text, corner CSV, and the HTML page as Chromium renders it."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: scripts/setup.sh test installs it"
    ref, bad = tmp_path / "expert.csv", tmp_path / "flawed.csv"
    assert expert_cli.main(["--telemetry", str(ref), "--no-leaderboard"]) == 0
    assert expert_cli.main(["--brake-earlier", "T3:10", "--telemetry", str(bad), "--no-leaderboard",
                            "--replay", str(tmp_path / "flawed.replay")]) == 0
    capsys.readouterr()
    html, table = tmp_path / "coaching.html", tmp_path / "corners.csv"
    # the track comes from the CSV's sidecar (flawed.meta.json)
    assert coach_cli.main([str(bad), "--reference", str(ref), "--out", str(html), "--csv-out", str(table)]) == 0
    out = capsys.readouterr().out
    assert "flawed.meta.json" in out and " 1. T3 (+" in out
    # 10 m asked; measured from 20 Hz telemetry at ~23 m/s (1.2 m a step) against the reference's own brake point
    said = re.search(r"you brake (\d+) m earlier", out)
    assert said and abs(int(said.group(1)) - 10) <= 3, out
    t = pd.read_csv(table, index_col=0)
    assert t.index[0] == "T3" and t.loc["T3", "issue"] == "early_braking"
    page = html.read_text()
    assert "Coaching report: circuit.png" in page and page.count("data:image/png;base64,") >= 3
    shot = tmp_path / "shot.png"
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp_path / 'chrome'}", "--window-size=1200,1400",
                        f"--screenshot={shot}", html.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists(), r.stderr[-2000:]
    from PIL import Image
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert img.shape[:2] == (1400, 1200)
    # the advice in red text, the map's corner coloured red (time lost), the traces' red and blue
    red = (img[..., 0] > 150) & (img[..., 1] < 90) & (img[..., 2] < 90)
    blue = (img[..., 2] > 150) & (img[..., 0] < 80) & (img[..., 1] < 160)
    assert red[:350].sum() > 500                       # the advice list and the map at the top
    assert red[:350, 700:].sum() > 100                 # the map's T3 in red
    assert blue.sum() > 500                            # the reference's traces
    assert (img.std(axis=(0, 1)) > 10).all()           # not a blank page


def test_a_csv_says_which_track_and_conditions_it_was_driven_in(tmp_path, capsys):
    """Issue 28: an expert lap driven on oval.png in the damp, coached without --track: the coach
    finds the track and the conditions in the CSV's sidecar (it assumed circuit.png before)."""
    lap = tmp_path / "oval_damp.csv"
    assert expert_cli.main(["--track", "oval.png", "--weather", "damp", "--laps", "1", "--telemetry", str(lap),
                            "--no-leaderboard"]) == 0
    capsys.readouterr()
    assert coach_cli.main([str(lap), "--reference", str(lap)]) == 0
    out = capsys.readouterr().out
    assert "track: " in out and "oval.png (from oval_damp.meta.json)" in out and "'weather': 'damp'" in out


def test_bad_inputs_are_clear_errors(circuit, expert, tmp_path, capsys):
    twisty = load_track("twisty.png")
    other = tmp_path / "twisty.csv"
    reference_lap(twisty, record=True).telemetry.to_csv(other, index=False)
    ref = tmp_path / "ref.csv"
    expert.telemetry.to_csv(ref, index=False)
    assert coach_cli.main([str(other), "--reference", str(ref), "--track", "circuit.png"]) == 2
    assert "driven on another track" in capsys.readouterr().err
    broken = tmp_path / "broken.csv"
    broken.write_text("not,a\ntelemetry,file\n")
    assert coach_cli.main([str(broken), "--reference", str(ref)]) == 2
    assert "missing telemetry columns" in capsys.readouterr().err
    assert coach_cli.main([str(tmp_path / "nope.csv")]) == 2
    assert "no such telemetry file" in capsys.readouterr().err
    short = tmp_path / "short.csv"
    expert.telemetry.head(300).to_csv(short, index=False)       # 15 s: no complete lap
    assert coach_cli.main([str(short), "--reference", str(ref)]) == 2
    assert "no complete lap" in capsys.readouterr().err
    assert expert_cli.main(["--brake-earlier", "T99:10", "--no-leaderboard"]) == 2
    assert "T1..T8" in capsys.readouterr().err
    assert expert_cli.main(["--brake-earlier", "soon", "--no-leaderboard"]) == 2
    assert "e.g. T3:10" in capsys.readouterr().err
    df = load_csv(ref)
    assert len(df) == len(expert.telemetry)
