"""The shallow classifier of Danovski, Soriano & Lacasa (2024) on Fisher's Iris data, in torch (float64).

Architecture and training as in the authors' code (github.com/GitKalo/ann_dynamics,
``src/iris_train.py`` and ``src/run_iris_*.py``): 4 inputs (the raw measurements in cm, not
standardised), one hidden layer of ``n_hidden = 10`` sigmoid units, 3 softmax outputs, the mean
cross-entropy over the 120 training flowers (sparse categorical cross-entropy, no regularisation),
full-batch gradient descent (batch size 120: one step per epoch), weights drawn from N(0, 1) and
biases zero. For one copy::

    h = sigmoid(x W_1 + b_1),   p = softmax(h W_2 + b_2),   L = -mean_i ln p_{y_i}(x_i)

with ``W_1 (4, H)``, ``b_1 (H,)``, ``W_2 (H, 3)``, ``b_2 (3,)`` flat in one vector ``theta`` of
P = 4H + H + 3H + 3 parameters (83 for H = 10), in that order; ``loss_and_grad`` evaluates several
copies ``theta (C, P)`` at once (the gradient by hand, tested against autograd).

Departure: the authors take the first 120 flowers of the ``tensorflow_datasets`` ordering of Iris
for training; that ordering is not reproduced here. ``load_iris`` splits the bundled CSV
(``models/data/iris.csv``, from scikit-learn; see ``models/data/README_iris.md``) by a fixed
seeded permutation instead.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

__all__ = ["IRIS_CSV", "load_iris", "n_params", "init_params", "weight_mask", "loss_and_grad", "gradient",
           "full_batch_loss", "accuracy", "sharpness"]

IRIS_CSV = Path(__file__).parent / "data" / "iris.csv"
N_IN, N_OUT = 4, 3


def load_iris(n_train: int = 120, split_seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train (n_train, 4), y_train, X_test, y_test)`` from the bundled CSV (150 flowers; labels
    0, 1, 2), split by the permutation ``numpy.random.default_rng(split_seed).permutation(150)``."""
    if not (isinstance(n_train, int) and 1 <= n_train <= 150):
        raise ValueError(f"load_iris: n_train must be an integer in [1, 150]; got {n_train!r}")
    data = np.loadtxt(IRIS_CSV, delimiter=",", skiprows=1)
    order = np.random.default_rng(int(split_seed)).permutation(len(data))
    X, y = data[order, :4], data[order, 4].astype(np.int64)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def n_params(n_hidden: int) -> int:
    """P = 4 H (W_1) + H (b_1) + 3 H (W_2) + 3 (b_2)."""
    return (N_IN + 1 + N_OUT) * n_hidden + N_OUT


def init_params(n_hidden: int, seed: int, sigma: float = 1.0):
    """Weights from N(0, sigma^2), biases zero, drawn in the authors' order (``W_1`` then ``W_2``)
    with ``numpy.random.default_rng(seed)``; float64 ``(P,)``."""
    if not (isinstance(n_hidden, int) and n_hidden >= 1):
        raise ValueError(f"init_params: n_hidden must be an integer >= 1; got {n_hidden!r}")
    rng = np.random.default_rng(int(seed))
    W1 = rng.normal(0.0, sigma, (N_IN, n_hidden))
    W2 = rng.normal(0.0, sigma, (n_hidden, N_OUT))
    return torch.as_tensor(np.concatenate([W1.ravel(), np.zeros(n_hidden), W2.ravel(), np.zeros(N_OUT)]))


def weight_mask(n_hidden: int) -> np.ndarray:
    """``(P,)`` bool: True on the weights, False on the biases (the authors perturb only weights)."""
    h = n_hidden
    return np.concatenate([np.ones(N_IN * h), np.zeros(h), np.ones(h * N_OUT), np.zeros(N_OUT)]).astype(bool)


def _unpack(theta, h: int):
    """Views ``W_1 (C, 4, H), b_1 (C, H), W_2 (C, H, 3), b_2 (C, 3)`` of ``theta (C, P)``."""
    a, b, c = N_IN * h, (N_IN + 1) * h, (N_IN + 1 + N_OUT) * h
    return (theta[:, :a].reshape(-1, N_IN, h), theta[:, a:b], theta[:, b:c].reshape(-1, h, N_OUT), theta[:, c:])


def _forward(theta, X, h: int):
    W1, b1, W2, b2 = _unpack(theta, h)
    A = torch.sigmoid(torch.matmul(X, W1) + b1[:, None, :])            # (C, n, H)
    return A, torch.matmul(A, W2) + b2[:, None, :]                       # logits (C, n, 3)


def loss_and_grad(theta, X, y, n_hidden: int):
    """Mean cross-entropy ``(C,)`` and its gradient ``(C, P)`` for every copy ``theta (C, P)``.

    ``dL/dz_2 = (p - onehot(y)) / n``, back-propagated by hand through the softmax and sigmoid
    layers (the log-softmax is evaluated stably: no clipping of probabilities)."""
    A, Z = _forward(theta, X, n_hidden)
    logp = torch.log_softmax(Z, dim=2)
    onehot = torch.nn.functional.one_hot(y, N_OUT).to(theta.dtype)
    loss = -(logp * onehot).sum(dim=2).mean(dim=1)
    dZ = (torch.exp(logp) - onehot) / X.shape[0]                         # (C, n, 3)
    _, _, W2, _ = _unpack(theta, n_hidden)
    dpre = torch.matmul(dZ, W2.transpose(1, 2)) * A * (1.0 - A)          # (C, n, H)
    grad = torch.cat([torch.matmul(X.T, dpre).reshape(theta.shape[0], -1), dpre.sum(dim=1),
                      torch.matmul(A.transpose(1, 2), dZ).reshape(theta.shape[0], -1), dZ.sum(dim=1)], dim=1)
    return loss, grad


def gradient(X, y, n_hidden: int):
    """``grad_fn(theta (C, P), step) -> (loss (C,), grad (C, P))``: full batch at every step (for
    :func:`models.trajectories.gd_trajectories`)."""
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.int64)
    return lambda theta, step: loss_and_grad(theta, Xt, yt, n_hidden)


def full_batch_loss(thetas, X, y, n_hidden: int, chunk: int = 512) -> np.ndarray:
    """Cross-entropy of every row of ``thetas (T, P)`` (NaN rows give NaN): ``(T,)``."""
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.int64)
    thetas = torch.as_tensor(thetas, dtype=torch.float64)
    with torch.no_grad():
        return np.concatenate([loss_and_grad(thetas[k:k + chunk], Xt, yt, n_hidden)[0].numpy()
                               for k in range(0, thetas.shape[0], chunk)])


def accuracy(theta, X, y, n_hidden: int) -> float:
    """Fraction of flowers whose largest output is their species (NaN for non-finite ``theta (P,)``)."""
    if not bool(torch.isfinite(theta).all()):
        return math.nan
    _, Z = _forward(theta[None], torch.as_tensor(X, dtype=torch.float64), n_hidden)
    return float((Z[0].argmax(dim=1).numpy() == np.asarray(y)).mean())


def sharpness(theta, X, y, n_hidden: int) -> float:
    """Largest eigenvalue of the Hessian of the full-batch loss at ``theta (P,)`` (autograd); NaN if not finite."""
    if not bool(torch.isfinite(theta).all()):
        return math.nan
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.int64)

    def loss(t):
        _, Z = _forward(t[None], Xt, n_hidden)
        return torch.nn.functional.cross_entropy(Z[0], yt)

    H = torch.autograd.functional.hessian(loss, theta.detach())
    return float(torch.linalg.eigvalsh(H)[-1])
