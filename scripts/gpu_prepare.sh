#!/usr/bin/env bash
# Run HERE (a machine with the package registries) before a device session: what the GPU machine
# lacks travels with the working tree (both folders are git-ignored through .git/info/exclude):
#   .whl/  Python 3.12 wheels the device image does not have (gymnasium, moderngl, glcontext, edt,
#          clarabel, farama-notifications, pettingzoo); its image has torch, numpy, scipy, pandas, pillow, ...
#   .gl/   Debian's EGL/GL dispatch libraries (glvnd), unpacked there so NVIDIA's EGL is found
#   .kcache/  a copy of this machine's track cache (built tracks, generated pool, expert laps), if any
# Then: run(command="bash scripts/gpu_check.sh", carry=[".whl", ".gl", ".kcache"], timeout_s=480)
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo /.gl/ >> .git/info/exclude
grep -qx '/.kcache/' .git/info/exclude 2>/dev/null || echo /.kcache/ >> .git/info/exclude
mkdir -p .whl .gl
plat=""
for n in 28 27 24 17; do plat="$plat --platform manylinux_2_${n}_x86_64"; done
for pkg in gymnasium farama-notifications moderngl glcontext edt clarabel pettingzoo; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    $plat --platform manylinux2014_x86_64 -d .whl "$pkg" || { echo "gpu_prepare: no wheel for $pkg"; exit 1; }
done
mkdir -p /tmp/amd64/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
apt-get $o update -qq
(cd .gl && apt-get $o download -qq libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
cache="${KARTING_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/karting}"
rm -rf .kcache && mkdir -p .kcache
[ -d "$cache" ] && cp -r "$cache"/. .kcache/
du -sh .whl .gl .kcache
