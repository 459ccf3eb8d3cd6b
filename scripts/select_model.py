"""Choose a run's model on the validation split only: drive every checkpoint of a run (best.pt,
final.pt, the periodic step_*.pt) over the generated validation tracks in each condition (version
2's and version 3's long straights into hairpins, each group's figures in brackets), and print
one table and the checkpoint with the highest mean score over the conditions. The test split
(the benchmark) is never driven here.

    python scripts/select_model.py outputs/checkpoints/generalist2 --weather dry,wet --json select.json
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from karting.cli import options
from karting.generalisation import run, weather_list


def _groups(groups: dict) -> str:
    """`` (v2 8/8 95.0, v3 3/4 70.1)``: a condition's cell per group of validation tracks."""
    if not groups:
        return ""
    return " (" + ", ".join(f"{g} {v['lapped']}/{v['tracks']} {v['score']:.1f}" for g, v in groups.items()) + ")"


def main(argv=None) -> int:
    ap = options.parser("select_model.py", __doc__)
    ap.add_argument("run_dir", help="a run's checkpoint folder (outputs/checkpoints/NAME)")
    options.weathers(ap, "dry,wet")
    options.episodes(ap, 5, "standing starts per track")
    options.outputs(ap, json="the table")
    args = ap.parse_args(argv)
    folder = Path(args.run_dir)
    ckpts = sorted(folder.glob("step_*.pt")) + [p for p in (folder / "best.pt", folder / "final.pt") if p.exists()]
    if not ckpts:
        print(f"error: no checkpoints in {folder}", file=sys.stderr)
        return 2
    weathers = weather_list(args.weather)
    table = []
    for ck in ckpts:
        row = {"checkpoint": ck.name}
        for label, weather in weathers:
            rep = run(str(ck), "validation", args.episodes, weather=weather, log=lambda *a: None)
            s = rep["test"]
            row[label] = {"lapped": s["lapped"], "tracks": s["tracks"], "valid_lap_rate": s["valid_lap_rate"],
                          "score": s["score"], "steps": rep.get("trained_steps", 0),
                          "groups": {g: {"lapped": v["lapped"], "tracks": v["tracks"], "score": v["score"]}
                                     for g, v in s.get("groups", {}).items() if v}}
        row["mean_score"] = float(np.mean([row[label]["score"] for label, _ in weathers]))
        table.append(row)
        cells = "  ".join(f"{label} {row[label]['lapped']}/{row[label]['tracks']} {row[label]['score']:5.1f}"
                          + _groups(row[label]["groups"]) for label, _ in weathers)
        print(f"{ck.name:24s} {row[weathers[0][0]]['steps']:>10,} steps  {cells}  mean {row['mean_score']:5.1f}",
              flush=True)
    best = max(table, key=lambda r: r["mean_score"])
    print(f"chosen on the validation split: {best['checkpoint']} (mean score {best['mean_score']:.1f})")
    if args.json:
        options.write_json(args.json, {"rows": table, "chosen": best["checkpoint"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
