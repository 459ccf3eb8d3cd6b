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


def observation_space(frame_stack: int = 1, telemetry_history: int = 1) -> spaces.Dict:
    """``{"vision": (84, 84, 3 * frame_stack) uint8, "telemetry": (9 * history,) float32}``."""
    return spaces.Dict({
        "vision": spaces.Box(0, 255, (VIEW, VIEW, 3 * frame_stack), np.uint8),
        "telemetry": spaces.Box(np.tile(TELEMETRY_LOW, telemetry_history),
                                np.tile(TELEMETRY_HIGH, telemetry_history), dtype=np.float32),
    })


def race_observation_space(frame_stack: int = 1, telemetry_history: int = 1, race_obs: bool = False) -> spaces.Dict:
    """The observation space, with the race vector (position / karts, gap ahead / 10 s, gap
    behind / 10 s) appended to the telemetry when ``race_obs``."""
    sp = observation_space(frame_stack, telemetry_history)
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
