"""`python -m karting.train`: PPO for the hybrid CNN + MLP driver, from pixels and telemetry.

    python -m karting.train --track circuit.png --timesteps 100000 --vector-envs 8 --save-name test_vision
    tensorboard --logdir outputs/tensorboard/

The run, top to bottom: N karts in one natively batched env (one per track when there are
several) collect ``n_steps`` steps each with the current policy; GAE turns the rewards into
advantages (truncated episodes bootstrapped, reset steps of the next-step autoreset masked out);
``ppo_update`` runs ``n_epochs`` passes of minibatches; the telemetry normaliser learns from
the rollout; statistics go to TensorBoard and the progress bar. Every ``checkpoint_freq`` steps a
periodic checkpoint is written, every ``eval_freq`` steps the deterministic policy drives
``eval_episodes`` standing-start laps and the best so far is kept as ``best.pt``; ``final.pt``
at the end (or on Ctrl-C). All writes are atomic.

Outputs: ``<output-dir>/checkpoints/<save-name>/{step_*.pt, best.pt, final.pt, config.json}`` and
``<output-dir>/tensorboard/<save-name>/``.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from .cli import options
from .env.render import RendererUnavailable
from .rl.checkpoint import CheckpointError
from .rl.config import add_arguments, from_args
from .rl.trainer import CheckpointDirInUse, train
from .track import TrackError


def build_parser():
    ap = argparse.ArgumentParser(prog="python -m karting.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    options.overwrite(ap, "an earlier run saved under the same --save-name")
    options.progress(ap)
    options.max_minutes(ap, None, "stop training after this much wall time (after any --bc phase), as if "
                                  "--timesteps were reached: final evaluation, final.pt")
    return ap


def main(argv=None, on_checkpoint=None):
    """The command line; ``on_checkpoint`` as in :func:`train` (for remote/train.py)."""
    args = build_parser().parse_args(argv)
    try:
        if args.max_minutes is not None and not (math.isfinite(args.max_minutes) and args.max_minutes > 0):
            raise ValueError(f"--max-minutes must be a positive number of minutes, got {args.max_minutes}")
        cfg = from_args(args)
        summary = train(cfg, progress=not args.no_progress, overwrite=args.overwrite,
                        on_checkpoint=on_checkpoint,
                        max_wall_s=None if args.max_minutes is None else args.max_minutes * 60)
    except (ValueError, TrackError, CheckpointError, RendererUnavailable, CheckpointDirInUse) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ev = summary["eval"]
    if ev:
        best = ev.get("best_lap_time", math.nan)
        last = (f"last evaluation: lap completion {ev.get('completion_rate', 0):.0%}, best lap "
                f"{f'{best:.2f} s' if math.isfinite(best) else 'none'}")
    else:
        last = "no evaluation ran (stopped before the first; see --eval-freq)"
    print(f"done: {summary['global_step']:,} steps in {summary['wall_s']:.0f} s "
          f"({summary['fps']:,.0f} steps/s without evaluation); {last}")
    print(f"checkpoints: {summary['checkpoint_dir']}/ (final.pt"
          f"{', best.pt' if summary['best'] else ''}); tensorboard --logdir {Path(summary['tensorboard']).parent}")
    return 130 if summary["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
