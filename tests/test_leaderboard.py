"""The track leaderboard: appends from several processes at once lose nothing; a corrupt board
is kept aside; the CLI prints best laps and races."""
import json
import subprocess
import sys

from karting.telemetry import leaderboard

WRITER = """
import sys
from karting.telemetry import leaderboard
for k in range(int(sys.argv[2])):
    leaderboard.add_laps("race.png", sys.argv[1], [{"time_s": 40 + k / 100, "valid": True, "sectors_s": [1, 2, 3]},
                                                   {"time_s": 30, "valid": False}], "human", root=sys.argv[3])
"""


def test_two_processes_writing_at_once_lose_no_entry(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, name, "60", str(tmp_path)])
             for name in ("alice", "bob")]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    data = json.loads(leaderboard.board_path("race.png", tmp_path).read_text())
    drivers = [e["driver"] for e in data["laps"]]
    assert drivers.count("alice") == 60 and drivers.count("bob") == 60      # invalid laps dropped
    assert all(e["lap_time_s"] >= 40 for e in data["laps"])


def test_corrupt_board_is_kept_aside_and_cli_prints(tmp_path, monkeypatch, capsys):
    path = leaderboard.board_path("ring.png", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{ not json")
    leaderboard.add_laps("ring.png", "expert", [{"time_s": 12.3456, "valid": True, "sectors_s": [4, 4, 4.3]}],
                         "expert", root=tmp_path)
    assert list(path.parent.glob("ring.corrupt-*.json"))
    leaderboard.add_race("ring.png", 2, [{"position": 1, "driver": "AI pro"}, {"position": 2, "driver": "you"}],
                         root=tmp_path)
    monkeypatch.setenv("KARTING_OUTPUTS", str(tmp_path))
    from karting.leaderboard import main
    assert main(["--track", "ring.png"]) == 0
    out = capsys.readouterr().out
    assert "12.346 s" in out and "expert" in out and "1. AI pro, 2. you" in out
