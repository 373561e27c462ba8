"""Training chaos: Lyapunov exponents of gradient-descent trajectories in weight space across learning rates.

After Danovski, Soriano & Lacasa (2024), "Dynamical stability and chaos in artificial neural network
trajectories along training", Front. Complex Syst. 2:1367957, on a task of our own (their setup,
Iris, is :mod:`studies.training_chaos_danovski`). A shallow network (:mod:`models.feedforward`: 2
inputs, ``n_hidden`` tanh units, one linear output; P = 4 n_hidden + 1 parameters) learns two noisy
concentric circles (targets +-1, mean squared error plus a weak L2 penalty ``WEIGHT_DECAY``) by
gradient descent, full batch or over ``batches`` fixed-order minibatches, in float64. Training is
the map theta <- theta - lr grad L(theta) (:func:`models.trajectories.train_with_copies`); a run
lasts ``max(steps, min_time / lr)`` steps, so that small learning rates reach their minimum. Per lr:

* the finite-time maximal Lyapunov exponent of training, from ``copies`` copies started ``EPS``
  from the initial weights (:func:`plasticity.metrics.trajectory_lyapunov`, fitted while the
  separation is small), and the largest separation reached;
* the exponent of the trained dynamics, from copies started at the reference's weights after half
  of the run: at a strictly stable minimum it is ln max_i |1 - lr h_i| < 0 (h_i the Hessian
  eigenvalues there);
* the sharpness (largest Hessian eigenvalue) at the end against 2 / lr (Cohen et al. 2021);
* the training loss and accuracy; a diverged run (weights past ``BOUND``) is kept, with its step and
  loss at divergence.

Expected (quick grid): at small lr the copies drift apart a few-fold over the run (no exponential
separation, the non-chaotic regime of Danovski et al.) and the trained dynamics have a negative
exponent (lr * sharpness < 2). Past the edge of stability, lr ~ 2 / sharpness of the minima found
at small lr, the copies separate exponentially to the size of the trajectory (exponent ~1e-2 to
1e-1 per step) while the sharpness locks to 2 / lr. The chaos is mostly transient: the trained
dynamics are stable again at most large lr (cf. Jimenez-Gonzalez, Soriano & Lacasa 2025,
arXiv:2506.08523). At still larger lr some or all runs diverge.

Writes ``fig_training_chaos.{png,pdf}``, ``results.{csv,parquet}`` (per batching and lr: means and
standard errors over seeds, diverged runs counted apart) and ``points.{csv,parquet}`` (per run).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from models import lr_sweep
from models.feedforward import full_batch_loss, init_params, minibatch_gradient, network_output, sharpness, two_circles
from models.trajectories import DIVERGENCE_BOUND, exponent, perturb, principal_projection, train_with_copies
from plasticity.torch.threads import torch_threads

NAME = "training_chaos"
EPS = 1e-8              # initial distance of the perturbed copies (resolvable in float64 for |theta| ~ 1)
WEIGHT_DECAY = 1e-3     # L2 penalty 0.5 * WEIGHT_DECAY * |theta|^2
NOISE = 0.1             # standard deviation of the points' noise (circles of radii 0.5 and 1.0)
BOUND = DIVERGENCE_BOUND  # a run whose weights pass this (|theta_i|; they are O(1) to O(10) otherwise) diverged
SCALARS = ["exponent", "late_exponent", "separation", "final_loss", "final_accuracy", "sharpness"]

GRID = {"lr": [float(v) for v in np.round(np.geomspace(0.02, 1.0, 13), 4)], "seed": [0, 1, 2, 3, 4],
        "batches": [1, 4], "n_hidden": [16], "n_samples": [200], "steps": [4000], "min_time": [300.0], "copies": [4]}
QUICK = {"lr": [float(v) for v in np.round(np.geomspace(0.03, 1.0, 8), 4)], "seed": [0, 1],
         "batches": [1], "n_hidden": [16], "n_samples": [200], "steps": [2000], "min_time": [300.0], "copies": [2]}


def point(lr: float, seed: int, batches: int, n_hidden: int, n_samples: int, steps: int, copies: int,
          min_time: float = 0.0) -> dict:
    """Train one network at learning rate ``lr`` for ``max(steps, ceil(min_time / lr))`` steps with
    perturbed copies: exponents, losses, sharpness, divergence."""
    steps = max(int(steps), math.ceil(min_time / lr))
    with torch_threads(1):  # one torch thread per sweep point (points run one per core)
        X, y = two_circles(n_samples, seed, NOISE)
        grad_fn = minibatch_gradient(X, y, n_hidden, batches, seed, WEIGHT_DECAY)
        theta0 = init_params(n_hidden, seed)
        run = train_with_copies(grad_fn, theta0, lr, steps, copies, EPS, np.random.default_rng([int(seed), 11]),
                                perturb_fn=perturb, bound=BOUND)
        full, late, diverged_at = run["full"], run["late"], run["diverged_at"]
        lam, lam_err, window, distance, saturated = exponent(full)
        lam_late, lam_late_err, late_distance = math.nan, math.nan, np.full(steps - run["burn"] + 1, math.nan)
        if late is not None:
            lam_late, lam_late_err, _, late_distance, _ = exponent(late)
        loss_t = full_batch_loss(full[0], X, y, n_hidden, WEIGHT_DECAY)
        final, accuracy = full[0, -1], math.nan
        if bool(torch.isfinite(final).all()):
            out = network_output(final[None], torch.as_tensor(X), n_hidden)[0].numpy()
            accuracy = float(np.mean(np.sign(out) == y))
    finite_loss = loss_t[np.isfinite(loss_t)]
    stride = max(1, steps // 500)
    seen = distance[np.isfinite(distance)]
    return {
        "steps_run": steps,
        "exponent": lam, "exponent_stderr": lam_err,        # per step, from the initial weights (up to divergence)
        "fit_start": window[0], "fit_stop": window[1], "saturated": bool(saturated),
        "separation": float(np.log10(seen.max() / EPS)) if seen.size else math.nan,  # log10 largest separation / EPS
        "late_exponent": lam_late, "late_exponent_stderr": lam_late_err,  # per step, from the weights after steps // 2
        "diverged": diverged_at is not None,
        "diverged_at": math.nan if diverged_at is None else float(diverged_at),
        "final_loss": float(loss_t[-1]),
        # the loss at the last step at which the weights were inside BOUND (NaN for a run that did not diverge)
        "final_loss_at_divergence": (float(finite_loss[-1]) if diverged_at is not None and finite_loss.size
                                     else math.nan),
        "min_loss": float(finite_loss.min()) if finite_loss.size else math.nan,
        "final_accuracy": accuracy,
        "sharpness": sharpness(final, X, y, n_hidden, WEIGHT_DECAY),
        "sharpness_init": sharpness(theta0, X, y, n_hidden, WEIGHT_DECAY),
        "loss_t": loss_t, "distance_t": distance, "late_distance_t": late_distance,
        "stride": stride, "theta_t": full[0].numpy()[::stride], "copy_t": full[1].numpy()[::stride],
    }


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (batches, lr): means and standard errors over the seeds that did not diverge;
    diverged runs counted, with their mean step and loss at divergence."""
    return lr_sweep.summarize(table, SCALARS)


def transition_lr(table: pd.DataFrame, batches: int = 1) -> float:
    """See :func:`models.lr_sweep.transition_lr`."""
    return lr_sweep.transition_lr(table, batches)


def edge_of_stability_lr(table: pd.DataFrame, batches: int = 1) -> float:
    """See :func:`models.lr_sweep.edge_of_stability_lr`."""
    return lr_sweep.edge_of_stability_lr(table, batches)


def figure(table: pd.DataFrame):
    """Six panels: loss curves, separations, trajectories in weight space, exponents, sharpness, final loss."""
    import matplotlib
    from matplotlib.colors import LogNorm

    from plasticity.plot import PALETTE, new_figure

    data = lr_sweep.ok_rows(table)
    full = data[data["batches"] == 1]
    fig, axes = new_figure(2, 3, figsize=(11.0, 6.6))
    lr_c, lr_eos = transition_lr(data), edge_of_stability_lr(data)
    lrs = sorted(set(full["lr"]))
    roles = lr_sweep.example_lrs(full)
    cmap, norm = matplotlib.colormaps["viridis"], (LogNorm(min(lrs), max(lrs)) if lrs else None)
    seed0 = full[full["seed"] == full["seed"].min()] if not full.empty else full
    ax_loss, ax_dist, ax_pc = axes[0]
    for lr in sorted(set(roles.values())):
        row, color = seed0[seed0["lr"] == lr].iloc[0], cmap(norm(lr) * 0.9)
        t = np.arange(len(row["loss_t"]))
        ax_loss.plot(t, row["loss_t"], color=color, lw=1.0, label=f"lr = {lr:g}")
        d = np.asarray(row["distance_t"]) / EPS
        ax_dist.plot(t[: len(d)], d, color=color, lw=1.0)
        if np.isfinite(row["exponent"]):
            a, b = int(row["fit_start"]), int(row["fit_stop"])
            fit = np.exp(row["exponent"] * np.array([0, b - 1 - a])) * d[a]
            ax_dist.plot([a, b - 1], fit, color="k", lw=0.7, ls=":")
        if row["diverged"]:  # the step of divergence, on the top edge
            ax_loss.plot([row["diverged_at"]], [0.97], "X", color=color, ms=7, mec="k", mew=0.5, clip_on=False,
                         transform=ax_loss.get_xaxis_transform(), label=f"diverged (lr = {lr:g})")
    ax_loss.set(yscale="log", xlabel="training step", ylabel="training loss (MSE + L2)")
    ax_loss.set_xscale("symlog", linthresh=10)
    ax_loss.set_xlim(left=0)
    if roles:  # a diverging run's loss would squash the others: cut at 100x the largest initial loss
        ax_loss.set_ylim(top=100.0 * max(float(seed0[seed0["lr"] == lr].iloc[0]["loss_t"][0]) for lr in roles.values()))
    ax_dist.set(yscale="log", ylim=(0.1, 1e10), xlabel="training step", ylabel="separation of the copies $d(t)/d(0)$")
    ax_loss.legend(fontsize=6.5, loc="lower left")
    ax_dist.plot([], [], color="k", lw=0.7, ls=":", label="fit $e^{\\lambda t}$")
    ax_dist.legend(fontsize=7, loc="upper right")
    pc_lrs = [lr for lr in (roles.get("smallest"), roles.get("chaotic")) if lr is not None]
    _weight_space(ax_pc, seed0, pc_lrs, cmap, norm)
    ax_lam, ax_sharp, ax_final = axes[1]
    for k, b in enumerate(sorted(set(data["batches"]))):
        rows, tag, color = data[data["batches"] == b], ("full batch" if b == 1 else f"{b} minibatches"), PALETTE[k]
        lr_sweep.plot_vs_lr(ax_lam, rows, "exponent", color, "-", "o", f"from initial weights, {tag}")
        lr_sweep.plot_vs_lr(ax_lam, rows, "late_exponent", color, "--", "s", f"trained dynamics, {tag}", False)
        lr_sweep.plot_vs_lr(ax_sharp, rows, "sharpness", color, "-", "o", tag)
        lr_sweep.plot_vs_lr(ax_final, rows, "final_loss", color, "-", "o", tag)
    ax_lam.set(xscale="log", xlabel="learning rate", ylabel="max Lyapunov exponent (per step)")
    ax_lam.set_yscale("symlog", linthresh=1e-5, linscale=0.6)
    ax_lam.axhline(0.0, color="0.5", lw=0.8)
    for ax in (ax_lam, ax_sharp, ax_final):
        if np.isfinite(lr_c):
            ax.axvline(lr_c, color="k", ls="--", lw=0.9, label="transition (copies separate)")
        if np.isfinite(lr_eos):
            ax.axvline(lr_eos, color=PALETTE[3], ls=":", lw=1.2, label="2 / sharpness at smallest lr")
    grid = np.geomspace(min(lrs), max(lrs), 50) if lrs else np.array([])
    ax_sharp.plot(grid, 2.0 / grid, color="0.3", ls="-.", lw=0.9, label="2 / lr (stability bound)")
    ax_sharp.set(xscale="log", yscale="log", xlabel="learning rate",
                 ylabel="sharpness $\\lambda_{max}$ of the Hessian (end)")
    ax_final.set(xscale="log", yscale="log", xlabel="learning rate",
                 ylabel="final training loss (MSE + L2);\nX: loss at divergence")
    for ax, loc in ((ax_lam, "upper left"), (ax_sharp, "lower left"), (ax_final, "upper left")):
        ax.legend(fontsize=6, loc=loc)
    for ax, letter in zip(axes.flat, "abcdef"):
        ax.set_title(f"({letter})", loc="left", fontsize=10, fontweight="bold")
    fig.suptitle(f"{data['seed'].nunique()} seeds; (a)-(c) seed {data['seed'].min()}; (d)-(f) mean +- s.e. over the "
                 "runs that did not diverge, X = a diverged run at divergence", fontsize=8)
    return fig


def _weight_space(ax, seed0: pd.DataFrame, pc_lrs: list[float], cmap, norm) -> None:
    """The reference and its first copy on the first two principal components of the references."""
    runs = [seed0[seed0["lr"] == lr].iloc[0] for lr in pc_lrs]
    series = [np.asarray(r["theta_t"]) for r in runs] + [np.asarray(r["copy_t"]) for r in runs]
    projected = principal_projection(series, frame=len(runs)) if runs else []
    for k, lr in enumerate(pc_lrs):
        color, pc, copy = cmap(norm(lr) * 0.9), projected[k], projected[k + len(runs)]
        ax.plot(pc[:, 0], pc[:, 1], color=color, lw=0.7, label=f"lr = {lr:g}")
        ax.plot(copy[:, 0], copy[:, 1], color=color, lw=0.7, ls=":")
        ok = np.flatnonzero(np.all(np.isfinite(pc), axis=1))
        if ok.size:
            ax.plot(pc[ok[-1], 0], pc[ok[-1], 1], "s", color=color, ms=4, mec="k", mew=0.5)
            ax.plot(copy[ok[-1], 0], copy[ok[-1], 1], "D", color=color, ms=4, mec="k", mew=0.5)
    if runs:
        ref = np.concatenate(projected[: len(runs)])
        lo, hi = np.nanmin(ref, axis=0), np.nanmax(ref, axis=0)
        pad = 0.08 * (hi - lo)
        ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])  # a copy that ran away may leave the frame
        ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        ax.plot(projected[0][0, 0], projected[0][0, 1], "o", color="k", ms=4, label="common start")
        ax.plot([], [], color="0.4", lw=0.7, ls=":", label=f"copy started {EPS:g} away")
        ax.plot([], [], "s", color="0.4", ms=4, mec="k", mew=0.5, label="end (reference)")
        ax.plot([], [], "D", color="0.4", ms=4, mec="k", mew=0.5, label="end (copy)")
    ax.set(xlabel="weights: 1st principal component", ylabel="weights: 2nd principal component")
    ax.legend(fontsize=6.5)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
