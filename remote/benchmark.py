"""The driver benchmark on Modal: the split's tracks spread over GPU containers, the local
benchmark's table at the end.

    modal run remote/benchmark.py --model outputs/checkpoints/general/best.pt --split test --max-parallel 8
    modal run remote/benchmark.py --model volume:checkpoints/lr_lr3e-4_s0/best.pt --json bench.json
    modal run remote/benchmark.py --model generalist --dry-run     # which tracks go to which container
    python remote/benchmark.py --model generalist --split shipped --local   # no Modal: parts as processes here
    modal run remote/benchmark.py --help

Each container drives ``--tracks-per-container`` tracks (default 1) as one batch, exactly as
``karting generalisation --model M --split S --only TRACKS`` does here: on the same hardware kind
its rows are bit-identical. A local model file is sent to the containers; ``volume:PATH`` names
one in the outputs volume (a sweep's runs). The plan, the container's body and the merge are
``karting.cli.remote_bench`` (run and tested without Modal).
"""
import sys
from pathlib import Path

import modal

ROOT = Path(__file__).resolve().parent.parent
if (ROOT / "karting").is_dir() and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from karting.cli import cloud, remote, remote_bench  # noqa: E402

image = cloud.modal_image(modal, ROOT)
outputs_volume = modal.Volume.from_name(remote.OUTPUTS_VOLUME, create_if_missing=True)
app = modal.App("karting-benchmark", image=image)


@app.function(gpu=remote.DEFAULT_GPU, cpu=8.0, memory=16384, volumes={remote.REMOTE_OUTPUTS_DIR: outputs_volume},
              timeout=int(remote.MAX_TIMEOUT_H * 3600), retries=modal.Retries(max_retries=2, initial_delay=10.0))
def benchmark_part(job: dict) -> dict:
    return remote_bench.run_part(job)


def main(**values):
    code = remote_bench.launch(values, benchmark_part)
    if code:
        raise SystemExit(code)


main = app.local_entrypoint()(cloud.with_flags(main, remote_bench.entrypoint_parameters()))


if __name__ == "__main__":          # python remote/benchmark.py ... --dry-run | --local: without Modal
    sys.exit(remote_bench.local_cli(sys.argv[1:]))
