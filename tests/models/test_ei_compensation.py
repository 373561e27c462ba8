"""models.ei_compensation: the network's summed weights are the mean field's J's (p = 1 and row-normalised
p < 1), the quiet state is its fixed point, and the run starts displaced as documented."""
import numpy as np
import pytest

from models import ei_compensation as ec
from models import ei_meanfield as mf

N_E, N_I = 40, 10


def test_network_summed_weights_are_the_mean_field_J():
    net = ec.network(J_EE=1.2)
    np.testing.assert_allclose(net.weights("EE").sum(axis=1), 1.2, rtol=1e-12)
    np.testing.assert_allclose(net.weights("II").sum(axis=1), mf.EI_MEANFIELD["J_II"], rtol=1e-12)
    np.testing.assert_allclose(net.weights("EI").sum(axis=1), mf.EI_MEANFIELD["J_EI"], rtol=1e-12)
    np.testing.assert_allclose(net.weights("IE").sum(axis=1), mf.EI_MEANFIELD["J_IE"], rtol=1e-12)
    assert np.all(net.connectivity("EE").sum(axis=1) == N_E - 1)


def test_sparse_network_rows_are_normalised_and_in_degrees_differ():
    net = ec.network(n_e=100, n_i=25, p=0.2, seed=3)
    q = mf.EI_MEANFIELD
    for name, J in (("EE", 1.0), ("EI", q["J_EI"]), ("IE", q["J_IE"]), ("II", q["J_II"])):
        np.testing.assert_allclose(net.weights(name).sum(axis=1), J, rtol=1e-12)
    k = net.connectivity("EE").sum(axis=1)
    assert k.std() > 1.0 and abs(ec.in_degree(net) - 0.2 * 99) < 2.0
    # the quiet state is homogeneous: every E neuron at r* = 1 from the analytic start
    res = net.run(200, x0=ec.start_state(100, 25), progress=False)
    np.testing.assert_allclose(res.rates[-1][res.populations["E"]], 1.0, atol=1e-12)




def test_compensation_rules_carry_tau_and_kappa():
    from plasticity.rules import BCM

    bcm = ec.compensation_rule("bcm", 1e-4, 30.0, 39.0, theta0=1.02)
    assert isinstance(bcm, BCM) and (bcm.eta, bcm.tau_theta, bcm.theta0, bcm.power) == (1e-4, 30.0, 1.02, 2.0)
    hebb, scaling = ec.compensation_rule("scaling", 1e-4, 30.0, 39.0, theta0=1.0).terms()
    # kappa = K r*^2 / (J* (r* - T)) = 39 / 0.5 = 78 (r* = J* = 1, T = 0.5)
    assert hebb.eta == 1e-4 and scaling.eta == pytest.approx(78 * 1e-4, rel=1e-15)
    assert (scaling.target, scaling.tau) == (0.5, 30.0)


def test_simulate_starts_at_the_fixed_point_displaced_by_delta():
    # BCM at p = 1: rates start at r* = 1 with theta(0) = 1.02, so the first Euler step of J is
    # dt eta K r^2 (r - theta) = -0.1 * 1e-4 * 39 * 0.02 per neuron: J stays 1 to 1e-6 and E drops below 1
    res, K = ec.simulate("bcm", 1e-4, 10.0, 1.0, samples=10)
    assert K == 39.0 and not res.diverged
    e = res.rates[:, res.populations["E"]]
    np.testing.assert_allclose(e[0], 1.0, rtol=1e-12)  # the recorded start is the analytic quiet state
    assert np.all(e[-1] < 1.0) and np.all(e[-1] > 0.999)


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="rule must be one of"):
        ec.compensation_rule("oja", 1e-4, 1.0, 39.0, theta0=1.0)
    with pytest.raises(ValueError, match=r"simulate.tau must be a number in \(0, inf\)"):
        ec.simulate("bcm", 1e-4, -1.0, 1.0)
    with pytest.raises(ValueError, match=r"network.p must be a number in \[0, 1\]"):
        ec.network(p=1.5)
