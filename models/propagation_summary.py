"""Scalar summaries of signal and gradient propagation in a deep stack at initialisation, and of ReLU-map spectra.

:func:`stack_summary` runs :func:`models.propagation.propagation_profile` and
:func:`models.propagation.jacobian_spectra` on one stack (:mod:`models.feedforward`) and reduces
them to per-layer factors and end-point values:

    forward_factor  = slope of log10(q_l / q_1) against l           (log10 of the factor per layer)
    backward_factor = -slope of log10(g_l / g_L) against l          (g_l = mean (dL/dh_l)^2)

fitted by least squares over all layers (:func:`log_slope`). For ReLU with weights of variance
``c / fan_in`` both are ``log10(c / 2)`` in expectation (He et al. 2015): 0 for He init. Also
``log10`` of q_L / q_1, of g_1 / g_L, of the spectral norm and radius of the input-output Jacobian
``J_L = dh_L/dx`` and (tanh; ReLU Jacobians are singular) of its condition number.

:func:`affine_summary` reduces :func:`models.propagation.affine_spectra` (the eigenvalues of
``A(x)`` of the pointwise affine map ``f(x) = A(x) x + b(x)`` of a ReLU network, Drgona, Tuor et
al. 2020) to the mean and standard deviation over states x of the spectral radius, the fraction of
active units and the fraction of eigenvalues outside the unit circle.

References: He, Zhang, Ren & Sun (2015), ICCV; Poole et al. (2016), NeurIPS; Schoenholz et al.
(2017), ICLR; Drgona, Tuor, Vasisht, Skomski & Vrabie (2020), arXiv:2011.13492.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["affine_summary", "log_slope", "stack_summary"]


def log_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``y`` against ``x`` over the finite ``y`` (NaN with fewer than 2).

    Parameters
    ----------
    x, y : (n,) arrays
        Typically layer indices and ``log10`` of a per-layer quantity (``-inf`` where it is 0).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(y)
    return float(np.polyfit(x[ok], y[ok], 1)[0]) if ok.sum() >= 2 else math.nan


def stack_summary(depth: int, width: int, init: str | float, activation: str, seed: int, arch: str = "plain",
                  batch: int = 64) -> dict:
    """Per-layer factors, end-point values and the per-layer arrays of one stack (module docstring).

    Parameters are those of :func:`models.propagation.propagation_profile`.

    Returns
    -------
    dict
        Scalars ``forward_factor``, ``backward_factor`` (log10 per layer), ``c`` (the weight factor
        ``fan_in Var(W)``), ``log10_q_last``, ``log10_grad_first``, ``log10_jac_norm``,
        ``log10_jac_radius``, ``log10_jac_cond`` (NaN for ReLU), ``q1``; arrays (per layer) ``q``,
        ``grad``, ``weight_grad``, ``jac_norm``, ``jac_radius``, ``jac_smin``.
    """
    from models.feedforward import weight_factor
    from models.propagation import jacobian_spectra, propagation_profile

    prof = propagation_profile(depth, width, init, activation, seed, arch, batch)
    spec = jacobian_spectra(depth, width, init, activation, seed, arch)
    q, grad = prof["q"], prof["grad"]
    layers = np.arange(1, depth + 1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q, log_g = np.log10(q / q[0]), np.log10(grad / grad[-1])
        log_norm, log_radius = np.log10(spec["jac_norm"]), np.log10(spec["jac_radius"])
    return {
        "forward_factor": log_slope(layers, log_q),
        "backward_factor": -log_slope(layers, log_g),
        "c": weight_factor(init, width, width, activation),
        "log10_q_last": float(log_q[-1]),
        "log10_grad_first": float(log_g[0]),
        "log10_jac_norm": float(log_norm[-1]),
        "log10_jac_radius": float(log_radius[-1]),
        # ReLU Jacobians are singular (inactive units): their condition number is not informative
        "log10_jac_cond": math.nan if activation == "relu" else
        float(np.log10(spec["jac_norm"][-1] / spec["jac_smin"][-1])),
        "q1": float(q[0]),
        "q": q, "grad": grad, "weight_grad": prof["weight_grad"],
        "jac_norm": spec["jac_norm"], "jac_radius": spec["jac_radius"], "jac_smin": spec["jac_smin"],
    }


def affine_summary(width: int, depth: int, init: str, bias: float, seed: int, points: int = 64) -> dict:
    """Spectral radius of ``A(x)`` (mean and SD over ``points`` states), active and unstable fractions, eigenvalues.

    Parameters are those of :func:`models.propagation.affine_spectra`.

    Returns
    -------
    dict
        ``affine_radius``, ``affine_radius_std``, ``active_fraction`` (mean over states of the
        fraction of active ReLU units), ``unstable_fraction`` (of all eigenvalues, ``|lambda| > 1``),
        ``eig_real``, ``eig_imag`` (every eigenvalue, states in order).
    """
    from models.propagation import affine_spectra

    res = affine_spectra(width, depth, init, bias, seed, points=points)
    return {
        "affine_radius": float(res["radius"].mean()),
        "affine_radius_std": float(res["radius"].std()),
        "active_fraction": float(res["active"].mean()),
        "unstable_fraction": float(np.mean(np.abs(res["eig"]) > 1.0)),
        "eig_real": res["eig"].real.ravel(),
        "eig_imag": res["eig"].imag.ravel(),
    }
