"""The documentation's picture of two generator versions side by side (docs/images/generator_v2_v3.png):
one row per version, one column per seed, each track as ``generate_varied`` paints it, fitted in a cell.

    python tools/generator_figure.py --versions 2,3 --seeds 3,6,16,19 --out docs/images/generator_v2_v3.png
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from karting.cli import options
from karting.track.generate import generate_varied

CELL, LABEL = 300, 20


def figure(versions, seeds) -> Image.Image:
    """A grid of the generated tracks: row = version, column = seed."""
    out = Image.new("RGB", (CELL * len(seeds), (CELL + LABEL) * len(versions)), "white")
    draw, font = ImageDraw.Draw(out), ImageFont.load_default(size=12)
    for r, v in enumerate(versions):
        for c, s in enumerate(seeds):
            im, _, info = generate_varied(s, version=v)
            im = im.convert("RGB")
            im.thumbnail((CELL - 4, CELL - 4))
            x0, y0 = c * CELL, r * (CELL + LABEL)
            out.paste(im, (x0 + (CELL - im.width) // 2, y0 + LABEL + (CELL - im.height) // 2))
            draw.text((x0 + 6, y0 + 4), f"version {v}, seed {s}: {info['length_m']:.0f} m", fill="black", font=font)
    return out


def main(argv=None) -> int:
    ap = options.parser("tools/generator_figure.py", __doc__)
    ap.add_argument("--versions", default="2,3", help="generator versions, one row each (default 2,3)")
    options.seeds(ap, "3,6,16,19", "layout seeds, one column each")
    options.outputs(ap, out="the PNG to write (default docs/images/generator_v2_v3.png)",
                    defaults={"out": "docs/images/generator_v2_v3.png"})
    a = ap.parse_args(argv)
    img = figure([int(x) for x in a.versions.split(",")], a.seeds)
    img.convert("P", palette=Image.ADAPTIVE, colors=32).save(a.out, optimize=True)   # a few flat colours
    print(f"wrote {a.out} ({img.width}x{img.height}; mean grey {np.asarray(img).mean():.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
