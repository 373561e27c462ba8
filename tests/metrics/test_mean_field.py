"""Mean-field theory of the random tanh map against its analytic limits and a direct simulation."""
import numpy as np
import pytest

from plasticity.metrics.mean_field import tanh_map_mean_field


@pytest.mark.parametrize("g", [0.3, 0.7, 0.99, 1.0])
def test_quiescent_phase_is_ln_g(g):
    mf = tanh_map_mean_field(g)
    assert mf.q == 0.0
    assert mf.max_lyapunov == pytest.approx(np.log(g), rel=1e-15)


@pytest.mark.parametrize("g", [1.05, 1.5, 2.0, 4.0])
def test_q_solves_the_variance_equation(g):
    mf = tanh_map_mean_field(g)
    # independent quadrature (dense trapezoid on [-12, 12]) of g^2 E[tanh^2(sqrt(q) z)]
    z = np.linspace(-12, 12, 200_001)
    pdf = np.exp(-z**2 / 2) / np.sqrt(2 * np.pi)
    rhs = g**2 * np.trapezoid(np.tanh(np.sqrt(mf.q) * z) ** 2 * pdf, z)
    assert mf.q == pytest.approx(rhs, rel=1e-9)   # trapezoid error on a smooth Gaussian integrand
    assert mf.max_lyapunov > 0


def test_exponent_is_continuous_and_crosses_zero_at_one():
    below, above = tanh_map_mean_field(0.999), tanh_map_mean_field(1.001)
    assert below.max_lyapunov < 0 < above.max_lyapunov
    assert abs(below.max_lyapunov) < 2e-3 and abs(above.max_lyapunov) < 2e-3


def _simulated(g, n, steps, transient, seed):
    """Plain-numpy reference: the tanh map and one tangent vector renormalised each step."""
    rng = np.random.default_rng(seed)
    W = rng.normal(0, g / np.sqrt(n), (n, n))
    x = rng.uniform(-1, 1, n)
    v = rng.normal(size=n)
    v /= np.linalg.norm(v)
    log_growth, xs = 0.0, []
    for t in range(transient + steps):
        x = np.tanh(W @ x)
        v = (1 - x**2) * (W @ v)
        norm = np.linalg.norm(v)
        v /= norm
        if t >= transient:
            log_growth += np.log(norm)
            xs.append(x)
    return log_growth / steps, np.mean(np.var(np.array(xs), axis=0) + np.mean(xs, axis=0) ** 2)


@pytest.mark.parametrize("g", [1.5, 2.5])
def test_large_network_matches_mean_field(g):
    # N = 1500: finite-size and finite-time errors of the exponent are ~1e-2 here (seed spread
    # measured at 3e-3 for g = 1.5); the activity second moment E[x^2] = q/g^2 to ~2%.
    lam, second_moment = _simulated(g, 1500, 600, 200, seed=0)
    mf = tanh_map_mean_field(g)
    assert lam == pytest.approx(mf.max_lyapunov, abs=0.02)
    assert second_moment == pytest.approx(mf.activity_variance, rel=0.03)


def test_rejects_bad_gain():
    with pytest.raises(ValueError, match=r"g must be a number in \(0, inf\); got -1"):
        tanh_map_mean_field(-1.0)
