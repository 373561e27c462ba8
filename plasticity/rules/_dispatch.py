"""One numba entry point over the registered rate rules, for the kernels of rules and networks.

``rule_coefficients(kinds, soff, poff, y, S, P, dt, a, b, c)`` sets ``a = b = c = 0`` and then
adds, for every term ``t`` of a (possibly combined) rule, the row coefficients of the term's
rule, whose kind is ``kinds[t]``, with its state rows ``S[soff[t]:soff[t+1]]`` and parameters
``P[poff[t]:poff[t+1]]``. The kinds are positions in
:data:`plasticity.rules.registry.RATE_RULES` (1-based); nothing here lists the rules: the
``literal_unroll`` loop below runs over the registry's tuple of coefficient functions, so a
registered rule is always in the kernels.
"""
from __future__ import annotations

import warnings

from numba import literal_unroll, njit
from numba.core.errors import NumbaExperimentalFeatureWarning

from plasticity.rules.registry import RATE_RULES

__all__ = ["rule_coefficients", "COEFFICIENTS"]

COEFFICIENTS = tuple(cls._coefficients for cls in RATE_RULES)

# numba types the registry's tuple of functions with its (experimental) first-class function
# type; the loop below is the documented use of literal_unroll over such a tuple.
warnings.filterwarnings("ignore", message="First-class function type feature is experimental",
                        category=NumbaExperimentalFeatureWarning)


@njit(cache=True, nogil=True)
def _one_term(kind, y, S, P, dt, a, b, c):
    k = 0
    for fn in literal_unroll(COEFFICIENTS):
        k += 1
        if k == kind:
            fn(y, S, P, dt, a, b, c)


@njit(cache=True, nogil=True)
def rule_coefficients(kinds, soff, poff, y, S, P, dt, a, b, c):
    for i in range(y.shape[0]):
        a[i] = 0.0
        b[i] = 0.0
        c[i] = 0.0
    for t in range(kinds.shape[0]):
        _one_term(kinds[t], y, S[soff[t]:soff[t + 1]], P[poff[t]:poff[t + 1]], dt, a, b, c)
