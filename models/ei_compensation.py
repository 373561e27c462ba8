"""E/I rate network whose E->E weights learn under Hebbian + compensation, started at its mean-field fixed point.

The simulation side of :mod:`models.ei_meanfield`: a threshold-linear E/I network
(``RateNetwork.ei`` flow, parameters :data:`models.ei_meanfield.EI_MEANFIELD`) whose summed
weights are exactly the mean field's J's (:func:`network`), its quiet state as an initial
condition (:func:`start_state`), the two compensated rules of the mean field
(:func:`compensation_rule`: BCM, or Hebbian + synaptic scaling with ``eta_s = kappa eta``), and a
run from the fixed point with the compensation variable displaced (:func:`simulate`).

``p = 1``: every neuron has ``n - 1`` inputs per population of weight ``J / (n - 1)``, so the
network is its mean field. ``p < 1``: Bernoulli connectivity with each row normalised,
``w_ij = J / K_i`` (``K_i`` the neuron's in-degree from that population): every neuron's summed
weights are still the J's, so the quiet state is homogeneous, while the in-degrees (which set
each neuron's plasticity speed, ``dJ_i/dt ~ eta K_i``) differ. Equal synapses instead would
make the rates very unequal (SD ~0.5 at r* = 1 for p = 0.1, n_E = 400).

Units: times in units of ``tau_E``; ``dt`` the Euler step.

References: Zenke, Hennequin & Gerstner (2013) PLoS Comput Biol 9:e1003330; Toyoizumi, Kaneko,
Stryker & Miller (2014) Neuron 84:497.
"""
from __future__ import annotations

import numpy as np

from models.ei_meanfield import (BCM_POWER, EI_MEANFIELD, RULES, SCALING_TARGET, critical_tau, fixed_point,
                                 inhibitory_rate, quiet_rate, scaling_kappa)
from plasticity._validation import check_choice, check_number, positive, unit_interval

__all__ = ["compensation_rule", "in_degree", "network", "simulate", "start_state"]


def network(J_EE: float | None = None, n_e: int = 40, n_i: int = 10, seed: int = 0, p: float = 1.0,
            dt: float = 0.1):
    """The E/I network with summed E->E weight ``J_EE`` (``J*`` of :func:`~models.ei_meanfield.fixed_point` by default).

    Parameters
    ----------
    J_EE : float, optional
        Every E neuron's summed E->E weight.
    n_e, n_i : int
        Population sizes.
    seed : int
        Seed of the network (initial state; the connectivity when ``p < 1``).
    p : float in (0, 1]
        Connection probability. ``p = 1``: ``RateNetwork.ei``, whose summed weights are exactly
        the J's. ``p < 1``: ``RateNetwork.from_populations`` with Bernoulli(p) masks and rows
        normalised to the J's (module docstring).
    dt : float
        Euler step (units of tau_E).

    Returns
    -------
    PopulationRateNetwork
    """
    from models import RateNetwork, RatePopulation, RateProjection

    check_number("network", "p", p, unit_interval)
    if J_EE is None:
        J_EE = fixed_point()[0]
    q = dict(EI_MEANFIELD)
    if p >= 1.0:
        return RateNetwork.ei(n_e, n_i, seed=seed, p=p, J_EE=J_EE, dt=dt, **q)
    pops = [RatePopulation("E", n_e, activation="relu", tau=q["tau_e"], bias=q["bias_e"]),
            RatePopulation("I", n_i, activation="relu", inhibitory=True, tau=q["tau_i"], bias=q["bias_i"])]
    J = {"EE": J_EE, "EI": q["J_EI"], "IE": q["J_IE"], "II": q["J_II"]}
    size = {"E": n_e, "I": n_i}

    def build(w):
        projs = [RateProjection(name[0], name[1], p=p, w=w[name]) for name in ("EE", "EI", "IE", "II")]
        return RateNetwork.from_populations(pops, projs, dynamics="flow", dt=dt, seed=seed)

    probe = build({name: 1.0 for name in J})  # the same seed draws the same masks in the same order
    w = {}
    for name in J:
        k = probe.connectivity(name).sum(axis=1, keepdims=True).astype(float)
        w[name] = np.broadcast_to(np.where(k > 0, J[name] / np.maximum(k, 1.0), 0.0), (size[name[1]], size[name[0]]))
    return build(w)


def start_state(n_e: int = 40, n_i: int = 10, J: float | None = None) -> np.ndarray:
    """The quiet state ``(r_E, ..., r_I, ...)``, shape ``(n_e + n_i,)``, of summed E->E weight ``J`` (default J*)."""
    J = fixed_point()[0] if J is None else J
    return np.r_[np.full(n_e, quiet_rate(J)), np.full(n_i, inhibitory_rate(J))]


def compensation_rule(rule: str, eta: float, tau: float, K: float, theta0: float, power: float = BCM_POWER,
                      target: float = SCALING_TARGET):
    """The E->E rule of the mean field with compensation time constant ``tau``.

    ``"bcm"``: ``BCM(eta, tau_theta=tau, theta0, power)``. ``"scaling"``: ``Hebbian(eta) +
    SynapticScaling(eta_s = kappa eta, target, tau)`` with kappa of
    :func:`~models.ei_meanfield.scaling_kappa` (in-degree ``K``), so that r* = 1
    (``theta0`` is not used).
    """
    from plasticity.rules import BCM, Hebbian, SynapticScaling

    check_choice("compensation_rule", "rule", rule, RULES)
    if rule == "bcm":
        return BCM(eta=eta, tau_theta=tau, theta0=theta0, power=power)
    return Hebbian(eta=eta) + SynapticScaling(eta=scaling_kappa(K, target=target) * eta, target=target, tau=tau)


def in_degree(net) -> float:
    """Mean number of E->E synapses per E neuron (``n_E - 1`` at p = 1)."""
    return float(net.connectivity("EE").sum(axis=1).mean())


def simulate(rule: str, eta: float, tau: float, length: float, n_e: int = 40, n_i: int = 10, seed: int = 0,
             p: float = 1.0, samples: int = 2000, delta: float = 0.02, dt: float = 0.1,
             settle_factor: float = 0.25, settle_length: float = 40.0):
    """Run the plastic network from its fixed point, compensation displaced by ``delta``, for ``length``.

    ``p = 1``: the rates start at the mean-field fixed point (r*, r_I*), the summed E->E weight at
    J*. ``p < 1``: the neurons differ, so the network first settles to its own fixed point under
    the same rule with fast compensation (``settle_factor`` tau_c, stable) for ``settle_length``
    tau_c. Then the compensation variable is displaced: ``theta(0) = r*^q (1 + delta)`` (BCM; the
    settled rates are r* = 1), ``a(0) = r_i (1 + delta)`` after one step (scaling: the rule's
    estimate starts at its target, and one step creates the state; that step kicks J by
    ``dt eta K``).

    Parameters
    ----------
    rule : {"bcm", "scaling"}
    eta, tau : float
        Learning rate (per unit time) and compensation time constant (units of tau_E), > 0.
    length : float
        Duration of the main run (units of tau_E), > 0.
    samples : int
        Recorded samples of the main run (``record_every = steps // samples``).

    Returns
    -------
    (RateResult, float)
        The result of the main run and K, the mean E->E in-degree.
    """
    check_choice("simulate", "rule", rule, RULES)
    for name, value in (("eta", eta), ("tau", tau), ("length", length)):
        check_number("simulate", name, value, positive)
    net = network(n_e=n_e, n_i=n_i, seed=seed, p=p, dt=dt)
    K = in_degree(net)
    x0 = start_state(n_e, n_i)
    r_star = fixed_point()[1]
    if p < 1.0:
        tau_c = critical_tau(rule, eta, K)
        settle = {"EE": compensation_rule(rule, eta, settle_factor * tau_c, K, theta0=r_star ** BCM_POWER)}
        net.run(max(1, int(round(settle_length * tau_c / dt))), plasticity=settle, x0=x0, progress=False)
        x0 = None
    plastic = {"EE": compensation_rule(rule, eta, tau, K, theta0=r_star ** BCM_POWER * (1 + delta))}
    steps = max(1, int(round(length / dt)))
    every = max(1, steps // samples)
    if rule == "scaling":
        net.run(1, plasticity=plastic, x0=x0, progress=False)
        net.plasticity_state["EE"].terms[1].rate[:] = np.maximum(net.x[:n_e], 0.0) * (1 + delta)
        steps -= 1
        x0 = None
    return net.run(steps, plasticity=plastic, x0=x0, record_every=every, progress=False), K
