"""Rule comparison: which homeostatic mechanism holds E activity at its set point AND keeps what Hebbian learning wrote?

Network: ``RateNetwork.ei`` (threshold-linear E/I flow, p = 0.1, tau_E = 1, tau_I = 0.5, dt = 0.1),
whose quiet E rate 2 is the **set point** every homeostatic rule targets. Times in tau_E from the
start of learning. Protocol (:mod:`models.assemblies`; one point = one condition and one seed):
settle ``T_SETTLE = 20`` without plasticity; learn ``K = 4`` assemblies (disjoint random groups of
n_E / 8 E neurons), each shown in turn for ``T_SHOW = 5`` as an extra input ``PATTERN_AMPLITUDE =
15`` (it then fires at ~12 against ~2), ``N_CYCLES = 5`` cycles; run free for ``T_FREE = 60``,
plasticity on; measure the network as it is then (plasticity frozen).

Conditions (:mod:`models.ei_conditions`: every rate and why; colours ``plasticity.plot.rule_color``):
``none``; ``hebbian`` (each E->E weight grows 2% of w0 per unit time at the set point: runaway
within the learning phase); Hebbian plus fast or slow synaptic scaling (slow: the "temporal
paradox" of Zenke & Gerstner 2017), intrinsic plasticity (threshold only), inhibitory plasticity
on I->E (the rate form of Vogels et al. 2011), heterosynaptic decay (Zenke et al. 2015), or all
three (fast scaling, heterosynaptic, inhibitory; Zenke, Agnes & Gerstner 2015); ``bcm`` and
``metaplastic_bcm`` (their set point, y* ~ 1, is built in); ``oja`` (at these weights Hebbian growth).

``points.csv`` (one row per run): ``outcome`` (``classify_run`` of the free phase, target 2),
``settle_time``, ``rate_error`` = (mean E rate over the last ``FINAL_WINDOW = 15`` - 2) / 2,
``retention`` (within- over between-assembly mean E->E weight, 1 = no structure) at the end and
after learning, ``J_EE``, ``J_IE``, ``recall`` (1 = nothing recalled), ``spectral_radius``,
``spectral_abscissa``, ``max_lyapunov`` of the frozen network, ``activity_variance``; a diverged
run is measured at divergence (``diverged_at``, ``measured_at``), an unmeasurable metric is NaN
with a ``reason``. ``results.csv``: per condition, majority outcome (ties to the worse), counts,
means. Figure: (a) |rate error| against retention, one point per run (marker = outcome, diverged
runs drawn and labelled); (b) mean E rate over time (first seed); (c) outcome counts; (d)
retention and recall per run.

Expect (quick and full runs): Hebbian alone diverges in the first cycle (t ~ 10), slow scaling
and Oja with it, intrinsic plasticity later (t ~ 36 quick, ~47 full: a threshold cannot stop the E->E loop).
BCM and metaplastic BCM stay bounded at their own set point (E ~ 1.35, rate error ~ -32%). Fast
scaling (~+4%) and heterosynaptic decay (~-10%) hold the rate but erase the assemblies as they
are written (retention_learned < 1). Inhibitory plasticity holds the rate (~+1%) and keeps them
(retention ~ 2, recall > 1); all three together keep part (~1.25). Recall effects are weak.
"""
from __future__ import annotations

import math
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pandas as pd

from models import RateNetwork
from models.assemblies import assembly_groups, cue_recall, learn_assemblies, weight_structure
from models.ei_conditions import CONDITION_NAMES, homeostatic_conditions
from models.frozen_stability import frozen_stability
from models.population_network import EI_DEFAULTS
from plasticity.metrics import activity_variance, classify_run, settling_time
from plasticity.metrics.outcomes import OUTCOME_ORDER as OUTCOMES
from plasticity.metrics.outcomes import summarize_runs
from plasticity.plot import spread_labels

NAME = "rule_comparison"
SET_POINT = 2.0          # quiet-state E rate of RateNetwork.ei (mean field) = every homeostatic target
K, PATTERN_AMPLITUDE = 4, 15.0  # assemblies; extra input to the shown assembly (and the cued half at recall)
T_SETTLE, T_SHOW, N_CYCLES, T_FREE, T_CUE = 20.0, 5.0, 5, 60.0, 10.0
FINAL_WINDOW = 15.0      # = 25% of T_FREE, the window of classify_run
ETA_REL = 0.005          # Hebbian eta in units of w0 per unit time per rate^2
RECORD_EVERY, LYAP_STEPS = 10, 300  # steps (1 time unit); RK4 steps of DT for max_lyapunov (30 time units)
DT = float(EI_DEFAULTS["dt"])
OUTCOME_MARKERS = {"stable": "o", "oscillating": "D", "runaway": "^", "saturated": "s", "silent": "v", "diverged": "X"}
GRID = {"condition": list(CONDITION_NAMES), "seed": [0, 1, 2], "n_exc": [800], "n_inh": [200]}
QUICK = {"condition": list(CONDITION_NAMES), "seed": [0], "n_exc": [400], "n_inh": [100]}


def point(condition: str, seed: int, n_exc: int, n_inh: int) -> dict:
    """Learn K assemblies under one condition, run free, measure (module docstring)."""
    plastic = homeostatic_conditions(n_exc, n_inh, SET_POINT, ETA_REL)[condition]
    net = RateNetwork.ei(n_exc, n_inh, seed=seed)
    groups = assembly_groups(n_exc, K, seed)
    run = learn_assemblies(net, groups, plastic, PATTERN_AMPLITUDE, T_SHOW, N_CYCLES, T_FREE, RECORD_EVERY, T_SETTLE)
    t, r, free, diverged = run.t, run.rates, run.free, run.diverged
    m = r.mean(axis=1)
    out: dict = {"diverged": diverged, "diverged_at": run.diverged_at, "diverged_phase": run.phase if diverged else "",
                 "t": t, "rate_E": m, "measured_at": run.measured_at}
    reasons = [f"diverged during {run.phase} at t={run.diverged_at:.1f} ({run.reason})"] if diverged else []
    # outcome, settling: the free phase (a run that diverged while learning is classified on that run)
    target_result = free if free is not None else SimpleNamespace(
        rates=r, times=t, diverged=True, populations={"E": slice(0, n_exc)})
    out["outcome"] = classify_run(target_result, target=SET_POINT, population="E")
    out["settle_time"] = math.nan if free is None or diverged else settling_time(SimpleNamespace(
        rates=free.rates, times=free.times - free.times[0], diverged=False, populations=free.populations),
        target=SET_POINT, population="E", tol=0.1)
    final = t >= t[-1] - FINAL_WINDOW
    out["rate_error"] = float((m[final].mean() - SET_POINT) / SET_POINT)
    out["activity_variance"] = float(activity_variance(r[final]))
    structure, why = weight_structure(net, groups)
    out.update(structure)
    reasons += [why] if why else []
    out["retention_learned"] = run.retention_learned
    tau = np.where(np.arange(net.n) < n_exc, EI_DEFAULTS["tau_e"], EI_DEFAULTS["tau_i"]).astype(float)
    stability, why = frozen_stability(net, tau, LYAP_STEPS, DT)  # before any frozen run: learned thresholds
    out.update(stability)
    reasons += why
    if diverged:
        out["recall"] = math.nan
        reasons.append("recall: not measured (no free phase to recall after)" if run.phase == "learning"
                       else "recall: not measured (diverged in the free phase)")
    else:
        out["recall"], why = cue_recall(net, groups, PATTERN_AMPLITUDE, T_CUE, RECORD_EVERY)
        reasons += [why] if why else []
    out["reason"] = "; ".join(reasons)
    return out


METRICS = ["rate_error", "settle_time", "retention", "retention_learned", "recall", "spectral_radius",
           "spectral_abscissa", "activity_variance", "max_lyapunov", "J_EE", "J_IE", "diverged_at"]


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per condition: majority outcome (ties to the worse), outcome counts, NaN-ignoring means."""
    summary = summarize_runs(table, "condition", METRICS, order=CONDITION_NAMES)
    ok = table[table["error"].isna()] if "error" in table else table
    measured = pd.to_numeric(ok["retention"], errors="coerce").notna().groupby(ok["condition"]).sum()
    summary["n_measured_retention"] = summary["condition"].map(measured).fillna(0).astype(int)
    return summary


# -- figure ------------------------------------------------------------------------------
ERROR_FLOOR, ERROR_CEIL = 1e-3, 10.0  # x range of panel (a); diverged runs sit in a column right of it
X_DIVERGED = 40.0


def figure(table: pd.DataFrame):
    """(a) |rate error| vs retention; (b) E rate over time; (c) outcomes; (d) retention, recall."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from plasticity.plot import new_figure, rule_color

    data = table[table["error"].isna()] if "error" in table else table
    conds = [c for c in CONDITION_NAMES if c in set(data["condition"])] + \
        [c for c in dict.fromkeys(data["condition"]) if c not in CONDITION_NAMES]
    seeds, present = sorted(set(data["seed"])), [o for o in OUTCOMES if o in set(data["outcome"])]
    fig, axes = new_figure(2, 2, figsize=(11.0, 8.6))
    # (a) the answer: small |rate error| with retention > 1 is the goal
    ax = axes[0, 0]
    err = np.abs(pd.to_numeric(data["rate_error"], errors="coerce").to_numpy(float))
    ret = pd.to_numeric(data["retention"], errors="coerce").to_numpy(float)
    top = max(1.5, float(np.nanmax(ret)) if np.isfinite(ret).any() else 1.5) * 1.08
    ax.fill_between([ERROR_FLOOR, 0.1], 1.0, top, color="#E5F2E5", zorder=0, lw=0)
    ax.axvspan(ERROR_CEIL * 1.6, X_DIVERGED * 2.2, color="0.93", zorder=0, lw=0)
    ax.axhline(1.0, color="0.5", lw=0.8, ls="--", zorder=1)
    ax.axvline(0.1, color="0.5", lw=0.8, ls=":", zorder=1)
    for k, row in enumerate(data.itertuples()):
        div = bool(row.diverged)
        if div or np.isfinite(err[k]):
            x = X_DIVERGED if div else min(max(err[k], ERROR_FLOOR), ERROR_CEIL)
            y = ret[k] if np.isfinite(ret[k]) else 0.0  # no weights to compare: drawn on the axis
            ax.scatter([x], [y], s=70 if div else 45, marker=OUTCOME_MARKERS.get(row.outcome, "o"), edgecolor="k",
                       color=rule_color(row.condition), linewidth=0.5, zorder=4, clip_on=False,
                       gid="diverged" if div else "run")
    labels = []  # one per diverged condition: when (mean over its diverged runs) and how many runs
    for c in conds:
        rows = data[(data["condition"] == c) & data["diverged"].astype(bool)]
        if len(rows):
            when = f"t{'=' if len(rows) == 1 else '~'}{rows['diverged_at'].mean():.0f}"
            labels.append((pd.to_numeric(rows["retention"], errors="coerce").fillna(0.0).mean(),
                           f"{c} ({when}, {len(rows)}/{int((data['condition'] == c).sum())})", rule_color(c)))
    ys = spread_labels([v[0] for v in labels], gap=0.065 * top, lo=0.03 * top, hi=0.97 * top)
    for (y, text, color), yt in zip(labels, ys):
        ax.annotate(text, (X_DIVERGED, y), xytext=(X_DIVERGED * 0.62, yt), textcoords="data", fontsize=6.5,
                    color=color, ha="right", va="center",
                    arrowprops={"arrowstyle": "-", "color": color, "lw": 0.5, "shrinkB": 4})
    ax.set(xscale="log", xlim=(ERROR_FLOOR * 0.8, X_DIVERGED * 2.2), ylim=(0.0, top),
           xlabel="|rate error| = |mean E rate (final 15 $\\tau_E$) - 2| / 2",
           ylabel="retention = within / between-assembly E$\\to$E weight")
    ax.set_xticks([1e-3, 1e-2, 1e-1, 1.0, 10.0, X_DIVERGED], ["0.1%", "1%", "10%", "100%", "1000%", "diverged"])
    ax.minorticks_off()
    ax.text(0.09, 1.015, "goal: at the set point,\nassemblies kept", ha="right", va="bottom", fontsize=7,
            color="#2E7D32")
    ax.set_title("(a) homeostasis vs memory: one point per run", loc="left")
    # (b) mean E rate over time, first seed; log axis so runaways and the set point both show
    ax = axes[0, 1]
    t_learn = K * N_CYCLES * T_SHOW
    ax.axvspan(0.0, t_learn, color="0.94", zorder=0, lw=0)
    for x, text in ((t_learn / 2, f"learning: {K} patterns x {N_CYCLES}"), (t_learn + T_FREE / 2, "free")):
        ax.text(x, 0.98, text, transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=7, color="0.35")
    ax.axhline(SET_POINT, color="0.3", lw=0.8, ls="--")
    first = data[data["seed"] == seeds[0]]
    for c in conds:
        for row in first[first["condition"] == c].head(1).itertuples():
            tt, mm, color = np.asarray(row.t, float), np.asarray(row.rate_E, float), rule_color(c)
            ax.plot(tt, np.clip(mm, 0.05, None), color=color, lw=1.0, label=c, zorder=3 if c != "none" else 2)
            if bool(row.diverged):
                ax.plot([row.diverged_at], [max(mm[-1], 0.05)], marker="X", ms=8, color=color, markeredgecolor="k",
                        markeredgewidth=0.6, ls="none", gid="diverged", zorder=5, clip_on=False)
    ax.set(yscale="log", xlabel="time ($\\tau_E$) from the start of learning",
           ylabel="mean E rate (set point 2, dashed)")
    ax.set_title(f"(b) E rate over time (seed {seeds[0]}; X = diverged)", loc="left")
    # (c) outcome counts per condition
    ax, cols = axes[1, 0], present or ["stable"]
    for i, c in enumerate(conds):
        counts = Counter(data.loc[data["condition"] == c, "outcome"])
        for j, o in ((j, o) for j, o in enumerate(cols) if counts[o]):
            ax.scatter([j], [i], s=50 + 40 * counts[o], marker=OUTCOME_MARKERS.get(o, "o"), color=rule_color(c),
                       edgecolor="k", linewidth=0.5, gid=f"outcome:{c}:{o}")
            ax.annotate(f"{counts[o]}/{len(seeds)}", (j, i), xytext=(10, -3), textcoords="offset points", fontsize=7)
    ax.set_xticks(range(len(cols)), cols)
    ax.set(xlim=(-0.5, len(cols) - 0.3))
    ax.grid(True, color="0.9", lw=0.6)
    ax.set_title("(c) outcome of the free phase (classify_run, target 2): runs per class", loc="left")
    # (d) retention (circles; X = measured at divergence) and recall (diamonds) per condition
    ax = axes[1, 1]
    ax.axvline(1.0, color="0.5", lw=0.8, ls="--")
    for i, c in enumerate(conds):
        rows = data[data["condition"] == c]
        div = rows["diverged"].astype(bool).to_numpy()
        for off, col, marker in ((-0.17, "retention", "o"), (0.17, "recall", "D")):
            v = pd.to_numeric(rows[col], errors="coerce").to_numpy(float)
            for flag, mk in ((False, marker), (True, "X")):
                sel = np.isfinite(v) & (div == flag)
                ax.scatter(v[sel], np.full(sel.sum(), i + off), marker=mk, s=34 if flag else 28, color=rule_color(c),
                           edgecolor="k", linewidth=0.4, zorder=3)
            if not np.isfinite(v).any():
                ax.text(1.02, i + off, f"{col}: n/a{' (diverged)' if div.all() else ''}", va="center", fontsize=6,
                        color="0.45")
    ax.set_xlabel("retention (o; X = measured at divergence) and recall ($\\diamond$, un-cued half / non-assembly "
                  "rate); 1 = no structure", fontsize=8)
    ax.set_title("(d) what learning left after the free phase", loc="left")
    for ax in axes[1]:
        ax.set_yticks(range(len(conds)), conds)
        ax.set_ylim(len(conds) - 0.5, -0.5)
    handles = [Patch(color=rule_color(c), label=c) for c in conds]
    handles += [Line2D([], [], marker=OUTCOME_MARKERS[o], color="0.6", ls="none", markeredgecolor="k", markersize=7,
                       label=f"outcome: {o}") for o in present]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(7, len(handles)), fontsize=7.5,
               title="colour = condition, marker = outcome (classify_run of the free phase)", title_fontsize=7.5)
    n_e = int(data["n_exc"].iloc[0]) if len(data) else 0
    quick = n_e < int(GRID["n_exc"][0]) or len(seeds) < len(GRID["seed"])
    fig.suptitle(
        f"Which homeostatic mechanism holds E at its set point (2) and keeps the learned assemblies? E/I rate network, "
        f"n_E = {n_e}, {len(seeds)} seed{'s' if len(seeds) > 1 else ''}{' (quick mode)' if quick else ''}.\n"
        "Expect: Hebbian alone, slow scaling and Oja diverge, intrinsic plasticity later; BCM settles at its own "
        "set point (~1.3); fast scaling and\nheterosynaptic decay hold the rate but erase the assemblies; "
        "inhibitory plasticity holds the rate and keeps them (all3: partly).", fontsize=8.5)
    return fig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
