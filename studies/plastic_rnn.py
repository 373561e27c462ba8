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

Rule parameters are fixed (not learnt), the same ``eta`` for every weight rule. Each trained network
(condition and seed) is measured on held-out trials twice as long as the training trials
(``models.rnn.trial_stability``): loss and accuracy (sign of each defined output) over the trained
horizon ``T`` and beyond it, ``(T, 2T]``; the spectral radius of the effective weights
``diag(gain) W_eff(t)`` at every step; the maximal Lyapunov exponent (per step) of the autonomous
dynamics with the weights frozen at the trial start (``W_hh``) and end (``W_eff(2T)``, gain and
threshold included); the activity variance. The edge of chaos is a maximal exponent of 0; the
flip-flop is solved by stable fixed points, so a trained network sits on the ordered side, and
"nearer the edge" means a less negative exponent.

What the quick grid shows (32 units, 400 training steps, 3 seeds; means, s.e.m. 0.005-0.014 for the
exponents): every condition learns the task (held-out accuracy >= 99.7% over the trained horizon,
training loss 0.060-0.075). Within a trial the plastic component raises the effective radius:
Hebbian's decaying trace levels off (x1.04 at 2T), BCM and metaplastic BCM keep growing past the
trained horizon (x1.12 and x1.24 at 2T, where their accuracy falls to 99.5% and 99.3%) and
intrinsic plasticity's gains grow steadily (x1.20; 94.5% accuracy beyond T). Yet the frozen
end-of-trial dynamics are more stable, not less: max exponent -0.076 per step for the plain RNN,
-0.095 Hebbian, -0.113 BCM, -0.130 metaplastic BCM, -0.093 intrinsic. So here the answer is no:
plasticity moves trained networks away from the edge of chaos, the BCM rules (homeostatic
threshold) most (consistent with a term ~ h h^T that deepens the attractor being held); intrinsic
plasticity pays with activity variance and forgetting beyond the trained horizon. The trained
W_hh have spectral radius 1.7-1.8 in every condition: with biases and saturating units, rho(W) = 1
does not mark the edge of chaos of a trained network; the exponent does.

Departures from Miconi et al. (2018): the rule parameters are fixed, not learnt (they learn
``eta``); intrinsic plasticity runs 10x slower than the weight rules (see ``make_rule``).
SynapticScaling is not a condition: it scales the rows of ``Hebb``, which starts at zero in
every trial, so it would stay zero. Writes ``fig_plastic_rnn.{png,pdf}``, ``results.{csv,parquet}``
(per condition: means and standard errors over seeds) and ``points.{csv,parquet}`` (per run).

References: Sussillo & Barak (2013), Neural Comput 25:626 (flip-flop, fixed points); Miconi,
Clune & Stanley (2018), ICML (differentiable plasticity); Bienenstock, Cooper & Munro (1982),
J Neurosci 2:32 (BCM); Abraham & Bear (1996), Trends Neurosci 19:126 (metaplasticity); Desai,
Rutherford & Turrigiano (1999), Nat Neurosci 2:515 (intrinsic plasticity); Bertschinger &
Natschlaeger (2004), Neural Comput 16:1413 and Legenstein & Maass (2007), Neural Netw 20:323
(computation at the edge of chaos); Sompolinsky, Crisanti & Sommers (1988), PRL 61:259.
"""
from __future__ import annotations

import math

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
        ``diverged`` (non-finite training loss or held-out outputs), ``final_loss`` (mean over the
        last 5% of steps), ``test_loss``, ``accuracy`` (held out, steps ``[0, T)``),
        ``accuracy_beyond`` (``[T, 2T)``), ``radius_start``, ``radius_mean``, ``radius_end``
        (effective radius at the trial start, averaged over it, at its end), ``lyapunov_start``,
        ``lyapunov_end``, ``activity_variance`` (radius, exponents and variance: means over the
        first ``LYAP_TRIALS`` held-out trials); and the arrays ``radius_t`` ``(2T + 1,)`` (radius
        after ``t`` steps), ``loss_steps``, ``loss_t`` (training loss in ``LOSS_BINS`` bins).
    """
    from models.rnn import train, trial_stability
    from models.tasks import flipflop, sign_accuracy

    with torch_threads(1):  # one torch thread per sweep point (points run one per core)
        model = make_model(rule, n_hidden, seed)
        history = train(model, flipflop(batch_size, T, p_flip=P_FLIP, seed=seed), steps, LR, seed=seed,
                        clip_grad=CLIP_GRAD, metrics_every=None, progress=False)
        x, y = next(flipflop(EVAL_TRIALS, 2 * T, p_flip=P_FLIP, seed=np.random.default_rng([int(seed), 99])))
        ev = trial_stability(model, x, LYAP_TRIALS, LYAP_STEPS, LYAP_TRANSIENT)
    y, out, radius = y.double(), ev["outputs"], ev["radius"]
    loss = history.loss
    tail = loss[-max(1, len(loss) // 20):]
    bins = np.array_split(np.arange(len(loss)), min(LOSS_BINS, len(loss))) if len(loss) else []
    return {
        "diverged": bool(history.diverged) or not ev["finite"],
        "final_loss": float(tail.mean()) if len(tail) else math.nan,
        "test_loss": float(torch.mean((out[:, :T] - y[:, :T]) ** 2)),
        "accuracy": sign_accuracy(out[:, :T], y[:, :T]),
        "accuracy_beyond": sign_accuracy(out[:, T:], y[:, T:]),
        "radius_start": float(radius[:, 0].mean()),
        "radius_mean": float(radius.mean()),
        "radius_end": float(radius[:, -1].mean()),
        "lyapunov_start": float(np.mean(ev["lyapunov_start"])),
        "lyapunov_end": float(np.mean(ev["lyapunov_end"])),
        "activity_variance": float(np.mean(ev["activity_variance"])),
        "radius_t": radius.mean(axis=0),
        "loss_steps": np.array([float(b.mean()) for b in bins]),
        "loss_t": np.array([float(loss[b].mean()) for b in bins]),
    }


SCALARS = ("final_loss", "test_loss", "accuracy", "accuracy_beyond", "radius_start", "radius_mean", "radius_end",
           "lyapunov_start", "lyapunov_end", "activity_variance")
LABELS = {"none": "plain RNN", "hebbian": "Hebbian", "bcm": "BCM", "metaplastic_bcm": "metaplastic BCM",
          "intrinsic": "intrinsic"}
TICKS = {**LABELS, "none": "plain\nRNN", "metaplastic_bcm": "meta-\nplastic BCM"}


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per condition: mean and standard error over seeds of each scalar (diverged runs left
    out of the means), the number of runs and of diverged runs (``models._rnn_conditions``)."""
    from models._rnn_conditions import summarize_conditions

    return summarize_conditions(table, "rule", SCALARS)


def figure(table: pd.DataFrame):
    """Six panels: training loss, accuracy, effective radius over the trial (relative to its start),
    effective radius at trial start and end, Lyapunov exponents, activity variance."""
    from models._rnn_conditions import band, by_condition, finished
    from plasticity.plot import new_figure, rule_color

    fig, axes = new_figure(2, 3, figsize=(11.0, 6.6))
    data = table[table["error"].isna()] if "error" in table.columns else table
    rules = [r for r in CONDITIONS if r in set(data["rule"])] + sorted(set(data["rule"]) - set(CONDITIONS))
    color = {r: rule_color(r) for r in rules}  # "none" (plain RNN) is grey
    good, T = finished(data), None
    ax = axes[0, 2]
    ax.axhline(1.0, color="k", lw=0.6, ls=":", zorder=0)
    for r in rules:
        rows = good[good["rule"] == r]
        if len(rows):
            band(axes[0, 0], np.asarray(rows["loss_steps"].iloc[0]), np.stack(rows["loss_t"].to_numpy()), color[r],
                  LABELS.get(r, r))
            traces = np.stack(rows["radius_t"].to_numpy())
            T, plain = (traces.shape[1] - 1) // 2, r == "none"  # plain: W_hh all trial long, exactly 1, on top
            band(ax, np.arange(traces.shape[1]), traces / traces[:, :1], color[r],
                  "plain RNN (= 1)" if plain else LABELS.get(r, r), ls="--" if plain else "-", lw=2.0 if plain else 1.5,
                  zorder=3 if plain else 2)
    if T:
        ax.axvline(T, color="0.4", ls=":", lw=0.9)
        ax.text(T, 0.98, " trained\n horizon T", transform=ax.get_xaxis_transform(), va="top", fontsize=7, color="0.3")
    ax.set(xlabel="time in held-out trial (steps)",
           ylabel="effective radius relative to the trial start\n$\\rho(W_{eff}(t)) \\,/\\, \\rho(W_{hh})$")
    ax.legend(fontsize=7, loc="upper left")
    axes[0, 0].set(yscale="log", xlabel="training step", ylabel="training loss (MSE)")
    axes[0, 0].legend(fontsize=7)
    start_end = ("weights at trial start ($W_{hh}$)", "at trial end ($t = 2T$)")
    panels = [  # (axes, the two columns, their legend labels, ylabel)
        (axes[0, 1], ("accuracy", "accuracy_beyond"), ("trained horizon $[0, T]$", "beyond it, $(T, 2T]$"),
         "held-out accuracy (sign of output)"),
        (axes[1, 0], ("radius_start", "radius_end"), start_end, ("spectral radius of the effective weights\n"
         "$\\rho(\\mathrm{diag}(g)\\,(W_{hh} + A \\odot \\mathrm{Hebb}))$")),
        (axes[1, 1], ("lyapunov_start", "lyapunov_end"), start_end,
         "max Lyapunov exponent (per step)\nof the frozen autonomous dynamics"),
        (axes[1, 2], ("activity_variance",), (None,), "activity variance over the held-out trial"),
    ]
    for ax, columns, labels, ylabel in panels:
        for k, (column, label) in enumerate(zip(columns, labels)):
            offset = 0.0 if len(columns) == 1 else (-0.12, 0.12)[k]
            by_condition(ax, data, "rule", rules, column, color, offset, "os"[k], label, filled=k == 0, ticks=TICKS)
        ax.set_ylabel(ylabel)
        if labels[0]:
            ax.legend(fontsize=7, loc="lower left")
    axes[1, 0].axhline(1.0, color="0.5", lw=0.8)
    axes[1, 1].axhline(0.0, color="k", lw=0.8, ls="--")
    axes[1, 1].text(-0.45, 0.0, "edge of chaos", va="bottom", fontsize=7, color="0.3")
    for ax, letter in zip(axes.flat, "abcdef"):
        ax.set_title(f"({letter})", loc="left", fontsize=10, fontweight="bold")
    sizes = ", ".join(f"{c} {'/'.join(str(v) for v in sorted(set(data[c])))}" for c in ("n_hidden", "T", "steps") if c in data)
    fig.suptitle(f"3-bit flip-flop, {data['seed'].nunique() if 'seed' in data else '?'} seeds ({sizes}): mean +- s.e.m. over "
                 "seeds, dots single runs, X a diverged run (left out of the mean)", fontsize=9)
    return fig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
