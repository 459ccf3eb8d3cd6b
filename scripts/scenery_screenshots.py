"""Pictures of the views made for people (issue 35), for the documentation and for before/after
comparisons: the drive window in chase and first person with AI karts around, a TV-camera frame
and a race video frame.

    python scripts/scenery_screenshots.py [--out docs/images] [--size 1280x800]

The drive window is the real one (pygame; run it on a desktop or under Xvfb, e.g.
``xvfb-run -s "-screen 0 1600x1000x24" python scripts/scenery_screenshots.py``): a race from the
back of a grid of five AI karts, the person's kart driven by the scripted expert, shot 7 s after
the start (the window's own surface). The TV frame is ``karting replay --camera tv`` of a race of
the same five karts; the race frame is ``karting race --video``'s (chase camera, onboard inset,
standings, map). It uses only what the commands offered before issue 35 too, so the same script
run on an older checkout (``PYTHONPATH=old/tree``) gives the "before" pictures.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from karting import race, replay
from karting.cli import options
from karting.drive import DriveApp
from karting.sim.expert import PurePursuit

FIELD = "club,pro,alien,rookie,club"


def drive_window(out: Path, size: tuple, view: str, seconds: float = 7.0) -> Path:
    """The drive window ``seconds`` into a race from the back of the grid, as a PNG."""
    with tempfile.TemporaryDirectory() as tmp:
        app = DriveApp("circuit.png", view=view, size=size, realtime=False, opponents=FIELD.split(","),
                       start_lights=False, out=Path(tmp) / "shot.csv")
        expert = PurePursuit(app.track)

        def drive(a):
            b = a.batch
            return tuple(float(v) for v in expert.act(b.state, b.idx)[0])
        app.controller = drive
        for _ in range(int(seconds * 20)):
            app.step()
        app.pg.image.save(app.screen, str(out))
        app.running = False
        app.renderer.release()
        app.pg.quit()
    return out


def video_frame(video: Path, t: float, out: Path) -> Path:
    """The frame of ``video`` nearest ``t`` seconds, as a PNG."""
    import imageio.v3 as iio
    meta = iio.immeta(video)
    fps = float(meta.get("fps", 20.0))
    frames = iio.imread(video)
    Image.fromarray(np.asarray(frames[min(int(round(t * fps)), len(frames) - 1)])[..., :3]).save(out)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.outputs(ap, out="folder for the PNGs (default docs/images)", defaults={"out": "docs/images"})
    options.size(ap, "1280x800")
    ap.add_argument("--prefix", default="scenery_", help="file name prefix (default scenery_)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    made = [drive_window(out / f"{args.prefix}drive_chase.png", size, "chase"),
            drive_window(out / f"{args.prefix}drive_fp.png", size, "fp")]
    with tempfile.TemporaryDirectory() as tmp:
        rep, tv, film = Path(tmp) / "race.replay", Path(tmp) / "tv.mp4", Path(tmp) / "race.mp4"
        code = race.main(["--track", "circuit.png", "--opponents", FIELD, "--laps", "1", "--replay", str(rep),
                          "--video", str(film), "--no-leaderboard"])
        code = code or replay.main([str(rep), "--camera", "tv", "--kart", "4", "--from", "8", "--to", "9",
                                    "--video", str(tv)])
        if code:
            return code
        made.append(video_frame(tv, 0.5, out / f"{args.prefix}tv.png"))
        made.append(video_frame(film, 9.0, out / f"{args.prefix}race_video.png"))
    for p in made:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
