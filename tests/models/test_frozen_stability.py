"""models.frozen_stability against the analytic spectrum of the homogeneous E/I network (p = 1) at its
quiet state, where every neuron is active and W_eff = W."""
import math

import numpy as np
import pytest

from models.ei_compensation import network, start_state
from models.frozen_stability import frozen_stability

TAU = np.r_[np.ones(40), np.full(10, 0.5)]  # tau_E = 1, tau_I = 0.5 of models.ei_meanfield.EI_MEANFIELD


@pytest.fixture
def quiet_net():
    # n_E = 40, n_I = 10, every summed weight 1 (J_EE = J* = 1), at the quiet state r_E = 1, r_I = 1.5: all active
    net = network()
    net.x = start_state()
    return net


def test_spectra_at_the_quiet_state_are_analytic(quiet_net):
    # W (signed) = uniform modes [[J_EE, -J_IE], [J_EI, -J_II]] = [[1, -1], [1, -1]] (eigenvalues 0, 0), plus
    # within-population modes -J_EE/(n_E - 1) = -1/39 (E) and +J_II/(n_I - 1) = 1/9 (I): rho(W_eff) = 1/9.
    # J = (W_eff - 1)/tau: uniform block [[0, -1], [2, -4]], eigenvalues -2 +- sqrt(2); -40/39; -16/9.
    out, why = frozen_stability(quiet_net, TAU, lyap_steps=300, dt=0.1)
    assert why == []
    assert out["spectral_radius"] == pytest.approx(1 / 9, rel=1e-12)
    assert out["spectral_abscissa"] == pytest.approx(-2 + math.sqrt(2), rel=1e-12)


def test_lyapunov_exponent_converges_to_the_abscissa_as_one_over_time(quiet_net):
    # at a fixed point the largest exponent of the linear flow is the abscissa; one tangent vector from a
    # generic start overshoots by log(|c|)/T (c: its component along the slowest mode): error * T constant
    exact = -2 + math.sqrt(2)
    errors = {steps: frozen_stability(quiet_net, TAU, lyap_steps=steps, dt=0.1)[0]["max_lyapunov"] - exact
              for steps in (300, 3000)}
    assert abs(errors[3000]) < 0.01
    assert errors[300] * 30.0 == pytest.approx(errors[3000] * 300.0, rel=0.02)


def test_non_finite_state_is_reported_not_measured(quiet_net):
    quiet_net.x = np.full(50, np.inf)
    out, why = frozen_stability(quiet_net, TAU)
    assert all(math.isnan(v) for v in out.values())
    assert why == ["spectral radius, Lyapunov: state or weights non-finite"]


def test_tau_of_the_wrong_shape_is_refused(quiet_net):
    with pytest.raises(ValueError, match=r"frozen_stability: tau has shape \(40,\); expected \(50,\)"):
        frozen_stability(quiet_net, np.ones(40))
