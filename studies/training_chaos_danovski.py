"""Training chaos in Danovski, Soriano & Lacasa's own setup: Iris, a 4-10-3 sigmoid network, full-batch GD.

Danovski, Soriano & Lacasa (2024), "Dynamical stability and chaos in artificial neural network
trajectories along training", Front. Complex Syst. 2:1367957 (arXiv:2404.05782). Setup as in the
authors' code (github.com/GitKalo/ann_dynamics: ``src/iris_train.py``, ``src/run_iris_*.py``),
through :mod:`models.iris_mlp`: 120 Iris flowers (raw cm), 10 sigmoid hidden units, softmax
outputs, mean cross-entropy, full-batch gradient descent in float64, weights N(0, 1), biases 0.
Copies start from the weights plus uniform noise in [-eps, eps] on every weight
(:func:`models.trajectories.perturb_uniform`, eps = 1e-8); their separation is measured two ways:
our estimator (:func:`plasticity.metrics.trajectory_lyapunov`: Euclidean distances, fitted while
small) and theirs (:func:`models.trajectories.best_r2_exponent`: mean L1 distance over copies, the
best-r2 window in the first 200 epochs, runs kept when r2 > 0.9 and slope > 0.05, as in the
authors' analysis notebook ``report_figures.ipynb``). Learning rates: their three regimes are run
at eta = 0.01 (their default), 1 (``run_iris_eos_epsilons.py``) and 5 (``run_iris_chaotic.py``);
the grid fills in between and goes to 10 (the largest eta of their notebook).

Published results compared (``results.csv``, the table panel): the paper's body (figures, numbers)
could not be read with the tools available here; what was read is the abstract ("hints of regular
and chaotic behavior depending on the learning rate regime"), a third-party summary
(sciencestack.ai/paper/2404.05782: "a low-eta regime with non-monotonic, non-chaotic trajectory
divergence ... larger learning rates reveal an edge-of-stability with positive finite-time
Lyapunov exponents and non-monotonic loss, and at very large rates a chaotic-intermittent
regime"), and the authors' code and notebook, whose one printed exponent is 0.168 per epoch
(r2 = 0.87; one initial condition at eta = 1, fitted over epochs 50-150; notebook cell 22).

Departures: the split of Iris (theirs: the first 120 flowers in tensorflow_datasets' order; here a
fixed seeded permutation); a diverged run (weights past ``BOUND``) is stopped and kept.
Writes ``fig_training_chaos_danovski.{png,pdf}``, ``results.*`` (per lr, with the published value,
ours and the agreement where there is one) and ``points.*``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models import iris_mlp, lr_sweep
from models.trajectories import DIVERGENCE_BOUND, best_r2_exponent, exponent, perturb_uniform, train_with_copies
from plasticity.torch.threads import torch_threads

NAME = "training_chaos_danovski"
N_HIDDEN = 10
BOUND = DIVERGENCE_BOUND
R2_MIN, SLOPE_MIN = 0.9, 0.05      # the authors' filter of fits (report_figures.ipynb, cell 23)
PUBLISHED_EXAMPLE = 0.168          # per epoch, eta = 1, one initial condition (report_figures.ipynb, cell 22)
SCALARS = ["exponent", "theirs", "late_exponent", "separation", "final_loss", "loss_rises", "train_accuracy",
           "test_accuracy", "sharpness"]

GRID = {"lr": [0.01, 0.03, 0.1, 0.3, 1.0, 2.0, 3.0, 5.0, 10.0], "seed": list(range(10)), "steps": [5000],
        "copies": [5], "eps": [1e-8]}
QUICK = {"lr": [0.01, 0.1, 1.0, 5.0], "seed": [0, 1, 2], "steps": [600], "copies": [3], "eps": [1e-8]}


def point(lr: float, seed: int, steps: int, copies: int, eps: float) -> dict:
    """One network trained at ``lr`` for ``steps`` epochs beside ``copies`` perturbed copies."""
    X, y, X_test, y_test = iris_mlp.load_iris()
    mask = iris_mlp.weight_mask(N_HIDDEN)
    with torch_threads(1):
        theta0 = iris_mlp.init_params(N_HIDDEN, seed)
        run = train_with_copies(iris_mlp.gradient(X, y, N_HIDDEN), theta0, lr, steps, copies, eps,
                                np.random.default_rng([int(seed), 23]), bound=BOUND,
                                perturb_fn=lambda th, c, e, rng: perturb_uniform(th, c, e, rng, mask))
        full, late, diverged_at = run["full"], run["late"], run["diverged_at"]
        lam, lam_err, _, _, saturated = exponent(full)
        lam_late = exponent(late)[0] if late is not None else math.nan
        loss_t = iris_mlp.full_batch_loss(full[0], X, y, N_HIDDEN)
        final = full[0, -1]
        sharp = iris_mlp.sharpness(final, X, y, N_HIDDEN)
    F = full.numpy()
    with np.errstate(invalid="ignore"):
        l1 = np.abs(F[1:] - F[0]).sum(axis=2).mean(axis=0)            # mean L1 distance, as theirs
    theirs, r2, window = best_r2_exponent(l1)
    finite = loss_t[np.isfinite(loss_t)]
    second = np.diff(finite[len(finite) // 2:])
    seen = l1[np.isfinite(l1)]
    return {
        "exponent": lam, "exponent_stderr": lam_err, "saturated": bool(saturated),
        "theirs": theirs, "theirs_r2": r2, "theirs_start": window[0], "theirs_stop": window[1],
        "theirs_kept": bool(r2 > R2_MIN and theirs > SLOPE_MIN),
        "separation": float(np.log10(seen.max() / seen[0])) if seen.size else math.nan,
        "late_exponent": lam_late,
        "diverged": diverged_at is not None, "diverged_at": math.nan if diverged_at is None else float(diverged_at),
        "final_loss": float(loss_t[-1]),
        "final_loss_at_divergence": float(finite[-1]) if diverged_at is not None and finite.size else math.nan,
        "loss_rises": float(np.mean(second > 0)) if second.size else math.nan,  # share of late epochs with a rise
        "train_accuracy": iris_mlp.accuracy(final, X, y, N_HIDDEN),
        "test_accuracy": iris_mlp.accuracy(final, X_test, y_test, N_HIDDEN),
        "sharpness": sharp, "lr_times_sharpness": lr * sharp,
        "loss_t": loss_t, "l1_distance_t": l1,
    }


def _fmt(m: float, s: float) -> str:
    return "n/a" if not np.isfinite(m) else (f"{m:.3g} +- {s:.2g}" if np.isfinite(s) else f"{m:.3g}")


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per lr: means and standard errors over seeds; where the paper states a result, the published
    value, ours and the agreement (``published``, ``ours``, ``agreement``)."""
    data = lr_sweep.ok_rows(table).assign(batches=1)
    s = lr_sweep.summarize(data, SCALARS)
    kept = data[data["theirs_kept"].astype(bool)].groupby("lr")["theirs"]
    s["theirs_kept_runs"] = s["lr"].map(kept.size()).fillna(0).astype(int)
    s["theirs_kept_mean"] = s["lr"].map(kept.mean())
    s["theirs_kept_sem"] = s["lr"].map(kept.sem())
    s["published"], s["ours"], s["agreement"] = "", "", ""
    for i, r in s.iterrows():
        ok = r["runs"] - r["diverged"]
        if r["lr"] == 0.01:
            s.loc[i, ["published", "ours", "agreement"]] = (
                "non-chaotic: copies drift apart non-monotonically, no exponential separation",
                f"separation {_fmt(r['separation'], r['separation_sem'])} decades; {r['saturated']}/{ok} saturated",
                "yes" if r["saturated"] == 0 and r["separation"] < 2 else "no")
        elif r["lr"] == 1.0:
            s.loc[i, ["published", "ours", "agreement"]] = (
                f"edge of stability: positive exponent; example {PUBLISHED_EXAMPLE} per epoch (r2 0.87)",
                f"theirs {_fmt(r['theirs_kept_mean'], r['theirs_kept_sem'])} ({r['theirs_kept_runs']}/{ok} kept); "
                f"ours {_fmt(r['exponent'], r['exponent_sem'])}",
                f"{'yes' if r['exponent'] > 0 else 'no'} (positive); theirs / published = "
                f"{r['theirs_kept_mean'] / PUBLISHED_EXAMPLE:.2g}")
        elif r["lr"] == 5.0:
            s.loc[i, ["published", "ours", "agreement"]] = (
                "chaotic-intermittent: loss does not settle",
                f"loss rises in {_fmt(100 * r['loss_rises'], 100 * r['loss_rises_sem'])} % of late epochs; "
                f"{r['saturated']}/{ok} saturated",
                "yes" if r["loss_rises"] > 0.1 and r["saturated"] > 0 else "no")
    return s


def figure(table: pd.DataFrame):
    """Six panels: loss, separation, exponents, lr * sharpness, loss rises and accuracy, the comparison table."""
    from plasticity.plot import PALETTE, new_figure

    data = lr_sweep.ok_rows(table).assign(batches=1)
    s = summarize(data)
    fig, axes = new_figure(2, 3, figsize=(12.0, 7.0))
    (ax_loss, ax_dist, ax_lam), (ax_eos, ax_rise, ax_tab) = axes
    seed0 = data[data["seed"] == data["seed"].min()]
    for k, lr in enumerate([lr for lr in (0.01, 1.0, 5.0) if lr in set(seed0["lr"])]):
        row = seed0[seed0["lr"] == lr].iloc[0]
        ax_loss.plot(row["loss_t"], color=PALETTE[k], lw=0.8, label=f"$\\eta$ = {lr:g}")
        ax_dist.plot(np.asarray(row["l1_distance_t"]) / row["l1_distance_t"][0], color=PALETTE[k], lw=0.8)
        if row["diverged"]:
            ax_loss.plot([row["diverged_at"]], [0.97], "X", color=PALETTE[k], ms=7, mec="k", mew=0.5, clip_on=False,
                         transform=ax_loss.get_xaxis_transform(), label=f"diverged ($\\eta$ = {lr:g})")
    ax_loss.set(yscale="log", xlabel="epoch", ylabel="training loss (cross-entropy)")
    ax_loss.legend(fontsize=7)
    ax_dist.set(yscale="log", xlabel="epoch", ylabel="mean L1 separation $d(t)/d(0)$")
    lr_sweep.plot_vs_lr(ax_lam, data, "exponent", PALETTE[0], "-", "o", "ours (L2, small separations)")
    kept = data[data["theirs_kept"].astype(bool)]
    lr_sweep.plot_vs_lr(ax_lam, kept, "theirs", PALETTE[1], "--", "s", f"theirs (L1, best r2, kept r2>{R2_MIN})", False)
    lr_sweep.plot_vs_lr(ax_lam, data, "late_exponent", PALETTE[2], ":", "^", "trained dynamics (ours)", False)
    ax_lam.plot([1.0], [PUBLISHED_EXAMPLE], "*", color="k", ms=11, ls="none", label="published example, $\\eta$ = 1")
    ax_lam.set(xscale="log", xlabel="learning rate $\\eta$", ylabel="max Lyapunov exponent (per epoch)")
    ax_lam.set_yscale("symlog", linthresh=1e-4, linscale=0.6)
    ax_lam.axhline(0.0, color="0.5", lw=0.8)
    ax_lam.legend(fontsize=6)
    lr_sweep.plot_vs_lr(ax_eos, data, "lr_times_sharpness", PALETTE[0], "-", "o", "$\\eta\\,\\lambda_{max}$ at the end")
    ax_eos.axhline(2.0, color="0.3", ls="-.", lw=0.9, label="2 (edge of stability)")
    ax_eos.set(xscale="log", yscale="log", xlabel="learning rate $\\eta$", ylabel="$\\eta$ x sharpness (end)")
    ax_eos.legend(fontsize=6.5)
    lr_sweep.plot_vs_lr(ax_rise, data, "loss_rises", PALETTE[0], "-", "o", "epochs with a loss rise (late half)")
    lr_sweep.plot_vs_lr(ax_rise, data, "test_accuracy", PALETTE[1], "--", "s", "test accuracy (30 flowers)", False)
    ax_rise.set(xscale="log", ylim=(-0.02, 1.02), xlabel="learning rate $\\eta$", ylabel="fraction")
    ax_rise.legend(fontsize=6.5)
    rows = s[s["published"] != ""]
    ax_tab.axis("off")
    if not rows.empty:
        cells = [[f"{r.lr:g}", _wrap(r.published, 27), _wrap(r.ours, 27), _wrap(r.agreement, 13)]
                 for r in rows.itertuples()]
        tab = ax_tab.table(cells, colLabels=["$\\eta$", "published", "ours", "agrees"], bbox=[0.0, 0.0, 1.0, 0.9],
                           colWidths=[0.07, 0.37, 0.37, 0.19], cellLoc="left")
        tab.auto_set_font_size(False)
        tab.set_fontsize(5.5)
    for ax, letter in zip(axes.flat, "abcdef"):
        ax.set_title(f"({letter})", loc="left", fontsize=10, fontweight="bold")
    fig.suptitle(f"Iris, 4-10-3 sigmoid/softmax, full-batch GD; {data['seed'].nunique()} seeds, "
                 f"{int(data['steps'].max())} epochs; (a), (b) seed {data['seed'].min()}; mean +- s.e.; "
                 "X = diverged run at divergence", fontsize=8)
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(str(text), width))


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
