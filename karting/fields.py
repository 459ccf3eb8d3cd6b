"""Documented dataclass fields: the help, unit and allowed range of each option live next to
the field, and the documentation site's reference tables are generated from them
(``docs/hooks/reference.py``), so the reference cannot drift from the code."""
from __future__ import annotations

from dataclasses import field


def documented(default, help: str, unit: str = "", allowed: str = ""):
    """A dataclass field with its documentation; a class as ``default`` is its default factory."""
    meta = {"help": help, "unit": unit, "range": allowed}
    if isinstance(default, type):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)
