"""Plasticity rules: frozen parameter dataclasses with a numpy reference and a numba kernel.

Every rule offers ``init_state(n_post, n_pre)``, ``update(W, pre, post, state, dt)`` (numba,
in place) and ``reference_update(...)`` (plain numpy, in place). Weights are ``W[post, pre]``.
"""
from plasticity.rules._base import RateRule, Rule
from plasticity.rules.bcm import BCM, BCMState
from plasticity.rules.hebbian import Hebbian, HebbianState
from plasticity.rules.intrinsic import IntrinsicPlasticity, IntrinsicPlasticityState
from plasticity.rules.metaplastic import MetaplasticBCM, MetaplasticBCMState
from plasticity.rules.oja import Oja, OjaState
from plasticity.rules.scaling import SynapticScaling, SynapticScalingState
from plasticity.rules._spiking_base import SpikingRule
from plasticity.rules.stdp import PairSTDP, PairSTDPState
from plasticity.rules.triplet import TripletSTDP, TripletSTDPState
from plasticity.rules.inhibitory import InhibitorySTDP, InhibitorySTDPState
from plasticity.rules.spiking_scaling import SpikingSynapticScaling, SpikingSynapticScalingState

ALL_RULES: tuple[type[Rule], ...] = (
    Hebbian,
    Oja,
    BCM,
    SynapticScaling,
    IntrinsicPlasticity,
    MetaplasticBCM,
    PairSTDP,
    TripletSTDP,
    InhibitorySTDP,
    SpikingSynapticScaling,
)

__all__ = [
    "Rule",
    "RateRule",
    "BCM",
    "BCMState",
    "Hebbian",
    "HebbianState",
    "Oja",
    "OjaState",
    "SynapticScaling",
    "SynapticScalingState",
    "IntrinsicPlasticity",
    "IntrinsicPlasticityState",
    "MetaplasticBCM",
    "MetaplasticBCMState",
    "SpikingRule",
    "PairSTDP",
    "PairSTDPState",
    "TripletSTDP",
    "TripletSTDPState",
    "InhibitorySTDP",
    "InhibitorySTDPState",
    "SpikingSynapticScaling",
    "SpikingSynapticScalingState",
    "ALL_RULES",
]
