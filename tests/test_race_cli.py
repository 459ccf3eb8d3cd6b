"""python -m karting.race: results table, JSON, race telemetry, video, leaderboard, bad inputs."""
import json

import pandas as pd
import pytest
import torch

from karting import race
from karting.telemetry import leaderboard
from karting.rl.checkpoint import save_checkpoint
from karting.rl.config import TrainConfig
from karting.rl.policy import Agent


def model(path, track, frame_stack=1):
    torch.manual_seed(0)
    cfg = TrainConfig(track=str(track), frame_stack=frame_stack)
    agent = Agent(frame_stack=frame_stack, log_std_init=cfg.log_std_init)
    return save_checkpoint(path, {"model": agent.state_dict(), "config": cfg.to_dict(), "global_step": 0})


def test_race_writes_table_json_telemetry_video_and_leaderboard(ring_png, tmp_path, capsys):
    m = model(tmp_path / "m.pt", ring_png)
    args = ["--track", str(ring_png), "--model", str(m), "--opponents", "rookie,alien", "--laps", "1",
            "--json", str(tmp_path / "r.json"), "--telemetry", str(tmp_path / "r.csv"),
            "--video", str(tmp_path / "r.mp4")]
    assert race.main(args) == 0
    out = capsys.readouterr().out
    assert "Pos  Driver" in out and "AI alien" in out and "m.pt" in out
    res = json.loads((tmp_path / "r.json").read_text())["results"]
    assert [r["position"] for r in res] == [1, 2, 3]
    alien = next(r for r in res if r["driver"] == "AI alien")
    assert alien["status"] == "finished" and alien["laps"] == 1
    df = pd.read_csv(tmp_path / "r.csv")
    assert sorted(df["env"].unique()) == [0, 1, 2]
    assert {"position", "gap_ahead_s", "gap_leader_s", "contact", "race_status"} <= set(df.columns)
    import imageio.v3 as iio
    frames = iio.imread(tmp_path / "r.mp4", index=None)
    assert frames.shape[1:] == (400, 960, 3) and len(frames) > 100
    board = json.loads(leaderboard.board_path(ring_png.name).read_text())
    assert board["races"][-1]["results"][0]["position"] == 1
    assert any(e["driver"] == "AI alien" for e in board["laps"])


@pytest.mark.parametrize("extra, msg", [
    (["--difficulty", "legend", "--opponents", "2"], "unknown difficulty"),
    (["--laps", "0"], "--laps must be >= 1"),
    (["--opponents", "500"], "grid holds"),
    (["--opponents", "0"], "nobody to race"),
])
def test_bad_race_inputs_are_messages(ring_png, extra, msg, capsys):
    assert race.main(["--track", str(ring_png), *extra]) == 2
    assert msg in capsys.readouterr().err


def test_models_with_different_spaces_are_refused(ring_png, tmp_path, capsys):
    a, b = model(tmp_path / "a.pt", ring_png), model(tmp_path / "b.pt", ring_png, frame_stack=4)
    assert race.main(["--track", str(ring_png), "--model", str(a), "--model", str(b)]) == 2
    err = capsys.readouterr().err
    assert "observation spaces differ" in err and "(84, 84, 3)" in err and "(84, 84, 12)" in err
