"""Rollout storage, allocated once, time-major ``(n_steps, n_envs, ...)`` as in CleanRL; images
stay uint8 (4x smaller than float) until the network."""
from __future__ import annotations

import numpy as np
import torch


class RolloutBuffer:
    """One rollout of ``n_steps`` x ``n_envs``: observations, actions, log-probs, values,
    rewards, ends and the valid mask."""
    def __init__(self, n_steps: int, n_envs: int, observation_space, action_dim: int = 2,
                 expert_actions: bool = False):
        t, n = n_steps, n_envs
        # the expert's action in each state (--bc-coef): labels for the behaviour-cloning term
        self.expert_actions = torch.zeros((t, n, action_dim)) if expert_actions else None
        self.vision = torch.zeros((t, n) + observation_space["vision"].shape, dtype=torch.uint8)
        self.telemetry = torch.zeros((t, n) + observation_space["telemetry"].shape)
        self.actions = torch.zeros((t, n, action_dim))
        self.logprobs, self.values = torch.zeros((t, n)), torch.zeros((t, n))
        self.rewards = np.zeros((t, n), np.float32)
        # valid: False on the reset step of the next-step autoreset (its action does nothing)
        self.terminated, self.truncated, self.valid = (np.zeros((t, n), bool) for _ in range(3))

    def minibatch_source(self, advantages: np.ndarray, returns: np.ndarray, device) -> dict:
        """The rollout flattened to ``(n_steps * n_envs, ...)`` tensors on ``device``, with the
        advantages and returns, as ``ppo_update`` takes it."""
        flat = lambda x: x.reshape((-1,) + tuple(x.shape[2:]))  # noqa: E731
        extra = {} if self.expert_actions is None else {"expert_actions": flat(self.expert_actions).to(device)}
        return {**extra, "vision": flat(self.vision).to(device), "telemetry": flat(self.telemetry).to(device),
                "actions": flat(self.actions).to(device), "logprobs": flat(self.logprobs).to(device),
                "values": flat(self.values).to(device),
                "advantages": torch.from_numpy(advantages.reshape(-1)).to(device),
                "returns": torch.from_numpy(returns.reshape(-1)).to(device),
                "valid": torch.from_numpy(self.valid.reshape(-1)).to(device)}
