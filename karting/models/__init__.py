"""Models shipped with the package, by name: ``--model generalist`` (a driver for any track) and
``--model racer`` (the generalist fine-tuned to race in traffic on circuit.png) in play, race,
benchmark and ``karting.train --resume-from``. Each is an ordinary checkpoint of ``karting.train``
(read with ``torch.load(weights_only=True)`` like any model file); docs/guide/generalist.md and
docs/guide/racing.md say how each was trained."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIPPED = {"generalist": HERE / "generalist.pt", "racer": HERE / "racer.pt"}


def resolve_model(spec) -> Path:
    """A shipped model's name -> its file; anything else is a path, returned as given."""
    s = str(spec)
    if s in SHIPPED and not Path(s).exists():
        return SHIPPED[s]
    return Path(s)


def model_label(spec) -> str:
    """How a model is named in tables and leaderboards: ``run/file.pt``, or the shipped name."""
    p = Path(str(spec))
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name
