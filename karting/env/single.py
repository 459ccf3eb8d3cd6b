"""The single-kart ``gym.Env``: one learner of :class:`karting.env.vector.KartingVectorEnv`.

``Karting-v0`` is a one-kart time trial, ``KartingRace-v0`` one learning kart against AI
opponents; both are this adapter over the one vector env, so every scenario option (weather,
tyres, randomisation, rules) works in both. Observation, action, reward and info as the vector
env's, for its one learner, plus ``sector`` (1..3) and, when a race ends, ``results`` (the
classification). The episode ends as the vector env's does; step it again only after ``reset``.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from ..scenario import Scenario
from ..sim.physics import CONTROL_HZ
from ..sim.race_control import RaceReward
from .vector import KartingVectorEnv


class KartingEnv(gym.Env):
    """One kart: ``KartingEnv(track, **fields)`` is a time trial (the fields of
    :class:`karting.scenario.Scenario`, as ``Karting-v0`` takes them); ``KartingEnv(scenario=...)``
    any scenario with one learner. See :mod:`karting.env.vector` for the contract."""
    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_HZ}

    def __init__(self, track=None, render_mode=None, *, scenario: Scenario | None = None,
                 names: list | None = None, **options):
        if scenario is None:
            options = {"show_other_karts": False, "record_telemetry": True, **options}
            scenario = Scenario.time_trial("circuit.png" if track is None else track, 1, **options)
        elif options or track is not None:
            raise ValueError("give either a scenario or its fields as keywords, not both")
        if scenario.num_learners != 1:
            raise ValueError(f"a single-kart env drives one learner; this scenario has {scenario.num_learners} "
                             "(use karting.make_vec or karting.parallel_env)")
        self.vec = KartingVectorEnv(scenario=scenario, render_mode=render_mode, names=names)
        self.scenario, self.render_mode = scenario, render_mode
        self.observation_space = self.vec.single_observation_space
        self.action_space = self.vec.single_action_space

    @property
    def batch(self):
        return self.vec.batch

    @property
    def session(self):
        return self.vec.session

    @property
    def track(self):
        return self.vec.track

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple:
        super().reset(seed=seed)
        self.vec.np_random = self.np_random          # one stream: gymnasium's, seeded here
        obs, _ = self.vec.reset()
        return {k: v[0] for k, v in obs.items()}, self._info(False)

    def step(self, action) -> tuple:
        obs, _, terminated, truncated, _ = self.vec.step(action)
        done = bool(terminated[0] or truncated[0])
        return ({k: v[0] for k, v in obs.items()}, float(self.vec.last_reward[0]), bool(terminated[0]),
                bool(truncated[0]), self._info(done))

    def _info(self, done: bool) -> dict:
        k = int(self.vec.learners[0])
        info = {key: (v[k].item() if np.ndim(v[k]) == 0 else v[k]) for key, v in self.session.info().items()}
        info["sector"] = int(self.batch.sector[k]) + 1
        if done and self.session.control is not None:
            info["results"] = self.session.control.results()
        return info

    def render(self) -> np.ndarray | None:
        return self.vec.render()

    def export_telemetry(self, path: str = "session.csv"):
        """Write every recorded step as CSV (a race: every kart, env = kart index, with the race
        columns); returns the path written."""
        return self.vec.export_telemetry(path)

    def close(self) -> None:
        self.vec.close()


def KartingRaceEnv(track="circuit.png", opponents=3, difficulty="club", laps: int = 3, race_obs: bool = False,
                   grid_position: int | None = None, render_mode=None, reward: RaceReward = RaceReward(),
                   **options) -> KartingEnv:
    """``KartingRace-v0``: one learning kart against ``opponents`` AI karts (a count of
    ``difficulty`` or level names), from the back of the grid (or ``grid_position``, 1 = pole).
    Observation as ``Karting-v0`` (the camera shows the rivals); with ``race_obs=True`` the
    telemetry ends with the race vector. Reward: the time-trial reward plus ``reward``'s race
    terms. Terminated when it finishes or retires, truncated when flagged or at the race's time
    limit. ``options``: any other :class:`karting.scenario.Scenario` field (weather, tyres,
    randomize, start_lights, frame_stack, ...)."""
    sc = Scenario.race(track, opponents, difficulty, laps=laps, race_obs=race_obs, grid_position=grid_position,
                       race_reward=reward, **options)
    return KartingEnv(scenario=sc, render_mode=render_mode, names=["agent"] + [f"AI {lv}" for lv in sc.opponents])
