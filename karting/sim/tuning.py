"""Setup optimisation: the kart setup (:class:`karting.sim.conditions.KartSetup`) that makes the
expert fastest on a track in given conditions (numpy + scipy; the command is
``python -m karting.tune``).

The objective of a setup is the time the expert needs for ``laps`` clean laps from a standing
start (cold tyres unless told otherwise, so tyre warm-up counts), the best over a few expert
settings around the one that suits the default setup. Every candidate of a generation drives at
once, as one batch, so scipy's differential evolution (``vectorized=True``, the sprocket an
integer) costs one simulated stint per generation. Lap times count whole control steps (0.05
s); the objective interpolates the last crossing of the line within its step, so that small
differences still rank setups.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..track import Track
from .conditions import KartSetup
from .expert import drive_settings, reference_lap

#: searched parameters: (name, low, high, step of the sensitivity table)
SPACE = (("sprocket", 74, 88, 2), ("pressure_front_bar", 0.5, 1.3, 0.1),
         ("pressure_rear_bar", 0.5, 1.3, 0.1), ("rear_track_m", 1.30, 1.44, 0.03))
PENALTY_S = 1.0e4           # the objective of a setup that did not drive every lap clean


def setup_from_vector(x) -> KartSetup:
    """A KartSetup from a vector in SPACE order (rounded to what a mechanic can set)."""
    s, pf, pr, tr = (float(v) for v in x)
    return KartSetup(sprocket=int(round(s)), pressure_front_bar=round(pf, 2), pressure_rear_bar=round(pr, 2),
                     rear_track_m=round(tr, 3))


def vector(setup: KartSetup) -> np.ndarray:
    return np.array([getattr(setup, name) for name, *_ in SPACE], np.float64)


@dataclass
class SetupResult:
    """What :func:`optimise` found."""
    track: str
    conditions: dict
    laps: int
    best: KartSetup
    best_total_s: float
    default_total_s: float
    best_laps_s: tuple = ()
    default_laps_s: tuple = ()
    sensitivity: list = field(default_factory=list)     # (parameter, value, total_s, delta_s)
    evaluations: int = 0
    generations: int = 0
    seconds: float = 0.0

    @property
    def gain_s(self) -> float:
        """Time saved over the stint by the best setup against the default [s] (+ = faster)."""
        return self.default_total_s - self.best_total_s

    def as_dict(self) -> dict:
        return {"track": self.track, "conditions": self.conditions, "laps": self.laps,
                "best": self.best.to_dict(), "best_total_s": self.best_total_s,
                "default_total_s": self.default_total_s, "gain_s": self.gain_s,
                "best_laps_s": list(self.best_laps_s), "default_laps_s": list(self.default_laps_s),
                "sensitivity": [dict(zip(("parameter", "value", "total_s", "delta_s"), row))
                                for row in self.sensitivity],
                "evaluations": self.evaluations, "generations": self.generations, "seconds": self.seconds}


class Objective:
    """Stint time of many setups at once (see the module docstring)."""

    def __init__(self, track: Track, conditions: dict, laps: int, settings: list):
        self.track, self.conditions, self.laps, self.settings = track, conditions, laps, settings
        self.evaluations = 0

    def drive(self, setups: list) -> tuple:
        """(S,) stint totals [s] (inf: not clean) and each setup's laps of its best setting."""
        k = len(self.settings)
        mu = np.tile([m for m, _ in self.settings], len(setups))
        lw = np.tile([w for _, w in self.settings], len(setups))
        d = drive_settings(self.track, mu, lw, self.laps, conditions=self.conditions,
                           setups=[s for s in setups for _ in range(k)])
        tot = d.stint_totals(self.laps, precise=True).reshape(len(setups), k)
        pick = tot.argmin(1)
        laps = [tuple(lap.time_s for lap in d.book.laps[j * k + pick[j]]) for j in range(len(setups))]
        self.evaluations += len(setups)
        return tot.min(1), laps

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """scipy's vectorized call: x is (parameters, population)."""
        x = np.atleast_2d(np.asarray(x, np.float64))
        if x.shape[0] != len(SPACE):
            x = x.T
        totals, _ = self.drive([setup_from_vector(c) for c in x.T])
        return np.where(np.isfinite(totals), totals, PENALTY_S)


def expert_settings(track: Track, conditions: dict, laps: int) -> list:
    """Three expert settings around the one that drives the default setup fastest."""
    r = reference_lap(track, laps=laps, conditions=conditions, stint=True)
    if not r.completed:
        raise ValueError(f"{track.name}: the expert drives no clean {laps}-lap stint in {conditions}: "
                         "nothing to optimise a setup against")
    mus = sorted({round(min(2.0, max(0.7, r.mu_use + d)), 2) for d in (-0.1, 0.0, 0.1)})
    return [(m, r.line_weight) for m in mus]


def optimise(track: Track, conditions: dict | None = None, laps: int = 3, generations: int = 8,
             popsize: int = 6, seed: int = 0, log=None) -> SetupResult:
    """Differential evolution over SPACE; then the best and the default side by side and the
    sensitivity of each parameter (one step either way from the best, others held)."""
    from scipy.optimize import differential_evolution
    t0 = time.perf_counter()
    cond = {k: v for k, v in (conditions or {}).items() if k != "setup"}
    settings = expert_settings(track, cond, laps)
    obj = Objective(track, cond, laps, settings)
    bounds = [(lo, hi) for _, lo, hi, _ in SPACE]
    gen = [0]

    def progress(xk, convergence=0.0):
        gen[0] += 1
        if log is not None:
            log(f"  generation {gen[0]}/{generations}: best so far {setup_from_vector(xk).to_dict()} "
                f"({obj.evaluations} setups driven, {time.perf_counter() - t0:.0f} s)")

    res = differential_evolution(obj, bounds, integrality=[True, False, False, False], vectorized=True,
                                 updating="deferred", popsize=popsize, maxiter=generations, seed=seed,
                                 polish=False, tol=0.0, x0=vector(KartSetup()), callback=progress)
    best = setup_from_vector(res.x)
    # the best, the default and one step either way per parameter, in one batch
    trials = [best, KartSetup()]
    labels = []
    for name, lo, hi, step in SPACE:
        for sgn in (-1, 1):
            v = float(np.clip(getattr(best, name) + sgn * step, lo, hi))
            if v != getattr(best, name):
                trials.append(setup_from_vector([v if n == name else getattr(best, n) for n, *_ in SPACE]))
                labels.append((name, v))
    totals, laps_s = obj.drive(trials)
    sens = [(name, v, float(t), float(t - totals[0])) for (name, v), t in zip(labels, totals[2:])]
    return SetupResult(track=track.name, conditions=cond, laps=laps, best=best, best_total_s=float(totals[0]),
                       default_total_s=float(totals[1]), best_laps_s=laps_s[0], default_laps_s=laps_s[1],
                       sensitivity=sens, evaluations=obj.evaluations, generations=gen[0],
                       seconds=time.perf_counter() - t0)


__all__ = ["SPACE", "SetupResult", "Objective", "optimise", "setup_from_vector", "expert_settings"]
