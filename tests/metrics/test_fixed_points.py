"""Fixed points: analytic solutions, known saddles and nodes, map vs flow labels, the slow-point fallback."""
import re

import numpy as np
import pytest

from plasticity.metrics import FixedPoint, Flow, Map, fixed_points
from plasticity.metrics.systems import rate_system


def bistable(x):
    """dx/dt = x - x^3, dy/dt = -y: saddle at 0, stable nodes at (+-1, 0) (Strogatz 2015, ex. 6.1)."""
    return np.array([x[0] - x[0] ** 3, -x[1]])


def bistable_jac(x):
    return np.array([[1.0 - 3.0 * x[0] ** 2, 0.0], [0.0, -1.0]])


def _by_first_coordinate(points):
    return sorted(points, key=lambda p: float(p.x[0]))


@pytest.mark.parametrize("eigs, label", [((-1.0, -0.5, -2.0), "stable"), ((1.0, 0.5, 2.0), "unstable"), ((-1.0, 0.5, -2.0), "saddle")])
def test_linear_flow(eigs, label):
    rng = np.random.default_rng(0)
    V = rng.normal(size=(3, 3))
    A = V @ np.diag(eigs) @ np.linalg.inv(V)
    b = rng.normal(size=3)
    found = fixed_points(Flow(lambda x: A @ x + b, lambda x: A), rng.normal(size=(5, 3)))
    assert len(found) == 1  # one solution of A x = -b; Newton lands on it in one step from every start
    fp = found[0]
    # residual <= tol = 1e-10, and A is well conditioned: the position is exact to ~1e-10
    np.testing.assert_allclose(fp.x, np.linalg.solve(A, -b), atol=1e-9)
    assert fp.residual <= 1e-10 and fp.label == label and fp.kind == "flow" and fp.method == "newton"
    np.testing.assert_allclose(np.sort(fp.eigenvalues.real), np.sort(eigs), atol=1e-12)


def test_linear_map():
    A = np.array([[0.5, 0.2], [-0.1, 0.3]])
    b = np.array([1.0, -2.0])
    (fp,) = fixed_points(Map(lambda x: A @ x + b, lambda x: A), np.zeros((1, 2)))
    np.testing.assert_allclose(fp.x, np.linalg.solve(np.eye(2) - A, b), atol=1e-12)
    assert fp.label == "stable" and fp.kind == "map"


def test_bistable_flow_saddle_and_nodes():
    found = _by_first_coordinate(fixed_points(Flow(bistable, bistable_jac, dim=2), 30, seed=0))
    assert len(found) == 3
    for fp, x, label, eigs in zip(found, (-1.0, 0.0, 1.0), ("stable", "saddle", "stable"), ((-1.0, -2.0), (1.0, -1.0), (-1.0, -2.0))):
        np.testing.assert_allclose(fp.x, [x, 0.0], atol=1e-10)  # residual <= 1e-10 and |dG/dx| >= 1 near each point
        assert fp.label == label
        np.testing.assert_allclose(fp.eigenvalues, eigs, atol=1e-9)  # sorted by Re lambda, descending
        np.testing.assert_allclose(fp.jacobian, bistable_jac(fp.x), atol=0)


def test_lorenz_fixed_points():
    s, r, b = 10.0, 28.0, 8.0 / 3.0
    lorenz = Flow(lambda x: np.array([s * (x[1] - x[0]), x[0] * (r - x[2]) - x[1], x[0] * x[1] - b * x[2]]),
                  lambda x: np.array([[-s, s, 0.0], [r - x[2], -1.0, -x[0]], [x[1], x[0], -b]]), dim=3)
    found = _by_first_coordinate(fixed_points(lorenz, np.array([[-8.0, -8.0, 26.0], [0.5, -0.3, 0.2], [9.0, 8.0, 28.0]])))
    c = np.sqrt(b * (r - 1))
    # Strogatz (2015), sec. 9.2: the origin and C+- = (+-sqrt(b(r-1)), +-sqrt(b(r-1)), r-1); for r = 28 all are
    # saddles (C+-: one real eigenvalue -13.85 and a complex pair 0.094 +- 10.19i, unstable past r_H = 24.74)
    for fp, x in zip(found, ([-c, -c, r - 1], [0.0, 0.0, 0.0], [c, c, r - 1])):
        np.testing.assert_allclose(fp.x, x, atol=1e-10)
        assert fp.label == "saddle"
    # at C+-, lambda^3 + (s + b + 1) lambda^2 + b (r + s) lambda + 2 b s (r - 1) = 0 (Strogatz 2015, ex. 9.2.1)
    roots = np.roots([1.0, s + b + 1.0, b * (r + s), 2.0 * b * s * (r - 1.0)])
    for fp in (found[0], found[2]):
        np.testing.assert_allclose(np.sort_complex(fp.eigenvalues), np.sort_complex(roots), atol=1e-10)
    np.testing.assert_allclose(sorted(found[0].eigenvalues.real), [-13.8546, 0.0940, 0.0940], atol=1e-4)


def test_map_and_flow_labels_are_judged_differently():
    J = np.diag([-0.5, 0.5])
    (as_map,) = fixed_points(Map(lambda x: J @ x, lambda x: J), np.ones((1, 2)))
    (as_flow,) = fixed_points(Flow(lambda x: J @ x, lambda x: J), np.ones((1, 2)))
    assert as_map.label == "stable"  # |lambda| = 0.5 < 1 for both
    assert as_flow.label == "saddle"  # Re lambda = -0.5, +0.5
    (expanding,) = fixed_points(Map(lambda x: 3.0 * x, lambda x: 3.0 * np.eye(2)), np.ones((1, 2)))
    assert expanding.label == "unstable"
    (euler_saddle,) = fixed_points(Map(lambda x: x + 0.1 * bistable(x), lambda x: np.eye(2) + 0.1 * bistable_jac(x)),
                                   np.array([[0.05, 0.3]]))
    assert euler_saddle.label == "saddle"  # eigenvalues 1.1 and 0.9
    # marginal: identity map has every point fixed, |lambda| = 1
    (marginal,) = fixed_points(Map(lambda x: np.zeros(1) + 0.5 * x + 0.5 * x, lambda x: np.eye(1)), np.ones((1, 1)))
    assert marginal.marginal


def test_small_g_rate_network_has_only_the_origin():
    n, g = 60, 0.5
    W = np.random.default_rng(1).normal(0.0, g / np.sqrt(n), (n, n))
    found = fixed_points(rate_system(W), 10, seed=2)
    assert len(found) == 1
    (fp,) = found
    assert np.max(np.abs(fp.x)) < 1e-10 and fp.label == "stable"
    # at the origin J = W (tanh'(0) = 1)
    np.testing.assert_allclose(np.sort(np.abs(fp.eigenvalues)), np.sort(np.abs(np.linalg.eigvals(W))), atol=1e-12)


def test_slow_point_minimisation_takes_over_when_newton_fails():
    # three Newton iterations are too few from x = 30; minimising q then polishing finds the node at +1
    (fp,) = fixed_points(Flow(bistable, bistable_jac), np.array([[30.0, 2.0]]), max_iter=3)
    assert fp.method == "minimize"
    np.testing.assert_allclose(fp.x, [1.0, 0.0], atol=1e-10)


def test_chaotic_network_points_are_fixed_points():
    n = 40
    W = np.random.default_rng(3).normal(0.0, 2.0 / np.sqrt(n), (n, n))
    system = rate_system(W)
    found = fixed_points(system, 8, seed=4)
    assert len(found) >= 2  # the origin and at least one +-x pair (tanh is odd)
    for fp in found:
        assert np.linalg.norm(np.tanh(W @ fp.x) - fp.x) <= 1e-10  # checked with an independent evaluation
        np.testing.assert_allclose(fp.eigenvalues, sorted(np.linalg.eigvals(fp.jacobian), key=lambda z: -abs(z)), atol=1e-12)
    xs = [fp.x for fp in found]
    assert all(np.max(np.abs(a - b)) > 1e-6 for i, a in enumerate(xs) for b in xs[i + 1:])  # deduplicated


def test_same_seed_same_starts():
    system = Flow(bistable, bistable_jac, dim=2)
    a = [fp.x for fp in fixed_points(system, 5, seed=9)]
    b = [fp.x for fp in fixed_points(system, 5, seed=9)]
    assert len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="fixed_points: starts is an integer .* dimension is unknown; pass dim=n"):
        fixed_points(Flow(bistable), 5)
    with pytest.raises(ValueError, match=re.escape("fixed_points: starts has shape (1, 3); expected (m, 2)")):
        fixed_points(Flow(bistable, dim=2), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="fixed_points: starts must be finite"):
        fixed_points(Flow(bistable), np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match=re.escape("fixed_points.tol must be a number in (0, inf); got 0.0")):
        fixed_points(Flow(bistable), np.zeros((1, 2)), tol=0.0)
    with pytest.raises(ValueError, match=re.escape("fixed_points.starts must be an integer in [1, inf); got 0")):
        fixed_points(Flow(bistable, dim=2), 0)
    with pytest.raises(TypeError, match="fixed_points: system must be a plasticity.metrics.Map or Flow"):
        fixed_points(bistable, np.zeros((1, 2)))
    with pytest.raises(ValueError, match=re.escape("Flow: rhs(x) returned shape (3,); expected (2,)")):
        fixed_points(Flow(lambda x: np.zeros(3)), np.zeros((1, 2)))


def test_torch_starts_give_tensors():
    torch = pytest.importorskip("torch")

    def bistable_t(x):
        return torch.stack([x[0] - x[0] ** 3, -x[1]])

    starts = torch.tensor([[0.7, 0.3], [-0.6, 0.1], [0.05, -0.2]], dtype=torch.float64)
    found = _by_first_coordinate(fixed_points(Flow(bistable_t), starts))  # autograd Jacobian
    assert [fp.label for fp in found] == ["stable", "saddle", "stable"]
    assert all(isinstance(fp.x, torch.Tensor) and fp.x.dtype == torch.float64 for fp in found)
    assert isinstance(found[0], FixedPoint)
    np.testing.assert_allclose(torch.stack([fp.x for fp in found]).numpy(), [[-1, 0], [0, 0], [1, 0]], atol=1e-10)
