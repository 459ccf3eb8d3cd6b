"""Generated tracks on disk, and the pool of them that ``--track generated`` trains on.

A generated track is :func:`karting.track.generate.generate_varied` of a seed (generator version
GENERATOR_VERSION by default: tight corners and hairpins like the real circuits at kart scale; a
pool may draw from version 3, which adds long straights into hairpins), written once as a
PNG plus its own ``checkpoints.json`` (scale, direction) under
``<cache>/generated/v<version>/gen_<seed>/`` (``$KARTING_CACHE_DIR``, as the track cache;
a temporary folder when the cache is off), and checked once by the scripted expert: a seed whose
track the expert cannot lap cleanly is never used (the check's result is kept beside the PNG).
Both are stamped: a track made by other generator code is made again, and a check made by other
expert or physics code is redone.

Seeds are split so that training never sees a test track: the benchmark's generated tracks are
:data:`BENCHMARK_SEEDS` (shipped as PNGs in ``tracks/benchmark/``), evaluation during training
uses the first six of :data:`VALIDATION_SEEDS` (always generator version GENERATOR_VERSION, so runs
that train on different versions are compared on the same tracks), choosing a model
(``--split validation``) drives all of them and the version 3 tracks of :data:`VALIDATION_SEEDS_V3`
(long straights into hairpins, which version 2 never draws), and the pool draws training seeds
below :data:`TRAIN_SEED_LIMIT`.

:class:`TrackPool` holds ``size`` tracks at a time and, every ``every`` finished episodes,
replaces ``swap`` of them by new ones drawn from its seeded stream: the oldest first, or with
``keep="hard"`` (a curriculum by failure, in the spirit of prioritised level replay, Jiang et
al. 2021) the ones the policy laps most reliably since they joined (among those with at least
:data:`MIN_TRIED` finished episodes), so that the tracks it fails on stay; a track kept through
:data:`MAX_KEPT_SWAPS` swaps is replaced anyway, the oldest first, so no track stays for good.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from ..files import atomic_write
from ..sim.expert import reference_key, reference_lap
from ..track import TrackError
from ..track.catalog import cache_dir, load_track, save_track_entry
from ..track.generate import GENERATOR_VERSIONS, generate_varied, generator_stamp, save_png

#: the version of generate_varied the validation tracks and, by default, the pool are drawn from
#: (its folder on disk is per version)
GENERATOR_VERSION = 2
TRAIN_SEED_LIMIT = 800_000
VALIDATION_SEEDS = tuple(range(800_000, 800_008))
#: generator version 3 validation tracks, chosen once by a rule that looks at no test track
#: (``scripts/hardest_braking.py --generated 3 --seeds 800100-800119``): the first four from seed
#: 800,100 that are at least 1 km long and where the expert's hardest braking zone sheds >= 45 km/h
VALIDATION_SEEDS_V3 = (800_101, 800_107, 800_111, 800_114)
BENCHMARK_SEEDS = tuple(range(900_000, 900_020))
MIN_TRIED = 8          # episodes on a track before its lap rate counts (keep="hard")
MAX_KEPT_SWAPS = 12    # swaps a track may survive under keep="hard"


def generated_root(version: int = GENERATOR_VERSION) -> Path:
    """Where generated tracks of generator ``version`` are kept."""
    d = cache_dir()
    base = d.parent if d is not None else Path(tempfile.gettempdir()) / f"karting-{os.getuid()}"
    return base / "generated" / f"v{int(version)}"


def generated_track(seed: int, root: Path | None = None, check: bool = True,
                    version: int = GENERATOR_VERSION) -> Path | None:
    """The PNG of generated track ``seed`` of generator ``version`` (written on first use, in
    ``generated_root(version)`` or, given, in ``root``, which then holds one version only). With
    ``check``, None when the scripted expert cannot lap it cleanly (decided once, remembered on disk)."""
    seed = int(seed)
    folder = (Path(root) if root is not None else generated_root(version)) / f"gen_{seed:06d}"
    png = folder / f"gen_{seed:06d}.png"
    cp = folder / "checkpoints.json"
    made = folder / "made.json"
    stamp = generator_stamp(version)

    def make():
        im, entry, _ = generate_varied(seed, version=version)
        (folder / "expert.json").unlink(missing_ok=True)
        save_track_entry(png.name, entry, cp)       # the entry first, the stamp last: a part-made track is redone
        save_png(im, png)
        atomic_write(made, lambda f: f.write(json.dumps({"seed": seed, "version": int(version), "stamp": stamp})),
                     text=True)

    if not (png.exists() and cp.exists() and _read_json(made).get("stamp") == stamp):
        make()
    if not check:
        return png
    verdict = folder / "expert.json"
    try:
        track = load_track(png)
    except TrackError:          # damaged on disk since: made again
        make()
        track = load_track(png)
    key = reference_key(track, 2)      # the expert's verdict is redone when its code or the track changes
    v = _read_json(verdict)
    if v.get("key") == key and "completed" in v:
        ok = bool(v["completed"])
    else:
        r = reference_lap(track, laps=2)
        ok = bool(r.completed)
        atomic_write(verdict, lambda f: f.write(json.dumps(
            {"completed": ok, "lap_time_s": r.lap_time_s, "length_m": r.length_m, "key": key})), text=True)
    return png if ok else None


def _read_json(path: Path) -> dict:
    """A small JSON file written here, or {} when missing or unreadable (it is then made again)."""
    try:
        out = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def validation_tracks(count: int | None = None) -> list:
    """The PNGs of the lappable validation tracks: VALIDATION_SEEDS (generator GENERATOR_VERSION) in
    order, then VALIDATION_SEEDS_V3 (generator 3); the first ``count`` of them (default all)."""
    out = []
    for s, version in [(s, GENERATOR_VERSION) for s in VALIDATION_SEEDS] + [(s, 3) for s in VALIDATION_SEEDS_V3]:
        if count is not None and len(out) >= count:
            break
        if (p := generated_track(s, version=version)) is not None:
            out.append(p)
    return out


def validation_group(name: str) -> str:
    """``"v3"`` for a track of VALIDATION_SEEDS_V3 (by its file name, ``gen_<seed>.png``), else ``"v2"``."""
    digits = re.findall(r"\d+", Path(name).stem)
    return "v3" if digits and int(digits[-1]) in VALIDATION_SEEDS_V3 else "v2"


def _train_seeds(seed: int):
    """The endless stream of training seeds of a run (never a validation or benchmark seed)."""
    rng = np.random.default_rng([int(seed), 7919])
    while True:
        yield int(rng.integers(0, TRAIN_SEED_LIMIT))


class TrackPool:
    """``size`` generated training tracks at a time, ``swap`` of them replaced every ``every``
    finished episodes (see the module docstring). ``paths`` are the current tracks in slot order."""

    def __init__(self, size: int, seed: int = 0, swap: int = 2, every: int = 200, root: Path | None = None,
                 keep: str = "oldest", generator: int = GENERATOR_VERSION):
        if size < 1 or swap < 0 or every < 1:
            raise ValueError("the track pool needs size >= 1, swap >= 0, every >= 1")
        if keep not in ("oldest", "hard"):
            raise ValueError(f"the track pool keeps 'oldest' or 'hard', got {keep!r}")
        if generator not in GENERATOR_VERSIONS or generator < 2:
            raise ValueError(f"the track pool draws from generator version 2 or 3, got {generator!r}")
        self.keep, self.generator = keep, int(generator)
        self.tried, self.lapped, self.kept = (np.zeros(int(size), np.int64) for _ in range(3))
        self.size, self.swap, self.every, self.root = int(size), min(int(swap), int(size)), int(every), root
        self._stream = _train_seeds(seed)
        self.seeds: list = []
        self.paths: list = []
        while len(self.paths) < self.size:
            s, p = self._draw()
            self.seeds.append(s)
            self.paths.append(p)
        self.age = list(range(self.size))        # lower = older
        self._next_age = self.size
        self.episodes, self._due = 0, self.every
        self.replaced = 0

    def _draw(self) -> tuple:
        for s in self._stream:
            if s in self.seeds:
                continue
            p = generated_track(s, self.root, version=self.generator)
            if p is not None:
                return s, p
        raise RuntimeError("unreachable")

    def record(self, slot: int, lapped: bool) -> None:
        """One finished training episode on ``slot`` (``lapped``: it completed a lap)."""
        if 0 <= slot < self.size:
            self.tried[slot] += 1
            self.lapped[slot] += bool(lapped)

    def _to_replace(self) -> list:
        """The slots the next swap replaces."""
        order = np.argsort(self.age, kind="stable")                 # oldest first
        if self.keep == "oldest":
            return [int(s) for s in order[: self.swap]]
        rate = np.where(self.tried >= MIN_TRIED, self.lapped / np.maximum(self.tried, 1), -1.0)
        stale = self.kept >= MAX_KEPT_SWAPS
        # stale tracks first, then the most reliably lapped, then the oldest (a stable sort)
        ranked = sorted(order, key=lambda s: (not stale[s], -rate[s]))
        return [int(s) for s in ranked[: self.swap]]

    def on_episodes(self, finished: int) -> dict:
        """Count ``finished`` episodes; when a swap is due, ``{slot: new PNG path}`` (else {})."""
        self.episodes += int(finished)
        if self.swap == 0 or self.episodes < self._due:
            return {}
        self._due = self.episodes + self.every
        out = {}
        replace = self._to_replace()
        self.kept += 1
        for slot in replace:
            s, p = self._draw()
            self.seeds[slot], self.paths[slot] = s, p
            self.age[slot] = self._next_age
            self._next_age += 1
            self.tried[slot] = self.lapped[slot] = self.kept[slot] = 0
            out[slot] = p
        self.replaced += len(out)
        return out

    def state_dict(self) -> dict:
        return {"seeds": list(self.seeds), "episodes": self.episodes, "replaced": self.replaced, "keep": self.keep,
                "generator": self.generator,
                "tried": self.tried.tolist(), "lapped": self.lapped.tolist()}
