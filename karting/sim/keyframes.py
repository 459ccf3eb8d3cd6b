"""Keyframes: the whole simulation state of a Karts as named arrays, so that a replay played on
another machine follows its recording (numpy only).

A replay re-simulates a session from its actions. On the machine that recorded it that gives
the same bits; on another one, floating point can differ in the last bits (another libm, another
numpy build: see :mod:`karting.numerics`), and a kart's path drifts. So a replay also holds a
keyframe every second: :func:`capture` takes the karts (:class:`~karting.sim.physics.KartState`),
the lap bookkeeping (:class:`~karting.sim.karts.Karts`), the realism models
(:class:`~karting.sim.conditions.Conditions`), the domain randomisation's draws of a
:class:`~karting.env.batch.KartBatch` and, in a race, the
:class:`~karting.sim.race_control.RaceControl` (incidents and retirement reasons included).
Playing back, :func:`difference` compares the simulation with the keyframe at its step (``None``:
the same bits) and :func:`restore` puts the recorded state back when they differ.

:func:`pack` stores a list of keyframes compactly (each array XORed with the same array one
keyframe earlier, so that what did not change is zeros, then split into byte planes; zip
compression does the rest) and :func:`unpack` gives them back bit for bit.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .race_control import Incident

#: a re-synced replay is a mismatch (the simulation code or the actions changed, not the
#: floating point) when a correction moves a kart by more than these
TOLERANCE = {"position_m": 0.05, "speed_mps": 0.05, "yaw_rad": 0.01}


def _parts(race, control) -> list:
    """(object, its state's attribute names, key prefix) of everything a keyframe holds."""
    parts = [(race.state, race.state.FIELDS, "kart."), (race, race.STATE_FIELDS, "race.")]
    if race.model is not None:
        parts.append((race.model, race.model.STATE_FIELDS, "conditions."))
    if control is not None:
        parts.append((control, control.STATE_FIELDS, "control."))
    return parts


def capture(race, control=None) -> dict:
    """The state of ``race`` (and of its ``control``, a RaceControl) as a dict of arrays."""
    out: dict = {}
    for obj, names, prefix in _parts(race, control):
        for f in names:
            v = getattr(obj, f, None)
            if v is not None:
                out[prefix + f] = np.array(v)          # a copy; Python scalars become 0-d arrays
    drawn = getattr(race, "randomized", None)      # a KartBatch's domain randomisation: the values drawn
    for name, v in (drawn or {}).items():          # at each kart's last reset (grip, rain, looks...)
        out["randomized." + name] = np.array(v)
    if control is not None:
        out["control.incidents"] = np.array([[x.time_s, x.a, x.b, x.at_fault, x.closing_mps, x.penalty_s]
                                             for x in control.incidents], np.float64).reshape(-1, 6)
        out["control.retire_reason"] = np.array(control.retire_reason, "U64")
    return out


def restore(race, kf: dict, control=None) -> None:
    """Put the state ``kf`` (from :func:`capture`) back into ``race`` (and ``control``)."""
    for obj, names, prefix in _parts(race, control):
        for f in names:
            v = kf.get(prefix + f)
            setattr(obj, f, None if v is None else v.item() if v.ndim == 0 else v.copy())
    drawn = getattr(race, "randomized", None)
    if drawn is not None and any("randomized." + name in kf for name in drawn):
        for name, v in drawn.items():      # in place: the batch's grip_scale may be one of these arrays
            v[...] = kf.get("randomized." + name, v)
        if hasattr(race, "restored"):
            race.restored()
    if control is not None:
        control.incidents = [Incident(float(t), int(a), int(b), int(f), float(c), float(p))
                             for t, a, b, f, c, p in kf["control.incidents"]]
        control.retire_reason = [str(x) for x in kf["control.retire_reason"]]


@dataclass
class Correction:
    """How the simulation differed from a keyframe: at ``step``, the largest distance between a
    kart and where it was recorded [m], the largest speed and heading differences, and the
    names of the arrays that differed."""
    step: int
    position_m: float
    speed_mps: float
    yaw_rad: float
    fields: list = field(default_factory=list)

    @property
    def within_tolerance(self) -> bool:
        """Float noise (True), or a different simulation (False: see TOLERANCE)."""
        return (self.position_m <= TOLERANCE["position_m"] and self.speed_mps <= TOLERANCE["speed_mps"]
                and self.yaw_rad <= TOLERANCE["yaw_rad"])


def _same(a, b) -> bool:
    return a is not None and b is not None and a.dtype == b.dtype and a.shape == b.shape and \
        a.tobytes() == b.tobytes()


def difference(race, kf: dict, step: int, control=None) -> Correction | None:
    """None when ``race`` (and ``control``) hold exactly the state ``kf``; else a Correction."""
    now = capture(race, control)
    # keyframes written before they held the randomisation's draws (replay format 2) lack those keys
    fields = sorted(k for k in set(now) | set(kf) if not _same(now.get(k), kf.get(k))
                    and (k in kf or not k.startswith("randomized.")))
    if not fields:
        return None
    st = race.state
    pos = np.hypot(st.x.astype(np.float64) - kf["kart.x"], st.y.astype(np.float64) - kf["kart.y"])
    speed = np.hypot(st.vx.astype(np.float64) - kf["kart.vx"], st.vy.astype(np.float64) - kf["kart.vy"])
    dyaw = np.abs(np.mod(st.yaw.astype(np.float64) - kf["kart.yaw"] + np.pi, 2 * np.pi) - np.pi)
    return Correction(step, float(pos.max(initial=0.0)), float(speed.max(initial=0.0)),
                      float(dyaw.max(initial=0.0)), fields)


# ---------------------------------------------------------------------------- storage

def _planes(a: np.ndarray) -> np.ndarray:
    """uint8 bytes of ``a`` (K, ...) split into byte planes: byte 0 of every value, then byte 1..."""
    b = np.ascontiguousarray(a).view(np.uint8).reshape(a.shape[0], -1, a.dtype.itemsize)
    return np.ascontiguousarray(b.transpose(2, 0, 1)).ravel()


def _unplanes(raw: np.ndarray, dtype, shape) -> np.ndarray:
    item = np.dtype(dtype).itemsize
    b = raw.reshape(item, shape[0], -1).transpose(1, 2, 0)
    return np.ascontiguousarray(b).view(dtype).reshape(shape)


def _uint(dtype):
    return np.dtype(f"u{np.dtype(dtype).itemsize}")


def pack(keyframes: list, steps: list) -> dict:
    """``keyframes`` (dicts of arrays, taken at ``steps``) as arrays for a .replay file."""
    names: list = []
    for kf in keyframes:
        names += [k for k in kf if k not in names]
    schema, arrays = [], {}
    for i, name in enumerate(names):
        vals = [kf.get(name) for kf in keyframes]
        present = [v for v in vals if v is not None]
        first = present[0]
        same = all(v is not None and v.shape == first.shape and v.dtype == first.dtype for v in vals) \
            and first.dtype.kind in "biuf"
        if same:      # XOR with the keyframe before, byte planes
            stack = np.stack(vals).view(np.uint8 if first.dtype.kind == "b" else _uint(first.dtype))
            delta = stack.copy()
            delta[1:] ^= stack[:-1]
            arrays[f"kf{i}"] = _planes(delta)
        else:
            arrays[f"kf{i}"] = np.concatenate([np.ascontiguousarray(v).view(np.uint8).ravel() for v in present])
        schema.append({"name": name, "delta": same,
                       "dtypes": [None if v is None else v.dtype.str for v in vals],
                       "shapes": [None if v is None else list(v.shape) for v in vals]})
    arrays["keyframe_steps"] = np.asarray(steps, np.int64)
    arrays["keyframe_schema"] = np.frombuffer(json.dumps(schema).encode(), np.uint8)
    return arrays


def unpack(z) -> tuple:
    """(steps, keyframes) from the arrays :func:`pack` made (``z``: a mapping, e.g. an NpzFile)."""
    if "keyframe_schema" not in z:
        return np.zeros(0, np.int64), []
    steps = np.asarray(z["keyframe_steps"], np.int64)
    schema = json.loads(bytes(z["keyframe_schema"]).decode())
    out = [dict() for _ in steps]
    for i, s in enumerate(schema):
        raw = np.asarray(z[f"kf{i}"], np.uint8)
        if s["delta"]:
            dtype = np.dtype(s["dtypes"][0])
            u = np.dtype(np.uint8) if dtype.kind == "b" else _uint(dtype)
            stack = np.bitwise_xor.accumulate(_unplanes(raw, u, (len(steps), *s["shapes"][0])), axis=0)
            vals = list(stack.view(dtype))
        else:
            vals, pos = [], 0
            for dt, shp in zip(s["dtypes"], s["shapes"]):
                if shp is None:
                    vals.append(None)
                    continue
                dt = np.dtype(dt)
                nbytes = int(np.prod(shp, dtype=np.int64)) * dt.itemsize
                vals.append(raw[pos:pos + nbytes].view(dt).reshape(shp))
                pos += nbytes
        for kf, v in zip(out, vals):
            if v is not None:
                kf[s["name"]] = np.array(v)
    return steps, out


__all__ = ["TOLERANCE", "Correction", "capture", "restore", "difference", "pack", "unpack"]
