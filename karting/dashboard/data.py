"""What the dashboard shows, read from the outputs folder: training runs (config, TensorBoard
scalars read incrementally, evaluations, best replay), leaderboards, races, championship seasons,
telemetry sessions and replays. Every reader raises :class:`DataError` with a sentence a person
can act on, never a traceback; every path a request names is resolved inside the folder it
belongs to (:meth:`Outputs.inside`), or refused."""
from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

from .. import telemetry as T
from ..season import Season, SeasonError
from ..sim.replay import ReplayError, load as load_replay, resolve_track, simulate
from ..env.batch import KartBatch
from ..track import TrackError

#: the scalars a run page draws, by chart (tags as karting.rl.tensorboard writes them)
CHARTS = {
    "reward": ("rollout/ep_rew_mean", "eval/mean_reward"),
    "laps": ("rollout/lap_completion_rate", "eval/lap_completion_rate", "eval/valid_lap_rate"),
    "best_lap": ("rollout/best_lap_time", "eval/best_lap_time"),
    "losses": ("train/policy_gradient_loss", "train/value_loss", "train/entropy_loss", "train/actor_loss",
               "train/critic_loss"),
    "speed": ("train/fps",),
}


class DataError(Exception):
    """A file the dashboard cannot show (missing, corrupt, outside its folder)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


class NotFound(DataError):
    def __init__(self, message: str):
        super().__init__(message, 404)


@dataclass
class RunScalars:
    """A run's TensorBoard scalars, read incrementally: each look reads only what was appended
    (at most once a second, however many pages poll), and the JSON the pages get is built once
    per change (``version``)."""
    folder: Path
    loaders: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict)      # tag -> {step: value}
    lock: threading.Lock = field(default_factory=threading.Lock)
    version: int = 0
    checked: float = -1e9
    body: bytes = b""
    body_version: int = -1

    def update(self, min_interval_s: float = 1.0) -> int:
        """Read what the event files gained; returns the version (it grows when data arrived)."""
        with self.lock:
            now = time.monotonic()
            if now - self.checked < min_interval_s:
                return self.version
            self.checked = now
            for f in sorted(self.folder.glob("events.out.tfevents.*")):
                if f not in self.loaders:
                    self.loaders[f] = EventFileLoader(str(f))
                try:
                    for ev in self.loaders[f].Load():
                        for v in ev.summary.value:
                            x = v.simple_value if not v.HasField("tensor") else (
                                v.tensor.float_val[0] if v.tensor.float_val else float("nan"))
                            self.series.setdefault(v.tag, {})[int(ev.step)] = float(x)
                            self.version += 1
                except Exception:       # a half-written record at the end: read again next time
                    self.loaders.pop(f, None)
            return self.version

    def table(self) -> dict:
        """tag -> {"steps": [...], "values": [...]}, NaN/inf as None."""
        with self.lock:
            return {tag: {"steps": sorted(d), "values": [_num(d[s]) for s in sorted(d)]}
                    for tag, d in self.series.items()}

    def json(self) -> tuple:
        """(the table as JSON bytes, its version), built again only when the data changed."""
        v = self.update()
        if v != self.body_version:
            body = json.dumps(self.table(), separators=(",", ":")).encode()
            with self.lock:
                self.body, self.body_version = body, v
        return self.body, self.body_version


class Outputs:
    """The outputs folder (``$KARTING_OUTPUTS``) and the telemetry folder, as the dashboard reads them."""

    def __init__(self, root, telemetry_dir=None):
        self.root = Path(root).resolve()
        self.telemetry_dir = Path(telemetry_dir).resolve() if telemetry_dir else None
        self._scalars: dict = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ paths
    def inside(self, rel: str, base: Path | None = None) -> Path:
        """``rel`` under ``base`` (default the outputs folder): refused if it leaves it."""
        base = (base or self.root).resolve()
        if "\x00" in rel:
            raise NotFound("no such file")
        p = (base / rel).resolve()
        if p != base and base not in p.parents:
            raise NotFound(f"{rel!r} is outside the dashboard's folders")
        return p

    def file(self, rel: str) -> Path:
        """A file named relative to the outputs folder, or ``telemetry/...`` for the telemetry folder."""
        if rel.startswith("telemetry/") and self.telemetry_dir is not None:
            p = self.inside(rel.removeprefix("telemetry/"), self.telemetry_dir)
        else:
            p = self.inside(rel)
        if not p.is_file():
            raise NotFound(f"no file {rel!r}")
        return p

    def rel(self, p: Path) -> str:
        p = p.resolve()
        if self.telemetry_dir is not None and self.telemetry_dir in p.parents:
            return "telemetry/" + p.relative_to(self.telemetry_dir).as_posix()
        return p.relative_to(self.root).as_posix()

    # ------------------------------------------------------------ runs
    def runs(self) -> list:
        """Every training run: name, its config's algo/track, steps, last evaluation."""
        out = []
        names = {p.name for d in ("checkpoints", "tensorboard") for p in (self.root / d).glob("*") if p.is_dir()}
        for name in sorted(names):
            try:
                cfg = self.run_config(name)
            except DataError:
                cfg = {}
            tb = self.root / "tensorboard" / name
            files = list(tb.glob("events.out.tfevents.*")) + list((self.root / "checkpoints" / name).glob("*"))
            updated = max((f.stat().st_mtime for f in files), default=0.0)
            out.append({"name": name, "algo": cfg.get("algo", "ppo"), "track": _tracks_text(cfg),
                        "timesteps": cfg.get("total_timesteps"), "updated": updated,
                        "best": (self.root / "checkpoints" / name / "best.pt").exists(),
                        "config_ok": bool(cfg)})
        return sorted(out, key=lambda r: -r["updated"])

    def run_dir(self, name: str) -> Path:
        ck, tb = self.inside(f"checkpoints/{name}"), self.inside(f"tensorboard/{name}")
        if "/" in name or not (ck.is_dir() or tb.is_dir()):
            raise NotFound(f"no training run called {name!r} in {self.root}")
        return ck

    def run_config(self, name: str) -> dict:
        p = self.run_dir(name) / "config.json"
        if not p.exists():
            raise DataError(f"run {name!r} has no config.json (it may still be starting)", 404)
        try:
            cfg = json.loads(p.read_text())
            if not isinstance(cfg, dict):
                raise ValueError("not an object")
            return cfg
        except (OSError, ValueError) as e:
            raise DataError(f"run {name!r}: config.json is unreadable ({e})") from None

    def run_scalars(self, name: str) -> RunScalars:
        self.run_dir(name)
        with self._lock:
            return self._scalars.setdefault(name, RunScalars(self.root / "tensorboard" / name))

    def scalars(self, name: str) -> dict:
        """tag -> {"steps": [...], "values": [...]} of a run, NaN/inf as None."""
        rs = self.run_scalars(name)
        rs.update()
        return rs.table()

    def evaluations(self, name: str) -> list:
        """One row per evaluation: step, lap completion, valid laps, mean reward, best lap."""
        s = self.scalars(name)
        keys = {"completion": "eval/lap_completion_rate", "valid": "eval/valid_lap_rate",
                "reward": "eval/mean_reward", "best_lap": "eval/best_lap_time"}
        steps = s.get(keys["completion"], {"steps": []})["steps"]
        rows = []
        for st in steps:
            replay = self.root / "checkpoints" / name / "evaluations" / f"step_{st:09d}.replay"
            row = {"step": st, "replay": f"checkpoints/{name}/evaluations/{replay.name}" if replay.exists() else None}
            for k, tag in keys.items():
                d = s.get(tag)
                row[k] = d["values"][d["steps"].index(st)] if d and st in d["steps"] else None
            rows.append(row)
        return rows

    # ------------------------------------------------------------ boards, races, seasons
    def boards(self) -> list:
        out = []
        for p in sorted((self.root / "leaderboards").glob("*.json")):
            if ".corrupt-" in p.name:
                continue
            try:
                d = json.loads(p.read_text())
                laps, races = d.get("laps", []), d.get("races", [])
                best = min((x["lap_time_s"] for x in laps), default=None)
                out.append({"track": p.stem, "laps": len(laps), "races": len(races), "best": best, "ok": True})
            except (OSError, ValueError, TypeError, KeyError) as e:
                out.append({"track": p.stem, "laps": 0, "races": 0, "best": None, "ok": False, "error": str(e)})
        return out

    def board(self, track: str) -> dict:
        p = self.inside(f"leaderboards/{Path(track).stem}.json")
        if not p.exists() or p.parent != (self.root / "leaderboards").resolve():
            raise NotFound(f"no leaderboard for {track!r} yet")
        try:
            d = json.loads(p.read_text())
            if not isinstance(d, dict) or not isinstance(d.get("laps"), list):
                raise ValueError("not a leaderboard")
            d["laps"] = sorted(d["laps"], key=lambda e: float(e["lap_time_s"]))
            d.setdefault("races", [])
            return d
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise DataError(f"the leaderboard of {track!r} is unreadable ({e}); karting keeps a corrupt board "
                            "aside as .corrupt-*.json when it next writes one") from None

    def races(self) -> list:
        """Every race on a board and every championship round run, newest first (an unreadable
        board or season is left out here: its own page says why)."""
        out = []
        for p in sorted((self.root / "leaderboards").glob("*.json")):
            if ".corrupt-" in p.name:
                continue
            try:
                board = self.board(p.stem)
            except DataError:
                continue
            for r in board["races"]:
                out.append({"track": p.stem, "date": r.get("date", ""), "laps": r.get("laps"),
                            "results": r.get("results", []), "source": "race"})
        for p in sorted((self.root / "championships").glob("*.json")):
            try:
                season = Season.load(p)
            except SeasonError:
                continue
            for k, rnd in enumerate(season.rounds):
                if rnd["status"] == "done":
                    out.append({"track": Path(rnd["track"]).stem, "date": season.created,
                                "laps": season.calendar[k]["laps"], "results": rnd["results"],
                                "source": f"{season.name}, round {k + 1}", "season": p.stem,
                                "replay": (f"championships/{p.stem}/{rnd['files']['replay']}"
                                           if rnd.get("files", {}).get("replay") else None)})
        return sorted(out, key=lambda r: r["date"], reverse=True)

    def seasons(self) -> list:
        out = []
        for p in sorted((self.root / "championships").glob("*.json")):
            try:
                s = Season.load(p)
                done = sum(r["status"] == "done" for r in s.rounds)
                lead = s.standings()[0]["name"] if done else None
                out.append({"name": p.stem, "rounds": len(s.rounds), "done": done, "leader": lead, "ok": True})
            except SeasonError as e:
                out.append({"name": p.stem, "ok": False, "error": str(e)})
        return out

    def season(self, name: str) -> Season:
        p = self.inside(f"championships/{name}.json")
        if not p.exists():
            raise NotFound(f"no championship season called {name!r}")
        try:
            return Season.load(p)
        except SeasonError as e:
            raise DataError(str(e)) from None

    # ------------------------------------------------------------ sessions and replays
    def _find(self, pattern: str) -> list:
        bases = [self.root] + ([self.telemetry_dir] if self.telemetry_dir else [])
        files = []
        for b in bases:
            files += [p for p in b.rglob(pattern) if p.is_file() and not any(x.startswith(".") for x in p.parts)]
        return sorted(set(files), key=lambda p: -p.stat().st_mtime)

    def sessions(self) -> list:
        """Every telemetry CSV with what its sidecar says (track, driver)."""
        out = []
        for p in self._find("*.csv"):
            meta = T.read_meta(p)
            if not meta and not _looks_like_telemetry(p):
                continue
            out.append({"path": self.rel(p), "name": p.stem, "track": _meta_track(meta),
                        "driver": meta.get("driver", ""), "updated": p.stat().st_mtime,
                        "size_kb": p.stat().st_size // 1024})
        return out

    def session(self, rel: str) -> tuple:
        """(the telemetry DataFrame, its lap table, its sidecar) of a CSV."""
        p = self.file(rel)
        try:
            df = T.load(p)
            laps = T.laps(df)
        except (ValueError, KeyError, OSError) as e:
            raise DataError(f"{rel}: not a telemetry CSV karting can read ({e})") from None
        return df, laps, T.read_meta(p)

    def replays(self) -> list:
        out = []
        for p in self._find("*.replay"):
            try:
                rep = load_replay(p)
                info = {"karts": rep.karts, "source": rep.header.get("source", ""), "ok": True,
                        "track": Path(str(rep.header.get("track", "?"))).name}
            except (ReplayError, OSError, ValueError, KeyError, AttributeError) as e:
                info = {"ok": False, "error": str(e), "karts": 0, "source": "", "track": "?"}
            out.append({"path": self.rel(p), "name": p.name, "updated": p.stat().st_mtime, **info})
        return out

    def replay_paths(self, rel: str) -> dict:
        """Each kart's x, y (and the race's positions) at every step of a replay, re-simulated
        without rendering, and the track's outline: what the page animates."""
        p = self.file(rel)
        try:
            rep = load_replay(p)
            track = resolve_track(rep)
            b = KartBatch.from_replay(rep, track, render=False)
        except (ReplayError, TrackError, OSError, ValueError, KeyError) as e:
            raise DataError(f"{rel}: cannot re-run this replay ({e})") from None
        xs, ys = [], []

        def on_step(t):
            xs.append(np.round(b.state.x, 2).tolist())
            ys.append(np.round(b.state.y, 2).tolist())
        simulate(rep, b, on_step, lambda: on_step(0))
        names = list(b.control.drivers) if b.control is not None else [f"kart {i}" for i in range(b.n)]
        c, nrm, w = track.centre, track.normal, np.broadcast_to(track.width, (len(track.centre),))
        edge = lambda sgn: np.round(c + sgn * nrm * (w[:, None] / 2), 2).tolist()  # noqa: E731
        b.close()
        return {"names": names, "x": xs, "y": ys, "dt": 0.05, "left": edge(1), "right": edge(-1),
                "track": track.name}


def _num(x):
    return None if x is None or not math.isfinite(x) else x


def _tracks_text(cfg: dict) -> str:
    sc = cfg.get("scenario") or {}
    t = sc.get("tracks") or cfg.get("track") or cfg.get("tracks") or ""
    return ", ".join(Path(str(x)).name for x in t) if isinstance(t, list) else Path(str(t)).name


def _meta_track(meta: dict) -> str:
    t = meta.get("track") or (meta.get("scenario") or {}).get("tracks") or ""
    if isinstance(t, dict):
        t = t.get("name", "")
    if isinstance(t, list):
        t = t[0] if t else ""
    return Path(str(t)).name


def _looks_like_telemetry(p: Path) -> bool:
    try:
        with open(p) as f:
            head = f.readline()
        return head.startswith("env,episode,step,")
    except (OSError, UnicodeDecodeError):
        return False
