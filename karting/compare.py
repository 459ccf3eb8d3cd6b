"""`python -m karting.compare`: learners side by side on one track, several seeds, same machine.

    python -m karting.compare --methods ppo,sac,sb3-sac,ppo-vae --seeds 0,1,2 --steps 100000 --minutes 10 \\
        --encoder outputs/features/vae.pt --out outputs/compare/circuit.json

Methods: ``ppo`` (karting.train's default), ``sac`` (``--algo sac``), ``sb3-sac``
(stable-baselines3's SAC, MultiInputPolicy, on the same batched env through
:class:`karting.env.adapters.SB3VecEnv`, the same buffer size, batch, learning starts and one
update per vector step; its own defaults otherwise), ``ppo-vae`` and ``sac-vae`` (``--encoder
vae:PATH``, frozen). Each method x seed is one run that trains until both budgets are spent
(``--steps`` env steps and ``--minutes`` of training time) or ``--max-minutes``, with the same
evaluation as karting.train's (20 standing-start laps) every ``--eval-every`` steps, whose time
is not counted. From the evaluations: steps and training time to the first valid lap and to
>= 90 % lap completion, the best lap within the step budget and within the minute budget.

Results go to ``--out`` (JSON) after every run; runs already there are skipped, so a killed
comparison goes on where it stopped. The table gives each method's median over its seeds and
how many seeds got there.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .cli import options
from .env.adapters import SB3VecEnv
from .env.render import RendererUnavailable
from .files import atomic_write
from .rl.checkpoint import CheckpointError
from .rl.config import TrainConfig
from .rl.evaluate import Evaluator
from .rl.trainer import Callback, make_trainer
from .track import TrackError, track_list

METHODS = ("ppo", "sac", "sb3-sac", "ppo-vae", "sac-vae")
COMPLETION = 0.9


class _Recorder(Callback):
    """Each evaluation with the steps and training time (evaluations left out) it came at; asks
    the run to stop once both budgets are spent."""

    def __init__(self, steps: int, seconds: float):
        self.steps, self.seconds, self.evals = steps, seconds, []

    def on_evaluation(self, trainer, s, improved):
        wall = time.perf_counter() - trainer.t0 - trainer.times["eval"]
        self.evals.append(_point(trainer.global_step, wall, s))
        if trainer.global_step >= self.steps and wall >= self.seconds:
            trainer.request_stop()


def _point(step, wall, s) -> dict:
    lap = s["best_lap_time"]
    return {"step": int(step), "train_s": float(wall), "completion": float(s["completion_rate"]),
            "best_lap": float(lap) if math.isfinite(lap) else None}


def config(method: str, track: str, seed: int, args) -> TrainConfig:
    """The TrainConfig of one of our methods."""
    algo = "sac" if method.startswith("sac") else "ppo"
    extra = {}
    if method.endswith("-vae"):
        if not args.encoder:
            raise ValueError(f"{method} needs --encoder (a features file from python -m karting.features fit)")
        extra = {"encoder": f"vae:{args.encoder}"}
    return TrainConfig(track=track, algo=algo, seed=seed, timesteps=10 ** 12, vector_envs=args.vector_envs,
                       eval_freq=args.eval_every, checkpoint_freq=10 ** 12, save_name=f"compare_{method}_s{seed}",
                       output_dir=args.output_dir, **extra)


def run_ours(method: str, track: str, seed: int, args, log=print) -> dict:
    cfg = config(method, track, seed, args)
    rec = _Recorder(args.steps, args.minutes * 60)
    trainer = make_trainer(cfg, progress=False, overwrite=True, log=log, callbacks=[rec])
    summary = trainer.run(max_wall_s=args.max_minutes * 60)
    return {"evals": rec.evals, "steps": summary["global_step"], "fps": summary["fps"]}


class SB3Driver:
    """A stable-baselines3 model driven through the interface our evaluation calls."""

    def __init__(self, model):
        self.model = model

    def get_action_and_value(self, vision, telemetry, action=None, deterministic=True):
        import torch
        obs = {"vision": vision.cpu().numpy(), "telemetry": telemetry.cpu().numpy()}
        a, _ = self.model.predict(obs, deterministic=deterministic)
        return torch.as_tensor(a), None, None, None


def run_sb3_sac(track: str, seed: int, args, log=print) -> dict:
    """stable-baselines3 SAC with the same budgets and evaluations."""
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback
    cfg = replace(TrainConfig(), track=track, seed=seed)
    venv = SB3VecEnv(track, num_envs=args.vector_envs, random_start=True, max_episode_steps=cfg.max_episode_steps)
    model = SAC("MultiInputPolicy", venv, buffer_size=cfg.buffer_size, learning_starts=cfg.learning_starts,
                batch_size=cfg.batch_size, train_freq=1, gradient_steps=1, gamma=cfg.gamma,
                learning_rate=cfg.learning_rate, seed=seed, device="cpu", verbose=0)
    evaluator = Evaluator(track_list(track), cfg)
    driver = SB3Driver(model)
    evals, clock = [], {"eval": 0.0, "t0": time.perf_counter()}
    budget = (args.steps, args.minutes * 60, args.max_minutes * 60)

    class Hook(BaseCallback):
        def __init__(self):
            super().__init__()
            self.next = args.eval_every

        def _on_step(self) -> bool:
            wall = time.perf_counter() - clock["t0"] - clock["eval"]
            if self.num_timesteps >= self.next:
                self.next += args.eval_every
                te = time.perf_counter()
                s, _ = evaluator(driver)
                clock["eval"] += time.perf_counter() - te
                evals.append(_point(self.num_timesteps, wall, s))
                log(f"sb3-sac eval at {self.num_timesteps:,} steps: lap completion {s['completion_rate']:.0%}")
                if self.num_timesteps >= budget[0] and wall >= budget[1]:
                    return False
            return wall < budget[2]

    log(f"sb3-sac on {Path(track).name}: {args.vector_envs} karts, replay {cfg.buffer_size:,} (observations and next "
        f"observations stored apart)")
    model.learn(total_timesteps=10 ** 12, callback=Hook())
    venv.close()
    evaluator.close()
    wall = time.perf_counter() - clock["t0"]
    return {"evals": evals, "steps": int(model.num_timesteps),
            "fps": model.num_timesteps / max(wall - clock["eval"], 1e-9)}


def metrics(evals: list, steps: int, minutes: float) -> dict:
    """What the comparison reports, from one run's evaluations."""
    first = next((e for e in evals if e["best_lap"] is not None), None)
    ninety = next((e for e in evals if e["completion"] >= COMPLETION), None)
    laps = lambda es: [e["best_lap"] for e in es if e["best_lap"] is not None]  # noqa: E731
    by_steps = laps([e for e in evals if e["step"] <= steps])
    by_time = laps([e for e in evals if e["train_s"] <= minutes * 60])
    return {"first_lap_step": first and first["step"], "first_lap_s": first and first["train_s"],
            "complete90_step": ninety and ninety["step"], "complete90_s": ninety and ninety["train_s"],
            "best_lap_at_steps": min(by_steps) if by_steps else None,
            "best_lap_at_minutes": min(by_time) if by_time else None}


def _median(xs) -> str:
    got = [x for x in xs if x is not None]
    return (f"{np.median(got):,.{1 if isinstance(got[0], float) else 0}f}" if got else "-") + f" ({len(got)}/{len(xs)})"


def format_table(results: dict, steps: int, minutes: float) -> str:
    """Medians over seeds (and how many seeds got there) per method."""
    head = (f"| method | seeds | steps/s | first valid lap: steps | train s | >= 90 % laps: steps | train s | "
            f"best lap at {steps:,} steps | best lap at {minutes:g} min |")
    lines = [head, "|" + "---|" * 9]
    for method, runs in results.items():
        ms = [metrics(r["evals"], steps, minutes) for r in runs.values()]
        col = lambda k: _median([m[k] for m in ms])  # noqa: E731
        fps = np.median([r["fps"] for r in runs.values()])
        lines.append(f"| {method} | {len(runs)} | {fps:,.0f} | {col('first_lap_step')} | {col('first_lap_s')} | "
                     f"{col('complete90_step')} | {col('complete90_s')} | {col('best_lap_at_steps')} | "
                     f"{col('best_lap_at_minutes')} |")
    return "\n".join(lines)


def plot(results: dict, path, steps: int, minutes: float) -> None:
    """Evaluation lap completion of every run against env steps and against training minutes."""
    from .extras import require
    require("matplotlib", "plots").use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    colours = dict(zip(METHODS, ("tab:blue", "tab:red", "tab:gray", "tab:green", "tab:purple")))
    for method, runs in results.items():
        for k, (seed, run) in enumerate(sorted(runs.items())):
            es = run["evals"]
            y = [100 * e["completion"] for e in es]
            label = method if k == 0 else None
            axes[0].plot([e["step"] / 1000 for e in es], y, color=colours.get(method), alpha=0.8, label=label,
                         marker=".")
            axes[1].plot([e["train_s"] / 60 for e in es], y, color=colours.get(method), alpha=0.8, label=label,
                         marker=".")
    axes[0].axvline(steps / 1000, color="0.6", ls="--", lw=0.8)
    axes[1].axvline(minutes, color="0.6", ls="--", lw=0.8)
    axes[0].set_xlabel("env steps (thousands)")
    axes[1].set_xlabel("training minutes (evaluations not counted)")
    axes[0].set_ylabel("evaluation: lap completion, 20 standing starts (%)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left" if ax is axes[0] else "lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = options.parser("python -m karting.compare", __doc__)
    options.track(ap)
    ap.add_argument("--methods", default="ppo,sac", help=f"comma-separated, of {', '.join(METHODS)} (default ppo,sac)")
    options.seeds(ap, "0-2")
    ap.add_argument("--steps", type=int, default=100_000, help="the step budget (default 100000)")
    options.minutes(ap, 10.0, "the training-time budget (evaluations not counted)")
    options.max_minutes(ap, 30.0, "a run stops after this much wall time whatever else")
    ap.add_argument("--eval-every", type=int, default=10_000, help="env steps between evaluations (default 10000)")
    ap.add_argument("--vector-envs", type=int, default=16, help="karts per run (default 16)")
    options.encoder(ap, "the VAE of the -vae methods")
    options.output_dir(ap, "the runs' checkpoints and tensorboard logs")
    options.outputs(ap, out="results JSON (read first: runs already in it are skipped)", out_required=True)
    ap.add_argument("--figure", default=None, help="also draw every run's evaluations to this PNG")
    args = ap.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        ap.error(f"--methods: {', '.join(bad) or 'none given'}: choose from {', '.join(METHODS)}")
    if min(args.steps, args.eval_every, args.vector_envs) < 1 or not 0 < args.minutes <= args.max_minutes:
        ap.error("--steps, --eval-every and --vector-envs must be >= 1, and 0 < --minutes <= --max-minutes")
    out = Path(args.out)
    try:
        results = json.loads(out.read_text()).get("runs", {}) if out.exists() else {}
    except (OSError, ValueError) as e:
        print(f"error: {out}: not a results file of karting.compare ({e}); give another --out", file=sys.stderr)
        return 2
    try:
        track = str(track_list(args.track)[0])
        for seed in args.seeds:
            for method in methods:
                if str(seed) in results.get(method, {}):
                    continue
                print(f"-- {method}, seed {seed}")
                run = (run_sb3_sac(track, seed, args) if method == "sb3-sac" else run_ours(method, track, seed, args))
                run["metrics"] = metrics(run["evals"], args.steps, args.minutes)
                results.setdefault(method, {})[str(seed)] = run
                payload = {"track": Path(track).name, "steps": args.steps, "minutes": args.minutes, "runs": results}
                atomic_write(out, lambda f: f.write(json.dumps(payload, indent=1)), text=True)
    except (ValueError, TrackError, CheckpointError, RendererUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    shown = {m: results[m] for m in methods if m in results}
    print(format_table(shown, args.steps, args.minutes))
    if args.figure:
        plot(shown, args.figure, args.steps, args.minutes)
        print(f"figure: {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
