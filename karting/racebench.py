"""The driver benchmark's race mode: ``karting generalisation --race --model M``.

One driver (a model, ``generalist``, or an AI level: ``rookie``, ``club``, ``pro``, ``alien``)
races a fixed field of three AI karts, :data:`FIELD` (club, pro, alien), on every track of a
split, from two grids:

* ``back``: the driver last, the field ahead of it in reverse order of pace (club on pole): it has
  to pass to win;
* ``random``: the driver on a seeded random slot of the four, the field in that order round it.

``--races`` races per track and grid (seeds ``seed .. seed + races - 1``), ``--laps`` laps each
(default 2). Per grid: win rate, mean finishing position, places gained from the grid, finish
rate, collisions and collisions caused per lap (over the laps driven), overtakes per race. An AI
driver races with the numpy simulation only; a model with its camera (the race env).
"""
from __future__ import annotations

import time

import numpy as np

from .rl.evaluate import race_evaluate
from .sim.opponents import LEVELS, ai_race
from .sim.race_control import ETIQUETTE, etiquette_rates

FIELD = ("club", "pro", "alien")
RACE_GRIDS = ("back", "random")


def slots(grid: str, races: int, seed: int) -> list:
    """The driver's grid slot (1 = pole) in each race."""
    n = len(FIELD) + 1
    if grid == "back":
        return [n] * races
    return [int(s) + 1 for s in np.random.default_rng(seed).integers(0, n, races)]


def _order(slot: int) -> np.ndarray:
    """Per kart (the field's then the driver's, last) its place on the grid (lower: further forward)."""
    n = len(FIELD) + 1
    others = [s for s in range(n) if s != slot - 1]
    return np.array(others + [slot - 1])


def _row(result: dict, slot: int) -> dict:
    """One race of the driver from its classification row (:meth:`RaceControl.results`)."""
    return {"slot": slot, "position": result["position"], "finished": result["status"] == "finished",
            "laps": result["laps"], **{k: result["penalties_s" if k == "penalty_s" else k] for k in ETIQUETTE}}


def _ai_races(track, level: str, grid_slots: list, laps: int, seed: int) -> list:
    out = []
    for k, slot in enumerate(grid_slots):
        rc = ai_race(track, list(FIELD) + [level], laps=laps, seed=seed + k, grid_order=_order(slot))
        out.append(_row(next(x for x in rc.results() if x["kart"] == len(FIELD)), slot))
    return out


def _model_races(agent, cfg, track, grid_slots: list, laps: int, seed: int, device: str) -> list:
    """Every race of ``grid_slots`` (one slot per race) at once, in one batch (each race its own
    grid)."""
    r = race_evaluate(agent, track, cfg, races=len(grid_slots), laps=laps, opponents=",".join(FIELD),
                      seed=seed, device=device, grid_position=grid_slots)
    return [_row(next(x for x in res if not str(x["driver"]).startswith("AI ")), slot)   # the one kart not AI
            for res, slot in zip(r["results"], grid_slots)]


def summarise(rows: list) -> dict:
    totals = {k: sum(r[k] for r in rows) for k in ETIQUETTE}
    return {"races": len(rows), "win_rate": float(np.mean([r["position"] == 1 for r in rows])),
            "mean_position": float(np.mean([r["position"] for r in rows])),
            "places_gained": float(np.mean([r["slot"] - r["position"] for r in rows])),
            "finish_rate": float(np.mean([r["finished"] for r in rows])),
            **etiquette_rates(totals, sum(r["laps"] for r in rows), len(rows))}


def run(driver: str, tracks: list, races: int = 2, laps: int = 2, seed: int = 0, device: str = "cpu",
        agent=None, cfg=None) -> dict:
    """Race ``driver`` (an AI level name, or ``agent`` with its config ``cfg``) against
    :data:`FIELD` on ``tracks`` (loaded) from each of :data:`RACE_GRIDS`."""
    t0 = time.perf_counter()
    rows = {grid: [] for grid in RACE_GRIDS}
    for k, track in enumerate(tracks):
        gs = {grid: slots(grid, races, seed + 1000 * k) for grid in RACE_GRIDS}
        if agent is None:
            for grid in RACE_GRIDS:
                rows[grid] += _ai_races(track, driver, gs[grid], laps, seed + 1000 * k)
        else:                       # a model: both grids' races of a track in one batch
            every = [s for grid in RACE_GRIDS for s in gs[grid]]
            out = _model_races(agent, cfg, track, every, laps, seed + 1000 * k, device)
            for g, grid in enumerate(RACE_GRIDS):
                rows[grid] += out[g * races:(g + 1) * races]
    return {"driver": driver, "field": list(FIELD), "tracks": len(tracks), "races_per_track": races, "laps": laps,
            "grids": {grid: summarise(r) for grid, r in rows.items()}, "seconds": round(time.perf_counter() - t0, 1)}


def is_level(name: str) -> bool:
    return str(name).strip().lower() in LEVELS


def format_race_report(rep: dict) -> str:
    lines = [f"Race benchmark: {rep['driver']} against {', '.join(rep['field'])} on {rep['tracks']} tracks, "
             f"{rep['races_per_track']} race(s) of {rep['laps']} laps per track and grid ({rep['seconds']:.0f} s)",
             f"{'grid':<8}{'races':>6}{'win rate':>10}{'mean pos':>10}{'gained':>8}{'finished':>10}"
             f"{'coll/lap':>10}{'caused/lap':>11}{'ovt/race':>10}"]
    for grid, s in rep["grids"].items():
        lines.append(f"{grid:<8}{s['races']:>6}{s['win_rate']:>10.0%}{s['mean_position']:>10.2f}"
                     f"{s['places_gained']:>+8.2f}{s['finish_rate']:>10.0%}{s['collisions_per_lap']:>10.2f}"
                     f"{s['caused_per_lap']:>11.2f}{s['overtakes_per_race']:>10.1f}")
    return "\n".join(lines)
