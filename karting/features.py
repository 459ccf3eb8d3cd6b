"""`python -m karting.features`: learned visual features for the driver's camera (a VAE).

    python -m karting.features fit --out outputs/features/vae.pt
    python -m karting.features show --encoder outputs/features/vae.pt --out outputs/features/vae.png
    python -m karting.train --encoder vae:outputs/features/vae.pt

``fit`` drives karts over generated training tracks (never a validation or benchmark track), half
of them the scripted expert with noise on its steering, half random actions that spin, cut and
crash, collects their 84x84 camera frames and fits a variational autoencoder whose encoder has the
shape of the driver's vision layers (:mod:`karting.rl.features`); ``--encoder vae:PATH`` starts
a PPO or SAC run from it, frozen (the default) or fine-tuned (``--encoder-frozen false``).
``show`` draws held-out frames from the shipped tracks above their reconstructions.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .cli import options
from .env.render import RendererUnavailable
from .rl import pool as track_pool
from .rl.features import FeaturesError, collect_frames, fit, load_vae, reconstruction_sheet, save_features
from .track import TrackError, track_list


def _training_tracks(spec: str, count: int, seed: int) -> list:
    if spec == "generated":
        return list(track_pool.TrackPool(count, seed=seed, swap=0).paths)
    return track_list(spec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m karting.features", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="collect camera frames and fit a VAE to them")
    options.tracks(f, "generated", "where to drive: 'generated' (generated training tracks, never a validation or "
                   "benchmark one) or track PNGs")
    f.add_argument("--track-count", type=int, default=16, help="with --tracks generated: how many (default: 16)")
    f.add_argument("--frames", type=int, default=60_000, help="camera frames to collect (default: 60000)")
    f.add_argument("--karts", type=int, default=32, help="karts driving at once (default: 32)")
    f.add_argument("--expert-share", type=float, default=0.5,
                   help="share of the karts the expert drives, the rest random (default: 0.5)")
    f.add_argument("--latent", type=int, default=64, help="latent size (default: 64)")
    f.add_argument("--epochs", type=int, default=8, help="passes over the frames (default: 8)")
    f.add_argument("--batch-size", type=int, default=128, help="minibatch size (default: 128)")
    f.add_argument("--beta", type=float, default=1.0, help="weight of the KL term (default: 1)")
    options.outputs(f, out="the features file to write (.pt)", out_required=True)
    options.overwrite(f, "an existing --out")
    options.seed(f, "of the tracks, starts and random driving")
    s = sub.add_parser("show", help="draw held-out frames over their reconstructions (a PNG)")
    options.encoder(s, "the VAE to draw", required=True)
    options.tracks(s, "circuit.png,twisty.png,oval.png,brands_kart.png", "tracks to draw frames from")
    s.add_argument("--count", type=int, default=8, help="frames in the sheet (default: 8)")
    options.outputs(s, out="the PNG to write", out_required=True)
    options.seed(s, "of the starts")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "fit":
            return _fit(args)
        return _show(args)
    except (FeaturesError, TrackError, RendererUnavailable, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _fit(args) -> int:
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise ValueError(f"{out} exists: pass --overwrite to replace it, or another --out")
    if args.frames < 256 or args.epochs < 1 or args.latent < 1 or not 0 <= args.expert_share <= 1 \
            or args.karts < 1 or args.batch_size < 1:
        raise ValueError("--frames must be >= 256, --epochs, --latent, --karts and --batch-size >= 1, "
                         "--expert-share 0..1")
    tracks = _training_tracks(args.tracks, args.track_count, args.seed)
    t0 = time.perf_counter()
    frames = collect_frames(tracks, args.frames, args.karts, args.seed, args.expert_share)
    collect_s = time.perf_counter() - t0
    vae, stats = fit(frames, args.latent, args.epochs, args.batch_size, beta=args.beta, seed=args.seed)
    info = {**stats, "collect_s": collect_s, "tracks": [Path(t).name for t in tracks], "latent": args.latent,
            "beta": args.beta, "expert_share": args.expert_share, "seed": args.seed}
    save_features(out, vae, info)
    last = stats["history"][-1]
    print(f"features: {out} (VAE, latent {args.latent}; held-out RMSE {math.sqrt(last['mse']) * 255:.1f} of 255; "
          f"{collect_s:.0f} s collecting, {stats['wall_s']:.0f} s fitting); train with --encoder vae:{out}")
    return 0


def _show(args) -> int:
    import imageio.v3 as iio
    vae = load_vae(args.encoder)
    frames = collect_frames(track_list(args.tracks), max(args.count, 1) * 4, karts=max(args.count, 1), seed=args.seed,
                            expert_share=0.5, every=40, log=lambda *_: None)
    pick = frames[np.linspace(0, len(frames) - 1, args.count).astype(int)]
    sheet = reconstruction_sheet(vae, pick)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(args.out, sheet)
    rec = vae.reconstruct(torch.from_numpy(pick)).numpy().astype(np.float64)
    rmse = float(np.sqrt(((rec - pick) ** 2).mean()))
    print(f"{args.out}: {args.count} frames (top) and their reconstructions (below); RMSE {rmse:.1f} of 255")
    return 0


if __name__ == "__main__":
    sys.exit(main())
