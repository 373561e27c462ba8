"""Training chaos: Lyapunov exponents of gradient-descent trajectories in weight space across learning rates.

After Danovski, Soriano & Lacasa (2024), "Dynamical stability and chaos in artificial neural network
trajectories along training", Front. Complex Syst. 2:1367957. A shallow network (2 inputs, one
hidden layer of ``n_hidden`` tanh units, one linear output; P = 4 n_hidden + 1 parameters) learns a
fixed 2-D classification data set (two noisy concentric circles from
``models.tasks.classification_2d``, targets +-1, mean squared error plus a weak L2 penalty) by
gradient descent, full-batch or over ``batches`` fixed-order minibatches, in float64. Training is
a map theta <- theta - lr grad L(theta); for each learning rate lr (a log grid) the study records

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
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch

from plasticity.torch.threads import torch_threads

NAME = "training_chaos"
EPS = 1e-8              # initial distance of the perturbed copies (resolvable in float64 for |theta| ~ 1)
WEIGHT_DECAY = 1e-3     # L2 penalty 0.5 * WEIGHT_DECAY * |theta|^2
NOISE = 0.1             # standard deviation of the points' noise (circles of radii 0.5 and 1.0)
BOUND = 1e6             # a run whose weights pass this (|theta_i|; they are O(1) to O(10) otherwise) diverged

GRID = {"lr": [float(v) for v in np.round(np.geomspace(0.02, 1.0, 13), 4)], "seed": [0, 1, 2, 3, 4],
        "batches": [1, 4], "n_hidden": [16], "n_samples": [200], "steps": [4000], "copies": [4]}
QUICK = {"lr": [float(v) for v in np.round(np.geomspace(0.03, 1.0, 8), 4)], "seed": [0, 1],
         "batches": [1], "n_hidden": [16], "n_samples": [200], "steps": [2000], "copies": [2]}


# -- data and model -------------------------------------------------------------------------
def two_circles(n_samples: int, seed: int, noise: float = NOISE) -> tuple[np.ndarray, np.ndarray]:
    """The fixed data set ``(X (n, 2), y (n,))``: the first batch of
    ``models.tasks.classification_2d(kind="circles")`` (circles of radius 0.5, y = +1, and 1,
    y = -1, classes with probability 1/2, Gaussian noise of standard deviation ``noise``)."""
    from models.tasks import classification_2d

    X, y = next(classification_2d(n_samples, kind="circles", noise=noise, seed=int(seed), dtype=torch.float64))
    return X.numpy(), y.numpy()[:, 0]


def n_params(n_hidden: int) -> int:
    """P = 2 n_hidden (W_1) + n_hidden (b_1) + n_hidden (w_2) + 1 (b_2)."""
    return 4 * n_hidden + 1


def init_params(n_hidden: int, seed: int):
    """LeCun-normal initial weights (W_1 ~ N(0, 1/2), w_2 ~ N(0, 1/n_hidden)), zero biases; float64 ``(P,)``."""
    gen = torch.Generator().manual_seed(int(seed))
    W1 = torch.randn(n_hidden, 2, generator=gen, dtype=torch.float64) / math.sqrt(2.0)
    w2 = torch.randn(n_hidden, generator=gen, dtype=torch.float64) / math.sqrt(n_hidden)
    zeros = torch.zeros(n_hidden + 1, dtype=torch.float64)
    return torch.cat([W1.reshape(-1), zeros[:n_hidden], w2, zeros[n_hidden:]])


def _unpack(theta, n_hidden: int):
    """Views ``W_1 (C, H, 2), b_1 (C, H), w_2 (C, H), b_2 (C,)`` of ``theta (C, P)``."""
    h = n_hidden
    return theta[:, :2 * h].reshape(-1, h, 2), theta[:, 2 * h:3 * h], theta[:, 3 * h:4 * h], theta[:, 4 * h]


def network_output(theta, X, n_hidden: int):
    """``f(x) = w_2 . tanh(W_1 x + b_1) + b_2`` for every copy: ``(C, n)`` for ``theta (C, P)``, ``X (n, 2)``."""
    W1, b1, w2, b2 = _unpack(theta, n_hidden)
    A = torch.tanh(torch.matmul(W1, X.T).transpose(1, 2) + b1[:, None, :])
    return torch.matmul(A, w2[:, :, None])[..., 0] + b2[:, None]


def loss_and_grad(theta, X, y, n_hidden: int, weight_decay: float = WEIGHT_DECAY):
    """Loss ``L = mean_i (f(x_i) - y_i)^2 / 2 + weight_decay |theta|^2 / 2`` and its gradient, by hand.

    Batched over copies: ``theta (C, P)`` -> ``(loss (C,), grad (C, P))``; each copy's gradient
    is independent of the others (tested against autograd).
    """
    W1, b1, w2, b2 = _unpack(theta, n_hidden)
    A = torch.tanh(torch.matmul(W1, X.T).transpose(1, 2) + b1[:, None, :])      # (C, n, H)
    r = torch.matmul(A, w2[:, :, None])[..., 0] + b2[:, None] - y               # (C, n)
    loss = 0.5 * (r * r).mean(dim=1) + 0.5 * weight_decay * (theta * theta).sum(dim=1)
    d_out = r / X.shape[0]
    d_pre = d_out[:, :, None] * w2[:, None, :] * (1.0 - A * A)                  # (C, n, H)
    grad = torch.cat([
        torch.matmul(d_pre.transpose(1, 2), X).reshape(theta.shape[0], -1),    # W_1
        d_pre.sum(dim=1),                                                       # b_1
        torch.matmul(d_out[:, None, :], A)[:, 0],                              # w_2
        d_out.sum(dim=1, keepdim=True),                                         # b_2
    ], dim=1)
    return loss, grad + weight_decay * theta


def minibatch_gradient(X, y, n_hidden: int, batches: int, seed: int, weight_decay: float = WEIGHT_DECAY):
    """``grad_fn(theta (C, P), step) -> (loss (C,), grad (C, P))``: step ``t`` uses minibatch
    ``t mod batches`` of one fixed random partition (``batches = 1``: full batch)."""
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    order = np.random.default_rng([int(seed), 7]).permutation(len(yt)) if batches > 1 else np.arange(len(yt))
    parts = [(Xt[order[k::batches]], yt[order[k::batches]]) for k in range(batches)]

    def grad_fn(theta, step: int):
        Xb, yb = parts[step % batches]
        return loss_and_grad(theta, Xb, yb, n_hidden, weight_decay)

    return grad_fn


# -- the training map and its perturbed copies ------------------------------------------------
def perturb(theta0, copies: int, eps: float, seed: int | np.random.Generator | None):
    """``(copies, P)``: ``theta0 + eps u_c`` with ``u_c`` random unit vectors, drawn exactly as
    :func:`plasticity.metrics.perturbed_trajectories` draws them for the same seed."""
    from plasticity._validation import as_rng

    u = as_rng(seed).standard_normal((copies, theta0.shape[0]))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return torch.stack([theta0 + torch.as_tensor(eps * u[c], dtype=theta0.dtype) for c in range(copies)])


def gd_trajectories(grad_fn: Callable[[Any, int], tuple[Any, Any]], theta, lr: float, steps: int,
                    start: int = 0, bound: float = BOUND) -> tuple[Any, Any, int | None]:
    """Gradient descent ``theta <- theta - lr grad`` of every row of ``theta (C, P)`` at once.

    Step ``t`` (``start <= t < start + steps``) calls ``grad_fn(theta, t)``; every row sees the
    same data in the same order. A row that turns non-finite or has an entry past ``bound`` in
    absolute value has diverged: it is NaN from then on; when the reference (row 0) diverges the
    run stops (divergence is a result, not an error).

    Returns
    -------
    trajectories : (C, steps + 1, P) tensor
        Row ``c``'s parameters at times ``start .. start + steps``; NaN from its divergence on.
    losses : (steps + 1,) tensor
        The reference's loss (on the step's batch) before each step; the last is NaN.
    diverged_at : int or None
        First step (absolute) at which the reference is non-finite or past ``bound``.
    """
    C, P = theta.shape
    out = torch.full((C, steps + 1, P), math.nan, dtype=theta.dtype)
    losses = torch.full((steps + 1,), math.nan, dtype=theta.dtype)
    out[:, 0] = theta
    diverged_at = None
    for k in range(steps):
        loss, grad = grad_fn(theta, start + k)
        losses[k] = loss[0]
        theta = theta - lr * grad
        ok = theta.abs().amax(dim=1) <= bound  # False for NaN too
        if not bool(ok.all()):
            theta = torch.where(ok[:, None], theta, torch.full_like(theta, math.nan))  # a copy stays stopped
        out[:, k + 1] = theta
        if not bool(ok[0]):
            diverged_at = start + k + 1
            break
    return out, losses, diverged_at


def exponent(trajectories) -> tuple[float, float, tuple[int, int], np.ndarray, bool]:
    """``(exponent per step, standard error, fit window, distance (T,), saturated)`` of the rows of
    ``trajectories (C, T, P)`` (the first the reference) by :func:`plasticity.metrics.trajectory_lyapunov`.

    ``saturated``: the automatic fit window ended because the separation reached the size of the
    trajectory (not because the run ended or diverged). NaN exponent when nothing can be fitted.
    """
    from plasticity.metrics import trajectory_lyapunov

    X = np.asarray(trajectories.detach().cpu().numpy() if hasattr(trajectories, "detach") else trajectories)
    finite = np.all(np.isfinite(X), axis=(0, 2))
    T = int(np.argmin(finite)) if not finite.all() else X.shape[1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a diverged run overflows
        distance = np.linalg.norm(X[1:] - X[0], axis=2)
        geo = np.exp(np.log(distance).mean(axis=0))
    if T < 3:
        return math.nan, math.nan, (0, T), geo, False
    try:
        res = trajectory_lyapunov(X[:, :T], dt=1.0)
    except ValueError:
        return math.nan, math.nan, (0, T), geo, False
    stop = res.fit_window[1]
    # the window ended early with a grown, finite separation (not at the rounding floor)
    saturated = stop < T and bool(np.isfinite(res.distance[stop])) and res.distance[stop] > 100.0 * res.distance[0]
    return float(res.exponent), float(res.stderr), res.fit_window, geo, saturated


def sharpness(theta, X, y, n_hidden: int, weight_decay: float = WEIGHT_DECAY) -> float:
    """Largest eigenvalue of the Hessian of the full-batch loss at ``theta (P,)`` (autograd)."""
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)

    def loss(t):
        r = network_output(t[None, :], Xt, n_hidden)[0] - yt
        return 0.5 * (r * r).mean() + 0.5 * weight_decay * (t * t).sum()

    if not bool(torch.isfinite(theta).all()):
        return math.nan
    H = torch.autograd.functional.hessian(loss, theta.detach())
    return float(torch.linalg.eigvalsh(H)[-1])


# -- the study ------------------------------------------------------------------------------
def point(lr: float, seed: int, batches: int, n_hidden: int, n_samples: int, steps: int, copies: int) -> dict:
    """Train one network at learning rate ``lr`` with perturbed copies; exponents, losses, sharpness."""
    with torch_threads(1):  # one torch thread per sweep point (points run one per core)
        X, y = two_circles(n_samples, seed)
        grad_fn = minibatch_gradient(X, y, n_hidden, batches, seed)
        theta0 = init_params(n_hidden, seed)
        rng = np.random.default_rng([int(seed), 11])
        start = torch.cat([theta0[None], perturb(theta0, copies, EPS, rng)])
        burn = steps // 2
        first, losses1, diverged_at = gd_trajectories(grad_fn, start, lr, burn)
        ref = first[0, -1]
        if diverged_at is None:
            restart = torch.cat([first[:, -1], perturb(ref, copies, EPS, rng)])
            second, losses2, diverged_at = gd_trajectories(grad_fn, restart, lr, steps - burn, start=burn)
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
        loss_t = _full_losses(reference, X, y, n_hidden)
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
        "sharpness": sharpness(final, X, y, n_hidden),
        "sharpness_init": sharpness(theta0, X, y, n_hidden),
        "loss_t": loss_t,
        "distance_t": distance,
        "late_distance_t": late_distance,
        # the reference and its first copy, every ``stride`` steps (for the weight-space panel)
        "stride": stride,
        "theta_t": reference.numpy()[::stride],
        "copy_t": full[1].numpy()[::stride],
    }


def _full_losses(reference, X, y, n_hidden: int, chunk: int = 256) -> np.ndarray:
    """Full-batch training loss (with the L2 term) at every recorded step of ``reference (T, P)``."""
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    parts = []
    with torch.no_grad():
        for k in range(0, reference.shape[0], chunk):
            th = reference[k:k + chunk]
            r = network_output(th, Xt, n_hidden) - yt
            parts.append((0.5 * (r * r).mean(dim=1) + 0.5 * WEIGHT_DECAY * (th * th).sum(dim=1)).numpy())
    return np.concatenate(parts)


def principal_projection(trajectories: list[np.ndarray], frame: int | None = None) -> list[np.ndarray]:
    """Each ``(T_k, P)`` trajectory projected on the first two principal components of the finite
    points of the first ``frame`` trajectories (all by default) together: one common frame.
    Non-finite rows stay NaN."""
    finite = [t[np.all(np.isfinite(t), axis=1)] for t in trajectories[:frame]]
    pts = np.concatenate(finite) if finite else np.empty((0, 0))
    if len(pts) < 3:
        return [np.full((len(t), 2), np.nan) for t in trajectories]
    mean = pts.mean(axis=0)
    _, _, Vt = np.linalg.svd(pts - mean, full_matrices=False)
    out = []
    for t in trajectories:
        proj = np.full((len(t), 2), np.nan)
        ok = np.all(np.isfinite(t), axis=1)
        proj[ok] = (t[ok] - mean) @ Vt[:2].T
        out.append(proj)
    return out


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
