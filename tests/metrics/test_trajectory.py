"""Maximal Lyapunov exponent from perturbed trajectories, against analytic exponents: linear
maps (ln|a|), the logistic map at r = 4 (ln 2; Ott, Chaos in Dynamical Systems, 2002, sec. 3.4)
and gradient descent on a quadratic loss (max_i ln|1 - lr h_i|)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from plasticity.metrics import perturbed_trajectories, trajectory_lyapunov


def _logistic(theta, step):
    return 4.0 * theta * (1.0 - theta)


@pytest.mark.parametrize("a", [1.5, 0.7, -1.3, 1.0])
def test_linear_map_gives_log_abs_a(a):
    X = perturbed_trajectories(lambda th, s: a * th, np.array([1.0, -2.0, 0.5]), 60, copies=3, eps=1e-4, seed=0)
    res = trajectory_lyapunov(X)
    # a linear map never saturates; a growing run loses only the records above 0.1 x its
    # largest separation (ln 10 / ln|a| <= 9 records)
    assert res.fit_window[0] == 0 and res.fit_window[1] >= 61 - 9
    # d(t) = |a|^t eps up to rounding of theta (~1e-16 |theta|), i.e. ~1e-12 relative to eps=1e-4
    assert res.exponent == pytest.approx(math.log(abs(a)), abs=1e-11)
    np.testing.assert_allclose(res.distance, 1e-4 * abs(a) ** np.arange(61), rtol=1e-10)


def test_dt_scales_the_exponent():
    X = perturbed_trajectories(lambda th, s: 1.5 * th, np.ones(2), 30, copies=2, eps=1e-4, seed=1, record_every=3)
    assert X.shape == (3, 11, 2)
    res = trajectory_lyapunov(X, dt=3 * 0.1)  # records every 3 steps of duration 0.1
    assert res.exponent == pytest.approx(math.log(1.5) / 0.1, rel=1e-10)  # rounding as above
    np.testing.assert_allclose(res.times, np.arange(11) * 0.3)


def _tangent_ftle(orbit: np.ndarray, start: int, stop: int) -> float:
    """Least-squares slope of sum_{s<t} ln|f'(x_s)|, the log-growth of an infinitesimal
    perturbation along the recorded reference orbit of the logistic map."""
    logs = np.concatenate([[0.0], np.cumsum(np.log(np.abs(4.0 * (1.0 - 2.0 * orbit))))])
    return float(np.polyfit(np.arange(start, stop), logs[start:stop], 1)[0])


def test_logistic_map_matches_tangent_dynamics_and_ln2():
    rng = np.random.default_rng(1)
    estimates = []
    for i in range(50):
        x0 = np.array([rng.uniform(0.05, 0.95)])
        X = perturbed_trajectories(_logistic, x0, 40, copies=3, eps=1e-10, seed=i)
        res = trajectory_lyapunov(X, saturation=1e-3)
        start, stop = res.fit_window
        assert stop >= 15  # ln(3.5e-4 / 1e-10) / ln 2 ~ 21 doublings before the ceiling
        # separations below 1e-3 * size ~ 4e-4: second-order terms ~ d |f''/f'| per step, and
        # the measured maximum over these 50 orbits is 4e-5
        assert res.exponent == pytest.approx(_tangent_ftle(X[0, :, 0], start, stop), abs=1e-3)
        estimates.append(res.exponent)
    # finite-time exponents fluctuate around ln 2 (orbit to orbit std ~0.1): 4 standard errors
    sem = np.std(estimates, ddof=1) / math.sqrt(len(estimates))
    assert abs(np.mean(estimates) - math.log(2.0)) < 4 * sem


def test_logistic_map_stops_before_saturation():
    X = perturbed_trajectories(_logistic, np.array([0.3]), 80, copies=4, eps=1e-10, seed=5)
    res = trajectory_lyapunov(X)
    start, stop = res.fit_window
    size = math.sqrt(np.mean((X - X.mean()) ** 2))
    assert stop < 60  # the separation saturates after ~ln(1e9)/ln 2 ~ 30 steps
    assert np.all(res.distance[start:stop] < 0.1 * size)
    assert res.distance[stop] >= 0.1 * size or res.r2 >= 0.99
    # the default window ends where separations are ~0.1 of the attractor: nonlinear terms bias a
    # single orbit's estimate by a few 0.01 (measured <= 0.025 over 50 orbits); the sign is right
    assert 0.5 < res.exponent < 0.9
    # beyond the window, the log distance is flat (saturated): fitting all records is much lower
    assert trajectory_lyapunov(X, fit_window=(0, 81)).exponent < 0.5 * res.exponent


def _quadratic(h, seed):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(h), len(h))))
    return Q @ np.diag(h) @ Q.T, Q


@pytest.mark.parametrize(
    "h, lr, expected",
    [
        ([5.0, 6.0, 10.0], 0.25, math.log(1.5)),  # lr > 2/h_max: diverges, ln|1 - lr h_max| > 0
        ([5.0, 6.0, 10.0], 0.18, math.log(0.8)),  # 2/(h_max+h_min) < lr < 2/h_max: ln|1 - lr h_max| < 0
        ([1.0, 5.0, 10.0], 0.10, math.log(0.9)),  # small lr: the slowest mode, ln(1 - lr h_min)
    ],
)
def test_gradient_descent_on_quadratic(h, lr, expected):
    # Danovski, Soriano & Lacasa (2024) in analytic form: GD on 0.5 theta^T H theta is
    # theta <- (I - lr H) theta, whose exponent is max_i ln|1 - lr h_i|
    H, Q = _quadratic(np.array(h), seed=0)
    theta0 = np.random.default_rng(1).standard_normal(len(h))
    X = perturbed_trajectories(lambda th, s: th - lr * (H @ th), theta0, 80, copies=4, eps=1e-6, seed=2)
    # skip the alignment transient: second-largest/largest |1 - lr h| <= 0.56, so 30 steps leave
    # a relative contamination < 0.56**30 ~ 3e-8 in the distance
    res = trajectory_lyapunov(X, fit_window=(30, 81))
    assert res.exponent == pytest.approx(expected, abs=1e-6)
    # the automatic window starts at 0 and includes the transient; its slope must equal the
    # least-squares slope of the exact log distance ||(I - lr H)^t delta_c||, same window
    auto = trajectory_lyapunov(X)
    start, stop = auto.fit_window
    f = 1.0 - lr * np.array(h)
    t = np.arange(81)
    logs = []
    for c in range(1, 5):
        coef = Q.T @ (X[c, 0] - X[0, 0])
        logs.append(np.log(np.linalg.norm(coef[None, :] * f[None, :] ** t[:, None], axis=1)))
    exact_slope = np.polyfit(t[start:stop], np.mean(logs, axis=0)[start:stop], 1)[0]
    # rounding of theta (~1e-16 |theta|) against eps = 1e-6: ~1e-10 relative in the distance
    assert auto.exponent == pytest.approx(exact_slope, abs=1e-8)
    assert np.sign(auto.exponent) == np.sign(expected)


def test_contracting_run_stops_at_rounding_floor():
    # theta <- 0.5 theta + 1 converges to 2; the separation shrinks to rounding level of |theta|
    X = perturbed_trajectories(lambda th, s: 0.5 * th + 1.0, np.zeros(3), 100, copies=2, eps=1e-6, seed=0)
    res = trajectory_lyapunov(X)
    assert res.fit_window[1] < 40  # 1e-6 * 0.5^t reaches 1e3 * eps * 3.5 ~ 8e-13 after ~20 steps
    assert res.exponent == pytest.approx(math.log(0.5), abs=1e-3)  # the last points are ~1e-3 rounding


def test_list_and_torch_inputs_agree():
    torch = pytest.importorskip("torch")
    X = perturbed_trajectories(_logistic, np.array([0.3]), 40, copies=3, eps=1e-10, seed=0)
    ref = trajectory_lyapunov(X)
    for other in (list(X), torch.tensor(X), [torch.tensor(x) for x in X], X[:, :, 0]):
        res = trajectory_lyapunov(other)
        assert res.fit_window == ref.fit_window and res.exponent == ref.exponent
        np.testing.assert_array_equal(res.distance, ref.distance)


def test_perturbed_trajectories_contract():
    calls = []

    def update(theta, step):
        calls.append(step)
        theta *= 1.1  # in place: the records must still be copies
        return theta

    theta0 = np.array([1.0, 2.0, 3.0])
    X = perturbed_trajectories(update, theta0, 6, copies=2, eps=1e-3, seed=7, record_every=2)
    assert X.shape == (3, 4, 3)
    np.testing.assert_array_equal(theta0, [1.0, 2.0, 3.0])  # not modified
    assert calls == list(range(6)) * 3  # the same step sequence (data order) for every copy
    np.testing.assert_allclose(X[0], theta0 * 1.1 ** np.array([0, 2, 4, 6])[:, None], rtol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(X[1:, 0] - X[0, 0], axis=1), 1e-3, rtol=1e-12)
    Y = perturbed_trajectories(lambda th, s: 1.1 * th, theta0, 6, copies=2, eps=1e-3, seed=7, record_every=2)
    np.testing.assert_array_equal(X, Y)  # same seed, same numbers


def test_perturbed_trajectories_torch_and_divergence():
    torch = pytest.importorskip("torch")
    X = perturbed_trajectories(lambda th, s: 3.0 * th, torch.ones(2, dtype=torch.float64), 800, copies=1, seed=0)
    assert isinstance(X, torch.Tensor) and X.dtype == torch.float64 and X.shape == (2, 801, 2)
    # 3^t overflows after ~646 steps: the run stops, later records are NaN, earlier ones are kept
    assert torch.isfinite(X[:, :600]).all() and torch.isnan(X[:, -1]).all()
    assert trajectory_lyapunov(X).exponent == pytest.approx(math.log(3.0), abs=1e-9)


def test_errors():
    X = perturbed_trajectories(lambda th, s: 2 * th, np.ones(2), 10, seed=0)
    with pytest.raises(ValueError, match=r"reference and at least one copy"):
        trajectory_lyapunov(X[:1])
    with pytest.raises(ValueError, match=r"trajectories\[1\] has shape \(5, 2\); expected \(11, 2\)"):
        trajectory_lyapunov([X[0], X[1, :5]])
    with pytest.raises(ValueError, match=r"trajectory_lyapunov\.dt must be a number in \(0, inf\); got -1"):
        trajectory_lyapunov(X, dt=-1)
    with pytest.raises(ValueError, match=r"fit_window must be a pair of integers .* got \(5, 6\)"):
        trajectory_lyapunov(X, fit_window=(5, 6))
    with pytest.raises(TypeError, match=r"fit_window must be a pair"):
        trajectory_lyapunov(X, fit_window=(0.0, 5))
    with pytest.raises(ValueError, match=r"fewer than 2 usable records"):
        trajectory_lyapunov(np.stack([X[0], X[0]]))
    with pytest.raises(ValueError, match=r"perturbed_trajectories\.eps must be resolvable .*float32"):
        perturbed_trajectories(lambda th, s: th, np.ones(2, dtype=np.float32), 3, eps=1e-9, seed=0)
    with pytest.raises(TypeError, match=r"update returned None"):
        perturbed_trajectories(lambda th, s: None, np.ones(2), 3, seed=0)
    with pytest.raises(ValueError, match=r"copies must be an integer in \[1, inf\); got 0"):
        perturbed_trajectories(lambda th, s: th, np.ones(2), 3, copies=0)
    with pytest.raises(ValueError, match=r"theta0 must have shape \(P,\)"):
        perturbed_trajectories(lambda th, s: th, np.ones((2, 2)), 3)
