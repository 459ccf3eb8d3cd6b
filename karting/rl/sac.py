"""Soft actor-critic from pixels and telemetry: the network, the replay buffer and one update.

The learner is SAC (Haarnoja et al. 2018) with what made it learn from images, DrQ (Kostrikov et
al. 2020) and DrQ-v2 (Yarats et al. 2021): random-shift augmentation of the camera image, n-step
returns, twin Q critics with target networks, and the temperature tuned to a target entropy.

Network (:class:`SACAgent`): the PPO network's encoder as it is (the same module names, so its
weights load from a PPO model: NatureCNN 3k -> 3136, telemetry normaliser and MLP -> 64, fusion
3200 -> 512), then

actor     512 -> 256 -> 2 x 2: the mean and log-std of a Gaussian squashed by tanh into [-1, 1]
q1, q2    512 + 2 -> 256 -> 1 each
target    a slowly moving copy (Polyak, ``tau``) of the encoder and both Q heads

The encoder learns from the critics' loss only; the actor reads its features detached (as in
SAC-AE and DrQ). The target features of the next observation drive both the next action and the
target Q values (one pass of the big CNN instead of two).

Replay (:class:`ReplayBuffer`): each env column keeps its own ring of rows, one row per vector
step: the newest 84x84 RGB frame of the observation (uint8, stored once), the telemetry, the action,
reward, ends and the valid mask. The row after an episode's last step holds its final observation
(Gymnasium's next-step autoreset), so the next observation of row t is row t + 1 and nothing is
stored twice; a frame stack is gathered by index from the rows of the same episode (the first
frame repeated at an episode's start, as the env does), never copied into the buffer.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..env.spec import VIEW
from .policy import Agent, layer_init

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def random_shift(vision: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """DrQ's random shift of a batch of uint8 images (B, H, W, C): each image is padded by ``pad``
    pixels (its edge pixels repeated) and cropped back to H x W at a random offset of its own
    (-pad..pad in each direction); done by gathering indices, so it stays uint8."""
    if pad <= 0:
        return vision
    b, h, w, _ = vision.shape
    dev = vision.device
    shift = torch.randint(0, 2 * pad + 1, (b, 2), generator=generator).to(dev) - pad
    rows = (torch.arange(h, device=dev)[None] + shift[:, :1]).clamp_(0, h - 1)       # (B, H)
    cols = (torch.arange(w, device=dev)[None] + shift[:, 1:]).clamp_(0, w - 1)       # (B, W)
    bi = torch.arange(b, device=dev)[:, None, None]
    return vision[bi, rows[:, :, None], cols[:, None, :]]


def squash(mean: torch.Tensor, log_std: torch.Tensor, deterministic: bool = False,
           generator: torch.Generator | None = None) -> tuple:
    """A tanh-squashed Gaussian sample and its log-probability (B,): (tanh(mean), log-prob there)
    when ``deterministic``. The log-det of tanh is 2 (log 2 - u - softplus(-2u)), stable for any u."""
    std = log_std.exp()
    if deterministic:
        u = mean
    else:
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype) \
            if generator is not None else torch.randn_like(mean)
        u = mean + std * noise
    logp = (-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    logp = logp - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
    return torch.tanh(u), logp


class SACAgent(Agent):
    """The SAC network (see the module docstring). It answers the PPO agent's
    ``get_action_and_value`` (the deterministic action is tanh of the mean), so evaluation, play,
    races, the league and the benchmark drive it as they drive a PPO model."""

    def __init__(self, frame_stack: int = 1, telemetry_history: int = 1, action_dim: int = 2,
                 telemetry: str = "full", vision: bool = True, preview: bool = False,
                 actor_preview: bool | None = None, init_alpha: float = 0.1, **_):
        super().__init__(frame_stack=frame_stack, telemetry_history=telemetry_history, action_dim=action_dim,
                         telemetry=telemetry, vision=vision, preview=preview, actor_preview=actor_preview)
        del self.critic, self.log_std          # PPO's value head and state-independent noise
        self.action_dim = action_dim
        self.actor = nn.Sequential(layer_init(nn.Linear(512, 256)), nn.ReLU(),
                                   layer_init(nn.Linear(256, 2 * action_dim), gain=0.01))
        self.q1, self.q2 = (nn.Sequential(layer_init(nn.Linear(512 + action_dim, 256)), nn.ReLU(),
                                          layer_init(nn.Linear(256, 1), gain=1.0)) for _ in range(2))
        self.log_alpha = nn.Parameter(torch.tensor(math.log(init_alpha)))
        # the target: a copy of the encoder and the Q heads, moved by Polyak averaging, never by gradients
        self.target = nn.ModuleDict({k: copy.deepcopy(getattr(self, k)) for k in
                                     ("vision", "telemetry", "fusion", "q1", "q2")}).requires_grad_(False)

    # parameter groups of the three optimizers
    def critic_parameters(self) -> list:
        return [p for m in (self.vision, self.telemetry, self.fusion, self.q1, self.q2) for p in m.parameters()]

    def actor_parameters(self) -> list:
        return list(self.actor.parameters())

    def _encode(self, vision, telemetry, mods) -> torch.Tensor:
        dt = mods["fusion"][0].weight.dtype      # float32, or bfloat16 in a LowPrecisionCopy
        x = vision.permute(0, 3, 1, 2).to(dt).div_(255.0)
        if not self.use_vision:
            x = torch.zeros_like(x)
        v = mods["vision"](x.contiguous(memory_format=torch.channels_last))
        tn = self.telemetry_norm(telemetry.float())
        t = mods["telemetry"]((tn * self.telemetry_keep if self._masked else tn).to(dt))
        return mods["fusion"](torch.cat([v, t], 1))

    def features(self, vision: torch.Tensor, telemetry: torch.Tensor) -> torch.Tensor:
        """The online encoder's (B, 512) features."""
        return self._encode(vision, telemetry, {"vision": self.vision, "telemetry": self.telemetry,
                                                "fusion": self.fusion})

    def target_features(self, vision: torch.Tensor, telemetry: torch.Tensor) -> torch.Tensor:
        """The target encoder's (B, 512) features."""
        return self._encode(vision, telemetry, self.target)

    def encode(self, vision, telemetry, critic: bool = True) -> tuple:
        h = self.features(vision, telemetry)
        return h, (h if critic else None)

    def policy(self, h: torch.Tensor, deterministic: bool = False, generator=None) -> tuple:
        """(action in [-1, 1], its log-prob) from features ``h``."""
        mean, log_std = self.actor(h).float().chunk(2, -1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(log_std) + 1)
        return squash(mean, log_std, deterministic, generator)

    @staticmethod
    def q(heads, h: torch.Tensor, action: torch.Tensor) -> tuple:
        """(Q1, Q2) (B,) of ``heads`` (the agent, or its target) for features and actions."""
        x = torch.cat([h, action.to(h.dtype)], 1)
        return heads.q1(x).squeeze(-1).float(), heads.q2(x).squeeze(-1).float()

    def mean_and_value(self, vision, telemetry) -> tuple:
        h = self.features(vision, telemetry)
        a, _ = self.policy(h, deterministic=True)
        return a, torch.minimum(*self.q(self, h, a))

    def get_value(self, vision, telemetry) -> torch.Tensor:
        return self.mean_and_value(vision, telemetry)[1]

    def get_action_and_value(self, vision, telemetry, action=None, deterministic: bool = False) -> tuple:
        """(action, log-prob, entropy estimate (-log-prob), min Q) as the PPO agent's; a given
        ``action`` is not scored (SAC never needs it)."""
        h = self.features(vision, telemetry)
        a, logp = self.policy(h, deterministic)
        if action is not None:
            raise ValueError("SACAgent does not score given actions")
        return a, logp, -logp, torch.minimum(*self.q(self, h, a))

    @torch.no_grad()
    def soft_update(self, tau: float) -> None:
        """target <- (1 - tau) target + tau online (encoder and Q heads)."""
        for k, mod in self.target.items():
            for t, p in zip(mod.parameters(), getattr(self, k).parameters()):
                t.lerp_(p, tau)


@dataclass(frozen=True)
class SACSettings:
    """One SAC update's settings (a subset of TrainConfig)."""
    gamma: float = 0.99
    tau: float = 0.01
    target_entropy: float = -2.0
    augment: int = 4                 # random shift [pixels]; 0 = off
    max_grad_norm: float = 10.0


def sac_update(agent: SACAgent, optim: dict, batch: dict, s: SACSettings, generator=None, shadow=None) -> dict:
    """One SAC update (critics and encoder, actor, temperature, target) on a sampled batch; returns
    statistics. ``batch``: ``vision``, ``next_vision`` (B, 84, 84, C) uint8, ``telemetry``,
    ``next_telemetry``, ``actions``, ``reward`` (the n-step discounted sum), ``discount``
    (gamma^n, 0 where the episode terminated within the n steps). ``shadow``: a LowPrecisionCopy
    of ``agent`` that runs the passes in bfloat16; the optimizers step ``agent``'s float32
    weights either way, and the temperature and the target's Polyak step stay float32."""
    net = shadow.work if shadow is not None else agent
    vis = random_shift(batch["vision"], s.augment, generator)
    nvis = random_shift(batch["next_vision"], s.augment, generator)
    alpha = agent.log_alpha.exp().detach()
    with torch.no_grad():
        hn = net.target_features(nvis, batch["next_telemetry"])
        an, logpn = net.policy(hn, generator=generator)
        qn = torch.minimum(*net.q(net.target, hn, an)) - alpha * logpn
        y = batch["reward"] + batch["discount"] * qn
    h = net.features(vis, batch["telemetry"])
    q1, q2 = net.q(net, h, batch["actions"])
    critic_loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
    optim["critic"].zero_grad(set_to_none=True)
    critic_loss.backward()
    if shadow is not None:
        shadow.push_grads()
    grad_norm = nn.utils.clip_grad_norm_(agent.critic_parameters(), s.max_grad_norm)
    optim["critic"].step()
    # the actor on the same (detached) features; the Q heads are held still meanwhile
    hd = h.detach()
    net.q1.requires_grad_(False)
    net.q2.requires_grad_(False)
    a, logp = net.policy(hd, generator=generator)
    actor_loss = (alpha * logp - torch.minimum(*net.q(net, hd, a))).mean()
    optim["actor"].zero_grad(set_to_none=True)
    actor_loss.backward()
    if shadow is not None:
        shadow.push_grads()
    optim["actor"].step()
    net.q1.requires_grad_(True)
    net.q2.requires_grad_(True)
    alpha_loss = -(agent.log_alpha * (logp.detach() + s.target_entropy)).mean()
    optim["alpha"].zero_grad(set_to_none=True)
    alpha_loss.backward()
    optim["alpha"].step()
    agent.soft_update(s.tau)
    if shadow is not None:
        shadow.pull()
    return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item(), "ent_coef": float(alpha),
            "ent_coef_loss": alpha_loss.item(), "entropy": -logp.mean().item(), "q_mean": q1.mean().item(),
            "target_q_mean": y.mean().item(), "critic_grad_norm": float(grad_norm)}


def make_optimizers(agent: SACAgent, lr: float) -> dict:
    """Adam for the critics with the encoder, for the actor, and for the temperature."""
    return {"critic": torch.optim.Adam(agent.critic_parameters(), lr=lr),
            "actor": torch.optim.Adam(agent.actor_parameters(), lr=lr),
            "alpha": torch.optim.Adam([agent.log_alpha], lr=lr)}


def replay_bytes(capacity: int, observation_space, action_dim: int = 2) -> int:
    """Bytes a :class:`ReplayBuffer` of ``capacity`` transitions allocates (frames once, telemetry,
    actions, rewards, ends, episode starts)."""
    tel = int(np.prod(observation_space["telemetry"].shape))
    return capacity * (VIEW * VIEW * 3 + 4 * tel + 4 * action_dim + 4 + 3 + 8)


def available_bytes() -> int | None:
    """MemAvailable of /proc/meminfo (None where there is no such file)."""
    try:
        with open("/proc/meminfo") as f:
            for ln in f:
                if ln.startswith("MemAvailable:"):
                    return int(ln.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class ReplayBuffer:
    """Transitions of ``n_envs`` karts in per-env rings of ``capacity // n_envs`` rows (see the
    module docstring); :meth:`add` after each vector step, :meth:`sample` a batch of n-step
    transitions with their frame stacks gathered by index."""

    def __init__(self, capacity: int, n_envs: int, observation_space, frame_stack: int = 1, action_dim: int = 2):
        self.rows = max(capacity // n_envs, 2)
        self.n, self.k = n_envs, frame_stack
        shape = observation_space["vision"].shape
        if shape[2] != 3 * frame_stack:
            raise ValueError(f"vision {shape} does not hold {frame_stack} frames")
        r, n = self.rows, n_envs
        self.frames = np.zeros((r, n, VIEW, VIEW, 3), np.uint8)
        self.telemetry = np.zeros((r, n) + observation_space["telemetry"].shape, np.float32)
        self.actions = np.zeros((r, n, action_dim), np.float32)
        self.rewards = np.zeros((r, n), np.float32)
        self.terminated, self.truncated, self.valid = (np.zeros((r, n), bool) for _ in range(3))
        self.ep_start = np.zeros((r, n), np.int64)     # global row of the episode's first observation
        self.t = 0                                     # global rows written (observations)
        self._start = np.zeros(n, np.int64)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.frames, self.telemetry, self.actions, self.rewards, self.terminated,
                                      self.truncated, self.valid, self.ep_start))

    def __len__(self) -> int:
        """Transitions held (rows with a next observation), over all envs."""
        return max(min(self.t, self.rows) - 1, 0) * self.n

    def add_obs(self, obs: dict, new_episode: np.ndarray | None = None) -> None:
        """Store the observation of row ``t`` (its newest frame and telemetry); ``new_episode``
        marks karts whose observation starts an episode (after a reset step)."""
        i = self.t % self.rows
        if new_episode is not None:
            self._start[new_episode] = self.t
        self.frames[i] = np.asarray(obs["vision"])[..., -3:]
        self.telemetry[i] = obs["telemetry"]
        self.ep_start[i] = self._start

    def add_step(self, action, reward, terminated, truncated, valid) -> None:
        """The step taken from row ``t``'s observation; moves on to the next row."""
        i = self.t % self.rows
        self.actions[i], self.rewards[i] = action, reward
        self.terminated[i], self.truncated[i], self.valid[i] = terminated, truncated, valid
        self.t += 1

    def stack(self, rows: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """(B, 84, 84, 3k) frame stacks of global ``rows`` of ``envs`` (oldest frame first; rows
        before the episode's start repeat its first frame)."""
        start = self.ep_start[rows % self.rows, envs]
        parts = [self.frames[np.maximum(rows - j, start) % self.rows, envs] for j in range(self.k - 1, -1, -1)]
        return np.concatenate(parts, -1) if self.k > 1 else parts[0]

    def sample(self, batch_size: int, n_step: int, gamma: float, rng: np.random.Generator) -> dict | None:
        """A batch of ``batch_size`` n-step transitions (numpy), or None while too few are held:
        row t's observation and action; the discounted sum of its rewards up to ``n_step`` steps or
        its episode's end; the observation that ends them (bootstrap) and gamma^m, 0 where the
        episode terminated."""
        lo = max(self.t - self.rows + self.k, 0)     # older rows (or their stacks) are overwritten
        hi = self.t - n_step                          # rows t .. t + n_step must be written
        if hi <= lo:
            return None
        rows = rng.integers(lo, hi, 4 * batch_size)
        envs = rng.integers(0, self.n, 4 * batch_size)
        ok = self.valid[rows % self.rows, envs]
        if ok.sum() < batch_size:
            return None
        rows, envs = rows[ok][:batch_size], envs[ok][:batch_size]
        ret = np.zeros(batch_size, np.float64)
        disc = np.ones(batch_size, np.float64)
        alive = np.ones(batch_size, bool)
        end = rows.copy()                            # the row whose step is the last one summed
        term = np.zeros(batch_size, bool)
        for j in range(n_step):
            r = (rows + j) % self.rows
            live = alive & (self.valid[r, envs] if j else True)
            ret += np.where(live, disc * self.rewards[r, envs], 0.0)
            disc = np.where(live, disc * gamma, disc)
            end = np.where(live, rows + j, end)
            stop = self.terminated[r, envs] | self.truncated[r, envs]
            term |= live & self.terminated[r, envs]
            alive = live & ~stop
        nxt = end + 1
        i = rows % self.rows
        return {"vision": self.stack(rows, envs), "telemetry": self.telemetry[i, envs],
                "actions": self.actions[i, envs], "reward": ret.astype(np.float32),
                "discount": np.where(term, 0.0, disc).astype(np.float32),
                "next_vision": self.stack(nxt, envs), "next_telemetry": self.telemetry[nxt % self.rows, envs]}
