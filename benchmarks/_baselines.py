"""Baselines that benchmarks measure in the same run as the code they judge.

``bandwidth`` is the STREAM-like memory baseline of TARGETS.md: an in-place read-modify-write
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
    """One in-place sweep ``a = a * 0.5 + 0.5`` (values stay near 1: no denormals, no overflow)."""
    flat = a.reshape(-1)
    s = t = flat.dtype.type(0.5)
    (_sweep_parallel if parallel else _sweep_serial)(flat, s, t)


def bandwidth(shape: tuple[int, ...], dtype=np.float64, parallel: bool = True, repeats: int = 7,
              a: np.ndarray | None = None) -> float:
    """Median read+write bandwidth in GB/s (``2 * a.nbytes / time``) of the sweep over ``repeats``."""
    a = np.ones(shape, dtype=dtype) if a is None else a
    sweep(a, parallel)  # compile, and fault the pages in
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sweep(a, parallel)
        times.append(time.perf_counter() - t0)
    return 2 * a.nbytes / np.median(times) / 1e9
