"""A sweep on Modal: seeds x a grid of training settings, one GPU container a run, in parallel.

    modal run remote/sweep.py --name lr --track circuit.png --timesteps 2000000 --seeds 5 \\
        --set learning_rate=1e-4,3e-4 --set frame_stack=1,2 --gpu L4 --max-parallel 8 --max-hours 2
    modal run remote/sweep.py --sweep-file sweep.json --dry-run     # the plan and its cost; nothing starts
    python remote/sweep.py --name lr --seeds 5 --set learning_rate=1e-4,3e-4 --dry-run   # no Modal account
    modal run remote/sweep.py --help                                # every flag

Every ``karting train`` flag sets the runs' common settings (but ``--seed`` and ``--save-name``:
each run gets its seed and the name ``<name>_<settings>_s<seed>``); ``--set NAME=V1,V2`` (again
for each setting, or ``A=1,2;B=3``) makes the grid; ``--seeds N`` runs each setting with seeds
0..N-1. ``--max-hours`` is each run's budget (it stops itself, with final.pt, when spent),
``--max-hours-total`` the sweep's (a plan over it is refused); ``--max-parallel`` caps the
containers running at once; ``--benchmark`` has each run's best.pt take the driver benchmark.

The results table (per run: settings, seed, steps, final and best evaluation, score, wall time;
per setting: mean and spread over seeds) is written after every run that ends, to
``outputs/sweeps/<name>/results.{md,csv,json}`` here and to the outputs volume; ``--download``
also copies each run's checkpoints. Stopped (Ctrl-C, a closed laptop)? The same command resumes:
finished runs are not run again, the others resume from their last checkpoint.

This file only declares the Modal app; the plan, the container's body and the fan-out are
``karting.cli.sweep`` (run and tested without Modal).
"""
import sys
from pathlib import Path

import modal

ROOT = Path(__file__).resolve().parent.parent
if (ROOT / "karting").is_dir() and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from karting.cli import cloud, remote, sweep  # noqa: E402

image = cloud.modal_image(modal, ROOT)
tracks_volume = modal.Volume.from_name(remote.TRACKS_VOLUME, create_if_missing=True)
outputs_volume = modal.Volume.from_name(remote.OUTPUTS_VOLUME, create_if_missing=True)
app = modal.App("karting-sweep", image=image)


@app.function(**remote.training_container(modal, tracks_volume, outputs_volume))
def sweep_member(member: dict) -> dict:
    tracks_volume.reload()
    return sweep.run_member(member, commit=outputs_volume.commit, call_id=modal.current_function_call_id())


def main(**values):
    values["set"] = sweep.repeated(sys.argv, "--set") or values.get("set") or ""   # every --set given
    code = sweep.launch(values, sweep_member, outputs_volume)
    if code:
        raise SystemExit(code)


main = app.local_entrypoint()(cloud.with_flags(main, sweep.entrypoint_parameters()))


if __name__ == "__main__":          # python remote/sweep.py ... --dry-run: the plan, without Modal
    sys.exit(sweep.dry_run_cli(sys.argv[1:]))
