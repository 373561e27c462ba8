"""Time per training step (forward + backward + Adam) of models.rnn against torch.nn.RNN.

Baseline: ``torch.nn.RNN`` (tanh, batch_first) plus a linear read-out, of the same sizes, timed
in the same run. Reported: median ms per step over repeats and the ratio to the baseline for
``models.rnn.RNN`` (alpha = 1 and alpha = 0.2) and ``PlasticRNN`` (Hebbian rule with learnable
eta and decay; per-synapse and global plasticity coefficients). Target (benchmarks/TARGETS.md):
PlasticRNN <= 2x torch.nn.RNN.

    python benchmarks/bench_rnn.py [--threads 1] [--repeats 7] [--steps 10]
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


def time_steps(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, repeats: int) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def one():
        loss = F.mse_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    one()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            one()
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--sizes", default="32x32x50,64x64x50,128x64x50,256x32x50", help="hidden x batch x T, comma separated")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); ms per training step (median of {args.repeats})")
    print(f"{'hidden':>6} {'batch':>5} {'T':>4} {'nn.RNN':>8} {'RNN a=1':>8} {'ratio':>6} {'RNN a=.2':>8} {'ratio':>6} "
          f"{'Plastic':>8} {'ratio':>6} {'Plastic-g':>9} {'ratio':>6}")
    for spec in args.sizes.split(","):
        n, B, T = (int(v) for v in spec.split("x"))
        x, y = torch.randn(B, T, 3), torch.randn(B, T, 3)
        models = {
            "base": TorchRNN(3, n, 3),
            "rnn1": RNN(3, n, 3, alpha=1.0, seed=0),
            "rnn": RNN(3, n, 3, alpha=0.2, seed=0),
            "plastic": PlasticRNN(3, n, 3, plastic="per-synapse", seed=0),
            "global": PlasticRNN(3, n, 3, plastic="global", seed=0),
        }
        t = {k: time_steps(m, x, y, args.steps, args.repeats) for k, m in models.items()}
        r = {k: t[k] / t["base"] for k in t}
        print(f"{n:>6} {B:>5} {T:>4} {1e3 * t['base']:>8.2f} {1e3 * t['rnn1']:>8.2f} {r['rnn1']:>6.2f} "
              f"{1e3 * t['rnn']:>8.2f} {r['rnn']:>6.2f} {1e3 * t['plastic']:>8.2f} {r['plastic']:>6.2f} "
              f"{1e3 * t['global']:>9.2f} {r['global']:>6.2f}")


if __name__ == "__main__":
    main()
