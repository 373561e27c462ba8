"""Feedforward networks in torch (float64): deep stacks at initialisation, ReLU maps, a shallow tanh MLP.

Deep stacks of width n (``build_stack``, ``forward``), with ``h_1 = W_1 x`` and for ``l >= 2``::

    plain      h_l = W_l phi(h_{l-1})
    residual   h_l = h_{l-1} + alpha W_l phi(h_{l-1})   (alpha = 1, or 1/sqrt(depth): "residual_scaled")
    recurrent  h_l = W phi(h_{l-1})                      (one W for every l >= 2: an RNN unrolled in time)

with ``phi`` ReLU, tanh or linear and weights drawn by He (variance 2/fan_in), Glorot
(2/(fan_in + fan_out)), naive N(0, 0.01^2) ("naive_small") or N(0, 1) ("naive_unit"), or
scaled orthogonal (gain sqrt 2 for ReLU, 1 otherwise); the input-output Jacobians
``J_l = dh_l/dx`` as explicit products (``jacobian_products``). ``affine_network`` is a ReLU
``Sequential`` with a constant bias, to be read as a pointwise affine map
(:func:`plasticity.metrics.pointwise_affine`). What these stacks do at initialisation (signal and
gradient profiles, mean-field recursions, spectra) is in :mod:`models.propagation`.

The shallow MLP (``init_params``, ``network_output``, ``loss_and_grad``, ``minibatch_gradient``,
``sharpness``, ``full_batch_loss``): 2 inputs, one hidden layer of ``n_hidden`` tanh units and a
linear output, its P = 4 n_hidden + 1 parameters flat in one vector ``theta``, evaluated for
several copies ``theta (C, P)`` at once (for gradient-descent trajectories, :mod:`models.trajectories`).

References: He, Zhang, Ren & Sun (2015), ICCV; Glorot & Bengio (2010), AISTATS; Saxe, McClelland
& Ganguli (2014), ICLR; Hanin & Rolnick (2018), NeurIPS (scaled residual branches); Mezzadri
(2007), Notices AMS (Haar orthogonal matrices).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from plasticity.activations import ACTIVATIONS as TABLE

__all__ = ["INITS", "ACTIVATIONS", "ARCHS", "weight_factor", "init_weight", "build_stack", "residual_scale",
           "forward", "phi_prime", "jacobian_products", "affine_network", "two_circles", "n_params", "init_params",
           "network_output", "loss_and_grad", "minibatch_gradient", "sharpness", "full_batch_loss"]

INITS = ("he", "glorot", "naive_small", "naive_unit", "orthogonal")
ACTIVATIONS = ("relu", "tanh", "linear")  # the entries of plasticity.activations.ACTIVATIONS a stack takes
ARCHS = ("plain", "residual", "residual_scaled", "recurrent")


# -- deep stacks ------------------------------------------------------------------------------
def weight_factor(init: str | float, n_out: int, n_in: int, activation: str) -> float:
    """``c = fan_in * Var(W_ij)`` of an initialisation (the factor of the mean-field recursions).

    ``init`` a number means Gaussian weights of variance ``init / fan_in``. For ``"orthogonal"``,
    ``c`` is the squared gain (rows of norm ``gain``).
    """
    if not isinstance(init, str):
        c = float(init)
        if not (c > 0 and math.isfinite(c)):
            raise ValueError(f"weight_factor: init must be one of {INITS} or a number in (0, inf); got {init!r}")
        return c
    if init == "he":
        return 2.0
    if init == "glorot":
        return 2.0 * n_in / (n_in + n_out)
    if init == "naive_small":
        return 1e-4 * n_in
    if init == "naive_unit":
        return float(n_in)
    if init == "orthogonal":
        return 2.0 if activation == "relu" else 1.0
    raise ValueError(f"weight_factor: init must be one of {INITS} or a number in (0, inf); got {init!r}")


def init_weight(init: str | float, n_out: int, n_in: int, activation: str, generator):
    """One ``(n_out, n_in)`` float64 torch weight matrix drawn with ``generator``.

    Orthogonal: the Q factor of a Gaussian matrix with the signs of diag(R) absorbed (Haar
    distributed; Mezzadri 2007), times the gain sqrt(c).
    """
    c = weight_factor(init, n_out, n_in, activation)
    if init == "orthogonal":
        big, small = max(n_out, n_in), min(n_out, n_in)
        Q, R = torch.linalg.qr(torch.randn(big, small, generator=generator, dtype=torch.float64))
        Q = Q * torch.sign(torch.diagonal(R))
        W = Q if n_out >= n_in else Q.T
        return math.sqrt(c) * W
    return math.sqrt(c / n_in) * torch.randn(n_out, n_in, generator=generator, dtype=torch.float64)


def build_stack(depth: int, width: int, init: str | float, activation: str, arch: str, seed: int) -> list:
    """Weights ``[W_1, ..., W_depth]`` (each ``(width, width)``); for ``"recurrent"`` W_2..W_depth are one matrix."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"build_stack: activation must be one of {ACTIVATIONS}; got {activation!r}")
    if arch not in ARCHS:
        raise ValueError(f"build_stack: arch must be one of {ARCHS}; got {arch!r}")
    if not (isinstance(depth, int) and depth >= 1 and isinstance(width, int) and width >= 1):
        raise ValueError(f"build_stack: depth and width must be integers >= 1; got {depth!r}, {width!r}")
    gen = torch.Generator().manual_seed(int(seed))
    first = init_weight(init, width, width, activation, gen)
    if arch == "recurrent":
        W = init_weight(init, width, width, activation, gen)
        return [first] + [W] * (depth - 1)
    return [first] + [init_weight(init, width, width, activation, gen) for _ in range(depth - 1)]


def _phi(activation: str):
    return TABLE[activation].value  # torch tensors, differentiable


def phi_prime(activation: str, h):
    """``phi'(h)`` elementwise, from :data:`plasticity.activations.ACTIVATIONS` (ReLU'(0) = 0)."""
    return TABLE[activation].derivative(h)


def residual_scale(arch: str, depth: int) -> float:
    """Branch scale alpha of the residual stacks (0 marks a non-residual stack)."""
    return {"residual": 1.0, "residual_scaled": 1.0 / math.sqrt(depth)}.get(arch, 0.0)


def forward(weights: list, x, activation: str, arch: str) -> list:
    """``[h_1, ..., h_depth]`` for inputs ``x`` of shape ``(batch, width)`` (rows are inputs)."""
    phi, alpha = _phi(activation), residual_scale(arch, len(weights))
    hs = [x @ weights[0].T]
    for W in weights[1:]:
        branch = phi(hs[-1]) @ W.T
        hs.append(hs[-1] + alpha * branch if alpha else branch)
    return hs


def jacobian_products(weights: list, x, activation: str, arch: str) -> list:
    """``[J_1, ..., J_depth]`` with ``J_l = dh_l/dx`` at one input ``x`` (shape ``(width,)``).

    ``J_1 = W_1``, ``J_l = M_l J_{l-1}`` with ``M_l = W_l diag(phi'(h_{l-1}))`` (plain, recurrent)
    or ``I + alpha W_l diag(phi'(h_{l-1}))`` (residual).
    """
    alpha = residual_scale(arch, len(weights))
    hs = forward(weights, x[None, :], activation, arch)
    J = weights[0].clone()
    out = [J]
    for W, h in zip(weights[1:], hs[:-1]):
        WD = W * phi_prime(activation, h[0])[None, :]
        J = (J + alpha * (WD @ J)) if alpha else WD @ J
        out.append(J)
    return out


def affine_network(width: int, depth: int, init: str, bias: float, seed: int):
    """``Sequential(Linear, ReLU, ..., Linear)``: ``depth`` square Linear layers, every bias ``= bias``."""
    gen = torch.Generator().manual_seed(int(seed))
    layers = []
    for k in range(depth):
        lin = torch.nn.Linear(width, width, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(init_weight(init, width, width, "relu", gen))
            lin.bias.fill_(bias)
        layers.append(lin)
        if k < depth - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


# -- the shallow MLP ----------------------------------------------------------------------------
def two_circles(n_samples: int, seed: int, noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """A fixed data set ``(X (n, 2), y (n,))``: the first batch of
    ``models.tasks.classification_2d(kind="circles")`` (circles of radius 0.5, y = +1, and 1,
    y = -1, classes with probability 1/2, Gaussian noise of standard deviation ``noise``)."""
    from models.tasks import classification_2d

    X, y = next(classification_2d(n_samples, kind="circles", noise=noise, seed=int(seed), dtype=torch.float64))
    return X.numpy(), y.numpy()[:, 0]


def n_params(n_hidden: int) -> int:
    """P = 2 n_hidden (W_1) + n_hidden (b_1) + n_hidden (w_2) + 1 (b_2)."""
    return 4 * n_hidden + 1


def init_params(n_hidden: int, seed: int):
    """LeCun-normal initial weights (W_1 ~ N(0, 1/2), w_2 ~ N(0, 1/n_hidden)), zero biases; float64 ``(P,)``."""
    gen = torch.Generator().manual_seed(int(seed))
    W1 = torch.randn(n_hidden, 2, generator=gen, dtype=torch.float64) / math.sqrt(2.0)
    w2 = torch.randn(n_hidden, generator=gen, dtype=torch.float64) / math.sqrt(n_hidden)
    zeros = torch.zeros(n_hidden + 1, dtype=torch.float64)
    return torch.cat([W1.reshape(-1), zeros[:n_hidden], w2, zeros[n_hidden:]])


def _unpack(theta, n_hidden: int):
    """Views ``W_1 (C, H, 2), b_1 (C, H), w_2 (C, H), b_2 (C,)`` of ``theta (C, P)``."""
    h = n_hidden
    return theta[:, :2 * h].reshape(-1, h, 2), theta[:, 2 * h:3 * h], theta[:, 3 * h:4 * h], theta[:, 4 * h]


def network_output(theta, X, n_hidden: int):
    """``f(x) = w_2 . tanh(W_1 x + b_1) + b_2`` for every copy: ``(C, n)`` for ``theta (C, P)``, ``X (n, 2)``."""
    W1, b1, w2, b2 = _unpack(theta, n_hidden)
    A = torch.tanh(torch.matmul(W1, X.T).transpose(1, 2) + b1[:, None, :])
    return torch.matmul(A, w2[:, :, None])[..., 0] + b2[:, None]


def loss_and_grad(theta, X, y, n_hidden: int, weight_decay: float = 0.0):
    """Loss ``L = mean_i (f(x_i) - y_i)^2 / 2 + weight_decay |theta|^2 / 2`` and its gradient, by hand.

    Batched over copies: ``theta (C, P)`` -> ``(loss (C,), grad (C, P))``; each copy's gradient
    is independent of the others (tested against autograd).
    """
    W1, b1, w2, b2 = _unpack(theta, n_hidden)
    A = torch.tanh(torch.matmul(W1, X.T).transpose(1, 2) + b1[:, None, :])      # (C, n, H)
    r = torch.matmul(A, w2[:, :, None])[..., 0] + b2[:, None] - y               # (C, n)
    loss = 0.5 * (r * r).mean(dim=1) + 0.5 * weight_decay * (theta * theta).sum(dim=1)
    d_out = r / X.shape[0]
    d_pre = d_out[:, :, None] * w2[:, None, :] * (1.0 - A * A)                  # (C, n, H)
    grad = torch.cat([
        torch.matmul(d_pre.transpose(1, 2), X).reshape(theta.shape[0], -1),    # W_1
        d_pre.sum(dim=1),                                                       # b_1
        torch.matmul(d_out[:, None, :], A)[:, 0],                              # w_2
        d_out.sum(dim=1, keepdim=True),                                         # b_2
    ], dim=1)
    return loss, grad + weight_decay * theta


def minibatch_gradient(X, y, n_hidden: int, batches: int, seed: int, weight_decay: float = 0.0):
    """``grad_fn(theta (C, P), step) -> (loss (C,), grad (C, P))``: step ``t`` uses minibatch
    ``t mod batches`` of one fixed random partition (``batches = 1``: full batch)."""
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    order = np.random.default_rng([int(seed), 7]).permutation(len(yt)) if batches > 1 else np.arange(len(yt))
    parts = [(Xt[order[k::batches]], yt[order[k::batches]]) for k in range(batches)]

    def grad_fn(theta, step: int):
        Xb, yb = parts[step % batches]
        return loss_and_grad(theta, Xb, yb, n_hidden, weight_decay)

    return grad_fn


def sharpness(theta, X, y, n_hidden: int, weight_decay: float = 0.0) -> float:
    """Largest eigenvalue of the Hessian of the full-batch loss at ``theta (P,)`` (autograd); NaN if not finite."""
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)

    def loss(t):
        r = network_output(t[None, :], Xt, n_hidden)[0] - yt
        return 0.5 * (r * r).mean() + 0.5 * weight_decay * (t * t).sum()

    if not bool(torch.isfinite(theta).all()):
        return math.nan
    H = torch.autograd.functional.hessian(loss, theta.detach())
    return float(torch.linalg.eigvalsh(H)[-1])


def full_batch_loss(thetas, X, y, n_hidden: int, weight_decay: float = 0.0, chunk: int = 256) -> np.ndarray:
    """Full-batch loss (with the L2 term) of every row of ``thetas (T, P)``, ``chunk`` rows at a time: ``(T,)``."""
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    parts = []
    with torch.no_grad():
        for k in range(0, thetas.shape[0], chunk):
            th = thetas[k:k + chunk]
            r = network_output(th, Xt, n_hidden) - yt
            parts.append((0.5 * (r * r).mean(dim=1) + 0.5 * weight_decay * (th * th).sum(dim=1)).numpy())
    return np.concatenate(parts)
