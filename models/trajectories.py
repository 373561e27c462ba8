"""Gradient-descent trajectories in weight space with perturbed copies, and their Lyapunov exponent.

Training by gradient descent is a map ``theta <- theta - lr grad L(theta)``. ``gd_trajectories``
iterates it for a reference ``theta`` and copies started ``eps`` away (``perturb``), all rows of
one ``(C, P)`` tensor at once (every row sees the same data in the same order); ``exponent``
fits the finite-time maximal Lyapunov exponent of their separation
(:func:`plasticity.metrics.trajectory_lyapunov`); ``principal_projection`` puts trajectories in
one common frame of principal components. A run that leaves ``[-bound, bound]`` or turns
non-finite has diverged: a result, not an error.

Used with the shallow MLP of :mod:`models.feedforward` (Danovski, Soriano & Lacasa 2024,
Front. Complex Syst. 2:1367957; the edge of stability of Cohen et al. 2021, ICLR).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["DIVERGENCE_BOUND", "perturb", "gd_trajectories", "exponent", "principal_projection"]

DIVERGENCE_BOUND = 1e6  # a row whose parameters pass this in absolute value has diverged


def perturb(theta0, copies: int, eps: float, seed: int | np.random.Generator | None):
    """``(copies, P)``: ``theta0 + eps u_c`` with ``u_c`` random unit vectors, drawn exactly as
    :func:`plasticity.metrics.perturbed_trajectories` draws them for the same seed."""
    from plasticity._validation import as_rng

    u = as_rng(seed).standard_normal((copies, theta0.shape[0]))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return torch.stack([theta0 + torch.as_tensor(eps * u[c], dtype=theta0.dtype) for c in range(copies)])


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
