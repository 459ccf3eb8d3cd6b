"""`python -m karting.expert --track X`: the scripted expert's reference lap on any track
(the driver itself is :mod:`karting.sim.expert`)."""
from __future__ import annotations

import argparse
import re
import sys

from .sim.expert import ExpertLap, reference_lap


def format_lap(r: ExpertLap) -> str:
    if not r.completed:
        return (f"{r.track}: no clean lap: none of the {r.settings_tried} expert settings completed "
                "a lap without leaving the track (too narrow or too tight a corner for a kart?)")
    from .telemetry import format_sectors
    secs = format_sectors(r.sector_times_s, width=6, sep="  ")
    return (f"{r.track}: {r.length_m:.0f} m  reference lap {r.lap_time_s:.2f} s "
            f"({r.avg_speed_kmh:.1f} km/h)  {secs}  standing lap {r.standing_lap_s:.2f} s  "
            f"[grip used {r.mu_use:.1f}, line weight {r.line_weight:.1f}; "
            f"{r.clean_settings}/{r.settings_tried} settings clean]")


def format_stint(r: ExpertLap) -> str:
    """The stint lap by lap: time, grip, water on the line, tyre temperatures and wear, fuel."""
    if not r.stint:
        return ""
    cols = [("lap", "Lap", "{:>3}"), ("time_s", "Time", "{:>7.2f}"), ("valid", "Valid", "{!s:>5}"),
            ("grip", "Grip", "{:>5.3f}"), ("wetness_line", "Water", "{:>5.2f}"),
            ("temp_front_c", "T front", "{:>7.1f}"), ("temp_rear_c", "T rear", "{:>6.1f}"),
            ("wear_front", "Wear F", "{:>6.3f}"), ("wear_rear", "Wear R", "{:>6.3f}"), ("fuel_l", "Fuel L", "{:>6.2f}")]
    cols = [c for c in cols if c[0] in r.stint[0]]
    head = "  ".join(f"{h:>{len(f.format(r.stint[0][k]))}}" for k, h, f in cols)
    lines = [head] + ["  ".join(f.format(row[k]) for k, _, f in cols) for row in r.stint]
    first, last = r.stint[0]["time_s"], r.stint[-1]["time_s"]
    best = min(x["time_s"] for x in r.stint)
    lines.append(f"first lap {first:.2f} s (from a standing start), best {best:.2f} s, last {last:.2f} s "
                 f"({last - best:+.2f} s against the best)")
    return "\n".join(lines)


def conditions_from_args(args) -> dict | None:
    """The ``conditions`` of :func:`reference_lap` from --weather, --tyres, --setup, --fuel (a
    weather without --tyres drives new, cold tyres: a stint wears them; --tyres off: none)."""
    from .sim.conditions import cli_conditions
    return cli_conditions(args.weather, args.tyres, args.setup, args.fuel, tyres_with_weather=True) or None


def flaw_settings(track, spec: str | None, cond) -> dict:
    """reference_lap keywords for ``--brake-earlier TN:METRES``: the best setting only, with its
    braking moved METRES earlier between the corner's zone start and its apex."""
    if not spec:
        return {}
    m = re.fullmatch(r"[tT]?(\d+):(\d+(?:\.\d*)?)", spec.strip())
    if not m:
        raise ValueError(f"--brake-earlier {spec!r}: give a corner and metres, e.g. T3:10")
    from .track.corners import find_corners
    corners = find_corners(track)
    k, by = int(m.group(1)), float(m.group(2))
    if not 1 <= k <= len(corners) or not 0 < by <= 100:
        raise ValueError(f"--brake-earlier {spec!r}: {track.name} has corners T1..T{len(corners)}, and the "
                         "metres must be in (0, 100]")
    best = reference_lap(track, conditions=cond)
    if not best.completed:
        raise ValueError(f"{track.name}: the expert drives no clean lap here to spoil")
    c = corners[k - 1]
    return {"mu_grid": (best.mu_use,), "line_grid": (best.line_weight,), "flaw": (c.zone_start_m, c.apex_m, by)}


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m karting.expert",
        description="Reference lap time of a track under the project's physics: a privileged "
                    "pure-pursuit driver on the racing line tries a grid of settings and keeps the "
                    "fastest clean lap. Exit code 0: a clean lap; 1: none; 2: the track cannot be used.")
    ap.add_argument("--track", default="circuit.png",
                    help="track PNG (path or shipped name), comma-separated list, or folder")
    ap.add_argument("--laps", type=int, default=2, help="laps per setting, from a standing start (default 2)")
    ap.add_argument("--telemetry", default=None,
                    help="write the best run's telemetry to this CSV (one track only)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--weather", default=None,
                    help="dry, damp, wet, green, hot, cold or a rain level 0..1 (karting.sim.conditions); "
                         "with it the tyres are modelled (new, cold) unless --tyres says otherwise")
    ap.add_argument("--tyres", default=None, help="new (cold), warm, scrubbed, used, worn, or off")
    ap.add_argument("--setup", default=None,
                    help="kart setup as name=value items: sprocket, pressure_front_bar, pressure_rear_bar, "
                         "rear_track_m (e.g. sprocket=82,pressure_rear_bar=0.8)")
    ap.add_argument("--fuel", type=float, default=None, help="litres in the tank at the start (models the fuel mass)")
    ap.add_argument("--no-leaderboard", action="store_true", help="do not add the lap to the track's leaderboard")
    ap.add_argument("--replay", default=None, help="write the drive's replay (every setting is one kart; "
                                                   "see python -m karting.replay)")
    ap.add_argument("--brake-earlier", default=None, metavar="TN:METRES",
                    help="a deliberately flawed lap, for coaching: the best setting brakes METRES earlier into "
                         "corner TN (numbered as karting.coach does), e.g. T3:10")
    args = ap.parse_args(argv)
    from .track import TrackError, load_track, track_list
    try:
        cond = conditions_from_args(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stint = cond is not None
    try:
        paths = track_list(args.track)
        if args.telemetry and len(paths) > 1:
            ap.error("--telemetry takes one track")
        tracks = [load_track(p) for p in paths]
    except TrackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.replay and len(tracks) > 1:
        ap.error("--replay takes one track")
    results = []
    from . import leaderboard
    for tr in tracks:
        try:
            kw = flaw_settings(tr, args.brake_earlier, cond)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        r = reference_lap(tr, laps=max(1, args.laps), record=bool(args.telemetry), conditions=cond, stint=stint,
                          replay=args.replay, **kw)
        if args.brake_earlier:
            print(f"flawed lap: braking {kw['flaw'][2]:.0f} m earlier into {args.brake_earlier.split(':')[0].upper()} "
                  f"(between {kw['flaw'][0]:.0f} and {kw['flaw'][1]:.0f} m)")
        results.append(r)
        # the board is for today's kart, driven as well as it can be (no flawed lap)
        if r.completed and not args.no_leaderboard and not stint and not args.brake_earlier:
            leaderboard.add_laps(tr.name, "expert (pure pursuit)",
                                 [{"time_s": r.lap_time_s, "valid": True, "sectors_s": r.sector_times_s}], "expert")
        if not args.json:
            print(format_lap(r))
            if stint and r.completed:
                print(f"conditions: {cond}")
                print(format_stint(r))
        if args.telemetry and r.telemetry is not None:
            from .telemetry import write_csv
            print(f"telemetry: {write_csv(r.telemetry, args.telemetry)}")
        if args.replay:
            print(f"replay: {args.replay} (kart {r.kart} drove the reference lap: "
                  f"python -m karting.replay {args.replay} --kart {max(r.kart, 0)})")
    if args.json:
        import json
        keys = ("track", "length_m", "completed", "lap_time_s", "sector_times_s", "standing_lap_s",
                "mu_use", "line_weight", "clean_settings", "settings_tried", "laps_s", "stint")
        print(json.dumps([{k: getattr(r, k) for k in keys} for r in results], indent=2))
    return 0 if all(r.completed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
