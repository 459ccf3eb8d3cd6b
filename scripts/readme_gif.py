"""Make docs/images/race.gif, the moving picture of the README and the documentation's front page,
with the project's own commands: a race of AI karts (`karting race --replay`), filmed afterwards
from the TV cameras (`karting replay --camera tv --video x.gif`, karting.video's GIF writer),
then scaled down and put on one shared palette so the file stays small.

    python scripts/readme_gif.py [--out docs/images/race.gif]

Five AI karts, one lap from behind the lights; seconds 8-12.5 of the TV camera that follows the
last kart on the grid, 400 px wide, 10 frames a second, 96 colours or fewer (as few as keep it
under 1.4 MB).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PIL import Image

from karting import race, replay
from karting.cli import options

WIDTH, T_FROM, T_TO, COLOURS, MAX_BYTES = 400, 8.0, 12.5, 96, 1_400_000


def shrink(src: Path, out: Path, width: int, colours: int = COLOURS) -> tuple:
    """The frames of the GIF ``src``, ``width`` px wide, on one adaptive palette of ``colours``."""
    im = Image.open(src)
    frames = []
    for i in range(im.n_frames):
        im.seek(i)
        f = im.convert("RGB")
        frames.append(f.resize((width, round(f.height * width / f.width)), Image.LANCZOS))
    pal = frames[len(frames) // 2].quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    q = [f.quantize(palette=pal, dither=Image.Dither.NONE) for f in frames]
    dur = int(im.info.get("duration", 100))
    q[0].save(out, save_all=True, append_images=q[1:], duration=dur, loop=0, optimize=True)
    return len(q), out.stat().st_size


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.outputs(ap, out="the GIF", defaults={"out": "docs/images/race.gif"})
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rep, raw = Path(tmp) / "race.replay", Path(tmp) / "raw.gif"
        code = race.main(["--track", "circuit.png", "--opponents", "club,pro,alien,rookie,club", "--laps", "1",
                          "--lights", "--replay", str(rep), "--no-leaderboard"])
        code = code or replay.main([str(rep), "--camera", "tv", "--kart", "4", "--from", str(T_FROM),
                                    "--to", str(T_TO), "--video", str(raw)])
        if code:
            return code
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        for colours in (COLOURS, 64, 48, 32):      # the fewest colours it needs to stay under MAX_BYTES
            n, size = shrink(raw, out, WIDTH, colours)
            if size <= MAX_BYTES:
                break
    print(f"{out}: {n} frames, {colours} colours, {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
