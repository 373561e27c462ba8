"""Linear-algebra metrics on a tagged case bank: identities that hold on every case, exact values, numpy vs torch."""
import numpy as np
import pytest

from plasticity.metrics import (
    activity_variance,
    departure_from_normality,
    gershgorin_discs,
    gershgorin_radius_bound,
    numerical_abscissa,
    spectral_norm,
    spectral_radius,
)

_rng = np.random.default_rng(0)
_sym = _rng.normal(size=(20, 20))
_orth = np.linalg.qr(_rng.normal(size=(30, 30)))[0]
_tri = np.triu(_rng.normal(size=(6, 6)))
_complex_normal = np.diag(np.exp(1j * np.linspace(0, 3, 5)) * np.arange(1, 6))

CASES = {
    "diagonal": (np.diag([0.5, -2.0, 1.0]), {"normal"}),
    "rotation": (np.array([[0.0, -1.0], [1.0, 0.0]]), {"normal"}),
    "jordan": (np.array([[1.0, 10.0], [0.0, 1.0]]), {"non_normal", "defective"}),
    "gaussian": (_rng.normal(0.0, 50**-0.5, (50, 50)), set()),
    "1x1": (np.array([[3.0]]), {"normal"}),
    "symmetric": (_sym + _sym.T, {"normal"}),
    "orthogonal": (_orth, {"normal"}),
    "triangular": (_tri, {"non_normal"}),
    "zero": (np.zeros((4, 4)), {"normal"}),
    "complex_normal": (_complex_normal, {"normal"}),
    "feedforward_chain": (np.diag(np.full(7, 2.0), k=-1), {"non_normal", "defective"}),
}
EPS = np.finfo(float).eps


def _fro(W):
    return float(np.linalg.norm(W))


@pytest.mark.parametrize("name", CASES)
def test_radius_bounded_by_norm(name):
    W, tags = CASES[name]
    # both are backward-stable LAPACK results: relative error a few eps
    assert spectral_radius(W) <= spectral_norm(W) * (1 + 1e-12) + 1e-300
    if "normal" in tags:
        assert spectral_radius(W) == pytest.approx(spectral_norm(W), rel=1e-12, abs=1e-300)
        # Schur form of a normal matrix is diagonal up to eps * ||W||_F
        assert departure_from_normality(W) <= 100 * EPS * max(_fro(W), 1.0)


@pytest.mark.parametrize("name", CASES)
def test_departure_completes_the_frobenius_norm(name):
    W, _ = CASES[name]
    lam = np.linalg.eigvals(W)
    d = departure_from_normality(W)
    # Henrici's definition; the right side cancels to eps * ||W||_F^2, hence the absolute tolerance
    assert d**2 + np.sum(np.abs(lam) ** 2) == pytest.approx(_fro(W) ** 2, rel=1e-12, abs=100 * EPS * _fro(W) ** 2)


@pytest.mark.parametrize("name", CASES)
def test_every_eigenvalue_in_a_gershgorin_disc(name):
    W, tags = CASES[name]
    centers, radii = gershgorin_discs(W)
    assert centers.shape == radii.shape == (W.shape[0],)
    assert np.all(radii >= 0)
    # defective eigenvalues move by sqrt(eps * ||W||) under rounding; others by eps * ||W||
    slack = np.sqrt(EPS) * max(_fro(W), 1.0) if "defective" in tags else 1e-12 * max(_fro(W), 1.0)
    for lam in np.linalg.eigvals(W):
        assert np.any(np.abs(lam - centers) <= radii + slack), lam
    assert gershgorin_radius_bound(W) >= spectral_radius(W) - slack
    assert gershgorin_radius_bound(W) == pytest.approx(np.linalg.norm(W, np.inf), rel=1e-15)


@pytest.mark.parametrize("name", CASES)
def test_abscissa_bounds_real_parts(name):
    W, tags = CASES[name]
    lam = np.linalg.eigvals(W)
    slack = np.sqrt(EPS) * max(_fro(W), 1.0) if "defective" in tags else 1e-12 * max(_fro(W), 1.0)
    assert numerical_abscissa(W) >= np.max(lam.real) - slack
    if "normal" in tags:
        assert numerical_abscissa(W) == pytest.approx(np.max(lam.real), abs=1e-12 * max(_fro(W), 1.0))


def test_exact_values():
    J = CASES["jordan"][0]  # [[1, a], [0, 1]] with a = 10
    a = 10.0
    assert spectral_radius(J) == pytest.approx(1.0, abs=1e-7)  # double eigenvalue: sqrt(eps) sensitivity
    assert spectral_norm(J) == pytest.approx((a + np.sqrt(a * a + 4)) / 2, rel=1e-14)
    assert departure_from_normality(J) == pytest.approx(a, rel=1e-14)  # strict upper triangle of its Schur form
    assert numerical_abscissa(J) == pytest.approx(1 + a / 2, rel=1e-14)  # eig of [[1, 5], [5, 1]]
    chain = CASES["feedforward_chain"][0]
    assert spectral_radius(chain) == 0.0
    assert spectral_norm(chain) == pytest.approx(2.0, rel=1e-14)
    assert departure_from_normality(chain) == pytest.approx(np.sqrt(7 * 4.0), rel=1e-14)
    T = CASES["triangular"][0]
    assert departure_from_normality(T) == pytest.approx(np.linalg.norm(np.triu(T, 1)), rel=1e-12)
    centers, radii = gershgorin_discs(np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 0.0], [1.0, 1.0, -1.0]]))
    np.testing.assert_array_equal(centers, [1.0, 3.0, -1.0])
    np.testing.assert_array_equal(radii, [2.5, 0.0, 2.0])
    assert gershgorin_radius_bound(np.array([[1.0, -2.0], [0.5, -3.0]])) == 3.5


def test_circular_law_radius():
    # Girko's circular law: W_ij ~ N(0, g^2/n) has rho -> g; at n = 400 the edge fluctuates by O(n^-1/2)
    g, n = 1.3, 400
    W = np.random.default_rng(1).normal(0.0, g / np.sqrt(n), (n, n))
    assert spectral_radius(W) == pytest.approx(g, rel=0.1)
    # and ||W||_2 -> 2 g (Marchenko-Pastur edge of the singular values of a square Gaussian matrix)
    assert spectral_norm(W) == pytest.approx(2 * g, rel=0.1)


def test_activity_variance():
    rates = np.array([[0.0, 1.0], [2.0, 3.0]])
    assert activity_variance(rates) == 1.0  # each column has variance 1 (ddof = 0)
    assert activity_variance(np.full((10, 3), 0.5)) == 0.0  # a dyadic constant: its mean is exact
    assert activity_variance(np.full((10, 3), 0.7)) == pytest.approx(0.0, abs=1e-30)  # mean of 0.7s rounds by eps
    r = np.random.default_rng(2).normal(size=(100, 7)) * np.arange(1, 8)
    assert activity_variance(r) == pytest.approx(np.mean([np.var(r[:, i]) for i in range(7)]), rel=1e-14)


@pytest.mark.parametrize("metric", [spectral_radius, spectral_norm, departure_from_normality, numerical_abscissa,
                                    gershgorin_radius_bound, gershgorin_discs], ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [np.ones((3, 4)), np.ones(3), np.zeros((0, 0)), np.ones((2, 2, 2))], ids=["3x4", "1d", "empty", "3d"])
def test_non_square_rejected(metric, bad):
    with pytest.raises(ValueError, match=rf"{metric.__name__}: W must be a square 2-D matrix.*got shape {re_shape(bad)}"):
        metric(bad)


def re_shape(a):
    import re

    return re.escape(str(tuple(a.shape)))


def test_bad_input_rejected():
    with pytest.raises(ValueError, match="spectral_radius: W must be finite"):
        spectral_radius(np.array([[np.nan, 0.0], [0.0, 1.0]]))
    with pytest.raises(TypeError, match="spectral_norm: W must be a real or complex numeric array"):
        spectral_norm(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match=r"activity_variance: rates must be a \(T, n\) array"):
        activity_variance(np.ones(5))
    with pytest.raises(ValueError, match="activity_variance: rates must be finite"):
        activity_variance(np.array([[1.0, np.inf]]))


# -- numpy vs torch ------------------------------------------------------------------------------
torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("metric", [spectral_radius, spectral_norm, departure_from_normality, numerical_abscissa,
                                    gershgorin_radius_bound], ids=lambda f: f.__name__)
def test_torch_matches_numpy(name, metric):
    W, tags = CASES[name]
    expected = metric(W)
    got = metric(torch.tensor(W))
    assert isinstance(got, torch.Tensor) and got.ndim == 0
    scale = max(_fro(W), 1.0)
    if metric is departure_from_normality or "defective" in tags:
        # torch uses the defining formula (cancellation) and defective eigenvalues are sqrt(eps)-sensitive
        tol = 10 * np.sqrt(EPS) * scale
    else:
        tol = 1e-12 * scale  # two backward-stable LAPACKs (MKL vs OpenBLAS)
    assert float(got) == pytest.approx(expected, abs=tol)


@pytest.mark.parametrize("name", CASES)
def test_torch_gershgorin_and_variance_match(name):
    W, _ = CASES[name]
    c, r = gershgorin_discs(W)
    ct, rt = gershgorin_discs(torch.tensor(W))
    np.testing.assert_allclose(ct.numpy(), c, rtol=0, atol=0)
    np.testing.assert_allclose(rt.numpy(), r, rtol=1e-15, atol=1e-15)  # same sums in another order
    rates = np.random.default_rng(3).normal(size=(40, 5))
    assert float(activity_variance(torch.tensor(rates))) == pytest.approx(activity_variance(rates), rel=1e-14)


def test_torch_gradients_are_the_analytic_ones():
    W = torch.tensor(CASES["gaussian"][0], requires_grad=True)
    spectral_norm(W).backward()
    U, s, Vh = np.linalg.svd(CASES["gaussian"][0])
    # d sigma_1 / dW = u_1 v_1^T for a simple top singular value
    np.testing.assert_allclose(W.grad.numpy(), np.outer(U[:, 0], Vh[0]), atol=1e-10)
    S = torch.tensor(CASES["symmetric"][0], requires_grad=True)
    numerical_abscissa(S).backward()
    w, V = np.linalg.eigh(CASES["symmetric"][0])
    # d lambda_max((W + W^T)/2) / dW = v v^T for symmetric W (the symmetric part passes the gradient whole)
    np.testing.assert_allclose(S.grad.numpy(), np.outer(V[:, -1], V[:, -1]), atol=1e-10)
