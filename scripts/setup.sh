#!/usr/bin/env bash
# Install everything the project needs on a fresh machine: the Debian packages for headless
# OpenGL (EGL + Mesa's software rasteriser) and for the GUI tests (Xvfb, ImageMagick, xdotool;
# Chromium and ChromeDriver for the HTML pages' tests),
# the CPU build of torch, then this package.
# Usage: scripts/setup.sh [extras]   e.g. scripts/setup.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"

# (grep without -q: under pipefail, grep -q closing the pipe early would fail ldconfig)
have_egl() {
  ldconfig -p 2>/dev/null | grep 'libEGL.so.1' >/dev/null &&
    { compgen -G '/usr/lib/*/dri/swrast_dri.so' >/dev/null ||
      compgen -G '/usr/lib/dri/swrast_dri.so' >/dev/null ||
      ldconfig -p 2>/dev/null | grep 'libgallium' >/dev/null; }
}
# the GUI tests (tests/test_gui_x11.py) run the pygame programs on a real X server: Xvfb,
# ImageMagick's `import` for screenshots, xdotool for key presses
have_gui_test_tools() {
  command -v Xvfb >/dev/null && command -v import >/dev/null && command -v xdotool >/dev/null
}
pkgs=""
have_egl || pkgs="libegl1 libgl1-mesa-dri libgles2"
if ! have_gui_test_tools; then pkgs="$pkgs xvfb imagemagick xdotool"; fi
# the coaching report's test looks at the HTML page in headless Chromium (tests/test_coach.py), the
# dashboard's tests drive it through ChromeDriver (Selenium; tests/test_dashboard.py)
if [ "$extras" = test ] && ! command -v chromium >/dev/null; then pkgs="$pkgs chromium"; fi
if [ "$extras" = test ] && ! command -v chromedriver >/dev/null; then pkgs="$pkgs chromium-driver"; fi
if [ -n "$pkgs" ]; then
  echo "setup: installing Debian packages:$pkgs"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $pkgs >/dev/null
fi

PY="${PYTHON:-python3}"
# torch: the pinned CPU wheel when it is at hand (a looser requirement pulls GBs of CUDA)
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q "torch==2.13.0"
fi
"$PY" -m pip install -q -e ".[${extras}]"
