"""Sweeps on Modal (``remote/sweep.py``): seeds x a grid of training settings, one container a
run, fanned out with the Modal function's ``map`` up to ``--max-parallel`` containers at once.

Everything but the Modal calls lives here, so it runs and is tested without Modal:

- :func:`make_plan`: the runs (settings x seeds, each a ``karting train`` command line with its
  own ``--save-name``), checked here before anything is paid for: an unknown setting, a value
  ``karting train`` refuses, an empty grid or a budget of zero is a :class:`SweepError` that says
  what to change; :meth:`Plan.describe` prints the plan and its cost ceiling (``--dry-run``);
- :func:`run_member`: the body of the remote function for one run: ``karting train`` resumed
  from its latest checkpoint when the run was started before (preempted, or the sweep stopped),
  then its summary (steps, final and best evaluation, the benchmark score if asked, wall time)
  written beside the other runs' in the outputs volume;
- :func:`fan_out`: the entrypoint's body: runs the plan's unfinished runs through
  ``function.with_options(...).map(...)``, writes the results table after every run that ends,
  and puts it in the volume (and, with ``--download``, here);
- :func:`results_table`: per run its settings, seed, steps, evaluations, score and wall time;
  per setting the mean and spread over seeds.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
import statistics
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from .. import generalisation
from .. import train as T
from ..files import atomic_write
from ..rl.checkpoint import CheckpointError, load_checkpoint
from ..rl.config import TrainConfig, add_arguments, from_args
from ..rl.trainer import resolve_device
from . import options
from .cloud import OUTPUTS_VOLUME, download_run, open_volume
from .remote import (MAX_TIMEOUT_H, REMOTE_OUTPUTS_DIR, REMOTE_TRACKS_DIR, add_flags, flag_parameters,
                     latest_checkpoint, remote_argv, run_training, train_parameters)

#: Modal's list prices per GPU-hour (modal.com/pricing, as published in May 2026): the GPU only;
#: CPU and memory are billed on top (a few cents an hour for the 8 cores and 16 GiB asked for)
GPU_PRICE_PER_H = {"T4": 0.59, "L4": 0.80, "A10G": 1.10, "L40S": 1.95, "A100": 2.10, "A100-40GB": 2.10,
                   "A100-80GB": 2.50, "H100": 3.95}
#: settings a sweep sets itself, per run
RESERVED = ("seed", "save_name", "output_dir", "resume_from")
SWEEPS_DIR = "sweeps"


class SweepError(ValueError):
    """A sweep that cannot run as given (the message says what to change)."""


def repeated(argv, flag: str) -> list:
    """Every value of a repeatable ``flag`` in a command line (``--set a=1 --set b=2`` or
    ``--set=a=1``): Modal's entrypoint flags keep only the last one."""
    out, it = [], iter(argv)
    for a in it:
        if a == flag:
            out.append(next(it, ""))
        elif a.startswith(flag + "="):
            out.append(a[len(flag) + 1:])
    return out


def parse_settings(items) -> dict:
    """``["learning_rate=1e-4,3e-4", "frame_stack=1,2"]`` (or one string with ``;`` between
    settings) -> {field: [values as strings]} in the order given, names checked against
    :class:`TrainConfig`."""
    if isinstance(items, str):
        items = [items]
    grid = {}
    known = {f.name for f in fields(TrainConfig)}
    for item in [p.strip() for x in items for p in str(x).split(";") if p.strip()]:
        name, sep, values = item.partition("=")
        name = name.strip().lstrip("-").replace("-", "_")
        if not sep or not name:
            raise SweepError(f"--set {item!r}: give NAME=V1,V2,... e.g. learning_rate=1e-4,3e-4")
        if name not in known:
            near = [k for k in known if name in k or k in name][:4]
            raise SweepError(f"--set {name}: karting train has no such setting"
                             + (f" (did you mean {', '.join(sorted(near))}?)" if near else "")
                             + "; karting train --help lists them")
        if name in RESERVED:
            raise SweepError(f"--set {name}: a sweep sets {name} itself for each run (use --seeds for seeds)")
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not vals:
            raise SweepError(f"--set {name}= has no values: an empty grid; give at least one, e.g. {name}=V1,V2")
        grid[name] = vals
    return grid


def load_sweep_file(path) -> dict:
    """A sweep file (JSON, or YAML when PyYAML is installed): ``{"seeds": 5, "set": {"learning_rate":
    [1e-4, 3e-4]}, "train": {"track": "circuit.png", "timesteps": 2000000}}``."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise SweepError(f"--sweep-file {path}: cannot read it ({e})") from None
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except ImportError:
        raise SweepError("a YAML sweep file needs PyYAML (pip install pyyaml), or write it as JSON") from None
    except Exception as e:  # noqa: BLE001 - json.JSONDecodeError, yaml.YAMLError
        raise SweepError(f"--sweep-file {path}: not valid {'YAML' if p.suffix in ('.yaml', '.yml') else 'JSON'} "
                         f"({e})") from None
    if not isinstance(data, dict) or set(data) - {"seeds", "set", "train", "name"}:
        raise SweepError(f"--sweep-file {path}: an object with seeds, set, train (and name); got "
                         f"{sorted(data) if isinstance(data, dict) else type(data).__name__}")
    return data


def _short(name: str) -> str:
    """learning_rate -> lr, frame_stack -> fs, timesteps -> timesteps."""
    parts = name.split("_")
    return "".join(w[0] for w in parts) if len(parts) > 1 else name[:10]


def _slug(settings: dict) -> str:
    if not settings:
        return "base"
    shorts = [_short(k) for k in settings]
    keys = shorts if len(set(shorts)) == len(shorts) else [k.replace("_", "") for k in settings]
    return "_".join(f"{k}{re.sub(r'[^A-Za-z0-9.-]', '', v)}" for k, v in zip(keys, settings.values()))


@dataclass
class Plan:
    """The runs of a sweep and its limits."""
    name: str
    runs: list
    gpu: str
    max_parallel: int
    max_hours_run: float
    max_hours_total: float
    benchmark: bool = False
    grid: dict = field(default_factory=dict)
    seeds: list = field(default_factory=list)

    @property
    def gpu_hours_ceiling(self) -> float:
        return len(self.runs) * self.max_hours_run

    def cost_ceiling(self) -> float | None:
        price = GPU_PRICE_PER_H.get(self.gpu.split(":")[0].upper())
        return None if price is None else self.gpu_hours_ceiling * price

    def describe(self) -> str:
        combos = math.prod(len(v) for v in self.grid.values())
        lines = [f"sweep {self.name!r}: {len(self.runs)} run(s) = {combos} setting(s) x {len(self.seeds)} "
                 f"seed(s), on {self.gpu}, up to {self.max_parallel} at once"]
        for name, vals in self.grid.items():
            lines.append(f"  {name}: {', '.join(vals)}")
        lines.append(f"  seeds: {', '.join(map(str, self.seeds))}")
        lines.append("runs:")
        for r in self.runs:
            s = " ".join(f"{k}={v}" for k, v in r["settings"].items()) or "(base settings)"
            lines.append(f"  {r['save_name']:<40} {s}  seed {r['seed']}")
        waves = math.ceil(len(self.runs) / self.max_parallel)
        price = GPU_PRICE_PER_H.get(self.gpu.split(":")[0].upper())
        cost = (f"at most ${self.cost_ceiling():,.2f} at ${price:.2f}/GPU-hour (Modal's list price for {self.gpu}; "
                "CPU and memory on top)") if price is not None else f"no list price known for {self.gpu}"
        lines.append(f"budget: at most {self.max_hours_run:g} h a run (the run stops itself, with final.pt, "
                     f"when it is spent), {self.gpu_hours_ceiling:g} GPU-hours in all (limit "
                     f"{self.max_hours_total:g}); {waves} wave(s) of at most {self.max_parallel}: "
                     f"at most {waves * self.max_hours_run:g} h of wall time")
        lines.append(f"cost: {cost}")
        if self.benchmark:
            lines.append("each run's best.pt then takes the driver benchmark (31 tracks) in its container")
        return "\n".join(lines)


def make_plan(name: str, base_argv: list, grid: dict, seeds, gpu: str = "L4", max_parallel: int = 4,
              max_hours_run: float = 2.0, max_hours_total: float = 24.0, benchmark: bool = False) -> Plan:
    """The runs of settings x seeds, each checked by ``karting train``'s own parser."""
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds:
        raise SweepError("no seeds: --seeds N runs each setting with seeds 0..N-1 (N >= 1)")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,60}", name or ""):
        raise SweepError(f"--name {name!r}: letters, digits, _ . - (it names the runs' folders)")
    if max_parallel < 1:
        raise SweepError(f"--max-parallel must be >= 1, got {max_parallel}")
    for what, h in (("--max-hours", max_hours_run), ("--max-hours-total", max_hours_total)):
        if not (isinstance(h, (int, float)) and math.isfinite(h) and h > 0):
            raise SweepError(f"{what} must be a positive number of hours, got {h}: a budget of zero runs nothing")
    if max_hours_run > MAX_TIMEOUT_H:
        raise SweepError(f"--max-hours {max_hours_run:g}: a Modal container runs at most {MAX_TIMEOUT_H:g} h")
    combos = [dict(zip(grid, vals)) for vals in itertools.product(*grid.values())] if grid else [{}]
    runs = []
    for settings in combos:
        for seed in seeds:
            save = f"{name}_{_slug(settings)}_s{seed}"
            argv = list(base_argv)
            for k, v in settings.items():
                argv += ["--" + k.replace("_", "-"), v]
            argv += ["--seed", str(seed), "--save-name", save]
            try:
                from_args(T.build_parser().parse_args(argv))
            except ValueError as e:
                raise SweepError(f"run {save}: karting train refuses it: {e}") from None
            except SystemExit:
                raise SweepError(f"run {save}: karting train refuses {' '.join(argv)} (its message is above)") \
                    from None
            runs.append({"save_name": save, "settings": settings, "seed": seed, "argv": argv,
                         "max_minutes": max_hours_run * 60, "benchmark": benchmark, "sweep": name})
    plan = Plan(name, runs, gpu, max_parallel, max_hours_run, max_hours_total, benchmark, grid, seeds)
    if plan.gpu_hours_ceiling > max_hours_total:
        raise SweepError(f"{len(runs)} runs x {max_hours_run:g} h = {plan.gpu_hours_ceiling:g} GPU-hours, over "
                         f"--max-hours-total {max_hours_total:g}: fewer seeds or settings, a smaller --max-hours, "
                         "or a larger total")
    return plan


# ---------------------------------------------------------------- in the container
def _eval_of(path: Path) -> dict | None:
    try:
        ev = load_checkpoint(path, "cpu").get("eval")
    except (CheckpointError, FileNotFoundError):
        return None
    if not ev:
        return None
    return {"completion": ev.get("completion_rate"), "valid": ev.get("valid_lap_rate"),
            "best_lap_s": ev.get("best_lap_time") if math.isfinite(ev.get("best_lap_time", math.nan)) else None,
            "reward": ev.get("mean_reward")}


def run_member(member: dict, outputs_dir=REMOTE_OUTPUTS_DIR, tracks_dir=REMOTE_TRACKS_DIR, commit=None,
               call_id=None, log=print) -> dict:
    """One run of a sweep, in its container: trained (resumed from its latest checkpoint when it
    was started before), then summarised into ``sweeps/<sweep>/runs/<save_name>.json``."""
    outputs_dir = Path(outputs_dir)
    commit = commit or (lambda: None)
    save = member["save_name"]
    out = outputs_dir / SWEEPS_DIR / member["sweep"] / "runs" / f"{save}.json"
    ckpt = outputs_dir / "checkpoints" / save
    try:
        return _member(member, outputs_dir, tracks_dir, commit, call_id, log, save, out, ckpt)
    except Exception as e:  # noqa: BLE001 - one run's failure is a row of the table, not the sweep's end
        log(f"{save}: failed: {type(e).__name__}: {e}")
        return {"save_name": save, "status": "failed", "error": f"{type(e).__name__}: {e}", **_keys(member)}


def _member(member, outputs_dir, tracks_dir, commit, call_id, log, save, out, ckpt) -> dict:
    t0 = time.time()
    argv = list(member["argv"]) + ["--max-minutes", f"{member['max_minutes']:g}"]
    resumed = None
    if not (ckpt / "final.pt").exists():
        latest = latest_checkpoint(ckpt) if ckpt.is_dir() else None
        if latest is not None:
            resumed = str(latest.relative_to(outputs_dir))
            argv += ["--resume-from", resumed]
            log(f"{save}: resuming from {latest.name}")
        # no evaluation laps after training (play_episodes=0): the run's evaluations are the table's
        r = run_training(argv, outputs_dir, tracks_dir, commit=commit, call_id=call_id, log=log, play_episodes=0)
        if r["exit_code"] not in (0, 130):
            return {"save_name": save, "status": "failed", "exit_code": r["exit_code"], **_keys(member)}
    final = load_checkpoint(ckpt / "final.pt", "cpu")
    row = {"save_name": save, "status": "done", **_keys(member), "steps": int(final.get("global_step", 0)),
           "final_eval": _eval_of(ckpt / "final.pt"), "best_eval": _eval_of(ckpt / "best.pt"),
           "wall_s": round(time.time() - t0, 1), "resumed_from": resumed}
    if member.get("benchmark") and (ckpt / "best.pt").exists():
        report = outputs_dir / SWEEPS_DIR / member["sweep"] / "runs" / f"{save}.benchmark.json"
        if generalisation.main(["--model", str(ckpt / "best.pt"), "--split", "test", "--json", str(report),
                                "--device", resolve_device("auto")]) == 0:
            row["benchmark_score"] = round(float(json.loads(report.read_text())["test"]["score"]), 2)
    atomic_write(out, lambda f: json.dump(row, f, indent=1), text=True)
    commit()
    return row


def _keys(member: dict) -> dict:
    return {"settings": member["settings"], "seed": member["seed"]}


# ---------------------------------------------------------------- the table
def _mean_sd(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def results_table(rows: list) -> dict:
    """{"runs": per-run rows, "settings": per-setting mean and spread over seeds}."""
    groups = {}
    for r in rows:
        groups.setdefault(json.dumps(r["settings"], sort_keys=True), []).append(r)
    per = []
    for key, rs in groups.items():
        done = [r for r in rs if r.get("status") == "done"]
        agg = {"settings": json.loads(key), "runs": len(rs), "done": len(done)}
        for name, get in (("best_completion", lambda r: (r.get("best_eval") or {}).get("completion")),
                          ("best_lap_s", lambda r: (r.get("best_eval") or {}).get("best_lap_s")),
                          ("final_completion", lambda r: (r.get("final_eval") or {}).get("completion")),
                          ("benchmark_score", lambda r: r.get("benchmark_score")),
                          ("wall_s", lambda r: r.get("wall_s"))):
            m, sd = _mean_sd([get(r) for r in done])
            agg[name] = None if m is None else {"mean": round(m, 4), "sd": round(sd, 4)}
        per.append(agg)
    return {"runs": sorted(rows, key=lambda r: r["save_name"]), "settings": per}


def _f(x, fmt):
    return "-" if x is None else fmt.format(x)


def _ms(d, fmt):
    return "-" if d is None else f"{fmt.format(d['mean'])} ± {fmt.format(d['sd'])}"


def _status(r: dict) -> str:
    return "" if r.get("status") == "done" else f" ({r.get('status', '?')})"


def format_table(table: dict) -> str:
    """The table as Markdown: the runs, then each setting over its seeds."""
    lines = ["| run | settings | seed | steps | final eval: laps | best eval: laps | best lap (s) | score | wall |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table["runs"]:
        be, fe = r.get("best_eval") or {}, r.get("final_eval") or {}
        s = " ".join(f"{k}={v}" for k, v in r["settings"].items()) or "base"
        lines.append(f"| {r['save_name']} | {s} | {r['seed']} | {_f(r.get('steps'), '{:,}')} | "
                     f"{_f(fe.get('completion'), '{:.0%}')} | {_f(be.get('completion'), '{:.0%}')} | "
                     f"{_f(be.get('best_lap_s'), '{:.2f}')} | {_f(r.get('benchmark_score'), '{:.1f}')} | "
                     f"{_f(r.get('wall_s'), '{:.0f} s')}{_status(r)} |")
    lines += ["", "| settings | runs done | best eval: laps (mean ± sd) | best lap (s) | final eval: laps | score |",
              "|---|---|---|---|---|---|"]
    for g in table["settings"]:
        s = " ".join(f"{k}={v}" for k, v in g["settings"].items()) or "base"
        lines.append(f"| {s} | {g['done']}/{g['runs']} | {_ms(g['best_completion'], '{:.2f}')} | "
                     f"{_ms(g['best_lap_s'], '{:.2f}')} | {_ms(g['final_completion'], '{:.2f}')} | "
                     f"{_ms(g['benchmark_score'], '{:.1f}')} |")
    return "\n".join(lines)


def _csv(table: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["save_name", "settings", "seed", "status", "steps", "final_completion", "best_completion",
                "best_lap_s", "benchmark_score", "wall_s"])
    for r in table["runs"]:
        be, fe = r.get("best_eval") or {}, r.get("final_eval") or {}
        w.writerow([r["save_name"], json.dumps(r["settings"]), r["seed"], r.get("status"), r.get("steps"),
                    fe.get("completion"), be.get("completion"), be.get("best_lap_s"), r.get("benchmark_score"),
                    r.get("wall_s")])
    return buf.getvalue()


def write_table(rows: list, folder) -> Path:
    """results.json, results.csv and results.md in ``folder``; returns the Markdown's path."""
    folder = Path(folder)
    table = results_table(rows)
    atomic_write(folder / "results.json", lambda f: json.dump(table, f, indent=1), text=True)
    atomic_write(folder / "results.csv", lambda f: f.write(_csv(table)), text=True)
    return atomic_write(folder / "results.md", lambda f: f.write(format_table(table) + "\n"), text=True)


# ---------------------------------------------------------------- the entrypoint
def finished_rows(volume, name: str) -> dict:
    """save_name -> the summary of each run of sweep ``name`` the volume already holds."""
    out = {}
    try:
        entries = volume.listdir(f"{SWEEPS_DIR}/{name}/runs")
    except Exception:  # noqa: BLE001 - a new sweep: the folder does not exist yet
        return out
    for e in entries:
        p = e.path.lstrip("/")
        if p.endswith(".json") and not p.endswith(".benchmark.json"):
            try:
                row = json.loads(b"".join(volume.read_file(p)))
                if row.get("status") == "done":
                    out[row["save_name"]] = row
            except (ValueError, KeyError):
                continue
    return out


def fan_out(plan: Plan, function, volume, dest="outputs", download: bool = False, log=print) -> dict:
    """Run the plan's unfinished runs through ``function`` (the Modal function, or a stand-in
    with the same ``with_options`` and ``map``), at most ``max_parallel`` at once; the results
    table after every run that ends, in ``dest/sweeps/<name>/`` and in the volume."""
    done = finished_rows(volume, plan.name)
    todo = [r for r in plan.runs if r["save_name"] not in done]
    rows = [done[r["save_name"]] for r in plan.runs if r["save_name"] in done]
    if done:
        log(f"sweep {plan.name!r}: {len(done)} of {len(plan.runs)} run(s) already finished in the volume; "
            f"running the other {len(todo)}")
    folder = Path(dest) / SWEEPS_DIR / plan.name
    timeout = int(min(MAX_TIMEOUT_H, plan.max_hours_run + 0.5) * 3600)   # the run stops itself first
    fn = function.with_options(gpu=plan.gpu, timeout=timeout, max_containers=plan.max_parallel)
    t0 = time.time()
    by_name = {r["save_name"]: r for r in todo}
    for result in fn.map(todo, order_outputs=False, return_exceptions=True):   # each as it ends
        if isinstance(result, BaseException):          # the container itself failed (run_member never raises)
            log(f"a run's container failed: {type(result).__name__}: {result}")
            continue
        rows.append(result)
        by_name.pop(result["save_name"], None)
        path = write_table(rows, folder)
        ok = sum(r.get("status") == "done" for r in rows)
        log(f"[{time.time() - t0:,.0f} s] {result['save_name']}: {result.get('status')}; {ok}/{len(plan.runs)} "
            f"done; table: {path}")
    rows += [{"save_name": m["save_name"], "status": "failed", "error": "its container failed", **_keys(m)}
             for m in by_name.values()]
    path = write_table(rows, folder)
    _upload(volume, folder, f"{SWEEPS_DIR}/{plan.name}")
    log(format_table(results_table(rows)))
    if download:
        for r in rows:
            if r.get("status") == "done":
                got = download_run(volume, r["save_name"], dest, log=log)
                log(f"downloaded {r['save_name']}: {len(got)} file(s)")
    done_n = sum(r.get("status") == "done" for r in rows)
    if done_n < len(plan.runs):
        log(f"{len(plan.runs) - done_n} run(s) did not finish: run the same command again to resume them")
    return {"table": str(path), "runs": len(rows), "done": done_n}


def _upload(volume, folder: Path, remote: str) -> None:
    with volume.batch_upload(force=True) as batch:
        for p in sorted(folder.glob("results.*")):
            batch.put_file(str(p), f"/{remote}/{p.name}")


# ---------------------------------------------------------------- the command line
#: the sweep's own flags: (name, type, default, help); the entrypoint's and the dry run's
SWEEP_FLAGS = (
    ("name", str, "sweep", "the sweep's name: its runs are <name>_<settings>_s<seed>"),
    ("seeds", str, "1", "seeds per setting: N (0..N-1) or a list such as 0-4,9"),
    ("set", str, "", "a setting to sweep, NAME=V1,V2 (repeat --set, or A=1,2;B=3)"),
    ("sweep_file", str, "", "a JSON (or YAML) file with seeds, set, train and name"),
    ("gpu", str, "L4", "Modal GPU type for every run: T4, L4, A10G, L40S, A100, H100, ..."),
    ("max_parallel", int, 4, "containers running at once"),
    ("max_hours", float, 2.0, "each run's budget in hours: it stops itself, with final.pt, when spent"),
    ("max_hours_total", float, 24.0, "the sweep's budget in GPU-hours: a plan over it is refused"),
    ("benchmark", bool, False, "each run's best.pt then takes the driver benchmark (its score in the table)"),
    ("dry_run", bool, False, "print the plan and its cost ceiling; start nothing"),
    ("download", bool, False, "copy each finished run's checkpoints into ./outputs/ at the end"),
)


def entrypoint_parameters() -> list:
    """The entrypoint's flags: ``karting train``'s (but those a sweep sets per run), then the sweep's."""
    return train_parameters(RESERVED) + flag_parameters(SWEEP_FLAGS)


def seed_spec(spec) -> list:
    """``5`` -> 0..4; ``"0-4,9"`` -> those seeds."""
    s = str(spec).strip()
    if re.fullmatch(r"\d+", s):
        return list(range(int(s)))
    try:
        return options.seed_list(s)
    except Exception:  # noqa: BLE001 - argparse.ArgumentTypeError
        raise SweepError(f"--seeds {spec!r}: a number of seeds (5: seeds 0-4) or a list such as 0-4,9") from None


def plan_from_values(values: dict) -> Plan:
    """The plan of the entrypoint's values (a sweep file's entries first, flags given over them)."""
    defaults = {p.name: p.default for p in entrypoint_parameters()}
    given = {k: v for k, v in values.items() if k in defaults and v != defaults[k]}
    merged = dict(defaults)
    if values.get("sweep_file"):
        data = load_sweep_file(values["sweep_file"])
        train = data.get("train") or {}
        bad = sorted(set(train) - {f.name for f in fields(TrainConfig)} - set(RESERVED))
        if bad or set(train) & set(RESERVED):
            raise SweepError(f"--sweep-file: 'train' has {bad or sorted(set(train) & set(RESERVED))}: "
                             "karting train's settings only, without seed and save_name")
        merged.update(train)
        if "seeds" in data:
            merged["seeds"] = data["seeds"] if isinstance(data["seeds"], (int, str)) else \
                ",".join(map(str, data["seeds"]))
        if "name" in data:
            merged["name"] = data["name"]
        if data.get("set"):
            if not isinstance(data["set"], dict):
                raise SweepError("--sweep-file: 'set' is an object of setting -> list of values")
            merged["set"] = ";".join(f"{k}={','.join(map(str, v if isinstance(v, list) else [v]))}"
                                     for k, v in data["set"].items())
            if any(isinstance(v, list) and not v for v in data["set"].values()):
                raise SweepError("--sweep-file: a setting in 'set' has an empty list: an empty grid")
    merged.update(given)
    base = remote_argv(merged, exclude=RESERVED, changed_only=True)
    sets = merged["set"]
    grid = parse_settings(sets if isinstance(sets, list) else [sets]) if sets else {}
    return make_plan(merged["name"], base, grid, seed_spec(merged["seeds"]), merged["gpu"], int(merged["max_parallel"]),
                     float(merged["max_hours"]), float(merged["max_hours_total"]), bool(merged["benchmark"]))


def launch(values: dict, function, volume=None, dest="outputs", log=print) -> int:
    """The entrypoint's body: the plan (refused here, before any GPU is paid for, when it is
    wrong), then the dry run's print or the fan-out. Returns an exit code."""
    try:
        plan = plan_from_values(values)
    except SweepError as e:
        log(f"error: {e}")
        return 2
    log(plan.describe())
    if values.get("dry_run"):
        log("dry run: nothing started")
        return 0
    vol = volume if volume is not None else open_volume(OUTPUTS_VOLUME)
    r = fan_out(plan, function, vol, dest, download=bool(values.get("download")), log=log)
    return 0 if r["done"] == len(plan.runs) else 1


def dry_run_cli(argv) -> int:
    """``python remote/sweep.py FLAGS --dry-run``: the plan without Modal; ``--local``: the sweep
    run on this machine through :class:`LocalFunction` (the same flags as the entrypoint)."""
    import argparse
    ap = argparse.ArgumentParser(prog="python remote/sweep.py", description="a sweep's plan and cost (no Modal)")
    add_arguments(ap)
    add_flags(ap, SWEEP_FLAGS, repeatable=("set",))
    options.local(ap, "the sweep's runs, each a process, --max-parallel at once,")
    ns = ap.parse_args(argv)
    if ns.seed != 0 or ns.save_name != TrainConfig.save_name:
        ap.error("a sweep sets --seed and --save-name for each run: use --seeds and --name")
    if not ns.dry_run and not ns.local:
        ap.error("without Modal: --dry-run (the plan) or --local (the runs on this machine, --max-parallel at "
                 "once); on Modal: modal run remote/sweep.py")
    values = {k: v for k, v in vars(ns).items() if k != "local"}
    values["set"] = ";".join(ns.set)
    if ns.track:                 # the runs start in other folders: a PNG path made absolute
        values["track"] = ",".join(str(Path(t).resolve()) if Path(t).exists() else t for t in ns.track.split(","))
    outputs = Path(ns.output_dir or "outputs")
    return launch(values, LocalFunction(outputs.resolve()), FolderVolume(outputs), dest=outputs)


# ---------------------------------------------------------------- without Modal
class FolderVolume:
    """A folder standing in for the outputs volume (``--local``, and the tests): what
    :func:`finished_rows`, :func:`fan_out` and :func:`~karting.cli.cloud.download_run` use of one."""

    def __init__(self, root):
        self.root = Path(root)

    def listdir(self, path, recursive=False):
        from types import SimpleNamespace
        base = self.root / path.strip("/")
        if not base.exists():
            raise FileNotFoundError(path)
        return [SimpleNamespace(path=str(p.relative_to(self.root)), type="FILE" if p.is_file() else "DIRECTORY")
                for p in (base.rglob("*") if recursive else base.iterdir())]

    def read_file(self, path):
        yield (self.root / path.lstrip("/")).read_bytes()

    def batch_upload(self, force=False):
        vol = self

        class Batch:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def put_file(self, src, dst):
                target = vol.root / dst.lstrip("/")
                if Path(src).resolve() != target.resolve():
                    atomic_write(target, lambda f: f.write(Path(src).read_bytes()))
        return Batch()


#: a run in a process of its own: its input as JSON on stdin, its outputs and tracks folders as arguments
MEMBER_CODE = ("import json, sys; from karting.cli.sweep import run_member; "
               "r = run_member(json.load(sys.stdin), sys.argv[1], sys.argv[2]); print('@@ROW@@' + json.dumps(r))")


class LocalFunction:
    """The Modal function's stand-in: each run in its own process on this machine (a container
    each), at most ``max_containers`` at once; the same ``with_options`` and ``map``."""

    def __init__(self, outputs_dir, tracks_dir="/", log_dir=None, code=MEMBER_CODE):
        self.outputs_dir, self.tracks_dir, self.code = str(outputs_dir), str(tracks_dir), code
        self.log_dir = Path(log_dir or Path(outputs_dir) / SWEEPS_DIR / "logs")
        self.options = {}

    def with_options(self, **kw):
        self.options = kw
        return self

    def run_one(self, member: dict) -> dict:
        import subprocess
        import sys
        self.log_dir.mkdir(parents=True, exist_ok=True)
        name = member.get("save_name") or member["name"]
        log = self.log_dir / f"{name}.log"
        start = log.stat().st_size if log.exists() else 0
        with open(log, "a") as f:             # its output as it goes, as a container's log
            p = subprocess.run([sys.executable, "-u", "-c", self.code, self.outputs_dir, self.tracks_dir],
                               input=json.dumps(member), stdout=f, stderr=subprocess.STDOUT, text=True,
                               timeout=self.options.get("timeout"))
        with open(log) as f:
            f.seek(start)
            rows = [x for x in f.read().splitlines() if x.startswith("@@ROW@@")]
        if p.returncode != 0 or not rows:
            raise RuntimeError(f"{name}: the process exited {p.returncode} (its log: {log})")
        return json.loads(rows[-1][len("@@ROW@@"):])

    def map(self, members, order_outputs=True, return_exceptions=False):
        from concurrent.futures import ThreadPoolExecutor, as_completed
        with ThreadPoolExecutor(max_workers=self.options.get("max_containers") or 1) as pool:
            futures = [pool.submit(self.run_one, m) for m in members]
            for fut in (futures if order_outputs else as_completed(futures)):
                try:
                    yield fut.result()
                except Exception as e:  # noqa: BLE001 - as Modal's map returns them
                    if not return_exceptions:
                        raise
                    yield e
