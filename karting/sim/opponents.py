"""Built-in AI drivers at four levels (rookie, club, pro, alien), numpy only, for a whole batch.

They are the scripted expert (:mod:`karting.sim.expert`: pure pursuit on a line, a grip-limited
speed profile) made human and made to race. A level sets:

* pace: the grip the driver plans corners with (``mu_use`` out of the 2.0 the tyres have) and
  its braking (``brake_g``), and how closely it follows the racing line (``line_weight``);
* reaction: how long after the start lights go out it moves, and the headway it keeps to a kart
  ahead (half of ``reaction_s`` of travel on top of 1 m; 0.15 of it on top of 0.5 m on a
  straight or pressing a slower kart);
* mistakes at seeded random (``mistakes_per_lap``): a late-braking moment (it overspeeds by 8 %
  for 1.5 s) or a wide line (1.2 m off its line for 2 s), and steering noise;
* racecraft (``racecraft`` 0..1; a driver below 0.2 never tries a pass): it sees the other
  karts from the race state (not pixels), and:

  - follows: never drives into a kart ahead in its lane: its speed is capped by the gap and by
    that kart's braking envelope (where the kart ahead will slow down over the next 40 m, by its
    level's profile, or for a kart that is not an AI level by its watched pace,
    :class:`~karting.sim.racecraft.PaceWatch`); close behind on a straight, in its slipstream;
  - passes in one of two ways: *the dive*: faster in the next corner and predicted at its apex
    within half a kart length of the kart ahead (both at their achievable speeds), it takes the
    inside (its own line, or 2.2 m beside that kart when the line is not further in) and brakes
    at its own, later, point; *the run*: closing on a straight in the tow with no braking in the
    next 40 m, it pulls out about a second before it would reach the kart ahead towards the
    inside of the next bend. Flat out where its plan is the top speed (the tow takes it to the
    limiter). It backs out when not alongside (its nose past the other's middle) by its own
    braking point, when the other kart takes that side, or after 8 s, and waits 2.5 s before
    another try; it crosses behind a kart only when it reaches the new lane first;
  - defends with one move (``racecraft`` >= 0.5: club and up): with a kart close behind and
    closing (or an AI kart that has started a pass on it) and a corner 20-100 m ahead, it moves
    once, on the straight, to that corner's inside, far enough to leave no lane there, and holds
    it to the corner; never across a kart alongside or already on that side, and not again
    within 6 s;
  - leaves room: a kart alongside (overlapping, or coming up from behind faster: seen a second
    early, "in the mirrors") gets a lane, 2.1 m centre to centre; this kart holds that lateral
    across the track (moving away at up to 2.5 m/s when closer) instead of following its line
    into it; squeezed between two, it takes the middle;
  - eases off the pedals in a slide (body slip angle beyond ~7 deg) until the rear grips.

``AIDriver.act(race, clock_s)`` returns (N, 2) actions for every kart (rows of karts it does
not drive are zero); all decisions are masks over (N, N) arrays of the karts in each world.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import numerics as nm
from .contact import KART_WIDTH_M
from .conditions import feed_throttle
from .expert import speed_profile
from .physics import CONTROL_HZ, G, KartParams
from .karts import Karts
from .race_control import ETIQUETTE, RUNNING, RaceControl, RaceRules, etiquette_rates, gaps
from .racecraft import PaceWatch, achievable


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
    "club": Level("club", 1.30, 0.82, 0.85, 0.30, 0.25, 0.020, 0.6),
    "pro": Level("pro", 1.45, 0.92, 0.95, 0.20, 0.10, 0.010, 0.85),
    "alien": Level("alien", 1.92, 1.10, 1.00, 0.12, 0.02, 0.0, 1.0),
}
KART_LEN_M = 1.8
LANE_M = 2.1            # lateral distance at which two karts no longer share a lane


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
        self.v_top = float(self.v_target.max())
        per = lambda f: np.array([getattr(lv[k], f) for k in self.kind], np.float64)  # noqa: E731
        self.reaction_s, self.mistake_rate = per("reaction_s"), per("mistakes_per_lap")
        self.steer_noise, self.racecraft = per("steer_noise"), per("racecraft")
        self.mu, self.brake_g = per("mu_use"), per("brake_g")
        self.rng = np.random.default_rng(seed)
        self.atk = np.full(self.n, -1)               # the kart being passed, -1 none ...
        self.atk_side = np.ones(self.n)              # ... on this side of it ...
        self.atk_until = np.zeros(self.n)            # ... until then at the latest ...
        self.atk_corner = np.zeros(self.n)           # ... or this corner (its s) is passed
        self.atk_floor = np.zeros(self.n)            # the lane beside the kart being passed (lateral) [m]
        self.pressing = np.zeros(self.n, bool)       # close behind a kart it is faster than
        self.atk_rest = np.zeros(self.n)             # no new attempt before this race time
        self.dfd = np.full(self.n, -1)               # the kart defended against, -1 none ...
        self.dfd_lat = np.zeros(self.n)              # ... holding this lateral (the inside) ...
        self.dfd_corner = np.zeros(self.n)           # ... until past this s
        self.dfd_rest = np.zeros(self.n)             # no new defensive move before this race time
        self.offset = np.zeros(self.n)               # where the driver wants to be off its line [m]
        self.beside = np.zeros(self.n, bool)         # a kart alongside: keeping a lane from it
        self.hold = np.zeros(self.n, bool)           # holding a lane across the track (not the line) ...
        self.hold_lat = np.zeros(self.n)             # ... this one (absolute lateral) [m]
        self.mistake = np.zeros(self.n, np.int8)     # 0 none, 1 late braking, 2 wide line
        self.mistake_until = np.zeros(self.n)
        self.wide_side = np.ones(self.n)
        ref = achievable(speed_profile(tr, LEVELS["alien"].mu_use, LEVELS["alien"].brake_g), tr.spacing)
        self.plans = np.stack([achievable(v, tr.spacing) for v in self.v_target])   # (L, M) with acceleration
        self.others = PaceWatch(ref, self.n)        # the pace of karts that are not AI levels
        k = tr.curvature
        self.kc = nm.convolve_valid(np.concatenate([k[-3:], k, k[:3]]), np.ones(7) / 7)   # signed, smoothed

    def reset(self, race=None, seed: int | None = None, mask: np.ndarray | None = None) -> None:
        """Forget racing decisions of the karts in ``mask`` (default all; and reseed the
        mistakes when ``seed`` is given); with ``race``, start from where each kart stands (its
        grid slot), not from its line."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        m = np.ones(self.n, bool) if mask is None else mask
        for a in (self.offset, self.mistake_until, self.hold_lat):
            a[m] = 0.0
        self.hold[m] = False
        self.mistake[m] = 0
        self.beside[m] = False
        self.others.reset(m)
        self.atk[m] = -1
        self.atk_rest[m] = 0.0
        self.dfd[m] = -1
        self.dfd_rest[m] = 0.0
        if race is not None:
            self.offset[m] = (race.lateral - self.line_off[self.kind, race.idx])[m]

    # ------------------------------------------------------------ racecraft
    def _decide(self, race, active, clock_s, v):
        tr, n = self.track, self.n
        ar = np.arange(n)
        lat = race.lateral
        half = tr.width[race.idx] / 2 - 0.9          # room for a kart's centre
        my_line = self.line_off[self.kind, race.idx]
        ds, other = gaps(race, active)
        dlat = lat[None, :] - lat[:, None]
        want = my_line + self.offset                  # where i is heading, absolute lateral
        # (a kart holding a side lane to pass squeezes by with 15 cm to spare)
        width = np.where(self.hold, KART_WIDTH_M + 0.15, LANE_M)[:, None]
        in_lane = (np.abs(lat[None, :] - want[:, None]) < width) | (np.abs(dlat) < width)
        # side by side (overlapping along the track) only a kart actually in the way holds it back
        in_lane &= (ds > KART_LEN_M + 0.3) | (np.abs(dlat) < KART_WIDTH_M + 0.1)
        gap = np.where(other & (ds > 0) & (ds < 30.0) & in_lane, ds - KART_LEN_M, np.inf)
        j = np.argmin(gap, axis=1)
        g = gap[ar, j]
        has = np.isfinite(g)
        target_abs, attacking = self._attack(race, active, clock_s, ds, other, half, my_line, v)
        target_abs = self._defend(race, clock_s, ds, other, half, v, target_abs, attacking)
        # never drive into the kart ahead in the lane: nose to tail, karts race close (closer on
        # a straight, in the slipstream)
        m = len(tr.centre)
        straight = np.abs(self.kc[(race.idx[:, None] + np.arange(0, 31, 5)[None, :]) % m]).max(1) < 0.012
        safe = np.where(straight | self.pressing, 0.5 + 0.15 * self.reaction_s * v, 1.0 + 0.5 * self.reaction_s * v)
        v_cap = np.where(has, v[j] + 0.8 * (g - safe), np.inf)
        # ... and arrive behind it at the speed it will slow to in the next 40 m (its plan; a
        # driver that is not an AI, its watched pace), braking with the grip a corner leaves
        ahead40 = (race.idx[j][:, None] + np.arange(4, 41, 4)[None, :]) % m
        u = np.where(self.mine[j][:, None], self.v_target[self.kind[j][:, None], ahead40],
                     self.others.speeds(j, ahead40))                        # 4..40 m ahead of it
        room_m = np.maximum(g - safe, 0.0)[:, None] + np.arange(4, 41, 4)[None, :]
        decel = np.where(straight, 0.9, 0.6) * self.brake_g * G        # in a corner grip is spent turning
        v_stop = np.sqrt(u ** 2 + 2 * decel[:, None] * room_m).min(1)
        v_cap = np.minimum(v_cap, np.where(has, v_stop, np.inf))
        # a kart alongside (any overlap, its nose at least at this kart's rear): leave it a lane
        # (and one coming up fast from behind: seen in the mirrors a second before it is there)
        behind = -3.5 - np.clip(v[None, :] - v[:, None], 0.0, 5.0)
        along = other & (ds > behind) & (ds < 2.5) & (np.abs(dlat) < 2.6)
        lim_hi = np.min(np.where(along & (dlat > 0), lat[None, :] - LANE_M, np.inf), 1)
        lim_lo = np.max(np.where(along & (dlat < 0), lat[None, :] + LANE_M, -np.inf), 1)
        # (moving away from it when closer than that; between two, the middle), holding that
        # lateral across the track rather than following its line into the other kart
        squeezed = lim_lo > lim_hi
        boxed = np.where(squeezed, 0.5 * (np.maximum(lim_lo, -half) + np.minimum(lim_hi, half)),
                         np.clip(target_abs, lim_lo, lim_hi))
        beside = np.isfinite(lim_lo) | np.isfinite(lim_hi)
        target_abs = np.clip(np.where(beside, boxed, target_abs), -half, half)
        # lateral moves at up to 2.5 m/s on a straight, 1 m/s in a corner (grip is spent there);
        # a side lane is held across the track, the line (or the tow) is followed as it bends
        step = np.where((np.abs(tr.curvature[race.idx]) > 0.02) & ~beside, 1.0, 2.5) / CONTROL_HZ
        now = np.where(self.hold, self.hold_lat, my_line + self.offset)
        self.hold_lat = now + np.clip(target_abs - now, -step, step)
        self.offset = self.hold_lat - my_line
        self.hold = attacking | beside | (self.dfd >= 0)
        self.beside = beside
        return np.maximum(v_cap, 0.0)

    def _defend(self, race, clock_s, ds, other, half, v, target_abs, attacking):
        """The one defensive move: with a kart close behind and closing (or an AI kart that has
        started a pass on this one) and the next corner 20-100 m ahead, move once, on the
        straight, to the inside of that corner, far enough over that no lane is left there
        (2 m from the inside edge's limit) and hold it until past the corner. Never across a
        kart already alongside or already on that side (no chop, no second move). Returns each
        kart's lateral target."""
        tr, n = self.track, self.n
        ar, m, idx, lat, L = np.arange(n), len(tr.centre), race.idx, race.lateral, tr.length
        d_corner = np.mod(self.dfd_corner - race.s, L)
        past = (d_corner > L / 2) | (self.dfd < 0)
        self.dfd = np.where(past, -1, self.dfd)
        win = (idx[:, None] + np.arange(0, 101, 2)[None, :]) % m                      # next 100 m
        k_min = np.argmin(self.v_target[self.kind[:, None], win], 1)
        corner_at = k_min * 2.0
        side = np.sign(self.kc[win[ar, k_min]])
        gap_b = np.where(other & (ds < -(KART_LEN_M + 0.3)) & (ds > -10.0), -ds, np.inf)    # j behind i
        j = np.argmin(gap_b, 1)
        threat = np.isfinite(gap_b[ar, j]) & ((v[j] > v + 0.3) | (self.mine[j] & (self.atk[j] == ar)))
        cover = side * (half - 1.9)                   # leaves the attacker no 2.1 m lane inside
        dlat = lat[j] - lat
        start = (self.dfd < 0) & threat & self.mine & (self.racecraft >= 0.5) & ~attacking & (side != 0) \
            & (corner_at > 20.0) & (corner_at < 100.0) & (side * lat < side * cover - 0.3) \
            & (side * dlat < 0.8) & (clock_s > self.dfd_rest) & (clock_s > 0)
        self.dfd = np.where(start, j, self.dfd)
        self.dfd_lat = np.where(start, cover, self.dfd_lat)
        self.dfd_corner = np.where(start, race.s + corner_at + 5.0, self.dfd_corner)
        self.dfd_rest = np.where(start, clock_s + 6.0, self.dfd_rest)     # one move a corner
        dfd = self.dfd >= 0
        # the lateral of the inside is held across the track as it bends (at the place it is now)
        return np.where(dfd & ~attacking, np.clip(self.dfd_lat, -half, half), target_abs)

    def _reaches(self, win, d_j, j, k) -> np.ndarray:
        """(N,): whether kart i, driving its level's achievable speeds, gets to point ``k[i]`` of
        its window ``win`` (2 m steps ahead of it) no more than half a kart length behind kart
        ``j[i]``, ``d_j[i]`` metres ahead of it, at j's speeds (an AI level's, else its watched pace)."""
        ar = np.arange(self.n)
        # this kart on its line (it apexes inside the kart it passes, where its line is anyway)
        c_me = np.cumsum(2.0 / self.plans[self.kind[:, None], win], 1)                         # (N, W)
        v_j = np.where(self.mine[j][:, None], self.plans[self.kind[j][:, None], win], self.others.speeds(j, win))
        c_j = np.cumsum(2.0 / np.maximum(v_j, 3.0), 1)
        at = np.clip(np.round(d_j / 2.0).astype(np.int64), 0, win.shape[1] - 1)                # j's place
        t_j = c_j[ar, k] - c_j[ar, at]
        v_k = self.plans[self.kind, win[ar, k]]
        return c_me[ar, k] <= t_j + 0.5 * KART_LEN_M / np.maximum(v_k, 5.0)

    def _attack(self, race, active, clock_s, ds, other, half, my_line, v):
        """The pass (the module docstring): start a dive or a run on the kart just ahead where one
        is on, hold its lane until past, and back out where it is not. Returns (each kart's
        lateral target, attacking)."""
        tr, n = self.track, self.n
        ar, m, idx, lat = np.arange(n), len(tr.centre), race.idx, race.lateral
        win = (idx[:, None] + np.arange(0, 121, 2)[None, :]) % m                      # next 120 m
        mine_v = self.v_target[self.kind[:, None], win]
        k_min = np.argmin(mine_v, 1)
        corner_at = k_min * 2.0                                                   # metres ahead
        side = np.sign(self.kc[win[ar, k_min]])
        side = np.where(side == 0, 1.0, side)
        near = np.where(other & (ds > 0.5) & (ds < 15.0), ds, np.inf)
        j = np.argmin(near, 1)
        has = np.isfinite(near[ar, j]) & self.mine & (self.racecraft > 0.2)
        theirs = np.where(self.mine[j], self.v_target[self.kind[j][:, None], win].min(1),
                          self.others.speeds(j, win).min(1))
        faster = mine_v.min(1) > theirs + 1.0
        self.pressing = has & faster               # close up on it: a slower kart ahead, a corner coming
        reach = self._reaches(win, ds[ar, j], j, k_min)
        lane = np.clip(side * np.maximum(side * my_line, side * lat[j] + 2.2), -half, half)
        room = np.abs(lane - lat[j]) >= 2.1
        # the dive: faster in the next corner and predicted at its apex no more than half a kart
        # length behind the other (both at their achievable speeds): take the inside
        start = (self.atk < 0) & has & faster & room & (corner_at > 15.0) & (corner_at < 110.0) \
            & (clock_s > self.atk_rest) & reach
        # or a run on a straight: closing on the kart ahead (a better exit, the tow) with no
        # braking before the next 40 m: pull out beside it towards the inside of what comes next
        flat = mine_v.min(1) > mine_v.max(1) - 0.5
        kc_w = self.kc[win]
        bend = np.sign(kc_w[ar, np.argmax(np.abs(kc_w), 1)])
        side = np.where(flat, np.where(bend == 0, -np.sign(lat[j] + 1e-9), bend), side)
        lane = np.clip(side * np.maximum(side * my_line, side * lat[j] + 2.2), -half, half)
        room = np.abs(lane - lat[j]) >= 2.1
        corner_at = np.where(flat, 120.0, corner_at)
        # (the slingshot: out of the tow about a second before it would reach the other kart)
        run = (self.atk < 0) & has & (v > v[j] + 0.3) & (near[ar, j] < KART_LEN_M + 1.0 + 1.5 * (v - v[j])) \
            & (near[ar, j] < 12.0) & (corner_at > 40.0) & room & (clock_s > self.atk_rest)
        start = start | run
        # not across the other kart's nose: from beside it, only on the side it is already on
        # (behind it, across only when the lane is reached before this kart reaches that kart)
        rate = np.where(np.abs(tr.curvature[idx]) > 0.02, 1.0, 2.5)
        t_cross = np.abs(lane - lat) / rate
        t_reach = (near[ar, j] - KART_LEN_M - 0.5) / np.maximum(v - v[j], 0.3)
        start &= (side * (lat - lat[j]) > 1.0) | (t_cross < t_reach)
        self.atk = np.where(start, j, self.atk)
        self.atk_side = np.where(start, side, self.atk_side)
        self.atk_until = np.where(start, clock_s + 8.0, self.atk_until)
        self.atk_corner = np.where(start, race.s + corner_at, self.atk_corner)
        t = np.maximum(self.atk, 0)
        d_t = ds[ar, t]
        L = tr.length
        beyond = np.mod(race.s - self.atk_corner + L / 2, L) - L / 2 > 5.0            # past the corner
        # the attacker's lane: its own line, or a kart's width and a gap beside the attacked kart
        # when that is further to the attacking side (a later apex: the line is on the inside there)
        self.atk_floor = lat[t] + self.atk_side * 2.2
        sd = self.atk_side
        lane_t = np.clip(sd * np.maximum(sd * my_line, sd * self.atk_floor), -half, half)
        # the move is off when this kart is not alongside (its nose past the other's middle) by
        # its own braking point for that corner
        d_corner = np.mod(self.atk_corner - race.s, L)
        v_apex = self.v_target[self.kind, (idx + np.round(d_corner / tr.spacing).astype(np.int64)) % m]
        zone = d_corner < (v ** 2 - np.minimum(v_apex, v) ** 2) / (2 * self.brake_g * G) + 3.0
        squeezed = zone & (d_t > 0.5 * KART_LEN_M) & ~beyond
        # ... or when the attacked kart has taken that side (no lane left beside it)
        no_room = (np.abs(lane_t - lat[t]) < 2.0) & (d_t > 0.5 * KART_LEN_M)
        done = (self.atk >= 0) & ((d_t < -(KART_LEN_M + 1.0)) | no_room | (beyond & (d_t > -KART_LEN_M)) | (d_t > 20.0)
                                  | (clock_s > self.atk_until) | ~active[t] | squeezed)
        self.atk_rest = np.where(done & (d_t > 0), clock_s + 2.5, self.atk_rest)   # backed out: not at once again
        self.atk = np.where(done, -1, self.atk)
        attacking = self.atk >= 0
        self.others.watch(race, active, ~(other & (ds > 0) & (ds < 20.0)).any(1))
        return np.where(attacking, lane_t, my_line), attacking

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
        wide = np.where(self.mistake == 2, self.wide_side * 1.2, 0.0)
        off = self.offset + wide
        idx = race.idx
        look = np.round((2.5 + 0.25 * v) / tr.spacing).astype(np.int64)
        ti = (idx + look) % m
        # the aim point: the driver's line there plus its offset (or the lane it holds), kept on
        # the asphalt
        half_t = tr.width[ti] / 2 - 0.9
        lat_t = np.where(self.hold, self.hold_lat + wide, self.line_off[self.kind, ti] + off)
        atk = (self.atk >= 0) & ~self.beside      # (a kart alongside: its lane, not the line)
        sd = self.atk_side
        lat_t = np.where(atk, sd * np.maximum(sd * self.line_off[self.kind, ti], sd * self.hold_lat), lat_t)
        lat_t = np.clip(lat_t, -half_t, half_t)
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
        line_near = self.line_off[self.kind[:, None], near]
        off_near = np.where(self.hold[:, None], (self.hold_lat + wide)[:, None] - line_near, off[:, None])
        plan = self.v_target[self.kind[:, None], near]
        v_c = plan * np.sqrt(np.clip(1.0 - tr.curvature[near] * off_near, 0.3, 1.0))
        # a lane held across the track bends with the centre line: its own radius there
        kc = self.kc[near]
        lat_near = (self.hold_lat + wide)[:, None]
        v_lane = np.sqrt(self.mu[:, None] * G * np.clip(1.0 - kc * lat_near, 0.3, 2.0) / np.maximum(np.abs(kc), 1e-4))
        v_c = np.where(self.hold[:, None], v_lane, v_c)
        # an attacker: its line, or the lane beside the attacked kart, whichever is further inside
        ln = self.line_off[self.kind[:, None], near]
        a_off = sd[:, None] * np.maximum(sd[:, None] * ln, (sd * self.hold_lat)[:, None]) - ln
        v_a = plan * np.sqrt(np.clip(1.0 - tr.curvature[near] * a_off, 0.3, 1.0))
        v_c = np.where(atk[:, None], v_a, v_c)
        v_in = np.sqrt(v_c ** 2 + 2 * self.brake_g[:, None] * G * np.arange(0, 41, 5)[None, :])
        vt = np.minimum(vt, v_in.min(1)) * np.where((np.abs(off) > 0.6) & ~atk, 0.99, 1.0)
        md = getattr(race, "model", None)
        if md is not None:          # weather, tyres: drive to the grip there is (as the expert)
            vt = vt * np.sqrt(md.grip_now.astype(np.float64))
        vt = np.minimum(vt, v_cap)
        # flat out where the plan is the top speed (in a tow, past it, to the limiter)
        throttle = np.where(vt >= self.v_top - 0.05, 1.0, np.clip(2.0 * (vt - v), -1, 1))
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
        # sliding (the body's slip angle beyond ~7 deg): ease off the pedals until the rear grips
        beta = np.abs(nm.arctan2(st.vy.astype(np.float64), np.maximum(np.abs(st.vx.astype(np.float64)), 1.0)))
        ease = np.clip(1.0 - (beta - 0.12) / 0.10, 0.0, 1.0)
        throttle = np.where(lost, throttle, np.clip(throttle, -np.maximum(ease, 0.3), ease))
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
