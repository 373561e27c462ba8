"""Mean field of a threshold-linear E/I rate network whose E->E weights learn: quiet state and Hopf boundary.

The network is that of ``RateNetwork.ei`` with connection probability ``p = 1``: every E neuron
has the same ``K = n_E - 1`` E inputs (no self-synapses) of weight ``w = J / K`` (``J``: a neuron's
summed E->E weight), and likewise for the other projections, so from a homogeneous start all E
neurons stay identical and the network *is* its mean field (up to rounding)::

    tau_E dr_E/dt = -r_E + J r_E - J_IE r_I + b_E
    tau_I dr_I/dt = -r_I + J_EI r_E - J_II r_I + b_I                       (all rates > 0)

Quiet state and its slope in J, with ``A = b_E - J_IE b_I / (1 + J_II)`` and
``D = 1 + J_IE J_EI / (1 + J_II)``::

    r_E = F(J) = A / (D - J),    F'(J) = A / (D - J)^2 = F(J)^2 / A,    r_I = (J_EI r_E + b_I) / (1 + J_II)

valid for ``J < D`` and ``A > 0``. Plasticity much slower than ``tau_E, tau_I`` sees the rates
quasi-statically, ``r = F(J)``; summing a neuron's K synapses (pre = post = r) gives 2-D systems
in ``(J, c)`` with ``c`` the compensation variable of time constant ``tau``:

``"bcm"`` (``plasticity.rules.BCM``, ``dw/dt = eta y (y - theta) x``, ``tau dtheta/dt = y^q - theta``)::

    dJ/dt = eta K r^2 (r - theta),           tau dtheta/dt = r^q - theta

    Fixed point r* = theta* = 1 for any q != 1, J* = F^{-1}(1) = D - A. Jacobian in (J, theta):
    [[eta K r*^2 F', -eta K r*^2], [q r*^(q-1) F' / tau, -1 / tau]],
    det = (q - 1) eta K F' / tau > 0 (q > 1): Hopf at tr = 0,
    tau_c = 1 / (eta K r*^2 F'(J*)) = A / (eta K).

``"scaling"`` (``Hebbian(eta) + SynapticScaling(eta_s, target=T, tau)``, ``tau da/dt = y - a``)::

    dJ/dt = eta K r^2 + eta_s (T - a) J,       tau da/dt = r - a

    With eta_s = kappa eta, kappa = K r*^2 / (J* (r* - T)), the fixed point is r* = 1, J* = D - A
    for every eta. Jacobian in (J, a): [[eta K r* g, -eta_s J*], [F' / tau, -1 / tau]],
    g = 2 F'(J*) - r*/J*; for det > 0 and g > 0 the Hopf boundary is tau_c = 1 / (eta K r* g).

Both are ``tau_c = 1 / (eta K G)`` (:func:`gain` G, :func:`critical_tau`): log-log slope -1 against
eta. With the defaults :data:`EI_MEANFIELD` (J_EI = J_IE = J_II = 1, tau_E = 1, tau_I = 0.5,
b_E = 1.5, b_I = 2): A = 0.5, D = 1.5, J* = 1, r* = 1, r_I* = 1.5, F'(J*) = 2, and with T = 0.5,
g = 3, so ``tau_c = 1 / (2 eta K)`` (BCM) and ``1 / (3 eta K)`` (scaling).

The adiabatic approximation neglects the lag of the rates: the 4-D mean-field system
``(r_E, r_I, J, c)`` linearised (:func:`full_jacobian`) has its own Hopf boundary
(:func:`full_critical_tau`), smaller than tau_c by a relative ~1.7 / tau_c for BCM (tau_c in units
of tau_E) and within 1.5% of it for scaling at tau_c >= 8 (defaults).

Units: times in the units of ``tau_E``; rates and weights dimensionless; ``eta`` per unit time.

References: Zenke, Hennequin & Gerstner (2013) PLoS Comput Biol 9:e1003330 (compensation must
be fast: the rate-based analysis of a Hebbian rule with a sliding threshold); Toyoizumi, Kaneko,
Stryker & Miller (2014) Neuron 84:497 (the same limit for Hebbian learning with homeostatic
scaling). The derivation above is this module's; :mod:`models.bcm_stability` does the same for
one neuron and for a random network.
"""
from __future__ import annotations

import math

import numpy as np

from plasticity._validation import check_choice, check_number, positive

__all__ = [
    "BCM_POWER",
    "EI_MEANFIELD",
    "RULES",
    "SCALING_TARGET",
    "critical_tau",
    "fixed_point",
    "full_critical_tau",
    "full_jacobian",
    "gain",
    "inhibitory_rate",
    "learning_rate",
    "quiet_rate",
    "quiet_rate_slope",
    "reduced_jacobian",
    "scaling_kappa",
]

#: Default parameters of the mean field (the ``RateNetwork.ei`` keywords of the same names).
EI_MEANFIELD = {"J_EI": 1.0, "J_IE": 1.0, "J_II": 1.0, "tau_e": 1.0, "tau_i": 0.5, "bias_e": 1.5, "bias_i": 2.0}
RULES = ("bcm", "scaling")
BCM_POWER = 2.0        # BCM's threshold tracks r^BCM_POWER; the fixed point r* = 1 for any power != 1
SCALING_TARGET = 0.5   # T of synaptic scaling; r* = 1 > T is set by kappa


def _params(net: dict | None) -> dict:
    return dict(EI_MEANFIELD, **(net or {}))


def _A_D(net: dict | None = None) -> tuple[float, float]:
    q = _params(net)
    A = q["bias_e"] - q["J_IE"] * q["bias_i"] / (1 + q["J_II"])
    D = 1 + q["J_IE"] * q["J_EI"] / (1 + q["J_II"])
    return A, D


def _check_rule(owner: str, rule: str) -> None:
    check_choice(owner, "rule", rule, RULES)


def quiet_rate(J: float, net: dict | None = None) -> float:
    """E rate of the quiet state, ``r_E = F(J) = A / (D - J)``.

    Parameters
    ----------
    J : float
        Summed E->E weight of a neuron (dimensionless); must be below ``D``.
    net : dict, optional
        Overrides of :data:`EI_MEANFIELD` (``J_EI``, ``J_IE``, ``J_II``, ``bias_e``, ``bias_i``, ...).

    Returns
    -------
    float
        The rate (dimensionless, > 0 when ``A > 0``).
    """
    A, D = _A_D(net)
    if not J < D:
        raise ValueError(f"quiet_rate: no quiet state for J >= D = {D:g}; got J = {J!r}")
    return A / (D - J)


def quiet_rate_slope(J: float, net: dict | None = None) -> float:
    """``F'(J) = A / (D - J)^2 = F(J)^2 / A``: how the quiet E rate moves with the summed E->E weight."""
    A, D = _A_D(net)
    if not J < D:
        raise ValueError(f"quiet_rate_slope: no quiet state for J >= D = {D:g}; got J = {J!r}")
    return A / (D - J) ** 2


def inhibitory_rate(J: float, net: dict | None = None) -> float:
    """I rate of the quiet state, ``r_I = (J_EI F(J) + b_I) / (1 + J_II)``."""
    q = _params(net)
    return (q["J_EI"] * quiet_rate(J, net) + q["bias_i"]) / (1 + q["J_II"])


def fixed_point(net: dict | None = None) -> tuple[float, float]:
    """``(J*, r*)`` of the plastic mean field: r* = 1 (the BCM set point, shared by scaling through
    :func:`scaling_kappa`) and ``J* = F^{-1}(1) = D - A``."""
    A, D = _A_D(net)
    return D - A, 1.0


def scaling_kappa(K: float, net: dict | None = None, target: float = SCALING_TARGET) -> float:
    """``kappa = eta_s / eta = K r*^2 / (J* (r* - T))``: puts Hebbian + scaling's fixed point at r* = 1.

    Parameters
    ----------
    K : float
        E->E in-degree (synapses per E neuron), > 0.
    target : float
        The scaling target T, below r* = 1.
    """
    check_number("scaling_kappa", "K", K, positive)
    J, r = fixed_point(net)
    if not target < r:
        raise ValueError(f"scaling_kappa.target must be a number in (-inf, {r:g}) (below r*); got {target!r}")
    return K * r * r / (J * (r - target))


def gain(rule: str, net: dict | None = None) -> float:
    """Loop gain G in ``tr = eta K G - 1/tau``: ``r*^2 F'`` (BCM) or ``r* (2 F' - r*/J*)`` (scaling)."""
    _check_rule("gain", rule)
    J, r = fixed_point(net)
    Fp = quiet_rate_slope(J, net)
    if rule == "bcm":
        return r * r * Fp
    return r * (2 * Fp - r / J)


def critical_tau(rule: str, eta: float, K: float, net: dict | None = None) -> float:
    """Adiabatic Hopf boundary ``tau_c = 1 / (eta K G)`` (time units of tau_E).

    Parameters
    ----------
    rule : {"bcm", "scaling"}
    eta : float
        Hebbian learning rate (per unit time), > 0.
    K : float
        E->E in-degree, > 0.
    net : dict, optional
        Overrides of :data:`EI_MEANFIELD`.

    Returns
    -------
    float
        The compensation time constant above which the fixed point oscillates (Hopf).
    """
    check_number("critical_tau", "eta", eta, positive)
    check_number("critical_tau", "K", K, positive)
    return 1.0 / (eta * K * gain(rule, net))


def learning_rate(rule: str, tau_c: float, K: float, net: dict | None = None) -> float:
    """The eta whose predicted boundary (:func:`critical_tau`) is ``tau_c``."""
    check_number("learning_rate", "tau_c", tau_c, positive)
    check_number("learning_rate", "K", K, positive)
    return 1.0 / (tau_c * K * gain(rule, net))


def reduced_jacobian(rule: str, eta: float, tau: float, K: float, net: dict | None = None, *,
                     power: float = BCM_POWER, target: float = SCALING_TARGET) -> np.ndarray:
    """2x2 Jacobian of the adiabatic ``(J, theta)`` (BCM) or ``(J, a)`` (scaling) system at its fixed point.

    ``power``: the BCM threshold's power q; ``target``: the scaling target T (module docstring).
    """
    _check_rule("reduced_jacobian", rule)
    check_number("reduced_jacobian", "tau", tau, positive)
    J, r = fixed_point(net)
    Fp = quiet_rate_slope(J, net)
    if rule == "bcm":
        return np.array([[eta * K * r * r * Fp, -eta * K * r * r],
                         [power * r ** (power - 1) * Fp / tau, -1.0 / tau]])
    eta_s = scaling_kappa(K, net, target) * eta
    return np.array([[2 * eta * K * r * Fp + eta_s * (target - r), -eta_s * J],
                     [Fp / tau, -1.0 / tau]])


def full_jacobian(rule: str, eta: float, tau: float, K: float, net: dict | None = None, *,
                  power: float = BCM_POWER, target: float = SCALING_TARGET) -> np.ndarray:
    """4x4 Jacobian of the mean field ``(r_E, r_I, J, theta or a)`` at the fixed point, rate lag included.

    Rows: ``tau_E dr_E/dt``, ``tau_I dr_I/dt`` (module docstring) divided by their time constants,
    then the plasticity of J and of the compensation variable with the rates as they are (not F(J)).
    """
    _check_rule("full_jacobian", rule)
    check_number("full_jacobian", "tau", tau, positive)
    q = _params(net)
    J, r = fixed_point(net)
    M = np.zeros((4, 4))
    M[0] = [(J - 1) / q["tau_e"], -q["J_IE"] / q["tau_e"], r / q["tau_e"], 0.0]
    M[1] = [q["J_EI"] / q["tau_i"], -(1 + q["J_II"]) / q["tau_i"], 0.0, 0.0]
    if rule == "bcm":    # dJ/dt = eta K r^2 (r - theta): d/dr = eta K (3 r^2 - 2 r theta) = eta K r^2 at theta = r
        M[2] = [eta * K * r * r, 0.0, 0.0, -eta * K * r * r]
        M[3] = [power * r ** (power - 1) / tau, 0.0, 0.0, -1.0 / tau]
    else:
        eta_s = scaling_kappa(K, net, target) * eta
        M[2] = [2 * eta * K * r, 0.0, eta_s * (target - r), -eta_s * J]
        M[3] = [1.0 / tau, 0.0, 0.0, -1.0 / tau]
    return M


def full_critical_tau(rule: str, eta: float, K: float, net: dict | None = None, *,
                      power: float = BCM_POWER, target: float = SCALING_TARGET) -> float:
    """Smallest tau at which :func:`full_jacobian` has an eigenvalue with positive real part.

    Bisection in log tau (80 halvings) on ``[tau_c / 64, 64 tau_c]`` around :func:`critical_tau`;
    NaN when that interval does not bracket a change of stability.
    """
    def unstable(tau):
        return np.linalg.eigvals(full_jacobian(rule, eta, tau, K, net, power=power, target=target)).real.max() > 0

    guess = critical_tau(rule, eta, K, net)
    lo, hi = guess / 64, guess * 64
    if unstable(lo) or not unstable(hi):
        return math.nan
    for _ in range(80):
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if unstable(mid) else (mid, hi)
    return math.sqrt(lo * hi)
