"""Composed rules: Hebbian learning plus compensatory terms, each on its own timescale.

    dW/dt = sum_t dW_t/dt          (every term from the same W and the same pre/post)

Homeostasis is studied as Hebbian learning plus compensation (Turrigiano & Nelson 2004;
Zenke, Agnes & Gerstner 2015 Nat Commun 6:6922; Zenke & Gerstner 2017 Phil Trans R Soc B
372:20160259): ``Hebbian(...) + SynapticScaling(...)`` is one rule whose change is the sum of
its terms' changes. Each term keeps its own state (``state.terms[t]``, in the order given) and
advances it as it would alone; one explicit-Euler step updates W once with the summed change
and then clips it to the intersection of the terms' bounds. Every rate rule's change is
row-affine (``W_i (1 + b_i) + a_i x + c_i``), so the sum is the sum of the coefficients, and a
combination runs in the same fused kernels as a single rule. ``IntrinsicPlasticity`` may be a
term (it changes the neurons' threshold and gain, not W).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from plasticity.rules._base import RateRule, Rule, _check_sizes, check_step

__all__ = ["Combined", "CombinedState"]


@dataclass
class CombinedState:
    """The state of each term of a :class:`Combined` rule, in the order of its terms."""

    terms: tuple


class Combined(RateRule):
    """The sum of rate rules, ``Combined(a, b, ...)`` or ``a + b + ...`` (see the module docstring).

    Parameters
    ----------
    *terms : RateRule
        Two or more rate rules (a nested ``Combined`` is flattened into its terms).

    Raises
    ------
    TypeError
        A term is not a rate rule (a spiking rule, a class instead of an instance, ...).
    ValueError
        Fewer than one term, or terms whose weight bounds do not overlap.
    """

    def __init__(self, *terms: Any) -> None:
        flat: list[RateRule] = []
        for k, term in enumerate(terms):
            if isinstance(term, Combined):
                flat.extend(term.terms())
            elif isinstance(term, RateRule):
                flat.append(term)
            elif isinstance(term, Rule) and term.spiking:
                raise TypeError(f"Combined: terms must be rate rules; got the spiking rule {type(term).__name__} "
                                f"as term {k} (spiking and rate rules cannot be summed)")
            else:
                what = f"the class {term.__name__}" if isinstance(term, type) else f"{type(term).__name__} {term!r}"
                raise TypeError(f"Combined: terms must be rate rule instances (e.g. Hebbian(eta=1e-3)); "
                                f"got {what} as term {k}")
        if not flat:
            raise ValueError("Combined: needs at least one term; got none")
        object.__setattr__(self, "_terms", tuple(flat))
        lo, hi = self.weight_bounds()
        if not lo < hi:
            raise ValueError(f"Combined: the terms' weight bounds do not overlap; got [w_min, w_max] = [{lo}, {hi}]")

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Combined) and self._terms == other._terms

    def __hash__(self) -> int:
        return hash(("Combined", self._terms))

    def __repr__(self) -> str:
        return " + ".join(repr(t) for t in self._terms)

    def terms(self) -> tuple[RateRule, ...]:
        return self._terms

    def term_states(self, state: Any) -> tuple[Any, ...]:
        if not isinstance(state, CombinedState) or len(state.terms) != len(self._terms):
            raise TypeError(f"Combined.update: state must be the CombinedState of this rule's init_state "
                            f"({len(self._terms)} terms); got {type(state).__name__}")
        return state.terms

    @property
    def acts_on_neurons(self) -> bool:  # type: ignore[override]
        return any(t.acts_on_neurons for t in self._terms)

    def weight_bounds(self) -> tuple[float, float]:
        bounds = [t.weight_bounds() for t in self._terms]
        return max(b[0] for b in bounds), min(b[1] for b in bounds)

    def init_state(self, n_post: int, n_pre: int) -> CombinedState:
        n_post, n_pre = _check_sizes("Combined", n_post, n_pre)
        return CombinedState(terms=tuple(t.init_state(n_post, n_pre) for t in self._terms))

    def reference_update(self, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: CombinedState,
                         dt: float) -> None:
        """The same step in plain numpy: each term's own reference step from the same W (its
        bounds lifted), the changes summed, then the clip to the intersection of the bounds."""
        check_step(self, W, pre, post, state, dt)
        W0 = W.copy()
        total = np.zeros_like(W)
        for term, st in zip(self._terms, self.term_states(state)):
            unbounded = term
            if term.bounds is not None:
                unbounded = dataclasses.replace(term, **{term.bounds[0]: -math.inf, term.bounds[1]: math.inf})
            Wt = W0.copy()
            unbounded.reference_update(Wt, pre, post, st, dt)
            total += Wt - W0
        W += total
        lo, hi = self.weight_bounds()
        np.clip(W, lo, hi, out=W)
