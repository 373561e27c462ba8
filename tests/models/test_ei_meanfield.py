"""models.ei_meanfield: the quiet-state slope F'(J) against simulation, the Hopf boundaries against the
Jacobians' eigenvalues, and the Jacobians against finite differences of the mean-field equations."""
import numpy as np
import pytest

from models import ei_meanfield as mf
from models.ei_compensation import network

K = 39.0  # n_E - 1 for the n_E = 40 network of models.ei_compensation.network
DT = 0.1


def _simulated_quiet_rate(J: float) -> float:
    # from the network's random start (not the analytic state); the slowest E/I mode decays at >= 0.3 per unit time
    net = network(J_EE=J)
    res = net.run(int(150 / DT), record_every=100, progress=False)
    r = res.rates[-1]
    assert not res.diverged and np.ptp(r[res.populations["E"]]) < 1e-9  # homogeneous: every E neuron alike
    return float(r[res.populations["E"]].mean())


@pytest.mark.parametrize("J", [0.5, 1.0, 1.2])
def test_quiet_rate_and_slope_against_simulated_finite_difference(J):
    h = 1e-3
    r0, rp, rm = (_simulated_quiet_rate(j) for j in (J, J + h, J - h))
    assert r0 == pytest.approx(mf.quiet_rate(J), rel=1e-9)
    fd = (rp - rm) / (2 * h)
    # central difference: error F''' h^2 / 6 = A h^2 / (D - J)^4 <= 0.5e-6 / 0.0081 = 6e-5 relative to F' >= 0.5
    assert fd == pytest.approx(mf.quiet_rate_slope(J), rel=2e-4)
    assert mf.quiet_rate_slope(J) == pytest.approx(mf.quiet_rate(J) ** 2 / 0.5, rel=1e-12)  # F' = F^2 / A, A = 0.5


def test_fixed_point_numbers():
    J, r = mf.fixed_point()
    assert (J, r) == (1.0, 1.0)
    assert mf.quiet_rate(J) == pytest.approx(r, rel=1e-15)
    assert mf.quiet_rate_slope(J) == pytest.approx(2.0, rel=1e-15)
    assert mf.inhibitory_rate(J) == pytest.approx(1.5, rel=1e-15)
    assert mf.critical_tau("bcm", 1e-4, K) == pytest.approx(1 / (2e-4 * K), rel=1e-12)
    assert mf.critical_tau("scaling", 1e-4, K) == pytest.approx(1 / (3e-4 * K), rel=1e-12)


# -- linear stability -----------------------------------------------------------------------
def _reduced_rhs(rule, eta, tau, v):
    J, c = v
    r = mf.quiet_rate(J)
    if rule == "bcm":
        return np.array([eta * K * r * r * (r - c), (r ** mf.BCM_POWER - c) / tau])
    eta_s = mf.scaling_kappa(K) * eta
    return np.array([eta * K * r * r + eta_s * (mf.SCALING_TARGET - c) * J, (r - c) / tau])


def _full_rhs(rule, eta, tau, v):
    q = mf.EI_MEANFIELD
    rE, rI, J, c = v
    out = [(-rE + J * rE - q["J_IE"] * rI + q["bias_e"]) / q["tau_e"],
           (-rI + q["J_EI"] * rE - q["J_II"] * rI + q["bias_i"]) / q["tau_i"]]
    if rule == "bcm":
        out += [eta * K * rE * rE * (rE - c), (rE ** mf.BCM_POWER - c) / tau]
    else:
        eta_s = mf.scaling_kappa(K) * eta
        out += [eta * K * rE * rE + eta_s * (mf.SCALING_TARGET - c) * J, (rE - c) / tau]
    return np.array(out)


def _fd_jacobian(f, v, h=1e-6):
    v = np.asarray(v, dtype=float)
    return np.column_stack([(f(v + h * e) - f(v - h * e)) / (2 * h) for e in np.eye(len(v))])


@pytest.mark.parametrize("rule", mf.RULES)
def test_jacobians_against_finite_differences_of_the_mean_field(rule):
    eta, tau = 3e-4, 50.0
    J, r = mf.fixed_point()
    star2 = np.array([J, r ** mf.BCM_POWER if rule == "bcm" else r])
    np.testing.assert_allclose(_reduced_rhs(rule, eta, tau, star2), 0.0, atol=1e-14)  # it is the fixed point
    np.testing.assert_allclose(mf.reduced_jacobian(rule, eta, tau, K),
                               _fd_jacobian(lambda v: _reduced_rhs(rule, eta, tau, v), star2), rtol=1e-7, atol=1e-12)
    star4 = np.array([r, mf.inhibitory_rate(J), J, star2[1]])
    np.testing.assert_allclose(_full_rhs(rule, eta, tau, star4), 0.0, atol=1e-14)
    np.testing.assert_allclose(mf.full_jacobian(rule, eta, tau, K),
                               _fd_jacobian(lambda v: _full_rhs(rule, eta, tau, v), star4), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("rule", mf.RULES)
@pytest.mark.parametrize("eta", [2e-5, 1e-4, 1e-3])
def test_critical_tau_is_the_hopf_point_of_the_reduced_jacobian(rule, eta):
    tc = mf.critical_tau(rule, eta, K)
    ev = np.linalg.eigvals(mf.reduced_jacobian(rule, eta, tc, K))
    scale = np.max(np.abs(ev))
    np.testing.assert_allclose(ev.real, 0.0, atol=1e-12 * scale)   # trace 0 ...
    assert np.min(np.abs(ev.imag)) > 0.5 * scale                     # ... det > 0: a purely imaginary pair
    assert np.linalg.det(mf.reduced_jacobian(rule, eta, tc, K)) > 0
    assert np.max(np.linalg.eigvals(mf.reduced_jacobian(rule, eta, 0.99 * tc, K)).real) < 0
    assert np.max(np.linalg.eigvals(mf.reduced_jacobian(rule, eta, 1.01 * tc, K)).real) > 0
    # stable for fast compensation, however fast
    assert np.max(np.linalg.eigvals(mf.reduced_jacobian(rule, eta, 1e-3 * tc, K)).real) < 0


@pytest.mark.parametrize("rule", mf.RULES)
def test_full_mean_field_boundary_tends_to_the_adiabatic_one(rule):
    # the rate lag shifts tau_c by O(tau_E / tau_c): the relative gap shrinks ~ linearly in eta
    gaps = [abs(mf.full_critical_tau(rule, eta, K) / mf.critical_tau(rule, eta, K) - 1) for eta in (1e-3, 1e-4, 1e-5)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 2e-3
    assert gaps[1] / gaps[0] < 0.2 and gaps[2] / gaps[1] < 0.2
    # and it is the point where the 4x4 Jacobian's leading pair crosses the imaginary axis
    tf = mf.full_critical_tau(rule, 1e-4, K)
    assert np.max(np.linalg.eigvals(mf.full_jacobian(rule, 1e-4, 0.999 * tf, K)).real) < 0
    assert np.max(np.linalg.eigvals(mf.full_jacobian(rule, 1e-4, 1.001 * tf, K)).real) > 0




def test_gain_and_learning_rate_invert_critical_tau():
    # G = r*^2 F'(J*) = 2 (BCM) and r* (2 F' - r*/J*) = 3 (scaling) at the defaults (module docstring)
    assert mf.gain("bcm") == pytest.approx(2.0, rel=1e-15) and mf.gain("scaling") == pytest.approx(3.0, rel=1e-15)
    for rule in mf.RULES:
        assert mf.learning_rate(rule, mf.critical_tau(rule, 3e-4, K), K) == pytest.approx(3e-4, rel=1e-14)
    # tau_c = A / (eta K) for BCM with A = b_E - J_IE b_I / (1 + J_II): another bias moves it
    net = {"bias_e": 2.0}  # A = 1, D = 1.5: J* = 0.5, F'(J*) = A / (D - J*)^2 = 1
    assert mf.fixed_point(net) == (0.5, 1.0)
    assert mf.critical_tau("bcm", 1e-4, K, net) == pytest.approx(1.0 / (1e-4 * K), rel=1e-12)


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="rule must be one of"):
        mf.critical_tau("oja", 1e-4, K)
    with pytest.raises(ValueError, match=r"critical_tau.eta must be a number in \(0, inf\)"):
        mf.critical_tau("bcm", 0.0, K)
    with pytest.raises(ValueError, match=r"no quiet state for J >= D = 1.5"):
        mf.quiet_rate(1.5)
    with pytest.raises(ValueError, match=r"scaling_kappa.target must be .*below r\*"):
        mf.scaling_kappa(K, target=1.0)
