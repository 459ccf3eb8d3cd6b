"""Contact between karts: analytic checks (momentum, restitution, no tunnelling, no overlap)."""
import numpy as np

from karting.sim import physics
from karting.sim.contact import ContactParams, ContactSolver, candidate_pairs, resolve
from karting.sim.physics import KartParams, KartState

P = KartParams()
C = ContactParams()


def karts(poses, speeds, yaw_rates=None):
    n = len(poses)
    st = KartState(n)
    p = np.asarray(poses, np.float32)
    st.x[:], st.y[:], st.yaw[:] = p[:, 0], p[:, 1], p[:, 2]
    st.vx[:] = np.asarray(speeds, np.float32)
    if yaw_rates is not None:
        st.yaw_rate[:] = yaw_rates
    return st


def momentum(st, at=None):
    """Linear and angular momentum (about the origin; positions ``at`` if given: the position
    correction moves karts apart, which is not an impulse)."""
    c, s = np.cos(st.yaw.astype(np.float64)), np.sin(st.yaw.astype(np.float64))
    vx, vy = st.vx * c - st.vy * s, st.vx * s + st.vy * c
    x, y = (st.x, st.y) if at is None else at
    lin = P.mass_kg * np.array([vx.sum(), vy.sum()])
    ang = (P.mass_kg * (x * vy - y * vx) + P.yaw_inertia_kgm2 * st.yaw_rate).sum()
    return lin, ang


def all_pairs(n):
    i, j = np.triu_indices(n, 1)
    return i.astype(np.int64), j.astype(np.int64)


def test_head_on_conserves_momentum_and_bounces_with_restitution():
    # 1.7 m apart nose to nose (capsules overlap by 0.1 m), closing at 12 m/s, 5 m/s off-centre mass
    st = karts([(0, 0, 0), (1.7, 0.0, np.pi)], [8.0, 4.0])
    lin0, ang0 = momentum(st)
    at = st.x.copy(), st.y.copy()
    c = resolve(st, *all_pairs(2), P.mass_kg, P.yaw_inertia_kgm2)
    assert c is not None and len(c.i) == 1
    lin1, ang1 = momentum(st, at)
    np.testing.assert_allclose(lin1, lin0, atol=1e-3 * P.mass_kg)
    assert abs(ang1 - ang0) < 1e-2 * P.mass_kg
    # centred head-on: relative speed after = e * relative speed before
    v0w = st.vx[0]                       # kart 0 faces +x
    v1w = -st.vx[1]                      # kart 1 faces -x
    np.testing.assert_allclose(v1w - v0w, C.restitution * 12.0, rtol=1e-4)
    assert st.x[1] - st.x[0] > 1.7       # pushed apart
    assert abs(st.yaw_rate).max() < 1e-4  # no spin from a centred hit


def test_offset_hit_spins_both_karts_and_conserves_angular_momentum():
    st = karts([(0, 0, 0), (1.4, 0.8, np.pi)], [10.0, 0.0])
    lin0, ang0 = momentum(st)
    at = st.x.copy(), st.y.copy()
    assert resolve(st, *all_pairs(2), P.mass_kg, P.yaw_inertia_kgm2) is not None
    lin1, ang1 = momentum(st, at)
    np.testing.assert_allclose(lin1, lin0, atol=1e-3 * P.mass_kg)
    assert abs(ang1 - ang0) < 1e-2 * P.mass_kg
    assert abs(st.yaw_rate[0]) > 0.05 and abs(st.yaw_rate[1]) > 0.05


def test_many_karts_at_once_conserve_momentum():
    rng = np.random.default_rng(0)
    n = 64
    poses = np.column_stack([rng.uniform(0, 12, n), rng.uniform(0, 12, n), rng.uniform(-np.pi, np.pi, n)])
    st = karts(poses, rng.uniform(0, 20, n), rng.uniform(-1, 1, n))
    lin0, ang0 = momentum(st)
    at = st.x.copy(), st.y.copy()
    i, j = candidate_pairs(st.x, st.y, st.speed, np.zeros(n, np.int64), np.ones(n, bool), 0.05)
    c = resolve(st, i, j, P.mass_kg, P.yaw_inertia_kgm2)
    assert c is not None and len(c.i) > 20
    lin1, ang1 = momentum(st, at)
    np.testing.assert_allclose(lin1, lin0, rtol=1e-5, atol=1.0)
    assert abs(ang1 - ang0) < 1e-5 * abs(ang0) + 5.0


def asphalt(x, y):
    return np.ones(len(x), np.uint8)


def run(st, actions, steps, group=None, active=None):
    """Step on an endless asphalt plane with contacts; yields after every control step."""
    n = st.n
    solver = ContactSolver(P.mass_kg, P.yaw_inertia_kgm2)
    group = np.zeros(n, np.int64) if group is None else group
    active = np.ones(n, bool) if active is None else active
    for k in range(steps):
        a = actions(k) if callable(actions) else actions
        solver.prepare(st, group, active, 0.05)
        physics.step(st, a[:, 0], a[:, 1], asphalt, P, contact=solver)
        yield k, solver


def capsule_gap(st, i, j):
    h = C.half_segment_m
    pi = np.array([st.x[i], st.y[i]], np.float64)
    pj = np.array([st.x[j], st.y[j]], np.float64)
    ai = np.array([np.cos(st.yaw[i]), np.sin(st.yaw[i])]) * h
    aj = np.array([np.cos(st.yaw[j]), np.sin(st.yaw[j])]) * h
    ts = np.linspace(-1, 1, 41)
    a = pi + ts[:, None] * ai
    b = pj + ts[:, None] * aj
    return np.linalg.norm(a[:, None] - b[None], axis=2).min() - 2 * C.radius_m


def test_no_tunnelling_at_30_mps_closing():
    for speeds in ([30.0, 0.0], [15.0, 15.0]):
        st = karts([(0, 0, 0), (12.0, 0.0, np.pi)], speeds)
        acts = np.array([[0, 1.0], [0, 1.0 if speeds[1] else 0.0]], np.float32)
        touched = False
        for _, solver in run(st, acts, 30):
            assert st.x[0] < st.x[1], f"tunnelled at closing speeds {speeds}"
            touched |= bool(solver.touched.any())
        assert touched


def test_kart_hit_from_behind_speeds_up():
    def front_speed(contact):
        st = karts([(0, 0, 0), (5.0, 0.0, 0.0)], [14.0, 6.0])
        acts = np.array([[0, 1.0], [0, 0.0]], np.float32)
        group = np.zeros(2, np.int64) if contact else np.arange(2)
        for _ in run(st, acts, 20, group=group):
            pass
        return float(st.vx[1]), float(st.x[1] - st.x[0])
    hit, alone = front_speed(True), front_speed(False)
    assert hit[0] > alone[0] + 1.0           # the push adds speed to the kart ahead
    assert hit[1] >= 2 * C.bound_m - 0.05    # and they do not overlap
    assert alone[1] < 0                      # without contact the rear kart drives through


def test_side_by_side_never_overlap():
    # two karts 1.5 m apart at 20 m/s, each steering gently into the other for 5 s
    st = karts([(0, 0, 0), (0, 1.5, 0)], [20.0, 20.0])
    acts = np.array([[0.15, 0.8], [-0.15, 0.8]], np.float32)
    worst = 1.0
    for _ in run(st, acts, 100):
        worst = min(worst, capsule_gap(st, 0, 1))
    assert worst > -0.05, f"overlap of {-worst:.3f} m"


def test_contacts_are_deterministic_and_groups_do_not_touch():
    def go(group):
        rng = np.random.default_rng(3)
        n = 16
        st = karts(np.column_stack([rng.uniform(0, 20, n), rng.uniform(0, 6, n), rng.uniform(-0.3, 0.3, n)]),
                   rng.uniform(5, 20, n))
        acts = np.column_stack([rng.uniform(-0.3, 0.3, n), np.ones(n)]).astype(np.float32)
        for _ in run(st, acts, 40, group=group):
            pass
        return np.concatenate([st.x, st.y, st.yaw, st.vx, st.vy, st.yaw_rate])
    same = np.zeros(16, np.int64)
    np.testing.assert_array_equal(go(same), go(same))
    ghosts = go(np.arange(16))
    assert not np.array_equal(go(same), ghosts)
    inactive = np.zeros(16, bool)
    st = karts([(0, 0, 0), (1.0, 0, 0)], [0, 0])
    assert len(candidate_pairs(st.x, st.y, st.speed, np.zeros(2, np.int64), inactive[:2], 0.05)[0]) == 0
