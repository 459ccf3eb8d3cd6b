"""Checkpoint gates: generating them from the centre line and checking hand-placed ones.

Shared by the checkpoint editor (live warnings) and ``track_cli.py validate``. Gates here are
pixel segments ``[[c1, r1], [c2, r2]]`` as stored in ``checkpoints.json``; ``track`` is the track
built from its PNG *without* gates (its centre line, widths and surface are the reference).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .build import ASPHALT, GATE_SPACING_M, Track, spaced_gates

#: a gap longer than this between consecutive gates lets a kart cut the track unnoticed
MAX_GATE_GAP_M = 150.0
_SAMPLES = 96


def auto_gates(track: Track, spacing_m: float = GATE_SPACING_M, start_index: int = 0) -> np.ndarray:
    """Gates across the track every ~``spacing_m`` along the centre line, from centre-line
    index ``start_index`` in the driving direction, 1 m beyond each edge. (K, 2, 2) pixels."""
    _, ends = spaced_gates(track.centre, track.normal, track.width, track.length, spacing_m,
                           start_index=start_index)
    return track.world_to_pixel(ends)


@dataclass
class GateCheck:
    """Problems found in hand-placed gates, and where each gate crosses the centre line."""
    problems: list = field(default_factory=list)    # human-readable, one per problem
    bad: set = field(default_factory=set)           # indices of gates with a problem
    s_m: np.ndarray = None                           # where each gate crosses the centre line [m]
    reversed: bool = False                           # gates run against the track's direction


def _crossing(track: Track, gate_w):
    """(asphalt runs along the gate, arc length of the crossing, both ends off the asphalt)."""
    t = np.linspace(0.0, 1.0, _SAMPLES)[:, None]
    pts = gate_w[0] * (1 - t) + gate_w[1] * t
    on = track.surface_at(pts[:, 0], pts[:, 1]) == ASPHALT
    runs = int(np.sum(np.diff(on.astype(np.int8)) == 1) + on[0])
    if not on.any():
        return 0, None, True
    mid = pts[on].mean(axis=0)
    _, s, _ = track.project(mid[0], mid[1])
    return runs, float(s), not on[0] and not on[-1]


def check_gates(track: Track, gates_px: np.ndarray) -> GateCheck:
    """Problems with hand-placed gates (in driving order, gate 0 = start/finish)."""
    out = GateCheck()
    gates_px = np.asarray(gates_px, np.float64).reshape(-1, 2, 2)
    k = len(gates_px)
    if k < 3:
        out.problems.append(f"only {k} gate{'s' if k != 1 else ''}: a lap needs at least 3")
        out.bad.update(range(k))
        return out
    gates_w = track.pixel_to_world(gates_px)
    s = np.zeros(k)
    for i, g in enumerate(gates_w):
        runs, si, spans = _crossing(track, g)
        if runs == 0:
            out.problems.append(f"gate {i} does not cross the asphalt")
            out.bad.add(i)
            s[i] = np.nan
            continue
        s[i] = si
        if runs > 1:
            out.problems.append(f"gate {i} crosses the track {runs} times: shorten it")
            out.bad.add(i)
        elif not spans:
            out.problems.append(f"gate {i} does not span the asphalt: drag its ends onto the grass")
            out.bad.add(i)
    out.s_m = s
    ok = np.isfinite(s)
    if ok.sum() < 3:
        return out
    L = track.length
    idx = np.flatnonzero(ok)
    fwd = np.mod(np.diff(np.r_[s[idx], s[idx[0]]]), L)      # gaps driving the track's way
    rev = np.mod(-np.diff(np.r_[s[idx], s[idx[0]]]), L)     # gaps driving the other way
    # gaps round a cycle add up to a whole number of laps: one lap in the driving direction
    laps_f, laps_r = round(fwd.sum() / L), round(rev.sum() / L)
    out.reversed = bool(laps_r < laps_f)
    gaps, laps = (rev, laps_r) if out.reversed else (fwd, laps_f)
    back = np.zeros(len(gaps), bool)
    if laps != 1:
        back = gaps > L / 2          # the jumps backwards are the gates out of order
        for j in np.flatnonzero(back):
            nxt = idx[(j + 1) % len(idx)]
            out.problems.append(f"gate {nxt} is out of order: it lies before gate {idx[j]} along the track")
            out.bad.add(int(nxt))
        if not back.any():
            out.problems.append(f"the gates go round the track {laps} times: reorder them")
    for j in np.flatnonzero((gaps > MAX_GATE_GAP_M) & ~back):
        nxt = idx[(j + 1) % len(idx)]
        out.problems.append(f"{gaps[j]:.0f} m between gate {idx[j]} and gate {nxt} (over "
                            f"{MAX_GATE_GAP_M:.0f} m): a kart could cut the track there unnoticed; add a gate")
        out.bad.add(int(idx[j]))
    return out
