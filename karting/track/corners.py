"""The corners of a track, from its centre line's curvature (numpy + scipy).

:func:`find_corners`: the curvature smoothed over 10 m; a corner is a stretch curving tighter than
a 100 m radius in one direction (two bends of one direction less than 12 m apart are one corner),
turning at least 20 degrees; numbered T1, T2, ... in driving order from the start/finish line.
Each corner gets a *zone*: from its braking area (up to 40 m before it curves, at most 70 % of the
straight before it) to 20 m after it straightens (at most 30 % of the straight after). Used by the
coaching report (karting.telemetry.coach) and the TV cameras of replays (karting.env.cameras).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import TrackError

#: corner detection (see the module docstring)
SMOOTH_M = 10.0
MIN_CURVATURE = 0.01          # 1/m: tighter than a 100 m radius
MIN_TURN_DEG = 20.0
MERGE_M = 12.0                # two bends of one direction this close are one corner
BRAKE_ZONE_M = 40.0           # a corner's zone starts up to this far before it curves
EXIT_ZONE_M = 20.0            # ... and ends this far after it


@dataclass(frozen=True)
class Corner:
    """One corner: distances along the centre line from the start/finish line [m]."""
    number: int
    start_m: float                # where it starts to curve (turn-in)
    apex_m: float                 # tightest point of the centre line (geometric apex)
    end_m: float                  # where it straightens
    zone_start_m: float
    zone_end_m: float
    direction: str                # "left" or "right"
    turn_deg: float
    radius_m: float               # at the apex

    @property
    def name(self) -> str:
        return f"T{self.number}"


def find_corners(track, min_curvature: float = MIN_CURVATURE, min_turn_deg: float = MIN_TURN_DEG) -> list:
    """The corners of ``track`` (a karting.track.Track) in driving order: list of :class:`Corner`."""
    from scipy import ndimage
    n, ds = len(track.centre), float(track.spacing)
    k = ndimage.uniform_filter1d(np.asarray(track.curvature, np.float64), size=max(1, int(SMOOTH_M / ds)),
                                 mode="wrap")
    sign = np.where(np.abs(k) > min_curvature, np.sign(k), 0.0)
    if not (sign == 0).any():
        raise TrackError(f"{track.name}: the track curves everywhere (a circle?): no corner to find")
    start = int(np.argmax(sign == 0))               # begin outside a corner, so none wraps in two
    runs = []                                       # [sign, first index, last index] (unwrapped)
    for j in range(start, start + n):
        sg = sign[j % n]
        if sg != 0 and runs and runs[-1][0] == sg and runs[-1][2] == j - 1:
            runs[-1][2] = j
        elif sg != 0:
            runs.append([sg, j, j])
    merged = []
    for r in runs:
        if merged and merged[-1][0] == r[0] and (r[1] - merged[-1][2]) * ds < MERGE_M:
            merged[-1][2] = r[2]
        else:
            merged.append(list(r))
    found = []
    for sg, a, b in merged:
        seg = np.arange(a, b + 1) % n
        turn = float(np.degrees(np.sum(track.curvature[seg]) * ds))
        if abs(turn) < min_turn_deg:
            continue
        apex = int(seg[np.argmax(np.abs(k[seg]))])
        found.append((a % n, apex, b % n, sg, turn, 1.0 / max(abs(float(k[apex])), 1e-9)))
    found.sort(key=lambda c: c[0])
    if not found:
        raise TrackError(f"{track.name}: no corner tighter than a {1 / min_curvature:.0f} m radius "
                             f"turning {min_turn_deg:.0f} degrees or more")
    length = float(track.length)
    out = []
    for i, (a, apex, b, sg, turn, radius) in enumerate(found):
        s_a, s_apex, s_b = a * ds, apex * ds, b * ds
        prev_end = found[i - 1][2] * ds if i > 0 else found[-1][2] * ds - length
        next_start = found[i + 1][0] * ds if i + 1 < len(found) else found[0][0] * ds + length
        z0 = s_a - min(BRAKE_ZONE_M, 0.7 * max(s_a - prev_end, 0.0))
        z1 = s_b + min(EXIT_ZONE_M, 0.3 * max(next_start - s_b, 0.0))
        out.append(Corner(i + 1, s_a, s_apex, s_b, max(z0, 0.0), min(z1, length),
                          "left" if sg > 0 else "right", round(abs(turn), 1), round(radius, 1)))
    return out




__all__ = ["Corner", "find_corners"]
