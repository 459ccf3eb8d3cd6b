"""Race control: a grid, a standing start, positions, gaps, overtakes, collisions, penalties and
results for races of karts that collide (numpy only).

:class:`RaceControl` runs over a :class:`~karting.sim.karts.Karts` made with ``contacts=True``;
every *world* of that Karts (a group of karts on one road) is one race, so a batch can hold many
races at once (one per training env). Per step and per kart it keeps:

* the position (finished karts first by laps then finishing time, then running karts by race
  distance, then retired karts by the distance they reached), the gap to the leader and to the
  kart ahead in seconds (from timing loops every ``loop_m`` metres: the time since the other kart
  passed the point where this one is now);
* overtakes: a change of order between two running karts that holds for ``overtake_hold_s``;
* collisions: a contact between two karts that were apart for ``rejoin_s`` is one collision;
  the kart that drove into the other (the larger approach speed along the contact normal, by
  more than ``fault_margin_mps``) caused it, otherwise it is a racing incident;
* penalties in seconds: causing a collision at ``min_penalty_mps`` or more, each track-limits
  excursion beyond ``track_limit_warnings`` (not counted within ``victim_grace_s`` of being hit:
  a kart knocked off the track is not at fault), a jump start;
* finishing: a kart finishes when it completes the race's laps; once the leader has finished,
  karts still running at ``finish_window_s`` later are flagged (classified by distance);
  a kart whose episode would end in time trial (tyre wall, off track too long, wrong way,
  stalled) retires, with that reason.

Finished and retired karts become ghosts (no contact) and are hidden by the renderer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import numerics as nm
from ..fields import documented
from ..track import ASPHALT, KERB
from .contact import KART_LENGTH_M, KART_WIDTH_M
from .karts import Karts
from .physics import CONTROL_HZ

RUNNING, FINISHED, FLAGGED, RETIRED = 0, 1, 2, 3
STATUS = ("running", "finished", "flagged", "retired")
END_REASONS = ("", "crashed into the tyre wall", "off the track too long", "facing the wrong way",
               "drove backwards", "stalled")

#: grid slots: pole ``GRID_FIRST_M`` behind the line, each next slot ``GRID_PITCH_M`` further back,
#: alternately left and right (a staggered two-wide grid, rows 2 x pitch apart)
GRID_FIRST_M = 3.0
GRID_PITCH_M = 4.0
GRID_LATERAL_M = 1.6
KART_HALF_WIDTH_M = 0.7


@dataclass(frozen=True)
class RaceRules:
    """The sporting rules of a race (times in seconds)."""
    laps: int = 3
    finish_window_s: float = 60.0
    max_race_s: float = 0.0              # 0: laps x max(120 s, length / 4 m/s)
    start_lights: bool = False           # five lights, one a second, then a random hold
    jump_start_penalty_s: float = 5.0
    collision_penalty_s: float = 3.0
    min_collision_mps: float = 0.5       # a touch under this closing speed is not a collision
    min_penalty_mps: float = 2.0
    fault_margin_mps: float = 1.0
    rejoin_s: float = 1.0
    overtake_hold_s: float = 1.0
    track_limit_warnings: int = 3
    track_limit_penalty_s: float = 2.0
    victim_grace_s: float = 3.0
    loop_m: float = 5.0

    def __post_init__(self):
        if int(self.laps) < 1:
            raise ValueError(f"a race needs at least 1 lap (got laps={self.laps})")


@dataclass(frozen=True)
class RaceReward:
    """Race terms added to the time-trial reward: ``position_bonus`` per place gained (minus per
    place lost), ``collision_penalty`` per collision the kart caused, ``contact_penalty`` per
    collision it was in. GT Sophy's lesson (Wurman et al. 2022): too high a collision penalty
    makes timid drivers, too low dangerous ones; these are starting points."""
    position_bonus: float = documented(2.0, "paid per place gained, taken per place lost", "per place", "")
    collision_penalty: float = documented(10.0, "taken per collision the kart caused", "per collision", ">= 0")
    contact_penalty: float = documented(1.0, "taken per collision the kart was in, whoever caused it",
                                        "per collision", ">= 0")
    closing_penalty: float = documented(0.0, "taken per second x m/s of closing speed on a kart ahead in "
                                        "the kart's path less than CLOSING_TTC_S from contact (the rear-end "
                                        "before it happens; following close at its speed costs nothing)",
                                        "per m/s per s", ">= 0")

    def terms(self, places_gained: np.ndarray, new_caused: np.ndarray, new_collisions: np.ndarray,
              closing: np.ndarray | None = None) -> np.ndarray:
        """The race terms of one step, from each kart's places gained, new collisions and (with
        ``closing``, m/s) the closing speed of :func:`closing_speed`."""
        t = (self.position_bonus * places_gained - self.collision_penalty * new_caused
             - self.contact_penalty * new_collisions)
        if closing is not None and self.closing_penalty > 0:
            t = t - self.closing_penalty * closing / CONTROL_HZ
        return t


CLOSING_TTC_S = 0.5          # closing_speed counts a kart ahead this close to contact (time to contact)


def gaps(race, active: np.ndarray) -> tuple:
    """(N, N) along-track gap from kart i to kart j (j ahead of i > 0, wrapped to +-L/2) and
    whether j is another active kart of i's race."""
    L = race.track.length
    ds = np.mod(race.s[None, :] - race.s[:, None] + L / 2, L) - L / 2
    other = (race.world[:, None] == race.world[None, :]) & active[None, :] & active[:, None]
    np.fill_diagonal(other, False)
    return ds, other


def closing_speed(race, running: np.ndarray) -> np.ndarray:
    """(N,) m/s: how fast each running kart closes on a running kart of its race ahead of it in
    its path (along the track 0-10 m ahead, laterally within a kart's width and 0.2 m) that it
    would reach within :data:`CLOSING_TTC_S` at these speeds; 0 where none."""
    st, tr = race.state, race.track
    c, s = nm.cos_sin(st.yaw.astype(np.float64))
    vx, vy = st.vx.astype(np.float64), st.vy.astype(np.float64)
    tang = tr.tangent[race.idx]
    along = (vx * c - vy * s) * tang[:, 0] + (vx * s + vy * c) * tang[:, 1]
    ds, other = gaps(race, running)
    dlat = np.abs(race.lateral[None, :] - race.lateral[:, None])
    closing = along[:, None] - along[None, :]
    near = (other & (ds > 0) & (ds < 10.0) & (dlat < KART_WIDTH_M + 0.2) & (closing > 0)
            & (ds - KART_LENGTH_M < CLOSING_TTC_S * closing))
    return np.where(near, closing, 0.0).max(1, initial=0.0)


def grid_slots(track, n: int) -> tuple:
    """(back_m, lateral_m) of ``n`` staggered grid slots behind the start line of ``track``.
    Raises ValueError naming how many fit when the slots would leave the asphalt."""
    fit = grid_capacity(track)
    if n > fit:
        raise ValueError(f"{track.name}'s grid holds {fit} karts (slots every {GRID_PITCH_M:.0f} m on "
                         f"the straight behind the line, on the asphalt); asked for {n}")
    k = np.arange(n)
    back = GRID_FIRST_M + GRID_PITCH_M * k
    side = np.where(k % 2 == 0, 1.0, -1.0)          # pole on the left (the driver's left)
    i = np.round(np.mod(-back, track.length) / track.spacing).astype(np.int64) % len(track.centre)
    lat = side * np.minimum(GRID_LATERAL_M, track.width[i] / 2 - KART_HALF_WIDTH_M - 0.5)
    return back, lat


def grid_capacity(track, limit: int = 200) -> int:
    """How many grid slots fit behind the line: each slot's kart (its four corners) on asphalt or
    kerb, two karts abreast with 0.2 m between them, and the grid no longer than half a lap."""
    k = np.arange(limit)
    back = GRID_FIRST_M + GRID_PITCH_M * k
    ok = back < track.length / 2
    i = np.round(np.mod(-back, track.length) / track.spacing).astype(np.int64) % len(track.centre)
    half = track.width[i] / 2
    lat = np.where(k % 2 == 0, 1.0, -1.0) * np.minimum(GRID_LATERAL_M, half - KART_HALF_WIDTH_M - 0.5)
    ok &= np.abs(lat) >= KART_HALF_WIDTH_M + 0.1
    c, t, nrm = track.centre[i], track.tangent[i], track.normal[i]
    for fwd, left in ((0.9, 0.7), (0.9, -0.7), (-0.9, 0.7), (-0.9, -0.7)):
        p = c + nrm * (lat + left)[:, None] + t * fwd
        surf = track.surface_at(p[:, 0], p[:, 1])
        ok &= (surf == ASPHALT) | (surf == KERB)
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if len(bad) else limit


def place_behind_line(race, mask: np.ndarray, back_m: np.ndarray, lateral_m: np.ndarray) -> None:
    """Put the karts of ``race`` in ``mask`` (already reset) at rest ``back_m`` metres behind the
    start/finish line and ``lateral_m`` left of the centre line, facing the track: a grid.
    Their race distance starts at ``-back_m``; the clock and lap 1 run from now (the lap 1
    time includes the run from the grid, as in real racing)."""
    m = np.flatnonzero(mask)
    ts, t = race.ts, race.kart_track[m]
    s0 = np.mod(-np.asarray(back_m, np.float64), ts.length[t])
    i0 = np.round(s0 / ts.spacing[t]).astype(np.int64) % ts.npts[t]
    gi0 = ts.c_off[t] + i0
    lat = np.asarray(lateral_m, np.float64)
    pos = ts.centre[gi0] + ts.normal[gi0] * lat[:, None]
    head = nm.arctan2(ts.tangent[gi0, 1], ts.tangent[gi0, 0])
    race.state.reset(mask, pos[:, 0], pos[:, 1], head)
    race.s[m], race.idx[m], race.gidx[m], race.lateral[m] = s0, i0, gi0, lat
    race.progress[m] = race.best_progress[m] = -np.asarray(back_m, np.float64)
    fg0 = ts.gate(t, np.zeros(len(m), np.int64))
    race.next_gate[m] = 1 % ts.n_gates[t]
    race.next_gate_progress[m] = ts.gate_gap[fg0]
    race.sector[m] = 0
    race.lap_timed[m] = race.sector_timed[m] = True
    race.lap_start[m] = race.sector_start[m] = 0.0
    race.surface[m] = ts.surface_at(pos[:, 0], pos[:, 1], t)
    if race.model is not None:
        race.model.locate(race.s, race.lateral, ts.racing_offset[race.gidx])


@dataclass
class Incident:
    """One collision: when, who, whose fault (-1: a racing incident), closing speed."""
    time_s: float
    a: int
    b: int
    at_fault: int
    closing_mps: float
    penalty_s: float = 0.0


@dataclass
class RaceControl:
    """Race rules over the karts of a Karts (``race.world`` = which race each kart is in). ``reset(rng)``
    builds the grids (kart order = ``grid_order``: 0 is pole in its world) and starts; call
    :meth:`step` after every ``race.step``; read the per-kart arrays, :meth:`standings` and
    :meth:`results`."""
    #: what a keyframe of a replay keeps, besides the incidents and retirement reasons
    STATE_FIELDS = ("status", "grid_pos", "position", "finish_time", "penalty_s", "gap_leader_s", "gap_ahead_s",
                    "gap_behind_s", "overtakes", "overtaken", "collisions", "caused", "track_limits", "last_hit_s",
                    "jump_start", "contact_now", "distance", "lights_out_s", "leader_finish_s", "grid_xy", "was_off",
                    "ahead", "flip_since", "last_contact", "loop_time", "loop_done", "kart_ahead", "kart_behind",
                    "leader")
    race: Karts
    rules: RaceRules = field(default_factory=RaceRules)
    drivers: list = field(default_factory=list)

    def __post_init__(self):
        r, n = self.race, self.race.n
        if r.solver is None:
            raise ValueError("RaceControl needs a Karts made with contacts=True")
        self.worlds, self.widx = np.unique(r.world, return_inverse=True)   # widx: 0..W-1 per kart
        self.same = r.world[:, None] == r.world[None, :]
        self.length = float(r.track.length)      # every world of one race batch is on one track
        if len(np.unique(r.kart_track)) != 1:
            raise ValueError("a race batch runs on one track")
        if not self.drivers:
            self.drivers = [f"kart {i}" for i in range(n)]
        z = lambda dt=np.float64: np.zeros(n, dt)  # noqa: E731
        self.status, self.grid_pos, self.position = z(np.int8), z(np.int32), z(np.int32)
        self.finish_time, self.penalty_s = z(), z()
        self.gap_leader_s, self.gap_ahead_s, self.gap_behind_s = z(), z(), z()
        self.overtakes, self.overtaken = z(np.int32), z(np.int32)
        self.collisions, self.caused = z(np.int32), z(np.int32)
        self.track_limits, self.last_hit_s = z(np.int32), np.full(n, -1e9)
        self.jump_start, self.contact_now = z(bool), z(bool)
        self.retire_reason = [""] * n
        self.incidents: list[Incident] = []
        self.distance = z()
        self.lights_out_s = z()                  # per kart (the same within a race)
        self.leader_finish_s = np.full(n, np.inf)
        self.grid_xy = np.zeros((n, 2))
        self.was_off = z(bool)
        self.ahead = np.zeros((n, n), bool)
        self.flip_since = np.full((n, n), np.nan)
        self.last_contact = np.full((n, n), -1e9)
        self.max_race_s = self.rules.max_race_s or self.rules.laps * max(120.0, self.length / 4.0)
        per = np.bincount(self.widx).max()
        back, _ = grid_slots(r.track, int(per))
        self.loop_offset = float(back.max())           # loop 0 is at the back of the grid
        self.loops = int(np.ceil((self.rules.laps * self.length + back.max()) / self.rules.loop_m)) + 4
        self.loop_time = np.full((n, self.loops), np.nan)
        self.loop_done = np.full(n, -1, np.int64)

    # ------------------------------------------------------------ start
    def reset(self, rng: np.random.Generator, grid_order: np.ndarray | None = None, worlds=None) -> None:
        """Put the karts of ``worlds`` (default: every race) onto their grids at rest, in the
        order ``grid_order`` gives (per kart: lower is further forward; default kart order);
        their clocks at zero, or at minus the start-light countdown."""
        r, n = self.race, self.race.n
        m = np.ones(n, bool) if worlds is None else np.isin(r.world, worlds)
        k = np.flatnonzero(m)
        r.reset(m, rng)
        order = np.zeros(n, np.int64)
        for w in np.unique(r.world[k]):             # a handful of races: not the hot path
            members = np.flatnonzero(r.world == w)
            order[members] = (np.arange(len(members)) if grid_order is None
                              else np.argsort(np.argsort(np.asarray(grid_order)[members])))
        if r.replay_log is not None:
            r.replay_log.on_grid(order, self)
        back, lat = grid_slots(r.track, int(order[k].max()) + 1)
        place_behind_line(r, m, back[order[k]], lat[order[k]])
        r.collidable[m] = True
        self.grid_pos[m] = order[m] + 1
        self.position[m] = order[m] + 1
        self.status[m] = RUNNING
        for a in (self.finish_time, self.penalty_s, self.gap_leader_s, self.gap_ahead_s, self.gap_behind_s):
            a[m] = 0.0
        for a in (self.overtakes, self.overtaken, self.collisions, self.caused, self.track_limits):
            a[m] = 0
        self.jump_start[m] = self.contact_now[m] = False
        self.last_hit_s[m] = -1e9
        for i in k:
            self.retire_reason[i] = ""
        self.incidents = [x for x in self.incidents if not m[x.a]]
        self.leader_finish_s[m] = np.inf
        w = len(self.worlds)
        hold = (5.0 + rng.uniform(0.2, 1.5, w)) if self.rules.start_lights else np.zeros(w)
        self.lights_out_s[m] = hold[self.widx[m]]
        r.time_s[m] = -self.lights_out_s[m]
        r.lap_start[m] = r.sector_start[m] = 0.0
        self.grid_xy[m] = np.stack([r.state.x[m], r.state.y[m]], 1)
        self.distance[m] = r.best_progress[m]
        self.loop_time[m] = np.nan
        self.loop_done[m] = -1
        mm = m[:, None] | m[None, :]
        self.ahead = np.where(mm, self.distance[:, None] > self.distance[None, :], self.ahead)
        self.flip_since[mm] = np.nan
        self.last_contact[mm] = -1e9
        self.was_off[m] = False
        self._update_positions()

    def telemetry(self) -> dict:
        """This step's race columns of the telemetry (karting.telemetry.RACE_COLUMNS) per kart."""
        return {"position": self.position, "gap_ahead_s": self.gap_ahead_s, "gap_leader_s": self.gap_leader_s,
                "contact": self.contact_now, "race_status": self.status}

    @property
    def time_s(self) -> float:
        """Race clock of kart 0's race [s] (negative during the start-light countdown)."""
        return float(self.race.time_s[0])

    @property
    def clock(self) -> np.ndarray:
        """(N,) race clock of each kart's race [s]."""
        return self.race.time_s

    @property
    def lights_on(self) -> int:
        """Start lights lit in kart 0's race (0 once they are out; 1-5 during the countdown)."""
        t = self.time_s + self.lights_out_s[0]
        return 0 if self.time_s >= 0 else int(min(5, t + 1))

    @property
    def done(self) -> bool:
        """Every kart finished, flagged or retired."""
        return bool((self.status != RUNNING).all())

    def hold(self, actions: np.ndarray) -> np.ndarray:
        """Actions as the rules allow: karts out of the race coast to a stop."""
        a = np.array(actions, np.float32, copy=True)
        out = self.status != RUNNING
        a[out] = (0.0, -1.0)
        return a

    # ------------------------------------------------------------ step
    def step(self, terminated: np.ndarray) -> None:
        """Update the race after ``race.step`` (whose ``terminated`` retires karts)."""
        r, rules = self.race, self.rules
        now = r.time_s.copy()                           # (N,) each race's clock
        running = self.status == RUNNING
        lit = now < 0
        if lit.any():                                   # lights still on: nobody may move
            moved = nm.hypot(r.state.x - self.grid_xy[:, 0], r.state.y - self.grid_xy[:, 1]) > 0.5
            jump = moved & ~self.jump_start & running & lit
            self.jump_start |= jump
            self.penalty_s[jump] += rules.jump_start_penalty_s
            r.stall_time[lit] = 0.0
            r.lap_start[lit] = r.sector_start[lit] = 0.0
            terminated = terminated & ~(lit & (r.end_reason == 5))
        self._contacts(now)
        self._track_limits(now, running)
        self.distance = np.where(running, r.best_progress, self.distance)
        self._timing(now, running)
        # finishing: laps done, or flagged a window after the leader
        fin = running & (r.laps >= rules.laps)
        if fin.any():
            self.status[fin] = FINISHED
            self.finish_time[fin] = now[fin]
            first = np.full(len(self.worlds), np.inf)
            np.minimum.at(first, self.widx[fin], now[fin])
            self.leader_finish_s = np.minimum(self.leader_finish_s, first[self.widx])
        running = self.status == RUNNING
        flag = running & (now >= self.leader_finish_s + rules.finish_window_s)
        self.status[flag] = FLAGGED
        self.finish_time[flag] = now[flag]
        retire = running & ~flag & (terminated | (now >= self.max_race_s))
        for i in np.flatnonzero(retire):                # rare: a Python loop is fine here
            reason = END_REASONS[int(r.end_reason[i])] if terminated[i] else "race time limit"
            if now[i] - self.last_hit_s[i] < rules.victim_grace_s:
                reason += " after contact"
            self.retire_reason[i] = reason
        self.status[retire] = RETIRED
        self.finish_time[retire] = now[retire]
        r.collidable[:] = self.status == RUNNING
        self._overtakes(now)
        self._update_positions()

    def _contacts(self, now: np.ndarray) -> None:
        rules = self.rules
        i, j, approach, _ = self.race.solver.pairs()
        self.contact_now[:] = False
        if len(i) == 0:
            return
        self.contact_now[i] = self.contact_now[j] = True
        closing = approach[:, 0] + approach[:, 1]
        t = now[i]
        new = (t - self.last_contact[i, j] > rules.rejoin_s) & (closing >= rules.min_collision_mps)
        self.last_contact[i, j] = self.last_contact[j, i] = t
        for k in np.flatnonzero(new):                    # a few collisions per race
            a, b = int(i[k]), int(j[k])
            diff = approach[k, 0] - approach[k, 1]
            fault = a if diff > rules.fault_margin_mps else b if -diff > rules.fault_margin_mps else -1
            inc = Incident(float(now[a]), a, b, fault, float(closing[k]))
            self.collisions[[a, b]] += 1
            if fault >= 0:
                self.caused[fault] += 1
                victim = b if fault == a else a
                self.last_hit_s[victim] = now[a]
                if closing[k] >= rules.min_penalty_mps:
                    inc.penalty_s = rules.collision_penalty_s
                    self.penalty_s[fault] += rules.collision_penalty_s
            else:
                self.last_hit_s[[a, b]] = now[a]
            self.incidents.append(inc)

    def _track_limits(self, now: np.ndarray, running: np.ndarray) -> None:
        off = self.race.off_track & running
        new = off & ~self.was_off & (now - self.last_hit_s >= self.rules.victim_grace_s) & (now >= 0)
        self.was_off = off
        self.track_limits[new] += 1
        over = new & (self.track_limits > self.rules.track_limit_warnings)
        self.penalty_s[over] += self.rules.track_limit_penalty_s

    def _timing(self, now: np.ndarray, running: np.ndarray) -> None:
        """Timing loops: the time each kart first reached every ``loop_m`` of race distance."""
        k = np.floor((self.distance + self.loop_offset) / self.rules.loop_m).astype(np.int64)
        k = np.where(running, np.minimum(k, self.loops - 1), self.loop_done)
        while True:                                      # at most a loop or two per step per kart
            todo = k > self.loop_done
            if not todo.any():
                break
            nxt = self.loop_done[todo] + 1
            self.loop_time[np.flatnonzero(todo), nxt] = now[todo]
            self.loop_done[todo] = nxt

    def _overtakes(self, now: np.ndarray) -> None:
        run = self.status == RUNNING
        both = run[:, None] & run[None, :] & self.same
        cur = self.distance[:, None] > self.distance[None, :]
        differs = both & (cur != self.ahead)
        self.flip_since = np.where(differs, np.where(np.isnan(self.flip_since), now[:, None], self.flip_since),
                                   np.nan)
        held = differs & (now[:, None] - self.flip_since >= self.rules.overtake_hold_s) & (now[:, None] > 0)
        if held.any():
            passed = held & cur                          # i is now ahead of j
            self.overtakes += passed.sum(1).astype(np.int32)
            self.overtaken += passed.sum(0).astype(np.int32)
            self.ahead = np.where(held, cur, self.ahead)
            self.flip_since[held] = np.nan
        # karts out of the race keep their last order; rows of new pairs follow the distance
        self.ahead = np.where(both & np.isnan(self.flip_since) & ~held, cur, self.ahead)

    def _update_positions(self) -> None:
        r, n = self.race, self.race.n
        st = self.status
        group = np.select([st == FINISHED, st == FLAGGED, st == RUNNING], [0, 1, 1], 2)
        total = self.finish_time + self.penalty_s
        # finished: by laps then total time; others: by distance
        key_time = np.where(st == FINISHED, total, 0.0)
        fin = st == FINISHED
        order = np.lexsort((np.arange(n), key_time, -self.distance * ~fin, -r.laps * fin, group, r.world))
        pos = np.empty(n, np.int32)
        starts = np.searchsorted(r.world[order], r.world[order], side="left")
        pos[order] = np.arange(n) - starts + 1
        self.position = pos
        # gaps from the timing loops: how long ago the other kart was where this one is now
        now = r.time_s
        ahead_of = np.full(n, -1)
        leader = np.full(n, -1)
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n)
        prev = np.concatenate([[-1], order[:-1]])
        same_prev = np.concatenate([[False], r.world[order][1:] == r.world[order][:-1]])
        ahead_of[order] = np.where(same_prev, prev, -1)
        leader[order] = order[starts]
        k = np.clip(self.loop_done, 0, self.loops - 1)
        idx = np.arange(n)

        def gap(other):
            t = self.loop_time[np.maximum(other, 0), k]
            g = np.where((other >= 0) & (other != idx) & np.isfinite(t) & (self.loop_done >= 0), now - t, 0.0)
            return np.maximum(g, 0.0)
        done = st == FINISHED
        self.gap_leader_s = np.where(done, total - total[leader], gap(leader))
        self.gap_ahead_s = np.where(done & (ahead_of >= 0), total - total[np.maximum(ahead_of, 0)], gap(ahead_of))
        behind = np.full(n, -1)
        behind[ahead_of[ahead_of >= 0]] = np.flatnonzero(ahead_of >= 0)
        self.gap_behind_s = np.where(behind >= 0, self.gap_ahead_s[np.maximum(behind, 0)], 0.0)
        self.kart_ahead, self.kart_behind, self.leader = ahead_of, behind, leader

    # ------------------------------------------------------------ results
    def standings(self, world: int | None = None) -> np.ndarray:
        """Kart indices in race order (of ``world``, default the first kart's)."""
        w = self.race.world[0] if world is None else world
        members = np.flatnonzero(self.race.world == w)
        return members[np.argsort(self.position[members])]

    def results(self, world: int | None = None) -> list[dict]:
        """The classification of one race: a dict per kart in finishing order."""
        r = self.race
        out = []
        order = self.standings(world)
        win = order[0]
        win_total = self.finish_time[win] + self.penalty_s[win]
        for i in order:
            total = self.finish_time[i] + self.penalty_s[i]
            st = int(self.status[i])
            if st == FINISHED and i != win:
                dl = int(r.laps[win] - r.laps[i])
                gap = f"+{dl} lap{'s' * (dl > 1)}" if dl > 0 else f"+{total - win_total:.3f}"
            elif st == FINISHED:
                gap = ""
            elif st == FLAGGED:
                gap = f"+{max(1, int(r.laps[win] - r.laps[i]))} lap(s)"
            elif st == RUNNING:
                gap = "running"
            else:
                gap = "DNF"
            out.append({
                "position": int(self.position[i]), "kart": int(i), "driver": self.drivers[i],
                "status": STATUS[st], "laps": int(r.laps[i]),
                "total_time_s": round(float(total), 3) if st in (FINISHED, FLAGGED) else None,
                "best_lap_s": round(float(r.best_lap_time[i]), 3) if r.best_lap_time[i] > 0 else None,
                "gap": gap, "penalties_s": round(float(self.penalty_s[i]), 3),
                "collisions": int(self.collisions[i]), "caused": int(self.caused[i]),
                "overtakes": int(self.overtakes[i]), "overtaken": int(self.overtaken[i]),
                "track_limits": int(self.track_limits[i]),
                "grid": int(self.grid_pos[i]), "positions_gained": int(self.grid_pos[i] - self.position[i]),
                "jump_start": bool(self.jump_start[i]), "dnf_reason": self.retire_reason[i] or None})
        return out

    def info(self) -> dict:
        """Per-kart race arrays for the envs' ``info``."""
        return {"position": self.position.copy(), "gap_leader_s": self.gap_leader_s.copy(),
                "gap_ahead_s": self.gap_ahead_s.copy(), "gap_behind_s": self.gap_behind_s.copy(),
                "collisions": self.collisions.copy(), "caused": self.caused.copy(),
                "overtakes": self.overtakes.copy(), "overtaken": self.overtaken.copy(),
                "track_limits": self.track_limits.copy(), "penalty_s": self.penalty_s.copy(),
                "contact": self.contact_now.copy(), "race_status": self.status.copy(),
                "race_laps": self.race.laps.copy()}


ETIQUETTE = ("collisions", "caused", "overtakes", "overtaken", "track_limits", "penalty_s")


def etiquette_rates(totals: dict, laps: float, races: int) -> dict:
    """Race etiquette over many races from the totals of :data:`ETIQUETTE` (summed over the
    karts counted): collisions and caused collisions per lap, overtakes made and lost per race,
    track-limits excursions per lap, penalty seconds per race."""
    lp = max(float(laps), 1.0)
    return {"collisions_per_lap": float(totals["collisions"]) / lp, "caused_per_lap": float(totals["caused"]) / lp,
            "overtakes_per_race": float(totals["overtakes"]) / races,
            "overtaken_per_race": float(totals["overtaken"]) / races,
            "track_limits_per_lap": float(totals["track_limits"]) / lp,
            "penalties_s_per_race": float(totals["penalty_s"]) / races}


def format_results(results: list, track: str = "", laps: int = 0) -> str:
    """The classification as a fixed-width table."""
    head = (f"{'Pos':>3}  {'Driver':<26} {'Laps':>4} {'Time':>9} {'Best lap':>8} {'Gap':>9} "
            f"{'Pen':>5} {'Coll':>4} {'Caused':>6} {'Ovt':>3} {'Lost':>4} {'TL':>3} {'Grid':>4} {'+/-':>3}  Note")
    lines = [f"{track}: {laps} laps" if track else "", head, "-" * len(head)]
    for row in results:
        t = f"{row['total_time_s']:.3f}" if row["total_time_s"] is not None else "-"
        b = f"{row['best_lap_s']:.3f}" if row["best_lap_s"] is not None else "-"
        note = row["dnf_reason"] or ("jump start" if row["jump_start"] else "")
        if row["status"] == "flagged":
            note = note or "flagged"
        name = row["driver"] if len(row["driver"]) <= 26 else "..." + row["driver"][-23:]   # keep the file name
        lines.append(f"{row['position']:>3}  {name:<26} {row['laps']:>4} {t:>9} {b:>8} "
                     f"{row['gap']:>9} {row['penalties_s']:>5.1f} {row['collisions']:>4} {row['caused']:>6} "
                     f"{row['overtakes']:>3} {row['overtaken']:>4} {row['track_limits']:>3} {row['grid']:>4} "
                     f"{row['positions_gained']:>+3}  {note}")
    return "\n".join(x for x in lines if x)
