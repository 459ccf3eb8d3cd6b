"""`python -m karting.demo`: drive a track with the scripted expert, save telemetry and a video.

The main job until training lands: it exercises the whole simulator (track derivation, physics,
the batched first-person renderer, laps and sectors, telemetry export) and leaves
``telemetry_logs/demo.csv`` and ``outputs/demo.mp4`` (chase view with the 84x84 first-person
view inset) behind.
"""
from __future__ import annotations

import sys
import time

from .cli import options
from .env import KartingEnv
from .env.render import RendererUnavailable
from .sim.expert import PurePursuit
from .telemetry import format_sectors
from .track import TrackError
from .video import write_video


def main(argv=None):
    ap = options.parser("python -m karting.demo", __doc__)
    options.track(ap)
    options.laps_flag(ap, 1, "laps to drive")
    options.seed(ap)
    options.outputs(ap, video="chase view with the first-person view inset ('' for none)",
                    telemetry="the laps", defaults={"video": "outputs/demo.mp4",
                                                    "telemetry": "telemetry_logs/demo.csv"})
    args = ap.parse_args(argv)


    try:
        env = KartingEnv(args.track, render_mode="rgb_array" if args.video else None,
                         max_episode_steps=20 * 120 * args.laps)
    except (TrackError, RendererUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"track {env.track.name}: {env.track.length:.0f} m, {len(env.track.gates)} checkpoints, "
          f"GL renderer: {env.batch.renderer.gl_renderer}")
    obs, info = env.reset(seed=args.seed)
    expert = PurePursuit(env.track)
    frames = []
    t0 = time.perf_counter()
    steps = 0
    while True:
        action = expert.act(env.batch.state, env.batch.idx)[0]
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
        if args.video:
            frames.append(env.render())
        if info["lap"] >= args.laps or terminated or truncated:
            break
    wall = time.perf_counter() - t0
    print(f"drove {steps} steps ({steps / 20:.1f} s simulated) in {wall:.1f} s wall time")
    if info["lap"] >= args.laps:
        secs = format_sectors(info["sector_times"], sep=", ")
        print(f"lap time {info['lap_time']:.2f} s ({'valid' if info['lap_valid'] else 'invalid'}); {secs}")
    else:
        print("the lap was not completed (terminated or out of time)")
    path = env.export_telemetry(args.telemetry)
    print(f"telemetry: {path} ({len(env.batch.recorder)} rows)")
    if args.video:
        out = write_video(args.video, frames)
        print(f"video: {out} ({len(frames)} frames)")
    env.close()
    return 0 if info["lap"] >= args.laps else 1


if __name__ == "__main__":
    sys.exit(main())
