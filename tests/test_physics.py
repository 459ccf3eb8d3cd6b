"""Analytic checks of the kart model (no GL)."""
from dataclasses import replace

import numpy as np
import pytest

from karting.sim.physics import CONTROL_HZ, G, KartParams, KartState, step

ASPHALT = lambda x, y: np.ones(np.shape(x), np.uint8)  # noqa: E731
GRASS = lambda x, y: np.zeros(np.shape(x), np.uint8)  # noqa: E731
DT = 1.0 / CONTROL_HZ


def run(state, steer, throttle, surface=ASPHALT, steps=1, params=KartParams()):
    n = state.n
    for _ in range(steps):
        step(state, np.full(n, steer, np.float32), np.full(n, throttle, np.float32), surface, params)


def test_constant_speed_covers_v_t_without_resistance():
    p = replace(KartParams(), drag_n_per_mps2=0.0, roll_asphalt=0.0)
    s = KartState(1)
    s.vx[:] = 12.0
    s.yaw[:] = 0.7
    run(s, 0.0, 0.0, steps=40, params=p)            # 2 s coasting
    assert np.hypot(s.x[0], s.y[0]) == pytest.approx(24.0, rel=1e-4)
    assert np.arctan2(s.y[0], s.x[0]) == pytest.approx(0.7, abs=1e-5)


def test_top_speed_balances_power_and_resistance():
    p = KartParams()
    s = KartState(1)
    run(s, 0.0, 1.0, steps=CONTROL_HZ * 90)
    # P = c_d v^3 + c_rr m g v  at top speed
    roots = np.roots([p.drag_n_per_mps2, 0.0, p.roll_asphalt * p.mass_kg * G, -p.engine_power_w])
    v_top = max(r.real for r in roots if abs(r.imag) < 1e-9)
    assert s.vx[0] == pytest.approx(v_top, rel=0.01)
    assert 25.0 <= v_top <= 30.0


def test_braking_stops_and_never_reverses():
    s = KartState(1)
    s.vx[:] = 20.0
    run(s, 0.0, -1.0, steps=CONTROL_HZ * 3)
    assert s.vx[0] == 0.0
    x = s.x[0]
    run(s, 0.0, -1.0, steps=20)
    assert s.x[0] == x and s.vx[0] == 0.0
    # stopping distance of ~1.4 g plus drag: well under v^2 / (2 * 1 g)
    s2 = KartState(1)
    s2.vx[:] = 20.0
    run(s2, 0.0, -1.0, steps=CONTROL_HZ * 3)
    assert 10.0 < s2.x[0] < 20.0 ** 2 / (2 * G)


@pytest.mark.parametrize("steer", [0.3, 0.6, -0.6])
def test_a_kart_at_rest_pulls_away_with_its_wheels_turned(steer):
    """At a standstill the front tyres do not slip: their side force must not hold the kart. It
    did (slip angle = steering angle at rest), and a policy that stopped on the grid with its
    wheels turned stayed there under part throttle."""
    straight, turned = KartState(1), KartState(1)
    run(straight, 0.0, 0.15, steps=CONTROL_HZ * 5)
    run(turned, steer, 0.15, steps=CONTROL_HZ * 5)
    assert turned.speed[0] > 0.5 * straight.speed[0] > 2.0
    assert np.sign(turned.yaw_rate[0]) == np.sign(steer)     # and it turns the way it steers
    # above kinematic_below_mps nothing changed: the front tyres' drag still slows a turning kart
    fast_straight, fast_turned = KartState(1), KartState(1)
    fast_straight.vx[:] = fast_turned.vx[:] = 15.0
    run(fast_straight, 0.0, 0.0, steps=10)
    run(fast_turned, 0.3, 0.0, steps=10)
    assert fast_turned.speed[0] < fast_straight.speed[0] - 0.5


@pytest.mark.parametrize("surface,mu", [(ASPHALT, 2.0), (GRASS, 0.6)])
def test_peak_lateral_acceleration_is_the_grip(surface, mu):
    best = 0.0
    for steer in np.linspace(0.05, 1.0, 12):
        s = KartState(1)
        s.vx[:] = 15.0
        for _ in range(60):
            run(s, steer, 0.0, surface)
            v = s.speed
            s.vx *= 15.0 / v                # hold the speed: a steady-state cornering test
            s.vy *= 15.0 / v
        best = max(best, abs(s.ay[0]) / G)
    assert best == pytest.approx(mu, rel=0.05)


def test_sliding_when_asking_for_too_much():
    s = KartState(1)
    s.vx[:] = 20.0
    run(s, 1.0, 0.0, steps=10)
    slip = np.degrees(np.arctan2(-s.vy[0], s.vx[0]))
    assert abs(slip) > 3.0                    # the rear slides out: a real sideslip angle


def test_batch_equals_separate_runs_and_is_deterministic():
    rng = np.random.default_rng(1)
    n, steps = 6, 50
    acts = rng.uniform(-1, 1, (steps, n, 2)).astype(np.float32)
    batch = KartState(n)
    batch.vx[:] = np.linspace(0, 20, n)
    for a in acts:
        step(batch, a[:, 0], a[:, 1], ASPHALT, KartParams())
    for i in range(n):
        one = KartState(1)
        one.vx[:] = batch.vx.dtype.type(np.linspace(0, 20, n)[i])
        for a in acts:
            step(one, a[i:i + 1, 0], a[i:i + 1, 1], ASPHALT, KartParams())
        for f in KartState.FIELDS:
            assert getattr(one, f)[0] == getattr(batch, f)[i], f


def test_grass_slows_the_kart():
    a, b = KartState(1), KartState(1)
    a.vx[:] = b.vx[:] = 20.0
    run(a, 0.0, 0.0, ASPHALT, steps=40)
    run(b, 0.0, 0.0, GRASS, steps=40)
    p = KartParams()
    # rolling resistance difference over 2 s (drag differs a little: the speeds differ)
    expected = (p.roll_grass - p.roll_asphalt) * G * 2.0
    assert a.vx[0] - b.vx[0] == pytest.approx(expected, rel=0.15)


def test_lap_book_records_each_lap_once_and_only_for_the_masked_karts():
    import numpy as np

    from karting.sim.laps import LapBook
    book = LapBook(3)
    sect = np.array([[10.0, 11.0, 12.0]] * 3)
    assert len(book.update([0, 0, 0], [0, 0, 0], [False] * 3, sect)) == 0
    new = book.update([1, 0, 1], [33.0, 0, 35.0], [True, False, False], sect, mask=np.array([True, True, False]))
    assert list(new) == [0]                                   # kart 2 finished, but is masked out
    assert book.laps[0][0].time_s == 33.0 and book.laps[0][0].valid and book.laps[0][0].sectors_s == [10, 11, 12]
    assert book.laps[2] == [] and list(book.count) == [1, 0, 1]      # ... its count still follows
    assert len(book.update([1, 0, 1], [33.0, 0, 35.0], [True, False, False], sect)) == 0   # no new lap
    book.start(np.array([True, False, False]))
    assert book.laps[0] == [] and book.count[0] == 0
