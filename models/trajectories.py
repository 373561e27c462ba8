"""Gradient-descent trajectories in weight space with perturbed copies, and their Lyapunov exponent.

Training by gradient descent is a map ``theta <- theta - lr grad L(theta)``. ``gd_trajectories``
iterates it for a reference ``theta`` and copies started ``eps`` away (``perturb``), all rows of
one ``(C, P)`` tensor at once (every row sees the same data in the same order); ``exponent``
fits the finite-time maximal Lyapunov exponent of their separation
(:func:`plasticity.metrics.trajectory_lyapunov`); ``principal_projection`` puts trajectories in
one common frame of principal components. A run that leaves ``[-bound, bound]`` or turns
non-finite has diverged: a result, not an error. ``train_with_copies`` is the whole protocol of a
training-chaos run: copies from the initial weights over the run, and fresh copies from the
reference's weights after ``burn`` steps (the exponent of the trained dynamics).
``perturb_uniform`` and ``best_r2_exponent`` are the perturbation and the estimator of Danovski
et al. (uniform noise in ``[-eps, eps]`` on every weight; the slope of the log mean L1 distance
over the window of best fit), for a like-for-like comparison with their published procedure.

Used with the shallow MLP of :mod:`models.feedforward` (Danovski, Soriano & Lacasa 2024,
Front. Complex Syst. 2:1367957; the edge of stability of Cohen et al. 2021, ICLR).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["DIVERGENCE_BOUND", "perturb", "perturb_uniform", "gd_trajectories", "train_with_copies", "exponent",
           "best_r2_exponent", "principal_projection"]

DIVERGENCE_BOUND = 1e6  # a row whose parameters pass this in absolute value has diverged


def perturb(theta0, copies: int, eps: float, seed: int | np.random.Generator | None):
    """``(copies, P)``: ``theta0 + eps u_c`` with ``u_c`` random unit vectors, drawn exactly as
    :func:`plasticity.metrics.perturbed_trajectories` draws them for the same seed."""
    from plasticity._validation import as_rng

    u = as_rng(seed).standard_normal((copies, theta0.shape[0]))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return torch.stack([theta0 + torch.as_tensor(eps * u[c], dtype=theta0.dtype) for c in range(copies)])


def perturb_uniform(theta0, copies: int, eps: float, seed: int | np.random.Generator | None, mask=None):
    """``(copies, P)``: ``theta0 + xi`` with ``xi_k ~ U(-eps, eps)`` independently on every entry where
    ``mask (P,)`` is True (all entries by default), the perturbation of Danovski et al. (2024)
    (their code perturbs the weights and leaves the biases; pass that as ``mask``)."""
    from plasticity._validation import as_rng

    if not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"perturb_uniform: eps must be in (0, inf); got {eps!r}")
    xi = as_rng(seed).uniform(-eps, eps, (copies, theta0.shape[0]))
    if mask is not None:
        xi = xi * np.asarray(mask, dtype=bool)[None, :]
    return theta0[None, :] + torch.as_tensor(xi, dtype=theta0.dtype)


def gd_trajectories(grad_fn: Callable[[Any, int], tuple[Any, Any]], theta, lr: float, steps: int,
                    start: int = 0, bound: float = DIVERGENCE_BOUND) -> tuple[Any, Any, int | None]:
    """Gradient descent ``theta <- theta - lr grad`` of every row of ``theta (C, P)`` at once.

    Step ``t`` (``start <= t < start + steps``) calls ``grad_fn(theta, t)`` -> ``(loss (C,), grad
    (C, P))`` (e.g. :func:`models.feedforward.minibatch_gradient`); every row sees the same data
    in the same order. A row that turns non-finite or has an entry past ``bound`` in absolute
    value has diverged: it is NaN from then on; when the reference (row 0) diverges the run stops
    (divergence is a result, not an error).

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


def train_with_copies(grad_fn: Callable[[Any, int], tuple[Any, Any]], theta0, lr: float, steps: int, copies: int,
                      eps: float, rng: np.random.Generator, *, burn: int | None = None,
                      perturb_fn: Callable = perturb, bound: float = DIVERGENCE_BOUND) -> dict[str, Any]:
    """Train ``theta0`` by gradient descent with ``copies`` perturbed copies, then restart fresh copies
    from the reference's weights after ``burn`` steps (default ``steps // 2``).

    ``perturb_fn(theta (P,), copies, eps, rng) -> (copies, P)`` draws the copies (:func:`perturb`:
    at distance ``eps``; :func:`perturb_uniform`: uniform noise). The first copies run the whole
    ``steps`` beside the reference: their separation gives the exponent of training from the
    initial weights. The second set starts at step ``burn`` from the reference's weights there:
    their separation gives the exponent of the trained dynamics (negative at a strictly stable
    minimum, ``ln max_i |1 - lr h_i|`` with ``h_i`` the Hessian eigenvalues there).

    Returns
    -------
    dict
        ``full (copies + 1, steps + 1, P)``: reference and first copies (NaN after divergence);
        ``late (copies + 1, steps - burn + 1, P)`` or None (the reference diverged before ``burn``):
        reference and second copies from step ``burn``; ``diverged_at`` (int or None): first step
        at which the reference is non-finite or past ``bound``; ``burn``.
    """
    if not (isinstance(steps, int) and steps >= 2):
        raise ValueError(f"train_with_copies: steps must be an integer >= 2; got {steps!r}")
    burn = steps // 2 if burn is None else int(burn)
    if not 1 <= burn < steps:
        raise ValueError(f"train_with_copies: burn must be in [1, steps); got {burn!r} with steps={steps}")
    start = torch.cat([theta0[None], perturb_fn(theta0, copies, eps, rng)])
    first, _, diverged_at = gd_trajectories(grad_fn, start, lr, burn, bound=bound)
    late = None
    if diverged_at is None:
        restart = torch.cat([first[:, -1], perturb_fn(first[0, -1], copies, eps, rng)])
        second, _, diverged_at = gd_trajectories(grad_fn, restart, lr, steps - burn, start=burn, bound=bound)
        full = torch.cat([first[:, :-1], second[:copies + 1]], dim=1)
        late = second[[0] + list(range(copies + 1, 2 * copies + 1))]
    else:
        pad = torch.full((copies + 1, steps - burn, first.shape[2]), math.nan, dtype=first.dtype)
        full = torch.cat([first, pad], dim=1)
    return {"full": full, "late": late, "diverged_at": diverged_at, "burn": burn}


def exponent(trajectories) -> tuple[float, float, tuple[int, int], np.ndarray, bool]:
    """``(exponent per step, standard error, fit window, distance (T,), saturated)`` of the rows of
    ``trajectories (C, T, P)`` (the first the reference) by :func:`plasticity.metrics.trajectory_lyapunov`.

    ``distance`` is the geometric mean over copies of their distance to the reference.
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


def best_r2_exponent(distance, stop: int = 200, starts=range(0, 101, 5), lengths=range(30, 101, 5)
                     ) -> tuple[float, float, tuple[int, int]]:
    """Danovski et al.'s estimator: ``(slope, r2, (start, stop))`` of the least-squares line through
    ``ln distance(t)`` over the window ``[start, start + length)`` (``start`` in ``starts``,
    ``length`` in ``lengths``, inside the first ``stop`` records) that fits best (largest r2).

    ``distance (T,)`` is the mean over copies of their L1 distance to the reference. NaN when no
    window lies inside the finite, positive records. (Window grid as in the authors' analysis
    notebook, ``report_figures.ipynb`` of github.com/GitKalo/ann_dynamics.)
    """
    d = np.asarray(distance, dtype=float)[:stop]
    ok = np.isfinite(d) & (d > 0)
    n = int(np.argmin(ok)) if not ok.all() else len(d)
    best = (math.nan, -math.inf, (0, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        y_all = np.log(d[:n])
    for a in starts:
        for m in lengths:
            if a + m > n:
                continue
            t, y = np.arange(a, a + m, dtype=float), y_all[a:a + m]
            tc, yc = t - t.mean(), y - y.mean()
            slope = float(np.dot(tc, yc) / np.dot(tc, tc))
            ss = float(np.dot(yc, yc))
            r2 = 1.0 - float(np.sum((yc - slope * tc) ** 2)) / ss if ss > 0 else 1.0
            if r2 > best[1]:
                best = (slope, r2, (a, a + m))
    return (best[0], best[1] if best[1] > -math.inf else math.nan, best[2])


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
