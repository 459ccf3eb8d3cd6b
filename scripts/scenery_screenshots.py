"""Pictures of the views made for people (issue 35), for the documentation and for before/after
comparisons: the drive window in chase and first person with AI karts around, a TV-camera frame
and a race video frame.

    python scripts/scenery_screenshots.py [--out docs/images] [--size 1280x800] [--docs]

The drive window is the real one (pygame; run it on a desktop or under Xvfb, e.g.
``xvfb-run -s "-screen 0 1600x1000x24" python scripts/scenery_screenshots.py``): a race from the
back of a grid of five AI karts, the person's kart driven by the scripted expert, shot 7 s after
the start (the window's own surface). The TV frame is ``karting replay --camera tv`` of a race of
the same five karts; the race frame is ``karting race --video``'s (chase camera, onboard inset,
standings, map). It uses only what the commands offered before issue 35 too, so the same script
run on an older checkout (``PYTHONPATH=old/tree``) gives the "before" pictures. ``--docs`` also
remakes the documentation's pictures of these views (``scripts/drive_screenshot.py`` makes
drive.jpg, the time trial with its ghost).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from karting import play, race, replay
from karting.cli import options
from karting.drive import DriveApp
from karting.env import KartBatch
from karting.sim import replay as R
from karting.sim.expert import PurePursuit

FIELD = "club,pro,alien,rookie,club"


def drive_window(out: Path, size: tuple, view: str, opponents: str = FIELD, seconds: float = 7.0) -> Path:
    """The drive window ``seconds`` into a race from the back of the grid of ``opponents`` (or a
    time trial without), as a picture of the window's own surface."""
    with tempfile.TemporaryDirectory() as tmp:
        app = DriveApp("circuit.png", view=view, size=size, realtime=False,
                       opponents=opponents.split(",") if opponents else 0, start_lights=False,
                       out=Path(tmp) / "shot.csv")
        expert = PurePursuit(app.track)

        def drive(a):
            b = a.batch
            return tuple(float(v) for v in expert.act(b.state, b.idx)[0])
        app.controller = drive
        for _ in range(int(seconds * 20)):
            app.step()
        save(app.pg.surfarray.array3d(app.screen).swapaxes(0, 1), out)
        app.running = False
        app.renderer.release()
        app.pg.quit()
    return out


def save(img: np.ndarray, out: Path) -> Path:
    """A picture as PNG or JPEG (by its suffix)."""
    Image.fromarray(np.ascontiguousarray(img[..., :3])).save(out, quality=88)
    return out


def video_frame(video: Path, t: float, out: Path) -> Path:
    """The frame of ``video`` nearest ``t`` seconds."""
    import imageio.v3 as iio
    fps = float(iio.immeta(video).get("fps", 20.0))
    frames = iio.imread(video)
    return save(np.asarray(frames[min(int(round(t * fps)), len(frames) - 1)]), out)


def chase_frame(rep: Path, t: float, out: Path) -> Path:
    """The env's own picture (``env.render()``: chase camera, first-person inset) of kart 0 at
    ``t`` seconds of a replayed race."""
    r = R.load(rep)
    r.track = R.resolve_track(r)
    b = KartBatch.from_replay(r, r.track, render=True, views=[0])
    shot = []

    def on_step(step):
        if step == int(t * 20):
            b.observe()                       # the inset: the first-person view of this step
            shot.append(b.frame(0))
    R.simulate(r, b, on_step)
    b.close()
    return save(shot[0], out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.outputs(ap, out="folder for the pictures (default docs/images)", defaults={"out": "docs/images"})
    options.size(ap, "1280x800")
    ap.add_argument("--prefix", default="scenery_", help="file name prefix (default scenery_)")
    ap.add_argument("--docs", action="store_true",
                    help="also remake the documentation's pictures of these views (drive_race, "
                         "race, replay_tv, chase, play: JPEG)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    pre = args.prefix
    made = [drive_window(out / f"{pre}drive_chase.jpg", size, "chase"),
            drive_window(out / f"{pre}drive_fp.jpg", size, "fp")]
    if args.docs:
        made.append(drive_window(out / "drive_race.jpg", (960, 600), "chase"))   # drive.jpg: drive_screenshot.py
    with tempfile.TemporaryDirectory() as tmp:
        rep, tv, film = Path(tmp) / "race.replay", Path(tmp) / "tv.mp4", Path(tmp) / "race.mp4"
        code = race.main(["--track", "circuit.png", "--opponents", FIELD, "--laps", "1", "--replay", str(rep),
                          "--video", str(film), "--no-leaderboard"])
        code = code or replay.main([str(rep), "--camera", "tv", "--kart", "4", "--from", "8", "--to", "9",
                                    "--video", str(tv)])
        if code:
            return code
        made.append(video_frame(tv, 0.5, out / f"{pre}tv.jpg"))
        made.append(video_frame(film, 9.0, out / f"{pre}race_video.jpg"))
        if args.docs:
            made.append(video_frame(tv, 0.5, out / "replay_tv.jpg"))
            made.append(video_frame(film, 9.0, out / "race.jpg"))
            made.append(chase_frame(rep, 9.0, out / "chase.jpg"))
            lap = Path(tmp) / "play.mp4"
            code = play.main(["--model", "generalist", "--track", "circuit.png", "--episodes", "1", "--video",
                              str(lap)])
            if code:
                return code
            made.append(video_frame(lap, 12.0, out / "play.jpg"))
    for p in made:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
