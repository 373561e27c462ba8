"""Pointwise affine form of piecewise-linear networks, against a plain forward pass, torch
autograd Jacobians, and brute-force scans of the activation pattern along a ray."""
from __future__ import annotations

import math

import numpy as np
import pytest

from plasticity.metrics import (
    activation_pattern,
    activation_region_exit,
    affine_eigenvalues,
    pointwise_affine,
    same_region,
)

torch = pytest.importorskip("torch")

SIZES = [(5, 16, 12, 5), (3, 7, 2), (4, 4)]
ACTS = [("relu", 0.01), ("leaky_relu", 0.2), ("linear", 0.01)]


def _pairs(sizes, seed):
    rng = np.random.default_rng(seed)
    return [
        (rng.normal(0, 1 / math.sqrt(n_in), (n_out, n_in)), rng.normal(0, 0.3, n_out))
        for n_in, n_out in zip(sizes, sizes[1:])
    ]


def _forward(pairs, x, activation, slope):
    """Plain numpy forward pass: activation between layers, not after the last."""
    phi = {
        "relu": lambda z: np.maximum(z, 0.0),
        "leaky_relu": lambda z: np.where(z > 0, z, slope * z),
        "linear": lambda z: z,
    }[activation]
    for k, (W, b) in enumerate(pairs):
        x = W @ x + b
        if k < len(pairs) - 1:
            x = phi(x)
    return x


def _sequential(pairs, activation, slope):
    layers = []
    for k, (W, b) in enumerate(pairs):
        lin = torch.nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if k < len(pairs) - 1:
            act = {"relu": torch.nn.ReLU, "leaky_relu": lambda: torch.nn.LeakyReLU(slope), "linear": torch.nn.Identity}
            layers.append(act[activation]())
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("activation, slope", ACTS)
def test_affine_form_reproduces_the_network(sizes, activation, slope):
    for seed in range(5):
        pairs = _pairs(sizes, seed)
        x = np.random.default_rng(100 + seed).standard_normal(sizes[0])
        A, b = pointwise_affine(pairs, x, activation=activation, negative_slope=slope)
        assert A.shape == (sizes[-1], sizes[0]) and b.shape == (sizes[-1],)
        # same float64 products regrouped: agreement to a few ulps of the intermediate sums
        np.testing.assert_allclose(A @ x + b, _forward(pairs, x, activation, slope), rtol=1e-12, atol=1e-13)
        net = _sequential(pairs, activation, slope)
        At, bt = pointwise_affine(net, torch.from_numpy(x))
        xt = torch.from_numpy(x)
        np.testing.assert_allclose(At.detach().numpy(), A, rtol=1e-12, atol=1e-14)  # numpy list == torch Sequential
        np.testing.assert_allclose((At @ xt + bt).detach().numpy(), net(xt).detach().numpy(), rtol=1e-12, atol=1e-13)
        J = torch.autograd.functional.jacobian(net, xt)
        np.testing.assert_allclose(At.detach().numpy(), J.numpy(), rtol=1e-12, atol=1e-14)  # A is the Jacobian


def test_nested_sequential_float32_and_gradient_through_weights():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.ReLU()), torch.nn.Linear(6, 3))
    x = torch.randn(3)
    A, b = pointwise_affine(net, x)
    assert A.dtype == torch.float32
    torch.testing.assert_close(A @ x + b, net(x))  # float32 default tolerances (~1e-5)
    A.sum().backward()  # A is differentiable in the weights
    assert net[1].weight.grad is not None and net[0][0].weight.grad is not None


def test_eigenvalues_of_square_net():
    pairs = _pairs((4, 9, 4), seed=3)
    x = np.random.default_rng(0).standard_normal(4)
    ev = affine_eigenvalues(pairs, x)
    J = torch.autograd.functional.jacobian(_sequential(pairs, "relu", 0.0), torch.from_numpy(x)).numpy()
    ref = np.linalg.eigvals(J)
    np.testing.assert_allclose(np.sort_complex(ev), np.sort_complex(ref), rtol=1e-10, atol=1e-12)
    assert np.all(np.diff(np.abs(ev)) <= 1e-15)  # sorted by decreasing modulus
    # a single linear layer: A = W everywhere
    W = pairs[0][0][:4, :4]
    ev_linear = affine_eigenvalues([(W, None)], x)
    np.testing.assert_allclose(np.sort_complex(ev_linear), np.sort_complex(np.linalg.eigvals(W)), rtol=1e-12)
    with pytest.raises(ValueError, match=r"A\(x\) has shape \(9, 4\); eigenvalues need n_out == n_in"):
        affine_eigenvalues(pairs[:1], x)


def _first_pattern_change(pairs, x, d, s_max, n, activation, slope):
    """Brute force: scan s on a grid and return the first grid step whose pattern differs."""
    p0 = activation_pattern(pairs, x, activation, slope)
    s_grid = np.linspace(0.0, s_max, n)
    for s in s_grid[1:]:
        if not all(np.array_equal(a, b) for a, b in zip(p0, activation_pattern(pairs, x + s * d, activation, slope))):
            return s, s_grid[1] - s_grid[0]
    return math.inf, None


@pytest.mark.parametrize("activation, slope", [("relu", 0.0), ("leaky_relu", 0.1)])
def test_region_exit_inside_affine_outside_not(activation, slope):
    pairs = _pairs((4, 10, 8, 3), seed=11)
    rng = np.random.default_rng(5)
    for _ in range(4):
        x, d = rng.standard_normal(4), rng.standard_normal(4)
        s_exit = activation_region_exit(pairs, x, d, activation, slope)
        assert 0 < s_exit < math.inf
        A, b = pointwise_affine(pairs, x, activation, slope)
        for frac in (0.5, 0.999999):  # inside: same pattern, the same affine map is exact
            y = x + frac * s_exit * d
            assert same_region(pairs, x, y, activation, slope)
            np.testing.assert_allclose(A @ y + b, _forward(pairs, y, activation, slope), rtol=1e-11, atol=1e-12)
        y = x + 1.01 * s_exit * d  # just outside: another pattern, and the old map is wrong
        assert not same_region(pairs, x, y, activation, slope)
        assert np.max(np.abs(A @ y + b - _forward(pairs, y, activation, slope))) > 1e-8
        # independent check: scan the pattern on a grid of step s_exit / 1000
        s_coarse, h = _first_pattern_change(pairs, x, d, 2.0 * s_exit, n=2001, activation=activation, slope=slope)
        assert s_coarse - h <= s_exit <= s_coarse


def test_region_exit_never_for_linear_and_zero_direction():
    pairs = _pairs((3, 5, 2), seed=0)
    x = np.ones(3)
    assert activation_region_exit(pairs, x, np.array([1.0, 0.0, 0.0]), activation="linear") == math.inf
    assert activation_region_exit(pairs, x, np.zeros(3)) == math.inf
    # an on unit whose pre-activation grows without bound along d never exits
    W = np.array([[1.0, 0.0], [0.0, 1.0]])
    net = [(W, np.zeros(2)), (np.ones((1, 2)), None)]
    assert activation_region_exit(net, np.array([1.0, 1.0]), np.array([1.0, 2.0])) == math.inf
    # unit 0 at z = 1 heading down at rate 2 exits at s = 0.5 exactly
    assert activation_region_exit(net, np.array([1.0, 1.0]), np.array([-2.0, 0.0])) == 0.5


def test_torch_region_exit_matches_numpy():
    pairs = _pairs((4, 10, 4), seed=2)
    net = _sequential(pairs, "relu", 0.0)
    x, d = np.random.default_rng(1).standard_normal((2, 4))
    s_np = activation_region_exit(pairs, x, d)
    s_t = activation_region_exit(net, torch.from_numpy(x), torch.from_numpy(d))
    assert s_t == pytest.approx(s_np, rel=1e-12)  # same float64 arithmetic, regrouped
    assert same_region(net, torch.from_numpy(x), torch.from_numpy(x + 0.5 * s_np * d))


def test_errors_name_layer_and_shapes():
    x = np.zeros(3)
    with pytest.raises(TypeError, match=r"net\[1\] is Tanh; supported layers are Linear, ReLU, LeakyReLU, Identity"):
        pointwise_affine(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)), torch.zeros(3))
    with pytest.raises(TypeError, match=r"net must be a torch.nn.Sequential or"):
        pointwise_affine(torch.nn.Linear(3, 3), torch.zeros(3))
    with pytest.raises(ValueError, match=r"net\[1\] weight W has shape \(2, 5\); expected 5 == 4 inputs"):
        pointwise_affine([(np.ones((4, 3)), np.zeros(4)), (np.ones((2, 5)), np.zeros(2))], x)
    with pytest.raises(ValueError, match=r"net\[0\] bias b has shape \(3,\); expected \(4,\)"):
        pointwise_affine([(np.ones((4, 3)), np.zeros(3))], x)
    with pytest.raises(ValueError, match=r"x has shape \(1, 3\); expected \(3,\)"):
        pointwise_affine([(np.ones((4, 3)), None)], np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"pointwise_affine\.activation must be one of .*; got 'tanh'"):
        pointwise_affine([(np.ones((4, 3)), None)], x, activation="tanh")
    with pytest.raises(ValueError, match=r"net\[2\] is Linear with in_features=5; expected 4"):
        pointwise_affine(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(5, 2)), torch.zeros(3))
    with pytest.raises(ValueError, match=r"direction has shape \(2,\); expected \(3,\)"):
        activation_region_exit([(np.ones((4, 3)), None), (np.ones((1, 4)), None)], x, np.ones(2))
