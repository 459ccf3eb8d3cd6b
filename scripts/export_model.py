"""Write a model file to publish or ship: the driving weights, config, steps and last evaluation
of a karting.train checkpoint, without the optimizer, raw training weights and RNG state.

    python scripts/export_model.py outputs/checkpoints/generalist/best.pt karting/models/generalist.pt \\
        --command "python -m karting.train ..." --wall-minutes 98

The result loads like any model file (play, race, the benchmark: ``--model generalist`` once it
is ``karting/models/generalist.pt``); ``karting.train --resume-from`` fine-tunes it with a fresh
optimizer.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from karting.rl.checkpoint import CheckpointError, export_model, load_checkpoint


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path, help="checkpoint written by karting.train (best.pt, final.pt, step_*.pt)")
    ap.add_argument("dst", type=Path, help="model file to write")
    ap.add_argument("--command", default=None, help="the command that trained it (stored in the file)")
    ap.add_argument("--wall-minutes", type=float, default=None, help="the run's wall time (stored)")
    args = ap.parse_args(argv)
    if args.dst.resolve() == args.src.resolve():
        print("error: the export would replace its source; give another destination", file=sys.stderr)
        return 2
    note = {k: v for k, v in (("command", args.command), ("wall_minutes", args.wall_minutes)) if v is not None}
    try:
        out = export_model(args.src, args.dst, note=note or None)
        data = load_checkpoint(out)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}: {out.stat().st_size / 2**20:.1f} MiB, {data['global_step']:,} PPO steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
