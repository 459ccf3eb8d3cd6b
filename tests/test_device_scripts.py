"""scripts/gpu_prepare.sh and scripts/gpu_check.sh, the accelerator check, without an accelerator:
what gpu_check.sh imports must be on the device's image or among the wheels gpu_prepare.sh carries
(the first device session found pettingzoo missing: karting.bench imports it), and the script parses."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: distributions of pyproject.toml's dependencies and extras that the device image ('cuda', read on
#: 2026-11-17 from the workplace's device notes) already holds
ON_THE_IMAGE = {"torch", "numpy", "scipy", "pillow", "contourpy", "pandas", "tensorboard", "tqdm", "matplotlib",
                "imageio", "pytest", "pytest-xdist"}
#: import names of distributions whose module is named otherwise
MODULE = {"pillow": "PIL", "box2d": "Box2D", "stable-baselines3": "stable_baselines3",
          "imageio-ffmpeg": "imageio_ffmpeg", "mkdocs-material": "material", "pytest-xdist": "xdist",
          "farama-notifications": "farama_notifications"}
#: what gpu_check.sh's Python imports from karting
CHECKED = ("karting.env.render", "karting.bench", "karting.env", "karting.rl.config", "karting.rl.trainer",
           "karting.rl.checkpoint", "karting.generalisation")


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement.strip(), maxsplit=1)[0].lower()


def carried() -> set:
    text = (ROOT / "scripts" / "gpu_prepare.sh").read_text()
    return set(re.search(r"for pkg in ([^;]+); do", text).group(1).split())


def test_what_gpu_check_imports_is_on_the_device():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for reqs in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in reqs if not r.startswith("karting")}
    missing = wanted - ON_THE_IMAGE - carried()
    blocked = sorted(MODULE.get(d, d.replace("-", "_")) for d in missing)
    assert "pygame" in blocked                         # a dependency the device really lacks is blocked
    code = f"""
import sys
BLOCKED = {blocked!r}
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is neither on the device image nor carried by scripts/gpu_prepare.sh")
sys.meta_path.insert(0, Blocker())
import {", ".join(CHECKED)}
import pygame
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    # everything gpu_check.sh imports loads; the blocker works (the last import, pygame, is refused)
    assert "pygame is neither on the device image" in r.stderr, r.stderr[-3000:]


def test_the_device_scripts_parse():
    for script in ("gpu_check.sh", "gpu_prepare.sh"):
        r = subprocess.run(["bash", "-n", str(ROOT / "scripts" / script)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
