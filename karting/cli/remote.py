"""The remote training run's glue for ``remote/train.py`` (Modal): the function's body
(:func:`run_training`: ``karting train``'s own command line, resumed after a preemption, then the
best model's evaluation laps) and the local entrypoint's (:func:`launch`). Both run, and are
tested, without Modal; the volumes are :mod:`karting.cli.cloud`'s."""
from __future__ import annotations

import dataclasses
import inspect
import json
import time
import typing
from dataclasses import fields
from pathlib import Path

from .. import play
from .. import train as T
from ..rl.checkpoint import CheckpointError, load_checkpoint
from ..rl.config import TrainConfig, from_args
from ..rl.trainer import CheckpointDirInUse, prepare_dirs
from ..track import DEFAULT_TRACKS_DIR, TrackError
from .cloud import OUTPUTS_VOLUME, TRACKS_VOLUME, CloudError, download_command, download_run, open_volume

__all__ = ["CloudError", "OUTPUTS_VOLUME", "TRACKS_VOLUME", "download_run", "entrypoint_parameters", "launch",
           "remote_argv", "resolve_remote_tracks", "run_training"]

REMOTE_TRACKS_DIR = "/tracks"          # where the tracks volume is mounted in the container
REMOTE_OUTPUTS_DIR = "/outputs"        # and the outputs volume
RUN_MARKER = "remote_run.json"         # in checkpoints/<save-name>/: which function call owns it
DEFAULT_GPU = "L4"
MAX_TIMEOUT_H = 24.0                   # Modal's longest function timeout
#: TrainConfig fields the remote run sets itself (the outputs go to the volume)
REMOTE_FIXED = ("output_dir",)


def training_container(modal, tracks_volume, outputs_volume) -> dict:
    """``app.function`` options of a container that trains (``remote/train.py``, each run of
    ``remote/sweep.py``): the default GPU, 8 CPUs (the env steps and the camera culling run on
    them), 16 GiB, both volumes, Modal's longest timeout, and retries: a preempted or crashed
    container is started again and resumes from its last checkpoint."""
    return dict(gpu=DEFAULT_GPU, cpu=8.0, memory=16384,
                volumes={REMOTE_TRACKS_DIR: tracks_volume, REMOTE_OUTPUTS_DIR: outputs_volume},
                timeout=int(MAX_TIMEOUT_H * 3600),
                retries=modal.Retries(max_retries=3, initial_delay=10.0, backoff_coefficient=1.0))


def resolve_remote_tracks(spec: str, tracks_dir) -> str:
    """``--track`` for the container: each name is looked up in the tracks volume first (uploaded
    by ``track_cli.py sync``, its checkpoints.json next to it), then among the shipped tracks.
    A folder name, or ``/``, means the PNGs of that folder of the volume."""
    tracks_dir = Path(tracks_dir)
    out = []
    for part in [p.strip() for p in str(spec).split(",") if p.strip()]:
        in_volume = tracks_dir / part.lstrip("/")
        if in_volume.exists() and (in_volume.is_dir() or in_volume.suffix.lower() == ".png"):
            out.append(str(in_volume))
        elif (DEFAULT_TRACKS_DIR / Path(part).name).is_file():
            out.append(Path(part).name)
        else:
            have = sorted(p.name for p in tracks_dir.glob("*.png")) if tracks_dir.is_dir() else []
            shipped = sorted(p.name for p in DEFAULT_TRACKS_DIR.glob("*.png"))
            raise TrackError(
                f"track {part!r} is neither in the tracks volume {TRACKS_VOLUME!r} (it holds: "
                f"{', '.join(have) or 'nothing'}) nor shipped ({', '.join(shipped)}); upload it "
                f"first: python tools/track_cli.py sync --track-name {part}")
    if not out:
        raise TrackError("no track given: name a PNG, a comma-separated list of PNGs, or a folder")
    return ",".join(out)


def gl_report(log=print) -> dict:
    """Open a GL context as the env will, and say which renderer it got (a GPU, or Mesa's
    software rasteriser: then rendering runs on the container's CPU, slower, and training goes on)."""
    from ..env.render import RendererUnavailable, create_context, is_software_renderer
    try:
        ctx = create_context()
    except RendererUnavailable as e:
        log(f"GL: unavailable: {e}")
        raise
    info = {k: ctx.info.get(k, "unknown") for k in ("GL_RENDERER", "GL_VENDOR", "GL_VERSION")}
    ctx.release()
    software = is_software_renderer(info["GL_RENDERER"])
    log(f"GL_RENDERER: {info['GL_RENDERER']} ({info['GL_VENDOR']}, {info['GL_VERSION']})")
    if software:
        log("GL: only the software renderer is available (no GPU EGL driver in this container): "
            "the cameras render on the CPU, slower; training goes on")
    return {**info, "software": software}


def latest_checkpoint(ckpt_dir) -> Path | None:
    """The checkpoint of a run with the most steps: the newest step_*.pt, or best.pt when it is
    newer (an evaluation after the last periodic checkpoint)."""
    ckpt_dir = Path(ckpt_dir)
    steps = sorted(ckpt_dir.glob("step_*.pt"))
    best = ckpt_dir / "best.pt"
    cand = steps[-1] if steps else None
    if best.exists():
        try:
            b = int(load_checkpoint(best, "cpu").get("global_step", 0))
        except CheckpointError:
            b = -1
        if cand is None or b > int(cand.stem.split("_")[1]):
            cand = best
    return cand


def run_training(argv, outputs_dir=REMOTE_OUTPUTS_DIR, tracks_dir=REMOTE_TRACKS_DIR, commit=None,
                 call_id=None, log=print, play_episodes=5) -> dict:
    """The remote function's body: ``karting.train``'s own command line with ``argv`` (its flags),
    outputs into ``outputs_dir`` (the volume), ``commit()`` after every checkpoint. When Modal
    restarts the same call (preemption, retries) it resumes from the run's latest checkpoint;
    when a run finished, the best model drives ``play_episodes`` evaluation laps whose telemetry
    goes to ``telemetry/``. Returns a summary for the caller."""
    outputs_dir, tracks_dir = Path(outputs_dir), Path(tracks_dir)
    commit = commit or (lambda: None)
    argv = list(argv)
    ns = T.build_parser().parse_args(argv)
    cfg = from_args(ns)
    track = resolve_remote_tracks(cfg.track, tracks_dir)
    ckpt_dir = outputs_dir / "checkpoints" / cfg.save_name
    marker = ckpt_dir / RUN_MARKER
    try:
        owner = json.loads(marker.read_text()).get("call_id") if marker.exists() else None
    except ValueError:
        owner = None
    retry = call_id is not None and owner == call_id
    extra = ["--track", track, "--output-dir", str(outputs_dir), "--no-progress"]
    result = {"save_name": cfg.save_name, "resumed_from": None, "exit_code": 0, "retry": retry}
    gl = gl_report(log)
    result["gl_renderer"], result["software_gl"] = gl["GL_RENDERER"], gl["software"]
    finished = retry and (ckpt_dir / "final.pt").exists()
    if retry and not finished:
        latest = latest_checkpoint(ckpt_dir)
        if latest is not None:
            extra += ["--resume-from", str(latest)]
            result["resumed_from"] = str(latest.relative_to(outputs_dir))
            log(f"restarted by Modal: resuming {cfg.save_name} from {latest.name}")
    elif not retry and cfg.resume_from and not Path(cfg.resume_from).is_absolute():
        extra += ["--resume-from", str(outputs_dir / cfg.resume_from)]   # a path in the volume
    if not finished:
        if not retry:
            # refuse a name in use before claiming it (karting.train says what to do instead)
            try:
                prepare_dirs(dataclasses.replace(cfg, output_dir=str(outputs_dir)), ns.overwrite)
            except CheckpointDirInUse as e:
                log(f"error: {e} (remote flags: --overwrite, or --resume-from "
                    f"checkpoints/{cfg.save_name}/<file>.pt, a path in the {OUTPUTS_VOLUME!r} volume)")
                result["exit_code"] = 2
                return result
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"call_id": call_id, "argv": argv, "started": time.time()}))
        commit()
        code = T.main(argv + extra, on_checkpoint=lambda path: commit())
        commit()
        result["exit_code"] = code
        if code not in (0, 130):
            return result
    result["telemetry"] = drive_best(ckpt_dir, track, outputs_dir, cfg.save_name, play_episodes) \
        if play_episodes > 0 else []
    commit()
    result["files"] = sorted(str(p.relative_to(outputs_dir)) for p in ckpt_dir.rglob("*") if p.is_file())
    return result


def drive_best(ckpt_dir: Path, track: str, outputs_dir: Path, save_name: str, episodes: int) -> list:
    """The run's best model (else its final one) drives ``episodes`` laps of each track; the
    telemetry CSVs written, relative to ``outputs_dir``."""
    model = ckpt_dir / "best.pt" if (ckpt_dir / "best.pt").exists() else ckpt_dir / "final.pt"
    written = []
    for t in track.split(","):
        out = outputs_dir / "telemetry" / f"{save_name}_{model.stem}_{Path(t).stem}.csv"
        if play.main(["--model", str(model), "--track", t, "--episodes", str(episodes),
                      "--telemetry", str(out), "--device", "auto"]) == 0:
            written.append(str(out.relative_to(outputs_dir)))
    return written


def train_parameters(exclude=REMOTE_FIXED) -> list:
    """Every ``karting.train`` flag as an entrypoint parameter (same names, types, defaults; a
    field with choices a Literal), but those in ``exclude``."""
    hints = typing.get_type_hints(TrainConfig)
    params = []
    for f in fields(TrainConfig):
        if f.name in exclude:
            continue
        ann = hints[f.name]
        if "choices" in f.metadata:
            ann = typing.Literal[tuple(f.metadata["choices"])]
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                        annotation=ann))
    return params


def flag_parameters(flags) -> list:
    """Entrypoint parameters of ``(name, type, default, help)`` flags."""
    return [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=t) for n, t, d, _ in flags]


def add_flags(ap, flags, repeatable=()) -> None:
    """The same ``(name, type, default, help)`` flags on an argparse parser (the apps' runs
    without Modal): a bool is a switch, a name in ``repeatable`` may be given again."""
    for name, typ, default, text in flags:
        flag = "--" + name.replace("_", "-")
        if typ is bool:
            ap.add_argument(flag, action="store_true", help=text)
        elif name in repeatable:
            ap.add_argument(flag, action="append", default=[], help=text)
        else:
            ap.add_argument(flag, type=typ, default=default, help=f"{text} (default {default})")


def entrypoint_parameters():
    """The local entrypoint's flags: every ``karting.train`` flag (same names, types, defaults)
    but those the remote run sets itself, then the remote ones. Modal builds its command line
    (``modal run remote/train.py --help``) from these."""
    return train_parameters(REMOTE_FIXED) + flag_parameters(
        [("gpu", str, DEFAULT_GPU, ""), ("timeout_hours", float, MAX_TIMEOUT_H, ""), ("overwrite", bool, False, ""),
         ("download", bool, False, "")])


def remote_argv(values: dict, exclude=REMOTE_FIXED, changed_only: bool = False) -> list:
    """``karting.train`` flags for the entrypoint's values (those in ``exclude`` taken out;
    ``changed_only``: only the values that differ from the default)."""
    argv = []
    for f in fields(TrainConfig):
        if f.name in exclude or f.name not in values or values[f.name] is None:
            continue
        v = values[f.name]
        if changed_only and v == f.default:
            continue
        argv += ["--" + f.name.replace("_", "-"),
                 ("true" if v else "false") if isinstance(v, bool) else str(v)]
    if values.get("overwrite"):
        argv.append("--overwrite")
    return argv


def launch(values: dict, function, outputs_volume=None, dest="outputs", log=print) -> int:
    """The local entrypoint's body: check the flags here (before paying for a GPU), run
    ``function`` (the Modal function; tests pass a stand-in) with the GPU and timeout asked for,
    then download the run or say how. Returns an exit code."""
    argv = remote_argv(values)
    gpu = str(values.get("gpu") or "").strip()
    hours = float(values.get("timeout_hours", MAX_TIMEOUT_H))
    try:
        ns = T.build_parser().parse_args(argv)
        cfg = from_args(ns)
        if not 0 < hours <= MAX_TIMEOUT_H:
            raise ValueError(f"--timeout-hours must be in (0, {MAX_TIMEOUT_H:g}] (Modal's limit), got {hours:g}")
    except ValueError as e:
        log(f"error: {e}")
        return 2
    except SystemExit as e:              # argparse has printed why
        return int(e.code or 2)
    use_gpu = gpu or DEFAULT_GPU
    fn = function.with_options(gpu=use_gpu, timeout=int(hours * 3600))
    log(f"remote training {cfg.save_name!r} on {cfg.track} ({use_gpu}, timeout {hours:g} h): "
        f"{cfg.timesteps:,} steps, {cfg.vector_envs} karts, a checkpoint every {cfg.checkpoint_freq:,}")
    result = fn.remote(argv)
    code = int(result.get("exit_code", 1))
    if result.get("software_gl"):
        log("note: the container rendered with the software rasteriser, not the GPU (see its log above)")
    if code not in (0, 130):
        log(f"remote training failed (exit {code}); its messages are above")
        return code
    if result.get("resumed_from"):
        log(f"(restarted once and resumed from {result['resumed_from']})")
    files = result.get("files", []) + result.get("telemetry", [])
    log(f"done: {len(files)} file(s) in volume {OUTPUTS_VOLUME!r} under checkpoints/{cfg.save_name}/"
        f"{', telemetry/' if result.get('telemetry') else ''}")
    if values.get("download"):
        vol = outputs_volume if outputs_volume is not None else open_volume(OUTPUTS_VOLUME)
        got = download_run(vol, cfg.save_name, dest, log=log)
        log(f"downloaded {len(got)} file(s) into {dest}/")
    else:
        log(f"get them with: {download_command(cfg.save_name)}")
    return code
