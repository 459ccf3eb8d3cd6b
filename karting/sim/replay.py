"""Replays: a session kept as its settings, its resets and the actions of every kart, re-simulated
bit-exactly (the simulator is deterministic); numpy only.

A :class:`ReplayLog` attached to a :class:`~karting.sim.karts.Karts` (``race.replay_log``) records,
at no cost to the simulation:

* every ``reset(mask, rng)``: the step it happened at, the mask, and the random generator's state
  *before* the reset drew from it (so a replay draws the same start poses and randomisation);
* every ``step(actions)``: the (N, 2) float32 actions as the Karts received them;
* the laps each kart completed (time, validity, sectors), and at the end a hash of the final state.

:func:`save` writes it as a compressed ``.replay`` file (a NumPy zip: a JSON header and the arrays;
actions are stored exactly as float32, which zip compresses to a few hundred bytes a kart-minute
for a human's keyboard and ~3 kB for a policy). The header holds the format version, the track
(name, path, the hash of its derived geometry, its checkpoints.json entry), the settings needed to
rebuild the batch (karts, episode length, random starts, reward, conditions, randomisation), the
lap times and the final-state hash. :func:`load` checks all of it and says clearly what is wrong
(a truncated or foreign file, a newer format, a missing or changed track); :func:`simulate`
re-runs it and :func:`verify` compares the lap times and the final state with the recording:
a mismatch means the simulation code changed since the replay was recorded.

Races (a Karts with contacts and a :class:`~karting.sim.race_control.RaceControl`) record the same and
more: every kart's actions (the AI's too, so no AI runs in a replay), the grid order of each
start (:meth:`ReplayLog.on_grid`), the rules and drivers in the settings and the results in the
header; :func:`simulate` re-runs each start through the RaceControl (grid, start-light timing
from the recorded generator) and :func:`verify` compares the results as well.

Portable replays (format 2): a keyframe of the whole simulation state every ``keyframe_every``
steps (one second; :mod:`karting.sim.keyframes`) and at the end. On the machine that recorded it
a replay re-simulates bit-exactly and every keyframe matches; on another machine the floating
point may differ in the last bits, and :func:`simulate` puts the recorded state back at each
keyframe where it differs ("re-synced": :class:`Playback` counts the corrections and the largest
one). A correction larger than :data:`karting.sim.keyframes.TOLERANCE` is a different simulation
(changed code, edited actions), not float noise. The track is named by what does not depend on
the CPU: the PNG's bytes and its checkpoints.json entry (``track_key``); the hash of the derived
geometry (``track_sha256``) is kept to tell "the same bits" from "the same track". Replays of
format 1 (no keyframes, the track named by its geometry) re-simulate with numpy's own kernels
(:func:`karting.numerics.native_kernels`), as they were recorded: bit-exactly on the machine
that recorded them.

Format 3 adds the kart physics' version (:data:`karting.sim.physics.PHYSICS_VERSION`) to the
header: a change that moves trajectories on purpose bumps it, and a replay re-simulates with the
model it was recorded with (:meth:`Replay.params`), so replays of formats 1 and 2 (physics 1) still
play bit-exactly where they were recorded.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import numerics
from ..files import atomic_write
from ..track import (
    DEFAULT_TRACKS_DIR,
    TrackError,
    build_track,
    default_checkpoints_path,
    load_checkpoints_file,
    load_track,
    resolve_track_path,
)
from .keyframes import capture, difference, pack, restore, unpack
from .physics import CONTROL_HZ, PHYSICS_VERSION, KartParams, params_of
from .race_control import RaceControl, RaceRules

FORMAT = "karting-replay"
VERSION = 3
STATE_ARRAYS = ("x", "y", "yaw", "vx", "vy", "yaw_rate", "steer", "throttle", "brake")
#: steps between two keyframes (one second at CONTROL_HZ)
KEYFRAME_EVERY = CONTROL_HZ


class ReplayError(ValueError):
    """A replay cannot be read or no longer matches; the message says why and what to do."""


def track_hash(track) -> str:
    """sha256 of a Track's derived geometry (surface grid, centre line, gates, racing line, scale):
    a changed PNG or checkpoints.json entry changes it, and so can another CPU's floating point
    (format 1 replays name their track by it; format 2 by the track's content key)."""
    h = hashlib.sha256(b"karting track geometry v1\n")
    for a in (track.surface, track.centre, track.gates, track.racing_offset):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr((float(track.scale), float(track.length), tuple(track.sector_gates))).encode())
    return h.hexdigest()


def state_hash(race) -> str:
    """sha256 of the kart states and the race bookkeeping of a Karts (what a replay must reproduce)."""
    h = hashlib.sha256()
    st = race.state
    for f in STATE_ARRAYS:
        h.update(np.ascontiguousarray(getattr(st, f)).tobytes())
    for a in (race.best_progress, race.laps, race.last_lap_time, race.best_lap_time, race.episode):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _rng_state(rng) -> dict:
    s = rng.bit_generator.state
    return json.loads(json.dumps(s))          # plain ints and strings (PCG64's are big ints)


class ReplayLog:
    """The recording of one Karts session (see the module docstring). ``keyframe_every``: steps
    between keyframes (0: none, as a playback's own log)."""

    def __init__(self, n: int, episode0=None, keyframe_every: int = KEYFRAME_EVERY):
        self.n = n
        self.episode0 = episode0        # episode numbers when recording began on a used batch
        self.actions: list = []
        self.resets: list = []          # (step index, mask (N,) bool, rng state dict)
        self.laps: list = [[] for _ in range(n)]     # per kart: (episode, time_s, valid, sectors)
        self.grids: dict = {}           # reset number -> the grid order a RaceControl gave it
        self.keyframe_every = int(keyframe_every)
        self.keyframes: list = []       # dicts of arrays (karting.sim.keyframes.capture)
        self.keyframe_steps: list = []
        self.control = None             # the RaceControl of a race (its state goes into keyframes)
        self._count = np.zeros(n, np.int64)

    def on_reset(self, mask, rng, race=None) -> None:
        """Before a reset: when, whom, the generator's state, and a hash of the state the
        session reached (so a replay that drifts before a reset is caught there)."""
        if self.episode0 is not None and not self.resets and not np.asarray(mask, bool).all():
            raise ValueError("a replay started on a batch that had driven must begin with a reset of every kart")
        before = state_hash(race) if race is not None and (self.resets or self.episode0 is None) else ""
        self.resets.append((len(self.actions), np.asarray(mask, bool).copy(), _rng_state(rng), before))

    def on_grid(self, order, control=None) -> None:
        """A RaceControl's reset (just after its Karts'): the grid order (per kart, rank in its race)."""
        self.grids[len(self.resets) - 1] = [int(x) for x in order]
        if control is not None:
            self.control = control

    def on_step(self, actions, race=None) -> None:
        """Before ``race`` steps with ``actions``: a keyframe of its state every keyframe_every steps."""
        t = len(self.actions)
        if race is not None and self.keyframe_every and t % self.keyframe_every == 0:
            self.keyframes.append(capture(race, self.control))
            self.keyframe_steps.append(t)
        self.actions.append(np.array(actions, np.float32, copy=True))

    def after_step(self, race) -> None:
        grew = np.flatnonzero(race.laps > self._count)
        for i in grew:
            self.laps[i].append((int(race.episode[i]), float(race.last_lap_time[i]), bool(race.last_lap_valid[i]),
                                 [float(x) for x in race.sector_times[i]]))
        self._count = race.laps.astype(np.int64).copy()

    def after_reset(self, race, mask) -> None:
        self._count[np.asarray(mask, bool)] = race.laps[np.asarray(mask, bool)]


@dataclass
class Replay:
    """A loaded replay: the header (dict) and the arrays."""
    header: dict
    actions: np.ndarray                  # (T, N, 2) float32
    reset_steps: np.ndarray              # (R,) step index of each reset
    reset_masks: np.ndarray              # (R, N) bool
    reset_rngs: list = field(default_factory=list)
    reset_hashes: list = field(default_factory=list)   # state hash just before each reset
    reset_grids: dict = field(default_factory=dict)    # reset number -> grid order (races)
    keyframe_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    keyframes: list = field(default_factory=list)      # dicts of arrays, the last one at the end
    track: object = None                 # the Track, once resolve_track found it
    track_note: str = ""                 # which file resolve_track used, when not the recorded one
    native: bool = False                 # re-simulate with numpy's own kernels (format 1)

    @property
    def karts(self) -> int:
        return int(self.header["karts"])

    @property
    def steps(self) -> int:
        return int(self.actions.shape[0])

    @property
    def version(self) -> int:
        return int(self.header["version"])

    @property
    def physics(self) -> int:
        """The kart physics it was recorded with (karting.sim.physics.PHYSICS_VERSION; 1 before format 3)."""
        return int(self.header.get("physics", 1))

    def params(self) -> KartParams:
        """The kart model that re-simulates it: today's, or the one it was recorded with."""
        return params_of(self.physics)

    @property
    def laps(self) -> list:
        """Per kart: the recorded laps as dicts (episode, time_s, valid, sectors_s)."""
        return [[dict(zip(("episode", "time_s", "valid", "sectors_s"), lap)) for lap in kart]
                for kart in self.header["laps"]]


def _karting_version() -> str:
    """The installed karting's version (importing the package itself here would be a cycle)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("karting")
    except PackageNotFoundError:
        return "?"


def race_settings(race) -> dict:
    """The keyword arguments that rebuild a Karts' simulation (KartBatch adds its own)."""
    if race.params != KartParams():
        raise ValueError("replays record the default kart only")
    if race.ts.k > 1:
        raise ValueError("replays are of one track: record a batch on a single track")
    out = {"max_episode_steps": int(race.max_episode_steps), "random_start": bool(race.random_start),
           "exact_start": bool(race.exact_start),
           **({"contacts": True, "world": race.world.tolist()} if race.solver is not None else {}),
           "reward": dataclasses.asdict(race.reward_cfg)}
    if race.recovery_starts:
        out["recovery_starts"] = race.recovery_starts
    md = race.model
    if md is not None:
        out.update(weather=None if md.weather is None else md.weather.to_dict(),
                   tyres=None if md.tyres is None else md.tyres.to_dict(),
                   setup=None if md.setup is None else md.setup.to_dict(), fuel=md.fuel0)
    return out


def control_settings(control) -> dict:
    """The ``settings["race"]`` entry that rebuilds a RaceControl: its rules and drivers' names."""
    return {"rules": dataclasses.asdict(control.rules), "drivers": list(control.drivers)}


def race_outcome(control) -> dict:
    """What a race replay must reproduce besides the karts: status, finishing time, position."""
    return {"status": control.status.tolist(), "finish_time": control.finish_time.tolist(),
            "position": control.position.tolist(), "collisions": control.collisions.tolist(),
            "penalty_s": control.penalty_s.tolist()}


def attach_control(batch, race: dict) -> None:
    """Give a batch rebuilt from a race replay its RaceControl (``batch.control``), from the
    settings' ``race`` entry (:func:`control_settings`)."""
    batch.control = RaceControl(batch, RaceRules(**race["rules"]), drivers=list(race["drivers"]))


def _entry_of(track) -> dict:
    """The checkpoints.json entry next to ``track``'s PNG ({} when none or unreadable)."""
    if not getattr(track, "path", None):
        return {}
    try:
        return load_checkpoints_file(default_checkpoints_path(Path(track.path)))["tracks"].get(track.name, {})
    except Exception:          # an unreadable checkpoints.json: the content key still guards
        return {}


def save(path, log: ReplayLog, race, track, settings: dict, source: str = "", control=None,
         scenario: dict | None = None) -> Path:
    """Write ``log`` (of ``race`` on ``track``, built with ``settings``) as a .replay file;
    ``control``: the RaceControl of a race (its rules go into the settings, its results into
    the header); ``scenario``: the session's Scenario as a dict (kept in the header, for the
    reader: the settings are what re-simulates it)."""
    control = control if control is not None else log.control
    entry = _entry_of(track)
    if control is not None:
        settings = {**settings, "race": control_settings(control)}
    header = {"format": FORMAT, "version": VERSION, "physics": PHYSICS_VERSION, "karting": _karting_version(),
              "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "source": source,
              "track": track.name, "track_path": str(getattr(track, "path", "") or ""),
              "track_key": getattr(track, "content_key", ""),
              "track_sha256": track_hash(track), "entry": entry, "karts": log.n, "settings": settings,
              "laps": log.laps, "final_state_sha256": state_hash(race), "steps": len(log.actions),
              "episode0": log.episode0, "keyframe_every": log.keyframe_every, "scenario": scenario}
    if control is not None:
        header["race_outcome"] = race_outcome(control)
    actions = np.stack(log.actions) if log.actions else np.zeros((0, log.n, 2), np.float32)
    # the keyframes so far and one of the state now (the end of the session)
    kfs = pack(log.keyframes + [capture(race, control)], log.keyframe_steps + [len(log.actions)])
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), np.uint8), "actions": actions,
              "reset_steps": np.array([r[0] for r in log.resets], np.int64),
              "reset_masks": np.array([r[1] for r in log.resets], bool).reshape(-1, log.n),
              "reset_rngs": np.frombuffer(json.dumps([r[2] for r in log.resets]).encode(), np.uint8),
              "reset_hashes": np.frombuffer(json.dumps([r[3] for r in log.resets]).encode(), np.uint8),
              "reset_grids": np.frombuffer(json.dumps(log.grids).encode(), np.uint8), **kfs}
    return atomic_write(Path(path), lambda f: np.savez_compressed(f, **arrays))


def load(path) -> Replay:
    """Read and check a .replay file (ReplayError says what is wrong)."""
    path = Path(path)
    if not path.exists():
        raise ReplayError(f"{path}: no such replay file")
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(bytes(z["header"]).decode())
            arrays = {k: z[k] for k in ("actions", "reset_steps", "reset_masks")}
            rngs = json.loads(bytes(z["reset_rngs"]).decode())
            hashes = json.loads(bytes(z["reset_hashes"]).decode())
            grids = ({int(k): v for k, v in json.loads(bytes(z["reset_grids"]).decode()).items()}
                     if "reset_grids" in z.files else {})
            kf_steps, kfs = unpack(z)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, UnicodeDecodeError, TypeError,
            io.UnsupportedOperation) as e:
        raise ReplayError(f"{path}: not a karting replay, or a truncated one ({type(e).__name__}: {e}); "
                          "replays are written by --replay and karting.drive") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ReplayError(f"{path}: not a karting replay (no {FORMAT!r} header)")
    v = header.get("version")
    if not isinstance(v, int) or v > VERSION:
        raise ReplayError(f"{path}: replay format version {v} was written by a newer karting "
                          f"(this one reads up to version {VERSION}); upgrade karting to play it")
    ph = header.get("physics", 1)
    if not isinstance(ph, int) or ph > PHYSICS_VERSION:
        raise ReplayError(f"{path}: recorded with the kart physics of version {ph}, newer than this karting's "
                          f"({PHYSICS_VERSION}); upgrade karting to play it")
    a = arrays["actions"]
    n = int(header.get("karts", -1))
    if a.ndim != 3 or a.shape[1:] != (n, 2) or a.dtype != np.float32 or a.shape[0] != int(header.get("steps", -1)):
        raise ReplayError(f"{path}: the actions do not match the header ({a.shape} for {n} karts, "
                          f"{header.get('steps')} steps): the file is damaged")
    if v >= 2 and (not kfs or int(kf_steps[-1]) != a.shape[0] or np.any(np.diff(kf_steps) <= 0)
                   or any(kf.get("kart.x", np.zeros(0)).shape != (n,) for kf in kfs)):
        raise ReplayError(f"{path}: the keyframes do not match the actions ({len(kfs)} keyframes for "
                          f"{a.shape[0]} steps of {n} karts): the file is damaged")
    return Replay(header, a, arrays["reset_steps"], arrays["reset_masks"], rngs, hashes, grids, kf_steps, kfs)


def _candidates(rep: Replay, track) -> list:
    """(what to load, why) in the order resolve_track tries them."""
    h = rep.header
    if track is not None:
        return [(track, "given with --track")]
    out = []
    if h.get("track_path"):
        out.append((h["track_path"], "where it was recorded"))
    if h.get("track") and Path(h.get("track_path") or "").resolve() != _shipped(h["track"]):
        out.append((h["track"], "the shipped track of that name"))
    return out


def _shipped(name: str) -> Path:
    return (DEFAULT_TRACKS_DIR / Path(name).name).resolve()


def _load_v1(c):
    """A format-1 replay's track: derived with numpy's own kernels, as karting 0.1 derived it."""
    path = resolve_track_path(c)
    entry = load_checkpoints_file(default_checkpoints_path(path))["tracks"].get(path.name, {})
    with numerics.native_kernels():
        return build_track(path, entry)


def resolve_track(rep: Replay, track=None):
    """The replay's track (``track``: a path or name to use instead), checked against what was
    recorded: for format 2, the PNG's bytes and its checkpoints.json entry (``track_key``); for
    format 1, the hash of the derived geometry. When the file used is not the one recorded,
    ``rep.track_note`` says which and why. Raises ReplayError when none matches."""
    h = rep.header
    tried = []
    for c, why in _candidates(rep, track):
        try:
            tr = load_track(c) if rep.version >= 2 else _load_v1(c)
        except TrackError as e:
            tried.append(f"{c} ({why}): cannot be loaded: {e}")
            continue
        same = (tr.content_key == h.get("track_key")) if rep.version >= 2 else (track_hash(tr) == h.get("track_sha256"))
        if not same:
            tried.append(f"{tr.path} ({why}): " + ("its PNG or checkpoints.json entry differs from the recording's"
                                                   if rep.version >= 2 else "its derived geometry differs from the "
                                                   "recording's (the PNG or its checkpoints.json entry changed, or "
                                                   "this machine's floating point differs)"))
            continue
        rep.track, rep.native = tr, rep.version < 2
        notes = [] if not tried else ["; ".join(tried) + f". Played on {tr.path} ({why}), which holds the track "
                                      "as it was driven"]
        if rep.version >= 2 and track_hash(tr) != h.get("track_sha256"):
            notes.append("the same track (PNG and entry), derived here to other floating-point bits than when it "
                         "was recorded (another machine's floating point, or another karting's derivation): the "
                         "replay re-syncs from its keyframes")
        rep.track_note = "\n".join(notes)
        return tr
    if not tried:
        raise ReplayError("the replay names no track; give its PNG with --track")
    entry = f" (its checkpoints.json entry then: {json.dumps(h.get('entry'))})" if h.get("entry") else ""
    v1 = (" Format 1 replays (karting 0.1) name their track by its derived geometry, which differs in the "
          "last bits between CPUs: such a replay plays only on a machine like the one that recorded it."
          if rep.version < 2 else "")
    raise ReplayError(f"the track {h.get('track')!r} of this replay was not found as it was recorded: "
                      + "; ".join(tried) + f". Restore the track it was driven on{entry}, or give it with "
                      "--track." + v1)


@dataclass
class Playback:
    """How a re-simulation followed its recording: the keyframes it was checked against and the
    corrections (karting.sim.keyframes.Correction) made where the state differed."""
    keyframes: int = 0
    corrections: list = field(default_factory=list)
    native: bool = False

    @property
    def exact(self) -> bool:
        """Every keyframe matched bit for bit (nothing was corrected)."""
        return not self.corrections

    @property
    def largest_m(self) -> float:
        """The largest position correction [m]."""
        return max((c.position_m for c in self.corrections), default=0.0)

    @property
    def within_tolerance(self) -> bool:
        """Every correction was float noise (see karting.sim.keyframes.TOLERANCE)."""
        return all(c.within_tolerance for c in self.corrections)

    def summary(self) -> str:
        if self.exact:
            return "bit-exact on this machine"
        c = max(self.corrections, key=lambda x: x.position_m)
        return (f"re-synced from keyframes: {len(self.corrections)} correction(s) in {self.keyframes} keyframes, "
                f"largest {c.position_m:.3g} m (speed {c.speed_mps:.3g} m/s, heading {c.yaw_rad:.3g} rad) "
                f"at {c.step / CONTROL_HZ:.1f} s")


def simulate(rep: Replay, batch, on_step=None, on_start=None) -> Playback:
    """Re-run ``rep`` on ``batch`` (a Karts or KartBatch built with the replay's settings):
    the resets with their recorded generator states, the actions step by step; ``on_start()``
    after the first resets, ``on_step(t)`` after each step (and after the resets that follow it).
    At each keyframe whose state differs, the recorded state is put back; the returned Playback
    (also ``batch.playback``) says how often and by how much."""
    pb = Playback(native=rep.native)
    batch.playback = pb
    with numerics.native_kernels() if rep.native else contextlib.nullcontext():
        _simulate(rep, batch, pb, on_step, on_start)
    return pb


def _simulate(rep, batch, pb, on_step, on_start):
    resets = list(zip(rep.reset_steps.tolist(), rep.reset_masks, rep.reset_rngs))
    control = getattr(batch, "control", None)
    keyframes = dict(zip(rep.keyframe_steps.tolist(), rep.keyframes))
    k = 0

    def do_resets(t):
        nonlocal k
        while k < len(resets) and resets[k][0] == t:
            rng = np.random.default_rng()
            rng.bit_generator.state = resets[k][2]
            if control is not None and k in rep.reset_grids:     # a race: its grid and start
                worlds = np.unique(batch.world[resets[k][1]])
                control.reset(rng, np.asarray(rep.reset_grids[k]), worlds=worlds)
            else:
                batch.reset(resets[k][1], rng)
            k += 1

    def sync(t):
        kf = keyframes.get(t)
        if kf is None:
            return
        pb.keyframes += 1
        c = difference(batch, kf, t, control)
        if c is not None:
            pb.corrections.append(c)
            restore(batch, kf, control)

    do_resets(0)
    if on_start is not None:
        on_start()
    for t in range(rep.steps):
        sync(t)
        _, terminated, _ = batch.step(rep.actions[t])
        if control is not None:
            control.step(terminated)
        do_resets(t + 1)
        if on_step is not None:
            on_step(t)
    sync(rep.steps)


def verify(rep: Replay, batch) -> list:
    """After :func:`simulate` (with a ``replay_log`` on ``batch``): the differences from the
    recording (empty: it matches). Bit-exact playback (no keyframe corrected) must match bit
    for bit; a re-synced one must stay within the keyframes' tolerance, complete the same laps,
    within a control step of their recorded times, and give the same race results."""
    pb = getattr(batch, "playback", None)
    if pb is not None and not pb.exact:
        return _verify_resynced(rep, batch, pb)
    problems = []
    got = batch.replay_log.laps if batch.replay_log is not None else None
    want = [[tuple(lap[:3]) for lap in kart] for kart in rep.header["laps"]]     # episode, time, valid
    if got is not None:
        got = [[tuple(lap[:3]) for lap in kart] for kart in got]
        for i, (g, w) in enumerate(zip(got, want)):
            if g != w:
                problems.append(f"kart {i}: laps {[round(x[1], 3) for x in g]} s, recorded "
                                f"{[round(x[1], 3) for x in w]} s")
    if batch.replay_log is not None:
        got_h = [r[3] for r in batch.replay_log.resets]
        bad = [k for k, (g, w) in enumerate(zip(got_h, rep.reset_hashes)) if g != w and w]
        if bad:
            t = int(rep.reset_steps[bad[0]])
            problems.append(f"the state differs from the recording by step {t} ({t / 20:.2f} s), "
                            f"at {len(bad)} of {len(got_h)} resets")
    if state_hash(batch) != rep.header.get("final_state_sha256"):
        problems.append("the final state differs from the recorded one")
    want_race = rep.header.get("race_outcome")
    if want_race is not None and getattr(batch, "control", None) is not None:
        got_race = race_outcome(batch.control)
        for key in want_race:
            if got_race[key] != want_race[key]:
                problems.append(f"the race's {key} differs: {got_race[key]} against {want_race[key]} recorded")
    return problems


def _verify_resynced(rep, batch, pb) -> list:
    problems = [f"the state differs from the recording at {c.step / CONTROL_HZ:.2f} s by {c.position_m:.3g} m, "
                f"{c.speed_mps:.3g} m/s and {c.yaw_rad:.3g} rad, beyond float noise ({', '.join(c.fields[:6])} differ)"
                for c in pb.corrections if not c.within_tolerance]
    dt = 1.0 / CONTROL_HZ
    if batch.replay_log is not None:
        for i, (g, w) in enumerate(zip(batch.replay_log.laps, rep.header["laps"])):
            same = len(g) == len(w) and all(a[0] == b[0] and a[2] == b[2] and abs(a[1] - b[1]) <= dt + 1e-9
                                            for a, b in zip(g, w))
            if not same:
                problems.append(f"kart {i}: laps {[round(x[1], 3) for x in g]} s, recorded "
                                f"{[round(x[1], 3) for x in w]} s")
    want_race = rep.header.get("race_outcome")
    if want_race is not None and getattr(batch, "control", None) is not None:
        got_race = race_outcome(batch.control)
        for key in ("status", "position", "collisions"):
            if got_race[key] != want_race[key]:
                problems.append(f"the race's {key} differs: {got_race[key]} against {want_race[key]} recorded")
    return problems


__all__ = ["race_settings", "control_settings", "race_outcome", "attach_control", "ReplayLog", "Replay",
           "ReplayError", "Playback", "save", "load", "simulate", "verify", "resolve_track",
           "track_hash", "state_hash", "FORMAT", "VERSION", "KEYFRAME_EVERY"]
