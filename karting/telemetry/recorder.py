"""Telemetry CSV files: written atomically where the user says, with a sidecar that says where
and how they were driven.

The columns are :mod:`karting.sim.recording`'s (the schema's one home). Beside ``laps.csv`` a
``laps.meta.json`` holds the recorder's ``meta``: the track (name, path, content key), the
conditions and the scenario; :func:`read_meta` reads it back, so coaching, comparisons and
replays find the track and conditions a CSV was driven in.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import atomic_write
from ..sim.recording import COLUMNS, CONDITION_COLUMNS, RACE_COLUMNS, SCHEMA_VERSION, TelemetryRecorder

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_DIR = Path("telemetry_logs")      # where commands put a CSV when no path is given
META_SUFFIX = ".meta.json"

__all__ = ["COLUMNS", "CONDITION_COLUMNS", "DEFAULT_DIR", "META_SUFFIX", "RACE_COLUMNS", "SCHEMA_VERSION",
           "TelemetryRecorder", "export_csv", "meta_path", "read_meta", "write_csv"]


def meta_path(csv: str | Path) -> Path:
    """The sidecar of a telemetry CSV: ``laps.csv`` -> ``laps.meta.json``."""
    p = Path(csv)
    return p.with_name(p.stem + META_SUFFIX)


def write_csv(df: "pd.DataFrame", path: str | Path, meta: dict | None = None) -> Path:
    """Write a telemetry DataFrame as CSV atomically, at ``path`` as given, and ``meta`` (if
    any) into its sidecar. Returns the path written."""
    path = Path(path)
    out = atomic_write(path, lambda f: df.to_csv(f, index=False, float_format="%.5g"), text=True)
    if meta:
        atomic_write(meta_path(path), lambda f: json.dump({"schema": SCHEMA_VERSION, **meta}, f, indent=1,
                                                           default=str), text=True)
    return out


def export_csv(recorder: TelemetryRecorder, path: str | Path) -> Path:
    """Write everything ``recorder`` holds (and its meta) as :func:`write_csv` does."""
    return write_csv(recorder.to_dataframe(), path, recorder.meta)


def read_meta(csv: str | Path) -> dict:
    """What the sidecar of ``csv`` says (empty when there is none or it cannot be read)."""
    try:
        out = json.loads(meta_path(csv).read_text())
    except (OSError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}
