"""karting championship (issue 33): points systems and tie-breaks, a season of 4 rounds killed
mid-round (Ctrl-C, then kill -9) and resumed with nothing lost or run twice, bad input, and a
round you drive in karting.drive's window on a real X server."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from karting import championship
from karting.season import Points, Season, SeasonError, parse_calendar, parse_field, standings_html

REPO = Path(__file__).resolve().parent.parent


def _row(driver, position, status="finished", best=None):
    return {"driver": driver, "position": position, "status": status, "best_lap_s": best}


def test_points_systems_bonuses_and_bad_scales():
    k, f1, f19 = Points.parse("karting"), Points.parse("f1"), Points.parse("f1-2019")
    assert k.scale[:4] == (25, 20, 16, 13) and len(k.scale) == 15 and f1.scale == (25, 18, 15, 12, 10, 8, 6, 4, 2, 1)
    res = [_row("A", 1, best=40.0), _row("B", 2, best=39.0), _row("C", 3, "retired", best=38.0)]
    assert f1.award(res, pole="C") == {"A": 25, "B": 18, "C": 0}            # retired: nothing
    # the fastest lap (C's 38.0) scores only for a finisher: nobody gets the point (F1's rule)
    assert f19.award(res, pole="C") == {"A": 25, "B": 18, "C": 0}
    res[2]["status"] = "finished"
    assert f19.award(res, pole="C") == {"A": 25, "B": 18, "C": 16}
    res[2]["position"] = 11
    assert f19.award(res, pole="C") == {"A": 25, "B": 18, "C": 0}          # 11th: outside the top 10
    custom = Points.parse({"scale": [3, 2, 1], "pole": 1, "fastest_lap": 2})
    assert custom.award(res, pole="B") == {"A": 3, "B": 3, "C": 2}          # B: pole; C: fastest lap in any place
    assert Points.parse("10,8,6").scale == (10, 8, 6)
    assert Points.parse(Points.parse("f1-2019").to_dict()) == f19
    for bad in ("motogp", "3,-1", "", {"scale": "x"}):
        with pytest.raises(SeasonError):
            Points.parse(bad)


def _season_with(tmp_path, finishes: list, points="f1") -> Season:
    """A season of len(finishes) rounds already run: finishes[k] = drivers in finishing order."""
    s = Season.new(tmp_path / "s.json", parse_calendar(",".join(["oval.png"] * len(finishes))),
                   parse_field("rookie,club,pro"), Points.parse(points))
    for k, order in enumerate(finishes):
        res = [_row(d, p + 1) for p, d in enumerate(order)]
        s.rounds[k].update(status="done", results=res, points=s.points.award(res, None),
                           qualifying=[{"name": d, "grid": g + 1, "time_s": 30.0} for g, d in enumerate(order)])
    return s


def test_standings_ties_go_by_countback_then_the_latest_round(tmp_path):
    r, c, p = "AI rookie", "AI club", "AI pro"
    # pro and club tie on 43 points, a win and a 2nd each: club won the latest round
    rows = _season_with(tmp_path, [[p, c, r], [c, p, r]]).standings()
    assert [x["name"] for x in rows] == [c, p, r] and rows[0]["points"] == rows[1]["points"] == 43
    # 3-2-1: all three on 4 points. rookie (1st, 3rd) and pro (3rd, 1st) have a win, club (2nd, 2nd)
    # none: club is last by countback though it beat rookie in the latest round; pro won the latest
    rows = _season_with(tmp_path, [[r, c, p], [p, c, r]], points="3,2,1").standings()
    assert [x["points"] for x in rows] == [4, 4, 4]
    assert [x["name"] for x in rows] == [p, r, c]
    assert [x["position"] for x in rows] == [1, 2, 3] and rows[0]["wins"] == 1 and rows[2]["wins"] == 0


def test_bad_input_is_a_clear_error_and_a_corrupt_season_is_kept(tmp_path, capsys):
    main = championship.main
    assert main(["--season", str(tmp_path / "a.json")]) == 2
    assert "give --tracks and --field" in capsys.readouterr().err
    assert main(["--season", str(tmp_path / "a.json"), "--tracks", "oval.png", "--field", "club,wizard"]) == 2
    assert "'wizard' is not an AI level" in capsys.readouterr().err
    assert main(["--season", str(tmp_path / "a.json"), "--tracks", "oval.png", "--field", "club"]) == 2
    assert "at least 2 entries" in capsys.readouterr().err
    assert main(["--season", str(tmp_path / "a.json"), "--tracks", "nowhere.png", "--field", "club,pro"]) == 2
    assert "nowhere.png" in capsys.readouterr().err
    assert main(["--season", str(tmp_path / "a.json"), "--tracks", "oval.png", "--field", "club,pro",
                 "--weather", "dry,wet"]) == 2
    assert "one per round" in capsys.readouterr().err
    assert not (tmp_path / "a.json").exists()
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "karting-season", "rounds": [')
    assert main(["--season", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cannot read this season file" in err and "left as it is" in err
    assert bad.read_text() == '{"kind": "karting-season", "rounds": ['       # nothing the user saved is lost
    cal = tmp_path / "plan.json"
    cal.write_text(json.dumps({"tracks": ["oval.png"], "feld": "club"}))
    assert main(["--season", str(tmp_path / "b.json"), "--calendar", str(cal)]) == 2
    assert "unknown keys ['feld']" in capsys.readouterr().err


def _command(season, track):
    return [sys.executable, "-m", "karting.championship", "--season", str(season), "--no-leaderboard",
            "--tracks", ",".join([str(track)] * 4), "--field", "rookie,club,pro,alien", "--laps", "3",
            "--qualifying-laps", "1", "--points", "f1-2019", "--weather", "dry,draw,damp,dry", "--seed", "5"]


def _run_until(cmd, season: Path, round_index: int, sig) -> subprocess.CompletedProcess:
    """Start the season and send ``sig`` once round ``round_index`` (0-based) has qualified: mid-round."""
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while time.time() - t0 < 120:
        try:
            if json.loads(season.read_text())["rounds"][round_index]["status"] == "qualified":
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_a_season_killed_mid_round_resumes_with_nothing_lost_or_run_twice(ring_png, tmp_path):
    """4 rounds; Ctrl-C in round 2's race, resumed; kill -9 in round 3's race, resumed: the season
    ends as the one run straight through, each round raced once after its last interruption and
    qualified once."""
    ref = tmp_path / "ref" / "season.json"
    r = subprocess.run(_command(ref, ring_png), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "season complete" in r.stdout and r.stdout.count("qualifying AI pro") == 4

    season = tmp_path / "cut" / "season.json"
    stopped = _run_until(_command(season, ring_png), season, 1, signal.SIGINT)
    assert stopped.returncode == 130, stopped.stderr
    assert "stopped in round 2 (qualified)" in stopped.stderr and "resume" in stopped.stderr
    mid = json.loads(season.read_text())
    assert [x["status"] for x in mid["rounds"]] == ["done", "qualified", "pending", "pending"]
    assert not (season.parent / "season" / "round_02_ring" / "results.json").exists()

    killed = _run_until(_command(season, ring_png), season, 2, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert "resuming after 1 of 4" in killed.stdout
    assert "qualifying" not in killed.stdout.split("round 3/4")[0]       # round 2 raced, not qualified again
    mid = json.loads(season.read_text())
    assert [x["status"] for x in mid["rounds"]] == ["done", "done", "qualified", "pending"]

    done = subprocess.run(_command(season, ring_png), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resuming after 2 of 4" in done.stdout and "round 1/4" not in done.stdout and "round 2/4" not in done.stdout
    assert done.stdout.count("qualifying AI pro") == 1                    # round 4's only
    a, b = json.loads(ref.read_text()), json.loads(season.read_text())
    assert [x["results"] for x in a["rounds"]] == [x["results"] for x in b["rounds"]]
    assert [x["qualifying"] for x in a["rounds"]] == [x["qualifying"] for x in b["rounds"]]
    assert a["calendar"] == b["calendar"] and b["calendar"][1]["weather_drawn"]
    st = json.loads((season.parent / "season" / "standings.json").read_text())["standings"]
    assert st == json.loads((ref.parent / "season" / "standings.json").read_text())["standings"]
    assert sum(x["points"] for x in st) == 4 * (25 + 18 + 15 + 12 + 1)    # f1-2019: the fastest lap's point
    # every round left its files; the replay re-runs its race to the same finish
    from karting.sim.replay import load
    from karting.telemetry import load as load_csv
    for k in range(4):
        d = season.parent / "season" / f"round_{k + 1:02d}_ring"
        assert {"qualifying.json", "results.json", "race.replay", "race.csv"} <= {p.name for p in d.iterdir()}
        assert load(d / "race.replay").karts == 4 and load_csv(d / "race.csv")["env"].nunique() == 4
    from karting.replay import main as replay_main
    assert replay_main([str(season.parent / "season" / "round_03_ring" / "race.replay")]) == 0
    page = (season.parent / "season" / "standings.html").read_text()
    assert page.count("<polyline") == 4 and "Round 4" in page


def test_names_in_the_standings_page_are_escaped(tmp_path):
    s = _season_with(tmp_path, [["AI pro", "AI club", "AI rookie"]])
    s.entries[0]["name"] = "<script>alert(1)</script>"
    for r in s.rounds[0]["results"]:
        if r["driver"] == "AI rookie":
            r["driver"] = s.entries[0]["name"]
    page = standings_html(s)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_round_you_drive_on_a_real_display(ring_png, tmp_path):
    """You in the field: the qualifying window opens on a real X server (Esc ends it: no time,
    the back of the grid), then the race window from that grid; Esc retires you and the AI karts
    race to the flag; the standings score you nothing and the season is complete."""
    from xserver import XServer, finish
    x = XServer()
    season = tmp_path / "you.json"
    try:
        proc = x.launch(["-m", "karting.championship", "--season", str(season), "--tracks", str(ring_png),
                         "--field", "rookie,you,club", "--qualifying-laps", "1", "--no-leaderboard"])
        wid = x.window("championship", proc)
        time.sleep(1.0)
        shot = x.screenshot(wid, tmp_path / "qualifying.png")
        assert shot.std() > 20 and shot.shape[1] == 960
        x.focus(wid)
        x.keys("Escape")                       # qualifying over, no lap
        t0 = time.time()                       # the race window: a new one
        while time.time() - t0 < 60 and "qualified" not in season.read_text():
            time.sleep(0.2)
        wid = x.window("championship", proc)
        time.sleep(1.0)
        x.screenshot(wid, tmp_path / "race.png")
        x.focus(wid)
        x.keys("Escape")
        rc, out, err = finish(proc, timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        x.close()
    assert rc == 0, err
    s = json.loads(season.read_text())
    q = {e["name"]: e for e in s["rounds"][0]["qualifying"]}
    assert q["you"]["time_s"] is None and q["you"]["grid"] == 3
    res = {r["driver"]: r for r in s["rounds"][0]["results"]}
    assert res["you"]["status"] == "retired" and res["you"]["dnf_reason"] == "quit the window"
    assert res["AI club"]["status"] == "finished" and s["rounds"][0]["points"]["you"] == 0
    assert "season complete" in out and os.path.exists(tmp_path / "you" / "round_01_ring" / "race.replay")
