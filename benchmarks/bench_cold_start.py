"""First-run cost: compile seconds per kernel family and for the headline quick study.

    python benchmarks/bench_cold_start.py [--repeats R]

Each entry point runs in a fresh process twice with the same, initially empty, numba cache
directory: the first run compiles (cold), the second loads the cache (warm); compile seconds
= cold - warm. Entry points: the kernel families of ``plasticity warmup``
(``plasticity.warmup.KERNEL_FAMILIES``) and ``plasticity study run rule_comparison --quick``.
Target: compiling adds <= 10 s to the first run of the headline quick study. Run it on a quiet
machine (check ``uptime``); the spread over ``--repeats`` fresh caches is printed.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from plasticity.warmup import KERNEL_FAMILIES, run_family


def study_seconds(env: dict, out: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "plasticity", "study", "run", "rule_comparison", "--quick", "--out", out],
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    entries = list(KERNEL_FAMILIES) + ["rule_comparison --quick"]
    cold = {e: [] for e in entries}
    warm = {e: [] for e in entries}
    for _ in range(args.repeats):
        for entry in entries:
            with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
                env = dict(os.environ, NUMBA_CACHE_DIR=cache)
                if entry in KERNEL_FAMILIES:
                    cold[entry].append(run_family(entry, env))
                    warm[entry].append(run_family(entry, env))
                else:  # a fresh output folder each time, so that the second run recomputes too
                    cold[entry].append(study_seconds(env, os.path.join(out, "a")))
                    warm[entry].append(study_seconds(env, os.path.join(out, "b")))
    print(f"{'entry point':>26} {'cold s':>8} {'warm s':>8} {'compile s [min-max]':>22}")
    for entry in entries:
        c, w = np.array(cold[entry]), np.array(warm[entry])
        d = c - w
        print(f"{entry:>26} {np.median(c):>8.1f} {np.median(w):>8.1f} "
              f"{f'{np.median(d):.1f} [{d.min():.1f}-{d.max():.1f}]':>22}", flush=True)


if __name__ == "__main__":
    main()
