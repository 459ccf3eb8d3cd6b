"""The checkpoint editor, driven headless (SDL_VIDEODRIVER=dummy, set in conftest) with posted
mouse and key events, as a user would."""
import json
import shutil
from pathlib import Path

import numpy as np
import pygame
import pytest

from karting.track import load_track


def _load_tool(name):
    """tools/ holds programs, not a package: load one by its path."""
    import importlib.util
    path = Path(__file__).resolve().parent.parent / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ce = _load_tool("checkpoint_editor")


@pytest.fixture
def editor(tmp_path, ring_png):
    png = tmp_path / "ring.png"
    shutil.copy(ring_png, png)
    (tmp_path / "checkpoints.json").write_text(json.dumps(
        {"version": 1, "tracks": {"other.png": {"direction": "counterclockwise"}}}))
    ed = ce.Editor(ce.EditorModel(png), size=(900, 650))
    ed.step()
    yield ed
    pygame.quit()


def click(ed, pos, button=1):
    pos = tuple(int(round(v)) for v in pos)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=button))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=pos, button=button))
    ed.step()


def drag(ed, a, b):
    a = tuple(int(round(v)) for v in a)
    b = tuple(int(round(v)) for v in b)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=a, button=1))
    pygame.event.post(pygame.event.Event(pygame.MOUSEMOTION, pos=b, rel=(b[0] - a[0], b[1] - a[1]), buttons=(1, 0, 0)))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=b, button=1))
    ed.step()


def key(ed, k, mod=0):
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, mod=mod, unicode=""))
    ed.step()


def test_add_move_delete_undo_save_and_read_back(editor, tmp_path):
    ed, m = editor, editor.model
    n0 = len(m.gates)
    tr = m.base
    # a new gate across the track a quarter lap in, from grass to grass
    i = len(tr.centre) // 4 + 7
    half = tr.width[i] / 2 + 1.5
    a = tr.world_to_pixel(tr.centre[i] + tr.normal[i] * half)
    b = tr.world_to_pixel(tr.centre[i] - tr.normal[i] * half)
    click(ed, ed.to_screen(a))
    assert ed.pending is not None
    click(ed, ed.to_screen(b))
    assert len(m.gates) == n0 + 1
    new = ed.selected
    assert np.allclose(m.gates[new], [a, b], atol=1.5)
    assert m.check.problems == []                 # inserted in order, spans the asphalt
    # drag its first end 6 px (image) further out
    end = m.gates[new, 0].copy()
    target = end + (a - b) / np.linalg.norm(a - b) * 6
    drag(ed, ed.to_screen(end), ed.to_screen(target))
    assert np.allclose(m.gates[new, 0], target, atol=1.5)
    # drag an end into the middle of the road: the window warns
    drag(ed, ed.to_screen(m.gates[new, 0]), ed.to_screen(tr.world_to_pixel(tr.centre[i])))
    assert any(f"gate {new} does not span" in p for p in m.check.problems)
    key(ed, pygame.K_z, pygame.KMOD_CTRL)         # undo the bad drag
    assert m.check.problems == []
    # select another gate by clicking its middle, delete it, undo, redo
    victim = 3 if new != 3 else 4
    click(ed, ed.to_screen(m.gates[victim].mean(axis=0)))
    assert ed.selected == victim
    kept = np.delete(m.gates, victim, axis=0)
    key(ed, pygame.K_DELETE)
    assert len(m.gates) == n0 and np.allclose(m.gates, kept)
    key(ed, pygame.K_z, pygame.KMOD_CTRL)
    assert len(m.gates) == n0 + 1
    key(ed, pygame.K_y, pygame.KMOD_CTRL)
    assert len(m.gates) == n0
    key(ed, pygame.K_s, pygame.KMOD_CTRL)
    assert not m.dirty and "saved" in ed.message
    data = json.loads((tmp_path / "checkpoints.json").read_text())
    assert data["tracks"]["other.png"] == {"direction": "counterclockwise"}     # kept
    saved = np.asarray(data["tracks"]["ring.png"]["checkpoints"])
    assert np.allclose(saved, m.gates, atol=0.01)
    tr2 = load_track(tmp_path / "ring.png")                 # the simulator accepts it
    assert len(tr2.gates) == n0


def test_reorder_reverse_start_sectors_and_auto(editor, tmp_path):
    ed, m = editor, editor.model
    n = len(m.gates)
    click(ed, ed.to_screen(m.gates[4].mean(axis=0)))
    key(ed, pygame.K_RIGHTBRACKET)                 # gate 4 -> 5: now out of order
    assert ed.selected == 5
    assert any("out of order" in p for p in m.check.problems)
    key(ed, pygame.K_LEFTBRACKET)
    assert m.check.problems == []
    key(ed, pygame.K_r)                            # reverse direction
    assert m.check.reversed and m.check.problems == []
    key(ed, pygame.K_s, pygame.KMOD_CTRL)
    entry = json.loads((tmp_path / "checkpoints.json").read_text())["tracks"]["ring.png"]
    assert entry["direction"] == "counterclockwise"
    tr = load_track(tmp_path / "ring.png")
    assert tr.curvature.mean() > 0                 # counterclockwise: a lap of left turns
    click(ed, ed.to_screen(m.gates[2].mean(axis=0)))
    key(ed, pygame.K_s)                            # gate 2 becomes start/finish
    assert ed.selected == 0
    click(ed, ed.to_screen(m.gates[3].mean(axis=0)))
    key(ed, pygame.K_2)
    click(ed, ed.to_screen(m.gates[6].mean(axis=0)))
    key(ed, pygame.K_3)
    assert m.sectors == [3, 6]
    key(ed, pygame.K_MINUS)
    key(ed, pygame.K_MINUS)                        # 40 -> 30 m
    key(ed, pygame.K_a)
    assert m.spacing_m == 30 and len(m.gates) > n
    assert m.check.problems == [] and m.check.reversed   # auto keeps the direction
    key(ed, pygame.K_h)
    assert ed.show["help"]


def test_quit_with_unsaved_changes_asks_twice(editor):
    ed = editor
    assert not ed.model.dirty                      # just opened: nothing to lose
    key(ed, pygame.K_r)
    assert ed.model.dirty
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    ed.step()
    assert ed.running and "unsaved" in ed.message
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    ed.step()
    assert not ed.running


def test_zoom_and_pan_keep_the_point_under_the_cursor(editor):
    ed = editor
    pos = (400, 300)
    before = ed.to_image(pos)
    ed.zoom_at(pos, 2.0)
    assert np.allclose(ed.to_image(pos), before)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=3))
    pygame.event.post(pygame.event.Event(pygame.MOUSEMOTION, pos=(450, 300), rel=(50, 0), buttons=(0, 0, 1)))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(450, 300), button=3))
    ed.step()
    assert np.allclose(ed.to_image((450, 300)), before)


def test_screenshot_cli_and_bad_track(tmp_path):
    out = tmp_path / "shot.png"
    assert ce.main(["circuit.png", "--screenshot", str(out), "--checkpoints", str(tmp_path / "cp.json")]) == 0
    from PIL import Image
    im = np.asarray(Image.open(out).convert("RGB"))
    assert im.shape == (800, 1200, 3) and im.std() > 20
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    assert ce.main([str(bad)]) == 2


def test_a_bad_start_pose_is_ignored_so_the_track_can_be_fixed(tmp_path, ring_png):
    png = tmp_path / "ring.png"
    shutil.copy(ring_png, png)
    cp = tmp_path / "checkpoints.json"
    cp.write_text(json.dumps({"version": 1, "tracks": {"ring.png": {
        "start": {"x": 1e9, "y": 0, "heading_deg": 0}}}}))
    with pytest.raises(Exception, match="outside"):
        load_track(png)                                   # the simulator refuses it ...
    model = ce.EditorModel(png)                           # ... the editor opens and says so
    assert "ignored the saved start pose" in model.notice and "outside" in model.notice
    model.save()
    assert "start" not in json.loads(cp.read_text())["tracks"]["ring.png"]
    assert load_track(png).length > 0
