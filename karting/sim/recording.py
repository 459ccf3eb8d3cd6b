"""The telemetry schema and its recorder: every step of every kart into preallocated columns
(the one home of the columns; :mod:`karting.telemetry` writes them as CSV and analyses them).

CSV schema (version 1; one row per kart per control step; columns in the order of ``COLUMNS``,
then ``RACE_COLUMNS`` in a race and ``CONDITION_COLUMNS`` with the realism models; units in the
names). What each column is: ``COLUMN_DOC``, rendered as a table in the documentation's
telemetry reference.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from ..kart import G

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1
COLUMNS = {
    "env": np.int32, "episode": np.int32, "step": np.int32, "time_s": np.float32,
    "lap": np.int32, "sector": np.int8, "distance_m": np.float32, "x_m": np.float32,
    "y_m": np.float32, "heading_rad": np.float32, "speed_kmh": np.float32,
    "steering": np.float32, "throttle": np.float32, "brake": np.float32,
    "lat_g": np.float32, "long_g": np.float32, "dist_to_line_m": np.float32,
    "curvature": np.float32, "checkpoint": np.int16, "off_track": np.int8,
    "reward": np.float32, "lap_time_s": np.float32, "lap_valid": np.int8, "surface": np.int8,
}
RACE_COLUMNS = {"position": np.int16, "gap_ahead_s": np.float32, "gap_leader_s": np.float32,
                "contact": np.int8, "race_status": np.int8}
#: telemetry columns added when weather, tyres, fuel or setup are modelled
CONDITION_COLUMNS = {"tyre_temp_front_c": np.float32, "tyre_temp_rear_c": np.float32,
                     "tyre_wear_front": np.float32, "tyre_wear_rear": np.float32, "grip": np.float32,
                     "wetness": np.float32, "fuel_l": np.float32}
#: what each column holds (units are in the names: _s seconds, _m metres, _kmh km/h, _g g, _c deg C)
COLUMN_DOC = {
    "env": "index of the kart in its batch (0 for a single env)",
    "episode": "episode number of that kart, from 0",
    "step": "control step within the episode (20 a second)",
    "time_s": "time since the episode started",
    "lap": "lap being driven (1 = first lap); 0 before the first crossing on a random-start out-lap",
    "sector": "sector being driven: 1, 2 or 3",
    "distance_m": "distance along the centre line from the start/finish line, 0..length",
    "x_m": "position, x to the right of the track image",
    "y_m": "position, y up the track image",
    "heading_rad": "yaw, counter-clockwise from +x",
    "speed_kmh": "ground speed",
    "steering": "actual steering in [-1, 1] (+ = left), after the steering rate limit",
    "throttle": "actual throttle pedal in [0, 1]",
    "brake": "actual brake pedal in [0, 1]",
    "lat_g": "lateral acceleration felt by the driver (+ = left)",
    "long_g": "longitudinal acceleration felt by the driver (+ = forward)",
    "dist_to_line_m": "signed distance to the racing line (+ = left of it)",
    "curvature": "centre-line curvature ahead [1/m] (+ = left turn)",
    "checkpoint": "index of the next checkpoint gate to cross",
    "off_track": "1 when the kart's centre is off the asphalt and kerbs",
    "reward": "reward of that step",
    "lap_time_s": "time since the current lap started",
    "lap_valid": "1 while the current lap has no cut and no missed checkpoint",
    "surface": "surface under the kart: 0 grass, 1 asphalt, 2 kerb, 3 barrier",
    "position": "race: position (1 = leading)",
    "gap_ahead_s": "race: time gap to the kart ahead",
    "gap_leader_s": "race: time gap to the leader",
    "contact": "race: 1 while touching another kart",
    "race_status": "race: 0 running, 1 finished, 2 flagged, 3 retired",
    "tyre_temp_front_c": "conditions: front tyre temperature",
    "tyre_temp_rear_c": "conditions: rear tyre temperature",
    "tyre_wear_front": "conditions: front tyre wear (0 new .. 1 corded)",
    "tyre_wear_rear": "conditions: rear tyre wear",
    "grip": "conditions: grip factor under the kart (1 = dry, today's rubber)",
    "wetness": "conditions: water under the kart (0 dry .. 1 soaked)",
    "fuel_l": "conditions: fuel left [L]",
}


class TelemetryRecorder:
    """Columns of preallocated arrays; ``append(**cols)`` adds one row per kart in place.

    Capacity doubles when full, up to ``max_rows``; past that, recording stops with a warning
    rather than eating the machine's memory (export what you have and clear()).
    """

    def __init__(self, capacity: int = 4096, max_rows: int = 5_000_000, extra: dict | None = None):
        self.max_rows = max_rows
        self.n = 0
        self.full_warned = False
        self.cols = {k: np.empty(capacity, dt) for k, dt in {**COLUMNS, **(extra or {})}.items()}
        #: where and how the rows were driven (track, conditions, scenario): the CSV's sidecar
        self.meta: dict = {}

    def __len__(self):
        return self.n

    def _grow(self, need):
        cap = len(self.cols["env"])
        new = min(max(cap * 2, need), self.max_rows)
        for k, a in self.cols.items():
            b = np.empty(new, a.dtype)
            b[: self.n] = a[: self.n]
            self.cols[k] = b

    def append(self, **values: np.ndarray) -> None:
        """One step of N karts: an (N,) array per column of the schema (all of them)."""
        m = len(values["env"])
        if self.n + m > len(self.cols["env"]):
            if self.n + m > self.max_rows:
                if not self.full_warned:
                    warnings.warn(f"telemetry recorder is full ({self.max_rows:,} rows); further "
                                  "steps are not recorded: export_telemetry() and clear it")
                    self.full_warned = True
                return
            self._grow(self.n + m)
        for k, col in self.cols.items():
            col[self.n: self.n + m] = values[k]
        self.n += m

    def clear(self) -> None:
        """Forget every recorded row (the buffers are kept)."""
        self.n = 0
        self.full_warned = False

    def to_dict(self) -> dict:
        """Views of the recorded rows, one array per column."""
        return {k: v[: self.n] for k, v in self.cols.items()}

    def to_dataframe(self) -> "pd.DataFrame":
        """A copy of the recorded rows as a pandas DataFrame."""
        import pandas as pd  # the simulation itself never needs pandas
        return pd.DataFrame({k: v[: self.n].copy() for k, v in self.cols.items()})

    def with_columns(self, extra: dict) -> "TelemetryRecorder":
        """A new, empty recorder with these extra columns too (and the same meta)."""
        have = {k: v.dtype for k, v in self.cols.items() if k not in COLUMNS}
        out = TelemetryRecorder(max_rows=self.max_rows, extra={**have, **extra})
        out.meta = dict(self.meta)
        return out


def recording_meta(race) -> dict:
    """Where and how these karts drive, for a telemetry CSV's sidecar: the tracks (name,
    path, content key; kart i on tracks[i % K]) and the conditions modelled."""
    tracks = [{"name": t.name, "path": str(t.path), "key": t.content_key} for t in race.tracks]
    return {"track": tracks[0]["name"], "track_path": tracks[0]["path"], "tracks": tracks,
            "conditions": dict(race.conditions_given)}


def record_step(race, **extra) -> None:
    """Append this step of every kart to the telemetry recorder (if recording); ``extra``
    holds the recorder's extra columns (a race's positions and gaps)."""
    if race.recorder is None:
        return
    st = race.state
    race.recorder.append(
        env=np.arange(race.n), episode=race.episode, step=race.steps,
        time_s=race.time_s, lap=race.laps + race.lap_timed,
        sector=race.sector + 1, distance_m=race.s, x_m=st.x, y_m=st.y,
        heading_rad=st.yaw, speed_kmh=st.speed * 3.6,
        steering=st.steer / race.params.max_steer_rad, throttle=st.throttle,
        brake=st.brake, lat_g=st.ay / G, long_g=st.ax / G,
        dist_to_line_m=race.lateral - race.ts.racing_offset[race.gidx],
        # as the telemetry vector holds it: x 10, clipped to +-5, float32
        curvature=np.clip(race.curvature_ahead() * 10.0, -5, 5).astype(np.float32) / 10.0,
        checkpoint=race.next_gate,
        off_track=race.off_track, reward=race.reward,
        lap_time_s=race.time_s - race.lap_start, lap_valid=race.lap_valid,
        surface=race.surface, **extra, **condition_columns(race))

def condition_columns(race) -> dict:
    """The telemetry columns of the realism models (empty when they are off)."""
    if race.model is None or "grip" not in race.recorder.cols:
        return {}
    md = race.model
    return {"tyre_temp_front_c": md.temp[:, 0], "tyre_temp_rear_c": md.temp[:, 1],
            "tyre_wear_front": md.wear[:, 0], "tyre_wear_rear": md.wear[:, 1], "grip": md.grip_now,
            "wetness": md.water_here, "fuel_l": md.fuel}
