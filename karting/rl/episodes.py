"""Training-episode statistics: returns, lengths and lap completion of the last finished
episodes, and the best lap driven in training."""
from __future__ import annotations

import math
from collections import deque

import numpy as np


class EpisodeStats:
    """Fed every vector-env step; keeps the last ``window`` finished episodes, the best valid lap
    (and its sectors) seen in training, and when the first one came."""

    def __init__(self, n_envs: int, track_lengths, window: int = 100):
        self.returns, self.lengths, self.laps = (deque(maxlen=window) for _ in range(3))
        self.best_lap, self.best_sectors = math.inf, [math.nan] * 3
        self.episodes = 0
        self.first_valid_lap = None
        self.track_lengths = np.asarray(track_lengths)
        self.ep_ret, self.ep_len = np.zeros(n_envs), np.zeros(n_envs, np.int64)
        self.ep_start = np.zeros(n_envs)
        self.valid = np.ones(n_envs, bool)     # False on an autoreset step: not part of an episode
        self.outcomes = None                   # a list to collect (env, lapped) of finished episodes

    def start(self, info: dict) -> None:
        """Episodes start where the karts are now (``info`` of a reset)."""
        self.ep_start = info["progress"].copy()

    def add(self, ret: float, length: int, lap_completed: bool) -> None:
        """One finished episode."""
        self.returns.append(ret)
        self.lengths.append(length)
        self.laps.append(lap_completed)
        self.episodes += 1

    def step(self, reward: np.ndarray, done: np.ndarray, info: dict, global_step: int,
             wall_s: float) -> np.ndarray:
        """Account one step (``done`` = terminated | truncated); ``global_step`` counts the step
        just taken. Returns the valid mask of the *next* step."""
        valid = self.valid
        self.ep_ret += reward * valid
        self.ep_len += valid
        for i in np.flatnonzero(done):
            lapped = bool(info["progress"][i] - self.ep_start[i] >= self.track_lengths[i] or info["lap"][i] >= 1)
            self.add(self.ep_ret[i], self.ep_len[i], lapped)
            if self.outcomes is not None:
                self.outcomes.append((int(i), lapped))
        better = (info["best_lap_time"] > 0) & (info["best_lap_time"] < self.best_lap)
        if better.any():
            if self.first_valid_lap is None:
                self.first_valid_lap = {"global_step": global_step, "wall_s": wall_s}
            i = int(np.argmin(np.where(better, info["best_lap_time"], np.inf)))
            self.best_lap = float(info["best_lap_time"][i])
            self.best_sectors = [float(x) for x in info["sector_times"][i]]
        self.ep_ret[done], self.ep_len[done] = 0.0, 0
        self.ep_start[~valid] = info["progress"][~valid]      # reset steps start anew
        self.valid = ~done
        return self.valid

    def mean(self, q) -> float:
        """Mean of a statistic's window (NaN when empty)."""
        return float(np.mean(q)) if q else math.nan

    def progress_text(self, fps: float) -> str:
        """The progress bar's postfix."""
        best = f"{self.best_lap:.2f} s" if math.isfinite(self.best_lap) else "-"
        rew = f"{self.mean(self.returns):.0f}" if self.returns else "-"
        laps = f"{self.mean(self.laps):.0%}" if self.laps else "-"
        return f"fps {fps:,.0f} | ep_rew {rew} | laps {laps} | best lap {best}"
