"""Plastic RNNs: does homeostatic plasticity keep a trained RNN nearer the edge of chaos than Hebbian plasticity?

One task, the 3-bit flip-flop of Sussillo & Barak (2013), is learnt by backpropagation through
time by a leaky tanh RNN (``models.rnn.RNN``, ``h <- (1 - alpha) h + alpha tanh(W_hh h + W_in u + b)``)
and by differentiable-plasticity RNNs (``models.rnn.PlasticRNN``; Miconi, Clune & Stanley 2018)
whose recurrent weights are ``W_eff(t) = W_hh + A * Hebb(t)``: ``W_hh`` and the per-synapse
coefficients ``A`` are trained, the fast component ``Hebb`` starts at zero in each trial and
follows a :mod:`plasticity.torch` rule (pre = ``h_{t-1}``, post = ``h_t``):

    hebbian          dHebb/dt = eta y x^T - decay Hebb          (Miconi's decaying Hebbian trace)
    bcm              dHebb/dt = eta y (y - theta) x^T,  tau_theta dtheta/dt = y^2 - theta
    metaplastic_bcm  BCM with a slow offset of the threshold, tau_meta dmeta/dt = y^2 - meta
    intrinsic        no weight change; each unit's output is tanh(gain z - threshold) with
                     dthreshold/dt = eta (y - target), dgain/dt = eta gain (target_var - (y - target)^2)

Rule parameters are fixed (not learnt), the same ``eta`` for every weight rule. For each trained network
(condition and seed) the study measures, on held-out trials twice as long as the training trials:

* task performance: the final training loss (MSE), the held-out loss and accuracy (sign of each
  defined output) over the trained horizon ``T``, and the accuracy over ``(T, 2T]`` (beyond it);
* the spectral radius of the effective recurrent weights ``diag(gain) W_eff(t)`` at every step
  of the trial (``W_hh`` alone for the plain RNN; ``W_eff(0) = W_hh``; ``models.rnn.effective_trial``);
* the maximal Lyapunov exponent (per step) of the autonomous dynamics (zero input) with the
  weights frozen as they are at the start of a trial (``W_hh``) and at the end of a held-out
  trial (``W_eff(2T)``, gain and threshold included; ``models.rnn.frozen_system``), started from
  the trial's final state;
* the activity variance (mean over units of the variance over time) over the held-out trial.

The edge of chaos is a maximal exponent of 0 (and, for the linearisation at the origin, an
effective radius near 1); the flip-flop is solved by stable fixed points, so a trained network
sits on the ordered side, and "nearer the edge" means a less negative exponent.

What the quick grid shows (32 units, 400 training steps, 3 seeds): every condition learns the task
(held-out accuracy >= 99.8% over the trained horizon, training loss 0.06-0.07). Within a trial the
plastic component raises the effective radius: Hebbian's decaying trace levels off (+3-5%), BCM and
metaplastic BCM keep growing past the trained horizon (x1.13 and x1.33 at 2T, where their accuracy
falls to 99.5% and 99.0%) and intrinsic plasticity's gains grow steadily (x1.2; 95% accuracy
beyond T). Yet the frozen end-of-trial dynamics are more stable, not less: max exponent -0.076 per
step for the plain RNN, -0.10 Hebbian, -0.13 BCM, -0.15 metaplastic BCM, -0.09 intrinsic. So
here the answer is no: plasticity of the fast weights moves trained networks away from the edge
of chaos, the BCM rules (homeostatic threshold) more than the Hebbian trace (consistent with a
term ~ h h^T that deepens the attractor being held); only intrinsic plasticity leaves the
exponent near the plain RNN's, at the cost of activity variance and forgetting beyond the
trained horizon. The trained W_hh have spectral radius 1.6-1.9 in every condition: with biases
and saturating units, rho(W) = 1 does not mark the edge of chaos of a trained network; the
exponent does.

Departures from Miconi et al. (2018): the rule parameters are fixed, not learnt (they learn
``eta``); intrinsic plasticity runs 10x slower than the weight rules (see ``make_rule``).
SynapticScaling is not among the conditions: it scales each row of the plastic component,
``dHebb_i/dt = eta (target - a_i) Hebb_i``, and ``Hebb`` starts at zero in every trial, so it
stays zero (a multiplicative rule needs weights to act on; ``PlasticRNN`` applies the rule to
``Hebb`` only).

Writes ``fig_plastic_rnn.{png,pdf}``, ``results.{csv,parquet}`` (one row per condition: means
and standard errors over seeds) and ``points.{csv,parquet}`` (one row per condition and seed).

References: Sussillo & Barak (2013), Neural Comput 25:626 (flip-flop, fixed points); Miconi,
Clune & Stanley (2018), ICML (differentiable plasticity); Bienenstock, Cooper & Munro (1982),
J Neurosci 2:32 (BCM); Abraham & Bear (1996), Trends Neurosci 19:126 (metaplasticity); Desai,
Rutherford & Turrigiano (1999), Nat Neurosci 2:515 (intrinsic plasticity); Bertschinger &
Natschlaeger (2004), Neural Comput 16:1413 and Legenstein & Maass (2007), Neural Netw 20:323
(computation at the edge of chaos); Sompolinsky, Crisanti & Sommers (1988), PRL 61:259.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch

from plasticity.torch.threads import torch_threads

NAME = "plastic_rnn"
CONDITIONS = ("none", "hebbian", "bcm", "metaplastic_bcm", "intrinsic")
ETA = 0.1               # per step of the network (rule_dt = 1), for every rule
ALPHA = 0.2             # dt / tau of the leaky units
P_FLIP = 0.1            # pulse probability per step and bit of the flip-flop
LR = 1e-2               # Adam
CLIP_GRAD = 1.0         # global gradient-norm clip (BPTT through the plastic trace can spike)
EVAL_TRIALS = 32        # held-out trials for loss and accuracy
LYAP_TRIALS = 4         # of which this many give radius traces and Lyapunov exponents
LYAP_STEPS, LYAP_TRANSIENT = 400, 200
LOSS_BINS = 50          # the training-loss curve is stored as this many bin means

GRID = {"rule": list(CONDITIONS), "seed": [0, 1, 2, 3, 4], "n_hidden": [64], "batch_size": [64],
        "T": [100], "steps": [2000]}
QUICK = {"rule": list(CONDITIONS), "seed": [0, 1, 2], "n_hidden": [32], "batch_size": [32],
         "T": [50], "steps": [400]}


def make_rule(name: str):
    """The :mod:`plasticity.torch` rule of a condition (``None`` for the plain RNN)."""
    from plasticity.torch import BCM, Hebbian, IntrinsicPlasticity, MetaplasticBCM

    rules = {
        "none": lambda: None,
        "hebbian": lambda: Hebbian(eta=ETA, decay=ETA),
        "bcm": lambda: BCM(eta=ETA, tau_theta=10.0),
        "metaplastic_bcm": lambda: MetaplasticBCM(eta=ETA, tau_theta=10.0, tau_meta=100.0, kappa=1.0),
        # 10x slower: it moves each unit's threshold directly (not gated by a trained A); at
        # eta = 0.1 it tracks and erases a held memory within ~10 steps (quick grid: 85% accuracy)
        "intrinsic": lambda: IntrinsicPlasticity(eta=ETA / 10, target=0.0, adapt_gain=True, target_var=0.25),
    }
    if name not in rules:
        raise ValueError(f"plastic_rnn.rule must be one of {CONDITIONS}; got {name!r}")
    return rules[name]()


def make_model(rule: str, n_hidden: int, seed: int):
    """A plain ``RNN`` for ``"none"``, else a ``PlasticRNN`` with per-synapse coefficients."""
    from models.rnn import RNN, PlasticRNN

    if rule == "none":
        return RNN(3, n_hidden, 3, alpha=ALPHA, seed=seed)
    return PlasticRNN(3, n_hidden, 3, rule=make_rule(rule), plastic="per-synapse", alpha=ALPHA, seed=seed)


# -- the study ------------------------------------------------------------------------------
def point(rule: str, seed: int, n_hidden: int, batch_size: int, T: int, steps: int) -> dict:
    """Train one network of condition ``rule`` on the flip-flop; its performance and stability.

    Training: ``steps`` Adam steps (``LR``, gradient norm clipped at ``CLIP_GRAD``) on batches of
    ``batch_size`` trials of ``T`` steps (``models.tasks.flipflop``, ``p_flip = P_FLIP``). Held out:
    ``EVAL_TRIALS`` trials of ``2 T`` steps from another seed.

    Returns
    -------
    dict with the scalars
        ``diverged`` (training loss non-finite, or non-finite held-out outputs), ``final_loss``
        (mean training loss over the last 5% of steps), ``test_loss`` and ``accuracy`` (held out,
        steps ``[0, T)``), ``accuracy_beyond`` (steps ``[T, 2T)``), ``radius_start``,
        ``radius_mean``, ``radius_end`` (effective spectral radius at the trial start, averaged
        over the trial, at its end), ``lyapunov_start``, ``lyapunov_end`` (max exponent per step,
        frozen weights of the trial start / end), ``activity_variance``; radius, exponents and
        variance are means over the first ``LYAP_TRIALS`` held-out trials;
    and the arrays
        ``radius_t`` ``(2T + 1,)`` (effective radius after ``t`` steps, mean over those trials),
        ``loss_steps``, ``loss_t`` (training loss in ``LOSS_BINS`` bins: mean step, mean loss).
    """
    from models.rnn import effective_trial, frozen_system, train
    from models.tasks import flipflop, sign_accuracy
    from plasticity.metrics import activity_variance, max_lyapunov

    with torch_threads(1):  # one torch thread per sweep point (points run one per core)
        model = make_model(rule, n_hidden, seed)
        history = train(model, flipflop(batch_size, T, p_flip=P_FLIP, seed=seed), steps, LR, seed=seed,
                        clip_grad=CLIP_GRAD, metrics_every=None, progress=False)
        x, y = next(flipflop(EVAL_TRIALS, 2 * T, p_flip=P_FLIP, seed=np.random.default_rng([int(seed), 99])))
        trial = effective_trial(model, x)
    y = y.double()
    out = trial["outputs"]
    finite = bool(torch.isfinite(out).all())
    k = LYAP_TRIALS
    radius = trial["radius"][:k].numpy()
    start_sys = frozen_system(model)
    lyap_start, lyap_end = [], []
    for i in range(k):
        x0 = trial["hidden"][i, -1].numpy()
        if not np.all(np.isfinite(x0)):
            lyap_start.append(math.nan)
            lyap_end.append(math.nan)
            continue
        end_sys = frozen_system(model, trial["W"][i], trial["gain"][i], trial["threshold"][i])
        lyap_start.append(max_lyapunov(start_sys, x0, steps=LYAP_STEPS, transient=LYAP_TRANSIENT))
        lyap_end.append(max_lyapunov(end_sys, x0, steps=LYAP_STEPS, transient=LYAP_TRANSIENT))
    variance = [activity_variance(trial["hidden"][i].numpy()) if finite else math.nan for i in range(k)]
    loss = history.loss
    tail = loss[-max(1, len(loss) // 20):]
    bins = np.array_split(np.arange(len(loss)), min(LOSS_BINS, len(loss))) if len(loss) else []
    return {
        "diverged": bool(history.diverged) or not finite,
        "final_loss": float(tail.mean()) if len(tail) else math.nan,
        "test_loss": float(torch.mean((out[:, :T] - y[:, :T]) ** 2)),
        "accuracy": sign_accuracy(out[:, :T], y[:, :T]),
        "accuracy_beyond": sign_accuracy(out[:, T:], y[:, T:]),
        "radius_start": float(radius[:, 0].mean()),
        "radius_mean": float(radius.mean()),
        "radius_end": float(radius[:, -1].mean()),
        "lyapunov_start": float(np.mean(lyap_start)),
        "lyapunov_end": float(np.mean(lyap_end)),
        "activity_variance": float(np.mean(variance)),
        "radius_t": radius.mean(axis=0),
        "loss_steps": np.array([float(b.mean()) for b in bins]),
        "loss_t": np.array([float(loss[b].mean()) for b in bins]),
    }


SCALARS = ("final_loss", "test_loss", "accuracy", "accuracy_beyond", "radius_start", "radius_mean", "radius_end",
           "lyapunov_start", "lyapunov_end", "activity_variance")
LABELS = {"none": "plain RNN", "hebbian": "Hebbian", "bcm": "BCM", "metaplastic_bcm": "metaplastic BCM",
          "intrinsic": "intrinsic"}
TICKS = {**LABELS, "none": "plain\nRNN", "metaplastic_bcm": "meta-\nplastic BCM"}


def _ok(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of finished points (no sweep error) that did not diverge."""
    data = table[table["error"].isna()] if "error" in table.columns else table
    return data[~data["diverged"].astype(bool)]


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per condition: mean and standard error over seeds of each scalar (diverged runs left
    out of the means), the number of runs and of diverged runs."""
    rows = []
    data = table[table["error"].isna()] if "error" in table.columns else table
    for rule, g in data.groupby("rule", sort=False):
        good = _ok(g)
        row: dict[str, Any] = {"rule": rule, "runs": len(g), "diverged": int(g["diverged"].astype(bool).sum())}
        for c in SCALARS:
            v = good[c].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            row[c] = v.mean() if v.size else math.nan
            row[c + "_sem"] = v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def figure(table: pd.DataFrame):
    """Six panels: training loss, accuracy, effective radius over the trial (relative to its start),
    effective radius at trial start and end, Lyapunov exponents, activity variance."""
    from plasticity.plot import PALETTE, new_figure

    fig, axes = new_figure(2, 3, figsize=(11.0, 6.6))
    data = table[table["error"].isna()] if "error" in table.columns else table
    rules = [r for r in CONDITIONS if r in set(data["rule"])] + sorted(set(data["rule"]) - set(CONDITIONS))
    color = {r: PALETTE[k % len(PALETTE)] for k, r in enumerate(rules)}
    good = _ok(data)
    start_end = ("weights at trial start ($W_{hh}$)", "at trial end ($t = 2T$)")

    ax = axes[0, 0]
    for r in rules:
        rows = good[good["rule"] == r]
        if len(rows):
            _band(ax, np.asarray(rows["loss_steps"].iloc[0]), np.stack(rows["loss_t"].to_numpy()), color[r],
                  LABELS.get(r, r))
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (MSE)")
    ax.legend(fontsize=7)

    ax = axes[0, 1]
    _by_condition(ax, data, rules, "accuracy", color, -0.12, "o", "trained horizon $[0, T]$")
    _by_condition(ax, data, rules, "accuracy_beyond", color, 0.12, "s", "beyond it, $(T, 2T]$", filled=False)
    ax.set_ylabel("held-out accuracy (sign of output)")
    ax.legend(fontsize=7, loc="lower left")

    ax = axes[0, 2]
    T = None
    for r in rules:
        rows = good[good["rule"] == r]
        if len(rows):
            traces = np.stack(rows["radius_t"].to_numpy())
            T = (traces.shape[1] - 1) // 2
            _band(ax, np.arange(traces.shape[1]), traces / traces[:, :1], color[r], LABELS.get(r, r))
    ax.axhline(1.0, color="0.5", lw=0.8)
    if T:
        ax.axvline(T, color="0.4", ls=":", lw=0.9)
        ax.text(T, 0.98, " trained\n horizon T", transform=ax.get_xaxis_transform(), va="top", fontsize=7, color="0.3")
    ax.set_xlabel("time in held-out trial (steps)")
    ax.set_ylabel("effective radius relative to the trial start\n$\\rho(W_{eff}(t)) \\,/\\, \\rho(W_{hh})$")

    ax = axes[1, 0]
    _by_condition(ax, data, rules, "radius_start", color, -0.12, "o", start_end[0])
    _by_condition(ax, data, rules, "radius_end", color, 0.12, "s", start_end[1], filled=False)
    ax.axhline(1.0, color="0.5", lw=0.8)
    ax.set_ylabel("spectral radius of the effective weights\n"
                  "$\\rho(\\mathrm{diag}(g)\\,(W_{hh} + A \\odot \\mathrm{Hebb}))$")
    ax.legend(fontsize=7, loc="lower left")

    ax = axes[1, 1]
    _by_condition(ax, data, rules, "lyapunov_start", color, -0.12, "o", start_end[0])
    _by_condition(ax, data, rules, "lyapunov_end", color, 0.12, "s", start_end[1], filled=False)
    ax.axhline(0.0, color="k", lw=0.8, ls="--")
    ax.text(-0.45, 0.0, "edge of chaos", va="bottom", fontsize=7, color="0.3")
    ax.set_ylabel("max Lyapunov exponent (per step)\nof the frozen autonomous dynamics")
    ax.legend(fontsize=7, loc="lower left")

    ax = axes[1, 2]
    _by_condition(ax, data, rules, "activity_variance", color, 0.0, "o", None)
    ax.set_ylabel("activity variance over the held-out trial")
    for ax, letter in zip(axes.flat, "abcdef"):
        ax.set_title(f"({letter})", loc="left", fontsize=10, fontweight="bold")
    return fig


def _band(ax, x: np.ndarray, Y: np.ndarray, color, label: str) -> None:
    """Mean of the rows of ``Y`` with a band of one standard error (when there are several)."""
    mean = Y.mean(axis=0)
    ax.plot(x, mean, color=color, label=label)
    if Y.shape[0] > 1:
        sem = Y.std(axis=0, ddof=1) / math.sqrt(Y.shape[0])
        ax.fill_between(x, mean - sem, mean + sem, color=color, alpha=0.25, lw=0)


def _by_condition(ax, data: pd.DataFrame, rules: list[str], column: str, color: dict, offset: float,
                  marker: str, label: str | None, filled: bool = True) -> None:
    """Mean over seeds with standard-error bars, one position per condition; diverged runs are
    left out and marked with an ``X`` at the top of the axes."""
    for k, r in enumerate(rules):
        rows = data[data["rule"] == r]
        bad = rows["diverged"].astype(bool).to_numpy()
        v = rows[column].to_numpy(dtype=float)[~bad]
        v = v[np.isfinite(v)]
        if v.size:
            sem = v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else 0.0
            ax.errorbar(k + offset, v.mean(), yerr=sem, marker=marker, color=color[r], ms=6, capsize=3,
                        mfc=color[r] if filled else "white", mec=color[r], ls="none")
            ax.plot(np.full(v.size, k + offset), v, ".", color=color[r], ms=2.5, alpha=0.6)
        if bad.any():
            ax.plot(k + offset, 0.97, "X", color=color[r], ms=8, mec="k", mew=0.5, clip_on=False,
                    transform=ax.get_xaxis_transform())
    if label is not None:
        ax.errorbar([], [], yerr=[], marker=marker, color="0.3", mfc="0.3" if filled else "white", ls="none",
                    capsize=3, label=label)
    ax.set_xticks(range(len(rules)), [TICKS.get(r, r) for r in rules])
    ax.set_xlim(-0.5, len(rules) - 0.5)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
