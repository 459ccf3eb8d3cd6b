"""Replays: a session kept as its settings, its resets and the actions of every kart, re-simulated
bit-exactly (the simulator is deterministic); numpy only.

A :class:`ReplayLog` attached to a :class:`~karting.sim.race.Race` (``race.replay_log``) records,
at no cost to the simulation:

* every ``reset(mask, rng)``: the step it happened at, the mask, and the random generator's state
  *before* the reset drew from it (so a replay draws the same start poses and randomisation);
* every ``step(actions)``: the (N, 2) float32 actions as the Race received them;
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

Races (a Race with contacts and a :class:`~karting.sim.racing.RaceControl`) record the same and
more: every kart's actions (the AI's too, so no AI runs in a replay), the grid order of each
start (:meth:`ReplayLog.on_grid`), the rules and drivers in the settings and the results in the
header; :func:`simulate` re-runs each start through the RaceControl (grid, start-light timing
from the recorded generator) and :func:`verify` compares the results as well.
"""
from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "karting-replay"
VERSION = 1
STATE_ARRAYS = ("x", "y", "yaw", "vx", "vy", "yaw_rate", "steer", "throttle", "brake")


class ReplayError(ValueError):
    """A replay cannot be read or no longer matches; the message says why and what to do."""


def track_hash(track) -> str:
    """sha256 of a Track's derived geometry (surface grid, centre line, gates, racing line, scale):
    a changed PNG or checkpoints.json entry changes it."""
    h = hashlib.sha256(b"karting track geometry v1\n")
    for a in (track.surface, track.centre, track.gates, track.racing_offset):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr((float(track.scale), float(track.length), tuple(track.sector_gates))).encode())
    return h.hexdigest()


def state_hash(race) -> str:
    """sha256 of the kart states and the race bookkeeping of a Race (what a replay must reproduce)."""
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
    """The recording of one Race session (see the module docstring)."""

    def __init__(self, n: int, episode0=None):
        self.n = n
        self.episode0 = episode0        # episode numbers when recording began on a used batch
        self.actions: list = []
        self.resets: list = []          # (step index, mask (N,) bool, rng state dict)
        self.laps: list = [[] for _ in range(n)]     # per kart: (episode, time_s, valid, sectors)
        self.grids: dict = {}           # reset number -> the grid order a RaceControl gave it
        self._count = np.zeros(n, np.int64)

    def on_reset(self, mask, rng, race=None) -> None:
        """Before a reset: when, whom, the generator's state, and a hash of the state the
        session reached (so a replay that drifts before a reset is caught there)."""
        if self.episode0 is not None and not self.resets and not np.asarray(mask, bool).all():
            raise ValueError("a replay started on a batch that had driven must begin with a reset of every kart")
        before = state_hash(race) if race is not None and (self.resets or self.episode0 is None) else ""
        self.resets.append((len(self.actions), np.asarray(mask, bool).copy(), _rng_state(rng), before))

    def on_grid(self, order) -> None:
        """A RaceControl's reset (just after its Race's): the grid order (per kart, rank in its race)."""
        self.grids[len(self.resets) - 1] = [int(x) for x in order]

    def on_step(self, actions) -> None:
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
    track: object = None                 # the Track, once resolve_track found it

    @property
    def karts(self) -> int:
        return int(self.header["karts"])

    @property
    def steps(self) -> int:
        return int(self.actions.shape[0])

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
    """The keyword arguments that rebuild a Race's simulation (KartBatch adds its own)."""
    import dataclasses
    from .physics import KartParams
    if race.params != KartParams():
        raise ValueError("replays record the default kart only")
    if race.ts.k > 1:
        raise ValueError("replays are of one track: record a batch on a single track")
    out = {"max_episode_steps": int(race.max_episode_steps), "random_start": bool(race.random_start),
           "exact_start": bool(race.exact_start),
           **({"contacts": True, "world": race.world.tolist()} if race.solver is not None else {}),
           "reward": dataclasses.asdict(race.reward_cfg)}
    md = race.model
    if md is not None:
        out.update(weather=None if md.weather is None else md.weather.to_dict(),
                   tyres=None if md.tyres is None else md.tyres.to_dict(),
                   setup=None if md.setup is None else md.setup.to_dict(), fuel=md.fuel0)
    return out


def control_settings(control) -> dict:
    """The ``settings["race"]`` entry that rebuilds a RaceControl: its rules and drivers' names."""
    import dataclasses
    return {"rules": dataclasses.asdict(control.rules), "drivers": list(control.drivers)}


def race_outcome(control) -> dict:
    """What a race replay must reproduce besides the karts: status, finishing time, position."""
    return {"status": control.status.tolist(), "finish_time": control.finish_time.tolist(),
            "position": control.position.tolist(), "collisions": control.collisions.tolist(),
            "penalty_s": control.penalty_s.tolist()}


def attach_control(batch, race: dict) -> None:
    """Give a batch rebuilt from a race replay its RaceControl (``batch.control``), from the
    settings' ``race`` entry (:func:`control_settings`)."""
    from .racing import RaceControl, RaceRules
    batch.control = RaceControl(batch, RaceRules(**race["rules"]), drivers=list(race["drivers"]))


def save(path, log: ReplayLog, race, track, settings: dict, source: str = "", control=None) -> Path:
    """Write ``log`` (of ``race`` on ``track``, built with ``settings``) as a .replay file;
    ``control``: the RaceControl of a race (its rules go into the settings, its results into
    the header)."""
    from ..files import atomic_write
    from ..track import default_checkpoints_path, load_checkpoints_file
    entry = {}
    if getattr(track, "path", None):
        try:
            entry = load_checkpoints_file(default_checkpoints_path(Path(track.path)))["tracks"].get(track.name, {})
        except Exception:          # an unreadable checkpoints.json: the geometry hash still guards
            entry = {}
    if control is not None:
        settings = {**settings, "race": control_settings(control)}
    header = {"format": FORMAT, "version": VERSION, "karting": _karting_version(),
              "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "source": source,
              "track": track.name, "track_path": str(getattr(track, "path", "") or ""),
              "track_sha256": track_hash(track), "entry": entry, "karts": log.n, "settings": settings,
              "laps": log.laps, "final_state_sha256": state_hash(race), "steps": len(log.actions),
              "episode0": log.episode0}
    if control is not None:
        header["race_outcome"] = race_outcome(control)
    actions = np.stack(log.actions) if log.actions else np.zeros((0, log.n, 2), np.float32)
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), np.uint8), "actions": actions,
              "reset_steps": np.array([r[0] for r in log.resets], np.int64),
              "reset_masks": np.array([r[1] for r in log.resets], bool).reshape(-1, log.n),
              "reset_rngs": np.frombuffer(json.dumps([r[2] for r in log.resets]).encode(), np.uint8),
              "reset_hashes": np.frombuffer(json.dumps([r[3] for r in log.resets]).encode(), np.uint8),
              "reset_grids": np.frombuffer(json.dumps(log.grids).encode(), np.uint8)}
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
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, UnicodeDecodeError,
            io.UnsupportedOperation) as e:
        raise ReplayError(f"{path}: not a karting replay, or a truncated one ({type(e).__name__}: {e}); "
                          "replays are written by --replay and karting.drive") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ReplayError(f"{path}: not a karting replay (no {FORMAT!r} header)")
    v = header.get("version")
    if not isinstance(v, int) or v > VERSION:
        raise ReplayError(f"{path}: replay format version {v} was written by a newer karting "
                          f"(this one reads up to version {VERSION}); upgrade karting to play it")
    a = arrays["actions"]
    n = int(header.get("karts", -1))
    if a.ndim != 3 or a.shape[1:] != (n, 2) or a.dtype != np.float32 or a.shape[0] != int(header.get("steps", -1)):
        raise ReplayError(f"{path}: the actions do not match the header ({a.shape} for {n} karts, "
                          f"{header.get('steps')} steps): the file is damaged")
    return Replay(header, a, arrays["reset_steps"], arrays["reset_masks"], rngs, hashes, grids)


def resolve_track(rep: Replay, track=None):
    """The replay's track (``track``: a path or name to use instead), checked against its hash."""
    from ..track import TrackError, load_track
    h = rep.header
    candidates = [track] if track is not None else [h.get("track_path"), h.get("track")]
    last = None
    for c in filter(None, candidates):
        try:
            tr = load_track(c)
            break
        except TrackError as e:
            last = e
    else:
        raise ReplayError(f"the replay's track {h.get('track')!r} was not found (recorded at "
                          f"{h.get('track_path') or '?'}; {last}); give its PNG with --track")
    if track_hash(tr) != h.get("track_sha256"):
        raise ReplayError(f"{tr.name}: the track changed since this replay was recorded (its PNG or its "
                          "checkpoints.json entry differs: the derived geometry's hash does not match), so it "
                          "cannot be re-simulated exactly; restore the track it was driven on"
                          + (f" (entry then: {json.dumps(h.get('entry'))})" if h.get("entry") else ""))
    return tr


def simulate(rep: Replay, batch, on_step=None, on_start=None) -> None:
    """Re-run ``rep`` on ``batch`` (a Race or KartBatch built with the replay's settings):
    the resets with their recorded generator states, the actions step by step; ``on_start()``
    after the first resets, ``on_step(t)`` after each step (and after the resets that follow it)."""
    resets = list(zip(rep.reset_steps.tolist(), rep.reset_masks, rep.reset_rngs))
    control = getattr(batch, "control", None)
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

    do_resets(0)
    if on_start is not None:
        on_start()
    for t in range(rep.steps):
        _, terminated, _ = batch.step(rep.actions[t])
        if control is not None:
            control.step(terminated)
        do_resets(t + 1)
        if on_step is not None:
            on_step(t)


def verify(rep: Replay, batch) -> list:
    """After :func:`simulate` (with a ``replay_log`` on ``batch``): the differences from the
    recording (empty: it matches bit for bit)."""
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


__all__ = ["race_settings", "control_settings", "race_outcome", "attach_control", "ReplayLog", "Replay",
           "ReplayError", "save", "load", "simulate", "verify", "resolve_track",
           "track_hash", "state_hash", "FORMAT", "VERSION"]
