"""`python -m karting.drive`: a person drives a kart; telemetry is saved as for the AI.

    python -m karting.drive --track circuit.png [--view chase|fp] [--ghost best|FILE.csv|none]
    python -m karting.drive --track circuit.png --opponents 3 --difficulty club   # race the AI
    python -m karting.drive --track circuit.png --size 1280x800 --fps 60 [--plain]

Keys: arrows or WASD (steering is smoothed: holding a key winds the lock on over ~0.3 s and
letting go returns it), Up/W throttle, Down/S brake; a gamepad is used when one is connected
(left stick steers, right trigger throttle, left trigger brake; Start pauses, Back restarts,
Y switches the camera). P pauses, R restarts from the line, C switches chase / first-person
camera, G toggles the ghost, Esc or Q quits.

The window draws the scenery made for people (karts with wheels, drivers and numbers, shadows,
tyre stacks, kerbs, trees, a sky with clouds: :mod:`karting.env.scenery`) at up to ``--fps``
frames a second, the karts' poses interpolated between the 20 Hz simulation steps; ``--plain``
draws what the AI's camera sees instead (faster on a software renderer). The HUD's corner says
the frame rate it holds.

The HUD shows speed, lap, lap time, last and best lap, the sector splits of this lap against the
best lap's, the live delta to the best lap and a track map. The ghost replays the best lap of
this session (``--ghost best``, the default) or the best lap of a telemetry CSV, e.g. an AI's
from ``karting.play`` (``--ghost telemetry_logs/ai.csv``). Telemetry (the env's schema, one
episode per restart) goes to ``telemetry_logs/human_<track>_<time>.csv`` and the session's replay
(time trials and races; ``python -m karting.replay``) beside it as ``.replay``: written on quit, after
every lap and every 10 s of driving (atomically), so a crash loses at most a few seconds.

With ``--opponents`` the person starts from the back of a grid of AI karts (start lights, a jump
start costs 5 s), karts collide, and the HUD shows the position, the gaps and the standings;
R restarts the race. The results are printed at the end and the race and the person's valid
laps go to the track's leaderboard.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from .telemetry import leaderboard
from . import telemetry as T
from .cli import options
from .env.batch import KartBatch
from .env.render import CHASE, FIRST_PERSON, Renderer, RendererUnavailable
from .env.session import Session
from .extras import MissingExtra, require
from .scenario import Scenario, parse_opponents
from .sim.laps import LapBook
from .sim.karts import RewardConfig
from .sim.race_control import RETIRED, RUNNING, format_results
from .sim.replay import load, resolve_track, simulate
from .telemetry import TelemetryError, write_csv
from .rl.evaluate import policy_actions
from .track import TrackError, load_track

#: the physics runs at the env's 20 Hz control rate; the window draws up to DRAW_HZ frames a
#: second in real time, the karts' poses interpolated between the last two steps
FRAME_HZ = 20
DRAW_HZ = 60
TELEPORT_M = 5.0              # a kart that moved further in one step (a restart) is not interpolated
STEER_ON_PER_S = 3.5          # keyboard steering: lock wound on at this rate [1/s] ...
STEER_OFF_PER_S = 5.0         # ... and returned to the centre at this one
DEADZONE = 0.08
PAD_BACK, PAD_START, PAD_Y = 6, 7, 3   # SDL's Xbox-style button numbers: restart, pause, camera


def no_gl_in_sdl():
    """Keep SDL from using OpenGL to present the window.

    On Linux SDL decides how to show a window's pixels by creating a hidden GLX window and
    context (and on NVIDIA/AMD drivers keeps one to draw through). A GLX context on the thread
    that also drives the renderer's EGL context crashed moderngl's draws under a real X server
    (segfault in ``render``) or left the window black. With the hint off SDL blits through
    MIT-SHM and never touches GL, so the EGL context is the only one on this thread. Must be
    set before ``pygame.display.set_mode``."""
    os.environ["SDL_FRAMEBUFFER_ACCELERATION"] = "0"


class Ghost:
    """One lap replayed from telemetry: pose at a time since the lap started."""

    def __init__(self, trace, label, lap_time=None):
        self.t = trace["time_s"].to_numpy()
        self.x, self.y = trace["x_m"].to_numpy(), trace["y_m"].to_numpy()
        self.yaw = trace["heading_rad"].to_numpy()
        self.dist = trace.index.to_numpy()
        self.lap_time = float(self.t[-1] if lap_time is None else lap_time)
        self.label = label

    def pose(self, t):
        t = min(max(t, 0.0), float(self.t[-1]))
        return (float(np.interp(t, self.t, self.x)), float(np.interp(t, self.t, self.y)),
                float(np.interp(t, self.t, self.yaw)))

    def time_at(self, dist_m):
        return float(np.interp(dist_m, self.dist, self.t))

    @classmethod
    def from_file(cls, path):
        """The best lap of a telemetry CSV or of a .replay (re-simulated, its best valid lap)."""
        return cls.from_replay(path) if str(path).endswith(".replay") else cls.from_csv(path)

    @classmethod
    def from_replay(cls, path):
        rep = load(path)
        b = KartBatch.from_replay(rep, resolve_track(rep), record_telemetry=True)
        simulate(rep, b, on_step=lambda t: b.record(), on_start=b.record)
        df = b.recorder.to_dataframe()
        key, row = T.pick_lap(df, "best")
        return cls(T.lap_trace(df, key), f"{Path(path).stem} {row['lap_time_s']:.2f} s", float(row["lap_time_s"]))

    @classmethod
    def from_csv(cls, path):
        df = T.load(path)
        key, row = T.pick_lap(df, "best")
        return cls(T.lap_trace(df, key), f"{Path(path).stem} {row['lap_time_s']:.2f} s",
                   float(row["lap_time_s"]))


class Hud:
    """What the window shows over the world: speed, lap and sector times, delta to the best lap,
    messages, race standings and lights, the map with every kart, the keys."""

    def __init__(self, pygame, screen, size, track):
        self.pg, self.screen, self.size = pygame, screen, size
        self.font = pygame.font.SysFont("dejavusansmono,monospace", 18, bold=True)
        self.big = pygame.font.SysFont("dejavusansmono,monospace", 40, bold=True)
        self.small = pygame.font.SysFont("dejavusansmono,monospace", 13)
        self.map = self._make_map(track)

    def _make_map(self, tr):
        # 230 x 170 in the default 960 x 600 window; smaller windows get a smaller map
        box = (int(self.size[0] * 0.24), int(self.size[1] * 0.28))
        pts = tr.centre
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        f = min((box[0] - 16) / max(hi[0] - lo[0], 1e-6), (box[1] - 16) / max(hi[1] - lo[1], 1e-6))
        to_map = lambda p: np.stack([8 + (p[..., 0] - lo[0]) * f, box[1] - 8 - (p[..., 1] - lo[1]) * f], -1)  # noqa: E731
        surf = self.pg.Surface(box, self.pg.SRCALPHA)
        surf.fill((0, 0, 0, 150))
        self.pg.draw.lines(surf, (230, 230, 230), True, to_map(pts).tolist(), 3)
        g = to_map(tr.gates[0])
        self.pg.draw.line(surf, (255, 60, 60), g[0], g[1], 3)
        return surf, to_map

    def text(self, text, pos, font=None, colour=(255, 255, 255)):
        font = font or self.font
        surf = font.render(text, True, colour)
        bg = self.pg.Surface((surf.get_width() + 10, surf.get_height() + 4), self.pg.SRCALPHA)
        bg.fill((0, 0, 0, 140))
        self.screen.blit(bg, (pos[0] - 5, pos[1] - 2))
        self.screen.blit(surf, pos)

    def draw(self, app, ghost, xs, ys):
        """Speed, lap and sector times, delta, messages, the map with every kart, the keys."""
        b = app.batch
        w, h = self.size
        self.text(f"{float(b.state.speed[0]) * 3.6:5.1f} km/h", (16, 12), self.big)
        if app.racing:
            self.race(app)
        lap_no = int(b.laps[0]) + int(b.lap_timed[0])
        lt = max(app.lap_time_now(), 0.0)       # 0 while the start lights are on
        lines = [f"lap {lap_no}   {lt:6.2f} s" + ("" if b.lap_valid[0] else "  INVALID"),
                 f"last {b.last_lap_time[0]:6.2f} s" if b.last_lap_time[0] else "last    -",
                 f"best {app.best.lap_time:6.2f} s" if app.best else "best    -"]
        if app.best is not None and b.lap_timed[0]:
            delta = lt - app.best.time_at(float(b.s[0]))
            lines.append(f"delta {delta:+6.2f} s")
        for k, t in enumerate(app.splits[:3]):
            prev = app.splits[k - 1] if k else 0.0
            ref = f" ({t - prev - app.best_sectors[k]:+.2f})" if app.best_sectors else ""
            lines.append(f"S{k + 1} {t - prev:6.2f} s{ref}")
        for i, line in enumerate(lines):
            colour = (255, 255, 255)
            if line.startswith("delta"):
                colour = (120, 255, 120) if line.split()[1].startswith("-") else (255, 120, 120)
            x = min(w - 270, w - self.font.size(line)[0] - 14)         # "... INVALID" fits the window
            self.text(line, (x, 12 + 26 * i), colour=colour)
        if b.off_track[0]:
            self.text("OFF TRACK", (w // 2 - 60, 100), self.font, (255, 80, 80))     # under the message line
        if app.paused:
            self.text("PAUSED (P)", (w // 2 - 70, h // 2), self.big)
        if app.message:
            self.text(app.message, (16, 70), self.font)
        surf, to_map = self.map
        self.screen.blit(surf, (w - surf.get_width() - 10, h - surf.get_height() - 10))
        off = np.array([w - surf.get_width() - 10, h - surf.get_height() - 10])
        for i, (x, y) in enumerate(zip(xs, ys)):
            p = to_map(np.array([x, y])) + off
            self.pg.draw.circle(self.screen, (255, 60, 60) if i == 0 else (240, 240, 240), p, 5)
        ghost_txt = f"   ghost: {ghost.label}" if (ghost is not None and app.show_ghost) else ""
        keys = "R restart  " if app.restarts else ""             # a championship round has no restarts
        fps = f"   {app.fps_now:.0f} fps" if app.realtime and app.fps_now else ""
        self.text(f"arrows/WASD drive  P pause  {keys}C camera  G ghost  Esc quit" + ghost_txt + fps,
                   (12, h - 24), self.small)

    def race(self, app):
        """Position, gap, the standings and the start lights."""
        rc, w = app.control, self.size[0]
        gap = f"  +{rc.gap_ahead_s[0]:.1f} s to P{rc.position[0] - 1}" if rc.position[0] > 1 and rc.time_s > 0 else ""
        self.text(f"P{rc.position[0]}/{app.batch.n}{gap}", (16, 110), self.font, (255, 230, 90))
        for k, i in enumerate(rc.standings()[:10]):
            name = rc.drivers[i]
            self.text(f"{k + 1:>2} {name[:12]:<12}", (16, 140 + 20 * k), self.small,
                       (255, 230, 90) if i == 0 else (235, 235, 235))
        lit = rc.lights_on
        if lit:
            for k in range(5):
                self.pg.draw.circle(self.screen, (230, 20, 20) if k < lit else (60, 60, 60),
                                    (w // 2 - 60 + 45 * k, int(self.size[1] * 0.3)), 18)


class DriveApp:
    """The window, the input, one kart's simulation, the recorder. ``step()`` is one frame."""

    def __init__(self, track="circuit.png", view="chase", ghost="best", out=None,
                 size=(960, 600), realtime=True, save_every_s=10.0, controller=None,
                 opponents=0, difficulty="club", laps=3, start_lights=True, models=(), names=None,
                 grid_order=None, conditions=None, max_laps=None, device="cpu", obs=None, restarts=True, seed=0,
                 fps=DRAW_HZ, detail=True):
        """A time trial, or with ``opponents`` (AI levels) and/or ``models`` ([(agent, config)],
        driven by :func:`~karting.rl.evaluate.policy_actions` on ``device``; ``obs`` their
        observation fields) a race from ``grid_order`` (default: the person at the back).
        ``max_laps`` ends a time trial after that many laps (a qualifying run); ``restarts=False``
        ignores R (a championship round); ``conditions``: weather and the like (Scenario fields);
        ``seed``: the AI drivers' and the starts' randomness. In real time the window draws up to
        ``fps`` frames a second (the poses interpolated between the 20 Hz steps); ``detail=False``
        draws the observation camera's plain scenery (boxes, flat walls: faster)."""
        pygame = require("pygame", "gui")
        self.pg = pygame
        self.track = load_track(track)
        # a person is never ended by the RL episode rules; a crash into the tyre wall stops the
        # kart and asks for R
        rules = RewardConfig(max_off_track_s=1e9, max_wrong_way_s=1e9, max_backwards_m=1e9,
                             max_stall_s=1e9)
        levels = parse_opponents(opponents, difficulty)
        self.models, self.device, self.max_laps, self.restarts = list(models), device, max_laps, restarts
        self.racing = bool(levels) or bool(self.models)
        n = 1 + len(self.models) + len(levels)
        extra = {**(obs or {}), **(conditions or {})}
        if self.racing:                   # the person at the back of the grid unless grid_order says
            sc = Scenario.race(self.track, levels, learners=1 + len(self.models), laps=laps,
                               start_lights=start_lights, reward=rules, record_telemetry=True, **extra)
            ghost = "none"
        else:
            sc = Scenario.time_trial(self.track, 1, max_episode_steps=2 ** 31 - 1, reward=rules,
                                     record_telemetry=True, **extra)
        # the race assembly is the env's (karting.env.session); the window draws with its own
        # renderer (one more pose slot: the ghost); the models' cameras are the session's
        names = names or ["you"] + [f"AI {lv}" for lv in levels]
        self.session = Session(sc, render=bool(self.models), names=names, tracks=[self.track],
                               grid_order=grid_order, seed=seed)
        self.obs = None
        self.batch, self.control, self.ai = self.session.batch, self.session.control, self.session.ai
        self.renderer = Renderer(self.track, n + 1)     # pose slots for the karts and the ghost
        self.gl_renderer = self.renderer.gl_renderer
        if detail:
            self.renderer.prepare_detail()
        self.rng = np.random.default_rng(seed)
        self.book = LapBook(n)
        name = self.track.name.removesuffix(".png")
        self.out = Path(out) if out else Path("telemetry_logs") / f"human_{name}_{time.strftime('%Y%m%d-%H%M%S')}.csv"
        self.view, self.realtime, self.save_every_s = view, realtime, save_every_s
        self.fps, self.detail = max(int(fps), FRAME_HZ), bool(detail)
        self.previous = None                 # the poses before the last step: (x, y, yaw)
        self.frames = []                     # when each frame was drawn (the last seconds; fps_now)
        self.drawn, self.run_s, self.mean_fps = 0, 0.0, 0.0   # frames drawn, seconds in run(), their rate
        self.controller = controller          # tests and demos: f(app) -> (steer, throttle)
        no_gl_in_sdl()
        for part in (pygame.display, pygame.font, pygame.joystick):   # no audio: nothing to play
            part.init()
        pygame.display.set_caption(f"karting: {self.track.name}")
        self.screen = pygame.display.set_mode(size)
        self.size = size
        self.joystick = None
        if pygame.joystick.get_count() > 0:
            self.joystick = pygame.joystick.Joystick(0)
        self.held = set()
        self.steer = 0.0
        self.paused = False
        self.running = True
        self.show_ghost = ghost not in (None, "none")
        self.ghost = Ghost.from_file(ghost) if ghost not in (None, "none", "best") else None
        self.best = None                     # Ghost of this session's best valid lap
        self.best_sectors = None
        self.last_saved_t = 0.0
        self.saved_rows = 0
        self.message = ""
        self.hud = Hud(pygame, self.screen, size, self.track)
        # a replay beside the telemetry: karting.replay re-runs the session (a race: every kart)
        self.session.start_replay()
        self.restart(first=True)

    # ------------------------------------------------------------ session
    def restart(self, first=False):
        if not first and not self.restarts:
            self.message = "no restarts in a championship round (Esc retires)"
            return
        self.session.restart(self.rng)
        if self.models:
            self.obs = self.session.observe(np.ones(self.batch.n, bool))
        self.results_shown = False
        self.after_flag = 0
        self.steer = 0.0
        self.splits = []                     # sector split times of the current lap
        self.book.start()
        self.sector_seen = int(self.batch.sector[0])
        if not first:
            self.message = "restarted"

    def lap_time_now(self):
        b = self.batch
        return float(b.time_s[0] - b.lap_start[0])

    @property
    def laps_done(self) -> int:
        return int(self.book.count[0])

    def _on_lap_done(self):
        """A lap was completed this step: update the best lap (and the ghost) from telemetry."""
        b = self.batch
        lap = self.book.laps[0][-1]
        t, valid = lap.time_s, lap.valid
        self.message = f"lap {t:.2f} s" + ("" if valid else " (invalid)")
        if valid and (self.best is None or t < self.best.lap_time - 1e-6):
            df = b.recorder.to_dataframe()
            key = (0, int(b.episode[0]), int(b.laps[0]))
            try:
                self.best = Ghost(T.lap_trace(df, key), f"best {t:.2f} s", t)
                self.best_sectors = list(lap.sectors_s)
                self.message += "  NEW BEST"
            except T.TelemetryError:
                pass
        self.splits = []
        self.save()
        if self.max_laps and self.laps_done >= self.max_laps:
            self.running = False             # a qualifying run: its laps are done

    # ------------------------------------------------------------ input
    def handle(self, e):
        pg = self.pg
        if e.type == pg.QUIT:
            self.running = False
        elif e.type == pg.KEYDOWN:
            self.held.add(e.key)
            if e.key in (pg.K_ESCAPE, pg.K_q):
                self.running = False
            elif e.key == pg.K_p:
                self.paused = not self.paused
            elif e.key == pg.K_r:
                self.restart()
            elif e.key == pg.K_c:
                self.view = "fp" if self.view == "chase" else "chase"
            elif e.key == pg.K_g:
                self.show_ghost = not self.show_ghost
        elif e.type == pg.KEYUP:
            self.held.discard(e.key)
        elif e.type == pg.JOYBUTTONDOWN:
            if e.button == PAD_START:
                self.paused = not self.paused
            elif e.button == PAD_BACK:
                self.restart()
            elif e.button == PAD_Y:
                self.view = "fp" if self.view == "chase" else "chase"
        elif e.type == pg.JOYDEVICEADDED and self.joystick is None:
            self.joystick = pg.joystick.Joystick(e.device_index)
        elif e.type == pg.JOYDEVICEREMOVED:
            self.joystick = None

    def controls(self):
        """(steering, throttle) in [-1, 1] from the gamepad if it is being used, else the keys."""
        pg = self.pg
        dt = 1.0 / FRAME_HZ
        left = bool(self.held & {pg.K_LEFT, pg.K_a})
        right = bool(self.held & {pg.K_RIGHT, pg.K_d})
        target = float(left) - float(right)          # + = left, as in the env
        rate = STEER_ON_PER_S if target != 0 else STEER_OFF_PER_S
        self.steer += float(np.clip(target - self.steer, -rate * dt, rate * dt))
        gas = float(bool(self.held & {pg.K_UP, pg.K_w}))
        brake = float(bool(self.held & {pg.K_DOWN, pg.K_s}))
        steer, throttle = self.steer, gas - brake
        j = self.joystick
        if j is not None:
            try:
                ax = [j.get_axis(i) for i in range(j.get_numaxes())]
            except pg.error:
                ax = []
            js = -ax[0] if ax else 0.0
            if len(ax) >= 6:     # triggers rest at -1
                jt = (ax[5] + 1) / 2 - (ax[4] + 1) / 2
            elif len(ax) >= 2:
                jt = -ax[1]
            else:
                jt = 0.0
            if abs(js) > DEADZONE or abs(jt) > DEADZONE:
                steer, throttle = js, jt
        return float(np.clip(steer, -1, 1)), float(np.clip(throttle, -1, 1))

    # ------------------------------------------------------------ frame
    def step(self, draw: bool = True):
        """Events, one simulation step (unless paused) and, with ``draw``, a frame."""
        self.events()
        if not self.running:
            return
        if not self.paused:
            steer, throttle = self.controller(self) if self.controller else self.controls()
            b = self.batch
            st = b.state
            self.previous = (st.x.copy(), st.y.copy(), st.yaw.copy())
            _, term, _ = self.session.simulate(self.actions(steer, throttle))
            if self.models:
                self.obs = self.session.observe()
            self.session.record()
            if b.sector[0] != self.sector_seen:
                self.splits.append(self.lap_time_now() if b.sector[0] != 0 else 0.0)
                self.sector_seen = int(b.sector[0])
            if 0 in self.book.update_race(b):
                self._on_lap_done()
            if self.racing:
                self._race_step(term)
            if term[0]:
                self.message = "into the tyre wall: R restarts"
            if b.time_s[0] - self.last_saved_t >= self.save_every_s:
                self.save()
        if draw:
            self.draw()
            self.pg.display.flip()

    def events(self):
        for e in self.pg.event.get():
            self.handle(e)

    def actions(self, steer: float, throttle: float) -> np.ndarray:
        """The karts driven from outside this step: the person's, then each model's."""
        acts = np.zeros((1 + len(self.models), 2), np.float32)
        acts[0] = steer, throttle
        for k, (agent, _) in enumerate(self.models, 1):
            o = {"vision": self.obs["vision"][k:k + 1], "telemetry": self.obs["telemetry"][k:k + 1]}
            acts[k] = policy_actions(agent, o, self.device)[0]
        return acts

    def _race_step(self, term):
        rc = self.control                  # the session's step ran the race control
        if rc.status[0] == 3 and not self.message.startswith("OUT"):
            self.message = f"OUT: {rc.retire_reason[0]}. " + ("R restarts the race" if self.restarts else "Esc leaves")
        again = "R restarts the race" if self.restarts else "Esc leaves"
        if rc.status[0] in (1, 2) and not self.results_shown:
            self.message = f"FINISHED P{rc.position[0]}/{self.batch.n}. {again}"
            self.results_shown = True
        if not self.restarts and rc.done:     # a championship round: the window closes 2 s after the flag
            self.after_flag += 1
            if self.after_flag >= 2 * FRAME_HZ:
                self.running = False

    def run(self):
        """The window's loop until Esc or the end. In real time: a simulation step every 1/20 s
        and frames in between at up to ``fps`` (as many as the machine draws); otherwise (tests,
        demos) one step and one frame per loop, as fast as it goes."""
        clock = self.pg.time.Clock()
        step_s = 1.0 / FRAME_HZ
        behind = step_s                  # simulated time owed to the clock
        start, drawn = time.perf_counter(), self.drawn
        try:
            while self.running:
                if not self.realtime:
                    self.step()
                    continue
                behind += min(clock.tick(self.fps) / 1000.0, 0.25)
                while behind >= step_s and self.running:
                    self.step(draw=False)
                    behind -= step_s
                if self.running:
                    self.events()
                    self.draw(alpha=1.0 if self.paused else behind / step_s)
                    self.pg.display.flip()
        finally:
            self.run_s += time.perf_counter() - start
            self.mean_fps = (self.drawn - drawn) / max(self.run_s, 1e-9)
            path = self.save()
            self.renderer.release()
            self.pg.quit()
        return path

    def save(self):
        """Write all telemetry so far (atomically). Returns the path, or None if empty."""
        rec = self.batch.recorder
        self.last_saved_t = float(self.batch.time_s[0])
        if len(rec) == 0 or len(rec) == self.saved_rows:
            return self.out if self.saved_rows else None
        write_csv(rec.to_dataframe(), self.out, {**rec.meta, "driver": "human"})
        self.saved_rows = len(rec)
        if self.batch.replay_log is not None:
            self.session.save_replay(self.out.with_suffix(".replay"), "drive (race)" if self.racing else "drive")
        return self.out

    # ------------------------------------------------------------ drawing
    def poses(self, alpha: float = 1.0) -> tuple:
        """(x, y, yaw) of every kart ``alpha`` of the way from the poses before the last step to
        the current ones (karts that jumped, e.g. a restart, at their current pose)."""
        st = self.batch.state
        if self.previous is None or alpha >= 1.0:
            return st.x, st.y, st.yaw
        px, py, pyaw = self.previous
        a = np.float32(alpha)
        turn = (st.yaw - pyaw + np.float32(np.pi)) % np.float32(2 * np.pi) - np.float32(np.pi)
        jumped = np.hypot(st.x - px, st.y - py) > TELEPORT_M
        x = np.where(jumped, st.x, px + (st.x - px) * a)
        y = np.where(jumped, st.y, py + (st.y - py) * a)
        return x, y, np.where(jumped, st.yaw, pyaw + turn * a)

    def draw(self, alpha: float = 1.0):
        """A frame: the karts ``alpha`` of the way through the last step (see :meth:`poses`)."""
        pg, b = self.pg, self.batch
        keep = np.ones(b.n, bool) if self.control is None else (self.control.status == 0)
        keep[0] = True
        x, y, yaw = self.poses(alpha)
        xs, ys, yaws = list(x[keep]), list(y[keep]), list(yaw[keep])
        steer = list(b.state.steer[keep])
        ghost = self.ghost or self.best
        if self.show_ghost and ghost is not None and self.laps_done + int(b.lap_timed[0]) >= 1:
            gx, gy, gyaw = ghost.pose(self.lap_time_now() - (1.0 - min(alpha, 1.0)) / FRAME_HZ)
            xs, ys, yaws, steer = xs + [gx], ys + [gy], yaws + [gyaw], steer + [0.0]
        w, h = self.size
        cam = CHASE if self.view == "chase" else FIRST_PERSON
        img = self.renderer.render_chase(np.array(xs), np.array(ys), np.array(yaws), 0, (w, h), cam,
                                         detail=self.detail, steer=np.array(steer, np.float32), rgba=True)
        self.screen.blit(pg.image.frombuffer(img, (w, h), "RGBX"), (0, 0))   # rows top-down, as SDL's
        self.hud.draw(self, ghost, xs, ys)
        now = time.perf_counter()
        self.frames = [t for t in self.frames if now - t < 2.0] + [now]
        self.drawn += 1

    @property
    def fps_now(self) -> float:
        """Frames drawn per second over the last two seconds."""
        f = self.frames
        return (len(f) - 1) / (f[-1] - f[0]) if len(f) > 1 and f[-1] > f[0] else 0.0

    def finish(self):
        """The race's results (printed) and the leaderboard: the person's valid laps and, in a
        race, the classification. Returns the results or None."""
        laps = [lap.as_dict() for lap in self.book.laps[0]]
        leaderboard.add_laps(self.track.name, "human", laps, "human")
        if not self.racing:
            return None
        results = self.control.results()
        if any(r["status"] != "running" for r in results):
            leaderboard.add_race(self.track.name, self.control.rules.laps, results)
        return results


class NoDisplay(RuntimeError):
    """No screen to open the window on (the message says why and what to do)."""


def check_display(pygame) -> None:
    """Raise :class:`NoDisplay` unless SDL found a real screen (or the dummy driver was asked for)."""
    no_gl_in_sdl()
    pygame.display.init()
    if pygame.display.get_driver() in ("offscreen", "dummy") and not os.environ.get("SDL_VIDEODRIVER"):
        tried = [f"{v}={os.environ[v]}" for v in ("DISPLAY", "WAYLAND_DISPLAY") if os.environ.get(v)]
        why = (f"{' and '.join(tried)} is set but SDL could not connect to it: is that server running and "
               f"accepting connections?" if tried else "no X11/Wayland session, DISPLAY unset")
        raise NoDisplay(f"no display: SDL found no screen to open a window on ({why}). Run karting.drive on "
                        "a desktop; set SDL_VIDEODRIVER=dummy only to run it blind (scripts/tests).")


def _open(track, **kw) -> DriveApp:
    """A window for a championship round; :class:`NoDisplay` without a screen."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    check_display(require("pygame", "gui"))
    return DriveApp(track, restarts=False, **kw)


def qualifying_run(track, laps: int, conditions: dict, out, controller=None, realtime=True) -> float | None:
    """A championship round's qualifying for the person: ``laps`` laps alone from a standing
    start (Esc ends it early); the best valid lap in seconds, or None."""
    app = _open(track, out=out, conditions=conditions, max_laps=laps, controller=controller, realtime=realtime)
    app.message = f"QUALIFYING: best valid lap of {laps} sets the grid"
    app.run()
    best = [lap.time_s for lap in app.book.laps[0] if lap.valid]
    return round(float(min(best)), 3) if best else None


def championship_race(track, levels, models, names, grid_order, laps, conditions, folder, obs, device, seed,
                      controller=None, realtime=True) -> tuple:
    """A championship round's race with the person (kart 0), ``models`` (karts 1..M) and the AI
    ``levels``, from ``grid_order``. Esc retires the person; the others then race to the flag
    without the window. Returns (results, {"telemetry": csv, "replay": file})."""
    folder = Path(folder)
    app = _open(track, out=folder / "race.csv", opponents=list(levels), models=models, names=names,
                grid_order=grid_order, laps=laps, conditions=conditions, obs=obs, device=device,
                controller=controller, realtime=realtime, seed=seed, start_lights=False)
    app.run()
    rc, b = app.control, app.batch
    if not rc.done:
        if rc.status[0] == RUNNING:      # the person left: retired, the race goes on without the window
            rc.status[0], rc.retire_reason[0], rc.finish_time[0] = RETIRED, "quit the window", float(b.time_s[0])
            b.collidable[0] = False
        while not rc.done:
            app.session.simulate(app.actions(0.0, -1.0))
            if app.models:
                app.obs = app.session.observe()
            app.session.record()
        app.save()
    results = rc.results()
    if not conditions:
        app.finish()
    return results, {"telemetry": app.out, "replay": app.out.with_suffix(".replay")}


def build_parser():
    ap = options.parser("python -m karting.drive", __doc__)
    options.track(ap)
    ap.add_argument("--view", choices=("chase", "fp"), default="chase", help="camera (C switches)")
    ap.add_argument("--ghost", default="best",
                    help="best (this session's best lap, default), a telemetry CSV or a .replay (its best "
                         "lap), or none")
    options.outputs(ap, out="telemetry CSV of your laps (default telemetry_logs/human_<track>_<time>.csv; "
                            "a .replay and a .meta.json go beside it)")
    options.size(ap, "960x600")
    ap.add_argument("--fps", type=int, default=DRAW_HZ,
                    help=f"frames a second to draw at most (default {DRAW_HZ}; the karts' poses are interpolated "
                         f"between the {FRAME_HZ} Hz simulation steps; a slow machine draws what it can)")
    ap.add_argument("--plain", action="store_true",
                    help="draw the observation camera's plain scenery (boxes, flat walls): faster on a software "
                         "renderer")
    options.race(ap, opponents="0", extra="0: drive alone")
    return ap


def main(argv=None):
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
        if len(size) != 2 or min(size) < 200:
            raise ValueError
    except ValueError:
        ap.error(f"--size {args.size!r}: give WIDTHxHEIGHT, e.g. 960x600")
    try:
        parse_opponents(args.opponents, args.difficulty)
        if args.laps < 1:
            raise ValueError(f"--laps must be >= 1 (got {args.laps})")
        if not FRAME_HZ <= args.fps <= 240:
            raise ValueError(f"--fps must be between {FRAME_HZ} and 240 (got {args.fps})")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        pygame = require("pygame", "gui")
    except MissingExtra as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        check_display(pygame)
    except NoDisplay as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        app = DriveApp(args.track, args.view, args.ghost, args.out, size, opponents=args.opponents,
                       difficulty=args.difficulty, laps=args.laps, fps=args.fps, detail=not args.plain)
    except (TrackError, RendererUnavailable, TelemetryError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # pygame.error: no display
        if type(e).__name__ == "error":
            print(f"error: cannot open a window ({e}); karting.drive needs a display", file=sys.stderr)
            return 2
        raise
    path = app.run()
    print(f"frames: {app.mean_fps:.0f} a second on average ({app.drawn} in {app.run_s:.0f} s, at most {app.fps}; "
          f"{app.gl_renderer})")
    results = app.finish()
    if results:
        print(format_results(results, app.track.name, args.laps))
    if path:
        print(f"telemetry: {path} ({app.saved_rows} rows)")
        print(f"see it with: python -m karting.telemetry summary {path}")
        print(f"coaching:    python -m karting.coach {path} --out {path.with_suffix('.html')}")
        if path.with_suffix(".replay").exists():
            print(f"replay:      python -m karting.replay {path.with_suffix('.replay')} --camera tv "
                  f"--video {path.with_suffix('.mp4')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
