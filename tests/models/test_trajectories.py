"""models.trajectories: gradient descent on a quadratic (exponent ln|1 - lr h|), the slowest mode of a rotated
quadratic, batched copies against plasticity.metrics.perturbed_trajectories, the common principal frame."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models import feedforward as ff  # noqa: E402
from models import trajectories as tr  # noqa: E402


def _quadratic(H: np.ndarray):
    """grad_fn of L = theta^T H theta / 2 for a batch of rows."""
    Ht = torch.as_tensor(H, dtype=torch.float64)

    def grad_fn(theta, step):
        g = theta @ Ht.T
        return 0.5 * (theta * g).sum(dim=1), g

    return grad_fn


@pytest.mark.parametrize("lr_h", [0.5, 1.5, 1.9, 2.5])
def test_gradient_descent_on_a_quadratic_has_exponent_log_abs_one_minus_lr_h(lr_h):
    # theta <- (1 - lr h) theta: every separation is multiplied by |1 - lr h| per step, so the
    # exponent is ln|1 - lr h| exactly (negative below lr h = 2, positive above: the iteration diverges).
    h = 3.0
    lr = lr_h / h
    theta0 = torch.tensor([0.7], dtype=torch.float64)
    start = torch.cat([theta0[None], tr.perturb(theta0, 3, 1e-6, seed=0)])
    steps = 30  # 0.7 * 1.5**30 = 1.3e5 stays inside the divergence bound (1e6)
    traj, losses, diverged_at = tr.gd_trajectories(_quadratic(np.array([[h]])), start, lr, steps)
    lam, stderr, window, distance, saturated = tr.exponent(traj)
    # a straight line in log distance: the fit is exact to rounding (30 steps, ~1e-16 each)
    assert lam == pytest.approx(math.log(abs(1.0 - lr_h)), abs=1e-10)
    assert diverged_at is None
    if lr_h < 2:
        assert window == (0, steps + 1) and not saturated
    np.testing.assert_allclose(losses[:-1].numpy(), 0.5 * h * 0.7 ** 2 * (1 - lr_h) ** (2 * np.arange(steps)),
                               rtol=1e-12)
    # the same iteration run on is stopped at the bound and reported as diverged
    if lr_h > 2:
        _, _, diverged_at = tr.gd_trajectories(_quadratic(np.array([[h]])), start, lr, 100)
        assert diverged_at == math.ceil(math.log(tr.DIVERGENCE_BOUND / 0.7) / math.log(abs(1 - lr_h)))


def test_gradient_descent_on_a_rotated_quadratic_has_the_slowest_mode():
    # H = Q diag(h) Q^T: the separation ends up along the eigenvector of max |1 - lr h_i|
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    h = np.array([1.0, 0.3, 0.1, 2.0])
    H = Q @ np.diag(h) @ Q.T
    lr = 0.5
    theta0 = torch.as_tensor(rng.standard_normal(4))
    start = torch.cat([theta0[None], tr.perturb(theta0, 3, 1e-7, seed=2)])
    traj, _, _ = tr.gd_trajectories(_quadratic(H), start, lr, 300)
    from plasticity.metrics import trajectory_lyapunov

    res = trajectory_lyapunov(traj.numpy(), fit_window=(150, 301))
    # max |1 - lr h_i| = 0.95 (h = 0.1); the next mode, 0.85, is down by (0.85/0.95)^150 = 6e-8 over the window
    assert res.exponent == pytest.approx(math.log(0.95), rel=1e-6)


def test_batched_copies_equal_plasticity_perturbed_trajectories():
    from plasticity.metrics import perturbed_trajectories

    X, y = ff.two_circles(32, seed=0)
    grad_fn = ff.minibatch_gradient(X, y, 6, 2, seed=0, weight_decay=1e-3)
    theta0 = ff.init_params(6, 0)
    lr, steps, copies = 0.2, 40, 3
    reference = perturbed_trajectories(lambda th, t: th - lr * grad_fn(th[None], t)[1][0], theta0, steps,
                                       copies=copies, eps=1e-8, seed=5)
    start = torch.cat([theta0[None], tr.perturb(theta0, copies, 1e-8, seed=5)])
    batched, _, _ = tr.gd_trajectories(grad_fn, start, lr, steps)
    # identical perturbations, then one-row against batched matrix products (rounding only)
    np.testing.assert_array_equal(batched[:, 0].numpy(), reference[:, 0].numpy())
    np.testing.assert_allclose(batched.numpy(), reference.numpy(), rtol=1e-12, atol=1e-15)


def test_principal_projection_recovers_a_planar_trajectory():
    # points on a plane in R^5: the first two principal components keep every distance
    rng = np.random.default_rng(3)
    basis, _ = np.linalg.qr(rng.standard_normal((5, 2)))
    plane = rng.standard_normal((40, 2)) @ basis.T + 2.0
    other = plane[:10].copy()
    other[3] = np.nan  # a non-finite row stays NaN
    proj, proj_other = tr.principal_projection([plane, other], frame=1)
    d = np.linalg.norm(plane[:, None] - plane[None], axis=2)
    np.testing.assert_allclose(np.linalg.norm(proj[:, None] - proj[None], axis=2), d, atol=1e-12)
    assert np.isnan(proj_other[3]).all()
    np.testing.assert_array_equal(np.delete(proj_other, 3, axis=0), np.delete(proj[:10], 3, axis=0))


def test_perturb_uniform_stays_in_the_box_and_leaves_masked_entries():
    theta0 = torch.arange(6, dtype=torch.float64)
    mask = np.array([True, True, False, True, False, True])
    out = tr.perturb_uniform(theta0, 500, 1e-3, seed=0, mask=mask)
    xi = (out - theta0).numpy()
    assert out.shape == (500, 6) and np.all(np.abs(xi) <= 1e-3)
    assert np.all(xi[:, ~mask] == 0)
    # U(-eps, eps) has mean 0 and variance eps^2 / 3: 2000 draws, 5 standard errors
    assert abs(xi[:, mask].mean()) < 5 * 1e-3 / math.sqrt(3 * 2000)
    assert xi[:, mask].var() == pytest.approx(1e-6 / 3, rel=0.1)
    with pytest.raises(ValueError, match="eps"):
        tr.perturb_uniform(theta0, 2, 0.0, seed=0)


@pytest.mark.parametrize("lr_h", [0.5, 1.5])
def test_train_with_copies_on_a_quadratic(lr_h):
    # both sets of copies contract (or grow) by |1 - lr h| per step: exponent ln|1 - lr h| from the
    # start and from the restart at step burn
    h = 2.0
    grad_fn = _quadratic(np.array([[h]]))
    theta0 = torch.tensor([0.5], dtype=torch.float64)
    run = tr.train_with_copies(grad_fn, theta0, lr_h / h, 40, 2, 1e-6, np.random.default_rng(0), burn=10)
    assert run["diverged_at"] is None and run["burn"] == 10
    assert run["full"].shape == (3, 41, 1) and run["late"].shape == (3, 31, 1)
    # the reference of the late set is the reference of the whole run from step burn on
    np.testing.assert_array_equal(run["late"][0].numpy(), run["full"][0, 10:].numpy())
    for traj in (run["full"], run["late"]):
        assert tr.exponent(traj)[0] == pytest.approx(math.log(abs(1.0 - lr_h)), abs=1e-9)


def test_train_with_copies_reports_divergence_before_burn():
    grad_fn = _quadratic(np.array([[3.0]]))
    run = tr.train_with_copies(grad_fn, torch.tensor([0.7], dtype=torch.float64), 1.0, 200, 2, 1e-6,
                               np.random.default_rng(0))
    # |1 - 3| = 2 per step: past the bound 1e6 at step ceil(log2(1e6 / 0.7)) = 21 < burn = 100
    assert run["diverged_at"] == 21 and run["late"] is None
    assert run["full"].shape == (3, 201, 1) and torch.isnan(run["full"][0, 21:]).all()
    with pytest.raises(ValueError, match="burn"):
        tr.train_with_copies(grad_fn, torch.tensor([0.7], dtype=torch.float64), 0.1, 10, 1, 1e-6,
                             np.random.default_rng(0), burn=10)


def test_best_r2_exponent_finds_the_exponential_stretch():
    # growth at rate 0.2 for 60 steps, then a plateau: the best window lies in the growth, slope exact
    t = np.arange(200)
    d = 1e-8 * np.exp(0.2 * np.minimum(t, 60))
    slope, r2, (a, b) = tr.best_r2_exponent(d)
    assert slope == pytest.approx(0.2, rel=1e-12) and r2 == pytest.approx(1.0)
    assert b <= 61
    # a series that is not finite from the start has no window
    assert math.isnan(tr.best_r2_exponent(np.full(20, np.nan))[0])
