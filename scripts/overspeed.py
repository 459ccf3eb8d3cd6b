"""How far over the expert's target speed a driver goes: the statistic behind --overspeed-penalty.
Each track gets one standing start per condition and is driven for --duration seconds (laps go on; a kart
whose episode ends stops counting); per track: the share of its steps above 1.1x the speed the
expert aims for at its place (BatchExpert.overspeed, grip-aware), the mean and the largest excess
over 1.1x, and whether the episode ended early (the tyre wall, off the track).

    python scripts/overspeed.py outputs/checkpoints/NAME/final.pt                # the validation split
    python scripts/overspeed.py generalist tracks/circuit.png --weather dry,wet
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from karting.cli import options
from karting.rl.bc import BatchExpert
from karting.rl.checkpoint import CheckpointError, load_agent
from karting.rl.config import TrainConfig
from karting.rl.evaluate import make_eval_env, policy_actions
from karting.rl.pool import validation_tracks
from karting.sim.conditions import weather_list
from karting.sim.physics import CONTROL_HZ
from karting.track import TrackError, load_track


def drive(model: str, paths: list, weather=None, seconds: float = 150.0) -> list[dict]:
    """One row per track: steps counted, share over 1.1x, mean and max excess, ended early."""
    steps = int(seconds * CONTROL_HZ)
    agent, cfg = None, TrainConfig()          # the expert drives itself: any observation will do
    if model != "expert":
        agent, cfg, _ = load_agent(model, "cpu", as_trained=True)
    env = make_eval_env([load_track(p) for p in paths], len(paths), replace(cfg, max_episode_steps=steps + 1),
                        **({} if weather is None else {"weather": weather}))
    expert = BatchExpert(env)
    obs, _ = env.reset(seed=0)
    over, counted = np.zeros((steps, len(paths))), np.zeros((steps, len(paths)), bool)
    alive = np.ones(len(paths), bool)
    for t in range(steps):
        a = expert.act() if agent is None else policy_actions(agent, obs)
        over[t], counted[t] = expert.overspeed(), alive
        obs, _, term, trunc, _ = env.step(a)
        alive &= ~(term | trunc)
        if not alive.any():
            break
    env.close()
    rows = []
    for i, p in enumerate(paths):
        x = over[counted[:, i], i]
        rows.append({"track": p.name, "steps": len(x), "over_share": float(np.mean(x > 0)),
                     "mean_excess": float(x.mean()), "max_excess": float(x.max()), "ended_early": bool(not alive[i])})
    return rows


def main(argv=None) -> int:
    ap = options.parser("scripts/overspeed.py", __doc__)
    ap.add_argument("model", help="a model file, 'generalist' (the shipped one) or 'expert' (for scale)")
    ap.add_argument("tracks", nargs="*", help="track PNGs (default: the validation split's tracks)")
    options.weathers(ap, "dry")
    ap.add_argument("--duration", type=float, default=150.0, help="seconds each start drives (default 150)")
    options.outputs(ap, json="the rows")
    a = ap.parse_args(argv)
    if a.duration <= 0:
        ap.error("--duration must be > 0")
    paths = [Path(p) for p in a.tracks] or validation_tracks()
    out = {}
    try:
        for label, weather in weather_list(a.weather):
            out[label] = rows = drive(a.model, paths, weather, a.duration)
            for r in rows:
                ended = " (ended early)" if r["ended_early"] else ""
                print(f"{label:5s} {r['track']:24s} {r['steps']:5d} steps{ended}: "
                      f"over 1.1x the expert's speed on {r['over_share']:5.1%}, mean excess {r['mean_excess']:.3f}, "
                      f"max {r['max_excess']:.2f}", flush=True)
    except (CheckpointError, TrackError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.json:
        options.write_json(a.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
