"""Hebbian E->E learning with each homeostatic compensation, configured for ``RateNetwork.ei`` at its quiet set point.

:func:`homeostatic_conditions` returns, per condition name (:data:`CONDITION_NAMES`), the
``plasticity`` dict of ``net.run`` for an E/I network of ``n_exc`` E and ``n_inh`` I neurons
(``RateNetwork.ei`` defaults: threshold-linear flow, p = 0.1, tau_E = 1, tau_I = 0.5, quiet state
r_E = r_I = 2 in mean field). Every homeostatic rule targets ``set_point`` (default 2, the quiet
E rate). ``w0 = J_EE / (p n_exc)`` is the initial E->E weight (exactly ``J_EE / (p (n_exc - 1))``:
no self-synapses), and learning rates scale with it, so quick and full runs behave alike.

Parameters, and why (at the defaults; times in units of tau_E):

- Hebbian ``eta = eta_rel w0`` with ``eta_rel = 0.005``: at the set point every E->E weight grows
  by ``eta_rel r^2 = 2%`` of w0 per unit time, so J_EE crosses the runaway threshold of the E/I
  network (J_EE = 1.5) within ~50 time units: compensation has something to do. The same ``eta``
  for BCM, metaplastic BCM and Oja (the same Hebbian term, different stabilisers).
- ``hebbian+scaling_fast``: ``SynapticScaling(eta=0.3, target, tau=2)``, a proportional
  controller: steady rate offset ~``eta_rel r^2 / eta = 0.02 / 0.3`` (~3%); ``eta tau target =
  1.2`` keeps the rate estimate fast enough not to oscillate (Harnack et al. 2015).
- ``hebbian+scaling_slow``: ``SynapticScaling(eta=0.003, target, tau=20)``: its correction needs
  ``r - 2 ~ 7`` to match Hebbian growth, homeostasis slower than Hebbian runaway (the "temporal
  paradox" of Zenke & Gerstner 2017).
- ``hebbian+intrinsic``: ``IntrinsicPlasticity(eta=0.1, target)`` (threshold only): integral
  control of the rate in ~10 tau_E that leaves the weights alone.
- ``hebbian+inhibitory``: ``InhibitoryPlasticity(eta=0.3 / (p n_inh), target)`` on I->E (the
  rate form of Vogels et al. 2011): a rate error of 1 changes a neuron's summed inhibition by
  ``eta 2 p n_inh = 0.6`` per unit time, fast against the Hebbian growth of J_EE (~0.01-0.02).
- ``hebbian+heterosynaptic``: ``HeterosynapticDecay(beta=eta_rel / 4, w_ref=0, power=4)``: its
  fixed point ``W* = eta x / (beta y^3)`` is w0 exactly at x = y = 2 (Zenke et al. 2015: no
  target, the y^4 dependence wins at high rates).
- ``hebbian+all3``: fast scaling + heterosynaptic on E->E and inhibitory on I->E together (as in
  Zenke, Agnes & Gerstner 2015).
- ``bcm``: ``BCM(eta, tau_theta=5, theta0=set_point^2)``; ``metaplastic_bcm``:
  ``MetaplasticBCM(eta, tau_theta=5, tau_meta=50, theta0=set_point^2, kappa=0.5)``. BCM's change
  grows like y^3, so with patterned input driving an assembly to ~12 the threshold must catch up
  within one 5-unit presentation: tau_theta = 50 runs away within ~3 tau_E, 20 depresses every
  within-assembly weight to 0, 5 stays bounded (measured in ``studies.rule_comparison``). Their
  set point is built in (theta -> y^2 gives y* = 1; 1 / (1 + kappa) with metaplasticity), not
  ``set_point``.
- ``oja``: ``Oja(eta)``; its normalisation pulls each row of W to unit norm, and the rows here
  have norm ~ sqrt(p n_exc) w0 << 1, so at these weights it is Hebbian growth.

References: Harnack, Pelko, Chaillet, Chitour & van Rossum (2015) PLoS Comput Biol 11:e1004357;
Zenke & Gerstner (2017) Phil Trans R Soc B 372:20160259; Vogels, Sprekeler, Zenke, Clopath &
Gerstner (2011) Science 334:1569; Zenke, Agnes & Gerstner (2015) Nat Commun 6:6922.
"""
from __future__ import annotations

from models.population_network import EI_DEFAULTS
from plasticity._validation import check_number, positive

__all__ = ["CONDITION_NAMES", "homeostatic_conditions"]

CONDITION_NAMES = (
    "none", "hebbian", "hebbian+scaling_fast", "hebbian+scaling_slow", "hebbian+intrinsic", "bcm",
    "metaplastic_bcm", "hebbian+inhibitory", "hebbian+heterosynaptic", "hebbian+all3", "oja",
)


def homeostatic_conditions(n_exc: int, n_inh: int, set_point: float = 2.0, eta_rel: float = 0.005) -> dict[str, dict]:
    """Condition name -> ``plasticity`` dict of ``net.run`` (module docstring: why these rates).

    Parameters
    ----------
    n_exc, n_inh : int
        Population sizes of the ``RateNetwork.ei`` network (they set w0 and the inhibitory eta).
    set_point : float
        Target rate of every homeostatic rule (and sqrt of BCM's initial threshold), > 0.
    eta_rel : float
        Hebbian learning rate in units of w0 per unit time per rate^2, > 0.

    Returns
    -------
    dict
        ``{name: {"EE": rule, "IE": rule}}`` for every name of :data:`CONDITION_NAMES` (``"none"``: ``{}``).
    """
    from plasticity.rules import (BCM, Hebbian, HeterosynapticDecay, InhibitoryPlasticity, IntrinsicPlasticity,
                                  MetaplasticBCM, Oja, SynapticScaling)

    for name, value in (("n_exc", n_exc), ("n_inh", n_inh), ("set_point", set_point), ("eta_rel", eta_rel)):
        check_number("homeostatic_conditions", name, value, positive)
    w0 = EI_DEFAULTS["J_EE"] / (EI_DEFAULTS["p"] * n_exc)
    eta = eta_rel * w0
    hebb = Hebbian(eta=eta)
    fast = SynapticScaling(eta=0.3, target=set_point, tau=2.0)
    slow = SynapticScaling(eta=0.003, target=set_point, tau=20.0)
    hetero = HeterosynapticDecay(beta=eta_rel / 4.0, w_ref=0.0, power=4.0)
    inhib = InhibitoryPlasticity(eta=0.3 / (EI_DEFAULTS["p"] * n_inh), target=set_point)
    return {
        "none": {},
        "hebbian": {"EE": hebb},
        "hebbian+scaling_fast": {"EE": hebb + fast},
        "hebbian+scaling_slow": {"EE": hebb + slow},
        "hebbian+intrinsic": {"EE": hebb + IntrinsicPlasticity(eta=0.1, target=set_point)},
        "bcm": {"EE": BCM(eta=eta, tau_theta=5.0, theta0=set_point ** 2)},
        "metaplastic_bcm": {"EE": MetaplasticBCM(eta=eta, tau_theta=5.0, tau_meta=50.0, theta0=set_point ** 2,
                                                 kappa=0.5)},
        "hebbian+inhibitory": {"EE": hebb, "IE": inhib},
        "hebbian+heterosynaptic": {"EE": hebb + hetero},
        "hebbian+all3": {"EE": hebb + fast + hetero, "IE": inhib},
        "oja": {"EE": Oja(eta=eta)},
    }
