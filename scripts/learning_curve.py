"""Learning benchmark (not a CI test): how fast does the driver learn to lap, from pixels + telemetry?

    python scripts/learning_curve.py --precision float32 --minutes 20
    python scripts/learning_curve.py --precision bfloat16 --minutes 20
    python scripts/learning_curve.py --precision bfloat16 --minutes 10 --bc-steps 32768 --name learn_bc
    python scripts/learning_curve.py --plot outputs/learning/*.json --out docs/images/learning_curve.png

Trains with ``karting.train`` (the default settings: 16 karts, n_steps 128, batch 256, 4
epochs) on circuit.png for a wall-time budget, evaluating the deterministic policy on 20
standing-start laps every ``--eval-freq`` steps. Prints the steps and wall time to the first
valid lap (in training and in evaluation) and to >= 90 % lap completion over the 20 evaluation
episodes, then the best lap; writes the evaluation history as JSON for the plot.
Wall times include the evaluations (reported separately too).
"""
from __future__ import annotations

import argparse
import argparse as ap
import json
import math
from pathlib import Path

import numpy as np

from karting.generalisation import run as bench
from karting.cli import options
from karting.rl.checkpoint import load_agent
from karting.rl.config import TrainConfig, add_arguments
from karting.rl.evaluate import evaluate, make_eval_env, summarize
from karting.rl.trainer import train


def overrides(pairs) -> dict:
    """``--set name=value`` pairs -> TrainConfig fields, typed as ``karting.train``'s flags are."""
    parser = add_arguments(ap.ArgumentParser())
    out = {}
    for pair in pairs or []:
        name, _, value = pair.partition("=")
        field = name.strip().replace("-", "_")
        out[field] = getattr(parser.parse_args(["--" + field.replace("_", "-"), value]), field)
    TrainConfig(**out)        # unknown names or bad values fail here, before training
    return out


def final_evaluation(path, track: str, episodes: int, seed: int) -> dict:
    """``episodes`` standing-start laps of a checkpoint on ``track`` in one batch, as
    ``karting.play --episodes N`` drives them (deterministic, varied start poses, the run's arithmetic)."""
    agent, cfg, _ = load_agent(path, as_trained=True)
    env = make_eval_env(track, episodes, cfg)
    results, _ = evaluate(agent, env, 1, seed)
    env.close()
    return {**summarize(results), "seed": seed}


def run(args):
    name = args.name or f"learn_{args.precision}_s{args.seed}"
    cfg = TrainConfig(**{**dict(track=args.track, timesteps=args.max_steps, vector_envs=16, n_steps=128,
                      batch_size=256, n_epochs=4, precision=args.precision, seed=args.seed,
                      save_name=name, eval_freq=args.eval_freq, eval_episodes=args.eval_episodes,
                      checkpoint_freq=10 ** 9, output_dir=args.output_dir,
                      learning_rate=args.learning_rate, ent_coef=args.ent_coef,
                      bc="expert" if args.bc_steps else "", bc_steps=max(args.bc_steps, 1),
                      bc_value_warmup=args.bc_value_warmup), **overrides(args.set)})
    s = train(cfg, progress=not args.no_progress, overwrite=True, max_wall_s=args.minutes * 60)
    bc_s = s["bc"]["wall_s"] if s["bc"] else 0.0     # the warm start, before PPO's clock starts
    hist = [{**h, "wall_s": h["wall_s"] + bc_s} for h in s["eval_history"]]
    if s["bc"]:
        hist[0]["wall_s"] = bc_s + hist[0]["eval_s"]    # the evaluation right after cloning
    first_valid = next((h for h in hist if h["valid_lap_rate"] > 0), None)
    ninety = next((h for h in hist if h["completion_rate"] >= 0.9), None)
    best = min((h["best_lap_time"] for h in hist if math.isfinite(h["best_lap_time"])), default=math.nan)
    result = {"label": args.label, "config": cfg.to_dict(), "history": hist, "fps": s["fps"], "steps": s["global_step"],
              "wall_s": s["wall_s"], "times": s["times"],
              "first_valid_lap_training": s["first_valid_lap_training"],
              "first_valid_lap_eval": first_valid, "completion_90": ninety, "best_lap_time": best,
              "bc_s": bc_s, "bc": s["bc"]}
    if args.benchmark and s.get("best"):  # zero-shot on the benchmark's tracks (karting.benchmark)
        rep = bench(s["best"], split="all")
        result["benchmark"] = {"test": rep["test"], "rows": rep["rows"]}
    if args.final_episodes:     # best.pt and final.pt on many laps (start poses unlike training's evaluations)
        for which in ("best", "final"):
            if s.get(which):
                result[f"{which}_eval"] = final_evaluation(s[which], args.track, args.final_episodes, 777)
    out = Path(args.output_dir) / "learning" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))

    def when(h):
        return (f"{h['global_step']:,} steps, {h['wall_s'] / 60:.1f} min" if h else "not reached")
    print(f"\n{name} on {args.track}: {s['global_step']:,} steps in {s['wall_s'] / 60:.1f} min "
          f"({s['fps']:,.0f} steps/s without evaluations; evaluations {s['times']['eval'] / 60:.1f} min)")
    if s["bc"]:
        print(f"behaviour cloning: {s['bc']['samples']:,} samples in {bc_s / 60:.1f} min (included below)")
    print(f"first valid lap in training:      {when(s['first_valid_lap_training'])}")
    print(f"first valid lap in evaluation:    {when(first_valid)}")
    print(f">= 90% lap completion (20 laps):  {when(ninety)}")
    last = hist[-1] if hist else {}
    print(f"last evaluation: completion {last.get('completion_rate', 0):.0%}; best valid lap "
          f"{best:.2f} s" if math.isfinite(best) else "no valid lap in evaluation")
    for which in ("best", "final"):
        if f"{which}_eval" in result:
            e = result[f"{which}_eval"]
            print(f"{which}.pt over {e['episodes']} laps (start seed 777): completion {e['completion_rate']:.0%}, "
                  f"valid {e['valid_lap_rate']:.0%}, best lap {e['best_lap_time']:.2f} s; ends {e['ends']}")
    print(f"history: {out}")


def reliability(r: dict) -> dict:
    """The issue-15 reliability figures of one run: the first evaluation at >= 90 % completion, the
    lowest evaluation after it, the last one, and best.pt over the many-lap final evaluation."""
    h = r["history"]
    first = next((k for k, x in enumerate(h) if x["completion_rate"] >= 0.9), None)
    after = [x["completion_rate"] for x in h[first + 1:]] if first is not None else []
    best = r.get("best_eval", {})
    return {"label": r.get("label") or r["config"]["save_name"], "seed": r["config"]["seed"],
            "steps": r["steps"], "minutes": r["wall_s"] / 60,
            "first_90": h[first] if first is not None else None,
            "min_after": min(after) if after else None, "last": h[-1]["completion_rate"] if h else None,
            "best_completion": best.get("completion_rate"), "best_valid": best.get("valid_lap_rate"),
            "best_lap": best.get("best_lap_time"), "best_episodes": best.get("episodes"),
            "final_completion": r.get("final_eval", {}).get("completion_rate")}


def _lap(t) -> str:
    return "-" if t is None or not math.isfinite(t) else f"{t:.2f} s"


def summary(args):
    """A markdown table of the runs' reliability, and whether each meets issue 15's targets."""
    print("| run | seed | steps (min) | first eval >= 90 % | lowest eval after it | last eval | best.pt over N laps: "
          "completion / valid / best lap | final.pt completion | targets met |")
    print("|---|---|---|---|---|---|---|---|---|")
    met = 0
    runs = [json.loads(Path(f).read_text()) for f in args.summary]
    for r in runs:
        x = reliability(r)
        f90 = (f"{x['first_90']['global_step']:,} ({x['first_90']['wall_s'] / 60:.1f} min)"
               if x["first_90"] else "never")
        pct = lambda v: "-" if v is None else f"{100 * v:.0f} %"      # noqa: E731
        ok = (x["best_completion"] is not None and x["best_completion"] >= 0.95 and x["first_90"] is not None
              and (x["min_after"] is None or x["min_after"] >= 0.8))
        met += ok
        print(f"| {x['label']} | {x['seed']} | {x['steps']:,} ({x['minutes']:.1f}) | {f90} | "
              f"{pct(x['min_after'])} | {pct(x['last'])} | "
              f"{pct(x['best_completion'])} / {pct(x['best_valid'])} / {_lap(x['best_lap'])} "
              f"(N={x['best_episodes']}) | "
              f"{pct(x['final_completion'])} | {'yes' if ok else 'no'} |")
    benched = [r for r in runs if "benchmark" in r]
    if benched:
        print("\n| run | seed | circuit.png: best.pt completion (N laps) / best lap | benchmark test split: lapped "
              "(real) / at pace / valid-lap rate / score |")
        print("|---|---|---|---|")
        for r in benched:
            x, b = reliability(r), r["benchmark"]["test"]
            print(f"| {x['label']} | {x['seed']} | "
                  f"{100 * (x['best_completion'] or 0):.0f} % ({x['best_episodes']}) / {_lap(x['best_lap'])} | "
                  f"{b['lapped']}/{b['tracks']} ({b['real_lapped']}/{b['real_tracks']}) / {b['at_pace']} / "
                  f"{100 * b['valid_lap_rate']:.0f} % / {b['score']:.1f} |")
        groups: dict = {}
        for r in benched:
            groups.setdefault(reliability(r)["label"], []).append(r)
        if any(len(g) > 1 for g in groups.values()):
            _group_table(groups)
    print(f"\n{met} of {len(args.summary)} runs meet the targets (best.pt >= 95 % over the final evaluation; "
          f"no evaluation below 80 % after the first >= 90 % one)")


def _group_table(groups: dict) -> None:
    """The ablation table: per label (configuration), the mean over its seeds and the range."""
    def stat(vals, fmt):
        vals = [v for v in vals if v is not None and math.isfinite(v)]
        if not vals:
            return "-"
        return fmt.format(np.mean(vals)) + (f" ({fmt.format(min(vals))}-{fmt.format(max(vals))})"
                                            if len(vals) > 1 else "")
    print("\n| configuration | seeds | circuit.png: best.pt completion | valid laps | best lap [s] | steps to >= 90 % "
          "[thousands] | benchmark: test tracks lapped (of 31) | real circuits lapped (of 11) | score |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, runs in groups.items():
        xs = [reliability(r) for r in runs]
        bs = [r["benchmark"]["test"] for r in runs]
        f90 = [x["first_90"]["global_step"] / 1e3 if x["first_90"] else None for x in xs]
        never = sum(v is None for v in f90)
        print(f"| {label} | {', '.join(str(x['seed']) for x in xs)} | "
              f"{stat([100 * (x['best_completion'] or 0) for x in xs], '{:.0f} %')} | "
              f"{stat([100 * (x['best_valid'] or 0) for x in xs], '{:.0f} %')} | "
              f"{stat([x['best_lap'] for x in xs], '{:.2f}')} | "
              f"{stat(f90, '{:.0f}')}{f' ({never} never)' if never else ''} | "
              f"{stat([b['lapped'] for b in bs], '{:.1f}')} | {stat([b['real_lapped'] for b in bs], '{:.1f}')} | "
              f"{stat([b['score'] for b in bs], '{:.1f}')} |")


def plot(args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for f in args.plot:
        r = json.loads(Path(f).read_text())
        h = r["history"]
        name = r.get("label") or r["config"]["precision"]
        seed = "" if "seed" in name else f"seed {r['config']['seed']}, "
        label = f"{name} ({seed}{r['fps']:,.0f} steps/s)"
        steps = [x["global_step"] / 1e3 for x in h]
        mins = [x["wall_s"] / 60 for x in h]
        comp = [100 * x["completion_rate"] for x in h]
        axes[0].plot(steps, comp, marker="o", ms=3, label=label)
        axes[1].plot(mins, comp, marker="o", ms=3, label=label)
        axes[2].plot(steps, [x["best_lap_time"] for x in h], marker="o", ms=3, label=label)
    axes[0].set(xlabel="env steps [thousands]", ylabel="lap completion, 20 eval episodes [%]")
    axes[1].set(xlabel="wall time, 2-core CPU [min]", ylabel="lap completion [%]")
    axes[2].set(xlabel="env steps [thousands]", ylabel="best valid lap in evaluation [s]")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].axhline(90, color="grey", ls="--", lw=1)
    axes[1].axhline(90, color="grey", ls="--", lw=1)
    axes[1].axvline(20, color="grey", ls=":", lw=1)
    axes[0].legend(fontsize=8)
    fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"plot: {args.out}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.track(ap)
    ap.add_argument("--precision", default="float32", choices=("float32", "bfloat16"))
    options.minutes(ap, 20.0, "wall-time budget")
    ap.add_argument("--max-steps", type=int, default=5_000_000)
    ap.add_argument("--eval-freq", type=int, default=32_768)
    ap.add_argument("--learning-rate", type=float, default=3e-4)
    ap.add_argument("--ent-coef", type=float, default=0.0)
    options.seed(ap)
    ap.add_argument("--bc-steps", type=int, default=0, help="behaviour cloning from the expert first: "
                    "this many kart-steps (0 = off)")
    ap.add_argument("--bc-value-warmup", type=int, default=0, help="with --bc-steps: value-only PPO updates first")
    ap.add_argument("--set", nargs="*", metavar="NAME=VALUE", help="any other karting.train flag, "
                    "e.g. --set anneal_lr=true target_kl=0.02")
    ap.add_argument("--eval-episodes", type=int, default=20, help="evaluation episodes (default 20)")
    ap.add_argument("--benchmark", action="store_true", help="after training, run karting.benchmark on best.pt "
                    "(all 35 tracks, ~1.5 min) and keep its test-split summary")
    ap.add_argument("--final-episodes", type=int, default=100, help="after training, drive best.pt and "
                    "final.pt for this many laps (0 = skip)")
    ap.add_argument("--name", default=None, help="run name (default learn_<precision>_s<seed>)")
    ap.add_argument("--label", default=None, help="legend label in the plot (default: the precision)")
    options.output_dir(ap)
    options.progress(ap)
    ap.add_argument("--plot", nargs="+", help="history JSON files to plot instead of training")
    options.outputs(ap, out="the figure", defaults={"out": "docs/images/learning_curve.png"})
    ap.add_argument("--title", default="PPO from pixels + telemetry on circuit.png "
                    "(16 karts, n_steps 128, batch 256, 4 epochs)")
    ap.add_argument("--summary", nargs="+", help="history JSON files: print their reliability table "
                    "instead of training")
    args = ap.parse_args(argv)
    if args.summary:
        summary(args)
    elif args.plot:
        plot(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
