"""Domain randomisation (karting.sim.randomize): the ranges users give, what the camera sees with
each field, grip in the physics, determinism, and that it stays out of a default env and of
evaluation. Rendering is real (EGL)."""
import numpy as np
import pytest

from karting.env import KartingVectorEnv
from karting.sim.randomize import LIMITS, Randomization, parse_randomize

NEUTRAL = {k: (v[2], v[2]) for k, v in LIMITS.items()}


def test_parse_presets_items_and_overrides():
    r = parse_randomize("default")
    assert set(r.active) == set(LIMITS) - {"rain"}      # rain is opt-in: it changes the physics a lot
    assert r.grip == LIMITS["grip"][3]
    assert "grip" not in parse_randomize("visual").active
    r = parse_randomize("default,grip=0.95:1.05")
    assert r.grip == (0.95, 1.05) and r.light == LIMITS["light"][3]
    assert parse_randomize("light=0.5:0.5").active == ("light",)
    for off in (None, "", "off"):
        assert parse_randomize(off) is None
    assert parse_randomize({"grip": (0.9, 1.1)}) == Randomization(grip=(0.9, 1.1))


@pytest.mark.parametrize("spec, words", [
    ({"sun": (0, 1)}, ["unknown field", "'sun'", "light"]),
    ({"grip": (1.1, 0.9)}, ["'grip'", "low > high", "0.5 <= low <= high <= 1.5"]),
    ({"light": (0.1, 1.0)}, ["'light'", "outside the allowed range", "0.3 <= low"]),
    ({"grip": (float("nan"), 1.0)}, ["'grip'"]),
    ({"grip": 1.0}, ["'grip'", "(low, high) pair"]),
    ("grip=1.2", ["name=low:high"]),
    ("grip=a:b", ["not name=low:high with numbers", "0.5 <= low"]),
    ("weather=0:1", ["unknown field 'weather'"]),
    ("camera_pitch=-20:0", ["'camera_pitch'", "-10 <= low"]),
])
def test_bad_ranges_name_the_field_and_the_allowed_range(spec, words):
    with pytest.raises(ValueError) as e:
        parse_randomize(spec)
    for w in words:
        assert w in str(e.value)


def drive(env, steps, seed=7, steer=0.0):
    obs, _ = env.reset(seed=seed)
    xs = []
    for _ in range(steps):
        a = np.tile(np.float32([steer, 0.8]), (env.num_envs, 1))
        obs, *_ = env.step(a)
        b = env.batch
        xs.append(np.stack([b.state.x, b.state.y, b.state.yaw]).copy())
    return obs, np.stack(xs)


def test_off_by_default_and_neutral_ranges_change_nothing(ring_track):
    plain = KartingVectorEnv(ring_track, num_envs=3, random_start=True)
    assert plain.batch.randomization is None and plain.batch.grip_scale is None
    assert not plain.batch.renderer.looks_enabled
    o0, x0 = drive(plain, 40)
    plain.close()
    neutral = KartingVectorEnv(ring_track, num_envs=3, random_start=True, randomize=NEUTRAL)
    o1, x1 = drive(neutral, 40)
    neutral.close()
    # neutral draws consume random numbers only after each reset's own draws: same starts, and
    # a grip factor of exactly 1 gives bit-identical physics
    assert np.array_equal(x0, x1)
    # the randomised shader path at neutral settings: the same picture up to rounding
    diff = np.abs(o0["vision"].astype(int) - o1["vision"].astype(int))
    assert diff.max() <= 3 and diff.mean() < 0.2


def test_each_kart_draws_its_own_looks_reproducibly(ring_track):
    env = KartingVectorEnv(ring_track, num_envs=4, randomize="default")
    obs, _ = env.reset(seed=3)
    v = obs["vision"].astype(int)
    # all four start on the same line within +-0.5 m: without randomisation they look alike
    assert all(np.abs(v[0] - v[i]).mean() > 4 for i in (1, 2, 3))
    drawn = {k: a.copy() for k, a in env.batch.randomized.items()}
    for k, (lo, hi) in env.batch.randomization.to_dict().items():
        assert ((drawn[k] >= lo - 1e-6) & (drawn[k] <= hi + 1e-6)).all(), k
    again, _ = env.reset(seed=3)
    assert np.array_equal(again["vision"], obs["vision"])
    other, _ = env.reset(seed=4)
    assert not np.array_equal(other["vision"], obs["vision"])
    env.close()


def test_draws_are_new_at_each_reset_of_a_kart(ring_track):
    env = KartingVectorEnv(ring_track, num_envs=2, randomize="grip=0.8:1.2", render_mode=None)
    env.reset(seed=0)
    first = env.batch.randomized["grip"].copy()
    assert np.array_equal(env.batch.grip_scale, first)
    env.batch.reset(np.array([True, False]), env.np_random)
    second = env.batch.randomized["grip"]
    assert second[0] != first[0] and second[1] == first[1]
    env.close()


def one_view(ring_track, **ranges):
    env = KartingVectorEnv(ring_track, num_envs=1, randomize={**NEUTRAL, **ranges})
    obs, _ = env.reset(seed=1)
    env.close()
    return obs["vision"][0].astype(int)


def sky_rows(img):
    sky = (img[..., 2] > img[..., 1]) & (img[..., 2] > img[..., 0] + 20)
    return int(sky[:, 40:44].all(axis=1).sum())


def test_camera_pitch_and_height_move_the_horizon(ring_track):
    base = sky_rows(one_view(ring_track))
    assert sky_rows(one_view(ring_track, camera_pitch=(6, 6))) < base - 4      # looking down
    assert sky_rows(one_view(ring_track, camera_pitch=(-6, -6))) > base + 4    # looking up
    # a higher camera sees the same horizon (at infinity) but more of the ground near the kart
    low, high = one_view(ring_track), one_view(ring_track, camera_height=(0.5, 0.5))
    assert np.abs(low[60:] - high[60:]).mean() > 2 and abs(sky_rows(high) - base) <= 2


def test_light_asphalt_grass_and_kerb_colours(ring_track):
    base = one_view(ring_track)
    dark = one_view(ring_track, light=(0.5, 0.5))
    ratio = dark.sum() / base.sum()
    assert 0.45 < ratio < 0.55
    bright_road = one_view(ring_track, asphalt=(1.6, 1.6))
    bottom, top = slice(70, 84), slice(0, 20)          # asphalt in front; sky above
    assert bright_road[bottom].mean() > 1.4 * base[bottom].mean()
    assert np.abs(bright_road[top] - base[top]).max() <= 1
    sky = one_view(ring_track, sky=(0.6, 0.6))
    assert sky[top].mean() < 0.7 * base[top].mean() and np.abs(sky[bottom] - base[bottom]).max() <= 1
    tint = one_view(ring_track, tint=(0.3, 0.3))
    assert tint[..., 0].mean() > base[..., 0].mean() * 1.15 and tint[..., 2].mean() < base[..., 2].mean() * 0.85


def test_kerbs_take_the_drawn_colour(ring_track):
    from karting.env.render import Renderer
    from karting.sim.randomize import looks, neutral
    r = Renderer(ring_track, 2, show_other_karts=False, looks=True)
    i = int(np.argmax(np.abs(ring_track.curvature)))          # a corner: kerbs on the inside
    t = ring_track.tangent[i]
    p = ring_track.centre[i] - 15 * t
    x, y, yaw = (np.full(2, v, np.float32) for v in (p[0], p[1], np.arctan2(t[1], t[0])))
    plain = r.render(x, y, yaw).copy()
    v = neutral(2)
    v["kerb"][:] = [0.0, 1 / 3]                                # red, green
    r.set_looks(looks(v))
    img = r.render(x, y, yaw).astype(int)
    r.release()
    red = (plain[0, ..., 0].astype(int) - plain[0, ..., 1] > 80) & (plain[0, ..., 2] < 90)
    if not red.any():
        pytest.fail("no kerb in view: the test's camera pose is wrong")
    assert (img[1][red][:, 1] - img[1][red][:, 0] > 60).mean() > 0.5    # green where red was
    assert (img[0][red][:, 0] - img[0][red][:, 1] > 60).mean() > 0.8    # red stays red


def test_grip_changes_the_physics(ring_track):
    runs, peak_g = {}, {}
    for g in (None, 1.0, 0.6):
        env = KartingVectorEnv(ring_track, num_envs=1, randomize=None if g is None else {"grip": (g, g)})
        env.batch.close()                  # physics only: step() skips the render
        env.reset(seed=7)
        xs, ay = [], []
        for k in range(60):
            env.step(np.float32([[0.8 if k > 30 else 0.0, 0.8]]))
            st = env.batch.state
            xs.append([st.x[0], st.y[0], st.yaw[0]])
            ay.append(abs(st.ay[0]))
        runs[g], peak_g[g] = np.array(xs), max(ay) / 9.81
        env.close()
    assert np.array_equal(runs[None], runs[1.0])
    # less grip: the same turn-in pulls at most ~0.6x the lateral acceleration
    assert peak_g[0.6] < 0.7 * peak_g[None], peak_g


def test_replacing_a_track_keeps_the_looks_working(ring_track):
    from karting.track import load_track
    env = KartingVectorEnv([ring_track, "oval.png"], num_envs=2, randomize="visual")
    env.reset(seed=0)
    env.replace_tracks({1: load_track("twisty.png")})
    for _ in range(3):
        obs, *_ = env.step(np.zeros((2, 2), np.float32))
    assert env.tracks[1].name.startswith("twisty")
    assert obs["vision"][1].std() > 10
    env.close()


def test_train_flag_trains_randomised_and_evaluates_plain():
    from karting.rl.config import TrainConfig
    from karting.rl.evaluate import make_eval_env
    from karting.rl.trainer import make_envs
    with pytest.raises(ValueError, match="--randomize"):
        TrainConfig(randomize="grip=2:3")
    race = make_envs(TrainConfig(randomize="default", opponents="1", vector_envs=1), ["oval.png"], 1)
    race.reset(seed=0)                   # a race randomises too (issue 28: every option in every mode)
    assert race.batch.randomization == parse_randomize("default") and race.batch.randomized["grip"].std() > 0
    race.close()
    cfg = TrainConfig(randomize="default", vector_envs=2)
    envs = make_envs(cfg, ["oval.png"], 2)
    assert envs.batch.randomization == parse_randomize("default")
    envs.close()
    ev = make_eval_env("oval.png", 2, cfg)
    assert ev.batch.randomization is None
    ev.close()
