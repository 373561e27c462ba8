"""Row-affine torch rules: ``W_i <- clip(W_i (1 + b_i) + a_i x + c_i)``, the step most twins share.

:class:`RowAffineRule` is importable from :mod:`plasticity.torch`.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from plasticity.torch._base import TorchRule

__all__ = ["RowAffineRule"]


class RowAffineRule(TorchRule):
    """A rule whose weight change is row-affine (as the numba kernel):

        W[..., i, :] <- clip(W[..., i, :] * (1 + b[..., i]) + a[..., i] * x + c[..., i], w_min, w_max)

    Subclasses implement ``_coefficients(y, state, dt) -> (a, b, c, state_new)`` computed from
    the old state, where any of ``a``, ``b``, ``c`` may be ``None`` for zero (that term is then
    skipped) and ``b``, ``c`` may also be a scalar (a float or a 0-d tensor) when every row
    shares it. The coefficients of a sum of rules are the sums of the terms' coefficients
    (:class:`plasticity.torch.Combined`; ``rule_a + rule_b``).
    """

    clips_to_bounds = True

    w_bounds: ClassVar[tuple[str, str] | None] = None

    def _coefficients(self, y, state, dt):  # pragma: no cover - abstract
        raise NotImplementedError

    def weight_bounds(self) -> tuple[Any, Any]:
        """``(w_min, w_max)``: floats or tensors (per row when ``(n_post,)``); infinite if unbounded."""
        if self.w_bounds is None:
            return -math.inf, math.inf
        return getattr(self, self.w_bounds[0]), getattr(self, self.w_bounds[1])

    def __add__(self, other: Any) -> RowAffineRule:
        from plasticity.torch.rules import Combined

        return Combined(self, other)

    def _step(self, W, pre, post, state, dt):
        a, b, c, new_state = self._coefficients(post, state, dt)
        W_new = W
        if b is not None:
            W_new = W_new * _rows(1.0 + b)  # b per row (..., n_post), or a scalar for every row
        if a is not None:
            W_new = torch.addcmul(W_new, _rows(a), pre.unsqueeze(-2))  # one pass: W + a x^T
        if c is not None:
            W_new = W_new + _rows(c)
        lo, hi = self.weight_bounds()
        if not (_is_inf(lo) and _is_inf(hi)):
            W_new = _clamp(W_new, lo, hi)
        # W unchanged (intrinsic plasticity) is returned as is: nothing is ever written in place
        return W_new, new_state


def _rows(v: Any) -> Any:
    """A per-row coefficient ``(..., n_post)`` as a column ``(..., n_post, 1)``; scalars as they are."""
    return v.unsqueeze(-1) if isinstance(v, torch.Tensor) and v.ndim > 0 else v


def _clamp(W: torch.Tensor, lo: Any, hi: Any) -> torch.Tensor:
    lo = None if _is_inf(lo) else _rows(lo)
    hi = None if _is_inf(hi) else _rows(hi)
    if isinstance(lo, torch.Tensor) or isinstance(hi, torch.Tensor):
        # torch.clamp takes two scalars or two tensors, not one of each
        lo = None if lo is None else torch.as_tensor(lo, dtype=W.dtype, device=W.device)
        hi = None if hi is None else torch.as_tensor(hi, dtype=W.dtype, device=W.device)
    return torch.clamp(W, min=lo, max=hi)


def _is_inf(v: Any) -> bool:
    return isinstance(v, float) and math.isinf(v)
