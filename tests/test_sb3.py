"""A real third-party client: stable-baselines3 PPO trains on the env and on the vector env."""
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")   # installed by the project's test extras


def test_sb3_ppo_multi_input_policy_trains_on_the_env(ring_png):
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    import karting  # noqa: F401  (registers Karting-v0)
    venv = make_vec_env("Karting-v0", n_envs=2, seed=0,
                        env_kwargs={"track": str(ring_png), "max_episode_steps": 50})
    model = PPO("MultiInputPolicy", venv, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    obs = venv.reset()
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (2, 2) and np.isfinite(action).all()
    assert len(model.ep_info_buffer) > 0          # episodes ended and were counted
    venv.close()
    assert isinstance(gym.spec("Karting-v0"), gym.envs.registration.EnvSpec)


def test_sb3_adapter_over_the_native_vector_env(ring_png):
    from stable_baselines3 import PPO

    from karting.env.adapters import SB3VecEnv
    venv = SB3VecEnv(str(ring_png), num_envs=4, max_episode_steps=40)
    model = PPO("MultiInputPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256 and len(model.ep_info_buffer) > 0
    venv.close()
