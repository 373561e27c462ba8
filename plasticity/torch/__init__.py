"""Differentiable counterparts of the rate rules (needs torch).

Same class names, parameters and equations as :mod:`plasticity.rules`; parameters may be
floats, tensors or ``torch.nn.Parameter`` s (so a rule can be meta-learned). Functional,
batched over leading dimensions, device- and dtype-agnostic (Norse-style state)::

    from plasticity.torch import BCM
    rule = BCM(eta=1e-3, tau_theta=torch.nn.Parameter(torch.tensor(20.0)))
    state = rule.init_state(n_post, n_pre, batch=(32,), dtype=torch.float32)
    W, state = rule.update(W, pre, post, state, dt=0.1)        # W: (32, n_post, n_pre)

:class:`PolynomialRule` is the generic rule of Confavreux et al. (2020) whose 27 coefficients
can be learned; :func:`plasticity.torch.metalearn.metalearn_oja` recovers Oja's rule with it.
Rate rules add up like the numpy ones: ``Hebbian(...) + SynapticScaling(...)`` is a
:class:`Combined` rule; ``TorchRule.from_numpy(rule)`` is the twin of a configured numpy rule.
"""
from plasticity.torch._base import TorchRule, twin_class
from plasticity.torch._row_affine import RowAffineRule
from plasticity.torch.metalearn import MetaLearnResult, metalearn_oja
from plasticity.torch.polynomial import TERM_NAMES, TERMS, PolynomialRule, PolynomialState, term_index
from plasticity.torch.rules import (
    BCM,
    TWINS,
    BCMState,
    Combined,
    CombinedState,
    Hebbian,
    HebbianState,
    HeterosynapticDecay,
    HeterosynapticDecayState,
    InhibitoryPlasticity,
    InhibitoryPlasticityState,
    IntrinsicPlasticity,
    IntrinsicPlasticityState,
    MetaplasticBCM,
    MetaplasticBCMState,
    Oja,
    OjaState,
    SynapticScaling,
    SynapticScalingState,
)

#: Every differentiable rule class exported here (the twins of the registered rate rules, in
#: the registry's order, then the generic one). ``Combined`` sums twins and is not listed.
ALL_RULES: tuple[type[TorchRule], ...] = TWINS + (PolynomialRule,)

__all__ = [
    "TorchRule", "RowAffineRule", "ALL_RULES", "TWINS", "twin_class", "Combined", "CombinedState",
    "Hebbian", "HebbianState", "Oja", "OjaState", "BCM", "BCMState",
    "SynapticScaling", "SynapticScalingState", "IntrinsicPlasticity", "IntrinsicPlasticityState",
    "MetaplasticBCM", "MetaplasticBCMState", "InhibitoryPlasticity", "InhibitoryPlasticityState",
    "HeterosynapticDecay", "HeterosynapticDecayState",
    "PolynomialRule", "PolynomialState", "TERMS", "TERM_NAMES", "term_index",
    "metalearn_oja", "MetaLearnResult",
]
