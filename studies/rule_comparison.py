"""Rule comparison: one driven random rate network under each plasticity rule, judged by stability metrics.

A random tanh rate map x <- tanh(W x + I(t)) (W_ij ~ N(0, g^2/N), g = 1.5: chaotic when
frozen) is driven by structured input, a few slow sinusoids projected through a random
low-rank matrix, and its weights evolve under no plasticity and under each rate rule of
``plasticity.rules``. Over time the study records the spectral radius and spectral norm of W,
the activity variance in windows, and, at a few checkpoints, the maximal Lyapunov exponent of
the frozen autonomous dynamics (the network as it stands, intrinsic gains and thresholds
included). A run whose weights leave ``WEIGHT_BOUND`` stops there and is reported as
diverged, with the time; that is a result, shown in the figure and the table, not a failure.

What to expect (and why): plain Hebbian learning runs away. Oja's rule normalises a row only
for a linear neuron; with saturating tanh units its fixed point W_i = x / y_i is rank one with
rows of norm ~sqrt(N), which freezes the network in a saturated state. BCM's sliding threshold
pulls activity variance down and the network towards the edge of chaos. Multiplicative
synaptic scaling assumes excitatory weights: in this mixed-sign network a larger gain does not
raise a neuron's mean rate, so a target above the reachable mean makes W grow without bound.
Intrinsic plasticity with gain adaptation regulates each unit's activity variance.

Writes ``fig_rule_comparison.{png,pdf}`` and ``results.{csv,parquet}`` (one row per rule,
averaged over seeds) plus ``points.csv`` (one row per rule and seed).

References: Hebbian/Oja (Oja 1982, J Math Biol 15:267), BCM (Bienenstock, Cooper & Munro 1982),
synaptic scaling (Turrigiano et al. 1998, Nature 391:892), intrinsic plasticity (Triesch 2005),
metaplasticity (Abraham & Bear 1996, TINS 19:126); the edge of chaos of random tanh networks
(Sompolinsky, Crisanti & Sommers 1988; for maps Molgedey, Schuchhardt & Schuster 1992).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models import RateNetwork
from plasticity.metrics import activity_variance, max_lyapunov, spectral_norm, spectral_radius
from plasticity.rules import BCM, Hebbian, IntrinsicPlasticity, MetaplasticBCM, Oja, SynapticScaling

NAME = "rule_comparison"
G = 1.5                 # gain of the initial random W: chaotic when frozen (edge at g = 1)
WEIGHT_BOUND = 1.0      # a single |W_ij| past this counts as runaway (typical |W_ij| ~ g / sqrt(N))
N_INPUTS = 3            # rank of the structured input
INPUT_AMPLITUDE = 0.5
CHECKPOINTS = 6         # weight snapshots at which the frozen dynamics' max Lyapunov exponent is measured

# Learning rates are per step of the map (dt = 1 for rules); each is set so that the rule acts
# within the run without being the fastest process in the network.
RULES = {
    "none": None,
    "hebbian": Hebbian(eta=2e-3),
    "oja": Oja(eta=2e-3),
    "bcm": BCM(eta=2e-3, tau_theta=20.0, theta0=0.1),
    "scaling": SynapticScaling(eta=5e-3, target=0.1, tau=50.0),
    "intrinsic": IntrinsicPlasticity(eta=5e-3, target=0.0, adapt_gain=True, target_var=0.05),
    "metaplastic_bcm": MetaplasticBCM(eta=2e-3, tau_theta=20.0, tau_meta=500.0, theta0=0.1, kappa=1.0),
}

GRID = {"rule": list(RULES), "seed": [0, 1, 2], "n": [1000], "steps": [20000]}
QUICK = {"rule": list(RULES), "seed": [0], "n": [200], "steps": [3000]}


def structured_input(n: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """I(t) = A * B s(t): N_INPUTS sinusoids with random periods in [20, 200] steps and phases,
    through a random (n, N_INPUTS) projection with unit-variance rows."""
    B = rng.normal(0.0, 1.0 / np.sqrt(N_INPUTS), (n, N_INPUTS))
    periods = rng.uniform(20.0, 200.0, N_INPUTS)
    phases = rng.uniform(0.0, 2 * np.pi, N_INPUTS)
    t = np.arange(steps)[:, None]
    return INPUT_AMPLITUDE * np.sin(2 * np.pi * t / periods + phases) @ B.T


def point(rule: str, seed: int, n: int, steps: int) -> dict:
    """Run one rule on one network in CHECKPOINTS - 1 chunks; measure the frozen network after each."""
    rng = np.random.default_rng(seed)
    net = RateNetwork.random(n, G, seed=seed, activation="tanh", dynamics="map")
    inputs = structured_input(n, steps, rng)
    chunk = steps // (CHECKPOINTS - 1)
    times, radius, norm, lyap = [], [], [], []
    rates, diverged_at = [], None

    def measure(t: float) -> None:
        # the frozen network as it stands, intrinsic gains and thresholds included (net.as_system)
        times.append(t)
        radius.append(spectral_radius(net.W))
        norm.append(spectral_norm(net.W))
        x0 = np.random.default_rng(seed + 12345).uniform(-0.5, 0.5, n)
        lyap.append(float(max_lyapunov(net.as_system(), x0, steps=400, transient=200)))

    measure(0.0)
    for k in range(CHECKPOINTS - 1):
        res = net.run(chunk, rule=RULES[rule], inputs=inputs[k * chunk:(k + 1) * chunk],
                      weight_bound=WEIGHT_BOUND, progress=False)
        rates.append(res.rates)
        if res.diverged:
            diverged_at = float(res.diverged_at)
            break
        measure(float(net.t))
    rates = np.concatenate(rates)
    window = max(10, len(rates) // 20)
    n_windows = len(rates) // window
    var_t = np.array([activity_variance(rates[k * window:(k + 1) * window]) for k in range(n_windows)])
    var_times = (np.arange(n_windows) + 0.5) * window
    tail = rates[len(rates) // 2:]
    return {
        "diverged": diverged_at is not None,
        "diverged_at": np.nan if diverged_at is None else diverged_at,
        "final_radius": float(radius[-1]),
        "final_norm": float(norm[-1]),
        "activity_variance": float(activity_variance(tail)),
        "final_max_lyapunov": float(lyap[-1]),
        "weight_times": np.asarray(times),
        "radius_t": np.asarray(radius),
        "norm_t": np.asarray(norm),
        "lyapunov_t": np.asarray(lyap),
        "variance_times": var_times,
        "variance_t": var_t,
    }


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per rule: means over seeds of the final metrics, and how many runs diverged."""
    scalar = ["final_radius", "final_norm", "activity_variance", "final_max_lyapunov"]
    grouped = table.groupby("rule", sort=False)
    out = grouped[scalar].mean()
    out["diverged"] = grouped["diverged"].sum().astype(int)
    out["runs"] = grouped.size()
    out["diverged_at"] = grouped["diverged_at"].min()
    return out.reset_index()


def figure(table: pd.DataFrame):
    """Four panels over time: spectral radius, spectral norm, activity variance, max Lyapunov."""
    from plasticity.plot import metric_over_time, new_figure

    fig, axes = new_figure(2, 2, figsize=(9.0, 6.5))
    panels = [
        ("weight_times", "radius_t", "spectral radius $\\rho(W)$", axes[0, 0]),
        ("weight_times", "norm_t", "spectral norm $\\|W\\|_2$", axes[0, 1]),
        ("variance_times", "variance_t", "activity variance", axes[1, 0]),
        ("weight_times", "lyapunov_t", "max Lyapunov exponent (per step)", axes[1, 1]),
    ]
    first_seed = table.groupby("rule", sort=False).head(1)
    for tcol, ycol, label, ax in panels:
        series = {row.rule: (np.asarray(getattr(row, tcol)), np.asarray(getattr(row, ycol))) for row in first_seed.itertuples()}
        diverged = {row.rule: row.diverged_at for row in first_seed.itertuples() if row.diverged}
        metric_over_time(ax, series, ylabel=label, xlabel="time (steps)", diverged_at=diverged)
    axes[1, 1].axhline(0.0, color="0.5", lw=0.8, ls="--")
    for ax in axes[0]:  # Oja's saturated rank-one W reaches ~N: only a log axis shows the others too
        ax.set_yscale("log")
    for ax, letter in zip(axes.flat, "abcd"):
        ax.set_title(f"({letter})", loc="left", fontsize=10)
    axes[0, 1].legend(fontsize=8, frameon=False, loc="best")
    return fig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
