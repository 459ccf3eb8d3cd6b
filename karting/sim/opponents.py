"""Built-in AI drivers at four levels (rookie, club, pro, alien), numpy only, for a whole batch.

They are the scripted expert (:mod:`karting.sim.expert`: pure pursuit on a line, a grip-limited
speed profile) made human and made to race. A level sets:

* pace: the grip the driver plans corners with (``mu_use`` out of the 2.0 the tyres have) and
  its braking (``brake_g``), and how closely it follows the racing line (``line_weight``);
* reaction: how long after the start lights go out it moves, and the headway it keeps to a kart
  ahead (``reaction_s`` of travel on top of 1.5 m);
* mistakes at seeded random (``mistakes_per_lap``): a late-braking moment (it overspeeds by 8 %
  for 1.5 s) or a wide line (1.2 m off its line for 2 s), and steering noise;
* racecraft (``racecraft`` 0..1): it sees the other karts from the race state (not pixels):
  it never drives into a kart ahead in its lane (speed capped by the gap), pulls out to the
  side with more room to pass a slower kart when that lane is clear, holds its line next to a
  kart alongside, and defends the inside of the next corner from a kart close behind.

``AIDriver.act(race, clock_s)`` returns (N, 2) actions for every kart (rows of karts it does
not drive are zero); all decisions are masks over (N, N) arrays of the karts in each world.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import numerics as nm
from .conditions import feed_throttle
from .expert import speed_profile
from .physics import CONTROL_HZ, KartParams
from .karts import Karts
from .race_control import ETIQUETTE, RUNNING, RaceControl, RaceRules, etiquette_rates


@dataclass(frozen=True)
class Level:
    """How an AI driver drives (see the module docstring)."""
    name: str
    mu_use: float
    brake_g: float
    line_weight: float
    reaction_s: float
    mistakes_per_lap: float
    steer_noise: float
    racecraft: float


LEVELS = {
    "rookie": Level("rookie", 1.15, 0.75, 0.70, 0.45, 0.50, 0.040, 0.3),
    "club": Level("club", 1.45, 0.90, 0.85, 0.30, 0.25, 0.020, 0.6),
    "pro": Level("pro", 1.72, 1.05, 0.95, 0.20, 0.10, 0.010, 0.85),
    "alien": Level("alien", 1.92, 1.10, 1.00, 0.12, 0.02, 0.0, 1.0),
}
KART_LEN_M = 1.8
LANE_M = 1.7            # lateral distance at which two karts no longer share a lane


def level(name: str) -> Level:
    """The Level called ``name``; an unknown name is a ValueError listing the levels."""
    try:
        return LEVELS[str(name).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown difficulty {name!r}: choose one of {', '.join(LEVELS)}") from None


class AIDriver:
    """Drives the karts whose ``levels[i]`` is a level name (None: not an AI kart) on ``track``."""

    def __init__(self, track, levels: list, seed: int = 0, params: KartParams = KartParams()):
        self.track, self.params = track, params
        self.n = len(levels)
        self.mine = np.array([lv is not None for lv in levels])
        names = sorted({level(lv).name for lv in levels if lv is not None}) or ["club"]
        self.levels = [LEVELS[nm] for nm in names]
        self.kind = np.array([names.index(level(lv).name) if lv is not None else 0 for lv in levels])
        lv = self.levels
        tr = track
        self.lines = np.stack([tr.centre + tr.normal * (x.line_weight * tr.racing_offset)[:, None] for x in lv])
        self.v_target = np.stack([speed_profile(tr, x.mu_use, x.brake_g, line=ln) for x, ln in zip(lv, self.lines)])
        self.line_off = np.stack([x.line_weight * tr.racing_offset for x in lv])       # (L, M)
        per = lambda f: np.array([getattr(lv[k], f) for k in self.kind], np.float64)  # noqa: E731
        self.reaction_s, self.mistake_rate = per("reaction_s"), per("mistakes_per_lap")
        self.steer_noise, self.racecraft = per("steer_noise"), per("racecraft")
        self.rng = np.random.default_rng(seed)
        self.offset = np.zeros(self.n)               # where the driver wants to be off its line [m]
        self.lane = np.zeros(self.n)                 # chosen passing lane (absolute lateral) [m]
        self.lane_until = np.zeros(self.n)
        self.mistake = np.zeros(self.n, np.int8)     # 0 none, 1 late braking, 2 wide line
        self.mistake_until = np.zeros(self.n)
        self.wide_side = np.ones(self.n)
        self.pass_target = np.full(self.n, -1)       # the kart being passed, -1 none
        self.pass_side = np.ones(self.n)
        self.pass_until = np.zeros(self.n)
        self.held_s = np.zeros(self.n)

    def reset(self, race=None, seed: int | None = None, mask: np.ndarray | None = None) -> None:
        """Forget racing decisions of the karts in ``mask`` (default all; and reseed the
        mistakes when ``seed`` is given); with ``race``, start from where each kart stands (its
        grid slot), not from its line."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        m = np.ones(self.n, bool) if mask is None else mask
        for a in (self.offset, self.lane, self.lane_until, self.mistake_until, self.held_s):
            a[m] = 0.0
        self.mistake[m] = 0
        self.pass_target[m] = -1
        if race is not None:
            self.offset[m] = (race.lateral - self.line_off[self.kind, race.idx])[m]

    # ------------------------------------------------------------ racecraft
    def _traffic(self, race, active):
        """(N, N) along-track gap (j ahead of i > 0, wrapped to +-L/2) and lateral positions."""
        L = race.track.length
        ds = np.mod(race.s[None, :] - race.s[:, None] + L / 2, L) - L / 2
        other = (race.world[:, None] == race.world[None, :]) & active[None, :] & active[:, None]
        np.fill_diagonal(other, False)
        return ds, other

    def _decide(self, race, active, clock_s, v):
        tr, n = self.track, self.n
        ar = np.arange(n)
        lat = race.lateral
        half = tr.width[race.idx] / 2 - 0.9          # room for a kart's centre
        my_line = self.line_off[self.kind, race.idx]
        ds, other = self._traffic(race, active)
        dlat = lat[None, :] - lat[:, None]
        want = my_line + self.offset                  # where i is heading, absolute lateral
        in_lane = (np.abs(lat[None, :] - want[:, None]) < LANE_M) | (np.abs(dlat) < LANE_M)
        gap = np.where(other & (ds > 0) & (ds < 30.0) & in_lane, ds - KART_LEN_M, np.inf)
        j = np.argmin(gap, axis=1)
        g = gap[ar, j]
        has = np.isfinite(g)
        # a pass: held up by a slower kart within 12 m on a straight: commit to a lane when it
        # is clear, and outbrake it into the next corner
        safe = 1.0 + 0.5 * self.reaction_s * v         # nose to tail: karts race close
        v_cap = np.where(has, v[j] + 0.8 * (g - safe), np.inf)
        # held up: how long the kart ahead has made this one slow down (decays when free)
        tv_now = self.v_target[self.kind, race.idx]
        slowed = has & (v_cap < tv_now - 0.3)
        self.held_s = np.where(slowed, self.held_s + 1.0 / CONTROL_HZ, np.maximum(self.held_s - 0.2 / CONTROL_HZ, 0))
        held = has & (g < 5.0) & (self.held_s > 1.0) & (self.racecraft > 0.2) & (self.pass_target < 0)
        lane, ahead_c = self._pass(race, active, clock_s, ds, other, j, held, half)
        passing = self.pass_target >= 0
        # defend: a kart close behind: take the inside of the next corner
        behind = (other & (ds < 0) & (ds > -8.0)).any(1)
        defend = behind & ~passing & ~has & (self.racecraft > 0.5) & (np.abs(ahead_c) > 1 / 80)
        defend_lat = np.sign(ahead_c) * half * 0.6
        target_abs = np.where(passing, lane, np.where(defend, defend_lat, my_line))
        # a kart alongside (any overlap, its nose at least at this kart's rear): leave it a lane
        along = other & (ds > -3.5) & (ds < 2.5) & (np.abs(dlat) < 2.6)
        lim_hi = np.min(np.where(along & (dlat > 0), lat[None, :] - LANE_M, np.inf), 1)
        lim_lo = np.max(np.where(along & (dlat < 0), lat[None, :] + LANE_M, -np.inf), 1)
        target_abs = np.clip(target_abs, np.minimum(lim_lo, lat), np.maximum(lim_hi, lat))
        target_abs = np.clip(target_abs, -half, half)
        # lateral moves at up to 2.5 m/s on a straight, 1 m/s in a corner (grip is spent there)
        step = np.where(np.abs(tr.curvature[race.idx]) > 0.02, 1.0, 2.5) / CONTROL_HZ
        self.offset += np.clip(target_abs - my_line - self.offset, -step, step)
        # follow: never drive into the kart ahead in the lane
        return np.maximum(v_cap, 0.0)

    def _pass(self, race, active, clock_s, ds, other, j, held, half) -> tuple:
        """Start a pass where one is due and clear, end those that are over: (each kart's lane
        (clipped to the track), the curvature ahead)."""
        tr, lat, ar = self.track, race.lateral, np.arange(self.n)
        m = len(tr.centre)
        # the lane: the inside of the next corner (outbraking a slower kart there), else the
        # side with more room; fixed once chosen
        ahead_c = tr.curvature[(race.idx[:, None] + np.arange(20, 81, 10)[None, :]) % m].mean(1)
        roomy = np.where(half - lat[j] >= lat[j] + half, 1.0, -1.0)
        side = np.where(np.abs(ahead_c) > 1 / 150, np.sign(ahead_c), roomy)
        lane = side * half * 0.75
        clear = ~(other & (ds > -3.0) & (ds < 8.0) & (np.abs(lat[None, :] - lane[:, None]) < 1.4)
                  & (ar[None, :] != j[:, None])).any(1)
        straight = np.abs(tr.curvature[(race.idx[:, None] + np.arange(0, 21, 5)[None, :]) % m]).max(1) < 0.015
        go = held & clear & straight & (np.abs(lane - lat[j]) > 1.6)
        self.pass_target = np.where(go, j, self.pass_target)
        self.lane = np.where(go, lane, self.lane)
        self.pass_until = np.where(go, clock_s + 8.0, self.pass_until)
        self.held_s[go] = 0.0
        t = np.maximum(self.pass_target, 0)
        dt_s = ds[ar, t]
        lane = np.clip(self.lane, -half, half)
        over = (self.pass_target >= 0) & ((dt_s < -3.0) | (dt_s > 20.0) | (clock_s > self.pass_until)
                                          | ~active[t])
        self.pass_target[over] = -1
        return lane, ahead_c

    # ------------------------------------------------------------ driving
    def act(self, race, clock_s: float, active: np.ndarray | None = None) -> np.ndarray:
        """(N, 2) actions for the AI karts of ``race`` at race time ``clock_s`` (negative while
        the start lights are on). ``active``: karts still racing (default all)."""
        tr, p = self.track, self.params
        st = race.state
        active = np.ones(self.n, bool) if active is None else active
        v = st.speed.astype(np.float64)
        m = len(tr.centre)
        v_cap = self._decide(race, active, clock_s, v)
        self._mistakes(v, clock_s, tr.length)
        off = self.offset + np.where(self.mistake == 2, self.wide_side * 1.2, 0.0)
        idx = race.idx
        look = np.round((2.5 + 0.25 * v) / tr.spacing).astype(np.int64)
        ti = (idx + look) % m
        # the aim point: the driver's line there plus its offset, kept on the asphalt
        half_t = tr.width[ti] / 2 - 0.9
        lat_t = np.clip(self.line_off[self.kind, ti] + off, -half_t, half_t)
        tgt = tr.centre[ti] + tr.normal[ti] * lat_t[:, None]
        c, s = nm.cos_sin(st.yaw)
        px = st.x + 0.1 * (st.vx * c - st.vy * s)
        py = st.y + 0.1 * (st.vx * s + st.vy * c)
        dx, dy = tgt[:, 0] - px, tgt[:, 1] - py
        fwd, left = dx * c + dy * s, -dx * s + dy * c
        delta = nm.arctan(2.0 * p.wheelbase_m * left / np.maximum(fwd ** 2 + left ** 2, 1e-6))
        steer = np.clip(delta / p.max_steer_rad + self.rng.normal(0, 1, self.n) * self.steer_noise, -1, 1)
        ahead = (idx + np.round(0.5 * v / tr.spacing).astype(np.int64)) % m
        vt = self.v_target[self.kind, ahead] * np.where(self.mistake == 1, 1.08, 1.0)
        # off its line the path bends more (inside) or less (outside): v ~ sqrt(1 - kappa d)
        # over the next 40 m, the corner's grip limit scaled to the offset path
        near = (idx[:, None] + np.arange(0, 41, 5)[None, :]) % m
        kd = (tr.curvature[near] * off[:, None]).max(1)
        vt *= np.sqrt(np.clip(1.0 - kd, 0.5, 1.0)) * np.where(np.abs(off) > 0.6, 0.98, 1.0)
        md = getattr(race, "model", None)
        if md is not None:          # weather, tyres: drive to the grip there is (as the expert)
            vt = vt * np.sqrt(md.grip_now.astype(np.float64))
        vt = np.minimum(vt, v_cap)
        throttle = np.clip(0.8 * (vt - v), -1, 1)
        if md is not None:
            throttle = feed_throttle(throttle, md.grip_now, st.vx, p)
        # the brakes are on the rear axle: braking hard while cornering spins a kart, so brake
        # only with the grip the corner leaves (friction circle on the measured lateral g)
        ay = np.abs(st.ay.astype(np.float64)) / 9.81
        throttle = np.maximum(throttle, -np.clip(1.0 - ay / 1.5, 0.15, 1.0))
        # facing away from the track (after a spin or a knock): slow, full lock back round
        tang = tr.tangent[idx]
        err = nm.arctan2(tang[:, 1] * c - tang[:, 0] * s, tang[:, 0] * c + tang[:, 1] * s)
        lost = np.abs(err) > np.radians(50)
        steer = np.where(lost, np.sign(err), steer)
        throttle = np.where(lost, np.where(v > 6.0, -0.5, 0.35), throttle)
        # no full power on full lock at low speed: the rear would break away
        throttle = np.minimum(throttle, np.where(v < 12.0, 1.0 - 0.6 * np.abs(steer), 1.0))
        waiting = clock_s < self.reaction_s                       # lights out + reaction time
        throttle = np.where(waiting, 0.0, throttle)
        steer = np.where(waiting, 0.0, steer)
        a = np.stack([steer, throttle], 1).astype(np.float32)
        a[~self.mine] = 0.0
        return a

    def _mistakes(self, v, clock_s, length):
        ended = self.mistake_until <= clock_s
        self.mistake[ended] = 0
        p = self.mistake_rate * v / CONTROL_HZ / length          # chance per step
        u = self.rng.random(self.n)
        kind = self.rng.random(self.n)
        side = self.rng.random(self.n)
        start = (u < p) & (self.mistake == 0) & (clock_s > 0)
        self.mistake = np.where(start, np.where(kind < 0.5, 1, 2), self.mistake).astype(np.int8)
        self.mistake_until = np.where(start, clock_s + np.where(kind < 0.5, 1.5, 2.0), self.mistake_until)
        self.wide_side = np.where(start, np.where(side < 0.5, 1.0, -1.0), self.wide_side)


def ai_race(track, levels: list, laps: int = 3, seed: int = 0, grid_order=None, start_lights: bool = False):
    """Race AI karts only (no GL): returns the finished :class:`~karting.sim.race_control.RaceControl`."""
    race = Karts(track, len(levels), max_episode_steps=10 ** 9, contacts=True)
    rc = RaceControl(race, RaceRules(laps=laps, start_lights=start_lights),
                     drivers=[f"AI {level(lv).name}" for lv in levels])
    ai = AIDriver(track, levels, seed=seed)
    rng = np.random.default_rng(seed)
    rc.reset(rng, grid_order)
    ai.reset(race)
    while not rc.done:
        _, term, _ = race.step(rc.hold(ai.act(race, rc.time_s, rc.status == RUNNING)))
        rc.step(term)
    return rc


GRIDS = ("shuffled", "reverse")


def level_table(track, races: int = 10, laps: int = 3, seed: int = 0, grid: str = "shuffled") -> dict:
    """The four levels against each other over ``races`` races: per level win rate, mean
    position, mean places gained from the grid, collisions and caused collisions per lap,
    overtakes made and lost per race, track-limit excursions per lap, penalties per race, DNFs;
    and each level's best lap alone (two laps, flying lap). ``grid``: ``shuffled`` (a random grid
    each race) or ``reverse`` (in reverse order of pace: rookie on pole, alien last, every race:
    the levels must pass to finish in their order)."""
    if grid not in GRIDS:
        raise ValueError(f"unknown grid {grid!r}: choose one of {', '.join(GRIDS)}")
    names = list(LEVELS)
    alone = {name: float(ai_race(track, [name], laps=2, seed=seed).race.best_lap_time[0]) for name in names}
    stats = {name: {"wins": 0, "positions": [], "gained": [], "laps": 0, "dnf": 0, **dict.fromkeys(ETIQUETTE, 0.0)}
             for name in names}
    rng = np.random.default_rng(seed)
    for k in range(races):
        order = rng.permutation(len(names)) if grid == "shuffled" else np.arange(len(names))
        rc = ai_race(track, names, laps=laps, seed=seed + k, grid_order=order)
        for i, name in enumerate(names):
            s = stats[name]
            s["wins"] += int(rc.position[i] == 1)
            s["positions"].append(int(rc.position[i]))
            s["gained"].append(int(rc.grid_pos[i]) - int(rc.position[i]))
            for key in ETIQUETTE:
                s[key] += float(getattr(rc, key)[i])
            s["laps"] += int(rc.race.laps[i])
            s["dnf"] += int(rc.status[i] == 3)
    table = {}
    for name, s in stats.items():
        table[name] = {"lap_alone_s": round(alone[name], 2), "win_rate": s["wins"] / races,
                     "mean_position": float(np.mean(s["positions"])), "places_gained": float(np.mean(s["gained"])),
                     **etiquette_rates(s, s["laps"], races), "dnf": s["dnf"]}
    return table
