"""One numba entry point over every row-affine rate rule, for the fused network kernels.

``rule_coefficients(kind, y, S, P, dt, a, b)`` calls the ``coefficients`` function of the
rule whose ``RateRule.kind`` is ``kind``. Kind codes are fixed here:

    0 none (static weights)   1 Hebbian   2 BCM   3 Oja   4 SynapticScaling
    5 IntrinsicPlasticity (S[0] = threshold, S[1] = gain)   6 MetaplasticBCM

A rule that is not row-affine (for example BennaFusi, or a user's own class) has no kind;
networks then call its ``update`` method each step instead of the fused kernel.
"""
from __future__ import annotations

from numba import njit

from plasticity.rules.bcm import bcm_coefficients
from plasticity.rules.hebbian import hebbian_coefficients
from plasticity.rules.intrinsic import intrinsic_coefficients
from plasticity.rules.metaplastic import metaplastic_bcm_coefficients
from plasticity.rules.oja import oja_coefficients
from plasticity.rules.scaling import scaling_coefficients

__all__ = ["rule_coefficients", "NONE", "HEBBIAN", "BCM", "OJA", "SCALING", "INTRINSIC", "METAPLASTIC_BCM"]

NONE, HEBBIAN, BCM, OJA, SCALING, INTRINSIC, METAPLASTIC_BCM = 0, 1, 2, 3, 4, 5, 6


@njit(cache=True, nogil=True)
def rule_coefficients(kind, y, S, P, dt, a, b):
    if kind == HEBBIAN:
        hebbian_coefficients(y, S, P, dt, a, b)
    elif kind == BCM:
        bcm_coefficients(y, S, P, dt, a, b)
    elif kind == OJA:
        oja_coefficients(y, S, P, dt, a, b)
    elif kind == SCALING:
        scaling_coefficients(y, S, P, dt, a, b)
    elif kind == INTRINSIC:
        intrinsic_coefficients(y, S, P, dt, a, b)
    elif kind == METAPLASTIC_BCM:
        metaplastic_bcm_coefficients(y, S, P, dt, a, b)
    else:  # NONE: static weights
        for i in range(y.shape[0]):
            a[i] = 0.0
            b[i] = 0.0
