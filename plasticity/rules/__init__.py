"""Plasticity rules: frozen parameter dataclasses with a numpy reference and a numba kernel.

Every rule offers ``init_state(n_post, n_pre)``, ``update(W, pre, post, state, dt)`` (numba,
in place) and ``reference_update(...)`` (plain numpy, in place). Weights are ``W[post, pre]``.
Rate rules add up: ``Hebbian(...) + SynapticScaling(...)`` is a :class:`Combined` rule. The
rules are listed once, in :mod:`plasticity.rules.registry`; ``ALL_RULES`` and the exports of
this package are read from there.
"""
import sys as _sys

from plasticity.rules._base import RateRule, Rule
from plasticity.rules._spiking_base import SpikingRule
from plasticity.rules.combined import Combined, CombinedState
from plasticity.rules.registry import RATE_RULES, SPIKING_RULES

ALL_RULES: tuple[type[Rule], ...] = RATE_RULES + SPIKING_RULES


def _state_class(cls: type) -> type:
    """The state dataclass of a rule class: ``<Name>State`` in the rule's module."""
    return getattr(_sys.modules[cls.__module__], f"{cls.__name__}State")


for _cls in ALL_RULES:
    globals()[_cls.__name__] = _cls
    globals()[_state_class(_cls).__name__] = _state_class(_cls)

__all__ = ["Rule", "RateRule", "SpikingRule", "Combined", "CombinedState", "ALL_RULES", "RATE_RULES",
           "SPIKING_RULES"] + [n for c in ALL_RULES for n in (c.__name__, _state_class(c).__name__)]
