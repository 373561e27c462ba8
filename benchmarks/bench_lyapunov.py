"""Lyapunov spectrum of an N = 1000 tanh rate map: plasticity.metrics vs a plain numpy loop and the LAPACK floor.

Per step of the QR method (x <- tanh(W x), Q <- J Q re-orthonormalised, J = diag(1 - x'^2) W):

* ``numpy``: the plain loop, Jacobian build + ``J @ Q`` + ``np.linalg.qr`` (geqrf + orgqr);
* ``floor``: the Householder-form floor (benchmarks/TARGETS.md): the LAPACK work of one step alone on fixed
  arrays, ``dormqr`` (J Q with Q as reflectors) + ``dgeqrf`` with queried workspaces, scipy's
  OpenBLAS only, no Jacobian, no state;
* ``gemm+geqrf``: for reference, one ``dgemm`` J Q plus ``dgeqrf`` (explicit Q);
* ``ours``: ``lyapunov_spectrum(rate_system(W), x0, steps)`` (full spectrum) and with ``k = 100``.

The machine is shared: the variants run interleaved, ``--repeats`` times, and the medians of
ms/step and their ratios are printed. Targets (benchmarks/TARGETS.md): full <= 1.1x the floor;
top 100 <= 10% of full.

    python benchmarks/bench_lyapunov.py [--n 1000] [--steps 30] [--repeats 5] [--threads 1]

``--threads N`` sets ``OPENBLAS_NUM_THREADS`` for both numpy's and scipy's pools (before they load).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

if "--threads" in sys.argv:  # must precede the first import of numpy/scipy
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]

import numpy as np  # noqa: E402
from scipy.linalg import blas, lapack  # noqa: E402

from plasticity.metrics import lyapunov_spectrum  # noqa: E402
from plasticity.metrics.systems import rate_system  # noqa: E402


def numpy_loop(W, x, Q, steps):
    total = np.zeros(Q.shape[1])
    for _ in range(steps):
        u = W @ x
        x = np.tanh(u)
        J = (1.0 - x * x)[:, None] * W
        Q, R = np.linalg.qr(J @ Q)
        total += np.log(np.abs(np.diag(R)))
    return total / steps


def householder_floor(J, G, steps):
    n = J.shape[0]
    H, tau, _, _ = lapack.dgeqrf(np.asfortranarray(G), lwork=int(lapack.dgeqrf(G, lwork=-1)[2][0]))
    lw_qr = int(lapack.dgeqrf(H, lwork=-1)[2][0])
    buf = np.empty((n, n), order="F")
    lw_ormqr = int(lapack.dormqr("R", "N", H, tau, buf, lwork=-1)[1][0])
    for _ in range(steps):
        np.copyto(buf, J)
        M, _, _ = lapack.dormqr("R", "N", H, tau, buf, lwork=lw_ormqr, overwrite_c=1)
        H2, tau, _, _ = lapack.dgeqrf(M, lwork=lw_qr, overwrite_a=1)
        buf, H = H, H2


def gemm_geqrf(J, Q, steps):
    Jf, Qf = np.asfortranarray(J), np.asfortranarray(Q)
    lw = int(lapack.dgeqrf(Qf, lwork=-1)[2][0])
    for _ in range(steps):
        M = blas.dgemm(1.0, Jf, Qf)
        lapack.dgeqrf(M, lwork=lw, overwrite_a=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--threads", type=int, default=None, help="OPENBLAS_NUM_THREADS (default: the machine's)")
    args = ap.parse_args()
    n, steps = args.n, args.steps
    rng = np.random.default_rng(0)
    W = rng.normal(0.0, 1.5 / np.sqrt(n), (n, n))
    x0 = np.tanh(rng.normal(size=n))
    system = rate_system(W)
    G = np.random.default_rng(0).standard_normal((n, n)).T  # lyapunov_spectrum's initial basis for seed=0
    Q0 = np.linalg.qr(G)[0]
    J = system.jacobian(x0)

    # correctness first: same basis, same trajectory
    ours = lyapunov_spectrum(system, x0, 10)
    ref = np.sort(numpy_loop(W, x0, Q0, 10))[::-1]
    print(f"N = {n}: max |ours - numpy loop| over the spectrum after 10 steps: {np.max(np.abs(ours - ref)):.2e}")

    variants = {
        "numpy": lambda: numpy_loop(W, x0, Q0, steps),
        "floor": lambda: householder_floor(J, G, steps),
        "gemm+geqrf": lambda: gemm_geqrf(J, Q0, steps),
        "ours": lambda: lyapunov_spectrum(system, x0, steps),
        f"ours k={args.k}": lambda: lyapunov_spectrum(system, x0, steps, k=args.k),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for name, run in variants.items():  # warm-up (numba, page faults, thread pools)
        run()
    for _ in range(args.repeats):
        for name, run in variants.items():
            t0 = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - t0) / steps * 1e3)
    for name, ts in times.items():
        ms = statistics.median(ts)
        print(f"{name:>12}: {ms:7.1f} ms/step   (runs: {', '.join(f'{t:.1f}' for t in ts)})")

    def ratio(a: str, b: str) -> str:  # median of the per-repeat ratios: the variants of one repeat share the load
        return f"{statistics.median(x / y for x, y in zip(times[a], times[b])):.3f}"

    kname = f"ours k={args.k}"
    print(f"ours / floor           = {ratio('ours', 'floor')}   (target <= 1.1)")
    print(f"ours / numpy loop      = {ratio('ours', 'numpy')}")
    print(f"ours / gemm+geqrf      = {ratio('ours', 'gemm+geqrf')}")
    print(f"top {args.k} / full      = {ratio(kname, 'ours')}   (target <= 0.10)")


if __name__ == "__main__":
    main()
