"""One scenario (karting.scenario): validated once, JSON round trip, and every option in every
mode of the one env and its adapters (issue 28)."""
import json

import gymnasium as gym
import numpy as np
import pytest

import karting
from karting.env import KartingEnv, KartingVectorEnv, Scenario
from karting.sim.karts import RewardConfig
from karting.sim.race_control import RaceReward


def test_a_scenario_round_trips_through_json():
    sc = Scenario.race("oval.png", "club,pro", learners=2, league=1, races=3, laps=2, weather="wet",
                       tyres={"wear": 0.2}, setup={"sprocket": 82}, fuel=4, randomize="default,grip=0.9:1.1",
                       reward=RewardConfig(lap_bonus=5.0), race_reward=RaceReward(position_bonus=1.0), race_obs=True)
    text = sc.to_json()
    assert json.loads(text)["drivers"] == ["learner", "learner", "league", "club", "pro"]
    back = Scenario.from_json(text)
    assert back == sc and back.num_learners == 6 and back.karts_per_race == 5
    assert back.reward.lap_bonus == 5.0 and back.race_reward.position_bonus == 1.0
    assert Scenario.time_trial(["oval.png", "circuit.png"], 4).to_dict()["tracks"] == ["oval.png", "circuit.png"]


@pytest.mark.parametrize("kw,msg", [
    ({"mode": "drift"}, "mode must be one of"),
    ({"drivers": ("learner", "club")}, "a time trial has one learner"),
    ({"races": 0}, "races must be an integer >= 1"),
    ({"weather": "monsoon"}, "unknown weather"),
    ({"tyres": {"wear": 2}}, "outside its physical range"),
    ({"fuel": 20}, "0 < fuel <= 9"),
    ({"randomize": "grip=5:6"}, "grip"),
    ({"frame_stack": 0}, "frame_stack must be an integer >= 1"),
    ({"reward": {"lap_bonus": 1, "speed_bonus": 2}}, "unknown term"),
    ({"tracks": ()}, "at least one track"),
])
def test_bad_values_are_refused_once_with_what_to_change(kw, msg):
    with pytest.raises(ValueError, match=msg):
        Scenario(**kw)


def test_bad_race_scenarios():
    with pytest.raises(ValueError, match="unknown difficulty"):
        Scenario.race("oval.png", "club,legend")
    with pytest.raises(ValueError, match="a race runs on one track"):
        Scenario.race(["oval.png", "circuit.png"], 2)
    with pytest.raises(ValueError, match="grid_position places the one learner"):
        Scenario.race("oval.png", 2, learners=2, grid_position=1)
    with pytest.raises(ValueError, match="unknown key"):
        Scenario.from_dict({"tracks": ["oval.png"], "weathr": "wet"})
    with pytest.raises(ValueError, match="must be JSON"):
        Scenario.from_json("{tracks: oval}")
    with pytest.raises(ValueError, match="either a scenario or its fields"):
        KartingVectorEnv("oval.png", scenario=Scenario())
    with pytest.raises(ValueError, match="num_envs=3, but the scenario has 2 learners"):
        KartingVectorEnv(num_envs=3, scenario=Scenario.time_trial("oval.png", 2))


def test_the_grid_puts_one_learner_at_the_back_or_where_asked():
    assert Scenario.race("oval.png", 3).grid_order() == [3, 0, 1, 2]
    assert Scenario.race("oval.png", 3, grid_position=2).grid_order() == [1, 0, 2, 3]
    assert Scenario.race("oval.png", 3, learners=2).grid_order() is None
    assert Scenario.race("oval.png", 3, learners=2).shuffled and not Scenario.race("oval.png", 3).shuffled


def test_the_classic_keywords_are_a_time_trial_scenario():
    env = KartingVectorEnv("oval.png", num_envs=2, random_start=True, weather="damp")
    assert env.scenario == Scenario.time_trial("oval.png", 2, random_start=True, weather="damp")
    assert env.session.control is None and env.batch.solver is None          # no contacts
    env.close()


def test_rain_tyres_and_randomisation_in_a_race():
    """Options that only time trials took before: rain and randomisation in a race (vector env
    and PettingZoo), the race telemetry with the conditions' columns."""
    sc = Scenario.race("oval.png", 2, races=2, laps=1, weather="wet", tyres="new", randomize="default",
                       record_telemetry=True, race_obs=True)
    env = KartingVectorEnv(scenario=sc)
    obs, info = env.reset(seed=1)
    assert obs["telemetry"].shape == (2, 12) and env.num_envs == 2
    assert env.batch.model is not None and env.batch.model.wet and env.batch.solver is not None
    grips = env.batch.randomized["grip"].copy()
    assert grips.std() > 0
    for _ in range(5):
        obs, r, term, trunc, info = env.step(np.tile([0.0, 1.0], (2, 1)).astype(np.float32))
    assert "wetness" in info and info["wetness"].shape == (2,) and (info["wetness"] > 0).all()
    cols = env.batch.recorder.cols
    assert "position" in cols and "wetness" in cols
    env.close()
    pz = karting.parallel_env(track="oval.png", num_karts=2, laps=1, randomize="grip=0.8:0.9", weather=0.5)
    obs, infos = pz.reset(seed=2)
    g = pz.session.batch.randomized["grip"]
    assert ((g >= 0.8) & (g <= 0.9)).all() and pz.session.batch.model.wet
    pz.close()


def test_single_env_adapters_take_any_one_learner_scenario():
    env = gym.make("KartingRace-v0", track="oval.png", opponents=1, laps=1, weather="damp")
    obs, info = env.reset(seed=0)
    assert obs["vision"].shape == (84, 84, 3) and info["position"] in (1, 2)
    assert env.unwrapped.session.batch.model is not None
    env.close()
    with pytest.raises(ValueError, match="drives one learner"):
        KartingEnv(scenario=Scenario.time_trial("oval.png", 2))
    vec = gym.make_vec("Karting-v0", num_envs=2, vectorization_mode="vector_entry_point", track="oval.png")
    assert isinstance(vec.unwrapped, KartingVectorEnv) and vec.num_envs == 2
    vec.close()


def test_same_step_autoreset_in_a_race():
    """A race's learners end together; with same-step autoreset the next race starts at once."""
    sc = Scenario.race("oval.png", 1, laps=1, max_episode_steps=50)
    env = KartingVectorEnv(scenario=sc, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    env.reset(seed=0)
    rc = env.session.control
    rc.max_race_s = 1.0                  # the race is over after a second (its kart retires)
    for _ in range(40):
        obs, r, term, trunc, info = env.step(np.array([[0.0, 0.5]], np.float32))
        if (term | trunc).any():
            break
    assert (term | trunc)[0] and info["_final_obs"][0] and info["final_obs"][0]["vision"].shape == (84, 84, 3)
    assert rc.status[0] == 0 and env.batch.best_progress[0] < 0       # back on the grid, behind the line
    env.close()


def test_recovery_starts_put_karts_where_a_spin_leaves_them(tmp_path):
    """recovery_starts: that fraction of the random starts at rest, turned across the track and off
    the line (within the documented 75 degrees and 1.5 m); off, the random stream is as before;
    a replay records it and re-simulates bit for bit; karting.train passes it to training only."""
    from karting.env.batch import KartBatch
    from karting.rl.config import TrainConfig
    from karting.sim import replay as R
    from karting.sim.karts import RECOVERY_LATERAL_M, RECOVERY_TURN_DEG
    from karting.track import load_track
    tr = load_track("oval.png")
    b = KartBatch(tr, 400, render=False, random_start=True, recovery_starts=0.5)
    b.reset(np.ones(400, bool), np.random.default_rng(0))
    ts = b.ts
    across = np.degrees(np.abs((b.state.yaw - np.arctan2(ts.tangent[b.gidx, 1], ts.tangent[b.gidx, 0]) + np.pi)
                               % (2 * np.pi) - np.pi))
    assert 0.4 < (across > 5).mean() < 0.6 and across.max() <= RECOVERY_TURN_DEG + 3.01
    assert np.abs(b.lateral).max() <= RECOVERY_LATERAL_M + 1e-6 and (np.abs(b.lateral) > 0.5).any()
    assert b.state.speed.max() == 0.0
    plain, off = (KartBatch(tr, 8, render=False, random_start=True, **kw) for kw in ({}, {"recovery_starts": 0.0}))
    for x in (plain, off):
        x.reset(np.ones(8, bool), np.random.default_rng(1))
    assert np.array_equal(plain.state.yaw, off.state.yaw) and np.array_equal(plain.lateral, off.lateral)
    with pytest.raises(ValueError, match="fraction"):
        Scenario.time_trial("oval.png", 2, random_start=True, recovery_starts=1.5)
    # recorded and re-simulated
    rec = KartBatch(tr, 6, render=False, random_start=True, recovery_starts=0.5, max_episode_steps=60)
    rec.start_replay()
    rng = np.random.default_rng(2)
    rec.reset(np.ones(6, bool), rng)
    for t in range(150):
        _, te, trn = rec.step(np.tile([[0.3 * np.sin(t / 9), 0.6]], (6, 1)).astype(np.float32))
        if (te | trn).any():
            rec.reset(te | trn, rng)
    rec.save_replay(tmp_path / "r.replay")
    rep = R.load(tmp_path / "r.replay")
    assert rep.header["settings"]["recovery_starts"] == 0.5
    again = KartBatch.from_replay(rep, R.resolve_track(rep))
    R.simulate(rep, again)
    assert R.verify(rep, again) == [] and np.array_equal(again.state.x, rec.state.x)
    # karting.train: training episodes only, and only with random starts
    assert TrainConfig(recovery_starts=0.25).scenario(["oval.png"], 2).recovery_starts == 0.25
    assert TrainConfig(recovery_starts=0.25, random_start=False).scenario(["oval.png"], 2).recovery_starts == 0.0
