"""SAC (--algo sac): augmentation, the squashed Gaussian, the replay buffer's frame stacks and
n-step returns against the env itself, one update, and a SAC model that trains, resumes, plays,
races and takes the benchmark as a PPO model does."""
import json

import numpy as np
import pytest
import torch
from torch.distributions import Normal, TanhTransform, TransformedDistribution

from karting import play, race, train
from karting.env import KartingVectorEnv
from karting.env.spec import observation_space
from karting.generalisation import main as benchmark_main
from karting.rl.checkpoint import CheckpointError, load_agent, load_checkpoint
from karting.rl.config import TrainConfig
from karting.rl.sac import (ReplayBuffer, SACAgent, SACSettings, make_optimizers, random_shift, replay_bytes,
                            sac_update, squash)

TINY = ["--algo", "sac", "--vector-envs", "4", "--n-steps", "16", "--batch-size", "32", "--eval-episodes", "2",
        "--max-episode-steps", "40", "--learning-starts", "64", "--buffer-size", "2000", "--utd-ratio", "0.5"]


def test_random_shift_moves_each_image_by_its_own_offset_within_the_pad():
    h = w = 84
    img = torch.zeros((64, h, w, 3), dtype=torch.uint8)
    img[..., 0] = torch.arange(h, dtype=torch.uint8)[None, :, None]      # row index in red
    img[..., 1] = torch.arange(w, dtype=torch.uint8)[None, None, :]      # column index in green
    out = random_shift(img, 4, torch.Generator().manual_seed(0))
    assert out.dtype == torch.uint8 and out.shape == img.shape
    dy = out[:, 42, 42, 0].int() - 42
    dx = out[:, 42, 42, 1].int() - 42
    assert dy.abs().max() <= 4 and dx.abs().max() <= 4 and len(set(zip(dy.tolist(), dx.tolist()))) > 20
    for i in range(64):       # a pure shift, the border rows repeated (replicate padding)
        rows = (torch.arange(h) + dy[i]).clamp(0, h - 1)
        cols = (torch.arange(w) + dx[i]).clamp(0, w - 1)
        assert torch.equal(out[i, :, :, 0], rows[:, None].expand(h, w).to(torch.uint8))
        assert torch.equal(out[i, :, :, 1], cols[None, :].expand(h, w).to(torch.uint8))
    assert random_shift(img, 0) is img


def test_the_squashed_gaussian_log_prob_is_the_tanh_transformed_one():
    g = torch.Generator().manual_seed(1)
    mean, log_std = torch.randn(500, 2, generator=g) * 2, torch.randn(500, 2, generator=g) * 0.5 - 1
    a, logp = squash(mean, log_std, generator=g)
    ref = TransformedDistribution(Normal(mean, log_std.exp()), TanhTransform()).log_prob(a.clamp(-0.999999, 0.999999))
    ok = a.abs().max(-1).values < 0.999          # away from the edge float32 atanh loses digits
    assert ok.sum() > 300
    assert torch.allclose(logp[ok], ref.sum(-1)[ok], atol=2e-3)
    det, _ = squash(mean, log_std, deterministic=True)
    assert torch.equal(det, torch.tanh(mean)) and a.abs().max() <= 1


def drive(env, steps, seed=0, rng=None):
    """Random driving with next-step autoreset: every observation, action, reward, end and the
    valid mask as the trainer sees them."""
    rng = rng or np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    log = {"obs": [obs], "act": [], "rew": [], "term": [], "trunc": [], "valid": []}
    valid = np.ones(env.num_envs, bool)
    for _ in range(steps):
        a = rng.uniform(-1, 1, (env.num_envs, 2)).astype(np.float32)
        a[:, 1] = np.abs(a[:, 1])                 # mostly forward: episodes end in several ways
        obs, r, term, trunc, _ = env.step(a)
        for k, v in zip(("act", "rew", "term", "trunc", "valid"), (a, r, term, trunc, valid.copy())):
            log[k].append(v)
        log["obs"].append(obs)
        valid = ~(term | trunc)
    return log


def fill(buf, log):
    buf.add_obs(log["obs"][0], np.ones(len(log["act"][0]), bool))
    for t in range(len(log["act"])):
        buf.add_step(log["act"][t], log["rew"][t], log["term"][t], log["trunc"][t], log["valid"][t])
        buf.add_obs(log["obs"][t + 1], ~log["valid"][t])


def test_replay_frame_stacks_are_the_env_observations_and_n_step_returns_are_exact(ring_png):
    """Frames are stored once; the stack gathered for any row equals what the env returned there
    (across episode starts and the ring's wrap), and the n-step sum, discount and bootstrap
    observation agree with a sum over the logged steps."""
    env = KartingVectorEnv(str(ring_png), num_envs=3, frame_stack=3, max_episode_steps=17)
    log = drive(env, 90)
    env.close()
    steps = len(log["act"])
    assert sum(t.sum() for t in log["trunc"]) >= 3           # episodes ended and restarted
    buf = ReplayBuffer(3 * 60, 3, env.single_observation_space, frame_stack=3)
    assert buf.frames.shape == (60, 3, 84, 84, 3)            # one frame per row, not three, not two observations
    fill(buf, log)
    assert buf.t == steps + 1 - 1 and len(buf) == 59 * 3
    lo = buf.t - buf.rows + buf.k
    rows = np.repeat(np.arange(lo, buf.t), 3)
    envs = np.tile(np.arange(3), buf.t - lo)
    got = buf.stack(rows, envs)
    want = np.stack([log["obs"][r]["vision"][e] for r, e in zip(rows, envs)])
    assert np.array_equal(got, want)
    gamma, n = 0.9, 4
    batch = buf.sample(256, n, gamma, np.random.default_rng(0))
    assert batch["vision"].shape == (256, 84, 84, 9)
    # find each sample's row by its telemetry and action, then recompute its return from the log
    checked = 0
    for b in range(256):
        hit = [(r, e) for r in range(lo, buf.t - n) for e in range(3)
               if np.array_equal(log["act"][r][e], batch["actions"][b])]
        assert len(hit) == 1
        r, e = hit[0]
        assert log["valid"][r][e]
        ret, disc, j = 0.0, 1.0, 0
        while True:
            ret += disc * log["rew"][r + j][e]
            disc *= gamma
            if log["term"][r + j][e] or log["trunc"][r + j][e] or j == n - 1:
                break
            j += 1
        assert batch["reward"][b] == pytest.approx(ret, rel=1e-5, abs=1e-5)
        assert batch["discount"][b] == pytest.approx(0.0 if log["term"][r + j][e] else disc)
        assert np.array_equal(batch["next_vision"][b], log["obs"][r + j + 1]["vision"][e])
        assert np.array_equal(batch["next_telemetry"][b], log["obs"][r + j + 1]["telemetry"][e])
        checked += bool(log["trunc"][r + j][e] or log["term"][r + j][e])
    assert checked > 0                                       # some returns were cut by an episode end


def test_replay_memory_is_one_frame_a_transition():
    space = observation_space(1, 1, False)
    per = replay_bytes(100_000, space) / 100_000
    assert 84 * 84 * 3 <= per < 84 * 84 * 3 * 1.03          # frames once: ~21 KB, not 42 KB (obs + next obs)
    buf = ReplayBuffer(1000, 4, observation_space(4, 1, False), frame_stack=4)
    assert buf.nbytes <= replay_bytes(1000, space) and buf.frames.nbytes == 1000 * 84 * 84 * 3


def test_a_buffer_that_does_not_fit_in_memory_is_refused_before_training(ring_png, tmp_path, monkeypatch, capsys):
    from karting.rl import trainer
    monkeypatch.setattr(trainer, "available_bytes", lambda: 2 * 2 ** 30)
    assert train.main(["--track", str(ring_png), "--output-dir", str(tmp_path), "--no-progress", *TINY,
                       "--buffer-size", "100000", "--timesteps", "64"]) == 2
    err = capsys.readouterr().err
    assert "--buffer-size 100,000 needs 2.0 GiB of memory and 2.0 GiB is available: lower --buffer-size" in err


def test_sac_updates_fit_the_critic_tune_the_temperature_and_move_the_target_slowly():
    torch.manual_seed(0)
    agent = SACAgent()
    opt = make_optimizers(agent, 1e-3)
    b = 32
    g = torch.Generator().manual_seed(0)
    batch = {"vision": torch.randint(0, 255, (b, 84, 84, 3), dtype=torch.uint8, generator=g),
             "telemetry": torch.randn(b, 9, generator=g), "actions": torch.rand(b, 2, generator=g) * 2 - 1,
             "reward": torch.randn(b, generator=g), "discount": torch.zeros(b)}
    batch.update(next_vision=batch["vision"], next_telemetry=batch["telemetry"])
    target0 = [p.clone() for p in agent.target.parameters()]
    online0 = [p.clone() for p in agent.critic_parameters()]
    s = SACSettings(tau=0.05, augment=0)
    first = sac_update(agent, opt, batch, s, generator=g)
    for _ in range(40):
        last = sac_update(agent, opt, batch, s, generator=g)
    assert last["critic_loss"] < 0.3 * first["critic_loss"]       # discount 0: Q fits the rewards
    # entropy above the target (-2) -> the temperature falls
    assert last["entropy"] > -2 and last["ent_coef"] < first["ent_coef"]
    moved_t = sum((p - q).abs().sum() for p, q in zip(agent.target.parameters(), target0))
    moved_o = sum((p - q).abs().sum() for p, q in zip(agent.critic_parameters(), online0))
    assert 0 < moved_t < moved_o                                   # Polyak: behind the online weights
    assert all(not p.requires_grad for p in agent.target.parameters())


def test_sac_flags_are_checked(ring_png, tmp_path, capsys):
    for args, msg in [(["--bc", "expert"], "--bc: PPO only"), (["--utd-ratio", "0"], "--utd-ratio must be"),
                      (["--critic", "privileged"], "PPO only"), (["--buffer-size", "10"], "too small")]:
        assert train.main(["--track", str(ring_png), "--output-dir", str(tmp_path), "--no-progress",
                           *TINY, *args]) == 2
        assert msg in capsys.readouterr().err


@pytest.fixture(scope="module")
def sac_run(ring_png, tmp_path_factory):
    out = tmp_path_factory.mktemp("sac")
    rc = train.main(["--track", str(ring_png), "--output-dir", str(out), "--no-progress", *TINY,
                     "--timesteps", "256", "--save-name", "s1", "--checkpoint-freq", "128", "--eval-freq", "128",
                     "--seed", "2"])
    return rc, out, out / "checkpoints" / "s1"


def test_a_sac_run_leaves_checkpoints_tensorboard_and_a_model_that_loads(sac_run):
    rc, out, d = sac_run
    assert rc == 0
    assert {"best.pt", "final.pt", "step_000000128.pt", "step_000000256.pt", "config.json"} <= {
        p.name for p in d.iterdir()}
    ck = load_checkpoint(d / "final.pt")
    assert ck["config"]["algo"] == "sac" and ck["global_step"] == 256
    # 4 karts x 0.5 updates a step once 64 transitions are held (from step ~80): ~90 updates
    assert 60 < ck["update"] < 128
    assert set(ck["optimizer"]) == {"critic", "actor", "alpha"}
    assert any(k.startswith("target.") for k in ck["model"]) and "log_alpha" in ck["model"]
    agent, cfg, _ = load_agent(d / "final.pt", as_trained=True)
    assert isinstance(agent, SACAgent) and cfg.algo == "sac"
    from tests.test_train import scalars
    tags = scalars(out / "tensorboard" / "s1")
    for tag in ("train/critic_loss", "train/actor_loss", "train/ent_coef", "train/ent_coef_loss",
                "train/n_updates", "eval/lap_completion_rate", "rollout/ep_rew_mean"):
        assert tag in tags, tag
    assert all(np.isfinite(v) for _, v in tags["train/critic_loss"])


def test_a_sac_run_resumes_where_it_stopped(sac_run, ring_png, capsys):
    rc, out, d = sac_run
    before = load_checkpoint(d / "step_000000128.pt")
    assert train.main(["--track", str(ring_png), "--output-dir", str(out), "--no-progress", *TINY,
                       "--timesteps", "384", "--save-name", "s2", "--resume-from", str(d / "step_000000128.pt"),
                       "--eval-freq", "0", "--checkpoint-freq", "128"]) == 0
    text = capsys.readouterr().out
    assert "resumed from" in text and "empty buffer" in text
    after = load_checkpoint(out / "checkpoints" / "s2" / "final.pt")
    assert after["global_step"] == 384 and after["update"] > before["update"]
    step = lambda c: max(int(s["step"]) for s in c["optimizer"]["critic"]["state"].values())  # noqa: E731
    assert step(after) == after["update"] and step(before) == before["update"]     # Adam went on counting
    # resuming with the other algorithm is refused, with the reason
    assert train.main(["--track", str(ring_png), "--output-dir", str(out), "--no-progress", "--timesteps", "512",
                       "--save-name", "s3", "--resume-from", str(d / "final.pt")]) == 2
    assert "trained with --algo sac, cannot continue with --algo ppo" in capsys.readouterr().err
    with pytest.raises(CheckpointError):
        from karting.rl.trainer import _check_resumable
        _check_resumable(TrainConfig(resume_from="x"), after)


def test_a_sac_model_plays_races_and_takes_the_benchmark(sac_run, ring_png, tmp_path, capsys):
    _, _, d = sac_run
    model = str(d / "final.pt")
    assert play.main(["--model", model, "--episodes", "2"]) == 0
    assert "episode 2:" in capsys.readouterr().out
    assert race.main(["--track", str(ring_png), "--model", model, "--opponents", "rookie", "--laps", "1",
                      "--json", str(tmp_path / "r.json")]) == 0
    res = json.loads((tmp_path / "r.json").read_text())["results"]
    assert sorted(r["position"] for r in res) == [1, 2] and any("final.pt" in r["driver"] for r in res)
    assert benchmark_main(["--model", model, "--split", "shipped", "--episodes", "1",
                           "--json", str(tmp_path / "b.json")]) == 0
    rep = json.loads((tmp_path / "b.json").read_text())
    assert rep["rows"] and rep["trained_steps"] == 256


def test_sac_in_bfloat16_trains_finite_and_plays(ring_png, tmp_path, capsys):
    assert train.main(["--track", str(ring_png), "--output-dir", str(tmp_path), "--no-progress", *TINY,
                       "--timesteps", "192", "--eval-freq", "0", "--precision", "bfloat16"]) == 0
    assert "SAC, device cpu, bfloat16" in capsys.readouterr().out
    ck = load_checkpoint(tmp_path / "checkpoints" / "karting_ppo" / "final.pt")
    assert ck["update"] > 20 and all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())
    assert ck["model"]["vision.0.weight"].dtype == torch.float32          # the master weights stay float32
    agent, cfg, _ = load_agent(tmp_path / "checkpoints" / "karting_ppo" / "final.pt", as_trained=True)
    assert agent.fusion[0].weight.dtype == torch.bfloat16
    assert play.main(["--model", str(tmp_path / "checkpoints" / "karting_ppo" / "final.pt"), "--episodes", "1"]) == 0
    assert TrainConfig(algo="sac").resolved_precision() == "float32"      # auto: float32 for SAC


def test_sac_trains_in_traffic_and_with_a_league(ring_png, tmp_path):
    assert train.main(["--track", str(ring_png), "--output-dir", str(tmp_path), "--no-progress", *TINY,
                       "--timesteps", "128", "--eval-freq", "0", "--opponents", "1", "--self-play", "2",
                       "--league", "1", "--league-every", "64", "--eval-episodes", "1"]) == 0
    ck = load_checkpoint(tmp_path / "checkpoints" / "karting_ppo" / "final.pt")
    assert ck["update"] > 0 and ck["scenario"]["mode"] == "race"
