"""One track's entry of ``checkpoints.json``: its schema and validation (the file itself is
:mod:`karting.track.catalog`'s)."""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from .errors import TrackError
from .paint import DEFAULT_SCALE_M_PER_PX

SCHEMA_VERSION = 1


def default_checkpoints_path(png: Path) -> Path:
    """The checkpoints.json next to a track PNG."""
    return Path(png).resolve().parent / "checkpoints.json"


def geometry_entry(entry: dict) -> dict:
    """The part of an entry the track's derivation reads (a saved kart setup is not)."""
    return {k: v for k, v in entry.items() if k != "setup"}


def track_content_key(path: Path, entry: dict) -> str:
    """What a track is, on any machine and in any version of karting: the PNG's bytes and the
    part of its checkpoints.json entry the derivation reads (a replay names its track by it)."""
    h = hashlib.sha256(b"karting track content v1\n")
    h.update(json.dumps(geometry_entry(entry), sort_keys=True).encode())
    h.update(b"\n")
    h.update(Path(path).read_bytes())
    return h.hexdigest()


def _is_point(p):
    return (isinstance(p, (list, tuple)) and len(p) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in p))


def validate_entry(entry: dict, where: str = "entry") -> None:
    """Raise TrackError (naming ``where`` and the field) unless ``entry`` follows the schema."""
    if not isinstance(entry, dict):
        raise TrackError(f"{where}: must be an object")
    known = {"scale_m_per_px", "direction", "checkpoints", "sectors", "start", "setup"}
    extra = set(entry) - known
    if extra:
        raise TrackError(f"{where}: unknown keys {sorted(extra)}; allowed: {sorted(known)}")
    sc = entry.get("scale_m_per_px", DEFAULT_SCALE_M_PER_PX)
    if not isinstance(sc, (int, float)) or isinstance(sc, bool) or not (0.01 <= sc <= 10):
        raise TrackError(f"{where}: scale_m_per_px must be a number in [0.01, 10], got {sc!r}")
    if entry.get("direction", "clockwise") not in ("clockwise", "counterclockwise"):
        raise TrackError(f'{where}: direction must be "clockwise" or "counterclockwise"')
    cps = entry.get("checkpoints")
    if cps is not None:
        if not isinstance(cps, list) or len(cps) < 3:
            raise TrackError(f"{where}: checkpoints must be a list of at least 3 gates")
        for i, g in enumerate(cps):
            if not (isinstance(g, list) and len(g) == 2 and all(_is_point(p) for p in g)):
                raise TrackError(f"{where}: checkpoints[{i}] must be [[x1, y1], [x2, y2]] in pixels")
    secs = entry.get("sectors")
    if secs is not None:
        n = len(cps) if cps is not None else None
        if (not isinstance(secs, list) or len(secs) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in secs)
                or not 0 < secs[0] < secs[1] or (n is not None and secs[1] >= n)):
            raise TrackError(f"{where}: sectors must be two increasing gate indices [i, j] with "
                             "0 < i < j < number of checkpoints")
    su = entry.get("setup")
    if su is not None:     # python -m karting.tune --save: {weather: {field: number, ...}}
        if not isinstance(su, dict) or not all(
                isinstance(v, dict) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v.values())
                for v in su.values()):
            raise TrackError(f'{where}: setup must be {{"WEATHER": {{"sprocket": 80, ...}}}} '
                             "(written by python -m karting.tune --save)")
    st = entry.get("start")
    if st is not None:
        if not (isinstance(st, dict) and set(st) <= {"x", "y", "heading_deg"}
                and all(k in st for k in ("x", "y", "heading_deg"))
                and _is_point([st["x"], st["y"]]) and _is_point([st["heading_deg"], 0])):
            raise TrackError(f'{where}: start must be {{"x": px, "y": px, "heading_deg": deg}}')
