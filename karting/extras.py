"""Optional dependencies: what a user who only wants the environment does not need to install.

``pip install karting`` brings the env, the simulator and training; the extras add the GUIs
(``gui``: pygame), plots (``plots``: matplotlib), videos (``video``: imageio + ffmpeg) and cloud
training (``cloud``: modal). ``dev``/``test`` (what scripts/setup.sh installs) have them all."""
from __future__ import annotations

import importlib


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message says how to install it."""


def require(module: str, extra: str):
    """Import ``module`` (an optional dependency of the ``extra``) or raise MissingExtra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{module.split('.')[0]} is not installed; it comes with the {extra!r} "
                           f"extra: pip install 'karting[{extra}]' (scripts/setup.sh installs "
                           "every extra)") from None
