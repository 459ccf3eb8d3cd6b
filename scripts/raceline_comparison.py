"""Our racing lines against the published race lines of shared/real_tracks, and expert laps.

    python scripts/raceline_comparison.py [--real-tracks ../shared/real_tracks] [--out docs/raceline_comparison.md]

For each circuit:
1. geometry at real scale (the CSV's centre line and widths, 2 m spacing; our margin = the
   published line's clearance): length, curvature energy (integral of kappa^2 ds) and the
   quasi-steady-state lap time under the kart's parameters, for the published line, our
   minimum-curvature line and our minimum-lap-time blend;
2. lap time under our physics, driven: the circuit imported at real scale with its own widths
   (1 m/px), the expert (karting.sim.expert.reference_lap, 8 settings, one standing lap) driving our
   line (1.2 m from the edges) and the published line (as published, ~0.7 m from the CSV's edges),
   with the line weight of the best clean lap (1.0 = on the line, 0.7 = 30 % towards the centre);
3. the circuit imported as a kart track (--kart-length m, 9 m wide, as in docs/guide/racing-line.md) and the
   expert's reference lap on it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from karting.cli import options
from karting.sim.expert import reference_lap
from karting.track import TrackError, build_track, frame
from karting.track import raceline as rl
from karting.track.generate import import_centreline_csv, read_centreline_csv


def geometry(csv, pub):
    from scipy.spatial import cKDTree
    xy, wr, wl = read_centreline_csv(csv)
    c = rl.resample_smooth(xy, 2.0)
    _, i = cKDTree(xy).query(c)
    _, n = frame(c)
    t0 = time.perf_counter()
    res = rl.compare_with_published(c, n, wr[i], wl[i], pub)
    res["solve_s"] = time.perf_counter() - t0
    return res


def driven(csv, pub, tmp):
    im, entry, to_world = import_centreline_csv(csv, scale=1.0, return_transform=True)
    p = Path(tmp) / (Path(csv).stem + "_real.png")
    im.save(p)
    tr = build_track(p, entry)
    # one standing lap, 8 settings: at 4-7 km a full grid takes minutes per line
    quick = dict(laps=1, mu_grid=(2.0, 1.6, 1.2, 0.8), line_grid=(1.0, 0.7))
    ours = reference_lap(tr, **quick)
    idx, _, lat = tr.project(*to_world(rl.resample_smooth(pub, 1.0)).T)
    off = np.zeros(len(tr.centre))
    cnt = np.zeros(len(tr.centre))
    np.add.at(off, idx, lat)
    np.add.at(cnt, idx, 1)
    have = cnt > 0
    off = np.interp(np.arange(len(off)), np.flatnonzero(have), off[have] / cnt[have], period=len(off))
    # mapping the line onto our centre line's normals leaves kinks where they fan out in tight
    # corners (up to 0.43 m of offset per metre on Monza, curvature spikes of 0.2 1/m that the
    # line itself does not have): smooth the offsets over ~3 m. Not clipped to our limits: the
    # limits follow the pixel-quantised width, and clipping put spikes back (0.62 1/m).
    from scipy.ndimage import gaussian_filter1d
    off = gaussian_filter1d(off, 3.0, mode="wrap")
    tp = dataclasses.replace(tr, racing_offset=off)
    theirs = reference_lap(tp, **quick)
    return tr.length, ours, theirs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.real_tracks(ap, str(Path(__file__).resolve().parents[2] / "shared" / "real_tracks"))
    options.outputs(ap, out="the report", defaults={"out": "docs/raceline_comparison.md"})
    ap.add_argument("--kart-length", type=float, default=1200.0)
    options.only(ap, "circuits (their names)")
    args = ap.parse_args(argv)
    root = Path(args.real_tracks)
    names = sorted(p.stem for p in root.glob("*.csv") if not p.stem.endswith("_raceline"))
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            csv, pub = root / f"{name}.csv", np.loadtxt(root / f"{name}_raceline.csv", delimiter=",", comments="#")
            g = geometry(csv, pub)
            notes = []
            try:
                length, ours, theirs = driven(csv, pub, tmp)
            except TrackError as e:
                length, ours, theirs = None, None, None
                notes.append(f"real scale: {str(e).split(': ', 1)[1]}")
            try:
                im, entry = import_centreline_csv(csv, length_m=args.kart_length, width_m=9.0)
                kp = Path(tmp) / f"{name}_kart.png"
                im.save(kp)
                kart = reference_lap(build_track(kp, entry))
            except TrackError as e:
                kart = None
                notes.append(f"kart import: {str(e).split(': ', 1)[1]}")
            row = {"name": name, **{k: g[k] for k in ("margin_m", "w", "solve_s")},
                   "published": g["published"], "ours": g["ours"], "ours_min_time": g["ours_min_time"],
                   "driven_length_m": length,
                   "driven_ours_s": ours.lap_time_s if ours and ours.completed else None,
                   "driven_published_s": theirs.lap_time_s if theirs and theirs.completed else None,
                   "driven_ours_setting": [ours.mu_use, ours.line_weight] if ours else None,
                   "driven_published_setting": [theirs.mu_use, theirs.line_weight] if theirs else None,
                   "kart_lap_s": kart.lap_time_s if kart and kart.completed else None,
                   "kart_standing_s": kart.standing_lap_s if kart and kart.completed else None,
                   "kart_length_m": kart.length_m if kart else None, "notes": notes}
            rows.append(row)
            print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()
                              if not isinstance(v, dict)}), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    out.write_text(render(rows))
    print(f"wrote {out} and {out.with_suffix('.json')}")


def _w(setting):
    """The line weight the expert's best clean lap used (1.0 = on the line itself)."""
    return "" if not setting or not setting[1] else f" (w {setting[1]:.1f})"


def render(rows):
    f = lambda v, d=2: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
    lines = ["| circuit | margin m | curvature energy: published / ours min-curv / ours min-time | "
             "QSS lap s: published / min-curv / min-time | driven standing lap s (expert, real scale; "
             "w = line weight used): published line / our line | "
             "kart import: reference lap s (standing) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        p, o, t = r["published"], r["ours"], r["ours_min_time"]
        lines.append(f"| {r['name']} | {r['margin_m']:.2f} | {p['curvature_energy']:.3f} / "
                     f"{o['curvature_energy']:.3f} / {t['curvature_energy']:.3f} | "
                     f"{p['lap_time_s']:.1f} / {o['lap_time_s']:.1f} / {t['lap_time_s']:.1f} | "
                     f"{f(r['driven_published_s'])}{_w(r['driven_published_setting'])} / "
                     f"{f(r['driven_ours_s'])}{_w(r['driven_ours_setting'])} | "
                     f"{f(r['kart_lap_s'])} ({f(r['kart_standing_s'] or None)}) |")
    notes = [f"- {r['name']}: {n}" for r in rows for n in r["notes"]]
    return "\n".join(lines) + "\n" + ("\n" + "\n".join(notes) + "\n" if notes else "")


if __name__ == "__main__":
    main()
