"""Stability boundaries from parameter sweeps: the bracket between stable and unstable runs, and its scaling.

A sweep runs a system at parameter values ``x_1 < ... < x_n`` and labels each run stable or
unstable. :func:`stability_bracket` locates the first transition: ``x_hi`` the smallest unstable
value, ``x_lo`` the largest value below it (stable by construction), and their geometric mean
``sqrt(x_lo x_hi)`` as the estimate (the right midpoint for log-spaced grids; the bracket is its
error bar). :func:`power_law_fit` fits ``log y = s log x + c`` by least squares, e.g. the scaling
of a critical time constant with a learning rate (``s = -1`` for ``tau_c = 1 / (eta K G)``).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["power_law_fit", "stability_bracket"]


def stability_bracket(values, unstable) -> tuple[float, float, float, bool]:
    """Bracket of the first stable-to-unstable transition along a sweep.

    Parameters
    ----------
    values : (n,) array_like
        Parameter values of the runs (any order; > 0 for the geometric midpoint).
    unstable : (n,) array_like of bool
        Whether each run was unstable.

    Returns
    -------
    x_lo, x_hi, x_mid : float
        ``x_hi`` the smallest unstable value, ``x_lo`` the largest value below it,
        ``x_mid = sqrt(x_lo x_hi)``. All stable: ``(max value, nan, nan)``; unstable at the
        smallest value: ``(nan, min value, nan)``.
    monotonic : bool
        Every value from ``x_hi`` on is unstable (a single transition).
    """
    t, u = np.asarray(values, dtype=float), np.asarray(unstable, dtype=bool)
    if t.shape != u.shape or t.ndim != 1 or t.size == 0:
        raise ValueError(f"stability_bracket: values and unstable must be 1-D of the same length >= 1; got "
                         f"shapes {t.shape} and {u.shape}")
    order = np.argsort(t)
    t, u = t[order], u[order]
    if not u.any():
        return float(t[-1]), math.nan, math.nan, True
    k = int(np.argmax(u))
    monotonic = bool(u[k:].all())
    if k == 0:
        return math.nan, float(t[0]), math.nan, monotonic
    return float(t[k - 1]), float(t[k]), float(math.sqrt(t[k - 1] * t[k])), monotonic


def power_law_fit(x, y) -> tuple[float, float]:
    """Slope of ``log y`` against ``log x`` by least squares, with its standard error.

    Non-finite logs (NaN, or values <= 0) are left out.

    Parameters
    ----------
    x, y : (n,) array_like
        Positive values.

    Returns
    -------
    slope, stderr : float
        ``stderr = sqrt(s^2 / sum (log x - mean)^2)`` with ``s^2`` the residual variance on
        ``m - 2`` degrees of freedom (``m`` finite points); NaN for ``m = 2``; both NaN for ``m < 2``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    ok = np.isfinite(lx) & np.isfinite(ly)
    if ok.sum() < 2:
        return math.nan, math.nan
    lx, ly = lx[ok], ly[ok]
    A = np.vstack([lx, np.ones_like(lx)]).T
    coef, *_ = np.linalg.lstsq(A, ly, rcond=None)
    if ok.sum() > 2:
        s2 = float(np.sum((ly - A @ coef) ** 2)) / (ok.sum() - 2)
        se = math.sqrt(s2 / float(np.sum((lx - lx.mean()) ** 2)))
    else:
        se = math.nan
    return float(coef[0]), se
