"""The kart: the parameters of a 125 cc club kart with its driver (:class:`KartParams`) and
g. Both the simulation (:mod:`karting.sim.physics`) and the racing line's lap-time model
(:mod:`karting.track.raceline`) depend on them, so they live below both."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

G = 9.81                        # [m/s^2]


@dataclass(frozen=True)
class KartParams:
    """A 125 cc club kart with its driver: mass, geometry, engine, brakes, tyres, surfaces."""
    mass_kg: float = 170.0
    yaw_inertia_kgm2: float = 32.0
    cg_to_front_m: float = 0.58          # kart weight is ~43 % front, 57 % rear
    cg_to_rear_m: float = 0.47
    max_steer_rad: float = 0.40          # road-wheel angle at full lock
    steer_rate_radps: float = 3.0        # full lock to full lock in ~0.27 s
    pedal_rate_per_s: float = 10.0       # throttle / brake reach full travel in 0.1 s
    engine_power_w: float = 9_000.0
    max_drive_force_n: float = 1_500.0   # traction-limited launch, ~0.9 g
    max_brake_force_n: float = 2_400.0   # ~1.45 g on asphalt (rear brake, grip-limited)
    drag_n_per_mps2: float = 0.42        # 0.5 * rho * Cd * A with Cd*A ~ 0.7 m^2
    # C in tanh(C * alpha). The rear is stiffer than the front: with cornering stiffness
    # proportional to axle load the model would be exactly neutral-steer and spin under power;
    # karts understeer (solid rear axle), so the understeer gradient is made positive here.
    tyre_shape_front: float = 7.0
    tyre_shape_rear: float = 10.0
    mu_grass: float = 0.6
    mu_asphalt: float = 2.0
    mu_kerb: float = 1.6
    roll_grass: float = 0.12             # rolling resistance coefficients
    roll_asphalt: float = 0.015
    roll_kerb: float = 0.03
    kinematic_below_mps: float = 3.0
    # the tyre model before karting's physics version 2 (PHYSICS_VERSION in karting.sim.physics): the
    # front tyres' side force dragged at full strength at rest, so a kart with its wheels turned
    # could not pull away under part throttle. Only replays recorded before the fix set it.
    slip_drag_at_rest: bool = False

    @property
    def wheelbase_m(self) -> float:
        """Front to rear axle [m]."""
        return self.cg_to_front_m + self.cg_to_rear_m

    @functools.cached_property
    def mu_table(self) -> np.ndarray:
        """Indexed by surface code: grass, asphalt, kerb, barrier zone (grass behind the wall)."""
        return np.array([self.mu_grass, self.mu_asphalt, self.mu_kerb, self.mu_grass], np.float32)

    @functools.cached_property
    def roll_table(self) -> np.ndarray:
        """Rolling resistance coefficients indexed by surface code (as mu_table)."""
        return np.array([self.roll_grass, self.roll_asphalt, self.roll_kerb, self.roll_grass],
                        np.float32)
