"""Contact between karts: capsules, impulses, vectorised over the pairs that are near.

Each kart is a capsule (a 1.8 x 1.4 m 125 cc kart: radius 0.7 m around a 0.4 m segment along its
heading), which is exact at the bumpers' round ends and close on the sides (sidepods), and whose
distance test is one closest-points-of-two-segments computation (Ericson, *Real-Time Collision
Detection*, 2005, 5.1.9). Overlapping capsules get, at the contact point:

* a normal impulse ``jn = -(1 + e) v_n / K_n`` when they approach (``v_n < 0``), with
  ``K_n = 1/m_i + 1/m_j + (r_i x n)^2 / I_i + (r_j x n)^2 / I_j``: momentum is conserved,
  restitution ``e`` (bumpers and nerf bars are soft), yaw included through ``r x J``;
* a Coulomb friction impulse along the tangent, ``|jt| <= mu * jn`` (plastic on plastic);
* a position correction that separates them along the normal, half each (equal masses), so that
  karts side by side never overlap.

Pairs come from a broad phase run once per control step (centre distance under the two
bounding radii plus the distance they can close in that step), then every physics substep
(100 Hz) tests only those: a 30 m/s closing speed moves 0.3 m per substep, under the 1.4 m of
a kart's width, so nothing tunnels. All pairs are resolved at once from the same velocities
(Jacobi); ``np.add.at`` sums the impulses of a kart in several contacts deterministically.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import numerics as nm

KART_LENGTH_M = 1.8
KART_WIDTH_M = 1.4


@dataclass(frozen=True)
class ContactParams:
    """Kart body and contact constants."""
    radius_m: float = KART_WIDTH_M / 2                          # capsule radius
    half_segment_m: float = (KART_LENGTH_M - KART_WIDTH_M) / 2  # half of the capsule's core
    restitution: float = 0.3
    friction: float = 0.4
    slop_m: float = 0.005          # overlap left uncorrected (keeps resting contacts quiet)

    @property
    def bound_m(self) -> float:
        """Bounding-circle radius of one kart [m]."""
        return self.radius_m + self.half_segment_m


def candidate_pairs(x, y, speed, group, active, dt: float, params: ContactParams = ContactParams(),
                    margin_m: float = 0.5) -> tuple:
    """(i, j) index arrays (i < j) of karts in the same ``group`` (both ``active``) that may touch
    within ``dt`` seconds: centre distance under two bounding radii plus the distance the two
    can close at their present speeds, plus ``margin_m``."""
    n = len(x)
    if n < 2:
        e = np.zeros(0, np.int64)
        return e, e
    dx = x[:, None] - x[None, :]
    dy = y[:, None] - y[None, :]
    reach = 2 * params.bound_m + (speed[:, None] + speed[None, :]) * dt + margin_m
    near = (dx * dx + dy * dy < reach * reach) & (group[:, None] == group[None, :])
    near &= active[:, None] & active[None, :]
    i, j = np.nonzero(np.triu(near, 1))
    return i, j


def _closest_segments(p1, d1, p2, d2):
    """Closest points of segments p1 + s d1 and p2 + t d2 (s, t in [0, 1]), rows at once.
    Returns (c1, c2), each (P, 2). Segments never degenerate here (fixed length)."""
    r = p1 - p2
    a = (d1 * d1).sum(1)
    e = (d2 * d2).sum(1)
    f = (d2 * r).sum(1)
    c = (d1 * r).sum(1)
    b = (d1 * d2).sum(1)
    denom = a * e - b * b
    s = np.where(denom > 1e-9, np.clip((b * f - c * e) / np.where(denom > 1e-9, denom, 1.0), 0, 1), 0.0)
    t = (b * s + f) / e
    s = np.where(t < 0, np.clip(-c / a, 0, 1), np.where(t > 1, np.clip((b - c) / a, 0, 1), s))
    t = np.clip(t, 0, 1)
    return p1 + d1 * s[:, None], p2 + d2 * t[:, None]


@dataclass
class Contacts:
    """What touched in one resolution: the rows of the candidate pairs that touched, pair indices,
    the unit normal from i to j, the contact point, the approach speed of each kart towards the
    other along the normal [m/s] (before the impulse) and the normal impulse [N s]."""
    rows: np.ndarray
    i: np.ndarray
    j: np.ndarray
    normal: np.ndarray
    point: np.ndarray
    approach_i: np.ndarray
    approach_j: np.ndarray
    impulse: np.ndarray


def resolve(state, i: np.ndarray, j: np.ndarray, mass: float, inertia: float,
            params: ContactParams = ContactParams()) -> Contacts | None:
    """Resolve contacts among candidate pairs (i, j) in place on ``state`` (a KartState):
    velocities in the body frame, yaw rates and positions. Returns the pairs that touched."""
    if len(i) == 0:
        return None
    st, pr = state, params
    # bounding circles first: most candidate pairs are not touching in a given substep
    bx, by = st.x[j] - st.x[i], st.y[j] - st.y[i]
    near = np.flatnonzero(bx * bx + by * by < (2 * pr.bound_m) ** 2)
    if len(near) == 0:
        return None
    i, j = i[near], j[near]
    c, s = nm.cos_sin(st.yaw)
    h = np.float32(pr.half_segment_m)
    pos = np.stack([st.x, st.y], 1)
    axis = np.stack([c, s], 1)
    ci, cj = _closest_segments(pos[i] - h * axis[i], 2 * h * axis[i], pos[j] - h * axis[j], 2 * h * axis[j])
    d = cj - ci
    dist = nm.hypot(d[:, 0], d[:, 1])
    pen = 2 * pr.radius_m - dist
    hit = pen > 0
    if not hit.any():
        return None
    rows = near[hit]
    i, j, ci, d, dist, pen = i[hit], j[hit], ci[hit], d[hit], dist[hit], pen[hit]
    # coincident cores (never in practice): push apart along i's left
    n = np.where(dist[:, None] > 1e-6, d / np.maximum(dist, 1e-6)[:, None], np.stack([-s[i], c[i]], 1))
    point = ci + n * (pr.radius_m - pen / 2)[:, None]
    # world velocities of the karts and of their material points at the contact
    vw = np.stack([st.vx * c - st.vy * s, st.vx * s + st.vy * c], 1).astype(np.float64)
    w = st.yaw_rate.astype(np.float64)
    ri, rj = point - pos[i], point - pos[j]
    vpi = vw[i] + w[i, None] * np.stack([-ri[:, 1], ri[:, 0]], 1)
    vpj = vw[j] + w[j, None] * np.stack([-rj[:, 1], rj[:, 0]], 1)
    vrel = vpj - vpi
    vn = (vrel * n).sum(1)
    t = np.stack([-n[:, 1], n[:, 0]], 1)
    vt = (vrel * t).sum(1)
    cross = lambda r, u: r[:, 0] * u[:, 1] - r[:, 1] * u[:, 0]  # noqa: E731
    inv_m, inv_i = 1.0 / mass, 1.0 / inertia
    kn = 2 * inv_m + (cross(ri, n) ** 2 + cross(rj, n) ** 2) * inv_i
    kt = 2 * inv_m + (cross(ri, t) ** 2 + cross(rj, t) ** 2) * inv_i
    jn = np.where(vn < 0, -(1 + pr.restitution) * vn / kn, 0.0)
    jt = np.clip(-vt / kt, -pr.friction * jn, pr.friction * jn)
    imp = n * jn[:, None] + t * jt[:, None]                   # on j; -imp on i
    dv = np.zeros_like(vw)
    dw = np.zeros_like(w)
    np.add.at(dv, i, -imp * inv_m)
    np.add.at(dv, j, imp * inv_m)
    np.add.at(dw, i, -cross(ri, imp) * inv_i)
    np.add.at(dw, j, cross(rj, imp) * inv_i)
    corr = np.maximum(pen - pr.slop_m, 0.0)[:, None] * n / 2
    dp = np.zeros_like(vw)
    np.add.at(dp, i, -corr)
    np.add.at(dp, j, corr)
    moved = np.zeros(len(w), bool)
    moved[i] = moved[j] = True
    vw += dv
    f32 = np.float32
    st.vx[moved] = (vw[moved, 0] * c[moved] + vw[moved, 1] * s[moved]).astype(f32)
    st.vy[moved] = (-vw[moved, 0] * s[moved] + vw[moved, 1] * c[moved]).astype(f32)
    st.yaw_rate[moved] = (w + dw)[moved].astype(f32)
    st.x[moved] += dp[moved, 0].astype(f32)
    st.y[moved] += dp[moved, 1].astype(f32)
    return Contacts(rows, i, j, n, point, approach_i=(vpi * n).sum(1), approach_j=-(vpj * n).sum(1),
                    impulse=jn)


class ContactSolver:
    """The ``contact`` hook of :func:`karting.sim.physics.step` for a batch: :meth:`prepare`
    runs the broad phase once per control step, then every substep resolves those pairs and
    keeps, per pair, whether it touched during the step, each kart's approach speed at the first
    touch (for attribution) and the largest normal impulse."""

    def __init__(self, mass: float, inertia: float, params: ContactParams = ContactParams()):
        self.mass, self.inertia, self.params = mass, inertia, params
        self.prepare_empty()

    def prepare_empty(self) -> None:
        e = np.zeros(0, np.int64)
        self.i, self.j = e, e
        self._reset_record()

    def _reset_record(self) -> None:
        p = len(self.i)
        self.touched = np.zeros(p, bool)
        self.approach = np.zeros((p, 2))
        self.impulse = np.zeros(p)

    def prepare(self, state, group: np.ndarray, active: np.ndarray, dt: float) -> None:
        """Broad phase for the coming control step of ``dt`` seconds."""
        self.i, self.j = candidate_pairs(state.x, state.y, state.speed, group, active, dt, self.params)
        self._reset_record()

    def __call__(self, state, h: float) -> None:
        if len(self.i) == 0:
            return
        c = resolve(state, self.i, self.j, self.mass, self.inertia, self.params)
        if c is None:
            return
        first = c.rows[~self.touched[c.rows]]
        new = ~self.touched[c.rows]
        self.approach[first, 0] = c.approach_i[new]
        self.approach[first, 1] = c.approach_j[new]
        self.touched[c.rows] = True
        self.impulse[c.rows] = np.maximum(self.impulse[c.rows], c.impulse)

    def pairs(self) -> tuple:
        """Pairs that touched during the last control step: (i, j, approach (P, 2), impulse)."""
        t = self.touched
        return self.i[t], self.j[t], self.approach[t], self.impulse[t]


def slipstream(race, max_cut: float = 0.4, reach_m: float = 20.0) -> np.ndarray:
    """(N,) drag factors: a kart 2-``reach_m`` metres straight behind another (within a kart's
    width of its wake) of the same world loses up to ``max_cut`` of its drag, fading with the
    distance (the tow that lets a kart pull alongside on a straight)."""
    st = race.state
    dx = st.x[None, :] - st.x[:, None]                 # from i to j
    dy = st.y[None, :] - st.y[:, None]
    c, s = (v[:, None] for v in nm.cos_sin(st.yaw))
    fwd, lat = dx * c + dy * s, -dx * s + dy * c
    ok = ((race.world[:, None] == race.world[None, :]) & race.collidable[:, None] & race.collidable[None, :]
          & (fwd > 2.0) & (fwd < reach_m) & (np.abs(lat) < 1.2))
    tow = np.where(ok, 1.0 - (fwd - 2.0) / (reach_m - 2.0), 0.0).max(axis=1)
    return (1.0 - max_cut * tow).astype(np.float32)
