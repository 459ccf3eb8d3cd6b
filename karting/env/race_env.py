"""Races as environments: ``RaceSession`` (karts on one track, each driven by a built-in AI level
or from outside), ``KartingRaceEnv`` (``KartingRace-v0``: one learning kart against AI
opponents) and ``KartingParallelEnv`` (PettingZoo: every kart an agent).

All natively batched: one physics batch with contacts, one renderer drawing every kart, one
render pass and one readback per step for the karts that have a camera (the outside-driven
ones). ``races=M`` puts M independent copies of the race in the same batch (karts of different
races neither touch nor see each other), which is how training runs many races at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..sim.opponents import AIDriver, level
from ..sim.physics import CONTROL_HZ
from ..sim.racing import RUNNING, RaceControl, RaceRules
from ..track import Track, load_track
from .batch import KartBatch
from .gym_env import reseed
from .spec import check_actions, observation_space

RACE_OBS_NAMES = ("position", "gap_ahead", "gap_behind")


@dataclass(frozen=True)
class RaceReward:
    """Race terms added to the time-trial reward: ``position_bonus`` per place gained (minus per
    place lost), ``collision_penalty`` per collision the kart caused, ``contact_penalty`` per
    collision it was in. GT Sophy's lesson (Wurman et al. 2022): too high a collision penalty
    makes timid drivers, too low dangerous ones; these are starting points."""
    position_bonus: float = 2.0
    collision_penalty: float = 10.0
    contact_penalty: float = 1.0

    def terms(self, session: "RaceSession", karts) -> np.ndarray:
        """The race terms of the last step for ``karts`` (from ``session``'s per-step changes)."""
        return (self.position_bonus * session.places_gained[karts] - self.collision_penalty * session.new_caused[karts]
                - self.contact_penalty * session.new_collisions[karts])


def parse_opponents(opponents, difficulty="club") -> list:
    """``3`` or ``"3"`` (that many of ``difficulty``; a list of levels for difficulty cycles
    through it), ``"club,pro"`` or ``["club", "pro"]`` -> a list of level names."""
    diffs = [d for d in (difficulty.split(",") if isinstance(difficulty, str) else list(difficulty)) if d]
    for d in diffs:
        level(d)
    if isinstance(opponents, str) and not opponents.strip().lstrip("-").isdigit():
        names = [x.strip() for x in opponents.split(",") if x.strip()]
    elif isinstance(opponents, (list, tuple)):
        names = [str(x) for x in opponents]
    else:
        k = int(opponents)
        if k < 0:
            raise ValueError(f"opponents must be >= 0, got {k}")
        names = [diffs[i % len(diffs)] for i in range(k)]
    return [level(x).name for x in names]


def race_recorder(batch):
    """A telemetry recorder with a race's columns (and the conditions', when they are modelled)."""
    from ..sim.race import CONDITION_COLUMNS
    from ..telemetry.recorder import RACE_COLUMNS, TelemetryRecorder
    return TelemetryRecorder(extra={**RACE_COLUMNS, **(CONDITION_COLUMNS if batch.model is not None else {})})


class RaceSession:
    """Karts racing on one track. ``drivers[i]`` is an AI level name or None (driven from
    outside: an agent, a model, a person); ``names`` label them in results. ``step(actions)``
    takes (E, 2) actions for the E outside karts (in kart order) and steps everything."""

    def __init__(self, track, drivers: list, laps: int = 3, rules: RaceRules | None = None,
                 names: list | None = None, races: int = 1, frame_stack: int = 1,
                 telemetry_history: int = 1, render: bool = True, record_telemetry: bool = False,
                 seed: int = 0, grid_order=None, weather=None, tyres=None, setup=None, fuel=None):
        """``grid_order``: per race, lower starts further forward (default kart order);
        ``weather``, ``tyres``, ``setup``, ``fuel``: see :mod:`karting.sim.conditions` (the karts
        of a race share the track's water and rubber)."""
        self.track = track if isinstance(track, Track) else load_track(track)
        per = len(drivers)
        if per < 1:
            raise ValueError("a race needs at least one kart")
        self.rules = rules or RaceRules(laps=laps)
        from ..sim.racing import grid_slots
        grid_slots(self.track, per)                         # too many karts: say how many fit
        self.per, self.races, n = per, races, per * races
        self.drivers = list(drivers) * races
        self.external = np.array([d is None for d in self.drivers])
        self.ext_idx = np.flatnonzero(self.external)
        names = names or [("AI " + level(d).name) if d else f"kart {i}" for i, d in enumerate(drivers)]
        self.batch = KartBatch(self.track, n, frame_stack, telemetry_history, max_episode_steps=10 ** 9,
                               record_telemetry=False, render=render,
                               views=(self.ext_idx if len(self.ext_idx) else [0]) if render else None,
                               contacts=True, world=np.arange(n) // per, weather=weather, tyres=tyres,
                               setup=setup, fuel=fuel)
        if record_telemetry:
            self.batch.recorder = race_recorder(self.batch)
        self.control = RaceControl(self.batch, self.rules, drivers=list(names) * races)
        self.ai = AIDriver(self.track, list(self.drivers), seed=seed) if (~self.external).any() else None
        self.grid_order = grid_order
        z = np.zeros(n)
        self.places_gained, self.new_caused, self.new_collisions = z, z.copy(), z.copy()
        self._prev = np.zeros((3, n))          # position, caused, collisions after the last step

    @property
    def n(self) -> int:
        return self.batch.n

    def reset(self, rng: np.random.Generator, order=None) -> dict:
        """Everyone onto the grid; returns the outside karts' observations."""
        self.restart(rng, order=order)
        obs = self.batch.observe(fresh=np.ones(self.n, bool))
        self._record()
        return obs

    def restart(self, rng: np.random.Generator, races=None, order=None) -> np.ndarray:
        """Put the karts of ``races`` (indices; default all) back on their grid, without
        observing; ``order`` (per kart) overrides ``grid_order``. Returns the mask of karts
        restarted."""
        rc, b = self.control, self.batch
        if order is None and self.grid_order is not None:
            order = np.tile(np.asarray(self.grid_order), self.races)
        rc.reset(rng, order, worlds=races)
        mask = np.ones(self.n, bool) if races is None else np.isin(b.world, races)
        self._prev[:, mask] = np.stack([rc.position, rc.caused, rc.collisions])[:, mask]
        for a in (self.places_gained, self.new_caused, self.new_collisions):
            a[mask] = 0
        if self.ai is not None:
            self.ai.reset(b, seed=int(rng.integers(2 ** 31)) if races is None else None, mask=mask)
        self._visible()
        return mask

    def step(self, actions) -> tuple:
        """Step every kart; returns (obs of outside karts, time-trial reward (N,), terminated (N,))."""
        b, rc = self.batch, self.control
        full = np.zeros((self.n, 2), np.float32)
        if len(self.ext_idx):
            full[self.ext_idx] = check_actions(actions, len(self.ext_idx))
        if self.ai is not None:
            ai = self.ai.act(b, rc.clock, rc.status == RUNNING)
            full[~self.external] = ai[~self.external]
        reward, terminated, _ = b.step(rc.hold(full))
        rc.step(terminated)
        now = np.stack([rc.position, rc.caused, rc.collisions]).astype(np.float64)
        self.places_gained = self._prev[0] - now[0]
        self.new_caused, self.new_collisions = now[1] - self._prev[1], now[2] - self._prev[2]
        self._prev = now
        self._visible()
        obs = b.observe()
        self._record()
        return obs, reward, terminated

    def start_replay(self) -> None:
        """Record the session from now on (call before the first reset): every kart's actions,
        the AI's included, the grids and the starts; see :mod:`karting.sim.replay`."""
        self.batch.start_replay()

    def save_replay(self, path, source: str = "race"):
        """Write the recording as a .replay file (``python -m karting.replay`` re-runs it)."""
        return self.batch.save_replay(path, source, control=self.control)

    def info(self) -> dict:
        """Per-kart arrays: the time-trial info plus the race's (position, gaps, collisions...)."""
        return {**self.batch.info(), **self.control.info()}

    def _visible(self):
        if self.batch.renderer is not None:
            self.batch.renderer.kart_visible[:] = self.control.status == RUNNING

    def _record(self):
        self.batch.record(**self.control.telemetry())

    def race_vector(self, karts: np.ndarray) -> np.ndarray:
        """(K, 3) float32: position / karts in the race, gap ahead and behind / 10 s (clipped 0..3)."""
        rc = self.control
        return np.stack([rc.position[karts] / self.per, np.clip(rc.gap_ahead_s[karts] / 10.0, 0, 3),
                         np.clip(rc.gap_behind_s[karts] / 10.0, 0, 3)], 1).astype(np.float32)

    def close(self):
        self.batch.close()


def race_observation_space(frame_stack=1, telemetry_history=1, race_obs=False) -> spaces.Dict:
    """The time-trial observation space, with the race vector appended to the telemetry."""
    sp = observation_space(frame_stack, telemetry_history)
    if not race_obs:
        return sp
    t = sp["telemetry"]
    low = np.concatenate([t.low, np.zeros(3, np.float32)])
    high = np.concatenate([t.high, np.array([1, 3, 3], np.float32)])
    return spaces.Dict({"vision": sp["vision"], "telemetry": spaces.Box(low, high, dtype=np.float32)})


class KartingRaceEnv(gym.Env):
    """``KartingRace-v0``: one learning kart (kart 0 of the batch) against ``opponents`` AI karts.

    Observation: as ``Karting-v0`` (the camera now shows the rivals); with ``race_obs=True``
    the telemetry vector ends with position / karts, gap ahead / 10 s, gap behind / 10 s.
    Action: as ``Karting-v0``. Reward: the time-trial reward plus :class:`RaceReward`'s terms.
    The learner starts from grid slot ``grid_position`` (1 = pole; default: the back).
    Terminated when it finishes or retires (tyre wall, off track too long, wrong way, stalled);
    truncated when it is flagged or at the race time limit. ``info``: the time-trial info plus
    position, gaps, collisions, caused, overtakes, penalty_s, contact, race_status; at the end,
    ``results`` (the classification).
    """
    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_HZ}

    def __init__(self, track="circuit.png", opponents=3, difficulty="club", laps: int = 3,
                 race_obs: bool = False, grid_position: int | None = None, render_mode=None,
                 frame_stack: int = 1, telemetry_history: int = 1, record_telemetry: bool = False,
                 reward: RaceReward = RaceReward(), start_lights: bool = False, checkpoints=None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        levels = parse_opponents(opponents, difficulty)
        n = len(levels) + 1
        slot = n if grid_position is None else int(grid_position)
        if not 1 <= slot <= n:
            raise ValueError(f"grid_position must be 1..{n}, got {grid_position}")
        order = [slot - 1] + [k for k in range(n) if k != slot - 1]
        track = track if isinstance(track, Track) else load_track(track, checkpoints)
        self.session = RaceSession(track, [None] + levels, rules=RaceRules(laps=laps, start_lights=start_lights),
                                   names=["agent"] + [f"AI {lv}" for lv in levels],
                                   frame_stack=frame_stack, telemetry_history=telemetry_history,
                                   record_telemetry=record_telemetry, grid_order=order)
        self.track, self.render_mode, self.race_obs, self.reward_cfg = track, render_mode, race_obs, reward
        self.observation_space = race_observation_space(frame_stack, telemetry_history, race_obs)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def _obs(self, obs):
        tel = obs["telemetry"][0]
        if self.race_obs:
            tel = np.concatenate([tel, self.session.race_vector(np.array([0]))[0]])
        return {"vision": obs["vision"][0], "telemetry": tel}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        obs = self.session.reset(self.np_random)
        return self._obs(obs), self._info()

    def step(self, action) -> tuple:
        s = self.session
        obs, reward, _ = s.step(np.asarray(action, np.float32).reshape(1, 2))
        rc = s.control
        r = float(reward[0] + self.reward_cfg.terms(s, 0))
        status = int(rc.status[0])
        terminated = status in (1, 3)
        truncated = status == 2
        info = self._info()
        if terminated or truncated:
            info["results"] = rc.results()
        return self._obs(obs), r, terminated, truncated, info

    def _info(self) -> dict:
        info = {k: (v[0].item() if np.ndim(v[0]) == 0 else v[0]) for k, v in self.session.info().items()}
        info["sector"] = int(self.session.batch.sector[0]) + 1
        return info

    def render(self):
        if self.render_mode == "rgb_array":
            return self.session.batch.frame(0)
        return None

    def export_telemetry(self, path="race.csv"):
        """Write every kart's recorded steps (env = kart index) with the race columns."""
        if self.session.batch.recorder is None:
            raise RuntimeError("telemetry was not recorded: create the env with record_telemetry=True")
        return self.session.batch.recorder.export_csv(path)

    def close(self):
        self.session.close()


class KartingRaceVectorEnv(gym.vector.VectorEnv):
    """Races as a vector env for training: ``num_envs`` learning karts, ``self_play`` of them in
    each race (so ``num_envs / self_play`` races), each race with the same AI line-up and
    ``league`` karts driven from outside by ``drive_league(obs) -> actions`` (past versions of
    the policy: :mod:`karting.rl.league`). One physics batch, one render pass for every kart
    that has a camera (learners and league karts). What ``karting.train --opponents`` and
    ``--self-play`` train in.

    With one learner per race it starts from the back of the grid (or ``grid_position``); with
    several, the grid is shuffled every race. A race ends for all its learners when one of them
    finishes or retires (that one is terminated, the others truncated: their episode is cut, not
    ended), or is flagged; it is then put back on the grid on the next step (Gymnasium's
    next-step autoreset: that step returns the new race's first observation, reward 0)."""
    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_HZ,
                "autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, track="circuit.png", num_envs: int = 8, opponents=3, difficulty="club",
                 laps: int = 1, race_obs: bool = False, grid_position: int | None = None,
                 frame_stack: int = 1, telemetry_history: int = 1, reward: RaceReward = RaceReward(),
                 render_mode=None, checkpoints=None, self_play: int = 1, league: int = 0):
        levels = parse_opponents(opponents, difficulty)
        k, lg = int(self_play), int(league)
        if k < 1 or lg < 0 or num_envs % k:
            raise ValueError(f"self_play must be >= 1 and divide num_envs ({num_envs}); league >= 0 "
                             f"(got self_play={self_play}, league={league})")
        per = k + lg + len(levels)
        if per < 2:
            raise ValueError("a training race needs a rival: give opponents, self_play > 1 or league karts")
        slot = per if grid_position is None else int(grid_position)
        if k == 1 and not 1 <= slot <= per:
            raise ValueError(f"grid_position must be 1..{per}, got {grid_position}")
        order = [slot - 1] + [j for j in range(per) if j != slot - 1] if k == 1 else None
        track = track if isinstance(track, Track) else load_track(track, checkpoints)
        names = ([f"agent {j}" for j in range(k)] + [f"league {j}" for j in range(lg)]
                 + [f"AI {lv}" for lv in levels])
        races = num_envs // k
        self.session = RaceSession(track, [None] * (k + lg) + levels, rules=RaceRules(laps=laps), names=names,
                                   races=races, frame_stack=frame_stack, telemetry_history=telemetry_history,
                                   grid_order=order)
        self.track, self.tracks = track, [track]
        self.num_envs, self.per, self.race_obs, self.reward_cfg = num_envs, per, race_obs, reward
        self.self_play, self.league, self.races, self.shuffle = k, lg, races, k > 1
        self.render_mode = render_mode
        slot_of = np.arange(races * per) % per
        self.learners = np.flatnonzero(slot_of < k)                         # kart indices
        self.league_karts = np.flatnonzero((slot_of >= k) & (slot_of < k + lg))
        ext = self.session.ext_idx                                           # karts with cameras
        self._learner_view = np.searchsorted(ext, self.learners)
        self._league_view = np.searchsorted(ext, self.league_karts)
        self.race_of = self.learners // per
        self.drive_league = None                 # f(obs of the league karts) -> (L, 2) actions
        self.single_observation_space = race_observation_space(frame_stack, telemetry_history, race_obs)
        self.single_action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self._autoreset = np.zeros(num_envs, bool)
        self._ext_obs = None
        self.np_random = np.random.default_rng()

    @property
    def batch(self):
        return self.session.batch

    @property
    def track_lengths(self) -> np.ndarray:
        return np.full(self.num_envs, self.track.length)

    def _obs(self, obs):
        self._ext_obs = obs
        tel = obs["telemetry"][self._learner_view]
        if self.race_obs:
            tel = np.concatenate([tel, self.session.race_vector(self.learners)], 1)
        return {"vision": obs["vision"][self._learner_view], "telemetry": tel}

    def _info(self) -> dict:
        return {k: v[self.learners] for k, v in self.session.info().items()}

    def _grid(self):
        """Self-play: a shuffled grid for every race (None: the session's fixed order)."""
        if not self.shuffle:
            return None
        return np.concatenate([self.np_random.permutation(self.per) for _ in range(self.races)])

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        reseed(self, seed)
        obs = self.session.reset(self.np_random, order=self._grid())
        self._autoreset[:] = False
        return self._obs(obs), self._info()

    def _league_actions(self):
        if not len(self.league_karts):
            return np.zeros((0, 2), np.float32)
        if self.drive_league is None:
            raise RuntimeError("league karts need a driver: set env.drive_league (karting.rl.league)")
        o = self._ext_obs
        return self.drive_league({"vision": o["vision"][self._league_view],
                                  "telemetry": o["telemetry"][self._league_view]})

    def step(self, actions) -> tuple:
        s, le, cfg = self.session, self.learners, self.reward_cfg
        a = check_actions(actions, self.num_envs)
        reset_now = self._autoreset.copy()
        a[reset_now] = 0.0
        ext = np.zeros((len(s.ext_idx), 2), np.float32)
        ext[self._learner_view] = a
        ext[self._league_view] = self._league_actions()
        _, reward, _ = s.step(ext)
        r = reward[le] + cfg.terms(s, le)
        st = s.control.status[le]
        ended = st != 0
        race_over = np.zeros(self.races, bool)
        race_over[self.race_of[ended]] = True
        over = race_over[self.race_of]
        terminated = over & ((st == 1) | (st == 3))
        truncated = over & ~terminated
        fresh = None
        if reset_now.any():
            fresh = s.restart(self.np_random, races=np.unique(self.race_of[reset_now]), order=self._grid())
            r[reset_now] = 0.0
            terminated, truncated = terminated & ~reset_now, truncated & ~reset_now
        obs = s.batch.observe(fresh=fresh)
        s._record()
        self._autoreset = terminated | truncated
        return self._obs(obs), r.astype(np.float32), terminated, truncated, self._info()

    def render(self):
        if self.render_mode == "rgb_array":
            return self.session.batch.frame(int(self.learners[0]))
        return None

    def close(self, **kwargs):
        self.session.close()
