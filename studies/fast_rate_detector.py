"""Fast rate detector: homeostasis destabilises activity when its rate estimate is slower than a critical time constant.

After Zenke, Hennequin & Gerstner (2013) PLoS Comput Biol 9:e1003330, "Synaptic plasticity in
neural networks needs homeostasis with a fast rate detector". Two parts.

Spiking part. The driven COBA network of :mod:`models.spiking_builders` (3200 E + 800 I), E->E
triplet STDP (minimal visual-cortex set, target = its BCM threshold theta0, amplitudes times ``eta``)
whose LTD slides with a low-pass rate estimate of time constant ``tau_rate``. A run is unstable when
its smoothed E rate passes the runaway rate (at any time, or after the first SETTLE_TIME s: the
settled state's instability), diverges, or ends silent (:func:`models.rate_detector.run_outcome`);
the simulated critical value lies between the last stable and the first unstable grid value. Two
linear (so ~1/eta) estimates (:mod:`models.rate_detector`): Poisson firing at the target, and the
drift measured in the recurrent network (``probe`` points) linearised at the settled rate; (c) sets
them against the simulated values for each eta. Zenke et al.'s own value could not be read in any
source available here (abstract: "seconds to minutes"); see PAPER.

Full mode (3 seeds, 30 s): after the transient the boundary is 2.8-4.0, 1.4-2.0, 1.0-1.4, 1.0-1.4,
0.7-1.0 s for eta = 0.25, 0.5, 1, 2, 4 (~eta^-0.45), and the measured drift 3.7, 1.5, 0.54, 0.29,
0.10 s (1.10x, 0.90x, then 0.46x, 0.25x, 0.12x; Poisson 4.4-1.1x): the linear estimate holds while the
boundary is above ~1.5 s and fails below, where unstable runs burst to 60-110 Hz every few seconds
and return (a), a finite-amplitude oscillation. Quick mode (5 s) ends before the first burst.

Rate part: BCM (power 2), threshold time constant ``tau_theta``: (i) one linear neuron, stable iff
tau_theta < 1 / (eta |x|^2) (Hopf; farther above, collapse to 0 or runaway); (ii) a recurrent ReLU
network (n = 100), the uniform mode the least stable (:mod:`models.bcm_stability`). Cost: quick ~2 min
on 2 cores (7 runs of 5 s, 14 probes), full ~45 min on one worker (180 runs of 30 s, 60 probes).
Writes ``fig_fast_rate_detector.*``, ``results.*`` (per part, model or eta and time constant) and ``points.*``.
"""
import math
import textwrap

import numpy as np
import pandas as pd

from models.bcm_stability import (AMPLITUDE_STABLE, COLLAPSED, NET_ETA, NET_I0, NET_N, NEURON_ETA, RATE_DT, RATE_T,
                                  bcm_network, bcm_neuron, network_boundaries, neuron_critical_tau, rate_stability)
from models.rate_detector import SETTLE_TIME, critical_estimates, critical_from_sweep, probe_drift, run_outcome, smooth
from plasticity.metrics.outcomes import agreement
from models.spiking_builders import MAX_RATE, RUNAWAY_RATE, driven_coba, triplet_rule, triplet_target

NAME = "fast_rate_detector"
TOLERANCE = 0.3          # an estimate "agrees" when within 30 % of the simulated critical value
PAPER = ("Zenke et al. 2013 (20000 E + 5000 I, p = 0.05, 2500 Poisson inputs at 2 Hz, target 3 Hz): "
         "critical value not found in the sources available here; abstract: 'seconds to minutes'")
TAU_THETA = [float(10 * 2 ** (k / 4)) for k in range(12)]          # 10 .. 67, factors 2^(1/4)
TAU_THETA_FINE = [float(10 * 2 ** (k / 8)) for k in range(24)]


def _grid(tau_rates, etas, seeds, duration, scales, tau_thetas, rate_seeds, n=4000):
    pts = [{"part": "spiking", "tau_rate": t, "eta": e, "seed": s, "n": n, "duration": duration}
           for e in etas for t in tau_rates for s in seeds]
    pts += [{"part": "probe", "kind": k, "ee_scale": g, "seed": s, "n": n} for g in scales for k in ("ltp", "ltd")
            for s in seeds]
    return pts + [{"part": "rate", "model": m, "tau_theta": t, "seed": s} for m in ("neuron", "network")
                  for t in tau_thetas for s in rate_seeds]


GRID = _grid([0.1, 0.2, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0, 5.0, 10.0, 20.0], [0.25, 0.5, 1.0, 2.0, 4.0], [0, 1, 2], 30.0,
             [0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05], TAU_THETA_FINE, [0, 1, 2, 3, 4])
QUICK = _grid([0.1, 0.3, 1.0, 1.4, 2.0, 3.0, 10.0], [1.0], [0], 5.0, [0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0], TAU_THETA, [0])


def point(part: str, seed: int, tau_rate: float = math.nan, eta: float = 1.0, n: int = 4000, duration: float = 5.0,
          kind: str = "", ee_scale: float = 1.0, model: str = "", tau_theta: float = math.nan,
          drive: float = 50.0) -> dict:
    """One grid point: ``spiking`` (tau_rate, eta), ``probe`` (kind, ee_scale) or ``rate`` (model, tau_theta)."""
    if part == "rate":
        if model == "neuron":
            t, y = bcm_neuron(tau_theta, seed)
            diverged, tau_c, tau_c_other = len(y) < int(round(RATE_T / RATE_DT)), neuron_critical_tau(NEURON_ETA, 1.0), math.nan
        else:
            res = bcm_network(tau_theta, seed)
            t, y, diverged = res.times, res.rates.mean(axis=1), res.diverged
            tau_c, tau_c_other = network_boundaries(seed)
        keep = np.linspace(0, len(y) - 1, min(len(y), 500)).astype(int)
        return {**rate_stability(t, y, diverged), "tau_c": tau_c, "tau_c_bulk": tau_c_other,
                "t": np.asarray(t)[keep], "y": np.asarray(y)[keep]}
    if part == "probe":
        return probe_drift(kind, ee_scale, seed, n=n, drive=drive)
    if part != "spiking":
        raise ValueError(f"part must be one of ('spiking', 'probe', 'rate'); got {part!r}")
    res = driven_coba(n, drive, seed).run(duration, plasticity={"EE": triplet_rule(eta, triplet_target(), tau_rate)},
                                          record_weights_every=duration / 20, progress=False, max_rate=MAX_RATE)
    return {**run_outcome(res), "w_EE_final": float(res.weights["EE"][-1].mean() / res.weights["EE"][0].mean())}


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (part, model or eta, time constant): means over seeds, fraction unstable, critical values."""
    ok = table[table["error"].isna()]
    rows, est = [], critical_estimates(ok)
    for (eta, tau), g in ok[ok["part"] == "spiking"].groupby(["eta", "tau_rate"]):
        e = est[float(eta)]
        rows.append({"part": "spiking", "model": f"COBA triplet, eta={eta:g}", "tau": tau, "unit": "s",
                     "unstable_frac": g["unstable"].mean(), "why": ",".join(sorted(set(g["why"].fillna("")) - {""})),
                     "peak_rate_Hz": g["rate_E_peak"].mean(), "final_rate_Hz": g["rate_E_final"].mean(),
                     "slow_osc": g["slow_osc"].mean(), "tau_c_sim": e["sim"][0], "tau_c_sim_lo": e["sim"][1],
                     "tau_c_sim_hi": e["sim"][2], "tau_c_sim_late": e["sim_late"][0], "tau_c_poisson": e["poisson"],
                     "tau_c_measured": e["measured"], "measured_over_sim": e["measured"] / e["sim"][0],
                     "measured_over_reference": (r := e["measured"] / e["reference"][0]), "agreement": agreement(r, TOLERANCE),
                     "operating_rate_Hz": e["rho_star"],
                     "ltp_excess": e["ltp_excess"], "balance": e["balance"], "paper": PAPER, "runs": len(g)})
    for (model, tau), g in ok[ok["part"] == "rate"].groupby(["model", "tau_theta"]):
        rows.append({"part": "rate", "model": f"BCM {model}", "tau": tau, "unit": "model time",
                     "unstable_frac": g["unstable"].mean(), "amplitude": g["amplitude"].mean(),
                     "final_rate": g["final_rate"].mean(), "diverged_frac": g["diverged"].mean(),
                     "tau_c_theory": g["tau_c"].mean(), "runs": len(g)})
    out = pd.DataFrame(rows)
    rate = out["part"] == "rate" if len(out) else []
    if len(out) and rate.any():
        crit = {m: critical_from_sweep(g["tau"], g["unstable_frac"]) for m, g in out[rate].groupby("model")}
        for k, col in enumerate(("tau_c_sim", "tau_c_sim_lo", "tau_c_sim_hi")):
            out.loc[rate, col] = out.loc[rate, "model"].map({m: c[k] for m, c in crit.items()})
    return out


def _spiking_panels(axes, ok):
    """(a) E rate over time, (b) peak and final E rate against tau_rate, (c) the critical values side by side."""
    import matplotlib as mpl

    from plasticity.plot import PALETTE, plain_log_ticks

    sp, est = ok[ok["part"] == "spiking"], critical_estimates(ok)
    ax = axes[0]
    if len(sp):
        eta0 = 1.0 if (sp["eta"] == 1.0).any() else float(sp["eta"].iloc[0])
        first = sp[(sp["eta"] == eta0) & (sp["seed"] == sp["seed"].min())].sort_values("tau_rate")
        norm, cmap = mpl.colors.LogNorm(first["tau_rate"].min(), first["tau_rate"].max()), mpl.colormaps["viridis"]
        for row in first.itertuples():
            y = smooth(row.rate_E_t)
            ax.plot(row.rate_times, y, color=cmap(norm(row.tau_rate)), label=f"{row.tau_rate:g} s")
            if row.unstable and math.isfinite(row.runaway_at):
                ax.plot(row.runaway_at, RUNAWAY_RATE, "X", color=cmap(norm(row.tau_rate)), markeredgecolor="k",
                        markersize=8, gid="diverged", label="_nolegend_")
        ax.axhline(RUNAWAY_RATE, color="0.4", ls="--", lw=0.8, label=f"runaway ({RUNAWAY_RATE:g} Hz; X: first crossing)")
        ax.axhline(triplet_target(), color="0.5", ls=":", lw=0.8, label=f"target {triplet_target():.1f} Hz")
        ax.set_ylim(0, 1.45 * max(float(np.max(smooth(r))) for r in first["rate_E_t"]))
        ax.legend(title=r"$\tau_{rate}$", fontsize=6.5, title_fontsize=7, ncol=3, loc="upper right")
        ax.set_title(f"eta = {eta0:g}, seed {int(first['seed'].iloc[0])}, 0.15 s smoothing", fontsize=8, loc="right")
    ax.set(xlabel="time (s)", ylabel="E rate (Hz)")
    ax = axes[1]
    for k, (eta, g) in enumerate(sp.groupby("eta")):
        by = g.groupby("tau_rate")
        taus, bad = by["unstable"].mean().index.to_numpy(float), by["unstable"].mean().to_numpy() >= 0.5
        for col, ls in (("rate_E_peak", "-"), ("rate_E_final", "--")):
            y = by[col].mean().to_numpy()
            ax.plot(taus, y, "o" + ls, color=PALETTE[k], label=f"eta = {eta:g}" if ls == "-" else None)
            ax.plot(taus[bad], y[bad], "X", color=PALETTE[k], markersize=8, markeredgecolor="k", gid="diverged")
        _, lo, hi = est[float(eta)]["sim"]
        ax.axvspan(lo, min(hi, taus.max()), color=PALETTE[k], alpha=0.12, lw=0,
                   label=r"simulated $\tau_c$ bracket" if k == 0 else None)
    ax.axhline(RUNAWAY_RATE, color="0.4", ls="--", lw=0.8), ax.axhline(triplet_target(), color="0.5", ls=":", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel=r"rate detector time constant $\tau_{rate}$ (s)", ylabel="E rate (Hz)")
    ax.set_ylim(2.5, 800), plain_log_ticks(ax.yaxis, [2, 5, 10, 20, 50, 100, 200])  # room above the data: legend
    if len(sp):
        ax.plot([], [], "X", color="0.6", markeredgecolor="k", label="unstable (most runs)")
        ax.legend(fontsize=6.5, loc="upper left", ncol=2, title="solid: peak, dashed: last quarter", title_fontsize=7)
    ax, etas = axes[2], sorted(est)
    for k, eta in enumerate(etas):   # (c) the critical values against eta: linear theory has tau_c ~ 1 / eta
        e = est[eta]
        for key, dx, color, name in (("sim", 0.97, "k", "simulated, any crossing"),
                                     ("sim_late", 1.03, "0.55", f"simulated, crossings after {SETTLE_TIME:g} s")):
            x, lo, hi = e[key]
            if math.isfinite(lo):
                ax.plot([eta * dx] * 2, [max(lo, 1e-2), min(hi, 1e3)], "-_", color=color, lw=2, markersize=10,
                        label=name + " (grid bracket)" if k == 0 else None)
            if e[key] is e["reference"] and math.isfinite(x):
                ax.plot([eta] * 2, [x * (1 - TOLERANCE), x * (1 + TOLERANCE)], "-", color="0.85", lw=9, zorder=0,
                        solid_capstyle="butt", label=f"reference $\\pm${TOLERANCE:.0%}" if k == 0 else None)
        for j, (key, mk, name) in enumerate((("poisson", "s", "Poisson mean field"), ("measured", "D", "measured drift"))):
            if math.isfinite(e[key]):
                ax.plot(eta, e[key], mk, color=PALETTE[j + 1], label=name if k == 0 else None)
    grid, mid = np.array([etas[0] / 1.6, etas[-1] * 1.6]), etas[len(etas) // 2]
    if len(etas) > 1:  # through the simulated value at the middle eta
        ax.plot(grid, est[mid]["sim"][0] * mid / grid, ":", color="0.3", lw=1, label=r"$\propto 1/\eta$")
    ax.set(xscale="log", yscale="log", xlim=grid, ylim=(0.025, 60), xlabel=r"learning-rate factor $\eta$",
           ylabel=r"critical $\tau_{rate}$ (s)")
    plain_log_ticks(ax.xaxis, [e for e in (0.25, 0.5, 1, 2, 4) if grid[0] <= e <= grid[1]])
    plain_log_ticks(ax.yaxis, [0.1, 0.2, 0.5, 1, 2, 5, 10, 20])
    ax.legend(fontsize=6.5, loc="upper right")
    ax.text(0.02, 0.02, textwrap.fill("Estimates linearise at the settled rate (rho* in the table). " + PAPER, 75),
            transform=ax.transAxes, fontsize=6, va="bottom")


def figure(table: pd.DataFrame):
    """(a-c) spiking part (module docstring); (d) BCM rate time courses, (e) oscillation amplitude against
    tau_theta, (f) unstable fraction against tau_theta / tau_c."""
    from plasticity.plot import PALETTE, new_figure, plain_log_ticks

    ok = table[table["error"].isna()]
    fig, axes = new_figure(2, 3, figsize=(11.5, 7.2))
    _spiking_panels(axes[0], ok)
    rate = ok[ok["part"] == "rate"]
    ax = axes[1, 0]
    net = rate[(rate["model"] == "network") & (rate["seed"] == rate["seed"].min())] if len(rate) else rate
    if len(net):
        tc = float(net["tau_c"].iloc[0])
        ratio = net["tau_theta"].to_numpy(float) / tc
        for k, target in enumerate((0.85, 1.15)):  # examples well inside each side
            row = net.iloc[int(np.argmin(np.abs(np.log(ratio / target))))]
            ax.plot(row["t"], row["y"], color=PALETTE[k], label=f"$\\tau_\\theta$ = {row['tau_theta']:.3g} "
                    f"({row['tau_theta'] / tc:.2f} $\\tau_c$)")
        ax.axhline(1.0, color="0.5", ls=":", lw=0.8), ax.set_ylim(0, 2.5), ax.legend(fontsize=7, loc="upper left")
        ax.set_title(f"BCM rate network, seed {int(net['seed'].iloc[0])}: mean rate", fontsize=8, loc="right")
    ax.set(xlabel="time (model units)", ylabel="mean rate (fixed point 1)")
    ax, floor = axes[1, 1], 1e-6
    for k, (model, g) in enumerate(rate.groupby("model", sort=False)):
        by = g.groupby("tau_theta")
        taus, amp = by["amplitude"].median().index.to_numpy(float), by["amplitude"].median().to_numpy()
        bad, div = by["unstable"].mean().to_numpy() >= 0.5, by["diverged"].mean().to_numpy() >= 0.5
        silent = (by["final_rate"].median().to_numpy() < COLLAPSED) & ~div
        ax.plot(taus[~silent & ~div], np.maximum(amp, floor)[~silent & ~div], "o-", color=PALETTE[k], label=model)
        ax.plot(taus[bad & ~silent & ~div], np.maximum(amp, floor)[bad & ~silent & ~div], "o", color="none",
                markeredgecolor="k", markersize=7, label="unstable (most runs)" if k == 0 else None)
        for mask, mk, y, gid, name in ((silent, "v", 0.03, "silent", "collapsed to y = 0 (silent)"),
                                       (div, "X", 0.97, "diverged", "diverged (|x| > 1e3)")):
            if mask.any():
                ax.plot(taus[mask], [y] * int(mask.sum()), mk, color=PALETTE[k], markeredgecolor="k", markersize=8,
                        gid=gid, transform=ax.get_xaxis_transform(), clip_on=False, label=name)
        ax.axvline(tc := float(g["tau_c"].iloc[0]), color=PALETTE[k], ls="--", lw=1.0, label=f"{model}: analytic $\\tau_c$ = {tc:.3g}")
    if len(rate):
        adiabatic = NET_I0 / (NET_ETA * NET_N)
        ax.axvline(adiabatic, color="0.5", ls=":", lw=1.0, label=f"network without neuron lag: {adiabatic:.3g}")
        ax.axhline(AMPLITUDE_STABLE, color="0.5", ls="-", lw=0.6)
        ax.set(xscale="log", yscale="log", ylim=(5e-7, 1e6))  # room above the data for the legend
        plain_log_ticks(ax.xaxis, [10, 15, 20, 30, 40, 60])
        unique = dict(zip(*ax.get_legend_handles_labels()[::-1]))
        ax.legend(unique.values(), unique.keys(), fontsize=6, loc="upper left", ncol=2, bbox_to_anchor=(0.0, 0.93))
    ax.set(xlabel=r"threshold time constant $\tau_\theta$ (model units)", ylabel="oscillation amplitude, last quarter (floor 1e-6)")
    ax = axes[1, 2]
    for k, (model, g) in enumerate(rate.groupby("model", sort=False)):
        frac = g.assign(ratio=g["tau_theta"] / g["tau_c"]).groupby("ratio")["unstable"].mean()
        ax.plot(frac.index, frac.to_numpy(), "o-", color=PALETTE[k], label=model)
    ax.axvline(1.0, color="k", ls="--", lw=0.8, label="analytic boundary")
    ax.set(xscale="log", ylim=(-0.05, 1.05), xlabel=r"$\tau_\theta / \tau_c$ (analytic $\tau_c$ of each model)",
           ylabel="fraction of runs unstable")
    plain_log_ticks(ax.xaxis, [0.5, 0.7, 1.0, 1.5, 2.0, 3.0])
    ax.legend(fontsize=7, loc="upper left")
    for ax, letter in zip(axes.flat, "abcdef"):
        ax.set_title(f"({letter})", loc="left", fontsize=10, fontweight="bold")
    return fig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
