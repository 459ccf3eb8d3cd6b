import copy

import numpy as np
import pytest
import torch

from karting.rl.policy import Agent
from karting.rl.ppo import UpdateConfig, compute_gae, ppo_update

G, L = 0.9, 0.8


def gae(term=(0, 0, 0), trunc=(0, 0, 0)):
    r = np.ones((3, 1))
    v = np.full((3, 1), 0.5)
    return compute_gae(r, v, np.array(term, bool)[:, None], np.array(trunc, bool)[:, None],
                       np.array([0.5]), G, L)


def test_gae_by_hand_no_episode_end():
    adv, ret = gae()
    d = 1 + G * 0.5 - 0.5                                 # 0.95 at every step
    a2 = d
    a1 = d + G * L * a2
    a0 = d + G * L * a1
    assert np.allclose(adv[:, 0], [a0, a1, a2])
    assert np.allclose(ret[:, 0], np.array([a0, a1, a2]) + 0.5)


def test_gae_by_hand_termination_has_no_future():
    adv, _ = gae(term=(0, 1, 0))
    d, d_term = 1 + G * 0.5 - 0.5, 1 - 0.5
    assert np.allclose(adv[:, 0], [d + G * L * d_term, d_term, d])


def test_gae_by_hand_truncation_bootstraps_but_stops_the_recursion():
    adv, _ = gae(trunc=(0, 1, 0))
    d = 1 + G * 0.5 - 0.5
    assert np.allclose(adv[:, 0], [d + G * L * d, d, d])


def make_batch(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    agent = Agent()
    vision = torch.randint(0, 256, (n, 84, 84, 3), dtype=torch.uint8, generator=g)
    tel = torch.randn(n, 9, generator=g)
    with torch.no_grad():
        actions, logp, _, values = agent.get_action_and_value(vision, tel)
    # reward steering to the left: positive advantage where steering > 0
    adv = torch.sign(actions[:, 0])
    return agent, {"vision": vision, "telemetry": tel, "actions": actions, "logprobs": logp,
                   "values": values, "advantages": adv, "returns": values + adv}


def mean_left(agent, b):
    with torch.no_grad():
        return agent.actor(agent.features(b["vision"], b["telemetry"]))[:, 0].mean().item()


def test_update_moves_the_policy_towards_advantaged_actions():
    agent, b = make_batch()
    before = mean_left(agent, b)
    opt = torch.optim.Adam(agent.parameters(), lr=3e-4)
    stats = ppo_update(agent, opt, b, UpdateConfig(n_epochs=4, batch_size=32),
                       generator=torch.Generator().manual_seed(0))
    assert mean_left(agent, b) > before + 0.01
    for k in ("policy_gradient_loss", "value_loss", "entropy_loss", "approx_kl", "clip_fraction",
              "explained_variance"):
        assert np.isfinite(stats[k]), k


def test_invalid_reset_steps_are_ignored():
    agent, b = make_batch()
    b["valid"] = torch.ones(len(b["actions"]), dtype=torch.bool)
    b["valid"][::2] = False
    b["advantages"][::2] = -100 * b["advantages"][::2]     # poison that must not count
    before = mean_left(agent, b)
    opt = torch.optim.Adam(agent.parameters(), lr=3e-4)
    ppo_update(agent, opt, b, UpdateConfig(n_epochs=4, batch_size=24),
               generator=torch.Generator().manual_seed(0))
    assert mean_left(agent, b) > before


def test_target_kl_stops_early():
    agent, b = make_batch()
    opt = torch.optim.Adam(agent.parameters(), lr=1e-2)
    stats = ppo_update(agent, opt, b, UpdateConfig(n_epochs=10, batch_size=32, target_kl=1e-6),
                       generator=torch.Generator().manual_seed(0))
    assert stats["stopped_early"] and stats["epochs"] < 10


def test_reward_scaler_divides_by_the_return_std_and_restarts_at_episode_ends():
    from karting.rl.ppo import RewardScaler
    s = RewardScaler(2, gamma=0.9)
    valid, done = np.ones(2, bool), np.zeros(2, bool)
    for _ in range(200):
        out = s(np.array([1.0, 1.0]), done, valid)
    # the discounted return of a constant reward 1 approaches 1 / (1 - 0.9) = 10, and its running
    # std is that of a sequence rising from 1 to 10: the scaled reward is 1 / that std
    assert np.allclose(out, 1 / np.sqrt(s.var + s.eps))
    assert s.ret[0] > 9.9
    s(np.array([5.0, 5.0]), np.array([True, False]), valid)
    assert s.ret[0] == 0.0 and s.ret[1] > 10
    before = s.ret.copy()
    s(np.array([100.0, 100.0]), done, np.array([False, True]))     # a reset step does not count
    assert s.ret[0] == before[0]
    s2 = RewardScaler(2, 0.9)
    s2.load_state_dict(s.state_dict())
    assert s2.var == s.var and s2.rms.count == s.rms.count


def test_low_precision_copy_trains_the_float32_master():
    from karting.rl.ppo import LowPrecisionCopy
    agent, b = make_batch()
    shadow = LowPrecisionCopy(agent)
    assert shadow.work.fusion[0].weight.dtype == torch.bfloat16
    assert shadow.work.telemetry_norm.mean.dtype == torch.float64      # statistics keep precision
    before = mean_left(agent, b)
    opt = torch.optim.Adam(agent.parameters(), lr=3e-4)
    ppo_update(agent, opt, b, UpdateConfig(n_epochs=4, batch_size=32),
               generator=torch.Generator().manual_seed(0), shadow=shadow)
    assert mean_left(agent, b) > before + 0.01
    assert all(p.dtype == torch.float32 for p in agent.parameters())
    for m, w in zip(agent.parameters(), shadow.work.parameters()):
        assert torch.equal(m.to(torch.bfloat16), w)                   # the copy follows the master
    # bfloat16 passes give nearly the float32 actions
    with torch.no_grad():
        a32 = agent.get_action_and_value(b["vision"], b["telemetry"], deterministic=True)[0]
        a16 = shadow.work.get_action_and_value(b["vision"], b["telemetry"], deterministic=True)[0]
    assert a16.dtype == torch.float32 and (a16 - a32).abs().max() < 0.05


def test_the_bc_term_pulls_the_mean_towards_the_experts_actions():
    """--bc-coef: with expert labels in the batch, the update's loss includes the squared error of
    the policy's mean to them; a strong enough weight wins against the advantages."""
    agent, b = make_batch()
    b["expert_actions"] = torch.stack([-torch.ones(len(b["actions"])), torch.zeros(len(b["actions"]))], 1)
    start = mean_left(agent, b)
    runs = {}
    for coef in (0.0, 5.0):
        a = copy.deepcopy(agent)
        opt = torch.optim.Adam(a.parameters(), lr=3e-4)
        stats = ppo_update(a, opt, b, UpdateConfig(n_epochs=4, batch_size=32, bc_coef=coef),
                           generator=torch.Generator().manual_seed(0))
        runs[coef] = (mean_left(a, b), stats)
    assert runs[0.0][0] > start and "bc_loss" not in runs[0.0][1]         # the advantages: left
    assert runs[5.0][0] < start - 0.01 and np.isfinite(runs[5.0][1]["bc_loss"])   # the expert: right


def test_the_mean_bound_pulls_a_mean_outside_the_action_box_back():
    """--mean-bound-coef: a throttle mean of -5 clips every sample to full brake; with zero
    advantages the PPO terms leave it there, the bound brings it back towards -1."""
    agent, b = make_batch()
    with torch.no_grad():
        agent.actor[-1].bias[1] = -5.0
    b["advantages"] = torch.zeros(len(b["actions"]))

    def throttle(a):
        with torch.no_grad():
            return a.actor(a.features(b["vision"], b["telemetry"]))[:, 1].mean().item()
    start, runs = throttle(agent), {}
    for coef in (0.0, 1.0):
        a = copy.deepcopy(agent)
        opt = torch.optim.Adam(a.parameters(), lr=3e-3)
        stats = ppo_update(a, opt, b, UpdateConfig(n_epochs=4, batch_size=32, mean_bound_coef=coef),
                           generator=torch.Generator().manual_seed(0))
        runs[coef] = (throttle(a), stats)
    assert start < -4.5 and "mean_bound_loss" not in runs[0.0][1]
    assert abs(runs[0.0][0] - start) < 0.5                     # no advantage: nothing moves it
    assert runs[1.0][0] > start + 2.0 and "mean_bound_loss" in runs[1.0][1]   # towards the noise's reach


def test_the_cloning_loss_weights_the_experts_braking_and_is_the_plain_mean_at_weight_one():
    """--bc-brake-weight: a state where the expert brakes hard counts up to W times in the cloning
    loss; W = 1 is the plain mean of the squared errors, bit for bit."""
    from karting.rl.ppo import cloning_loss
    expert = torch.tensor([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, -2.0]])    # the last brakes (clipped to -1)
    mean = torch.tensor([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 0.0]])       # ...and the policy coasts there
    assert torch.equal(cloning_loss(mean, expert), ((mean - expert.clamp(-1, 1)) ** 2).mean())
    assert cloning_loss(mean, expert).item() == pytest.approx(1 / 8)           # 1 of 8 squared errors is 1
    # W = 10: the braking sample weighs 10 of 13, its per-sample error (1 / 2) counts 10 / 13 of it
    assert cloning_loss(mean, expert, 10.0).item() == pytest.approx(0.5 * 10 / 13)
    # a half pedal counts half the extra weight
    half = expert.clone()
    half[3, 1] = -0.5
    assert cloning_loss(mean, half, 10.0).item() == pytest.approx(0.5 * 0.25 * 5.5 / 8.5)
    from karting.rl.config import TrainConfig
    with pytest.raises(ValueError, match="--bc-brake-weight"):
        TrainConfig(bc_brake_weight=0.5)
