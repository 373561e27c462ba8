"""What every rule shares: declared constraints, one validation pass, step-time checks.

A rule is a frozen dataclass of parameters. Subclasses declare ``constraints`` (parameter
name -> :class:`~plasticity._validation.Interval`) and ``choices`` (name -> allowed strings),
and never override ``__post_init__``; cross-parameter checks go in ``_check_together``.

Rate rules whose weight change is row-affine,

    W[i, :] <- clip(W[i, :] * (1 + b[i]) + a[i] * x + c[i], w_min, w_max),

(every rule in :data:`plasticity.rules.registry.RATE_RULES`) share one numba kernel for ``W``
(:func:`plasticity.rules._kernels.affine_rows`); each supplies a numba function
``coefficients(y, S, P, dt, a, b, c)`` that adds its row coefficients to ``a``, ``b``, ``c``
from the old state and then advances the state ``S`` (rows = the state fields in declaration
order) in place. Because the change is affine in the coefficients, a combination of rules
(:class:`plasticity.rules.Combined`) is the sum of its terms' coefficients. The fused network
kernels in ``models`` call the same coefficient functions, so a rule behaves identically in a
user's loop and inside our networks.
"""
from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any, ClassVar

import numpy as np

from plasticity._validation import Interval, check_choice, check_finite_array, check_number, check_shape

__all__ = ["Rule", "RateRule", "PackedRule", "check_step", "check_weights_in_bounds", "out_of_bounds_error",
           "state_class", "pack_state", "unpack_state"]


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
    """O(n) checks before a step: types, shapes, finite pre/post, ``dt > 0``, and the state:
    an instance of the rule's state class (``<Name>State`` in the rule's module; for a
    combined rule, each term's), whose arrays are writeable, finite, float32 or float64 and
    of shape ``(n_post,)`` (``(n_pre,)`` for a spiking rule's ``pre_fields``). Everything is
    checked before W is touched.

    W is checked for shape and float dtype; a rate rule with finite weight bounds also scans it
    once for weights outside them (:func:`check_weights_in_bounds`: one read, about half the
    cost of the step), which the step would clip silently. Unbounded rules do not scan W (NaN
    weights would cost a full pass to find: networks detect non-finite weights). Spiking
    rules check only the weights their step changes.
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
    if isinstance(dt, bool) or not isinstance(dt, (int, float, np.floating, np.integer)):
        raise TypeError(f"{owner}: dt must be a number in (0, inf); got {dt!r} of type {type(dt).__name__}")
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"{owner}: dt must be a number in (0, inf); got {dt!r}")
    _check_state(owner, "state", rule, state, W.shape)
    if not rule.spiking:
        check_weights_in_bounds(owner, W, *rule.weight_bounds())


def check_weights_in_bounds(owner: str, W: np.ndarray, w_min: float, w_max: float, absent_below: float = -math.inf,
                            where: str = "W") -> None:
    """Raise :func:`out_of_bounds_error` if a weight of the 2-D array ``W`` lies outside
    ``[w_min, w_max]`` or is NaN (a step of the rule would clip it silently). Entries below
    ``absent_below`` are absent synapses and not checked. Bounds are compared as stored in ``W``'s
    dtype (float32 rounds them). Nothing to do for unbounded rules; one read of ``W`` otherwise."""
    if w_min == -math.inf and w_max == math.inf:
        return
    from plasticity.rules._kernels import first_outside

    lo, hi, skip = (W.dtype.type(v) for v in (w_min, w_max, absent_below))
    i, j = first_outside(W, lo, hi, skip)
    if i >= 0:
        raise out_of_bounds_error(owner, where, (i, j), W[i, j], w_min, w_max)


def out_of_bounds_error(owner: str, where: str, index: tuple[int, int], value: Any, w_min: float,
                        w_max: float) -> ValueError:
    """The error for a weight ``where[index] = value`` outside a rule's bounds (rate and spiking rules)."""
    return ValueError(f"{owner}: {where} must hold weights in [w_min, w_max] = [{w_min:g}, {w_max:g}] (the rule's "
                      f"bounds); got {where}[{index[0]}, {index[1]}] = {float(value)!r} (the step would clip it "
                      f"silently)")


def state_class(rule: Any) -> type | None:
    """The state dataclass of a rule: ``<Name>State`` in the rule's module (None if absent)."""
    cls = getattr(sys.modules.get(type(rule).__module__), f"{type(rule).__name__}State", None)
    return cls if isinstance(cls, type) else None


def _check_state(owner: str, where: str, rule: Any, state: Any, shape: tuple[int, int]) -> None:
    """The state is an instance of the rule's state class and each of its arrays is a
    writeable, finite float32/float64 ``(n_post,)`` array (``(n_pre,)`` for a spiking rule's
    ``pre_fields``); the states of a combined rule's terms are checked the same way."""
    cls = state_class(rule)
    name = type(rule).__name__
    if cls is not None and not isinstance(state, cls):
        raise TypeError(f"{owner}: {where} must be a {cls.__name__} (from {name}.init_state(n_post, n_pre)); "
                        f"got {state!r:.80} of type {type(state).__name__}")
    terms = rule.terms() if isinstance(rule, RateRule) else (rule,)
    if terms != (rule,):  # a combined rule: one state per term
        states = getattr(state, "terms", None)
        if not isinstance(states, tuple) or len(states) != len(terms):
            raise TypeError(f"{owner}: {where}.terms must be a tuple of {len(terms)} term states (from "
                            f"{name}.init_state); got {states!r:.80}")
        for t, (term, st) in enumerate(zip(terms, states)):
            _check_state(owner, f"{where}.terms[{t}]", term, st, shape)
        return
    if not dataclasses.is_dataclass(state):
        return
    n_post, n_pre = shape
    pre_fields = getattr(rule, "pre_fields", ())
    for f in dataclasses.fields(state):
        arr = getattr(state, f.name)
        what = f"{where}.{f.name}"
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"{owner}: {what} must be a numpy array of dtype float64 (or float32); "
                            f"got {type(arr).__name__}")
        if arr.dtype not in (np.float32, np.float64):
            raise TypeError(f"{owner}: {what} must have dtype float64 (or float32); got {arr.dtype}")
        expected, n_what = ((n_pre,), "n_pre") if f.name in pre_fields else ((n_post,), "n_post")
        check_shape(owner, what, arr, expected, f"{n_what} from W[post, pre] of shape {shape}")
        if not arr.flags.writeable:
            raise ValueError(f"{owner}: {what} must be writeable (it is updated in place)")
        check_finite_array(owner, what, arr)


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

    Subclasses set ``state_fields`` (the state's 1-D ``(n_post,)`` arrays, in order),
    ``_coefficients`` (a numba function ``(y, S, P, dt, a, b, c)`` that adds its row
    coefficients to ``a``, ``b``, ``c`` and advances ``S``) and implement ``_params`` (a
    float64 vector), ``_initial_rows`` and ``_make_state``; they are listed once in
    :data:`plasticity.rules.registry.RATE_RULES`, which sets ``kind``. ``rule_a + rule_b``
    is :class:`plasticity.rules.Combined`.
    """

    kind: ClassVar[int] = 0  # set by plasticity.rules.registry; 0 = not registered
    state_fields: ClassVar[tuple[str, ...]] = ()
    bounds: ClassVar[tuple[str, str] | None] = None  # names of (w_min, w_max) fields, if any
    acts_on_neurons: ClassVar[bool] = False  # True: the state sets the neurons' (threshold, gain)

    @classmethod
    def examples(cls) -> tuple["RateRule", ...]:  # pragma: no cover - abstract
        """Configured instances that exercise every code path (the contract tests run them)."""
        raise NotImplementedError

    def _params(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _initial_rows(self, n_post: int) -> np.ndarray:  # pragma: no cover - abstract
        """The initial packed state ``S``, shape ``(len(state_fields), n_post)``."""
        raise NotImplementedError

    def _make_state(self, S: np.ndarray) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _coefficients(y, S, P, dt, a, b, c):  # pragma: no cover - abstract
        raise NotImplementedError

    def terms(self) -> tuple["RateRule", ...]:
        """The rules whose changes add up to this one's (a single rule is its own term)."""
        return (self,)

    def term_states(self, state: Any) -> tuple[Any, ...]:
        """The state of each term, in the order of :meth:`terms`."""
        return (state,)

    def _check_together(self) -> None:
        """A rule with declared ``bounds`` needs ``w_min < w_max``."""
        if self.bounds is not None:
            lo, hi = self.weight_bounds()
            if not lo < hi:
                owner, (a, b) = type(self).__name__, self.bounds
                raise ValueError(f"{owner}.{a} must be smaller than {owner}.{b}; got {a}={lo!r}, {b}={hi!r}")

    def weight_bounds(self) -> tuple[float, float]:
        if self.bounds is None:
            return -math.inf, math.inf
        return float(getattr(self, self.bounds[0])), float(getattr(self, self.bounds[1]))

    def __add__(self, other: Any) -> "RateRule":
        from plasticity.rules.combined import Combined

        return Combined(self, other)

    def init_state(self, n_post: int, n_pre: int) -> Any:
        n_post, n_pre = _check_sizes(type(self).__name__, n_post, n_pre)
        return self._make_state(np.array(self._initial_rows(n_post), dtype=np.float64))

    def update(self, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: Any, dt: float) -> None:
        """One explicit-Euler step of length ``dt`` through the numba kernels, in place."""
        from plasticity.rules._dispatch import rule_coefficients
        from plasticity.rules._kernels import affine_rows

        check_step(self, W, pre, post, state, dt)
        n_post = W.shape[0]
        packed = PackedRule(self, state, n_post)
        a, b, c = np.empty(n_post), np.empty(n_post), np.empty(n_post)
        y = np.ascontiguousarray(post, dtype=np.float64)
        rule_coefficients(packed.kinds, packed.soff, packed.poff, y, packed.S, packed.P, float(dt), a, b, c)
        w_min, w_max = self.weight_bounds()
        affine_rows(W, np.ascontiguousarray(pre, dtype=W.dtype), a, b, c, w_min, w_max)
        packed.unpack(state)


class PackedRule:
    """A (possibly combined) rate rule and its state as the flat arrays the numba kernels take.

    ``kinds[t]`` is the registry code of term ``t``, its state rows are
    ``S[soff[t]:soff[t+1]]`` and its parameters ``P[poff[t]:poff[t+1]]``. ``neuron_rows`` is
    the first row of the term that sets the neurons' (threshold, gain), or -1.
    """

    def __init__(self, rule: RateRule, state: Any, n_post: int) -> None:
        terms, states = rule.terms(), rule.term_states(state)
        self.rule, self.terms = rule, terms
        kinds, rows, params, soff, poff = [], [], [], [0], [0]
        self.neuron_rows = -1
        for term, st in zip(terms, states):
            if type(term).kind < 1:
                raise TypeError(f"{type(rule).__name__}: rule {type(term).__name__} is not registered in "
                                f"plasticity.rules.registry.RATE_RULES, so no kernel can run it")
            if term.acts_on_neurons and self.neuron_rows < 0:
                self.neuron_rows = soff[-1]
            kinds.append(type(term).kind)
            rows.append(pack_state(st, term.state_fields, n_post)[:len(term.state_fields)])
            params.append(np.asarray(term._params(), dtype=np.float64))
            soff.append(soff[-1] + len(term.state_fields))
            poff.append(poff[-1] + params[-1].size)
        self.kinds = np.array(kinds, dtype=np.int64)
        self.soff = np.array(soff, dtype=np.int64)
        self.poff = np.array(poff, dtype=np.int64)
        self.S = np.ascontiguousarray(np.concatenate(rows, axis=0) if soff[-1] else np.zeros((1, n_post)))
        self.P = np.concatenate(params) if poff[-1] else np.zeros(1)
        self._states = states

    @classmethod
    def static(cls, n_post: int) -> "PackedRule":
        """No terms: static weights."""
        self = cls.__new__(cls)
        self.rule, self.terms, self._states, self.neuron_rows = None, (), (), -1
        self.kinds = np.zeros(0, dtype=np.int64)
        self.soff = np.zeros(1, dtype=np.int64)
        self.poff = np.zeros(1, dtype=np.int64)
        self.S, self.P = np.zeros((1, n_post)), np.zeros(1)
        return self

    def unpack(self, state: Any = None) -> None:
        """Copy the packed state rows back into the terms' state arrays, in place."""
        for t, (term, st) in enumerate(zip(self.terms, self._states)):
            unpack_state(self.S[self.soff[t]:self.soff[t + 1]], st, term.state_fields)
