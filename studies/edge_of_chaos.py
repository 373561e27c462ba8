"""Edge of chaos: Lyapunov exponents of random tanh maps against mean-field theory, and where plasticity leaves them.

Part 1 (static). Random maps x <- tanh(W x), W_ij ~ N(0, g^2/N), over a grid of gains g: the
measured maximal Lyapunov exponent against the mean-field prediction
lambda = 1/2 ln(g^2 E[tanh'(sqrt(q*) z)^2]) with q* = g^2 E[tanh^2(sqrt(q*) z)]
(Molgedey, Schuchhardt & Schuster 1992, Phys Rev Lett 69:3717; Poole et al. 2016), the activity
variance against q*/g^2, the spectral radius of W and of the Jacobian along the trajectory, and
for a few gains the full Lyapunov spectrum with its Kaplan-Yorke dimension and entropy rate
(sum of positive exponents).

Part 2 (plastic). Each rate rule runs from several initial gains with weak noise input until its
state settles; then the frozen network's maximal exponent says on which side of the edge
(lambda = 0) the rule left it.

Writes ``fig_edge_of_chaos.{png,pdf}``, ``results.{csv,parquet}`` (one row per point).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models import RateNetwork
from plasticity.metrics import (
    activity_variance,
    kaplan_yorke_dimension,
    lyapunov_spectrum,
    max_lyapunov,
    spectral_radius,
)
from plasticity.metrics.mean_field import tanh_map_mean_field
from plasticity.rules import BCM, IntrinsicPlasticity, MetaplasticBCM, Oja, SynapticScaling

NAME = "edge_of_chaos"

RULES = {
    "oja": Oja(eta=1e-3),
    "bcm": BCM(eta=1e-3, tau_theta=20.0, theta0=0.1),
    "scaling": SynapticScaling(eta=2e-3, target=0.1, tau=50.0),
    "intrinsic": IntrinsicPlasticity(eta=2e-3, target=0.0),
    "metaplastic_bcm": MetaplasticBCM(eta=1e-3, tau_theta=20.0, tau_meta=500.0, theta0=0.1),
}
NOISE = 0.05            # std of the independent input noise that keeps plastic runs exploring


def _grid(gains, seeds, n, full_gains, n_full, plastic_gains, n_plastic, plastic_steps):
    points = [{"part": "static", "rule": "none", "g": float(g), "seed": s, "n": n, "steps": 0} for g in gains for s in seeds]
    points += [{"part": "spectrum", "rule": "none", "g": float(g), "seed": 0, "n": n_full, "steps": 0} for g in full_gains]
    points += [
        {"part": "plastic", "rule": r, "g": float(g), "seed": s, "n": n_plastic, "steps": plastic_steps}
        for r in RULES for g in plastic_gains for s in seeds[:2]
    ]
    return points


GRID = _grid(np.round(np.linspace(0.5, 3.0, 11), 3), [0, 1, 2], 2000, [0.8, 1.5, 2.5], 400, [0.8, 1.5, 2.5], 1000, 20000)
QUICK = _grid([0.5, 0.8, 1.2, 1.6, 2.0, 3.0], [0, 1], 300, [1.5], 100, [0.8, 2.0], 200, 2000)


def point(part: str, rule: str, g: float, seed: int, n: int, steps: int) -> dict:
    """One network at gain g: its (possibly plastic) weights, then the frozen dynamics' metrics."""
    net = RateNetwork.random(n, g, seed=seed, activation="tanh", dynamics="map")
    out: dict = {}
    if part == "plastic":
        noise = NOISE * np.random.default_rng(seed + 777).normal(size=(steps, n))
        res = net.run(steps, rule=RULES[rule], inputs=noise, record_every=10, progress=False)
        out.update(diverged=bool(res.diverged), diverged_at=np.nan if res.diverged_at is None else float(res.diverged_at))
        W = net.W
        if rule == "intrinsic":
            # intrinsic plasticity changes the neurons, not W: the frozen map is tanh(gain * W x - threshold)
            out["mean_gain"] = float(np.mean(net.rule_state.gain))
    else:
        W = net.W
    system = net.as_system()
    x0 = np.random.default_rng(seed + 1).uniform(-1.0, 1.0, n)
    lam = max_lyapunov(system, x0, steps=1000, transient=500)
    # activity statistics and the Jacobian's spectral radius along the autonomous trajectory
    frozen = RateNetwork(W, activation="tanh", dynamics="map", seed=seed)
    traj = frozen.run(1500, x0=x0, progress=False).rates[500:]
    jac_radius = float(np.mean([spectral_radius(system.jacobian(traj[k])) for k in range(0, len(traj), 500)]))
    out.update(
        max_lyapunov=float(lam),
        mean_field_lyapunov=tanh_map_mean_field(g).max_lyapunov,
        activity_variance=float(activity_variance(traj)),
        mean_field_variance=tanh_map_mean_field(g).activity_variance,
        radius_W=float(spectral_radius(W)),
        radius_J=jac_radius,
    )
    if part == "spectrum":
        spectrum = lyapunov_spectrum(system, x0, steps=1000, transient=200)
        positive = spectrum[spectrum > 0]
        out.update(spectrum=np.asarray(spectrum), ky_dimension=float(kaplan_yorke_dimension(spectrum)), entropy_rate=float(positive.sum()))
    return out


def figure(table: pd.DataFrame):
    from plasticity.plot import new_figure

    fig, axes = new_figure(2, 2, figsize=(9.5, 7.0))
    static = table[table.part == "static"]
    stats = static.groupby("g").agg(
        lam=("max_lyapunov", "mean"), lam_sd=("max_lyapunov", "std"),
        var=("activity_variance", "mean"), var_sd=("activity_variance", "std"),
        rW=("radius_W", "mean"), rJ=("radius_J", "mean"),
    ).reset_index()
    g_fine = np.linspace(0.45, float(table.g.max()) + 0.05, 200)
    mf = [tanh_map_mean_field(g) for g in g_fine]

    ax = axes[0, 0]
    ax.plot(g_fine, [m.max_lyapunov for m in mf], color="k", lw=1.2, label="mean field")
    ax.errorbar(stats.g, stats.lam, yerr=stats.lam_sd.fillna(0.0), fmt="o", ms=4, capsize=2, label=f"N = {int(static.n.iloc[0])}")
    ax.axhline(0.0, color="0.6", lw=0.8, ls="--")
    ax.set(xlabel="gain $g$", ylabel="max Lyapunov exponent (per step)")
    ax.legend(frameon=False, fontsize=8)

    ax = axes[0, 1]
    ax.plot(g_fine, [m.activity_variance for m in mf], color="k", lw=1.2, label="mean field $q^*/g^2$")
    ax.errorbar(stats.g, stats["var"], yerr=stats.var_sd.fillna(0.0), fmt="o", ms=4, capsize=2, label="activity variance")
    ax.plot(stats.g, stats.rJ, "s-", ms=3, lw=0.8, label=r"$\rho(J)$ along trajectory")
    ax.plot(stats.g, stats.rW, "^-", ms=3, lw=0.8, label=r"$\rho(W)$")
    ax.set(xlabel="gain $g$", ylabel="variance / spectral radius")
    ax.legend(frameon=False, fontsize=8)

    ax = axes[1, 0]
    for row in table[table.part == "spectrum"].itertuples():
        spec = np.asarray(row.spectrum)
        ax.plot(np.arange(1, len(spec) + 1) / len(spec), spec, lw=1.2, label=f"g = {row.g:g}: $D_{{KY}}$ = {row.ky_dimension:.1f}")
    ax.axhline(0.0, color="0.6", lw=0.8, ls="--")
    ax.set(xlabel="exponent index $i / N$", ylabel="Lyapunov exponent $\\lambda_i$ (per step)")
    ax.legend(frameon=False, fontsize=8)

    ax = axes[1, 1]
    ax.plot(g_fine, [m.max_lyapunov for m in mf], color="k", lw=1.0, label="no plasticity (mean field)")
    plastic = table[table.part == "plastic"]
    for rule, grp in plastic.groupby("rule", sort=False):
        s = grp.groupby("g").max_lyapunov.agg(["mean", "std"]).reset_index()
        ax.errorbar(s.g, s["mean"], yerr=s["std"].fillna(0.0), fmt="o-", ms=4, capsize=2, lw=1.0, label=rule)
        bad = grp[grp.diverged.astype(bool)]
        if len(bad):
            ax.plot(bad.g, np.zeros(len(bad)), "x", color="r", ms=8)
    ax.axhline(0.0, color="0.6", lw=0.8, ls="--")
    ax.set(xlabel="initial gain $g$", ylabel="max Lyapunov exponent after plasticity")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    for ax, letter in zip(axes.flat, "abcd"):
        ax.set_title(f"({letter})", loc="left", fontsize=10)
    return fig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv)


if __name__ == "__main__":
    main()
