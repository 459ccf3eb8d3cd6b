"""A vision-based karting simulator for reinforcement learning.

``import karting`` registers ``Karting-v0`` (one kart) and ``KartingRace-v0`` (one kart against AI
opponents) with Gymnasium; ``karting.make_vec(track, num_envs)`` builds the natively batched
vector env, ``karting.parallel_env(track, num_karts)`` a PettingZoo race. Heavy modules (moderngl, scipy, pandas) are
imported only when an environment or tool needs them.
"""
from gymnasium.envs.registration import register

__version__ = "0.1.0"

register(id="Karting-v0", entry_point="karting.env.single:KartingEnv",
         vector_entry_point="karting.env.vector:KartingVectorEnv")
register(id="KartingRace-v0", entry_point="karting.env.single:KartingRaceEnv")


def parallel_env(track="circuit.png", num_karts: int = 4, laps: int = 3, **kwargs):
    """A PettingZoo ParallelEnv race where every kart is an agent (karting.env.adapters)."""
    from .env.adapters import parallel_env as _parallel_env
    return _parallel_env(track, num_karts=num_karts, laps=laps, **kwargs)


def make_vec(track="circuit.png", num_envs: int = 8, **kwargs):
    """``num_envs`` karts on ``track`` in one natively batched ``gymnasium.vector.VectorEnv``."""
    from .env import make_vec as _make_vec
    return _make_vec(track, num_envs=num_envs, **kwargs)


def __getattr__(name):
    if name in ("KartingEnv", "KartingVectorEnv", "RewardConfig", "Scenario"):
        from . import env
        return getattr(env, name)
    if name in ("load_track", "Track", "TrackError"):
        from . import track
        return getattr(track, name)
    raise AttributeError(f"module 'karting' has no attribute {name!r}")
