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

import argparse
import sys
from pathlib import Path

import numpy as np


# ---------------------------------------------------------------- video

class VideoComposer:
    """Frames for the MP4: first-person view (as the network sees it, 3x) | chase camera | map."""

    H = 320

    def __init__(self, track):
        from .env.cameras import MapView
        self.track = track
        mv = MapView(track, self.H)
        self.map, self.f, self.off = mv.base, mv.f, mv.off

    def map_frame(self, x, y, index=0):
        img = self.map.copy()
        pix = self.track.world_to_pixel(np.stack([x, y], -1)) * self.f
        for k, (c, r) in enumerate(pix):
            r, c = int(r) + self.off[0], int(c) + self.off[1]
            col = (255, 40, 40) if k == index else (255, 255, 255)
            img[max(r - 3, 0):r + 4, max(c - 3, 0):c + 4] = col
        return img

    def frame(self, env, index=0):
        b = env.batch
        st = b.state
        fp = b.vision[index, :, :, -3:]
        big = np.repeat(np.repeat(fp, 3, 0), 3, 1)                      # 252 x 252
        left = np.full((self.H, 256, 3), 20, np.uint8)
        left[34:34 + big.shape[0], 2:2 + big.shape[1]] = big
        chase = b.renderer.render_chase(st.x, st.y, st.yaw, index, size=(480, self.H))
        return np.concatenate([left, chase, self.map_frame(st.x[index:index + 1],
                                                           st.y[index:index + 1])], 1)


# ---------------------------------------------------------------- CLI

def _fmt_lap(lap):
    from .telemetry import format_sectors
    secs = format_sectors(lap["sectors_s"])
    return f"{lap['time_s']:.2f} s ({'valid' if lap['valid'] else 'invalid'}; {secs})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True,
                    help="checkpoint written by karting.train (.pt), or 'generalist' (the shipped any-track model)")
    ap.add_argument("--track", default=None,
                    help="track PNG (path or shipped name); default: the first named track it trained on "
                         "(circuit.png for a model trained only on generated tracks)")
    ap.add_argument("--episodes", type=int, default=5, help="episodes to run (default 5)")
    ap.add_argument("--laps", type=int, default=1, help="laps per episode (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the start positions (default 0)")
    ap.add_argument("--video", default="", help="MP4 (or .gif) of episode 1 to write; default none")
    ap.add_argument("--telemetry", default=None,
                    help="telemetry CSV to write (default telemetry_logs/play_<model>_<track>.csv)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    ap.add_argument("--stochastic", action="store_true", help="sample actions instead of the mean")
    ap.add_argument("--replay", default=None, help="write the session's replay to this file (python -m karting.replay)")
    ap.add_argument("--weather", default=None, help="dry, damp, wet or a rain level 0..1 (karting.sim.conditions)")
    ap.add_argument("--tyres", default=None, help="new (cold), warm, scrubbed, used or worn: tyres are modelled")
    args = ap.parse_args(argv)
    if args.episodes < 1 or args.laps < 1:
        ap.error("--episodes and --laps must be >= 1")

    import torch
    from .env.render import RendererUnavailable
    from .rl.checkpoint import CheckpointError, load_agent
    from .rl.config import GENERATED
    from .rl.evaluate import evaluate, make_eval_env, summarize
    from .track import TrackError, track_list
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else (
        "cpu" if args.device == "auto" else args.device)
    try:
        agent, cfg, data = load_agent(args.model, device, as_trained=True)   # training's arithmetic
        named = [t for t in str(cfg.track).split(",") if t.strip() and t.strip() != GENERATED]
        track = args.track or (str(track_list(",".join(named))[0]) if named else "circuit.png")
        from .sim.conditions import cli_conditions
        cond = cli_conditions(args.weather, args.tyres)
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
    for k, r in enumerate(results):
        laps = "; ".join(f"lap {j + 1} {_fmt_lap(lap)}" for j, lap in enumerate(r.laps)) or "no lap"
        print(f"episode {k + 1}: {'completed' if r.completed else 'not completed'} "
              f"({r.end}, {r.steps / 20:.1f} s, reward {r.reward:.1f}); {laps}")
    s = summarize(results)
    best = f"{s['best_lap_time']:.2f} s" if np.isfinite(s["best_lap_time"]) else "none"
    print(f"completion {s['completion_rate']:.0%} ({sum(r.completed for r in results)}/{len(results)}), "
          f"best valid lap {best}, mean reward {s['mean_reward']:.1f}")

    from . import leaderboard
    from .models import model_label
    kept = 0 if cond else leaderboard.add_laps(   # the board is for today's kart in the dry
        env.track.name, model_label(args.model), [lap for r in results for lap in r.laps],
        leaderboard.model_hash(args.model))
    if kept:
        print(f"leaderboard: {kept} valid lap(s) -> {leaderboard.board_path(env.track.name)}")
    from .telemetry import write_csv
    df = env.batch.recorder.to_dataframe()
    keep = (df["episode"] == 0) & (df["step"] <= end_step[df["env"].to_numpy()])
    model, track_name = Path(args.model), env.track.name.removesuffix(".png")
    name = args.telemetry or f"play_{'_'.join(filter(None, (model.parent.name, model.stem)))}_{track_name}.csv"
    path = write_csv(df[keep], name)
    print(f"telemetry: {path} ({int(keep.sum())} rows)")
    if args.replay:
        print(f"replay: {env.batch.save_replay(args.replay, 'play ' + model_label(args.model))}")
    if composer is not None:
        from .video import write_video
        out = write_video(args.video, frames)
        print(f"video: {out} ({len(frames)} frames, {len(frames) / 20:.1f} s)")
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
