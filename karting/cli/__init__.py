"""The ``karting`` command: one entry point with a subcommand per job.

    karting train --track circuit.png --timesteps 100000
    karting race --track oval.png --opponents club,pro --video race.mp4
    karting <command> --help

Each subcommand is the module ``python -m karting.<module>`` runs (both forms take the same
flags), built from the shared option groups of :mod:`karting.cli.options`. A subcommand's module
is imported only when it runs, so that ``karting --help`` and a GUI-less machine stay fast.
"""
from __future__ import annotations

import importlib
import os
import sys

#: subcommand -> (module whose main(argv) it runs, one line of what it does)
COMMANDS = {
    "train": ("karting.train", "train a driver with PPO or SAC from the camera and telemetry"),
    "features": ("karting.features", "learned visual features: fit a VAE to camera frames, draw its reconstructions"),
    "play": ("karting.play", "a trained model drives laps: times, telemetry CSV, video, replay"),
    "drive": ("karting.drive", "drive yourself in a window (alone, against a ghost, or racing AI karts)"),
    "race": ("karting.race", "a race of AI karts and models: results, TV video, telemetry, replay"),
    "replay": ("karting.replay", "re-run a .replay file: verify it, film it, regenerate its telemetry"),
    "telemetry": ("karting.telemetry.cli", "lap tables, lap comparisons and plots from telemetry CSVs"),
    "coach": ("karting.coach", "corner-by-corner advice on your laps against the expert or another lap"),
    "expert": ("karting.expert", "the scripted expert's reference lap on a track"),
    "tune": ("karting.tune", "the setup optimiser: the fastest kart setup for a track and conditions"),
    "leaderboard": ("karting.leaderboard", "a track's best laps and races"),
    "championship": ("karting.championship", "a season: qualifying and races over a calendar, points, standings"),
    "dashboard": ("karting.dashboard", "a local web page: runs with live curves, boards, races, seasons, sessions"),
    "demo": ("karting.demo", "the expert drives a lap: telemetry and video, no training"),
    "bench": ("karting.bench", "throughput: env steps/s, rendering, memory, training fps"),
    "generalisation": ("karting.generalisation", "the driver benchmark: a model on tracks it never saw"),
    "compare": ("karting.compare", "learners side by side on one track over seeds: PPO, SAC, SB3's SAC, encoders"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()]
    return ("usage: karting <command> [options]   (karting <command> --help for its options)\n\ncommands:\n"
            + "\n".join(lines))


def quiet_on_closed_pipe(run, *args) -> int:
    """``run(*args)``, ended quietly when the reader of stdout goes away (``karting ... | head``):
    no traceback, exit status 141 as a Unix tool killed by SIGPIPE reports."""
    try:
        try:
            return run(*args) or 0
        finally:                       # also after --help's SystemExit: the flush is where a pipe breaks
            sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # Python's flush at exit writes nowhere
        return 141


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"karting: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return quiet_on_closed_pipe(module.main, rest)


if __name__ == "__main__":
    sys.exit(main())
