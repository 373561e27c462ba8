"""Fast rate detector: homeostasis destabilises activity when its rate estimate is slower than a critical time constant.

After Zenke, Hennequin & Gerstner (2013) PLoS Comput Biol 9:e1003330, "Synaptic plasticity in
neural networks needs homeostasis with a fast rate detector". Two parts.

Spiking part. The COBA network of :mod:`models.spiking_builders` (3200 E + 800 I, weak Poisson
drive; as in :mod:`studies.spiking_homeostasis`) with E->E triplet STDP whose LTD amplitude slides
with a low-pass estimate of each neuron's rate (Pfister & Gerstner 2006 minimal set, target = its
threshold 17.5 Hz, amplitudes times ``eta``), over the detector time constant ``tau_rate``. A run
is unstable when its E rate (50 ms bins, 0.15 s smoothing) passes 50 Hz at any time (runaway) or
ends below 1 Hz.
Mean-field estimate (Poisson firing, no spike correlations, network rate rho following the mean
E->E weight w instantly with gain G = d rho / d w): the minimal rule with target kappa = theta0
drifts as dw/dt = A rho^2 (rho - r^2 / kappa), A = eta a3+ tau+ tau_y, and tau_rate dr/dt = rho - r,
which is the 2-D system (i) below with k = G A kappa^2, so

    tau_rate_c ~ 1 / (G eta a3+ tau+ tau_y kappa^2)

(with G measured from static runs with scaled E->E weights, the ``gain`` points). It ignores the
spike correlations and detector noise that move the real fixed point below kappa, so it is an
order-of-magnitude check, not a prediction to test.

Rate part: BCM (``plasticity.rules.BCM``, power 2) with threshold time constant ``tau_theta``.

(i) One linear neuron y = w . x with a constant input x: stable iff tau_theta < tau_c =
1 / (eta |x|^2), where a Hopf bifurcation (supercritical) turns the fixed point y* = theta* = 1
into a limit cycle; farther above, the rate collapses to y = 0 or runs away.

(ii) A recurrent ReLU rate network (``models.RateNetwork`` flow, n = 100, all W plastic under
BCM): per eigenvalue lambda of the fixed-point weights, a mode with its own Routh-Hurwitz boundary
tau_c(lambda) = (1 - lambda) / m - tau / (1 - lambda) + O(tau^2), m = eta n; the uniform mode
(lambda = 1 - I0) is the least stable one.

Both derivations, the closed forms, the models and their reference configuration are in
:mod:`models.bcm_stability`.

Writes ``fig_fast_rate_detector.{png,pdf}``, ``results.{csv,parquet}`` (one row per part, model
or learning rate and time constant, means over seeds) and ``points.{csv,parquet}``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models.bcm_stability import (AMPLITUDE_STABLE, NET_ETA, NET_I0, NET_N, NEURON_ETA, RATE_DT, RATE_T, bcm_network,
                                   bcm_neuron, network_boundaries, neuron_critical_tau, rate_stability)
from models.spiking_builders import MAX_RATE, RATE_BIN, RUNAWAY_RATE, SILENT_RATE, driven_coba, triplet_rule, triplet_target
from plasticity.rules import TripletSTDP

NAME = "fast_rate_detector"

# rate part (models.bcm_stability): threshold time constants around tau_c = 30 (neuron), 21.6 (network)
TAU_THETA = [float(10 * 2 ** (k / 4)) for k in range(12)]          # 10 .. 67, factors 2^(1/4)
TAU_THETA_FINE = [float(10 * 2 ** (k / 8)) for k in range(24)]

# spiking part
GAIN_SCALES = [0.9, 0.95, 1.0, 1.05]


def _grid(tau_rates, etas, seeds, n, duration, tau_thetas, rate_seeds, gain_duration):
    pts = [{"part": "spiking", "tau_rate": t, "eta": e, "seed": s, "n": n, "duration": duration}
           for e in etas for t in tau_rates for s in seeds]
    pts += [{"part": "gain", "ee_scale": g, "seed": s, "n": n, "duration": gain_duration} for g in GAIN_SCALES for s in seeds]
    pts += [{"part": "rate", "model": m, "tau_theta": t, "seed": s} for m in ("neuron", "network")
            for t in tau_thetas for s in rate_seeds]
    return pts


GRID = _grid([0.1, 0.2, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 5.0, 10.0, 20.0], [0.5, 1.0, 2.0], [0, 1, 2], 4000, 30.0,
             TAU_THETA_FINE, [0, 1, 2, 3, 4], 5.0)
QUICK = _grid([0.1, 0.3, 1.0, 3.0, 10.0], [1.0], [0], 4000, 5.0, TAU_THETA, [0], 2.0)


# -- the study ------------------------------------------------------------------------------
def point(part: str, seed: int, tau_rate: float = math.nan, eta: float = 1.0, n: int = 4000, duration: float = 5.0,
          ee_scale: float = 1.0, model: str = "", tau_theta: float = math.nan, drive: float = 50.0) -> dict:
    """One grid point of a part: ``spiking`` (tau_rate, eta), ``gain`` (ee_scale) or ``rate`` (model, tau_theta)."""
    if part == "rate":
        if model == "neuron":
            t, y = bcm_neuron(tau_theta, seed)
            diverged, tau_c, tau_c_other = len(y) < int(round(RATE_T / RATE_DT)), neuron_critical_tau(NEURON_ETA, 1.0), math.nan
        else:
            res = bcm_network(tau_theta, seed)
            t, y, diverged = res.times, res.rates.mean(axis=1), res.diverged
            tau_c, tau_c_other = network_boundaries(seed)
        out = rate_stability(t, y, diverged)
        keep = np.linspace(0, len(y) - 1, min(len(y), 500)).astype(int)
        return {**out, "tau_c": tau_c, "tau_c_bulk": tau_c_other, "t": np.asarray(t)[keep], "y": np.asarray(y)[keep]}
    net = driven_coba(n, drive, seed, ee_scale=ee_scale)
    if part == "gain":
        res = net.run(duration, progress=False)
        return {"rate_E_final": res.rates["E"]}
    if part != "spiking":
        raise ValueError(f"part must be one of ('spiking', 'gain', 'rate'); got {part!r}")
    res = net.run(duration, plasticity={"EE": triplet_rule(eta, triplet_target(), tau_rate)},
                  record_weights_every=duration / 20, progress=False, max_rate=MAX_RATE)
    times, rates = res.rate_over_time(RATE_BIN)
    smooth = np.convolve(rates["E"], np.ones(3), "same") / np.convolve(np.ones_like(rates["E"]), np.ones(3), "same")
    T = res.duration
    final = float(np.mean(rates["E"][times >= 0.75 * T])) if times.size else math.nan
    over = np.flatnonzero(smooth > RUNAWAY_RATE)
    half = rates["E"][times >= T / 2]
    k = max(1, int(round(0.5 / RATE_BIN)))  # slow oscillation: 0.5 s bins over the second half
    slow = half[: len(half) // k * k].reshape(-1, k).mean(axis=1) if len(half) >= 2 * k else half
    return {"rate_E_peak": float(smooth.max()) if smooth.size else math.nan, "rate_E_final": final,
            "slow_osc": float(slow.std() / slow.mean()) if slow.size > 1 and slow.mean() > 0 else math.nan,
            "runaway_at": float(times[over[0]]) if over.size else math.nan,
            "diverged": bool(res.diverged), "unstable": bool(res.diverged or over.size > 0 or final < SILENT_RATE),
            "w_EE_final": float(res.weights["EE"][-1].mean() / res.weights["EE"][0].mean()),
            "rate_times": times, "rate_E_t": rates["E"]}


def gain_estimate(table: pd.DataFrame) -> tuple[float, float]:
    """(G = d rho_E / d w at rho_E = target, w there), w in units of the initial E->E weight (seed means)."""
    g = table[(table["part"] == "gain") & table["error"].isna()].groupby("ee_scale")["rate_E_final"].mean()
    if len(g) < 2:
        return math.nan, math.nan
    s, r = g.index.to_numpy(float), g.to_numpy(float)
    slope = np.gradient(r, s)
    w = float(np.interp(triplet_target(), r, s)) if np.all(np.diff(r) > 0) else 1.0
    return float(np.interp(w, s, slope)), w


def meanfield_tau_rate(G: float, eta: float) -> float:
    """tau_rate_c ~ 1 / (G eta a3+ tau+ tau_y kappa^2) (module docstring), s."""
    r = TripletSTDP.minimal_visual_cortex()  # amplitudes in units of the initial weight, as G
    return 1.0 / (G * eta * r.a3_plus * r.tau_plus * r.tau_y * triplet_target() ** 2)


def critical_from_sweep(taus, unstable_frac) -> tuple[float, float, float]:
    """(estimate, lower, upper): the first tau at which most runs are unstable and the one before it."""
    taus, frac = np.asarray(taus, float), np.asarray(unstable_frac, float)
    order = np.argsort(taus)
    taus, frac = taus[order], frac[order]
    hit = np.flatnonzero(frac >= 0.5)
    if hit.size == 0:
        return math.nan, taus[-1], math.inf
    if hit[0] == 0:
        return math.nan, 0.0, taus[0]
    lo, hi = taus[hit[0] - 1], taus[hit[0]]
    return math.sqrt(lo * hi), lo, hi


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (part, model or eta, time constant): means over seeds, fraction unstable, critical values."""
    ok = table[table["error"].isna()]
    rows = []
    sp = ok[ok["part"] == "spiking"]
    G, _ = gain_estimate(ok)
    for (eta, tau), g in sp.groupby(["eta", "tau_rate"]):
        rows.append({"part": "spiking", "model": f"COBA triplet, eta={eta:g}", "tau": tau, "unit": "s",
                     "unstable_frac": g["unstable"].mean(), "peak_rate_Hz": g["rate_E_peak"].mean(),
                     "final_rate_Hz": g["rate_E_final"].mean(), "slow_osc": g["slow_osc"].mean(),
                     "tau_c_theory": meanfield_tau_rate(G, eta), "runs": len(g)})
    for (model, tau), g in ok[ok["part"] == "rate"].groupby(["model", "tau_theta"]):
        rows.append({"part": "rate", "model": f"BCM {model}", "tau": tau, "unit": "model time",
                     "unstable_frac": g["unstable"].mean(), "amplitude": g["amplitude"].mean(),
                     "final_rate": g["final_rate"].mean(), "diverged_frac": g["diverged"].mean(),
                     "tau_c_theory": g["tau_c"].mean(), "runs": len(g)})
    out = pd.DataFrame(rows)
    if len(out):
        crit = {m: critical_from_sweep(g["tau"], g["unstable_frac"]) for m, g in out.groupby("model")}
        out["tau_c_sim"] = out["model"].map(lambda m: crit[m][0])
        out["tau_c_sim_lo"] = out["model"].map(lambda m: crit[m][1])
        out["tau_c_sim_hi"] = out["model"].map(lambda m: crit[m][2])
    return out


def figure(table: pd.DataFrame):
    """(a) E rate over time per tau_rate, (b) peak and (c) final E rate vs tau_rate; (d) BCM rate time
    courses, (e) oscillation amplitude vs tau_theta, (f) unstable fraction vs tau_theta / tau_c."""
    import matplotlib as mpl
    from matplotlib.ticker import LogFormatter

    from plasticity.plot import PALETTE, new_figure

    ok = table[table["error"].isna()]
    fig, axes = new_figure(2, 3, figsize=(11.0, 7.0))
    sp = ok[ok["part"] == "spiking"]
    G, _ = gain_estimate(ok)
    ax = axes[0, 0]
    if len(sp):
        eta0 = 1.0 if (sp["eta"] == 1.0).any() else sp["eta"].iloc[0]
        first = sp[(sp["eta"] == eta0) & (sp["seed"] == sp["seed"].min())].sort_values("tau_rate")
        norm = mpl.colors.LogNorm(first["tau_rate"].min(), first["tau_rate"].max())
        cmap = mpl.colormaps["viridis"]
        for row in first.itertuples():
            y = np.convolve(row.rate_E_t, np.ones(3), "same") / np.convolve(np.ones_like(row.rate_E_t), np.ones(3), "same")
            ax.plot(row.rate_times + RATE_BIN / 2, np.maximum(y, 0.5), color=cmap(norm(row.tau_rate)),
                    label=f"{row.tau_rate:g} s")
        ax.axhline(RUNAWAY_RATE, color="0.4", ls="--", lw=0.8, label="runaway")
        ax.axhline(triplet_target(), color="0.5", ls=":", lw=0.8, label="target")
        ax.set_yscale("log")
        ax.set_ylim(0.8, 3000)  # room above the traces for the legend
        ax.legend(title=r"$\tau_{rate}$", fontsize=7, title_fontsize=7, ncol=4, loc="upper right")
        ax.set_title(f"eta = {eta0:g}, seed {int(first['seed'].iloc[0])}", fontsize=8, loc="right")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("E rate (Hz)")
    for ax, col, label in ((axes[0, 1], "rate_E_peak", "peak E rate (Hz)"), (axes[0, 2], "rate_E_final", "E rate, last quarter (Hz)")):
        for k, (eta, g) in enumerate(sp.groupby("eta")):
            by = g.groupby("tau_rate")
            taus, mean, frac = by[col].mean().index.to_numpy(float), by[col].mean().to_numpy(), by["unstable"].mean().to_numpy()
            ax.plot(taus, mean, "o-", color=PALETTE[k], label=f"eta = {eta:g}")
            ax.plot(taus[frac >= 0.5], mean[frac >= 0.5], "X", color=PALETTE[k], markersize=8, markeredgecolor="k",
                    markeredgewidth=0.6, gid="diverged", label="_nolegend_")
            est, _, _ = critical_from_sweep(taus, frac)
            if math.isfinite(est):
                ax.axvline(est, color=PALETTE[k], lw=1.0)
            mf = meanfield_tau_rate(G, eta)
            if math.isfinite(mf):
                ax.axvline(mf, color=PALETTE[k], lw=1.0, ls="--")
        ax.axhline(RUNAWAY_RATE if col == "rate_E_peak" else triplet_target(), color="0.5", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
        ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 1)))
        ax.set_xlabel(r"rate detector time constant $\tau_{rate}$ (s)")
        ax.set_ylabel(label)
    if len(sp):
        from matplotlib.lines import Line2D

        extra = [Line2D([], [], marker="X", color="0.6", markeredgecolor="k", ls="none", markersize=8,
                        label="unstable (most runs)"),
                 Line2D([], [], color="0.3", lw=1.0, label=r"simulated $\tau_c$ (between the grid values)"),
                 Line2D([], [], color="0.3", lw=1.0, ls="--", label=r"mean-field $\tau_c$ (Poisson, no correlations)")]
        handles, _ = axes[0, 1].get_legend_handles_labels()
        axes[0, 1].legend(handles=handles + extra, fontsize=7, loc="upper left")
    rate = ok[ok["part"] == "rate"]
    ax = axes[1, 0]
    net = rate[(rate["model"] == "network") & (rate["seed"] == rate["seed"].min())] if len(rate) else rate
    if len(net):
        tc = float(net["tau_c"].iloc[0])
        ratio = net["tau_theta"].to_numpy(float) / tc
        below = net.iloc[int(np.argmin(np.abs(np.log(ratio / 0.85))))]  # examples well inside each side
        above = net.iloc[int(np.argmin(np.abs(np.log(ratio / 1.15))))]
        for k, row in enumerate((below, above)):
            ax.plot(row["t"], row["y"], color=PALETTE[k], label=f"$\\tau_\\theta$ = {row['tau_theta']:.3g}"
                    f" ({row['tau_theta'] / tc:.2f} $\\tau_c$)")
        ax.axhline(1.0, color="0.5", ls=":", lw=0.8)
        ax.set_ylim(0, 2.5)
        ax.legend(fontsize=7, loc="upper left")
        ax.set_title(f"BCM rate network, seed {int(net['seed'].iloc[0])}: mean rate", fontsize=8, loc="right")
    ax.set_xlabel("time (model units)")
    ax.set_ylabel("mean rate (fixed point 1)")
    ax = axes[1, 1]
    for k, (model, g) in enumerate(rate.groupby("model", sort=False)):
        by = g.groupby("tau_theta")
        taus = by["amplitude"].mean().index.to_numpy(float)
        amp = np.maximum(by["amplitude"].median().to_numpy(), 1e-6)
        frac, div = by["unstable"].mean().to_numpy(), by["diverged"].mean().to_numpy()
        ax.plot(taus, amp, "o-", color=PALETTE[k], label=model)
        bad = frac >= 0.5
        ax.plot(taus[bad], amp[bad], "o", color="none", markeredgecolor="k", markersize=7,
                label="unstable (most runs)" if k == 0 else None)
        if np.any(div >= 0.5):
            ax.plot(taus[div >= 0.5], [0.97] * int(np.sum(div >= 0.5)), "X", color=PALETTE[k], markeredgecolor="k",
                    markeredgewidth=0.6, markersize=8, gid="diverged", transform=ax.get_xaxis_transform(), clip_on=False,
                    label="diverged (|x| > 1e3)")
        ax.axvline(float(g["tau_c"].iloc[0]), color=PALETTE[k], ls="--", lw=1.0,
                   label=f"{model}: analytic $\\tau_c$ = {float(g['tau_c'].iloc[0]):.3g}")
    if len(rate):
        adiabatic = NET_I0 / (NET_ETA * NET_N)
        ax.axvline(adiabatic, color="0.5", ls=":", lw=1.0, label=f"network without neuron lag: {adiabatic:.3g}")
        ax.axhline(AMPLITUDE_STABLE, color="0.5", ls="-", lw=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(5e-7, 1e6)  # room above the data for the legend
        _plain_log_ticks(ax.xaxis, [10, 15, 20, 30, 40, 60])
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        ax.legend(unique.values(), unique.keys(), fontsize=6.5, loc="upper left", ncol=2, bbox_to_anchor=(0.0, 0.93))
    ax.set_xlabel(r"threshold time constant $\tau_\theta$ (model units)")
    ax.set_ylabel("oscillation amplitude, last quarter")
    ax = axes[1, 2]
    for k, (model, g) in enumerate(rate.groupby("model", sort=False)):
        frac = g.assign(ratio=g["tau_theta"] / g["tau_c"]).groupby("ratio")["unstable"].mean()
        ax.plot(frac.index, frac.to_numpy(), "o-", color=PALETTE[k], label=model)
    ax.axvline(1.0, color="k", ls="--", lw=0.8, label=r"analytic boundary")
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis, [0.5, 0.7, 1.0, 1.5, 2.0, 3.0])
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(r"$\tau_\theta / \tau_c$ (analytic $\tau_c$ of each model)")
    ax.set_ylabel("fraction of runs unstable")
    ax.legend(fontsize=7, loc="upper left")
    for ax, letter in zip(axes.flat, "abcdef"):
        ax.set_title(f"({letter})", loc="left", fontsize=10, fontweight="bold")
    return fig


def _plain_log_ticks(axis, ticks) -> None:
    """Plain-number ticks on a log axis (the default 3x10^1 labels collide on a short decade)."""
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
