"""karting.drive headless (SDL_VIDEODRIVER=dummy from conftest, EGL renderer for real), driven
by posted key events as a person would, and by the expert for whole laps."""
import numpy as np
import pygame
import pytest

from karting import telemetry as T
from karting.drive import DriveApp


def key(app, k, down=True):
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN if down else pygame.KEYUP, key=k, mod=0, unicode=""))


@pytest.fixture
def app(ring_png, tmp_path):
    a = DriveApp(ring_png, out=tmp_path / "human.csv", size=(480, 320), realtime=False, save_every_s=2.0)
    yield a
    if a.renderer.ctx is not None:
        a.renderer.release()
    pygame.quit()


def test_keys_drive_the_kart_and_the_csv_is_saved(app, tmp_path):
    key(app, pygame.K_UP)
    for _ in range(40):                         # 2 s of full throttle
        app.step()
    v1 = float(app.batch.state.speed[0])
    assert v1 > 8.0
    assert (tmp_path / "human.csv").exists()    # saved periodically while driving
    key(app, pygame.K_LEFT)
    for _ in range(6):
        app.step()
    assert app.steer > 0.5 and app.batch.state.steer[0] > 0      # smoothed, winding to the left
    key(app, pygame.K_LEFT, down=False)
    key(app, pygame.K_UP, down=False)
    key(app, pygame.K_DOWN)
    for _ in range(20):
        app.step()
    assert float(app.batch.state.speed[0]) < v1
    assert abs(app.steer) < 1e-6                # released: back to the centre
    n = len(app.batch.recorder)
    key(app, pygame.K_p)
    for _ in range(5):
        app.step()
    assert len(app.batch.recorder) == n         # paused: time stands still
    key(app, pygame.K_p)
    key(app, pygame.K_r)                        # restart: a new episode from the line
    app.step()
    assert app.batch.episode[0] == 1 and float(app.batch.state.speed[0]) < 1.0
    key(app, pygame.K_ESCAPE)
    path = app.run()
    df = T.load(path)
    assert len(df) == len(app.batch.recorder)
    assert set(df["episode"]) == {0, 1}
    assert df["throttle"].max() > 0.9 and df["brake"].max() > 0.9
    assert df.loc[df["episode"] == 0, "speed_kmh"].max() > 28


def test_laps_best_lap_delta_and_ghost(ring_track, app, tmp_path):
    from karting.sim.expert import PurePursuit
    pp = PurePursuit(ring_track, mu_use=1.2)
    app.controller = lambda a: tuple(pp.act(a.batch.state, a.batch.idx)[0])
    for _ in range(1200):
        app.step()
        if app.batch.laps[0] >= 2:
            break
    assert app.batch.laps[0] >= 2
    assert app.best is not None and app.best.lap_time == pytest.approx(app.batch.best_lap_time[0])
    assert "lap" in app.message
    # mid-lap: the live delta to the best lap is small (same driver), and the ghost is drawn
    for _ in range(60):
        app.step()
    delta = app.lap_time_now() - app.best.time_at(float(app.batch.s[0]))
    assert abs(delta) < 1.0
    gx, gy, _ = app.best.pose(app.lap_time_now())
    assert np.hypot(gx - app.batch.state.x[0], gy - app.batch.state.y[0]) < 15
    app.save()
    table = T.laps(T.load(tmp_path / "human.csv"))
    assert len(table) >= 2 and table["valid"].all()
    assert table["lap_time_s"].min() == pytest.approx(app.best.lap_time, abs=0.051)
    # the session's replay beside the CSV re-simulates bit-exactly
    from karting.replay import main as replay_main
    assert (tmp_path / "human.replay").exists()
    assert replay_main([str(tmp_path / "human.replay")]) == 0
    # ... and gives a ghost of the same best lap
    from karting.drive import Ghost
    g = Ghost.from_file(tmp_path / "human.replay")
    assert g.lap_time == pytest.approx(app.best.lap_time, abs=1e-3)
    assert np.allclose(g.pose(5.0)[:2], app.best.pose(5.0)[:2], atol=1e-3)


def test_ghost_from_an_ai_csv_and_camera_switch(ring_track, ring_png, tmp_path):
    from karting.sim.expert import reference_lap
    from karting.telemetry import write_csv
    ref = reference_lap(ring_track, record=True)
    csv = write_csv(ref.telemetry, tmp_path / "ai.csv")
    a = DriveApp(ring_png, ghost=str(csv), out=tmp_path / "h.csv", size=(320, 240), realtime=False)
    try:
        assert a.ghost is not None and a.ghost.lap_time == pytest.approx(ref.lap_time_s, abs=0.051)
        key(a, pygame.K_UP)
        for _ in range(30):
            a.step()
        frame_chase = pygame.surfarray.array3d(a.screen).copy()
        key(a, pygame.K_c)
        a.step()
        assert a.view == "fp"
        assert np.abs(pygame.surfarray.array3d(a.screen).astype(int) - frame_chase).mean() > 5
    finally:
        a.renderer.release()
        pygame.quit()


def test_bad_ghost_file_is_a_clear_error(ring_png, tmp_path, capsys):
    from karting.drive import main
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["--track", str(ring_png), "--ghost", str(bad)]) == 2
    assert "missing telemetry columns" in capsys.readouterr().err
    bad = tmp_path / "x.replay"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["--track", str(ring_png), "--ghost", str(bad)]) == 2
    assert "not a karting replay" in capsys.readouterr().err


def test_no_display_is_a_clear_error_not_an_invisible_window(ring_png, tmp_path, monkeypatch, capsys):
    from karting.drive import main
    pygame.quit()
    for var in ("SDL_VIDEODRIVER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    try:
        assert main(["--track", str(ring_png), "--out", str(tmp_path / "h.csv")]) == 2
    finally:
        pygame.quit()
    assert "no display" in capsys.readouterr().err and not (tmp_path / "h.csv").exists()


def test_an_unreachable_display_is_named_in_the_error(ring_png, tmp_path, monkeypatch, capsys):
    """DISPLAY set to a server that is not there: SDL falls back to no screen; the error says
    which display it could not reach rather than claiming DISPLAY is unset."""
    from karting.drive import main
    pygame.quit()
    for var in ("SDL_VIDEODRIVER", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DISPLAY", ":987")
    try:
        assert main(["--track", str(ring_png), "--out", str(tmp_path / "h.csv")]) == 2
    finally:
        pygame.quit()
    err = capsys.readouterr().err
    assert "no display" in err and "DISPLAY=:987" in err and "could not connect" in err


class FakePad:
    """A gamepad as SDL reports an Xbox-style one: axes 0/1 left stick, 4/5 triggers (rest -1)."""

    def __init__(self):
        self.axes = [0.0, 0.0, 0.0, 0.0, -1.0, -1.0]

    def get_numaxes(self):
        return len(self.axes)

    def get_axis(self, i):
        return self.axes[i]


def test_gamepad_steers_and_its_buttons_pause_and_restart(app):
    pad = app.joystick = FakePad()
    assert app.controls() == (0.0, 0.0)              # at rest: the keys (none held) decide
    pad.axes[0], pad.axes[5] = -0.6, 1.0             # stick left, right trigger fully in
    steer, throttle = app.controls()
    assert steer == pytest.approx(0.6) and throttle == pytest.approx(1.0)
    for _ in range(30):
        app.step()
    assert float(app.batch.state.speed[0]) > 5 and app.batch.state.steer[0] > 0
    pad.axes[0], pad.axes[5], pad.axes[4] = 0.0, -1.0, 1.0   # left trigger: brake
    assert app.controls() == (0.0, pytest.approx(-1.0))
    n = len(app.batch.recorder)
    pygame.event.post(pygame.event.Event(pygame.JOYBUTTONDOWN, button=7, joy=0, instance_id=0))
    app.step()
    app.step()
    assert app.paused and len(app.batch.recorder) == n
    pygame.event.post(pygame.event.Event(pygame.JOYBUTTONDOWN, button=7, joy=0, instance_id=0))
    pygame.event.post(pygame.event.Event(pygame.JOYBUTTONDOWN, button=6, joy=0, instance_id=0))
    app.step()
    assert not app.paused and app.batch.episode[0] == 1


def test_a_human_style_lap_replays_and_clones(ring_track, ring_png, app, tmp_path, capsys):
    """Keyboard-like driving (steering in quarter steps as a key held ramps it; full throttle,
    coasting or full brake): the replay beside
    the CSV re-simulates bit-exactly, gives back what the driver saw (its telemetry rows match
    the CSV step by step), and behaviour cloning learns the driver's actions from it."""
    import torch
    from karting import train
    from karting.replay import main as replay_main
    from karting.rl.bc import clone_replays, replay_data
    from karting.rl.policy import Agent
    from karting.sim.expert import PurePursuit
    pp = PurePursuit(ring_track, mu_use=1.0)

    def keyboard(a):
        steer, pedal = pp.act(a.batch.state, a.batch.idx)[0]
        return (float(np.round(steer * 4) / 4), 1.0 if pedal > 0.2 else (0.0 if pedal > -0.2 else -1.0))
    app.controller = keyboard
    for _ in range(900):
        app.step()
        if app.batch.laps[0] >= 1:
            break
    assert app.batch.laps[0] >= 1
    app.save()
    path = tmp_path / "human.replay"
    assert replay_main([str(path)]) == 0
    data, stats = replay_data([path], log=lambda *_: None)
    vis, tel, act, _, valid = data
    df = T.load(tmp_path / "human.csv")
    assert len(vis) == stats[0]["steps"] == len(df) and valid.all()      # drive's CSV: a row after each step
    assert set(np.unique(act[:, 1])) <= {-1.0, 0.0, 1.0}
    # observation t is what the driver saw before giving action t: the state after step t - 1,
    # CSV row t - 1 (telemetry[0] = speed / 30 m/s); at t = 0 the kart stands on the line
    assert tel[0, 0] == 0.0
    np.testing.assert_allclose(tel[1:, 0] * 30 * 3.6, df["speed_kmh"].to_numpy()[:-1], atol=0.05)
    assert vis.shape[1:] == (84, 84, 3) and vis.std() > 10          # camera images, not blanks
    agent = Agent()

    def mse():
        with torch.no_grad():
            h = agent.features(torch.as_tensor(vis), torch.as_tensor(tel))
            return float(((agent.actor(h) - torch.as_tensor(act)) ** 2).mean())
    before = mse()
    out = clone_replays(agent, None, [path], epochs=4, batch_size=64, log=lambda *_: None)
    assert out["samples"] == len(vis)
    assert mse() < 0.5 * before
    # the training command takes replays as its cloning data
    rc = train.main(["--track", str(ring_png), "--output-dir", str(tmp_path / "o"), "--no-progress",
                     "--vector-envs", "4", "--n-steps", "16", "--batch-size", "32", "--n-epochs", "1",
                     "--eval-episodes", "1", "--max-episode-steps", "20", "--timesteps", "64", "--eval-freq", "0",
                     "--bc", str(tmp_path), "--bc-epochs", "1", "--save-name", "fromhuman"])
    assert rc == 0
    assert "bc from 1 replay(s)" in capsys.readouterr().out
    assert train.main(["--track", str(ring_png), "--output-dir", str(tmp_path / "o"), "--no-progress",
                       "--bc", str(tmp_path / "nope.replay")]) == 2
    assert "give 'expert', or .replay files" in capsys.readouterr().err


def test_frames_between_steps_interpolate_the_poses(app):
    """In real time the window draws several frames per 20 Hz step: the karts at poses between
    the last two steps (a restart's jump is not smeared), and the HUD says the rate it holds."""
    key(app, pygame.K_UP)
    for _ in range(30):
        app.step()
    st = app.batch.state
    px, py, pyaw = (v.copy() for v in app.previous)
    assert np.hypot(st.x[0] - px[0], st.y[0] - py[0]) > 0.2          # moving: the two poses differ
    x0, y0, _ = app.poses(0.0)
    x1, y1, _ = app.poses(1.0)
    xm, ym, yawm = app.poses(0.5)
    assert (x0[0], y0[0]) == pytest.approx((px[0], py[0]))
    assert (x1[0], y1[0]) == (st.x[0], st.y[0])
    assert (xm[0], ym[0]) == pytest.approx(((px[0] + st.x[0]) / 2, (py[0] + st.y[0]) / 2), abs=1e-4)
    turn = (st.yaw[0] - pyaw[0] + np.pi) % (2 * np.pi) - np.pi
    assert yawm[0] == pytest.approx(pyaw[0] + turn / 2, abs=1e-5)
    app.draw(alpha=0.5)
    assert app.drawn >= 31
    before = (float(st.x[0]), float(st.y[0]))
    key(app, pygame.K_r)                     # restart: back to the line (the poses are taken after it)
    app.step()
    xs, ys, _ = app.poses(0.3)
    line = app.track.centre[0]
    assert np.hypot(xs[0] - line[0], ys[0] - line[1]) < 3.0           # at the line, not on the way there
    assert np.hypot(xs[0] - before[0], ys[0] - before[1]) > 5.0
    # a jump between the two poses (a kart put back on track) is shown at once, not slid
    app.previous[0][0] -= 50.0
    assert app.poses(0.3)[0][0] == app.batch.state.x[0]


def test_plain_window_and_fps_flag(ring_png, tmp_path):
    from karting.drive import build_parser
    args = build_parser().parse_args(["--fps", "30", "--plain"])
    assert args.fps == 30 and args.plain
    a = DriveApp(ring_png, out=tmp_path / "p.csv", size=(320, 200), realtime=False, detail=False)
    try:
        a.step()
        assert a.renderer._detail is None                   # the plain window never builds the people pass
    finally:
        a.renderer.release()
