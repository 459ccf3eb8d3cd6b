"""Driver coaching: where a lap loses time against a reference, corner by corner, in plain words.

:func:`~karting.track.corners.find_corners` finds the corners of a track from its centre line's
curvature, numbered T1, T2, ... in driving order from the start/finish line, each with a *zone*
(its braking area before it, a little after it); the stretches between zones are the straights.

:func:`corner_table` measures one lap (a :func:`~karting.telemetry.analysis.lap_trace`, resampled
every metre of track distance) in each corner: the braking point (where the last release of
the throttle, below 50 %, or press of the brake, above 10 %, before the slowest point began,
pickups shorter than 10 m within it included: a "brake" if the brake went above 10 % then,
else a "lift"; "flat" with neither), the minimum speed and where it is (the driver's apex), the
throttle pickup (where that release ended), the exit speed (at the end of the zone), the line
(distance to the racing line at turn-in, at the geometric apex and at the exit), and the time
the zone took.

:func:`coach` compares a lap with a reference lap (another CSV, an AI's, or the scripted expert's
lap driven on the fly): a :class:`Coaching` with the corners and straights ranked by time lost,
one piece of advice per corner (the difference that matters most, with the numbers behind it),
``text()`` for the terminal and ``write_html()`` for a page with the map (corners coloured by
time lost) and the overlaid traces. ``python -m karting.coach`` is the command line.
"""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..files import atomic_write
from ..sim.expert import reference_lap
from ..track import load_track
from ..track.corners import Corner, find_corners
from .analysis import STANDING_KMH, TelemetryError, lap_trace, pick_lap
from .analysis import laps as lap_table

if TYPE_CHECKING:
    import pandas as pd

SAME_S = 0.02                 # a corner within this of the reference needs no advice
#: lap measurements
BRAKE_ON = 0.10
THROTTLE_ON = 0.50
PEDAL_GAP_M = 10.0            # a pickup shorter than this inside a braking is part of it


def _first(mask: np.ndarray) -> int:
    i = np.flatnonzero(mask)
    return int(i[0]) if len(i) else -1


def corner_table(trace: "pd.DataFrame", corners: list) -> "pd.DataFrame":
    """One lap measured in each corner (see the module docstring): a DataFrame indexed by corner
    name with ``brake_m, brake_kind ("brake", "lift" or "flat"), entry_kmh, min_kmh, apex_m,
    throttle_m, exit_kmh, line_in_m, line_apex_m, line_exit_m, time_s``."""
    import pandas as pd
    d = trace.index.to_numpy(np.float64)
    v, br, th = (trace[c].to_numpy(np.float64) for c in ("speed_kmh", "brake", "throttle"))
    line, t = trace["dist_to_line_m"].to_numpy(np.float64), trace["time_s"].to_numpy(np.float64)
    rows = []
    for i, c in enumerate(corners):
        prev = corners[i - 1].zone_end_m if i > 0 else 0.0
        z = (d >= c.zone_start_m) & (d <= c.zone_end_m)
        if not z.any():
            continue
        zi = np.flatnonzero(z)
        # the driver's apex: the slowest point between turn-in (less the braking zone) and the exit
        core = np.flatnonzero((d >= c.zone_start_m) & (d <= c.end_m))
        core = core if len(core) else zi
        a = int(core[np.argmin(v[core])])
        # the braking point: where the last release of the throttle (below 50 %) or press of the
        # brake (above 10 %) before the slowest point began; the throttle pickup: where it ended
        lo = min(int(np.searchsorted(d, prev)), a)
        off = (th < THROTTLE_ON) | (br > BRAKE_ON)
        step = float(d[1] - d[0]) if len(d) > 1 else 1.0
        kind, b, pick = "flat", -1, -1
        hits = np.flatnonzero(off[lo:a + 1])
        if len(hits):
            last = lo + int(hits[-1])
            b = last
            while b > lo:                     # back through the release, and through short
                j = b - 1                     # pickups within it (brake, then a dab: one braking)
                while j >= lo and not off[j] and (b - j) * step < PEDAL_GAP_M:
                    j -= 1
                if j < lo or not off[j]:
                    break
                b = j
            after = _first(~off[last:])
            pick = last + after if after >= 0 else -1
            kind = "brake" if (br[b:last + 1] > BRAKE_ON).any() else "lift"
            if b == 0 and v[0] < STANDING_KMH:    # the launch of a standing start is no braking
                kind, b, pick = "flat", -1, -1
        entry = v[lo:a + 1].max() if a >= lo else v[a]
        at = lambda s: float(np.interp(s, d, line))       # noqa: E731
        rows.append({"corner": c.name, "brake_m": float(d[b]) if b >= 0 else np.nan, "brake_kind": kind,
                     "entry_kmh": float(entry), "min_kmh": float(v[a]), "apex_m": float(d[a]),
                     "throttle_m": float(d[pick]) if pick >= 0 else np.nan,
                     "exit_kmh": float(np.interp(c.zone_end_m, d, v)),
                     "line_in_m": at(c.start_m), "line_apex_m": at(c.apex_m), "line_exit_m": at(c.end_m),
                     "time_s": float(np.interp(c.zone_end_m, d, t) - np.interp(c.zone_start_m, d, t))})
    return pd.DataFrame(rows).set_index("corner")


@dataclass
class Coaching:
    """The result of :func:`coach`. ``corners``: per corner the driver's (``_drv``) and the
    reference's (``_ref``) measurements, the differences and ``time_lost_s`` (> 0: the driver lost
    time there), ranked by it; ``straights``: per straight its time lost; ``advice``: per corner
    (ranked) one sentence; ``traces``: the two laps on a common distance grid."""
    track: str
    corners_found: list
    corners: "pd.DataFrame"
    straights: "pd.DataFrame"
    advice: list
    traces: "pd.DataFrame"
    lap_s: float
    ref_lap_s: float
    label: str = "you"
    ref_label: str = "the reference"
    notes: list = field(default_factory=list)
    track_obj: object = field(default=None, repr=False)

    def text(self, top: int = 0) -> str:
        """The report for a terminal: lap times, then the corners ranked with their advice."""
        lines = [f"{self.track}: {self.label} {self.lap_s:.2f} s vs {self.ref_label} {self.ref_lap_s:.2f} s "
                 f"({self.lap_s - self.ref_lap_s:+.2f} s); corners found: {len(self.corners_found)}"]
        lines += [f"note: {n}" for n in self.notes]
        lines.append("where the time goes (corners ranked by time lost; + = lost):")
        shown, same = self.ranked(top)
        for k, a in enumerate(shown):
            lines.append(f"{k + 1:>2}. {a['text']}")
        if same:
            lines.append(f"    {', '.join(same)}: within {SAME_S:.2f} s of {self.ref_label}, nothing to change")
        lost = self.straights[self.straights["time_lost_s"] > 0.02]
        for name, r in lost.sort_values("time_lost_s", ascending=False).iterrows():
            lines.append(f"    straight {name}: {r['time_lost_s']:+.2f} s"
                         + (f" (exit of {r['after']} {r['exit_diff_kmh']:+.1f} km/h)" if r["after"] else ""))
        return "\n".join(lines)

    def ranked(self, top: int = 0) -> tuple:
        """(the advice worth reading, ranked; the names of the corners within SAME_S of the
        reference with nothing that stands out)."""
        shown = [a for a in self.advice if abs(a["time_lost_s"]) >= SAME_S or a["issue"] != "none"]
        same = [a["corner"] for a in self.advice if a not in shown]
        return shown[:top or None], same

    def html(self) -> str:
        """A self-contained HTML page (images inline): summary, advice, map, traces, tables."""
        return _html(self)

    def write_html(self, path):
        """:meth:`html` written to ``path``; returns the path."""
        page = self.html()
        return atomic_write(Path(path), lambda f: f.write(page), text=True)


def _diff_columns(t: "pd.DataFrame") -> "pd.DataFrame":
    t["brake_diff_m"] = t["brake_m_drv"] - t["brake_m_ref"]        # < 0: the driver brakes earlier
    t["min_diff_kmh"] = t["min_kmh_drv"] - t["min_kmh_ref"]
    t["apex_diff_m"] = t["apex_m_drv"] - t["apex_m_ref"]
    t["throttle_diff_m"] = t["throttle_m_drv"] - t["throttle_m_ref"]   # > 0: later on the power
    t["exit_diff_kmh"] = t["exit_kmh_drv"] - t["exit_kmh_ref"]
    t["entry_diff_kmh"] = t["entry_kmh_drv"] - t["entry_kmh_ref"]
    for w in ("in", "apex", "exit"):     # how much further from the racing line than the reference
        t[f"wide_{w}_m"] = t[f"line_{w}_m_drv"].abs() - t[f"line_{w}_m_ref"].abs()
    return t


def _braking_candidates(r, speed: str) -> list:
    """How the driver slows for the corner against the reference: (issue, score, text) each."""
    nan = lambda x: x != x        # noqa: E731
    cands = []
    db, dv, wide_apex = r["brake_diff_m"], r["min_diff_kmh"], r["wide_apex_m"]
    kd, kr = r["brake_kind_drv"], r["brake_kind_ref"]
    verb = "brake" if kd == "brake" else "lift"
    ref_verb = "brakes" if kr == "brake" else "lifts"
    if not nan(db):                     # both slow down for the corner: compare where
        if db < -3:
            cands.append(("early_braking", -db / 4 + max(-dv, 0) / 4,
                          f"you {verb} {-db:.0f} m earlier than the reference (at {r['brake_m_drv']:.0f} m; it "
                          f"{ref_verb} at {r['brake_m_ref']:.0f} m) and {speed}; {verb} later"))
        elif db > 3 and (dv < -2 or wide_apex > 0.7):
            cands.append(("late_braking", db / 4 + max(-dv, 0) / 4 + max(wide_apex, 0),
                          f"you {verb} {db:.0f} m later than the reference (at {r['brake_m_drv']:.0f} m; it "
                          f"{ref_verb} at {r['brake_m_ref']:.0f} m) and overshoot: {speed}, "
                          f"{max(wide_apex, 0):.1f} m wider at the apex; {verb} a little earlier"))
    elif kr == "flat" and kd != "flat":
        cands.append(("overslowing", 1.0 + max(-dv, 0) / 4,
                      f"you {verb} at {r['brake_m_drv']:.0f} m where the reference stays flat, and {speed}; "
                      "keep the throttle pinned"))
    elif kd == "flat" and kr != "flat" and (dv < -2 or wide_apex > 0.7):
        cands.append(("no_braking", 1.0 + max(wide_apex, 0),
                      f"you stay flat where the reference {'brakes' if kr == 'brake' else 'lifts'} (at "
                      f"{r['brake_m_ref']:.0f} m), and {speed}; a short {'brake' if kr == 'brake' else 'lift'} "
                      "makes the apex"))
    return cands


def advise(r, name: str) -> dict:
    """The one change that matters most in corner row ``r`` (of :attr:`Coaching.corners`): a dict
    with ``corner, issue, score, text`` (the sentence, with its numbers and time lost)."""
    nan = lambda x: x != x        # noqa: E731
    dv, dthr = r["min_diff_kmh"], r["throttle_diff_m"]
    dexit, wide_apex, wide_exit = r["exit_diff_kmh"], r["wide_apex_m"], r["wide_exit_m"]
    speed = (f"carry {-dv:.0f} km/h less to the apex ({r['min_kmh_drv']:.0f} vs {r['min_kmh_ref']:.0f} km/h)"
             if dv < -1 else f"reach the apex at {r['min_kmh_drv']:.0f} km/h (reference {r['min_kmh_ref']:.0f})")
    kd = r["brake_kind_drv"]
    cands = _braking_candidates(r, speed)
    dentry = r["entry_diff_kmh"]
    if dv < -2 and dentry < -2 and dentry <= 0.7 * dv:
        cands.append(("slow_approach", -dv / 3,
                      f"you arrive {-dentry:.0f} km/h slower ({r['entry_kmh_drv']:.0f} vs {r['entry_kmh_ref']:.0f} "
                      f"km/h) and {speed}: the speed was lost before it"
                      + (f", out of {r['prev_corner']}" if r.get("prev_corner") else "")
                      + "; work on that exit first"))
    elif dv < -2 and not any(c[0] == "early_braking" for c in cands):
        how = {"brake": "release the brake earlier and roll more speed into the corner",
               "lift": "lift less, or later, and roll more speed into the corner",
               "flat": "a wider entry and a later turn-in carry more speed through it"}[kd]
        cands.append(("low_min_speed", -dv / 3, f"you {speed}; {how}"))
    if not nan(dthr) and dthr > 4:
        cands.append(("late_throttle", dthr / 6,
                      f"you pick up the throttle {dthr:.0f} m later than the reference (at "
                      f"{r['throttle_m_drv']:.0f} m, it at {r['throttle_m_ref']:.0f} m); get on the power earlier"))
    if wide_exit > 1.0 and (nan(dthr) or dthr < -2):
        cands.append(("early_throttle_wide", wide_exit * 1.5,
                      f"early throttle runs you wide at the exit ({abs(r['line_exit_m_drv']):.1f} m off the racing "
                      f"line, the reference {abs(r['line_exit_m_ref']):.1f} m) and you exit {abs(dexit):.0f} km/h "
                      f"{'slower' if dexit < 0 else 'faster'}; wait a little for the throttle"))
    if wide_apex > 1.0:
        cands.append(("missed_apex", wide_apex,
                      f"you miss the apex by {wide_apex:.1f} m more than the reference "
                      f"({abs(r['line_apex_m_drv']):.1f} m off the racing line); turn in later and clip the inside"))
    if dexit < -2:
        cands.append(("slow_exit", -dexit / 3,
                      f"you exit {-dexit:.0f} km/h slower than the reference ({r['exit_kmh_drv']:.0f} vs "
                      f"{r['exit_kmh_ref']:.0f} km/h), which costs you down the next straight too"))
    lost = float(r["time_lost_s"])
    if not cands:
        text = ("no single difference stands out: the same braking, apex speed and throttle as the reference"
                if abs(lost) < 0.05 else f"{'lost' if lost > 0 else 'gained'} in small differences spread "
                                         "through the corner")
        cands.append(("none", 0.0, text))
    issue, score, text = max(cands, key=lambda c: c[1])
    return {"corner": name, "issue": issue, "score": round(float(score), 3), "time_lost_s": round(lost, 3),
            "text": f"{name} ({lost:+.2f} s): {text}"}


def _lap_like(df, standing: bool):
    """The fastest valid lap of ``df`` that starts from rest (``standing``) or flying, with its
    trace; None if there is none."""
    table = lap_table(df)
    best = None
    for _, r in table[table["valid"]].sort_values("lap_time_s").iterrows():
        key = (int(r["env"]), int(r["episode"]), int(r["lap"]))
        tr = lap_trace(df, key)
        if bool(tr["speed_kmh"].iloc[0] < STANDING_KMH) == standing:
            best = ((key, r), tr)
            break
    return best


def coach(df: "pd.DataFrame", track, reference=None, lap: str = "best", ref_lap: str = "best",
          label: str = "you", ref_label: str = "", conditions: dict | None = None) -> Coaching:
    """Coach lap ``lap`` of telemetry ``df`` against ``reference``: a telemetry DataFrame (lap
    ``ref_lap`` of it), or None / ``"expert"`` for the scripted expert's lap on ``track`` (driven
    now, a few seconds, in ``conditions``: the weather, tyres, setup and fuel the laps were driven
    in, as a CSV's sidecar records them). ``track`` is a Track (or a path/name): the one the laps
    were driven on."""
    import pandas as pd
    if not hasattr(track, "curvature"):
        track = load_track(track)
    notes = []
    reference, ref_label = _reference(reference, ref_label, track, conditions)
    key, row = pick_lap(df, lap)
    tr_d = lap_trace(df, key)
    standing = bool(tr_d["speed_kmh"].iloc[0] < STANDING_KMH)
    rkey, rrow = pick_lap(reference, ref_lap)
    tr_r = lap_trace(reference, rkey)
    if ref_lap in (None, "best") and bool(tr_r["speed_kmh"].iloc[0] < STANDING_KMH) != standing:
        alt = _lap_like(reference, standing)       # compare a standing start with a standing start
        if alt is not None:
            (rkey, rrow), tr_r = alt
    for what, t in ((label, tr_d), (ref_label, tr_r)):
        span = float(t.index[-1])
        if abs(span - track.length) > max(0.05 * track.length, 15.0):
            raise TelemetryError(f"{what}'s lap covers {span:.0f} m of track distance but {track.name} is "
                                 f"{track.length:.0f} m long: was it driven on another track? give that "
                                 "track with --track")
    n = min(len(tr_d), len(tr_r))
    tr_d, tr_r = tr_d.iloc[:n], tr_r.iloc[:n]
    if (tr_d["speed_kmh"].iloc[0] < STANDING_KMH) != (tr_r["speed_kmh"].iloc[0] < STANDING_KMH):
        who = label if tr_d["speed_kmh"].iloc[0] < STANDING_KMH else ref_label
        notes.append(f"{who}'s lap starts from rest and the other is a flying lap: T1 and the first "
                     "straight compare a standing start with a flying one")
    corners = find_corners(track)
    a, b = corner_table(tr_d, corners), corner_table(tr_r, corners)
    t = _diff_columns(a.add_suffix("_drv").join(b.add_suffix("_ref")))
    d = tr_d.index.to_numpy(np.float64)
    delta = tr_d["time_s"].to_numpy() - tr_r["time_s"].to_numpy()
    dl = lambda s: float(np.interp(s, d, delta))     # noqa: E731
    t["time_lost_s"] = [dl(c.zone_end_m) - dl(c.zone_start_m) for c in corners if c.name in t.index]
    for c in corners:
        if c.name in t.index:
            t.loc[c.name, ["start_m", "apex_geo_m", "end_m", "zone_start_m", "zone_end_m", "direction", "radius_m"]] = \
                [c.start_m, c.apex_m, c.end_m, c.zone_start_m, c.zone_end_m, c.direction, c.radius_m]
    straights = _straights(corners, t, dl, float(d[-1]))
    names = [c.name for c in corners]
    t["prev_corner"] = [names[names.index(n) - 1] if names.index(n) > 0 else "" for n in t.index]
    t = t.sort_values("time_lost_s", ascending=False)
    advice = [advise(r, name) for name, r in t.iterrows()]
    t["advice"] = [a["text"] for a in advice]
    t["issue"] = [a["issue"] for a in advice]
    traces = pd.DataFrame(index=tr_d.index)
    for col in ("time_s", "speed_kmh", "throttle", "brake", "steering", "dist_to_line_m", "x_m", "y_m"):
        traces[f"{col}_drv"], traces[f"{col}_ref"] = tr_d[col].to_numpy(), tr_r[col].to_numpy()
    traces["delta_s"] = delta
    return Coaching(track.name, corners, t, straights, advice, traces, float(row["lap_time_s"]),
                    float(rrow["lap_time_s"]), label, ref_label, notes, track)


def _reference(reference, ref_label: str, track, conditions) -> tuple:
    """(telemetry DataFrame, label) of the reference: the one given, or the expert's lap on
    ``track`` in ``conditions`` (driven now)."""
    if reference is None or isinstance(reference, str):
        if reference not in (None, "expert"):
            raise TelemetryError(f"reference {reference!r}: give 'expert' or a telemetry DataFrame")
        r = reference_lap(track, record=True, conditions=conditions or None)
        if not r.completed:
            raise TelemetryError(f"{track.name}: the expert drove no clean lap here, so there is no reference")
        return r.telemetry, ref_label or "the expert"
    return reference, ref_label or "the reference"


def _straights(corners, t, dl, lap_end_m: float) -> "pd.DataFrame":
    """The straights: from one corner's zone end to the next one's zone start (the last wraps
    the line), with the time lost on each (``dl(s)``: the delta at distance s)."""
    import pandas as pd
    st = []
    ends = [0.0] + [c.zone_end_m for c in corners]
    starts = [c.zone_start_m for c in corners] + [lap_end_m]
    afters = [""] + [c.name for c in corners]
    for k, (s0, s1, aft) in enumerate(zip(ends, starts, afters)):
        if s1 - s0 < 1.0:
            continue
        nxt = corners[k].name if k < len(corners) else "the line"
        st.append({"straight": f"{aft or 'start'}-{nxt}" if aft else f"start-{nxt}", "from_m": s0, "to_m": s1,
                   "after": aft, "time_lost_s": dl(s1) - dl(s0),
                   "exit_diff_kmh": float(t.loc[aft, "exit_diff_kmh"]) if aft in t.index else 0.0})
    return pd.DataFrame(st).set_index("straight")


# ---------------------------------------------------------------- the HTML page

def _png(fig) -> str:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _lost_colour(x: float, scale: float):
    """Red for time lost, green for time gained, grey for nothing."""
    f = min(abs(x) / max(scale, 1e-6), 1.0)
    return (0.85, 0.85 - 0.7 * f, 0.85 - 0.7 * f) if x > 0 else (0.85 - 0.7 * f, 0.8, 0.85 - 0.7 * f)


def map_figure(c: Coaching):
    """The track with each corner coloured by the time lost there and labelled Tn."""
    from ..extras import require
    require("matplotlib", "plots").use("Agg")
    import matplotlib.pyplot as plt
    tr = c.track_obj
    fig, ax = plt.subplots(figsize=(7.0, 5.6))
    half = tr.width / 2
    for sgn in (1, -1):
        e = tr.centre + tr.normal * (sgn * half)[:, None]
        ax.plot(*np.vstack([e, e[:1]]).T, color="0.55", lw=0.8)
    ax.plot(*np.vstack([tr.racing_line, tr.racing_line[:1]]).T, color="0.75", lw=0.8, ls="--")
    scale = max(float(c.corners["time_lost_s"].abs().max()), 0.05)
    ds = tr.spacing
    for cr in c.corners_found:
        if cr.name not in c.corners.index:
            continue
        lost = float(c.corners.loc[cr.name, "time_lost_s"])
        idx = np.arange(int(cr.zone_start_m / ds), int(cr.zone_end_m / ds) + 1) % len(tr.centre)
        ax.plot(tr.centre[idx, 0], tr.centre[idx, 1], color=_lost_colour(lost, scale), lw=7, solid_capstyle="round")
        i = int(cr.apex_m / ds) % len(tr.centre)
        side = -1.0 if cr.direction == "left" else 1.0            # label on the outside
        p = tr.centre[i] + tr.normal[i] * side * (half[i] + 9.0)
        ax.text(p[0], p[1], f"{cr.name}\n{lost:+.2f}", ha="center", va="center", fontsize=9, weight="bold")
    s0 = tr.centre[0]
    ax.plot(*np.array([s0 - tr.normal[0] * half[0], s0 + tr.normal[0] * half[0]]).T, color="k", lw=3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("corners by time lost (red: lost, green: gained) [s]", fontsize=9)
    fig.tight_layout()
    return fig


def traces_figure(c: Coaching, lo: float | None = None, hi: float | None = None, title: str = ""):
    """Speed, throttle/brake, distance to the racing line and the running delta against distance,
    the driver's and the reference's laps overlaid, corner zones shaded."""
    from ..extras import require
    require("matplotlib", "plots").use("Agg")
    import matplotlib.pyplot as plt
    tc = c.traces
    if lo is not None:
        tc = tc[(tc.index >= lo) & (tc.index <= hi)]
    d = tc.index.to_numpy()
    fig, axes = plt.subplots(4, 1, figsize=(10, 7.2 if lo is None else 5.6), sharex=True,
                             gridspec_kw={"height_ratios": [3, 2, 1.5, 1.5]})
    a_lab, b_lab = c.label, c.ref_label
    axes[0].plot(d, tc["speed_kmh_ref"], color="#1f77b4", lw=1.2, label=b_lab)
    axes[0].plot(d, tc["speed_kmh_drv"], color="#d62728", lw=1.2, label=a_lab)
    axes[0].set_ylabel("speed [km/h]")
    axes[0].legend(loc="lower right", fontsize=8)
    axes[1].plot(d, tc["throttle_ref"], color="#1f77b4", lw=1)
    axes[1].plot(d, tc["throttle_drv"], color="#d62728", lw=1)
    axes[1].plot(d, -tc["brake_ref"], color="#1f77b4", lw=1, ls="--")
    axes[1].plot(d, -tc["brake_drv"], color="#d62728", lw=1, ls="--")
    axes[1].set_ylabel("throttle / -brake")
    axes[2].plot(d, tc["dist_to_line_m_ref"], color="#1f77b4", lw=1)
    axes[2].plot(d, tc["dist_to_line_m_drv"], color="#d62728", lw=1)
    axes[2].set_ylabel("off line [m]")
    axes[3].plot(d, tc["delta_s"], color="k", lw=1)
    axes[3].axhline(0, color="0.6", lw=0.6)
    axes[3].set_ylabel("delta [s]")
    axes[3].set_xlabel("distance [m]")
    for cr in c.corners_found:
        if (lo is not None and (cr.zone_end_m < lo or cr.zone_start_m > hi)) or cr.name not in c.corners.index:
            continue
        for ax in axes:
            ax.axvspan(cr.zone_start_m, cr.zone_end_m, color="#f0f0f0", zorder=0)
        mid = (cr.start_m + cr.end_m) / 2
        if lo is None or lo <= mid <= hi:
            axes[0].text(mid, 1.0, cr.name, transform=axes[0].get_xaxis_transform(), ha="center", va="bottom",
                         fontsize=8)
        r = c.corners.loc[cr.name]
        for suf, col in (("ref", "#1f77b4"), ("drv", "#d62728")):
            if r[f"brake_m_{suf}"] == r[f"brake_m_{suf}"] and (lo is not None or suf == "drv"):
                axes[1].axvline(r[f"brake_m_{suf}"], color=col, lw=0.7, ls=":")
    if lo is not None:
        axes[3].set_xlim(lo, hi)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


TABLE_COLUMNS = [("time_lost_s", "lost [s]", "{:+.2f}"), ("brake_m_drv", "brake [m]", "{:.0f}"),
                 ("brake_m_ref", "ref", "{:.0f}"), ("min_kmh_drv", "min [km/h]", "{:.0f}"),
                 ("min_kmh_ref", "ref", "{:.0f}"), ("apex_m_drv", "apex [m]", "{:.0f}"),
                 ("apex_m_ref", "ref", "{:.0f}"),
                 ("throttle_m_drv", "throttle [m]", "{:.0f}"), ("throttle_m_ref", "ref", "{:.0f}"),
                 ("exit_kmh_drv", "exit [km/h]", "{:.0f}"), ("exit_kmh_ref", "ref", "{:.0f}"),
                 ("line_in_m_drv", "line in/apex/exit [m]", "{:+.1f}"), ("line_apex_m_drv", "", "{:+.1f}"),
                 ("line_exit_m_drv", "", "{:+.1f}")]


def _fmt(v, f):
    return "–" if v != v else f.format(v)


def _html(c: Coaching) -> str:
    e = html.escape
    top = [a for a in c.advice if a["time_lost_s"] >= SAME_S][:3]
    zooms = []
    for a in top:
        cr = next(x for x in c.corners_found if x.name == a["corner"])
        zooms.append((a, _png(traces_figure(c, max(cr.zone_start_m - 40, 0), cr.zone_end_m + 40,
                                            f"{cr.name}: {c.label} (red) vs {c.ref_label} (blue)"))))
    rows = "".join(
        "<tr><td><b>{}</b></td>{}</tr>".format(e(name), "".join(
            f"<td>{_fmt(r[k], f)}</td>" for k, _, f in TABLE_COLUMNS)) for name, r in c.corners.iterrows())
    heads = "".join(f"<th>{e(h)}</th>" for _, h, _ in TABLE_COLUMNS)
    srows = "".join(f"<tr><td>{e(n)}</td><td>{r['from_m']:.0f}-{r['to_m']:.0f}</td><td>{r['time_lost_s']:+.2f}</td>"
                    f"<td>{e(r['after'] or '')}</td><td>{r['exit_diff_kmh']:+.1f}</td></tr>"
                    for n, r in c.straights.iterrows())
    shown, same = c.ranked()
    adv = "".join(f"<li class='{'lost' if a['time_lost_s'] > 0 else 'gained'}'>{e(a['text'])}</li>" for a in shown)
    same_html = (f"<p>{e(', '.join(same))}: within {SAME_S:.2f} s of {e(c.ref_label)}, nothing to change.</p>"
                 if same else "")
    notes = "".join(f"<p class='note'>{e(n)}</p>" for n in c.notes)
    zoom_html = "".join(f"<h3>{e(a['corner'])}</h3><p>{e(a['text'])}</p><img src='data:image/png;base64,{p}'>"
                        for a, p in zooms)
    diff = c.lap_s - c.ref_lap_s
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Coaching: {e(c.track)}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; max-width: 1100px; }}
h1 {{ font-size: 22px; margin-bottom: 4px; }} h2 {{ font-size: 17px; margin-top: 28px; }}
.summary {{ font-size: 16px; }} .lost {{ color: #a00; }} .gained {{ color: #070; }}
li {{ margin: 4px 0; }} .note {{ color: #a60; }}
table {{ border-collapse: collapse; font-size: 12px; }}
td, th {{ border: 1px solid #ccc; padding: 3px 6px; text-align: right; }}
.row {{ display: flex; gap: 16px; align-items: flex-start; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>Coaching report: {e(c.track)}</h1>
<p class="summary">{e(c.label)}: <b>{c.lap_s:.2f} s</b> &nbsp; {e(c.ref_label)}: <b>{c.ref_lap_s:.2f} s</b> &nbsp;
<span class="{'lost' if diff > 0 else 'gained'}">{diff:+.2f} s</span> &nbsp; ({len(c.corners_found)} corners)</p>
{notes}
<div class="row"><div><h2>Where the time goes</h2><ol id="advice">{adv}</ol>{same_html}</div>
<div><img id="map" src="data:image/png;base64,{_png(map_figure(c))}" width="560"></div></div>
<h2>The lap, overlaid</h2><img id="traces" src="data:image/png;base64,{_png(traces_figure(c))}">
<h2>The corners that cost most</h2>{zoom_html or '<p>none: no corner loses more than 0.02 s</p>'}
<h2>Corner by corner</h2><table id="corners"><tr><th>corner</th>{heads}</tr>{rows}</table>
<h2>Straights</h2><table id="straights"><tr><th>straight</th><th>from-to [m]</th><th>lost [s]</th><th>after</th>
<th>exit diff [km/h]</th></tr>{srows}</table>
<p style="font-size:11px;color:#777">Braking point: where the last release of the throttle (below
{THROTTLE_ON:.0%}) or press of the brake (above {BRAKE_ON:.0%}) before the slowest point began (a brake when
the brake went above {BRAKE_ON:.0%} then, else a lift; flat: neither). Apex: the slowest point. Throttle: where
that release ended. Line: distance to the racing line (+ = left of it) at turn-in, geometric apex and exit.
Time lost: the change of the running delta across the corner's zone.</p>
</body></html>
"""


__all__ = ["Corner", "Coaching", "find_corners", "corner_table", "coach", "advise", "map_figure", "traces_figure"]
