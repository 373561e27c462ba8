"""Signal and gradient propagation in deep feedforward stacks at initialisation, measured and in mean-field theory.

For the stacks of :mod:`models.feedforward` (plain, residual, recurrent; ReLU, tanh or linear):

* ``propagation_profile``: per layer, the mean squared pre-activation ``q_l`` (forward), the mean
  squared gradient of a random linear read-out with respect to ``h_l`` (backward) and the norm of
  each weight matrix's gradient;
* ``mean_field_profile``: the infinite-width recursions of both (Poole et al. 2016; Schoenholz
  et al. 2017): ReLU with weights of variance c/fan_in scales both by c/2 per layer (He et al.
  2015), tanh at c = 1 (Glorot) sits at the order-chaos boundary;
* ``jacobian_spectra``: spectral norm, radius and smallest singular value of ``J_l = dh_l/dx``
  (all 1 for deep linear orthogonal stacks; Saxe et al. 2014);
* ``affine_spectra``: the eigenvalues of ``A(x)`` of a ReLU network read as the pointwise affine
  map ``f(x) = A(x) x + b(x)`` (Drgona, Tuor et al. 2020, arXiv:2011.13492).

Each runs torch on one thread (one per sweep point) and returns numpy arrays.

References: Poole et al. (2016), NeurIPS; Schoenholz et al. (2017), ICLR, "Deep information
propagation"; Pennington, Schoenholz & Ganguli (2017), NeurIPS (dynamical isometry).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from models.feedforward import affine_network, build_stack, forward, jacobian_products
from plasticity.torch.threads import torch_threads

__all__ = ["propagation_profile", "signal_variance_profile", "gradient_profile", "mean_field_profile",
           "gaussian_moments", "jacobian_spectra", "affine_spectra"]


def propagation_profile(depth: int, width: int, init: str | float, activation: str, seed: int,
                        arch: str = "plain", batch: int = 64) -> dict[str, np.ndarray]:
    """Mean squared pre-activation and mean squared gradient per layer, at initialisation.

    Inputs ``x ~ N(0, I)`` (``batch`` of them); loss ``L = sum_b g_b . h_L,b`` with ``g ~ N(0, I)``
    fixed, so ``dL/dh_L = g``. Zero biases. ``seed`` draws the weights (``build_stack``) and,
    independently, the inputs.

    Returns
    -------
    dict with ``q`` ``(depth,)``: ``mean(h_l ** 2)`` over inputs and units, ``grad`` ``(depth,)``:
    ``mean((dL/dh_l) ** 2)``, and ``weight_grad`` ``(depth,)``: ``||dL/dW_l||_F`` (the gradient of the
    l-th weight matrix; for ``"recurrent"`` each time step's share of the tied matrix's gradient).
    """
    with torch_threads(1):  # one torch thread per sweep point (points run one per core)
        weights = build_stack(depth, width, init, activation, arch, seed)
        gen = torch.Generator().manual_seed(int(seed) + 7919)  # inputs independent of the weights
        x = torch.randn(batch, width, generator=gen, dtype=torch.float64)
        g = torch.randn(batch, width, generator=gen, dtype=torch.float64)
        leaves = [W.detach().clone().requires_grad_(True) for W in weights]
        hs = forward(leaves, x, activation, arch)
        grads = torch.autograd.grad((hs[-1] * g).sum(), hs + leaves)
        delta, wgrad = grads[:depth], grads[depth:]
        return {
            "q": np.array([float((h.detach() ** 2).mean()) for h in hs]),
            "grad": np.array([float((d ** 2).mean()) for d in delta]),
            "weight_grad": np.array([float(torch.linalg.norm(w)) for w in wgrad]),
        }


def signal_variance_profile(depth: int, width: int, init: str | float, activation: str, seed: int,
                            arch: str = "plain", batch: int = 64) -> np.ndarray:
    """``q_l = mean(h_l ** 2)`` for ``l = 1 .. depth`` (see :func:`propagation_profile`)."""
    return propagation_profile(depth, width, init, activation, seed, arch, batch)["q"]


def gradient_profile(depth: int, width: int, init: str | float, activation: str, seed: int,
                     arch: str = "plain", batch: int = 64) -> np.ndarray:
    """``mean((dL/dh_l) ** 2)`` for ``l = 1 .. depth`` (see :func:`propagation_profile`)."""
    return propagation_profile(depth, width, init, activation, seed, arch, batch)["grad"]


def mean_field_profile(depth: int, c: float, activation: str, q1: float,
                       alpha: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-width forward and backward recursions from ``q_1``.

    Plain (``alpha = 0``): ``q_{l+1} = c E[phi(u)^2]`` and per-layer backward factor
    ``chi_l = c E[phi'(u)^2]``, with ``u ~ N(0, q_l)`` (Poole et al. 2016; Schoenholz et al. 2017).
    Residual: ``q_{l+1} = q_l + alpha^2 c E[phi(u)^2]`` and ``chi_l = 1 + alpha^2 c E[phi'(u)^2]``.
    ``c`` is :func:`models.feedforward.weight_factor`; expectations by :func:`gaussian_moments`.

    Returns
    -------
    q : (depth,) ndarray
    grad : (depth,) ndarray
        Mean squared gradient relative to the last layer: ``grad[-1] = 1``,
        ``grad[l-1] = chi_{l-1} grad[l]``.
    """
    scale, keep = (alpha ** 2, 1.0) if alpha else (1.0, 0.0)
    q = np.empty(depth)
    chi = np.empty(depth)
    q[0] = q1
    for k in range(depth):
        e_phi2, e_dphi2 = gaussian_moments(activation, q[k])
        chi[k] = keep + scale * c * e_dphi2
        if k + 1 < depth:
            q[k + 1] = keep * q[k] + scale * c * e_phi2
    grad = np.ones(depth)
    for k in range(depth - 2, -1, -1):
        grad[k] = chi[k] * grad[k + 1]
    return q, grad


def gaussian_moments(activation: str, q: float) -> tuple[float, float]:
    """``(E[phi(u)^2], E[phi'(u)^2])`` for ``u ~ N(0, q)``.

    For ReLU ``(q/2, 1/2)`` and for linear ``(q, 1)`` exactly; for tanh Simpson sums over ``u``
    on a grid fine against both 1 (the width of tanh's bend) and ``sqrt(q)`` (that of the
    Gaussian), out to 10 standard deviations.
    """
    if activation == "relu":
        return q / 2.0, 0.5
    if activation == "linear":
        return q, 1.0
    from scipy.integrate import simpson

    sd = math.sqrt(q)
    du = min(0.01, sd / 100.0)
    u = np.linspace(-10.0 * sd, 10.0 * sd, 2 * int(math.ceil(10.0 * sd / du)) + 1)
    density = np.exp(-0.5 * (u / sd) ** 2) / (sd * math.sqrt(2.0 * math.pi))
    t = np.tanh(u)
    return float(simpson(t ** 2 * density, x=u)), float(simpson((1.0 - t ** 2) ** 2 * density, x=u))


def jacobian_spectra(depth: int, width: int, init: str | float, activation: str, seed: int,
                     arch: str = "plain") -> dict[str, np.ndarray]:
    """Per layer: spectral norm, spectral radius and smallest singular value of ``J_l = dh_l/dx``.

    At one input ``x ~ N(0, I)`` drawn as the first input of :func:`propagation_profile`.
    Returns ``jac_norm``, ``jac_radius``, ``jac_smin``, each ``(depth,)``.
    """
    with torch_threads(1):
        weights = build_stack(depth, width, init, activation, arch, seed)
        gen = torch.Generator().manual_seed(int(seed) + 7919)
        x = torch.randn(width, generator=gen, dtype=torch.float64)
        norm, radius, smin = (np.empty(depth) for _ in range(3))
        for k, J in enumerate(jacobian_products(weights, x, activation, arch)):
            A = J.numpy()
            s = np.linalg.svd(A, compute_uv=False)
            norm[k], smin[k] = s[0], s[-1]
            radius[k] = np.max(np.abs(np.linalg.eigvals(A)))
    return {"jac_norm": norm, "jac_radius": radius, "jac_smin": smin}


def affine_spectra(width: int, depth: int, init: str, bias: float, seed: int, points: int = 64) -> dict:
    """Eigenvalues of ``A(x)`` (``f(x) = A(x) x + b(x)``) at ``points`` random ``x ~ N(0, I)``.

    The network is :func:`models.feedforward.affine_network` (``depth`` Linear layers, every bias
    ``bias``). A negative bias switches units off (A loses rank); with one hidden layer and
    bias -> +inf every unit is on and ``A = W_2 W_1``.

    Returns ``eig`` ``(points, width)`` complex, ``radius`` ``(points,)`` and ``active`` ``(points,)``,
    the fraction of hidden units on.
    """
    from plasticity.metrics import activation_pattern, pointwise_affine

    with torch_threads(1):
        net = affine_network(width, depth, init, bias, seed)
        gen = torch.Generator().manual_seed(int(seed) + 7919)
        xs = torch.randn(points, width, generator=gen, dtype=torch.float64)
        eig = np.empty((points, width), complex)
        active = np.empty(points)
        with torch.no_grad():
            for k, x in enumerate(xs):
                A, _ = pointwise_affine(net, x)
                eig[k] = np.linalg.eigvals(A.numpy())
                active[k] = np.mean(np.concatenate(activation_pattern(net, x))) if depth > 1 else 1.0
    return {"eig": eig, "radius": np.abs(eig).max(axis=1), "active": active}
