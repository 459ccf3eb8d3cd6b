"""Kart dynamics for a whole batch at once: struct of arrays, numpy only, no per-kart loops.

Model: dynamic bicycle (single-track) model in the body frame, integrated with semi-implicit
Euler at ``PHYSICS_HZ`` = 100 Hz (``SUBSTEPS`` = 5 substeps of every control step at
``CONTROL_HZ`` = 20 Hz); the surface under each axle is sampled once per control step:

* lateral tyre force per axle ``Fy = -mu * Fz * tanh(C * alpha)``: linear for small slip angles
  (cornering stiffness ``mu * Fz * C``), saturating at ``mu * Fz`` so a kart that asks for more
  than the grip slides; ``mu`` comes from the surface under each axle (asphalt, kerb, grass);
* rear-wheel drive: ``min(max drive force, engine power / speed)`` times throttle; brakes on the
  rear axle (a kart has no front brakes on most classes); the rear friction circle reduces the
  lateral force available while driving or braking hard;
* aerodynamic drag ``c_drag * v^2`` and rolling resistance (much higher on grass);
* below ~3 m/s the slip-angle model is blended into the kinematic bicycle model, where slip
  angles are ill-defined (the usual fix, e.g. Kong et al. 2015, "Kinematic and dynamic vehicle
  models for autonomous driving control design"). The front tyres' drag along the kart (their
  side force leaning back with the steering) fades out with it, from 3 m/s down to 1 m/s: at rest
  a turned wheel does not slip (physics version 2; before, it held a kart with its wheels turned
  on the grid under part throttle, and replays recorded then re-simulate with that model).

Figures (a 125 cc club kart with driver): 170 kg, top speed ~27 m/s (97 km/h), peak lateral
acceleration ~2 g on asphalt and ~0.6 g on grass. No reverse gear: negative throttle brakes to a stop.

Weather (a wet, drying track, rubber, track temperature), tyre temperature and wear, fuel mass and
the kart's setup (gearing, pressures, rear track) are :mod:`karting.sim.conditions`, whose docstring
has their equations and the sources of their constants; ``step(..., model=Conditions)`` applies
them, and without a model nothing here changes.
"""
from __future__ import annotations

import numpy as np

from .. import numerics as nm
from ..kart import G, KartParams

CONTROL_HZ = 20
SUBSTEPS = 5
PHYSICS_HZ = CONTROL_HZ * SUBSTEPS
#: changes that move trajectories on purpose; a replay records it and re-simulates the model it was
#: recorded with: 1 = before the front tyres' drag faded out at rest (KartParams.slip_drag_at_rest)
PHYSICS_VERSION = 2


def params_of(version: int) -> KartParams:
    """The default kart under physics ``version`` (what a replay recorded with it re-simulates);
    a change that bumps PHYSICS_VERSION adds its switch here."""
    return KartParams(slip_drag_at_rest=version < 2)


class KartState:
    """One float32 array of shape (N,) per quantity (struct of arrays)."""

    FIELDS = ("x", "y", "yaw", "vx", "vy", "yaw_rate", "steer", "throttle", "brake",
              "ax", "ay", "surface_front", "surface_rear")

    def __init__(self, n: int):
        self.n = n
        for f in self.FIELDS:
            setattr(self, f, np.zeros(n, np.float32))

    @property
    def speed(self) -> np.ndarray:
        """(N,) ground speed [m/s]."""
        return nm.hypot(self.vx, self.vy)

    def reset(self, mask: np.ndarray, x, y, yaw) -> None:
        """Place karts where ``mask`` is True at rest at the given poses (arrays of mask.sum())."""
        for f in self.FIELDS:
            getattr(self, f)[mask] = 0.0
        self.x[mask] = x
        self.y[mask] = y
        self.yaw[mask] = yaw


def step(state: KartState, steer_cmd: np.ndarray, throttle_cmd: np.ndarray, surface_at, params: KartParams,
         dt: float = 1.0 / CONTROL_HZ, substeps: int = SUBSTEPS, contact=None, drag_scale=None,
         grip_scale=None, model=None) -> None:
    """Advance all karts by one control step of ``dt`` seconds, in place.

    ``steer_cmd`` and ``throttle_cmd`` are (N,) arrays in [-1, 1] (negative throttle = brake);
    ``surface_at(x, y) -> (N,) uint8`` gives the surface code under world points;
    ``contact(state, h)``, if given, resolves contacts between karts after every substep of
    ``h`` seconds (see :mod:`karting.sim.contact`); ``drag_scale`` (N,), if given, scales each
    kart's aerodynamic drag (a kart in another's slipstream); ``grip_scale`` (N,), if given,
    scales each kart's friction coefficients on every surface (domain randomisation);
    ``model`` (a :class:`karting.sim.conditions.Conditions`), if given, adds weather, tyres, fuel
    and setup (without it, nothing here differs from the kart of the module docstring).
    """
    p = params
    f32 = np.float32
    h = f32(dt / substeps)
    mu_t, roll_t = p.mu_table, p.roll_table
    lf, lr, m = f32(p.cg_to_front_m), f32(p.cg_to_rear_m), f32(p.mass_kg)
    fz_f = m * f32(G) * lr / (lf + lr)
    fz_r = m * f32(G) * lf / (lf + lr)
    steer_target = np.clip(steer_cmd, -1, 1).astype(f32) * f32(p.max_steer_rad)
    thr_target = np.clip(throttle_cmd, 0, 1).astype(f32)
    brk_target = np.clip(-np.asarray(throttle_cmd, f32), 0, 1)
    max_dsteer = f32(p.steer_rate_radps) * h
    max_dpedal = f32(p.pedal_rate_per_s) * h
    c_drag = f32(p.drag_n_per_mps2) if drag_scale is None else f32(p.drag_n_per_mps2) * drag_scale.astype(f32)
    s = state
    # the surface under each axle is read once per control step (<= 1.35 m of travel at top
    # speed, under three pixels at the default scale): it is the costliest part of a substep
    c, sn = nm.cos_sin(s.yaw)
    sf = surface_at(s.x + lf * c, s.y + lf * sn)
    sr = surface_at(s.x - lr * c, s.y - lr * sn)
    s.surface_front, s.surface_rear = sf.astype(f32), sr.astype(f32)
    mu_f, mu_r = mu_t[sf], mu_t[sr]
    if grip_scale is not None:
        mu_f, mu_r = mu_f * grip_scale, mu_r * grip_scale
    roll = f32(0.5) * (roll_t[sf] + roll_t[sr])
    scrub = None
    if model is not None:
        mu_f, mu_r = model.before(sf, sr, mu_f, mu_r, s.speed)
        if model.mass is not None:
            m = model.mass
            fz_f = m * f32(G) * lr / (lf + lr)
            fz_r = m * f32(G) * lf / (lf + lr)
        scrub = model.scrub
    for _ in range(substeps):
        s.steer += np.clip(steer_target - s.steer, -max_dsteer, max_dsteer)
        s.throttle += np.clip(thr_target - s.throttle, -max_dpedal, max_dpedal)
        s.brake += np.clip(brk_target - s.brake, -max_dpedal, max_dpedal)

        vx_s = np.maximum(s.vx, f32(1.0))
        alpha_f = nm.arctan2(s.vy + lf * s.yaw_rate, vx_s) - s.steer
        alpha_r = nm.arctan2(s.vy - lr * s.yaw_rate, vx_s)
        fy_f = -mu_f * fz_f * nm.tanh(f32(p.tyre_shape_front) * alpha_f)
        if model is None:
            drive = s.throttle * np.minimum(f32(p.max_drive_force_n),
                                            f32(p.engine_power_w) / np.maximum(s.vx, f32(1.0)))
        else:
            drive = s.throttle * model.drive_force(s.vx, p.max_drive_force_n, p.engine_power_w)
        fx_r = drive - s.brake * f32(p.max_brake_force_n) * (s.vx > 0.01)
        # rolling backwards (only ever after a knock from another kart): brakes and rolling
        # resistance act forwards; zero for every kart moving forwards, so those are unchanged
        back = s.vx < -0.01
        fx_r = fx_r + s.brake * f32(p.max_brake_force_n) * back
        grip_r = mu_r * fz_r
        fx_r = np.clip(fx_r, -grip_r, grip_r)
        circle = np.sqrt(np.maximum(f32(1.0) - (fx_r / grip_r) ** 2, f32(0.0)))
        fy_r = -grip_r * nm.tanh(f32(p.tyre_shape_rear) * alpha_r) * circle
        resist = c_drag * s.vx * np.abs(s.vx) + roll * m * f32(G) * (s.vx > 0.01)
        resist = resist - roll * m * f32(G) * back
        if scrub is not None:
            resist = resist + scrub * m * np.abs(s.ay) * (s.vx > 0.01)
        if model is not None:
            model.accumulate(fy_f, fy_r, fx_r, grip_r, alpha_f, alpha_r, s.vx, drive, h)

        cos_d, sin_d = nm.cos_sin(s.steer)
        # the front tyres' drag along the kart (their side force leaning back with the steering)
        # fades out below kinematic_below_mps as the slip model does: at rest the slip angle is the
        # steering angle itself, and its full side force held a kart with its wheels turned at a
        # standstill under part throttle (0 m/s after 5 s at steer 0.6, throttle 0.15)
        w_slip = f32(1.0) if p.slip_drag_at_rest else \
            np.clip((s.vx - f32(1.0)) / f32(p.kinematic_below_mps - 1.0), 0, 1)
        ax = (fx_r - w_slip * fy_f * sin_d - resist) / m   # acceleration felt by the driver
        ay = (fy_r + fy_f * cos_d) / m
        yaw_acc = (lf * fy_f * cos_d - lr * fy_r) / f32(p.yaw_inertia_kgm2)

        vx_new = s.vx + h * (ax + s.vy * s.yaw_rate)
        vy_new = s.vy + h * (ay - s.vx * s.yaw_rate)
        r_new = s.yaw_rate + h * yaw_acc
        # brakes and resistance stop the kart, they never push it backwards
        vx_new = np.where((s.vx >= 0) & (vx_new < 0), f32(0.0), vx_new)
        vx_new = np.where(back & (vx_new > 0) & (drive <= 0), f32(0.0), vx_new)
        # low speed: blend towards the kinematic bicycle model
        w = np.clip((vx_new - f32(1.0)) / f32(p.kinematic_below_mps - 1.0), 0, 1)
        r_kin = vx_new * nm.tan(s.steer) / (lf + lr)
        s.yaw_rate = w * r_new + (1 - w) * r_kin
        s.vy = w * vy_new + (1 - w) * (r_kin * lr)
        s.vx = vx_new
        s.ax, s.ay = ax, ay

        s.yaw += h * s.yaw_rate
        c, sn = nm.cos_sin(s.yaw)
        s.x += h * (s.vx * c - s.vy * sn)
        s.y += h * (s.vx * sn + s.vy * c)
        if contact is not None:
            contact(s, h)
    s.yaw = np.mod(s.yaw + np.float32(np.pi), np.float32(2 * np.pi)) - np.float32(np.pi)
    if model is not None:
        model.after(s.speed, dt)


__all__ = ["KartParams", "KartState", "step", "CONTROL_HZ", "SUBSTEPS", "PHYSICS_HZ", "PHYSICS_VERSION", "params_of"]
