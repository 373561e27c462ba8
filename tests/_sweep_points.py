"""Point functions for the sweep tests (module level, so that worker processes can unpickle them).

Functions that must be counted append one line per call to the file named by the
``SWEEP_CALL_LOG`` environment variable (workers inherit it; appends of one short line are
atomic on POSIX, so concurrent workers do not interleave).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from plasticity._validation import as_rng


SCALE = 1.0  # a module-level value read by `scaled`: part of its fingerprint


def log_call(tag: str) -> None:
    path = os.environ.get("SWEEP_CALL_LOG")
    if path:
        with open(path, "a") as f:
            f.write(f"{tag}\n")


def calls(path: Path) -> list[str]:
    return Path(path).read_text().split() if Path(path).exists() else []


def square(x, scale=1.0):
    """Scalars of every kind, a numpy scalar, a bool and an array."""
    return {"y": np.float64(x) ** 2 * scale, "n": np.int64(x), "big": bool(x > 1), "label": f"x={x}",
            "trace": np.arange(3, dtype=float) * x}


def draw(x, seed):
    """A random number from the point's seed: equal seeds give equal draws."""
    return {"u": float(as_rng(seed).random()), "seed_seen": seed}


def slow_logged(x):
    log_call(str(x))
    time.sleep(float(os.environ.get("SWEEP_SLEEP", "0.05")))
    return {"y": 2 * x, "ys": np.full(4, x, dtype=np.int32)}


def fails_on_two(x):
    log_call(str(x))
    if x == 2:
        raise ValueError(f"x={x} is not allowed here")
    return {"y": x}


def fails_until_flag(x):
    """Fails for x == 1 until the file named by SWEEP_FLAG exists."""
    log_call(str(x))
    if x == 1 and not Path(os.environ["SWEEP_FLAG"]).exists():
        raise RuntimeError("flag missing")
    return {"y": x}


def sleepy(x):
    time.sleep(0.4)
    return {"y": x * 3, "pid_independent": np.arange(x + 1)}


def scaled(x):
    return {"y": SCALE * x}


def pool_sizes(x):
    """The thread counts this worker's pools were given (-1: numpy has no bundled OpenBLAS here)."""
    import numba

    from plasticity._threads import _bundled_openblas

    found = _bundled_openblas("numpy")
    return {"numpy_blas": found[1]() if found else -1, "numba": numba.get_num_threads(),
            "env": int(os.environ.get("OPENBLAS_NUM_THREADS", "0"))}


def named(x):
    """Reads ``__name__`` (an attribute name is a global name to the code object), which differs
    between ``python -m _sweep_points`` and ``import _sweep_points``."""
    log_call(str(x))
    return {"y": x, "by": named.__name__}


if __name__ == "__main__":  # python -m _sweep_points STORE: the sweep of `named` run as a script
    import sys

    import plasticity

    plasticity.sweep(named, {"x": [1, 2]}, store=sys.argv[1], scheduler="serial", progress=False)


def dies_once(x, flag):
    """Kills its own worker process in the middle of the point x == 0 the first time (the file
    ``flag`` marks that it happened); returns normally otherwise."""
    flag = Path(flag)
    if x == 0 and not flag.exists():
        flag.write_text(str(os.getpid()))
        time.sleep(0.05)  # mid-point
        os.kill(os.getpid(), 9)
    time.sleep(0.05)
    return {"y": x * 3, "pid_independent": np.arange(x + 1)}


def sleepy_short(x):
    time.sleep(0.05)
    return {"y": x * 3, "pid_independent": np.arange(x + 1)}


def logged_pid(x):
    """Logs the pid of the process running the point, then sleeps SWEEP_SLEEP seconds."""
    log_call(str(os.getpid()))
    time.sleep(float(os.environ.get("SWEEP_SLEEP", "0.05")))
    return {"y": x}
