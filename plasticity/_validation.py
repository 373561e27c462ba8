"""Parameter constraints declared as data, and the one message format every error uses.

Messages read ``BCM.tau_theta must be a number in (0, inf); got -1.0``: the owner and
parameter, the allowed range, the value given. Shape errors read
``BCM.update: post has shape (99,); expected (100,) = n_post from W[post, pre] of shape (100, 80)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = [
    "Interval",
    "positive",
    "nonnegative",
    "unit_interval",
    "any_real",
    "extended_real",
    "check_number",
    "check_choice",
    "check_finite_array",
    "check_shape",
    "as_rng",
]


@dataclass(frozen=True)
class Interval:
    """A real interval used to declare the allowed range of a parameter.

    ``closed`` is one of ``"left"``, ``"right"``, ``"both"``, ``"neither"``.
    """

    low: float = -math.inf
    high: float = math.inf
    closed: str = "neither"
    integer: bool = False

    def __contains__(self, v: float) -> bool:
        if self.integer and (isinstance(v, bool) or not isinstance(v, Integral)):
            return False
        if math.isnan(v):
            return False
        lo_ok = v >= self.low if self.closed in ("left", "both") else v > self.low
        hi_ok = v <= self.high if self.closed in ("right", "both") else v < self.high
        return bool(lo_ok and hi_ok)

    def __str__(self) -> str:
        def fmt(x: float) -> str:
            if math.isinf(x):
                return "-inf" if x < 0 else "inf"
            return f"{x:g}"

        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        return f"{left}{fmt(self.low)}, {fmt(self.high)}{right}"

    @property
    def kind(self) -> str:
        return "an integer" if self.integer else "a number"

    def outside(self) -> list[float]:
        """A few values just outside the interval (for generated error tests)."""
        bad: list[float] = []
        if not math.isinf(self.low):
            bad.append(self.low - 1.0)
            if self.closed in ("right", "neither"):
                bad.append(self.low)
        if not math.isinf(self.high):
            bad.append(self.high + 1.0)
            if self.closed in ("left", "neither"):
                bad.append(self.high)
        return bad


positive = Interval(0.0)
nonnegative = Interval(0.0, closed="left")
unit_interval = Interval(0.0, 1.0, closed="both")
any_real = Interval()
extended_real = Interval(-math.inf, math.inf, closed="both")  # bounds may be infinite


def check_number(owner: str, name: str, value: Any, allowed: Interval = any_real) -> float:
    """Return ``value`` as a float if it is a real number in ``allowed``; raise otherwise.

    Tensors and ``torch.nn.Parameter`` are not numbers here: the torch faces validate
    their own parameters.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        else:
            raise TypeError(f"{owner}.{name} must be {allowed.kind} in {allowed}; got {value!r} of type {type(value).__name__}")
    if value not in allowed:
        raise ValueError(f"{owner}.{name} must be {allowed.kind} in {allowed}; got {value!r}")
    return value


def check_choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Raise unless ``value`` is one of ``choices`` (strings)."""
    if not isinstance(value, str):
        raise TypeError(f"{owner}.{name} must be one of {choices}; got {value!r} of type {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{owner}.{name} must be one of {choices}; got {value!r}")
    return value


def check_finite_array(owner: str, name: str, a: np.ndarray) -> None:
    """Raise ``ValueError`` naming the array if it holds NaN or inf (O(size))."""
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise ValueError(f"{owner}: {name} must be finite; got {bad} non-finite value(s) (NaN or inf)")


def check_shape(owner: str, name: str, a: np.ndarray, expected: tuple[int, ...], why: str = "") -> None:
    """Raise ``ValueError`` if ``a.shape != expected``; ``why`` says where ``expected`` comes from."""
    if tuple(np.shape(a)) != tuple(expected):
        extra = f" = {why}" if why else ""
        raise ValueError(f"{owner}: {name} has shape {tuple(np.shape(a))}; expected {tuple(expected)}{extra}")


def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int seed, a Generator (used as is) or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, Integral) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be an int in [0, inf), a numpy.random.Generator or None; got {seed!r}")
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be an int in [0, inf), a numpy.random.Generator or None; got {seed!r} of type "
                    f"{type(seed).__name__}")
