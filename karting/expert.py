"""`python -m karting.expert --track X`: the reference lap time of a track under the project's
physics: a privileged pure-pursuit driver on the racing line (:mod:`karting.sim.expert`) tries a
grid of settings and keeps the fastest clean lap. With a weather the tyres are modelled (new,
cold) unless --tyres says otherwise, and the laps are a stint. Exit code 0: a clean lap; 1: none;
2: the track cannot be used."""
from __future__ import annotations

import re
import sys

from .telemetry import leaderboard
from .cli import options
from .sim.expert import reference_lap
from .telemetry import format_expert_lap, format_stint, write_csv
from .track import TrackError, load_track, track_list
from .track.corners import find_corners


def flaw_settings(track, spec: str | None, cond) -> dict:
    """reference_lap keywords for ``--brake-earlier TN:METRES``: the best setting only, with its
    braking moved METRES earlier between the corner's zone start and its apex."""
    if not spec:
        return {}
    m = re.fullmatch(r"[tT]?(\d+):(\d+(?:\.\d*)?)", spec.strip())
    if not m:
        raise ValueError(f"--brake-earlier {spec!r}: give a corner and metres, e.g. T3:10")
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
    ap = options.parser("python -m karting.expert", __doc__)
    options.track(ap, extra="or a comma-separated list, or a folder")
    options.laps_flag(ap, 2, "laps per setting, from a standing start")
    options.conditions(ap, setup=True, fuel=True)
    options.outputs(ap, telemetry="the best run (one track only)", replay="the drive (every setting is one kart)",
                    json="the results", leaderboard=True)
    ap.add_argument("--brake-earlier", default=None, metavar="TN:METRES",
                    help="a deliberately flawed lap, for coaching: the best setting brakes METRES earlier into "
                         "corner TN (numbered as karting.coach does), e.g. T3:10")
    args = ap.parse_args(argv)
    try:
        cond = options.conditions_of(args, tyres_with_weather=True) or None
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
            print(format_expert_lap(r))
            if stint and r.completed:
                print(f"conditions: {cond}")
                print(format_stint(r))
        if args.telemetry and r.telemetry is not None:
            meta = {"track": tr.name, "track_path": str(tr.path), "conditions": cond or {}, "driver": "expert"}
            print(f"telemetry: {write_csv(r.telemetry, args.telemetry, meta)}")
        if args.replay:
            print(f"replay: {args.replay} (kart {r.kart} drove the reference lap: "
                  f"python -m karting.replay {args.replay} --kart {max(r.kart, 0)})")
    if args.json:
        keys = ("track", "length_m", "completed", "lap_time_s", "sector_times_s", "standing_lap_s",
                "mu_use", "line_weight", "clean_settings", "settings_tried", "laps_s", "stint")
        options.write_json(args.json, [{k: getattr(r, k) for k in keys} for r in results])
    return 0 if all(r.completed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
