"""Modal volumes shared by ``track_cli.py sync`` and ``remote/train.py`` (the remote run's glue
is :mod:`karting.cli.remote`).

Tracks live in the ``karting-tracks`` volume (``/NAME.png`` and ``/checkpoints.json``), training
outputs in ``karting-outputs``. Nothing here runs at import: ``modal`` is imported on use, so
the package works without it and without credentials.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..files import atomic_write
from ..track import SCHEMA_VERSION, load_checkpoints_file

TRACKS_VOLUME = "karting-tracks"
OUTPUTS_VOLUME = "karting-outputs"


#: glvnd picks NVIDIA's EGL (libEGL_nvidia, provided with the GPU driver) before Mesa's
NVIDIA_EGL_VENDOR = '{"file_format_version": "1.0.0", "ICD": {"library_path": "libEGL_nvidia.so.0"}}'


def modal_image(modal, root: Path):
    """The containers' image for remote/train.py and remote/sweep.py (``modal`` is the module,
    passed in so that nothing here imports it): this project's own pyproject.toml, a CUDA build
    of torch, EGL/GL libraries with NVIDIA's EGL vendor file so the renderer uses the GPU."""
    root = Path(root)
    return (
        modal.Image.debian_slim(python_version="3.11")
        .apt_install("libegl1", "libgl1", "libgles2", "libglvnd0", "libgl1-mesa-dri")
        .run_commands("mkdir -p /usr/share/glvnd/egl_vendor.d",
                      f"echo '{NVIDIA_EGL_VENDOR}' > /usr/share/glvnd/egl_vendor.d/10_nvidia.json")
        .env({"NVIDIA_DRIVER_CAPABILITIES": "all", "PYTHONUNBUFFERED": "1",
              "PYGAME_HIDE_SUPPORT_PROMPT": "1"})
        # torch first and pinned: PyPI's Linux wheel of the version used locally, built with CUDA
        .pip_install("torch==2.13.0")
        .pip_install_from_pyproject(str(root / "pyproject.toml"))
        .add_local_dir(root / "karting", "/root/karting", ignore=["**/__pycache__"])
        .add_local_dir(root / "tracks", "/root/tracks")
    )


def with_flags(main, parameters):
    """``main(**values)`` given the flags ``parameters`` (inspect.Parameter) as its signature:
    Modal builds the entrypoint's command line from it (read in reverse: its --help then lists
    them in the order given). Returns ``main`` for ``app.local_entrypoint()``."""
    import inspect
    main.__signature__ = inspect.Signature(parameters[::-1])
    main.__annotations__ = {p.name: p.annotation for p in main.__signature__.parameters.values()}
    return main


class CloudError(RuntimeError):
    """Modal is missing, not logged in, or the upload failed; the message says what to do."""


def open_volume(name: str):
    try:
        import modal
    except ImportError:
        raise CloudError("the modal package is not installed: pip install modal, then run "
                         "`modal setup` once to log in") from None
    try:
        return modal.Volume.from_name(name, create_if_missing=True)
    except Exception as e:  # noqa: BLE001 - modal raises AuthError, ConnectionError, grpc errors
        raise CloudError(_explain(e)) from None


def _explain(e):
    text = f"{type(e).__name__}: {e}"
    if "Token" in text or "AuthError" in text or "authenticate" in text:
        return (f"Modal refused the request ({text.splitlines()[0]}); log in with `modal setup` "
                "(or set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET) and run the command again")
    return f"Modal request failed ({text.splitlines()[0]}); check the network and `modal token info`"


def _is_not_found(e) -> bool:
    """modal raises NotFoundError (or FileNotFoundError) for a path the volume does not have."""
    return isinstance(e, FileNotFoundError) or "NotFound" in type(e).__name__ or "not found" in str(e).lower()


def _remote_entries(vol) -> dict:
    """The tracks entries of the volume's checkpoints.json ({} when there is none)."""
    try:
        data = b"".join(vol.read_file("/checkpoints.json"))
    except Exception as e:  # noqa: BLE001 - modal: NotFoundError / FileNotFoundError
        if _is_not_found(e):
            return {}
        raise CloudError(_explain(e)) from None
    try:
        return dict(json.loads(data).get("tracks", {}))
    except (ValueError, AttributeError):
        return {}   # a broken remote file: replaced by the merged one


def sync_tracks(pngs, checkpoints: Path | None, volume_name: str = TRACKS_VOLUME, volume=None):
    """Upload track PNGs to the tracks volume, and their checkpoints.json entries merged into
    the volume's own checkpoints.json (entries of other tracks there are kept). Returns the
    remote paths written."""
    pngs = [Path(p) for p in pngs]
    local = load_checkpoints_file(checkpoints)["tracks"] if checkpoints is not None else {}
    vol = volume if volume is not None else open_volume(volume_name)
    try:
        entries = _remote_entries(vol)
        entries.update({p.name: local[p.name] for p in pngs if p.name in local})
        with tempfile.TemporaryDirectory() as tmp:
            merged = Path(tmp) / "checkpoints.json"
            merged.write_text(json.dumps({"version": SCHEMA_VERSION, "tracks": entries},
                                         indent=2, sort_keys=True) + "\n")
            with vol.batch_upload(force=True) as batch:
                for p in pngs:
                    batch.put_file(str(p), f"/{p.name}")
                batch.put_file(str(merged), "/checkpoints.json")
    except CloudError:
        raise
    except Exception as e:  # noqa: BLE001
        raise CloudError(_explain(e)) from None
    return [f"/{p.name}" for p in pngs] + ["/checkpoints.json"]


# ---------------------------------------------------------------- remote training (remote/train.py)
#
# remote/train.py only declares the Modal app (image, volumes, GPU, timeouts, retries); what the
# container does is here, so it runs and is tested without Modal: ``run_training`` is the body of
# the remote function, ``launch`` the body of the local entrypoint, ``download_run`` the
# ``--download`` step.

def download_command(save_name: str) -> str:
    return (f"mkdir -p outputs/checkpoints && modal volume get {OUTPUTS_VOLUME} "
            f"checkpoints/{save_name} outputs/checkpoints/")


def download_run(volume, save_name: str, dest="outputs", log=print) -> list:
    """Copy a run's checkpoints, TensorBoard logs and telemetry from the outputs volume into
    ``dest`` (same layout: checkpoints/<name>/, tensorboard/<name>/, telemetry/<name>_*.csv).
    Files are written atomically; a local file that differs is kept as ``<file>.local``."""
    dest = Path(dest)
    written = []
    try:
        entries = []
        for sub in (f"checkpoints/{save_name}", f"tensorboard/{save_name}", "telemetry"):
            try:
                entries += [e for e in volume.listdir(sub, recursive=True) if _is_file(e)]
            except Exception as e:  # noqa: BLE001 - a folder the run did not make
                if _is_not_found(e):
                    continue
                raise
        entries = [e for e in entries if not e.path.lstrip("/").startswith("telemetry/")
                   or Path(e.path).name.startswith(f"{save_name}_")]
        if not entries:
            raise CloudError(f"nothing under checkpoints/{save_name} in volume {OUTPUTS_VOLUME!r}: "
                             f"check the --save-name (modal volume ls {OUTPUTS_VOLUME} checkpoints)")
        for e in entries:
            rel = e.path.lstrip("/")
            data = b"".join(volume.read_file(rel))
            out = dest / rel
            if out.exists() and out.read_bytes() != data:
                keep = out.with_name(out.name + ".local")
                k = 1
                while keep.exists():
                    k += 1
                    keep = out.with_name(f"{out.name}.local{k}")
                out.replace(keep)
                log(f"kept the local {out} as {keep.name}")
            atomic_write(out, lambda f, d=data: f.write(d))
            written.append(out)
    except CloudError:
        raise
    except Exception as e:  # noqa: BLE001
        raise CloudError(_explain(e)) from None
    return written


def _is_file(entry) -> bool:
    t = getattr(entry, "type", None)
    return str(getattr(t, "name", t)).upper() == "FILE"      # modal's FileEntryType.FILE
