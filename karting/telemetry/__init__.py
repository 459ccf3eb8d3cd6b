"""Telemetry: every step of every kart into preallocated columns, exported as CSV.

The CSV schema (one row per kart per control step, units in the names) is
:mod:`karting.sim.recording`'s docstring and ``COLUMNS``; :mod:`karting.telemetry.recorder` writes
the CSV where it is told, with a ``.meta.json`` sidecar (track, conditions, scenario).

Analysis (pandas), in the spirit of FastF1's ``Laps`` and ``Telemetry``: :func:`laps` gives one
row per lap (lap and sector times, valid, speeds, lateral g, time off track), :func:`lap_trace`
one lap resampled on a distance grid, :func:`stint` the laps with tyre temperatures and wear,
grip, water and fuel (sessions driven with karting.sim.conditions), :func:`compare` two laps
aligned by distance (delta time and per-sector gains); :mod:`karting.telemetry.coach` the coaching
report (corners, braking points, apexes, advice; ``python -m karting.coach``). ``python -m karting.telemetry
summary|compare|plot`` is the command line (:mod:`karting.telemetry.cli`).
"""
from .analysis import (
                       CONDITION_COLUMNS,
                       LAP_KEYS,
                       STANDING_KMH,
                       TRACE_COLUMNS,
                       TelemetryError,
                       compare,
                       format_expert_lap,
                       format_sectors,
                       format_stint,
                       gains,
                       lap_trace,
                       laps,
                       load,
                       pick_lap,
                       stint,
)
from .recorder import COLUMNS, DEFAULT_DIR, SCHEMA_VERSION, TelemetryRecorder, export_csv, read_meta, write_csv

__all__ = ["COLUMNS", "CONDITION_COLUMNS", "DEFAULT_DIR", "LAP_KEYS", "SCHEMA_VERSION", "STANDING_KMH", "TRACE_COLUMNS",
           "TelemetryError", "TelemetryRecorder", "compare", "format_expert_lap", "format_sectors", "format_stint",
           "export_csv", "gains", "lap_trace", "laps", "load", "pick_lap", "read_meta", "stint", "write_csv"]
