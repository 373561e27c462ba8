"""Sweep: 16 CPU-bound points serially and on 2 local worker processes; prints the speedup.

Target (benchmarks/TARGETS.md): >= 1.8x serial on 2 workers. Each point is a single-threaded
numba loop (a logistic map iterated ~0.5 s), so the serial baseline uses one core and the ratio
measures what the sweep machinery lets through: process start-up, pickling, the store's
atomic writes. A second baseline, a bare ``ProcessPoolExecutor.map`` of the same calls, says
how much parallelism the machine offered at that moment (other tenants take cores): the
sweep's time against it is the machinery's own overhead. All three are measured in the same
run, interleaved, median over repeats.

    python benchmarks/bench_sweep.py [--points 16] [--seconds 0.5] [--repeats 3] [--workers 2]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from numba import njit

import plasticity


@njit(cache=True, nogil=True)
def _logistic(r: float, x: float, steps: int) -> float:
    for _ in range(steps):
        x = r * x * (1.0 - x)
    return x


def work(r: float, steps: int) -> dict:
    """One CPU-bound point: the logistic map from x0 = 0.3 for ``steps`` iterations."""
    return {"x": _logistic(r, 0.3, steps)}


def _logistic_point(r: float, steps: int) -> float:
    return _logistic(r, 0.3, steps)


def _steps_for(seconds: float) -> int:
    """Iterations that take about ``seconds`` on this machine now (the kernel is compiled first)."""
    _logistic(3.9, 0.3, 10)
    n = 1_000_000
    while True:
        t = time.perf_counter()
        _logistic(3.9, 0.3, n)
        dt = time.perf_counter() - t
        if dt > 0.05:
            return int(n * seconds / dt)
        n *= 4


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=16)
    p.add_argument("--seconds", type=float, default=0.5, help="target duration of one point (s)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    steps = _steps_for(a.seconds)
    # distinct r per point (so each point is a distinct, stored result); all chaotic, same cost
    grid = {"r": list(np.round(np.linspace(3.7, 3.99, a.points), 6)), "steps": [steps]}
    serial, parallel, bare = [], [], []
    for _ in range(a.repeats):
        t = time.perf_counter()
        with ProcessPoolExecutor(max_workers=a.workers) as pool:
            list(pool.map(_logistic_point, grid["r"], [steps] * a.points))
        bare.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as d:  # with a store: the writes are part of the cost
            t = time.perf_counter()
            ref = plasticity.sweep(work, grid, store=f"{d}/serial", scheduler="serial", progress=False)
            serial.append(time.perf_counter() - t)
            t = time.perf_counter()
            out = plasticity.sweep(work, grid, store=f"{d}/par", max_workers=a.workers, progress=False)
            parallel.append(time.perf_counter() - t)
        if not ref["x"].equals(out["x"]):
            raise SystemExit("serial and parallel tables differ")
    s, q, b = statistics.median(serial), statistics.median(parallel), statistics.median(bare)
    runs = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
    print(f"{a.points} points of ~{a.seconds:.2f} s ({steps} logistic steps each), median of {a.repeats}")
    print(f"sweep, serial:               {s:7.2f} s  (runs: {runs(serial)})")
    print(f"sweep, {a.workers} local workers:      {q:7.2f} s  (runs: {runs(parallel)})")
    print(f"bare ProcessPoolExecutor.map: {b:7.2f} s  (runs: {runs(bare)})")
    paired = sorted(x / y for x, y in zip(serial, parallel))
    print(f"speedup over serial:         {s / q:7.2f}x  (target >= 1.8x on 2 workers); "
          f"per repeat: {', '.join(f'{r:.2f}' for r in paired)}")
    print(f"machine's parallelism now:   {s / b:7.2f}x  (serial / bare pool; < 1.8x means other tenants hold cores)")
    print(f"sweep time / bare pool time: {q / b:7.2f}   (the sweep machinery's own overhead)")


if __name__ == "__main__":
    main()
