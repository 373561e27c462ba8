"""What every rule shares: declared constraints, one validation pass, step-time checks.

A rule is a frozen dataclass of parameters. Subclasses declare ``constraints`` (parameter
name -> :class:`~plasticity._validation.Interval`) and ``choices`` (name -> allowed strings),
and never override ``__post_init__``; cross-parameter checks go in ``_check_together``.

Rate rules whose weight change is row-affine,

    W[i, :] <- clip(W[i, :] * (1 + b[i]) + a[i] * x, w_min, w_max),

(Hebbian, Oja, BCM, synaptic scaling, intrinsic plasticity, metaplastic BCM) share one numba
kernel for ``W`` (:func:`plasticity.rules._kernels.affine_rows`); each supplies a numba
function ``coefficients(y, S, P, dt, a, b)`` that fills ``a`` and ``b`` from the old state and
then advances the state ``S`` (rows = the state fields in declaration order) in place. The
fused network kernels in ``models.rate`` call the same coefficient functions, so a rule
behaves identically in a user's loop and inside our networks.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

from plasticity._validation import Interval, check_choice, check_finite_array, check_number, check_shape

__all__ = ["Rule", "RateRule", "check_step", "pack_state", "unpack_state"]


class Rule:
    """Base of all rules: validates declared constraints at construction."""

    constraints: ClassVar[dict[str, Interval]] = {}
    choices: ClassVar[dict[str, tuple[str, ...]]] = {}
    spiking: ClassVar[bool] = False  # True: pre/post are spike indicators of one step

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name, allowed in self.constraints.items():
            check_number(owner, name, getattr(self, name), allowed)
        for name, allowed in self.choices.items():
            check_choice(owner, name, getattr(self, name), allowed)
        self._check_together()

    def _check_together(self) -> None:
        """Cross-parameter checks (e.g. ``w_min < w_max``); raise ``ValueError``."""

    # -- the contract -------------------------------------------------------------------
    def init_state(self, n_post: int, n_pre: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: Any, dt: float) -> None:  # pragma: no cover
        raise NotImplementedError

    def reference_update(self, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: Any, dt: float) -> None:  # pragma: no cover
        raise NotImplementedError


def _check_sizes(owner: str, n_post: Any, n_pre: Any) -> tuple[int, int]:
    for name, v in (("n_post", n_post), ("n_pre", n_pre)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{owner}.init_state: {name} must be an integer in [1, inf); got {v!r}")
        if v < 1:
            raise ValueError(f"{owner}.init_state: {name} must be an integer in [1, inf); got {v!r}")
    return int(n_post), int(n_pre)


def check_step(rule: Rule, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: Any, dt: float) -> None:
    """O(n) checks before a step: types, shapes, finite pre/post, state shapes, ``dt > 0``.

    W is checked for shape and float dtype only: scanning it for NaN would cost a full
    pass, which is the whole budget of the kernel. Networks detect non-finite weights.
    """
    owner = f"{type(rule).__name__}.update"
    if not isinstance(W, np.ndarray) or W.ndim != 2:
        raise TypeError(f"{owner}: W must be a 2-D numpy array W[post, pre]; got {type(W).__name__} {getattr(W, 'shape', '')}")
    if W.dtype not in (np.float32, np.float64):
        raise TypeError(f"{owner}: W must have dtype float32 or float64; got {W.dtype}")
    if not W.flags.writeable:
        raise ValueError(f"{owner}: W must be writeable (it is updated in place)")
    n_post, n_pre = W.shape
    for name, a, n, what in (("pre", pre, n_pre, "n_pre"), ("post", post, n_post, "n_post")):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{owner}: {name} must be a numpy array; got {type(a).__name__}")
        check_shape(owner, name, a, (n,), f"{what} from W[post, pre] of shape {W.shape}")
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{owner}: {name} must be a real array; got dtype {a.dtype}")
        check_finite_array(owner, name, a)
    dt_ok = isinstance(dt, (int, float, np.floating, np.integer)) and not isinstance(dt, bool)
    if not dt_ok or not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"{owner}: dt must be a number in (0, inf); got {dt!r}")
    if dataclasses.is_dataclass(state):
        for f in dataclasses.fields(state):
            arr = getattr(state, f.name)
            if isinstance(arr, np.ndarray) and arr.ndim >= 1:
                expected = (n_post,) if arr.ndim == 1 else W.shape
                if arr.shape != expected and arr.shape not in ((n_pre,),):
                    raise ValueError(
                        f"{owner}: state.{f.name} has shape {arr.shape}; expected {expected} "
                        f"from W[post, pre] of shape {W.shape}"
                    )


def pack_state(state: Any, fields: tuple[str, ...], n: int) -> np.ndarray:
    """Stack the named 1-D state fields into one ``(len(fields), n)`` float64 array."""
    S = np.empty((max(len(fields), 1), n), dtype=np.float64)
    for k, name in enumerate(fields):
        S[k] = getattr(state, name)
    return S


def unpack_state(S: np.ndarray, state: Any, fields: tuple[str, ...]) -> None:
    """Copy the rows of ``S`` back into the state's arrays, in place."""
    for k, name in enumerate(fields):
        getattr(state, name)[...] = S[k]


class RateRule(Rule):
    """A rate rule with the row-affine weight change (see the module docstring).

    Subclasses set ``kind`` (an int code known to the network kernels), ``state_fields``
    (the state's 1-D ``(n_post,)`` arrays, in order), ``state_class``, ``_coefficients``
    (a numba function) and implement ``_params`` (a float64 vector) and ``_initial_state``.
    """

    kind: ClassVar[int] = -1
    state_fields: ClassVar[tuple[str, ...]] = ()
    bounds: ClassVar[tuple[str, str] | None] = None  # names of (w_min, w_max) fields, if any

    def _params(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _initial_rows(self, n_post: int) -> np.ndarray:  # pragma: no cover - abstract
        """The initial packed state ``S``, shape ``(len(state_fields), n_post)``."""
        raise NotImplementedError

    def _make_state(self, S: np.ndarray) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _coefficients(y, S, P, dt, a, b):  # pragma: no cover - abstract
        raise NotImplementedError

    def weight_bounds(self) -> tuple[float, float]:
        if self.bounds is None:
            return -math.inf, math.inf
        return float(getattr(self, self.bounds[0])), float(getattr(self, self.bounds[1]))

    def init_state(self, n_post: int, n_pre: int) -> Any:
        n_post, n_pre = _check_sizes(type(self).__name__, n_post, n_pre)
        return self._make_state(np.array(self._initial_rows(n_post), dtype=np.float64))

    def update(self, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: Any, dt: float) -> None:
        """One explicit-Euler step of length ``dt`` through the numba kernels, in place."""
        from plasticity.rules._kernels import affine_rows

        check_step(self, W, pre, post, state, dt)
        n_post = W.shape[0]
        S = pack_state(state, self.state_fields, n_post)
        a = np.empty(n_post)
        b = np.empty(n_post)
        y = np.ascontiguousarray(post, dtype=np.float64)
        self._coefficients(y, S, self._params(), float(dt), a, b)
        w_min, w_max = self.weight_bounds()
        affine_rows(W, np.ascontiguousarray(pre, dtype=W.dtype), a, b, w_min, w_max)
        unpack_state(S, state, self.state_fields)
