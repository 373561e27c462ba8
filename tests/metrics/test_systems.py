"""Map/Flow systems: call-time shape checks, and analytic vs finite-difference vs autograd Jacobians."""
import re

import numpy as np
import pytest

from plasticity.metrics import Flow, Map, finite_difference_jacobian, flow_jacobian, jacobian_error, map_jacobian
from plasticity.metrics.systems import ACTIVATIONS, rate_system

A, B = 1.4, 0.3
SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0


def henon(x):
    return np.array([1.0 - A * x[0] ** 2 + x[1], B * x[0]])


def henon_jac(x):
    return np.array([[-2.0 * A * x[0], 1.0], [B, 0.0]])


def lorenz(x):
    return np.array([SIGMA * (x[1] - x[0]), x[0] * (RHO - x[2]) - x[1], x[0] * x[1] - BETA * x[2]])


def lorenz_jac(x):
    return np.array([[-SIGMA, SIGMA, 0.0], [RHO - x[2], -1.0, -x[0]], [x[1], x[0], -BETA]])


# central differences with h = eps^(1/3) max(1, |x|): error ~ h^2 |f'''| / 6 + eps |f| / h ~ 1e-10 for
# O(1)-O(10) derivatives, so 1e-8 leaves two orders of margin for the larger entries of Lorenz
FD_TOL = 1e-8


@pytest.mark.parametrize("system, x", [(Map(henon, henon_jac), np.array([0.3, -0.2])),
                                       (Flow(lorenz, lorenz_jac), np.array([1.0, -2.0, 20.0]))], ids=["henon", "lorenz"])
def test_analytic_matches_finite_differences(system, x):
    assert jacobian_error(system, x) < FD_TOL
    numerical = type(system)(system._fn)  # the same system without its Jacobian
    np.testing.assert_allclose(numerical.jacobian(x), system.jacobian(x), rtol=0, atol=FD_TOL * 30)
    V = np.random.default_rng(0).normal(size=(x.size, 1))
    # directional differences along V: the same error bound, scaled by |V|
    np.testing.assert_allclose(numerical.jvp(x, V), system.jacobian(x) @ V, atol=FD_TOL * 30 * np.linalg.norm(V))


def test_wrong_jacobian_is_caught():
    wrong = Map(henon, lambda x: henon_jac(x).T)
    assert jacobian_error(wrong, np.array([0.3, -0.2])) > 0.1
    with pytest.raises(ValueError, match="has no analytic jacobian"):
        jacobian_error(Map(henon), np.zeros(2))


def test_finite_difference_jacobian_of_a_linear_map_is_exact_to_rounding():
    M = np.random.default_rng(1).normal(size=(4, 4))
    # no truncation error for a linear function; rounding ~ eps |M x| / h
    np.testing.assert_allclose(finite_difference_jacobian(lambda x: M @ x, np.ones(4)), M, atol=1e-9)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dynamics, form", [("map", None), ("flow", "current"), ("flow", "rate")])
def test_rate_network_jacobians(activation, dynamics, form):
    rng = np.random.default_rng(2)
    n = 12
    W = rng.normal(0.0, 1.5 / np.sqrt(n), (n, n))
    x = rng.uniform(-1.0, 1.0, n)
    inputs = rng.normal(0.0, 0.3, n)
    if dynamics == "map":
        gain, threshold = rng.uniform(0.5, 1.5, n), rng.normal(0.0, 0.2, n)
        system = rate_system(W, activation, inputs=inputs, gain=gain, threshold=threshold)
        J = map_jacobian(W, x, activation, inputs, gain=gain, threshold=threshold)
    else:
        system = rate_system(W, activation, dynamics="flow", tau=2.0, inputs=inputs, form=form)
        J = flow_jacobian(W, x, activation, 2.0, inputs=inputs, form=form)
    np.testing.assert_array_equal(system.jacobian(x), J)
    # relu's kink: random points are a.s. away from it, and the FD step (1e-5) is far smaller than the margin
    assert jacobian_error(system, x) < FD_TOL
    assert system.dim == n


@pytest.mark.parametrize("dynamics, form", [("map", "current"), ("flow", "current"), ("flow", "rate")])
def test_rate_system_tangent_map_matches_its_jacobian(dynamics, form):
    rng = np.random.default_rng(5)
    n = 70  # wide V goes through scipy's dgemm, a single column through numpy
    W, x = rng.normal(0.0, 1.0 / np.sqrt(n), (n, n)), rng.uniform(-1, 1, n)
    system = rate_system(W, "tanh", dynamics, tau=1.5, inputs=0.2, form=form)
    for V in (rng.normal(size=(n, 9)), np.asfortranarray(rng.normal(size=(n, 9))), rng.normal(size=(n, 1))):
        # two summation orders of the same products: rounding of n-term sums
        np.testing.assert_allclose(system.jvp(x, V), system.jacobian(x) @ V, rtol=1e-12, atol=1e-13)
    y = system(x)
    x[0] += 0.5  # the remembered W x must not go stale when the caller reuses its array
    np.testing.assert_allclose(system.jvp(x, np.eye(n)[:, :3]), system.jacobian(x)[:, :3], atol=1e-13)
    assert not np.allclose(system(x), y)


def test_rate_system_dynamics_are_the_documented_equations():
    rng = np.random.default_rng(3)
    W, x, I = rng.normal(size=(5, 5)), rng.normal(size=5), rng.normal(size=5)
    np.testing.assert_allclose(rate_system(W, "tanh", inputs=I)(x), np.tanh(W @ x + I), rtol=1e-15)
    np.testing.assert_allclose(rate_system(W, "tanh", "flow", tau=2.0, inputs=I)(x), (-x + W @ np.tanh(x) + I) / 2.0, rtol=1e-14)
    np.testing.assert_allclose(rate_system(W, "sigmoid", "flow", tau=2.0, inputs=I, form="rate")(x),
                               (-x + 1.0 / (1.0 + np.exp(-(W @ x + I)))) / 2.0, rtol=1e-14)


@pytest.mark.parametrize("form", ["current", "rate"])
def test_rate_flow_with_gains_thresholds_and_a_time_constant_per_neuron(form):
    rng = np.random.default_rng(6)
    n = 10
    W, x, I = rng.normal(0.0, 1.0 / np.sqrt(n), (n, n)), rng.uniform(-1, 1, n), rng.normal(0.0, 0.3, n)
    gain, threshold, tau = rng.uniform(0.5, 1.5, n), rng.normal(0.0, 0.2, n), rng.uniform(0.5, 2.0, n)
    system = rate_system(W, "sigmoid", "flow", tau=tau, inputs=I, gain=gain, threshold=threshold, form=form)

    def sig(u):
        return 1.0 / (1.0 + np.exp(-u))

    u = gain * x - threshold if form == "current" else gain * (W @ x + I) - threshold
    expected = (-x + W @ sig(u) + I) / tau if form == "current" else (-x + sig(u)) / tau
    np.testing.assert_allclose(system(x), expected, rtol=1e-14)
    assert jacobian_error(system, x) < FD_TOL
    J = flow_jacobian(W, x, "sigmoid", tau, inputs=I, form=form, gain=gain, threshold=threshold)
    np.testing.assert_array_equal(system.jacobian(x), J)
    V = rng.normal(size=(n, 3))
    np.testing.assert_allclose(system.jvp(x, V), J @ V, rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match=r"rate_system: tau must be a number in \(0, inf\) or an array of shape \(10,\)"):
        rate_system(W, "tanh", "flow", tau=-tau)


def test_rate_system_takes_an_activation_per_neuron():
    from plasticity.activations import PerNeuronActivation

    rng = np.random.default_rng(7)
    n = 8
    W, x = np.abs(rng.normal(0.0, 0.5, (n, n))), rng.uniform(0.2, 1.0, n)
    phi = PerNeuronActivation([(slice(0, 5), "power", 0.5, 2.0, None), (slice(5, 8), "rectified_tanh", 1.0, 2.0, None)])
    system = rate_system(W, phi, inputs=0.3)
    u = W @ x + 0.3  # every input positive: away from the kinks
    np.testing.assert_allclose(system(x), np.concatenate([0.5 * u[:5] ** 2, np.tanh(u[5:])]), rtol=1e-14)
    assert jacobian_error(system, x) < FD_TOL


# -- call-time checks --------------------------------------------------------------------------
def test_wrong_output_shapes_name_the_callable():
    bad_step = Map(lambda x: np.zeros(3), henon_jac)
    with pytest.raises(ValueError, match=re.escape("Map: step(x) returned shape (3,); expected (2,) for x of shape (2,)")):
        bad_step(np.zeros(2))
    bad_jac = Map(henon, lambda x: np.zeros((2, 3)))
    with pytest.raises(ValueError, match=re.escape("Map: jacobian(x) returned shape (2, 3); expected (2, 2)")):
        bad_jac.jacobian(np.zeros(2))
    bad_rhs = Flow(lambda x: x[:2], lorenz_jac)
    with pytest.raises(ValueError, match=re.escape("Flow: rhs(x) returned shape (2,); expected (3,)")):
        bad_rhs(np.zeros(3))
    with pytest.raises(ValueError, match=re.escape("Map.__call__: x must be a state vector of shape (2,); got shape (3,)")):
        Map(henon, dim=2)(np.zeros(3))


def test_constructor_rejects_non_callables():
    with pytest.raises(TypeError, match="Map: step must be a callable"):
        Map(np.eye(2))
    with pytest.raises(TypeError, match="Flow: jacobian must be a callable"):
        Flow(lorenz, jacobian=np.eye(3))
    with pytest.raises(ValueError, match=r"Map.dim must be an integer in \[1, inf\)"):
        Map(henon, dim=0)


def test_rate_helpers_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"map_jacobian: W must be a square 2-D matrix"):
        map_jacobian(np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"map_jacobian: x has shape \(3,\); expected \(2,\)"):
        map_jacobian(np.eye(2), np.ones(3))
    with pytest.raises(ValueError, match=r"flow_jacobian.activation must be one of"):
        flow_jacobian(np.eye(2), np.ones(2), "softplus")
    with pytest.raises(ValueError, match=r"flow_jacobian.tau must be a number in \(0, inf\); got -1"):
        flow_jacobian(np.eye(2), np.ones(2), "tanh", tau=-1.0)
    with pytest.raises(ValueError, match=r"rate_system: inputs must be None, a scalar or shape \(2,\)"):
        rate_system(np.eye(2), inputs=np.ones(3))


# -- torch -------------------------------------------------------------------------------------
torch = pytest.importorskip("torch")


def henon_t(x):
    return torch.stack([1.0 - A * x[0] ** 2 + x[1], B * x[0]])


def test_autograd_matches_analytic():
    x = torch.tensor([0.3, -0.2], dtype=torch.float64)
    auto = Map(henon_t).jacobian(x)
    assert isinstance(auto, torch.Tensor)
    # the same arithmetic differentiated exactly: agreement to rounding
    np.testing.assert_allclose(auto.numpy(), henon_jac(x.numpy()), rtol=0, atol=1e-15)
    analytic = Map(henon_t, lambda x: torch.tensor(henon_jac(x.numpy())))
    assert jacobian_error(analytic, x) < 1e-15


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_rate_jacobians_torch_match_numpy(activation):
    rng = np.random.default_rng(4)
    W, x = rng.normal(size=(6, 6)), rng.normal(size=6)
    Wt, xt = torch.tensor(W), torch.tensor(x)
    # same formula, elementwise functions from two libraries: a few ulps
    np.testing.assert_allclose(map_jacobian(Wt, xt, activation, 0.1).numpy(), map_jacobian(W, x, activation, 0.1), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(flow_jacobian(Wt, xt, activation, 3.0).numpy(), flow_jacobian(W, x, activation, 3.0), rtol=1e-13, atol=1e-15)
    system = rate_system(Wt, activation)
    assert jacobian_error(system, xt) < 1e-13  # autograd of the same torch step: rounding


def test_type_mismatch_is_reported():
    with pytest.raises(TypeError, match="Map: step must map a tensor to a tensor"):
        Map(henon)(torch.zeros(2, dtype=torch.float64))
    with pytest.raises(TypeError, match="Map: step returned a tensor for a numpy state"):
        Map(lambda x: torch.zeros(2))(np.zeros(2))
