"""Floating point that does not depend on the CPU: the few operations of the simulation and of the
track derivation whose results numpy, scipy and OpenBLAS compute differently on different CPUs,
done here in a way that gives the same bits on every x86-64 CPU (and almost surely elsewhere).

What differs, measured with numpy 2.4.6 / scipy 1.17.1 on an AMD EPYC (Zen 4) by lowering the
dispatch (``NPY_DISABLE_CPU_FEATURES``, ``OPENBLAS_CORETYPE``; docs/determinism.md has the table):

* numpy's float32 ``sin``, ``cos``, ``tan``, ``tanh``, ``arctan``, ``arctan2`` and its float64
  ``exp``, ``log``, ``power``, ``tan``, ``arctan``, ``arctan2`` take SIMD kernels (AVX-512 with
  Intel's SVML, AVX2, SSE) that disagree in the last bit;
* anything that reaches BLAS: ``np.dot``, ``@``, ``np.linalg.norm`` of a whole vector, and
  ``np.convolve`` / ``np.correlate`` (the dtype's dot product);
* ``scipy.ndimage.gaussian_filter*``: its kernel weights come from ``np.exp``.

Elementwise ``+ - * /``, ``sqrt``, ``hypot``, ``mod``, comparisons, ``np.sum`` / ``mean`` /
``cumsum`` (numpy's pairwise summation runs in one order on every CPU) and numpy's float64
``sin``/``cos`` agree bit for bit. So here:

* a function of float32 values (or of any values whose result is used at float32 precision) is
  evaluated in float64 and rounded to float32: two float64 libraries that agree within a few
  units in the last place round to the same float32 unless the exact value lies within those
  few units of a float32 rounding boundary (about 1 value in 10^8); the result keeps numpy's
  dtype (float32 in, float32 out; float64 in, the float32-rounded value as float64);
* dot products and sums of products use ``np.sum`` (a fixed order), moving sums a fixed sequence
  of shifted additions, Gaussian smoothing weights from ``exp`` rounded to float32.

:func:`native_kernels` switches every function here back to numpy's and scipy's own (this CPU's
kernels), as karting computed them before: replays of format 1 re-simulate bit-exactly on the
machine that recorded them only that way. ``KARTING_NATIVE_KERNELS=1`` in the environment does
it for a whole process: the floats then differ in their last bits from every other machine's,
which is how the tests emulate a machine with another libm (the golden tests and the replays'
keyframes must absorb it).
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

_native = os.environ.get("KARTING_NATIVE_KERNELS", "").strip() not in ("", "0")
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


@contextlib.contextmanager
def native_kernels():
    """Within this block, the functions of this module are numpy's and scipy's own."""
    global _native
    old, _native = _native, True
    try:
        yield
    finally:
        _native = old


def is_native() -> bool:
    """True inside :func:`native_kernels`."""
    return _native


def _rounded(y, x, x2=None):
    """float64 ``y`` rounded to float32, in the dtype numpy gives ``fn(x[, x2])``."""
    y = y.astype(_F32)
    # float32 arrays, the simulation's case, first (this runs ~50 times a step)
    if getattr(x, "dtype", None) is _F32 and (x2 is None or getattr(x2, "dtype", None) is _F32):
        return y
    dt = np.result_type(x) if x2 is None else np.result_type(x, x2)
    return y if dt == _F32 else y.astype(_F64)


def sin(x):
    """``np.sin`` with a CPU-independent result (see the module docstring)."""
    return np.sin(x) if _native else _rounded(np.sin(x, dtype=_F64), x)


def cos(x):
    """``np.cos``, CPU-independent."""
    return np.cos(x) if _native else _rounded(np.cos(x, dtype=_F64), x)


def cos_sin(x) -> tuple:
    """``(np.cos(x), np.sin(x))``, CPU-independent (one conversion to float64 for both)."""
    if _native:
        return np.cos(x), np.sin(x)
    x64 = np.asarray(x, _F64)
    return _rounded(np.cos(x64), x), _rounded(np.sin(x64), x)


def tan(x):
    """``np.tan``, CPU-independent."""
    return np.tan(x) if _native else _rounded(np.tan(x, dtype=_F64), x)


def tanh(x):
    """``np.tanh``, CPU-independent."""
    return np.tanh(x) if _native else _rounded(np.tanh(x, dtype=_F64), x)


def arctan(x):
    """``np.arctan``, CPU-independent."""
    return np.arctan(x) if _native else _rounded(np.arctan(x, dtype=_F64), x)


def arctan2(y, x):
    """``np.arctan2``, CPU-independent."""
    return np.arctan2(y, x) if _native else _rounded(np.arctan2(y, x, dtype=_F64), y, x)


def hypot(x, y):
    """``np.hypot``, CPU-independent."""
    return np.hypot(x, y) if _native else _rounded(np.hypot(x, y, dtype=_F64), x, y)


def exp(x):
    """``np.exp``, CPU-independent."""
    return np.exp(x) if _native else _rounded(np.exp(x, dtype=_F64), x)


def cube(x):
    """``x ** 3`` (numpy's float64 ``power`` differs between CPUs; two products do not)."""
    return x ** 3 if _native else x * x * x


def dot(a, b) -> float:
    """The dot product of two 1-D arrays: ``np.sum(a * b)`` (BLAS's ``ddot`` adds in an order
    that depends on the CPU)."""
    return float(a @ b) if _native else float(np.sum(np.asarray(a) * np.asarray(b)))


def convolve_valid(a: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``np.convolve(a, kernel, mode="valid")`` (which calls BLAS's dot product), as a fixed
    sequence of shifted, scaled additions."""
    if _native:
        return np.convolve(a, kernel, mode="valid")
    a, k = np.asarray(a, np.float64), np.asarray(kernel, np.float64)[::-1]
    m = len(a) - len(k) + 1
    out = k[0] * a[:m]
    for j in range(1, len(k)):
        out = out + k[j] * a[j:j + m]
    return out


def moving_sum(a: np.ndarray, win: int) -> np.ndarray:
    """Sums of ``win`` consecutive values (``len(a) - win + 1`` of them), in a fixed order
    (``np.convolve(a, np.ones(win), "valid")``)."""
    if _native:
        return np.convolve(a, np.ones(win), mode="valid")
    a = np.asarray(a, np.float64)
    m = len(a) - win + 1
    out = a[:m].copy()
    for j in range(1, win):
        out += a[j:j + m]
    return out


def gaussian_weights(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """scipy.ndimage's Gaussian kernel (radius ``int(truncate * sigma + 0.5)``, summing to 1),
    from ``exp`` rounded to float32."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = exp(-0.5 / (float(sigma) ** 2) * x * x)
    return phi / phi.sum()


def gaussian_filter1d(a: np.ndarray, sigma: float, axis: int = -1, mode: str = "reflect") -> np.ndarray:
    """``scipy.ndimage.gaussian_filter1d`` with CPU-independent weights."""
    from scipy import ndimage
    if _native:
        return ndimage.gaussian_filter1d(a, sigma, axis=axis, mode=mode)
    return ndimage.correlate1d(np.asarray(a, np.float64), gaussian_weights(sigma), axis=axis, mode=mode)


def gaussian_filter(a: np.ndarray, sigma: float, mode: str = "reflect") -> np.ndarray:
    """``scipy.ndimage.gaussian_filter`` of a float array (every axis), CPU-independent."""
    from scipy import ndimage
    if _native:
        return ndimage.gaussian_filter(a, sigma, mode=mode)
    out = np.asarray(a)
    w = gaussian_weights(sigma)
    for ax in range(out.ndim):
        out = ndimage.correlate1d(out, w, axis=ax, mode=mode)
    return out


__all__ = ["native_kernels", "is_native", "sin", "cos", "cos_sin", "tan", "tanh", "arctan", "arctan2", "hypot",
           "exp", "cube", "dot", "convolve_valid", "moving_sum", "gaussian_weights", "gaussian_filter1d",
           "gaussian_filter"]
