"""`karting tune --track X --weather dry` (``python -m karting.tune``): the kart setup that makes the expert fastest
on a track in given conditions (differential evolution over sprocket, tyre pressures and rear
track width; see :mod:`karting.sim.tuning`), its stint time against the default setup's, and the
sensitivity of each parameter. ``--save`` writes it into the track's checkpoints.json entry."""
from __future__ import annotations

import sys

from .cli import options
from .sim.conditions import KartSetup
from .sim.tuning import optimise
from .track import (
    TrackError,
    default_checkpoints_path,
    load_checkpoints_file,
    load_track,
    resolve_track_path,
    save_track_entry,
)


def format_result(r) -> str:
    d = KartSetup()
    units = {"sprocket": " teeth", "pressure_front_bar": " bar", "pressure_rear_bar": " bar", "rear_track_m": " m"}
    lines = [f"{r.track}: best setup for {r.conditions} ({r.laps} laps from a standing start, expert driving)",
             f"  {'parameter':<20} {'default':>9} {'best':>9}"]
    for k, u in units.items():
        lines.append(f"  {k:<20} {getattr(d, k):>9g} {getattr(r.best, k):>9g}{u}")
    laps = lambda xs: " ".join(f"{x:.2f}" for x in xs)  # noqa: E731
    lines += [f"  stint: best {r.best_total_s:.2f} s ({laps(r.best_laps_s)}), default {r.default_total_s:.2f} s "
              f"({laps(r.default_laps_s)}): {r.gain_s:+.2f} s over {r.laps} laps, "
              f"{r.gain_s / r.laps:+.3f} s a lap",
              "  sensitivity (one step from the best, the others held; + = slower):"]
    for name, v, _, delta in r.sensitivity:
        lines.append(f"    {name:<20} -> {v:<7g} {delta:+.3f} s")
    lines.append(f"  {r.evaluations} setups driven in {r.generations} generations, {r.seconds:.0f} s")
    return "\n".join(lines)


def save_setup(track_path, weather_key: str, r) -> str:
    """Write the best setup under ``setup[weather_key]`` of the track's checkpoints.json entry."""
    cp = default_checkpoints_path(track_path)
    entry = dict(load_checkpoints_file(cp)["tracks"].get(track_path.name, {}))
    saved = dict(entry.get("setup", {}))
    saved[weather_key] = {**r.best.to_dict(), "stint_s": round(r.best_total_s, 3),
                          "default_stint_s": round(r.default_total_s, 3), "laps": r.laps}
    entry["setup"] = saved
    save_track_entry(track_path.name, entry, cp)
    return str(cp)


def main(argv=None):
    ap = options.parser("python -m karting.tune", __doc__, summary_only=True)
    options.track(ap)
    options.conditions(ap, weather="dry", tyres="new")
    options.laps_flag(ap, 3, "laps of the stint each setup is timed over")
    ap.add_argument("--generations", type=int, default=12, help="differential evolution generations (default 12)")
    ap.add_argument("--popsize", type=int, default=6, help="population per parameter (default 6: 24 a generation)")
    options.seed(ap)
    ap.add_argument("--save", action="store_true", help="write the best setup into the track's checkpoints.json")
    options.outputs(ap, json="the result")
    args = ap.parse_args(argv)
    if args.laps < 1 or args.generations < 1 or args.popsize < 2:
        ap.error("--laps and --generations must be >= 1 and --popsize >= 2")
    try:
        cond = options.conditions_of(args, tyres_with_weather=True) or None
        path = resolve_track_path(args.track)
        track = load_track(path)
    except (ValueError, TrackError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    log = None if args.json else (lambda m: print(m, flush=True))
    try:
        r = optimise(track, cond, laps=args.laps, generations=args.generations, popsize=args.popsize,
                     seed=args.seed, log=log)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        options.write_json(args.json, r.as_dict())
    else:
        print(format_result(r))
    if args.save:
        where = save_setup(path, str(args.weather), r)
        if not args.json:
            print(f"saved under setup[{args.weather!r}] of {path.name} in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
