"""models.iris_mlp: the bundled Iris data against Fisher's published summary, the hand-written gradient
against autograd, the sharpness against a finite-difference Hessian, the authors' initialisation."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models import iris_mlp as im  # noqa: E402


def test_bundled_iris_matches_the_published_summary():
    data = np.loadtxt(im.IRIS_CSV, delimiter=",", skiprows=1)
    assert data.shape == (150, 5)
    assert np.bincount(data[:, 4].astype(int)).tolist() == [50, 50, 50]
    # summary statistics of the data set (scikit-learn's iris.rst: min, max, mean per attribute); the
    # means are given to two decimals, rounded or cut (sepal width: 3.0573 is printed 3.05)
    np.testing.assert_allclose(data[:, :4].min(axis=0), [4.3, 2.0, 1.0, 0.1])
    np.testing.assert_allclose(data[:, :4].max(axis=0), [7.9, 4.4, 6.9, 2.5])
    mean = data[:, :4].mean(axis=0)
    published = np.array([5.84, 3.05, 3.76, 1.20])
    assert np.all((mean > published - 0.005) & (mean < published + 0.01))
    X, y, Xt, yt = im.load_iris()
    assert X.shape == (120, 4) and Xt.shape == (30, 4)
    # a split is a permutation of the rows: together they are the data set
    both = np.concatenate([np.c_[X, y], np.c_[Xt, yt]])
    np.testing.assert_array_equal(both[np.lexsort(both.T)], data[np.lexsort(data.T)])
    with pytest.raises(ValueError, match="n_train"):
        im.load_iris(n_train=0)


def test_gradient_matches_autograd():
    X, y, _, _ = im.load_iris()
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    theta = torch.stack([im.init_params(10, s) for s in range(3)])
    loss, grad = im.loss_and_grad(theta, Xt, yt, 10)
    t = theta.clone().requires_grad_(True)
    ref = sum(torch.nn.functional.cross_entropy(im._forward(t[c:c + 1], Xt, 10)[1][0], yt) for c in range(3))
    ref.backward()
    np.testing.assert_allclose(grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert loss.shape == (3,) and float(loss.sum()) == pytest.approx(float(ref.detach()), rel=1e-13)


def test_sharpness_matches_a_finite_difference_hessian():
    X, y, _, _ = im.load_iris()
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    theta = im.init_params(4, 1)
    P, h = theta.shape[0], 1e-5
    H = np.empty((P, P))
    for k in range(P):  # central differences of the hand-written gradient
        e = torch.zeros(P, dtype=torch.float64)
        e[k] = h
        g = im.loss_and_grad(torch.stack([theta + e, theta - e]), Xt, yt, 4)[1]
        H[:, k] = ((g[0] - g[1]) / (2 * h)).numpy()
    assert im.sharpness(theta, X, y, 4) == pytest.approx(np.linalg.eigvalsh(0.5 * (H + H.T))[-1], rel=1e-6)
    assert np.isnan(im.sharpness(torch.full((P,), np.nan, dtype=torch.float64), X, y, 4))


def test_initialisation_and_mask():
    theta = im.init_params(10, 0).numpy()
    mask = im.weight_mask(10)
    assert theta.shape == (im.n_params(10),) == (83,) and mask.sum() == 70
    assert np.all(theta[~mask] == 0)
    rng = np.random.default_rng(0)  # the authors' order: W_1 (4, H) then W_2 (H, 3)
    np.testing.assert_array_equal(theta[:40], rng.normal(0, 1, (4, 10)).ravel())
    np.testing.assert_array_equal(theta[50:80], rng.normal(0, 1, (10, 3)).ravel())
    assert im.accuracy(torch.as_tensor(theta), *im.load_iris()[:2], 10) <= 1.0
