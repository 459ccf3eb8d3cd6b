"""Gymnasium environments over :mod:`karting.sim`: ``spec`` (the observation and action
contract), ``batch`` (a race with observations), ``render`` (the batched EGL renderer, the only
module that imports moderngl), ``gym_env`` (``Karting-v0``, the vector env), ``race_env``
(``KartingRace-v0``, races as a vector env for training), ``parallel`` (PettingZoo), ``sb3`` (the
Stable-Baselines3 adapter). The contract is :mod:`karting.env.gym_env`'s docstring."""
from ..sim.race import RewardConfig
from .batch import KartBatch
from .gym_env import KartingEnv, KartingVectorEnv, MultiTrackVectorEnv, make_train_envs, make_vec
from .spec import TELEMETRY_HIGH, TELEMETRY_LOW, TELEMETRY_NAMES, TELEMETRY_SIZE, VIEW

__all__ = ["KartingEnv", "KartingVectorEnv", "MultiTrackVectorEnv", "make_vec", "make_train_envs",
           "KartBatch", "RewardConfig", "TELEMETRY_NAMES", "TELEMETRY_LOW", "TELEMETRY_HIGH",
           "TELEMETRY_SIZE", "VIEW"]
