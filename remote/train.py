"""Train on Modal GPUs: the same training as ``python -m karting.train``, in a container.

    python tools/track_cli.py sync --track-name circuit.png        # your own tracks, once
    modal run remote/train.py --track circuit.png --timesteps 5000000 --save-name karting_v1 \\
        --vector-envs 16 --checkpoint-freq 500000 --gpu L4 --download
    modal run remote/train.py --help                                 # every flag

Every ``karting.train`` flag works here with the same name and default (``--output-dir`` is the
outputs volume); the remote ones: ``--gpu`` (a Modal GPU type: T4, L4, A10G, A100, H100, ...),
``--timeout-hours`` (at most 24), ``--overwrite`` and ``--download`` (copy the run's checkpoints,
TensorBoard logs and evaluation telemetry into ./outputs/ when it ends).

This file only declares the Modal app: the image (this project's own pyproject.toml, a CUDA
build of torch, EGL/GL libraries with NVIDIA's EGL vendor file so the renderer uses the GPU),
the volumes (tracks, outputs), the GPU, timeout and retries. What runs in the container is
``karting.cli.remote.run_training`` (it calls ``karting.train``'s own entry point), and the
entrypoint's body is ``karting.cli.remote.launch``: both run and are tested without Modal.
"""
import sys
from pathlib import Path

import modal

ROOT = Path(__file__).resolve().parent.parent
if (ROOT / "karting").is_dir() and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from karting.cli import cloud, remote  # noqa: E402

image = cloud.modal_image(modal, ROOT)
tracks_volume = modal.Volume.from_name(remote.TRACKS_VOLUME, create_if_missing=True)
outputs_volume = modal.Volume.from_name(remote.OUTPUTS_VOLUME, create_if_missing=True)
app = modal.App("karting-train", image=image)


@app.function(**remote.training_container(modal, tracks_volume, outputs_volume))
def train_remote(argv: list) -> dict:
    tracks_volume.reload()
    return remote.run_training(argv, commit=outputs_volume.commit,
                              call_id=modal.current_function_call_id())


# the entrypoint's flags are karting.train's (from TrainConfig) plus the remote ones
def main(**values):
    code = remote.launch(values, train_remote, outputs_volume)
    if code:
        raise SystemExit(code)


main = app.local_entrypoint()(cloud.with_flags(main, remote.entrypoint_parameters()))
