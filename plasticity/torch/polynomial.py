"""A generic plasticity rule: a polynomial in pre, post and weight with learnable coefficients.

    dW[i, j]/dt = sum_{a, b, c in {0, 1, 2}} theta[a, b, c] * x[j]**a * y[i]**b * W[i, j]**c

the second-order Volterra-type expansion of Confavreux, Zenke, Agnes, Lillicrap & Vogels
(2020) NeurIPS 33, "A meta-learning approach to (re)discover plasticity rules that carve a
desired function into a neural network". ``x = pre``, ``y = post``, W is ``W[post, pre]``.

Basis order: the flat coefficient vector has 27 entries, entry ``k = 9 a + 3 b + c`` multiplying
``x**a y**b w**c`` (so ``coefficients.reshape(3, 3, 3)[a, b, c]``). :data:`TERMS` lists the
``(a, b, c)`` of each entry and :data:`TERM_NAMES` their names (``"x y"``, ``"y^2 w"``, ...).

Named points of the space: Oja's rule is ``theta[1, 1, 0] = eta``, ``theta[0, 2, 1] = -eta``
(:meth:`PolynomialRule.oja`); Hebbian with decay is ``theta[1, 1, 0] = eta``,
``theta[0, 0, 1] = -decay`` (:meth:`PolynomialRule.hebbian`). Explicit Euler; no state.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from plasticity.torch._base import TorchRule

__all__ = ["PolynomialRule", "PolynomialState", "TERMS", "TERM_NAMES", "term_index"]

TERMS: tuple[tuple[int, int, int], ...] = tuple((a, b, c) for a in range(3) for b in range(3) for c in range(3))


def _name(a: int, b: int, c: int) -> str:
    parts = [f"{v}^{p}" if p > 1 else v for v, p in (("x", a), ("y", b), ("w", c)) if p > 0]
    return " ".join(parts) or "1"


TERM_NAMES: tuple[str, ...] = tuple(_name(*t) for t in TERMS)


def term_index(a: int, b: int, c: int) -> int:
    """Index of the monomial ``x**a y**b w**c`` in the flat coefficient vector."""
    if not all(p in (0, 1, 2) for p in (a, b, c)):
        raise ValueError(f"term_index: powers must be in {{0, 1, 2}}; got ({a}, {b}, {c})")
    return 9 * a + 3 * b + c


class PolynomialState(NamedTuple):
    """The polynomial rule keeps no state."""


class PolynomialRule(TorchRule):
    """``dW/dt = sum theta[a, b, c] x^a y^b w^c`` (see the module docstring for the basis).

    Parameters
    ----------
    coefficients : array_like, tensor or torch.nn.Parameter
        27 coefficients in the basis order of :data:`TERMS` (shape ``(27,)`` or ``(3, 3, 3)``),
        per unit model time. A ``torch.nn.Parameter`` is learned with the model that holds
        the rule; a plain tensor becomes a buffer; anything else a float64 buffer.
    """

    state_class = PolynomialState

    def __init__(self, coefficients: Any) -> None:
        super().__init__()
        owner = "PolynomialRule"
        if not isinstance(coefficients, torch.Tensor):
            try:
                coefficients = torch.as_tensor(np.asarray(coefficients, dtype=np.float64))
            except (TypeError, ValueError):
                raise TypeError(f"{owner}.coefficients must be 27 real numbers; got {coefficients!r}") from None
        if tuple(coefficients.shape) not in ((27,), (3, 3, 3)):
            raise ValueError(f"{owner}.coefficients must have shape (27,) or (3, 3, 3); got {tuple(coefficients.shape)}")
        if not coefficients.is_floating_point():
            raise TypeError(f"{owner}.coefficients must be a floating tensor; got dtype {coefficients.dtype}")
        if not bool(torch.all(torch.isfinite(coefficients.detach()))):
            raise ValueError(f"{owner}.coefficients must be finite numbers in (-inf, inf); got {coefficients.detach()!r}")
        if isinstance(coefficients, torch.nn.Parameter):
            if coefficients.shape != (27,):
                raise ValueError(f"{owner}.coefficients as a Parameter must have shape (27,); got {tuple(coefficients.shape)}")
            self.coefficients = coefficients
        else:
            self.register_buffer("coefficients", coefficients.reshape(27))

    @classmethod
    def oja(cls, eta: float = 1.0, learnable: bool = False) -> "PolynomialRule":
        """Oja's rule ``eta (y x - y^2 w)`` as a point of the polynomial space."""
        c = torch.zeros(27, dtype=torch.float64)
        c[term_index(1, 1, 0)] = eta
        c[term_index(0, 2, 1)] = -eta
        return cls(torch.nn.Parameter(c) if learnable else c)

    @classmethod
    def hebbian(cls, eta: float = 1.0, decay: float = 0.0, learnable: bool = False) -> "PolynomialRule":
        """The Hebbian rule ``eta y x - decay w`` (no bounds) as a point of the polynomial space."""
        c = torch.zeros(27, dtype=torch.float64)
        c[term_index(1, 1, 0)] = eta
        c[term_index(0, 0, 1)] = -decay
        return cls(torch.nn.Parameter(c) if learnable else c)

    @classmethod
    def random(cls, scale: float = 0.1, seed: Any = None, learnable: bool = True) -> "PolynomialRule":
        """Coefficients drawn i.i.d. from ``N(0, scale^2)`` with ``seed`` (int or numpy Generator)."""
        from plasticity._validation import as_rng, check_number, positive

        check_number("PolynomialRule.random", "scale", scale, positive)
        c = torch.as_tensor(as_rng(seed).normal(0.0, scale, 27))
        return cls(torch.nn.Parameter(c) if learnable else c)

    def check_shapes(self, n_post: int, n_pre: int) -> None:
        """Nothing to check: the coefficients do not depend on the sizes."""

    def extra_repr(self) -> str:
        nz = [(n, float(v)) for n, v in zip(TERM_NAMES, self.coefficients.detach().cpu()) if float(v) != 0.0]
        return ", ".join(f"{n}: {v:.3g}" for n, v in nz[:8]) + (" ..." if len(nz) > 8 else "")

    def _step(self, W, pre, post, state, dt):
        theta = self.coefficients.to(dtype=W.dtype).reshape(3, 3, 3)  # [a, b, c]
        Y = torch.stack((torch.ones_like(post), post, post * post), dim=-1)  # (..., n_post, 3): y^b
        # G[..., i, a, c] = sum_b theta[a, b, c] y_i^b  (broadcast products, not einsum: torch
        # runs tiny batched matmuls on its thread pool, which costs 10x the work on a busy CPU)
        G = (Y[..., :, None, :, None] * theta).sum(-2)
        x_pow = (None, pre.unsqueeze(-2), (pre * pre).unsqueeze(-2))  # x^a as rows, a = 1, 2
        A = []
        for c in range(3):  # A_c[..., i, j] = sum_a G[..., i, a, c] x_j^a
            Ac = G[..., :, 0, c].unsqueeze(-1) + G[..., :, 1, c].unsqueeze(-1) * x_pow[1]
            A.append(Ac + G[..., :, 2, c].unsqueeze(-1) * x_pow[2])
        dW = A[0] + W * (A[1] + W * A[2])
        return W + dt * dW, state
