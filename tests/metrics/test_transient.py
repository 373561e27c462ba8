"""Transient amplification, the norm-radius gap and growing products of stable matrices,
against closed forms for 2x2 triangular matrices and brute force on dense grids."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from plasticity.metrics import (
    nonnormal_growth_example,
    radius_norm_gap,
    transient_amplification,
)


def _norm_upper_2x2(a: float, b: float, d: float) -> float:
    """Exact ||[[a, b], [0, d]]||_2: sigma_max**2 = (F + sqrt(F**2 - 4 det**2)) / 2."""
    F = a * a + b * b + d * d
    return math.sqrt((F + math.sqrt(max(F * F - 4.0 * (a * d) ** 2, 0.0))) / 2.0)


def _random_normal(eigs: np.ndarray, seed: int) -> np.ndarray:
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(eigs), len(eigs))))
    return Q @ np.diag(eigs) @ Q.T


@pytest.mark.parametrize("lam, c", [(0.9, 1.0), (0.5, 10.0), (-0.8, 3.0)])
def test_map_jordan_block_matches_closed_form(lam, c):
    # A^t = [[l^t, t c l^(t-1)], [0, l^t]] exactly
    A = np.array([[lam, c], [0.0, lam]])
    res = transient_amplification(A, kind="map", t_max=80)
    exact = np.array([_norm_upper_2x2(lam**t, t * c * lam ** (t - 1) if t else 0.0, lam**t) for t in range(81)])
    # 80 products of 2x2 matrices: a few hundred ulps at most
    np.testing.assert_allclose(res.norms, exact, rtol=1e-12)
    assert res.t_peak == float(np.argmax(exact))
    assert res.peak == pytest.approx(exact.max(), rel=1e-12)
    assert res.peak > 1.0  # non-normal and stable: it amplifies first
    peak, t_peak = res  # unpacks as (peak, t_peak)
    assert (peak, t_peak) == (res.peak, res.t_peak)


def test_map_default_horizon_reaches_late_peak():
    # l = 0.99: ||A^t|| ~ t c l^(t-1) peaks near t = -1/ln(l) ~ 99.5 steps
    A = np.array([[0.99, 1.0], [0.0, 0.99]])
    res = transient_amplification(A)
    exact_t = max(range(2000), key=lambda t: _norm_upper_2x2(0.99**t, t * 0.99 ** (t - 1), 0.99**t))
    assert res.t_peak == exact_t
    assert res.times[-1] > 2 * exact_t


@pytest.mark.parametrize("kind", ["map", "flow"])
def test_stable_normal_matrix_never_amplifies(kind):
    eigs = np.array([0.9, -0.5, 0.3, 0.1]) if kind == "map" else np.array([-0.2, -1.0, -3.0, -0.5])
    A = _random_normal(eigs, seed=3)
    res = transient_amplification(A, kind=kind, t_max=30)
    assert res.t_peak == 0.0
    assert res.peak == pytest.approx(1.0, abs=1e-12)
    # normal: ||A^t|| = rho^t and ||expm(tA)|| = exp(alpha t); float rounding of products only
    expected = 0.9 ** res.times if kind == "map" else np.exp(-0.2 * res.times)
    np.testing.assert_allclose(res.norms, expected, rtol=1e-10)


@pytest.mark.parametrize("c", [0.5, 4.0, 20.0])
def test_flow_peak_matches_dense_grid_brute_force(c):
    # expm(tA) = [[e^-t, c (e^-t - e^-2t)], [0, e^-2t]] for A = [[-1, c], [0, -2]]
    A = np.array([[-1.0, c], [0.0, -2.0]])
    res = transient_amplification(A, kind="flow", t_max=8.0, n_times=101)
    t = np.linspace(0.0, 8.0, 800_001)
    e1, e2 = np.exp(-t), np.exp(-2 * t)
    F = e1**2 + (c * (e1 - e2)) ** 2 + e2**2
    brute = np.sqrt((F + np.sqrt(F**2 - 4 * (e1 * e2) ** 2)) / 2)
    k = int(np.argmax(brute))
    # grid step 1e-5 at a smooth maximum: value error ~ (1e-5)^2 * |curvature| ~ 1e-10
    assert res.peak == pytest.approx(brute[k], rel=1e-9)
    # near a flat maximum the location is resolved to ~sqrt(value error / curvature)
    assert res.t_peak == pytest.approx(t[k], abs=1e-4)
    np.testing.assert_allclose(res.norms, np.interp(res.times, t, brute), rtol=1e-9)


def test_flow_small_coupling_has_no_transient():
    # c = 0.5: numerical abscissa of [[-1, .5], [0, -2]] is < 0, so the norm falls from t = 0
    A = np.array([[-1.0, 0.5], [0.0, -2.0]])
    assert np.linalg.eigvalsh((A + A.T) / 2)[-1] < 0
    res = transient_amplification(A, kind="flow")
    assert (res.peak, res.t_peak) == (1.0, 0.0)


def test_flow_grid_uses_expm():
    A = np.random.default_rng(1).normal(0, 1 / 3, (9, 9)) - 1.5 * np.eye(9)
    res = transient_amplification(A, kind="flow", t_max=5.0, n_times=11)
    direct = [np.linalg.norm(scipy.linalg.expm(t * A), 2) for t in res.times]
    np.testing.assert_allclose(res.norms, direct, rtol=1e-11)  # products of expm(dt A) vs direct


def test_torch_in_torch_out_and_gradient():
    torch = pytest.importorskip("torch")
    A = np.array([[0.7, 2.0], [0.0, 0.6]])
    ref = transient_amplification(A, t_max=40)
    At = torch.tensor(A, requires_grad=True)
    res = transient_amplification(At, t_max=40)
    assert isinstance(res.peak, torch.Tensor) and isinstance(res.norms, torch.Tensor)
    np.testing.assert_allclose(res.norms.detach().numpy(), ref.norms, rtol=1e-12)
    assert res.t_peak == ref.t_peak
    res.peak.backward()
    # d peak / d c by central differences on the numpy path (same t_peak for small h)
    h = 1e-6
    Ap, Am = A.copy(), A.copy()
    Ap[0, 1] += h
    Am[0, 1] -= h
    fd = (transient_amplification(Ap, t_max=40).peak - transient_amplification(Am, t_max=40).peak) / (2 * h)
    assert At.grad[0, 1].item() == pytest.approx(fd, rel=1e-6)  # O(h^2) truncation + rounding/h


def test_torch_flow_matches_numpy():
    torch = pytest.importorskip("torch")
    A = np.array([[-1.0, 6.0], [0.0, -2.0]])
    ref = transient_amplification(A, kind="flow")
    At = torch.tensor(A, requires_grad=True)
    res = transient_amplification(At, kind="flow")
    assert res.t_peak == ref.t_peak
    assert res.peak.item() == pytest.approx(ref.peak, rel=1e-12)
    np.testing.assert_allclose(res.norms.numpy(), ref.norms, rtol=1e-10)
    res.peak.backward()
    # envelope theorem: d peak / d c at fixed t_peak = d/dc max_t ||expm(tA)||; central differences
    # of the refined numpy peak (t_peak located to ~1e-10, so its error enters at second order)
    h = 1e-5
    Ap, Am = A.copy(), A.copy()
    Ap[0, 1] += h
    Am[0, 1] -= h
    fd = (transient_amplification(Ap, kind="flow").peak - transient_amplification(Am, kind="flow").peak) / (2 * h)
    assert At.grad[0, 1].item() == pytest.approx(fd, rel=1e-6)


def test_radius_norm_gap():
    assert radius_norm_gap(_random_normal(np.array([0.5, -2.0, 1.0]), seed=0)) == pytest.approx(0.0, abs=1e-12)
    # [[l, c], [0, l]]: radius l, norm (|c| + sqrt(c^2 + 4 l^2)) / 2
    gap = radius_norm_gap(np.array([[0.5, 3.0], [0.0, 0.5]]))
    assert gap == pytest.approx((3.0 + math.sqrt(9.0 + 1.0)) / 2 - 0.5, rel=1e-13)
    W = np.random.default_rng(2).standard_normal((30, 30))
    assert radius_norm_gap(W) > 0
    torch = pytest.importorskip("torch")
    assert radius_norm_gap(torch.tensor(W)).item() == pytest.approx(radius_norm_gap(W), rel=1e-10)


def test_product_of_stable_matrices_grows():
    res = nonnormal_growth_example(steps=20, eigenvalue=0.5, coupling=2.0)
    assert np.all(res.radii == 0.5)
    # (A^T A)^k is symmetric, so its norm is growth^k: exact up to 10 products' rounding
    np.testing.assert_allclose(res.norms[2::2], res.growth_per_pair ** np.arange(1, 11), rtol=1e-13)
    # growth_per_pair = ||A||_2^2 by its closed form
    assert res.growth_per_pair == pytest.approx(np.linalg.norm(res.matrices[0], 2) ** 2, rel=1e-14)
    assert res.growth_per_pair > 4.0 and res.norms[-1] > 1e6  # 4.486**10 = 3.3e6
    # each factor alone decays: no single matrix explains the growth
    assert all(transient_amplification(M, t_max=200).norms[-1] < 1e-40 for M in res.matrices[:2])


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"transient_amplification\.kind must be one of"):
        transient_amplification(np.eye(2), kind="ode")
    with pytest.raises(ValueError, match=r"A must be a non-empty square matrix .* got shape \(2, 3\)"):
        transient_amplification(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"t_max must be an integer in \[1, inf\); got 0"):
        transient_amplification(np.eye(2), t_max=0)
    with pytest.raises(ValueError, match=r"t_max must be an integer .*; got 2.5"):
        transient_amplification(np.eye(2), t_max=2.5)
    with pytest.raises(ValueError, match=r"n_times must be an integer in \[3, inf\)"):
        transient_amplification(np.eye(2), kind="flow", n_times=2)
    with pytest.raises(ValueError, match=r"A must be finite"):
        transient_amplification(np.array([[np.nan, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"nonnormal_growth_example\.eigenvalue must be a number in \(-1, 1\); got 1.0"):
        nonnormal_growth_example(eigenvalue=1.0)
