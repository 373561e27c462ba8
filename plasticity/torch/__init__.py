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
"""
from plasticity.torch._base import RowAffineRule, TorchRule
from plasticity.torch.metalearn import MetaLearnResult, metalearn_oja
from plasticity.torch.polynomial import TERM_NAMES, TERMS, PolynomialRule, PolynomialState, term_index
from plasticity.torch.rules import (
    BCM,
    BCMState,
    Hebbian,
    HebbianState,
    IntrinsicPlasticity,
    IntrinsicPlasticityState,
    MetaplasticBCM,
    MetaplasticBCMState,
    Oja,
    OjaState,
    SynapticScaling,
    SynapticScalingState,
)

#: Every differentiable rule class exported here (twins of the rate rules, then the generic one).
ALL_RULES: tuple[type[TorchRule], ...] = (
    Hebbian, Oja, BCM, SynapticScaling, IntrinsicPlasticity, MetaplasticBCM, PolynomialRule,
)

__all__ = [
    "TorchRule", "RowAffineRule", "ALL_RULES",
    "Hebbian", "HebbianState", "Oja", "OjaState", "BCM", "BCMState",
    "SynapticScaling", "SynapticScalingState", "IntrinsicPlasticity", "IntrinsicPlasticityState",
    "MetaplasticBCM", "MetaplasticBCMState",
    "PolynomialRule", "PolynomialState", "TERMS", "TERM_NAMES", "term_index",
    "metalearn_oja", "MetaLearnResult",
]
