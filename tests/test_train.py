"""The training CLI end to end on the small ring track: outputs, logs, resume, errors."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from karting import train
from karting.rl import trainer
from karting.rl.checkpoint import load_checkpoint
from karting.rl.config import TrainConfig

TINY = ["--vector-envs", "4", "--n-steps", "16", "--batch-size", "32", "--n-epochs", "2",
        "--eval-episodes", "2", "--max-episode-steps", "20"]


def run_train(ring_png, out, *extra):
    return train.main(["--track", str(ring_png), "--output-dir", str(out), "--no-progress",
                       *TINY, *extra])


def scalars(tb_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(tb_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.fixture(scope="module")
def first_run(ring_png, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    rc = run_train(ring_png, out, "--timesteps", "128", "--save-name", "t1",
                   "--checkpoint-freq", "64", "--eval-freq", "64", "--seed", "3")
    return rc, out


def test_a_run_leaves_checkpoints_config_and_tensorboard(first_run):
    rc, out = first_run
    assert rc == 0
    d = out / "checkpoints" / "t1"
    assert sorted(p.name for p in d.iterdir()) == [
        "best.pt", "best.replay", "config.json", "evaluations", "final.pt", "step_000000064.pt", "step_000000128.pt"]
    # every evaluation's laps as a replay (the dashboard's run page lists them)
    evals = sorted(p.name for p in (d / "evaluations").iterdir())
    assert evals and all(x.startswith("step_") and x.endswith(".replay") for x in evals)
    # the best evaluation's attempt, as a replay that re-simulates bit-exactly
    from karting.replay import main as replay_main
    from karting.sim.replay import load
    rep = load(d / "best.replay")
    assert rep.header["source"].startswith("evaluation at ") and rep.karts == 2
    assert replay_main([str(d / "best.replay")]) == 0
    final = load_checkpoint(d / "final.pt")
    assert final["global_step"] == 128 and final["update"] == 2
    assert final["config"]["seed"] == 3 and "optimizer" in final and "reward_scaler" in final
    assert final["model"]["telemetry_norm.count"] > 100          # normaliser saved with it
    from karting.scenario import Scenario                        # and the session it trained in
    sc = Scenario.from_dict(final["scenario"])
    assert sc.num_learners == 4 and sc.max_episode_steps == 20 and sc.tracks[0].endswith(".png")
    tags = scalars(out / "tensorboard" / "t1")
    for tag in ("rollout/ep_rew_mean", "rollout/ep_len_mean", "train/policy_gradient_loss",
                "train/value_loss", "train/entropy_loss", "train/approx_kl", "train/clip_fraction",
                "train/fps", "eval/lap_completion_rate", "eval/mean_reward"):
        assert tag in tags, tag
    assert [s for s, _ in tags["train/approx_kl"]] == [64, 128]
    assert all(np.isfinite(v) for _, v in tags["train/value_loss"])


def test_resume_continues_steps_optimizer_and_normalisation(first_run, ring_png):
    _, out = first_run
    d = out / "checkpoints" / "t1"
    before = load_checkpoint(d / "final.pt")
    rc = run_train(ring_png, out, "--timesteps", "192", "--save-name", "t1",
                   "--resume-from", str(d / "final.pt"), "--checkpoint-freq", "64", "--eval-freq", "0")
    assert rc == 0
    after = load_checkpoint(d / "final.pt")
    assert after["global_step"] == 192 and after["update"] == 3
    steps = lambda c: {int(s["step"]) for s in c["optimizer"]["state"].values()}  # noqa: E731
    # Adam's step counter continued: 2 updates x 2 epochs x 2 minibatches, then 1 more update
    assert steps(before) == {8} and steps(after) == {12}
    n_valid_first = before["model"]["telemetry_norm.count"].item()
    assert after["model"]["telemetry_norm.count"].item() > n_valid_first
    assert (d / "step_000000192.pt").exists()
    tags = scalars(out / "tensorboard" / "t1")
    assert [s for s, _ in tags["train/approx_kl"]] == [64, 128, 192]


def test_an_exported_model_is_small_loads_and_fine_tunes_with_a_fresh_optimizer(first_run, ring_png, tmp_path,
                                                                                 capsys):
    from karting.rl.checkpoint import export_model, load_agent
    _, out = first_run
    src = out / "checkpoints" / "t1" / "final.pt"
    dst = export_model(src, tmp_path / "shipped.pt", note={"command": "python -m karting.train ..."})
    full, slim = load_checkpoint(src), load_checkpoint(dst)
    assert "optimizer" not in slim and "train_model" not in slim and "torch_rng" not in slim
    assert slim["export_note"]["command"].startswith("python -m karting.train")
    assert dst.stat().st_size < 0.5 * src.stat().st_size
    assert all(torch.equal(full["model"][k], slim["model"][k]) for k in full["model"])
    agent, cfg, _ = load_agent(dst)
    assert cfg.to_dict() == full["config"]
    rc = run_train(ring_png, tmp_path, "--timesteps", str(slim["global_step"] + 64), "--save-name", "ft",
                   "--resume-from", str(dst), "--eval-freq", "0")
    assert rc == 0
    assert "fine-tuning with a fresh optimizer" in capsys.readouterr().out
    ft = load_checkpoint(tmp_path / "checkpoints" / "ft" / "final.pt")
    assert ft["global_step"] == slim["global_step"] + 64
    assert {int(s["step"]) for s in ft["optimizer"]["state"].values()} == {4}   # Adam started afresh


def test_a_fine_tune_can_train_its_critic_first(first_run, ring_png, tmp_path):
    """--value-warmup K: the first K updates of a fine-tune train only the value head (a new
    reward, e.g. races, meets a critic that never saw it): the driving weights come out as they
    went in, the critic's do not."""
    from karting.rl.checkpoint import export_model
    _, out = first_run
    dst = export_model(out / "checkpoints" / "t1" / "final.pt", tmp_path / "shipped.pt")
    slim = load_checkpoint(dst)
    assert run_train(ring_png, tmp_path, "--timesteps", str(slim["global_step"] + 128), "--save-name", "vw",
                     "--resume-from", str(dst), "--eval-freq", "0", "--value-warmup", "2") == 0
    ft = load_checkpoint(tmp_path / "checkpoints" / "vw" / "final.pt")
    assert ft["update"] == slim["update"] + 2
    policy = [k for k in slim["model"] if not k.startswith(("critic.", "telemetry_norm."))]
    assert policy and all(torch.equal(slim["model"][k], ft["model"][k]) for k in policy)
    assert any(not torch.equal(slim["model"][k], ft["model"][k]) for k in slim["model"] if k.startswith("critic."))


def test_resume_with_another_architecture_is_refused(first_run, ring_png, capsys):
    _, out = first_run
    rc = run_train(ring_png, out, "--timesteps", "256", "--save-name", "t1", "--frame-stack", "2",
                   "--resume-from", str(out / "checkpoints" / "t1" / "final.pt"))
    assert rc == 2
    assert "--frame-stack 1, cannot continue with --frame-stack 2" in capsys.readouterr().err


def test_an_existing_run_is_not_overwritten_by_accident(first_run, ring_png, capsys):
    _, out = first_run
    d = out / "checkpoints" / "t1"
    before = {p.name: p.stat().st_mtime_ns for p in d.iterdir()}
    rc = run_train(ring_png, out, "--timesteps", "64", "--save-name", "t1")
    assert rc == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume-from" in err and "--overwrite" in err
    assert {p.name: p.stat().st_mtime_ns for p in d.iterdir()} == before


@pytest.mark.parametrize("args,match", [
    (["--timesteps", "0"], "--timesteps must be >= 1"),
    (["--save-name", "../x"], "--save-name must be a plain name"),
    (["--track", "nowhere.png"], "no such track file"),
    (["--resume-from", "missing.pt"], "no such model file"),
    (["--opponents", "2", "--difficulty", "legend"], "unknown difficulty"),
    (["--self-play", "3", "--vector-envs", "4"], "must be a multiple of --self-play"),
    (["--max-minutes", "0"], "--max-minutes must be a positive number"),
    (["--max-minutes", "nan"], "--max-minutes must be a positive number"),
    (["--eval-weather", "dry,monsoon"], "--eval-weather"),
])
def test_bad_arguments_get_clear_errors(ring_png, tmp_path, capsys, args, match):
    argv = ["--track", str(ring_png), "--output-dir", str(tmp_path), "--no-progress", *TINY, *args]
    assert train.main(argv) == 2
    assert match in capsys.readouterr().err


def test_max_minutes_stops_the_run_early_with_a_final_evaluation(ring_png, tmp_path):
    rc = run_train(ring_png, tmp_path, "--timesteps", "1e9", "--max-minutes", "0.0001",
                   "--save-name", "wall")
    assert rc == 0
    final = load_checkpoint(tmp_path / "checkpoints" / "wall" / "final.pt")
    assert 64 <= final["global_step"] < 1e9            # one update, then the wall budget ended it
    assert final["eval"] is not None and "completion_rate" in final["eval"]


def test_help_explains_every_flag_with_units(capsys):
    with pytest.raises(SystemExit):
        train.main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--track", "--timesteps", "--vector-envs", "--save-name", "--learning-rate",
                 "--ent-coef", "--resume-from", "--checkpoint-freq", "--seed", "--device",
                 "--n-steps", "--batch-size", "--n-epochs", "--frame-stack", "--precision"):
        assert flag in out, flag
    assert "[steps]" in out and "[samples]" in out


def test_numbers_in_scientific_notation_parse():
    import argparse
    from karting.rl.config import add_arguments, from_args
    ns = add_arguments(argparse.ArgumentParser()).parse_args(["--timesteps", "1e5"])
    assert from_args(ns).timesteps == 100_000
    with pytest.raises(ValueError, match="--n-epochs"):
        TrainConfig(n_epochs=0)


def test_several_tracks_and_frame_stack(ring_png, tmp_path):
    from conftest import draw_ring
    other = draw_ring(tmp_path / "wide.png", size=(360, 220), radii=(150, 85))
    summary = trainer.train(TrainConfig(track=f"{ring_png},{other}", timesteps=96, vector_envs=3,
                                      n_steps=16, batch_size=24, n_epochs=1, frame_stack=2,
                                      eval_episodes=2, eval_freq=0, output_dir=str(tmp_path),
                                      save_name="multi"), progress=False)
    assert summary["global_step"] == 96
    ev = load_checkpoint(tmp_path / "checkpoints" / "multi" / "final.pt")
    assert ev["model"]["vision.0.weight"].shape[1] == 6


def test_training_in_traffic_with_self_play_and_a_league(ring_png, tmp_path):
    """Two learners per race, one league kart (a past self) and one rookie; evaluation races."""
    summary = trainer.train(TrainConfig(track=str(ring_png), timesteps=128, vector_envs=4, n_steps=16,
                                      batch_size=32, n_epochs=1, eval_episodes=2, opponents="1",
                                      difficulty="rookie", self_play=2, league=1, league_every=64,
                                      output_dir=str(tmp_path), save_name="traffic"), progress=False)
    assert summary["global_step"] == 128
    race = summary["eval"]["race"]
    assert race["karts"] == 2 and 1 <= race["mean_position"] <= 2 and race["difficulty"] == "rookie"   # vs the AI


def test_bfloat16_training_runs_and_stays_finite(ring_png, tmp_path):
    summary = trainer.train(TrainConfig(track=str(ring_png), timesteps=64, vector_envs=4, n_steps=16,
                                      batch_size=32, n_epochs=2, precision="bfloat16", eval_episodes=2,
                                      output_dir=str(tmp_path), save_name="bf16"), progress=False)
    data = load_checkpoint(Path(summary["final"]))
    assert all(torch.isfinite(v).all() for v in data["model"].values() if v.is_floating_point())
    assert data["model"]["vision.0.weight"].dtype == torch.float32    # master weights stay float32


def start_long_run(ring_png, tmp_path, name, periodic=3):
    """A training subprocess writing a checkpoint every update, once it has written a few."""
    d = tmp_path / "checkpoints" / name
    cmd = [sys.executable, "-m", "karting.train", "--track", str(ring_png), "--output-dir",
           str(tmp_path), "--no-progress", "--save-name", name, *TINY,
           "--timesteps", "100000", "--checkpoint-freq", "64", "--eval-freq", "0"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
           "PYTHONFAULTHANDLER": "1"}       # SIGABRT dumps every thread's stack (see below)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while len(list(d.glob("step_*.pt"))) < periodic and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    return proc, d


def test_ctrl_c_saves_final_and_exits_130(ring_png, tmp_path):
    proc, d = start_long_run(ring_png, tmp_path, "interrupted", periodic=1)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=180)   # generous: CI machines are shared
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)           # where it hangs, for the report
        out, err = proc.communicate()
        pytest.fail("no exit 180 s after Ctrl-C; the run's threads:\n" + err.decode()[-4000:])
    assert proc.returncode == 130, err.decode()[-2000:]
    assert b"interrupted at step" in out
    assert b"no evaluation ran" in out and b"lap completion 0%" not in out     # --eval-freq 0
    final = load_checkpoint(d / "final.pt")
    assert 0 < final["global_step"] < 100000


def test_the_first_ctrl_c_asks_to_stop_the_second_stops_at_once():
    before = signal.getsignal(signal.SIGINT)
    stop = trainer.GracefulStop()
    with stop:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert stop.requested                       # no KeyboardInterrupt mid-update
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)
    assert signal.getsignal(signal.SIGINT) is before


def test_a_run_killed_at_any_moment_leaves_loadable_checkpoints(ring_png, tmp_path):
    """SIGKILL while checkpoints are being written every update: every .pt left loads."""
    proc, d = start_long_run(ring_png, tmp_path, "killed")
    time.sleep(0.13)                                  # somewhere in the middle of the next step
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    periodic = sorted(d.glob("step_*.pt"))
    assert len(periodic) >= 3, proc.stderr.read().decode()[-2000:]
    for p in periodic:
        load_checkpoint(p)
    assert not list(d.glob("*.tmp")) or all(p.name.startswith(".") for p in d.glob("*.tmp"))


def test_precision_auto_follows_the_hardware(monkeypatch):
    import karting.rl.config as config
    monkeypatch.setattr(config, "native_bfloat16", lambda device="cpu": True)
    assert TrainConfig().resolved_precision() == "bfloat16"
    assert TrainConfig().bfloat16()
    assert not TrainConfig(precision="float32").bfloat16()
    monkeypatch.setattr(config, "native_bfloat16", lambda device="cpu": False)
    assert not TrainConfig().bfloat16()


def test_weight_average_drives_evaluations_and_checkpoints(ring_png, tmp_path):
    from karting.rl.policy import Agent
    agent = Agent()
    avg = trainer.WeightAverage(agent, decay=0.9)
    w0 = agent.actor[0].weight.detach().clone()
    with torch.no_grad():
        for p in agent.parameters():
            p.add_(1.0)
        agent.telemetry_norm.count.fill_(42.0)
    avg.update(agent)                       # first update: decay min(0.9, 1/10) = 0.1
    assert torch.allclose(avg.model.actor[0].weight, 0.1 * w0 + 0.9 * (w0 + 1.0), atol=1e-6)
    assert avg.model.telemetry_norm.count.item() == 42.0          # buffers copied, not averaged
    avg.update(agent)
    assert avg.k == 2 and torch.allclose(avg.model.actor[0].weight, w0 + 1.0 - 0.1 * 2 / 11, atol=1e-5)
    short = trainer.WeightAverage(agent, decay=0.9, warmup=2)     # --policy-ema-warmup 2: decay 1/2, 2/3, ...
    with torch.no_grad():
        agent.actor[0].weight.add_(1.0)
    short.update(agent)
    assert torch.allclose(short.model.actor[0].weight, w0 + 1.5, atol=1e-6)
    with pytest.raises(ValueError, match="policy-ema-warmup"):
        TrainConfig(policy_ema_warmup=1)

    # in a run: best.pt/final.pt drive the average, the raw weights ride along for resuming
    assert run_train(ring_png, tmp_path, "--timesteps", "128", "--save-name", "ema", "--eval-freq", "64",
                     "--policy-ema", "0.9") == 0
    d = tmp_path / "checkpoints" / "ema"
    final = load_checkpoint(d / "final.pt")
    diff = max((final["model"][k] - final["train_model"][k]).abs().max().item()
               for k in final["model"] if final["model"][k].is_floating_point() and "norm" not in k)
    assert diff > 0
    from karting.rl.checkpoint import load_agent
    agent2, _, _ = load_agent(d / "final.pt")                    # play/benchmark load the average
    assert torch.equal(agent2.actor[0].weight, final["model"]["actor.0.weight"])
    assert run_train(ring_png, tmp_path, "--timesteps", "192", "--save-name", "ema", "--eval-freq", "0",
                     "--policy-ema", "0.9", "--resume-from", str(d / "final.pt")) == 0
    after = load_checkpoint(d / "final.pt")
    assert after["update"] == 3 and "train_model" in after


def test_bc_coef_labels_training_states_with_the_expert(ring_png, tmp_path):
    """--bc-coef: the expert labels every rollout state and the BC term is logged (decaying)."""
    with pytest.raises(ValueError, match="--bc-coef"):
        TrainConfig(bc_coef=-1)
    with pytest.raises(ValueError, match="does not combine with --opponents"):
        TrainConfig(bc_coef=0.5, opponents="1")
    out = tmp_path / "o"
    assert run_train(ring_png, out, "--timesteps", "128", "--save-name", "bcc", "--eval-freq", "0",
                     "--bc-coef", "1.0", "--bc-coef-decay", "0.5") == 0
    s = scalars(out / "tensorboard" / "bcc")
    assert "train/bc_loss" in s and len(s["train/bc_loss"]) == 2
    assert all(np.isfinite(v) and v >= 0 for _, v in s["train/bc_loss"])
    # --bc-brake-weight reaches the update (and the run's config); the loss stays a finite mean
    assert run_train(ring_png, out, "--timesteps", "128", "--save-name", "bcw", "--eval-freq", "0",
                     "--bc-coef", "1.0", "--bc-brake-weight", "5") == 0
    assert load_checkpoint(out / "checkpoints" / "bcw" / "final.pt")["config"]["bc_brake_weight"] == 5.0
    assert all(np.isfinite(v) and v >= 0 for _, v in scalars(out / "tensorboard" / "bcw")["train/bc_loss"])


def test_the_overspeed_penalty_shapes_the_trained_reward_only(ring_png, tmp_path):
    """--overspeed-penalty W: a step's stored reward loses W x the expert's overspeed / 20 Hz; the
    episode statistics keep the env's reward; refused without the expert's labels; logged."""
    from karting.env import KartingVectorEnv
    from karting.rl.buffer import RolloutBuffer
    from karting.rl.episodes import EpisodeStats
    from karting.rl.policy import Agent
    with pytest.raises(ValueError, match="needs the expert's labels"):
        TrainConfig(overspeed_penalty=10.0)
    with pytest.raises(ValueError, match="--overspeed-penalty must be"):
        TrainConfig(overspeed_penalty=-1.0, bc_coef=1.0)

    class Over:          # an expert whose karts are all 0.5 over its speed
        def refresh(self):
            pass

        def act(self):
            return np.zeros((4, 2), np.float32)

        def overspeed(self):
            return np.full(4, 0.5)

    def rollout(weight):
        env = KartingVectorEnv(ring_png, num_envs=4, max_episode_steps=20)
        obs, _ = env.reset(seed=0)
        torch.manual_seed(0)
        buf = RolloutBuffer(48, 4, env.single_observation_space, expert_actions=True)
        stats = EpisodeStats(4, env.track_lengths)
        shaping = {}
        trainer.collect_rollout(env, obs, Agent(), buf, stats, None, "cpu", {"env": 0.0, "policy": 0.0}, 0,
                                time.perf_counter(), Over(), weight, shaping)
        env.close()
        return buf.rewards.copy(), list(stats.returns), shaping
    plain, returns, none = rollout(0.0)
    shaped, shaped_returns, took = rollout(40.0)
    assert np.allclose(plain - shaped, 40.0 * 0.5 / 20)
    assert len(returns) >= 8 and returns == shaped_returns and none == {}
    assert 0 < took["steps"] < 48 * 4                    # the autoreset steps are no kart's: not counted
    assert took["overspeed"] == pytest.approx(took["steps"] * 40.0 * 0.5 / 20)
    out = tmp_path / "o"
    assert run_train(ring_png, out, "--timesteps", "128", "--save-name", "osp", "--eval-freq", "0",
                     "--bc-coef", "1.0", "--overspeed-penalty", "20") == 0
    logged = scalars(out / "tensorboard" / "osp")["train/overspeed_penalty_per_s"]
    assert len(logged) == 2 and all(np.isfinite(v) and v >= 0 for _, v in logged)


def test_the_policy_noise_anneals_under_its_bound(ring_png, tmp_path):
    """--log-std-final: after each update the log std is under the bound that moves from
    --log-std-init to --log-std-final over --timesteps; the bound is refused above the start."""
    cfg = TrainConfig(log_std_init=-1.0, log_std_final=-2.0, timesteps=1000)
    assert [cfg.log_std_cap(s) for s in (0, 500, 1000, 5000)] == [-1.0, -1.5, -2.0, -2.0]
    assert TrainConfig().log_std_cap(10 ** 6) == float("inf")               # off by default
    with pytest.raises(ValueError, match="--log-std-final must be <= --log-std-init"):
        TrainConfig(log_std_init=-1.0, log_std_final=-0.5)
    assert run_train(ring_png, tmp_path, "--timesteps", "128", "--save-name", "anneal", "--eval-freq", "0",
                     "--log-std-init", "-1", "--log-std-final", "-3", "--policy-ema", "0") == 0
    final = load_checkpoint(tmp_path / "checkpoints" / "anneal" / "final.pt")
    assert final["global_step"] == 128
    assert final["model"]["log_std"].max().item() <= -3.0 + 1e-6            # the bound at --timesteps
    s = scalars(tmp_path / "tensorboard" / "anneal")
    assert s["train/std"][-1][1] < s["train/std"][0][1]                      # logged, shrinking


def test_reward_terms_change_from_the_command_line(ring_png, tmp_path):
    """--reward crash_penalty=200: the training env's reward has it (stored in the checkpoint's
    scenario); unknown terms and out-of-range values are refused with the known names."""
    from karting.rl.config import parse_reward
    assert parse_reward(" crash_penalty=200 , pay_off_track_progress=true") == {
        "crash_penalty": 200.0, "pay_off_track_progress": True}
    assert parse_reward("") == {}
    for bad, match in (("crash=3", "a name of checkpoint_bonus"), ("crash_penalty=-1", ">= 0"),
                       ("max_stall_s=0", "> 0"), ("lap_bonus=nan", ">= 0"), ("pay_off_track_progress=2", "true")):
        with pytest.raises(ValueError, match=f"--reward.*{match}"):
            TrainConfig(reward=bad)
    assert TrainConfig(reward="crash_penalty=200").scenario([ring_png]).reward.crash_penalty == 200.0
    assert run_train(ring_png, tmp_path, "--timesteps", "64", "--save-name", "rw", "--eval-freq", "0",
                     "--reward", "crash_penalty=200") == 0
    final = load_checkpoint(tmp_path / "checkpoints" / "rw" / "final.pt")
    assert final["scenario"]["reward"]["crash_penalty"] == 200.0
