"""`python -m karting.coach CSV`: where a lap loses time against a reference, corner by corner.

    python -m karting.coach telemetry_logs/human_circuit.csv --reference expert --out coaching.html
    python -m karting.coach telemetry_logs/human_circuit.csv --reference telemetry_logs/ai.csv
    python -m karting.coach mine.csv --lap 3 --reference friend.csv --reference-lap best --track twisty.png

The corners are found from the track's curvature and numbered T1, T2, ... from the start/finish
line; each is measured on both laps (braking point, minimum speed and apex, throttle pickup, exit
speed, line) and ranked by the time lost there, with the one change that matters most in plain
words. The reference is the scripted expert's lap (``expert``, driven now, a few seconds), or a
telemetry CSV (an AI's lap from ``karting.play --telemetry``, another human's). ``--out`` writes
an HTML page (map, overlaid traces, tables); ``--csv`` the corner table. The track: ``--track``,
else the one recorded in the .replay beside the CSV (karting.drive writes both), else the
``human_<track>_...`` file name, else circuit.png. The API is
:func:`karting.telemetry.coach.coach`. Exit code 0: coached; 2: bad input.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from .cli import options
from .files import atomic_write
from .sim.replay import load
from .telemetry import analysis as T
from .telemetry.coach import coach
from .telemetry.recorder import meta_path, read_meta
from .track import TrackError, load_track


def guess_track(csv: Path) -> tuple:
    """(track, how it was found) for a telemetry CSV without --track: its sidecar (.meta.json),
    else the .replay beside it, else a human_<track>_... file name, else circuit.png."""
    meta = read_meta(csv)
    for key in ("track_path", "track"):
        path = meta.get(key)
        if path and (Path(path).exists() or not Path(path).is_absolute()):
            return path, f"from {meta_path(csv).name}"
    rep = csv.with_suffix(".replay")
    if rep.exists():
        try:
            h = load(rep).header
            path = h.get("track_path") or h.get("track")
            if path and (Path(path).exists() or not Path(path).is_absolute()):
                return path, f"from {rep.name}"
        except (ValueError, OSError, json.JSONDecodeError):
            pass
    m = re.match(r"human_(.+?)_\d{8}", csv.stem)
    if m:
        try:
            load_track(m.group(1) + ".png")
            return m.group(1) + ".png", "from the file name"
        except TrackError:
            pass
    return "circuit.png", "the default; give --track if the lap was driven elsewhere"


def main(argv=None) -> int:
    ap = options.parser("python -m karting.coach", __doc__)
    ap.add_argument("csv", help="telemetry CSV of your laps (karting drive, karting play --telemetry, ...)")
    options.lap(ap)
    ap.add_argument("--reference", default="expert", help="'expert' (default) or a telemetry CSV")
    ap.add_argument("--reference-lap", default="best", help="which lap of the reference CSV (as --lap)")
    options.track(ap, default=None, extra="default: the one the CSV records (its .meta.json or .replay)")
    options.outputs(ap, out="the HTML report (e.g. coaching.html)")
    ap.add_argument("--csv-out", dest="csv_out", default=None, help="write the corner table as CSV")
    options.top(ap, 0, "corners that lose most (0: all)")
    args = ap.parse_args(argv)
    try:
        df = T.load(args.csv)
        track, how = (args.track, "given") if args.track else guess_track(Path(args.csv))
        ref, ref_label = "expert", "the expert"
        if args.reference != "expert":
            ref, ref_label = T.load(args.reference), Path(args.reference).stem
        cond = read_meta(args.csv).get("conditions") or {}
        where = f"track: {track} ({how})" + (f", conditions {cond}" if cond else "")
        print(where + ("; driving the expert's reference lap ..." if args.reference == "expert" else ""))
        c = coach(df, track, ref, lap=args.lap, ref_lap=args.reference_lap, label=Path(args.csv).stem,
                  ref_label=ref_label, conditions=cond)
    except (FileNotFoundError, TrackError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(c.text(args.top))
    if args.out:
        print(f"report: {c.write_html(args.out)}")
    if args.csv_out:
        cols = [k for k in c.corners.columns]
        atomic_write(Path(args.csv_out), lambda f: c.corners[cols].to_csv(f), text=True)
        print(f"corner table: {args.csv_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
