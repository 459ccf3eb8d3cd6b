"""`python -m karting.play`: run a trained model on a track, print its laps, save a video and telemetry.

    python -m karting.play --model outputs/checkpoints/test_vision/best.pt --track circuit.png --video lap.mp4

The policy drives deterministically (the mean of its Gaussian) from a standing start on the
start/finish line for ``--episodes`` episodes of ``--laps`` laps each, all karts in one batch
(they do not see each other). It prints lap and sector times and the completion rate, writes the
telemetry of every episode as one CSV (the schema of ``karting.telemetry``) and, with
``--video``, an MP4 of episode 1: the 84x84 first-person view the network sees, a chase camera,
and a map with the racing line. Works on a CPU with no display.

Evaluation itself is :mod:`karting.rl.evaluate` (also what ``karting.train`` uses to pick
``best.pt``).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from .telemetry import leaderboard
from .cli import options
from .env.cameras import VideoComposer
from .env.render import RendererUnavailable
from .models import model_label
from .rl.checkpoint import CheckpointError, load_agent
from .rl.config import GENERATED
from .rl.evaluate import evaluate, make_eval_env, summarize
from .telemetry import DEFAULT_DIR, format_sectors, write_csv
from .track import TrackError, track_list
from .video import write_video


def _fmt_lap(lap):
    secs = format_sectors(lap["sectors_s"])
    return f"{lap['time_s']:.2f} s ({'valid' if lap['valid'] else 'invalid'}; {secs})"


def build_parser():
    ap = options.parser("python -m karting.play", __doc__)
    options.model(ap)
    options.track(ap, default=None, extra="default: the first named track it trained on (circuit.png for a "
                  "model trained only on generated tracks)")
    options.episodes(ap, 5, "each from a standing start, all at once")
    options.laps_flag(ap, 1, "laps per episode")
    options.seed(ap, "of the start positions")
    options.outputs(ap, video="episode 1: first-person view, chase camera, map",
                    telemetry="every episode (default telemetry_logs/play_<model>_<track>.csv)",
                    replay="the session")
    options.device(ap)
    ap.add_argument("--stochastic", action="store_true", help="sample actions instead of the mean")
    options.conditions(ap)
    return ap


def print_results(results) -> None:
    """Each episode's laps, then the completion rate and the best valid lap."""
    for k, r in enumerate(results):
        laps = "; ".join(f"lap {j + 1} {_fmt_lap(lap)}" for j, lap in enumerate(r.laps)) or "no lap"
        print(f"episode {k + 1}: {'completed' if r.completed else 'not completed'} "
              f"({r.end}, {r.steps / 20:.1f} s, reward {r.reward:.1f}); {laps}")
    s = summarize(results)
    best = f"{s['best_lap_time']:.2f} s" if np.isfinite(s["best_lap_time"]) else "none"
    print(f"completion {s['completion_rate']:.0%} ({sum(r.completed for r in results)}/{len(results)}), "
          f"best valid lap {best}, mean reward {s['mean_reward']:.1f}")


def write_outputs(args, env, results, end_step, frames, cond) -> None:
    """The leaderboard (dry, today's kart), the telemetry CSV, the replay and the video."""
    label = model_label(args.model)
    kept = 0 if cond else leaderboard.add_laps(   # the board is for today's kart in the dry
        env.track.name, label, [lap for r in results for lap in r.laps], leaderboard.model_hash(args.model))
    if kept:
        print(f"leaderboard: {kept} valid lap(s) -> {leaderboard.board_path(env.track.name)}")
    df = env.batch.recorder.to_dataframe()
    keep = (df["episode"] == 0) & (df["step"] <= end_step[df["env"].to_numpy()])
    model, track_name = Path(args.model), env.track.name.removesuffix(".png")
    default = f"play_{'_'.join(filter(None, (model.parent.name, model.stem)))}_{track_name}.csv"
    path = write_csv(df[keep], args.telemetry or DEFAULT_DIR / default, {**env.batch.recorder.meta, "driver": label})
    print(f"telemetry: {path} ({int(keep.sum())} rows)")
    if args.replay:
        print(f"replay: {env.batch.save_replay(args.replay, 'play ' + label)}")
    if args.video:
        out = write_video(args.video, frames)
        print(f"video: {out} ({len(frames)} frames, {len(frames) / 20:.1f} s)")


def main(argv=None):
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.episodes < 1 or args.laps < 1:
        ap.error("--episodes and --laps must be >= 1")
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else (
        "cpu" if args.device == "auto" else args.device)
    try:
        agent, cfg, data = load_agent(args.model, device, as_trained=True)   # training's arithmetic
        named = [t for t in str(cfg.track).split(",") if t.strip() and t.strip() != GENERATED]
        track = args.track or (str(track_list(",".join(named))[0]) if named else "circuit.png")
        cond = options.conditions_of(args)
        env = make_eval_env(track, args.episodes, cfg, args.laps, record_telemetry=True, **cond)
        if args.replay:
            env.batch.start_replay()
    except (CheckpointError, TrackError, RendererUnavailable, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"model {args.model}: trained {data.get('global_step', 0):,} steps on {cfg.track}; "
          f"driving {env.track.name} ({env.track.length:.0f} m), {args.episodes} episode(s) x "
          f"{args.laps} lap(s), {'stochastic' if args.stochastic else 'deterministic'}")
    frames = []
    composer = VideoComposer(env.track) if args.video else None

    def on_step(env, active):
        if composer is not None and active[0]:
            frames.append(composer.frame(env, 0))

    results, end_step = evaluate(agent, env, args.laps, args.seed, device,
                                 deterministic=not args.stochastic, on_step=on_step)
    print_results(results)
    write_outputs(args, env, results, end_step, frames, cond)
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
