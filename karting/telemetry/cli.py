"""`python -m karting.telemetry`: lap tables, comparisons and plots of telemetry CSVs.

    python -m karting.telemetry summary telemetry_logs/ai.csv
    python -m karting.telemetry compare telemetry_logs/human.csv telemetry_logs/ai.csv --out compare.png
    python -m karting.telemetry plot telemetry_logs/ai.csv --y speed_kmh,lat_g,steering --out trace.png

Works on CSVs from env.export_telemetry, karting.play, karting.drive and karting.expert.
Exit codes: 0 done, 2 the file or the selection cannot be used (the message says why).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..cli import options
from . import analysis as T
from .plots import plot_columns, plot_compare
from .recorder import read_meta


def _label(path, key, row):
    return (f"{Path(path).stem} lap {key[0]}:{key[1]}:{key[2]} {row['lap_time_s']:.2f} s"
            f"{'' if row['valid'] else ' (invalid)'}")


def _fmt_laps(table):
    import pandas as pd
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_rows", 500):
        cols = ["env", "episode", "lap", "lap_time_s", "s1_s", "s2_s", "s3_s", "valid",
                "max_speed_kmh", "min_speed_kmh", "max_lat_g", "off_track_s"]
        return table[cols].to_string(index=False, float_format=lambda v: f"{v:.2f}")


def cmd_summary(args: argparse.Namespace) -> int:
    """``summary``: the lap table of a CSV."""
    df = T.load(args.csv)
    table = T.laps(df)
    sessions = df.groupby(["env", "episode"]).ngroups
    print(f"{args.csv}: {len(df):,} samples, {sessions} episode(s), "
          f"{df['time_s'].groupby([df['env'], df['episode']]).max().sum():.1f} s driven, "
          f"{len(table)} complete lap(s), {int(table['valid'].sum())} valid")
    if table.empty:
        print("no complete lap: a lap counts once the kart crosses the start/finish line again")
        return 0
    print(_fmt_laps(table))
    if table["valid"].any():
        best = table[table["session_best"]].iloc[0]
        theo = table.loc[table["valid"], ["s1_s", "s2_s", "s3_s"]].min()
        print(f"best valid lap {best['lap_time_s']:.2f} s (env {best['env']} episode {best['episode']} "
              f"lap {best['lap']}); best sectors {theo['s1_s']:.2f} + {theo['s2_s']:.2f} + "
              f"{theo['s3_s']:.2f} = ideal lap {theo.sum():.2f} s")
    st = T.stint(df)
    if len(st):
        import pandas as pd
        with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_rows", 500):
            print("stint (tyre temperatures: mean over the lap [deg C]; wear and fuel: at its end):")
            print(st.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.out:
        out = Path(args.out)
        table.to_csv(out, index=False)
        print(f"lap table: {out}")
    return 0


def _same_place(a, b) -> None:
    """Say so when the sidecars of two CSVs record different tracks or conditions."""
    ma, mb = read_meta(a), read_meta(b)
    for key, what in (("track", "tracks"), ("conditions", "conditions")):
        if key in ma and key in mb and ma[key] != mb[key]:
            print(f"note: the laps were driven on different {what}: A {ma[key]}, B {mb[key]}")


def cmd_compare(args: argparse.Namespace) -> int:
    """``compare``: two laps aligned by distance, sector gains, optional figure and table."""
    a, b = T.load(args.a), T.load(args.b)
    traces, sectors, info = T.compare(a, b, args.lap_a, args.lap_b)
    la = _label(args.a, info["key_a"], info["lap_a"])
    lb = _label(args.b, info["key_b"], info["lap_b"])
    print(f"A: {la}\nB: {lb}")
    _same_place(args.a, args.b)
    if info["standing_a"] != info["standing_b"]:
        which = "A" if info["standing_a"] else "B"
        print(f"note: {which} starts from rest and the other lap is a flying lap, so the first "
              "~100 m compare a launch with a lap; pick laps of the same kind with --lap-a/--lap-b "
              "(lap 1 of a session is its standing start)")
    print(sectors.to_string(float_format=lambda v: f"{v:+.3f}" if v < 0 else f"{v:.3f}"))
    g = T.gains(traces, args.segment)
    worst = g.reindex(g["b_minus_a_s"].abs().sort_values(ascending=False).index).head(5)
    print(f"biggest differences ({args.segment:.0f} m stretches; > 0: B loses time there):")
    for _, r in worst.iterrows():
        print(f"  {r.from_m:6.0f}-{r.to_m:6.0f} m  {r.b_minus_a_s:+.3f} s")
    if args.out:
        print(f"plot: {plot_compare(traces, sectors, info, la, lb, args.out)}")
    if args.table:
        traces.to_csv(args.table)
        print(f"aligned traces: {args.table}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """``plot``: columns against distance, time or step."""
    df = T.load(args.csv)
    cols = [c.strip() for c in args.y.split(",") if c.strip()]
    bad = [c for c in cols if c not in df.columns]
    if not cols or bad:
        raise T.TelemetryError(f"unknown columns {bad}; the telemetry has: {', '.join(df.columns)}")
    x = args.x
    if x == "auto":     # one lap against distance when there is one, else the session against time
        x = "distance" if len(T.laps(df)) else "step"
        if x == "step":
            print("no complete lap: plotting the whole session against its steps")
    if x == "distance":
        key, row = T.pick_lap(df, args.lap)
        label = _label(args.csv, key, row)
    elif x == "time":
        key = (args.env, args.episode, 0)
        if not ((df["env"] == args.env) & (df["episode"] == args.episode)).any():
            raise T.TelemetryError(f"no samples for env {args.env} episode {args.episode}")
        label = f"{Path(args.csv).stem} env {args.env} episode {args.episode}"
    else:
        key = (args.env, None, 0)
        if not (df["env"] == args.env).any():
            raise T.TelemetryError(f"no samples for env {args.env}; the file has envs "
                                   f"{sorted(df['env'].unique().tolist())}")
        label = f"{Path(args.csv).stem} env {args.env}, every episode"
    print(f"plot: {plot_columns(df, cols, key, args.out, x, label)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser (its subcommands call ``cmd_*``)."""
    ap = argparse.ArgumentParser(prog="python -m karting.telemetry", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("summary", help="lap table: lap and sector times, valid, speeds, lateral g, time off track")
    s.add_argument("csv")
    options.outputs(s, out="also write the lap table as CSV")
    s.set_defaults(func=cmd_summary)
    c = sub.add_parser("compare", help="two laps aligned by distance: delta time, traces, sector gains")
    c.add_argument("a", help="telemetry CSV of lap A (the reference)")
    c.add_argument("b", help="telemetry CSV of lap B")
    c.add_argument("--lap-a", default="best", help="best (default), last, N or ENV:EPISODE:LAP")
    c.add_argument("--lap-b", default="best", help="as --lap-a")
    options.outputs(c, out="PNG to draw")
    c.add_argument("--table", help="CSV of the aligned traces")
    c.add_argument("--segment", type=float, default=100.0, help="stretch length for the gains list [m]")
    c.set_defaults(func=cmd_compare)
    p = sub.add_parser("plot", help="any columns against distance (one lap), time (one episode) or "
                       "step (the whole session)")
    p.add_argument("csv")
    p.add_argument("--y", required=True, help="comma-separated columns, e.g. speed_kmh,lat_g,steering")
    p.add_argument("--x", choices=("auto", "distance", "time", "step"), default="auto",
                   help="auto (default): distance along a lap when the file has a complete lap, "
                   "else step; time: one episode; step: every episode of one kart in order")
    options.lap(p)
    p.add_argument("--env", type=int, default=0, help="with --x time or step: which kart")
    p.add_argument("--episode", type=int, default=0, help="with --x time: which episode")
    options.outputs(p, out="PNG to draw", out_required=True)
    p.set_defaults(func=cmd_plot)
    return ap


def main(argv: list | None = None) -> int:
    """Run the command line; exit code 0, or 2 with one ``error:`` line for a bad file or selection."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (T.TelemetryError, ValueError, FileNotFoundError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:          # `... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
