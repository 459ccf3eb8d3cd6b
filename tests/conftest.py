import os
import shutil
import tempfile

import numpy as np
import pytest
from PIL import Image, ImageDraw

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
# derived tracks are cached on disk: the tests use a cache of their own (subprocesses inherit it)
os.environ["KARTING_CACHE_DIR"] = tempfile.mkdtemp(prefix="karting-test-cache-")
# leaderboards (written by race, play, drive, the expert) go to a folder of the tests' own
os.environ["KARTING_OUTPUTS"] = tempfile.mkdtemp(prefix="karting-test-outputs-")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(os.environ["KARTING_CACHE_DIR"], ignore_errors=True)
    shutil.rmtree(os.environ["KARTING_OUTPUTS"], ignore_errors=True)


def draw_ring(path, size=(300, 200), radii=(120, 75), width_px=18, value=0):
    """A small elliptical kart track (at 0.5 m/px: ~9 m wide, ~280 m long)."""
    w, h = size
    im = Image.new("L", size, 255)
    d = ImageDraw.Draw(im)
    cx, cy = w / 2, h / 2
    rx, ry = radii
    d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], outline=value, width=width_px)
    im.save(path)
    return path


@pytest.fixture(scope="session")
def ring_png(tmp_path_factory):
    return draw_ring(tmp_path_factory.mktemp("tracks") / "ring.png")


@pytest.fixture(scope="session")
def ring_track(ring_png):
    from karting.track import load_track
    return load_track(ring_png)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
