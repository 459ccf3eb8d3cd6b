"""Gymnasium environments over :mod:`karting.sim`, for any :class:`karting.scenario.Scenario`:
``vector`` (``KartingVectorEnv``, the one natively batched env: time trials and races),
``single`` (the single-kart ``gym.Env`` adapter: ``Karting-v0``, ``KartingRace-v0``),
``adapters`` (PettingZoo and Stable-Baselines3), ``session`` (the karts of a scenario as one
batch: simulation, race control, AI drivers), ``batch`` (the simulation's observations),
``render`` (the batched EGL renderer, the only module that imports moderngl), ``spec`` (the
observation and action contract), ``cameras`` (video frames). The contract is
:mod:`karting.env.vector`'s docstring."""
from ..scenario import Scenario
from ..sim.karts import RewardConfig
from ..sim.race_control import RaceReward
from .batch import KartBatch
from .session import Session
from .single import KartingEnv, KartingRaceEnv
from .spec import TELEMETRY_HIGH, TELEMETRY_LOW, TELEMETRY_NAMES, TELEMETRY_SIZE, VIEW
from .vector import KartingVectorEnv, make_vec

__all__ = ["KartingEnv", "KartingRaceEnv", "KartingVectorEnv", "make_vec", "Scenario", "Session", "KartBatch",
           "RewardConfig", "RaceReward", "TELEMETRY_NAMES", "TELEMETRY_LOW", "TELEMETRY_HIGH", "TELEMETRY_SIZE",
           "VIEW"]
