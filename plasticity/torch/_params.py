"""Checks of torch rule parameters and ``init_state`` arguments (shared by :mod:`plasticity.torch._base`).

Messages have the shape of :func:`plasticity._validation.check_number`, so a torch rule's errors
read as its numpy twin's.
"""
from __future__ import annotations

from numbers import Integral
from typing import Any

import torch

from plasticity._validation import Interval

__all__ = ["check_tensor_param"]


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


def _full(shape, value, dtype, device) -> torch.Tensor:
    """A tensor of ``shape`` filled with ``value`` (a float or a tensor, kept differentiable)."""
    return torch.zeros(shape, dtype=dtype, device=device) + value


def _numpy_check_together(numpy_cls: type, values: dict[str, Any]) -> None:
    """Run ``numpy_cls._check_together`` on ``values`` (plain Python values) without ``__init__``."""
    proxy = object.__new__(numpy_cls)
    for name, v in values.items():
        object.__setattr__(proxy, name, v)  # the numpy rules are frozen dataclasses
    numpy_cls._check_together(proxy)


def _torch_dtype(owner: str, dtype: Any) -> torch.dtype:
    """A torch floating dtype from a torch or numpy dtype; ``TypeError`` naming ``dtype`` otherwise."""
    if isinstance(dtype, torch.dtype):
        out = dtype
    else:
        import numpy as np

        try:
            out = torch.from_numpy(np.empty(0, dtype=np.dtype(dtype))).dtype
        except (TypeError, ValueError):
            out = None
    if out is None or not out.is_floating_point:
        raise TypeError(f"{owner}.init_state: dtype must be a floating torch dtype (e.g. torch.float64) or a numpy "
                        f"float dtype; got {dtype!r}")
    return out
