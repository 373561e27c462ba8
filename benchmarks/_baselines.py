"""Baselines that benchmarks measure in the same run as the code they judge.

``bandwidth`` is the STREAM-like memory baseline of benchmarks/TARGETS.md: an in-place read-modify-write
sweep ``a[i] = a[i] * s + t`` in numba over an array of a given size, on numba's threads (the
threads the kernels use), reported as bytes moved (read + write) per second.
"""
from __future__ import annotations

import time

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def _sweep_serial(a, s, t):
    for i in range(a.shape[0]):
        a[i] = a[i] * s + t


@njit(cache=True, nogil=True, parallel=True)
def _sweep_parallel(a, s, t):
    for i in prange(a.shape[0]):  # numba gives each thread one contiguous block
        a[i] = a[i] * s + t


def sweep(a: np.ndarray, parallel: bool = True) -> None:
    """One in-place sweep ``a = a * (-1) + 1``.

    Every stored value differs from the one it replaces (for ``a`` away from 0.5), as in the
    plastic step: a precaution against any hardware shortcut for stores of unchanged values
    (a converging sweep, ``a * 0.5 + 0.5``, measured the same here).
    """
    flat = a.reshape(-1)
    (_sweep_parallel if parallel else _sweep_serial)(flat, flat.dtype.type(-1.0), flat.dtype.type(1.0))


def sweep_array(shape: tuple[int, ...], dtype=np.float64, seed: int = 0) -> np.ndarray:
    """An array for :func:`sweep`: values in [0.1, 0.4] (they alternate with 1 - a)."""
    return np.random.default_rng(seed).uniform(0.1, 0.4, shape).astype(dtype)


def bandwidth(shape: tuple[int, ...], dtype=np.float64, parallel: bool = True, repeats: int = 7,
              a: np.ndarray | None = None) -> float:
    """Median read+write bandwidth in GB/s (``2 * a.nbytes / time``) of the sweep over ``repeats``."""
    a = sweep_array(shape, dtype) if a is None else a
    sweep(a, parallel)  # compile, and fault the pages in
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sweep(a, parallel)
        times.append(time.perf_counter() - t0)
    return 2 * a.nbytes / np.median(times) / 1e9
