"""The generalist's curve: in-training evaluations and the benchmark along the run.

    python -m karting.train ... --save-name generalist          # checkpoints every --checkpoint-freq
    for f in outputs/checkpoints/generalist/step_*.pt; do
        python -m karting.benchmark --model $f --json outputs/generalist/bench_$(basename $f .pt).json
    done
    python scripts/generalist_curve.py --tensorboard outputs/tensorboard/generalist \\
        --bench outputs/generalist/bench_*.json --out docs/images/generalist_curve.png

Top: lap completion of the evaluations during training (validation tracks + the named tracks,
as logged to TensorBoard as eval/lap_completion_rate), step 0 being the clone when the run
cloned first. Bottom: per benchmarked checkpoint, the test tracks lapped (of 31), the real
circuits lapped (of 11) and the score. Prints both as Markdown tables.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from karting.cli import options


def evaluations(tb_dir: Path) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(tb_dir))
    acc.Reload()
    if "eval/lap_completion_rate" not in acc.Tags()["scalars"]:
        raise SystemExit(f"error: {tb_dir} has no eval/lap_completion_rate (not a karting.train log?)")
    by_step = {e.step: e.value for e in acc.Scalars("eval/lap_completion_rate")}   # the last at a step
    return sorted(by_step.items())


def benchmarks(paths: list[Path]) -> list[dict]:
    rows = []
    for p in paths:
        try:
            d = json.loads(p.read_text())
            t = d["test"]
            rows.append({"file": p.name, "steps": int(d.get("trained_steps") or 0), "lapped": t["lapped"],
                         "tracks": t["tracks"], "real": t["real_lapped"], "real_tracks": t["real_tracks"],
                         "at_pace": t["at_pace"], "valid": t["valid_lap_rate"], "score": t["score"]})
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SystemExit(f"error: {p} is not a karting.benchmark --json report ({e})")
    return sorted(rows, key=lambda r: r["steps"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tensorboard", type=Path, required=True, help="the run's tensorboard folder")
    ap.add_argument("--bench", type=Path, nargs="*", default=[], help="karting.benchmark --json reports")
    options.outputs(ap, out="PNG to write (default: tables only)")
    args = ap.parse_args(argv)
    ev = evaluations(args.tensorboard)
    bench = benchmarks(args.bench)
    print("| PPO steps | evaluation lap completion |\n|---|---|")
    for s, v in ev:
        print(f"| {s:,} | {v:.0%} |")
    if bench:
        print("\n| checkpoint | PPO steps | test tracks lapped | real circuits lapped | at <= 1.15x "
              "| valid-lap rate | score |")
        print("|---|---|---|---|---|---|---|")
        for r in bench:
            print(f"| {r['file']} | {r['steps']:,} | {r['lapped']}/{r['tracks']} | {r['real']}/{r['real_tracks']} | "
                  f"{r['at_pace']} | {r['valid']:.0%} | {r['score']:.1f} |")
    if args.out is not None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(2 if bench else 1, 1, figsize=(8, 6.5 if bench else 3.5), squeeze=False)
        ax = axes[0][0]
        ax.plot([s / 1e3 for s, _ in ev], [100 * v for _, v in ev], "o-", color="tab:blue")
        ax.set_ylabel("evaluation lap completion [%]")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
        ax.set_title("generalist: evaluations during training (step 0 = the clone)")
        if bench:
            ax = axes[1][0]
            x = [r["steps"] / 1e3 for r in bench]
            ax.plot(x, [r["lapped"] for r in bench], "o-", label="test tracks lapped (of 31)")
            ax.plot(x, [r["real"] for r in bench], "s-", label="real circuits lapped (of 11)")
            ax.plot(x, [r["score"] for r in bench], "^--", label="score")
            ax.set_ylabel("benchmark")
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        axes[-1][0].set_xlabel("PPO steps [thousands]")
        fig.tight_layout()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out, dpi=110)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
