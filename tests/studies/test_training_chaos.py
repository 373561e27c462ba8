"""studies/training_chaos.py: its trainer against gradient descent on a quadratic (exponent ln|1 - lr h|),
its hand-written gradient against autograd, its batched copies against plasticity.metrics.perturbed_trajectories,
and the point function at a tiny size (regular at small lr, chaotic at large lr, divergence as a result)."""
import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from studies import training_chaos as tc  # noqa: E402

TINY = {"batches": 1, "n_hidden": 8, "n_samples": 64, "steps": 600, "copies": 2}


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
    start = torch.cat([theta0[None], tc.perturb(theta0, 3, 1e-6, seed=0)])
    steps = 30  # 0.7 * 1.5**30 = 1.3e5 stays inside the divergence bound (1e6)
    traj, losses, diverged_at = tc.gd_trajectories(_quadratic(np.array([[h]])), start, lr, steps)
    lam, stderr, window, distance, saturated = tc.exponent(traj)
    # a straight line in log distance: the fit is exact to rounding (30 steps, ~1e-16 each)
    assert lam == pytest.approx(math.log(abs(1.0 - lr_h)), abs=1e-10)
    assert diverged_at is None
    if lr_h < 2:
        assert window == (0, steps + 1) and not saturated
    np.testing.assert_allclose(losses[:-1].numpy(), 0.5 * h * 0.7 ** 2 * (1 - lr_h) ** (2 * np.arange(steps)),
                               rtol=1e-12)
    # the same iteration run on is stopped at the bound and reported as diverged
    if lr_h > 2:
        _, _, diverged_at = tc.gd_trajectories(_quadratic(np.array([[h]])), start, lr, 100)
        assert diverged_at == math.ceil(math.log(tc.BOUND / 0.7) / math.log(abs(1 - lr_h)))


def test_gradient_descent_on_a_rotated_quadratic_has_the_slowest_mode():
    # H = Q diag(h) Q^T: the separation ends up along the eigenvector of max |1 - lr h_i|
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    h = np.array([1.0, 0.3, 0.1, 2.0])
    H = Q @ np.diag(h) @ Q.T
    lr = 0.5
    theta0 = torch.as_tensor(rng.standard_normal(4))
    start = torch.cat([theta0[None], tc.perturb(theta0, 3, 1e-7, seed=2)])
    traj, _, _ = tc.gd_trajectories(_quadratic(H), start, lr, 300)
    from plasticity.metrics import trajectory_lyapunov

    res = trajectory_lyapunov(traj.numpy(), fit_window=(150, 301))
    # max |1 - lr h_i| = 0.95 (h = 0.1); the next mode, 0.85, is down by (0.85/0.95)^150 = 6e-8 over the window
    assert res.exponent == pytest.approx(math.log(0.95), rel=1e-6)


def test_hand_gradient_matches_autograd():
    X, y = tc.two_circles(20, seed=3)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    theta = torch.stack([tc.init_params(5, s) + 0.3 * torch.randn(tc.n_params(5), dtype=torch.float64,
                                                                  generator=torch.Generator().manual_seed(s))
                         for s in range(3)])
    loss, grad = tc.loss_and_grad(theta, Xt, yt, 5, weight_decay=0.01)
    leaf = theta.clone().requires_grad_(True)
    r = tc.network_output(leaf, Xt, 5) - yt
    auto_loss = 0.5 * (r * r).mean(dim=1) + 0.5 * 0.01 * (leaf * leaf).sum(dim=1)
    (auto_grad,) = torch.autograd.grad(auto_loss.sum(), leaf)
    # same float64 arithmetic in another order
    np.testing.assert_allclose(loss.numpy(), auto_loss.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(grad.numpy(), auto_grad.numpy(), rtol=1e-11, atol=1e-14)


def test_minibatches_partition_the_data_in_a_fixed_order():
    X, y = tc.two_circles(24, seed=0)
    theta = tc.init_params(4, 0)[None]
    full = tc.minibatch_gradient(X, y, 4, 1, seed=0)
    mini = tc.minibatch_gradient(X, y, 4, 3, seed=0)
    # equal batches of 8: the mean of one epoch of minibatch gradients is the full-batch gradient
    epoch = sum(mini(theta, t)[1] for t in range(3)) / 3
    np.testing.assert_allclose(epoch.numpy(), full(theta, 0)[1].numpy(), rtol=1e-12, atol=1e-15)
    # step t uses batch t mod 3, the same batch for every copy
    np.testing.assert_array_equal(mini(theta, 4)[1].numpy(), mini(theta, 1)[1].numpy())


def test_batched_copies_equal_plasticity_perturbed_trajectories():
    from plasticity.metrics import perturbed_trajectories

    X, y = tc.two_circles(32, seed=0)
    grad_fn = tc.minibatch_gradient(X, y, 6, 2, seed=0)
    theta0 = tc.init_params(6, 0)
    lr, steps, copies = 0.2, 40, 3
    reference = perturbed_trajectories(lambda th, t: th - lr * grad_fn(th[None], t)[1][0], theta0, steps,
                                       copies=copies, eps=1e-8, seed=5)
    start = torch.cat([theta0[None], tc.perturb(theta0, copies, 1e-8, seed=5)])
    batched, _, _ = tc.gd_trajectories(grad_fn, start, lr, steps)
    # identical perturbations, then one-row against batched matrix products (rounding only)
    np.testing.assert_array_equal(batched[:, 0].numpy(), reference[:, 0].numpy())
    np.testing.assert_allclose(batched.numpy(), reference.numpy(), rtol=1e-12, atol=1e-15)


@pytest.fixture(scope="module")
def runs():
    return {lr: tc.point(lr=lr, seed=0, **TINY) for lr in (0.2, 0.5, 3.0)}


def test_small_lr_trains_regularly(runs):
    r = runs[0.2]
    assert not r["diverged"] and not r["saturated"]
    # the weights reached by training are a strictly stable minimum: nearby copies started there
    # converge (negative exponent; its size is set by lr times the smallest Hessian eigenvalue)
    assert r["late_exponent"] < 0
    # from the initial weights the separation grows by less than 100x over the whole run (no
    # exponential divergence; Danovski et al. 2024 report the same non-monotonic, marginal growth)
    assert r["separation"] < 2.0
    # gradient descent at the minimum is linearly stable: lr * lambda_max < 2
    assert 0.2 * r["sharpness"] < 2.0
    assert r["final_accuracy"] > 0.9 and r["final_loss"] < r["loss_t"][0]


def test_large_lr_training_is_chaotic(runs):
    r = runs[0.5]
    assert not r["diverged"]
    # copies 1e-8 apart separate exponentially until they are as far apart as the trajectory is long
    assert r["exponent"] > 0.01 and r["saturated"] and r["separation"] > 6.0
    assert r["exponent"] > 10 * runs[0.2]["exponent"]
    # past the edge of stability: the minima found at small lr are linearly unstable at this lr
    assert 0.5 * runs[0.2]["sharpness"] > 2.0


def test_divergence_is_a_result(runs):
    r = runs[3.0]
    assert r["diverged"] and 0 < r["diverged_at"] < TINY["steps"]
    assert math.isnan(r["final_loss"]) and math.isnan(r["late_exponent"])
    k = int(r["diverged_at"])
    assert np.all(np.isfinite(r["loss_t"][:k])) and np.all(np.isnan(r["loss_t"][k + 1:]))


def test_point_is_deterministic(runs):
    again = tc.point(lr=0.5, seed=0, **TINY)
    for key in ("exponent", "late_exponent", "sharpness", "final_loss"):
        assert again[key] == runs[0.5][key]
    np.testing.assert_array_equal(again["distance_t"], runs[0.5]["distance_t"])


def test_summary_and_figure(runs):
    rows = [{"lr": lr, "seed": 0, **TINY, **res, "error": None} for lr, res in runs.items()]
    rows += [{**row, "seed": 1} for row in rows]  # a second seed (a copy) for the error bars
    table = pd.DataFrame(rows)
    summary = tc.summarize(table)
    assert list(summary["lr"]) == [0.2, 0.5, 3.0]
    assert list(summary["diverged"]) == [0, 0, 2] and list(summary["saturated"]) == [0, 2, 0]
    assert tc.transition_lr(table) == pytest.approx(math.sqrt(0.2 * 0.5))
    assert tc.edge_of_stability_lr(table) == pytest.approx(2.0 / runs[0.2]["sharpness"])
    fig = tc.figure(table)
    axes = fig.get_axes()
    assert [ax.get_title(loc="left") for ax in axes] == [f"({c})" for c in "abcdef"]
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)
