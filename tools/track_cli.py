"""Track tools: check, make, import, draw and upload kart circuits.

    python tools/track_cli.py validate tracks/circuit.png
    python tools/track_cli.py generate --seed 7 --out tracks/gen7.png
    python tools/track_cli.py import-csv ../shared/real_tracks/Monza.csv --width 9 --length 1200 --out tracks/monza.png
    python tools/track_cli.py preview tracks/monza.png --out monza_preview.png
    python tools/track_cli.py list [tracks/]
    python tools/track_cli.py sync --track-name circuit.png      # to the Modal tracks volume

Exit codes: 0 fine, 1 the track has problems (validate) or the command failed, 2 bad input.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from karting.cli import options, quiet_on_closed_pipe
from karting.cli.cloud import TRACKS_VOLUME, CloudError, sync_tracks
from karting.sim.expert import reference_lap
from karting.telemetry import format_expert_lap
from karting.track import (
    DEFAULT_SCALE_M_PER_PX,
    DEFAULT_TRACKS_DIR,
    TrackError,
    build_track,
    default_checkpoints_path,
    load_checkpoints_file,
    resolve_track_path,
    save_track_entry,
    track_list,
)
from karting.track.gates import MAX_GATE_GAP_M, check_gates
from karting.track.generate import generate, import_centreline_csv, save_png
from karting.track.raceline import qss_speed


def _entry(png: Path, checkpoints=None):
    cp = Path(checkpoints) if checkpoints else default_checkpoints_path(png)
    return load_checkpoints_file(cp)["tracks"].get(png.name, {}), cp


def _base_entry(entry):
    return {k: v for k, v in entry.items() if k in ("scale_m_per_px", "direction", "start")}


def validate(png, checkpoints=None, expert=True, out=print):
    """Report on one track; returns the list of problems (empty = fine). Raises TrackError when
    the track cannot be used at all."""
    import numpy as np

    png = resolve_track_path(png)
    entry, cp = _entry(png, checkpoints)
    problems = []
    if "checkpoints" in entry:
        base = build_track(png, _base_entry(entry), where=f"{cp}: tracks[{png.name!r}]")
        problems += check_gates(base, entry["checkpoints"]).problems
    try:
        tr = build_track(png, entry, where=f"{cp}: tracks[{png.name!r}]")
    except TrackError:
        if not problems:
            raise
        tr = base     # the gates are unusable (listed below); report on the rest of the track
    h, w = tr.surface.shape
    out(f"{png.name}: {w} x {h} px at {tr.scale} m/px ({tr.extent_m[0]:.0f} x {tr.extent_m[1]:.0f} m)")
    out(f"  loop        found: one closed loop of asphalt around the infield, "
        f"driven {entry.get('direction', 'clockwise') if 'checkpoints' not in entry else 'as the gates run'}")
    out(f"  length      {tr.length:.0f} m")
    i_min = int(np.argmin(tr.width))
    c, r = tr.world_to_pixel(tr.centre[i_min])
    out(f"  width       min {tr.width.min():.1f} m (near pixel {c:.0f}, {r:.0f}), max {tr.width.max():.1f} m, "
        f"mean {tr.width.mean():.1f} m")
    radius = 1.0 / max(np.abs(tr.racing_curvature).max(), 1e-9)
    out(f"  corners     tightest radius on the racing line {radius:.1f} m")
    src = f"from {cp}" if "checkpoints" in entry else "derived from the centre line"
    out(f"  checkpoints {len(tr.gates)} gates, {src}")
    gaps = np.diff(np.r_[tr.gate_s, tr.length])
    if gaps.max() > MAX_GATE_GAP_M:
        problems.append(f"longest gap between gates {gaps.max():.0f} m (over {MAX_GATE_GAP_M:.0f} m)")
    g = list(tr.sector_gates) + [len(tr.gates)]
    s_m = list(tr.gate_s) + [tr.length]
    secs = ", ".join(f"S{k + 1} gates {g[k]}-{g[k + 1] - 1} ({s_m[g[k + 1]] - s_m[g[k]]:.0f} m)"
                     for k in range(3))
    out(f"  sectors     {secs}")
    if tr.width.min() < 6.0:
        problems.append(f"narrow: {tr.width.min():.1f} m at the narrowest point (karts need ~6 m to pass)")
    if expert:
        r = reference_lap(tr)
        out("  expert      " + format_expert_lap(r).split(": ", 1)[1])
        if not r.completed:
            problems.append("the expert driver found no clean lap")
    out("  problems    " + ("none" if not problems else f"{len(problems)}"))
    for p in problems:
        out(f"    - {p}")
    return problems


def cmd_validate(args):
    bad = 0
    for png in track_list(args.png):
        try:
            bad += bool(validate(png, args.checkpoints, expert=not args.no_expert))
        except TrackError as e:
            print(f"{Path(png).name}: UNUSABLE: {e}")
            bad += 1
    return 1 if bad else 0


def _write_png_and_entry(im, out: Path, entry, force):
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise TrackError(f"--out {out}: must end in .png")
    if out.exists() and not force:
        raise TrackError(f"{out} exists; pass --force to replace it")
    save_png(im, out)
    cp = default_checkpoints_path(out)
    old = load_checkpoints_file(cp)["tracks"].get(out.name)
    if entry or old is not None:   # an older image's entry (gates) would not fit the new one
        save_track_entry(out.name, entry, cp)
    return cp


def _check_made(out, entry):
    tr = build_track(out, entry)
    r = reference_lap(tr)
    print(format_expert_lap(r))
    return 0 if r.completed else 1


def cmd_generate(args):
    im, info = generate(args.seed, scale=args.scale)
    entry = {"scale_m_per_px": args.scale} if args.scale != DEFAULT_SCALE_M_PER_PX else {}
    cp = _write_png_and_entry(im, args.out, entry, args.force)
    print(f"wrote {args.out}: seed {args.seed}, {info['length_m']:.0f} m, {info['width_m']:.1f} m wide, "
          f"{im.size[0]} x {im.size[1]} px" + (f"; entry in {cp}" if entry else ""))
    return _check_made(Path(args.out), entry)


def cmd_import_csv(args):
    im, entry = import_centreline_csv(args.csv, length_m=args.length, width_m=args.width,
                                      scale=args.scale)
    cp = _write_png_and_entry(im, args.out, entry, args.force)
    print(f"wrote {args.out} ({im.size[0]} x {im.size[1]} px, {entry['direction']}) and its entry in {cp}")
    return _check_made(Path(args.out), entry)


def preview(png, out, checkpoints=None):
    """A top-down picture: the track, centre line, racing line coloured by the expert's speed
    profile, checkpoint gates (numbered), start/finish, direction and sectors."""
    from karting.extras import require
    matplotlib = require("matplotlib", "plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    png = resolve_track_path(png)
    entry, cp = _entry(png, checkpoints)
    tr = build_track(png, entry, where=f"{cp}: tracks[{png.name!r}]")
    img = np.asarray(Image.open(png).convert("L"))
    h, w = img.shape
    fig, ax = plt.subplots(figsize=(10, min(8.5 * h / w + 0.8, 14)), dpi=110)
    ax.imshow(img, cmap="gray", vmin=-80, vmax=255, interpolation="bilinear")
    px = lambda pts: tr.world_to_pixel(pts)  # noqa: E731
    c = px(np.vstack([tr.centre, tr.centre[:1]]))
    ax.plot(c[:, 0], c[:, 1], "--", color="0.75", lw=0.8, label="centre line")
    v, lap = qss_speed(tr.racing_line)
    rl = px(tr.racing_line)
    sc = ax.scatter(rl[:, 0], rl[:, 1], c=v * 3.6, cmap="plasma", s=3, zorder=3)
    fig.colorbar(sc, ax=ax, fraction=0.03, pad=0.01, label="racing line: planned speed [km/h]")
    colours = ("limegreen", "deepskyblue", "magenta")
    sector_of = np.searchsorted(np.asarray(tr.sector_gates), np.arange(len(tr.gates)), side="right") - 1
    for k, g in enumerate(px(tr.gates)):
        start = k == 0
        ax.plot(g[:, 0], g[:, 1], color="black" if start else colours[sector_of[k]],
                lw=3.5 if start else 1.4, zorder=4)
        ax.annotate(str(k), g[0], fontsize=7, color=colours[sector_of[k]], zorder=5,
                    xytext=(2, 2), textcoords="offset points")
    p0, p1 = px(tr.centre[0]), px(tr.centre[int(min(40.0, tr.length / 8) / tr.spacing)])
    ax.annotate("", p1, p0, arrowprops=dict(arrowstyle="-|>", color="red", lw=2.5), zorder=6)
    ax.text(*p0, "  start/finish", fontsize=8, fontweight="bold", va="bottom", zorder=6)
    for k in range(3):
        ax.plot([], [], color=colours[k], lw=2, label=f"sector {k + 1} gates")
    ax.set_title(f"{png.name}: {tr.length:.0f} m, {len(tr.gates)} gates, width {tr.width.min():.1f}-"
                 f"{tr.width.max():.1f} m, planned lap {lap:.1f} s")
    ax.legend(loc="lower right", fontsize=7, framealpha=0.9)
    ax.set_axis_off()
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def cmd_preview(args):
    print(f"wrote {preview(args.png, args.out, args.checkpoints)}")
    return 0


def cmd_list(args):
    folder = Path(args.folder)
    pngs = track_list(str(folder)) if folder.is_dir() else []
    if not pngs:
        print(f"{folder}: no .png tracks")
        return 1
    entries = load_checkpoints_file(folder / "checkpoints.json")["tracks"]
    print(f"{'track':24s} {'length':>8s} {'width':>11s} {'gates':>6s}  checkpoints.json")
    bad = 0
    for p in pngs:
        e = entries.get(p.name, {})
        try:
            tr = build_track(p, e)
            row = (f"{p.name:24s} {tr.length:7.0f}m {tr.width.min():4.1f}-{tr.width.max():4.1f} m "
                   f"{len(tr.gates):6d}  ")
            row += ("gates set in the editor" if "checkpoints" in e else
                    "entry (no gates)" if e else "none (all derived)")
        except TrackError as err:
            bad += 1
            row = f"{p.name:24s} UNUSABLE: {str(err).split(': ', 1)[-1]}"
        print(row)
    return 1 if bad else 0


def cmd_sync(args):
    if args.track_name:
        pngs = track_list(args.track_name)
    else:
        pngs = track_list(str(args.folder))
    cp = args.checkpoints or default_checkpoints_path(pngs[0])
    try:
        written = sync_tracks(pngs, cp, volume_name=args.volume)
    except CloudError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"uploaded to volume {args.volume}: {', '.join(written)}")
    return 0


def build_parser():
    ap = argparse.ArgumentParser(prog="python tools/track_cli.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("validate", help="check a track: loop, length, widths, checkpoints, sectors, expert lap")
    v.add_argument("png", help="track PNG (path or shipped name), a comma-separated list or a folder")
    options.checkpoints(v)
    v.add_argument("--no-expert", action="store_true", help="skip the expert's reference lap")
    v.set_defaults(func=cmd_validate)
    def maker(name, func, help):
        m = sub.add_parser(name, help=help)
        options.outputs(m, out="PNG to write; an entry, if any, goes into checkpoints.json next to it",
                        out_required=True)
        m.add_argument("--scale", type=float, default=DEFAULT_SCALE_M_PER_PX, help="metres per pixel")
        options.force(m)
        m.set_defaults(func=func)
        return m
    g = maker("generate", cmd_generate, "a procedural kart circuit from a seed")
    options.seed(g, required=True)
    i = maker("import-csv", cmd_import_csv, "a centre line CSV (x_m,y_m,w_tr_right_m,w_tr_left_m) -> PNG + entry")
    i.add_argument("csv")
    i.add_argument("--length", type=float, help="scale the lap to this length [m] (default: as in the CSV)")
    i.add_argument("--width", type=float, help="constant track width [m] (default: the CSV's widths, scaled)")
    p = sub.add_parser("preview", help="top-down picture with centre line, racing line, gates, sectors")
    p.add_argument("png")
    options.outputs(p, out="image to write (.png, .jpg, .pdf, .svg)", out_required=True)
    options.checkpoints(p)
    p.set_defaults(func=cmd_preview)
    ls = sub.add_parser("list", help="the tracks in a folder")
    ls.add_argument("folder", nargs="?", default=str(DEFAULT_TRACKS_DIR))
    ls.set_defaults(func=cmd_list)
    s = sub.add_parser("sync", help="upload tracks and checkpoints.json to the Modal tracks volume")
    s.add_argument("--track-name", help="track PNG(s) to upload (default: every track in --folder)")
    s.add_argument("--folder", default=str(DEFAULT_TRACKS_DIR))
    options.checkpoints(s, "for a folder: next to the tracks")
    s.add_argument("--volume", default=TRACKS_VOLUME, help=f"Modal volume (default {TRACKS_VOLUME})")
    s.set_defaults(func=cmd_sync)
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return quiet_on_closed_pipe(args.func, args)
    except TrackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
