"""Piecewise-linear networks as pointwise affine maps, f(x) = A(x) x + b(x).

A network of ``Linear`` layers and ReLU-family activations is affine on each activation
region (the set of inputs with one on/off pattern of every unit, a convex polytope): with
``D_k(x) = diag(phi'(z_k))`` the slopes of layer ``k``'s activation at its pre-activation
``z_k``,

    A(x) = W_L D_{L-1} W_{L-1} ... D_1 W_1,
    b(x) = b_L + W_L D_{L-1} (b_{L-1} + ... ),

exactly (not a linearisation): ``A(x)`` is the Jacobian of ``f`` at ``x`` and ``A x + b``
equals ``f(x)`` to rounding. Used as a map ``x <- f(x)``, the eigenvalues of ``A(x)`` give
the local stability of the region containing ``x`` (Drgona, Tuor et al. 2020).

A unit is "on" when ``z > 0`` (slope 1) and "off" otherwise (slope 0 for ReLU,
``negative_slope`` for LeakyReLU), as in torch, whose ReLU gradient at 0 is 0.

References
----------
Drgona, Skomski, Vasisht, Tuor & Vrabie (2020, rev. 2022), "Spectral analysis and fixed point
stability of deep neural dynamics", arXiv:2011.13492.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from plasticity._validation import check_choice, check_number

__all__ = ["pointwise_affine", "affine_eigenvalues", "activation_pattern", "activation_region_exit", "same_region"]

_ACTIVATIONS = ("relu", "leaky_relu", "linear")


def _is_torch(a: Any) -> bool:
    return type(a).__module__.split(".")[0] == "torch"


_Layer = tuple[Any, Any, float | None]  # (W, b or None, off-slope or None)


def _layers(owner: str, net: Any, activation: str, negative_slope: float) -> tuple[list[_Layer], bool]:
    """``[(W, b, slope)]`` with ``slope`` the off-slope of the activation after the layer
    (None: no activation) and whether the numbers are torch tensors."""
    if _is_torch(net):
        import torch

        if not isinstance(net, torch.nn.Sequential):
            raise TypeError(
                f"{owner}: net must be a torch.nn.Sequential or a list of (W, b) pairs; got {type(net).__name__}"
            )
        return _torch_layers(owner, net), True
    if not isinstance(net, (list, tuple)) or len(net) == 0:
        raise TypeError(
            f"{owner}: net must be a torch.nn.Sequential or a non-empty list of (W, b) pairs; got {net!r:.80}"
        )
    check_choice(owner, "activation", activation, _ACTIVATIONS)
    leaky = check_number(owner, "negative_slope", negative_slope)
    slope = {"relu": 0.0, "linear": None, "leaky_relu": leaky}[activation]
    if slope == 1.0:
        slope = None  # a leaky ReLU of slope 1 is the identity
    use_torch = any(_is_torch(a) for pair in net for a in (pair if isinstance(pair, (list, tuple)) else (pair,)))
    layers = []
    for k, pair in enumerate(net):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"{owner}: net[{k}] must be a pair (W, b) (b may be None); got {type(pair).__name__}")
        W, b = pair
        if use_torch:
            import torch

            W = torch.as_tensor(W)
            b = None if b is None else torch.as_tensor(b, dtype=W.dtype, device=W.device)
        else:
            W = np.asarray(W, dtype=np.float64)
            b = None if b is None else np.asarray(b, dtype=np.float64)
        if W.ndim != 2:
            raise ValueError(f"{owner}: net[{k}] weight W must have shape (n_out, n_in); got {tuple(W.shape)}")
        if b is not None and tuple(b.shape) != (W.shape[0],):
            raise ValueError(
                f"{owner}: net[{k}] bias b has shape {tuple(b.shape)}; "
                f"expected ({W.shape[0]},) = n_out of W {tuple(W.shape)}"
            )
        if k > 0 and W.shape[1] != layers[-1][0].shape[0]:
            raise ValueError(
                f"{owner}: net[{k}] weight W has shape {tuple(W.shape)}; expected {W.shape[1]} == "
                f"{layers[-1][0].shape[0]} inputs = n_out of net[{k - 1}]"
            )
        layers.append((W, b, slope if k < len(net) - 1 else None))
    return layers, use_torch


def _torch_layers(owner: str, net: Any) -> list[_Layer]:
    import torch

    flat: list[tuple[str, Any]] = []

    def walk(seq: Any, prefix: str) -> None:
        # the Sequential's own entries, not named_children(), which yields a module reused at
        # two positions (``act = ReLU(); Sequential(Linear, act, Linear, act)``) only once
        for name, m in seq._modules.items():
            if isinstance(m, torch.nn.Sequential):
                walk(m, f"{prefix}{name}.")
            else:
                flat.append((f"{prefix}{name}", m))

    walk(net, "")
    layers: list[list[Any]] = []
    for name, m in flat:
        if isinstance(m, torch.nn.Linear):
            if layers and m.in_features != layers[-1][0].shape[0]:
                raise ValueError(
                    f"{owner}: net[{name}] is Linear with in_features={m.in_features}; "
                    f"expected {layers[-1][0].shape[0]} = out_features of the previous Linear"
                )
            layers.append([m.weight, m.bias, None])
        elif isinstance(m, torch.nn.Identity):
            continue
        elif isinstance(m, (torch.nn.ReLU, torch.nn.LeakyReLU)):
            slope = 0.0 if isinstance(m, torch.nn.ReLU) else float(m.negative_slope)
            if not layers:
                raise ValueError(
                    f"{owner}: net[{name}] is {type(m).__name__} before any Linear layer; put a Linear first"
                )
            if layers[-1][2] is not None:
                raise ValueError(f"{owner}: net[{name}] is a second activation after one Linear layer; not supported")
            layers[-1][2] = None if slope == 1.0 else slope
        else:
            raise TypeError(
                f"{owner}: net[{name}] is {type(m).__name__}; supported layers are Linear, ReLU, LeakyReLU, "
                "Identity (the network must be piecewise linear)"
            )
    if not layers:
        raise ValueError(f"{owner}: net has no Linear layer")
    return [tuple(layer) for layer in layers]


def _check_x(owner: str, x: Any, n_in: int, use_torch: bool, like: Any, name: str = "x") -> Any:
    if use_torch:
        import torch

        x = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    else:
        if _is_torch(x):
            x = x.detach().cpu().numpy()
        x = np.asarray(x, dtype=np.float64)
    if tuple(x.shape) != (n_in,):
        raise ValueError(f"{owner}: {name} has shape {tuple(x.shape)}; expected ({n_in},) = n_in of the first layer")
    return x


def _walk(owner: str, net: Any, x: Any, activation: str, negative_slope: float) -> tuple[Any, Any, list, Any, bool]:
    """Forward pass carrying the affine map. Returns ``(A, b)`` of the output, the records
    ``(z, A_z, b_z)`` of every activation layer (``z = A_z x + b_z`` its pre-activation),
    the checked ``x`` and whether the arithmetic is torch."""
    layers, use_torch = _layers(owner, net, activation, negative_slope)
    W0 = layers[0][0]
    x = _check_x(owner, x, W0.shape[1], use_torch, W0)
    if use_torch:
        import torch

        A = torch.eye(W0.shape[1], dtype=W0.dtype, device=W0.device)
        b = torch.zeros(W0.shape[1], dtype=W0.dtype, device=W0.device)

        def slopes(z: Any, off: float) -> Any:  # in the weights' dtype, as torch's LeakyReLU computes
            return torch.where(z > 0, torch.ones_like(z), torch.full_like(z, off))

    else:
        A, b = np.eye(W0.shape[1]), np.zeros(W0.shape[1])

        def slopes(z: Any, off: float) -> Any:
            return np.where(z > 0, 1.0, off)

    records = []
    for W, c, slope in layers:
        A, b = W @ A, W @ b
        if c is not None:
            b = b + c
        if slope is not None:
            z = A @ x + b
            records.append((z, A, b))
            d = slopes(z, slope)
            A, b = d[:, None] * A, d * b
    return A, b, records, x, use_torch


def pointwise_affine(net: Any, x: Any, activation: str = "relu", negative_slope: float = 0.01) -> tuple[Any, Any]:
    """The exact affine form ``f(x) = A(x) x + b(x)`` of a piecewise-linear network at ``x``.

    Parameters
    ----------
    net : torch.nn.Sequential or list of (W, b)
        A ``Sequential`` (nested ones are flattened) of ``Linear``, ``ReLU``, ``LeakyReLU`` and
        ``Identity`` layers; any other layer raises ``TypeError``. Or a list of pairs
        ``(W (n_out, n_in), b (n_out,) or None)``, with ``activation`` applied between layers
        and not after the last one (the output is linear, as in a readout).
    x : (n_in,) array_like or torch.Tensor
        The point.
    activation : {"relu", "leaky_relu", "linear"}
        For the list form only.
    negative_slope : float
        Slope of ``"leaky_relu"`` for negative input (list form only).

    Returns
    -------
    A : (n_out, n_in) ndarray or torch.Tensor
        The Jacobian of the network at ``x`` (constant on the activation region of ``x``).
    b : (n_out,) ndarray or torch.Tensor
        Offset; ``A @ x + b == net(x)`` to rounding.
        numpy float64 for a list of numpy arrays; torch (dtype of the weights, differentiable
        in them) for a ``Sequential`` or torch weights.

    References
    ----------
    Drgona, Skomski, Vasisht, Tuor & Vrabie (2020), arXiv:2011.13492, eq. for the
    parameter-varying affine map of a deep network.
    """
    A, b, _, _, _ = _walk("pointwise_affine", net, x, activation, negative_slope)
    return A, b


def affine_eigenvalues(net: Any, x: Any, activation: str = "relu", negative_slope: float = 0.01) -> Any:
    """Eigenvalues of ``A(x)`` (see :func:`pointwise_affine`), sorted by decreasing modulus.

    For a network used as a map ``x <- f(x)`` (``n_out == n_in``) they decide the stability of
    the affine dynamics of the region around ``x`` (all ``|lambda| < 1``: contracting there).

    Returns
    -------
    (n,) complex ndarray or torch.Tensor

    Raises
    ------
    ValueError
        If ``A`` is not square.
    """
    A, _ = pointwise_affine(net, x, activation, negative_slope)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"affine_eigenvalues: A(x) has shape {tuple(A.shape)}; eigenvalues need n_out == n_in")
    if _is_torch(A):
        import torch

        ev = torch.linalg.eigvals(A)
        return ev[torch.argsort(torch.abs(ev).detach(), descending=True, stable=True)]
    ev = np.linalg.eigvals(A)
    return ev[np.argsort(-np.abs(ev), kind="stable")]


def activation_pattern(net: Any, x: Any, activation: str = "relu", negative_slope: float = 0.01) -> list[np.ndarray]:
    """On/off pattern (``z > 0``) of every unit followed by a non-identity activation.

    Returns
    -------
    list of bool ndarrays, one per activation layer, each of shape ``(n_units,)``.
    """
    _, _, records, _, use_torch = _walk("activation_pattern", net, x, activation, negative_slope)
    return [np.asarray((z > 0).cpu() if use_torch else z > 0) for z, _, _ in records]


def same_region(net: Any, x: Any, y: Any, activation: str = "relu", negative_slope: float = 0.01) -> bool:
    """Whether ``x`` and ``y`` have the same activation pattern (then ``A(x) = A(y)``,
    ``b(x) = b(y)``, and, regions being convex, so does the whole segment between them)."""
    px = activation_pattern(net, x, activation, negative_slope)
    py = activation_pattern(net, y, activation, negative_slope)
    return all(np.array_equal(a, b) for a, b in zip(px, py))


def activation_region_exit(
    net: Any, x: Any, direction: Any, activation: str = "relu", negative_slope: float = 0.01
) -> float:
    """How far ``x`` can move along ``direction`` before the activation pattern changes.

    On the region every pre-activation is affine in the step, ``z(s) = z + s * (A_z d)``; the
    exit is the first ``s > 0`` where some unit crosses zero: ``-z / (A_z d)`` over units
    whose ``z`` and ``A_z d`` have opposite signs (a unit at ``z = 0`` exactly with
    ``A_z d > 0`` exits at once). Points ``x + s d`` with ``0 <= s < exit`` share the pattern
    and the affine map of ``x``.

    Parameters
    ----------
    direction : (n_in,) array_like or torch.Tensor
        Not normalised: the step is in units of ``direction``.

    Returns
    -------
    float
        The exit step (>= 0); ``inf`` if the ray never leaves the region.

    References
    ----------
    Drgona et al. (2020), arXiv:2011.13492 (state-space partitioning of ReLU networks).
    """
    owner = "activation_region_exit"
    _, _, records, x, use_torch = _walk(owner, net, x, activation, negative_slope)
    d = _check_x(owner, direction, x.shape[0], use_torch, x, name="direction")
    exit_step = math.inf
    for z, A_z, _ in records:
        if use_torch:
            z, g = z.detach().cpu().numpy(), (A_z @ d).detach().cpu().numpy()
        else:
            g = A_z @ d
        on = z > 0
        leaving = (on & (g < 0)) | (~on & (g > 0))
        if np.any(leaving):
            exit_step = min(exit_step, float(np.min(-z[leaving] / g[leaving])))
    return max(exit_step, 0.0)
