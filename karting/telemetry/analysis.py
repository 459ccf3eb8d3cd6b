"""Analysis of telemetry CSVs (pandas), in the spirit of FastF1's ``Laps`` and ``Telemetry``:
:func:`laps` gives one row per lap (lap and sector times, valid, speeds, lateral g, time off
track), :func:`lap_trace` one lap resampled on a distance grid, :func:`compare` two laps aligned
by distance (delta time and per-sector gains)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..sim.recording import COLUMNS
from ..sim.recording import CONDITION_COLUMNS as CONDITION_SCHEMA

if TYPE_CHECKING:
    import pandas as pd


def load(path: str | Path) -> "pd.DataFrame":
    """Read a telemetry CSV into a pandas DataFrame with the schema's dtypes."""
    import pandas as pd
    path = Path(path)
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such telemetry file") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory: give a telemetry CSV file in it") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a telemetry CSV ({e})") from None
    except OSError as e:
        raise ValueError(f"{path}: cannot read it ({e.strerror or e})") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing telemetry columns {missing}; expected the schema of "
                         "karting.telemetry.COLUMNS (files from env.export_telemetry have it)")
    for c, dt in COLUMNS.items():
        empty = df[c].isna().to_numpy()
        if empty.any():
            rows = np.flatnonzero(empty)
            raise ValueError(f"{path}: column {c!r} has {len(rows)} empty value(s), first in data row "
                             f"{rows[0] + 1} (a file cut short by a crash? drop the incomplete rows)")
        try:
            df[c] = df[c].astype(dt)
        except (ValueError, TypeError):
            bad = pd.to_numeric(df[c], errors="coerce").isna().to_numpy()
            first = int(np.argmax(bad))
            where = f", e.g. {df[c].iloc[first]!r} in data row {first + 1}" if bad.any() else ""
            raise ValueError(f"{path}: column {c!r} has values that are not {np.dtype(dt).name}{where}") from None
    return df


# ---------------------------------------------------------------- analysis

class TelemetryError(ValueError):
    """A telemetry file or selection cannot be analysed; the message says why and what to do."""


LAP_KEYS = ["env", "episode", "lap"]


def _dt(df):
    t = np.diff(df["time_s"].to_numpy()[:200])
    t = t[t > 0]
    return float(np.median(t)) if len(t) else 0.05


def laps(df: "pd.DataFrame") -> "pd.DataFrame":
    """One row per *completed* lap: ``env, episode, lap, lap_time_s, s1_s, s2_s, s3_s, valid,
    max_speed_kmh, min_speed_kmh, mean_speed_kmh, max_lat_g, off_track_s, start_time_s``.

    A lap is complete when its kart crossed the line again (a later row of the same episode has
    the next lap number). Times come from the crossing steps, as the env measures them. Out-laps
    (lap 0, after a random start) are not laps. Sorted by env, episode, lap; ``session_best``
    marks the fastest valid lap of the file. Times are rounded to the millisecond (the CSV holds
    float32 seconds).
    """
    import pandas as pd
    dt = _dt(df)
    rows = []
    for (env, ep), g in df.groupby(["env", "episode"], sort=True):
        lap = g["lap"].to_numpy()
        t = g["time_s"].to_numpy(np.float64)
        start_of = {}   # lap number -> time its lap started (crossing time)
        for k in np.unique(lap):
            i = int(np.argmax(lap == k))
            start_of[int(k)] = t[i] - float(g["lap_time_s"].iloc[i])
        for k in sorted(start_of):
            if k < 1 or (k + 1) not in start_of:
                continue
            m = lap == k
            seg = g[m]
            t0, t1 = start_of[k], start_of[k + 1]
            sec = seg["sector"].to_numpy()
            ts = seg["time_s"].to_numpy(np.float64)
            b2 = ts[np.argmax(sec >= 2)] if (sec >= 2).any() else np.nan
            b3 = ts[np.argmax(sec >= 3)] if (sec >= 3).any() else np.nan
            nxt = g[lap == k + 1].iloc[0]
            valid = bool(seg["lap_valid"].iloc[-1]) and not bool(nxt["off_track"])
            sp = seg["speed_kmh"].to_numpy()
            rows.append(dict(env=int(env), episode=int(ep), lap=int(k), lap_time_s=t1 - t0,
                             s1_s=b2 - t0, s2_s=b3 - b2, s3_s=t1 - b3, valid=valid,
                             max_speed_kmh=float(sp.max()), min_speed_kmh=float(sp.min()),
                             mean_speed_kmh=float(sp.mean()),
                             max_lat_g=float(np.abs(seg["lat_g"]).max()),
                             off_track_s=float(seg["off_track"].sum() * dt), start_time_s=t0))
    out = pd.DataFrame(rows, columns=["env", "episode", "lap", "lap_time_s", "s1_s", "s2_s", "s3_s",
                                      "valid", "max_speed_kmh", "min_speed_kmh", "mean_speed_kmh",
                                      "max_lat_g", "off_track_s", "start_time_s"])
    for c in ("lap_time_s", "s1_s", "s2_s", "s3_s", "off_track_s", "start_time_s"):
        out[c] = out[c].astype(float).round(3)
    out["session_best"] = False
    if out["valid"].any():
        out.loc[out.loc[out["valid"], "lap_time_s"].idxmin(), "session_best"] = True
    return out


#: the columns the realism models add (karting.sim.conditions): tyres, grip, water, fuel
CONDITION_COLUMNS = tuple(CONDITION_SCHEMA)          # the realism models' columns (karting.sim.recording)


def stint(df: "pd.DataFrame") -> "pd.DataFrame":
    """The stint table of a session driven with weather, tyres or fuel modelled: one row per
    completed lap (as :func:`laps`) with the mean tyre temperatures over the lap, the wear and
    fuel at its end, the mean grip factor and the mean water under the kart. Empty when the
    CSV has no such columns."""
    table = laps(df)
    have = [c for c in CONDITION_COLUMNS if c in df.columns]
    if not have or table.empty:
        return table.iloc[0:0]
    rows = []
    groups = df.groupby(LAP_KEYS, sort=False)
    for _, r in table.iterrows():
        seg = groups.get_group((r["env"], r["episode"], r["lap"]))
        row = {k: r[k] for k in ("env", "episode", "lap", "lap_time_s", "valid")}
        for c in have:
            v = seg[c].to_numpy(np.float64)
            row[c] = float(v[-1]) if c.startswith(("tyre_wear", "fuel")) else float(v.mean())
        rows.append(row)
    import pandas as pd
    out = pd.DataFrame(rows)
    if "lap_time_s" in out and len(out):
        best = out.loc[out["valid"], "lap_time_s"].min() if out["valid"].any() else np.nan
        out["vs_best_s"] = (out["lap_time_s"] - best).round(3)
    return out


def pick_lap(df: "pd.DataFrame", which: str = "best") -> tuple:
    """The key ``(env, episode, lap)`` of a lap: ``"best"`` (fastest valid, else fastest
    complete), ``"last"``, or ``"ENV:EPISODE:LAP"`` / ``"LAP"`` (in env 0 episode 0)."""
    table = laps(df)
    if table.empty:
        raise TelemetryError("no complete lap in this telemetry: a lap counts once the kart crosses "
                             "the start/finish line again (drive at least one full lap)")
    if which in ("best", None):
        pool = table[table["valid"]] if table["valid"].any() else table
        r = pool.loc[pool["lap_time_s"].idxmin()]
    elif which == "last":
        r = table.iloc[-1]
    else:
        parts = str(which).split(":")
        try:
            key = [0, 0, int(parts[0])] if len(parts) == 1 else [int(v) for v in parts]
            assert len(key) == 3
        except (ValueError, AssertionError):
            raise TelemetryError(f"lap {which!r}: give best, last, a lap number or ENV:EPISODE:LAP") from None
        m = (table["env"] == key[0]) & (table["episode"] == key[1]) & (table["lap"] == key[2])
        if not m.any():
            raise TelemetryError(f"lap {which!r} is not a complete lap here; complete laps: " +
                                 ", ".join(f"{a}:{b}:{c}" for a, b, c in table[LAP_KEYS].to_numpy()[:20]))
        r = table[m].iloc[0]
    return (int(r["env"]), int(r["episode"]), int(r["lap"])), r


TRACE_COLUMNS = ("speed_kmh", "throttle", "brake", "steering", "lat_g", "long_g", "dist_to_line_m",
                 "x_m", "y_m", "heading_rad", "sector", "off_track")


def lap_trace(df: "pd.DataFrame", key: tuple, step_m: float = 1.0) -> "pd.DataFrame":
    """One lap resampled every ``step_m`` metres of track distance: a DataFrame indexed by
    ``distance_m`` (0 = start/finish) with ``time_s`` (since the kart crossed the line, found
    within its step from the speed) and the
    :data:`TRACE_COLUMNS`. The crossing row that starts the next lap closes it."""
    env, ep, k = key
    g = df[(df["env"] == env) & (df["episode"] == ep)]
    lap = g[g["lap"] == k]
    nxt = g[g["lap"] == k + 1].head(1)
    if lap.empty or nxt.empty:
        raise TelemetryError(f"lap {env}:{ep}:{k} is not complete")
    import pandas as pd
    seg = pd.concat([lap, nxt])
    t0 = float(lap["time_s"].iloc[0] - lap["lap_time_s"].iloc[0])
    t = seg["time_s"].to_numpy(np.float64) - t0
    d = seg["distance_m"].to_numpy(np.float64)
    length = float(df["distance_m"].max())
    # unwrap: the lap runs from ~0 to ~length, the closing row wraps back to ~0
    jumps = np.diff(d)
    d = d + np.concatenate([[0.0], np.cumsum(np.where(jumps < -length / 2, length,
                                                     np.where(jumps > length / 2, -length, 0.0)))])
    if d[0] > length / 2:
        d = d - length
    d = np.maximum.accumulate(d)                      # reversing on track does not un-drive it
    d = d + np.arange(len(d)) * 1e-6                  # strictly increasing for interpolation
    grid = np.arange(0.0, max(d[-1], step_m), step_m)
    out = {"time_s": np.interp(grid, d, t)}
    # the line was crossed within a step, before the first sample: back along its speed to it,
    # and count from there, so two laps' times agree at the line and not only to the 0.05 s step
    v0 = max(float(seg["speed_kmh"].iloc[0]) / 3.6, 1.0)
    early = grid < d[0]
    out["time_s"][early] = t[0] - (d[0] - grid[early]) / v0
    out["time_s"] -= out["time_s"][0]
    for c in TRACE_COLUMNS:
        v = seg[c].to_numpy(np.float64)
        if c == "heading_rad":
            v = np.unwrap(v)
        out[c] = np.interp(grid, d, v)
    out["sector"] = np.round(out["sector"]).astype(int)
    return pd.DataFrame(out, index=pd.Index(grid, name="distance_m"))


#: a lap whose first sample is slower than this began from rest (a standing start)
STANDING_KMH = 5.0


def compare(df_a: "pd.DataFrame", df_b: "pd.DataFrame", lap_a: str = "best", lap_b: str = "best",
            step_m: float = 1.0) -> tuple:
    """Two laps aligned by distance. Returns ``(traces, sectors, info)``:

    * ``traces``: DataFrame on a common distance grid with ``time_a``, ``time_b``, ``delta_s``
      (= time_b - time_a: > 0 where B is behind) and ``<column>_a`` / ``<column>_b`` for speed,
      throttle, brake, steering, lateral g;
    * ``sectors``: per sector (and the lap): time of A, of B, and B - A;
    * ``info``: the two lap keys and their table rows, and whether each began from rest
      (``standing_a``/``standing_b``: a standing start and a flying lap differ by seconds
      in the first hundred metres whoever drives better).
    """
    import pandas as pd
    key_a, row_a = pick_lap(df_a, lap_a)
    key_b, row_b = pick_lap(df_b, lap_b)
    ta, tb = lap_trace(df_a, key_a, step_m), lap_trace(df_b, key_b, step_m)
    n = min(len(ta), len(tb))
    ta, tb = ta.iloc[:n], tb.iloc[:n]
    traces = pd.DataFrame(index=ta.index)
    traces["time_a"], traces["time_b"] = ta["time_s"].to_numpy(), tb["time_s"].to_numpy()
    traces["delta_s"] = traces["time_b"] - traces["time_a"]
    for c in ("speed_kmh", "throttle", "brake", "steering", "lat_g", "sector"):
        traces[f"{c}_a"], traces[f"{c}_b"] = ta[c].to_numpy(), tb[c].to_numpy()
    names = ["S1", "S2", "S3", "lap"]
    a = [row_a["s1_s"], row_a["s2_s"], row_a["s3_s"], row_a["lap_time_s"]]
    b = [row_b["s1_s"], row_b["s2_s"], row_b["s3_s"], row_b["lap_time_s"]]
    sectors = pd.DataFrame({"a_s": a, "b_s": b}, index=pd.Index(names, name="part"))
    sectors["b_minus_a_s"] = sectors["b_s"] - sectors["a_s"]
    standing = {k: bool(t["speed_kmh"].iloc[0] < STANDING_KMH) for k, t in (("a", ta), ("b", tb))}
    return traces, sectors, {"key_a": key_a, "key_b": key_b, "lap_a": row_a, "lap_b": row_b,
                             "standing_a": standing["a"], "standing_b": standing["b"]}


def format_sectors(times, width: int = 0, sep: str = " ") -> str:
    """``S1 20.85 S2 21.30 S3 18.60``: the one way the commands print sector times."""
    return sep.join(f"S{i + 1} {float(t):{width}.2f}" for i, t in enumerate(times))


def gains(traces: "pd.DataFrame", segment_m: float = 100.0) -> "pd.DataFrame":
    """Where time is gained and lost: ``delta_s`` change over each ``segment_m`` stretch of the
    lap (> 0: B lost time there). DataFrame with ``from_m, to_m, b_minus_a_s``."""
    import pandas as pd
    d = traces.index.to_numpy()
    edges = np.arange(0.0, d[-1] + segment_m, segment_m)
    delta = np.interp(np.minimum(edges, d[-1]), d, traces["delta_s"].to_numpy())
    return pd.DataFrame({"from_m": edges[:-1], "to_m": np.minimum(edges[1:], d[-1]),
                         "b_minus_a_s": np.diff(delta)})


def format_expert_lap(r) -> str:
    """One line: the expert's reference lap (a karting.sim.expert.ExpertLap), its sectors and settings."""
    if not r.completed:
        return (f"{r.track}: no clean lap: none of the {r.settings_tried} expert settings completed "
                "a lap without leaving the track (too narrow or too tight a corner for a kart?)")
    secs = format_sectors(r.sector_times_s, width=6, sep="  ")
    return (f"{r.track}: {r.length_m:.0f} m  reference lap {r.lap_time_s:.2f} s "
            f"({r.avg_speed_kmh:.1f} km/h)  {secs}  standing lap {r.standing_lap_s:.2f} s  "
            f"[grip used {r.mu_use:.1f}, line weight {r.line_weight:.1f}; "
            f"{r.clean_settings}/{r.settings_tried} settings clean]")


def format_stint(r) -> str:
    """The stint lap by lap: time, grip, water on the line, tyre temperatures and wear, fuel."""
    if not r.stint:
        return ""
    cols = [("lap", "Lap", "{:>3}"), ("time_s", "Time", "{:>7.2f}"), ("valid", "Valid", "{!s:>5}"),
            ("grip", "Grip", "{:>5.3f}"), ("wetness_line", "Water", "{:>5.2f}"),
            ("temp_front_c", "T front", "{:>7.1f}"), ("temp_rear_c", "T rear", "{:>6.1f}"),
            ("wear_front", "Wear F", "{:>6.3f}"), ("wear_rear", "Wear R", "{:>6.3f}"), ("fuel_l", "Fuel L", "{:>6.2f}")]
    cols = [c for c in cols if c[0] in r.stint[0]]
    head = "  ".join(f"{h:>{len(f.format(r.stint[0][k]))}}" for k, h, f in cols)
    lines = [head] + ["  ".join(f.format(row[k]) for k, _, f in cols) for row in r.stint]
    first, last = r.stint[0]["time_s"], r.stint[-1]["time_s"]
    best = min(x["time_s"] for x in r.stint)
    lines.append(f"first lap {first:.2f} s (from a standing start), best {best:.2f} s, last {last:.2f} s "
                 f"({last - best:+.2f} s against the best)")
    return "\n".join(lines)
