"""What an AI driver knows about the other karts' speed, numpy only.

* :func:`achievable`: a braking-limited speed profile limited by the kart's acceleration too
  (fitted to the physics at full throttle: ``a = 51.4 / v - 0.00258 v^2 - 0.037`` m/s^2), so a
  slow exit costs what it costs on the straight after it. The AI predicts with it when it would
  reach a corner's apex against the kart it wants to pass.
* :class:`PaceWatch`: the pace of karts that are not AI levels (a human, a trained policy),
  which every AI driver estimates by watching them where they are free (an exponential average of
  their speed over a reference profile in the corners): a driver learns in a corner or two that
  a kart is slow, as on a real track. The AI levels' own pace is known (their profiles).
"""
from __future__ import annotations

import numpy as np

from .physics import CONTROL_HZ

PACE_TAU_S = 2.0                           # the pace estimate's time constant


def acceleration(v: np.ndarray) -> np.ndarray:
    """Full-throttle acceleration [m/s^2] at speed ``v`` on asphalt (fitted to the physics)."""
    v = np.maximum(v, 1.0)
    return np.clip(51.4 / v - 0.00258 * v * v - 0.037, 0.0, 6.0)


def achievable(profile: np.ndarray, ds: float) -> np.ndarray:
    """``profile`` (braking-limited target speeds, a closed lap) limited by the acceleration too:
    the speed a kart can actually have at each point."""
    v = profile.astype(np.float64).copy()
    for _ in range(2):                      # two laps forwards settle the wrap-around
        for i in range(len(v)):
            j = (i + 1) % len(v)
            v[j] = min(v[j], np.sqrt(v[i] ** 2 + 2 * acceleration(v[i]) * ds))
    return v


class PaceWatch:
    """The pace of ``n`` karts as a fraction of ``ref`` (M,), a reference achievable profile."""

    def __init__(self, ref: np.ndarray, n: int):
        self.ref = ref
        self.pace = np.ones(n)

    def reset(self, mask: np.ndarray) -> None:
        self.pace[mask] = 1.0

    def watch(self, race, active: np.ndarray, free: np.ndarray) -> None:
        """Update every kart's pace from where it is free (no kart close ahead) and not flat out."""
        r = self.ref[race.idx]
        v = race.state.speed.astype(np.float64)
        ok = active & free & (r < self.ref.max() - 1.0) & (v > 2.0)
        k = 1.0 / (PACE_TAU_S * CONTROL_HZ)
        self.pace = np.where(ok, self.pace + k * (np.clip(v / r, 0.5, 1.15) - self.pace), self.pace)

    def speeds(self, karts: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The speeds ``karts`` (shape S) are expected to have at track ``points`` (shape S + (W,))."""
        return self.pace[karts][..., None] * self.ref[points]
