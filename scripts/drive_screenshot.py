"""Draw docs/images/drive.jpg: the karting.drive window, headless, mid-way through a second lap.

    SDL_VIDEODRIVER=dummy python scripts/drive_screenshot.py [--out docs/images/drive.jpg]

The scripted expert stands in for the person at the keys (no one drives on a CI machine); the
ghost is this session's best lap, so the HUD shows a live delta and sector splits.
"""
import argparse
import os
import tempfile
from pathlib import Path

from karting.cli import options
from karting.drive import DriveApp
from karting.sim.expert import PurePursuit

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.outputs(ap, out="the screenshot", defaults={"out": "docs/images/drive.jpg"})
    options.track(ap)
    args = ap.parse_args()
    import pygame

    with tempfile.TemporaryDirectory() as tmp:
        app = DriveApp(args.track, out=Path(tmp) / "t.csv", realtime=False)
        fast, slow = PurePursuit(app.track, mu_use=1.8), PurePursuit(app.track, mu_use=1.6)
        app.controller = lambda a: tuple((fast if a.batch.laps[0] < 2 else slow).act(a.batch.state, a.batch.idx)[0])
        while app.batch.laps[0] < 2 or len(app.splits) < 2 or app.lap_time_now() < 40:
            app.step()
        pygame.image.save(app.screen, args.out)
        app.renderer.release()
        pygame.quit()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
