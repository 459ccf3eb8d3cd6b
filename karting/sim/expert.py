"""A privileged scripted driver and the reference lap time (numpy only; the command is
``python -m karting.expert --track X``).

:class:`PurePursuit` reads the simulator's state (not the pixels), so it is a reference, not an RL
agent; it drives a whole batch at once. It steers by pure pursuit (Coulter 1992) towards a point
on the racing line ``lookahead_min_m + lookahead_s * speed`` ahead, from where the kart will be
after ``latency_s`` (the steering rate limit), and holds the speed of a grip-limited profile:
``v = sqrt(mu_use * g / |kappa|)`` along the line, capped at top speed, then a backward pass so
that every corner is reached at its speed with ``brake_g`` of braking (the quasi-steady-state
lap-time approach).

:func:`reference_lap` drives one batch of karts with a grid of settings (how much grip to plan
with, how closely to follow the racing line) for a standing and a flying lap, and keeps the
fastest *clean* lap (never off the asphalt or kerbs): "how fast can this kart go here". It needs
no GL, so it runs anywhere in a few seconds.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import numerics as nm
from ..files import atomic_write
from ..track import Track
from ..track.catalog import cache_dir
from ..track.geometry import curvature
from .conditions import feed_throttle
from .laps import LapBook
from .physics import CONTROL_HZ, G, KartParams
from .karts import Karts
from .replay import ReplayLog, race_settings, save


def speed_profile(track: Track, mu_use: float = 1.5, brake_g: float = 1.1, v_max: float = 27.0,
                  line: np.ndarray | None = None) -> np.ndarray:
    """Target speed [m/s] at each point of ``line`` (default the racing line): grip-limited in
    corners (``mu_use`` g), top speed ``v_max``, braking at ``brake_g`` before each corner."""
    line = track.racing_line if line is None else line
    k = np.abs(curvature(line))
    # smooth the curvature a little: single-sample spikes are discretisation, not corners
    k = nm.convolve_valid(np.concatenate([k[-3:], k, k[:3]]), np.ones(7) / 7)
    v = np.minimum(np.sqrt(mu_use * G / np.maximum(k, 1e-6)), v_max)
    ds = np.linalg.norm(np.roll(line, -1, 0) - line, axis=1)
    for _ in range(2):  # two laps backwards settle the wrap-around
        for i in range(len(v) - 1, -1, -1):
            j = (i + 1) % len(v)
            v[i] = min(v[i], np.sqrt(v[j] ** 2 + 2 * brake_g * G * ds[i]))
    return v


class PurePursuit:
    """``act(state, idx) -> (N, 2)`` actions for karts whose nearest centre-line index is ``idx``.

    ``mu_use`` and ``line_weight`` may be sequences: kart ``i`` then drives with setting
    ``i % len(settings)`` (one batch tries several settings at once, see :func:`reference_lap`).
    """

    def __init__(self, track: Track, params: KartParams = KartParams(), mu_use=1.3, brake_g=1.1,
                 lookahead_s=0.25, lookahead_min_m=2.5, speed_gain=0.8, line_weight=0.8,
                 latency_s=0.1):
        self.track, self.params = track, params
        mu = np.atleast_1d(np.asarray(mu_use, np.float64))
        lw = np.atleast_1d(np.asarray(line_weight, np.float64))
        mu, lw = np.broadcast_arrays(mu, lw)
        # follow a line between the racing line and the centre: margin for tracking errors
        self.lines = track.centre[None] + track.normal[None] * (lw[:, None] * track.racing_offset)[..., None]
        self.v_target = np.stack([speed_profile(track, m, brake_g, line=ln)
                                  for m, ln in zip(mu, self.lines)])
        self.latency_s = latency_s
        self.lookahead_s, self.lookahead_min_m, self.speed_gain = lookahead_s, lookahead_min_m, speed_gain

    def brake_earlier(self, approach_m: float, until_m: float, by_m: float) -> "PurePursuit":
        """A deliberate flaw (for coaching tests and demos): between ``approach_m`` and ``until_m``
        along the centre line, every setting's target speed is the lowest it will need within the
        next ``by_m`` metres, so the expert brakes ``by_m`` earlier into the corner there and
        carries less speed to its apex."""
        tr = self.track
        m = len(tr.centre)
        shift = int(round(by_m / tr.spacing))
        i = np.arange(int(approach_m / tr.spacing), int(until_m / tr.spacing) + 1) % m
        ahead = (i[:, None] + np.arange(shift + 1)[None]) % m
        self.v_target[:, i] = self.v_target[:, ahead].min(axis=2)
        return self

    @property
    def line(self) -> np.ndarray:
        """The line the first setting follows (M, 2)."""
        return self.lines[0]

    def act(self, state, idx: np.ndarray, grip=None) -> np.ndarray:
        """(N, 2) actions for the karts of ``state`` (nearest centre-line point ``idx``): steering
        by pure pursuit, throttle and brake towards the speed profile. ``grip`` (N,), if given, is
        the friction each kart has now relative to the dry kart (``Conditions.grip_now``: wet,
        tyre temperature and wear): the profile is then driven at ``sqrt(grip)`` times its speed,
        which is exactly the profile planned with ``grip`` times the cornering and braking g."""
        tr, p = self.track, self.params
        v = state.speed
        k = np.arange(len(v)) % len(self.lines)
        m = len(tr.centre)
        look = np.round((self.lookahead_min_m + self.lookahead_s * v) / tr.spacing).astype(np.int64)
        tgt = self.lines[k, (idx + look) % m]
        c, s = nm.cos_sin(state.yaw)
        # steer from where the kart will be when the command takes effect
        px = state.x + self.latency_s * (state.vx * c - state.vy * s)
        py = state.y + self.latency_s * (state.vx * s + state.vy * c)
        dx, dy = tgt[:, 0] - px, tgt[:, 1] - py
        fwd, left = dx * c + dy * s, -dx * s + dy * c
        ld2 = np.maximum(fwd ** 2 + left ** 2, 1e-6)
        delta = nm.arctan(2.0 * p.wheelbase_m * left / ld2)
        steer = np.clip(delta / p.max_steer_rad, -1, 1)
        vt = self.target_speed(v, idx, grip)
        err = vt - v
        throttle = np.clip(self.speed_gain * err, -1, 1)
        if grip is not None:
            # wet or cold: keep the rear tyres' drive and braking force under the grip they have
            throttle = feed_throttle(throttle, grip, state.vx, p)
        return np.stack([steer, throttle], 1).astype(np.float32)

    def target_speed(self, v: np.ndarray, idx: np.ndarray, grip=None) -> np.ndarray:
        """(N,) the speed [m/s] the expert aims for now: its profile a little ahead of ``idx`` (0.5 s
        at speed ``v``, so braking starts in time), times ``sqrt(grip)`` with ``grip`` (see :meth:`act`)."""
        k = np.arange(len(v)) % len(self.lines)
        ahead = (idx + np.round((0.5 * v) / self.track.spacing).astype(np.int64)) % len(self.track.centre)
        vt = self.v_target[k, ahead]
        if grip is not None:
            vt = vt * np.sqrt(np.asarray(grip, np.float64))
        return vt


#: the settings :func:`reference_lap` tries, fastest first: grip planned with x line weight
MU_GRID = tuple(np.round(np.arange(2.0, 0.65, -0.1), 2))
LINE_GRID = (1.0, 0.85, 0.7)


@dataclass
class ExpertLap:
    """What :func:`reference_lap` found on a track."""
    track: str
    length_m: float
    completed: bool                 # at least one clean (valid) lap
    lap_time_s: float = 0.0         # fastest clean lap (standing or flying) [s]
    sector_times_s: tuple = ()      # its sectors [s]
    standing_lap_s: float = 0.0     # that setting's first lap, from rest (0 if not clean)
    best_standing_s: float = 0.0    # the fastest clean first lap from rest of any setting (0: none)
    mu_use: float = 0.0
    line_weight: float = 0.0
    clean_settings: int = 0         # how many of the settings tried drove a clean lap
    settings_tried: int = 0
    telemetry: object = field(default=None, repr=False)   # DataFrame of the best kart's run
    laps_s: tuple = ()              # every lap of the chosen setting, in order [s] (stints)
    stint: list = field(default_factory=list, repr=False)   # per lap: time, valid, tyres, fuel, water
    kart: int = -1                  # which kart of the batch (setting) drove it

    @property
    def avg_speed_kmh(self) -> float:
        """Average speed of the reference lap [km/h]."""
        return 3.6 * self.length_m / self.lap_time_s if self.lap_time_s else 0.0


def lap_snapshot(model, i: int, number: int, lap) -> dict:
    """Kart ``i``'s lap ``number`` and its conditions at the line (a stint table's row)."""
    snap = {"lap": number, "time_s": float(lap.time_s), "valid": bool(lap.valid)}
    if model is None:
        return snap
    snap.update(grip=float(model.grip_now[i]),
                wetness_line=float(model.line_water[model.road[i], :model.track_cells[model.kart_track[i]]].mean()
                                   * model.rain[i]))
    if model.tyres is not None:
        snap.update(temp_front_c=float(model.temp[i, 0]), temp_rear_c=float(model.temp[i, 1]),
                    wear_front=float(model.wear[i, 0]), wear_rear=float(model.wear[i, 1]))
    if model.fuel0 is not None:
        snap["fuel_l"] = float(model.fuel[i])
    return snap


@dataclass
class Drive:
    """What :func:`drive_settings` drove: per kart, its laps (``book.laps[i]``), lap-end
    snapshots (``snaps[i]``), the total time of its laps and whether every one was clean."""
    batch: object
    book: object
    snaps: list
    total: np.ndarray
    all_clean: np.ndarray
    finish: np.ndarray = None     # (N,) time the last lap's line was crossed, between steps [s]

    def stint_totals(self, laps: int, precise: bool = False) -> np.ndarray:
        """(N,) total time of ``laps`` clean laps, inf where a kart did not drive them all clean;
        ``precise``: the crossing of the line interpolated within the last step (lap times
        count whole 0.05 s steps; an optimiser needs finer differences)."""
        whole = self.all_clean & (np.array([len(x) for x in self.book.laps]) >= laps)
        return np.where(whole, self.finish if precise else self.total, np.inf)


def drive_settings(track: Track, mu: np.ndarray, lw: np.ndarray, laps: int, params: KartParams = KartParams(),
                   conditions: dict | None = None, record: bool = False, setups: list | None = None,
                   flaw=None, replay: bool = False) -> Drive:
    """Kart i drives ``laps`` laps from a standing start on the centre line with expert setting
    (``mu[i]``, ``lw[i]``), in ``conditions`` (see :func:`reference_lap`) and, if given, with its
    own setup ``setups[i]`` (a KartSetup or dict); all karts at once, as one batch. ``flaw``:
    ``(approach_m, until_m, by_m)`` for :meth:`PurePursuit.brake_earlier`; ``replay``: record the
    session (``Drive.batch.replay_log``)."""
    n = len(mu)
    limit_s = laps * max(120.0, track.length / 4.0)          # 4 m/s average at worst
    cond = dict(conditions or {})
    if setups is not None and cond.get("setup") is None:
        cond["setup"] = "default"
    # exact_start: no random pose, every setting starts exactly on the line, facing the track
    batch = Karts(track, n, record_telemetry=record, max_episode_steps=int(limit_s * CONTROL_HZ),
                 params=params, exact_start=True, **cond)
    if setups is not None:
        batch.model.set_setups(setups)
    if replay:
        batch.replay_log = ReplayLog(n)
    batch.reset(np.ones(n, bool), np.random.default_rng(0))
    md = batch.model
    pp = PurePursuit(track, params, mu_use=mu, line_weight=lw)
    if flaw is not None:
        pp.brake_earlier(*flaw)
    active = np.ones(n, bool)
    book = LapBook(n)
    out = Drive(batch, book, [[] for _ in range(n)], np.zeros(n), np.ones(n, bool), np.full(n, np.inf))
    goal = batch.best_progress + laps * track.length
    while active.any():
        _, term, trunc = batch.step(pp.act(batch.state, batch.idx, None if md is None else md.grip_now))
        if record:
            batch.record()
        for i in book.update_race(batch, mask=active):
            lap = book.laps[i][-1]
            out.total[i] += lap.time_s
            out.all_clean[i] &= bool(lap.valid)
            out.snaps[i].append(lap_snapshot(md, i, len(book.laps[i]), lap))
            if len(book.laps[i]) == laps:
                over = max(0.0, float(batch.best_progress[i] - goal[i]))
                out.finish[i] = out.total[i] - min(over / max(float(batch.state.speed[i]), 1.0), 1.0 / CONTROL_HZ)
        active &= ~(term | trunc) & (book.count < laps)
    return out


def reference_lap(track: Track, laps: int = 2, mu_grid=MU_GRID, line_grid=LINE_GRID,
                  params: KartParams = KartParams(), record: bool = False, conditions: dict | None = None,
                  stint: bool = False, flaw=None, replay=None) -> ExpertLap:
    """Drive ``laps`` laps from a standing start with every setting of the grid at once and
    return the fastest clean lap. ``record=True`` keeps the telemetry of the kart that drove it.
    ``conditions`` (a dict of ``weather``, ``tyres``, ``setup``, ``fuel``: see
    :mod:`karting.sim.conditions`) drives in those conditions; the expert then adapts its speeds
    to the grip it has. ``stint=True`` chooses the setting with the fastest total of ``laps``
    clean laps instead of the fastest single lap (a race stint), and fills ``stint``. ``flaw``: a
    deliberate mistake, see :func:`drive_settings`. ``replay``: a path to write the drive's replay
    to (every setting is one kart; ``ExpertLap.kart`` says which drove the chosen lap)."""
    mu, lw = np.meshgrid(np.asarray(mu_grid, np.float64), np.asarray(line_grid, np.float64))
    mu, lw = mu.ravel(), lw.ravel()
    n = len(mu)
    d = drive_settings(track, mu, lw, laps, params, conditions, record, flaw=flaw, replay=replay is not None)
    best = np.full(n, np.inf)
    best_sectors = np.zeros((n, 3))
    standing = np.zeros(n)
    for i, kart_laps in enumerate(d.book.laps):
        for k, lap in enumerate(kart_laps):
            if lap.valid:
                if k == 0:
                    standing[i] = lap.time_s
                if lap.time_s < best[i]:
                    best[i], best_sectors[i] = lap.time_s, lap.sectors_s
    if stint:     # a stint: every lap clean, the fastest total
        best = d.stint_totals(laps)
    clean = np.isfinite(best)
    out = ExpertLap(track=track.name, length_m=track.length, completed=bool(clean.any()),
                    clean_settings=int(clean.sum()), settings_tried=n)
    if (standing > 0).any():
        out.best_standing_s = float(standing[standing > 0].min())
    if clean.any():
        i = int(np.argmin(best))
        out.lap_time_s, out.sector_times_s = float(best[i]), tuple(float(x) for x in best_sectors[i])
        out.standing_lap_s, out.mu_use, out.line_weight = float(standing[i]), float(mu[i]), float(lw[i])
        out.laps_s = tuple(float(lap.time_s) for lap in d.book.laps[i])
        if stint:
            out.stint = d.snaps[i]
            fastest = min(d.book.laps[i], key=lambda lap: lap.time_s)
            out.lap_time_s, out.sector_times_s = float(fastest.time_s), tuple(float(x) for x in fastest.sectors_s)
        out.kart = i
        if record:
            df = d.batch.recorder.to_dataframe()
            out.telemetry = df[df["env"] == i].assign(env=0).reset_index(drop=True)
    if replay is not None:
        what = f"expert: {n} settings" + (f", kart {out.kart} drove the reference lap" if out.completed else "")
        save(replay, d.batch.replay_log, d.batch, track, race_settings(d.batch), what)
    return out


def reference_key(track: Track, laps: int) -> str:
    """The derived track's content, the lap count and the source of the code that decides a lap
    time (physics, race, expert): a cached reference is recomputed when any of them changes."""
    h = hashlib.sha256(f"reference v2 laps={laps}\n".encode())
    for a in (track.surface, track.centre, track.gates, track.racing_offset):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr((track.scale, track.length, track.sector_gates)).encode())
    here = Path(__file__).parent
    for name in ("physics.py", "karts.py", "expert.py", "laps.py", "../numerics.py", "../kart.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


def reference_cached(track: Track, laps: int = 2) -> dict:
    """:func:`reference_lap`'s numbers (no telemetry) as a dict, kept on disk next to the track
    cache (``$KARTING_CACHE_DIR``) so that each track and code version is driven once."""
    keys = ("track", "length_m", "completed", "lap_time_s", "sector_times_s", "standing_lap_s",
            "best_standing_s", "mu_use", "line_weight", "clean_settings", "settings_tried")
    key = reference_key(track, laps)
    d = cache_dir()
    f = None if d is None else d.parent / "reference" / f"{track.name[:40]}-{key[:24]}.json"
    if f is not None and f.exists():
        try:
            out = json.loads(f.read_text())
            if out.get("key") == key:
                return {k: out[k] for k in keys}
        except (OSError, ValueError, KeyError):
            pass
    r = reference_lap(track, laps=laps)
    out = {k: getattr(r, k) for k in keys}
    out["sector_times_s"] = list(out["sector_times_s"])
    if f is not None:
        try:
            atomic_write(f, lambda fh: fh.write(json.dumps({**out, "key": key})), text=True)
        except OSError:
            pass
    return out
