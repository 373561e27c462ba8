"""Configured spiking-rule instances for the contract suite in ``test_contract.py``.

Owned by the spiking-rules work: one configured instance (or more) of every exported spiking
rule class (``spiking = True``; ``pre``/``post`` are 0/1 spike indicators of one step). The
contract suite steps them with ``dt = 0.1`` s and ~30% of neurons spiking per step, so the
time constants here are of that order, so that traces carry over between steps.
"""
from plasticity.rules import InhibitorySTDP, PairSTDP, SpikingSynapticScaling, TripletSTDP

SPIKING_RULES = [
    PairSTDP(a_plus=0.02, a_minus=0.025, tau_plus=0.05, tau_minus=0.08),
    PairSTDP(a_plus=0.02, a_minus=0.025, tau_plus=0.05, tau_minus=0.08, w_min=0.05, w_max=0.95,
             bounds="multiplicative", interaction="nearest"),
    TripletSTDP.minimal_visual_cortex(),
    TripletSTDP.full_visual_cortex(interaction="nearest", target_rate=3.0, tau_rate=0.5),
    TripletSTDP(a2_plus=0.01, a3_plus=0.02, a2_minus=0.015, a3_minus=0.005, tau_plus=0.05, tau_minus=0.08,
                tau_x=0.3, tau_y=0.2, w_min=0.1, w_max=0.8),
    InhibitorySTDP(eta=0.01, target_rate=3.0, tau=0.05, w_max=1.5),
    SpikingSynapticScaling(eta=0.05, target_rate=3.0, tau=0.5),
]
