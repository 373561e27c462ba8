"""The registry of rules: the one place a rule is listed.

Adding a rate rule is one file (``plasticity/rules/<family>.py``: state dataclass, parameter
dataclass, numpy reference, numba ``coefficients``) plus its import and its entry in
``RATE_RULES`` below. Everything else reads this module: the rules' kind codes (their 1-based
position in ``RATE_RULES``, set here), the numba dispatch of the rate kernels
(:mod:`plasticity.rules._dispatch`), ``plasticity.rules.ALL_RULES`` and its exports, the
contract and property tests, the torch twins (:mod:`plasticity.torch`) and the study palette.
"""
from __future__ import annotations

from plasticity.rules._base import RateRule, Rule
from plasticity.rules.bcm import BCM
from plasticity.rules.hebbian import Hebbian
from plasticity.rules.heterosynaptic import HeterosynapticDecay
from plasticity.rules.inhibitory import InhibitorySTDP
from plasticity.rules.inhibitory_rate import InhibitoryPlasticity
from plasticity.rules.intrinsic import IntrinsicPlasticity
from plasticity.rules.metaplastic import MetaplasticBCM
from plasticity.rules.oja import Oja
from plasticity.rules.scaling import SynapticScaling
from plasticity.rules.spiking_scaling import SpikingSynapticScaling
from plasticity.rules.stdp import PairSTDP
from plasticity.rules.triplet import TripletSTDP

__all__ = ["RATE_RULES", "SPIKING_RULES", "rate_rule_kind"]

#: Row-affine rate rules, run by the fused kernels. Order = kind code (append new rules).
RATE_RULES: tuple[type[RateRule], ...] = (
    Hebbian,
    BCM,
    Oja,
    SynapticScaling,
    IntrinsicPlasticity,
    MetaplasticBCM,
    InhibitoryPlasticity,
    HeterosynapticDecay,
)

#: Spiking rules (their kernels dispatch on their own codes, :mod:`plasticity.rules._spiking_dispatch`).
SPIKING_RULES: tuple[type[Rule], ...] = (PairSTDP, TripletSTDP, InhibitorySTDP, SpikingSynapticScaling)

for _code, _cls in enumerate(RATE_RULES, start=1):
    _cls.kind = _code


def rate_rule_kind(cls: type) -> int:
    """The kind code of a registered rate rule class; 0 for a class that is not registered."""
    return RATE_RULES.index(cls) + 1 if cls in RATE_RULES else 0
