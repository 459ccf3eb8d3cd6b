"""A driver for any track: generated tracks, the training pool, swapping tracks in a running
env, behaviour cloning from the expert, input ablations, shipped models, the benchmark split."""
import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from karting.track import load_track


# ---------------------------------------------------------------- generated tracks

def test_generated_tracks_are_deterministic_varied_and_load(tmp_path, monkeypatch):
    from karting.track.generate import generate_varied
    from karting.rl.pool import generated_track
    a, ea, ia = generate_varied(11, version=2)        # the pool's version (generated_track's default)
    b, eb, ib = generate_varied(11, version=2)
    assert a.tobytes() == b.tobytes() and ea == eb and ia == ib
    infos = [generate_varied(s)[2] for s in range(12)]
    assert len({i["style"] for i in infos}) >= 3 and len({i["scale_m_per_px"] for i in infos}) >= 2
    assert {i["direction"] for i in infos} == {"clockwise", "counterclockwise"}
    assert all(600 <= i["length_m"] <= 2000 and 7 <= i["width_m"] <= 12 for i in infos)
    png = generated_track(11, root=tmp_path)
    assert png is not None and png.exists() and (png.parent / "expert.json").exists()
    tr = load_track(png)
    assert abs(tr.length - ia["length_m"]) < 0.03 * ia["length_m"]      # what was asked for
    assert json.loads((png.parent / "expert.json").read_text())["completed"] is True
    # stamped: a track made by other generator code is made again, a verdict of other expert code redone
    from karting.rl import pool as pool_mod
    original = png.read_bytes()
    made = json.loads((png.parent / "made.json").read_text())
    assert made["version"] == 2 and made["stamp"] == pool_mod.generator_stamp(2) != pool_mod.generator_stamp(3)
    checks = []
    real = pool_mod.reference_lap
    monkeypatch.setattr(pool_mod, "reference_lap", lambda *a, **k: checks.append(1) or real(*a, **k))
    png.write_bytes(b"damaged on disk")
    assert generated_track(11, root=tmp_path) == png and png.read_bytes() == original and len(checks) == 1
    (png.parent / "made.json").write_text(json.dumps({**made, "stamp": "older"}))
    assert generated_track(11, root=tmp_path) == png and png.read_bytes() == original and len(checks) == 2
    assert json.loads((png.parent / "made.json").read_text()) == made
    assert generated_track(11, root=tmp_path) == png and len(checks) == 2          # both kept now
    verdict = json.loads((png.parent / "expert.json").read_text())
    (png.parent / "expert.json").write_text(json.dumps({**verdict, "key": "older expert"}))
    assert generated_track(11, root=tmp_path) == png and len(checks) == 3


def test_the_pool_never_draws_test_or_validation_seeds_and_replaces_the_oldest(monkeypatch, tmp_path):
    from karting.rl import pool as pool_mod
    drawn = []

    def fake(seed, root=None, check=True, version=2):
        drawn.append(seed)
        return None if seed % 5 == 0 else tmp_path / f"gen_{seed}.png"   # some "not lappable"
    monkeypatch.setattr(pool_mod, "generated_track", fake)
    p = pool_mod.TrackPool(4, seed=3, swap=2, every=10)
    assert len(p.paths) == 4 and all(s % 5 for s in p.seeds) and len(set(p.seeds)) == 4
    first = list(p.seeds)
    assert p.on_episodes(9) == {}
    swapped = p.on_episodes(1)
    assert sorted(swapped) == [0, 1] and p.seeds[2:] == first[2:]          # the two oldest
    assert sorted(p.seeds[:2]) != sorted(first[:2])
    assert sorted(p.on_episodes(10)) == [2, 3]                              # then the next oldest
    assert sorted(p.on_episodes(10)) == [0, 1] and p.replaced == 6
    assert not set(drawn) & set(pool_mod.BENCHMARK_SEEDS + pool_mod.VALIDATION_SEEDS)
    assert max(drawn) < pool_mod.TRAIN_SEED_LIMIT
    again = pool_mod.TrackPool(4, seed=3, swap=2, every=10)
    assert again.seeds == first                                             # seeded


def _straight_into_hairpin_m(c, hairpin_r=8.0, straight_r=150.0, entry_m=40.0):
    """The longest near-straight (radius > straight_r) that ends within entry_m of a hairpin
    (radius < hairpin_r) on the closed centre line ``c`` [m]."""
    from karting.track.geometry import curvature
    step = float(np.linalg.norm(np.diff(c[::2], axis=0), axis=1).mean())
    k = np.abs(curvature(c[::2]))
    n, best = len(k), 0.0
    for h in np.flatnonzero(k > 1.0 / hairpin_r):
        for back in range(int(entry_m / step)):         # the braking zone before the hairpin
            i, run = (h - back) % n, 0
            while k[(i - run) % n] < 1.0 / straight_r and run < n:
                run += 1
            best = max(best, run * step)
    return best


def test_generator_version_3_puts_long_straights_before_hairpins_and_leaves_version_2_alone():
    from karting.track.generate import generate_varied, generate_varied_layout
    v2 = [_straight_into_hairpin_m(generate_varied_layout(s, version=2)[0]) for s in range(20)]
    v3 = [_straight_into_hairpin_m(generate_varied_layout(s, version=3)[0]) for s in range(20)]
    # measured: 5 of seeds 0-19 in version 3 have >= 250 m of straight into a hairpin, none in version 2
    assert sum(x >= 250 for x in v3) >= 3 and sum(x >= 250 for x in v3) > sum(x >= 250 for x in v2)
    a, ea, ia = generate_varied(16, version=3)
    b, eb, ib = generate_varied(16, version=3)
    assert a.tobytes() == b.tobytes() and ia == ib and 600 <= ia["length_m"] <= 2000 and 7 <= ia["width_m"] <= 12


def test_a_pool_draws_from_the_generator_version_it_is_given(monkeypatch, tmp_path):
    from karting.rl import pool as pool_mod
    from karting.rl.config import TrainConfig
    versions = []

    def fake(seed, root=None, check=True, version=2):
        versions.append(version)
        return tmp_path / f"v{version}_{seed}.png"
    monkeypatch.setattr(pool_mod, "generated_track", fake)
    assert all(p.name.startswith("v3_") for p in pool_mod.TrackPool(3, seed=1, generator=3).paths)
    assert set(versions) == {3} and pool_mod.TrackPool(2, seed=1).generator == 2
    assert pool_mod.generated_root(3).name == "v3" and pool_mod.generated_root().name == "v2"
    with pytest.raises(ValueError, match="generator version 2 or 3"):
        pool_mod.TrackPool(2, generator=4)
    assert TrainConfig().pool_generator == 2


def test_a_pool_that_keeps_the_hard_tracks_replaces_the_ones_lapped_most(monkeypatch, tmp_path):
    from karting.rl import pool as pool_mod
    monkeypatch.setattr(pool_mod, "generated_track",
                        lambda seed, root=None, check=True, version=2: tmp_path / f"g{seed}.png")
    p = pool_mod.TrackPool(4, seed=3, swap=1, every=10, keep="hard")
    for slot, rate in enumerate((0.5, 1.0, 0.1, 0.9)):                 # lap rate per slot, 10 episodes each
        for k in range(10):
            p.record(slot, k < rate * 10)
    p.record(3, True)
    p.record(7, True)                                                   # not a pool slot (a named track): ignored
    assert list(p.on_episodes(10)) == [1]                               # lapped 10 of 10: replaced
    assert p.tried[1] == 0 and p.tried[3] == 11
    assert list(p.on_episodes(10)) == [3]                               # 10 of 11 next
    # then the one lapped half the time; the two new ones (too few episodes to judge) stay, as does
    # the one lapped 1 time in 10
    assert list(p.on_episodes(10)) == [0]
    # a track kept through MAX_KEPT_SWAPS swaps goes, however hard
    for _ in range(pool_mod.MAX_KEPT_SWAPS):
        p.on_episodes(10)
    assert p.kept.max() <= pool_mod.MAX_KEPT_SWAPS
    with pytest.raises(ValueError, match="keeps"):
        pool_mod.TrackPool(4, keep="easy")


# ---------------------------------------------------------------- swapping tracks in a running env

def test_replacing_a_track_ends_its_karts_episodes_and_leaves_the_others_untouched(ring_png, tmp_path):
    from conftest import draw_ring
    from karting.env import KartingVectorEnv
    wide = load_track(draw_ring(tmp_path / "wide.png", size=(360, 220), radii=(150, 85)))
    small = load_track(draw_ring(tmp_path / "small.png", size=(260, 200), radii=(100, 75)))
    ring = load_track(ring_png)
    envs = [KartingVectorEnv([ring, wide], num_envs=4, random_start=True) for _ in range(2)]
    for e in envs:
        e.reset(seed=5)
    act = np.tile(np.float32([0.05, 0.7]), (4, 1))
    for _ in range(10):
        for e in envs:
            e.step(act)
    envs[1].replace_tracks({1: small})
    a, b = envs[0].step(act), envs[1].step(act)
    assert list(b[3]) == [False, True, False, True]              # slot 1's karts truncated
    assert np.array_equal(a[0]["vision"][[1, 3]], b[0]["vision"][[1, 3]])   # final obs: old track
    a, b = envs[0].step(act), envs[1].step(act)                   # the reset step: new track
    assert [t.name for t in envs[1].tracks] == ["ring.png", "small.png"]
    assert np.allclose(envs[1].track_lengths[[1, 3]], small.length)
    assert (b[1][[1, 3]] == 0).all() and not b[2].any() and not b[3].any()
    for _ in range(20):
        a, b = envs[0].step(act), envs[1].step(act)
        for k in ("vision", "telemetry"):                          # karts 0 and 2: bit-identical
            assert np.array_equal(a[0][k][[0, 2]], b[0][k][[0, 2]])
        assert np.array_equal(a[1][[0, 2]], b[1][[0, 2]])
    assert not np.array_equal(a[0]["vision"][[1, 3]], b[0]["vision"][[1, 3]])
    assert (b[4]["progress"][[1, 3]] < small.length).all()
    with pytest.raises(ValueError, match="slot 5"):
        envs[1].replace_tracks({5: small})
    for e in envs:
        e.close()


# ---------------------------------------------------------------- behaviour cloning

def test_the_batch_expert_drives_each_track_with_its_own_setting(ring_png, tmp_path):
    from conftest import draw_ring
    from karting.env import KartingVectorEnv
    from karting.rl.bc import BatchExpert
    from karting.rl.evaluate import evaluate, summarize
    wide = draw_ring(tmp_path / "wide.png", size=(360, 220), radii=(150, 85))
    env = KartingVectorEnv([ring_png, wide], num_envs=4, show_other_karts=False)
    expert = BatchExpert(env)
    res, _ = evaluate(None, env, actor=lambda obs: expert.act())
    s = summarize(res)
    assert s["valid_lap_rate"] == 1.0 and {r.track for r in res} == {"ring.png", "wide.png"}
    env.close()


def test_the_batch_expert_says_how_far_a_kart_is_over_its_speed(ring_png):
    """BatchExpert.overspeed: 0 at rest and up to 1.1x the expert's target speed, (speed / target -
    1.1) above it; in the rain the target is the wet one (lower), so the same speed is further over."""
    from karting.env import KartingVectorEnv
    from karting.rl.bc import OVERSPEED_TOLERANCE, BatchExpert
    env = KartingVectorEnv(ring_png, num_envs=3, show_other_karts=False)
    env.reset(seed=0)
    expert = BatchExpert(env)
    expert.act()
    assert np.all(expert.overspeed() == 0.0) and np.all(expert.target_speed() > 5.0)
    st = env.batch.state
    target = expert.target_speed().copy()
    st.vx[:] = target * np.array([1.05, 1.5, 2.0])
    st.vy[:] = 0.0
    expert.act()
    over = expert.overspeed()
    assert over[0] == 0.0 and over[1] > 0.0 and over[2] > over[1]
    dry_target = expert.target_speed()
    assert over[2] == pytest.approx(st.speed[2] / dry_target[2] - 1.0 - OVERSPEED_TOLERANCE)
    env.close()
    wet = KartingVectorEnv(ring_png, num_envs=3, show_other_karts=False, weather="wet")
    wet.reset(seed=0)
    wet_expert = BatchExpert(wet)
    wet.batch.state.vx[:], wet.batch.state.vy[:] = st.vx, 0.0
    wet_expert.act()
    assert np.all(wet_expert.target_speed() < dry_target) and np.all(wet_expert.overspeed() > over)
    wet.close()


def test_behaviour_cloning_learns_the_experts_actions(ring_png):
    from karting.env import KartingVectorEnv
    from karting.rl.bc import behaviour_clone
    from karting.rl.policy import Agent
    from karting.rl.ppo import RewardScaler
    torch.manual_seed(0)
    env = KartingVectorEnv(ring_png, num_envs=4, random_start=True)
    agent = Agent(log_std_init=-0.5)
    out = behaviour_clone(agent, None, env, samples=1024, rounds=1, scaler=RewardScaler(4, 0.99), gamma=0.99,
                          epochs=6, batch_size=64, lr=1e-3, log=lambda *a: None)
    r0, r1 = out["rounds"]
    assert out["samples"] == 1024 and r1["samples"] == 1024 and r0["samples"] == 512
    assert r0["action_mse"] < 0.05, r0           # an untrained head starts near 0.3
    assert float(agent.log_std.detach().max()) <= -1.5    # exploration narrowed for PPO
    env.close()


def test_training_with_bc_and_a_generated_pool_swaps_tracks(ring_png, tmp_path, monkeypatch):
    """--track generated,<ring> --bc expert: BC, an evaluation of the cloned policy, PPO, swaps."""
    from conftest import draw_ring
    from karting import train
    from karting.rl.config import TrainConfig
    from karting.rl import pool as pool_mod
    rings = [draw_ring(tmp_path / f"g{i}.png", size=(300 + 20 * i, 200 + 10 * i), radii=(120 + 8 * i, 75 + 4 * i))
             for i in range(6)]
    it = itertools.cycle(rings)
    monkeypatch.setattr(pool_mod, "generated_track", lambda seed, root=None, check=True, version=2: next(it))
    cfg = TrainConfig(track=f"generated,{ring_png}", track_pool=2, pool_swap=1, pool_every=2, vector_envs=3,
                      n_steps=16, batch_size=24, n_epochs=1, timesteps=96, max_episode_steps=10,
                      eval_episodes=3, eval_freq=0, bc="expert", bc_steps=96, bc_rounds=1, bc_epochs=1,
                      output_dir=str(tmp_path), save_name="gen")
    s = train.train(cfg, progress=False)
    assert s["global_step"] == 96 and s["bc"]["samples"] == 96 and "eval" in s["bc"]
    assert s["pool"]["replaced"] >= 1 and len(s["eval_history"]) == 2      # after BC, at the end


# ---------------------------------------------------------------- input ablations

def test_telemetry_kart_and_vision_off_hide_their_inputs():
    from karting.rl.policy import Agent
    torch.manual_seed(0)
    v = torch.randint(0, 255, (3, 84, 84, 3), dtype=torch.uint8)
    t = torch.randn(3, 9)
    t2 = t.clone()
    t2[:, 6:] += 5.0                         # racing line, curvature, checkpoint bearing
    kart = Agent(telemetry="kart")
    assert torch.equal(kart.get_value(v, t), kart.get_value(v, t2))
    full = Agent(telemetry="full")
    full.load_state_dict(kart.state_dict())   # same weights: the preset is not in the file
    assert not torch.equal(full.get_value(v, t), full.get_value(v, t2))
    blind = Agent(vision=False)
    assert torch.equal(blind.get_value(v, t), blind.get_value(torch.zeros_like(v), t))
    assert not torch.equal(kart.get_value(v, t), kart.get_value(torch.zeros_like(v), t))
    with pytest.raises(ValueError, match="telemetry"):
        Agent(telemetry="none")


# ---------------------------------------------------------------- the track preview

def test_the_track_preview_shows_the_edges_ahead_in_the_karts_frame(ring_png):
    """preview=True appends 48 values: the left and right edges at 12 distances ahead, as
    (forward, left) in the kart's frame / 50 m; the plain observation is unchanged."""
    from karting.env import KartingVectorEnv
    from karting.env.spec import PREVIEW_M, PREVIEW_SCALE_M, TELEMETRY_SIZE
    plain = KartingVectorEnv(ring_png, num_envs=2)
    env = KartingVectorEnv(ring_png, num_envs=2, preview=True)
    o0, _ = plain.reset(seed=3)
    o, _ = env.reset(seed=3)
    assert o0["telemetry"].shape == (2, 9) and o["telemetry"].shape == (2, 9 + 48)
    assert env.single_observation_space.contains({k: v[0] for k, v in o.items()})
    np.testing.assert_array_equal(o["telemetry"][:, :TELEMETRY_SIZE], o0["telemetry"])
    np.testing.assert_array_equal(o["vision"], o0["vision"])
    pts = o["telemetry"][0, TELEMETRY_SIZE:].reshape(len(PREVIEW_M), 2, 2) * PREVIEW_SCALE_M   # (d, L/R, fwd/left)
    b, t = env.batch, env.track
    width = np.linalg.norm(pts[:, 0] - pts[:, 1], axis=1)
    near = (b.idx[0] + np.rint(np.array(PREVIEW_M) / t.spacing).astype(int)) % len(t.centre)
    np.testing.assert_allclose(width, t.width[near], rtol=1e-3)             # edge to edge: the track's width
    assert (pts[:5, 0, 1] > pts[:5, 1, 1]).all()     # near the kart, the left edge is on its left
    assert abs(pts[0, 0, 0] - PREVIEW_M[0]) < 1.5                             # 4 m ahead is 4 m ahead
    # along the ring the track turns one way: the far points are well off the kart's axis
    mid = pts.mean(axis=1)
    assert abs(mid[-1, 1]) > 5 * abs(mid[0, 1]) + 5
    # turn the kart 90 degrees left: what was on its left is ahead, what was ahead is on its right
    b.state.yaw[0] += np.float32(np.pi / 2)
    turned = b.preview_now()[0].reshape(len(PREVIEW_M), 2, 2) * PREVIEW_SCALE_M
    np.testing.assert_allclose(turned[..., 0], pts[..., 1], atol=1e-3)
    np.testing.assert_allclose(turned[..., 1], -pts[..., 0], atol=1e-3)
    plain.close()
    env.close()


def test_a_preview_agent_reads_the_preview_whatever_the_telemetry_preset():
    from karting.env.spec import observation_space
    from karting.rl.checkpoint import build_agent
    from karting.rl.config import TrainConfig
    from karting.rl.policy import Agent
    from karting.env.spec import ACTION_SPACE
    torch.manual_seed(0)
    agent = Agent.from_spaces(observation_space(1, 1, True), ACTION_SPACE, telemetry="kart", preview=True)
    assert agent.telemetry[0].in_features == 57
    with pytest.raises(ValueError, match="9j"):
        Agent.from_spaces(observation_space(1, 1, True), ACTION_SPACE)      # 57 wide without preview=True
    v = torch.randint(0, 255, (2, 84, 84, 3), dtype=torch.uint8)
    t = torch.randn(2, 57)
    t2 = t.clone()
    t2[:, 20] += 3.0                                   # a preview value: the kart preset keeps it
    assert not torch.equal(agent.get_value(v, t), agent.get_value(v, t2))
    cfg = TrainConfig(preview=True, telemetry="kart")
    again, cfg2 = build_agent({"config": cfg.to_dict(), "model": agent.state_dict()})
    assert cfg2.preview and torch.equal(again.get_value(v, t), agent.get_value(v, t))


def test_an_asymmetric_critic_sees_what_the_actor_does_not():
    """--critic privileged --telemetry kart: the actor reads the kart's own state and the camera,
    the critic also the racing line, the checkpoint and the track preview; it trains and drives."""
    from karting.rl.config import TrainConfig
    from karting.rl.checkpoint import build_agent
    from karting.rl.policy import Agent
    cfg = TrainConfig(telemetry="kart", critic="privileged")
    assert cfg.obs_preview and not cfg.preview
    torch.manual_seed(0)
    agent = Agent(**cfg.agent_inputs())
    v = torch.randint(0, 255, (2, 84, 84, 3), dtype=torch.uint8)
    t = torch.randn(2, 57)
    for col in (7, 30):                          # curvature ahead, a preview value
        t2 = t.clone()
        t2[:, col] += 3.0
        m1, v1 = agent.mean_and_value(v, t)
        m2, v2 = agent.mean_and_value(v, t2)
        assert torch.equal(m1, m2) and not torch.equal(v1, v2)
        assert torch.equal(agent.get_value(v, t2), v2)
    again, _ = build_agent({"config": cfg.to_dict(), "model": agent.state_dict()})
    assert torch.equal(again.get_value(v, t), agent.get_value(v, t))
    with pytest.raises(ValueError, match="critic"):
        Agent(critic="oracle")


def test_training_with_a_preview_and_a_privileged_critic_then_driving(ring_png, tmp_path):
    from karting import train
    from karting.rl.checkpoint import load_agent
    from karting.rl.config import TrainConfig
    from karting.rl.evaluate import evaluate, make_eval_env
    cfg = TrainConfig(track=str(ring_png), vector_envs=2, n_steps=16, batch_size=16, n_epochs=1, timesteps=32,
                      eval_episodes=2, eval_freq=0, preview=True, critic="privileged", bc_coef=0.5,
                      bc_coef_decay=0.5, bc_coef_floor=0.2, output_dir=str(tmp_path), save_name="pv")
    s = train.train(cfg, progress=False)
    assert s["global_step"] == 32
    agent, cfg2, _ = load_agent(str(tmp_path / "checkpoints" / "pv" / "final.pt"))
    assert cfg2.preview and cfg2.critic == "privileged" and agent.privileged
    env = make_eval_env(ring_png, 1, cfg2)
    assert env.single_observation_space["telemetry"].shape == (57,)
    res, _ = evaluate(agent, env, seed=0)
    env.close()
    assert len(res) == 1


def test_the_cloning_weight_decays_to_its_floor():
    from karting.rl.config import TrainConfig
    cfg = TrainConfig(bc_coef=1.0, bc_coef_decay=0.5, bc_coef_floor=0.2)
    assert [cfg.bc_weight(u) for u in (1, 2, 3, 4, 50)] == [1.0, 0.5, 0.25, 0.2, 0.2]
    assert TrainConfig(bc_coef=1.0, bc_coef_decay=0.5).bc_weight(50) < 1e-10       # no floor: to 0
    assert TrainConfig(bc_coef=0.1, bc_coef_floor=0.5).bc_weight(9) == 0.1          # never above the start
    with pytest.raises(ValueError, match="--bc-coef-floor"):
        TrainConfig(bc_coef_floor=-1)


def test_the_batch_expert_slows_for_the_grip_it_has(ring_png):
    """In the rain the expert drives its profile at sqrt(grip) of the dry speed: it laps the
    ring cleanly in the wet, slower than in the dry."""
    from karting.env import KartingVectorEnv
    from karting.rl.bc import BatchExpert
    from karting.rl.evaluate import evaluate, summarize
    laps = {}
    for weather in (None, "wet"):
        env = KartingVectorEnv(ring_png, num_envs=2, show_other_karts=False, weather=weather)
        expert = BatchExpert(env)
        s = summarize(evaluate(None, env, actor=lambda obs: expert.act())[0])
        env.close()
        assert s["valid_lap_rate"] == 1.0, (weather, s)
        laps[weather] = s["best_lap_time"]
    assert laps["wet"] > laps[None] * 1.05, laps


# ---------------------------------------------------------------- models by name, the benchmark

def test_a_shipped_model_name_resolves_or_says_it_is_missing(monkeypatch, tmp_path):
    from karting import models
    from karting.rl.checkpoint import CheckpointError, load_checkpoint
    monkeypatch.setitem(models.SHIPPED, "generalist", tmp_path / "generalist.pt")
    with pytest.raises(CheckpointError, match="shipped model 'generalist' is not in this installation"):
        load_checkpoint("generalist")
    assert models.resolve_model("some/file.pt") == Path("some/file.pt")


def test_the_shipped_generalist_is_small_plain_data_and_laps_a_track_it_never_trained_on():
    """karting/models/generalist.pt: in the package, <= 10 MB, the exported form (no optimizer),
    trained on generated tracks, with its command inside; and it drives: 4 standing starts on
    the benchmark's gen_900010 (a 685 m test track, never drawn in training; it lapped 5 of 5 in
    the benchmark at 1.04x the expert); the third generalist reads the track preview and trained
    on version 3 tracks with the braking weight and the overspeed penalty."""
    from karting import models
    from karting.generalisation import BENCHMARK_DIR
    from karting.rl.checkpoint import load_agent
    from karting.rl.evaluate import evaluate, make_eval_env
    path = models.SHIPPED["generalist"]
    assert path.is_file(), "karting/models/generalist.pt is missing from the package"
    assert path.stat().st_size <= 10 * 2**20
    agent, cfg, data = load_agent("generalist", as_trained=True)
    assert "optimizer" not in data and "train_model" not in data
    assert cfg.track.startswith("generated") and cfg.bc == "expert" and cfg.preview
    assert (cfg.pool_generator, cfg.bc_brake_weight, cfg.overspeed_penalty) == (3, 5.0, 20.0)
    assert data["export_note"]["command"].startswith("python -m karting.train --track generated")
    env = make_eval_env(BENCHMARK_DIR / "gen_900010.png", 4, cfg)
    try:
        results, _ = evaluate(agent, env, seed=0)
    finally:
        env.close()
    assert sum(r.completed for r in results) >= 3, [r.end for r in results]


def test_the_shipped_racer_is_small_plain_data_trained_in_traffic_and_races():
    """karting/models/racer.pt (``--model racer``): in the package, <= 10 MB, the exported form,
    the generalist fine-tuned in races against club, pro and alien karts with the race terms the
    racing guide reports; and it races: from the back of a 4-kart grid against pro karts it
    finishes every race, passes, and causes little contact (measured: 50 % wins of 20, 0.20
    caused a lap)."""
    from karting import models
    from karting.rl.checkpoint import load_agent
    from karting.rl.evaluate import race_evaluate
    from karting.track import load_track
    path = models.SHIPPED["racer"]
    assert path.is_file(), "karting/models/racer.pt is missing from the package"
    assert path.stat().st_size <= 10 * 2**20
    agent, cfg, data = load_agent("racer", as_trained=True)
    assert "optimizer" not in data and "train_model" not in data
    assert cfg.resume_from == "karting/models/generalist.pt" and cfg.preview
    assert (cfg.opponents, cfg.difficulty) == ("3", "club,pro,alien")
    assert (cfg.position_bonus, cfg.collision_penalty, cfg.contact_penalty, cfg.closing_penalty) == (4, 50, 5, 10)
    r = race_evaluate(agent, load_track("circuit.png"), cfg, races=4, laps=1, opponents="3", difficulty="pro")
    assert r["finish_rate"] == 1.0 and r["mean_position"] < 3.5 and r["overtakes_per_race"] >= 1
    assert r["caused_per_lap"] <= 0.5


def test_the_benchmark_split_is_frozen():
    from karting.generalisation import BENCHMARK_DIR, split_tracks
    from karting.rl.pool import BENCHMARK_SEEDS
    test = split_tracks("test")
    assert len(test) == 31
    assert sum(p.name.startswith("real_") for p in test) == 11
    assert {p.name for p in test if p.name.startswith("gen_")} == {f"gen_{s}.png" for s in BENCHMARK_SEEDS}
    h = hashlib.sha256()
    for p in sorted(BENCHMARK_DIR.iterdir()):
        if p.suffix in (".png", ".json"):
            h.update(p.name.encode() + p.read_bytes())
    assert h.hexdigest() == FROZEN_BENCHMARK_V1, "tracks/benchmark changed: a published split never changes"
    assert len(split_tracks("all")) == 35
    import io
    from karting.track.generate import generate_varied
    im, entry, _ = generate_varied(BENCHMARK_SEEDS[3], version=1)     # tools/make_benchmark.py's recipe
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    assert buf.getvalue() == (BENCHMARK_DIR / f"gen_{BENCHMARK_SEEDS[3]}.png").read_bytes()
    cp = json.loads((BENCHMARK_DIR / "checkpoints.json").read_text())["tracks"]
    assert cp[f"gen_{BENCHMARK_SEEDS[3]}.png"] == entry


def test_generator_v2_has_the_tight_corners_of_real_circuits_at_kart_scale():
    """Version 1 (the benchmark's generated tracks) had ~1 % of a lap under 15 m radius; the
    real circuits at 1.4 km have 4-11 %. Version 2 (the training pool) gets closer."""
    from karting.track.generate import generate_varied_layout
    from karting.track.geometry import curvature

    def tight(version):
        share = []
        for s in range(12):
            c, _ = generate_varied_layout(s, version=version)
            share.append(float((np.abs(curvature(c[::2])) > 1 / 15).mean()))
        return np.mean(share)
    assert tight(2) > 2 * tight(1)


FROZEN_BENCHMARK_V1 = "28f3f5faae58db713cfb1c0eff1433738bae4c32b30934868ad8422b27b3d607"


def test_the_benchmark_drives_the_expert_cleanly_on_the_shipped_tracks(tmp_path, capsys):
    from karting import generalisation as benchmark
    rc = benchmark.main(["--model", "expert", "--split", "shipped", "--episodes", "2", "--weather", "dry,wet",
                         "--json", str(tmp_path / "b.json")])
    assert rc == 0
    both = json.loads((tmp_path / "b.json").read_text())
    assert both["weathers"] == ["dry", "wet"]
    rep, wet = both["reports"]["dry"], both["reports"]["wet"]
    assert rep["weather"] == "dry" and wet["weather"] == "wet"
    assert [r["track"] for r in rep["rows"]] == list(benchmark.SHIPPED_TRACKS)
    assert all(r["lapped"] and 0.95 < r["ratio"] < 1.05 for r in rep["rows"])
    # in the rain the grip-aware expert still laps every track, slower than the dry reference
    assert all(r["lapped"] and 1.05 < r["ratio"] < 1.5 for r in wet["rows"]), [r["ratio"] for r in wet["rows"]]
    out = capsys.readouterr().out
    assert "circuit.png" in out and "at pace" in out and "-- by condition" in out
    table = out.split("-- by condition")[1].strip()
    assert "dry" in table.splitlines()[0] and "wet" in table.splitlines()[0]
    assert benchmark.main(["--model", "expert", "--weather", "dry,soggy"]) == 2
    assert "unknown weather 'soggy'" in capsys.readouterr().err


def test_a_model_is_chosen_on_the_validation_split(monkeypatch, tmp_path, capsys):
    """scripts/select_model.py drives every checkpoint of a run on --split validation in each
    condition and chooses by the mean score; the validation split is the pool's validation seeds."""
    import runpy
    from karting import generalisation
    from karting.rl import pool as pool_mod
    monkeypatch.setattr(pool_mod, "generated_track", lambda seed, root=None, check=True, version=2:
                        None if seed % 2 and version == 2 else tmp_path / f"v{version}_{seed}.png")
    names = [p.name for p in generalisation.split_tracks("validation")]
    assert names == [f"v2_{s}.png" for s in pool_mod.VALIDATION_SEEDS if s % 2 == 0] + \
        [f"v3_{s}.png" for s in pool_mod.VALIDATION_SEEDS_V3]       # version 2's lappable ones, then version 3's
    assert [pool_mod.validation_group(n) for n in names] == ["v2"] * 4 + ["v3"] * 4
    assert [p.name for p in pool_mod.validation_tracks(6)] == names[:6]   # what training evaluates on
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("step_000262144.pt", "step_000524288.pt", "best.pt", "final.pt"):
        (run_dir / name).write_bytes(b"")
    scores = {("step_000262144.pt", "dry"): 60, ("step_000262144.pt", "wet"): 40, ("step_000524288.pt", "dry"): 70,
              ("step_000524288.pt", "wet"): 50, ("best.pt", "dry"): 80, ("best.pt", "wet"): 20,
              ("final.pt", "dry"): 55, ("final.pt", "wet"): 45}
    splits = set()

    def fake_run(model, split, episodes, weather=None, log=print):
        splits.add(split)
        label = "dry" if weather is None else weather
        return {"test": {"lapped": 5, "tracks": 6, "valid_lap_rate": 0.8, "score": scores[(Path(model).name, label)],
                         "groups": {"v2": {"lapped": 4, "tracks": 4, "score": 90.0},
                                    "v3": {"lapped": 1, "tracks": 2, "score": 33.3}}},
                "trained_steps": 1}
    monkeypatch.setattr(generalisation, "run", fake_run)
    monkeypatch.setattr("sys.argv", ["select_model.py", str(run_dir), "--weather", "dry,wet",
                                     "--json", str(tmp_path / "s.json")])
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(Path(__file__).parents[1] / "scripts" / "select_model.py"), run_name="__main__")
    assert e.value.code == 0 and splits == {"validation"}
    out = json.loads((tmp_path / "s.json").read_text())
    assert out["chosen"] == "step_000524288.pt"             # mean 60 beats best.pt's 50 (its dry 80)
    assert out["rows"][0]["wet"]["groups"]["v3"] == {"lapped": 1, "tracks": 2, "score": 33.3}
    printed = capsys.readouterr().out
    assert "chosen on the validation split: step_000524288.pt" in printed
    assert "dry 5/6  60.0 (v2 4/4 90.0, v3 1/2 33.3)" in printed


def test_the_benchmark_refuses_bad_models(tmp_path, capsys):
    from karting import generalisation as benchmark
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    assert benchmark.main(["--model", str(bad), "--split", "shipped"]) == 2
    assert "not a readable model file" in capsys.readouterr().err


def test_a_value_only_update_leaves_the_policy_unchanged():
    from karting.rl.policy import Agent
    from karting.rl.ppo import UpdateConfig, ppo_update
    torch.manual_seed(0)
    agent = Agent()
    opt = torch.optim.Adam(agent.parameters(), lr=1e-3)
    b = 64
    batch = {"vision": torch.randint(0, 255, (b, 84, 84, 3), dtype=torch.uint8), "telemetry": torch.randn(b, 9),
             "actions": torch.randn(b, 2), "logprobs": torch.randn(b), "values": torch.zeros(b),
             "advantages": torch.randn(b), "returns": torch.randn(b) * 3}
    before = {k: v.clone() for k, v in agent.state_dict().items()}
    ppo_update(agent, opt, batch, UpdateConfig(n_epochs=2, batch_size=32, value_only=True))
    after = agent.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("critic.") for k in changed)


def test_the_benchmark_says_where_and_how_fast_an_episode_ended(ring_track):
    """EndWatch snapshots each kart's last steps at the step it first leaves the track and at the
    step its episode ends; where_it_ended turns them into metres into the lap, the corner's
    radius and the speed against the expert's."""
    from karting.generalisation import END_WINDOW, EndWatch, _failures, where_it_ended
    from karting.env import KartingVectorEnv
    from karting.rl.evaluate import evaluate
    from karting.sim.expert import PurePursuit
    env = KartingVectorEnv(ring_track, num_envs=3, show_other_karts=False, max_episode_steps=600)
    watch, seen, offs = EndWatch(3), [], []

    def on_step(env, alive):
        seen.append((env.batch.idx.copy(), env.batch.state.speed.copy()))
        offs.append(env.batch.off_track.copy())
        watch(env, alive)
    # full throttle, each kart with its own fixed steering: they leave the ellipse at different places
    steer = np.float32([0.0, 0.15, -0.3])
    res, end = evaluate(None, env, actor=lambda obs: np.stack([steer, np.ones(3, np.float32)], 1), on_step=on_step)
    watch.finish()
    env.close()
    assert not any(r.completed for r in res)
    vt = PurePursuit(ring_track).v_target[0]
    for i in range(3):
        idx, v = watch.ended[i]
        last = end[i] - 1
        assert len(idx) == min(END_WINDOW, end[i])
        assert idx[-1] == seen[last][0][i] and v[-1] == seen[last][1][i]      # its final step
        assert idx[0] == seen[last - len(idx) + 1][0][i]
        f = where_it_ended(ring_track, vt, idx, v)
        assert f["at_m"] == pytest.approx(idx[-1] * ring_track.spacing, abs=0.1)
        assert 0 <= f["at_m"] < ring_track.length
        # the ellipse's centre line (semi-axes ~58 x 35 m): radii from b^2/a = 21 m to a^2/b = 95 m
        assert 18 < f["corner_radius_m"] < 100
        assert f["speed_ratio"] == pytest.approx(float((v / np.maximum(vt[idx], 1)).max()), abs=0.01)
        # where it first left the track: the snapshot ends at the first step off the track
        idx, v = watch.left[i]
        first_off = next(k for k, off in enumerate(offs) if off[i])
        assert idx[-1] == seen[first_off][0][i] and first_off <= last
        assert watch.went_wrong(i) is watch.left[i]
    row = {"lapped": False, "failures": [{"end": r.end, **where_it_ended(ring_track, vt, *watch.went_wrong(i))}
                                         for i, r in enumerate(res)]}
    assert "went wrong at" in _failures(row) and "m-radius corner" in _failures(row)


def test_training_evaluates_in_each_condition_asked(ring_png):
    """--eval-weather dry,wet: best.pt is chosen on episodes split over the tracks x conditions,
    each condition's completion reported; an unknown condition is refused."""
    from karting.rl.config import TrainConfig
    from karting.rl.evaluate import Evaluator
    from karting.rl.policy import Agent
    cfg = TrainConfig(track=str(ring_png), eval_episodes=4, eval_weather="dry,wet")
    ev = Evaluator([ring_png], cfg)
    try:
        assert ev.labels == ["dry", "wet"] and [e.num_envs for e in ev.envs] == [2, 2]
        assert [e.scenario.weather for e in ev.envs] == [None, "wet"]
        agent = Agent()
        s, improved = ev(agent)
        again, _ = ev(agent)              # the wet track starts wet again (a new env), the dry env is reused
    finally:
        ev.close()
    assert improved and s["episodes"] == 4 and set(s["conditions"]) == {"dry", "wet"}
    assert again["conditions"] == s["conditions"] and again["mean_reward"] == s["mean_reward"]
    assert all(0 <= v <= 1 for v in s["conditions"].values())
    plain = Evaluator([ring_png], TrainConfig(track=str(ring_png), eval_episodes=4))
    assert [e.num_envs for e in plain.envs] == [4] and plain.labels == ["dry"]
    plain.close()
    with pytest.raises(ValueError, match="--eval-weather.*monsoon"):
        TrainConfig(eval_weather="dry,monsoon")


def _load_script(*rel):
    """A script of the repository (tools/, scripts/) imported as a module."""
    import importlib.util
    path = Path(__file__).parents[1].joinpath(*rel)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_generator_figure_draws_one_cell_per_version_and_seed(tmp_path):
    mod = _load_script("tools", "generator_figure.py")
    out = tmp_path / "fig.png"
    assert mod.main(["--versions", "2,3", "--seeds", "5", "--out", str(out)]) == 0
    from PIL import Image
    im = np.asarray(Image.open(out).convert("L"))
    assert im.shape == (2 * (mod.CELL + mod.LABEL), mod.CELL)
    rows = [im[r * (mod.CELL + mod.LABEL) + mod.LABEL:(r + 1) * (mod.CELL + mod.LABEL)] for r in range(2)]
    assert all((row < 128).mean() > 0.01 for row in rows)          # a dark track drawn in each cell


def test_the_hardest_braking_zone_joins_short_gaps_and_keeps_the_zone_that_sheds_most():
    mod = _load_script("scripts", "hardest_braking.py")
    v = np.array([90, 80, 70, 70, 60, 60, 90, 90, 85, 80] + [80] * 30 + [90, 40], float)
    b = np.array([0, 1, 1, 0, 1, 0, 0, 0, 1, 1] + [0] * 30 + [1, 1], bool)
    # 90->60 over two runs 1 step apart (joined), 90->80, then 90->40 at the end
    assert mod.hardest_braking(v, b) == (50.0, 90.0, 40.0)
    assert mod.hardest_braking(v[:40], b[:40]) == (20.0, 80.0, 60.0)      # the zone starts where braking does
    assert mod.hardest_braking(v, np.zeros_like(b)) == (0.0, 0.0, 0.0)
    from karting.cli.options import seed_list
    assert seed_list("0-2,5") == [0, 1, 2, 5] and seed_list("7") == [7]
    with pytest.raises(Exception, match="numbers and ranges"):
        seed_list("a-b")


def test_the_validation_report_gives_version_3_apart():
    """The validation summary splits version 2's tracks from version 3's long straights (by seed), and
    the report prints both: a run can be good on one and fail the other."""
    from karting import generalisation
    from karting.rl import pool as pool_mod

    def row(name, rate, ratio):
        return {"track": name, "length_m": 1000.0, "valid_lap_rate": rate, "best_lap_s": 50.0 * ratio,
                "reference_lap_s": 50.0, "ratio": ratio, "lapped": rate >= 0.6, "at_pace": rate >= 0.6,
                "score": 100 * rate / ratio, "ends": [], "failures": []}
    v3 = pool_mod.VALIDATION_SEEDS_V3[0]
    rows = [row("gen_800000.png", 1.0, 1.0), row("gen_800001.png", 0.8, 1.0), row(f"gen_{v3:06d}.png", 0.2, 1.0)]
    s = generalisation.validation_summary(rows)
    assert (s["lapped"], s["groups"]["v2"]["lapped"], s["groups"]["v3"]["lapped"]) == (2, 2, 0)
    assert s["groups"]["v2"]["score"] == pytest.approx(90.0) and s["groups"]["v3"]["score"] == pytest.approx(20.0)
    text = generalisation.format_report({"split": "validation", "rows": rows, "test": s})
    assert "version 2 tracks: lapped 2/2, score 90.0; version 3 (long straights into hairpins): lapped 0/1" in text


def test_the_ablation_script_runs_the_shipped_recipe():
    """scripts/generalist_ablation.sh trains with the shipped generalist's documented command but for
    the length of the run, its name and seed: an ablation differs from it by the flags it is given."""
    import shlex
    root = Path(__file__).parents[1]

    def flags(cmd: str) -> dict:
        words = shlex.split(cmd.replace("\\\n", " "))
        words = words[words.index("karting.train") + 1:]
        out, key = {}, None
        for w in words:
            if w.startswith("--"):
                key = w
                out[key] = None
            elif key is not None and out[key] is None:
                out[key] = w
        return out
    doc = (root / "docs" / "guide" / "generalist.md").read_text()
    shipped = next(b for b in doc.split("```bash")[1:] if "--save-name osp20_s2" in b).split("```")[0]
    script = (root / "scripts" / "generalist_ablation.sh").read_text()
    ablation = script[script.index("python -m karting.train"):].split(">>")[0]
    a, b = flags(shipped.split("\n\n")[0].split("python scripts/")[0]), flags(ablation)
    length = ("--timesteps", "--max-minutes", "--save-name", "--seed", "--overwrite", "--output-dir")
    assert {k: v for k, v in a.items() if k not in length} == {k: v for k, v in b.items() if k not in length}
    assert b["--timesteps"] == "1503232" and len(a) > 15


def test_the_overspeed_script_measures_a_driver_against_the_experts_speed():
    """scripts/overspeed.py: the expert itself never runs 1.1x over its own target; a driver that keeps
    its foot down is over it within 20 s of circuit.png."""
    import runpy
    from karting.track.build import DEFAULT_TRACKS_DIR
    g = runpy.run_path(str(Path(__file__).parents[1] / "scripts" / "overspeed.py"))
    circuit = DEFAULT_TRACKS_DIR / "circuit.png"
    [row] = g["drive"]("expert", [circuit], seconds=20)
    assert row["steps"] == 400 and row["over_share"] == 0.0 and not row["ended_early"]

    class FlatOut(g["BatchExpert"]):
        def act(self):
            a = super().act()
            a[:, 1] = 1.0
            return a
    g["drive"].__globals__["BatchExpert"] = FlatOut
    [row] = g["drive"]("expert", [circuit], seconds=20)
    assert row["over_share"] > 0 and row["max_excess"] > 0.03
    assert g["main"](["no-such-model.pt", str(circuit), "--duration", "1"]) == 2


def test_saved_benchmark_reports_compare_side_by_side(tmp_path, capsys):
    """``--compare``: saved reports (one condition or several) as one Markdown table per track,
    with the summary and the median ratio on the real circuits lapped; a bad file says so."""
    from karting import generalisation as benchmark

    def row(track, ok, ratio):
        return {"track": track, "episodes": 5, "valid_lap_rate": ok / 5, "ratio": ratio, "lapped": ok >= 3}

    def rep(rows, weather):
        s = {"tracks": 2, "lapped": sum(r["lapped"] for r in rows), "real_lapped": sum(r["lapped"] for r in rows),
             "real_tracks": 2, "valid_lap_rate": float(np.mean([r["valid_lap_rate"] for r in rows])), "score": 50.0}
        return {"split": "test", "weather": weather, "rows": rows, "test": s}

    old = rep([row("real_monza.png", 5, 1.02), row("real_spa.png", 0, None)], "dry")
    new = {"weathers": ["dry", "wet"], "reports": {
        "dry": rep([row("real_monza.png", 4, 1.00), row("real_spa.png", 3, 1.10)], "dry"),
        "wet": rep([row("real_monza.png", 2, 1.30), row("real_spa.png", 5, 1.20)], "wet")}}
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    assert benchmark.main(["--compare", f"before={tmp_path / 'old.json'}", str(tmp_path / "new.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| track | before dry | new dry | new wet |"
    assert "| real_monza.png | 5/5 1.02 | 4/5 1.00 | 2/5 1.30 ! |" in out
    assert "| real_spa.png | 0/5 - ! | 3/5 1.10 | 5/5 1.20 |" in out
    summary = {line.split("|")[1].strip(): line for line in out if line.startswith(("| before", "| new"))}
    assert summary["before dry"].endswith("| 1/2 | 1/2 | 50% | 50.0 | 1.020 |")
    assert summary["new dry"].endswith("| 2/2 | 2/2 | 70% | 50.0 | 1.050 |")      # median of 1.00 and 1.10
    assert summary["new wet"].endswith("| 1.200 |")                               # Monza not lapped: not counted
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"chosen": "final.pt"}))
    for bad, says in (("bad.json", "is not a JSON report"), ("other.json", "no rows"), ("gone.json", "cannot read")):
        assert benchmark.main(["--compare", str(tmp_path / bad)]) == 2
        assert says in capsys.readouterr().err
    assert benchmark.main(["--compare", str(tmp_path / "old.json"), str(tmp_path / "old.json")]) == 2
    assert "label them NAME=FILE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        benchmark.main([])                                    # neither --model nor --compare
    assert "give --model" in capsys.readouterr().err


def test_the_ablation_script_resumes_and_stops_where_it_is_told(tmp_path):
    """STAGE=train trains only; RESUME=1 goes on from the run's newest checkpoint instead of
    overwriting it (a fake ``python`` on PATH records what the script asks of it)."""
    import os
    import subprocess
    root = Path(__file__).parents[1]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    (bin_dir / "python").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    (bin_dir / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "OUTPUTS": str(tmp_path / "out")}

    def run(name, **extra):
        calls.write_text("")
        r = subprocess.run(["bash", str(root / "scripts" / "generalist_ablation.sh"), name, "--pool-generator", "3"],
                           env={**env, **extra}, capture_output=True, text=True, timeout=60)
        return r, calls.read_text().splitlines()

    r, seen = run("fresh", STAGE="train")
    assert r.returncode == 0, r.stderr
    assert len(seen) == 1 and seen[0].startswith("-m karting.train") and "--overwrite" in seen[0]
    assert f"--output-dir {tmp_path / 'out'}" in seen[0] and seen[0].endswith("--pool-generator 3")
    ckpts = tmp_path / "out" / "checkpoints" / "cut"
    ckpts.mkdir(parents=True)
    for i, name in enumerate(("step_000262144.pt", "final.pt")):
        (ckpts / name).write_bytes(b"")
        os.utime(ckpts / name, (1_000_000 + i, 1_000_000 + i))
    r, seen = run("cut", STAGE="train", RESUME="1")
    assert r.returncode == 0 and len(seen) == 1
    assert f"--resume-from {ckpts / 'final.pt'}" in seen[0] and "--overwrite" not in seen[0]
    assert "(--resume-from" in (tmp_path / "out" / "logs" / "cut.log").read_text()
    r, seen = run("nothing", STAGE="train", RESUME="1")    # nothing to resume: starts again, and says so
    assert "--overwrite" in seen[0] and "no checkpoint of nothing" in r.stderr
    r, _ = run("x", STAGE="bench")
    assert r.returncode == 2 and "STAGE must be" in r.stderr
