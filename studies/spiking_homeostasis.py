"""Spiking homeostasis: the COBA network under pair, triplet, homeostatic-triplet and triplet + inhibitory STDP.

The Brette et al. (2007) COBA network (``models.SpikingNetwork.coba``: 3200 E + 800 I
conductance-based LIF neurons, p = 0.02, we = 6 nS, wi = 67 nS, ~19 Hz, CV of ISI ~1.7; built with
its drive, rules and read-out by :mod:`models.spiking_builders`) with plastic E->E synapses under

* ``none``: no plasticity (the control);
* ``pair``: additive pair STDP, Song, Miller & Abbott (2000) Nat Neurosci 3:919 (A+ = 0.005
  w_max, A-/A+ = 1.05, tau+- = 20 ms);
* ``triplet``: minimal all-to-all triplet STDP fitted to visual cortex, Pfister & Gerstner
  (2006) J Neurosci 26:9673, Table 3 (:meth:`plasticity.rules.TripletSTDP.minimal_visual_cortex`,
  every value read from that preset); its BCM threshold under Poisson firing is
  theta0 = A2- tau- / (A3+ tau+ tau_y) (:func:`models.spiking_builders.triplet_target`);
* ``triplet_homeostatic``: the same rule whose LTD amplitude slides with a low-pass estimate of
  the postsynaptic rate, A2-(t) = A2- (rate_hat / target)^2 with target = theta0 and
  ``tau_rate`` = TAU_RATE (the spiking BCM of Zenke, Hennequin & Gerstner 2013, PLoS Comput Biol
  9:e1003330; with target = theta0 the Pfister amplitudes are unchanged and the fixed point of the
  Poisson theory is the target itself);
* ``triplet_istdp``: ``triplet`` on E->E plus inhibitory STDP on I->E, Vogels et al. (2011)
  Science 334:1569 (tau = 20 ms, target rate theta0).

Amplitudes are per spike pair/triplet in units of the initial weight (Pfister & Gerstner fit
relative weight changes): rule weights are siemens, so A * we. E->E weights are bounded to
[0, W_MAX_EE = 3 we]; I->E to [0, 10 wi].

Departures from the benchmark, flagged: (1) a weak external Poisson drive (``drive``: 1000
sources, p = 0.02, weight we, ``drive`` Hz of input events per neuron in all; 50 Hz adds ~4% to
the recurrent excitatory input, mean conductance 1.5 nS < g_L, and leaves the static network at
~19-20 Hz). Without it the self-sustained COBA state has no floor: with ``drive=0`` the
homeostatic triplet rule with tau_rate = 0.03-0.3 s lowered the mean E->E weight by 8-12% and
silenced the network for good within 1-5 s, and with 3 s a runaway ended in the same silence
(exploratory 10 s runs, seed 1, with the earlier tau_y = 125 ms).
(2) The iSTDP learning rate
eta = 1e-2 wi = 0.67 nS per pairing is ~70x the Brian2 example of Vogels et al. (0.01 nS), so
that inhibition adapts on the seconds timescale on which the triplet rule acts. (3) Smaller
networks (``n`` < 4000, quick tests) keep the in-degree: p = 0.02 * 4000 / n.

Measured, per run: the E and I population rates over time; over the last third of the run the
E rate, CV of ISI (neurons with >= 3 spikes), spike-count Fano factor (100 ms bins), synchrony
(mean pairwise correlation of 10 ms spike counts and Golomb's chi, over 250 E neurons); the E->E
(and I->E) weight distribution at the start and end. A run whose population rate passes
MAX_RATE in a 10 ms window stops (diverged). Outcome, from the E rate over the last third:
``runaway`` (above RUNAWAY_RATE, or diverged), ``silent`` (below SILENT_RATE), ``on target``
(within HOLD_TOL = 25 % of theta0: the rate is held) or ``off target`` (anything else: settled,
but not at the set point). ``flags`` adds ``passed <RUNAWAY_RATE> Hz`` (the smoothed E rate
crossed the runaway rate at some time, ``runaway_at``, and came back), ``E->E at w_max`` (more
than half the E->E weights within 5% of w_max) and ``synchronous`` (Golomb's chi > 0.5).

Cost: quick mode (5 runs of 3 s) a few minutes on 2 cores; full mode (5 conditions x 3
seeds x 30 s) about half an hour.

Writes ``fig_spiking_homeostasis.{png,pdf}``, ``results.{csv,parquet}`` (one row per condition,
means over seeds) and ``points.{csv,parquet}`` (one row per condition and seed).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.rate_detector import smooth
from models.spiking_builders import (MAX_RATE, RATE_BIN, RUNAWAY_RATE, SILENT_RATE, W_MAX_EE, W_MAX_IE, WE, WI,
                                     driven_coba, spike_statistics, triplet_rule, triplet_target)
from plasticity.metrics import weight_summary
from plasticity.rules import InhibitorySTDP, PairSTDP

NAME = "spiking_homeostasis"
BOUND_RTOL, SYNCHRONOUS_CHI = 0.05, 0.5  # "at w_max": within 5% of it; synchronous: Golomb chi above this
HOLD_TOL = 0.25                  # "on target": final E rate within 25 % of theta0
TAU_RATE = 0.5                   # s, rate detector of the homeostatic triplet rule (fast: see fast_rate_detector)
ISTDP_ETA = 1e-2 * WI            # S per pairing
RASTER_E, RASTER_I, RASTER_T = 200, 50, 0.5
HIST_BINS = 60

CONDITIONS = ("none", "pair", "triplet", "triplet_homeostatic", "triplet_istdp")
LABELS = {"none": "no plasticity", "pair": "pair STDP", "triplet": "triplet STDP",
          "triplet_homeostatic": "triplet + sliding threshold", "triplet_istdp": "triplet + iSTDP"}

GRID = {"condition": list(CONDITIONS), "seed": [0, 1, 2], "n": [4000], "duration": [30.0], "drive": [50.0]}
QUICK = {"condition": list(CONDITIONS), "seed": [0], "n": [4000], "duration": [3.0], "drive": [50.0]}


def rules(condition: str) -> dict | None:
    """The ``plasticity`` mapping of :meth:`SpikingNetwork.run` for one condition."""
    target = triplet_target()
    if condition == "none":
        return None
    if condition == "pair":
        a_plus = 0.005 * W_MAX_EE
        return {"EE": PairSTDP(a_plus=a_plus, a_minus=1.05 * a_plus, tau_plus=20e-3, tau_minus=20e-3, w_max=W_MAX_EE)}
    if condition == "triplet":
        return {"EE": triplet_rule(tau_rate=TAU_RATE)}
    if condition == "triplet_homeostatic":
        return {"EE": triplet_rule(target_rate=target, tau_rate=TAU_RATE)}
    if condition == "triplet_istdp":
        return {"EE": triplet_rule(tau_rate=TAU_RATE),
                "IE": InhibitorySTDP(eta=ISTDP_ETA, target_rate=target, tau=20e-3, w_max=W_MAX_IE)}
    raise ValueError(f"condition must be one of {CONDITIONS}; got {condition!r}")


def point(condition: str, seed: int, n: int, duration: float, drive: float) -> dict:
    """Run one condition; return statistics of the final third, weight summaries and traces."""
    net = driven_coba(n, drive, seed)
    res = net.run(duration, plasticity=rules(condition), record_weights_every=duration / 20, progress=False,
                  max_rate=MAX_RATE)
    T = res.duration
    stats = spike_statistics(res, T * 2 / 3, T)
    times, rates = res.rate_over_time(RATE_BIN)
    over = np.flatnonzero(smooth(rates["E"]) > RUNAWAY_RATE)
    E, I, idx = res.populations["E"], res.populations["I"], res.spike_indices
    keep = (res.spike_times >= T - RASTER_T) & (((idx >= E.start) & (idx < E.start + RASTER_E)) | ((idx >= I.start) & (idx < I.start + RASTER_I)))
    raster_i = np.where(idx[keep] >= I.start, idx[keep] - I.start + RASTER_E, idx[keep] - E.start)
    ee = res.weights["EE"][-1] if "EE" in res.weights else net.connectivity("EE")[2].astype(float)
    ee0 = res.weights["EE"][0] if "EE" in res.weights else ee
    s_ee = weight_summary(ee / WE, 0.0, W_MAX_EE / WE, rtol=BOUND_RTOL)
    ie = res.weights.get("IE")
    s_ie = weight_summary(ie[-1] / WI, 0.0, W_MAX_IE / WI, rtol=BOUND_RTOL) if ie is not None else None
    bins_ee, bins_ie = np.linspace(0.0, W_MAX_EE / WE, HIST_BINS + 1), np.linspace(0.0, W_MAX_IE / WI, HIST_BINS + 1)
    outcome, flags = classify(stats["rate_E"], bool(res.diverged), over.size > 0, s_ee["frac_at_max"], stats["sync_chi"])
    return {
        "outcome": outcome, "flags": flags, "diverged": bool(res.diverged),
        "diverged_at": np.nan if res.diverged_at is None else float(res.diverged_at),
        "rate_E_final": stats["rate_E"], "rate_I_final": stats["rate_I"],
        "rate_E_peak": float(np.max(smooth(rates["E"]))) if rates["E"].size else np.nan,
        "runaway_at": float(times[over[0]] + RATE_BIN / 2) if over.size else np.nan,
        "cv_isi": stats["cv_isi"], "fano": stats["fano"], "sync_corr": stats["sync_corr"], "sync_chi": stats["sync_chi"],
        "w_EE_mean": s_ee["mean"], "w_EE_cv": s_ee["cv"], "w_EE_frac_max": s_ee["frac_at_max"],
        "w_EE_frac_zero": s_ee["frac_at_min"], "w_IE_mean": np.nan if s_ie is None else s_ie["mean"],
        "wall_s": float(res.timings.get("total", np.nan)),
        "rate_times": times, "rate_E_t": rates["E"], "rate_I_t": rates["I"],
        "weight_times": np.asarray(res.weight_times, dtype=float),
        "w_EE_mean_t": (res.weights["EE"].mean(axis=1) / WE) if "EE" in res.weights else np.ones(2),
        "w_IE_mean_t": (ie.mean(axis=1) / WI) if ie is not None else np.full(2, np.nan),
        "hist_EE_initial": np.histogram(np.clip(ee0 / WE, 0, W_MAX_EE / WE), bins_ee)[0],
        "hist_EE_final": np.histogram(np.clip(ee / WE, 0, W_MAX_EE / WE), bins_ee)[0],
        "hist_IE_final": np.histogram(np.clip(ie[-1] / WI, 0, W_MAX_IE / WI), bins_ie)[0] if ie is not None
        else np.zeros(HIST_BINS, dtype=np.int64),
        "raster_t": res.spike_times[keep] - (T - RASTER_T), "raster_i": raster_i,
    }


def classify(final_rate: float, diverged: bool, passed_runaway: bool, frac_at_max: float, sync_chi: float) -> tuple[str, str]:
    """(outcome, flags) of a run from its final E rate (Hz) and read-outs (module docstring)."""
    target = triplet_target()
    if diverged or final_rate > RUNAWAY_RATE:
        outcome = "runaway"
    elif final_rate < SILENT_RATE:
        outcome = "silent"
    else:
        outcome = "on target" if abs(final_rate - target) <= HOLD_TOL * target else "off target"
    flags = ([f"passed {RUNAWAY_RATE:g} Hz"] if passed_runaway and outcome != "runaway" else []) + \
            (["E->E at w_max"] if frac_at_max > 0.5 else []) + (["synchronous"] if sync_chi > SYNCHRONOUS_CHI else [])
    return outcome, ", ".join(flags)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per condition: means over seeds, the most common outcome, and how many runs diverged."""
    ok = table[table["error"].isna()] if "error" in table else table
    scalar = ["rate_E_final", "rate_I_final", "rate_E_peak", "cv_isi", "fano", "sync_corr", "sync_chi",
              "w_EE_mean", "w_EE_cv", "w_EE_frac_max", "w_EE_frac_zero", "w_IE_mean"]
    g = ok.groupby("condition", sort=False)
    out = g[scalar].mean()
    out["rate_E_final_sem"] = g["rate_E_final"].sem()
    out["outcome"] = g["outcome"].agg(lambda s: s.value_counts().index[0])
    out["outcomes"] = g["outcome"].agg(lambda s: ", ".join(f"{k} {v}/{len(s)}" for k, v in s.value_counts().items()))
    out["diverged"] = g["diverged"].sum().astype(int)
    out["runs"] = g.size()
    return out.reset_index()


def figure(table: pd.DataFrame):
    """(a) E rate over time, (b) raster, (c-e) CV / Fano / synchrony bars, (f) E->E and (g) I->E weights."""
    from matplotlib.figure import Figure

    from plasticity.plot import PALETTE, metric_over_time, raster

    table = table[table["error"].isna()] if "error" in table else table
    conds = [c for c in CONDITIONS if c in set(table["condition"])]
    color = {c: PALETTE[k] for k, c in enumerate(conds)}  # the order metric_over_time colours in
    first = table.sort_values("seed").groupby("condition", sort=False).head(1).set_index("condition")
    fig = Figure(figsize=(10.0, 8.2), layout="constrained")
    ax = fig.subplot_mosaic([["a", "a", "b"], ["c", "d", "e"], ["f", "f", "g"]])
    label = {c: f"{LABELS[c]}: {first.loc[c, 'outcome']}" + (f" ({first.loc[c, 'flags']})" if first.loc[c, "flags"] else "")
             for c in conds}
    series = {label[c]: (first.loc[c, "rate_times"] + RATE_BIN / 2, smooth(first.loc[c, "rate_E_t"])) for c in conds}
    # a run that diverged stopped there; any other run is marked where its rate first passed RUNAWAY_RATE
    marks = {label[c]: first.loc[c, "diverged_at"] if first.loc[c, "diverged"] else first.loc[c, "runaway_at"]
             for c in conds}
    metric_over_time(ax["a"], series, ylabel="E rate (Hz)", xlabel="time (s)", diverged_at=marks)
    for line in ax["a"].get_lines():
        if line.get_label() == "diverged":
            line.set_label(f"first passed {RUNAWAY_RATE:g} Hz (or diverged)")
    ax["a"].axhline(RUNAWAY_RATE, color="0.5", ls="--", lw=0.8)
    ax["a"].axhline(triplet_target(), color="0.5", ls=":", lw=0.8)
    ax["a"].set_yscale("symlog", linthresh=10.0)
    ax["a"].legend(fontsize=7, ncol=2, loc="upper left")
    ax["a"].set_ylim(top=max(ax["a"].get_ylim()[1], 1000.0))  # room for the legend above the traces
    ax["a"].set_title(f"seed {int(first['seed'].iloc[0])}; 0.15 s smoothing; dotted: target {triplet_target():.1f} Hz "
                      f"(on target: $\\pm${HOLD_TOL:.0%}), dashed: runaway {RUNAWAY_RATE:g} Hz", fontsize=8, loc="right")
    shown = "triplet_istdp" if "triplet_istdp" in conds else conds[0]
    row = first.loc[shown]
    raster(ax["b"], row["raster_t"], row["raster_i"], {"E": slice(0, RASTER_E), "I": slice(RASTER_E, RASTER_E + RASTER_I)},
           markersize=1.5)
    ax["b"].get_legend().remove()
    for name, y in (("E", RASTER_E / 2), ("I", RASTER_E + RASTER_I / 2)):
        ax["b"].text(1.01, y, name, transform=ax["b"].get_yaxis_transform(), va="center", fontsize=8)
    ax["b"].set_xlabel(f"time in the last {RASTER_T} s (s)")
    ax["b"].set_title(LABELS[shown], fontsize=8)
    for key, col, label in (("c", "cv_isi", "CV of ISI"), ("d", "fano", "Fano factor (100 ms)"),
                            ("e", "sync_corr", "pairwise count corr. (10 ms)")):
        g = table.groupby("condition", sort=False)[col]
        mean, sem, runs = g.mean().reindex(conds), g.sem().reindex(conds), int(g.count().min())
        ax[key].bar(range(len(conds)), mean.to_numpy(), yerr=sem.to_numpy() if runs >= 2 else None,
                    color=[color[c] for c in conds], capsize=2)
        ax[key].set_title(f"mean $\\pm$ SEM, {runs} seeds" if runs >= 2 else "one seed: no error bars", fontsize=7)
        ax[key].set_xticks(range(len(conds)), [LABELS[c].replace(" + ", "\n+ ") for c in conds], rotation=40,
                           ha="right", fontsize=7)
        ax[key].set_ylabel(label)
    ax["c"].axhline(1.0, color="0.5", ls=":", lw=0.8)
    ax["d"].axhline(1.0, color="0.5", ls=":", lw=0.8)
    edges = np.linspace(0.0, W_MAX_EE / WE, HIST_BINS + 1)
    for c in conds:
        h = first.loc[c, "hist_EE_final"]
        ax["f"].stairs(h / max(h.sum(), 1), edges, color=color[c], label=LABELS[c])
    ax["f"].axvline(1.0, color="k", ls="--", lw=0.8, label="initial (all = we)")
    ax["f"].set_yscale("log")
    ax["f"].set_xlabel("E->E weight (units of we = 6 nS)")
    ax["f"].set_ylabel("fraction of synapses")
    ax["f"].legend(fontsize=7, ncol=2)
    edges = np.linspace(0.0, W_MAX_IE / WI, HIST_BINS + 1)
    if "triplet_istdp" in conds:
        h = first.loc["triplet_istdp", "hist_IE_final"]
        ax["g"].stairs(h / max(h.sum(), 1), edges, color=color["triplet_istdp"], label="final")
    ax["g"].axvline(1.0, color="k", ls="--", lw=0.8, label="initial (all = wi)")
    ax["g"].set_xlabel("I->E weight (units of wi = 67 nS)")
    ax["g"].set_ylabel("fraction of synapses")
    ax["g"].set_title("triplet + iSTDP", fontsize=8)
    ax["g"].legend(fontsize=7)
    for key in "abcdefg":
        ax[key].set_title(f"({key})", loc="left", fontsize=10, fontweight="bold")
    return fig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
