"""Training chaos: Lyapunov exponents of gradient-descent trajectories in weight space across learning rates.

After Danovski, Soriano & Lacasa (2024), "Dynamical stability and chaos in artificial neural network
trajectories along training", Front. Complex Syst. 2:1367957. A shallow network
(:mod:`models.feedforward`: 2 inputs, one hidden layer of ``n_hidden`` tanh units, one linear output;
P = 4 n_hidden + 1 parameters) learns a fixed 2-D classification data set (two noisy concentric
circles from ``models.tasks.classification_2d``, targets +-1, mean squared error plus a weak L2
penalty) by gradient descent, full-batch or over ``batches`` fixed-order minibatches, in float64.
Training is a map theta <- theta - lr grad L(theta) (:mod:`models.trajectories`); for each learning
rate lr (a log grid) the study records

* the training trajectory theta(t) (stored every ``steps // 500`` steps, drawn on its principal
  components with a copy started 1e-8 away), the training loss and accuracy;
* the finite-time maximal Lyapunov exponent of training, from ``copies`` copies started at distance
  ``eps = 1e-8`` from the initial weights (:func:`plasticity.metrics.trajectory_lyapunov`, fitted
  while the separation is small), and the largest separation reached;
* the exponent of the trained dynamics: copies started from the reference weights after half of
  the run (negative: the run settled on a stable minimum or cycle);
* the sharpness (largest Hessian eigenvalue) at the end, against the linear-stability bound 2/lr
  of gradient descent (the edge of stability, Cohen et al. 2021).

What it shows (quick grid): at small lr training converges regularly: the copies drift apart
only a few-fold over the whole run (a slow, non-exponential drift: a fitted exponent of ~1e-4 to
1e-3 per step from the initial weights, the non-monotonic, non-chaotic regime of Danovski et al.)
and the trained dynamics have a negative exponent (a strictly stable minimum, lr * sharpness < 2).
Past the edge of stability, lr ~ 2 / sharpness of the minima found at small lr, the copies
separate exponentially to the size of the trajectory (exponent ~1e-2 to 1e-1 per step: chaotic
training) while the sharpness locks to 2 / lr (Cohen et al. 2021). This chaos is mostly a
transient: the exponent of the trained dynamics is negative again at most large lr (the run
settles on a stable cycle or is catapulted to a flat minimum; cf. Jimenez-Gonzalez, Soriano &
Lacasa 2025, arXiv:2506.08523). At still larger lr training diverges (marked, kept in the table).

Departures from Danovski et al.: their task is Iris (4 inputs, 3 classes); here a 2-D task so the
study runs in minutes, with our choice of width, activation (tanh), loss (MSE) and initialisation
(LeCun normal), not checked against theirs; the weak L2 penalty (``WEIGHT_DECAY``) makes minima strictly stable, so the
trained dynamics at small lr have a negative exponent instead of a marginal one.

Writes ``fig_training_chaos.{png,pdf}``, ``results.{csv,parquet}`` (one row per lr and batching,
means and standard errors over seeds) and ``points.{csv,parquet}`` (one row per run).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from models.feedforward import full_batch_loss, init_params, minibatch_gradient, network_output, sharpness, two_circles
from models.trajectories import DIVERGENCE_BOUND, exponent, gd_trajectories, perturb, principal_projection
from plasticity.torch.threads import torch_threads

NAME = "training_chaos"
EPS = 1e-8              # initial distance of the perturbed copies (resolvable in float64 for |theta| ~ 1)
WEIGHT_DECAY = 1e-3     # L2 penalty 0.5 * WEIGHT_DECAY * |theta|^2
NOISE = 0.1             # standard deviation of the points' noise (circles of radii 0.5 and 1.0)
BOUND = DIVERGENCE_BOUND  # a run whose weights pass this (|theta_i|; they are O(1) to O(10) otherwise) diverged

GRID = {"lr": [float(v) for v in np.round(np.geomspace(0.02, 1.0, 13), 4)], "seed": [0, 1, 2, 3, 4],
        "batches": [1, 4], "n_hidden": [16], "n_samples": [200], "steps": [4000], "copies": [4]}
QUICK = {"lr": [float(v) for v in np.round(np.geomspace(0.03, 1.0, 8), 4)], "seed": [0, 1],
         "batches": [1], "n_hidden": [16], "n_samples": [200], "steps": [2000], "copies": [2]}


# -- the study ------------------------------------------------------------------------------
def point(lr: float, seed: int, batches: int, n_hidden: int, n_samples: int, steps: int, copies: int) -> dict:
    """Train one network at learning rate ``lr`` with perturbed copies; exponents, losses, sharpness."""
    with torch_threads(1):  # one torch thread per sweep point (points run one per core)
        X, y = two_circles(n_samples, seed, NOISE)
        grad_fn = minibatch_gradient(X, y, n_hidden, batches, seed, WEIGHT_DECAY)
        theta0 = init_params(n_hidden, seed)
        rng = np.random.default_rng([int(seed), 11])
        start = torch.cat([theta0[None], perturb(theta0, copies, EPS, rng)])
        burn = steps // 2
        first, losses1, diverged_at = gd_trajectories(grad_fn, start, lr, burn, bound=BOUND)
        ref = first[0, -1]
        if diverged_at is None:
            restart = torch.cat([first[:, -1], perturb(ref, copies, EPS, rng)])
            second, losses2, diverged_at = gd_trajectories(grad_fn, restart, lr, steps - burn, start=burn,
                                                           bound=BOUND)
            full = torch.cat([first[:, :-1], second[:copies + 1]], dim=1)
            late = second[[0] + list(range(copies + 1, 2 * copies + 1))]
        else:
            full = torch.cat([first, torch.full((copies + 1, steps - burn, first.shape[2]), math.nan,
                                                dtype=first.dtype)], dim=1)
            late = None
        reference = full[0]
        lam, lam_err, window, distance, saturated = exponent(full)
        if late is not None:
            lam_late, lam_late_err, _, late_distance, _ = exponent(late)
        else:
            lam_late, lam_late_err, late_distance = math.nan, math.nan, np.full(steps - burn + 1, math.nan)
        loss_t = full_batch_loss(reference, X, y, n_hidden, WEIGHT_DECAY)
        final = reference[-1]
        accuracy = math.nan
        if bool(torch.isfinite(final).all()):
            out = network_output(final[None], torch.as_tensor(X), n_hidden)[0].numpy()
            accuracy = float(np.mean(np.sign(out) == y))
        finite_loss = loss_t[np.isfinite(loss_t)]
    stride = max(1, steps // 500)
    with np.errstate(divide="ignore", invalid="ignore"):
        separation = float(np.log10(np.nanmax(distance[np.isfinite(distance)]) / EPS)) if np.isfinite(distance).any() \
            else math.nan
    return {
        "exponent": lam,                      # per step, from the initial weights
        "exponent_stderr": lam_err,
        "fit_start": window[0], "fit_stop": window[1],
        "saturated": bool(saturated),
        "separation": separation,             # log10 of the largest separation / EPS
        "late_exponent": lam_late,            # per step, from the weights after steps // 2
        "late_exponent_stderr": lam_late_err,
        "diverged": diverged_at is not None,
        "diverged_at": math.nan if diverged_at is None else float(diverged_at),
        "final_loss": float(loss_t[-1]),
        "min_loss": float(finite_loss.min()) if finite_loss.size else math.nan,
        "final_accuracy": accuracy,
        "sharpness": sharpness(final, X, y, n_hidden, WEIGHT_DECAY),
        "sharpness_init": sharpness(theta0, X, y, n_hidden, WEIGHT_DECAY),
        "loss_t": loss_t,
        "distance_t": distance,
        "late_distance_t": late_distance,
        # the reference and its first copy, every ``stride`` steps (for the weight-space panel)
        "stride": stride,
        "theta_t": reference.numpy()[::stride],
        "copy_t": full[1].numpy()[::stride],
    }


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (batches, lr): mean and standard error over seeds; runs that diverged counted apart."""
    data = table[table["error"].isna()] if "error" in table.columns else table
    scalars = ["exponent", "late_exponent", "separation", "final_loss", "final_accuracy", "sharpness"]
    rows = []
    for (batches, lr), g in data.groupby(["batches", "lr"], sort=True):
        ok = g[~g["diverged"].astype(bool)]
        row = {"batches": batches, "lr": lr, "runs": len(g), "diverged": int(g["diverged"].astype(bool).sum()),
               "saturated": int(ok["saturated"].astype(bool).sum())}
        for c in scalars:
            v = ok[c].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            row[c] = v.mean() if v.size else math.nan
            row[f"{c}_sem"] = v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else math.nan
        row["lr_times_sharpness"] = lr * row["sharpness"]
        rows.append(row)
    return pd.DataFrame(rows)


def transition_lr(table: pd.DataFrame, batches: int = 1) -> float:
    """Geometric mean of the largest lr at which no run's copies separated to the trajectory's size and
    the next lr on the grid, at and after which at least half of the runs did (NaN if none)."""
    s = summarize(table)
    s = s[s["batches"] == batches].sort_values("lr")
    frac = (s["saturated"] + s["diverged"]) / s["runs"]
    lrs = s["lr"].to_numpy()
    for k in range(1, len(lrs)):
        if np.all(frac.to_numpy()[k:] >= 0.5) and frac.to_numpy()[k - 1] < 0.5:
            return float(math.sqrt(lrs[k - 1] * lrs[k]))
    return math.nan


def edge_of_stability_lr(table: pd.DataFrame, batches: int = 1) -> float:
    """``2 / sharpness`` of the weights reached at the smallest lr (mean over seeds): the largest lr
    at which gradient descent could stay at those minima (linear stability, lr * lambda_max < 2)."""
    data = table[(table["batches"] == batches) & ~table["diverged"].astype(bool)]
    if "error" in data.columns:
        data = data[data["error"].isna()]
    if data.empty:
        return math.nan
    smallest = data[data["lr"] == data["lr"].min()]
    return float(2.0 / smallest["sharpness"].mean())


# -- figure ---------------------------------------------------------------------------------
def figure(table: pd.DataFrame):
    """Six panels: loss curves, separations, trajectories in weight space, exponents, sharpness, final loss."""
    import matplotlib
    from matplotlib.colors import LogNorm

    from plasticity.plot import PALETTE, new_figure

    data = table[table["error"].isna()] if "error" in table.columns else table
    full = data[data["batches"] == 1]
    fig, axes = new_figure(2, 3, figsize=(11.0, 6.6))
    lr_c, lr_eos = transition_lr(data), edge_of_stability_lr(data)
    lrs = sorted(set(full["lr"]))
    roles = _example_lrs(full, lrs)
    shown = sorted(set(roles.values()))
    cmap = matplotlib.colormaps["viridis"]
    norm = LogNorm(min(lrs), max(lrs)) if lrs else None
    seed0 = full[full["seed"] == full["seed"].min()] if not full.empty else full

    ax_loss, ax_dist, ax_pc = axes[0]
    for lr in shown:
        row = seed0[seed0["lr"] == lr].iloc[0]
        color = cmap(norm(lr) * 0.9)
        t = np.arange(len(row["loss_t"]))
        ax_loss.plot(t, row["loss_t"], color=color, lw=1.0, label=f"lr = {lr:g}")
        d = np.asarray(row["distance_t"]) / EPS
        ax_dist.plot(t[: len(d)], d, color=color, lw=1.0)
        if np.isfinite(row["exponent"]):
            a, b = int(row["fit_start"]), int(row["fit_stop"])
            tt = np.array([a, b - 1])
            ax_dist.plot(tt, np.exp(row["exponent"] * (tt - a)) * d[a], color="k", lw=0.7, ls=":")
        if row["diverged"]:
            ax_loss.plot([row["diverged_at"]], [0.97], marker="X", label="_nolegend_", color=color, ms=7, mec="k",
                         mew=0.5,
                         transform=ax_loss.get_xaxis_transform(), clip_on=False, ls="none")
    ax_loss.set_xscale("symlog", linthresh=10)
    ax_loss.set_yscale("log")
    if shown:  # a diverging run's loss would squash the others: cut at 100x the initial loss
        top = 100.0 * max(float(seed0[seed0["lr"] == lr].iloc[0]["loss_t"][0]) for lr in shown)
        ax_loss.set_ylim(top=top)
        ax_dist.set_ylim(0.1, 1e10)
    ax_loss.set_xlabel("training step")
    ax_loss.set_ylabel("training loss (MSE + L2)")
    ax_loss.legend(fontsize=7, loc="lower left")
    ax_dist.set_yscale("log")
    ax_dist.set_xlabel("training step")
    ax_dist.set_ylabel("separation of the copies $d(t)/d(0)$")
    ax_dist.plot([], [], color="k", lw=0.7, ls=":", label="fit $e^{\\lambda t}$")
    ax_dist.legend(fontsize=7, loc="upper right")
    pc_lrs = [lr for lr in (roles.get("smallest"), roles.get("chaotic")) if lr is not None]
    runs = [seed0[seed0["lr"] == lr].iloc[0] for lr in pc_lrs]
    series = [np.asarray(r["theta_t"]) for r in runs] + [np.asarray(r["copy_t"]) for r in runs]
    projected = principal_projection(series, frame=len(runs)) if runs else []
    for k, (lr, row) in enumerate(zip(pc_lrs, runs)):
        color = cmap(norm(lr) * 0.9)
        pc, copy = projected[k], projected[k + len(runs)]
        ax_pc.plot(pc[:, 0], pc[:, 1], color=color, lw=0.7, label=f"lr = {lr:g}")
        ax_pc.plot(copy[:, 0], copy[:, 1], color=color, lw=0.7, ls=":")
        ok = np.flatnonzero(np.all(np.isfinite(pc), axis=1))
        if ok.size:
            ax_pc.plot(pc[ok[-1], 0], pc[ok[-1], 1], "s", color=color, ms=4, mec="k", mew=0.5)
            ax_pc.plot(copy[ok[-1], 0], copy[ok[-1], 1], "D", color=color, ms=4, mec="k", mew=0.5)
    if runs:
        ref = np.concatenate(projected[: len(runs)])
        lo, hi = np.nanmin(ref, axis=0), np.nanmax(ref, axis=0)
        pad = 0.08 * (hi - lo)
        ax_pc.set_xlim(lo[0] - pad[0], hi[0] + pad[0])  # a copy that ran away may leave the frame
        ax_pc.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        ax_pc.plot(projected[0][0, 0], projected[0][0, 1], "o", color="k", ms=4, label="common start")
        ax_pc.plot([], [], color="0.4", lw=0.7, ls=":", label=f"copy started {EPS:g} away")
        ax_pc.plot([], [], "s", color="0.4", ms=4, mec="k", mew=0.5, label="end (reference)")
        ax_pc.plot([], [], "D", color="0.4", ms=4, mec="k", mew=0.5, label="end (copy)")
    ax_pc.set_xlabel("weights: 1st principal component")
    ax_pc.set_ylabel("weights: 2nd principal component")
    ax_pc.legend(fontsize=6.5)

    ax_lam, ax_sharp, ax_final = axes[1]
    for k, b in enumerate(sorted(set(data["batches"]))):
        rows = data[data["batches"] == b]
        tag = "full batch" if b == 1 else f"{b} minibatches"
        color = PALETTE[k]
        _vs_lr(ax_lam, rows, "exponent", color, "-", "o", f"from initial weights, {tag}")
        _vs_lr(ax_lam, rows, "late_exponent", color, "--", "s", f"trained dynamics, {tag}", mark_diverged=False)
        _vs_lr(ax_sharp, rows, "sharpness", color, "-", "o", tag)
        _vs_lr(ax_final, rows, "final_loss", color, "-", "o", tag)
    ax_lam.set_xscale("log")
    ax_lam.set_yscale("symlog", linthresh=1e-4, linscale=0.6)
    ax_lam.axhline(0.0, color="0.5", lw=0.8)
    ax_lam.set_xlabel("learning rate")
    ax_lam.set_ylabel("max Lyapunov exponent (per step)")
    for ax in (ax_lam, ax_sharp, ax_final):
        if np.isfinite(lr_c):
            ax.axvline(lr_c, color="k", ls="--", lw=0.9, label="transition (copies separate)")
        if np.isfinite(lr_eos):
            ax.axvline(lr_eos, color=PALETTE[3], ls=":", lw=1.2, label="2 / sharpness at smallest lr")
    ax_lam.legend(fontsize=6.5, loc="upper left")
    grid = np.geomspace(min(lrs), max(lrs), 50) if lrs else np.array([])
    ax_sharp.plot(grid, 2.0 / grid, color="0.3", ls="-.", lw=0.9, label="2 / lr (stability bound)")
    ax_sharp.set_xscale("log")
    ax_sharp.set_yscale("log")
    ax_sharp.set_xlabel("learning rate")
    ax_sharp.set_ylabel("sharpness $\\lambda_{max}$ of the Hessian (end)")
    ax_sharp.legend(fontsize=6.5, loc="lower left")
    ax_final.set_xscale("log")
    ax_final.set_yscale("log")
    ax_final.set_xlabel("learning rate")
    ax_final.set_ylabel("final training loss (MSE + L2)")
    ax_final.legend(fontsize=6.5, loc="upper left")
    for ax, letter in zip(axes.flat, "abcdef"):
        ax.set_title(f"({letter})", loc="left", fontsize=10, fontweight="bold")
    return fig


def _vs_lr(ax, rows: pd.DataFrame, column: str, color, ls: str, marker: str, label: str,
           mark_diverged: bool = True) -> None:
    """Mean over seeds (runs that diverged left out) with standard-error bars; an ``X`` at the top of
    the axes where some run diverged."""
    lrs, mean, sem, diverged = [], [], [], []
    for lr, g in rows.groupby("lr", sort=True):
        bad = g["diverged"].astype(bool).to_numpy()
        v = g[column].to_numpy(dtype=float)[~bad]
        v = v[np.isfinite(v)]
        if bad.any():
            diverged.append(lr)
        if v.size:
            lrs.append(lr)
            mean.append(v.mean())
            sem.append(v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else 0.0)
    ax.errorbar(lrs, mean, yerr=sem, color=color, ls=ls, marker=marker, ms=3.5, lw=1.1, capsize=2, label=label)
    if mark_diverged and diverged:
        ax.plot(diverged, [0.96] * len(diverged), "X", color=color, ms=7, mec="k", mew=0.5, clip_on=False,
                transform=ax.get_xaxis_transform(), label=f"diverged ({label})")


def _example_lrs(full: pd.DataFrame, lrs: list[float]) -> dict[str, float]:
    """Learning rates to draw, by role: ``smallest``, ``below`` (the largest below the transition),
    ``chaotic`` (the smallest at which a run's copies separated), ``largest`` (that did not
    diverge) and ``diverged`` (the smallest at which a run diverged)."""
    if not lrs:
        return {}
    s = summarize(full)
    chaotic = s[(s["saturated"] > 0)]["lr"].tolist()
    ok = s[s["diverged"] < s["runs"]]["lr"].tolist()
    diverged = s[s["diverged"] > 0]["lr"].tolist()
    roles = {"smallest": lrs[0]}
    below = [lr for lr in lrs if not chaotic or lr < min(chaotic)]
    if below:
        roles["below"] = below[-1]
    if chaotic:
        roles["chaotic"] = min(chaotic)
    if ok:
        roles["largest"] = ok[-1]
    if diverged:
        roles["diverged"] = min(diverged)
    return roles


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
