"""Gymnasium environments: ``KartingEnv`` (one kart, ``Karting-v0``) and the natively batched
``KartingVectorEnv`` (N karts, one physics batch, one GL context, one readback per step).

## Description
A kart on a circuit drawn as a PNG. The driver sees an 84x84 first-person camera image and a
short telemetry vector, and drives with [steering, throttle]. Karts in a batch see the other
karts on their track, but do not collide (each is its own episode). A vector env given a list of
tracks puts kart i on track i mod K, still as one batch: one physics state, one render pass.

## Action Space
``Box(-1, 1, (2,), float32)``: ``[steering, throttle]``. Steering +1 is full lock to the left;
throttle > 0 drives, throttle < 0 brakes (there is no reverse). Values outside [-1, 1] are
clipped; NaN, inf or a wrong shape raise ``ValueError``.

## Observation Space
``Dict(vision=Box(0, 255, (84, 84, 3 * frame_stack), uint8),
telemetry=Box(low, high, (9 * telemetry_history,), float32))``; telemetry, normalised and
clipped to ``TELEMETRY_LOW .. TELEMETRY_HIGH`` (the oldest entry first when stacked):

=====  ===================  ==============================================  =========
index  name                 meaning                                          bounds
=====  ===================  ==============================================  =========
0      speed                ground speed / 30 m/s                            [0, 2]
1      steering             actual steering angle / full lock (+ left)       [-1, 1]
2      throttle             actual throttle pedal                            [0, 1]
3      brake                actual brake pedal                               [0, 1]
4      lat_g                lateral acceleration / 3 g (+ left)              [-2, 2]
5      long_g               longitudinal acceleration / 3 g                  [-2, 2]
6      dist_to_line         signed distance to the racing line / 10 m        [-5, 5]
7      curvature            centre-line curvature 5-30 m ahead x 10 m        [-5, 5]
8      checkpoint_angle     bearing of the next checkpoint / pi (+ left)     [-1, 1]
=====  ===================  ==============================================  =========

## Rewards
Per step: metres of *new* progress along the centre line (the best progress so far only grows,
so driving backwards and forwards again, or rocking across a line, pays nothing; capped at twice
the distance the kart actually drove, so a shortcut cannot pay more than the road), plus
``checkpoint_bonus`` for each checkpoint crossed in order while on track (each counts once),
plus ``lap_bonus`` for a valid lap; minus ``off_track_penalty`` per second off the track and
``wrong_way_penalty`` per second facing backwards while moving, and ``crash_penalty`` once for
hitting the tyre wall.

## Starting State
At rest on the start/finish line facing the driving direction, with a small random lateral
offset (+-0.5 m) and heading error (+-3 deg) from the env's ``np_random``; with
``random_start=True``, at a random checkpoint instead (its first lap is then an untimed out-lap).

## Episode End
Terminated: off the track for more than ``max_off_track_s`` seconds, facing the wrong way for
more than ``max_wrong_way_s`` seconds, 30 m behind its best progress, into the tyre wall, or
stalled: no new progress (best progress growing at under 1 m/s) for ``max_stall_s`` = 5 s (a
kart parked on the track would otherwise sit out the time limit earning nothing and risking
nothing).
Truncated: after ``max_episode_steps`` steps (default 2400 = 120 s at 20 Hz).

## Info
``lap`` (laps completed), ``lap_time`` (last completed lap [s], 0 if none), ``best_lap_time``
(best valid lap [s], 0 if none), ``lap_valid`` (of the last completed lap), ``sector_times`` (3,)
(last time for each sector [s], 0 if none), ``checkpoint`` (next gate index), ``progress``
(metres along the track since the start, unwrapped), ``off_track``, ``speed_kmh``. A lap that
missed a checkpoint or left the track counts as a lap, not as a lap time.

## Arguments
``track`` (PNG path or shipped name; for the vector env also a list of them), ``render_mode``
(``"rgb_array"``: a 480x320 chase view with the first-person view inset), ``frame_stack``,
``telemetry_history``,
``max_episode_steps``, ``random_start``, ``show_other_karts``, ``record_telemetry``, and the
reward weights below.
"""
from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from . import physics
from .physics import CONTROL_HZ, KartParams, KartState
from .track import BARRIER, GRASS, Track, load_track

TELEMETRY_NAMES = ("speed", "steering", "throttle", "brake", "lat_g", "long_g",
                   "dist_to_line", "curvature", "checkpoint_angle")
TELEMETRY_LOW = np.array([0, -1, 0, 0, -2, -2, -5, -5, -1], np.float32)
TELEMETRY_HIGH = np.array([2, 1, 1, 1, 2, 2, 5, 5, 1], np.float32)
VIEW = 84


@dataclass(frozen=True)
class RewardConfig:
    checkpoint_bonus: float = 2.0
    lap_bonus: float = 20.0
    off_track_penalty: float = 10.0      # per second off the track (0.5 per step at 20 Hz)
    wrong_way_penalty: float = 10.0      # per second facing backwards while moving
    crash_penalty: float = 20.0
    max_off_track_s: float = 3.0
    max_wrong_way_s: float = 2.0
    max_backwards_m: float = 30.0
    max_stall_s: float = 5.0             # ends an episode that makes no new progress for this long
    min_progress_mps: float = 1.0        # "new progress" = best progress growing at >= this rate


def _check_actions(actions, n):
    a = np.asarray(actions, dtype=np.float32)
    if a.shape != (n, 2) and not (n == 1 and a.shape == (2,)):
        raise ValueError(f"action must have shape ({n}, 2) [steering, throttle]"
                         f"{' or (2,)' if n == 1 else ''}, got shape {a.shape}")
    a = a.reshape(n, 2)
    if not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"action contains NaN or inf (kart {bad[0]}, "
                         f"{'steering' if bad[1] == 0 else 'throttle'}); check the policy output")
    return np.clip(a, -1.0, 1.0)


class KartBatch:
    """The simulation of N karts: physics, progress, laps, reward, observations.

    ``track`` is one Track or a list of them: kart i then drives ``tracks[i % K]``, all karts in
    one physics batch, one renderer and one readback whatever track each is on. ``self.track`` is
    the first track, ``self.kart_track`` (N,) the track index of each kart."""

    def __init__(self, track, n: int, frame_stack=1, telemetry_history=1,
                 max_episode_steps=2400, random_start=False, show_other_karts=True,
                 record_telemetry=False, reward: RewardConfig = RewardConfig(),
                 params: KartParams = KartParams(), render: bool = True):
        from .render import Renderer
        from .telemetry import TelemetryRecorder
        from .track.trackset import TrackSet
        if frame_stack < 1 or telemetry_history < 1:
            raise ValueError("frame_stack and telemetry_history must be >= 1")
        self.ts = TrackSet(track)
        self.tracks = self.ts.tracks
        if n < self.ts.k:
            raise ValueError(f"{self.ts.k} tracks need at least as many karts (got {n})")
        self.kart_track = np.arange(n) % self.ts.k
        track = self.tracks[0]
        self.track, self.n, self.params, self.reward_cfg = track, n, params, reward
        self.frame_stack, self.telemetry_history = frame_stack, telemetry_history
        self.max_episode_steps, self.random_start = max_episode_steps, random_start
        self.dt = 1.0 / CONTROL_HZ
        self.state = KartState(n)
        z = lambda dt=np.float32: np.zeros(n, dt)  # noqa: E731
        self.steps, self.episode = z(np.int32), np.full(n, -1, np.int32)
        self.time_s, self.progress, self.best_progress = z(np.float64), z(np.float64), z(np.float64)
        self.s, self.lateral, self.idx = z(np.float64), z(np.float64), z(np.int64)
        self.gidx = z(np.int64)          # centre-line point in the TrackSet's flat arrays
        self.next_gate, self.next_gate_progress = z(np.int32), z(np.float64)
        self.laps, self.lap_start, self.sector, self.sector_start = z(np.int32), z(np.float64), z(np.int32), z(np.float64)
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
        self.telemetry = np.zeros((n, 9 * telemetry_history), np.float32)
        self.vision = np.zeros((n, VIEW, VIEW, 3 * frame_stack), np.uint8)
        self.renderer = (Renderer(self.tracks, n, show_other_karts=show_other_karts,
                                  view_track=self.kart_track) if render else None)
        self.recorder = TelemetryRecorder() if record_telemetry else None
        self.length = self.ts.length[self.kart_track]      # (N,) lap length of each kart's track [m]

    def surface_at(self, x, y):
        """Surface under (x[i], y[i]) on kart i's track."""
        return self.ts.surface_at(x, y, self.kart_track)

    # ------------------------------------------------------------ reset
    def reset(self, mask, rng: np.random.Generator):
        m = np.flatnonzero(mask)
        if len(m) == 0:
            return
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
        head = np.arctan2(ts.tangent[gi0, 1], ts.tangent[gi0, 0]) + np.radians(rng.uniform(-3, 3, k))
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

    # ------------------------------------------------------------ step
    def step(self, actions):
        """Advance every kart by one control step: (reward, terminated, truncated)."""
        ts, st, cfg, dt = self.ts, self.state, self.reward_cfg, self.dt
        x0, y0 = st.x.copy(), st.y.copy()
        physics.step(st, actions[:, 0], actions[:, 1], self.surface_at, self.params, dt)
        self.steps += 1
        self.time_s += dt

        idx, gidx, s, lat = ts.project(st.x, st.y, self.kart_track)
        length = self.length
        ds = np.mod(s - self.s + length / 2, length) - length / 2
        self.progress += ds
        self.s, self.idx, self.gidx, self.lateral = s, idx, gidx, lat
        driven = np.hypot(st.x - x0, st.y - y0)
        gain = np.clip(self.progress - self.best_progress, 0.0, 2.0 * driven + 1e-3)
        self.best_progress += gain

        self.surface = surf = self.surface_at(st.x, st.y)
        self.off_track = surf == GRASS
        self.crashed = surf == BARRIER
        self.off_track |= self.crashed
        # facing backwards: the heading's component along the track direction is negative
        along = np.cos(st.yaw) * ts.tangent[gidx, 0] + np.sin(st.yaw) * ts.tangent[gidx, 1]
        wrong = (along < 0) & (st.vx > 1.0)
        self.off_time = np.where(self.off_track, self.off_time + dt, 0.0)
        self.wrong_time = np.where(wrong, self.wrong_time + dt, 0.0)
        # a kart parked on the track earns nothing but risks nothing either: end its episode
        self.stall_time = np.where(gain < cfg.min_progress_mps * dt, self.stall_time + dt, 0.0)
        self.lap_valid &= ~self.off_track

        reward = gain - dt * (cfg.off_track_penalty * self.off_track + cfg.wrong_way_penalty * wrong)
        reward -= cfg.crash_penalty * self.crashed

        crossed = self.best_progress >= self.next_gate_progress
        if crossed.any():
            reward += self._cross_gates(crossed)
        self.reward = reward.astype(np.float32)

        # why an episode ends, in the order of the end_reason codes (the first that applies)
        ends = np.stack([self.crashed, self.off_time > cfg.max_off_track_s,
                         self.wrong_time > cfg.max_wrong_way_s,
                         self.progress < self.best_progress - cfg.max_backwards_m,
                         self.stall_time > cfg.max_stall_s])
        terminated = ends.any(axis=0)
        self.end_reason = np.where(terminated, ends.argmax(axis=0) + 1, 0)
        truncated = (self.steps >= self.max_episode_steps) & ~terminated
        if self.crashed.any():
            st.vx[self.crashed] = st.vy[self.crashed] = st.yaw_rate[self.crashed] = 0.0
        return self.reward, terminated, truncated

    def _cross_gates(self, crossed):
        ts, cfg = self.ts, self.reward_cfg
        c = np.flatnonzero(crossed)
        g = self.next_gate[c]
        t = self.kart_track[c]
        fg = ts.gate(t, g)
        on = ~self.off_track[c]
        bonus = np.zeros(self.n)
        bonus[c] = cfg.checkpoint_bonus * on
        self.lap_valid[c] &= on                         # a missed checkpoint spoils the lap
        now = self.time_s[c]
        # sector boundaries: gate 0 ends S3, sector_gates[1] ends S1, sector_gates[2] ends S2
        ends = ts.is_sector_start(t, g)
        if ends.any():
            ce, fge = c[ends], fg[ends]
            finished = (ts.sector_of_gate[fge] - 1) % 3
            timed = self.sector_timed[ce]              # driven from its start (not an out-lap)
            self.sector_times[ce[timed], finished[timed]] = (now[ends] - self.sector_start[ce])[timed]
            self.sector_timed[ce] = True
            self.sector_start[ce] = now[ends]
            self.sector[ce] = ts.sector_of_gate[fge]
        fin = g == 0
        if fin.any():
            cf = c[fin]
            timed = self.lap_timed[cf]
            lap_t = now[fin] - self.lap_start[cf]
            valid = self.lap_valid[cf] & timed
            self.laps[cf[timed]] += 1
            self.last_lap_time[cf[timed]] = lap_t[timed]
            self.last_lap_valid[cf] = valid
            best = self.best_lap_time[cf]
            improve = valid & ((best == 0) | (lap_t < best))
            self.best_lap_time[cf[improve]] = lap_t[improve]
            bonus[cf[valid]] += cfg.lap_bonus
            self.lap_start[cf] = now[fin]
            self.lap_timed[cf] = True
            self.lap_valid[cf] = True
        self.next_gate_progress[c] += ts.gate_gap[fg]
        self.next_gate[c] = (g + 1) % ts.n_gates[t]
        return bonus

    # ------------------------------------------------------------ observations
    def telemetry_now(self):
        ts, st, p = self.ts, self.state, self.params
        t = self.kart_track
        ahead = ts.c_off[t, None] + (self.idx[:, None] + np.arange(5, 31, 5)[None, :]) % ts.npts[t, None]
        curv = ts.curvature[ahead].mean(axis=1)
        gate_mid = ts.gates[ts.gate(t, self.next_gate)].mean(axis=1)
        bearing = np.arctan2(gate_mid[:, 1] - st.y, gate_mid[:, 0] - st.x) - st.yaw
        bearing = np.arctan2(np.sin(bearing), np.cos(bearing))
        raw = np.stack([
            st.speed / 30.0, st.steer / p.max_steer_rad, st.throttle, st.brake,
            st.ay / (3 * physics.G), st.ax / (3 * physics.G),
            (self.lateral - ts.racing_offset[self.gidx]) / 10.0, curv * 10.0, bearing / np.pi], 1)
        return np.clip(raw, TELEMETRY_LOW, TELEMETRY_HIGH).astype(np.float32)

    def observe(self, fresh=None):
        """Render and fill the observation buffers; ``fresh`` marks karts whose history restarts."""
        tel = self.telemetry_now()
        k = 9 * self.telemetry_history
        if self.telemetry_history > 1:
            self.telemetry[:, : k - 9] = self.telemetry[:, 9:]
        self.telemetry[:, k - 9:] = tel
        if fresh is not None and self.telemetry_history > 1 and fresh.any():
            self.telemetry[fresh] = np.tile(tel[fresh], self.telemetry_history)
        if self.renderer is not None:
            # a fresh array each step: returned as is, so no copy, and earlier obs stay intact
            st = self.state
            if self.frame_stack == 1:
                self.vision = self.renderer.render(st.x, st.y, st.yaw, out=np.empty_like(self.vision))
            else:
                views = self.renderer.render(st.x, st.y, st.yaw)
                c = 3 * self.frame_stack
                stacked = np.empty_like(self.vision)
                stacked[..., : c - 3] = self.vision[..., 3:]
                stacked[..., c - 3:] = views
                if fresh is not None and fresh.any():
                    stacked[fresh] = np.tile(views[fresh], (1, 1, 1, self.frame_stack))
                self.vision = stacked
        return {"vision": self.vision, "telemetry": self.telemetry.copy()}

    def info(self):
        return {"lap": self.laps.copy(), "lap_time": self.last_lap_time.copy(),
                "best_lap_time": self.best_lap_time.copy(), "lap_valid": self.last_lap_valid.copy(),
                "sector_times": self.sector_times.copy(), "checkpoint": self.next_gate.copy(),
                "progress": self.progress.copy(), "off_track": self.off_track.copy(),
                "speed_kmh": (self.state.speed * 3.6).astype(np.float32)}

    def record(self):
        if self.recorder is None:
            return
        st = self.state
        self.recorder.append(
            env=np.arange(self.n), episode=self.episode, step=self.steps,
            time_s=self.time_s, lap=self.laps + self.lap_timed,
            sector=self.sector + 1, distance_m=self.s, x_m=st.x, y_m=st.y,
            heading_rad=st.yaw, speed_kmh=st.speed * 3.6,
            steering=st.steer / self.params.max_steer_rad, throttle=st.throttle,
            brake=st.brake, lat_g=st.ay / physics.G, long_g=st.ax / physics.G,
            dist_to_line_m=self.lateral - self.ts.racing_offset[self.gidx],
            curvature=self.telemetry[:, -2] / 10.0, checkpoint=self.next_gate,
            off_track=self.off_track, reward=self.reward,
            lap_time_s=self.time_s - self.lap_start, lap_valid=self.lap_valid,
            surface=self.surface)

    def frame(self, index=0):
        """A 480x320 chase view of kart ``index`` with its first-person view inset (top left)."""
        st = self.state
        img = self.renderer.render_chase(st.x, st.y, st.yaw, index)
        fp = self.vision[index, :, :, -3:]
        big = np.repeat(np.repeat(fp, 2, 0), 2, 1)
        img[6:6 + 2 * VIEW, 6:6 + 2 * VIEW] = big
        img[4:6, 4:10 + 2 * VIEW] = img[6 + 2 * VIEW:8 + 2 * VIEW, 4:10 + 2 * VIEW] = 255
        img[4:8 + 2 * VIEW, 4:6] = img[4:8 + 2 * VIEW, 6 + 2 * VIEW:8 + 2 * VIEW] = 255
        return img

    def close(self):
        if self.renderer is not None:
            self.renderer.release()
            self.renderer = None


def _spaces(frame_stack, telemetry_history):
    return spaces.Dict({
        "vision": spaces.Box(0, 255, (VIEW, VIEW, 3 * frame_stack), np.uint8),
        "telemetry": spaces.Box(np.tile(TELEMETRY_LOW, telemetry_history),
                                np.tile(TELEMETRY_HIGH, telemetry_history), dtype=np.float32),
    })


class KartingVectorEnv(gym.vector.VectorEnv):
    __doc__ = __doc__
    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_HZ,
                "autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, track="circuit.png", num_envs: int = 1, render_mode=None,
                 frame_stack: int = 1, telemetry_history: int = 1, max_episode_steps: int = 2400,
                 random_start: bool = False, show_other_karts: bool = True,
                 record_telemetry: bool = False, reward: RewardConfig = RewardConfig(),
                 checkpoints=None, autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if num_envs < 1:
            raise ValueError("num_envs must be >= 1")
        modes = (gym.vector.AutoresetMode.NEXT_STEP, gym.vector.AutoresetMode.SAME_STEP)
        if autoreset_mode not in modes:
            raise ValueError(f"autoreset_mode must be one of {modes}, got {autoreset_mode!r}")
        self.metadata = {**self.metadata, "autoreset_mode": autoreset_mode}
        many = isinstance(track, (list, tuple))
        tracks = [t if isinstance(t, Track) else load_track(t, checkpoints)
                  for t in (track if many else [track])]
        if num_envs < len(tracks):
            raise ValueError(f"{len(tracks)} tracks need at least as many envs (got {num_envs}): "
                             "raise --vector-envs or name fewer tracks")
        self.tracks, self.track = tracks, tracks[0]
        self.num_envs = num_envs
        self.render_mode = render_mode
        self.batch = KartBatch(tracks, num_envs, frame_stack, telemetry_history,
                               max_episode_steps, random_start, show_other_karts,
                               record_telemetry, reward)
        self.assignment = self.batch.kart_track
        self.single_observation_space = _spaces(frame_stack, telemetry_history)
        self.single_action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self._autoreset = np.zeros(num_envs, bool)
        self.np_random = np.random.default_rng()

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            if not isinstance(seed, (int, np.integer)):
                seed = int(np.asarray(seed).ravel()[0])
            self.np_random = np.random.default_rng(seed)
            self.single_action_space.seed(seed)
            self.action_space.seed(seed)
        everyone = np.ones(self.num_envs, bool)
        self.batch.reset(everyone, self.np_random)
        self._autoreset[:] = False
        obs = self.batch.observe(fresh=everyone)
        self.batch.record()
        return obs, self.batch.info()

    def step(self, actions):
        if self.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP:
            return self._step_same_step(actions)
        a = _check_actions(actions, self.num_envs)
        b = self.batch
        reset_now = self._autoreset.copy()
        a[reset_now] = 0.0
        reward, terminated, truncated = b.step(a)
        if reset_now.any():
            b.reset(reset_now, self.np_random)
            reward = reward.copy()
            reward[reset_now] = 0.0
            terminated = terminated & ~reset_now
            truncated = truncated & ~reset_now
        obs = b.observe(fresh=reset_now)
        b.record()
        self._autoreset = terminated | truncated
        return obs, reward.copy(), terminated, truncated, b.info()

    def _step_same_step(self, actions):
        """Gymnasium's same-step autoreset: a finished kart is reset at once; its final
        observation and info are in ``info["final_obs"]`` / ``info["final_info"]`` (masks
        ``_final_obs`` / ``_final_info``). Costs a second render on steps where a kart finished."""
        b = self.batch
        reward, terminated, truncated = b.step(_check_actions(actions, self.num_envs))
        reward = reward.copy()                  # b.reset() zeroes the batch's reward in place
        obs = b.observe()
        b.record()
        info = b.info()
        done = terminated | truncated
        if done.any():
            final_obs = np.empty(self.num_envs, object)
            for i in np.flatnonzero(done):
                final_obs[i] = {k: v[i].copy() for k, v in obs.items()}
            b.reset(done, self.np_random)
            first = b.observe(fresh=done)
            keep = ~done       # observe() advanced every kart's frame/telemetry history: undo
            first["vision"][keep] = obs["vision"][keep]
            first["telemetry"][keep] = b.telemetry[keep] = obs["telemetry"][keep]
            obs = first
            info = {**b.info(), "final_obs": final_obs, "_final_obs": done.copy(),
                    "final_info": info, "_final_info": done.copy()}
        return obs, reward, terminated, truncated, info

    @property
    def track_lengths(self):
        """(N,) lap length of each kart's track [m]."""
        return self.batch.length.copy()

    def render(self):
        if self.render_mode == "rgb_array":
            return self.batch.frame(0)
        return None

    def export_telemetry(self, path="session.csv"):
        if self.batch.recorder is None:
            raise RuntimeError("telemetry was not recorded: create the env with record_telemetry=True")
        return self.batch.recorder.export_csv(path)

    def close(self, **kwargs):
        self.batch.close()


class KartingEnv(gym.Env):
    __doc__ = __doc__
    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_HZ}

    def __init__(self, track="circuit.png", render_mode=None, frame_stack: int = 1,
                 telemetry_history: int = 1, max_episode_steps: int = 2400,
                 random_start: bool = False, record_telemetry: bool = True,
                 reward: RewardConfig = RewardConfig(), checkpoints=None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.track = track if isinstance(track, Track) else load_track(track, checkpoints)
        self.render_mode = render_mode
        self.batch = KartBatch(self.track, 1, frame_stack, telemetry_history, max_episode_steps,
                               random_start, False, record_telemetry, reward)
        self.observation_space = _spaces(frame_stack, telemetry_history)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        one = np.ones(1, bool)
        self.batch.reset(one, self.np_random)
        obs = self.batch.observe(fresh=one)
        self.batch.record()
        return {k: v[0] for k, v in obs.items()}, self._info()

    def step(self, action):
        a = _check_actions(action, 1)
        reward, terminated, truncated = self.batch.step(a)
        obs = self.batch.observe()
        self.batch.record()
        return ({k: v[0] for k, v in obs.items()}, float(reward[0]), bool(terminated[0]),
                bool(truncated[0]), self._info())

    def _info(self):
        info = self.batch.info()
        out = {k: (v[0].item() if np.ndim(v[0]) == 0 else v[0]) for k, v in info.items()}
        out["sector"] = int(self.batch.sector[0]) + 1
        return out

    def render(self):
        if self.render_mode == "rgb_array":
            return self.batch.frame(0)
        return None

    def export_telemetry(self, path="session.csv"):
        """Write every recorded step as CSV (schema in karting.telemetry); a bare file name goes
        into telemetry_logs/. Returns the path written."""
        if self.batch.recorder is None:
            raise RuntimeError("telemetry was not recorded: create the env with record_telemetry=True")
        return self.batch.recorder.export_csv(path)

    def close(self):
        self.batch.close()


def make_vec(track="circuit.png", num_envs: int = 8, **kwargs) -> KartingVectorEnv:
    """A natively batched vector env: ``num_envs`` karts, one GL context, one readback per step."""
    return KartingVectorEnv(track, num_envs=num_envs, **kwargs)


class MultiTrackVectorEnv(KartingVectorEnv):
    """Karts on several tracks as one vector env: kart i drives ``tracks[i % K]``.

    One physics batch and one renderer for all karts (every track's scene is held by the one
    renderer; each step is one pass and one readback whatever track each kart is on)."""

    def __init__(self, tracks, num_envs: int, **kwargs):
        super().__init__(list(tracks), num_envs=num_envs, **kwargs)


def make_train_envs(tracks, num_envs: int, **kwargs):
    """The vector env for a list of track paths (kart i on track i mod K), natively batched
    whatever their number. ``track_lengths`` gives each kart's lap length (N,) [m]."""
    tracks = list(tracks)
    if len(tracks) == 1:
        return KartingVectorEnv(tracks[0], num_envs=num_envs, **kwargs)
    return MultiTrackVectorEnv(tracks, num_envs, **kwargs)


__all__ = ["KartingEnv", "KartingVectorEnv", "MultiTrackVectorEnv", "make_vec", "make_train_envs",
           "RewardConfig", "TELEMETRY_NAMES",
           "TELEMETRY_LOW", "TELEMETRY_HIGH"]
