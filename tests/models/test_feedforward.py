"""models.feedforward: initialisations against their variances, Jacobian products against autograd, the
pointwise-affine ReLU network in its bias limits, and the shallow MLP's hand-written gradient."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models import feedforward as ff  # noqa: E402
from models.propagation import affine_spectra  # noqa: E402


def test_named_inits_have_their_variance():
    gen = torch.Generator().manual_seed(0)
    n = 400
    for init, var in [("he", 2 / n), ("glorot", 1 / n), ("naive_small", 1e-4), ("naive_unit", 1.0)]:
        W = ff.init_weight(init, n, n, "relu", gen)
        # sample variance of n^2 = 160000 normal entries: relative standard error sqrt(2/n^2) = 0.0035
        assert float(W.var()) == pytest.approx(var, rel=0.02)
    Q = ff.init_weight("orthogonal", n, n, "tanh", gen)
    np.testing.assert_allclose((Q @ Q.T).numpy(), np.eye(n), atol=1e-12)  # QR in float64


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("arch", ff.ARCHS)
def test_jacobian_product_equals_autograd(activation, arch):
    depth, width = 5, 9
    weights = ff.build_stack(depth, width, "he", activation, arch, seed=4)
    x = torch.randn(width, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    products = ff.jacobian_products(weights, x, activation, arch)
    for layer in range(1, depth + 1):
        f = lambda v, k=layer: ff.forward(weights, v[None, :], activation, arch)[k - 1][0]  # noqa: E731
        J = torch.autograd.functional.jacobian(f, x)
        # same float64 products in another order
        np.testing.assert_allclose(products[layer - 1].numpy(), J.numpy(), rtol=1e-10, atol=1e-12)


def test_affine_spectra_limits_of_the_bias():
    # Drgona, Tuor et al. (2020): f(x) = A(x) x + b(x). With every unit off (bias -> -inf) A = 0.
    # With one hidden layer and bias -> +inf every unit is on and A = W_2 W_1 (in deeper nets the
    # large common input of the next layer is weighted by rows of either sign, so not all stay on).
    off = affine_spectra(6, 3, "he", -1e3, seed=0, points=4)
    assert np.all(off["eig"] == 0) and np.all(off["active"] == 0)
    width, depth = 6, 2
    on = affine_spectra(width, depth, "he", 1e3, seed=0, points=4)
    net = ff.affine_network(width, depth, "he", 1e3, seed=0)
    linears = [m.weight.detach().numpy() for m in net if isinstance(m, torch.nn.Linear)]
    product = linears[1] @ linears[0]
    expected = np.sort_complex(np.linalg.eigvals(product))
    assert np.all(on["active"] == 1)
    for eig in on["eig"]:
        # eigenvalues of the same 6 x 6 float64 matrix formed in another order
        np.testing.assert_allclose(np.sort_complex(eig), expected, rtol=1e-9, atol=1e-12)


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="activation must be one of"):
        ff.build_stack(3, 4, "he", "sigmoid", "plain", 0)
    with pytest.raises(ValueError, match="arch must be one of"):
        ff.build_stack(3, 4, "he", "relu", "dense", 0)
    with pytest.raises(ValueError, match=r"init must be one of .*got 'xavier'"):
        ff.weight_factor("xavier", 4, 4, "relu")
    with pytest.raises(ValueError, match=r"init must be .*got -1.0"):
        ff.weight_factor(-1.0, 4, 4, "relu")


def test_hand_gradient_matches_autograd():
    X, y = ff.two_circles(20, seed=3)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    theta = torch.stack([ff.init_params(5, s) + 0.3 * torch.randn(ff.n_params(5), dtype=torch.float64,
                                                                  generator=torch.Generator().manual_seed(s))
                         for s in range(3)])
    loss, grad = ff.loss_and_grad(theta, Xt, yt, 5, weight_decay=0.01)
    leaf = theta.clone().requires_grad_(True)
    r = ff.network_output(leaf, Xt, 5) - yt
    auto_loss = 0.5 * (r * r).mean(dim=1) + 0.5 * 0.01 * (leaf * leaf).sum(dim=1)
    (auto_grad,) = torch.autograd.grad(auto_loss.sum(), leaf)
    # same float64 arithmetic in another order
    np.testing.assert_allclose(loss.numpy(), auto_loss.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(grad.numpy(), auto_grad.numpy(), rtol=1e-11, atol=1e-14)


def test_minibatches_partition_the_data_in_a_fixed_order():
    X, y = ff.two_circles(24, seed=0)
    theta = ff.init_params(4, 0)[None]
    full = ff.minibatch_gradient(X, y, 4, 1, seed=0, weight_decay=1e-3)
    mini = ff.minibatch_gradient(X, y, 4, 3, seed=0, weight_decay=1e-3)
    # equal batches of 8: the mean of one epoch of minibatch gradients is the full-batch gradient
    epoch = sum(mini(theta, t)[1] for t in range(3)) / 3
    np.testing.assert_allclose(epoch.numpy(), full(theta, 0)[1].numpy(), rtol=1e-12, atol=1e-15)
    # step t uses batch t mod 3, the same batch for every copy
    np.testing.assert_array_equal(mini(theta, 4)[1].numpy(), mini(theta, 1)[1].numpy())


def test_sharpness_and_full_batch_loss_against_autograd():
    # independent references: the Hessian's top eigenvalue by autograd and the loss of each row by hand
    X, y = ff.two_circles(16, seed=1)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    thetas = torch.stack([ff.init_params(3, s) for s in range(5)])
    losses = ff.full_batch_loss(thetas, X, y, 3, weight_decay=0.01, chunk=2)
    for th, value in zip(thetas, losses):
        assert value == pytest.approx(float(ff.loss_and_grad(th[None], Xt, yt, 3, 0.01)[0][0]), rel=1e-13)
    H = torch.autograd.functional.hessian(lambda t: ff.loss_and_grad(t[None], Xt, yt, 3, 0.01)[0][0], thetas[0])
    assert ff.sharpness(thetas[0], X, y, 3, 0.01) == pytest.approx(float(torch.linalg.eigvalsh(H)[-1]), rel=1e-10)
    assert np.isnan(ff.sharpness(torch.full_like(thetas[0], np.nan), X, y, 3))
