"""PPO pieces as pure functions: generalised advantage estimation and one policy update.

Rollouts are time-major ``(T, N, ...)``. With Gymnasium's next-step autoreset, the step after an
episode ends is a *reset step*: its action was ignored and its reward is 0, so it is not a real
transition. ``valid[t]`` marks the real ones; the update skips the others.

Episode ends: a *terminated* step has no future (bootstrap value 0); a *truncated* step (time
limit) does: its return is bootstrapped with the value of the episode's final observation, which
under next-step autoreset is exactly the observation the env returned at that step (stored at
``t + 1``). This is the bootstrapping of truncated episodes that SB3 does and CleanRL does not.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .policy import RunningNorm


def compute_gae(rewards: np.ndarray, values: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
                next_value: np.ndarray, gamma: float = 0.99, lam: float = 0.95) -> tuple:
    """Advantages and returns, (T, N) numpy float32 each.

    ``values[t]`` = V(obs_t) for the T rollout steps, ``next_value`` = V(obs_T) after the last
    step. For step t: delta = r_t + gamma * V(obs_{t+1}) * (1 - terminated_t) - V(obs_t), and the
    recursion A_t = delta_t + gamma * lam * A_{t+1} stops at any episode end (terminated or
    truncated), so nothing leaks across episodes; a truncated step keeps its bootstrap term.
    """
    rewards = np.asarray(rewards, np.float64)
    values = np.asarray(values, np.float64)
    term = np.asarray(terminated, bool)
    done = term | np.asarray(truncated, bool)
    t_len = rewards.shape[0]
    next_values = np.concatenate([values[1:], np.asarray(next_value, np.float64)[None]], 0)
    adv = np.zeros_like(rewards)
    last = np.zeros(rewards.shape[1:])
    for t in range(t_len - 1, -1, -1):
        delta = rewards[t] + gamma * next_values[t] * (~term[t]) - values[t]
        last = delta + gamma * lam * (~done[t]) * last
        adv[t] = last
    return adv.astype(np.float32), (adv + values).astype(np.float32)


@dataclass(frozen=True)
class UpdateConfig:
    """The PPO update's settings (a subset of TrainConfig)."""
    n_epochs: int = 4
    batch_size: int = 256            # minibatch size [samples]
    clip_coef: float = 0.2
    clip_value: bool = False
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: float | None = None   # stop the epochs early when approx KL exceeds this
    normalize_advantages: bool = True
    value_only: bool = False         # train the critic alone (the policy terms are left out)
    bc_coef: float = 0.0             # weight of the behaviour-cloning term (batch["expert_actions"])
    bc_brake_weight: float = 1.0     # the cloning term's extra weight on the expert's braking (cloning_loss)
    mean_bound_coef: float = 0.0     # weight of the squared excess of |policy mean| over 1 (the action box)


class LowPrecisionCopy:
    """A bfloat16 working copy of an agent whose float32 parameters stay the master weights.

    Forward and backward passes run on the copy (every conv and matmul in bfloat16); its
    gradients are handed to the master's parameters, where gradient clipping and Adam work in
    float32, and the copy is refreshed from the master after each optimizer step. This is what
    autocast does op by op, without autocast's per-op casts: a forward + backward + Adam step of
    a 256-sample minibatch measured 52.8 ms against 70.6 ms with autocast on the 2-core CPU.
    The telemetry normaliser's buffers stay float64 in both.
    """

    def __init__(self, master: nn.Module, dtype=torch.bfloat16):
        self.master, self.work = master, copy.deepcopy(master)
        for p in self.work.parameters():
            p.data = p.data.to(dtype)
        self._pairs = list(zip(master.parameters(), self.work.parameters()))

    @torch.no_grad()
    def pull(self) -> None:
        """Master weights and normaliser statistics -> the copy."""
        for m, w in self._pairs:
            w.copy_(m)
        for mb, wb in zip(self.master.buffers(), self.work.buffers()):
            wb.copy_(mb)

    def push_grads(self) -> None:
        """The copy's gradients -> the master's ``.grad`` (float32)."""
        for m, w in self._pairs:
            m.grad = None if w.grad is None else w.grad.to(m.dtype)
            w.grad = None


def cloning_loss(mean: torch.Tensor, expert: torch.Tensor, brake_weight: float = 1.0) -> torch.Tensor:
    """The behaviour-cloning loss: the squared error of the policy's mean (B, 2) to the expert's
    actions (clipped to [-1, 1]), averaged. With ``brake_weight`` W > 1 a sample counts
    1 + (W - 1) x the expert's brake pedal (its throttle below 0), the weights normalised to average
    1 over the batch: hard braking is a few per cent of a lap's samples and a plain mean lets the
    policy's pedal regress towards the coasting around it (W = 1: the plain mean, bit for bit)."""
    target = expert.clamp(-1, 1)
    err = (mean - target) ** 2
    if brake_weight == 1.0:
        return err.mean()
    w = 1.0 + (brake_weight - 1.0) * (-target[:, 1]).clamp(min=0.0)
    return (err.mean(-1) * w).sum() / w.sum()


def _policy_terms(dist, batch: dict, mb, cfg: UpdateConfig) -> tuple:
    """The loss terms on the policy's mean besides PPO's (0 when none is on) and their statistics:
    the behaviour-cloning term (``bc_coef``) and the bound on the mean (``mean_bound_coef``)."""
    loss, stats = 0.0, {}
    if cfg.value_only:
        return loss, stats
    if cfg.bc_coef > 0 and "expert_actions" in batch:
        bc_loss = cloning_loss(dist.mean, batch["expert_actions"][mb], cfg.bc_brake_weight)
        loss = loss + cfg.bc_coef * bc_loss
        stats.update(bc_loss=bc_loss.item(), bc_coef=cfg.bc_coef)
    if cfg.mean_bound_coef > 0:
        # a mean far outside [-1, 1] clips every sample to the same action: no sample ever tries
        # anything else there and the advantages cannot move it back (a kart at rest, sideways,
        # holding a throttle mean of -5 stays braked); keep it within the noise's reach
        bound_loss = (torch.relu(dist.mean.abs() - 1.0) ** 2).sum(-1).mean()
        loss = loss + cfg.mean_bound_coef * bound_loss
        stats["mean_bound_loss"] = bound_loss.item()
    return loss, stats


def ppo_update(agent: nn.Module, optimizer: torch.optim.Optimizer, batch: dict, cfg: UpdateConfig,
               generator: torch.Generator | None = None, shadow: LowPrecisionCopy | None = None) -> dict:
    """One PPO update over a flattened rollout; returns statistics, never logs.

    ``batch``: tensors ``vision`` (B, 84, 84, C) uint8, ``telemetry`` (B, T), ``actions`` (B, A),
    ``logprobs``, ``values``, ``advantages``, ``returns`` (B,), optional ``valid`` (B,) bool.
    ``shadow``: a ``LowPrecisionCopy`` of ``agent`` to run the passes in bfloat16 (``optimizer``
    steps ``agent``'s float32 parameters either way). With ``cfg.bc_coef`` > 0 and
    ``batch["expert_actions"]`` (B, A), the loss also pulls the policy's mean towards the
    expert's action in each state: ``bc_coef`` x mean squared error (DAPG's behaviour-cloning
    term, Rajeswaran et al. 2018, here on the policy's own states, labelled as in DAgger).
    """
    net = agent if shadow is None else shadow.work
    valid = batch.get("valid")
    idx_all = torch.arange(batch["actions"].shape[0])
    if valid is not None:
        idx_all = idx_all[valid]
    n = len(idx_all)
    clip_fracs, approx_kls = [], []
    stats = {}
    stopped_early = False
    for epoch in range(cfg.n_epochs):
        perm = idx_all[torch.randperm(n, generator=generator)]
        for start in range(0, n, cfg.batch_size):
            mb = perm[start:start + cfg.batch_size]
            dist, newvalue = net.distribution(batch["vision"][mb], batch["telemetry"][mb])
            newlogprob = dist.log_prob(batch["actions"][mb]).sum(-1)
            entropy = dist.entropy().sum(-1)
            logratio = newlogprob - batch["logprobs"][mb]
            ratio = logratio.exp()
            with torch.no_grad():
                approx_kl = ((ratio - 1) - logratio).mean()     # Schulman's k3 estimator
                clip_fracs.append(((ratio - 1.0).abs() > cfg.clip_coef).float().mean().item())
                approx_kls.append(approx_kl.item())
            adv = batch["advantages"][mb]
            if cfg.normalize_advantages and len(mb) > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg_loss = torch.max(-adv * ratio,
                                -adv * torch.clamp(ratio, 1 - cfg.clip_coef, 1 + cfg.clip_coef)).mean()
            ret = batch["returns"][mb]
            if cfg.clip_value:
                old_v = batch["values"][mb]
                v_clipped = old_v + torch.clamp(newvalue - old_v, -cfg.clip_coef, cfg.clip_coef)
                v_loss = 0.5 * torch.max((newvalue - ret) ** 2, (v_clipped - ret) ** 2).mean()
            else:
                v_loss = 0.5 * ((newvalue - ret) ** 2).mean()
            ent = entropy.mean()
            loss = cfg.vf_coef * v_loss if cfg.value_only else pg_loss - cfg.ent_coef * ent + cfg.vf_coef * v_loss
            extra, extra_stats = _policy_terms(dist, batch, mb, cfg)
            loss = loss + extra
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if shadow is not None:
                shadow.push_grads()
            if cfg.value_only:          # only the value head learns: the policy stays as it is
                for name, p in agent.named_parameters():
                    if not name.startswith("critic."):
                        p.grad = None
            nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm)
            optimizer.step()
            if shadow is not None:
                shadow.pull()
            stats = {"policy_gradient_loss": pg_loss.item(), "value_loss": v_loss.item(),
                     "entropy_loss": -ent.item()}
            stats.update(extra_stats)
        recent_kl = np.mean(approx_kls[-max(1, n // cfg.batch_size):]) if approx_kls else 0.0
        if cfg.target_kl is not None and approx_kls and recent_kl > cfg.target_kl:
            stopped_early = True
            break
    values, returns = batch["values"][idx_all], batch["returns"][idx_all]
    var_y = returns.var()
    explained = float("nan") if var_y == 0 else float(1 - (returns - values).var() / var_y)
    stats.update(approx_kl=float(np.mean(approx_kls)) if approx_kls else 0.0,
                 clip_fraction=float(np.mean(clip_fracs)) if clip_fracs else 0.0,
                 explained_variance=explained, epochs=epoch + 1, stopped_early=stopped_early,
                 std=agent.log_std.detach().exp().mean().item())
    return stats


class RewardScaler:
    """Divides rewards by a running standard deviation of the discounted return (the
    ``norm_reward`` of SB3's VecNormalize): the value targets stay near unit scale whatever
    the track's length or the bonuses. Its state is saved with checkpoints."""

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0, eps: float = 1e-8):
        self.gamma, self.clip, self.eps = gamma, clip, eps
        self.ret = np.zeros(num_envs)
        self.rms = RunningNorm(1)          # the same running statistics as the telemetry's

    @property
    def var(self) -> float:
        """Running variance of the discounted return."""
        return float(self.rms.var)

    def __call__(self, reward, done, valid):
        """Scaled rewards for one step; ``valid`` marks real transitions (not reset steps)."""
        r = np.asarray(reward, np.float64)
        self.ret = np.where(valid, self.ret * self.gamma + r, self.ret)
        if valid.any():
            self.rms.update(torch.from_numpy(self.ret[valid]))
        self.ret[np.asarray(done, bool)] = 0.0
        return np.clip(r / np.sqrt(self.var + self.eps), -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict:
        """The scaler's statistics (saved with checkpoints)."""
        return self.rms.state_dict()

    def load_state_dict(self, d: dict) -> None:
        """Restore statistics saved by ``state_dict``."""
        self.rms.load_state_dict(d)
