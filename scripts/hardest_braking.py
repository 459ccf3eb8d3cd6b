"""The hardest braking zone of a lap, as the scripted expert drives it: the most speed shed in one
braking zone (brake pedal > 5 %, gaps under 1 s joined) of the expert's second (flying) lap with its
fastest clean setting, and the share of that lap's steps on the brake. The figures behind generator
version 3 and --bc-brake-weight (docs/guide/generalist.md).

    python scripts/hardest_braking.py tracks/benchmark/real_hockenheim.png
    python scripts/hardest_braking.py --generated 3 --seeds 0-19
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from karting.cli import options
from karting.rl.pool import generated_track
from karting.sim.expert import reference_lap
from karting.sim.physics import CONTROL_HZ
from karting.track import load_track


def hardest_braking(speed_kmh: np.ndarray, braking: np.ndarray, gap_s: float = 1.0) -> tuple:
    """``(shed, from, to)`` [km/h] of the braking zone that sheds the most speed; ``braking`` (bool per
    step) runs joined across gaps shorter than ``gap_s``. ``(0, 0, 0)`` when it never brakes."""
    gap = int(round(gap_s * CONTROL_HZ))
    best, i, n = (0.0, 0.0, 0.0), 0, len(speed_kmh)
    while i < n:
        if not braking[i]:
            i += 1
            continue
        j = i
        while j < n and braking[j:j + gap].any():
            j += 1
        low = float(speed_kmh[i:j].min())
        if speed_kmh[i] - low > best[0]:
            best = (float(speed_kmh[i] - low), float(speed_kmh[i]), low)
        i = j
    return best


def expert_braking(png: Path) -> str:
    """One line: the track, the expert's flying lap and its hardest braking zone."""
    tr = load_track(png)
    r = reference_lap(tr, laps=2, record=True)
    if not r.completed:
        return f"{png.stem}: {tr.length:.0f} m, the expert drove no clean lap"
    lap = r.telemetry[r.telemetry["lap"] == 2]
    brake = lap["brake"].to_numpy()
    shed, hi, lo = hardest_braking(lap["speed_kmh"].to_numpy(), brake > 0.05)
    return (f"{png.stem}: {tr.length:.0f} m, lap {r.lap_time_s:.2f} s, "
            f"hardest braking {hi:.0f} -> {lo:.0f} km/h (sheds {shed:.0f}); "
            f"brake > 5 % on {(brake > 0.05).mean():.0%} of the lap's steps, > 50 % on {(brake > 0.5).mean():.0%}")


def main(argv=None) -> int:
    ap = options.parser("scripts/hardest_braking.py", __doc__)
    ap.add_argument("tracks", nargs="*", help="track PNGs")
    ap.add_argument("--generated", type=int, choices=(1, 2, 3), help="generated tracks of this generator version")
    options.seeds(ap, "0-19", "with --generated: which tracks")
    a = ap.parse_args(argv)
    paths = [Path(p) for p in a.tracks]
    if a.generated:
        root = Path(tempfile.mkdtemp(prefix="braking-"))
        paths += [generated_track(s, root=root, check=False, version=a.generated) for s in a.seeds]
    if not paths:
        ap.error("give track PNGs or --generated VERSION")
    for p in paths:
        print(expert_braking(p), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
