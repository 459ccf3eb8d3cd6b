"""Gymnasium environments: ``KartingEnv`` (one kart, ``Karting-v0``) and the natively batched
``KartingVectorEnv`` (N karts, one physics batch, one GL context, one readback per step).

## Description
A kart on a circuit drawn as a PNG. The driver sees an 84x84 first-person camera image and a
short telemetry vector, and drives with [steering, throttle]. Karts in a batch see the other
karts on their track, but do not collide (each is its own episode; races, where karts collide,
are `karting.env.race_env`). A vector env given a list of
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
the distance the kart actually drove, so a shortcut cannot pay more than the road; progress made
off the track counts as covered but is never paid, so cutting a corner over the grass loses the
metres it skips), plus
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
``max_episode_steps``, ``random_start``, ``show_other_karts``, ``record_telemetry``,
``randomize`` (domain randomisation: each kart's light, sky, asphalt, grass and kerb colours,
camera height and pitch, grip and water on the track drawn anew at each of its resets, e.g.
``"default"`` or ``{"light": (0.7, 1.3), "grip": (0.9, 1.1), "rain": (0, 1)}``; see
:mod:`karting.env.randomize`; off by default), the realism models of
:mod:`karting.sim.conditions`, each off by default: ``weather`` ("dry", "damp", "wet", a rain
level 0..1 or a dict of rain, rubber, track_temp_c), ``tyres`` ("new" = cold, "warm",
"scrubbed", "used", "worn" or a dict of wear, temp_c), ``setup`` (a dict or
:class:`karting.sim.conditions.KartSetup`: sprocket, pressure_front_bar, pressure_rear_bar,
rear_track_m) and ``fuel`` (litres at the start), whose state is in ``info`` (``grip``,
``wetness``, ``tyre_temp_c`` and ``tyre_wear`` (N, 2) front/rear, ``fuel_l``) and in the
telemetry CSV; and the reward weights below.
"""
from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..sim.physics import CONTROL_HZ
from ..sim.race import RewardConfig
from ..track import Track, load_track
from .batch import KartBatch
from .spec import check_actions as _check_actions
from .spec import observation_space as _spaces


def reseed(env: gym.vector.VectorEnv, seed) -> None:
    """A vector env's ``reset(seed=...)``: a new ``np_random`` and seeded action spaces (a
    sequence of seeds, as Gymnasium's wrappers may pass, counts by its first)."""
    if seed is None:
        return
    if not isinstance(seed, (int, np.integer)):
        seed = int(np.asarray(seed).ravel()[0])
    env.np_random = np.random.default_rng(seed)
    env.single_action_space.seed(seed)
    env.action_space.seed(seed)


class KartingVectorEnv(gym.vector.VectorEnv):
    __doc__ = __doc__
    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_HZ,
                "autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, track="circuit.png", num_envs: int = 1, render_mode=None,
                 frame_stack: int = 1, telemetry_history: int = 1, max_episode_steps: int = 2400,
                 random_start: bool = False, show_other_karts: bool = True,
                 record_telemetry: bool = False, reward: RewardConfig = RewardConfig(),
                 checkpoints=None, autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP, randomize=None,
                 weather=None, tyres=None, setup=None, fuel=None):
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
                               record_telemetry, reward, randomize=randomize, weather=weather, tyres=tyres,
                               setup=setup, fuel=fuel)
        self.assignment = self.batch.kart_track
        self.single_observation_space = _spaces(frame_stack, telemetry_history)
        self.single_action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self._autoreset = np.zeros(num_envs, bool)
        self.np_random = np.random.default_rng()
        self._swap_due: dict = {}       # slot -> Track: replaced at the karts' next reset
        self._swap_now: dict = {}

    def replace_tracks(self, new: dict) -> None:
        """Schedule ``{slot: track}`` replacements (a Track, PNG path or name each). The karts on
        a replaced slot end their episode at the next step (truncated, the final observation on
        the old track) and start the following one on the new track."""
        if self.metadata["autoreset_mode"] != gym.vector.AutoresetMode.NEXT_STEP:
            raise ValueError("replace_tracks needs the next-step autoreset mode")
        for slot, t in new.items():
            if not 0 <= int(slot) < len(self.tracks):
                raise ValueError(f"track slot {slot} out of range (0..{len(self.tracks) - 1})")
            self._swap_due[int(slot)] = t if isinstance(t, Track) else load_track(t)

    def _apply_swaps(self) -> None:
        b = self.batch
        for slot, t in self._swap_now.items():
            b.set_track(slot, t)
            if b.renderer is not None:
                b.renderer.replace_track(slot, t)
        self._swap_now = {}
        self.tracks, self.track = list(b.tracks), b.tracks[0]

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        reseed(self, seed)
        everyone = np.ones(self.num_envs, bool)
        self._swap_now.update(self._swap_due)
        self._swap_due = {}
        self._apply_swaps()
        self.batch.reset(everyone, self.np_random)
        self._autoreset[:] = False
        obs = self.batch.observe(fresh=everyone)
        self.batch.record()
        return obs, self.batch.info()

    def step(self, actions) -> tuple:
        if self.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP:
            return self._step_same_step(actions)
        a = _check_actions(actions, self.num_envs)
        b = self.batch
        reset_now = self._autoreset.copy()
        a[reset_now] = 0.0
        reward, terminated, truncated = b.step(a)
        if self._swap_now:
            self._apply_swaps()            # their karts are in reset_now
        for slot in list(self._swap_due):
            on = self.assignment == slot
            if (on & reset_now).any():     # one of its karts restarts now: end them all next step
                continue
            truncated = truncated | (on & ~terminated)
            self._swap_now[slot] = self._swap_due.pop(slot)
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
    def track_lengths(self) -> np.ndarray:
        """(N,) lap length of each kart's track [m]."""
        return self.batch.length.copy()

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array":
            return self.batch.frame(0)
        return None

    def export_telemetry(self, path: str = "session.csv") -> Path:
        """Write every recorded step as CSV (as KartingEnv.export_telemetry); returns the path."""
        if self.batch.recorder is None:
            raise RuntimeError("telemetry was not recorded: create the env with record_telemetry=True")
        return self.batch.recorder.export_csv(path)

    def close(self, **kwargs) -> None:
        self.batch.close()


class KartingEnv(gym.Env):
    __doc__ = __doc__
    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_HZ}

    def __init__(self, track="circuit.png", render_mode=None, frame_stack: int = 1,
                 telemetry_history: int = 1, max_episode_steps: int = 2400,
                 random_start: bool = False, record_telemetry: bool = True,
                 reward: RewardConfig = RewardConfig(), checkpoints=None, randomize=None,
                 weather=None, tyres=None, setup=None, fuel=None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.track = track if isinstance(track, Track) else load_track(track, checkpoints)
        self.render_mode = render_mode
        self.batch = KartBatch(self.track, 1, frame_stack, telemetry_history, max_episode_steps,
                               random_start, False, record_telemetry, reward, randomize=randomize,
                               weather=weather, tyres=tyres, setup=setup, fuel=fuel)
        self.observation_space = _spaces(frame_stack, telemetry_history)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        one = np.ones(1, bool)
        self.batch.reset(one, self.np_random)
        obs = self.batch.observe(fresh=one)
        self.batch.record()
        return {k: v[0] for k, v in obs.items()}, self._info()

    def step(self, action) -> tuple:
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

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array":
            return self.batch.frame(0)
        return None

    def export_telemetry(self, path: str = "session.csv") -> Path:
        """Write every recorded step as CSV (schema in karting.telemetry); a bare file name goes
        into telemetry_logs/. Returns the path written."""
        if self.batch.recorder is None:
            raise RuntimeError("telemetry was not recorded: create the env with record_telemetry=True")
        return self.batch.recorder.export_csv(path)

    def close(self) -> None:
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


def make_train_envs(tracks: list, num_envs: int, **kwargs) -> KartingVectorEnv:
    """The vector env for a list of track paths (kart i on track i mod K), natively batched
    whatever their number. ``track_lengths`` gives each kart's lap length (N,) [m]."""
    tracks = list(tracks)
    if len(tracks) == 1:
        return KartingVectorEnv(tracks[0], num_envs=num_envs, **kwargs)
    return MultiTrackVectorEnv(tracks, num_envs, **kwargs)


__all__ = ["KartingEnv", "KartingVectorEnv", "MultiTrackVectorEnv", "make_vec", "make_train_envs"]
