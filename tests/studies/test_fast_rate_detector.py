"""The analytic BCM stability boundaries of studies/fast_rate_detector.py against their Jacobians and
against direct simulations on both sides; the study's point functions at tiny sizes."""
import math

import numpy as np
import pytest

from studies import fast_rate_detector as frd


def test_single_neuron_hopf_at_tau_c():
    # J = [[k, -k], [2/T, -1/T]] at T = 1/k: trace 0, det k^2 > 0 -> eigenvalues +-i k exactly
    k = 0.05
    T = frd.neuron_critical_tau(eta=k, x_norm2=1.0)
    assert T == pytest.approx(20.0, rel=1e-15)
    ev = np.linalg.eigvals(np.array([[k, -k], [2 / T, -1 / T]]))
    np.testing.assert_allclose(np.sort(ev.imag), [-k, k], rtol=1e-12)
    np.testing.assert_allclose(ev.real, 0.0, atol=1e-15)


@pytest.mark.parametrize("lam, tau, m", [(0.75, 1.0, 0.01), (0.0, 1.0, 0.05), (-0.5, 0.3, 0.2), (0.9, 2.0, 0.001)])
def test_mode_boundary_closed_form_matches_jacobian(lam, tau, m):
    # the Routh-Hurwitz closed form against bisection on the 3x3 Jacobian's eigenvalues: two routes to one number
    closed = frd.mode_critical_tau(lam, tau, m)
    numeric = frd.network_critical_tau(np.array([lam]), tau, m)
    assert numeric == pytest.approx(closed, rel=1e-9)  # 60 bisection halvings of a log interval: ~1e-15
    # and at that tau_theta the Jacobian has a purely imaginary pair (Hopf), stable just below
    ev = np.linalg.eigvals(frd.mode_jacobian(lam, tau, m, closed))
    assert np.max(ev.real) == pytest.approx(0.0, abs=1e-9 * np.max(np.abs(ev)))
    assert np.max(np.abs(ev[np.abs(ev.real) < 1e-8].imag)) > 0
    assert np.max(np.linalg.eigvals(frd.mode_jacobian(lam, tau, m, 0.99 * closed)).real) < 0


def test_mode_boundary_expansion_in_neuron_lag():
    # tau_c = (1 - lam)/m - tau/(1 - lam) + O(tau^2): the error of the first two terms shrinks like tau^2
    lam, m = 0.5, 0.01
    errors = []
    for tau in (0.4, 0.2, 0.1):
        errors.append(abs(frd.mode_critical_tau(lam, tau, m) - ((1 - lam) / m - tau / (1 - lam))))
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.05)
    assert errors[1] / errors[2] == pytest.approx(4.0, rel=0.05)


def test_single_neuron_simulation_on_both_sides_of_tau_c():
    tau_c = frd.neuron_critical_tau(frd.NEURON_ETA, 1.0)
    t, y = frd.bcm_neuron(0.85 * tau_c, seed=0)
    below = frd.rate_stability(t, y, diverged=False)
    # the envelope decays at (1/T - k)/2 = 0.088 k = 0.0029 per unit time: from one quarter of the run
    # (500 units, ~3 periods) to the next by exp(-1.47) = 0.23, up to +-30% from where the peaks fall
    assert not below["unstable"] and below["amplitude"] < frd.AMPLITUDE_STABLE and below["growth"] < 0.5
    assert below["final_rate"] == pytest.approx(1.0, abs=0.01)
    t, y = frd.bcm_neuron(1.15 * tau_c, seed=0)
    above = frd.rate_stability(t, y, diverged=False)
    # a limit cycle (supercritical Hopf): a sustained oscillation of order 1 around the fixed point
    assert above["unstable"] and above["amplitude"] > 0.2 and above["growth"] > 0.9


def test_network_simulation_on_both_sides_of_tau_c():
    tau_c, tau_bulk = frd.network_boundaries(seed=0)
    assert tau_bulk > 2 * tau_c  # the uniform mode is the least stable one (module docstring)
    below = frd.bcm_network(0.85 * tau_c, seed=0)
    st = frd.rate_stability(below.times, below.rates.mean(axis=1), below.diverged)
    assert not st["unstable"] and st["final_rate"] == pytest.approx(1.0, abs=0.01)
    # 1.1 tau_c is still below the boundary without the neurons' lag, (1 - lam)/m = I0/(eta n) = 25:
    # that simpler (2-D) boundary would call this run stable; it oscillates with growing amplitude
    assert frd.NET_I0 / (frd.NET_ETA * frd.NET_N) > 1.1 * tau_c
    above = frd.bcm_network(1.1 * tau_c, seed=0)
    st = frd.rate_stability(above.times, above.rates.mean(axis=1), above.diverged)
    assert st["unstable"] and (st["diverged"] or st["amplitude"] > 0.1)


def test_critical_from_sweep():
    est, lo, hi = frd.critical_from_sweep([1, 2, 4, 8], [0.0, 0.0, 1.0, 1.0])
    assert (lo, hi) == (2, 4) and est == pytest.approx(math.sqrt(8))
    assert math.isnan(frd.critical_from_sweep([1, 2], [0.0, 0.0])[0])


def test_meanfield_tau_rate_formula():
    # 1 / (G eta a3+ tau+ tau_y kappa^2) with the minimal visual-cortex set (Pfister & Gerstner 2006, Table 4)
    kappa = 7.1e-3 * 33.7e-3 / (6.5e-3 * 16.8e-3 * 0.125)
    expected = 1 / (50.0 * 2.0 * 6.5e-3 * 16.8e-3 * 0.125 * kappa**2)
    assert frd.meanfield_tau_rate(50.0, 2.0) == pytest.approx(expected, rel=1e-12)


def test_rate_point_returns_documented_keys():
    out = frd.point("rate", seed=1, model="network", tau_theta=10.0)
    assert {"final_rate", "amplitude", "growth", "diverged", "unstable", "tau_c", "tau_c_bulk", "t", "y"} <= set(out)
    assert out["tau_c"] == pytest.approx(frd.mode_critical_tau(1 - frd.NET_I0, frd.NET_TAU, frd.NET_ETA * frd.NET_N))


def test_spiking_points_run_at_tiny_size():
    out = frd.point("spiking", seed=0, tau_rate=0.5, eta=1.0, n=400, duration=0.2)
    assert {"rate_E_peak", "rate_E_final", "slow_osc", "runaway_at", "diverged", "unstable", "w_EE_final",
            "rate_times", "rate_E_t"} <= set(out)
    assert out["rate_E_t"].shape == out["rate_times"].shape and np.all(np.isfinite(out["rate_E_t"]))
    gain = frd.point("gain", seed=0, ee_scale=1.0, n=400, duration=0.2)
    assert set(gain) == {"rate_E_final"} and gain["rate_E_final"] >= 0
    with pytest.raises(ValueError, match="part must be one of"):
        frd.point("other", seed=0, n=400, duration=0.2)
