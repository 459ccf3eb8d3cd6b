"""`python -m karting.race`: a race of AI karts and trained models, with a results table, JSON,
race telemetry, a TV-style video and the track's leaderboard.

    python -m karting.race --track circuit.png --opponents club,club,pro,alien --video race.mp4
    python -m karting.race --model outputs/checkpoints/quickstart/best.pt --opponents 5 --difficulty pro
    python -m karting.race --model outputs/checkpoints/quickstart/best.pt --difficulty rookie --races 10
    python -m karting.race --opponents club,pro,alien --replay race.replay    # python -m karting.replay race.replay

Models (``--model``, repeatable) start at the front of the grid in the order given, the AI karts
behind them (``--grid random`` shuffles everyone, seeded). The video follows the leader (or
``--follow K``): chase camera, that kart's first-person view, a standings tower, and a map with
every kart. ``--races N`` (one model) races it N times in one batch from the back of the grid
and prints its win rate, mean position, collisions and overtakes. Exit code 0: the race ran;
2: bad input (track, model, difficulty, grid).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from .env.cameras import MapView, standings_tower


class TVComposer:
    """960x400 frames: chase camera of the followed kart with its first-person view and a
    standings tower overlaid | the map with every kart."""

    H = 400

    def __init__(self, track):
        self.mapper = MapView(track, 320)

    def frame(self, session, follow: int) -> np.ndarray:
        from PIL import Image, ImageDraw
        from .env.render import FIRST_PERSON
        b, rc = session.batch, session.control
        st = b.state
        img = b.renderer.render_chase(st.x, st.y, st.yaw, follow, size=(640, self.H))
        # the followed kart's first-person view, as its camera (84x84) would see it, at 2x
        fp = b.renderer.render_chase(st.x, st.y, st.yaw, follow, size=(84, 84), camera=FIRST_PERSON)
        img[6:174, 6:174] = np.repeat(np.repeat(fp, 2, 0), 2, 1)
        img[4:6, 4:176] = img[174:176, 4:176] = img[4:176, 4:6] = img[4:176, 174:176] = 255
        pil = Image.fromarray(img)
        standings_tower(pil, rc, session.rules.laps, b.laps)
        d = ImageDraw.Draw(pil)
        lights = rc.lights_on
        if lights:
            for k in range(5):
                fill = (230, 20, 20) if k < lights else (50, 50, 50)
                d.ellipse([250 + 30 * k, 40, 272 + 30 * k, 62], fill=fill)
        m = self.mapper.view(b.state, -1, rc.status == 0)
        right = np.full((self.H, 320, 3), 20, np.uint8)
        right[40:40 + m.shape[0]] = m[: self.H - 40]
        return np.concatenate([np.asarray(pil), right], 1)


def load_models(paths, device):
    """[(agent, config)] for each model file; all must share one observation space."""
    from .rl.checkpoint import load_agent
    out = []
    for p in paths:
        agent, cfg, _ = load_agent(p, device)
        out.append((agent, cfg))
    shapes = {(c.frame_stack, c.telemetry_history) for _, c in out}
    if len(shapes) > 1:
        from .env.spec import observation_space
        a, b = sorted(shapes)[:2]
        raise ValueError(f"the models' observation spaces differ: {observation_space(*a)} vs {observation_space(*b)}; "
                         "race models trained with the same frame_stack and telemetry_history")
    return out


def build_parser():
    ap = argparse.ArgumentParser(prog="python -m karting.race", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--track", default="circuit.png", help="track PNG (path or shipped name)")
    ap.add_argument("--opponents", default="3", help="number of AI karts, or their levels: club,pro,...")
    ap.add_argument("--difficulty", default="club", help="level of numbered opponents (rookie, club, pro, alien; "
                                                           "a comma list cycles)")
    ap.add_argument("--model", action="append", default=[], help="a trained model (repeatable)")
    ap.add_argument("--laps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grid", choices=("given", "random"), default="given")
    ap.add_argument("--lights", action="store_true", help="start lights (and jump-start penalties)")
    ap.add_argument("--weather", default=None, help="dry, damp, wet or a rain level 0..1 (karting.sim.conditions)")
    ap.add_argument("--tyres", default=None, help="new (cold), warm, scrubbed, used or worn: tyres are modelled")
    ap.add_argument("--video", default="", help="write an MP4 of the race")
    ap.add_argument("--follow", default="leader", help="kart the camera follows: 'leader' or its index")
    ap.add_argument("--telemetry", default="", help="write race telemetry CSV (one row per kart per step)")
    ap.add_argument("--json", default="", help="write the results as JSON")
    ap.add_argument("--replay", default="", help="write the race's replay (every kart's actions; "
                                                 "python -m karting.replay re-runs and films it)")
    ap.add_argument("--no-leaderboard", action="store_true", help="do not append to the track's leaderboard")
    ap.add_argument("--races", type=int, default=1,
                    help="with one --model: race it this many times (one batch, no video) and print its "
                         "win rate, mean position, collisions and overtakes")
    ap.add_argument("--device", default="cpu")
    return ap


def many_races(args) -> int:
    """``--races N`` with one model: the summary of N races against the opponents."""
    from .rl.checkpoint import load_agent
    from .rl.evaluate import race_evaluate
    agent, cfg, _ = load_agent(args.model[0], args.device)
    r = race_evaluate(agent, args.track, cfg, races=args.races, laps=args.laps, opponents=args.opponents,
                      difficulty=args.difficulty, seed=args.seed, device=args.device)
    print(f"{args.model[0]} on {args.track}: {args.races} races of {args.laps} lap(s) against {args.opponents} "
          f"({args.difficulty}), from the back of a {r['karts']}-kart grid")
    print(f"win rate {r['win_rate']:.0%}, mean position {r['mean_position']:.2f}, finished {r['finish_rate']:.0%}, "
          f"collisions/lap {r['collisions_per_lap']:.2f} (caused {r['caused_per_lap']:.2f}), "
          f"overtakes/race {r['overtakes_per_race']:.2f}")
    if args.json:
        import json
        from .files import atomic_write
        atomic_write(args.json, lambda f: json.dump(r, f, indent=1), text=True)
    return 0


def _setup(args):
    from .env.session import Session
    from .scenario import Scenario, parse_opponents
    levels = parse_opponents(args.opponents, args.difficulty)
    models = load_models(args.model, args.device)
    n = len(models) + len(levels)
    if n < 1:
        raise ValueError("nobody to race: give --opponents and/or --model")
    if args.laps < 1:
        raise ValueError(f"--laps must be >= 1 (got {args.laps})")
    from .models import model_label
    names = [model_label(p) for p in args.model] + [f"AI {lv}" for lv in levels]
    order = np.arange(n)                     # as given: the models in front, then the AI karts
    if args.grid == "random":
        order = np.random.default_rng(args.seed).permutation(n)
    fs, th = (models[0][1].frame_stack, models[0][1].telemetry_history) if models else (1, 1)
    scenario = Scenario.race(args.track, levels, learners=len(models), laps=args.laps, start_lights=args.lights,
                             frame_stack=fs, telemetry_history=th, record_telemetry=bool(args.telemetry),
                             **conditions_from_args(args))
    session = Session(scenario, names=names, seed=args.seed, grid_order=order,
                      render=bool(models) or bool(args.video))
    return session, models, names


def conditions_from_args(args) -> dict:
    """--weather/--tyres as Scenario fields (nothing when neither is given)."""
    from .sim.conditions import cli_conditions
    return cli_conditions(getattr(args, "weather", None), getattr(args, "tyres", None))


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .env.render import RendererUnavailable
    from .rl.checkpoint import CheckpointError
    from .track import TrackError
    if args.races > 1:
        if args.replay:
            print("error: --replay records one race: drop --races", file=sys.stderr)
            return 2
        if len(args.model) != 1:
            print("error: --races takes exactly one --model", file=sys.stderr)
            return 2
        try:
            return many_races(args)
        except (TrackError, CheckpointError, RendererUnavailable, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    try:
        session, models, names = _setup(args)
    except (TrackError, CheckpointError, RendererUnavailable, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from .rl.evaluate import policy_actions
    from .sim.racing import format_results
    rc = session.control
    if args.replay:
        session.start_replay()
    obs = session.reset(np.random.default_rng(args.seed))
    tv = TVComposer(session.track) if args.video else None
    frames = []
    while not rc.done:
        acts = np.zeros((len(models), 2), np.float32)
        for k, (agent, _) in enumerate(models):
            o = {"vision": obs["vision"][k:k + 1], "telemetry": obs["telemetry"][k:k + 1]}
            acts[k] = policy_actions(agent, o, args.device)[0]
        obs, _, _ = session.step(acts)
        if tv is not None:
            follow = int(rc.standings()[0]) if args.follow == "leader" else int(args.follow)
            frames.append(tv.frame(session, follow))
    results = rc.results()
    print(format_results(results, session.track.name, args.laps))
    if args.json:
        from .files import atomic_write
        import json
        atomic_write(args.json, lambda f: json.dump({"track": session.track.name, "laps": args.laps,
                                                     "results": results}, f, indent=1), text=True)
        print(f"results: {args.json}")
    if args.telemetry:
        print(f"telemetry: {session.batch.recorder.export_csv(args.telemetry)}")
    if args.video:
        from .video import write_video
        print(f"video: {write_video(args.video, frames)} ({len(frames)} frames)")
    if args.replay:
        print(f"replay: {session.save_replay(args.replay, 'race: ' + ', '.join(names))}")
    if not args.no_leaderboard and not conditions_from_args(args):   # the board is for today's kart, dry
        _leaderboard(session, results, args)
    session.close()
    return 0


def _leaderboard(session, results, args):
    from . import leaderboard
    b = session.batch
    for row in results:
        i = row["kart"]
        src = leaderboard.model_hash(args.model[i]) if i < len(args.model) else row["driver"]
        if b.best_lap_time[i] > 0:
            leaderboard.add_laps(session.track.name, row["driver"],
                                 [{"time_s": b.best_lap_time[i], "valid": True,
                                   "sectors_s": []}], src)
    leaderboard.add_race(session.track.name, args.laps, results)
    print(f"leaderboard: {leaderboard.board_path(session.track.name)}")


if __name__ == "__main__":
    sys.exit(main())
