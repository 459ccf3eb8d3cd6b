import gymnasium as gym
from pathlib import Path

import numpy as np
import pytest

import karting
from karting.env import KartBatch, KartingEnv, KartingVectorEnv
from karting.sim.expert import PurePursuit
from karting.telemetry import COLUMNS, load


@pytest.fixture(scope="module")
def env(ring_track):
    e = KartingEnv(ring_track)
    yield e
    e.close()


def test_check_env_passes(ring_track):
    from gymnasium.utils.env_checker import check_env
    e = KartingEnv(ring_track, render_mode="rgb_array")
    check_env(e, skip_render_check=False)
    frame = e.render()
    assert frame.shape == (320, 480, 3) and frame.dtype == np.uint8
    e.close()


def test_registered_and_spaces(ring_png):
    e = gym.make("Karting-v0", track=str(ring_png))
    obs, info = e.reset(seed=0)
    assert obs["vision"].shape == (84, 84, 3) and obs["vision"].dtype == np.uint8
    assert obs["telemetry"].shape == (9,) and obs["telemetry"].dtype == np.float32
    assert e.observation_space.contains(obs)
    assert np.all(np.isfinite(e.observation_space["telemetry"].low))
    obs, r, term, trunc, info = e.step([0.0, 0.8])
    assert {"lap", "lap_time", "best_lap_time", "sector_times", "checkpoint", "progress",
            "off_track", "lap_valid"} <= set(info)
    e.close()


@pytest.mark.parametrize("bad,msg", [([np.nan, 0.5], "NaN"), ([0.0, np.inf], "NaN or inf"),
                                     ([0.1, 0.2, 0.3], "shape"), ([[0.1], [0.2]], "shape")])
def test_bad_actions_raise(env, bad, msg):
    env.reset(seed=0)
    with pytest.raises(ValueError, match=msg):
        env.step(bad)


def test_out_of_range_actions_are_clipped(ring_track):
    a, b = KartingEnv(ring_track, record_telemetry=False), KartingEnv(ring_track, record_telemetry=False)
    oa, _ = a.reset(seed=3)
    ob, _ = b.reset(seed=3)
    for _ in range(10):
        oa, ra, *_ = a.step([5.0, 7.0])
        ob, rb, *_ = b.step([1.0, 1.0])
    assert ra == rb and np.array_equal(oa["vision"], ob["vision"])
    a.close(), b.close()


def _run_vec(track, seed, actions):
    e = KartingVectorEnv(track, num_envs=3, record_telemetry=True, random_start=True)
    obs, _ = e.reset(seed=seed)
    out = [obs]
    rewards = []
    for a in actions:
        obs, r, term, trunc, info = e.step(a)
        out.append(obs)
        rewards.append(r)
    tel = {k: v.copy() for k, v in e.batch.recorder.to_dict().items()}
    e.close()
    return out, np.array(rewards), tel


def test_same_seed_same_actions_bit_identical(ring_track):
    acts = np.random.default_rng(5).uniform(-1, 1, (40, 3, 2)).astype(np.float32)
    o1, r1, t1 = _run_vec(ring_track, 11, acts)
    o2, r2, t2 = _run_vec(ring_track, 11, acts)
    for a, b in zip(o1, o2):
        assert np.array_equal(a["vision"], b["vision"])
        assert np.array_equal(a["telemetry"], b["telemetry"])
    assert np.array_equal(r1, r2)
    for k in t1:
        assert np.array_equal(t1[k], t2[k]), k
    o3, r3, _ = _run_vec(ring_track, 12, acts)
    assert not np.array_equal(o1[0]["telemetry"], o3[0]["telemetry"])  # the seed matters


def test_next_step_autoreset_contract(ring_track):
    e = KartingVectorEnv(ring_track, num_envs=2, max_episode_steps=5)
    assert e.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    e.reset(seed=0)
    a = np.tile([0.0, 1.0], (2, 1)).astype(np.float32)
    for i in range(5):
        obs, r, term, trunc, info = e.step(a)
    assert trunc.all() and not term.any()
    assert obs["telemetry"][:, 0].min() > 0.05                # moving at the end
    obs, r, term, trunc, info = e.step(a)                     # this step resets
    assert np.all(r == 0) and not term.any() and not trunc.any()
    assert np.all(obs["telemetry"][:, 0] == 0)                # at rest again
    assert np.all(e.batch.episode == 1) and np.all(e.batch.steps == 0)
    obs, r, term, trunc, info = e.step(a)
    assert np.all(e.batch.steps == 1) and r.min() >= 0
    e.close()


def test_gymnasium_vector_wrappers_work(ring_track):
    e = gym.wrappers.vector.RecordEpisodeStatistics(
        KartingVectorEnv(ring_track, num_envs=2, max_episode_steps=4))
    e.reset(seed=0)
    for _ in range(4):
        obs, r, term, trunc, info = e.step(np.zeros((2, 2), np.float32))
    assert "episode" in info and np.all(info["_episode"]) and np.all(info["episode"]["l"] == 4)
    e.close()


def test_frame_stack_and_telemetry_history(ring_track):
    e = KartingVectorEnv(ring_track, num_envs=2, frame_stack=4, telemetry_history=3)
    assert e.single_observation_space["vision"].shape == (84, 84, 12)
    assert e.single_observation_space["telemetry"].shape == (27,)
    obs, _ = e.reset(seed=0)
    v = obs["vision"]
    assert all(np.array_equal(v[..., :3], v[..., 3 * k:3 * k + 3]) for k in range(4))
    for _ in range(15):
        obs, *_ = e.step(np.tile([0.3, 1.0], (2, 1)).astype(np.float32))
    v, t = obs["vision"], obs["telemetry"]
    assert not np.array_equal(v[..., :3], v[..., 9:])          # oldest != newest frame
    assert t[0, 9 * 2] > t[0, 0]                                # speed grows: newest is last
    e.close()


def _drive(batch, expert, steps, hook=None):
    total = 0.0
    for i in range(steps):
        if hook is not None:
            hook(i)
        r, term, trunc = batch.step(expert.act(batch.state, batch.idx))
        total += float(r[0])
        if term[0] or trunc[0]:
            break
    return total, term[0]


def test_expert_laps_are_counted_timed_and_valid(ring_track):
    b = KartBatch(ring_track, 1, render=False, max_episode_steps=4000)
    b.reset(np.ones(1, bool), np.random.default_rng(0))
    pp = PurePursuit(ring_track)
    lap_rewards = []
    for lap in range(2):
        total = 0.0
        while b.laps[0] == lap:
            r, term, trunc = b.step(pp.act(b.state, b.idx))
            total += float(r[0])
            assert not term[0]
        lap_rewards.append(total)
    assert b.last_lap_valid[0]
    assert 0 < b.best_lap_time[0] <= b.last_lap_time[0] + 1e-9
    assert b.sector_times[0].sum() == pytest.approx(b.last_lap_time[0], abs=0.051)
    # a lap pays its length, one bonus per checkpoint, and the lap bonus (minus nothing)
    cfg = b.reward_cfg
    expected = ring_track.length + cfg.checkpoint_bonus * len(ring_track.gates) + cfg.lap_bonus
    assert lap_rewards[1] == pytest.approx(expected, abs=2.0)


def test_driving_backwards_pays_nothing_and_terminates(ring_track):
    b = KartBatch(ring_track, 1, render=False)
    b.reset(np.ones(1, bool), np.random.default_rng(0))
    b.state.yaw += np.float32(np.pi)
    total = 0.0
    for i in range(200):
        r, term, trunc = b.step(np.array([[0.0, 1.0]], np.float32))
        total += float(r[0])
        if term[0]:
            break
    assert term[0] and i < 80
    assert total < 0


def test_rocking_across_a_checkpoint_pays_once(ring_track):
    tr = ring_track
    b = KartBatch(tr, 1, render=False)
    b.reset(np.ones(1, bool), np.random.default_rng(0))
    pp = PurePursuit(tr)
    while b.best_progress[0] < tr.gate_s[1] - 3.0:             # drive up to just before gate 1
        b.step(pp.act(b.state, b.idx))
    rewards = []
    for k in range(4):                                        # over gate 1, back, over again...
        total = 0.0
        for i in range(30):
            j = b.idx[0]
            back = (k % 2 == 1)
            b.state.yaw[:] = np.arctan2(tr.tangent[j, 1], tr.tangent[j, 0]) + (np.pi if back else 0.0)
            b.state.vx[:], b.state.vy[:], b.state.yaw_rate[:] = 4.0, 0.0, 0.0
            r, term, trunc = b.step(np.array([[0.0, 0.0]], np.float32))
            total += float(r[0])
        rewards.append(total)
    assert b.next_gate[0] == 2                                # gate 1 counted exactly once
    assert rewards[0] > b.reward_cfg.checkpoint_bonus
    assert max(rewards[1:]) <= 1e-6                            # no pay for the same ground again


def test_zigzag_pays_progress_not_distance(ring_track):
    b = KartBatch(ring_track, 1, render=False)
    b.reset(np.ones(1, bool), np.random.default_rng(0))
    total, dist = 0.0, 0.0
    for i in range(120):
        x0, y0 = b.state.x.copy(), b.state.y.copy()
        steer = 0.6 if (i // 8) % 2 == 0 else -0.6
        r, term, trunc = b.step(np.array([[steer, 0.6]], np.float32))
        dist += float(np.hypot(b.state.x - x0, b.state.y - y0)[0])
        total += float(r[0])
        if term[0]:
            break
    bonuses = b.reward_cfg.checkpoint_bonus * (b.next_gate[0] - 1)
    assert total <= b.best_progress[0] + bonuses + 1e-6
    assert b.best_progress[0] < dist                          # zig-zagging drives further than it progresses


@pytest.mark.parametrize("pay", [False, True])
def test_progress_on_the_grass_is_not_paid(ring_track, pay):
    from karting.sim.karts import RewardConfig
    tr = ring_track
    b = KartBatch(tr, 1, render=False, reward=RewardConfig(pay_off_track_progress=pay))
    b.reset(np.ones(1, bool), np.random.default_rng(0))
    j = b.idx[0] + 20                                         # beside the track, facing along it, at speed
    b.state.x[:], b.state.y[:] = tr.centre[j] + tr.normal[j] * (tr.width[j] / 2 + 2.0)
    b.state.yaw[:] = np.arctan2(tr.tangent[j, 1], tr.tangent[j, 0])
    b.state.vx[:] = 12.0
    start, total = b.best_progress[0], 0.0
    for _ in range(20):                                       # 1 s on the grass: under the 3 s limit
        r, term, trunc = b.step(np.array([[0.0, 1.0]], np.float32))
        assert b.off_track[0] and not term[0]
        total += float(r[0])
    covered = b.best_progress[0] - start
    penalty = b.reward_cfg.off_track_penalty * 20 * b.dt
    assert covered > 5.0                                      # the cut covered ground...
    if pay:                                                   # (the old reward: paid, net positive)
        assert total == pytest.approx(covered - penalty, abs=1e-3) and total > 0
    else:                                                     # ...that is never paid
        assert total == pytest.approx(-penalty, abs=1e-4)


def test_cut_or_missed_checkpoint_spoils_the_lap(ring_track):
    tr = ring_track
    b = KartBatch(tr, 1, render=False, max_episode_steps=4000)
    b.reset(np.ones(1, bool), np.random.default_rng(0))
    pp = PurePursuit(tr)
    cut_at = 100

    def hook(i):   # one step on the grass, mid-lap (a cut)
        if i == cut_at:
            j = b.idx[0]
            p = tr.centre[j] + tr.normal[j] * (tr.width[j] / 2 + 3.0)
            b.state.x[:], b.state.y[:] = p
        if i == cut_at + 1:
            j = b.idx[0]
            b.state.x[:], b.state.y[:] = tr.centre[j]
    for i in range(3000):
        hook(i)
        b.step(pp.act(b.state, b.idx))
        if b.laps[0] == 1:
            break
    assert b.laps[0] == 1 and not b.last_lap_valid[0]
    assert b.best_lap_time[0] == 0.0 and b.last_lap_time[0] > 0


def test_telemetry_csv_round_trip(ring_track, tmp_path):
    e = KartingEnv(ring_track)
    e.reset(seed=0)
    for _ in range(30):
        e.step([0.1, 0.7])
    path = e.export_telemetry(tmp_path / "session.csv")
    df = load(path)
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 31
    rec = e.batch.recorder.to_dict()
    for c in COLUMNS:
        assert np.allclose(df[c].to_numpy(), rec[c], rtol=1e-4, atol=1e-4), c
    assert df["speed_kmh"].iloc[-1] > 10 and df["step"].iloc[-1] == 30
    e.close()


def test_a_csv_path_is_used_as_given_with_its_sidecar(ring_track, tmp_path, monkeypatch):
    """Issue 28: a path the user gives is where the CSV goes (a bare name too), and the sidecar
    says which track and conditions the rows were driven in."""
    from karting.telemetry import load, read_meta
    monkeypatch.chdir(tmp_path)
    e = KartingEnv(ring_track, weather="damp")
    e.reset(seed=0)
    e.step([0.0, 0.5])
    assert e.export_telemetry("s.csv") == Path("s.csv") and (tmp_path / "s.csv").exists()
    assert not (tmp_path / "telemetry_logs").exists()
    meta = read_meta("s.csv")
    assert meta["track"] == ring_track.name and meta["track_path"] == str(ring_track.path)
    assert meta["conditions"] == {"weather": "damp"} and meta["scenario"]["weather"] == "damp"
    assert len(load("s.csv")) == 2                    # pandas reads the CSV as it always did
    e.close()


def test_make_vec_is_one_batch(ring_png):
    envs = karting.make_vec(str(ring_png), num_envs=5)
    obs, info = envs.reset(seed=0)
    assert obs["vision"].shape == (5, 84, 84, 3)
    assert envs.batch.renderer.n == 5
    obs, r, term, trunc, info = envs.step(envs.action_space.sample())
    assert r.shape == (5,) and info["lap"].shape == (5,)
    envs.close()


def test_random_start_out_lap_is_not_timed(ring_track):
    tr = ring_track
    b = KartBatch(tr, 1, render=False, random_start=True, max_episode_steps=6000)
    rng = np.random.default_rng(0)
    for _ in range(20):                                  # a start inside sector 1, not on a gate
        b.reset(np.ones(1, bool), rng)
        if 0 < b.next_gate[0] - 1 < tr.sector_gates[1]:
            break
    start_gate = b.next_gate[0] - 1
    assert 0 < start_gate < tr.sector_gates[1]
    pp = PurePursuit(tr)
    while b.sector[0] == 0:                              # to the end of the partial sector 1
        b.step(pp.act(b.state, b.idx))
    assert b.sector_times[0, 0] == 0.0                   # partial sector: no time
    while not b.lap_timed[0]:
        b.step(pp.act(b.state, b.idx))                  # on to the start/finish line
    assert b.laps[0] == 0 and b.last_lap_time[0] == 0.0  # crossing it ends the out-lap: no lap
    assert b.sector_times[0, 1] > 0 and b.sector_times[0, 2] > 0   # whole sectors: timed
    while b.laps[0] == 0:
        b.step(pp.act(b.state, b.idx))
    assert b.last_lap_valid[0]
    assert b.last_lap_time[0] == pytest.approx(b.sector_times[0].sum(), abs=0.051)


def test_same_step_autoreset_matches_next_step_and_keeps_the_others_history(ring_track):
    import gymnasium as gym

    from karting.env import KartingVectorEnv
    from karting.sim.expert import PurePursuit
    kw = dict(num_envs=2, frame_stack=2, telemetry_history=2, max_episode_steps=400)
    a = KartingVectorEnv(ring_track, **kw)
    b = KartingVectorEnv(ring_track, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP, **kw)
    oa, _ = a.reset(seed=0)
    ob, _ = b.reset(seed=0)
    expert = PurePursuit(ring_track)

    def actions():
        act = expert.act(a.batch.state, a.batch.idx)
        act[0] = [0.0, 1.0]                     # kart 0 goes straight off the track; kart 1 drives on
        return act
    for _ in range(300):
        act = actions()
        oa, ra, ta, tra, ia = a.step(act)
        ob, rb, tb, trb, ib = b.step(act)
        assert np.array_equal(ra, rb)
        if ta.any() or tra.any():
            break
    assert (ta | tra).tolist() == [True, False]
    assert np.array_equal(ib["_final_obs"], [True, False])
    for k in ("vision", "telemetry"):
        assert np.array_equal(ib["final_obs"][0][k], oa[k][0])        # the episode's last view
        assert np.array_equal(ob[k][1], oa[k][1])                     # kart 1 untouched
    assert np.array_equal(ob["vision"][0, ..., :3], ob["vision"][0, ..., 3:])  # a fresh stack
    assert ib["final_info"]["progress"][0] == ia["progress"][0]
    act = actions()
    oa, *_ = a.step(act)
    ob, *_ = b.step(act)
    assert np.array_equal(ob["vision"][1], oa["vision"][1])
    assert np.array_equal(ob["telemetry"][1], oa["telemetry"][1])
    a.close()
    b.close()


def test_a_kart_parked_on_the_track_ends_its_episode_after_5_s(ring_track):
    b = KartBatch(ring_track, 2, render=False)
    b.reset(np.ones(2, bool), np.random.default_rng(0))
    expert = PurePursuit(ring_track)
    ended = np.full(2, -1)
    for i in range(300):
        a = expert.act(b.state, b.idx)
        if i >= 40:
            a[0] = [0.0, -1.0]                  # kart 0 brakes to a stop and stays there
        r, term, trunc = b.step(a)
        ended[(ended < 0) & term] = i
        if term[0]:
            break
    assert ended[1] == -1 and not b.off_track[0]     # kart 1 drives on; kart 0 is still on track
    stopped_at = 40 + 10                               # ~0.5 s of braking from ~15 m/s
    assert stopped_at + 100 <= ended[0] <= stopped_at + 100 + 40


def test_karts_on_several_tracks_are_single_track_runs_side_by_side(ring_png, tmp_path):
    """One batch (one physics state, one renderer, one readback) with karts on two tracks gives,
    kart for kart, what single-track batches give: poses, rewards, laps, telemetry, and the
    pixels of every first-person view (so no kart or wall of the other track is drawn, and each
    view shows its own track's ground). The single-track batches have 4 karts too, all driving
    the same line, because a view's place in the framebuffer shifts rasterisation by a fraction
    of a pixel."""
    from conftest import draw_ring

    from karting.env import KartBatch
    from karting.sim.expert import PurePursuit
    from karting.track import load_track
    ring = load_track(ring_png)
    wide = load_track(draw_ring(tmp_path / "wide.png", size=(360, 220), radii=(150, 85)))
    layout = [ring, wide, ring, wide]
    multi = KartBatch([ring, wide], 4)
    solos = [KartBatch(t, 4) for t in (ring, wide)]
    drivers = [PurePursuit(t, mu_use=m) for t, m in ((ring, 1.0), (wide, 1.3))]

    def on_the_line(b, tracks):
        b.reset(np.ones(b.n, bool), np.random.default_rng(0))
        x = np.array([t.centre[0, 0] for t in tracks])
        y = np.array([t.centre[0, 1] for t in tracks])
        yaw = np.array([np.arctan2(t.tangent[0, 1], t.tangent[0, 0]) for t in tracks])
        b.state.reset(np.ones(b.n, bool), x, y, yaw)
        b.lateral[:] = 0.0
    on_the_line(multi, layout)
    for b, t in zip(solos, (ring, wide)):
        on_the_line(b, [t] * 4)
    for step in range(500):
        acts = [d.act(b.state, b.idx) for d, b in zip(drivers, solos)]
        a = np.stack([acts[k][i] for i, k in enumerate(multi.kart_track)])
        r, term, trunc = multi.step(a)
        obs = multi.observe()
        for k, b in enumerate(solos):
            rk, tk, _ = b.step(acts[k])
            ok = b.observe()
            for i in np.flatnonzero(multi.kart_track == k):
                assert (multi.state.x[i], multi.state.y[i], r[i], term[i]) == (b.state.x[i], b.state.y[i], rk[i], tk[i])
                assert np.array_equal(obs["telemetry"][i], ok["telemetry"][i])
                assert (multi.idx[i], multi.next_gate[i]) == (b.idx[i], b.next_gate[i])
                if step % 20 == 0:
                    assert np.array_equal(obs["vision"][i], ok["vision"][i]), (step, i)
    assert multi.laps.min() >= 1 and multi.last_lap_time[0] != multi.last_lap_time[1]
    assert np.array_equal(multi.sector_times[:2], np.stack([solos[0].sector_times[0], solos[1].sector_times[1]]))
    for b in solos:
        b.close()
    multi.close()


def test_a_kart_on_another_track_is_not_drawn(ring_png, tmp_path):
    from conftest import draw_ring

    from karting.env.render import Renderer
    from karting.track import load_track
    ring = load_track(ring_png)
    wide = load_track(draw_ring(tmp_path / "wide.png", size=(360, 220), radii=(150, 85)))
    r = Renderer([ring, wide], 3, view_track=[0, 1, 0])
    x0, y0 = ring.centre[0]
    yaw0 = float(np.arctan2(ring.tangent[0, 1], ring.tangent[0, 0]))
    ahead = (x0 + 8 * np.cos(yaw0), y0 + 8 * np.sin(yaw0))     # 8 m in front of camera 0
    far = (1e4, 1e4)

    def view(kart1, kart2):
        v = r.render(np.array([x0, kart1[0], kart2[0]]), np.array([y0, kart1[1], kart2[1]]),
                     np.full(3, yaw0))
        return v[0].copy()
    empty = view(far, far)
    assert np.array_equal(view(ahead, far), empty)          # kart 1 is on the other track
    assert not np.array_equal(view(far, ahead), empty)       # kart 2 shares the track: drawn
    r.release()


def test_an_end_penalty_makes_parking_cost_what_a_crash_does(ring_png):
    """RewardConfig.end_penalty: taken once on the step an episode ends early (here: parked for
    max_stall_s); every other reward is what it was without it (0 = the default, unchanged)."""
    from karting.env import Scenario
    from karting.sim.karts import RewardConfig
    runs = []
    for pen in (0.0, 150.0):
        env = KartingVectorEnv(scenario=Scenario.time_trial(str(ring_png), 2, reward=RewardConfig(end_penalty=pen)))
        env.reset(seed=0)
        rewards, ended = [], None
        for t in range(400):
            _, r, term, trunc, _ = env.step(np.tile([0.0, -1.0], (2, 1)).astype(np.float32))   # brake: parked
            rewards.append(r.copy())
            if term.any():
                ended = (t, env.batch.end_reason.copy())
                break
        env.close()
        runs.append((np.array(rewards), ended))
    (r0, e0), (r1, e1) = runs
    assert e0 is not None and e0[0] == e1[0] and list(e0[1]) == [5, 5]        # both parked, same step
    assert np.array_equal(r0[:-1], r1[:-1]) and np.allclose(r1[-1], r0[-1] - 150.0)
