"""Realism beyond today's kart: tyre temperature and wear, a wet track that dries along the line,
rubber and track temperature, fuel, and the kart's setup (numpy only, struct of arrays).

Everything here is off by default: a :class:`karting.sim.karts.Karts` without ``conditions`` never
builds a :class:`Conditions`, and :func:`karting.sim.physics.step` then runs exactly as before
(the golden trajectories hold). Each part switches on with its own argument, and with its
neutral value it multiplies by exactly 1.0:

* ``setup`` (:class:`KartSetup`): gearing, tyre pressures, rear track width;
* ``weather`` (:class:`Weather`): water on the track, rubber on the line, track temperature;
* ``tyres`` (:class:`TyreState`): per-axle temperature and wear, evolving every step;
* ``fuel`` (litres at the start): the kart's mass falls as the engine burns it.

Models (one control step ``dt`` = 0.05 s; per kart; "axle" = front or rear pair of tyres)
-----------------------------------------------------------------------------------------
Friction used by the tyre model (``mu`` of :mod:`karting.sim.physics`) per axle::

    mu = mu_surface * wet(surface, w) * line(w) * temp(T) * wear(W) * patch(p) * aqua(v, p, w) * balance

* **Wet track**, ``w`` = local water in [0, 1]: ``wet = 1 - (1 - r_s) * w`` with the wet/dry
  ratio ``r_s`` = 0.60 on asphalt, 0.35 on kerbs and painted lines, 0.60 on grass (which is
  already the worst surface: wet grass 0.36). Source: tyre-road friction tables give wet
  asphalt 0.4-0.5 against 0.7-0.8 dry (ratio 0.53-0.71; e.g. Noon 1994, "Engineering Analysis
  of Vehicular Accidents"); kerbs and paint are smooth and lose most of their grip when wet
  (every karting wet-driving guide warns off them), hence the lower ratio.
* **Drying line**: the track is cut into ``CELL_M`` = 5 m cells along the centre line; each
  cell keeps the fraction of its water left on the line. A kart within ``LINE_HALF_M`` of the
  racing line removes ``DRY_PER_PASS`` = 1 % of a cell's line water per pass (pro rata of the
  metres it drives through the cell), and off the line the water stays (``w = rain`` beyond
  ``LINE_HALF_M`` + 1 m, blended in between). The rain has stopped: ``rain`` is the water at
  the start.
* **Rubber** on the line, ``u`` in [0, 1] (0.5 = a raced-in track, today's grip): dry grip
  ``line = 1 + 0.04 (u - 0.5)``; in the wet rubber and water make the line *slicker*
  (``line = 1 - 0.10 u w``, the "shiny line" of the wet karting guides, e.g. kartclass.com,
  "How to drive in the wet weather"); each pass lays ``RUBBER_PER_PASS`` on a dry line.
* **Tyre temperature** ``T`` per axle [deg C], lumped: ``dT/dt = a * (p / 0.75) * P_slip -
  b (1 + v / 10) (T - T_env)`` with ``P_slip`` the axle's slip power [W] (lateral force times
  lateral slip speed, plus the rear's longitudinal force times its slip speed), ``T_env`` =
  track temperature minus 10 K times the water, and ``b`` tripled on a wet track (water cools).
  Higher pressure heats the tyre faster (smaller patch, more work per unit of rubber: the
  karting rule of thumb "more pressure, more heat"). ``a`` and ``b`` are calibrated so that new
  tyres on circuit.png warm from 25 to ~50 deg C within the first lap and run at 50-60 deg C.
  ``temp = 1 - 0.10 min(1, ((T - 55) / 25)^2)``: grip peaks in a window around 55 deg C and
  cold tyres (25 deg C) give 10 % less. On a wet track the kart runs rain tyres, whose softer
  compound works lower: the window's centre is ``55 - 30 rain`` deg C.
* **Wear** ``W`` per axle in [0, 1] (1 = corded): ``dW/dt = P_slip / E_LIFE_J`` and ``wear =
  1 - 0.15 W``; ``E_LIFE_J`` is calibrated so that a 20-lap stint on circuit.png wears a new
  tyre by ~0.1, 1.5 % of grip (kart tyres lose a few tenths of a second over a race; a "used"
  set, W = 0.3, has lost 4.5 %).
* **Pressure** ``p`` [bar, cold]: contact patch ``patch = 1 - 0.5 (p - 0.75)^2`` (0.75 bar is
  the dry optimum; +0.3 bar costs 4.5 %); aquaplaning in standing water ``aqua = 1 - 0.3 w^2
  clip((v - v_a) / v_a, 0, 1)`` with ``v_a = 17.6 sqrt(p)`` m/s (the classic ``9 sqrt(psi)``
  knots rule; higher pressure aquaplanes later, why karters raise pressures in the rain).
* **Rear track width** ``t_r`` [m]: a narrower rear track gives more rear grip and a wider one
  less ("a narrow rear end increases rear grip", kartingmagazine.com tech talk, chassis set-up):
  ``balance_rear = 1 + 0.3 (1.40 - t_r)``; the grip costs scrub, ``F = 0.5 (balance_rear - 1) m
  |a_y|`` of extra resistance in corners (negative: a wider track frees the kart).
* **Gearing** ``r = sprocket / 80`` (11-tooth engine sprocket): the wheel force ``min(F_max r,
  P / v)`` (more pull at low speed with a bigger rear sprocket) times a rev limiter that cuts
  the drive from ``27.5 / r`` m/s to zero at ``28.5 / r`` m/s (the default kart reaches 27.05 m/s
  flat out, so at r = 1 the limiter only acts in a slipstream).
* **Fuel**: ``KartParams.mass_kg`` (170 kg) is the kart with ``FUEL_REF_L`` = 3 L aboard; with
  ``fuel`` the mass is ``170 + 0.74 (fuel - 3)`` kg, and the engine burns ``BSFC`` = 400 g/kWh
  of its output (wheel power / 0.9): ~1.1 g/s flat out. An empty tank stops the drive.

The constants marked "calibrated" were fitted with ``scripts/calibrate_conditions.py`` against
the expert on circuit.png; docs/guide/conditions.md has the figures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

# ------------------------------------------------------------------------- constants
WET_RATIO = np.array([0.60, 0.70, 0.35, 0.60], np.float32)   # grass, asphalt, kerb, barrier
CELL_M = 5.0
LINE_HALF_M = 0.75
DRY_PER_PASS = 0.01
RUBBER_PER_PASS = 0.002
RUBBER_DRY_GAIN = 0.04
RUBBER_WET_LOSS = 0.10
T_OPT_C = 55.0
T_WINDOW_C = 25.0
COLD_LOSS = 0.10
RAIN_TYRE_SHIFT_C = 30.0
HEAT_K_PER_J = 8.8e-4          # a (calibrated)
COOL_PER_S = 0.010             # b (calibrated)
WET_COOL_FACTOR = 3.0
E_LIFE_J = 1.25e7               # energy through one axle's tyres that wears them out (calibrated)
WEAR_LOSS = 0.15
P_OPT_BAR = 0.75
PATCH_LOSS_PER_BAR2 = 0.5
AQUA_LOSS = 0.3
REAR_TRACK_M = 1.40
BALANCE_PER_M = 0.3
SCRUB_K = 0.5
SPROCKET_REF = 80
LIMIT_CUT_MPS, LIMIT_ZERO_MPS = 27.5, 28.5
FUEL_REF_L = 3.0
FUEL_KG_PER_L = 0.74
BSFC_KG_PER_J = 0.400 / 3.6e6
DRIVELINE_EFF = 0.9


def _check_range(what: str, name: str, value, lo, hi, unit: str = ""):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what}[{name!r}] must be a number in [{lo:g}, {hi:g}]{unit}, got {value!r}") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ValueError(f"{what}[{name!r}] = {value!r} is outside its physical range [{lo:g}, {hi:g}]{unit}")
    return v


class _Spec:
    """Shared parsing: a frozen dataclass whose fields each have a (low, high, unit) range."""
    RANGES: dict = {}
    PRESETS: dict = {}
    WHAT = ""

    @classmethod
    def parse(cls, spec):
        """An instance from None (None), an instance, a preset name, or a dict of fields; bad
        keys or values raise ValueError naming the argument and the allowed range."""
        if spec is None or isinstance(spec, cls):
            return spec
        if isinstance(spec, str):
            if spec not in cls.PRESETS:
                raise ValueError(f"unknown {cls.WHAT} {spec!r}; known: {', '.join(cls.PRESETS)} "
                                 f"(or a dict of {', '.join(cls.RANGES)})")
            return cls(**cls.PRESETS[spec])
        if not isinstance(spec, dict):
            return cls._parse_other(spec)
        unknown = sorted(set(spec) - set(cls.RANGES))
        if unknown:
            raise ValueError(f"{cls.WHAT}: unknown key(s) {', '.join(map(repr, unknown))}; known: "
                             + ", ".join(f"{k} [{lo:g}, {hi:g}]{u}" for k, (lo, hi, u) in cls.RANGES.items()))
        return cls(**spec)

    @classmethod
    def _parse_other(cls, spec):
        raise ValueError(f"{cls.WHAT} must be a name ({', '.join(cls.PRESETS)}), a dict or None, got {spec!r}")

    def __post_init__(self):
        for f in fields(self):
            lo, hi, unit = self.RANGES[f.name]
            v = _check_range(self.WHAT, f.name, getattr(self, f.name), lo, hi, unit)
            object.__setattr__(self, f.name, int(round(v)) if isinstance(f.default, int) else v)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class KartSetup(_Spec):
    """The kart's setup; the defaults are today's kart (every factor exactly 1). Front toe and
    caster are not modelled: the single-track model has no per-wheel geometry to carry them."""
    sprocket: int = SPROCKET_REF            # rear sprocket teeth (11-tooth engine sprocket)
    pressure_front_bar: float = P_OPT_BAR   # cold tyre pressures
    pressure_rear_bar: float = P_OPT_BAR
    rear_track_m: float = REAR_TRACK_M      # rear track width

    RANGES = {"sprocket": (70, 92, " teeth"), "pressure_front_bar": (0.4, 1.6, " bar"),
              "pressure_rear_bar": (0.4, 1.6, " bar"), "rear_track_m": (1.30, 1.44, " m")}
    PRESETS = {"default": {}}
    WHAT = "setup"

    @property
    def gear(self) -> float:
        """Final drive relative to the default sprocket."""
        return self.sprocket / SPROCKET_REF


@dataclass(frozen=True)
class Weather(_Spec):
    """Track conditions: ``rain`` (water on the track at the start, 0 dry .. 1 soaked; the rain
    has stopped and the line dries), ``rubber`` on the line (0 green .. 1; 0.5 = today's grip)
    and the track temperature."""
    rain: float = 0.0
    rubber: float = 0.5
    track_temp_c: float = 25.0

    RANGES = {"rain": (0.0, 1.0, ""), "rubber": (0.0, 1.0, ""), "track_temp_c": (-5.0, 60.0, " deg C")}
    PRESETS = {"dry": {}, "damp": {"rain": 0.4}, "wet": {"rain": 1.0}, "green": {"rubber": 0.0},
               "hot": {"track_temp_c": 45.0}, "cold": {"track_temp_c": 8.0}}
    WHAT = "weather"

    @classmethod
    def _parse_other(cls, spec):
        if isinstance(spec, (int, float)) and not isinstance(spec, bool):
            return cls(rain=spec)
        return super()._parse_other(spec)


@dataclass(frozen=True)
class TyreState(_Spec):
    """Tyres at the start: ``wear`` (0 new .. 1 corded) and temperature (``temp_c``; -1 = the
    track's temperature, i.e. cold out of the tyre warmers-free paddock)."""
    wear: float = 0.0
    temp_c: float = -1.0

    RANGES = {"wear": (0.0, 1.0, ""), "temp_c": (-1.0, 90.0, " deg C (-1: the track's)")}
    PRESETS = {"new": {}, "warm": {"temp_c": T_OPT_C}, "scrubbed": {"wear": 0.05, "temp_c": T_OPT_C},
               "used": {"wear": 0.3}, "worn": {"wear": 0.7}}
    WHAT = "tyres"


def weather_list(spec: str | None) -> list:
    """A comma list of conditions (``dry``, a preset such as ``damp`` or ``wet``, or a rain level
    0-1: ``--weather`` of the benchmark, ``--eval-weather`` of training) as [(label, weather or
    None for dry)]; each checked."""
    out = []
    for item in [w.strip() for w in str(spec or "dry").split(",") if w.strip()] or ["dry"]:
        try:
            value = float(item)
        except ValueError:
            value = item
        if value in ("dry", 0.0):
            out.append(("dry", None))
            continue
        weather = value if isinstance(value, str) else {"rain": value}
        Weather.parse(weather)                 # a clear error if it is not one
        out.append((item, weather))
    if len({label for label, _ in out}) < len(out):
        raise ValueError(f"--weather names a condition twice: {spec}")
    return out


def parse_fuel(fuel) -> float | None:
    """Fuel at the start [litres] (None: not modelled). A kart tank holds 8-9 L."""
    if fuel is None:
        return None
    try:
        v = float(fuel)
    except (TypeError, ValueError):
        v = float("nan")
    if not (math.isfinite(v) and 0.0 < v <= 9.0):
        raise ValueError(f"fuel = {fuel!r}: give the litres in the tank at the start, 0 < fuel <= 9 L "
                         "(a kart tank holds 8-9 L), or None")
    return v


def wet_asphalt(water: np.ndarray) -> np.ndarray:
    """Asphalt's grip factor under ``water`` (0 dry .. 1 soaked)."""
    return 1 - (1 - WET_RATIO[1]) * water


def feed_throttle(throttle: np.ndarray, grip: np.ndarray, vx: np.ndarray, params) -> np.ndarray:
    """A driver's throttle (< 0: brake) kept under 85 % of the rear tyres' grip ``grip`` (relative
    to the dry kart): beyond it the rear slides and the kart spins (the expert and the AI)."""
    p = params
    fz_r = p.mass_kg * 9.81 * p.cg_to_front_m / p.wheelbase_m
    room = 0.85 * p.mu_asphalt * np.asarray(grip, np.float64) * fz_r
    pull = np.minimum(p.max_drive_force_n, p.engine_power_w / np.maximum(vx, 1.0))
    return np.clip(throttle, -room / p.max_brake_force_n, room / pull)


def cli_conditions(weather=None, tyres=None, setup=None, fuel=None, tyres_with_weather: bool = False) -> dict:
    """The ``weather``/``tyres``/``setup``/``fuel`` keywords of a Karts or env from command-line
    strings (``--weather wet``, ``--weather 0.3``, ``--setup sprocket=82,rear_track_m=1.36``),
    checked now so that a bad value fails before anything runs (the values stay plain strings,
    numbers and dicts, as JSON holds them); ``tyres="off"`` models none, and
    ``tyres_with_weather`` gives new tyres when a weather is given without tyres (a stint)."""
    out = {}
    if weather is not None:
        try:
            out["weather"] = float(weather)
        except (TypeError, ValueError):
            out["weather"] = weather
        Weather.parse(out["weather"])
    if tyres is None and tyres_with_weather and out:
        tyres = "new"
    if tyres not in (None, "off"):
        TyreState.parse(tyres)
        out["tyres"] = tyres
    if setup is not None:
        items = {}
        for item in filter(None, (x.strip() for x in str(setup).split(","))):
            k, sep, v = item.partition("=")
            try:
                items[k.strip()] = float(v)
            except ValueError:
                raise ValueError(f"setup: cannot read {item!r}; give name=value items with numbers, "
                                 "e.g. sprocket=82,pressure_rear_bar=0.8") from None
            if not sep:
                raise ValueError(f"setup: cannot read {item!r}; give name=value items, e.g. sprocket=82")
        KartSetup.parse(items)
        out["setup"] = items
    if fuel is not None:
        out["fuel"] = parse_fuel(fuel)
    return out


class Conditions:
    """Per-kart state of the realism models for a batch of ``n`` karts on ``ts`` (a TrackSet),
    with ``road`` (N,) the road each kart dries and rubbers (karts sharing a road, as in a race,
    share its water and rubber; by default each kart has its own)."""

    #: what a keyframe of a replay keeps (karting.sim.keyframes)
    STATE_FIELDS = ("gear", "pressure", "rear_track", "rain", "track_temp", "temp", "wear", "fuel", "grip_now",
                    "water_here", "_slip", "_work", "line_water", "rubber", "cell", "on_line", "_has_wet")

    def __init__(self, ts, kart_track, n: int, params, setup=None, weather=None, tyres=None, fuel=None,
                 road=None):
        self.setup, self.weather = KartSetup.parse(setup), Weather.parse(weather)
        self.tyres, self.fuel0 = TyreState.parse(tyres), parse_fuel(fuel)
        self.n, self.params, self.kart_track = n, params, np.asarray(kart_track, np.int64)
        self.road = np.arange(n) if road is None else np.asarray(road, np.int64)
        f32 = np.float32
        s = self.setup or KartSetup()
        w = self.weather or Weather()
        self.gear = np.full(n, s.gear, f32)
        self.pressure = np.tile(np.array([s.pressure_front_bar, s.pressure_rear_bar], f32), (n, 1))
        self.rear_track = np.full(n, s.rear_track_m, f32)
        self.rain = np.full(n, w.rain, f32)            # per kart: domain randomisation may vary it
        self.track_temp = np.full(n, w.track_temp_c, f32)
        self.temp = np.zeros((n, 2), f32)
        self.wear = np.zeros((n, 2), f32)
        self.fuel = np.zeros(n, f32)
        self.grip_now = np.ones(n, f32)                # asphalt grip factor at the kart (info, expert)
        self.water_here = np.zeros(n, f32)
        self._slip = np.zeros((n, 2), f32)             # slip energy this step [J]
        self._work = np.zeros(n, f32)                  # drive work this step [J]
        # road cells
        roads = int(self.road.max()) + 1
        self.road_track = np.zeros(roads, np.int64)
        self.road_track[self.road] = self.kart_track
        self.retrack(ts)
        self.cell = np.zeros(n, np.int64)
        self.on_line = np.zeros(n, f32)                # 1 on the racing line .. 0 off it
        self._has_wet = self.weather is not None
        self.reset(np.ones(n, bool))

    def retrack(self, ts) -> None:
        """(Re)build the road cells for the tracks of ``ts`` (a track swapped in: its karts are
        reset before they drive on, and their roads with them)."""
        self.track_cells = np.maximum(1, np.round(ts.length / CELL_M)).astype(np.int64)   # per track
        self.cell_m = ts.length / self.track_cells
        mc = int(self.track_cells.max())
        rub = (self.weather or Weather()).rubber
        if getattr(self, "line_water", None) is None or self.line_water.shape[1] != mc:
            self.line_water = np.ones((len(self.road_track), mc), np.float32)   # water left on the line
            self.rubber = np.full((len(self.road_track), mc), rub, np.float32)
            self.cell = np.zeros(self.n, np.int64)

    # ------------------------------------------------------------ flags
    @property
    def wet(self) -> bool:
        """Water is modelled (a weather was given, or rain is randomised)."""
        return self._has_wet

    @property
    def mass(self) -> np.ndarray | None:
        """(N,) mass [kg] with the fuel aboard, or None when fuel is not modelled."""
        if self.fuel0 is None:
            return None
        return (np.float32(self.params.mass_kg)
                + np.float32(FUEL_KG_PER_L) * (self.fuel - np.float32(FUEL_REF_L))).astype(np.float32)

    def set_rain(self, mask: np.ndarray, rain: np.ndarray) -> None:
        """Water at the start for the karts in ``mask`` (domain randomisation); call before reset."""
        self.rain[mask] = rain
        self._has_wet = True
        self.water_here[mask] = rain
        self.grip_now[mask] = wet_asphalt(self.rain[mask])

    def set_setup(self, mask: np.ndarray, setup) -> None:
        """Give the karts in ``mask`` the setup ``setup`` (a KartSetup or dict)."""
        s = KartSetup.parse(setup) or KartSetup()
        if self.setup is None:
            self.setup = KartSetup()
        self.gear[mask] = s.gear
        self.pressure[mask] = (s.pressure_front_bar, s.pressure_rear_bar)
        self.rear_track[mask] = s.rear_track_m

    def set_setups(self, setups: list) -> None:
        """Kart i gets ``setups[i]`` (a KartSetup or dict each): a batch of setups at once."""
        ss = [KartSetup.parse(x) or KartSetup() for x in setups]
        if self.setup is None:
            self.setup = KartSetup()
        self.gear[:] = [s.gear for s in ss]
        self.pressure[:] = [(s.pressure_front_bar, s.pressure_rear_bar) for s in ss]
        self.rear_track[:] = [s.rear_track_m for s in ss]

    def reset(self, mask: np.ndarray) -> None:
        """Fresh tyres, tank and road for the karts in ``mask`` (and their roads)."""
        m = np.asarray(mask, bool)
        t0 = self.tyres or TyreState()
        self.temp[m] = self.track_temp[m, None] if t0.temp_c < 0 else t0.temp_c
        self.wear[m] = t0.wear
        self.fuel[m] = self.fuel0 or 0.0
        roads = np.unique(self.road[m])
        self.line_water[roads] = 1.0
        self.rubber[roads] = (self.weather or Weather()).rubber
        self._slip[m] = 0.0
        self._work[m] = 0.0
        if self._has_wet:
            self.water_here[m] = self.rain[m]
            self.grip_now[m] = wet_asphalt(self.rain[m])

    # ------------------------------------------------------------ per step
    def locate(self, s_m: np.ndarray, lateral: np.ndarray, racing_offset: np.ndarray) -> None:
        """Where each kart is: arc length ``s_m`` and its distance to the racing line."""
        t = self.kart_track
        self.cell = np.minimum((s_m / self.cell_m[t]).astype(np.int64), self.track_cells[t] - 1)
        d = np.abs(lateral - racing_offset).astype(np.float32)
        self.on_line = np.clip(np.float32(LINE_HALF_M + 1.0) - d, 0, 1).astype(np.float32)

    def before(self, sf: np.ndarray, sr: np.ndarray, mu_f: np.ndarray, mu_r: np.ndarray, speed: np.ndarray):
        """Per-axle friction of this control step (see the module docstring)."""
        f32 = np.float32
        on = self.on_line
        if self._has_wet:
            lw = self.line_water[self.road, self.cell]
            w = self.rain * (on * lw + (1 - on))
            wet_f = 1 - (1 - WET_RATIO[sf]) * w
            wet_r = 1 - (1 - WET_RATIO[sr]) * w
            mu_f, mu_r = mu_f * wet_f, mu_r * wet_r
        else:
            w = np.zeros(self.n, f32)
        self.water_here = w.astype(f32)
        if self.weather is not None:
            rub = self.rubber[self.road, self.cell]
            line = 1 + on * (f32(RUBBER_DRY_GAIN) * (rub - f32(0.5)) * (1 - w) - f32(RUBBER_WET_LOSS) * rub * w)
            asph_f, asph_r = sf == 1, sr == 1
            mu_f = np.where(asph_f, mu_f * line, mu_f)
            mu_r = np.where(asph_r, mu_r * line, mu_r)
        axle = np.ones((self.n, 2), f32)
        if self.tyres is not None:
            t_opt = f32(T_OPT_C) - f32(RAIN_TYRE_SHIFT_C) * self.rain
            dt_ = (self.temp - t_opt[:, None]) / f32(T_WINDOW_C)
            axle *= 1 - f32(COLD_LOSS) * np.minimum(f32(1), dt_ * dt_)
            axle *= 1 - f32(WEAR_LOSS) * self.wear
        if self.setup is not None:
            dp = self.pressure - f32(P_OPT_BAR)
            axle *= 1 - f32(PATCH_LOSS_PER_BAR2) * dp * dp
            axle[:, 1] *= 1 + f32(BALANCE_PER_M) * (f32(REAR_TRACK_M) - self.rear_track)
        if self._has_wet:
            va = f32(17.6) * np.sqrt(self.pressure)
            over = np.clip((speed[:, None] - va) / va, 0, 1)
            axle *= 1 - f32(AQUA_LOSS) * (w * w)[:, None] * over
        self.grip_now = (axle.min(axis=1) * wet_asphalt(w)).astype(f32)
        self._slip[:] = 0.0
        self._work[:] = 0.0
        return mu_f * axle[:, 0], mu_r * axle[:, 1]

    @property
    def scrub(self) -> np.ndarray | None:
        """(N,) scrub factor of the rear track width (resistance = scrub * m * |a_y|), or None."""
        if self.setup is None:
            return None
        return (np.float32(SCRUB_K * BALANCE_PER_M) * (np.float32(REAR_TRACK_M) - self.rear_track)).astype(np.float32)

    def drive_force(self, vx: np.ndarray, max_drive: float, power: float) -> np.ndarray:
        """(N,) wheel force at full throttle [N] with this gearing (and fuel) at speed ``vx``."""
        f32 = np.float32
        r = self.gear
        f = np.minimum(f32(max_drive) * r, f32(power) / np.maximum(vx, f32(1.0)))
        u = vx * r
        f = f * np.clip((f32(LIMIT_ZERO_MPS) - u) / f32(LIMIT_ZERO_MPS - LIMIT_CUT_MPS), 0, 1)
        if self.fuel0 is not None:
            f = f * (self.fuel > 0)
        return f

    def accumulate(self, fy_f, fy_r, fx_r, grip_r, alpha_f, alpha_r, vx, drive, h) -> None:
        """Slip energy per axle and drive work during one substep of ``h`` seconds."""
        v = np.abs(vx)
        ef = np.abs(fy_f) * v * np.abs(alpha_f)
        slip_long = np.float32(0.08) * np.abs(fx_r) / np.maximum(grip_r, np.float32(1.0))
        er = np.abs(fy_r) * v * np.abs(alpha_r) + np.abs(fx_r) * slip_long * v
        self._slip[:, 0] += ef * h
        self._slip[:, 1] += er * h
        self._work += np.maximum(drive, 0) * np.maximum(vx, 0) * h

    def after(self, speed: np.ndarray, dt: float) -> None:
        """Integrate temperature, wear, fuel and the road over the control step."""
        f32 = np.float32
        if self.tyres is not None:
            w = self.water_here
            env = self.track_temp - f32(10.0) * w
            cool = f32(COOL_PER_S) * (1 + speed / f32(10.0)) * (1 + f32(WET_COOL_FACTOR - 1) * np.minimum(w * 2, 1))
            heat = f32(HEAT_K_PER_J) * (self.pressure / f32(P_OPT_BAR)) * self._slip
            self.temp += heat - (cool * f32(dt))[:, None] * (self.temp - env[:, None])
            self.wear = np.minimum(self.wear + self._slip / f32(E_LIFE_J), f32(1.0))
        if self.fuel0 is not None:
            burn = self._work / f32(DRIVELINE_EFF) * f32(BSFC_KG_PER_J) / f32(FUEL_KG_PER_L)
            self.fuel = np.maximum(self.fuel - burn, f32(0.0))
        if self.weather is not None or self._has_wet:
            on = self.on_line
            frac = (speed * f32(dt) / self.cell_m[self.kart_track].astype(f32)) * on
            keep = 1 - f32(DRY_PER_PASS) * frac
            np.multiply.at(self.line_water, (self.road, self.cell), keep)
            lay = f32(RUBBER_PER_PASS) * frac * (1 - self.water_here)
            np.add.at(self.rubber, (self.road, self.cell), lay)
            np.minimum(self.rubber, f32(1.0), out=self.rubber)

    def info(self) -> dict:
        """Per-kart arrays for ``info`` and telemetry."""
        out = {"grip": self.grip_now.copy(), "wetness": self.water_here.copy()}
        if self.tyres is not None:
            out["tyre_temp_c"] = self.temp.copy()
            out["tyre_wear"] = self.wear.copy()
        if self.fuel0 is not None:
            out["fuel_l"] = self.fuel.copy()
        return out


__all__ = ["KartSetup", "Weather", "TyreState", "Conditions", "parse_fuel", "cli_conditions", "feed_throttle",
           "wet_asphalt"]
