"""A league of past policies for self-play (``karting.train --self-play K --league L``).

The pool holds frozen copies of the policy taken every ``snapshot_every`` environment steps (the
oldest dropped beyond ``size``); each league kart of a race is driven, deterministically, by a
member drawn at random for that step's batch (one forward pass per member in use). Racing past
selves keeps a self-play population from collapsing into one habit (the league idea of
AlphaStar, Vinyals et al. 2019, in its simplest form)."""
from __future__ import annotations

import copy

import numpy as np

from .evaluate import policy_actions


class League:
    """``act(obs) -> (L, 2)`` for the league karts; ``maybe_snapshot(agent, global_step)``."""

    def __init__(self, agent, size: int = 5, snapshot_every: int = 65_536, device="cpu", seed: int = 0):
        self.size, self.every, self.device = int(size), int(snapshot_every), device
        self.members: list = []
        self.steps: list = []
        self.rng = np.random.default_rng(seed)
        self.next_at = 0
        self.maybe_snapshot(agent, 0)

    def maybe_snapshot(self, agent, global_step: int) -> bool:
        """Copy ``agent`` into the pool when ``snapshot_every`` steps have passed."""
        if global_step < self.next_at:
            return False
        frozen = copy.deepcopy(agent).to(self.device).eval()
        for p in frozen.parameters():
            p.requires_grad_(False)
        self.members.append(frozen)
        self.steps.append(int(global_step))
        if len(self.members) > self.size:
            self.members.pop(0)
            self.steps.pop(0)
        self.next_at = global_step + self.every
        return True

    def act(self, obs: dict) -> np.ndarray:
        n = len(obs["vision"])
        who = self.rng.integers(0, len(self.members), n)
        out = np.zeros((n, 2), np.float32)
        for m in np.unique(who):
            sel = who == m
            out[sel] = policy_actions(self.members[m], {k: v[sel] for k, v in obs.items()}, self.device)
        return out
