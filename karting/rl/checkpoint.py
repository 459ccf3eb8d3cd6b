"""Model files: atomic saves, safe loads, clear errors.

A checkpoint is a ``torch.save`` of plain data only (tensors, numbers, strings, lists, dicts):
the model's state dict (with the telemetry normaliser), the optimizer's state, the reward
scaler's state, the step count and the run's config. It is read with
``torch.load(..., weights_only=True)``, whose unpickler refuses anything else, so a model file
cannot run code when it is opened.

Writes go to a temporary file in the same folder, are flushed to disk, then renamed over the
target (``os.replace`` is atomic on POSIX and Windows): a run killed at any moment leaves either
the previous file or the new one, never half of one.
"""
from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import torch

from ..env.spec import observation_space
from ..files import atomic_write
from ..models import SHIPPED, resolve_model
from .config import TrainConfig
from .policy import Agent
from .ppo import LowPrecisionCopy
from .sac import SACAgent

FORMAT = "karting-ppo"
VERSION = 1


class CheckpointError(ValueError):
    """A model file cannot be used; the message says why and what to do."""


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Write ``payload`` (plain data and tensors) atomically; adds the format marker."""
    data = {"format": FORMAT, "version": VERSION, **payload}
    return atomic_write(path, lambda f: torch.save(data, f))


def save_json(path: str | Path, obj) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2)), text=True)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Read a checkpoint safely; ``CheckpointError`` for anything that is not a usable one.
    ``path`` may be the name of a model shipped with the package (``generalist``)."""
    shipped = str(path) in SHIPPED
    path = resolve_model(path)
    if shipped and not path.is_file():
        raise CheckpointError(f"{path}: the shipped model {path.stem!r} is not in this installation "
                              "(reinstall karting, or give a path to a .pt file)")
    if not path.is_file():
        hint = ""
        if path.parent.is_dir():
            found = sorted(p.name for p in path.parent.glob("*.pt"))
            hint = f"; files in {path.parent}: {', '.join(found) or 'none'}"
        raise CheckpointError(f"{path}: no such model file{hint}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError,
            ValueError) as e:
        msg = str(e)
        if "GLOBAL" in msg or "Unsupported global" in msg:
            what = next((ln.strip() for ln in msg.splitlines() if "GLOBAL" in ln or "global" in ln), "")
            raise CheckpointError(
                f"{path}: refused to load: the file holds Python objects other than tensors and "
                f"plain data, which could run code when opened ({what[:200]}). Only load model "
                "files written by karting.train, or from a source you trust.") from None
        raise CheckpointError(
            f"{path}: not a readable model file, or truncated/corrupted ({type(e).__name__}). "
            "Use another checkpoint from the same folder (periodic step_*.pt, best.pt, "
            "final.pt).") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a karting model file (no '{FORMAT}' marker); "
                              "give a .pt written by python -m karting.train")
    if data.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: written by a newer karting (format version "
                              f"{data['version']} > {VERSION}); upgrade karting to read it")
    for key in ("model", "config"):
        if key not in data:
            raise CheckpointError(f"{path}: the model file has no '{key}' entry; it is incomplete")
    return data


def build_agent(data: dict, path: str | Path = "checkpoint", device="cpu") -> tuple:
    """The ``Agent`` described by a loaded checkpoint, with its weights (and normaliser)."""
    cfg = TrainConfig.from_dict(data["config"])
    if cfg.algo == "sac":
        agent = SACAgent(frame_stack=cfg.frame_stack, telemetry_history=cfg.telemetry_history, **cfg.agent_inputs())
    else:
        agent = Agent(frame_stack=cfg.frame_stack, telemetry_history=cfg.telemetry_history,
                      log_std_init=cfg.log_std_init, **cfg.agent_inputs())
    try:
        agent.load_state_dict(data["model"])
    except (RuntimeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: the weights do not fit the network its config describes "
                              f"(frame_stack={cfg.frame_stack}, telemetry_history={cfg.telemetry_history}, "
                              f"preview={cfg.preview}, critic={cfg.critic}): "
                              f"{str(e).splitlines()[0][:300]}") from None
    return agent.to(device), cfg


def load_agent(path: str | Path, device="cpu", as_trained: bool = False) -> tuple:
    """``(agent, config, checkpoint dict)`` from a model file, ready for evaluation; with
    ``as_trained`` the agent runs in the arithmetic its run trained in (a bfloat16 working copy
    where the run's precision resolves to bfloat16 on ``device``), as play and the benchmark drive."""
    data = load_checkpoint(path, map_location=device)
    agent, cfg = build_agent(data, path, device)
    agent.eval()
    if as_trained and cfg.bfloat16(device):
        agent = LowPrecisionCopy(agent).work
    return agent, cfg, data


def load_models(paths, device):
    """[(agent, config)] for each model file; all must share one observation space."""
    out = []
    for p in paths:
        agent, cfg, _ = load_agent(p, device)
        out.append((agent, cfg))
    shapes = {(c.frame_stack, c.telemetry_history, c.obs_preview) for _, c in out}
    if len(shapes) > 1:
        a, b = sorted(shapes)[:2]
        raise ValueError(f"the models' observation spaces differ: {observation_space(*a)} vs {observation_space(*b)}; "
                         "race models trained with the same frame_stack, telemetry_history and preview")
    return out


EXPORT_KEYS = ("model", "config", "global_step", "update", "best_score", "eval", "reward_scaler")


def export_model(src: str | Path, dst: str | Path, note: dict | None = None) -> Path:
    """A model file to publish or ship: the driving weights (the weight average where the run
    kept one), config, step count, last evaluation and reward scaler of ``src``, without the
    optimizer state, the raw training weights and the RNG state (a third of the size or less).
    ``note`` (plain data: the command, wall time...) is stored as ``export_note``. It loads like
    any model file; ``karting.train --resume-from`` on it fine-tunes with a fresh optimizer."""
    data = load_checkpoint(src)
    payload = {k: data[k] for k in EXPORT_KEYS if k in data}
    if note is not None:
        payload["export_note"] = note
    return save_checkpoint(dst, payload)
