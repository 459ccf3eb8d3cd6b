"""The one env: ``KartingVectorEnv``, natively batched over a :class:`karting.scenario.Scenario`
(N karts, one physics batch, one GL context, one readback per step). A time trial and a race are
the same env: a time trial is a race with no rivals and contacts off, each kart its own episode.

## Description
A kart on a circuit drawn as a PNG. The driver sees an 84x84 first-person camera image and a
short telemetry vector, and drives with [steering, throttle]. In a time trial the karts of a
batch see the other karts on their track, but do not collide (each is its own episode). In a
race (``Scenario.race``) they collide, start from a grid and race under race control; the
observation may end with the race vector (``race_obs``: position / karts, gap ahead / 10 s, gap
behind / 10 s) and the reward adds :class:`karting.sim.race_control.RaceReward`'s terms; a race ends
for all its learners when one of them finishes or retires (that one terminated, the others
truncated) or is flagged, and its karts go back on the grid at the next step. A vector env given a list of
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
``scenario`` (a :class:`karting.scenario.Scenario`: every option below is one of its fields, and
every field works in a time trial and in a race), or, for a time trial, its fields as keywords:
``track`` (PNG path or shipped name, or a list of them), ``num_envs``, ``render_mode``
(``"rgb_array"``: a 480x320 chase view with the first-person view inset), ``frame_stack``,
``telemetry_history``,
``max_episode_steps``, ``random_start``, ``show_other_karts``, ``record_telemetry``,
``randomize`` (domain randomisation: each kart's light, sky, asphalt, grass and kerb colours,
camera height and pitch, grip and water on the track drawn anew at each of its resets, e.g.
``"default"`` or ``{"light": (0.7, 1.3), "grip": (0.9, 1.1), "rain": (0, 1)}``; see
:mod:`karting.sim.randomize`; off by default), the realism models of
:mod:`karting.sim.conditions`, each off by default: ``weather`` ("dry", "damp", "wet", a rain
level 0..1 or a dict of rain, rubber, track_temp_c), ``tyres`` ("new" = cold, "warm",
"scrubbed", "used", "worn" or a dict of wear, temp_c), ``setup`` (a dict or
:class:`karting.sim.conditions.KartSetup`: sprocket, pressure_front_bar, pressure_rear_bar,
rear_track_m) and ``fuel`` (litres at the start), whose state is in ``info`` (``grip``,
``wetness``, ``tyre_temp_c`` and ``tyre_wear`` (N, 2) front/rear, ``fuel_l``) and in the
telemetry CSV; and ``reward``, the weights above (:class:`karting.sim.karts.RewardConfig`).

"""
from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from ..scenario import LEAGUE, LEARNER, Scenario
from ..sim.physics import CONTROL_HZ
from ..sim.race_control import FINISHED, RETIRED
from ..telemetry.recorder import export_csv
from ..track import Track, load_track
from .session import Session
from .spec import ACTION_SPACE, check_actions, race_observation_space

NEXT_STEP, SAME_STEP = gym.vector.AutoresetMode.NEXT_STEP, gym.vector.AutoresetMode.SAME_STEP


def reseed(env, seed) -> None:
    """A vector env's ``reset(seed=...)``: a new ``np_random`` and seeded action spaces (a
    sequence of seeds, as Gymnasium's wrappers may pass, counts by its first)."""
    if seed is None:
        return
    if not isinstance(seed, (int, np.integer)):
        seed = int(np.asarray(seed).ravel()[0])
    env.np_random = np.random.default_rng(seed)
    env.single_action_space.seed(seed)
    env.action_space.seed(seed)


def scenario_of(scenario, track, num_envs, options: dict) -> Scenario:
    """The scenario an env was given, or a time trial made of its keywords (the classic form)."""
    if scenario is None:
        return Scenario.time_trial("circuit.png" if track is None else track,
                                   1 if num_envs is None else num_envs, **options)
    if options or track is not None:
        given = sorted(options) + (["track"] if track is not None else [])
        raise ValueError(f"give either a scenario or its fields as keywords, not both (got {', '.join(given)})")
    if num_envs is not None and num_envs != scenario.num_learners:
        raise ValueError(f"num_envs={num_envs}, but the scenario has {scenario.num_learners} learners "
                         f"({scenario.races} races x {scenario.learners_per_race})")
    return scenario


class KartingVectorEnv(gym.vector.VectorEnv):
    __doc__ = __doc__
    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_HZ, "autoreset_mode": NEXT_STEP}

    def __init__(self, track=None, num_envs: int | None = None, render_mode=None, *, scenario: Scenario | None = None,
                 autoreset_mode=NEXT_STEP, names: list | None = None, seed: int = 0, **options):
        """``names``: the karts of one race in results; ``seed``: the AI drivers' own randomness."""
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if autoreset_mode not in (NEXT_STEP, SAME_STEP):
            raise ValueError(f"autoreset_mode must be one of {(NEXT_STEP, SAME_STEP)}, got {autoreset_mode!r}")
        self.scenario = sc = scenario_of(scenario, track, num_envs, options)
        self.metadata = {**self.metadata, "autoreset_mode": autoreset_mode}
        self.session = Session(sc, names=names, seed=seed)
        self.tracks, self.track = list(self.session.tracks), self.session.track
        self.num_envs = sc.num_learners
        self.render_mode = render_mode
        drivers = np.array(self.session.drivers)
        self.learners = np.flatnonzero(drivers == LEARNER)                  # kart indices
        self.league_karts = np.flatnonzero(drivers == LEAGUE)
        views = self.batch.views if self.batch.views is not None else np.arange(self.batch.n)
        self._views = views
        self._learner_view = np.searchsorted(views, self.learners)
        self._league_view = np.searchsorted(views, self.league_karts)
        self._all_views = np.array_equal(self._learner_view, np.arange(len(views)))   # obs as they come
        self.race_of = self.learners // sc.karts_per_race
        self.assignment = self.batch.kart_track[self.learners]
        self.drive_league = None                 # f(obs of the league karts) -> (L, 2) actions
        self.single_observation_space = race_observation_space(sc.frame_stack, sc.telemetry_history,
                                                               sc.race_obs and sc.is_race, sc.preview)
        self.single_action_space = ACTION_SPACE
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._autoreset = np.zeros(self.num_envs, bool)
        self._ext_obs = None
        self.last_reward = np.zeros(self.num_envs)
        self.np_random = np.random.default_rng()
        self._swap_due: dict = {}       # slot -> Track: replaced at the karts' next reset
        self._swap_now: dict = {}

    @property
    def batch(self):
        """The karts' simulation and observations (:class:`karting.env.batch.KartBatch`)."""
        return self.session.batch

    @property
    def track_lengths(self) -> np.ndarray:
        """(num_envs,) lap length of each learner's track [m]."""
        return self.batch.length[self.learners].copy()

    # ------------------------------------------------------------ tracks
    def replace_tracks(self, new: dict) -> None:
        """Schedule ``{slot: track}`` replacements (a Track, PNG path or name each) in a time
        trial. The karts on a replaced slot end their episode at the next step (truncated, the
        final observation on the old track) and start the following one on the new track."""
        if self.metadata["autoreset_mode"] != NEXT_STEP:
            raise ValueError("replace_tracks needs the next-step autoreset mode")
        if self.scenario.is_race:
            raise ValueError("replace_tracks is for time trials: a race keeps its track")
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

    def _swap_ends(self, truncated, reset_now, terminated):
        """Karts whose track is replaced end now (truncated) unless one of them restarts now."""
        if self._swap_now:
            self._apply_swaps()            # their karts are in reset_now
        for slot in list(self._swap_due):
            on = self.assignment == slot
            if (on & reset_now).any():     # one of its karts restarts now: end them all next step
                continue
            truncated = truncated | (on & ~terminated)
            self._swap_now[slot] = self._swap_due.pop(slot)
        return truncated

    # ------------------------------------------------------------ the loop
    def _grid(self):
        """A shuffled grid for every race when the scenario asks for one (else the fixed grid)."""
        if not (self.scenario.is_race and self.scenario.shuffled):
            return None
        return np.concatenate([self.np_random.permutation(self.session.per) for _ in range(self.session.races)])

    def _karts(self, learner_mask: np.ndarray) -> np.ndarray:
        """(N,) kart mask of the learners in ``learner_mask``."""
        m = np.zeros(self.batch.n, bool)
        m[self.learners[learner_mask]] = True
        return m

    def _restart(self, learner_mask: np.ndarray) -> np.ndarray:
        """Restart the episodes of these learners (a race: their whole races); the karts' mask."""
        return self.session.restart(self.np_random, self._karts(learner_mask), order=self._grid())

    def _obs(self, obs: dict) -> dict:
        self._ext_obs = obs
        if self._all_views and not (self.scenario.race_obs and self.scenario.is_race):
            return obs
        v = self._learner_view
        tel = obs["telemetry"][v]
        if self.scenario.race_obs and self.scenario.is_race:
            tel = np.concatenate([tel, self.session.race_vector(self.learners)], 1)
        return {"vision": obs["vision"][v], "telemetry": tel}

    def _info(self) -> dict:
        info = self.session.info()
        if len(self.learners) == self.batch.n:
            return info
        return {k: v[self.learners] for k, v in info.items()}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        reseed(self, seed)
        self._swap_now.update(self._swap_due)
        self._swap_due = {}
        self._apply_swaps()
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

    def _advance(self, a: np.ndarray) -> tuple:
        """Step the session with the learners' actions ``a``: (reward, terminated, truncated) of
        the learners (a race: the race terms added; its learners end together)."""
        s = self.session
        if s.control is None:
            return s.simulate(a)
        ext = np.zeros((len(s.ext_idx), 2), np.float32)
        ext[self._learner_view] = a
        ext[self._league_view] = check_actions(self._league_actions(), len(self.league_karts))
        reward, _, _ = s.simulate(ext)
        le = self.learners
        r = reward[le] + s.race_terms(le)
        st = s.control.status[le]
        race_over = np.zeros(s.races, bool)
        race_over[self.race_of[st != 0]] = True
        over = race_over[self.race_of]
        terminated = over & ((st == FINISHED) | (st == RETIRED))
        return r, terminated, over & ~terminated

    def step(self, actions) -> tuple:
        if self.metadata["autoreset_mode"] == SAME_STEP:
            return self._step_same_step(actions)
        a = check_actions(actions, self.num_envs)
        reset_now = self._autoreset.copy()
        a[reset_now] = 0.0
        reward, terminated, truncated = self._advance(a)
        if not self.scenario.is_race:
            truncated = self._swap_ends(truncated, reset_now, terminated)
        fresh = None
        if reset_now.any():
            fresh = self._restart(reset_now)
            reward = reward.copy()
            reward[reset_now] = 0.0
            terminated, truncated = terminated & ~reset_now, truncated & ~reset_now
        elif not self.scenario.is_race:
            fresh = reset_now
        obs = self.session.observe(fresh)
        self.session.record()
        self._autoreset = terminated | truncated
        out = reward.astype(np.float32)
        # full precision for the single-kart adapter: a race's terms are float64 (and a fresh
        # array); a time trial's reward is the batch's own float32 array, so its copy serves
        self.last_reward = reward if self.scenario.is_race else out
        return self._obs(obs), out, terminated, truncated, self._info()

    def _step_same_step(self, actions):
        """Gymnasium's same-step autoreset: a finished kart is reset at once (a race: its whole
        race); its final observation and info are in ``info["final_obs"]`` / ``info["final_info"]``
        (masks ``_final_obs`` / ``_final_info``). Costs a second render on steps where one finished."""
        s = self.session
        reward, terminated, truncated = self._advance(check_actions(actions, self.num_envs))
        reward = reward.astype(np.float32)      # a copy: a restart zeroes the batch's reward in place
        obs = self._obs(s.observe())
        s.record()
        info = self._info()
        done = terminated | truncated
        if done.any():
            final_obs = np.empty(self.num_envs, object)
            for i in np.flatnonzero(done):
                final_obs[i] = {k: v[i].copy() for k, v in obs.items()}
            raw = self._ext_obs
            fresh = self._restart(done)
            first = s.observe(fresh)
            keep = ~fresh[self._views]   # observe() advanced every kart's frame/telemetry history: undo
            first["vision"][keep] = raw["vision"][keep]
            first["telemetry"][keep] = raw["telemetry"][keep]
            self.batch.telemetry[self._views[keep]] = raw["telemetry"][keep][:, :self.batch.telemetry.shape[1]]
            obs = self._obs(first)
            info = {**self._info(), "final_obs": final_obs, "_final_obs": done.copy(),
                    "final_info": info, "_final_info": done.copy()}
        self.last_reward = reward
        return obs, reward, terminated, truncated, info

    # ------------------------------------------------------------ the rest
    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array":
            return self.batch.frame(int(self.learners[0]))
        return None

    def export_telemetry(self, path: str = "session.csv") -> Path:
        """Write every recorded step of every kart as CSV (env = kart index; a race adds its
        columns); returns the path written."""
        if self.batch.recorder is None:
            raise RuntimeError("telemetry was not recorded: create the env with record_telemetry=True")
        return export_csv(self.batch.recorder, path)

    def close(self, **kwargs) -> None:
        self.session.close()


def make_vec(track="circuit.png", num_envs: int = 8, **kwargs) -> KartingVectorEnv:
    """A natively batched vector env: ``num_envs`` karts, one GL context, one readback per step
    (``scenario=`` for any scenario, e.g. ``Scenario.race(...)``)."""
    if "scenario" in kwargs:
        return KartingVectorEnv(**kwargs)
    return KartingVectorEnv(track, num_envs=num_envs, **kwargs)
