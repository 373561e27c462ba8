"""models.propagation against analytic results: He et al. (2015) for ReLU, Saxe et al. (2014) for deep linear
orthogonal stacks, the mean-field theory of Poole et al. (2016) for tanh, and its Gaussian moments."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models import feedforward as ff  # noqa: E402
from models import propagation as pg  # noqa: E402


def _seed_stats(profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over seeds (axis 0)."""
    return profiles.mean(axis=0), profiles.std(axis=0, ddof=1) / math.sqrt(len(profiles))


def test_he_relu_preserves_mean_squared_preactivation_and_gradient():
    # He et al. (2015): with Var(W) = 2/fan_in and zero biases, E[q_{l+1}] = E[q_l] exactly (the
    # weights are symmetric, so half of each pre-activation's second moment passes the ReLU);
    # E[q_1] = c E[x^2] = 2. Backwards, E[(dL/dh_l)^2] is also depth-independent (He et al. eq. 13;
    # exact for ReLU, Hanin 2018). Checked as a z-test over 16 seeds.
    depth, width, seeds = 8, 400, 16
    profiles = [pg.propagation_profile(depth, width, "he", "relu", s, batch=32) for s in range(seeds)]
    q_mean, q_sem = _seed_stats(np.array([p["q"] for p in profiles]))
    g_mean, g_sem = _seed_stats(np.array([p["grad"] for p in profiles]))
    q_theory = np.full(depth, 2.0)
    g_theory = np.full(depth, 1.0)  # dL/dh_L = g ~ N(0, 1)
    # 4 standard errors: a false alarm has probability ~1e-4 per layer; the seeds are fixed anyway
    assert np.all(np.abs(q_mean - q_theory) < 4 * q_sem)
    assert np.all(np.abs(g_mean - g_theory) < 4 * g_sem)
    # the test has power: the standard errors resolve a 15% error per layer (a factor 0.85**7 = 0.32 at the end)
    assert np.all(q_sem / q_theory < 0.08) and np.all(g_sem / g_theory < 0.08)


@pytest.mark.parametrize("c", [1.0, 3.0, 0.5])
def test_relu_factor_is_c_over_two_per_layer(c):
    # Var(W) = c/fan_in: E[q_{l+1}] = (c/2) E[q_l], so 1/fan_in ("naive") halves q at every layer.
    # ReLU is positively homogeneous and the weights are sqrt(c/fan_in) times the same normal draws,
    # so for one seed q_l(c) / q_l(2) = (c/2)^l exactly; with the He test above this is the claim.
    depth, width = 10, 64
    he = pg.propagation_profile(depth, width, 2.0, "relu", seed=3)
    other = pg.propagation_profile(depth, width, c, "relu", seed=3)
    layers = np.arange(1, depth + 1)
    # depth products of sqrt(c/2)-scaled float64 matrices: agreement to ~depth * 1e-16
    np.testing.assert_allclose(other["q"] / he["q"], (c / 2.0) ** layers, rtol=1e-12)
    # backwards the gradient at layer l has passed depth - l layers
    np.testing.assert_allclose(other["grad"] / he["grad"], (c / 2.0) ** (depth - layers), rtol=1e-12)


@pytest.mark.parametrize("arch", ["plain", "recurrent"])
def test_deep_linear_orthogonal_jacobian_is_an_isometry(arch):
    # Saxe et al. (2014): a product of orthogonal matrices is orthogonal, so every singular value
    # of the input-output Jacobian is 1 at any depth, and the signal's norm is preserved exactly.
    depth, width = 20, 24
    weights = ff.build_stack(depth, width, "orthogonal", "linear", arch, seed=1)
    x = torch.randn(width, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for J in ff.jacobian_products(weights, x, "linear", arch):
        s = torch.linalg.svdvals(J).numpy()
        # rounding of up to 20 products of float64 orthogonal matrices: ~depth * sqrt(width) * eps
        np.testing.assert_allclose(s, 1.0, atol=1e-12)
    q = pg.signal_variance_profile(depth, width, "orthogonal", "linear", seed=1, arch=arch)
    np.testing.assert_allclose(q / q[0], 1.0, rtol=1e-12)
    spec = pg.jacobian_spectra(depth, width, "orthogonal", "linear", seed=1, arch=arch)
    np.testing.assert_allclose(spec["jac_norm"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(spec["jac_smin"], 1.0, rtol=1e-12)
    # eigenvalues of an orthogonal matrix lie on the unit circle
    np.testing.assert_allclose(spec["jac_radius"], 1.0, rtol=1e-10)


@pytest.mark.parametrize("init", ["glorot", "he"])
def test_tanh_signal_and_gradient_follow_mean_field(init):
    # Poole et al. (2016), Schoenholz et al. (2017): at infinite width q_{l+1} = c E[tanh(sqrt(q_l) z)^2]
    # and gradients scale by chi_l = c E[tanh'(sqrt(q_l) z)^2] per layer.
    depth, width, seeds = 10, 500, 6
    profiles = [pg.propagation_profile(depth, width, init, "tanh", s, batch=32) for s in range(seeds)]
    Q = np.array([p["q"] for p in profiles])
    G = np.array([p["grad"] / p["grad"][-1] for p in profiles])
    c = ff.weight_factor(init, width, width, "tanh")
    q_mf, g_mf = pg.mean_field_profile(depth, c, "tanh", float(Q[:, 0].mean()))
    for measured, theory in ((Q, q_mf), (G, g_mf)):
        mean, sem = _seed_stats(measured / theory)
        # 4 standard errors across seeds, plus the O(1/width) finite-width bias of each of the
        # depth layers (depth / width = 0.02)
        assert np.all(np.abs(mean - 1.0) < 4 * sem + depth / width)


def test_mean_field_relu_is_exact_halving():
    q, g = pg.mean_field_profile(6, 2.0, "relu", 1.7)
    np.testing.assert_allclose(q, 1.7)
    np.testing.assert_allclose(g, 1.0)
    q, g = pg.mean_field_profile(6, 2.0, "relu", 1.0, alpha=0.5)  # residual: factor 1 + alpha^2 c / 2
    np.testing.assert_allclose(q, 1.25 ** np.arange(6))
    np.testing.assert_allclose(g, 1.25 ** np.arange(5, -1, -1))


def test_tanh_gaussian_moments_against_quadrature_and_asymptotics():
    # moderate q: Gauss-Hermite with 200 nodes is exact to ~1e-12 for these smooth integrands
    z, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / w.sum()
    for q in (0.1, 0.5, 2.0):
        t = np.tanh(math.sqrt(q) * z)
        e_phi2, e_dphi2 = pg.gaussian_moments("tanh", q)
        # Simpson on a grid of step 0.01 (error ~ step^4 * f'''' ~ 1e-8), cut at 10 sd (tail 1e-23)
        assert e_phi2 == pytest.approx(float(w @ t ** 2), abs=1e-7)
        assert e_dphi2 == pytest.approx(float(w @ (1 - t ** 2) ** 2), abs=1e-7)
    # large q: E[sech^4(u)] -> (int sech^4) / sqrt(2 pi q) = (4/3) / sqrt(2 pi q); relative
    # correction O(1/q) = 1e-4 at q = 1e4
    q = 1e4
    assert pg.gaussian_moments("tanh", q)[1] == pytest.approx(4.0 / 3.0 / math.sqrt(2 * math.pi * q), rel=1e-3)
