"""The hybrid CNN + MLP actor-critic for ``{"vision": (84, 84, 3k) uint8, "telemetry": (9j [+ 48],)}``.

vision    Conv(3k->32, k8, s4) -> Conv(32->64, k4, s2) -> Conv(64->64, k3, s1) -> 3136  (NatureCNN)
telemetry running-normalised, 9j (+ 48 with the track preview) -> 64 -> 64
fusion    concat 3200 -> 512
actor     512 -> 256 -> 2: the mean of a Gaussian with a state-independent log-std
critic    512 -> 256 -> 1

An asymmetric critic (``critic="privileged"``) has its own telemetry MLP and fusion layer (on the
shared CNN) and reads the whole telemetry vector, preview included, whatever the actor's preset
hides: the value may use privileged state that the driving policy does not see.

Images stay uint8 up to the network and are scaled to [0, 1] inside it; the channels-last
observation is permuted to channels-first here (so rollouts store the env's layout, 4x smaller
than float). Orthogonal initialisation as in CleanRL's ``layer_init`` (gain 0.01 on the policy
head, 1 on the value head). The telemetry normaliser's statistics are buffers of the module, so
they are saved and loaded with the weights.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal

from ..env.spec import PREVIEW_SIZE, TELEMETRY_SIZE, VIEW, telemetry_size

#: telemetry presets: which of the 9 values (karting.env.spec.TELEMETRY_NAMES) the network sees
TELEMETRY_PRESETS = {"full": tuple(range(TELEMETRY_SIZE)), "kart": (0, 1, 2, 3, 4, 5)}


def layer_init(layer: nn.Module, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights with ``gain``, constant bias (CleanRL's ``layer_init``)."""
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.constant_(layer.bias, bias)
    return layer


def nature_cnn(channels: int = 3, init=layer_init) -> nn.Sequential:
    """The vision layers (NatureCNN): Conv(C->32, k8, s4), Conv(32->64, k4, s2), Conv(64->64, k3, s1),
    ReLUs, flattened to 3136 for 84x84 images; each conv initialised by ``init`` as it is made."""
    return nn.Sequential(init(nn.Conv2d(channels, 32, 8, stride=4)), nn.ReLU(),
                         init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
                         init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(), nn.Flatten())


class RunningNorm(nn.Module):
    """Running mean / variance (parallel algorithm of Chan et al.), applied as (x - mean) / std,
    clipped to +-clip. ``update`` is called by the trainer on each rollout, never in forward."""

    def __init__(self, size: int, clip: float = 10.0, eps: float = 1e-4):
        super().__init__()
        self.clip = clip
        self.register_buffer("mean", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("var", torch.ones(size, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(eps, dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold a batch of samples into the running statistics."""
        x = x.reshape(-1, self.mean.numel()).to(torch.float64)
        b_mean, b_var, b_count = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta = b_mean - self.mean
        total = self.count + b_count
        self.mean += delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta ** 2 * self.count * b_count / total
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised and clipped ``x``."""
        std = torch.sqrt(self.var + 1e-8).to(x.dtype)
        return torch.clamp((x - self.mean.to(x.dtype)) / std, -self.clip, self.clip)


class Agent(nn.Module):
    """The hybrid CNN + MLP actor-critic (see the module docstring); CleanRL's API."""
    def __init__(self, frame_stack: int = 1, telemetry_history: int = 1, action_dim: int = 2,
                 log_std_init: float = 0.0, telemetry: str = "full", vision: bool = True, preview: bool = False,
                 actor_preview: bool | None = None, critic: str = "shared"):
        """``preview``: the observation holds the track preview; ``actor_preview`` (default
        ``preview``): the actor reads it; ``critic``: shared (the actor's features) or privileged."""
        super().__init__()
        c = 3 * frame_stack
        self.frame_stack, self.telemetry_history = frame_stack, telemetry_history
        self.vision = nature_cnn(c)
        with torch.no_grad():  # size the flatten layer with one dummy forward (as SB3's NatureCNN)
            n_flat = self.vision(torch.zeros(1, c, VIEW, VIEW)).shape[1]
        t = telemetry_size(telemetry_history, preview)
        self.preview = bool(preview)
        self.telemetry_norm = RunningNorm(t)
        self.telemetry = nn.Sequential(layer_init(nn.Linear(t, 64)), nn.ReLU(),
                                       layer_init(nn.Linear(64, 64)), nn.ReLU())
        self.fusion = nn.Sequential(layer_init(nn.Linear(n_flat + 64, 512)), nn.ReLU())
        self.actor = nn.Sequential(layer_init(nn.Linear(512, 256)), nn.ReLU(),
                                   layer_init(nn.Linear(256, action_dim), gain=0.01))
        self.critic = nn.Sequential(layer_init(nn.Linear(512, 256)), nn.ReLU(),
                                    layer_init(nn.Linear(256, 1), gain=1.0))
        if critic not in ("shared", "privileged"):
            raise ValueError(f"critic must be shared or privileged, got {critic!r}")
        self.privileged = critic == "privileged"
        if self.privileged:
            self.critic_telemetry = nn.Sequential(layer_init(nn.Linear(t, 64)), nn.ReLU(),
                                                  layer_init(nn.Linear(64, 64)), nn.ReLU())
            self.critic_fusion = nn.Sequential(layer_init(nn.Linear(n_flat + 64, 512)), nn.ReLU())
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))
        self.n_flat = n_flat
        # input ablations (not saved in the weights: the run's config says which)
        if telemetry not in TELEMETRY_PRESETS:
            raise ValueError(f"telemetry must be one of {sorted(TELEMETRY_PRESETS)}, got {telemetry!r}")
        keep = torch.zeros(TELEMETRY_SIZE)
        keep[list(TELEMETRY_PRESETS[telemetry])] = 1.0
        seen = float(self.preview if actor_preview is None else bool(actor_preview) and self.preview)
        keep = torch.cat([keep.repeat(telemetry_history), torch.full((t - TELEMETRY_SIZE * telemetry_history,), seen)])
        self.register_buffer("telemetry_keep", keep, persistent=False)
        self._masked = bool((keep == 0).any())
        self.telemetry_preset, self.use_vision = telemetry, bool(vision)

    @classmethod
    def from_spaces(cls, observation_space, action_space, **kwargs) -> "Agent":
        """The network for an env's single observation and action spaces (as the env declares
        them: ``vision`` (84, 84, 3k), ``telemetry`` (9j,), or (9j + 48,) with ``preview=True``,
        actions (2,))."""
        vision, telemetry = observation_space["vision"].shape, observation_space["telemetry"].shape
        extra = PREVIEW_SIZE if kwargs.get("preview") else 0
        if vision[:2] != (VIEW, VIEW) or vision[2] % 3 or (telemetry[0] - extra) % TELEMETRY_SIZE \
                or telemetry[0] <= extra:
            raise ValueError(f"observation space {observation_space} is not the karting one: vision "
                             f"({VIEW}, {VIEW}, 3k), telemetry ({TELEMETRY_SIZE}j{' + 48' if extra else ''},)")
        return cls(frame_stack=vision[2] // 3, telemetry_history=(telemetry[0] - extra) // TELEMETRY_SIZE,
                   action_dim=int(action_space.shape[0]), **kwargs)

    def encode(self, vision: torch.Tensor, telemetry: torch.Tensor, critic: bool = True) -> tuple:
        """vision (B, 84, 84, C) uint8 (or float in 0..255), telemetry (B, T) -> (the actor's
        (B, 512) features, the critic's: the same tensor unless the critic is privileged; None
        without ``critic``)."""
        dt = self.fusion[0].weight.dtype      # float32, or bfloat16 in a LowPrecisionCopy
        x = vision.permute(0, 3, 1, 2).to(dt).div_(255.0)
        if not self.use_vision:
            x = torch.zeros_like(x)
        v = self.vision(x.contiguous(memory_format=torch.channels_last))
        tn = self.telemetry_norm(telemetry.float())
        h = self.fusion(torch.cat([v, self.telemetry((tn * self.telemetry_keep if self._masked else tn).to(dt))], 1))
        if not critic:
            return h, None
        if not self.privileged:
            return h, h
        return h, self.critic_fusion(torch.cat([v, self.critic_telemetry(tn.to(dt))], 1))

    def features(self, vision: torch.Tensor, telemetry: torch.Tensor) -> torch.Tensor:
        """The actor's (B, 512) features (see :meth:`encode`)."""
        return self.encode(vision, telemetry, critic=False)[0]

    def mean_and_value(self, vision: torch.Tensor, telemetry: torch.Tensor) -> tuple:
        """(B, A) action means and (B,) values, float32."""
        h, hc = self.encode(vision, telemetry)
        return self.actor(h).float(), self.critic(hc).squeeze(-1).float()

    def get_value(self, vision: torch.Tensor, telemetry: torch.Tensor) -> torch.Tensor:
        """(B,) value estimates."""
        if self.privileged:
            return self.critic(self.encode(vision, telemetry)[1]).squeeze(-1).float()
        return self.critic(self.features(vision, telemetry)).squeeze(-1).float()

    def distribution(self, vision: torch.Tensor, telemetry: torch.Tensor) -> tuple:
        """(the policy's Gaussian over actions, value) for a batch of observations."""
        mean, value = self.mean_and_value(vision, telemetry)   # float32 even in a bfloat16 copy
        return Normal(mean, self.log_std.float().expand_as(mean).exp()), value

    def get_action_and_value(self, vision: torch.Tensor, telemetry: torch.Tensor, action: torch.Tensor | None = None,
                             deterministic: bool = False) -> tuple:
        """(action, log-prob, entropy, value); ``action`` given -> its log-prob under the policy."""
        dist, value = self.distribution(vision, telemetry)
        if action is None:
            action = dist.mean if deterministic else dist.sample()
        return action, dist.log_prob(action).sum(-1), dist.entropy().sum(-1), value


def obs_to_tensors(obs: dict, device="cpu") -> tuple:
    """Env observation dict (numpy, batched) -> (vision uint8, telemetry float32) tensors."""
    return (torch.as_tensor(np.asarray(obs["vision"]), device=device),
            torch.as_tensor(np.asarray(obs["telemetry"]), dtype=torch.float32, device=device))
