"""Time per training step (forward + backward + Adam) of models.rnn against torch.nn.RNN, and of
PlasticRNN in passes over its plastic trace.

Baseline: ``torch.nn.RNN`` (tanh, batch_first) plus a linear read-out, of the same sizes, timed in the
same run. For ``models.rnn.RNN`` (alpha = 1 and 0.2) and ``PlasticRNN`` (Hebbian rule with learnable
eta and decay; per-synapse and global plasticity coefficients) it reports ms per step and the ratio
to the baseline, min / median / max over repeats.

The plastic trace is a ``(batch, n, n)`` tensor per trial, so the floor of ``PlasticRNN`` is the
memory traffic of that trace, not ``torch.nn.RNN``. The yardstick is an in-place sweep
``trace.mul_(a).add_(b)`` over a tensor of the trace's size, timed in the same run, in two forms:

* ``hot``: the same tensor every time (it stays in the last-level cache when it fits);
* ``cold``: a rotation over trace-sized tensors totalling >= 128 MB, so that each sweep comes from
  main memory, as the traces of a training step do (they are many more than a cache holds).

"passes" = (time of one training step / T) / (time of one sweep): sweeps of the trace per time
step, forward and backward together. Target (issue 11): <= 6. ``--reference`` also times the
step-by-step autograd loop that ``PlasticRNN`` used before (``PlasticRNN._forward_autograd``).
``--kernels`` times the three trace kernels of a time step alone (``models._rnn_plastic``: the
forward update, the recomputation from a checkpoint, the fused backward), in sweeps, with their
operands hot (the same buffers every call) and cold (a rotation over >= 128 MB): the floor of a
time step is their sum, whatever the Python around them costs.

    python benchmarks/bench_rnn.py [--threads 1] [--repeats 7] [--steps 10] [--reference] [--kernels]

Timings are wall-clock (``time.perf_counter``); on a loaded machine they mean little.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from models.rnn import RNN, PlasticRNN


class TorchRNN(torch.nn.Module):
    def __init__(self, n_in: int, n_hidden: int, n_out: int) -> None:
        super().__init__()
        self.rnn = torch.nn.RNN(n_in, n_hidden, batch_first=True, nonlinearity="tanh")
        self.out = torch.nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.out(self.rnn(x)[0])


class AutogradLoop(torch.nn.Module):
    """A PlasticRNN run through its step-by-step autograd loop (the reference path)."""

    def __init__(self, model: PlasticRNN) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model._forward_autograd(x, x.new_zeros(x.shape[0], self.model.n_hidden))


def _stats(times: list[float]) -> tuple[float, float, float]:
    return min(times), statistics.median(times), max(times)


def time_steps(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, repeats: int) -> tuple:
    """(min, median, max) seconds per training step over ``repeats`` runs of ``steps`` steps."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def one():
        loss = F.mse_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    one()  # warm-up (numba compiles or loads its kernels; work buffers are allocated)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            one()
        times.append((time.perf_counter() - t0) / steps)
    return _stats(times)


def time_sweep(shape: tuple[int, ...], cold: bool, repeats: int, per_repeat: int = 20) -> tuple:
    """(min, median, max) seconds of one ``trace.mul_(a).add_(b)`` over a float32 tensor of ``shape``."""
    size = 4 * torch.Size(shape).numel()
    count = max(4, -(-128 * 2**20 // size)) if cold else 1
    bufs = [torch.rand(shape) for _ in range(count)]
    for b in bufs:
        b.mul_(0.5).add_(0.25)  # warm-up: pages touched
    times, k = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(per_repeat):
            bufs[k % count].mul_(0.5).add_(0.25)  # stays in [0.25, 0.75]: no denormals
            k += 1
        times.append((time.perf_counter() - t0) / per_repeat)
    return _stats(times)


def time_kernels(B: int, n: int, repeats: int, per_repeat: int = 20) -> dict:
    """(min, median, max) seconds of each trace kernel of one time step, operands hot and cold (float32)."""
    import numpy as np

    from models._rnn_plastic import _advance, _advance_into, _bw_trace_coef

    rng = np.random.default_rng(0)
    size = 4 * B * n * n
    # three distinct traces per call (K, Hebb_t, Hebb_t-1): three buffers in all stay in cache (hot),
    # a rotation over >= 128 MB comes from memory (cold)
    count = {"hot": 3, "cold": max(4, -(-128 * 2**20 // size))}
    vec = [(0.9 + 0.1 * rng.random((B, n))).astype(np.float32) for _ in range(12)]
    A, gA = (0.01 * rng.random((n, n))).astype(np.float32), np.zeros((n, n), np.float32)
    out = {}
    for kind, c in count.items():
        H = [(0.01 * rng.random((B, n, n))).astype(np.float32) for _ in range(c)]
        own = 1 if kind == "hot" else c  # the forward updates one trace in place: the same buffer every call when hot
        calls = {
            "forward update (_advance)": lambda i: _advance(H[i % own], vec[0], vec[1], vec[2], vec[3], A, vec[4], vec[5]),
            "recompute (_advance_into)": lambda i: _advance_into(H[i % c], H[(i + 1) % c], vec[0], vec[1], vec[2], vec[3]),
            "fused backward (_bw_trace_coef)": lambda i: _bw_trace_coef(H[i % c], H[(i + 1) % c], A, vec[3], vec[6] * 1e-3,
                                                                        vec[1], vec[7], gA, H[(i + 2) % c], vec[4],
                                                                        vec[0], vec[8], vec[9], vec[10], vec[11]),
        }
        for name, call in calls.items():
            call(0)  # compile or load
            times, k = [], 0
            for _ in range(repeats):
                t0 = time.perf_counter()
                for _ in range(per_repeat):
                    call(k)
                    k += 1
                times.append((time.perf_counter() - t0) / per_repeat)
            out[name, kind] = _stats(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--sizes", default="32x32x50,64x64x50,128x64x50,256x32x50", help="hidden x batch x T, comma separated")
    ap.add_argument("--reference", action="store_true", help="also time the autograd loop of PlasticRNN (slow)")
    ap.add_argument("--kernels", action="store_true", help="also time the trace kernels of one time step alone")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.repeats} repeats of {args.steps} "
          "training steps; min/median/max")
    for spec in args.sizes.split(","):
        n, B, T = (int(v) for v in spec.split("x"))
        x, y = torch.randn(B, T, 3), torch.randn(B, T, 3)
        models = {
            "torch.nn.RNN": TorchRNN(3, n, 3),
            "RNN alpha=1": RNN(3, n, 3, alpha=1.0, seed=0),
            "RNN alpha=0.2": RNN(3, n, 3, alpha=0.2, seed=0),
            "PlasticRNN per-synapse": PlasticRNN(3, n, 3, plastic="per-synapse", seed=0),
            "PlasticRNN global": PlasticRNN(3, n, 3, plastic="global", seed=0),
        }
        if args.reference:
            models["autograd loop per-synapse"] = AutogradLoop(PlasticRNN(3, n, 3, plastic="per-synapse", seed=0))
        t = {k: time_steps(m, x, y, args.steps, args.repeats) for k, m in models.items()}
        sweeps = {kind: time_sweep((B, n, n), kind == "cold", args.repeats) for kind in ("hot", "cold")}
        base = t["torch.nn.RNN"][1]
        print(f"\nhidden {n}, batch {B}, T {T}: trace {B}x{n}x{n} float32 ({4 * B * n * n / 2**20:.1f} MB); sweep "
              + ", ".join(f"{k} {1e3 * s[0]:.3f}/{1e3 * s[1]:.3f}/{1e3 * s[2]:.3f} ms" for k, s in sweeps.items()))
        print(f"  {'model':<26} {'ms per training step':>26} {'x nn.RNN (median)':>18} "
              f"{'passes/step hot':>22} {'passes/step cold':>22}")
        for name, (lo, med, hi) in t.items():
            ms = f"{1e3 * lo:.2f}/{1e3 * med:.2f}/{1e3 * hi:.2f}"
            line = f"  {name:<26} {ms:>26} {med / base:>18.2f}"
            if "Plastic" in name or "autograd" in name:
                for kind in ("hot", "cold"):
                    s = sweeps[kind][1]  # median sweep
                    passes = f"{lo / T / s:.1f}/{med / T / s:.1f}/{hi / T / s:.1f}"
                    line += f" {passes:>22}"
            print(line)
        if args.kernels:
            print("  trace kernels of one time step alone (ms min/median/max; sweeps = median / median sweep):")
            kernels = time_kernels(B, n, args.repeats)
            for (name, kind), (lo, med, hi) in kernels.items():
                print(f"    {name:<32} {kind:>4}: {1e3 * lo:.3f}/{1e3 * med:.3f}/{1e3 * hi:.3f} ms = "
                      f"{med / sweeps['hot'][1]:.1f} hot, {med / sweeps['cold'][1]:.1f} cold sweeps")
            for kind in ("hot", "cold"):
                total = sum(v[1] for (_, k), v in kernels.items() if k == kind)
                print(f"    the three, operands {kind}: {total / sweeps[kind][1]:.1f} {kind} sweeps per time step "
                      f"(the floor of 'passes/step {kind}' above)")


if __name__ == "__main__":
    main()
