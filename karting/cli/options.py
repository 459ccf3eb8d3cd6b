"""The shared option groups of every command: each flag is declared here, once, with one help
text, so that ``--track``, ``--weather`` or ``--json`` read the same in every command (a command
may give its own default and say what the flag means for it in ``extra``).

    ap = argparse.ArgumentParser(...)
    options.track(ap)
    options.conditions(ap, setup=True, fuel=True)
    options.outputs(ap, telemetry="telemetry CSV of the laps", replay=True, json=True)
"""
from __future__ import annotations

import argparse
import json as _json
import sys

from ..files import atomic_write
from ..sim.conditions import cli_conditions

#: a flag's meaning, the same in every command
TRACK_HELP = "track PNG: a path or a shipped name (see tracks/)"
WEATHER_HELP = ("weather: dry, damp, wet, green (no rubber), hot, cold, or a rain level 0..1 "
                "(the realism models of karting.sim.conditions)")
TYRES_HELP = "tyres at the start: new (cold), warm, scrubbed, used, worn, or off (not modelled)"
SETUP_HELP = "the kart's setup as name=value items, e.g. sprocket=82,pressure_rear_bar=0.8,rear_track_m=1.36"
FUEL_HELP = "litres in the tank at the start, 0 < fuel <= 9 (models the fuel mass)"


def _more(text: str, extra: str) -> str:
    return f"{text}; {extra}" if extra else text


def track(ap, default: str | None = "circuit.png", extra: str = "", required: bool = False) -> None:
    """``--track``."""
    d = "" if default is None or required else f" (default {default})"
    ap.add_argument("--track", default=None if required else default, required=required,
                    help=_more(TRACK_HELP + d, extra))


def checkpoints(ap, extra: str = "") -> None:
    """``--checkpoints``: a track's checkpoints.json."""
    ap.add_argument("--checkpoints", help=_more("checkpoints.json (default: next to the PNG)", extra))


def conditions(ap, setup: bool = False, fuel: bool = False, weather: str | None = None,
               tyres: str | None = None) -> None:
    """``--weather``, ``--tyres`` (and ``--setup``, ``--fuel``); off (None) unless given."""
    g = ap.add_argument_group("conditions")
    g.add_argument("--weather", default=weather, help=WEATHER_HELP + (f" (default {weather})" if weather else ""))
    g.add_argument("--tyres", default=tyres, help=TYRES_HELP + (f" (default {tyres})" if tyres else ""))
    if setup:
        g.add_argument("--setup", default=None, help=SETUP_HELP)
    if fuel:
        g.add_argument("--fuel", type=float, default=None, help=FUEL_HELP)


def weathers(ap, default: str | None = "dry", extra: str = "") -> None:
    """``--weather`` as a comma list of conditions (the benchmark's, one after the other; a
    championship's, one per round)."""
    ap.add_argument("--weather", default=default,
                    help=_more("conditions to drive in, comma-separated: dry, damp, wet (any weather preset) or a "
                               f"rain level 0-1, e.g. dry,wet (default {default})", extra))


def outputs_folder(ap) -> None:
    """``--outputs``: the outputs folder a command reads."""
    ap.add_argument("--outputs", default=None, help="the outputs folder (default $KARTING_OUTPUTS or outputs)")


def only(ap, what: str) -> None:
    """``--only``: some of the items a command would run, comma-separated."""
    ap.add_argument("--only", default=None, help=f"only these {what}, comma-separated")


def local(ap, what: str) -> None:
    """``--local``: run on this machine what would run on Modal."""
    ap.add_argument("--local", action="store_true", help=f"without Modal: {what} on this machine")


def tracks(ap, default: str | None, what: str) -> None:
    """``--tracks``: several tracks, comma-separated."""
    ap.add_argument("--tracks", default=default, help=f"{what}, comma-separated" +
                    (f" (default: {default})" if default else ""))


def conditions_of(args, tyres_with_weather: bool = False) -> dict:
    """The Scenario fields of the conditions flags (checked; nothing when none was given)."""
    return cli_conditions(getattr(args, "weather", None), getattr(args, "tyres", None),
                          getattr(args, "setup", None), getattr(args, "fuel", None),
                          tyres_with_weather=tyres_with_weather)


def race(ap, opponents: str = "3", laps: int = 3, extra: str = "") -> None:
    """``--opponents``, ``--difficulty`` and ``--laps`` of a race."""
    ap.add_argument("--opponents", default=opponents,
                    help=_more(f"AI karts: a number, or their levels, e.g. club,pro (default {opponents})", extra))
    ap.add_argument("--difficulty", default="club",
                    help="level of numbered opponents: rookie, club, pro or alien (a comma list cycles; default club)")
    laps_flag(ap, laps, "laps of the race")


def laps_flag(ap, default: int, what: str = "laps") -> None:
    """``--laps``."""
    ap.add_argument("--laps", type=int, default=default, help=f"{what} (default {default})")


def races_flag(ap, what: str, default: int = 1) -> None:
    """``--races``."""
    ap.add_argument("--races", type=int, default=default, help=f"{what} (default {default})")


def model(ap, required: bool = True, repeatable: bool = False, extra: str = "") -> None:
    """``--model``: a checkpoint written by training, or a shipped model's name."""
    text = _more("a model: a .pt checkpoint written by karting train, or a shipped one: 'generalist' (any "
                 "track) or 'racer' (races in traffic, trained on circuit.png)", extra)
    if repeatable:
        ap.add_argument("--model", action="append", default=[], help=text + " (repeatable)")
    else:
        ap.add_argument("--model", required=required, help=text)


def seed(ap, extra: str = "", required: bool = False) -> None:
    """``--seed``."""
    ap.add_argument("--seed", type=int, default=None if required else 0, required=required,
                    help=_more("random seed" + ("" if required else " (default 0)"), extra))


def seed_list(spec: str) -> list[int]:
    """``"0-19"``, ``"3,6,16"`` or a mix (``"0-4,9"``) -> the seeds, in order."""
    out = []
    for part in str(spec).split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            out += list(range(int(lo), int(hi) + 1)) if sep else [int(lo)]
        except ValueError:
            raise argparse.ArgumentTypeError(f"seeds are numbers and ranges, e.g. 0-19 or 3,6,16 (got {spec!r})")
    return out


def seeds(ap, default: str, extra: str = "") -> None:
    """``--seeds``: a list of seeds (:func:`seed_list`)."""
    ap.add_argument("--seeds", type=seed_list, default=seed_list(default),
                    help=_more(f"seeds, e.g. 0-19 or 3,6,16 (default {default})", extra))


def _device(value: str) -> str:
    """``auto`` -> cuda when there is one, else cpu (torch is asked only then)."""
    if value != "auto":
        return value
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def device(ap, default: str = "cpu") -> None:
    """``--device``: where the network runs (``auto`` resolved here, once, for every command)."""
    ap.add_argument("--device", default=default, type=_device, choices=("auto", "cpu", "cuda"),
                    help=f"torch device: auto (cuda when there is one), cpu or cuda (default {default})")


def episodes(ap, default: int = 5, extra: str = "") -> None:
    """``--episodes``."""
    ap.add_argument("--episodes", type=int, default=default, help=_more(f"episodes (default {default})", extra))


def lap(ap, default: str | None = "best", extra: str = "") -> None:
    """``--lap``: which lap (of a telemetry CSV, a replay)."""
    d = f" (default {default})" if default else ""
    ap.add_argument("--lap", default=default, help=_more(f"which lap: best{d}, last, a lap number or (in a "
                                                         "telemetry CSV) ENV:EPISODE:LAP", extra))


def top(ap, default: int = 10, what: str = "rows") -> None:
    """``--top``."""
    ap.add_argument("--top", type=int, default=default, help=f"print only the first N {what} (default {default})")


def size(ap, default: str) -> None:
    """``--size``: a window's size."""
    ap.add_argument("--size", default=default, help=f"window size WxH (default {default})")


def force(ap, extra: str = "") -> None:
    """``--force``: replace existing files."""
    ap.add_argument("--force", action="store_true", help=_more("replace existing files", extra))


def real_tracks(ap, default: str) -> None:
    """``--real-tracks``: the folder of real circuits (centre line, widths, race line CSVs)."""
    ap.add_argument("--real-tracks", default=default, help=f"folder of real circuits' CSVs (default {default})")


def overwrite(ap, what: str) -> None:
    """``--overwrite``: replace ``what`` where it exists (else the command refuses)."""
    ap.add_argument("--overwrite", action="store_true", help=f"replace {what}")


def minutes(ap, default: float, what: str) -> None:
    """``--minutes``: a time budget [min]."""
    ap.add_argument("--minutes", type=float, default=default, help=f"{what} [min] (default {default:g})")


def max_minutes(ap, default: float | None, what: str) -> None:
    """``--max-minutes``: a wall-time limit [min]."""
    ap.add_argument("--max-minutes", type=float, default=default,
                    help=f"{what} (default: {'no limit' if default is None else f'{default:g}'})")


def output_dir(ap, what: str = "checkpoints/ and tensorboard/") -> None:
    """``--output-dir``: the folder of a run's outputs."""
    ap.add_argument("--output-dir", default="outputs", help=f"folder for {what} (default outputs)")


def encoder(ap, what: str, required: bool = False) -> None:
    """``--encoder``: a features file from ``karting features fit``."""
    ap.add_argument("--encoder", required=required, default=None,
                    help=f"a features file (python -m karting.features fit): {what}")


def progress(ap) -> None:
    """``--no-progress``: no progress bar (for logs)."""
    ap.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")


def outputs(ap, out: str | None = None, telemetry: str | None = None, video: str | None = None,
            replay: str | None = None, json: str | None = None, leaderboard: bool = False,
            out_required: bool = False, defaults: dict | None = None) -> None:
    """The output flags a command writes: each argument, when given, is what that file holds
    for this command (``--out``, ``--telemetry``, ``--video``, ``--replay``, ``--json``), and
    ``leaderboard`` adds ``--no-leaderboard``. A path given is used as given."""
    d = defaults or {}
    g = ap.add_argument_group("outputs (a path is used as given)")
    if out is not None:
        g.add_argument("--out", default=d.get("out"), required=out_required, help=out)
    if telemetry is not None:
        g.add_argument("--telemetry", default=d.get("telemetry"), help=f"telemetry CSV: {telemetry}")
    if video is not None:
        g.add_argument("--video", default=d.get("video"), help=f"MP4 (or .gif) video: {video}")
    if replay is not None:
        g.add_argument("--replay", default=d.get("replay"),
                       help=f".replay file: {replay} (karting replay FILE re-runs it)")
    if json is not None:
        g.add_argument("--json", nargs="?", const="-", default=d.get("json"),
                       help=f"JSON: {json} (to this file; --json alone prints it)")
    if leaderboard:
        g.add_argument("--no-leaderboard", action="store_true", help="do not add to the track's leaderboard")


def write_json(path: str, data) -> None:
    """``--json``'s output: printed for '-', else written (atomically) to ``path``."""
    if path == "-":
        _json.dump(data, sys.stdout, indent=1)
        print()
        return
    atomic_write(path, lambda f: _json.dump(data, f, indent=1), text=True)


def parser(prog: str, doc: str, summary_only: bool = False) -> argparse.ArgumentParser:
    """A command's parser: its ``prog`` and its module docstring as the help."""
    return argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0] if summary_only else doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
