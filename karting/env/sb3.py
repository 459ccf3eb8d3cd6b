"""Stable-Baselines3 on the natively batched env: ``SB3VecEnv`` is an SB3 ``VecEnv`` over one
``KartingVectorEnv`` (N karts, one GL context, one readback per step).

SB3 also works on the single env as any Gymnasium env (``make_vec_env("Karting-v0", n_envs)``),
but that makes N envs with N GL contexts and N readbacks; this adapter keeps the batch. It uses
the env's same-step autoreset (SB3's convention) and fills SB3's ``terminal_observation``,
``TimeLimit.truncated`` and Monitor-style ``episode`` entries, so ``ep_rew_mean`` is logged.
"""
from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from .gym_env import KartingVectorEnv


class SB3VecEnv(VecEnv):
    """Stable-Baselines3's VecEnv over the natively batched KartingVectorEnv (same-step
    autoreset, ``terminal_observation`` and ``episode`` infos as SB3 expects); the VecEnv API is
    SB3's."""
    def __init__(self, track="circuit.png", num_envs: int = 16, **kwargs):
        self.env = KartingVectorEnv(track, num_envs=num_envs,
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP, **kwargs)
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
