"""brian2 ``Synapses`` for the spiking plasticity rules, mirroring their numba kernels.

Traces are brian2 ``(event-driven)`` synaptic variables (one copy per synapse, equal to the
per-neuron trace of the kernels: every synapse of a neuron sees the same spikes). The pre
pathway runs before the post pathway in brian2's ``synapses`` slot (orders -1 and +1), which
is the kernels' order: the conductance jump with the old weight, the presynaptic change
(depression with the postsynaptic traces before this step's postsynaptic spikes), the bump of
the presynaptic traces; then the postsynaptic change (with presynaptic traces that include
this step's spikes) and the bump of the postsynaptic traces. Each change is clipped, as in the
kernels. Equations: the module docstrings of :mod:`plasticity.rules.stdp`,
:mod:`plasticity.rules.triplet`, :mod:`plasticity.rules.inhibitory`.

``SpikingSynapticScaling`` has no brian2 form here (its lazy multiplicative application has no
event-driven equivalent); asking for it raises ``NotImplementedError``.
"""
from __future__ import annotations

import math

__all__ = ["plastic_synapses"]

_HUGE = 1e300  # stands for an infinite weight bound (brian2's C++ code has no 'inf' literal)


def _finite(x: float) -> float:
    return x if math.isfinite(x) else _HUGE


def _bump(name: str, nearest: bool) -> str:
    return f"{name} = 1.0" if nearest else f"{name} += 1.0"


def plastic_synapses(b2, src, tgt, var: str, unit_name: str, rule, name: str):
    """A ``Synapses`` from ``src`` to ``tgt`` whose weight ``w`` follows ``rule``."""
    from plasticity.rules import InhibitorySTDP, PairSTDP, TripletSTDP

    u = getattr(b2, unit_name)
    if isinstance(rule, PairSTDP):
        nearest = rule.interaction == "nearest"
        if rule.bounds == "multiplicative":
            dep = "w - a_minus*y*((w - w_min)/(w_max - w_min))"
            pot = "w + a_plus*x*((w_max - w)/(w_max - w_min))"
        else:
            dep, pot = "w - a_minus*y", "w + a_plus*x"
        model = (f"w : {unit_name}\ndx/dt = -x/tau_plus : 1 (event-driven)\n"
                 "dy/dt = -y/tau_minus : 1 (event-driven)\n")
        on_pre = f"{var}_post += w\nw = clip({dep}, w_min, w_max)\n{_bump('x', nearest)}"
        on_post = f"w = clip({pot}, w_min, w_max)\n{_bump('y', nearest)}"
        ns = dict(a_plus=rule.a_plus * u, a_minus=rule.a_minus * u, tau_plus=rule.tau_plus * b2.second,
                  tau_minus=rule.tau_minus * b2.second, w_min=rule.w_min * u, w_max=_finite(rule.w_max) * u)
    elif isinstance(rule, TripletSTDP):
        # traces whose amplitude is 0 are left out (x + 0*trace == x exactly): brian2 then
        # updates 3 event-driven variables per synapse for the minimal model, not 5
        nearest = rule.interaction == "nearest"
        target = rule.target_rate
        ltd = "a2_minus*((rate/target_rate)*(rate/target_rate))" if target is not None else "a2_minus"
        use_r2, use_o2 = rule.a3_minus > 0, rule.a3_plus > 0
        model = (f"w : {unit_name}\ndr1/dt = -r1/tau_plus : 1 (event-driven)\n"
                 "do1/dt = -o1/tau_minus : 1 (event-driven)\n"
                 + ("dr2/dt = -r2/tau_x : 1 (event-driven)\n" if use_r2 else "")
                 + ("do2/dt = -o2/tau_y : 1 (event-driven)\n" if use_o2 else "")
                 + ("drate/dt = -rate/tau_rate : hertz (event-driven)\n" if target is not None else ""))
        dep = f"{ltd} + a3_minus*r2" if use_r2 else ltd
        pot = "a2_plus + a3_plus*o2" if use_o2 else "a2_plus"
        on_pre = "\n".join([f"{var}_post += w", f"w = clip(w - o1*({dep}), w_min, w_max)", _bump("r1", nearest)]
                           + ([_bump("r2", nearest)] if use_r2 else []))
        on_post = "\n".join([f"w = clip(w + r1*({pot}), w_min, w_max)", _bump("o1", nearest)]
                            + ([_bump("o2", nearest)] if use_o2 else [])
                            + (["rate += 1.0/tau_rate"] if target is not None else []))
        ns = dict(a2_plus=rule.a2_plus * u, a3_plus=rule.a3_plus * u, a2_minus=rule.a2_minus * u,
                  a3_minus=rule.a3_minus * u, tau_plus=rule.tau_plus * b2.second,
                  tau_minus=rule.tau_minus * b2.second, tau_x=rule.tau_x * b2.second, tau_y=rule.tau_y * b2.second,
                  tau_rate=rule.tau_rate * b2.second, w_min=rule.w_min * u, w_max=_finite(rule.w_max) * u,
                  target_rate=(target if target is not None else 1.0) * b2.Hz)
    elif isinstance(rule, InhibitorySTDP):
        model = (f"w : {unit_name}\ndxa/dt = -xa/tau : 1 (event-driven)\n"  # xa: pre trace, xb: post trace
                 
                 "dxb/dt = -xb/tau : 1 (event-driven)\n")
        on_pre = f"{var}_post += w\nw = clip(w + eta*(xb - alpha), 0*w_max, w_max)\nxa += 1.0"
        on_post = "w = clip(w + eta*xa, 0*w_max, w_max)\nxb += 1.0"
        ns = dict(eta=rule.eta * u, alpha=rule.alpha, tau=rule.tau * b2.second, w_max=_finite(rule.w_max) * u)
    else:
        raise NotImplementedError(
            f"SpikingNetwork.run(backend='brian2'): no brian2 form of {type(rule).__name__}; "
            "use backend='numba' for it")
    S = b2.Synapses(src, tgt, model=model, on_pre=on_pre, on_post=on_post, namespace=ns, name=name)
    return S


def init_rate_trace(S, rule, dt: float, b2) -> None:
    """Start the triplet rule's rate estimate as the kernels do, after ``connect``.

    The kernels decay every trace at the start of each step, the first included, so the
    initial ``target_rate`` is the value one step before t = 0; brian2's event-driven value
    at t = 0 is then ``target_rate * exp(-dt / tau_rate)``.
    """
    from plasticity.rules import TripletSTDP

    if isinstance(rule, TripletSTDP) and rule.target_rate is not None:
        S.rate = rule.target_rate * math.exp(-dt / rule.tau_rate) * b2.Hz
