"""Spike-train statistics: irregularity, count variability, synchrony, weight distributions.

    CV of ISI            CV_i   = std(ISI_i) / mean(ISI_i)                        (1 Poisson, 0 regular)
    Fano factor          F_i    = var_t(n_i) / mean_t(n_i), counts n_i in bins     (1 Poisson, 0 regular)
    count correlation    r_ij   = corr_t(n_i, n_j)                                  (0 independent)
    Golomb synchrony     chi^2  = var_t(mean_i n_i) / mean_i var_t(n_i)             (1/N independent, 1 identical)

Softky & Koch (1993) J Neurosci 13:334 (CV of ISI); Dayan & Abbott (2001) Theoretical
Neuroscience ch. 1.4 (Poisson: CV = 1, Fano = 1); Golomb & Rinzel (1993) Phys Rev E 48:4810 and
Golomb (2007) Scholarpedia 2:1347 (the chi measure, here on binned spike counts). Spikes are
given as two flat arrays, ``spike_times`` (s) and ``spike_indices`` (neuron ids in ``[0, n)``),
as ``models.SpikingResult`` holds them; a window ``[t_start, t_stop)`` selects the spikes used.
Pure numpy, O(number of spikes + n * bins).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from plasticity._validation import Interval, check_number, nonnegative, positive

__all__ = ["spike_counts", "isi_cv", "fano_factor", "pairwise_correlation", "golomb_synchrony", "weight_summary"]

_count = Interval(1, closed="left", integer=True)


def _spikes(owner: str, spike_times: Any, spike_indices: Any, n: Any, t_start: float,
            t_stop: float | None) -> tuple[np.ndarray, np.ndarray, int, float, float]:
    """Checked ``(times, indices, n, t_start, t_stop)`` restricted to the window."""
    t = np.asarray(spike_times, dtype=np.float64)
    i = np.asarray(spike_indices)
    if t.ndim != 1 or t.shape != i.shape:
        raise ValueError(f"{owner}: spike_times and spike_indices must be 1-D of equal length; got {t.shape}, {i.shape}")
    if i.size and i.dtype.kind not in "iu":
        raise TypeError(f"{owner}: spike_indices must be integers; got dtype {i.dtype}")
    n = int(check_number(owner, "n", n, _count))
    if i.size and (i.min() < 0 or i.max() >= n):
        raise ValueError(f"{owner}: spike_indices must be in [0, n={n}); got min {i.min()}, max {i.max()}")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{owner}: spike_times must be finite")
    t_start = float(check_number(owner, "t_start", t_start))
    if t_stop is None:
        t_stop = float(t.max()) if t.size else t_start
        t_stop = math.nextafter(t_stop, math.inf)  # the last spike is inside [t_start, t_stop)
    t_stop = float(check_number(owner, "t_stop", t_stop, Interval(t_start, closed="neither")))
    keep = (t >= t_start) & (t < t_stop)
    return t[keep], i[keep].astype(np.int64), n, t_start, t_stop


def spike_counts(spike_times: Any, spike_indices: Any, n: int, bin: float, t_start: float = 0.0,
                 t_stop: float | None = None) -> np.ndarray:
    """Spike counts of each neuron in consecutive bins of ``bin`` seconds from ``t_start``.

    Parameters
    ----------
    spike_times : (n_spikes,) array of float
        Spike times (s).
    spike_indices : (n_spikes,) array of int
        Neuron of each spike, in ``[0, n)``.
    n : int
        Number of neurons (rows of the result; silent neurons get zero rows).
    bin : float
        Bin width (s), in (0, inf).
    t_start, t_stop : float
        Window (s); ``t_stop`` defaults to just after the last spike. Only whole bins are
        counted: ``floor((t_stop - t_start) / bin)`` of them (spikes after the last whole bin
        are dropped). Bins are half-open, ``[t_start + k bin, t_start + (k + 1) bin)``.

    Returns
    -------
    (n, n_bins) int64 array
    """
    owner = "spike_counts"
    check_number(owner, "bin", bin, positive)
    t, i, n, t_start, t_stop = _spikes(owner, spike_times, spike_indices, n, t_start, t_stop)
    n_bins = int(math.floor((t_stop - t_start) / bin * (1 + 1e-12)))
    counts = np.zeros((n, n_bins), dtype=np.int64)
    if n_bins == 0:
        return counts
    k = np.floor((t - t_start) / bin).astype(np.int64)
    ok = k < n_bins
    np.add.at(counts, (i[ok], k[ok]), 1)
    return counts


def isi_cv(spike_times: Any, spike_indices: Any, n: int, min_spikes: int = 3, t_start: float = 0.0,
           t_stop: float | None = None) -> np.ndarray:
    """Coefficient of variation of each neuron's inter-spike intervals, ``std(ISI) / mean(ISI)``.

    The standard deviation is the population one (``ddof=0``), as in Softky & Koch (1993).
    A Poisson process has CV = 1, a periodic train CV = 0. For ``m`` exponential intervals the
    estimate's standard error is ``1 / sqrt(m)`` (delta method).

    Parameters
    ----------
    spike_times, spike_indices, n, t_start, t_stop
        As in :func:`spike_counts`.
    min_spikes : int
        Neurons with fewer spikes in the window get NaN, in [2, inf).

    Returns
    -------
    (n,) float64 array
        CV of each neuron (NaN where there are too few spikes); ``np.nanmean`` gives the
        population mean.
    """
    owner = "isi_cv"
    check_number(owner, "min_spikes", min_spikes, Interval(2, closed="left", integer=True))
    t, i, n, _, _ = _spikes(owner, spike_times, spike_indices, n, t_start, t_stop)
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    same = i[1:] == i[:-1]
    isi, owner_of = np.diff(t)[same], i[1:][same]
    m = np.bincount(owner_of, minlength=n).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(owner_of, weights=isi, minlength=n) / m
        var = np.bincount(owner_of, weights=(isi - mean[owner_of]) ** 2, minlength=n) / m  # two-pass: no cancellation
        cv = np.sqrt(var) / mean
    cv[m < min_spikes - 1] = np.nan
    return cv


def fano_factor(counts: Any) -> np.ndarray:
    """Fano factor of each row of spike counts, ``var / mean`` over bins (NaN for a silent row).

    The variance is the unbiased one (``ddof=1``), whose expectation for Poisson counts equals
    their mean: the Fano factor of a Poisson process is 1 in any bin, of a periodic train 0
    when the bin is a whole number of periods. For Poisson counts of mean ``mu`` over ``B``
    bins the estimate's variance is about ``2 / (B - 1) + 1 / (B mu)``.

    Parameters
    ----------
    counts : (n, n_bins) array
        Counts per neuron and bin (e.g. from :func:`spike_counts`), ``n_bins >= 2``.

    Returns
    -------
    (n,) float64 array
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] < 2:
        raise ValueError(f"fano_factor: counts must be a 2-D array (n, n_bins) with n_bins >= 2; got shape {c.shape}")
    mean = c.mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = c.var(axis=1, ddof=1) / mean
    out[mean == 0] = np.nan
    return out


def pairwise_correlation(counts: Any) -> float:
    """Mean Pearson correlation of the spike counts over all pairs of (non-constant) rows.

    Independent trains give 0 (each pair's estimate has standard error ``1 / sqrt(n_bins)``).
    If every train is the union of a private Poisson train and one train shared by all, the
    shared one carrying a fraction ``c`` of each neuron's rate, every pair has correlation ``c``
    in any bin. Rows with zero variance (e.g. silent neurons) are left out.

    Parameters
    ----------
    counts : (n, n_bins) array
        Counts per neuron and bin; use a subset of a large population (the cost is
        ``O(n**2 n_bins)``).

    Returns
    -------
    float
        The mean over pairs; NaN when fewer than two rows vary.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] < 2:
        raise ValueError(f"pairwise_correlation: counts must be a 2-D array (n, n_bins) with n_bins >= 2; got shape {c.shape}")
    c = c[c.std(axis=1) > 0]
    k = c.shape[0]
    if k < 2:
        return float("nan")
    z = (c - c.mean(axis=1, keepdims=True)) / c.std(axis=1, keepdims=True)
    r = (z @ z.T) / c.shape[1]
    return float((r.sum() - np.trace(r)) / (k * (k - 1)))


def golomb_synchrony(counts: Any) -> float:
    """Golomb's synchrony measure chi on binned spike counts (Golomb 2007, Scholarpedia 2:1347).

        chi^2 = var_t(mean_i n_i(t)) / mean_i var_t(n_i(t))

    chi = 1 when all rows are identical, ``1 / sqrt(N)`` in expectation for N independent rows
    (the variance of a mean of independent variables), and ``sqrt(c + (1 - c) / N)`` when each
    train shares a fraction ``c`` of its rate with a common train (see
    :func:`pairwise_correlation`).

    Parameters
    ----------
    counts : (N, n_bins) array

    Returns
    -------
    float
        chi in [0, 1]; NaN when no row varies.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] < 2:
        raise ValueError(f"golomb_synchrony: counts must be a 2-D array (N, n_bins) with n_bins >= 2; got shape {c.shape}")
    individual = c.var(axis=1).mean()
    if individual == 0:
        return float("nan")
    return float(math.sqrt(c.mean(axis=0).var() / individual))


def weight_summary(w: Any, w_min: float = 0.0, w_max: float = math.inf, rtol: float = 1e-3) -> dict[str, float]:
    """Summary of a weight distribution: mean, std, CV, and the fractions at the bounds.

    Parameters
    ----------
    w : array
        Weights (any shape), finite.
    w_min, w_max : float
        The rule's bounds; a weight within ``rtol * (w_max - w_min)`` of a bound counts as at it
        (of ``w_min`` only, ``rtol * |w_min|`` or 1e-300, when ``w_max`` is infinite).
    rtol : float
        Relative tolerance of "at a bound", in [0, inf).

    Returns
    -------
    dict
        ``mean``, ``std`` (ddof=0), ``cv`` (std/mean, NaN for mean 0), ``frac_at_min``,
        ``frac_at_max``.
    """
    owner = "weight_summary"
    check_number(owner, "rtol", rtol, nonnegative)
    check_number(owner, "w_min", w_min)
    check_number(owner, "w_max", w_max, Interval(w_min, math.inf, closed="right"))
    a = np.asarray(w, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError(f"{owner}: w must hold at least one weight; got an empty array")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{owner}: w must be finite")
    span = (w_max - w_min) if math.isfinite(w_max) else max(abs(w_min), 1e-300)
    tol = rtol * span
    mean, std = float(a.mean()), float(a.std())
    return {"mean": mean, "std": std, "cv": std / mean if mean != 0 else float("nan"),
            "frac_at_min": float(np.mean(a <= w_min + tol)),
            "frac_at_max": float(np.mean(a >= w_max - tol)) if math.isfinite(w_max) else 0.0}
