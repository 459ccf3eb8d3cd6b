"""Telemetry figures (matplotlib): two laps compared, columns of a lap or a session."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..extras import require
from . import analysis as T

SECTOR_SHADES = ("#f2f2f2", "#ffffff", "#f2f2f2")


def _sector_bands(ax, trace, col="sector_a"):
    import numpy as np
    d = trace.index.to_numpy()
    s = trace[col].to_numpy()
    for k in (1, 2, 3):
        m = s == k
        if m.any():
            ax.axvspan(d[m][0], d[m][-1], color=SECTOR_SHADES[k - 1], zorder=0)
            ax.text(float(np.mean(d[m])), 1.0, f"S{k}", transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=8, color="0.4")


def _save(fig, out):
    import matplotlib.pyplot as plt
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_compare(traces, sectors, info: dict, label_a: str, label_b: str, out: str | Path) -> Path:
    """Delta time, speed, throttle/brake and steering of two laps against distance, one PNG."""
    matplotlib = require("matplotlib", "plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    d = traces.index.to_numpy()
    fig, axes = plt.subplots(5, 1, figsize=(11, 10), sharex=True,
                             gridspec_kw={"height_ratios": [1.3, 1.6, 1, 1, 1]})
    ca, cb = "tab:blue", "tab:red"
    ax = axes[0]
    delta = traces["delta_s"].to_numpy()
    ax.plot(d, delta, color="black", lw=1.2)
    ax.fill_between(d, 0, delta, where=delta >= 0, color=ca, alpha=0.25, label="A ahead")
    ax.fill_between(d, 0, delta, where=delta < 0, color=cb, alpha=0.25, label="B ahead")
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set_ylabel("delta B - A [s]")
    ax.legend(loc="upper left", fontsize=8)
    for ax, (col, unit) in zip(axes[1:], (("speed_kmh", "speed [km/h]"), ("throttle", "throttle"),
                                          ("brake", "brake"), ("steering", "steering (+ left)"))):
        ax.plot(d, traces[f"{col}_a"], color=ca, lw=1.0, label="A")
        ax.plot(d, traces[f"{col}_b"], color=cb, lw=1.0, label="B")
        ax.set_ylabel(unit)
    axes[1].legend(loc="lower right", fontsize=8)
    for ax in axes:
        _sector_bands(ax, traces)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("distance along the track [m]")
    parts = "   ".join(f"{p}: {r.b_minus_a_s:+.2f} s" for p, r in sectors.iterrows())
    fig.suptitle(f"A = {label_a}\nB = {label_b}\nB - A   {parts}", fontsize=10, x=0.02, ha="left")
    return _save(fig, out)


def plot_columns(df, columns: list, key: tuple, out: str | Path, x: str = "distance", label: str = "") -> Path:
    """Columns of one lap against distance, of one episode against time (``x="time"``), or of
    one kart's whole session against its steps (``x="step"``)."""
    matplotlib = require("matplotlib", "plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if x == "distance":
        data = T.lap_trace(df, key)
        extra = [c for c in columns if c not in data.columns]
        if extra:
            raise T.TelemetryError(f"columns {extra} cannot be drawn against distance; choose from "
                                   f"{', '.join(data.columns)} or use --x time")
        xs, xlabel = data.index.to_numpy(), "distance along the track [m]"
    elif x == "time":
        env, ep = key[0], key[1]
        data = df[(df["env"] == env) & (df["episode"] == ep)]
        xs, xlabel = data["time_s"].to_numpy(), "time [s]"
    else:               # the whole session of one kart, episodes one after another
        data = df[df["env"] == key[0]]
        xs, xlabel = np.arange(len(data)), "step of the session (every episode, in order)"
    fig, axes = plt.subplots(len(columns), 1, figsize=(11, 2.2 * len(columns) + 0.8), sharex=True,
                             squeeze=False)
    for ax, c in zip(axes[:, 0], columns):
        ax.plot(xs, data[c].to_numpy(), lw=1.0)
        ax.set_ylabel(c)
        ax.grid(alpha=0.3)
        if x == "distance":
            _sector_bands(ax, data, "sector")
    axes[-1, 0].set_xlabel(xlabel)
    fig.suptitle(label, fontsize=10, x=0.02, ha="left")
    return _save(fig, out)
