"""Label a recorded run: stable, runaway, silent, saturated, oscillating or diverged.

On the final window (the last ``window`` fraction of the T recorded samples, at least 2) of
the classified population (n neurons, rates ``r_i(t)``)::

    population mean     m(t)  = (1/n) sum_i r_i(t);   m_bar = mean over the window of m(t)
    activity            a_bar = mean over the window of (1/n) sum_i |r_i(t)|   (= m_bar if r >= 0)
    relative growth     rho   = b * (t_last - t_first) / |m_bar|,   b the least-squares slope of m(t)
    variability         CV    = std_t (m(t) - fit(t)) / |m_bar|      (about the fitted line, ddof 0)

``rho`` is the fitted change of m across the window relative to its level; ``CV`` measures the
fluctuation about that trend, so a steady ramp has CV = 0 and an oscillation riding on a drift
still reads as an oscillation. Rates are assumed
non-negative (homeostasis networks); units are the model's. Pure numpy, O(T n).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from plasticity._validation import Interval, check_choice, check_number, nonnegative, positive, unit_interval

__all__ = ["RUN_CLASSES", "RunClassThresholds", "classify_run", "settling_time"]

#: The classes in the priority order in which :func:`classify_run` tests them (first match wins).
RUN_CLASSES: tuple[str, ...] = ("diverged", "silent", "saturated", "runaway", "oscillating", "stable")

_SATURATION_RELATIVE = 0.01  # "at saturation": | |r| - saturation_rate | <= 1% of saturation_rate
_window_interval = _fraction_interval = Interval(0.0, 1.0, closed="right")
_factor_interval = Interval(1.0)


@dataclass(frozen=True)
class RunClassThresholds:
    """Default thresholds of :func:`classify_run` (its keywords read their defaults here).

    Attributes
    ----------
    silent_rate : float
        1e-3: silent when the final-window activity ``a_bar < silent_rate`` (absolute, model
        units), i.e. three orders below the O(1) rates of the homeostasis networks.
    silent_fraction : float
        0.01: with a target, silent also needs ``a_bar < silent_fraction * target``, so a run
        settled at a tiny target is not called silent.
    saturated_fraction : float
        0.5: saturated when at least half of the neurons are pinned at the saturation rate.
    runaway_factor : float
        3.0: with a target, runaway when ``m_bar > runaway_factor * target``; a homeostatic
        overshoot rarely exceeds twice the set point.
    oscillation_cv : float
        0.05: oscillating when ``CV > oscillation_cv`` (a sinusoid of relative amplitude
        above ~7%: CV = A / (sqrt(2) m_bar)); CV is taken about the fitted trend, so a drift
        alone never reads as an oscillation.
    trend_tol : float
        0.1: a drift is a fitted change of m of more than 10% of its level over the window
        (``|rho| > trend_tol``); without a target, ``rho > trend_tol`` is runaway growth.
    """

    silent_rate: float = 1e-3
    silent_fraction: float = 0.01
    saturated_fraction: float = 0.5
    runaway_factor: float = 3.0
    oscillation_cv: float = 0.05
    trend_tol: float = 0.1


_D = RunClassThresholds()


def _population_rates(owner: str, result: Any, population: Any) -> tuple[np.ndarray, np.ndarray, bool, Any]:
    """``(rates (T, n) of the population, times (T,), diverged, max_rate or None)``."""
    if isinstance(result, np.ndarray):
        rates, times, diverged, populations, max_rate = result, None, False, None, None
    elif hasattr(result, "rates") and hasattr(result, "times"):
        rates, times = np.asarray(result.rates), np.asarray(result.times)
        diverged = bool(getattr(result, "diverged", False))
        populations, max_rate = getattr(result, "populations", None), getattr(result, "max_rate", None)
    else:
        raise TypeError(f"{owner}: result must be a RateResult-like object (rates, times, diverged) or a (T, n) "
                        f"or (T,) array of rates; got {type(result).__name__}")
    if rates.dtype.kind not in "biuf":
        raise TypeError(f"{owner}: result rates must be a real array; got dtype {rates.dtype}")
    if rates.ndim == 1:
        rates = rates[:, None]
    if rates.ndim != 2:
        raise ValueError(f"{owner}: result rates must have shape (T, n) or (T,); got {rates.shape}")
    times = np.arange(rates.shape[0], dtype=np.float64) if times is None else times.astype(np.float64)
    if times.shape != rates.shape[:1]:
        raise ValueError(f"{owner}: result times has shape {times.shape}; expected ({rates.shape[0]},) = T from rates")
    diverged = diverged or not bool(np.all(np.isfinite(rates)))  # all neurons, not only the population
    if not isinstance(population, str):
        raise TypeError(f"{owner}.population must be a str; got {population!r} of type {type(population).__name__}")
    if populations:
        rates = rates[:, populations[check_choice(owner, "population", population, tuple(populations))]]
    if rates.shape[1] == 0:
        raise ValueError(f"{owner}: population {population!r} holds no neurons")
    if not diverged and rates.shape[0] < 2:
        raise ValueError(f"{owner}: result must hold at least 2 recorded samples; got {rates.shape[0]}")
    return rates.astype(np.float64), times, diverged, max_rate


def _window(rates: np.ndarray, window: float) -> slice:
    T = rates.shape[0]  # the last max(2, ceil(window T)) samples; 1e-9 absorbs 0.29 * 100 = 29.000000000000004
    return slice(T - max(2, min(T, math.ceil(window * T - 1e-9))), T)


def classify_run(result: Any, target: float | None = None, *, population: str = "E", window: float = 0.25,
                 silent_rate: float = _D.silent_rate, silent_fraction: float = _D.silent_fraction,
                 runaway_factor: float = _D.runaway_factor, saturation_rate: float | None = None,
                 saturated_fraction: float = _D.saturated_fraction, oscillation_cv: float = _D.oscillation_cv,
                 trend_tol: float = _D.trend_tol) -> str:
    """The class of a run, one of :data:`RUN_CLASSES`, tested in this order (first match wins).

    1. ``"diverged"``: ``result.diverged`` is true, or any rate (of any neuron) is NaN or inf.
    2. ``"silent"``: ``a_bar < silent_rate`` and, with a target, ``a_bar < silent_fraction * target``.
    3. ``"saturated"``: a fraction >= ``saturated_fraction`` of the neurons have
       ``| |r_i(t)| - saturation_rate | <= 0.01 saturation_rate`` at every sample of the window.
    4. ``"runaway"``: with a target, ``m_bar > runaway_factor * target``; or steady growth,
       ``rho > trend_tol`` with ``CV <= oscillation_cv`` (and, with a target, ``m_bar > target``:
       a run still climbing towards its set point from below is not runaway).
    5. ``"oscillating"``: ``CV > oscillation_cv`` (fluctuates about its trend).
    6. ``"stable"``: otherwise (settled, or drifting by less than the thresholds).

    ``m_bar``, ``a_bar``, ``CV``, ``rho``: module docstring. Defaults: :class:`RunClassThresholds`.

    Parameters
    ----------
    result : RateResult-like or array
        An object with ``rates`` (T, n), ``times`` (T,), ``diverged`` and optionally
        ``populations`` (name -> slice or indices) and ``max_rate``; or a (T, n) / (T,) array
        of rates (times ``arange(T)``, not diverged).
    target : float or None
        Set point of the rate, > 0; None when there is none.
    population : str
        Neurons classified when ``result.populations`` is non-empty (must be one of its names);
        all neurons otherwise.
    window : float in (0, 1]
        Final window: the last ``max(2, ceil(window * T))`` samples.
    silent_rate, silent_fraction, runaway_factor, saturated_fraction, oscillation_cv, trend_tol : float
        Thresholds in [0, inf), [0, 1], (1, inf), (0, 1], [0, inf), [0, inf).
    saturation_rate : float or None
        Saturation rate, > 0 (1 for tanh, compared with |r|). None: ``result.max_rate`` when
        that attribute exists and is finite and positive; else saturation is not tested.

    Returns
    -------
    str
    """
    owner = "classify_run"
    window = float(check_number(owner, "window", window, _window_interval))
    if target is not None:
        target = float(check_number(owner, "target", target, positive))
    silent_rate = float(check_number(owner, "silent_rate", silent_rate, nonnegative))
    silent_fraction = float(check_number(owner, "silent_fraction", silent_fraction, unit_interval))
    runaway_factor = float(check_number(owner, "runaway_factor", runaway_factor, _factor_interval))
    if saturation_rate is not None:
        saturation_rate = float(check_number(owner, "saturation_rate", saturation_rate, positive))
    saturated_fraction = float(check_number(owner, "saturated_fraction", saturated_fraction, _fraction_interval))
    oscillation_cv = float(check_number(owner, "oscillation_cv", oscillation_cv, nonnegative))
    trend_tol = float(check_number(owner, "trend_tol", trend_tol, nonnegative))
    rates, times, diverged, max_rate = _population_rates(owner, result, population)
    if diverged:
        return "diverged"
    w = _window(rates, window)
    r, t = rates[w], times[w]
    m = r.mean(axis=1)
    m_bar, a_bar = float(m.mean()), float(np.abs(r).mean())
    if a_bar < silent_rate and (target is None or a_bar < silent_fraction * target):
        return "silent"
    if saturation_rate is None and isinstance(max_rate, (int, float, np.number)) and 0 < max_rate < math.inf:
        saturation_rate = float(max_rate)
    if saturation_rate is not None:
        pinned = np.all(np.abs(np.abs(r) - saturation_rate) <= _SATURATION_RELATIVE * saturation_rate, axis=0)
        if pinned.mean() >= saturated_fraction:
            return "saturated"
    tc = t - t.mean()
    change = float(np.dot(tc, m) / np.dot(tc, tc) * (t[-1] - t[0])) if np.dot(tc, tc) > 0 else 0.0
    rho = change / abs(m_bar) if m_bar != 0 else (0.0 if change == 0 else math.copysign(math.inf, change))
    slope = change / (t[-1] - t[0]) if t[-1] != t[0] else 0.0
    std = float((m - m_bar - slope * tc).std())  # fluctuation about the fitted trend
    cv = std / abs(m_bar) if m_bar != 0 else (0.0 if std == 0 else math.inf)
    if target is not None and m_bar > runaway_factor * target:
        return "runaway"
    if rho > trend_tol and cv <= oscillation_cv and (target is None or m_bar > target):
        return "runaway"  # steady growth (above the set point, if there is one)
    if cv > oscillation_cv:
        return "oscillating"
    return "stable"


def settling_time(result: Any, target: float | None = None, *, population: str = "E", tol: float = 0.1,
                  window: float = 0.25) -> float:
    """First recorded time after which the population mean stays within ``tol`` of its set point.

    With the reference ``ref = target`` (or, target None, the final-window mean ``m_bar``) and
    ``e(t_k) = |m(t_k) - ref| / |ref|`` (``|m(t_k) - ref|`` if ``ref == 0``), the settling time is
    ``t_k*`` for the smallest k* with ``e(t_j) <= tol`` for all j >= k*. For the relaxation
    ``m(t) = ref + (m0 - ref) exp(-t / tau)`` that is ``tau ln(|m0 - ref| / (tol |ref|))``
    rounded up to the next recorded time.

    Parameters
    ----------
    result, population, window
        As in :func:`classify_run`.
    target : float or None
        Set point, > 0; None: the final-window mean.
    tol : float
        Relative tolerance, > 0.

    Returns
    -------
    float
        A time from ``result.times`` (sample index for an array); ``nan`` when the last sample
        is outside the tolerance (never settles) or the run diverged (flag or non-finite rates).
    """
    owner = "settling_time"
    if target is not None:
        target = float(check_number(owner, "target", target, positive))
    tol = float(check_number(owner, "tol", tol, positive))
    window = float(check_number(owner, "window", window, _window_interval))
    rates, times, diverged, _ = _population_rates(owner, result, population)
    if diverged:
        return math.nan
    m = rates.mean(axis=1)
    ref = float(m[_window(rates, window)].mean()) if target is None else target
    err = np.abs(m - ref) / (abs(ref) if ref != 0 else 1.0)
    bad = np.nonzero(err > tol)[0]
    if bad.size and bad[-1] == m.size - 1:
        return math.nan
    return float(times[bad[-1] + 1 if bad.size else 0])
