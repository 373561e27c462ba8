"""Plasticity rules: frozen parameter dataclasses with a numpy reference and a numba kernel.

Every rule offers ``init_state(n_post, n_pre)``, ``update(W, pre, post, state, dt)`` (numba,
in place) and ``reference_update(...)`` (plain numpy, in place). Weights are ``W[post, pre]``.
"""
from plasticity.rules._base import RateRule, Rule
from plasticity.rules.bcm import BCM, BCMState

ALL_RULES: tuple[type[Rule], ...] = (BCM,)

__all__ = ["Rule", "RateRule", "BCM", "BCMState", "ALL_RULES"]
