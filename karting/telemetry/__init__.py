"""Telemetry: every step of every kart into preallocated columns, exported as CSV.

CSV schema (version 1; one row per kart per control step; columns in this order, units in names):

==================  ======================================================================
env                 index of the kart in its batch (0 for a single env)
episode             episode number of that kart, from 0
step                control step within the episode
time_s              time since the episode started [s]
lap                 lap being driven (1 = first lap); 0 before the first crossing on a
                    random-start out-lap
sector              sector being driven: 1, 2 or 3
distance_m          distance along the centre line from the start/finish line [m], 0..length
x_m, y_m            position [m], x right and y up the track image
heading_rad         yaw, counter-clockwise from +x [rad]
speed_kmh           ground speed [km/h]
steering            actual steering in [-1, 1] (+ = left), after the steering rate limit
throttle, brake     actual pedals in [0, 1]
lat_g, long_g       accelerations felt by the driver [g] (+ = left / forward)
dist_to_line_m      signed distance to the racing line [m] (+ = left of it)
curvature           centre-line curvature ahead [1/m] (+ = left turn)
checkpoint          index of the next checkpoint gate to cross
off_track           1 when the kart's centre is off the asphalt and kerbs
reward              reward of that step
lap_time_s          time since the current lap started [s]
lap_valid           1 while the current lap has no cut and no missed checkpoint
surface             surface under the kart: 0 grass, 1 asphalt, 2 kerb, 3 barrier
==================  ======================================================================

Analysis (pandas), in the spirit of FastF1's ``Laps`` and ``Telemetry``: :func:`laps` gives one
row per lap (lap and sector times, valid, speeds, lateral g, time off track), :func:`lap_trace`
one lap resampled on a distance grid, :func:`compare` two laps aligned by distance (delta time and
per-sector gains). ``python -m karting.telemetry summary|compare|plot`` is the command line
(:mod:`karting.telemetry.cli`).
"""
from .analysis import (LAP_KEYS, STANDING_KMH, TRACE_COLUMNS, TelemetryError, compare, gains,
                       lap_trace, laps, load, pick_lap)
from .recorder import COLUMNS, DEFAULT_DIR, SCHEMA_VERSION, TelemetryRecorder, write_csv

__all__ = ["COLUMNS", "DEFAULT_DIR", "LAP_KEYS", "SCHEMA_VERSION", "STANDING_KMH", "TRACE_COLUMNS",
           "TelemetryError", "TelemetryRecorder", "compare", "gains", "lap_trace", "laps", "load",
           "pick_lap", "write_csv"]
