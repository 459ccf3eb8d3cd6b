"""Evaluation: lap counting with a driver that can lap, the play CLI's outputs and errors."""
import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from karting import play
from karting.rl import evaluate as evaluation
from karting.rl.checkpoint import save_checkpoint
from karting.rl.config import TrainConfig
from karting.sim.expert import PurePursuit
from karting.rl.policy import Agent
from karting.telemetry import load


class ExpertAgent:
    """Stands in for a trained network: the scripted expert reading the env's state."""

    def __init__(self, env):
        self.env, self.expert = env, PurePursuit(env.track)

    def get_action_and_value(self, vision, telemetry, action=None, deterministic=False):
        b = self.env.batch
        a = torch.as_tensor(self.expert.act(b.state, b.idx))
        z = torch.zeros(len(a))
        return a, z, z, z


def test_evaluate_counts_laps_sectors_and_completion(ring_track):
    cfg = TrainConfig(max_episode_steps=600)
    env = evaluation.make_eval_env(ring_track, 3, cfg, laps=2)
    results, end_step = evaluation.evaluate(ExpertAgent(env), env, laps=2, seed=0)
    env.close()
    assert len(results) == 3
    for r in results:
        assert r.completed and r.end == "laps done" and len(r.laps) == 2
        first, second = r.laps
        assert first["valid"] and second["valid"]
        assert second["time_s"] < first["time_s"]            # a flying lap beats a standing start
        assert abs(sum(second["sectors_s"]) - second["time_s"]) < 0.06
        assert r.steps == end_step[results.index(r)]
    s = evaluation.summarize(results)
    assert s["completion_rate"] == 1.0 and s["valid_lap_rate"] == 1.0
    assert s["best_lap_time"] == min(r.laps[1]["time_s"] for r in results)
    assert s["mean_lap_time"] == pytest.approx(np.mean([lap["time_s"] for r in results for lap in r.laps]))


def test_evaluate_reports_why_an_episode_ended(ring_track):
    class Parked:
        def get_action_and_value(self, v, t, action=None, deterministic=False):
            z = torch.zeros(len(v))
            return torch.tensor([[1.0, 1.0]]).repeat(len(v), 1), z, z, z    # full lock, full throttle
    env = evaluation.make_eval_env(ring_track, 2, TrainConfig(max_episode_steps=400))
    results, _ = evaluation.evaluate(Parked(), env)
    env.close()
    assert not any(r.completed for r in results)
    assert all(r.end in ("hit the tyre wall", "off the track for 3 s", "wrong way", "went backwards",
                         "stalled (no progress for 5 s)") for r in results), [r.end for r in results]
    assert evaluation.summarize(results)["completion_rate"] == 0.0


def untrained_model(path, track):
    torch.manual_seed(0)
    cfg = TrainConfig(track=str(track), max_episode_steps=60)
    return save_checkpoint(path, {"model": Agent(log_std_init=cfg.log_std_init).state_dict(),
                                  "config": cfg.to_dict(), "global_step": 0})


def test_play_writes_video_telemetry_and_a_table(ring_png, tmp_path, capsys):
    model = untrained_model(tmp_path / "m.pt", ring_png)
    video, csv = tmp_path / "lap.mp4", tmp_path / "play.csv"
    rc = play.main(["--model", str(model), "--episodes", "2", "--video", str(video),
                    "--telemetry", str(csv)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "episode 1:" in out and "episode 2:" in out and "completion 0% (0/2)" in out
    df = load(csv)
    assert sorted(df["env"].unique()) == [0, 1] and (df["episode"] == 0).all()
    assert df.groupby("env")["step"].max().max() <= 60
    frames = imageio.mimread(video, memtest=False)
    assert frames[0].shape == (320, 1056, 3) and len(frames) == df[df["env"] == 0]["step"].max()
    # the first-person panel is the observation the network saw, scaled 3x
    fp = frames[0][34:34 + 252, 2:2 + 252]
    assert fp.std() > 10


def test_play_errors_are_messages(ring_png, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    assert play.main(["--model", str(bad)]) == 2
    assert "truncated/corrupted" in capsys.readouterr().err
    model = untrained_model(tmp_path / "m.pt", ring_png)
    assert play.main(["--model", str(model), "--track", str(tmp_path / "none.png")]) == 2
    assert "no such track file" in capsys.readouterr().err


def test_multitrack_env_puts_kart_i_on_track_i_mod_k(ring_png, tmp_path):
    from conftest import draw_ring

    from karting.env import KartingVectorEnv
    other = draw_ring(tmp_path / "wide.png", size=(360, 220), radii=(150, 85))
    envs = KartingVectorEnv([ring_png, other], 3, random_start=False)
    obs, info = envs.reset(seed=0)
    assert obs["vision"].shape == (3, 84, 84, 3)
    lengths = envs.track_lengths
    assert lengths[0] == lengths[2] != lengths[1]
    assert list(envs.assignment) == [0, 1, 0]
    solo = KartingVectorEnv(other, num_envs=1, random_start=False)
    solo.reset(seed=0)
    assert np.allclose(envs.batch.state.x[1], solo.batch.state.x[0], atol=1.0)   # on the line
    obs, r, term, trunc, info = envs.step(np.tile([0.0, 1.0], (3, 1)))
    assert r.shape == term.shape == info["progress"].shape == (3,)
    envs.close()
    solo.close()
