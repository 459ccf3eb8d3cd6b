"""The one lap bookkeeper: completed laps of a batch, kart by kart.

A :class:`~karting.sim.karts.Karts` keeps the lap in progress and the last completed lap's time,
validity and sectors; :class:`LapBook` turns that into a record per completed lap. Evaluation,
the expert's reference lap and the person driving all read laps through it."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Lap:
    """One completed lap: its time [s], whether it was valid, its sector times [s]."""
    time_s: float
    valid: bool
    sectors_s: list = field(default_factory=list)

    def as_dict(self) -> dict:
        """``{"time_s", "valid", "sectors_s"}`` as evaluation results hold it."""
        return {"time_s": self.time_s, "valid": self.valid, "sectors_s": list(self.sectors_s)}


class LapBook:
    """``update(...)`` after every step returns the karts that completed a lap in it; ``laps[i]``
    lists kart i's laps since :meth:`start` (its episode's start)."""

    def __init__(self, n: int):
        self.count = np.zeros(n, np.int64)
        self.laps = [[] for _ in range(n)]

    def start(self, mask: np.ndarray | None = None) -> None:
        """New episodes for the karts in ``mask`` (all by default): no laps yet."""
        idx = range(len(self.laps)) if mask is None else np.flatnonzero(mask)
        for i in idx:
            self.count[i] = 0
            self.laps[i] = []

    def update(self, laps, lap_time, lap_valid, sector_times, mask: np.ndarray | None = None) -> np.ndarray:
        """Karts (indices) whose lap count grew, among ``mask`` (all by default): each gets a
        :class:`Lap` from the last completed lap's time, validity and sectors."""
        laps = np.asarray(laps)
        grew = laps > self.count
        if mask is not None:
            grew &= mask
        new = np.flatnonzero(grew)
        for i in new:
            self.laps[i].append(Lap(float(lap_time[i]), bool(lap_valid[i]),
                                    [float(x) for x in sector_times[i]]))
        self.count = laps.astype(np.int64)      # every kart's count follows, recorded or not
        return new

    def update_race(self, race, mask: np.ndarray | None = None) -> np.ndarray:
        """The same from a :class:`~karting.sim.karts.Karts`."""
        return self.update(race.laps, race.last_lap_time, race.last_lap_valid, race.sector_times, mask)

    def update_info(self, info: dict, mask: np.ndarray | None = None) -> np.ndarray:
        """The same from a vector env's ``info`` (``lap``, ``lap_time``, ``lap_valid``, ``sector_times``)."""
        return self.update(info["lap"], info["lap_time"], info["lap_valid"], info["sector_times"], mask)


def cross_gates(race, crossed: np.ndarray) -> np.ndarray:
    """The karts in ``crossed`` passed their next gate: sectors, laps (time, validity, best),
    the next gate; returns the checkpoint and lap bonuses (N,) of the race's reward."""
    ts, cfg = race.ts, race.reward_cfg
    c = np.flatnonzero(crossed)
    g = race.next_gate[c]
    t = race.kart_track[c]
    fg = ts.gate(t, g)
    on = ~race.off_track[c]
    bonus = np.zeros(race.n)
    bonus[c] = cfg.checkpoint_bonus * on
    race.lap_valid[c] &= on                         # a missed checkpoint spoils the lap
    now = race.time_s[c]
    # sector boundaries: gate 0 ends S3, sector_gates[1] ends S1, sector_gates[2] ends S2
    ends = ts.is_sector_start(t, g)
    if ends.any():
        ce, fge = c[ends], fg[ends]
        finished = (ts.sector_of_gate[fge] - 1) % 3
        timed = race.sector_timed[ce]              # driven from its start (not an out-lap)
        race.sector_times[ce[timed], finished[timed]] = (now[ends] - race.sector_start[ce])[timed]
        race.sector_timed[ce] = True
        race.sector_start[ce] = now[ends]
        race.sector[ce] = ts.sector_of_gate[fge]
    fin = g == 0
    if fin.any():
        cf = c[fin]
        timed = race.lap_timed[cf]
        lap_t = now[fin] - race.lap_start[cf]
        valid = race.lap_valid[cf] & timed
        race.laps[cf[timed]] += 1
        race.last_lap_time[cf[timed]] = lap_t[timed]
        race.last_lap_valid[cf] = valid
        best = race.best_lap_time[cf]
        improve = valid & ((best == 0) | (lap_t < best))
        race.best_lap_time[cf[improve]] = lap_t[improve]
        bonus[cf[valid]] += cfg.lap_bonus
        race.lap_start[cf] = now[fin]
        race.lap_timed[cf] = True
        race.lap_valid[cf] = True
    race.next_gate_progress[c] += ts.gate_gap[fg]
    race.next_gate[c] = (g + 1) % ts.n_gates[t]
    return bonus
