"""A privileged scripted driver: pure pursuit on the racing line with a grip-limited speed profile.

It reads the simulator's state (not the pixels), so it is a reference, not an RL agent. Works on
a whole batch at once. Speed profile: ``v = sqrt(mu_use * g / |kappa|)`` along the racing line,
capped at top speed, then a backward pass so that every corner is reached at its speed with
``brake_g`` of braking (the standard quasi-steady-state lap-time approach).
"""
from __future__ import annotations

import numpy as np

from .physics import G, KartParams
from .track import Track


def speed_profile(track: Track, mu_use=1.5, brake_g=1.1, v_max=27.0):
    k = np.abs(track.racing_curvature)
    # smooth the curvature a little: single-sample spikes are discretisation, not corners
    k = np.convolve(np.concatenate([k[-3:], k, k[:3]]), np.ones(7) / 7, mode="valid")
    v = np.minimum(np.sqrt(mu_use * G / np.maximum(k, 1e-6)), v_max)
    ds = np.linalg.norm(np.roll(track.racing_line, -1, 0) - track.racing_line, axis=1)
    for _ in range(2):  # two laps backwards settle the wrap-around
        for i in range(len(v) - 1, -1, -1):
            j = (i + 1) % len(v)
            v[i] = min(v[i], np.sqrt(v[j] ** 2 + 2 * brake_g * G * ds[i]))
    return v


class PurePursuit:
    """``act(state, idx) -> (N, 2)`` actions for karts whose nearest centre-line index is ``idx``."""

    def __init__(self, track: Track, params: KartParams = KartParams(), mu_use=1.3, brake_g=1.1,
                 lookahead_s=0.25, lookahead_min_m=2.5, speed_gain=0.8, line_weight=0.8,
                 latency_s=0.1):
        self.track, self.params = track, params
        self.v_target = speed_profile(track, mu_use, brake_g)
        # follow a line between the racing line and the centre: margin for tracking errors
        self.line = track.centre + track.normal * (line_weight * track.racing_offset)[:, None]
        self.latency_s = latency_s
        self.lookahead_s, self.lookahead_min_m, self.speed_gain = lookahead_s, lookahead_min_m, speed_gain

    def act(self, state, idx):
        tr, p = self.track, self.params
        v = state.speed
        look = np.round((self.lookahead_min_m + self.lookahead_s * v) / tr.spacing).astype(np.int64)
        tgt = self.line[(idx + look) % len(tr.centre)]
        c, s = np.cos(state.yaw), np.sin(state.yaw)
        # steer from where the kart will be when the command takes effect
        px = state.x + self.latency_s * (state.vx * c - state.vy * s)
        py = state.y + self.latency_s * (state.vx * s + state.vy * c)
        dx, dy = tgt[:, 0] - px, tgt[:, 1] - py
        fwd, left = dx * c + dy * s, -dx * s + dy * c
        ld2 = np.maximum(fwd ** 2 + left ** 2, 1e-6)
        delta = np.arctan(2.0 * p.wheelbase_m * left / ld2)
        steer = np.clip(delta / p.max_steer_rad, -1, 1)
        # aim for the speed a little ahead, so braking starts in time
        ahead = (idx + np.round((0.5 * v) / tr.spacing).astype(np.int64)) % len(tr.centre)
        err = self.v_target[ahead] - v
        throttle = np.clip(self.speed_gain * err, -1, 1)
        return np.stack([steer, throttle], 1).astype(np.float32)
