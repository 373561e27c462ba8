"""Compensation timescale: compensation of E->E Hebbian learning must be faster than a critical time constant that scales as 1/learning rate.

The rate version of Zenke, Hennequin & Gerstner (2013) PLoS Comput Biol 9:e1003330 and
Toyoizumi, Kaneko, Stryker & Miller (2014) Neuron 84:497. The E->E weights of a
threshold-linear E/I network (``RateNetwork.ei``, Euler flow) learn under (a) BCM,
``dw/dt = eta y (y - theta) x``, ``tau dtheta/dt = y^2 - theta`` (compensation time constant
``tau = tau_theta``), or (b) Hebbian + synaptic scaling, ``dw/dt = eta y x + eta_s (T - a) w``,
``tau da/dt = y - a`` (``eta_s = kappa eta``, so every learning rate has the same fixed point).
For each learning rate ``eta`` the compensation time constant ``tau`` is swept around the
predicted critical value, each run is classified, and the simulated boundary is compared with
the linear-stability prediction.

Prediction (:mod:`models.ei_meanfield`, derivation there). With ``p = 1`` every E neuron has
``K = n_E - 1`` E inputs and the network is its mean field; adiabatic rates ``r = F(J)`` make
plasticity a 2-D system in (J, theta or a) whose fixed point (r* = 1, J* = 1) loses stability
through a Hopf bifurcation at ``tau_c = 1 / (eta K G)``: ``1 / (2 eta K)`` (BCM) and
``1 / (3 eta K)`` (scaling, T = 0.5), log-log slope -1 against eta. The 4-D mean field with the
rates' lag (:func:`models.ei_meanfield.full_critical_tau`) is smaller by ~1.7 / tau_c (BCM) and
within 1.5% (scaling, tau_c >= 8): drawn dashed, the expected deviation at small tau_c.

Simulation (:mod:`models.ei_compensation`): ``n_E = 40``, ``n_I = 10``, ``p = 1``, seed 0, dt = 0.1.
Every run starts at the fixed point with the compensation variable displaced by ``DELTA = 2%``
and runs ``RUN_LENGTH = 100`` predicted tau_c: long against the onset period (2 pi tau_c for BCM,
~11 tau_c for scaling) and the growth time next to the boundary (~22 tau_c full, 10 quick), so a
2% deviation grows past the 7% of the oscillation criterion (or decays) within the run. The tau
grid is offset by half a step from tau_c (factors 2^((k + 1/2)/8), 0.26 to 3.8, full;
2^((k + 1/2)/4), 0.55 to 1.8, quick) so that no run sits on the marginal prediction itself; eta
from 2e-5 to 1e-3 (6 values; quick: 5e-5, 2e-4, 1e-3). Beside it (full mode only): ``p = 0.1``,
``n_E = 400``, ``n_I = 100``, eta = 2e-4, rows normalised to the J's (in-degrees K_i ~ 40 +- 6
still differ; the prediction uses the mean K), settled first under fast compensation.

Outcome of a run: ``classify_run`` on E with target r* over the last quarter ("diverged",
"runaway", "oscillating": CV about the trend > 0.05, else "stable"); a "stable" run whose mean E
rate there strays by more than ``SETTLED_TOL = 5%`` from r* is relabelled "unsettled" (a drift,
or a growing oscillation still below CV 0.05). Unstable = anything but "stable". The simulated
boundary per eta is the geometric midpoint of the last stable and first unstable tau
(:func:`plasticity.metrics.boundary.stability_bracket`; the bracket is its error bar); the
log-log slope of tau_sim against eta is fitted by least squares (``power_law_fit``).

Expect: every bracket within 20% of tau_c; BCM's boundary falls below tau_c at large eta, as the
4-D mean field predicts (quick: ratio 0.84 at eta = 1e-3); full mode: the 4-D boundary inside
every bracket and slopes -1 +- 0.05 (quick: -1.06 BCM, -1.00 scaling). Writes the figure,
``results`` (per compensation and eta: predicted, 4-D, simulated boundary, ratio, slope), ``points``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models.ei_compensation import in_degree, network, simulate
from models.ei_meanfield import BCM_POWER, RULES, critical_tau, fixed_point, full_critical_tau
from plasticity.metrics.boundary import power_law_fit, stability_bracket
from plasticity.metrics.outcomes import agreement

NAME = "compensation_timescale"
LABELS = {"bcm": "Hebbian + sliding threshold (BCM)", "scaling": "Hebbian + synaptic scaling"}
N_E, N_I, SEED, DT = 40, 10, 0, 0.1
POWER = BCM_POWER          # 2: BCM's threshold tracks r^2
DELTA = 0.02               # initial relative displacement of theta or of the rate estimate a
RUN_LENGTH = 100.0         # run length in predicted tau_c
SAMPLES, TRACE_SAMPLES = 2000, 500  # recorded samples per run; samples of the stored mean-E-rate trace
SETTLED_TOL = 0.05         # "stable" runs must end within 5% of r*
TOLERANCE = 0.20           # the target: simulated / predicted within 20%
ETAS, QUICK_ETAS = [2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3], [5e-5, 2e-4, 1e-3]
TAU_FACTORS = [float(2 ** ((k + 0.5) / 8)) for k in range(-16, 16)]   # tau / tau_c(eta): 0.26x .. 3.8x
QUICK_TAU_FACTORS = [float(2 ** ((k + 0.5) / 4)) for k in range(-4, 4)]  # 0.55x .. 1.8x
SPARSE_P, SPARSE_N_E, SPARSE_N_I, SPARSE_ETAS = 0.1, 400, 100, [2e-4]
SPARSE_TAU_FACTORS = [float(2 ** ((k + 0.5) / 4)) for k in range(-6, 6)]  # 0.37x .. 2.6x


def outcome_of(result, r_star: float = 1.0) -> tuple[str, float]:
    """(outcome, final deviation): classify_run on E with target r*, "unsettled" as in the module docstring."""
    from plasticity.metrics import classify_run

    outcome = classify_run(result, target=r_star, population="E")
    m = np.asarray(result.rates)[:, result.populations["E"]].mean(axis=1)
    tail = m[len(m) - max(2, math.ceil(0.25 * len(m))):]
    deviation = float(np.max(np.abs(tail - r_star)) / r_star) if len(tail) and np.all(np.isfinite(tail)) else math.inf
    return ("unsettled" if outcome == "stable" and deviation > SETTLED_TOL else outcome), deviation


def point(rule: str, eta: float, tau_factor: float, seed: int = SEED, p: float = 1.0, n_e: int = N_E,
          n_i: int = N_I) -> dict:
    """One run at learning rate eta and compensation time constant tau = tau_factor * tau_c(eta, K)."""
    K = in_degree(network(n_e=n_e, n_i=n_i, seed=seed, p=p, dt=DT))
    tau_pred = critical_tau(rule, eta, K)
    tau = tau_factor * tau_pred
    result, _ = simulate(rule, eta, tau, RUN_LENGTH * tau_pred, n_e=n_e, n_i=n_i, seed=seed, p=p, samples=SAMPLES,
                         delta=DELTA, dt=DT)
    outcome, deviation = outcome_of(result, fixed_point()[1])
    m = np.asarray(result.rates)[:, result.populations["E"]].mean(axis=1)
    keep = np.unique(np.linspace(0, len(m) - 1, min(len(m), TRACE_SAMPLES)).astype(int))
    return {
        "tau": float(tau), "tau_pred": float(tau_pred), "tau_full": float(full_critical_tau(rule, eta, K)),
        "K": K, "outcome": outcome, "unstable": outcome != "stable", "final_deviation": deviation,
        "diverged": bool(result.diverged),
        "diverged_at": math.nan if result.diverged_at is None else float(result.diverged_at),
        "run_length": float(RUN_LENGTH * tau_pred), "trace_t": np.asarray(result.times)[keep], "trace_r": m[keep],
    }


def _grid(etas, factors, p=1.0, n_e=N_E, n_i=N_I):
    return [{"rule": rule, "eta": float(eta), "tau_factor": float(f), "seed": SEED, "p": float(p), "n_e": int(n_e),
             "n_i": int(n_i)} for rule in RULES for eta in etas for f in factors]


GRID = _grid(ETAS, TAU_FACTORS) + _grid(SPARSE_ETAS, SPARSE_TAU_FACTORS, p=SPARSE_P, n_e=SPARSE_N_E, n_i=SPARSE_N_I)
QUICK = _grid(QUICK_ETAS, QUICK_TAU_FACTORS)


def boundary_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (rule, p, n_E, eta): predicted, 4-D and simulated boundary, ratios, fitted slope."""
    ok = table[table["error"].isna()] if "error" in table else table
    rows = []
    for (rule, p, n_e, eta), g in ok.groupby(["rule", "p", "n_e", "eta"], sort=True):
        lo, hi, sim, mono = stability_bracket(g["tau"], g["unstable"].astype(bool))
        pred, full = float(g["tau_pred"].iloc[0]), float(g["tau_full"].iloc[0])
        ratio = sim / pred
        rows.append({
            "rule": rule, "p": float(p), "n_e": int(n_e), "K": float(g["K"].iloc[0]), "eta": float(eta),
            "tau_pred": pred, "tau_full": full, "tau_lo": lo, "tau_hi": hi, "tau_sim": sim, "ratio": ratio,
            "ratio_lo": lo / pred, "ratio_hi": hi / pred, "ratio_full": sim / full, "monotonic": mono,
            "runs": int(len(g)), "outcome": agreement(ratio, TOLERANCE, undefined="not bracketed"),
        })
    out = pd.DataFrame(rows)
    out["slope"], out["slope_se"] = math.nan, math.nan
    for _, g in out.groupby(["rule", "p", "n_e"]):
        out.loc[g.index, "slope"], out.loc[g.index, "slope_se"] = power_law_fit(g["eta"], g["tau_sim"])
    return out


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`boundary_table`, with the ratios and fitted slopes printed."""
    out = boundary_table(table)
    for (rule, p, n_e), g in out.groupby(["rule", "p", "n_e"]):
        where = f"{NAME}: {rule}, p = {p:g}, n_E = {n_e}"
        ratios = ", ".join(f"{r:.3f} [{a:.3f}, {b:.3f}]" for r, a, b in zip(g["ratio"], g["ratio_lo"], g["ratio_hi"]))
        print(f"{where}: tau_sim / tau_pred [bracket] = {ratios} at eta = {', '.join(f'{e:g}' for e in g['eta'])}")
        if len(g) > 1:
            print(f"{where}: fitted log-log slope of tau_sim against eta = {g['slope'].iloc[0]:.3f} "
                  f"+- {g['slope_se'].iloc[0]:.3f} (predicted -1)")
    return out


# -- figure ---------------------------------------------------------------------------------
OUTCOME_STYLE = {  # one colour (and marker) per outcome
    "stable": ("#009E73", "o"), "oscillating": ("#E69F00", "s"), "unsettled": ("#CC79A7", "D"),
    "runaway": ("#D55E00", "^"), "diverged": ("#000000", "X"),
}
SPARSE_SHIFT = 1.25  # the p < 1 runs are drawn at eta / SPARSE_SHIFT (same eta as a p = 1 column)


def figure(table: pd.DataFrame):
    """(a, b) outcome of every run and the boundaries per rule; (c, d) mean E rate either side of one boundary."""
    from plasticity.plot import new_figure, rule_color

    ok = table[table["error"].isna()] if "error" in table else table
    summary = boundary_table(ok)
    dense_all, sparse_all = ok[ok.p >= 1.0], ok[ok.p < 1.0]
    quick = sparse_all.empty and dense_all["eta"].nunique() <= len(QUICK_ETAS) \
        and dense_all["tau_factor"].nunique() <= len(QUICK_TAU_FACTORS)
    fig, axes = new_figure(2, 2, figsize=(10.0, 8.4))
    for col, rule in enumerate(RULES):
        ax = axes[0, col]
        g = dense_all[dense_all.rule == rule]
        if g.empty:
            continue
        color = rule_color(rule)
        for outcome, (c, marker) in OUTCOME_STYLE.items():
            h = g[g.outcome == outcome]
            if len(h):
                ax.scatter(h.eta, h.tau, color=c, marker=marker, s=14, lw=0, label=outcome, zorder=2)
        eta_line = np.geomspace(g.eta.min() / 2.0, g.eta.max() * 1.5, 100)
        K = float(g.K.iloc[0])
        ax.plot(eta_line, [critical_tau(rule, e, K) for e in eta_line], color=color, lw=1.4,
                label=r"predicted $\tau_c = 1/(\eta K G)$", zorder=1)
        ax.plot(eta_line, [full_critical_tau(rule, e, K) for e in eta_line], color=color, lw=1.0, ls="--",
                label="4-D mean field (rate lag)", zorder=1)
        s = summary[(summary.rule == rule) & (summary.p >= 1.0)]
        f = s[np.isfinite(s.tau_sim)]
        ax.errorbar(f.eta * 1.1, f.tau_sim, yerr=[f.tau_sim - f.tau_lo, f.tau_hi - f.tau_sim], fmt="_", ms=10,
                    color="k", capsize=3, lw=1.0, label="simulated boundary (bracket)", zorder=3)
        sp = sparse_all[sparse_all.rule == rule]
        if len(sp):
            for outcome, (c, marker) in OUTCOME_STYLE.items():
                h = sp[sp.outcome == outcome]
                if len(h):
                    ax.scatter(h.eta / SPARSE_SHIFT, h.tau, facecolors="none", edgecolors=c, marker=marker, s=14,
                               lw=0.7, zorder=2)
            ss = summary[(summary.rule == rule) & (summary.p < 1.0) & np.isfinite(summary.tau_sim)]
            for r in ss.itertuples():
                x = r.eta / SPARSE_SHIFT
                ax.plot([x / 1.15, x * 1.15], [r.tau_pred] * 2, color=color, lw=1.0, ls=":")
                ax.errorbar([x * 1.1], [r.tau_sim], yerr=[[r.tau_sim - r.tau_lo], [r.tau_hi - r.tau_sim]], fmt="_",
                            ms=10, color="0.45", capsize=3, lw=1.0, zorder=3,
                            label=f"p = {r.p:g}, n_E = {r.n_e} (open, shifted left; dotted: its prediction)")
        dense_slope = float(s.slope.iloc[0]) if len(s) else math.nan
        ax.set(xscale="log", yscale="log", xlabel=r"learning rate $\eta$",
               ylabel=r"compensation time constant $\tau$" + (r" ($\tau_\theta$)" if rule == "bcm" else r" ($\tau_a$)"),
               title=f"{LABELS[rule]}\nfitted slope {dense_slope:.2f} (predicted -1)")
        ax.legend(fontsize=6, loc="lower left")
        # example traces: the bracket of the middle learning rate (p = 1)
        ax = axes[1, col]
        if len(f):
            row = f.iloc[len(f) // 2]
            top = 1.2
            for tau in (row.tau_lo, row.tau_hi):
                run = g[(g.eta == row.eta) & np.isclose(g.tau, tau)].iloc[0]
                c = OUTCOME_STYLE.get(run.outcome, ("0.5", "o"))[0]
                r = np.asarray(run.trace_r)
                top = max(top, float(np.nanmax(r)) * 1.05)
                ax.plot(np.asarray(run.trace_t) / row.tau_pred, r, color=c, lw=0.9,
                        label=fr"$\tau$ = {run.tau / row.tau_pred:.2f} $\tau_c$: {run.outcome}")
            ax.axhline(1.0, color="0.6", lw=0.6, ls=":")
            ax.set(xlabel=r"time / $\tau_c$ (predicted)", ylabel="mean E rate",
                   title=fr"$\eta$ = {row.eta:g}, $\tau_c$ = {row.tau_pred:.3g}: either side of the boundary",
                   ylim=(0.0, min(top, 4.0)))
            ax.legend(fontsize=7, loc="upper left")
    for ax, letter in zip(axes.flat, "abcd"):
        ax.set_title(f"({letter})", loc="left", fontsize=10)
    seeds = sorted(int(s) for s in ok["seed"].unique())
    dense = summary[(summary.p >= 1.0) & np.isfinite(summary.ratio)]
    sparse = summary[(summary.p < 1.0) & np.isfinite(summary.ratio)]
    sparse_text = "" if sparse.empty else (
        f";\np = {sparse.p.iloc[0]:g} (n_E = {sparse.n_e.iloc[0]}, rows normalised, mean K = {sparse.K.iloc[0]:.1f}, "
        f"eta = {sparse.eta.iloc[0]:g}): " + ", ".join(f"{r.rule} {r.ratio:.2f}" for r in sparse.itertuples()))
    fig.suptitle(
        "Predicted (solid): adiabatic Hopf boundary of the 2-D mean-field plasticity system, "
        r"$\tau_c = 1/(2\eta K)$ (BCM), $1/(3\eta K)$ (scaling);" "\n"
        "dashed: 4-D mean field with the rates' lag. Measured: the classify_run outcome of each run (markers); "
        "boundary = geometric midpoint of the\n"
        f"last stable and first unstable $\\tau$ (bracket): simulated/predicted {dense.ratio.min():.2f}-"
        f"{dense.ratio.max():.2f} (p = 1){sparse_text}.\n"
        f"E/I network n_E = {N_E}, n_I = {N_I}, p = 1 (K = {N_E - 1}), dt = {DT}; runs of {RUN_LENGTH:g} "
        f"$\\tau_c$ from a {DELTA:.0%} displacement; seed(s) {seeds}; {'quick' if quick else 'full'} mode. "
        "Line colour = rule (plasticity.plot.rule_color), marker colour = outcome.",
        fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
