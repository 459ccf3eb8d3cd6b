"""The pygame programs on a real X server (Xvfb), as a person sees and drives them: screenshots
of the window must show the scene, and key presses sent through XTEST must move the kart.

Under SDL's dummy driver karting.drive worked; under X it segfaulted in moderngl (chase view) or
showed a black window (first-person), because SDL probes GLX on the renderer's thread."""
import json
import shutil
import time

import numpy as np
import pandas as pd
import pytest
from xserver import XServer, colour_fraction, finish

SKY = ((100, 150, 190), (190, 215, 255))     # the renderer's sky gradient
ROAD = ((50, 50, 55), (115, 115, 122))       # asphalt grey (78, 78, 84) with its noise
GRASS = ((40, 95, 30), (95, 160, 85))


@pytest.fixture(scope="module")
def x():
    server = XServer()
    yield server
    server.close()


def shows_scene(img, road=0.1):
    h = img.shape[0]
    top, bottom = img[: h // 3], img[h // 2:]
    assert img.std() > 20, "the window is (nearly) uniform"
    assert colour_fraction(top, *SKY) > 0.2, "no sky in the upper third"
    assert colour_fraction(bottom, *ROAD) > road, "no asphalt in the lower half"
    assert colour_fraction(img, *GRASS) > 0.02, "no grass"


def test_drive_on_a_real_display_both_views(x, ring_png, tmp_path):
    csv = tmp_path / "human.csv"
    proc = x.launch(["-m", "karting.drive", "--track", str(ring_png), "--out", str(csv),
                     "--size", "640x400", "--ghost", "none"])
    try:
        wid = x.window("drive", proc)
        time.sleep(1.0)
        chase = x.screenshot(wid, tmp_path / "chase.png")
        assert chase.shape[:2] == (400, 640)
        shows_scene(chase)
        # the chase camera sees the kart: its red body below the middle of the window
        assert colour_fraction(chase[200:], (180, 0, 0), (255, 60, 60)) > 0.005
        x.focus(wid)
        x.hold("Up", 1.2)
        x.keys("c")
        for _ in range(25):              # the switch shows within a frame or two; more on a busy machine
            time.sleep(0.2)
            fp = x.screenshot(wid, tmp_path / "fp.png")
            if colour_fraction(fp[200:], (180, 0, 0), (255, 60, 60)) < 0.001:
                break
        shows_scene(fp, road=0.05)
        assert colour_fraction(fp[200:], (180, 0, 0), (255, 60, 60)) < 0.001   # no kart in front
        assert np.abs(fp.astype(int) - chase.astype(int)).mean() > 10
        x.keys("Escape")
        rc, out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0, err
    assert "telemetry:" in out
    df = pd.read_csv(csv)
    assert df["throttle"].max() > 0.9
    assert df["speed_kmh"].max() > 15
    moved = np.hypot(df["x_m"].iloc[-1] - df["x_m"].iloc[0], df["y_m"].iloc[-1] - df["y_m"].iloc[0])
    assert moved > 5


def test_race_the_ai_on_a_real_display(x, ring_png, tmp_path):
    proc = x.launch(["-m", "karting.drive", "--track", str(ring_png), "--out", str(tmp_path / "race.csv"),
                     "--size", "640x400", "--opponents", "rookie,club", "--laps", "1"])
    try:
        wid = x.window("drive", proc)
        time.sleep(1.5)                       # the start lights are on: everyone on the grid
        grid = x.screenshot(wid, tmp_path / "grid.png")
        shows_scene(grid)
        # the rivals ahead on the grid: the blue and the yellow kart (the renderer's palette, lit by the sun)
        assert colour_fraction(grid, (0, 20, 110), (70, 120, 255)) > 0.0005, "no blue kart"
        assert colour_fraction(grid, (150, 120, 0), (255, 230, 80)) > 0.002, "no yellow kart"
        assert colour_fraction(grid[100:140], (200, 0, 0), (255, 50, 50)) > 0.01, "no start lights"
        x.focus(wid)
        x.keys("Escape")
        rc, out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0, err
    assert "Pos  Driver" in out and "you" in out and "AI club" in out
    # the race's replay beside its telemetry: every kart, re-simulated bit-exactly
    from karting.replay import main as replay_main
    from karting.sim.replay import load
    rep = load(tmp_path / "race.replay")
    assert rep.karts == 3 and rep.header["settings"]["race"]["drivers"] == ["you", "AI rookie", "AI club"]
    assert replay_main([str(tmp_path / "race.replay")]) == 0


def test_checkpoint_editor_on_a_real_display(x, ring_png, tmp_path):
    png = tmp_path / "ring.png"
    shutil.copy(ring_png, png)
    cp = tmp_path / "checkpoints.json"
    proc = x.launch(["tools/checkpoint_editor.py", str(png), "--size", "800x600"])
    try:
        wid = x.window("checkpoint_editor", proc)
        time.sleep(1.0)
        before = x.screenshot(wid, tmp_path / "editor.png")
        assert before.shape[:2] == (600, 800)
        assert before.std() > 20
        assert colour_fraction(before, (0, 0, 0), (40, 40, 40)) > 0.03       # the painted asphalt
        assert colour_fraction(before, (215, 215, 215), (255, 255, 255)) > 0.2   # the white grass
        x.focus(wid)
        x.keys("a")                           # gates from the centre line ...
        time.sleep(0.5)
        x.keys("ctrl+s")                      # ... saved
        time.sleep(0.8)
        after = x.screenshot(wid, tmp_path / "editor_saved.png")
        assert np.abs(after.astype(int) - before.astype(int)).max() > 0
        x.keys("q")
        rc, out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0, err
    entry = json.loads(cp.read_text())["tracks"]["ring.png"]
    assert len(entry["checkpoints"]) >= 3
