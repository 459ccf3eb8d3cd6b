"""A track's leaderboard: the best laps and race results (`karting leaderboard --track X` shows it).

The board is ``<outputs>/leaderboards/<track>.json`` (``$KARTING_OUTPUTS`` or ``outputs``; never
committed). Writers (race, play, the expert) append under an exclusive ``fcntl`` lock on a
sibling ``.lock`` file and replace the JSON atomically, so concurrent writers never lose an
entry and a crash never leaves half a file. Only valid laps are kept; each lap records the
driver, lap time, sectors, date and the model's hash (or "human", "expert", "AI <level>").
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import sys
from pathlib import Path

from ..files import atomic_write
from ..models import resolve_model

VERSION = 1


def board_path(track_name: str, root: str | Path | None = None) -> Path:
    """Where a track's board lives."""
    root = Path(root or os.environ.get("KARTING_OUTPUTS", "outputs"))
    return root / "leaderboards" / f"{Path(track_name).stem}.json"


def model_hash(path: str | Path) -> str:
    """First 12 hex digits of the sha256 of a model file (or of a shipped model, by name)."""
    return hashlib.sha256(resolve_model(path).read_bytes()).hexdigest()[:12]


@contextlib.contextmanager
def _locked(path: Path):
    import fcntl
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def load(path: Path) -> dict:
    """The board (empty if there is none). A corrupt board is kept aside, not overwritten."""
    if not path.exists():
        return {"version": VERSION, "laps": [], "races": []}
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not isinstance(data.get("laps"), list):
            raise ValueError("not a leaderboard")
        data.setdefault("races", [])
        return data
    except (ValueError, OSError):
        keep = path.with_suffix(f".corrupt-{datetime.datetime.now():%Y%m%d-%H%M%S}.json")
        path.rename(keep)
        print(f"warning: {path} was unreadable; kept as {keep}, starting a new board", file=sys.stderr)
        return {"version": VERSION, "laps": [], "races": []}


def _append(path: Path, key: str, entries: list) -> None:
    with _locked(path):
        data = load(path)
        data[key].extend(entries)
        atomic_write(path, lambda f: json.dump(data, f, indent=1), text=True)


def now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def add_laps(track_name: str, driver: str, laps: list, source: str, root=None) -> int:
    """Append the valid laps (dicts with time_s, valid, sectors_s) of one driver; returns how
    many were kept."""
    keep = [{"driver": driver, "lap_time_s": round(float(lap["time_s"]), 3),
             "sectors_s": [round(float(x), 3) for x in lap.get("sectors_s", [])],
             "date": now(), "model": source} for lap in laps if lap.get("valid")]
    if keep:
        _append(board_path(track_name, root), "laps", keep)
    return len(keep)


def add_race(track_name: str, laps: int, results: list, root=None) -> None:
    """Append one race's classification."""
    _append(board_path(track_name, root), "races", [{"date": now(), "laps": laps, "results": results}])


def format_board(data: dict, track: str, top: int = 10) -> str:
    lines = [f"{track}: best laps"]
    best = sorted(data["laps"], key=lambda e: e["lap_time_s"])[:top]
    if not best:
        lines.append("  (no valid laps yet)")
    for k, e in enumerate(best, 1):
        secs = "  ".join(f"S{i + 1} {s:.2f}" for i, s in enumerate(e.get("sectors_s", [])))
        lines.append(f"{k:>3}. {e['lap_time_s']:8.3f} s  {e['driver'][:28]:<28} {secs}  {e['date'][:16]}  {e['model']}")
    races = data.get("races", [])
    lines.append(f"{track}: {len(races)} race(s)")
    for r in races[-5:]:
        podium = ", ".join(f"{x['position']}. {x['driver']}" for x in r["results"][:3])
        lines.append(f"  {r['date'][:16]}  {r['laps']} laps  {podium}")
    return "\n".join(lines)


def record_race(session, results, laps: int, model_paths) -> None:
    """A race on its track's leaderboard: each kart's best lap (a model by its file's hash, the
    models being karts 0..M-1) and the classification."""
    b = session.batch
    for row in results:
        i = row["kart"]
        src = model_hash(model_paths[i]) if i < len(model_paths) else row["driver"]
        if b.best_lap_time[i] > 0:
            add_laps(session.track.name, row["driver"], [{"time_s": b.best_lap_time[i], "valid": True,
                                                          "sectors_s": []}], src)
    add_race(session.track.name, laps, results)
