"""One description of a session: :class:`Scenario`, frozen, validated, JSON-serialisable.

A scenario says everything that decides what the karts live through: the tracks, who drives each
kart of a race (the learner, past policies of a league, AI levels), how many copies of that race
run side by side, laps or the episode length, the start, the rules, the conditions (weather,
tyres, setup, fuel), domain randomisation, the reward terms and the observation options. A time
trial is the same thing with one learner per "race", no rivals and no contacts: each kart its own
episode from the start line.

The env (:class:`karting.env.KartingVectorEnv` and its adapters), the race command, replays, the
training config and Modal runs take this one object; every bad value is refused here, once, with
a message that says what to change::

    from karting.scenario import Scenario
    sc = Scenario.race("oval.png", opponents="club,pro", laps=2, weather="wet")
    sc.to_json()                          # what checkpoints and replays store
    Scenario.from_json(sc.to_json()) == sc
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace

from .fields import documented
from .sim.conditions import KartSetup, TyreState, Weather, parse_fuel
from .sim.opponents import level
from .sim.karts import RewardConfig
from .sim.race_control import RaceReward, RaceRules
from .sim.randomize import parse_randomize

LEARNER, LEAGUE = "learner", "league"
MODES = ("time_trial", "race")


def parse_opponents(opponents, difficulty="club") -> tuple:
    """``3`` or ``"3"`` (that many of ``difficulty``; a list of levels for difficulty cycles
    through it), ``"club,pro"`` or ``["club", "pro"]`` -> a tuple of level names."""
    diffs = [d for d in (difficulty.split(",") if isinstance(difficulty, str) else list(difficulty)) if d]
    for d in diffs:
        level(d)
    if opponents is None:
        return ()
    if isinstance(opponents, str) and not opponents.strip().lstrip("-").isdigit():
        names = [x.strip() for x in opponents.split(",") if x.strip()]
    elif isinstance(opponents, (list, tuple)):
        names = [str(x) for x in opponents]
    else:
        k = int(opponents)
        if k < 0:
            raise ValueError(f"opponents must be >= 0, got {k}")
        names = [diffs[i % len(diffs)] for i in range(k)]
    return tuple(level(x).name for x in names)


def _fraction(name: str, v) -> float:
    """``v`` as a float in 0..1, or a ValueError naming ``name``."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        f = float("nan")
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"{name} is a fraction, 0..1 (got {v!r})")
    return f


def _positive(name: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _condition(kind, value):
    """Check a weather / tyres / setup value; keep the plain form the user gave (a JSON type)."""
    if value is None:
        return None
    if isinstance(value, (Weather, TyreState, KartSetup)):
        return value.to_dict()
    kind.parse(value)
    return dict(value) if isinstance(value, dict) else value


@dataclass(frozen=True)
class Scenario:
    """A session: ``races`` copies of one race whose karts are ``drivers`` (in grid order:
    ``"learner"`` = driven from outside and learning, ``"league"`` = driven from outside by a past
    policy, or an AI level name), on ``tracks`` (kart i of a time trial drives ``tracks[i % K]``).

    ``mode="time_trial"``: every kart its own episode from the start line (or a random checkpoint
    with ``random_start``) and its own autoreset, no contacts, ended by the rules of
    ``reward`` (off track, wrong way, stalled, tyre wall) or ``max_episode_steps``;
    ``mode="race"``: a grid, race control (``laps``, ``start_lights``, contacts, penalties),
    positions and gaps; the race ends for its learners when one finishes or retires.
    The vector env's ``num_envs`` is ``races`` x the learners in a race (:attr:`num_learners`).
    """
    tracks: tuple = documented(("circuit.png",), "the tracks: PNG paths or shipped names (a time trial may list "
                         "several: kart i drives tracks[i % K]; a race runs on one)", "", "1 or more")
    mode: str = documented("time_trial", "time_trial: each kart its own episode, no contacts; race: a grid, "
                     "contacts and race control", "", "time_trial, race")
    drivers: tuple = documented((LEARNER,), "the karts of one race in grid order: learner (driven from outside, "
                          "learning), league (driven from outside by a past policy) or an AI level",
                          "", "learner, league, rookie, club, pro, alien")
    races: int = documented(1, "copies of the race side by side (a time trial: karts); the vector env's num_envs "
                      "is races x the learners of a race", "", ">= 1")
    checkpoints: str | None = documented(None, "a checkpoints.json to read the track's gates from (default: the "
                                   "one next to the PNG, if any)", "", "a path")
    # the start and the end
    laps: int = documented(3, "laps of a race", "laps", ">= 1")
    start_lights: bool = documented(False, "five lights and a random hold before a race starts (a jump start "
                              "costs 5 s)", "", "")
    grid_position: int | None = documented(None, "the learner's grid slot when a race has one learner "
                                     "(1 = pole; default the back)", "", "1 .. karts in the race")
    shuffle_grid: bool | None = documented(None, "each race from a shuffled grid (default: when a race has "
                                     "several learners)", "", "")
    max_episode_steps: int = documented(2400, "time limit of an episode (truncated after it)", "steps of 0.05 s",
                                  ">= 1")
    random_start: bool = documented(False, "time trials start at a random checkpoint (an untimed out-lap "
                              "first) instead of the start line", "", "")
    recovery_starts: float = documented(0.0, "with random_start: this fraction of the starts puts the kart "
                                        "at rest turned up to 75 degrees across the track and up to 1.5 m "
                                        "off the centre line, as a spin leaves it (practice pulling away)",
                                        "fraction of resets", "0 .. 1")
    # the world
    weather: object = documented(None, "track conditions: dry, damp, wet, green, hot, cold, a rain level, or a "
                           "dict of rain, rubber, track_temp_c (None: not modelled)", "",
                           "rain 0..1, rubber 0..1, track_temp_c -5..60 deg C")
    tyres: object = documented(None, "tyres at the start: new, warm, scrubbed, used, worn or a dict of wear, "
                         "temp_c (None: not modelled)", "", "wear 0..1, temp_c -1..90 deg C")
    setup: object = documented(None, "the kart's setup: a dict of sprocket, pressure_front_bar, "
                         "pressure_rear_bar, rear_track_m (None: today's kart)", "",
                         "sprocket 70..92, pressures 0.4..1.6 bar, rear track 1.30..1.44 m")
    fuel: float | None = documented(None, "fuel in the tank at the start; an empty tank stops the engine "
                              "(None: not modelled)", "litres", "0 < fuel <= 9")
    randomize: object = documented(None, "domain randomisation, drawn per kart at each of its resets: default, "
                             "visual, or a dict / 'name=low:high' items of light, tint, sky, asphalt, "
                             "grass, grass_hue, kerb, camera_height, camera_pitch, grip, rain", "",
                             "each field within its limits (karting.sim.randomize.LIMITS)")
    # what the learner gets
    reward: RewardConfig = documented(RewardConfig, "the time-trial reward weights and episode-ending rules "
                                "(a RewardConfig or a dict of its fields)", "", "see the reward table")
    race_reward: RaceReward = documented(RaceReward, "the race terms added to the reward (a RaceReward or a dict)",
                                   "", "see the reward table")
    frame_stack: int = documented(1, "camera frames stacked in the observation (vision gets 3 x this channels)",
                            "frames", ">= 1")
    telemetry_history: int = documented(1, "telemetry vectors stacked in the observation", "vectors", ">= 1")
    preview: bool = documented(False, "append the track ahead to the telemetry: the left and right edges "
                               "at 12 distances 4-100 m along the centre line in the kart's frame (48 "
                               "values / 50 m; karting.env.spec.PREVIEW_M)", "", "")
    race_obs: bool = documented(False, "in a race, append position / karts and the gaps ahead and behind / 10 s "
                          "to the telemetry", "", "")
    show_other_karts: bool = documented(True, "draw the other karts in each camera", "", "")
    record_telemetry: bool = documented(False, "record every step of every kart for export_telemetry()", "", "")

    def __post_init__(self):
        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen: set once, here)
        tracks = self.tracks
        tracks = (tracks,) if isinstance(tracks, str) or not isinstance(tracks, (list, tuple)) else tuple(tracks)
        if not tracks:
            raise ValueError("a scenario needs at least one track: give a PNG path or a shipped name")
        put("tracks", tracks)
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        drivers = (self.drivers,) if isinstance(self.drivers, str) else tuple(self.drivers)
        drivers = tuple(d if d in (LEARNER, LEAGUE) else level(d).name for d in drivers)
        if not drivers:
            raise ValueError("a race needs at least one kart (drivers is empty)")
        put("drivers", drivers)
        put("races", _positive("races", self.races))
        if self.mode == "time_trial":
            if drivers != (LEARNER,):
                raise ValueError(f"a time trial has one learner per kart and no rivals (drivers={drivers}): "
                                 "use mode='race' for opponents, self-play or league karts")
        elif len(tracks) > 1:
            raise ValueError(f"a race runs on one track, got {len(tracks)}: give one track (a time trial "
                             "can spread its karts over several)")
        RaceRules(laps=self.laps)                  # "a race needs at least 1 lap"
        for name in ("laps", "max_episode_steps", "frame_stack", "telemetry_history"):
            put(name, _positive(name, getattr(self, name)))
        put("recovery_starts", _fraction("recovery_starts", self.recovery_starts))
        per = len(drivers)
        if self.grid_position is not None:
            if drivers.count(LEARNER) != 1:
                raise ValueError("grid_position places the one learner of a race; this race has "
                                 f"{drivers.count(LEARNER)} learners (its grid is shuffled instead)")
            if not 1 <= int(self.grid_position) <= per:
                raise ValueError(f"grid_position must be 1..{per}, got {self.grid_position}")
            put("grid_position", int(self.grid_position))
        put("weather", _condition(Weather, self.weather))
        put("tyres", _condition(TyreState, self.tyres))
        put("setup", _condition(KartSetup, self.setup))
        put("fuel", parse_fuel(self.fuel))
        r = parse_randomize(self.randomize)
        put("randomize", None if r is None else (self.randomize if isinstance(self.randomize, str)
                                                 else r.to_dict()))
        for name, cls in (("reward", RewardConfig), ("race_reward", RaceReward)):
            v = getattr(self, name)
            if isinstance(v, dict):
                known = {f.name for f in fields(cls)}
                bad = sorted(set(v) - known)
                if bad:
                    raise ValueError(f"{name}: unknown term(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
                put(name, cls(**v))
            elif not isinstance(v, cls):
                raise ValueError(f"{name} must be a {cls.__name__} or a dict, got {type(v).__name__}")

    # ------------------------------------------------------------ the two kinds
    @classmethod
    def time_trial(cls, tracks="circuit.png", karts: int = 1, **kw) -> "Scenario":
        """``karts`` learners, each its own time-trial episode (kart i on ``tracks[i % K]``)."""
        return cls(tracks=tracks, mode="time_trial", drivers=(LEARNER,), races=karts, **kw)

    @classmethod
    def race(cls, track="circuit.png", opponents=(), difficulty="club", learners: int = 1, league: int = 0,
             races: int = 1, **kw) -> "Scenario":
        """``races`` copies of a race of ``learners`` + ``league`` karts driven from outside and
        ``opponents`` AI karts (a count of ``difficulty`` or level names, see :func:`parse_opponents`)."""
        drivers = (LEARNER,) * _positive("learners", learners, 0) + (LEAGUE,) * _positive("league", league, 0)
        return cls(tracks=track, mode="race", drivers=drivers + parse_opponents(opponents, difficulty),
                   races=races, **kw)

    # ------------------------------------------------------------ derived
    @property
    def is_race(self) -> bool:
        return self.mode == "race"

    @property
    def learners_per_race(self) -> int:
        return self.drivers.count(LEARNER)

    @property
    def num_learners(self) -> int:
        """Karts the learner drives: the vector env's ``num_envs``."""
        return self.races * self.learners_per_race

    @property
    def karts_per_race(self) -> int:
        return len(self.drivers)

    @property
    def opponents(self) -> tuple:
        """The AI levels of a race, in grid order."""
        return tuple(d for d in self.drivers if d not in (LEARNER, LEAGUE))

    @property
    def conditions(self) -> dict:
        """The keywords of the realism models that are on (karting.sim.conditions)."""
        return {k: getattr(self, k) for k in ("weather", "tyres", "setup", "fuel") if getattr(self, k) is not None}

    def grid_order(self) -> list | None:
        """The fixed grid of a race with one learner (kart order; lower starts further forward):
        the learner at ``grid_position`` (default: the back), the others in kart order; None
        with several learners (their grid is shuffled, or given by the caller)."""
        if self.learners_per_race != 1:
            return None
        slot = self.grid_position or self.karts_per_race
        learner = self.drivers.index(LEARNER)
        others = [k for k in range(self.karts_per_race) if k != learner]
        order = [0] * self.karts_per_race
        for pos, kart in enumerate(others[: slot - 1] + [learner] + others[slot - 1:]):
            order[kart] = pos
        return order

    @property
    def shuffled(self) -> bool:
        return self.learners_per_race > 1 if self.shuffle_grid is None else bool(self.shuffle_grid)

    def replace(self, **changes) -> "Scenario":
        """A copy with ``changes`` (validated again)."""
        return replace(self, **changes)

    # ------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        """Plain JSON types (a Track object given as a track is stored by its path or name)."""
        out = asdict(self)
        out["tracks"] = [t if isinstance(t, str) else str(getattr(t, "path", None) or t.name) for t in self.tracks]
        out["drivers"] = list(self.drivers)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "Scenario":
        """The scenario :meth:`to_dict` wrote; an unknown key is a ValueError naming the known ones."""
        if not isinstance(d, dict):
            raise ValueError(f"a scenario is a JSON object, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ValueError(f"scenario: unknown key(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "Scenario":
        try:
            d = json.loads(text)
        except ValueError as e:
            raise ValueError(f"a scenario file must be JSON ({e})") from None
        return cls.from_dict(d)
