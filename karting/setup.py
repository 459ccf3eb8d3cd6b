"""`python -m karting.setup --track X --weather dry`: the kart setup that makes the expert fastest
on a track in given conditions (differential evolution over sprocket, tyre pressures and rear
track width; see :mod:`karting.sim.tuning`), its stint time against the default setup's, and the
sensitivity of each parameter. ``--save`` writes it into the track's checkpoints.json entry."""
from __future__ import annotations

import argparse
import sys


def format_result(r) -> str:
    from .sim.conditions import KartSetup
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
    from .track import default_checkpoints_path, load_checkpoints_file, save_track_entry
    cp = default_checkpoints_path(track_path)
    entry = dict(load_checkpoints_file(cp)["tracks"].get(track_path.name, {}))
    saved = dict(entry.get("setup", {}))
    saved[weather_key] = {**r.best.to_dict(), "stint_s": round(r.best_total_s, 3),
                          "default_stint_s": round(r.default_total_s, 3), "laps": r.laps}
    entry["setup"] = saved
    save_track_entry(track_path.name, entry, cp)
    return str(cp)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m karting.setup", description=__doc__.split("\n\n")[0])
    ap.add_argument("--track", default="circuit.png", help="track PNG (path or shipped name)")
    ap.add_argument("--weather", default="dry", help="dry, damp, wet, green, hot, cold or a rain level 0..1")
    ap.add_argument("--tyres", default="new", help="tyres at the start: new (cold), warm, scrubbed, used, worn")
    ap.add_argument("--laps", type=int, default=3, help="laps of the stint each setup is timed over (default 3)")
    ap.add_argument("--generations", type=int, default=12, help="differential evolution generations (default 12)")
    ap.add_argument("--popsize", type=int, default=6, help="population per parameter (default 6: 24 a generation)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", action="store_true", help="write the best setup into the track's checkpoints.json")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    from .expert import conditions_from_args
    from .sim.tuning import optimise
    from .track import TrackError, load_track, resolve_track_path
    if args.laps < 1 or args.generations < 1 or args.popsize < 2:
        ap.error("--laps and --generations must be >= 1 and --popsize >= 2")
    try:
        args.setup, args.fuel = None, None
        cond = conditions_from_args(args)
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
        import json
        print(json.dumps(r.as_dict(), indent=2))
    else:
        print(format_result(r))
    if args.save:
        where = save_setup(path, str(args.weather), r)
        if not args.json:
            print(f"saved under setup[{args.weather!r}] of {path.name} in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
