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

import sys

import numpy as np

from .telemetry import leaderboard
from .cli import options
from .env.render import RendererUnavailable
from .env.session import Session
from .models import model_label
from .rl.checkpoint import CheckpointError, load_agent, load_models
from .rl.evaluate import race_evaluate, run_race
from .scenario import Scenario, parse_opponents
from .sim.race_control import format_results
from .telemetry import export_csv
from .track import TrackError
from .video import write_video


def build_parser():
    ap = options.parser("python -m karting.race", __doc__)
    options.track(ap)
    options.race(ap)
    options.model(ap, repeatable=True, extra="its karts start at the front, in the order given")
    options.seed(ap)
    ap.add_argument("--grid", choices=("given", "random"), default="given",
                    help="given: the models in front, then the AI karts; random: shuffled (seeded)")
    ap.add_argument("--lights", action="store_true", help="start lights (and jump-start penalties)")
    options.conditions(ap)
    options.outputs(ap, video="the race on TV (chase camera, standings, map)",
                    telemetry="every kart, every step, with the race's columns",
                    replay="every kart's actions", json="the results", leaderboard=True)
    ap.add_argument("--follow", default="leader", help="kart the camera follows: 'leader' or its index")
    options.races_flag(ap, "with one --model: race it this many times (one batch, no video) and print its "
                           "win rate, mean position, collisions and overtakes")
    options.device(ap)
    return ap


def many_races(args) -> int:
    """``--races N`` with one model: the summary of N races against the opponents."""
    agent, cfg, _ = load_agent(args.model[0], args.device)
    r = race_evaluate(agent, args.track, cfg, races=args.races, laps=args.laps, opponents=args.opponents,
                      difficulty=args.difficulty, seed=args.seed, device=args.device)
    print(f"{args.model[0]} on {args.track}: {args.races} races of {args.laps} lap(s) against {args.opponents} "
          f"({args.difficulty}), from the back of a {r['karts']}-kart grid")
    print(f"win rate {r['win_rate']:.0%}, mean position {r['mean_position']:.2f}, finished {r['finish_rate']:.0%}, "
          f"collisions/lap {r['collisions_per_lap']:.2f} (caused {r['caused_per_lap']:.2f}), "
          f"overtakes/race {r['overtakes_per_race']:.2f} (lost {r['overtaken_per_race']:.2f}), "
          f"track limits/lap {r['track_limits_per_lap']:.2f}, penalties/race {r['penalties_s_per_race']:.1f} s")
    if args.json:
        options.write_json(args.json, r)
    return 0


def _setup(args):
    levels = parse_opponents(args.opponents, args.difficulty)
    models = load_models(args.model, args.device)
    n = len(models) + len(levels)
    if n < 1:
        raise ValueError("nobody to race: give --opponents and/or --model")
    if args.laps < 1:
        raise ValueError(f"--laps must be >= 1 (got {args.laps})")
    names = [model_label(p) for p in args.model] + [f"AI {lv}" for lv in levels]
    order = np.arange(n)                     # as given: the models in front, then the AI karts
    if args.grid == "random":
        order = np.random.default_rng(args.seed).permutation(n)
    fs, th, pv = (models[0][1].frame_stack, models[0][1].telemetry_history, models[0][1].obs_preview) if models \
        else (1, 1, False)
    scenario = Scenario.race(args.track, levels, learners=len(models), laps=args.laps, start_lights=args.lights,
                             frame_stack=fs, telemetry_history=th, preview=pv, record_telemetry=bool(args.telemetry),
                             **options.conditions_of(args))
    session = Session(scenario, names=names, seed=args.seed, grid_order=order,
                      render=bool(models) or bool(args.video))
    return session, models, names


def main(argv=None):
    args = build_parser().parse_args(argv)
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
    if args.replay:
        session.start_replay()
    results, frames = run_race(session, models, args.device, args.seed, video=bool(args.video), follow=args.follow)
    print(format_results(results, session.track.name, args.laps))
    _write_outputs(args, session, results, frames, names)
    session.close()
    return 0


def _write_outputs(args, session, results, frames, names) -> None:
    """The files the flags ask for, and the leaderboard."""
    if args.json:
        options.write_json(args.json, {"track": session.track.name, "laps": args.laps, "results": results})
        if args.json != "-":
            print(f"results: {args.json}")
    if args.telemetry:
        print(f"telemetry: {export_csv(session.batch.recorder, args.telemetry)}")
    if args.video:
        print(f"video: {write_video(args.video, frames)} ({len(frames)} frames)")
    if args.replay:
        print(f"replay: {session.save_replay(args.replay, 'race: ' + ', '.join(names))}")
    if not args.no_leaderboard and not options.conditions_of(args):   # the board is for today's kart, dry
        _leaderboard(session, results, args)


def _leaderboard(session, results, args):
    leaderboard.record_race(session, results, args.laps, args.model)
    print(f"leaderboard: {leaderboard.board_path(session.track.name)}")


if __name__ == "__main__":
    sys.exit(main())
