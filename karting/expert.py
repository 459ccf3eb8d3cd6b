"""`python -m karting.expert --track X`: the scripted expert's reference lap on any track
(the driver itself is :mod:`karting.sim.expert`)."""
from __future__ import annotations

import argparse
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
    ap.add_argument("--no-leaderboard", action="store_true", help="do not add the lap to the track's leaderboard")
    args = ap.parse_args(argv)
    from .track import TrackError, load_track, track_list
    try:
        paths = track_list(args.track)
        if args.telemetry and len(paths) > 1:
            ap.error("--telemetry takes one track")
        tracks = [load_track(p) for p in paths]
    except TrackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results = []
    from . import leaderboard
    for tr in tracks:
        r = reference_lap(tr, laps=max(1, args.laps), record=bool(args.telemetry))
        results.append(r)
        if r.completed and not args.no_leaderboard:
            leaderboard.add_laps(tr.name, "expert (pure pursuit)",
                                 [{"time_s": r.lap_time_s, "valid": True, "sectors_s": r.sector_times_s}], "expert")
        if not args.json:
            print(format_lap(r))
        if args.telemetry and r.telemetry is not None:
            from .telemetry import write_csv
            print(f"telemetry: {write_csv(r.telemetry, args.telemetry)}")
    if args.json:
        import json
        keys = ("track", "length_m", "completed", "lap_time_s", "sector_times_s", "standing_lap_s",
                "mu_use", "line_weight", "clean_settings", "settings_tried")
        print(json.dumps([{k: getattr(r, k) for k in keys} for r in results], indent=2))
    return 0 if all(r.completed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
