"""Each rate rule's documented behaviour, measured against an analytic result.

All runs drive ``rule.update`` (the numba path) from a plain Python loop with a fixed seed;
the contract suite (``test_contract.py``) checks that it equals ``reference_update``.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import expit, logit, roots_hermitenorm

from plasticity.rules import BCM, Hebbian, IntrinsicPlasticity, MetaplasticBCM, Oja, SynapticScaling


def input_covariance(n: int, eigenvalues, seed: int):
    """A covariance with the given spectrum in a random basis, its eigenvectors and a Cholesky factor."""
    Q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    C = Q @ np.diag(eigenvalues) @ Q.T
    return C, np.linalg.cholesky(C)


# -- Hebbian -------------------------------------------------------------------------------


def test_hebbian_norm_grows_at_eta_times_top_eigenvalue():
    # Linear neuron y = w.x, x ~ N(0, C): <dw/dt> = eta C w, so |w| ~ exp(eta lambda_max t)
    # (Dayan & Abbott 2001, eq. 8.7) and w turns to the top eigenvector of C.
    eta, dt, steps = 0.01, 0.1, 20_000
    C, L = input_covariance(4, [2.0, 1.0, 0.5, 0.25], seed=0)
    lam, vecs = np.linalg.eigh(C)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(steps, 4)) @ L.T
    rule, W = Hebbian(eta=eta), rng.normal(0.0, 0.1, (1, 4))
    state, log_norm = rule.init_state(1, 4), np.empty(steps)
    for k in range(steps):
        rule.update(W, X[k], W @ X[k], state, dt)
        log_norm[k] = np.log(np.linalg.norm(W))
    t = dt * np.arange(1, steps + 1)
    late = slice(steps // 2, None)  # after the transient alignment (rate eta*(l1-l2) = 0.01)
    exponent = np.polyfit(t[late], log_norm[late], 1)[0]
    # Per step log|w| grows by eps*lambda*z**2 (eps = eta*dt, z ~ N(0,1)), so the fitted
    # exponent has relative standard error ~ sqrt(2/10_000) = 1.4%, plus an O(eps) bias of
    # ~0.3%; 6% is about 4 standard errors.
    assert exponent == pytest.approx(eta * lam[-1], rel=0.06)
    # The direction fluctuates around the top eigenvector with mean 1-|cos| ~ 1e-3 (same
    # stationary spread as Oja's rule for eps = 1e-3); 1e-2 leaves a wide margin.
    cos = abs(W[0] @ vecs[:, -1]) / np.linalg.norm(W[0])
    assert cos > 1.0 - 1e-2


def test_hebbian_bounds_hold_and_weights_saturate_as_predicted():
    # Constant positive x, y and no decay: W(t) = min(W0 + eta y x^T t, w_max) exactly (the
    # Euler steps of a constant rate are exact); with decay the unclipped fixed point is
    # eta y x / decay, else w_max.
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0.2, 1.0, 5), rng.uniform(0.2, 1.0, 3)
    rule, dt, steps = Hebbian(eta=0.5, w_min=-0.2, w_max=1.0), 0.05, 100
    W0 = rng.uniform(-0.2, 0.2, (3, 5))
    W, state = W0.copy(), rule.init_state(3, 5)
    for _ in range(steps):
        rule.update(W, x, y, state, dt)
    expected = np.minimum(W0 + rule.eta * np.outer(y, x) * dt * steps, rule.w_max)
    assert np.any(expected == rule.w_max) and np.any(expected < rule.w_max)  # both regimes occur
    # 100 additions of O(0.01) increments: a few ulps of accumulated rounding.
    np.testing.assert_allclose(W, expected, rtol=1e-13, atol=1e-15)

    decaying = Hebbian(eta=0.5, decay=0.8, w_min=-0.2, w_max=0.3)
    W = W0.copy()
    for _ in range(4000):  # 200 time units = 160 decay times
        decaying.update(W, x, y, state, dt)
    fixed = np.minimum(decaying.eta * np.outer(y, x) / decaying.decay, decaying.w_max)
    assert np.any(fixed == decaying.w_max) and np.any(fixed < decaying.w_max)
    np.testing.assert_allclose(W, fixed, rtol=1e-12)  # converged exponentially (e^-160)

    # Random signed drive: the clip holds at every step.
    W = W0.copy()
    for _ in range(500):
        rule.update(W, rng.normal(0.0, 2.0, 5), rng.normal(0.0, 2.0, 3), state, dt)
        assert W.min() >= rule.w_min and W.max() <= rule.w_max


def test_hebbian_rejects_inverted_bounds():
    with pytest.raises(ValueError, match=r"Hebbian\.w_min must be smaller than Hebbian\.w_max; got w_min=1\.0, w_max=0\.5"):
        Hebbian(eta=0.1, w_min=1.0, w_max=0.5)


# -- Oja -----------------------------------------------------------------------------------


def test_oja_converges_to_unit_principal_eigenvector():
    # Oja (1982): w -> +-v_1 (unit norm) of the input covariance, at rate eta*(l1 - l2).
    eta, dt, steps = 0.01, 0.1, 20_000
    C, L = input_covariance(4, [2.0, 1.0, 0.5, 0.25], seed=3)
    v1 = np.linalg.eigh(C)[1][:, -1]
    rng = np.random.default_rng(4)
    X = rng.normal(size=(steps, 4)) @ L.T
    rule = Oja(eta=eta)
    W = rng.normal(0.0, 0.5, (3, 4))  # three neurons from different starts, one flipped
    W[2] = -W[2]
    state = rule.init_state(3, 4)
    for k in range(steps):
        rule.update(W, X[k], W @ X[k], state, dt)
    norms = np.linalg.norm(W, axis=1)
    # With a constant step eps = eta*dt = 1e-3 the stationary spread is O(eps): the squared
    # angle to v_1 has mean sum_k eps*l1*lk/(2(l1-lk)) ~ 1.5e-3, i.e. 1-|cos| ~ 7e-4, and the
    # norm deviates by ~5e-4. Tolerances are ~7-10x those means.
    np.testing.assert_allclose(norms, 1.0, atol=5e-3)
    assert np.all(1.0 - np.abs(W @ v1) / norms < 5e-3)


# -- BCM -----------------------------------------------------------------------------------


def test_bcm_becomes_selective_at_the_intrator_cooper_fixed_point():
    # Linear neurons y = W x, K orthonormal non-negative patterns (disjoint supports)
    # presented in turn. With theta averaging y**2 over the patterns (tau_theta >> one
    # presentation) the stable fixed points are selective: y = 1/p = K for one pattern and 0
    # for the others (Intrator & Cooper 1992; Castellani et al. 1999, Network 10:111). With
    # Euler steps and cyclic presentation the selective response is exactly the theta met by
    # its pattern in the periodic state: y* = (1 - r**K) / (c r**(K-1)), c = dt/tau_theta,
    # r = 1 - c (-> K as dt -> 0). Patterns are orthogonal, so each response evolves alone.
    K, n_pre, n_post = 3, 7, 8
    rng = np.random.default_rng(5)
    P = np.zeros((K, n_pre))
    for k, support in enumerate(np.array_split(np.arange(n_pre), K)):
        P[k, support] = rng.uniform(0.5, 1.5, support.size)
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    dt, tau_theta = 0.1, 2.0
    rule = BCM(eta=0.1, tau_theta=tau_theta)
    W, state = rng.uniform(0.0, 0.5, (n_post, n_pre)), rule.init_state(n_post, n_pre)
    y_max = 0.0
    for step in range(10_000):
        x = P[step % K]
        y = W @ x
        rule.update(W, x, y, state, dt)
        y_max = max(y_max, float(np.abs(y).max()))
    c = dt / tau_theta
    r = 1.0 - c
    y_star = (1.0 - r**K) / (c * r ** (K - 1))
    assert y_star == pytest.approx(K, rel=0.1)  # first-order in dt away from 1/p = K
    responses = np.sort(W @ P.T, axis=1)
    # Convergence to the fixed point is exponential; after 1000 time units it is complete to
    # rounding, so 1e-9 only allows for accumulated float64 error.
    np.testing.assert_allclose(responses[:, -1], y_star, rtol=1e-9)
    np.testing.assert_allclose(responses[:, :-1], 0.0, atol=1e-9)
    # Bounded: the response never overshoots the fixed point by more than the threshold's lag.
    assert y_max < 1.05 * y_star


@pytest.mark.parametrize("power", [1.0, 2.0, 3.0])
def test_bcm_threshold_relaxes_to_y_power(power):
    rule, y = BCM(eta=1e-3, tau_theta=2.0, theta0=0.3, power=power), np.array([1.5, 0.5, 2.0])
    W, state = np.zeros((3, 1)), rule.init_state(3, 1)
    for _ in range(2000):  # 100 tau_theta: (1 - dt/tau)**2000 = 1.5e-44
        rule.update(W, np.zeros(1), y, state, 0.1)
    np.testing.assert_allclose(state.theta, y**power, rtol=1e-12)


def test_bcm_threshold_is_first_order_in_dt():
    # Constant y, x = 0 (W frozen): theta(t) = y**2 (1 - exp(-t/tau_theta)) from theta0 = 0.
    rule, y, T = BCM(eta=1e-3, tau_theta=2.0, theta0=0.0), np.array([1.5]), 4.0
    dts, errors = [0.1, 0.05, 0.025, 0.0125], []
    for dt in dts:
        W, state = np.zeros((1, 1)), rule.init_state(1, 1)
        for _ in range(round(T / dt)):
            rule.update(W, np.zeros(1), y, state, dt)
        errors.append(abs(state.theta[0] - y[0] ** 2 * (1 - np.exp(-T / rule.tau_theta))))
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert 0.9 < slope < 1.1  # explicit Euler: global error O(dt)


# -- Synaptic scaling ----------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["linear", "tanh"])
def test_scaling_brings_rate_to_target_and_keeps_relative_weights(activation):
    # y = phi(W x) with fixed x > 0, W > 0 and increasing phi: the only fixed point of
    # (W, a) is y = a = target. Linearised at it, lambda**2 + lambda/tau + eta*target*y'/tau = 0
    # with y' = dy/dlog(scale) (= 2 for linear, 0.75*atanh(0.5) = 0.41 for tanh); eta is
    # chosen so that eta*target*y' = 0.2, giving roots -0.28 and -0.72 for tau = 1, so 400
    # time units shrink the initial O(1) error by e^-110.
    phi = {"linear": lambda u: u, "tanh": np.tanh}[activation]
    target = {"linear": 2.0, "tanh": 0.5}[activation]
    eta = {"linear": 0.05, "tanh": 0.2 / (0.5 * 0.75 * math.atanh(0.5))}[activation]
    rng = np.random.default_rng(6)
    x = rng.uniform(0.5, 1.5, 5)
    W0 = rng.uniform(0.05, 0.5, (4, 5)) * np.array([[0.3], [1.0], [2.0], [4.0]])  # rates below and above target
    rule = SynapticScaling(eta=eta, target=target, tau=1.0)
    W, state = W0.copy(), rule.init_state(4, 5)
    for _ in range(4000):
        rule.update(W, x, phi(W @ x), state, 0.1)
    # Converged to rounding; 1e-12 allows for the float64 error of W @ x and tanh.
    np.testing.assert_allclose(phi(W @ x), target, rtol=1e-12)
    np.testing.assert_allclose(state.rate, target, rtol=1e-12)
    ratio = W / W0
    # Multiplicative: each row is scaled by one factor, to rounding over 4000 steps.
    np.testing.assert_allclose(ratio, ratio[:, :1] * np.ones((1, 5)), rtol=1e-12)


# -- Intrinsic plasticity ------------------------------------------------------------------


def test_intrinsic_threshold_brings_constant_drive_to_target():
    # y = sigmoid(gain*u - threshold) with constant u: threshold* = gain*u - logit(target).
    # Linear rate eta*target*(1 - target) = 0.08; 400 time units give e^-32.
    rule = IntrinsicPlasticity(eta=0.5, target=0.2)
    u = np.array([-1.0, 0.0, 0.7, 3.0])
    W, x, state = np.zeros((4, 1)), np.zeros(1), rule.init_state(4, 1)
    W0 = W.copy()
    for _ in range(4000):
        rule.update(W, x, expit(state.gain * u - state.threshold), state, 0.1)
    np.testing.assert_allclose(state.threshold, u - logit(0.2), atol=1e-10)
    np.testing.assert_array_equal(state.gain, 1.0)  # gain adapts only when asked
    np.testing.assert_array_equal(W, W0)  # intrinsic plasticity never touches W


def test_intrinsic_threshold_brings_mean_rate_to_target_under_noise():
    # u ~ N(0.5, 1) each step: at stationarity E_u[sigmoid(u - threshold*)] = target, with
    # threshold* from Gauss-Hermite quadrature (independent of the simulation).
    target, mu, sigma, eta, dt, steps = 0.2, 0.5, 1.0, 0.2, 0.1, 30_000
    z, w = roots_hermitenorm(80)
    w = w / w.sum()
    threshold_star = brentq(lambda th: np.sum(w * expit(mu + sigma * z - th)) - target, -20.0, 20.0)
    rng = np.random.default_rng(7)
    rule = IntrinsicPlasticity(eta=eta, target=target)
    W, x, state = np.zeros((1, 1)), np.zeros(1), rule.init_state(1, 1)
    thresholds, rates = np.empty(steps), np.empty(steps)
    for k, uk in enumerate(rng.normal(mu, sigma, steps)):
        y = expit(state.gain * uk - state.threshold)
        thresholds[k], rates[k] = state.threshold[0], y[0]
        rule.update(W, x, y, state, dt)
    late = slice(steps // 3, None)
    # The threshold is an OU-like process with stationary sd ~ 0.04 and correlation time
    # ~ 1/(eta E[y(1-y)]) = 36; the standard error of its mean over 2000 time units is ~0.009.
    # 0.045 is 5 standard errors.
    assert thresholds[late].mean() == pytest.approx(threshold_star, abs=0.045)
    # The mean rate: (threshold_end - threshold_start) / (eta * window) with threshold's sd
    # 0.04, i.e. ~1e-4; 5e-4 is that bound with margin.
    assert rates[late].mean() == pytest.approx(target, abs=5e-4)


def test_intrinsic_gain_sets_mean_and_variance():
    # Linear output y = gain*u - threshold, u ~ N(mu, sigma): the joint fixed point has
    # mean y = target and var y = target_var, so gain* = sqrt(target_var)/sigma and
    # threshold* = gain* mu - target (Cannon & Miller 2017, dual homeostasis).
    target, var, mu, sigma, dt, steps = 0.3, 0.04, 1.0, 0.5, 0.1, 30_000
    rule = IntrinsicPlasticity(eta=0.2, target=target, adapt_gain=True, eta_gain=0.1, target_var=var)
    rng = np.random.default_rng(8)
    W, x, state = np.zeros((1, 1)), np.zeros(1), rule.init_state(1, 1)
    gains, thresholds, rates = np.empty(steps), np.empty(steps), np.empty(steps)
    for k, uk in enumerate(rng.normal(mu, sigma, steps)):
        y = state.gain * uk - state.threshold
        gains[k], thresholds[k], rates[k] = state.gain[0], state.threshold[0], y[0]
        rule.update(W, x, y, state, dt)
    gain_star = math.sqrt(var) / sigma
    late = slice(steps // 3, None)
    # Gain: relative sd ~1.2%, correlation time 1/(2 eta_gain var) = 125, so over 2000 time
    # units the standard error of the mean is ~0.4%; 2.5% is ~5 standard errors. Threshold:
    # sd ~0.02, same correlation time, so ~0.007 standard error; 0.035 is 5 of them.
    assert gains[late].mean() == pytest.approx(gain_star, rel=0.025)
    assert thresholds[late].mean() == pytest.approx(gain_star * mu - target, abs=0.035)
    # The variance of y over 20_000 samples has relative standard error sqrt(2/20_000)=1%
    # (plus the slow gain wander); 5% is 5 of those.
    assert rates[late].var() == pytest.approx(var, rel=0.05)
    assert rates[late].mean() == pytest.approx(target, abs=5e-4)  # as in the threshold-only test


def test_intrinsic_rejects_bad_eta_gain_and_adapt_gain():
    with pytest.raises(ValueError, match=r"IntrinsicPlasticity\.eta_gain must be a number in \(0, inf\); got -1\.0"):
        IntrinsicPlasticity(eta=0.1, target=0.2, adapt_gain=True, eta_gain=-1.0)
    with pytest.raises(TypeError, match=r"IntrinsicPlasticity\.adapt_gain must be True or False"):
        IntrinsicPlasticity(eta=0.1, target=0.2, adapt_gain="yes")


# -- Metaplastic BCM -----------------------------------------------------------------------


def _prime_pause_test(rule, primed: bool, dt: float) -> float:
    """Weight change of one synapse (x = 1, y clamped) during the test after the protocol."""
    W, x, state = np.zeros((1, 1)), np.ones(1), rule.init_state(1, 1)
    for y, duration in ((2.0 if primed else 0.0, 40.0), (0.0, 30.0)):
        for _ in range(round(duration / dt)):
            rule.update(W, x, np.array([y]), state, dt)
    W_before = W[0, 0]
    for _ in range(round(4.0 / dt)):
        rule.update(W, x, np.array([1.0]), state, dt)
    return W[0, 0] - W_before


def test_metaplastic_bcm_priming_reduces_later_potentiation():
    # Prime (y = 2 for 40), pause (y = 0 for 30: 15 tau_theta, 0.15 tau_meta), test (y = 1 for
    # 4). Continuous-time solution: after the pause theta = 4 e^-15 ~ 1e-6 and
    # meta = 4 (1 - e^(-40/tau_meta)) e^(-30/tau_meta); during the test the primed run lacks
    # eta * y * kappa * meta * tau_meta * (1 - e^(-4/tau_meta)) of potentiation.
    eta, tau_theta, tau_meta, kappa, dt = 0.1, 2.0, 200.0, 1.0, 0.01
    meta_rule = MetaplasticBCM(eta=eta, tau_theta=tau_theta, tau_meta=tau_meta, kappa=kappa)
    plain = BCM(eta=eta, tau_theta=tau_theta)
    naive, primed = _prime_pause_test(meta_rule, False, dt), _prime_pause_test(meta_rule, True, dt)
    meta_after = 4.0 * (1 - math.exp(-40.0 / tau_meta)) * math.exp(-30.0 / tau_meta)
    theta_after = 4.0 * (1 - math.exp(-40.0 / tau_theta)) * math.exp(-30.0 / tau_theta)
    predicted = eta * (kappa * meta_after * tau_meta * (1 - math.exp(-4.0 / tau_meta))
                       + theta_after * tau_theta * (1 - math.exp(-4.0 / tau_theta)))
    assert naive > 0 and primed < 0.5 * naive  # the defining effect, by a wide margin
    # Euler against exp: the test-phase sum is a left Riemann sum of a decaying exponential
    # (relative error dt/(2 tau_meta) = 2.5e-5) and the primed trace overshoots exp by
    # ~n (dt/tau_meta)**2 / 2 relative to its deficit (~2e-5): ~4.5e-5 in all; 2e-4 is ~4x.
    assert naive - primed == pytest.approx(predicted, rel=2e-4)
    # Plain BCM has forgotten the priming after 15 tau_theta: the difference is
    # eta * theta_after * tau_theta * (1 - e^-2) = 2.1e-7, about 1e-6 of the change ~0.17.
    plain_naive, plain_primed = _prime_pause_test(plain, False, dt), _prime_pause_test(plain, True, dt)
    plain_predicted = eta * theta_after * tau_theta * (1 - math.exp(-4.0 / tau_theta))
    assert plain_naive > 0
    assert abs(plain_naive - plain_primed) < 1e-5 * plain_naive
    # Euler's (1 - dt/tau_theta)**n differs from exp(-n dt/tau_theta) by the factor
    # exp(-n (dt/tau_theta)**2 / 2) = 0.96 over the 3000 steps of the pause: 10% covers it.
    assert plain_naive - plain_primed == pytest.approx(plain_predicted, rel=0.1)


def test_metaplastic_bcm_requires_slow_meta():
    with pytest.raises(ValueError, match=r"MetaplasticBCM\.tau_meta must be larger than tau_theta = 5\.0; got 5\.0"):
        MetaplasticBCM(eta=0.1, tau_theta=5.0, tau_meta=5.0)


def test_metaplastic_bcm_with_kappa_zero_is_bcm():
    # kappa = 0 removes the slow term: the weights follow plain BCM exactly.
    rng = np.random.default_rng(9)
    a, b = MetaplasticBCM(eta=0.05, tau_theta=2.0, tau_meta=20.0, kappa=0.0), BCM(eta=0.05, tau_theta=2.0)
    Wa, Wb = (np.full((3, 4), 0.1) for _ in range(2))
    sa, sb = a.init_state(3, 4), b.init_state(3, 4)
    for _ in range(200):
        x, y = rng.uniform(0, 1, 4), rng.uniform(0, 2, 3)
        a.update(Wa, x, y, sa, 0.1)
        b.update(Wb, x, y, sb, 0.1)
    np.testing.assert_array_equal(Wa, Wb)
    np.testing.assert_array_equal(sa.theta, sb.theta)
