"""Domain randomisation: per-kart, per-episode variations of what the camera sees and of grip.

A :class:`Randomization` holds a (low, high) range per field; every kart draws its own values,
uniformly, from the env's random generator each time it starts an episode (so a seeded env gives
the same draws). Off (``None``) by default and in every evaluation: a default env renders and
drives bit-identically to one without this module.

Fields (the ranges a user may give are bounded by what still looks like a track):

========================  =============================================  =============  =============
field                     what varies                                    allowed range  preset
========================  =============================================  =============  =============
``light``                 brightness of the whole image (sun, cloud)     0.3 - 2.0      0.7 - 1.3
``tint``                  colour temperature: red x (1+t), blue x (1-t)  -0.3 - 0.3     -0.1 - 0.1
``sky``                   brightness of the sky and the distant hills    0.5 - 1.5      0.8 - 1.2
``asphalt``               brightness of the asphalt                      0.4 - 2.0      0.6 - 1.5
``grass``                 brightness of the grass                        0.4 - 2.0      0.7 - 1.3
``grass_hue``             grass toward yellow (+) or blue-green (-)      -0.5 - 0.5     -0.2 - 0.2
``kerb``                  hue of the kerbs' coloured stripes (0 = red)   0.0 - 1.0      0.0 - 1.0
``camera_height``         camera height added to the first-person's [m]  -0.4 - 0.6     -0.1 - 0.15
``camera_pitch``          downward pitch added [degrees]                 -10 - 10       -2 - 2
``grip``                  factor on every surface's friction             0.5 - 1.5      0.9 - 1.1
``rain``                  water on the track (karting.sim.conditions)    0.0 - 1.0      (not in it)
========================  =============================================  =============  =============

    env = karting.make_vec("circuit.png", num_envs=16, randomize="default")
    env = karting.make_vec("circuit.png", num_envs=16, randomize={"light": (0.6, 1.4), "grip": (0.9, 1.1)})
    python -m karting.train --track generated --randomize default,grip=0.95:1.05
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

#: field -> (lowest, highest allowed, neutral value, preset range)
LIMITS = {
    "light": (0.3, 2.0, 1.0, (0.7, 1.3)),
    "tint": (-0.3, 0.3, 0.0, (-0.1, 0.1)),
    "sky": (0.5, 1.5, 1.0, (0.8, 1.2)),
    "asphalt": (0.4, 2.0, 1.0, (0.6, 1.5)),
    "grass": (0.4, 2.0, 1.0, (0.7, 1.3)),
    "grass_hue": (-0.5, 0.5, 0.0, (-0.2, 0.2)),
    "kerb": (0.0, 1.0, 0.0, (0.0, 1.0)),
    "camera_height": (-0.4, 0.6, 0.0, (-0.1, 0.15)),
    "camera_pitch": (-10.0, 10.0, 0.0, (-2.0, 2.0)),
    "grip": (0.5, 1.5, 1.0, (0.9, 1.1)),
    "rain": (0.0, 1.0, 0.0, None),
}
#: fields that change the physics, not the image (rain does both: the renderer shows a wet track)
PHYSICAL = ("grip", "rain")
VISUAL = tuple(k for k in LIMITS if k not in PHYSICAL)
PRESETS = ("default", "visual")


def _allowed(name):
    lo, hi = LIMITS[name][:2]
    return f"{lo:g} <= low <= high <= {hi:g}"


@dataclass(frozen=True)
class Randomization:
    """(low, high) per field, or None for a field that does not vary (see the module docstring)."""
    light: tuple | None = None
    tint: tuple | None = None
    sky: tuple | None = None
    asphalt: tuple | None = None
    grass: tuple | None = None
    grass_hue: tuple | None = None
    kerb: tuple | None = None
    camera_height: tuple | None = None
    camera_pitch: tuple | None = None
    grip: tuple | None = None
    rain: tuple | None = None

    def __post_init__(self):
        for f in fields(self):
            r = getattr(self, f.name)
            if r is None:
                continue
            try:
                lo, hi = (float(v) for v in r)
            except (TypeError, ValueError):   # not a pair of numbers
                raise ValueError(f"randomize[{f.name!r}] must be a (low, high) pair of numbers, got {r!r}") from None
            amin, amax = LIMITS[f.name][:2]
            if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi or lo < amin or hi > amax:
                why = "low > high" if lo > hi else "outside the allowed range"
                raise ValueError(f"randomize[{f.name!r}] = ({lo:g}, {hi:g}): {why}; allowed: {_allowed(f.name)}")
            object.__setattr__(self, f.name, (lo, hi))

    @property
    def active(self) -> tuple:
        """The names of the fields that vary."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is not None)

    @property
    def visual(self) -> bool:
        return any(k in VISUAL for k in self.active)

    def sample(self, rng: np.random.Generator, k: int) -> dict:
        """{field: (k,) float32} for the active fields, drawn in field order from ``rng``."""
        return {name: rng.uniform(*getattr(self, name), k).astype(np.float32) for name in self.active}

    def to_dict(self) -> dict:
        return {name: list(getattr(self, name)) for name in self.active}


def parse_randomize(spec) -> Randomization | None:
    """A Randomization from None / "" / "off" (none), a Randomization, a dict of ranges, or a
    string: a preset ("default": every field but rain at its preset range; "visual": all but grip
    and rain) and/or
    ``name=low:high`` items, comma separated (later items override, e.g.
    ``"default,grip=0.95:1.05"``)."""
    if spec is None or isinstance(spec, Randomization):
        return spec
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(LIMITS))
        if unknown:
            raise ValueError(f"randomize: unknown field(s) {', '.join(map(repr, unknown))}; known: "
                             f"{', '.join(LIMITS)}")
        out = Randomization(**spec)
        return out if out.active else None
    if not isinstance(spec, str):
        raise ValueError(f"randomize must be None, a dict of (low, high) ranges or a string, got {type(spec).__name__}")
    ranges: dict = {}
    for item in (s.strip() for s in spec.split(",")):
        if item in ("", "off", "none"):
            continue
        if item in PRESETS:
            ranges.update({k: LIMITS[k][3] for k in (LIMITS if item == "default" else VISUAL)
                           if LIMITS[k][3] is not None})
            continue
        name, sep, value = item.partition("=")
        lo, sep2, hi = value.partition(":")
        if not sep or not sep2:
            raise ValueError(f"randomize: cannot read {item!r}: give a preset ({', '.join(PRESETS)}) or "
                             f"name=low:high, e.g. grip=0.9:1.1")
        if name not in LIMITS:
            raise ValueError(f"randomize: unknown field {name!r}; known: {', '.join(LIMITS)}")
        try:
            ranges[name] = (float(lo), float(hi))
        except ValueError:
            raise ValueError(f"randomize: {item!r} is not name=low:high with numbers; allowed: "
                             f"{_allowed(name)}") from None
    return parse_randomize(ranges) if ranges else None


def neutral(n: int) -> dict:
    """{field: (n,) float32} of every field at its neutral value (nothing varies)."""
    return {k: np.full(n, LIMITS[k][2], np.float32) for k in LIMITS}


def _hue_to_rgb(hue: np.ndarray, s: float, v: float) -> np.ndarray:
    """(n, 3) float32 RGB of hues in [0, 1) at saturation ``s`` and value ``v`` (colorsys's
    HSV, vectorised: no per-kart Python loop at each reset)."""
    h6 = (np.asarray(hue, np.float64) % 1.0) * 6.0
    i = np.floor(h6).astype(np.int64) % 6
    f = h6 - np.floor(h6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    vv = np.full_like(f, v)
    pp = np.full_like(f, p)
    table = [(vv, t, pp), (q, vv, pp), (pp, vv, t), (pp, q, vv), (t, pp, vv), (vv, pp, q)]
    rgb = [np.choose(i, [row[c] for row in table]) for c in range(3)]
    return np.stack(rgb, 1).astype(np.float32)


def looks(values: dict) -> dict:
    """The renderer's per-camera colour gains from the drawn values: light (n, 3), sky (n,),
    asphalt (n, 3), grass (n, 3), kerb (n, 3) colour, camera height and pitch offsets (n,), and
    how wet the track looks (n,) (from ``rain``)."""
    light = values["light"][:, None] * np.stack([1 + values["tint"], np.ones_like(values["tint"]),
                                                 1 - values["tint"]], 1)
    hue = values["grass_hue"]
    grass = values["grass"][:, None] * np.stack([1 + hue, np.ones_like(hue), 1 - hue], 1)
    asphalt = np.repeat(values["asphalt"][:, None], 3, 1)
    kerb = _hue_to_rgb(values["kerb"], 0.85, 200 / 255)
    return {"light": light.astype(np.float32), "sky": values["sky"].astype(np.float32),
            "asphalt": asphalt.astype(np.float32), "grass": grass.astype(np.float32), "kerb": kerb,
            "camera_height": values["camera_height"].astype(np.float32),
            "camera_pitch": values["camera_pitch"].astype(np.float32),
            "wet": values["rain"].astype(np.float32)}
