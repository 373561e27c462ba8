"""What every torch rule shares: parameters that may be floats, tensors or Parameters, and checks.

A torch rule is a ``torch.nn.Module`` so that a rule held by a model contributes its
``torch.nn.Parameter`` s to ``model.parameters()`` and moves with ``model.to(device)``.
Parameters are stored by kind:

- a Python number is validated like the numpy rule (same constraint, same message) and kept
  as a float: it works with any dtype and device;
- a ``torch.nn.Parameter`` is registered as a parameter (learnable, e.g. meta-learned);
- any other tensor is registered as a buffer (moves with ``.to()``, not learned).

Tensor parameters are validated elementwise at construction (once; during learning they may
leave the range, which is the learner's business). A tensor parameter is a scalar or
broadcastable to ``(*batch, n_post)`` (one value per postsynaptic neuron).

The step is functional (Norse style): ``W_new, state_new = rule.update(W, pre, post, state, dt)``
with ``W`` of shape ``(*batch, n_post, n_pre)``, ``pre`` ``(*batch, n_pre)``, ``post``
``(*batch, n_post)`` and a NamedTuple state whose fields are ``(*batch, n_post)``. Nothing is
modified in place. Per-step checks are O(1) (shapes and dtypes only): a scan for NaN would
synchronise a GPU every step.
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, ClassVar, NamedTuple

import torch

from plasticity._validation import Interval, check_number

__all__ = ["TorchRule", "RowAffineRule", "check_tensor_param"]


def check_tensor_param(owner: str, name: str, value: torch.Tensor, allowed: Interval) -> None:
    """Raise ``ValueError`` unless every element of ``value`` lies in ``allowed``.

    The message has the shape of :func:`plasticity._validation.check_number`.
    """
    if not (value.is_floating_point() or value.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"{owner}.{name} must be {allowed.kind} in {allowed}; got a tensor of dtype {value.dtype}")
    v = value.detach().double().cpu().reshape(-1)
    lo_ok = v >= allowed.low if allowed.closed in ("left", "both") else v > allowed.low
    hi_ok = v <= allowed.high if allowed.closed in ("right", "both") else v < allowed.high
    if not bool(torch.all(lo_ok & hi_ok & ~torch.isnan(v))):
        raise ValueError(f"{owner}.{name} must be {allowed.kind} in {allowed} (every element); got {value.detach()!r}")


def _check_sizes(owner: str, n_post: Any, n_pre: Any) -> tuple[int, int]:
    for name, v in (("n_post", n_post), ("n_pre", n_pre)):
        if isinstance(v, bool) or not isinstance(v, Integral):
            raise TypeError(f"{owner}.init_state: {name} must be an integer in [1, inf); got {v!r}")
        if v < 1:
            raise ValueError(f"{owner}.init_state: {name} must be an integer in [1, inf); got {v!r}")
    return int(n_post), int(n_pre)


def _batch_shape(owner: str, batch: Any) -> tuple[int, ...]:
    if isinstance(batch, Integral) and not isinstance(batch, bool):
        batch = (int(batch),)
    try:
        shape = tuple(int(b) for b in batch)
    except TypeError:
        raise TypeError(f"{owner}.init_state: batch must be an int or a tuple of ints; got {batch!r}") from None
    if any(b < 1 for b in shape):
        raise ValueError(f"{owner}.init_state: batch sizes must be integers in [1, inf); got {batch!r}")
    return shape


class TorchRule(torch.nn.Module):
    """Base of the differentiable rules (see the module docstring)."""

    constraints: ClassVar[dict[str, Interval]] = {}
    state_class: ClassVar[type] = NamedTuple  # set by subclasses

    # -- parameters ---------------------------------------------------------------------
    def _set_param(self, name: str, value: Any, allowed: Interval) -> None:
        owner = type(self).__name__
        if isinstance(value, torch.nn.Parameter):
            check_tensor_param(owner, name, value, allowed)
            self.register_parameter(name, value)
        elif isinstance(value, torch.Tensor):
            check_tensor_param(owner, name, value, allowed)
            # kept as given (not detached): a tensor computed from something learned stays in
            # the graph; rules never write to their parameters, so sharing it is safe
            self.register_buffer(name, value)
        else:
            setattr(self, name, float(check_number(owner, name, value, allowed)))

    def _set_params(self, **values: Any) -> None:
        for name, value in values.items():
            self._set_param(name, value, self.constraints[name])

    def _param_device(self) -> torch.device | None:
        for t in self._tensors():
            return t.device
        return None

    def _tensors(self):
        yield from self.parameters(recurse=False)
        yield from self.buffers(recurse=False)

    def check_shapes(self, n_post: int, n_pre: int) -> None:
        """Raise ``ValueError`` if a tensor parameter cannot broadcast to ``(n_post,)``.

        Models call this at construction, so that an incompatible rule fails there and not
        at the first step.
        """
        owner = type(self).__name__
        for name, t in list(self.named_parameters(recurse=False)) + list(self.named_buffers(recurse=False)):
            try:
                torch.broadcast_shapes(t.shape, (n_post,))
                ok = t.ndim <= 1
            except RuntimeError:
                ok = False
            if not ok:
                raise ValueError(
                    f"{owner}.{name} has shape {tuple(t.shape)}; expected a scalar or a tensor "
                    f"broadcastable to ({n_post},) = n_post"
                )

    def extra_repr(self) -> str:
        parts = []
        for name in self.constraints:
            v = getattr(self, name, None)
            if isinstance(v, torch.Tensor):
                v = f"{float(v):g}" if v.numel() == 1 else f"tensor{tuple(v.shape)}"
            parts.append(f"{name}={v}")
        return ", ".join(parts)

    # -- the contract -------------------------------------------------------------------
    def init_state(
        self,
        n_post: int,
        n_pre: int,
        batch: int | tuple[int, ...] = (),
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> Any:
        """The initial state: a NamedTuple of ``(*batch, n_post)`` tensors.

        ``dtype`` defaults to ``torch.get_default_dtype()``; ``device`` to the device of the
        rule's tensor parameters (or the default device when it has none).
        """
        owner = type(self).__name__
        n_post, _ = _check_sizes(owner, n_post, n_pre)
        shape = _batch_shape(owner, batch) + (n_post,)
        dtype = torch.get_default_dtype() if dtype is None else dtype
        device = self._param_device() if device is None else device
        return self._initial_state(shape, dtype, device)

    def _initial_state(self, shape: tuple[int, ...], dtype: torch.dtype, device: Any) -> Any:
        return self.state_class()

    def update(self, W: torch.Tensor, pre: torch.Tensor, post: torch.Tensor, state: Any, dt: float):
        """One explicit-Euler step of length ``dt``; returns ``(W_new, state_new)``.

        Parameters
        ----------
        W : (*batch, n_post, n_pre) tensor
            Weights ``W[post, pre]``. Not modified.
        pre, post : (*batch, n_pre), (*batch, n_post) tensors
            Presynaptic ``x`` and postsynaptic ``y`` activities. Not modified.
        state : NamedTuple
            From :meth:`init_state` or a previous ``update``. Not modified.
        dt : float
            Step length in model time units, in (0, inf).
        """
        self._check_step(W, pre, post, state, dt)
        return self._step(W, pre, post, state, dt)

    def _step(self, W, pre, post, state, dt):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_step(self, W: Any, pre: Any, post: Any, state: Any, dt: Any) -> None:
        owner = f"{type(self).__name__}.update"
        for name, t in (("W", W), ("pre", pre), ("post", post)):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"{owner}: {name} must be a torch.Tensor; got {type(t).__name__}")
            if not t.is_floating_point():
                raise TypeError(f"{owner}: {name} must have a floating dtype; got {t.dtype}")
        if W.ndim < 2:
            raise ValueError(f"{owner}: W must have shape (*batch, n_post, n_pre); got {tuple(W.shape)}")
        n_post, n_pre = W.shape[-2], W.shape[-1]
        for name, t, n, what in (("pre", pre, n_pre, "n_pre"), ("post", post, n_post, "n_post")):
            if t.ndim < 1 or t.shape[-1] != n:
                raise ValueError(
                    f"{owner}: {name} has shape {tuple(t.shape)}; expected (*batch, {n}) = {what} "
                    f"from W[post, pre] of shape {tuple(W.shape)}"
                )
        if not isinstance(state, self.state_class):
            raise TypeError(f"{owner}: state must be a {self.state_class.__name__} from init_state; got {type(state).__name__}")
        for name, t in zip(state._fields, state):
            if t.shape[-1:] != (n_post,):
                raise ValueError(
                    f"{owner}: state.{name} has shape {tuple(t.shape)}; expected (*batch, {n_post}) = n_post "
                    f"from W[post, pre] of shape {tuple(W.shape)}"
                )
        try:
            torch.broadcast_shapes(W.shape[:-2], pre.shape[:-1], post.shape[:-1], *(t.shape[:-1] for t in state))
        except RuntimeError:
            raise ValueError(
                f"{owner}: batch shapes do not broadcast: W {tuple(W.shape)}, pre {tuple(pre.shape)}, "
                f"post {tuple(post.shape)}, state {[tuple(t.shape) for t in state]}"
            ) from None
        if isinstance(dt, torch.Tensor):
            return
        if isinstance(dt, bool) or not isinstance(dt, Real) or not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"{owner}: dt must be a number in (0, inf); got {dt!r}")


class RowAffineRule(TorchRule):
    """A rule whose weight change is row-affine (as the numba kernel):

        W[..., i, :] <- clip(W[..., i, :] * (1 + b[..., i]) + a[..., i] * x, w_min, w_max)

    Subclasses implement ``_coefficients(y, state, dt) -> (a, b, state_new)`` where ``a`` or
    ``b`` may be ``None`` for zero (that term is then skipped), computed from the old state;
    ``b`` may also be a scalar (a float or a 0-d tensor) when every row shares it.
    """

    w_bounds: ClassVar[tuple[str, str] | None] = None

    def _coefficients(self, y, state, dt):  # pragma: no cover - abstract
        raise NotImplementedError

    def _step(self, W, pre, post, state, dt):
        a, b, new_state = self._coefficients(post, state, dt)
        W_new = W
        if b is not None:
            # b is per row (..., n_post), or a scalar when it is the same for every row
            scale = 1.0 + b
            W_new = W_new * (scale.unsqueeze(-1) if isinstance(scale, torch.Tensor) and scale.ndim > 0 else scale)
        if a is not None:
            W_new = torch.addcmul(W_new, a.unsqueeze(-1), pre.unsqueeze(-2))  # one pass: W + a x^T
        if self.w_bounds is not None:
            lo, hi = (getattr(self, n) for n in self.w_bounds)
            if not (_is_inf(lo) and _is_inf(hi)):
                W_new = _clamp(W_new, lo, hi)
        # W unchanged (intrinsic plasticity) is returned as is: nothing is ever written in place
        return W_new, new_state


def _clamp(W: torch.Tensor, lo: Any, hi: Any) -> torch.Tensor:
    lo = None if _is_inf(lo) else lo
    hi = None if _is_inf(hi) else hi
    if isinstance(lo, torch.Tensor) or isinstance(hi, torch.Tensor):
        # torch.clamp takes two scalars or two tensors, not one of each
        lo = None if lo is None else torch.as_tensor(lo, dtype=W.dtype, device=W.device)
        hi = None if hi is None else torch.as_tensor(hi, dtype=W.dtype, device=W.device)
    return torch.clamp(W, min=lo, max=hi)


def _is_inf(v: Any) -> bool:
    return isinstance(v, float) and math.isinf(v)
