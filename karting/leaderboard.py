"""`karting leaderboard` (``python -m karting.leaderboard``): a track's board of best laps and
races (the board itself is :mod:`karting.telemetry.leaderboard`)."""
from __future__ import annotations

import sys
from pathlib import Path

from .cli import options
from .telemetry.leaderboard import __doc__ as BOARD_DOC
from .telemetry.leaderboard import board_path, format_board, load


def main(argv=None):
    ap = options.parser("python -m karting.leaderboard", __doc__ + "\n\n" + BOARD_DOC)
    options.track(ap, extra="or a track name")
    options.top(ap, 10, "laps")
    options.outputs(ap, json="the board")
    args = ap.parse_args(argv)
    path = board_path(args.track)
    data = load(path)
    if args.json:
        options.write_json(args.json, data)
    else:
        print(format_board(data, Path(args.track).name, args.top))
        print(f"({path})")
    return 0



if __name__ == "__main__":
    sys.exit(main())
