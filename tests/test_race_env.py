"""The race environments: KartingRace-v0 (Gymnasium) and karting.parallel_env (PettingZoo)."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

import karting
from karting.env import KartingRaceEnv
from karting.scenario import parse_opponents


def test_parallel_env_passes_pettingzoo_api_test():
    env = karting.parallel_env(track="oval.png", num_karts=3, laps=1, opponents=1)
    parallel_api_test(env, num_cycles=100)
    env.close()


def test_gym_race_env_passes_check_env_and_reports_the_race():
    env = gym.make("KartingRace-v0", track="oval.png", opponents=3, difficulty="rookie", laps=1,
                   race_obs=True).unwrapped
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert obs["vision"].shape == (84, 84, 3) and obs["telemetry"].shape == (12,)
    assert info["position"] == 4                       # from the back of the grid by default
    assert obs["telemetry"][9] == pytest.approx(1.0)   # position / karts
    for _ in range(40):
        obs, r, term, trunc, info = env.step(np.array([0.0, 1.0], np.float32))
    assert info["speed_kmh"] > 20 and "gap_ahead_s" in info and np.isfinite(r)
    env.close()


def test_rival_karts_are_in_the_camera():
    env = karting.parallel_env(track="oval.png", num_karts=2, laps=1)
    obs, _ = env.reset(seed=0)
    seen = obs["kart_1"]["vision"].copy()         # P2 sees the pole kart 4 m ahead, 3 m left
    r = env.session.batch.renderer
    r.kart_visible[0] = False
    b = env.session.batch
    alone = r.render(b.state.x, b.state.y, b.state.yaw)[1].copy()
    diff = np.abs(seen.astype(int) - alone.astype(int)).sum(-1) > 30
    assert diff.sum() > 40, "the rival kart is not drawn"
    env.close()


def test_bad_race_inputs():
    with pytest.raises(ValueError, match="unknown difficulty"):
        KartingRaceEnv("oval.png", opponents=2, difficulty="legend")
    with pytest.raises(ValueError, match="grid holds"):
        KartingRaceEnv("oval.png", opponents=400)
    with pytest.raises(ValueError, match="grid_position"):
        KartingRaceEnv("oval.png", opponents=2, grid_position=7)
    with pytest.raises(ValueError, match="at least 1 lap"):
        KartingRaceEnv("oval.png", opponents=2, laps=0)
    assert parse_opponents("club,pro,alien") == ("club", "pro", "alien")
    assert parse_opponents(4, "rookie,alien") == ("rookie", "alien", "rookie", "alien")
    env = karting.parallel_env(track="oval.png", num_karts=2, laps=1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="no action for 'kart_1'"):
        env.step({"kart_0": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match="NaN"):
        env.step({"kart_0": np.array([np.nan, 0], np.float32), "kart_1": np.zeros(2, np.float32)})
    env.agents = ["kart_1"]                             # as if kart_0 had finished
    with pytest.raises(ValueError, match="'kart_0', which is done"):
        env.step({"kart_0": np.zeros(2, np.float32), "kart_1": np.zeros(2, np.float32)})
    env.close()


def test_native_frame_stack_and_race_telemetry(tmp_path):
    env = karting.parallel_env(track="oval.png", num_karts=2, laps=1, frame_stack=4, record_telemetry=True)
    obs, _ = env.reset(seed=0)
    assert obs["kart_0"]["vision"].shape == (84, 84, 12)
    for _ in range(10):
        obs, *_ = env.step({a: np.array([0.0, 1.0], np.float32) for a in env.agents})
    from karting.telemetry import export_csv
    path = export_csv(env.session.batch.recorder, tmp_path / "race.csv")
    import pandas as pd
    df = pd.read_csv(path)
    for col in ("position", "gap_ahead_s", "gap_leader_s", "contact", "race_status"):
        assert col in df.columns
    assert sorted(df["env"].unique()) == [0, 1] and set(df["position"].unique()) <= {1, 2}
    env.close()


def test_self_play_races_end_together_and_restart(ring_png):
    from karting.env import KartingVectorEnv, Scenario
    from karting.sim.expert import PurePursuit
    env = KartingVectorEnv(scenario=Scenario.race(ring_png, learners=2, league=1, races=2, laps=1))
    calls = []
    env.drive_league = lambda o: calls.append(len(o["vision"])) or np.zeros((len(o["vision"]), 2), np.float32)
    obs, info = env.reset(seed=0)
    assert obs["vision"].shape == (4, 84, 84, 3) and sorted(env.race_of) == [0, 0, 1, 1]
    assert set(info["position"]) <= {1, 2, 3}
    pp = PurePursuit(env.track)
    for _ in range(1200):
        b = env.batch
        obs, r, term, trunc, info = env.step(pp.act(b.state, b.idx)[env.learners])
        if (term | trunc).any():
            break
    assert calls and calls[0] == 2                          # one league kart per race
    done = term | trunc
    for race in np.unique(env.race_of[done]):
        both = env.race_of == race
        assert done[both].all() and term[both].sum() >= 1   # the race ends for both learners
    obs, r, term, trunc, info = env.step(np.zeros((4, 2), np.float32))
    assert (r[done] == 0).all() and not (term | trunc)[done].any()
    assert (info["race_laps"][done] == 0).all()             # back on the grid
    env.close()


def test_pettingzoo_supersuit_sb3_pipeline():
    """The pipeline PettingZoo -> SuperSuit -> Stable-Baselines3: black_death keeps done karts
    (SuperSuit's vector env needs a constant set of agents), the env pickles as its arguments
    (SuperSuit copies envs that way), and SB3's PPO learns on the Dict observations."""
    import supersuit as ss
    from stable_baselines3 import PPO
    env = karting.parallel_env(track="oval.png", num_karts=2, laps=1, frame_stack=2, black_death=True)
    v = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(env), 2, num_cpus=0, base_class="stable_baselines3")
    obs = v.reset()
    assert obs["vision"].shape == (4, 84, 84, 6) and obs["telemetry"].shape == (4, 9)
    model = PPO("MultiInputPolicy", v, n_steps=16, batch_size=32, n_epochs=1, verbose=0)
    model.learn(64)
    assert model.num_timesteps >= 64
    v.close()


def test_black_death_reports_each_end_once_and_resets_together():
    import supersuit as ss
    env = karting.parallel_env(track="oval.png", num_karts=2, laps=1, black_death=True)
    v = ss.pettingzoo_env_to_vec_env_v1(env)
    v.reset(seed=0)
    ends = []
    for k in range(400):              # kart 0 straight on, kart 1 steering off: both hit the wall
        _, r, term, trunc, _ = v.step(np.array([[0.0, 1.0], [0.2, 1.0]], np.float32))
        if (term | trunc).any():
            ends.append((k, tuple(term | trunc), tuple(r)))
        if len(ends) == 2:
            break
    (k1, d1, _), (k2, d2, r2) = ends
    assert d1 == (False, True) and d2 == (True, True) and k2 > k1
    assert r2[1] == 0.0                                  # the zombie kart earns nothing
