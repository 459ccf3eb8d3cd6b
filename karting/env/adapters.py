"""The adapters: PettingZoo (``KartingParallelEnv``, every kart of a race an agent) and
Stable-Baselines3 (``SB3VecEnv``), both over the one batch of a scenario.

## PettingZoo
One physics batch with contacts, one renderer and one readback for all karts per step (see
:mod:`karting.env.session`). Agents are ``kart_0`` .. ``kart_{N-1}`` in grid order (``kart_0``
on pole); ``opponents`` adds built-in AI karts that are not agents. An agent leaves
``env.agents`` when it finishes (terminated), retires (terminated) or is flagged (truncated);
an action for an agent that is done, or a missing action for one that is not, is a ValueError.
Observations, actions and rewards as ``KartingRace-v0``.

``black_death=True`` keeps done agents in ``env.agents`` until every kart is done (their actions
are ignored, their reward is 0, their observation is the parked kart's): what SuperSuit's
``pettingzoo_env_to_vec_env_v1`` needs to turn the race into an SB3 vector env (SuperSuit's
own ``black_death_v3`` accepts only Box observations, and these are a Dict).
Any scenario field works (weather, tyres, randomisation, rules).

## Stable-Baselines3
SB3 also works on the single env as any Gymnasium env (``make_vec_env("Karting-v0", n_envs)``),
but that makes N envs with N GL contexts and N readbacks; this adapter keeps the batch. It uses
the env's same-step autoreset (SB3's convention) and fills SB3's ``terminal_observation``,
``TimeLimit.truncated`` and Monitor-style ``episode`` entries, so ``ep_rew_mean`` is logged.
"""
from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
from pettingzoo import ParallelEnv

from ..scenario import Scenario
from ..sim.physics import CONTROL_HZ
from ..sim.race_control import FINISHED, FLAGGED, RETIRED, RUNNING, RaceReward
from .session import Session
from .spec import ACTION_SPACE, race_observation_space
from .vector import KartingVectorEnv


class KartingParallelEnv(ParallelEnv):
    metadata = {"name": "karting_race_v0", "render_modes": ["rgb_array"], "render_fps": CONTROL_HZ,
                "is_parallelizable": True}

    def __init__(self, track="circuit.png", num_karts: int = 4, laps: int = 3, opponents=0,
                 difficulty: str = "club", race_obs: bool = False, render_mode=None,
                 reward: RaceReward = RaceReward(), black_death: bool = False, **options):
        """``options``: any other :class:`karting.scenario.Scenario` field (frame_stack,
        telemetry_history, record_telemetry, start_lights, checkpoints, weather, tyres, setup,
        fuel, randomize, ...)."""
        self._init_args = dict(track=track, num_karts=num_karts, laps=laps, opponents=opponents,
                               difficulty=difficulty, race_obs=race_obs, render_mode=render_mode, reward=reward,
                               black_death=black_death, **options)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if isinstance(num_karts, bool) or int(num_karts) < 1:
            raise ValueError(f"num_karts must be >= 1, got {num_karts}")
        k = int(num_karts)
        # every agent on the grid in kart order (kart_0 on pole), the AI karts behind
        sc = Scenario.race(track, opponents, difficulty, learners=k, laps=laps, race_obs=race_obs,
                           race_reward=reward, shuffle_grid=False, grid_position=1 if k == 1 else None, **options)
        self.scenario, self.black_death = sc, black_death
        self.possible_agents = [f"kart_{i}" for i in range(k)]
        self.session = Session(sc, names=self.possible_agents + [f"AI {lv}" for lv in sc.opponents])
        self.track, self.render_mode, self.race_obs = self.session.track, render_mode, race_obs
        self._obs_space = race_observation_space(sc.frame_stack, sc.telemetry_history, race_obs, sc.preview)
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

    def _actions(self, actions: dict) -> tuple:
        """The (agents, 2) action array, and the agents that were running before this step."""
        status = self.session.control.status
        done_given = [a for a in actions if a not in self.agents]
        if self.black_death:
            actions = {a: v for a, v in actions.items() if a in self.agents and status[self._index[a]] == RUNNING}
        if done_given:
            bad = done_given[0]
            why = "is not a kart of this race" if bad not in self._index else "is done (finished, retired or flagged)"
            raise ValueError(f"action for {bad!r}, which {why}: send actions only for env.agents")
        running = [a for a in self.agents if status[self._index[a]] == RUNNING]
        missing = [a for a in running if a not in actions]
        if missing:
            raise ValueError(f"no action for {missing[0]!r}: every agent in env.agents needs one")
        act = np.zeros((len(self.possible_agents), 2), np.float32)
        for a, v in actions.items():
            act[self._index[a]] = np.asarray(v, np.float32).reshape(2)
        return act, running

    def step(self, actions: dict):
        act, running = self._actions(actions)
        s, n = self.session, len(self.possible_agents)
        obs, reward, _ = s.step(act)
        rc = s.control
        r = reward[:n] + s.race_terms(slice(0, n))
        live = list(self.agents)
        st = rc.status
        was_running = np.array([a in running for a in live])
        rewards = {a: float(r[self._index[a]]) if run else 0.0 for a, run in zip(live, was_running)}
        # a kart's end is reported on the step it ends (with black_death, and for everyone on
        # the race's last step: a zombie kart between the two reports neither)
        last = not (st[:n] == RUNNING).any()
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


def _vec_env_base():
    """SB3's VecEnv (stable-baselines3 is an optional extra: imported when the adapter is made)."""
    from stable_baselines3.common.vec_env import VecEnv
    return VecEnv


def SB3VecEnv(track="circuit.png", num_envs: int = 16, **kwargs):
    """Stable-Baselines3's VecEnv over the natively batched KartingVectorEnv (same-step
    autoreset, ``terminal_observation`` and ``episode`` infos as SB3 expects; ``scenario=`` for
    any scenario); needs stable-baselines3."""
    global _SB3VecEnv
    if _SB3VecEnv is None:
        _SB3VecEnv = type("SB3VecEnv", (_SB3Adapter, _vec_env_base()), {})
    return _SB3VecEnv(track, num_envs, **kwargs)


_SB3VecEnv = None


class _SB3Adapter:
    """The VecEnv methods; SB3VecEnv mixes them into SB3's VecEnv class."""
    def __init__(self, track="circuit.png", num_envs: int = 16, **kwargs):
        if "scenario" in kwargs:
            self.env = KartingVectorEnv(autoreset_mode=gym.vector.AutoresetMode.SAME_STEP, **kwargs)
        else:
            self.env = KartingVectorEnv(track, num_envs=num_envs,
                                        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP, **kwargs)
        num_envs = self.env.num_envs
        super().__init__(num_envs, self.env.single_observation_space, self.env.single_action_space)
        self.ep_ret, self.ep_len = np.zeros(num_envs), np.zeros(num_envs, np.int64)
        self.t0 = time.time()
        self._actions = None

    def reset(self) -> dict:
        seed = self._seeds[0] if getattr(self, "_seeds", None) and self._seeds[0] is not None else None
        obs, _ = self.env.reset(seed=seed)
        self._reset_seeds()
        self.ep_ret[:], self.ep_len[:] = 0.0, 0
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple:
        obs, reward, term, trunc, info = self.env.step(self._actions)
        done = term | trunc
        self.ep_ret += reward
        self.ep_len += 1
        infos = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(done):
            infos[i] = {"terminal_observation": info["final_obs"][i],
                        "TimeLimit.truncated": bool(trunc[i] and not term[i]),
                        "episode": {"r": float(self.ep_ret[i]), "l": int(self.ep_len[i]),
                                    "t": round(time.time() - self.t0, 6)}}
        self.ep_ret[done], self.ep_len[done] = 0.0, 0
        return obs, reward, done, infos

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices=None) -> list:
        return [getattr(self.env, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value, indices=None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list:
        return [getattr(self.env, method_name)(*args, **kwargs)] * len(self._get_indices(indices))

    def env_is_wrapped(self, wrapper_class, indices=None) -> list:
        return [False] * len(self._get_indices(indices))
