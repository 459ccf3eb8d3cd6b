"""PettingZoo ``ParallelEnv``: every kart of a race is an agent (``karting.parallel_env``).

One physics batch with contacts, one renderer and one readback for all karts per step (see
:mod:`karting.env.race_env`). Agents are ``kart_0`` .. ``kart_{N-1}`` in grid order (``kart_0``
on pole); ``opponents`` adds built-in AI karts that are not agents. An agent leaves
``env.agents`` when it finishes (terminated), retires (terminated) or is flagged (truncated);
an action for an agent that is done, or a missing action for one that is not, is a ValueError.
Observations, actions and rewards as ``KartingRace-v0``.

``black_death=True`` keeps done agents in ``env.agents`` until every kart is done (their actions
are ignored, their reward is 0, their observation is the parked kart's): what SuperSuit's
``pettingzoo_env_to_vec_env_v1`` needs to turn the race into an SB3 vector env (SuperSuit's
own ``black_death_v3`` accepts only Box observations, and these are a Dict).
"""
from __future__ import annotations

import numpy as np
from pettingzoo import ParallelEnv

from ..sim.physics import CONTROL_HZ
from ..sim.racing import FINISHED, FLAGGED, RETIRED, RUNNING, RaceRules
from ..track import Track, load_track
from .race_env import RaceReward, RaceSession, parse_opponents, race_observation_space
from .spec import ACTION_SPACE


class KartingParallelEnv(ParallelEnv):
    metadata = {"name": "karting_race_v0", "render_modes": ["rgb_array"], "render_fps": CONTROL_HZ,
                "is_parallelizable": True}

    def __init__(self, track="circuit.png", num_karts: int = 4, laps: int = 3, opponents=0,
                 difficulty: str = "club", race_obs: bool = False, render_mode=None,
                 frame_stack: int = 1, telemetry_history: int = 1, record_telemetry: bool = False,
                 reward: RaceReward = RaceReward(), start_lights: bool = False, checkpoints=None,
                 black_death: bool = False):
        self.black_death = black_death
        self._init_args = dict(black_death=black_death, track=track, num_karts=num_karts, laps=laps,
                               opponents=opponents, difficulty=difficulty, race_obs=race_obs, render_mode=render_mode,
                               frame_stack=frame_stack, telemetry_history=telemetry_history,
                               record_telemetry=record_telemetry, reward=reward, start_lights=start_lights,
                               checkpoints=checkpoints)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if int(num_karts) < 1:
            raise ValueError(f"num_karts must be >= 1, got {num_karts}")
        levels = parse_opponents(opponents, difficulty)
        track = track if isinstance(track, Track) else load_track(track, checkpoints)
        self.possible_agents = [f"kart_{i}" for i in range(int(num_karts))]
        drivers = [None] * len(self.possible_agents) + levels
        self.session = RaceSession(track, drivers, rules=RaceRules(laps=laps, start_lights=start_lights),
                                   names=self.possible_agents + [f"AI {lv}" for lv in levels],
                                   frame_stack=frame_stack, telemetry_history=telemetry_history,
                                   record_telemetry=record_telemetry)
        self.track, self.render_mode, self.race_obs, self.reward_cfg = track, render_mode, race_obs, reward
        self._obs_space = race_observation_space(frame_stack, telemetry_history, race_obs)
        self.agents = []
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self.np_random = np.random.default_rng()

    def __getstate__(self):
        """Pickled as its arguments (the GL context cannot be): SuperSuit's
        ``concat_vec_envs_v1`` copies envs this way, and each copy builds its own session."""
        return self._init_args

    def __setstate__(self, state):
        self.__init__(**state)

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return ACTION_SPACE

    def _obs(self, obs, agents):
        out = {}
        race = self.session.race_vector(np.arange(len(self.possible_agents))) if self.race_obs else None
        for a in agents:
            i = self._index[a]
            tel = obs["telemetry"][i]
            if race is not None:
                tel = np.concatenate([tel, race[i]])
            out[a] = {"vision": obs["vision"][i], "telemetry": tel}
        return out

    def _infos(self, agents):
        info = self.session.info()
        return {a: {k: (v[self._index[a]].item() if np.ndim(v[self._index[a]]) == 0 else v[self._index[a]])
                    for k, v in info.items()} for a in agents}

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        obs = self.session.reset(self.np_random)
        self.agents = list(self.possible_agents)
        return self._obs(obs, self.agents), self._infos(self.agents)

    def step(self, actions: dict):
        done_given = [a for a in actions if a not in self.agents]
        if self.black_death:
            actions = {a: v for a, v in actions.items() if a in self.agents
                       and self.session.control.status[self._index[a]] == RUNNING}
        if done_given:
            bad = done_given[0]
            why = "is not a kart of this race" if bad not in self._index else "is done (finished, retired or flagged)"
            raise ValueError(f"action for {bad!r}, which {why}: send actions only for env.agents")
        running = [a for a in self.agents if self.session.control.status[self._index[a]] == RUNNING]
        missing = [a for a in running if a not in actions]
        if missing:
            raise ValueError(f"no action for {missing[0]!r}: every agent in env.agents needs one")
        n = len(self.possible_agents)
        act = np.zeros((n, 2), np.float32)
        for a, v in actions.items():
            act[self._index[a]] = np.asarray(v, np.float32).reshape(2)
        s = self.session
        obs, reward, _ = s.step(act)
        rc = s.control
        r = reward[:n] + self.reward_cfg.terms(s, slice(0, n))
        live = list(self.agents)
        st = rc.status
        was_running = np.array([a in running for a in live])
        rewards = {a: float(r[self._index[a]]) if run else 0.0 for a, run in zip(live, was_running)}
        # a kart's end is reported on the step it ends (with black_death, and for everyone on
        # the race's last step: a zombie kart between the two reports neither)
        last = not (st[: len(self.possible_agents)] == RUNNING).any()
        report = {a: run or last or not self.black_death for a, run in zip(live, was_running)}
        terms = {a: bool(st[self._index[a]] in (FINISHED, RETIRED)) and report[a] for a in live}
        truncs = {a: bool(st[self._index[a]] == FLAGGED) and report[a] for a in live}
        out_obs = self._obs(obs, live)
        infos = self._infos(live)
        still = [a for a in live if st[self._index[a]] == RUNNING]
        self.agents = (live if still else []) if self.black_death else still
        if not still:
            for a in live:
                infos[a]["results"] = rc.results()
        return out_obs, rewards, terms, truncs, infos

    def render(self):
        if self.render_mode == "rgb_array":
            return self.session.batch.frame(int(self.session.control.standings()[0]))
        return None

    def close(self):
        self.session.close()


def parallel_env(track="circuit.png", num_karts: int = 4, laps: int = 3, **kwargs) -> KartingParallelEnv:
    """A PettingZoo ParallelEnv race of ``num_karts`` agents (see :class:`KartingParallelEnv`)."""
    return KartingParallelEnv(track, num_karts=num_karts, laps=laps, **kwargs)
