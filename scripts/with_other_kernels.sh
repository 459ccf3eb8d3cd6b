#!/usr/bin/env bash
# Run a command with other floating-point kernels than this CPU's best (docs/determinism.md):
# numpy's SIMD dispatch lowered to its baseline (every feature this CPU would dispatch to is
# disabled), OpenBLAS's Nehalem kernels (x86 only), torch's default kernels, and a fresh track
# cache (so that tracks are derived again under these kernels).
# Usage: scripts/with_other_kernels.sh python -m pytest -q tests/test_golden.py
set -euo pipefail
PY="${PYTHON:-python3}"
features=$("$PY" -c "
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
print(' '.join(f for f in __cpu_dispatch__ if __cpu_features__.get(f)))")
if [ -n "$features" ]; then export NPY_DISABLE_CPU_FEATURES="$features"; fi
case "$(uname -m)" in x86_64|amd64) export OPENBLAS_CORETYPE=Nehalem ;; esac
export ATEN_CPU_CAPABILITY=default
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
export KARTING_CACHE_DIR="$cache"
echo "with_other_kernels: NPY_DISABLE_CPU_FEATURES='${NPY_DISABLE_CPU_FEATURES:-}' OPENBLAS_CORETYPE='${OPENBLAS_CORETYPE:-}' ATEN_CPU_CAPABILITY=default" >&2
"$@"
