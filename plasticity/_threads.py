"""Thread pools of the numerical libraries: pin them for a block, or size them for a sweep worker.

numpy and scipy wheels each bundle their own OpenBLAS with its own thread pool (and torch and
numba have theirs). Two pools that each take every core, or workers that each start pools of
all cores, oversubscribe the machine: on 2 cores, 2 sweep workers x 2 BLAS threads made one
250 x 250 ``eigvals`` 50x slower (measured). :func:`limit_threads` sizes every pool of a
sweep worker to its share of the cores; the ``*_blas_single_thread`` blocks pin one pool while
another works (the Lyapunov loop, :mod:`plasticity.metrics._householder`).
"""
from __future__ import annotations

import ctypes
import glob
import os
import sys
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator

__all__ = ["limit_threads", "numpy_blas_single_thread", "scipy_blas_single_thread"]

#: Environment variables read by BLAS / OpenMP libraries when they load (later in the process).
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@lru_cache(maxsize=2)
def _bundled_openblas(package: str) -> tuple[Any, Any] | None:
    """``(set_num_threads, get_num_threads)`` of the OpenBLAS bundled in ``package``'s wheel
    (``numpy`` or ``scipy``), or None.

    Only a library inside ``<package>.libs`` is touched: it is private to that package, so pinning
    it never slows the other (a system BLAS shared by both is left alone).
    """
    module = __import__(package)
    libdir = os.path.join(os.path.dirname(os.path.dirname(module.__file__)), f"{package}.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "*openblas*.so*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for suffix in ("scipy_openblas_{}_num_threads64_", "scipy_openblas_{}_num_threads",
                       "openblas_{}_num_threads64_", "openblas_{}_num_threads"):
            setter, getter = (getattr(lib, suffix.format(v), None) for v in ("set", "get"))
            if setter is not None and getter is not None:
                setter.restype, getter.restype = None, ctypes.c_int
                setter.argtypes = [ctypes.c_int]
                return setter, getter
    return None


@contextmanager
def _blas_single_thread(package: str) -> Iterator[None]:
    found = _bundled_openblas(package)
    if found is None:
        yield
        return
    setter, getter = found
    before = int(getter())
    setter(1)
    try:
        yield
    finally:
        setter(before)


def numpy_blas_single_thread():
    """Within the block, numpy's bundled OpenBLAS runs on one thread (no-op when not found)."""
    return _blas_single_thread("numpy")


def scipy_blas_single_thread():
    """Within the block, scipy's bundled OpenBLAS runs on one thread (no-op when not found)."""
    return _blas_single_thread("scipy")


def limit_threads(threads: int) -> None:
    """Size this process's thread pools to ``threads``: numba's, the bundled OpenBLAS of numpy and
    scipy and torch's when loaded, and through :data:`THREAD_VARIABLES` those loaded later.

    For a sweep worker (its share of the cores). Libraries not yet imported are not imported.
    """
    threads = max(1, int(threads))
    for var in THREAD_VARIABLES:
        os.environ[var] = str(threads)
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    for package in ("numpy", "scipy"):
        if package in sys.modules:
            found = _bundled_openblas(package)
            if found is not None:
                found[0](threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
