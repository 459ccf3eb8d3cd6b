"""The karts of a batch and their lap state: struct of arrays, numpy only (no GL, no Gymnasium).

:class:`Karts` steps the physics and keeps everything a race is made of, for each kart on its own
track: progress along the centre line (best progress only grows), the next checkpoint gate,
sectors and laps with their times and validity (a cut or a missed gate spoils a lap), time off
track, the wrong way and stalled, the tyre wall, and why an episode ended. It also computes the
per-step reward of the RL task from those events (``RewardConfig``) and can record every step
into a :class:`karting.sim.recording.TelemetryRecorder`. ``reset(mask, rng)`` restarts the masked
karts; ``step(actions)`` returns ``(reward, terminated, truncated)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import numerics as nm
from ..fields import documented
from ..track import BARRIER, GRASS
from ..track.trackset import TrackSet
from . import physics
from .conditions import Conditions
from .contact import ContactSolver, slipstream
from .laps import cross_gates
from .physics import CONTROL_HZ, KartParams, KartState
from .recording import CONDITION_COLUMNS, TelemetryRecorder, record_step, recording_meta

#: a recovery start (Karts.recovery_starts): the kart at rest turned up to this far from the track's
#: direction and up to this far off the centre line, as a spin leaves it
RECOVERY_TURN_DEG = 75.0
RECOVERY_LATERAL_M = 1.5


@dataclass(frozen=True)
class RewardConfig:
    """Reward weights and the episode-ending rules of the RL task (per second unless noted)."""
    checkpoint_bonus: float = documented(2.0, "paid once per checkpoint crossed in order while on track",
                                         "per checkpoint", ">= 0")
    lap_bonus: float = documented(20.0, "paid for a valid lap", "per lap", ">= 0")
    off_track_penalty: float = documented(10.0, "taken per second off the track (0.5 per step at 20 Hz)",
                                          "per s", ">= 0")
    wrong_way_penalty: float = documented(10.0, "taken per second facing backwards while moving", "per s", ">= 0")
    crash_penalty: float = documented(20.0, "taken once for hitting the tyre wall", "once", ">= 0")
    end_penalty: float = documented(0.0, "taken once when an episode ends early: the tyre wall, off the track, "
                                    "wrong way, backwards or parked (not at the time limit nor with its laps "
                                    "done); without it parking is a way out that costs nothing", "once", ">= 0")
    max_off_track_s: float = documented(3.0, "the episode ends after this long off the track", "s", "> 0")
    max_wrong_way_s: float = documented(2.0, "the episode ends after this long facing the wrong way", "s", "> 0")
    max_backwards_m: float = documented(30.0, "the episode ends this far behind the kart's best progress",
                                        "m", "> 0")
    max_stall_s: float = documented(5.0, "the episode ends after this long without new progress (parked)",
                                    "s", "> 0")
    min_progress_mps: float = documented(1.0, "new progress = the best progress growing at least this fast",
                                         "m/s", "> 0")
    # progress made off the track (grass, tyre wall) counts as covered but is not paid: before
    # this, cutting a corner over the grass earned more metres per step than its penalty cost
    # (1 m/step at 20 m/s against 0.5), and PPO learned to cut (True restores that reward)
    pay_off_track_progress: bool = documented(False, "pay the metres made off the track too (False: a cut "
                                              "over the grass loses what it skips)", "", "")


class Karts:
    """N karts, each on ``tracks[i % K]`` (``track`` is one Track or a list): physics, progress,
    gates, sectors, laps, validity, termination and reward. ``self.track`` is the first track,
    ``self.kart_track`` (N,) the track index of each kart."""

    #: what a keyframe of a replay keeps besides the karts' physics (karting.sim.keyframes)
    STATE_FIELDS = ("steps", "episode", "time_s", "progress", "best_progress", "s", "lateral", "idx", "gidx",
                    "next_gate", "next_gate_progress", "laps", "lap_start", "sector", "sector_start", "lap_timed",
                    "lap_valid", "sector_timed", "last_lap_time", "best_lap_time", "last_lap_valid", "sector_times",
                    "off_time", "wrong_time", "stall_time", "off_track", "crashed", "surface", "end_reason", "reward",
                    "collidable", "grip_scale")

    def __init__(self, track, n: int, max_episode_steps=2400, random_start=False,
                 record_telemetry=False, reward: RewardConfig = RewardConfig(),
                 params: KartParams = KartParams(), contacts: bool = False, world=None,
                 setup=None, weather=None, tyres=None, fuel=None, exact_start: bool = False,
                 recovery_starts: float = 0.0):
        self.ts = TrackSet(track)
        self.tracks = self.ts.tracks
        if n < self.ts.k:
            raise ValueError(f"{self.ts.k} tracks need at least as many karts (got {n})")
        self.kart_track = np.arange(n) % self.ts.k
        track = self.tracks[0]
        self.track, self.n, self.params, self.reward_cfg = track, n, params, reward
        self.max_episode_steps, self.random_start = max_episode_steps, random_start
        if not 0.0 <= recovery_starts <= 1.0:
            raise ValueError(f"recovery_starts is a fraction of the resets, 0..1 (got {recovery_starts})")
        self.recovery_starts = float(recovery_starts)
        self.exact_start = exact_start   # reset on the centre line, facing the track (the expert)
        self.dt = 1.0 / CONTROL_HZ
        self.state = KartState(n)
        z = lambda dt=np.float32: np.zeros(n, dt)  # noqa: E731
        self.steps, self.episode = z(np.int32), np.full(n, -1, np.int32)
        self.time_s, self.progress, self.best_progress = z(np.float64), z(np.float64), z(np.float64)
        self.s, self.lateral, self.idx = z(np.float64), z(np.float64), z(np.int64)
        self.gidx = z(np.int64)          # centre-line point in the TrackSet's flat arrays
        self.next_gate, self.next_gate_progress = z(np.int32), z(np.float64)
        self.laps, self.lap_start = z(np.int32), z(np.float64)
        self.sector, self.sector_start = z(np.int32), z(np.float64)
        self.lap_timed, self.lap_valid, self.sector_timed = z(bool), z(bool), z(bool)
        self.last_lap_time, self.best_lap_time = z(np.float64), z(np.float64)   # 0 = none yet
        self.last_lap_valid = z(bool)
        self.sector_times = np.zeros((n, 3))
        self.off_time, self.wrong_time, self.stall_time = z(np.float64), z(np.float64), z(np.float64)
        self.off_track, self.crashed, self.surface = z(bool), z(bool), z(np.uint8)
        # why an episode just terminated: 0 it did not, 1 tyre wall, 2 off track, 3 wrong way,
        # 4 too far backwards, 5 stalled
        self.end_reason = z(np.int8)
        self.reward = z(np.float32)
        self.recorder = TelemetryRecorder() if record_telemetry else None
        self.conditions_given: dict = {}
        if self.recorder is not None:
            self.recorder.meta = self.recording_meta()
        self.length = self.ts.length[self.kart_track]      # (N,) lap length of each kart's track [m]
        # karts in the same world share a road: they see each other and, with ``contacts``,
        # collide (a race); by default the karts on one track form one world
        self.world = self.kart_track.copy() if world is None else np.asarray(world, np.int64)
        if self.world.shape != (n,):
            raise ValueError(f"world must give one group index per kart ({n}), got shape {self.world.shape}")
        pairs = np.unique(np.stack([self.world, self.kart_track], 1), axis=0)
        if len(pairs) != len(np.unique(self.world)):
            raise ValueError("karts of one world must be on one track")
        self.replay_log = None     # a karting.sim.replay.ReplayLog records the session when set
        self.collidable = np.ones(n, bool)     # karts out of a race (finished, retired) are ghosts
        self.solver = None
        self.grip_scale = None     # (N,) float32 friction factors (domain randomisation), or None
        if contacts:
            self.solver = ContactSolver(params.mass_kg, params.yaw_inertia_kgm2)
        # weather, tyres, fuel and setup (karting.sim.conditions): None unless one is asked for
        self.model = None
        if any(v is not None for v in (setup, weather, tyres, fuel)):
            self.enable_conditions(setup=setup, weather=weather, tyres=tyres, fuel=fuel)

    def enable_conditions(self, setup=None, weather=None, tyres=None, fuel=None) -> None:
        """Switch on the realism models (see :mod:`karting.sim.conditions`) for every kart;
        karts on one world share the road's water and rubber when they collide (a race)."""
        road = self.world if self.solver is not None else None
        given = {"setup": setup, "weather": weather, "tyres": tyres, "fuel": fuel}
        self.conditions_given = {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in given.items()
                                 if v is not None}
        if self.recorder is not None:
            self.recorder.meta["conditions"] = self.conditions_given
        self.model = Conditions(self.ts, self.kart_track, self.n, self.params, setup=setup, weather=weather,
                                tyres=tyres, fuel=fuel, road=road)
        if self.recorder is not None and len(self.recorder) == 0:
            self.add_columns(CONDITION_COLUMNS)

    def add_columns(self, extra: dict) -> None:
        """Record these extra telemetry columns too (before anything is recorded)."""
        if self.recorder is not None:
            self.recorder = self.recorder.with_columns(extra)

    def set_track(self, slot: int, track) -> None:
        """Replace track ``slot`` by ``track`` (a Track). The karts on that slot must be
        :meth:`reset` before they step again; the other karts drive on undisturbed."""
        tracks = list(self.tracks)
        tracks[int(slot)] = track
        self.ts = TrackSet(tracks)
        self.tracks, self.track = self.ts.tracks, self.ts.tracks[0]
        self.length = self.ts.length[self.kart_track]
        on = self.kart_track == slot
        self.idx[on] = 0                                        # until their reset
        self.gidx = self.ts.c_off[self.kart_track] + self.idx   # flat offsets moved
        if self.model is not None:
            self.model.retrack(self.ts)
            self.model.cell[on] = 0

    def surface_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Surface under (x[i], y[i]) on kart i's track."""
        return self.ts.surface_at(x, y, self.kart_track)

    # ------------------------------------------------------------ reset
    def reset(self, mask: np.ndarray, rng: np.random.Generator) -> None:
        """Put the karts in ``mask`` on the start line (a random checkpoint with random_start),
        at rest, in a new episode; draws from ``rng`` only."""
        m = np.flatnonzero(mask)
        if len(m) == 0:
            return
        if self.replay_log is not None:
            self.replay_log.on_reset(mask, rng, self)
        ts, k, t = self.ts, len(m), self.kart_track[m]
        if self.random_start:
            # one track: a scalar bound, so that the random stream is what it always was
            gate = rng.integers(0, ts.n_gates[0] if ts.k == 1 else ts.n_gates[t], k)
        else:
            gate = np.zeros(k, np.int64)
        fg = ts.gate(t, gate)
        s0 = ts.gate_s[fg]
        i0 = np.round(s0 / ts.spacing[t]).astype(np.int64) % ts.npts[t]
        gi0 = ts.c_off[t] + i0
        lat = rng.uniform(-0.5, 0.5, k)
        head = nm.arctan2(ts.tangent[gi0, 1], ts.tangent[gi0, 0]) + np.radians(rng.uniform(-3, 3, k))
        if self.exact_start:
            lat, head = np.zeros(k), nm.arctan2(ts.tangent[gi0, 1], ts.tangent[gi0, 0])
        elif self.random_start and self.recovery_starts > 0:
            # where a spin leaves a kart: at rest, turned across the track, off the centre line
            # (drawn after the usual start, so that without them the random stream is as before)
            rec = rng.random(k) < self.recovery_starts
            lat = np.where(rec, rng.uniform(-RECOVERY_LATERAL_M, RECOVERY_LATERAL_M, k), lat)
            head = head + np.where(rec, np.radians(rng.uniform(-RECOVERY_TURN_DEG, RECOVERY_TURN_DEG, k)), 0.0)
        pos = ts.centre[gi0] + ts.normal[gi0] * lat[:, None]
        self.state.reset(mask, pos[:, 0], pos[:, 1], head)
        self.steps[m] = 0
        self.episode[m] += 1
        self.time_s[m] = 0.0
        self.progress[m] = self.best_progress[m] = s0
        self.s[m], self.idx[m], self.gidx[m], self.lateral[m] = s0, i0, gi0, lat
        self.next_gate[m] = (gate + 1) % ts.n_gates[t]
        self.next_gate_progress[m] = s0 + ts.gate_gap[fg]
        self.laps[m] = 0
        self.lap_start[m] = self.sector_start[m] = 0.0
        self.sector[m] = ts.sector_of_gate[fg]
        self.lap_timed[m] = gate == 0
        self.sector_timed[m] = ts.is_sector_start(t, gate)
        self.lap_valid[m] = True
        self.last_lap_time[m] = self.best_lap_time[m] = 0.0
        self.last_lap_valid[m] = False
        self.sector_times[m] = 0.0
        self.off_time[m] = self.wrong_time[m] = self.stall_time[m] = 0.0
        self.off_track[m] = self.crashed[m] = False
        self.surface[m] = ts.surface_at(pos[:, 0], pos[:, 1], t)
        self.reward[m] = 0.0
        self.end_reason[m] = 0
        if self.model is not None:
            self.model.reset(mask)
            self.model.locate(self.s, self.lateral, ts.racing_offset[self.gidx])
        if self.replay_log is not None:
            self.replay_log.after_reset(self, mask)

    # ------------------------------------------------------------ step
    def step(self, actions: np.ndarray) -> tuple:
        """Advance every kart by one control step: (reward, terminated, truncated)."""
        ts, st, cfg, dt = self.ts, self.state, self.reward_cfg, self.dt
        if self.replay_log is not None:
            self.replay_log.on_step(actions, self)
        x0, y0 = st.x.copy(), st.y.copy()
        drag = None
        if self.solver is not None:
            self.solver.prepare(st, self.world, self.collidable, dt)
            drag = slipstream(self)
        physics.step(st, actions[:, 0], actions[:, 1], self.surface_at, self.params, dt,
                     contact=self.solver, drag_scale=drag, grip_scale=self.grip_scale, model=self.model)
        self.steps += 1
        self.time_s += dt

        idx, gidx, s, lat = ts.project(st.x, st.y, self.kart_track)
        length = self.length
        ds = np.mod(s - self.s + length / 2, length) - length / 2
        self.progress += ds
        self.s, self.idx, self.gidx, self.lateral = s, idx, gidx, lat
        if self.model is not None:
            self.model.locate(s, lat, ts.racing_offset[gidx])
        driven = nm.hypot(st.x - x0, st.y - y0)
        gain = np.clip(self.progress - self.best_progress, 0.0, 2.0 * driven + 1e-3)
        self.best_progress += gain

        self.surface = surf = self.surface_at(st.x, st.y)
        self.off_track = surf == GRASS
        self.crashed = surf == BARRIER
        self.off_track |= self.crashed
        # facing backwards: the heading's component along the track direction is negative
        cy, sy = nm.cos_sin(st.yaw)
        along = cy * ts.tangent[gidx, 0] + sy * ts.tangent[gidx, 1]
        wrong = (along < 0) & (st.vx > 1.0)
        self.off_time = np.where(self.off_track, self.off_time + dt, 0.0)
        self.wrong_time = np.where(wrong, self.wrong_time + dt, 0.0)
        # a kart parked on the track earns nothing but risks nothing either: end its episode
        self.stall_time = np.where(gain < cfg.min_progress_mps * dt, self.stall_time + dt, 0.0)
        self.lap_valid &= ~self.off_track

        paid = gain if cfg.pay_off_track_progress else np.where(self.off_track, 0.0, gain)
        reward = paid - dt * (cfg.off_track_penalty * self.off_track + cfg.wrong_way_penalty * wrong)
        reward -= cfg.crash_penalty * self.crashed

        crossed = self.best_progress >= self.next_gate_progress
        if crossed.any():
            reward += cross_gates(self, crossed)
        self.reward = reward.astype(np.float32)

        # why an episode ends, in the order of the end_reason codes (the first that applies)
        ends = np.stack([self.crashed, self.off_time > cfg.max_off_track_s,
                         self.wrong_time > cfg.max_wrong_way_s,
                         self.progress < self.best_progress - cfg.max_backwards_m,
                         self.stall_time > cfg.max_stall_s])
        terminated = ends.any(axis=0)
        self.end_reason = np.where(terminated, ends.argmax(axis=0) + 1, 0).astype(np.int8)
        truncated = (self.steps >= self.max_episode_steps) & ~terminated
        if cfg.end_penalty:
            self.reward -= np.float32(cfg.end_penalty) * terminated
        if self.crashed.any():
            st.vx[self.crashed] = st.vy[self.crashed] = st.yaw_rate[self.crashed] = 0.0
        if self.replay_log is not None:
            self.replay_log.after_step(self)
        return self.reward, terminated, truncated

    # ------------------------------------------------------------ observations
    def curvature_ahead(self) -> np.ndarray:
        """(N,) mean centre-line curvature 5-30 m ahead of each kart [1/m] (+ = left)."""
        ts, t = self.ts, self.kart_track
        ahead = ts.c_off[t, None] + (self.idx[:, None] + np.arange(5, 31, 5)[None, :]) % ts.npts[t, None]
        return ts.curvature[ahead].mean(axis=1)

    def info(self) -> dict:
        """Per-kart arrays for the envs' ``info``: laps, last and best lap, sectors, next
        checkpoint, progress, off track, speed."""
        out = {"lap": self.laps.copy(), "lap_time": self.last_lap_time.copy(),
               "best_lap_time": self.best_lap_time.copy(), "lap_valid": self.last_lap_valid.copy(),
               "sector_times": self.sector_times.copy(), "checkpoint": self.next_gate.copy(),
               "progress": self.progress.copy(), "off_track": self.off_track.copy(),
               "speed_kmh": (self.state.speed * 3.6).astype(np.float32)}
        if self.model is not None:
            out.update(self.model.info())
        return out

    def record(self, **extra) -> None:
        """Append this step of every kart to the telemetry recorder (if recording); ``extra``
        holds the recorder's extra columns (a race's positions and gaps)."""
        record_step(self, **extra)

    def recording_meta(self) -> dict:
        """Where and how these karts drive, for a telemetry CSV's sidecar."""
        return recording_meta(self)
