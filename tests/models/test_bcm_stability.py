"""models.bcm_stability: the analytic BCM stability boundaries against their Jacobians and against direct
simulations of the neuron and the network on both sides."""
import numpy as np
import pytest

from models import bcm_stability as bs


def test_single_neuron_hopf_at_tau_c():
    # J = [[k, -k], [2/T, -1/T]] at T = 1/k: trace 0, det k^2 > 0 -> eigenvalues +-i k exactly
    k = 0.05
    T = bs.neuron_critical_tau(eta=k, x_norm2=1.0)
    assert T == pytest.approx(20.0, rel=1e-15)
    ev = np.linalg.eigvals(np.array([[k, -k], [2 / T, -1 / T]]))
    np.testing.assert_allclose(np.sort(ev.imag), [-k, k], rtol=1e-12)
    np.testing.assert_allclose(ev.real, 0.0, atol=1e-15)


@pytest.mark.parametrize("lam, tau, m", [(0.75, 1.0, 0.01), (0.0, 1.0, 0.05), (-0.5, 0.3, 0.2), (0.9, 2.0, 0.001)])
def test_mode_boundary_closed_form_matches_jacobian(lam, tau, m):
    # the Routh-Hurwitz closed form against bisection on the 3x3 Jacobian's eigenvalues: two routes to one number
    closed = bs.mode_critical_tau(lam, tau, m)
    numeric = bs.network_critical_tau(np.array([lam]), tau, m)
    assert numeric == pytest.approx(closed, rel=1e-9)  # 60 bisection halvings of a log interval: ~1e-15
    # and at that tau_theta the Jacobian has a purely imaginary pair (Hopf), stable just below
    ev = np.linalg.eigvals(bs.mode_jacobian(lam, tau, m, closed))
    assert np.max(ev.real) == pytest.approx(0.0, abs=1e-9 * np.max(np.abs(ev)))
    assert np.max(np.abs(ev[np.abs(ev.real) < 1e-8].imag)) > 0
    assert np.max(np.linalg.eigvals(bs.mode_jacobian(lam, tau, m, 0.99 * closed)).real) < 0


def test_mode_boundary_expansion_in_neuron_lag():
    # tau_c = (1 - lam)/m - tau/(1 - lam) + O(tau^2): the error of the first two terms shrinks like tau^2
    lam, m = 0.5, 0.01
    errors = []
    for tau in (0.4, 0.2, 0.1):
        errors.append(abs(bs.mode_critical_tau(lam, tau, m) - ((1 - lam) / m - tau / (1 - lam))))
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.05)
    assert errors[1] / errors[2] == pytest.approx(4.0, rel=0.05)


def test_single_neuron_simulation_on_both_sides_of_tau_c():
    tau_c = bs.neuron_critical_tau(bs.NEURON_ETA, 1.0)
    t, y = bs.bcm_neuron(0.85 * tau_c, seed=0)
    below = bs.rate_stability(t, y, diverged=False)
    # the envelope decays at (1/T - k)/2 = 0.088 k = 0.0029 per unit time: from one quarter of the run
    # (500 units, ~3 periods) to the next by exp(-1.47) = 0.23, up to +-30% from where the peaks fall
    assert not below["unstable"] and below["amplitude"] < bs.AMPLITUDE_STABLE and below["growth"] < 0.5
    assert below["final_rate"] == pytest.approx(1.0, abs=0.01)
    t, y = bs.bcm_neuron(1.15 * tau_c, seed=0)
    above = bs.rate_stability(t, y, diverged=False)
    # a limit cycle (supercritical Hopf): a sustained oscillation of order 1 around the fixed point
    assert above["unstable"] and above["amplitude"] > 0.2 and above["growth"] > 0.9


def test_network_simulation_on_both_sides_of_tau_c():
    tau_c, tau_bulk = bs.network_boundaries(seed=0)
    assert tau_bulk > 2 * tau_c  # the uniform mode is the least stable one (module docstring)
    below = bs.bcm_network(0.85 * tau_c, seed=0)
    st = bs.rate_stability(below.times, below.rates.mean(axis=1), below.diverged)
    assert not st["unstable"] and st["final_rate"] == pytest.approx(1.0, abs=0.01)
    # 1.1 tau_c is still below the boundary without the neurons' lag, (1 - lam)/m = I0/(eta n) = 25:
    # that simpler (2-D) boundary would call this run stable; it oscillates with growing amplitude
    assert bs.NET_I0 / (bs.NET_ETA * bs.NET_N) > 1.1 * tau_c
    above = bs.bcm_network(1.1 * tau_c, seed=0)
    st = bs.rate_stability(above.times, above.rates.mean(axis=1), above.diverged)
    assert st["unstable"] and (st["diverged"] or st["amplitude"] > 0.1)
