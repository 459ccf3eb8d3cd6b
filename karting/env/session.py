"""The karts of a :class:`karting.scenario.Scenario` as one batch: :class:`Session`.

One physics batch (:class:`karting.env.batch.KartBatch`), one renderer drawing every kart, one
render pass and one readback per step for the karts that have a camera (those driven from
outside). In a race the session also holds the race control (grid, start, rules, positions) and
the AI drivers of the AI karts; ``races=M`` puts M copies of the race in the batch (karts of
different races neither touch nor see each other). In a time trial each kart is its own episode
and there is no race control. What the env, the race command, replays and the bench build on.
"""
from __future__ import annotations

import numpy as np

from ..scenario import LEAGUE, LEARNER, Scenario
from ..sim.opponents import AIDriver, level
from ..sim.race_control import RUNNING, RaceControl, RaceRules, closing_speed, grid_slots
from ..sim.recording import CONDITION_COLUMNS, RACE_COLUMNS, TelemetryRecorder
from ..track import Track, load_track
from .batch import KartBatch
from .spec import check_actions


def load_tracks(scenario: Scenario) -> list:
    """The scenario's tracks as Track objects (a name or path is loaded, its checkpoints applied)."""
    return [t if isinstance(t, Track) else load_track(t, scenario.checkpoints) for t in scenario.tracks]


def race_recorder(batch) -> TelemetryRecorder:
    """A telemetry recorder with a race's columns (and the conditions', when they are modelled)."""
    rec = TelemetryRecorder(extra={**RACE_COLUMNS, **(CONDITION_COLUMNS if batch.model is not None else {})})
    rec.meta = batch.recording_meta()
    return rec


def default_names(drivers) -> list:
    return [f"AI {level(d).name}" if d not in (LEARNER, LEAGUE) else f"kart {i}" for i, d in enumerate(drivers)]


class Session:
    """The karts of ``scenario``. ``names`` label the karts of one race in results (default: "AI
    <level>" and "kart i"); ``seed`` seeds the AI drivers' own randomness; ``grid_order`` (per kart
    of a race, lower starts further forward; or per kart of every race) overrides the scenario's grid. ``step(actions)``
    takes (E, 2) actions for the E karts driven from outside (in kart order)."""

    def __init__(self, scenario: Scenario, render: bool = True, names: list | None = None, seed: int = 0,
                 grid_order=None, tracks: list | None = None):
        sc = self.scenario = scenario
        self.tracks = tracks or load_tracks(sc)
        self.track = self.tracks[0]
        self.per, self.races = sc.karts_per_race, sc.races
        n = self.per * self.races
        self.drivers = list(sc.drivers) * self.races
        self.external = np.array([d in (LEARNER, LEAGUE) for d in self.drivers])
        self.ext_idx = np.flatnonzero(self.external)
        self.control = self.ai = None
        self.rules = RaceRules(laps=sc.laps, start_lights=sc.start_lights)
        if sc.is_race:
            grid_slots(self.track, self.per)                       # too many karts: say how many fit
            views = (self.ext_idx if len(self.ext_idx) else [0]) if render else None
            self.batch = KartBatch(self.track, n, sc.frame_stack, sc.telemetry_history, max_episode_steps=10 ** 9,
                                   show_other_karts=sc.show_other_karts, reward=sc.reward, render=render,
                                   views=views, contacts=True, world=np.arange(n) // self.per,
                                   randomize=sc.randomize, preview=sc.preview, **sc.conditions)
            if sc.record_telemetry:
                self.batch.recorder = race_recorder(self.batch)
            names = list(names or default_names(sc.drivers))
            self.control = RaceControl(self.batch, self.rules, drivers=names * self.races)
            if (~self.external).any():
                self.ai = AIDriver(self.track, [None if e else d for d, e in zip(self.drivers, self.external)],
                                   seed=seed)
        else:
            self.batch = KartBatch(self.tracks, n, sc.frame_stack, sc.telemetry_history, sc.max_episode_steps,
                                   sc.random_start, sc.show_other_karts, sc.record_telemetry, sc.reward,
                                   render=render, randomize=sc.randomize, preview=sc.preview,
                                   recovery_starts=sc.recovery_starts, **sc.conditions)
        if self.batch.recorder is not None:
            self.batch.recorder.meta["scenario"] = sc.to_dict()
        order = grid_order if grid_order is not None else sc.grid_order()
        self.grid_order = None if order is None else np.asarray(order)
        z = np.zeros(n)
        self.places_gained, self.new_caused, self.new_collisions = z, z.copy(), z.copy()
        self.closing = z.copy()                # closing speed on a kart ahead (race_reward.closing_penalty)
        self._prev = np.zeros((3, n))          # position, caused, collisions after the last step

    @property
    def n(self) -> int:
        return self.batch.n

    def reset(self, rng: np.random.Generator, order=None) -> dict:
        """Every kart to its start (a race: onto the grid); returns the outside karts' observations."""
        self.restart(rng, order=order)
        obs = self.observe(np.ones(self.n, bool))
        self.record()
        return obs

    def restart(self, rng: np.random.Generator, mask=None, order=None) -> np.ndarray:
        """Start again the episodes of the karts in ``mask`` (default: all) without observing: in
        a time trial those karts, in a race every kart of the races they are in (back on the
        grid; ``order`` per kart overrides the grid). Returns the mask of karts restarted."""
        b = self.batch
        if self.control is None:
            m = np.ones(self.n, bool) if mask is None else mask
            b.reset(m, rng)
            return m
        rc = self.control
        races = None if mask is None else np.unique(b.world[mask])
        if order is None and self.grid_order is not None:     # one race's grid, or every race's
            order = self.grid_order if len(self.grid_order) == self.n else np.tile(self.grid_order, self.races)
        rc.reset(rng, order, worlds=races)
        m = np.ones(self.n, bool) if races is None else np.isin(b.world, races)
        self._prev[:, m] = np.stack([rc.position, rc.caused, rc.collisions])[:, m]
        for a in (self.places_gained, self.new_caused, self.new_collisions, self.closing):
            a[m] = 0
        if self.ai is not None:
            self.ai.reset(b, seed=int(rng.integers(2 ** 31)) if races is None else None, mask=m)
        self._visible()
        return m

    def simulate(self, actions: np.ndarray) -> tuple:
        """Step every kart (the AI karts drive themselves) without observing, ``actions`` being
        the outside karts' (E, 2) float32 actions, already checked (:func:`check_actions`):
        (time-trial reward (N,), terminated (N,), truncated (N,)); a race ends karts through its
        race control."""
        b, rc = self.batch, self.control
        if rc is None:
            return b.step(actions)
        full = np.zeros((self.n, 2), np.float32)
        if len(self.ext_idx):
            full[self.ext_idx] = actions
        if self.ai is not None:
            ai = self.ai.act(b, rc.clock, rc.status == RUNNING)
            full[~self.external] = ai[~self.external]
        reward, terminated, truncated = b.step(rc.hold(full))
        rc.step(terminated)
        now = np.stack([rc.position, rc.caused, rc.collisions]).astype(np.float64)
        self.places_gained = self._prev[0] - now[0]
        self.new_caused, self.new_collisions = now[1] - self._prev[1], now[2] - self._prev[2]
        self._prev = now
        if self.scenario.race_reward.closing_penalty > 0:
            self.closing = closing_speed(b, rc.status == RUNNING)
        self._visible()
        return reward, terminated, truncated

    def step(self, actions) -> tuple:
        """Step every kart, observe and record: (obs of the outside karts, time-trial reward (N,),
        terminated (N,))."""
        reward, terminated, _ = self.simulate(check_actions(actions, len(self.ext_idx)))
        obs = self.observe()
        self.record()
        return obs, reward, terminated

    def observe(self, fresh: np.ndarray | None = None) -> dict:
        """Render and fill the observations of the karts with cameras (``fresh``: karts whose
        frame and telemetry history restart)."""
        return self.batch.observe(fresh=fresh)

    def record(self) -> None:
        """This step of every kart into the telemetry recorder (when recording)."""
        if self.control is None:
            self.batch.record()
        else:
            self.batch.record(**self.control.telemetry())

    def race_terms(self, karts) -> np.ndarray:
        """The scenario's race reward terms of the last step for ``karts``."""
        return self.scenario.race_reward.terms(self.places_gained[karts], self.new_caused[karts],
                                               self.new_collisions[karts], self.closing[karts])

    def race_vector(self, karts: np.ndarray) -> np.ndarray:
        """(K, 3) float32: position / karts in the race, gap ahead and behind / 10 s (clipped 0..3)."""
        rc = self.control
        return np.stack([rc.position[karts] / self.per, np.clip(rc.gap_ahead_s[karts] / 10.0, 0, 3),
                         np.clip(rc.gap_behind_s[karts] / 10.0, 0, 3)], 1).astype(np.float32)

    def info(self) -> dict:
        """Per-kart arrays: the time-trial info, and in a race the race's (position, gaps, ...)."""
        if self.control is None:
            return self.batch.info()
        return {**self.batch.info(), **self.control.info()}

    def start_replay(self) -> None:
        """Record the session from now on (call before the first reset): every kart's actions,
        the AI's included, the grids and the starts; see :mod:`karting.sim.replay`."""
        self.batch.start_replay()

    def save_replay(self, path, source: str = "race"):
        """Write the recording as a .replay file (``python -m karting.replay`` re-runs it)."""
        return self.batch.save_replay(path, source, control=self.control, scenario=self.scenario.to_dict())

    def _visible(self):
        if self.batch.renderer is not None and self.control is not None:
            self.batch.renderer.kart_visible[:] = self.control.status == RUNNING

    def close(self):
        self.batch.close()
