"""The observation and action contract, in one place: view size, telemetry names and bounds,
the Gymnasium spaces, and action checking."""
from __future__ import annotations

import numpy as np
from gymnasium import spaces

VIEW = 84                      # first-person image side [px]
TELEMETRY_NAMES = ("speed", "steering", "throttle", "brake", "lat_g", "long_g",
                   "dist_to_line", "curvature", "checkpoint_angle")
TELEMETRY_LOW = np.array([0, -1, 0, 0, -2, -2, -5, -5, -1], np.float32)
TELEMETRY_HIGH = np.array([2, 1, 1, 1, 2, 2, 5, 5, 1], np.float32)
TELEMETRY_SIZE = len(TELEMETRY_NAMES)
#: what each telemetry entry is, before the bounds clip it
TELEMETRY_MEANING = ("ground speed / 30 m/s", "actual steering angle / full lock (+ left)",
                     "actual throttle pedal", "actual brake pedal", "lateral acceleration / 3 g (+ left)",
                     "longitudinal acceleration / 3 g", "signed distance to the racing line / 10 m (+ left)",
                     "centre-line curvature 5-30 m ahead x 10 m (+ left turn)",
                     "bearing of the next checkpoint / pi (+ left)")
#: the track preview appended with ``preview`` (GT Sophy's "course points"): the left and right
#: edges of the track at these distances ahead along the centre line, each as (forward, left) in
#: the kart's frame / PREVIEW_SCALE_M, so 4 values a distance
PREVIEW_M = (4.0, 8.0, 12.0, 16.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0)
PREVIEW_SCALE_M = 50.0
PREVIEW_SIZE = 4 * len(PREVIEW_M)
PREVIEW_BOUND = 3.0            # |value| <= 3 (150 m)
PREVIEW_MEANING = ("the track ahead: at each of " + ", ".join(f"{d:g}" for d in PREVIEW_M) + " m along the "
                   f"centre line, the left edge (forward, left) then the right edge (forward, left), in the "
                   f"kart's frame / {PREVIEW_SCALE_M:g} m")
#: the race vector appended with ``race_obs``: (name, meaning, low, high)
RACE_OBS = (("position", "position / karts in the race", 0, 1), ("gap_ahead", "gap to the kart ahead / 10 s", 0, 3),
            ("gap_behind", "gap to the kart behind / 10 s", 0, 3))

#: ``info`` keys: (key, when, per-kart type, meaning). "always": every env; "conditions": with
#: weather, tyres, setup or fuel (tyres and fuel only when modelled); "race": in a race; "single":
#: the single-kart env (Karting-v0) only; "same_step": the vector env's same-step autoreset.
#: tests/test_env.py checks these against what the envs return.
INFO_KEYS = (
    ("lap", "always", "int32", "laps completed"),
    ("lap_time", "always", "float64 [s]", "last completed lap (0 if none)"),
    ("best_lap_time", "always", "float64 [s]", "best valid lap (0 if none)"),
    ("lap_valid", "always", "bool", "the last completed lap had no cut and no missed checkpoint"),
    ("sector_times", "always", "float64 (3,) [s]", "last time for each sector (0 if none)"),
    ("checkpoint", "always", "int32", "index of the next checkpoint gate"),
    ("progress", "always", "float64 [m]", "metres along the track since the start, unwrapped"),
    ("off_track", "always", "bool", "the kart's centre is off the asphalt and kerbs"),
    ("speed_kmh", "always", "float32 [km/h]", "ground speed"),
    ("grip", "conditions", "float32", "grip factor under the kart (1 = dry, today's rubber)"),
    ("wetness", "conditions", "float32", "water under the kart (0 dry .. 1 soaked)"),
    ("tyre_temp_c", "tyres", "float32 (2,) [deg C]", "tyre temperature, front and rear"),
    ("tyre_wear", "tyres", "float32 (2,)", "tyre wear, front and rear (0 new .. 1 corded)"),
    ("fuel_l", "fuel", "float32 [L]", "fuel left"),
    ("position", "race", "int32", "position in the race (1 = leading)"),
    ("gap_leader_s", "race", "float64 [s]", "time gap to the leader"),
    ("gap_ahead_s", "race", "float64 [s]", "time gap to the kart ahead"),
    ("gap_behind_s", "race", "float64 [s]", "time gap to the kart behind"),
    ("collisions", "race", "int32", "collisions the kart was in"),
    ("caused", "race", "int32", "collisions it caused (larger approach speed by 1 m/s)"),
    ("overtakes", "race", "int32", "passes held for 1 s"),
    ("overtaken", "race", "int32", "times another kart's pass on it held for 1 s"),
    ("track_limits", "race", "int32", "track-limits excursions (warnings and penalised ones)"),
    ("penalty_s", "race", "float64 [s]", "time penalties so far"),
    ("contact", "race", "bool", "touching another kart this step"),
    ("race_status", "race", "int8", "0 running, 1 finished, 2 flagged, 3 retired"),
    ("race_laps", "race", "int32", "race laps completed"),
    ("sector", "single", "int", "sector being driven: 1, 2 or 3"),
    ("results", "single", "list of dict", "at the end of a race: the classification (position, driver, "
     "laps, total_time_s, best_lap_s, gap, penalties, collisions, ...)"),
    ("final_obs", "same_step", "dict of arrays", "the observation that ended an episode (mask _final_obs)"),
    ("final_info", "same_step", "dict", "the info of that step (mask _final_info)"),
)


def telemetry_size(telemetry_history: int = 1, preview: bool = False) -> int:
    """Width of the telemetry vector: 9 x history, plus the preview's 48 values with ``preview``."""
    return TELEMETRY_SIZE * telemetry_history + (PREVIEW_SIZE if preview else 0)


def observation_space(frame_stack: int = 1, telemetry_history: int = 1, preview: bool = False) -> spaces.Dict:
    """``{"vision": (84, 84, 3 * frame_stack) uint8, "telemetry": (9 * history [+ 48],) float32}``
    (the track preview appended with ``preview``)."""
    low, high = np.tile(TELEMETRY_LOW, telemetry_history), np.tile(TELEMETRY_HIGH, telemetry_history)
    if preview:
        low = np.concatenate([low, np.full(PREVIEW_SIZE, -PREVIEW_BOUND, np.float32)])
        high = np.concatenate([high, np.full(PREVIEW_SIZE, PREVIEW_BOUND, np.float32)])
    return spaces.Dict({
        "vision": spaces.Box(0, 255, (VIEW, VIEW, 3 * frame_stack), np.uint8),
        "telemetry": spaces.Box(low, high, dtype=np.float32),
    })


def race_observation_space(frame_stack: int = 1, telemetry_history: int = 1, race_obs: bool = False,
                           preview: bool = False) -> spaces.Dict:
    """The observation space, with the race vector (position / karts, gap ahead / 10 s, gap
    behind / 10 s) appended to the telemetry when ``race_obs`` (after the preview, if any)."""
    sp = observation_space(frame_stack, telemetry_history, preview)
    if not race_obs:
        return sp
    t = sp["telemetry"]
    low = np.concatenate([t.low, np.zeros(3, np.float32)])
    high = np.concatenate([t.high, np.array([1, 3, 3], np.float32)])
    return spaces.Dict({"vision": sp["vision"], "telemetry": spaces.Box(low, high, dtype=np.float32)})


ACTION_SPACE = spaces.Box(-1.0, 1.0, (2,), np.float32)


def check_actions(actions, n: int) -> np.ndarray:
    """(n, 2) float32 actions clipped to [-1, 1]; a wrong shape or NaN/inf is a ValueError
    naming the kart and the control."""
    a = np.asarray(actions, dtype=np.float32)
    if a.shape != (n, 2) and not (n == 1 and a.shape == (2,)):
        raise ValueError(f"action must have shape ({n}, 2) [steering, throttle]"
                         f"{' or (2,)' if n == 1 else ''}, got shape {a.shape}")
    a = a.reshape(n, 2)
    if not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"action contains NaN or inf (kart {bad[0]}, "
                         f"{'steering' if bad[1] == 0 else 'throttle'}); check the policy output")
    return np.clip(a, -1.0, 1.0)
