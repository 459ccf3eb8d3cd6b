"""A real X server for GUI tests: Xvfb on a free display number, screenshots with ImageMagick's
``import``, keyboard and mouse through XTEST with ``xdotool`` (what a person's keyboard sends).

SDL's dummy driver hides what a real display brings (GLX probing, window surfaces): it hid a
segfault in karting.drive. scripts/setup.sh installs xvfb, imagemagick and xdotool; a missing
one is a failure, not a skip."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
TOOLS = ("Xvfb", "import", "xdotool")


class XServer:
    def __init__(self, size=(1280, 900)):
        missing = [t for t in TOOLS if shutil.which(t) is None]
        if missing:
            raise RuntimeError(f"GUI tests need {missing}: run scripts/setup.sh "
                               "(apt-get install xvfb imagemagick xdotool)")
        # Xvfb picks a free display number itself and writes it to a pipe (-displayfd): two test
        # processes starting a server at the same moment can no longer take the same number
        r, w = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", f"{size[0]}x{size[1]}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(w,))
        os.close(w)
        with os.fdopen(r) as f:
            line = f.readline().strip()          # written once the server accepts connections
        if not line.isdigit():
            self.proc.kill()
            raise RuntimeError(f"Xvfb did not start (exit {self.proc.poll()})")
        self.num = int(line)
        self.display = f":{self.num}"
        self.env = {k: v for k, v in os.environ.items() if k not in ("SDL_VIDEODRIVER", "WAYLAND_DISPLAY")}
        self.env.update(DISPLAY=self.display, PYGAME_HIDE_SUPPORT_PROMPT="1")

    def run(self, *args, check=True):
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True, check=check,
                              timeout=30)

    def launch(self, args, cwd=REPO):
        """Start a program on this display (its output goes to pipes read at the end)."""
        return subprocess.Popen([sys.executable, *args], cwd=cwd, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def window(self, classname, proc, timeout=60.0):
        """Id of the visible window whose WM_CLASS matches, once it shows something."""
        t0 = time.time()
        while time.time() - t0 < timeout:
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"the program exited ({proc.returncode}) before showing a "
                                     f"window:\n{out}\n{err}")
            r = self.run("xdotool", "search", "--onlyvisible", "--classname", classname, check=False)
            ids = r.stdout.split()
            if ids:
                return ids[-1]
            time.sleep(0.2)
        raise AssertionError(f"no {classname} window on {self.display} after {timeout} s")

    def screenshot(self, wid=None, path=None) -> np.ndarray:
        """(H, W, 3) uint8 of a window (or the whole screen) as the X server shows it."""
        from PIL import Image
        r = subprocess.run(["import", "-window", wid or "root", "png:-"], env=self.env,
                           capture_output=True, check=True, timeout=30)
        img = Image.open(io.BytesIO(r.stdout)).convert("RGB")
        if path is not None:
            img.save(path)
        return np.asarray(img)

    def focus(self, wid):
        """Put the pointer in the window: with no window manager, keys go where the pointer is."""
        self.run("xdotool", "mousemove", "--window", wid, "40", "40")

    def keys(self, *keys):
        self.run("xdotool", "key", "--delay", "60", *keys)

    def hold(self, key, seconds):
        self.run("xdotool", "keydown", key)
        time.sleep(seconds)
        self.run("xdotool", "keyup", key)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def finish(proc, timeout=30):
    """Wait for a program to exit; (returncode, stdout, stderr)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the program did not exit in {timeout} s:\n{out}\n{err}")
    return proc.returncode, out, err


def colour_fraction(img, lo, hi):
    """Fraction of pixels with every channel within [lo, hi] (per channel)."""
    lo, hi = np.asarray(lo), np.asarray(hi)
    return float(np.all((img >= lo) & (img <= hi), axis=-1).mean())
