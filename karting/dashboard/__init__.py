"""`karting dashboard` (``python -m karting.dashboard``): a local web page over the outputs
folder: training runs with live curves, leaderboards, races, championships, telemetry sessions
(speed and inputs against distance, the line on the map, laps and sectors, the coaching report)
and replays (a map animation in the page, or a TV video made on demand).

    karting dashboard                       # http://127.0.0.1:8050, this machine only
    karting dashboard --port 9000 --outputs outputs --telemetry-dir telemetry_logs
    karting dashboard --host 0.0.0.0        # share it on your network (anyone there can read it)

It reads ``$KARTING_OUTPUTS`` (default ``outputs``: checkpoints/, tensorboard/, leaderboards/,
championships/) and the telemetry folder, and writes nothing there except the replay videos it
is asked to make (``.dashboard/videos``). Flask serves the pages, waitress is the server
(threads: a slow page never blocks the others), plotly.js draws the charts from the copy the
plotly package ships: nothing is fetched from the internet. Ctrl-C stops it.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..cli import options
from ..extras import MissingExtra, require
from .app import create_app

__all__ = ["create_app", "main"]


def build_parser():
    ap = options.parser("python -m karting.dashboard", __doc__)
    ap.add_argument("--port", type=int, default=8050, help="port to serve on (default 8050)")
    ap.add_argument("--host", default="127.0.0.1",
                    help="address to bind: 127.0.0.1 (default) is this machine only; 0.0.0.0 shares it with "
                         "your network")
    options.outputs_folder(ap)
    ap.add_argument("--telemetry-dir", default="telemetry_logs",
                    help="a folder of telemetry CSVs to list too (default telemetry_logs)")
    ap.add_argument("--threads", type=int, default=8, help="server threads (default 8)")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    root = Path(args.outputs or os.environ.get("KARTING_OUTPUTS", "outputs"))
    if not root.is_dir():
        print(f"error: no outputs folder at {root}: train, race or drive first, or give --outputs", file=sys.stderr)
        return 2
    tdir = Path(args.telemetry_dir)
    try:
        waitress = require("waitress", "dashboard")
        app = create_app(root, tdir if tdir.is_dir() else None)
    except MissingExtra as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    where = "this machine only" if args.host in ("127.0.0.1", "localhost", "::1") else \
        f"every machine that can reach {args.host} (--host 127.0.0.1 keeps it on this machine)"
    try:
        server = waitress.create_server(app, host=args.host, port=args.port, threads=args.threads, ident="karting")
    except OSError as e:
        print(f"error: cannot serve on {args.host}:{args.port} ({e}); try another --port", file=sys.stderr)
        return 2
    # said once the socket listens: a script may connect as soon as it reads this line
    print(f"karting dashboard over {root.resolve()}: http://{args.host}:{server.effective_port}/ ({where}); "
          "Ctrl-C stops it", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
