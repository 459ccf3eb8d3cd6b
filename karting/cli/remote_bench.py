"""The driver benchmark spread over Modal containers (``remote/benchmark.py``): each container
drives some of the split's tracks (``karting generalisation --only``'s batch), the reports are
merged into the local benchmark's table (:func:`karting.generalisation.merge_reports`).

A part's rows are bit-identical to ``karting generalisation --model M --split S --only T`` run
on the same hardware kind: the same code drives the same batch. (The full local run drives all
tracks as one batch: its episode time limit comes from the longest track and the policy runs on
a larger batch, so its last bits may differ.)

Runs, and is tested, without Modal: :func:`run_part` is the container's body, :func:`launch` the
entrypoint's, and :class:`karting.cli.sweep.LocalFunction` stands in for the Modal function.
"""
from __future__ import annotations

import base64
import math
import tempfile
from pathlib import Path

from .. import generalisation as G
from ..models import SHIPPED
from ..rl.trainer import resolve_device
from . import options
from .remote import DEFAULT_GPU, MAX_TIMEOUT_H, add_flags, flag_parameters
from .sweep import LocalFunction, SweepError

PART_CODE = ("import json, sys; from karting.cli.remote_bench import run_part; "
             "print('@@ROW@@' + json.dumps(run_part(json.load(sys.stdin))))")

#: the entrypoint's flags: (name, type, default, help)
BENCH_FLAGS = (
    ("model", str, "", "the driver: a .pt file here (sent to the containers), a shipped model (generalist, "
                       "racer), expert, or volume:PATH (a model in the outputs volume, e.g. a sweep's best.pt)"),
    ("split", str, "test", "test (31 tracks, scored), shipped, all or validation"),
    ("episodes", int, 5, "standing-start episodes per track"),
    ("seed", int, 0, "of the start poses"),
    ("weather", str, "dry", "dry, damp, wet (a weather preset) or a rain level 0-1"),
    ("tracks_per_container", int, 1, "tracks each container drives (one batch)"),
    ("only", str, "", "only these tracks of the split (file names, comma-separated)"),
    ("gpu", str, DEFAULT_GPU, "Modal GPU type"),
    ("max_parallel", int, 8, "containers running at once"),
    ("max_hours", float, 1.0, "each container's timeout in hours"),
    ("json", str, "", "write the merged report here (as karting generalisation --json)"),
    ("dry_run", bool, False, "print the plan (which tracks in which container); start nothing"),
)


def entrypoint_parameters() -> list:
    return flag_parameters(BENCH_FLAGS)


def make_parts(values: dict) -> list:
    """The containers' jobs: the split's tracks in groups of ``tracks_per_container``."""
    split, per = values["split"], int(values["tracks_per_container"])
    if split not in G.SPLITS:
        raise SweepError(f"--split {split!r}: one of {', '.join(G.SPLITS)}")
    if per < 1 or int(values["max_parallel"]) < 1 or int(values["episodes"]) < 1:
        raise SweepError("--tracks-per-container, --max-parallel and --episodes must be >= 1")
    h = float(values["max_hours"])
    if not (math.isfinite(h) and 0 < h <= MAX_TIMEOUT_H):
        raise SweepError(f"--max-hours must be in (0, {MAX_TIMEOUT_H:g}], got {h}: a budget of zero runs nothing")
    model = str(values["model"] or "")
    if not model:
        raise SweepError("give --model: a .pt file, generalist, racer, expert or volume:PATH")
    job = {"split": split, "episodes": int(values["episodes"]), "seed": int(values["seed"]),
           "weather": values["weather"]}
    if model.startswith("volume:"):
        job["model"] = "/outputs/" + model[len("volume:"):].lstrip("/")
    elif model in SHIPPED or model == "expert":
        job["model"] = model
    elif Path(model).is_file():
        job["model_file"] = base64.b64encode(Path(model).read_bytes()).decode()
        job["model"] = Path(model).name
    else:
        raise SweepError(f"--model {model!r}: no such file here; a shipped model (generalist, racer), expert, "
                         "or volume:checkpoints/<run>/best.pt for a model in the outputs volume")
    paths = G.split_tracks(split)
    names = [p.name for p in (G.pick_tracks(paths, values["only"]) if values.get("only") else paths)]
    return [{**job, "name": f"part_{k // per:02d}", "only": names[k:k + per]} for k in range(0, len(names), per)]


def run_part(job: dict) -> dict:
    """The container's body: the benchmark on the job's tracks (one batch), as a plain report."""
    model = job["model"]
    with tempfile.TemporaryDirectory() as tmp:
        if "model_file" in job:
            model = str(Path(tmp) / job["model"])
            Path(model).write_bytes(base64.b64decode(job["model_file"]))
        weathers = G.weather_list(job["weather"])
        if len(weathers) != 1:
            raise ValueError("one weather at a time")
        rep = G.run(model, job["split"], job["episodes"], job["seed"], resolve_device("auto"),
                    weather=weathers[0][1], only=job["only"])
    rep["model"] = job["model"]
    return G._plain(rep)


def launch(values: dict, function, log=print) -> int:
    try:
        parts = make_parts(values)
    except (SweepError, ValueError) as e:
        log(f"error: {e}")
        return 2
    log(f"benchmark of {values['model']} on the {values['split']} split: {sum(len(p['only']) for p in parts)} "
        f"track(s) in {len(parts)} container(s) on {values['gpu']}, up to {values['max_parallel']} at once")
    for p in parts:
        log(f"  {p['name']}: {', '.join(p['only'])}")
    if values.get("dry_run"):
        log("dry run: nothing started")
        return 0
    fn = function.with_options(gpu=values["gpu"], timeout=int(float(values["max_hours"]) * 3600),
                               max_containers=int(values["max_parallel"]))
    reports, failed = [], 0
    for r in fn.map(parts, order_outputs=False, return_exceptions=True):
        if isinstance(r, BaseException):
            failed += 1
            log(f"a container failed: {type(r).__name__}: {r}")
            continue
        reports.append(r)
        log(f"  done: {', '.join(x['track'] for x in r['rows'])}")
    if not reports:
        log("error: no container finished")
        return 1
    rep = G.merge_reports(reports, values["split"])
    log(G.format_report(rep))
    if values.get("json"):
        options.write_json(values["json"], rep)
        log(f"report: {values['json']}")
    if failed:
        log(f"{failed} container(s) failed: their tracks are missing from the table")
    return 1 if failed else 0


def local_cli(argv) -> int:
    """``python remote/benchmark.py FLAGS --dry-run`` (the plan) or ``--local`` (each part a
    process here, --max-parallel at once), without Modal."""
    import argparse
    ap = argparse.ArgumentParser(prog="python remote/benchmark.py", description=__doc__.split("\n\n")[0])
    add_flags(ap, BENCH_FLAGS)
    options.local(ap, "each container's part as a process")
    ns = ap.parse_args(argv)
    if not ns.dry_run and not ns.local:
        ap.error("without Modal: --dry-run (the plan) or --local (the parts on this machine)")
    values = {k: v for k, v in vars(ns).items() if k != "local"}
    with tempfile.TemporaryDirectory() as tmp:
        return launch(values, LocalFunction(tmp, log_dir=Path(tmp) / "logs", code=PART_CODE))
