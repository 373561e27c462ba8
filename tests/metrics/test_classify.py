"""Run classification on synthetic traces of each class, with each threshold keyword moving the
decision across its boundary, and settling time against an analytic exponential relaxation."""
import dataclasses
import inspect
import math
from types import SimpleNamespace

import numpy as np
import pytest

from models._rate_result import RateResult
from plasticity.metrics import RUN_CLASSES, RunClassThresholds, classify_run, settling_time


def run(rates, dt=1.0, diverged=False, **extra):
    """A RateResult-like object (times k * dt)."""
    rates = np.asarray(rates, dtype=np.float64)
    return SimpleNamespace(rates=rates, times=dt * np.arange(rates.shape[0]), diverged=diverged, **extra)


def relax(T=400, n=20, target=2.0, r0=0.2, tau=20.0, noise=0.01, seed=0):
    """r(t) = target + (r0 - target) exp(-t / tau) plus independent noise of sd noise * target."""
    t = np.arange(T, dtype=np.float64)[:, None]
    r = target + (r0 - target) * np.exp(-t / tau)
    return r + noise * target * np.random.default_rng(seed).standard_normal((T, n))


def grow(T=400, n=20, r0=0.1, tau=100.0, noise=0.01, seed=1):
    t = np.arange(T, dtype=np.float64)[:, None]
    return r0 * np.exp(t / tau) * (1 + noise * np.random.default_rng(seed).standard_normal((T, n)))


def const(level, T=200, n=10):
    return np.full((T, n), float(level))


def sinus(mean=2.0, amp=0.5, T=800, n=10, period=10, noise=0.0, seed=2):
    """A sustained sinusoid of the population mean: 20 whole periods in the final quarter."""
    t = np.arange(T, dtype=np.float64)[:, None]
    r = mean + amp * np.sin(2 * np.pi * t / period) + np.zeros((1, n))
    return r + noise * np.random.default_rng(seed).standard_normal((T, n))


# -- one trace of each class -------------------------------------------------------------------
def test_stable_relaxation():
    rates = relax()
    assert classify_run(rates) == "stable"
    assert classify_run(rates, target=2.0) == "stable"
    assert classify_run(run(rates, dt=0.1)) == "stable"


def test_runaway_exponential_growth_with_and_without_target():
    rates = grow()
    assert classify_run(rates) == "runaway"
    assert classify_run(run(rates, dt=0.01)) == "runaway"
    assert classify_run(rates, target=0.1) == "runaway"  # final mean ~ e^3.4 * 0.1 >> 3 * 0.1


def test_decreasing_trace_is_not_runaway():
    assert classify_run(grow()[::-1].copy()) == "stable"


def test_silent_decay_to_zero():
    rates = relax(target=0.0, r0=2.0, tau=10.0, noise=0.0)
    assert classify_run(rates) == "silent"
    assert classify_run(rates, target=2.0) == "silent"


def test_saturated_via_max_rate_attribute_and_saturation_rate():
    u = np.random.default_rng(3).uniform(0.0, 1.0, (300, 12))
    rates = 50.0 * (1 - 0.004 * u)  # within 0.4% of 50
    assert classify_run(run(rates, max_rate=50.0)) == "saturated"
    assert classify_run(rates, saturation_rate=50.0) == "saturated"
    assert classify_run(rates) == "stable"  # no saturation rate known: not tested
    assert classify_run(run(rates, max_rate=math.inf)) == "stable"  # not finite: not tested
    assert classify_run(run(rates, max_rate=50.0), saturation_rate=80.0) == "stable"  # the keyword wins


def test_tanh_saturation_only_when_asked():
    rates = np.concatenate([-np.ones((100, 5)), np.ones((100, 5))], axis=1)  # |r| = 1, mean 0
    assert classify_run(rates, saturation_rate=1.0) == "saturated"
    assert classify_run(rates) == "stable"  # |r| = 1 is active (not silent); no guessing at tanh


def test_oscillating_sinusoid():
    rates = sinus(noise=0.05)
    assert classify_run(rates) == "oscillating"
    assert classify_run(rates, target=2.0) == "oscillating"


def test_diverged_flag_and_non_finite():
    rates = relax()
    flagged = RateResult(times=np.arange(400.0), rates=rates, states=rates, weights=np.zeros((1, 20, 20)),
                         weight_times=np.zeros(1), diverged=True, diverged_at=400.0)
    assert classify_run(flagged) == "diverged"
    assert classify_run(dataclasses.replace(flagged, diverged=False)) == "stable"
    bad = rates.copy()
    bad[-1, 3] = np.nan
    assert classify_run(bad) == "diverged"
    bad[-1, 3] = np.inf
    assert classify_run(bad) == "diverged"
    assert classify_run(run(rates[:1], diverged=True)) == "diverged"  # too short to classify otherwise


# -- each keyword moves the decision -------------------------------------------------------------
def test_silent_rate_boundary():
    assert classify_run(const(0.9e-3)) == "silent"
    assert classify_run(const(1.1e-3)) == "stable"
    assert classify_run(const(0.9e-3), silent_rate=0.8e-3) == "stable"
    assert classify_run(const(1.1e-3), silent_rate=1.2e-3) == "silent"


def test_silent_fraction_of_target_boundary():
    rates = const(1e-4)  # below silent_rate; 0.5% of the target 0.02
    assert classify_run(rates, target=0.02) == "silent"
    assert classify_run(rates, target=0.02, silent_fraction=0.006) == "silent"
    assert classify_run(rates, target=0.02, silent_fraction=0.004) == "stable"


def test_saturated_fraction_boundary():
    rates = np.concatenate([const(10.0, n=6), const(5.0, n=4)], axis=1)  # 6 of 10 pinned at 10
    assert classify_run(rates, saturation_rate=10.0) == "saturated"
    assert classify_run(rates, saturation_rate=10.0, saturated_fraction=0.6) == "saturated"
    assert classify_run(rates, saturation_rate=10.0, saturated_fraction=0.61) == "stable"


def test_saturation_band_is_one_percent():
    assert classify_run(const(9.95), saturation_rate=10.0) == "saturated"
    assert classify_run(const(9.85), saturation_rate=10.0) == "stable"
    assert classify_run(const(10.05), saturation_rate=10.0) == "saturated"


def test_runaway_factor_boundary():
    assert classify_run(const(2.9), target=1.0) == "stable"
    assert classify_run(const(3.1), target=1.0) == "runaway"
    assert classify_run(const(3.1), target=1.0, runaway_factor=3.2) == "stable"
    assert classify_run(const(2.9), target=1.0, runaway_factor=2.8) == "runaway"


def test_trend_tol_boundary_on_a_ramp():
    T, a, b = 400, 1.0, 0.01
    rates = (a + b * np.arange(T, dtype=np.float64))[:, None] * np.ones((1, 5))
    t_w = np.arange(T - 100, T, dtype=np.float64)  # final window: last 100 samples
    rho = b * (t_w[-1] - t_w[0]) / (a + b * t_w.mean())  # the fitted relative growth, exactly
    assert 0.2 < rho < 0.3
    assert classify_run(rates) == "runaway"
    assert classify_run(rates, trend_tol=0.95 * rho) == "runaway"
    assert classify_run(rates, trend_tol=1.05 * rho, oscillation_cv=1.0) == "stable"
    # a ramp has no fluctuation about its trend (CV = 0): a tolerated drift is not an oscillation
    assert classify_run(rates, trend_tol=1.05 * rho) == "stable"
    # with a target, growth below the set point is an approach, above it a runaway
    assert classify_run(rates, target=4.5) == "stable"  # final-window mean ~ 4.5
    assert classify_run(rates, target=4.0) == "runaway"


def test_oscillation_cv_boundary():
    rates = sinus(mean=2.0, amp=0.5)
    cv = 0.5 / (math.sqrt(2) * 2.0)  # whole periods: std of a sampled sinusoid is amp / sqrt(2)
    assert classify_run(rates, oscillation_cv=0.95 * cv) == "oscillating"
    assert classify_run(rates, oscillation_cv=1.05 * cv) == "stable"


def test_oscillation_riding_on_a_drift_is_an_oscillation():
    t = np.arange(800, dtype=np.float64)[:, None]
    rates = sinus(mean=2.0, amp=0.5) + 0.003 * t  # rho ~ 0.15, CV about the trend 0.5 / sqrt(2) / 4 ~ 0.09
    assert classify_run(rates, target=2.0) == "oscillating"
    assert classify_run(rates, target=2.0, trend_tol=10.0) == "oscillating"
    assert classify_run(rates, target=2.0, oscillation_cv=0.1) == "runaway"  # fluctuation tolerated: steady growth
    # a large slow oscillation whose final window shows a trend (the case that once read "stable")
    slow = 2.0 + 1.8 * np.sin(2 * np.pi * t / 300.0) + np.zeros((1, 5))
    assert classify_run(slow, target=2.0) == "oscillating"


def test_window_boundary():
    rates = np.concatenate([sinus(T=400), const(2.0, T=400)])  # oscillates, then settles
    assert classify_run(rates) == "stable"
    assert classify_run(rates, window=1.0) == "oscillating"



@pytest.mark.parametrize("T, window, size", [(100, 0.29, 29), (100, 0.25, 25), (8, 0.01, 2), (10, 0.75, 8)])
def test_window_size(T, window, size):
    """The final window is the last max(2, ceil(window T)) samples: a spike just before it is not seen."""
    rates = const(1.0, T=T, n=3)
    rates[T - size - 1] = 1e6
    assert classify_run(rates, target=1.0, window=window) == "stable"
    rates[T - size] = 1e6
    assert classify_run(rates, target=1.0, window=window) == "runaway"


# -- populations ---------------------------------------------------------------------------------
@pytest.mark.parametrize("index", [(slice(0, 20), slice(20, 30)), (np.arange(20), np.arange(20, 30))])
def test_population_selection(index):
    rates = np.concatenate([relax(n=20), grow(n=10, r0=2.0)], axis=1)
    res = run(rates, populations={"E": index[0], "I": index[1]})
    assert classify_run(res) == "stable"
    assert classify_run(res, population="E") == "stable"
    assert classify_run(res, population="I") == "runaway"
    assert classify_run(rates) == "runaway"  # no populations: all neurons
    assert classify_run(run(rates, populations={})) == "runaway"
    with pytest.raises(ValueError, match=r"population must be one of \('E', 'I'\); got 'X'"):
        classify_run(res, population="X")
    with pytest.raises(TypeError, match="population must be a str"):
        classify_run(res, population=0)


# -- settling time -------------------------------------------------------------------------------
@pytest.mark.parametrize("r0, target, tau, tol", [(0.2, 2.0, 10.0, 0.1), (5.0, 2.0, 7.0, 0.05), (0.0, 1.0, 3.0, 0.01)])
def test_settling_time_analytic_relaxation(r0, target, tau, tol):
    dt = 0.037
    t = dt * np.arange(4000)
    rates = (target + (r0 - target) * np.exp(-t / tau))[:, None] * np.ones((1, 4))
    expected = tau * math.log(abs(r0 - target) / (tol * target))
    got = settling_time(run(rates, dt=dt), target, tol=tol)
    assert expected - 1e-9 <= got < expected + dt
    got_final = settling_time(run(rates, dt=dt), tol=tol)  # reference: the final-window mean ~ target
    assert abs(got_final - expected) < 2 * dt


def test_settling_time_never_diverged_and_immediate():
    assert math.isnan(settling_time(sinus(), 2.0, tol=0.1))  # swings by 25% to the end
    assert settling_time(sinus(), 2.0, tol=0.3) == 0.0
    assert settling_time(const(2.0), 2.0) == 0.0
    assert math.isnan(settling_time(run(relax(), diverged=True), 2.0))
    bad = relax()
    bad[5, 0] = np.nan
    assert math.isnan(settling_time(bad, 2.0))
    assert settling_time(relax(target=0.0, r0=1.0, noise=0.0), 0.5) != settling_time(relax(target=0.0, r0=1.0, noise=0.0))


def test_settling_time_uses_times_and_population():
    rates = np.concatenate([relax(noise=0.0), const(9.0, T=400, n=5)], axis=1)
    res = run(rates, dt=0.5, populations={"E": slice(0, 20), "I": slice(20, 25)})
    k = settling_time(rates[:, :20], 2.0)  # an array: time in samples
    assert settling_time(res, 2.0) == 0.5 * k
    assert settling_time(res, 9.0, population="I") == 0.0


# -- declarations and validation -----------------------------------------------------------------
def test_classes_and_thresholds_declared_once():
    assert RUN_CLASSES == ("diverged", "silent", "saturated", "runaway", "oscillating", "stable")
    defaults = RunClassThresholds()
    with pytest.raises(dataclasses.FrozenInstanceError):
        defaults.silent_rate = 1.0
    params = inspect.signature(classify_run).parameters
    for f in dataclasses.fields(RunClassThresholds):
        assert params[f.name].default == getattr(defaults, f.name)


@pytest.mark.parametrize("kwargs, match", [
    ({"window": 2.0}, r"window must be a number in \(0, 1\]; got 2.0"),
    ({"window": 0.0}, r"window must be a number in \(0, 1\]; got 0.0"),
    ({"target": -1.0}, r"target must be a number in \(0, inf\); got -1.0"),
    ({"silent_rate": -1e-3}, r"silent_rate must be a number in \[0, inf\); got -0.001"),
    ({"silent_fraction": 2.0}, r"silent_fraction must be a number in \[0, 1\]; got 2.0"),
    ({"runaway_factor": 1.0}, r"runaway_factor must be a number in \(1, inf\); got 1.0"),
    ({"saturation_rate": 0.0}, r"saturation_rate must be a number in \(0, inf\); got 0.0"),
    ({"saturated_fraction": 0.0}, r"saturated_fraction must be a number in \(0, 1\]; got 0.0"),
    ({"oscillation_cv": -0.1}, r"oscillation_cv must be a number in \[0, inf\); got -0.1"),
    ({"trend_tol": math.nan}, r"trend_tol must be a number in \[0, inf\); got nan"),
])
def test_bad_thresholds_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        classify_run(relax(), **kwargs)


def test_bad_inputs():
    with pytest.raises(TypeError, match="window must be a number"):
        classify_run(relax(), window="0.5")
    with pytest.raises(ValueError, match=r"tol must be a number in \(0, inf\); got 0.0"):
        settling_time(relax(), 2.0, tol=0.0)
    for bad in ("rates", [[1.0, 2.0]], None, {"rates": relax()}):
        with pytest.raises(TypeError, match="result must be"):
            classify_run(bad)
        with pytest.raises(TypeError, match="result must be"):
            settling_time(bad)
    with pytest.raises(TypeError, match="result rates must be a real array"):
        classify_run(relax().astype(complex))
    with pytest.raises(ValueError, match=r"result rates must have shape \(T, n\) or \(T,\); got \(4, 3, 2\)"):
        classify_run(np.ones((4, 3, 2)))
    with pytest.raises(ValueError, match=r"result times has shape \(3,\); expected \(400,\)"):
        classify_run(SimpleNamespace(rates=relax(), times=np.arange(3.0), diverged=False))
    with pytest.raises(ValueError, match="at least 2 recorded samples; got 1"):
        classify_run(np.ones((1, 3)))
    with pytest.raises(ValueError, match="holds no neurons"):
        classify_run(run(relax(), populations={"E": slice(0, 0)}))


def test_one_dimensional_array_is_one_neuron():
    assert classify_run(relax(n=1)[:, 0]) == "stable"
    assert classify_run(grow(n=1)[:, 0]) == "runaway"
