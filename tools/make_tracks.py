"""Draw the shipped track PNGs from control points: `python tools/make_tracks.py [--out tracks]`.

Each layout is a closed periodic spline through hand-placed points (metres, image y down),
drawn as a thick anti-aliased black line on white at DEFAULT_SCALE_M_PER_PX, exactly as a user
would paint a track. `brands_kart.png` is the Brands Hatch GP centre line from shared/real_tracks (TUM FTM
racetrack-database, LGPL-3.0), scaled down to a 1.4 km kart circuit.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from karting.cli import options
from karting.track.generate import draw, spline_loop

SCALE = 0.5  # m/px, karting.track.DEFAULT_SCALE_M_PER_PX

LAYOUTS = {
    # the default: a club kart circuit, ~1.1 km: a long straight, a fast right sweeper, an
    # esses section, a tight hairpin, a chicane and a long double-apex left onto the straight
    "circuit.png": dict(width_m=9.0, size_m=(460, 300), points=[
        (70, 255), (180, 258), (290, 255), (345, 243), (372, 212), (368, 175), (385, 140),
        (410, 110), (418, 72), (398, 42), (366, 45), (352, 72), (334, 102), (300, 115),
        (268, 106), (248, 82), (222, 62), (188, 56), (160, 72), (168, 100), (148, 122),
        (118, 118), (98, 92), (72, 70), (46, 86), (36, 130), (40, 190), (48, 232)]),
    # fast and flowing, few braking zones
    "oval.png": dict(width_m=10.0, size_m=(400, 240), points=[
        (80, 200), (200, 210), (320, 200), (365, 160), (360, 90), (320, 45), (200, 55),
        (80, 40), (38, 90), (40, 160)]),
    # technical: many slow corners, short straights
    "twisty.png": dict(width_m=8.0, size_m=(340, 300), points=[
        (60, 260), (150, 265), (210, 250), (235, 215), (210, 185), (215, 150), (260, 140),
        (295, 110), (290, 60), (250, 40), (215, 65), (185, 100), (150, 95), (140, 55),
        (100, 40), (60, 60), (75, 100), (110, 130), (95, 170), (50, 185), (35, 225)]),
}


def real_track(csv, length_m=1200.0, width_m=9.0, margin_m=25.0):
    data = np.loadtxt(csv, delimiter=",", comments="#")
    xy = data[:, :2]
    seg = np.linalg.norm(np.diff(np.vstack([xy, xy[:1]]), axis=0), axis=1).sum()
    xy = xy * (length_m / seg)
    xy[:, 1] = -xy[:, 1]  # world y up -> image y down
    xy -= xy.min(axis=0) - margin_m
    size = xy.max(axis=0) + margin_m
    return xy, (float(size[0]), float(size[1]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    options.outputs(ap, out="folder to write the tracks into",
                    defaults={"out": str(Path(__file__).resolve().parent.parent / "tracks")})
    options.real_tracks(ap, str(Path(__file__).resolve().parents[2] / "shared" / "real_tracks"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, spec in LAYOUTS.items():
        draw(spline_loop(spec["points"]), spec["width_m"], spec["size_m"], out / name)
        print("wrote", out / name)
    real = Path(args.real_tracks) / "BrandsHatch.csv"
    if real.exists():
        xy, size = real_track(real, length_m=1400.0)
        draw(xy, 9.0, size, out / "brands_kart.png")
        print("wrote", out / "brands_kart.png")


if __name__ == "__main__":
    main()
