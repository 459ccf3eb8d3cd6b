"""Racing lines: minimum curvature, shortest path, and the blend of the two with the lowest lap time.

A racing line is a lateral offset ``alpha[i]`` from each centre-line point ``c[i]`` along its
left normal ``n[i]``: ``p[i] = c[i] + alpha[i] * n[i]``, with ``lower[i] <= alpha[i] <= upper[i]``
(the track limits minus a safety margin). Two quadratic objectives in ``alpha``:

* curvature: ``sum ||p[i-1] - 2 p[i] + p[i+1]||^2`` (second differences ~ curvature x ds^2), the
  minimum-curvature QP of Heilmeier et al. 2019, "Minimum curvature trajectory planning and
  control for an autonomous race car" (the method behind the race lines in shared/real_tracks);
* length: ``sum ||p[i+1] - p[i]||^2``, the shortest path.

The minimum-curvature line is fastest where grip limits speed; the shortest where power does.
Braghin et al. 2008, "Race driver model", drive the blend ``(1 - w) curvature + w length``; here
``w`` is chosen by the lap time of a quasi-steady-state speed profile under the kart's own
parameters (grip, power, drag, brakes): :func:`min_time_offsets`. Each QP is solved by
with the interior-point solver Clarabel (sparse, ~15 iterations, ~10 ms for a 5 km track; the
second-difference Hessian is too ill-conditioned for first-order solvers such as OSQP, which took
seconds); the objective is convex, so it is the optimum.
"""
from __future__ import annotations

import math

import numpy as np

from .. import numerics as nm
from ..kart import G, KartParams
from .geometry import curvature, curvature_energy, resample_smooth

#: fraction of the tyre's grip the speed profile plans with; the rest is margin for steering
#: corrections (the scripted expert uses the same idea)
GRIP_USE = 0.8


def _diff_ops(m):
    import scipy.sparse as sp
    d1 = sp.diags([-np.ones(m), np.ones(m - 1)], [0, 1], shape=(m, m), format="lil")
    d1[m - 1, 0] = 1.0
    d2 = sp.diags([np.ones(m - 1), -2 * np.ones(m), np.ones(m - 1)], [-1, 0, 1],
                  shape=(m, m), format="lil")
    d2[0, m - 1] = 1.0
    d2[m - 1, 0] = 1.0
    return d1.tocsr(), d2.tocsr()


class LineProblem:
    """The two quadratic objectives of one track, built once; :meth:`solve` for any blend.

    The curvature term is Heilmeier's linearisation: ``kappa = (x' y'' - y' x'') / |p'|^3`` with
    the first derivatives ``p'`` taken from a reference line (the centre line at first), so that
    only the normal part of ``p''`` is penalised (plain second differences would also penalise
    uneven point spacing, which is not curvature). :meth:`relinearise` moves the reference
    towards a solution (Heilmeier et al.'s iterative variant; see :func:`min_curvature_problem`).
    """

    def __init__(self, centre, normal, lower, upper):
        self.centre = np.asarray(centre, np.float64)
        self.normal = np.asarray(normal, np.float64)
        self.lower = np.minimum(np.asarray(lower, np.float64), 0.0)
        self.upper = np.maximum(np.asarray(upper, np.float64), 0.0)
        self.d1, self.d2 = _diff_ops(len(self.centre))
        self._normal = {}
        self.terms = [None, self._length_term()]
        self.relinearise(np.zeros(len(self.centre)))
        # scale each objective by its value on the centre line
        self.scale = [max(self.objective(np.zeros(len(self.centre)), i), 1e-12) for i in (0, 1)]

    def _length_term(self):
        import scipy.sparse as sp
        d = self.d1
        a = sp.vstack([d @ sp.diags(self.normal[:, 0]), d @ sp.diags(self.normal[:, 1])]).tocsc()
        r = -np.concatenate([d @ self.centre[:, 0], d @ self.centre[:, 1]])
        return a, r

    def relinearise(self, alpha: np.ndarray) -> None:
        """Curvature term linearised around the line ``centre + alpha * normal``."""
        import scipy.sparse as sp
        ref = self.line(alpha)
        dp = (np.roll(ref, -1, 0) - np.roll(ref, 1, 0)) / 2.0            # p' per point
        sp_len = np.linalg.norm(dp, axis=1)
        # row i: sqrt(ds_i) * (x'_i y''_i - y'_i x''_i) / |p'_i|^3, so that the sum of squares
        # is the integral of kappa^2 ds
        wgt = np.sqrt(sp_len) / nm.cube(sp_len)
        rows_x, rows_y = sp.diags(wgt * dp[:, 0]), sp.diags(wgt * dp[:, 1])
        d2 = self.d2
        a = (rows_x @ d2 @ sp.diags(self.normal[:, 1]) - rows_y @ d2 @ sp.diags(self.normal[:, 0])).tocsc()
        r = -(wgt * (dp[:, 0] * (d2 @ self.centre[:, 1]) - dp[:, 1] * (d2 @ self.centre[:, 0])))
        self.terms[0] = (a, r)

    def objective(self, alpha: np.ndarray, which: int = 0) -> float:
        """Objective ``which`` (0 curvature, 1 length) of the offsets ``alpha``, as the QP sees it."""
        a, r = self.terms[which]
        e = a @ alpha - r
        return nm.dot(e, e)

    def solve(self, w_curv: float = 1.0, w_len: float = 0.0) -> np.ndarray:
        """Offsets minimising ``w_curv curvature / c0 + w_len length / l0`` inside the bounds
        (c0, l0: the objectives on the centre line)."""
        import clarabel
        import scipy.sparse as sp
        m = len(self.centre)
        p = sp.csc_matrix((m, m))
        q = np.zeros(m)
        for i, (weight, sc) in enumerate(zip((w_curv, w_len), self.scale)):
            if weight > 0:
                ata, atr = self._normal_equations(i)
                p = p + ata * (2.0 * weight / sc)
                q += -2.0 * weight / sc * atr
        if getattr(self, "_cons", None) is None or self._cons.shape[1] != m:
            self._cons = sp.vstack([sp.identity(m), -sp.identity(m)]).tocsc()
        cons = self._cons
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        solver = clarabel.DefaultSolver(sp.triu(p, format="csc"), q, cons,
                                        np.r_[self.upper, -self.lower],
                                        [clarabel.NonnegativeConeT(2 * m)], settings)
        res = solver.solve()
        alpha = np.asarray(res.x, np.float64)
        if str(res.status) not in ("Solved", "AlmostSolved") or not np.all(np.isfinite(alpha)):
            return np.zeros(m)
        return np.clip(alpha, self.lower, self.upper)

    def _normal_equations(self, i):
        """(A^T A, A^T r) of objective i, kept until the term changes (a blend search solves
        the same two objectives ~20 times)."""
        a, r = self.terms[i]
        cached = self._normal.get(i)
        if cached is None or cached[0] is not a:
            cached = (a, a.T @ a, a.T @ r)
            self._normal[i] = cached
        return cached[1], cached[2]

    def line(self, alpha: np.ndarray) -> np.ndarray:
        """The line at lateral offsets ``alpha`` from the centre line (M, 2)."""
        return self.centre + self.normal * np.asarray(alpha)[:, None]


def qss_speed(line: np.ndarray, params: KartParams = KartParams(), grip_use: float = GRIP_USE,
              mu: float | None = None) -> tuple:
    """Quasi-steady-state speed profile along a closed line and its lap time [s].

    The standard lap-time simulation: the speed in each corner is limited by lateral grip
    (``v^2 |kappa| <= mu g``), then a forward pass accelerates out of every corner (drive force,
    engine power, drag, rolling resistance, inside the friction circle) and a backward pass
    brakes into it. Returns ``(v (M,), lap_time_s)``.
    """
    p = params
    mu = (p.mu_asphalt if mu is None else mu) * grip_use
    line = np.asarray(line, np.float64)
    ds = np.linalg.norm(np.roll(line, -1, 0) - line, axis=1)
    k = np.abs(curvature(line))
    k = nm.convolve_valid(np.concatenate([k[-2:], k, k[:2]]), np.ones(5) / 5)
    a_lat_max = mu * G
    v_top = (p.engine_power_w / p.drag_n_per_mps2) ** (1.0 / 3.0)
    v = np.minimum(np.sqrt(a_lat_max / np.maximum(k, 1e-9)), v_top)
    m, n = p.mass_kg, len(v)
    # the two passes are sequential recurrences: plain Python floats and math run them ~4x
    # faster than numpy scalars, with the same IEEE double arithmetic (same results, bit for bit)
    vl, kl, dsl = v.tolist(), k.tolist(), ds.tolist()
    sqrt = math.sqrt
    drive_max, power, drag = p.max_drive_force_n, p.engine_power_w, p.drag_n_per_mps2
    grip_f, roll_f = mu * m * G, p.roll_asphalt * m * G
    brake_f = min(p.max_brake_force_n, grip_f)

    for _ in range(2):          # twice round, so the wrap-around settles
        for i in range(n):      # forward: accelerate (inside the friction circle left by cornering)
            j = (i + 1) % n
            vi = vl[i]
            lat = vi * vi * kl[i] / a_lat_max
            f = min(drive_max, power / max(vi, 1.0))
            f = min(f, grip_f) * sqrt(max(1.0 - lat * lat, 0.0))
            a = (f - drag * vi * vi - roll_f) / m
            vl[j] = min(vl[j], sqrt(max(vi * vi + 2 * a * dsl[i], 0.0)))
        for i in range(n - 1, -1, -1):   # backward: brake
            j = (i + 1) % n
            vj = vl[j]
            lat = vj * vj * kl[j] / a_lat_max
            f = brake_f * sqrt(max(1.0 - lat * lat, 0.0))
            a = (f + drag * vj * vj + roll_f) / m
            vl[i] = min(vl[i], sqrt(vj * vj + 2 * a * dsl[i]))
    v = np.asarray(vl, np.float64)
    v = np.maximum(v, 0.5)
    return v, float(np.sum(2 * ds / (v + np.roll(v, -1))))


def min_curvature_problem(centre: np.ndarray, normal: np.ndarray, lower: np.ndarray, upper: np.ndarray, rounds: int = 8,
                          damping: float = 0.5) -> tuple:
    """A :class:`LineProblem` linearised around its own minimum-curvature solution, and that
    solution. Each round re-linearises around a reference moved ``damping`` of the way to the
    last solution. Undamped (``damping=1``), the iteration oscillates near hairpins whose radius
    is close to the offset (measured on Austin: curvature energy 0.69 -> 1.26 and back); at 0.5
    it settles in 6-8 rounds (Austin 0.515, Spa 0.416: the published lines' 0.514 and 0.413).
    The lowest measured curvature energy seen is kept."""
    prob = LineProblem(centre, normal, lower, upper)
    zero = np.zeros(len(prob.centre))
    best, best_e, best_ref = zero, curvature_energy(prob.centre, resample=False), zero
    ref = zero
    for _ in range(rounds):
        prob.relinearise(ref)
        alpha = prob.solve(1.0, 0.0)
        e = curvature_energy(prob.line(alpha), resample=False)
        if e < best_e:
            best, best_e, best_ref = alpha, e, ref
        ref = ref + damping * (alpha - ref)
    prob.relinearise(best_ref)
    return prob, best


def min_curvature_offsets(centre: np.ndarray, normal: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                          rounds: int = 8) -> np.ndarray:
    """The minimum-curvature line (offsets) within ``lower <= alpha <= upper``."""
    return min_curvature_problem(centre, normal, lower, upper, rounds)[1]


def line_metrics(line: np.ndarray, params: KartParams = KartParams()) -> dict:
    """Length [m], curvature energy (integral of kappa^2 ds) [1/m], summed |kappa| ds [rad] and
    QSS lap time [s] of a closed line, measured on the same 1 m spline resampling."""
    p = resample_smooth(line, 1.0)
    ds = np.linalg.norm(np.roll(p, -1, 0) - p, axis=1)
    k = curvature(p)
    return {"length_m": float(ds.sum()), "curvature_energy": float(np.sum(k * k * ds)),
            "abs_curvature": float(np.sum(np.abs(k) * ds)), "lap_time_s": qss_speed(p, params)[1]}


def min_time_offsets(centre: np.ndarray, normal: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                     params: KartParams = KartParams(), steps: int = 10) -> tuple:
    """The blend of minimum curvature and shortest path with the lowest QSS lap time.

    The two objectives are first normalised by their range between the two pure lines (so the
    blend weight ``w`` walks along the Pareto front from minimum curvature, 0, to shortest path,
    1); a grid over ``w`` then a golden-section search around the best grid point pick it.
    Returns ``(alpha, info)``, ``info = {"w", "lap_time_s", "mincurv_lap_time_s"}``.
    """
    prob, a_curv = min_curvature_problem(centre, normal, lower, upper)
    a_len = prob.solve(0.0, 1.0)
    c_rng = max(prob.objective(a_len, 0) - prob.objective(a_curv, 0), 1e-12) / prob.scale[0]
    l_rng = max(prob.objective(a_curv, 1) - prob.objective(a_len, 1), 1e-12) / prob.scale[1]
    cache = {}

    def lap(w):
        if w not in cache:
            alpha = a_curv if w == 0 else a_len if w == 1 else prob.solve((1 - w) / c_rng, w / l_rng)
            cache[w] = (qss_speed(prob.line(alpha), params)[1], alpha)
        return cache[w][0]

    grid = np.linspace(0.0, 1.0, steps + 1)
    i = int(np.argmin([lap(float(w)) for w in grid]))
    lo, hi = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, steps)])
    gr = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - gr * (hi - lo), lo + gr * (hi - lo)
    for _ in range(8):
        if lap(a) < lap(b):
            hi, b = b, a
            a = hi - gr * (hi - lo)
        else:
            lo, a = a, b
            b = lo + gr * (hi - lo)
    w = min(cache, key=lambda k: cache[k][0])
    return cache[w][1], {"w": float(w), "lap_time_s": float(cache[w][0]),
                         "mincurv_lap_time_s": float(cache[0.0][0])}


def compare_with_published(centre: np.ndarray, normal: np.ndarray, w_right: np.ndarray, w_left: np.ndarray,
                           published: np.ndarray, params: KartParams = KartParams()) -> dict:
    """Our lines against a published race line on the same layout.

    The published line's clearance from the track edges (its 1st percentile) is used as our
    margin, so both lines live within the same limits. Returns
    ``{"margin_m", "published": metrics, "ours": metrics (minimum curvature),
    "ours_min_time": metrics, "w"}`` with :func:`line_metrics` dictionaries.
    """
    from scipy.spatial import cKDTree
    pub = resample_smooth(published, float(np.mean(np.linalg.norm(np.diff(centre, axis=0), axis=1))))
    _, idx = cKDTree(centre).query(pub)
    lat = np.einsum("ij,ij->i", pub - centre[idx], normal[idx])
    clear = np.minimum(w_left[idx] - lat, w_right[idx] + lat)
    margin = max(float(np.percentile(clear, 1)), 0.0)
    lower, upper = -(w_right - margin), w_left - margin
    alpha_c = min_curvature_offsets(centre, normal, lower, upper)
    alpha_t, info = min_time_offsets(centre, normal, lower, upper, params)
    line = lambda a: centre + normal * a[:, None]  # noqa: E731
    return {"margin_m": margin, "published": line_metrics(published, params),
            "ours": line_metrics(line(alpha_c), params),
            "ours_min_time": line_metrics(line(alpha_t), params), "w": info["w"]}
