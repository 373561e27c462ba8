"""Dense plastic rate step: the fused kernel against memory bandwidth and plain numpy; E/I step.

    python benchmarks/bench_rate_step.py [--large] [--repeats R] [--ei-sizes N ...]

Step: ``x <- tanh(W x + I)`` with the BCM update of ``W[post, pre]`` and ``theta`` (a map, as
``RateNetwork.run(rule=BCM(...))`` runs it). Bytes counted: W read once and written once per
step, ``2 N^2 itemsize``. Baselines measured in the same run (the machine is shared and
noisy; compare the ratios): (1) the in-place read-modify-write sweep of ``_baselines`` over
an array of W's size on the same threads, (2) plain numpy (``W @ x``, then
``W += eta * np.outer(...)``). In each of ``R`` rounds the three are timed back to back;
times are medians over rounds, ratios medians of the per-round ratios. Target (benchmarks/TARGETS.md): at N = 8000 float64, >= 90% of (1) and
>= 5x (2); judge at N >= 4000 (N = 2000 sits at the L3 size).

E/I step (``RateNetwork.ei(0.8 N, 0.2 N)``, Euler flow, ``Hebbian + SynapticScaling`` on E->E):
the population kernel reads every stored block once (absent synapses are stored, p = 0.1)
and writes the plastic E->E block once, ``(2 n_E^2 + (N^2 - n_E^2)) itemsize`` bytes moved.
Printed against the dense fused kernel at the same N in the same round: time per byte moved,
and time per plastic byte (``2 n_E^2 itemsize``). The second cannot be below
``(2 n_E^2 + N^2 - n_E^2) / (2 n_E^2) = 1.28`` at equal speed per byte, because the static
blocks (E->I, I->E, I->I) must be read for the recurrent input.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _baselines import sweep, sweep_array  # noqa: E402

import models.rate  # noqa: E402
from models.rate import RateNetwork  # noqa: E402
from plasticity.rules import BCM  # noqa: E402

ETA, TAU_THETA = 1e-4, 10.0


def fused_stepper(n, dtype, seed=0):
    """The stepper ``RateNetwork.run`` drives, prepared once so that only steps are timed."""
    net = RateNetwork.random(n, 0.9, seed=seed, dtype=dtype)
    rule = BCM(eta=ETA, tau_theta=TAU_THETA)
    state = net._rule_state_for(rule)
    x = np.random.default_rng(seed).uniform(-1, 1, n)
    stepper = models.rate._Stepper(net, True, rule, state, x, 1e6, 1e6, models.rate._row_absmax(net.W))
    I = np.full((1, n), 0.1)
    rec = np.empty((1, n), dtype=dtype)

    def run(steps):
        code, s, _ = stepper.advance(I, 1, steps, 10**9, rec, rec, 0)
        if code:
            raise RuntimeError(f"benchmark network diverged (code {code})")

    return run, net, stepper.par


def numpy_stepper(n, dtype, seed=0):
    W = RateNetwork.random(n, 0.9, seed=seed, dtype=dtype).W
    x = np.random.default_rng(seed).uniform(-1, 1, n).astype(dtype)
    theta = np.zeros(n, dtype=dtype)
    eta = dtype(ETA)

    def run(steps):
        nonlocal x, W
        for _ in range(steps):
            y = np.tanh(W @ x + dtype(0.1))
            W += eta * np.outer(y * (y - theta), x)
            theta[:] += (y * y - theta) / dtype(TAU_THETA)
            x = y

    return run, W


def timed(fn, steps, pause=0.05):
    # Idle threads of one pool (OpenBLAS after numpy's W @ x, numba's OpenMP team) spin for a
    # while after their work and would slow the next measurement on 2 cores: let them sleep
    # (OpenBLAS spins for up to ~0.1 s, hence the longer pause after the numpy step).
    time.sleep(pause)
    t0 = time.perf_counter()
    fn(steps)
    return (time.perf_counter() - t0) / steps


def bench(n, dtype, repeats):
    itemsize = np.dtype(dtype).itemsize
    nbytes = n * n * itemsize
    steps = max(5, min(200, int(0.5e9 / nbytes)))  # ~0.1-0.3 s per timing
    fused, _, par = fused_stepper(n, dtype)
    numpy_run, _ = numpy_stepper(n, dtype)
    base = sweep_array((n, n), dtype)
    fused(1), numpy_run(1), sweep(base, par)  # compile, warm caches and pages
    tf, tn, tb = [], [], []
    def sweeps(k):
        for _ in range(k):
            sweep(base, par)

    for _ in range(repeats):  # numpy last in a round, then a long pause before the sweep
        tb.append(timed(sweeps, steps, pause=0.3))
        tf.append(timed(fused, steps))
        tn.append(timed(numpy_run, max(5, steps // 5)))  # >= 5 steps: the first numpy step is 10x slower
    tf, tn, tb = (np.array(v) for v in (tf, tn, tb))
    moved = 2 * nbytes
    # ratios are medians of the per-round ratios: the host's bandwidth drifts between rounds
    return {
        "N": n, "dtype": np.dtype(dtype).name, "threads": 2 if par else 1,
        "fused_ms": 1e3 * np.median(tf), "fused_GBs": moved / np.median(tf) / 1e9,
        "base_GBs": moved / np.median(tb) / 1e9, "base_min": moved / tb.max() / 1e9, "base_max": moved / tb.min() / 1e9,
        "frac_bw": np.median(tb / tf), "frac_min": (tb / tf).min(), "frac_max": (tb / tf).max(),
        "numpy_ms": 1e3 * np.median(tn), "speedup": np.median(tn / tf),
    }


def ei_stepper(n, dtype, seed=0):
    """``RateNetwork.ei`` with plastic E->E, stepping through ``run`` (no weight snapshots)."""
    from plasticity.rules import Hebbian, SynapticScaling

    n_e = int(round(0.8 * n))
    net = RateNetwork.ei(n_exc=n_e, n_inh=n - n_e, seed=seed, dtype=dtype)
    rule = {"EE": Hebbian(eta=1e-7) + SynapticScaling(eta=1e-3, target=2.0, tau=10.0)}

    def run(steps):
        res = net.run(steps, plasticity=rule, record_every=steps, record_weights_every=0, progress=False)
        if res.diverged:
            raise RuntimeError("benchmark E/I network diverged")

    return run, n_e


def bench_ei(n, dtype, repeats):
    itemsize = np.dtype(dtype).itemsize
    steps = max(100, min(400, int(4e9 / (n * n * itemsize))))  # amortise the per-run setup (~3 passes)
    ei, n_e = ei_stepper(n, dtype)
    fused, _, _ = fused_stepper(n, dtype)
    ei(2), fused(1)
    te, tf = [], []
    for _ in range(repeats):
        te.append(timed(ei, steps))
        tf.append(timed(fused, steps))
    te, tf = np.array(te), np.array(tf)
    moved_ei = (2 * n_e * n_e + (n * n - n_e * n_e)) * itemsize
    plastic_ei = 2 * n_e * n_e * itemsize
    moved_dense = 2 * n * n * itemsize
    per_byte = (te / moved_ei) / (tf / moved_dense)
    per_plastic = (te / plastic_ei) / (tf / moved_dense)
    return {"N": n, "dtype": np.dtype(dtype).name, "ei_ms": 1e3 * np.median(te), "dense_ms": 1e3 * np.median(tf),
            "per_byte": per_byte, "per_plastic": per_plastic}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--large", action="store_true", help="include N = 8000 (0.5 GB of float64 weights)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--sizes", type=int, nargs="*", default=None)
    p.add_argument("--ei-sizes", type=int, nargs="*", default=[1000, 4000],
                   help="total N of the E/I benchmark (0.8 N excitatory)")
    p.add_argument("--ei-only", action="store_true", help="only the E/I benchmark")
    args = p.parse_args(argv)
    sizes = args.sizes or ([500, 2000, 4000] + ([8000] if args.large else []))
    import numba

    print(f"numba threads: {numba.get_num_threads()}; parallel kernel from N >= {models.rate.PARALLEL_MIN_N}; "
          f"medians of {args.repeats} rounds")
    if not args.ei_only:
        dense_table(sizes, args.repeats)
    print()
    print("E/I step (plastic E->E) against the dense fused kernel at the same N, same rounds:")
    header = f"{'N':>6} {'dtype':>8} {'E/I ms':>8} {'dense ms':>9} {'per byte moved':>22} {'per plastic byte':>22}"
    print(header)
    print("-" * len(header))
    for n in args.ei_sizes:
        for dtype in (np.float32, np.float64):
            r = bench_ei(n, dtype, args.repeats)
            q = lambda v: f"{np.median(v):.2f} [{v.min():.2f}-{v.max():.2f}]"
            print(f"{r['N']:>6} {r['dtype']:>8} {r['ei_ms']:>8.3f} {r['dense_ms']:>9.3f} {q(r['per_byte']):>22} "
                  f"{q(r['per_plastic']):>22}", flush=True)


def dense_table(sizes, repeats):
    header = (f"{'N':>6} {'dtype':>8} {'thr':>3} {'fused ms':>9} {'GB/s':>6} {'sweep GB/s [min-max]':>20} "
              f"{'frac bw [min-max]':>18} {'numpy ms':>9} {'speedup':>7}")
    print(header)
    print("-" * len(header))
    for n in sizes:
        for dtype in (np.float32, np.float64):
            r = bench(n, dtype, repeats)
            sweep = f"{r['base_GBs']:.1f} [{r['base_min']:.0f}-{r['base_max']:.0f}]"
            frac = f"{r['frac_bw']:.0%} [{r['frac_min']:.0%}-{r['frac_max']:.0%}]"
            print(f"{r['N']:>6} {r['dtype']:>8} {r['threads']:>3} {r['fused_ms']:>9.3f} {r['fused_GBs']:>6.1f} "
                  f"{sweep:>20} {frac:>18} {r['numpy_ms']:>9.2f} {r['speedup']:>6.1f}x", flush=True)


if __name__ == "__main__":
    main()
