"""Compensation timescale: compensation of E->E Hebbian learning must be faster than a critical time constant that scales as 1/learning rate.

The rate version of Zenke, Hennequin & Gerstner (2013) PLoS Comput Biol 9:e1003330 and
Toyoizumi, Kaneko, Stryker & Miller (2014) Neuron 84:497. The E->E weights of a
threshold-linear E/I network (``RateNetwork.ei``, Euler flow) learn under

(a) BCM, ``dw/dt = eta y (y - theta) x``, ``tau dtheta/dt = y^2 - theta`` (the Hebbian term and
    its compensation, the sliding threshold, in one rule; compensation time constant
    ``tau = tau_theta``), or
(b) Hebbian + synaptic scaling, ``dw/dt = eta y x + eta_s (T - a) w``, ``tau da/dt = y - a``
    (compensation time constant ``tau`` = that of the rate estimate ``a``; ``eta_s = kappa eta``
    with ``kappa`` fixed, below, so that every learning rate has the same fixed point).

For each learning rate ``eta`` the compensation time constant ``tau`` is swept around the
predicted critical value; each run is classified and the simulated boundary is compared with
the linear-stability prediction derived here.

Mean field. With connection probability ``p = 1`` every E neuron has the same ``K = n_E - 1``
E inputs (no self-synapses) of weight ``w = J / K`` (``J``: a neuron's summed E->E weight), and
likewise for the other projections, so from a homogeneous start all E neurons stay identical and
the network *is* its mean field (up to rounding)::

    tau_E dr_E/dt = -r_E + J r_E - J_IE r_I + b_E
    tau_I dr_I/dt = -r_I + J_EI r_E - J_II r_I + b_I                       (all rates > 0)

The quiet state and its slope in J, with ``A = b_E - J_IE b_I / (1 + J_II)`` and
``D = 1 + J_IE J_EI / (1 + J_II)``::

    r_E = F(J) = A / (D - J),    F'(J) = A / (D - J)^2 = F(J)^2 / A,    r_I = (J_EI r_E + b_I) / (1 + J_II)

valid for ``J < D`` and ``A > 0`` (then ``r_E, r_I > 0`` and the fast 2x2 system, determinant
``(1 + J_II)(D - J) / (tau_E tau_I)`` and trace ``(J - 1)/tau_E - (1 + J_II)/tau_I``, is stable
for our parameters). Plasticity much slower than ``tau_E, tau_I`` sees the rates
quasi-statically, ``r = F(J)``. Summing a neuron's K synapses (pre = post = r) gives the 2-D systems

(a) BCM::

        dJ/dt = eta K r^2 (r - theta),           tau dtheta/dt = r^q - theta,     r = F(J)

    Fixed point ``theta* = r*^q = r*``, i.e. ``r* = 1`` for any power ``q != 1`` (the initial
    value ``theta0`` does not move it), so the network is built with ``J* = F^{-1}(1) = D - A``.
    Jacobian in (J, theta)::

        [[ eta K r*^2 F',          -eta K r*^2 ],
         [ q r*^(q-1) F' / tau,    -1 / tau    ]]

    ``tr = eta K r*^2 F' - 1/tau``, ``det = eta K r*^2 F' (q r*^(q-1) - 1) / tau = (q - 1) eta K F' / tau > 0``
    (at ``r* = 1``, q > 1), so the fixed point loses stability through a Hopf bifurcation at tr = 0::

        tau_c = 1 / (eta K r*^2 F'(J*)) = A / (eta K)        (r* = 1, F'(J*) = 1/A)

    with onset frequency ``sqrt(det) = sqrt(q - 1) / tau_c`` (period ``2 pi tau_c`` for q = 2).

(b) Hebbian + scaling::

        dJ/dt = eta K r^2 + eta_s (T - a) J,       tau da/dt = r - a,             r = F(J)

    Fixed point ``a* = r*``, ``eta K r*^2 = eta_s (r* - T) J*`` (needs ``r* > T``); we set
    ``eta_s = kappa eta``, ``kappa = K r*^2 / (J* (r* - T))``, so ``r* = 1`` and ``J* = D - A``
    for every eta. Jacobian in (J, a) (using the fixed-point condition for
    ``eta_s (T - r*) = -eta K r*^2 / J*``)::

        [[ eta K r* g,   -eta_s J* ],      g = 2 F'(J*) - r* / J*
         [ F' / tau,     -1 / tau  ]]

    ``tr = eta K r* g - 1/tau``, ``det = eta K r* (r* F' / (r* - T) - g) / tau``. For det > 0
    (``r* F'/(r* - T) > g``; the fixed point is then stable for fast compensation) and g > 0,
    the Hopf boundary is::

        tau_c = 1 / (eta K r* g(J*))                        (onset frequency sqrt(det))

Both are ``tau_c proportional to 1 / eta``: log-log slope -1. Parameters (``NETWORK``):
J_EI = J_IE = J_II = 1, tau_E = 1, tau_I = 0.5, b_I = 2, b_E = 1.5, so A = 0.5, D = 1.5,
J* = 1, r* = 1, r_I* = 1.5, F'(J*) = 2; T = 0.5 gives g = 3, kappa = 2 K and
det = eta K / tau > 0. Hence ``tau_c = 1 / (2 eta K)`` (BCM) and ``1 / (3 eta K)`` (scaling).
Heterogeneous modes (one neuron's row alone: only its own rate moves, with gain
``dr_i/dJ_i = r* = 1`` instead of F' = 2, and its inputs stay at r*) are more robust: for BCM
``tr = eta K r*^2 - 1/tau``, i.e. tau_c = 1/(eta K), twice the homogeneous one; for scaling
``tr = eta K r* (1 - r*/J*) - 1/tau = -1/tau``, no Hopf at all. They are not excited from the
homogeneous start anyway.
The adiabatic approximation neglects the lag of the rates: the 4-D mean-field system
(r_E, r_I, J, theta or a), linearised (:func:`full_jacobian`), has its own Hopf boundary
:func:`full_critical_tau`: smaller than tau_c by a relative ~1.7 / tau_c for BCM (tau_c in units
of tau_E = 1; 12% at tau_c = 12.8, 0.3% at 641) and within 1.5% of it for scaling at tau_c >= 8.
It is drawn dashed: the expected deviation of the simulations at small tau_c.

Simulation. ``n_E = 40``, ``n_I = 10``, ``p = 1`` (``SEED`` 0; the connectivity is then not
random), ``dt = 0.1``. Every run starts at the fixed point (rates r*, r_I*, summed E->E weight J*)
with the compensation variable displaced by ``DELTA = 2%`` (``theta(0) = theta0 = 1.02``; the
scaling estimate, which the rule starts at its target, is set to ``a(0) = 1.02 r_i`` after one
step, which itself kicks J by ``dt eta K``), and runs ``RUN_LENGTH = 100`` predicted tau_c. That is long compared with the
onset period (2 pi tau_c for BCM, 2 pi sqrt(3) tau_c ~ 11 tau_c for scaling) and with the
growth time 1/sigma at the grid point next to the boundary: with ``tau = tau_c (1 + eps)``,
``sigma ~ eps / (2 tau_c)``, i.e. 22 tau_c for the full grid's eps = 2^(1/8) - 1 and 10 tau_c for
the quick grid's 2^(1/4) - 1, so a 2% deviation grows past the 7% of the oscillation criterion
(or decays) within the run. The tau grid is offset by half a step from tau_c (factors
2^((k + 1/2)/8), 0.26 to 3.8, full; 2^((k + 1/2)/4), 0.55 to 1.8, quick), so that no run sits on
the prediction itself, where the outcome is marginal; the learning rates are 2e-5 to 1e-3
(1.7 decades, 6 values; quick: 5e-5, 2e-4, 1e-3).

Beside it (full mode only): ``p = 0.1``, ``n_E = 400``, ``n_I = 100`` at eta = 2e-4, tau factors
2^((k + 1/2)/4). Bernoulli connectivity with equal synapses makes the rates very unequal (SD ~0.5
at r* = 1, 6% of the E neurons silent; then Hebbian + scaling runs away even with fast
compensation and BCM leaves the silent neurons silent), so each row is normalised,
``w_ij = J / K_i``: every neuron's summed weights are the J's and the quiet state is homogeneous,
while the in-degrees K_i (mean K ~ 40, SD ~ 6) still make the neurons learn at different speeds;
the prediction uses the mean K. The network first settles under fast compensation (below).

Outcome of a run: :func:`plasticity.metrics.classify_run` on the E population with target r*,
default thresholds, on the last quarter of the run: "diverged" (a rate passed 1e6: the E->E loop
ran away), "runaway" (mean E rate > 3 r*, or growth of more than 10% across the window above r*
with little fluctuation), "oscillating" (fluctuation of the mean E rate about its fitted trend,
CV > 0.05), else "stable". A run classify_run calls "stable" whose mean E rate in that window
still strays by more than ``SETTLED_TOL = 5%`` from r* is relabelled "unsettled": classify_run
also calls "stable" a window that drifts (down, or up below r*) by more than its trend tolerance,
and a growing oscillation still below CV 0.05 (amplitude ~7%) is not settled either.
Unstable = anything but "stable". The simulated boundary per learning rate is
the geometric midpoint of the largest stable tau below the smallest unstable tau and that
unstable tau (the bracket is its error bar); the log-log slope of tau_sim against eta is fitted
by least squares per compensation.

Writes ``fig_compensation_timescale.{png,pdf}``, ``results.{csv,parquet}`` (one row per
compensation and learning rate: predicted, full-mean-field and simulated boundary, ratio,
fitted slope) and ``points.{csv,parquet}`` (one row per run, with its ``outcome``).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

NAME = "compensation_timescale"

RULES = ("bcm", "scaling")
LABELS = {"bcm": "Hebbian + sliding threshold (BCM)", "scaling": "Hebbian + synaptic scaling"}
N_E, N_I = 40, 10
SEED = 0
DT = 0.1
NETWORK = {"J_EI": 1.0, "J_IE": 1.0, "J_II": 1.0, "tau_e": 1.0, "tau_i": 0.5, "bias_e": 1.5, "bias_i": 2.0}
POWER = 2.0                # BCM threshold tracks r^POWER; fixed point r* = 1 for any POWER != 1
SCALING_TARGET = 0.5       # T of synaptic scaling; r* = 1 > T is set by kappa (module docstring)
DELTA = 0.02               # initial relative displacement of theta or of the rate estimate a
RUN_LENGTH = 100.0         # run length in predicted tau_c
SAMPLES = 2000             # recorded samples per run (record_every = steps // SAMPLES)
TRACE_SAMPLES = 500        # samples of the stored mean-E-rate trace
SETTLED_TOL = 0.05         # "stable" runs must end within 5% of r*
TOLERANCE = 0.20           # the target: simulated / predicted within 20%

ETAS = [2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3]            # 1.7 decades, both compensations
QUICK_ETAS = [5e-5, 2e-4, 1e-3]                         # 1.3 decades
# tau / tau_c(eta), log-spaced and offset by half a step so that the prediction itself (a marginal
# run) is never a grid point: a simulation that agrees puts the boundary in the bracket around 1
TAU_FACTORS = [float(2 ** ((k + 0.5) / 8)) for k in range(-16, 16)]   # 0.26x .. 3.8x, factors 2^(1/8)
QUICK_TAU_FACTORS = [float(2 ** ((k + 0.5) / 4)) for k in range(-4, 4)]  # 0.55x .. 1.8x, factors 2^(1/4)
# beside it (full mode only): p = 0.1, n_E = 400, n_I = 100 (mean in-degree ~ 40, heterogeneous)
SPARSE_P, SPARSE_N_E, SPARSE_N_I = 0.1, 400, 100
SPARSE_ETAS = [2e-4]
SPARSE_TAU_FACTORS = [float(2 ** ((k + 0.5) / 4)) for k in range(-6, 6)]  # 0.37x .. 2.6x, factors 2^(1/4)
SETTLE_FACTOR, SETTLE_LENGTH = 0.25, 40.0  # p < 1: settle with tau = 0.25 tau_c for 40 tau_c first


# -- mean-field theory ----------------------------------------------------------------------
def _A_D(net: dict | None = None) -> tuple[float, float]:
    q = dict(NETWORK, **(net or {}))
    A = q["bias_e"] - q["J_IE"] * q["bias_i"] / (1 + q["J_II"])
    D = 1 + q["J_IE"] * q["J_EI"] / (1 + q["J_II"])
    return A, D


def quiet_rate(J: float, net: dict | None = None) -> float:
    """r_E = F(J) = A / (D - J) of the quiet state at summed E->E weight J (module docstring)."""
    A, D = _A_D(net)
    if not J < D:
        raise ValueError(f"quiet_rate: no quiet state for J >= D = {D:g}; got J = {J!r}")
    return A / (D - J)


def quiet_rate_slope(J: float, net: dict | None = None) -> float:
    """F'(J) = A / (D - J)^2 = F(J)^2 / A (module docstring)."""
    A, D = _A_D(net)
    if not J < D:
        raise ValueError(f"quiet_rate_slope: no quiet state for J >= D = {D:g}; got J = {J!r}")
    return A / (D - J) ** 2


def inhibitory_rate(J: float, net: dict | None = None) -> float:
    """r_I = (J_EI F(J) + b_I) / (1 + J_II)."""
    q = dict(NETWORK, **(net or {}))
    return (q["J_EI"] * quiet_rate(J, net) + q["bias_i"]) / (1 + q["J_II"])


def fixed_point(net: dict | None = None) -> tuple[float, float]:
    """(J*, r*) with r* = 1 (the BCM set point, shared by scaling through kappa): J* = D - A."""
    A, D = _A_D(net)
    return D - A, 1.0


def scaling_kappa(K: float, net: dict | None = None) -> float:
    """kappa = eta_s / eta = K r*^2 / (J* (r* - T)) that puts Hebbian + scaling's fixed point at r*."""
    J, r = fixed_point(net)
    return K * r * r / (J * (r - SCALING_TARGET))


def reduced_jacobian(rule: str, eta: float, tau: float, K: float, net: dict | None = None) -> np.ndarray:
    """The 2x2 Jacobian of the adiabatic (J, theta) or (J, a) system at its fixed point (module docstring)."""
    J, r = fixed_point(net)
    Fp = quiet_rate_slope(J, net)
    if rule == "bcm":
        return np.array([[eta * K * r * r * Fp, -eta * K * r * r],
                         [POWER * r ** (POWER - 1) * Fp / tau, -1.0 / tau]])
    if rule == "scaling":
        eta_s = scaling_kappa(K, net) * eta
        return np.array([[2 * eta * K * r * Fp + eta_s * (SCALING_TARGET - r), -eta_s * J],
                         [Fp / tau, -1.0 / tau]])
    raise ValueError(f"unknown rule {rule!r}; expected one of {RULES}")


def gain(rule: str, net: dict | None = None) -> float:
    """The loop gain G in tr = eta K G - 1/tau: r*^2 F' (BCM) or r* (2 F' - r*/J*) (scaling)."""
    J, r = fixed_point(net)
    Fp = quiet_rate_slope(J, net)
    if rule == "bcm":
        return r * r * Fp
    if rule == "scaling":
        return r * (2 * Fp - r / J)
    raise ValueError(f"unknown rule {rule!r}; expected one of {RULES}")


def critical_tau(rule: str, eta: float, K: float, net: dict | None = None) -> float:
    """Adiabatic Hopf boundary tau_c = 1 / (eta K G) (module docstring)."""
    return 1.0 / (eta * K * gain(rule, net))


def learning_rate(rule: str, tau_c: float, K: float, net: dict | None = None) -> float:
    """The eta whose predicted boundary is tau_c."""
    return 1.0 / (tau_c * K * gain(rule, net))


def full_jacobian(rule: str, eta: float, tau: float, K: float, net: dict | None = None) -> np.ndarray:
    """Jacobian of the 4-D mean field (r_E, r_I, J, theta or a) at the fixed point, rate lag included."""
    q = dict(NETWORK, **(net or {}))
    J, r = fixed_point(net)
    M = np.zeros((4, 4))
    M[0] = [(J - 1) / q["tau_e"], -q["J_IE"] / q["tau_e"], r / q["tau_e"], 0.0]
    M[1] = [q["J_EI"] / q["tau_i"], -(1 + q["J_II"]) / q["tau_i"], 0.0, 0.0]
    if rule == "bcm":    # dJ/dt = eta K r^2 (r - theta): d/dr = eta K (3 r^2 - 2 r theta) = eta K r^2 at theta = r
        M[2] = [eta * K * r * r, 0.0, 0.0, -eta * K * r * r]
        M[3] = [POWER * r ** (POWER - 1) / tau, 0.0, 0.0, -1.0 / tau]
    elif rule == "scaling":
        eta_s = scaling_kappa(K, net) * eta
        M[2] = [2 * eta * K * r, 0.0, eta_s * (SCALING_TARGET - r), -eta_s * J]
        M[3] = [1.0 / tau, 0.0, 0.0, -1.0 / tau]
    else:
        raise ValueError(f"unknown rule {rule!r}; expected one of {RULES}")
    return M


def full_critical_tau(rule: str, eta: float, K: float, net: dict | None = None) -> float:
    """Smallest tau at which the 4-D mean field has an eigenvalue with positive real part (bisection)."""
    def unstable(tau):
        return np.linalg.eigvals(full_jacobian(rule, eta, tau, K, net)).real.max() > 0

    guess = critical_tau(rule, eta, K, net)
    lo, hi = guess / 64, guess * 64
    if unstable(lo) or not unstable(hi):
        return math.nan
    for _ in range(80):
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if unstable(mid) else (mid, hi)
    return math.sqrt(lo * hi)


# -- simulation -----------------------------------------------------------------------------
def network(J_EE: float | None = None, n_e: int = N_E, n_i: int = N_I, seed: int = SEED, p: float = 1.0):
    """The E/I network of the study with summed E->E weight J_EE (J* by default).

    p = 1: ``RateNetwork.ei``, whose summed weights are exactly the J's (each of the ``n - 1``
    synapses within a population, which has no self-synapses, is ``J / (n - 1)``).

    p < 1: the same populations and random (Bernoulli p) connectivity by
    ``RateNetwork.from_populations``, with each row normalised, ``w_ij = J / K_i`` (K_i the
    neuron's in-degree from that population): every neuron's summed weights are exactly the J's,
    so the mean-field quiet state is a fixed point of every neuron, while the synapse counts K_i
    (which set the per-neuron plasticity speed, ``dJ_i/dt ~ eta K_i``) still differ.
    """
    from models import RatePopulation, RateNetwork, RateProjection

    if J_EE is None:
        J_EE = fixed_point()[0]
    q = dict(NETWORK)
    if p >= 1.0:
        return RateNetwork.ei(n_e, n_i, seed=seed, p=p, J_EE=J_EE, dt=DT, **q)
    pops = [RatePopulation("E", n_e, activation="relu", tau=q["tau_e"], bias=q["bias_e"]),
            RatePopulation("I", n_i, activation="relu", inhibitory=True, tau=q["tau_i"], bias=q["bias_i"])]
    J = {"EE": J_EE, "EI": q["J_EI"], "IE": q["J_IE"], "II": q["J_II"]}
    size = {"E": n_e, "I": n_i}

    def build(w):
        projs = [RateProjection(name[0], name[1], p=p, w=w[name]) for name in ("EE", "EI", "IE", "II")]
        return RateNetwork.from_populations(pops, projs, dynamics="flow", dt=DT, seed=seed)

    probe = build({name: 1.0 for name in J})  # the same seed draws the same masks in the same order
    w = {}
    for name in J:
        k = probe.connectivity(name).sum(axis=1, keepdims=True).astype(float)
        w[name] = np.broadcast_to(np.where(k > 0, J[name] / np.maximum(k, 1.0), 0.0), (size[name[1]], size[name[0]]))
    return build(w)


def start_state(n_e: int = N_E, n_i: int = N_I, J: float | None = None) -> np.ndarray:
    """The quiet state (r_E, r_I) of summed weight J (J* by default) as the initial x."""
    J = fixed_point()[0] if J is None else J
    return np.r_[np.full(n_e, quiet_rate(J)), np.full(n_i, inhibitory_rate(J))]


def make_rule(rule: str, eta: float, tau: float, K: float, theta0: float | None = None):
    """BCM (theta0 = r*^q (1 + DELTA) by default) or Hebbian + scaling with eta_s = kappa eta."""
    from plasticity.rules import BCM, Hebbian, SynapticScaling

    r_star = fixed_point()[1]
    if rule == "bcm":
        theta0 = r_star ** POWER * (1 + DELTA) if theta0 is None else theta0
        return BCM(eta=eta, tau_theta=tau, theta0=theta0, power=POWER)
    if rule == "scaling":
        return Hebbian(eta=eta) + SynapticScaling(eta=scaling_kappa(K) * eta, target=SCALING_TARGET, tau=tau)
    raise ValueError(f"unknown rule {rule!r}; expected one of {RULES}")


def in_degree(net) -> float:
    """Mean number of E->E synapses per E neuron (n_E - 1 at p = 1)."""
    return float(net.connectivity("EE").sum(axis=1).mean())


def simulate(rule: str, eta: float, tau: float, length: float, n_e: int = N_E, n_i: int = N_I, seed: int = SEED,
             p: float = 1.0, samples: int = SAMPLES):
    """Run the plastic network from its displaced fixed point for ``length`` time units.

    p = 1: the rates start at the mean-field fixed point (r*, r_I*), the summed E->E weight at J*.
    p < 1: the neurons differ, so the network first settles to its own fixed point under the same
    rule with fast compensation (``SETTLE_FACTOR`` tau_c, stable) for ``SETTLE_LENGTH`` tau_c.
    Then the compensation variable is displaced by DELTA: theta(0) = r*^q (1 + DELTA) (BCM; the
    settled rates are r* = 1), a(0) = r_i (1 + DELTA) after one step (scaling: the rule's estimate
    starts at its target, and one step creates the state; that step kicks J by dt eta K).

    Returns ``(RateResult of the main run, K)`` with K the mean E->E in-degree.
    """
    net = network(n_e=n_e, n_i=n_i, seed=seed, p=p)
    K = in_degree(net)
    x0 = start_state(n_e, n_i)
    if p < 1.0:
        tau_c = critical_tau(rule, eta, K)
        settle = {"EE": make_rule(rule, eta, SETTLE_FACTOR * tau_c, K, theta0=fixed_point()[1] ** POWER)}
        net.run(max(1, int(round(SETTLE_LENGTH * tau_c / DT))), plasticity=settle, x0=x0, progress=False)
        x0 = None
    plastic = {"EE": make_rule(rule, eta, tau, K)}
    steps = max(1, int(round(length / DT)))
    every = max(1, steps // samples)
    if rule == "scaling":
        net.run(1, plasticity=plastic, x0=x0, progress=False)
        net.plasticity_state["EE"].terms[1].rate[:] = np.maximum(net.x[:n_e], 0.0) * (1 + DELTA)
        steps -= 1
        x0 = None
    return net.run(steps, plasticity=plastic, x0=x0, record_every=every, progress=False), K


def outcome_of(result, r_star: float = 1.0) -> tuple[str, float]:
    """(outcome, final deviation): classify_run on E with target r*, "unsettled" as in the module docstring."""
    from plasticity.metrics import classify_run

    outcome = classify_run(result, target=r_star, population="E")
    rates = np.asarray(result.rates)[:, result.populations["E"]]
    m = rates.mean(axis=1)
    tail = m[len(m) - max(2, math.ceil(0.25 * len(m))):]
    deviation = float(np.max(np.abs(tail - r_star)) / r_star) if len(tail) and np.all(np.isfinite(tail)) else math.inf
    if outcome == "stable" and deviation > SETTLED_TOL:
        outcome = "unsettled"
    return outcome, deviation


def point(rule: str, eta: float, tau_factor: float, seed: int = SEED, p: float = 1.0, n_e: int = N_E,
          n_i: int = N_I) -> dict:
    """One run at learning rate eta and compensation time constant tau = tau_factor * tau_c(eta, K)."""
    K = in_degree(network(n_e=n_e, n_i=n_i, seed=seed, p=p))
    tau_pred = critical_tau(rule, eta, K)
    tau = tau_factor * tau_pred
    result, _ = simulate(rule, eta, tau, RUN_LENGTH * tau_pred, n_e=n_e, n_i=n_i, seed=seed, p=p)
    outcome, deviation = outcome_of(result, fixed_point()[1])
    m = np.asarray(result.rates)[:, result.populations["E"]].mean(axis=1)
    keep = np.unique(np.linspace(0, len(m) - 1, min(len(m), TRACE_SAMPLES)).astype(int))
    return {
        "tau": float(tau), "tau_pred": float(tau_pred), "tau_full": float(full_critical_tau(rule, eta, K)),
        "K": K, "outcome": outcome, "unstable": outcome != "stable", "final_deviation": deviation,
        "diverged": bool(result.diverged),
        "diverged_at": math.nan if result.diverged_at is None else float(result.diverged_at),
        "run_length": float(RUN_LENGTH * tau_pred),
        "trace_t": np.asarray(result.times)[keep], "trace_r": m[keep],
    }


def _grid(etas, factors, seeds=(SEED,), p=1.0, n_e=N_E, n_i=N_I):
    return [{"rule": rule, "eta": float(eta), "tau_factor": float(f), "seed": int(s), "p": float(p),
             "n_e": int(n_e), "n_i": int(n_i)}
            for rule in RULES for eta in etas for f in factors for s in seeds]


GRID = _grid(ETAS, TAU_FACTORS) + _grid(SPARSE_ETAS, SPARSE_TAU_FACTORS, p=SPARSE_P, n_e=SPARSE_N_E, n_i=SPARSE_N_I)
QUICK = _grid(QUICK_ETAS, QUICK_TAU_FACTORS)


# -- analysis -------------------------------------------------------------------------------
def boundary(taus, unstable) -> tuple[float, float, float, bool]:
    """(tau_lo, tau_hi, tau_sim, monotonic) from runs at ``taus`` with their instability flags.

    tau_hi: the smallest unstable tau; tau_lo: the largest stable tau below it; tau_sim their
    geometric mean. nan where the bracket is open (all stable, or unstable at the smallest tau).
    ``monotonic``: every tau below tau_hi is stable and every tau above it unstable.
    """
    order = np.argsort(np.asarray(taus, dtype=float))
    t = np.asarray(taus, dtype=float)[order]
    u = np.asarray(unstable, dtype=bool)[order]
    if not u.any():
        return float(t[-1]), math.nan, math.nan, True
    k = int(np.argmax(u))
    monotonic = bool(u[k:].all())
    if k == 0:
        return math.nan, float(t[0]), math.nan, monotonic
    return float(t[k - 1]), float(t[k]), float(math.sqrt(t[k - 1] * t[k])), monotonic


def fit_slope(etas, taus) -> tuple[float, float]:
    """(slope, standard error) of log tau against log eta by least squares (nan with < 2 finite points)."""
    x, y = np.log(np.asarray(etas, dtype=float)), np.log(np.asarray(taus, dtype=float))
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return math.nan, math.nan
    x, y = x[ok], y[ok]
    A = np.vstack([x, np.ones_like(x)]).T
    coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
    if ok.sum() > 2:
        s2 = float(np.sum((y - A @ coef) ** 2)) / (ok.sum() - 2)
        se = math.sqrt(s2 / float(np.sum((x - x.mean()) ** 2)))
    else:
        se = math.nan
    return float(coef[0]), se


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (rule, eta): predicted, full-mean-field and simulated boundary; ratios; fitted slope (printed)."""
    out = boundary_table(table)
    for (rule, p, n_e), g in out.groupby(["rule", "p", "n_e"]):
        where = f"{rule}, p = {p:g}, n_E = {n_e}"
        ratios = ", ".join(f"{r:.3f} [{a:.3f}, {b:.3f}]" for r, a, b in zip(g["ratio"], g["ratio_lo"], g["ratio_hi"]))
        print(f"{NAME}: {where}: tau_sim / tau_pred [bracket] = {ratios} at eta = "
              f"{', '.join(f'{e:g}' for e in g['eta'])}")
        if len(g) > 1:
            print(f"{NAME}: {where}: fitted log-log slope of tau_sim against eta = {g['slope'].iloc[0]:.3f} "
                  f"+- {g['slope_se'].iloc[0]:.3f} (predicted -1)")
    return out


def boundary_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table of :func:`summarize`, without printing."""
    ok = table[table["error"].isna()] if "error" in table else table
    rows = []
    for (rule, p, n_e, eta), g in ok.groupby(["rule", "p", "n_e", "eta"], sort=True):
        lo, hi, sim, mono = boundary(g["tau"], g["unstable"].astype(bool))
        pred, full = float(g["tau_pred"].iloc[0]), float(g["tau_full"].iloc[0])
        ratio = sim / pred
        rows.append({
            "rule": rule, "p": float(p), "n_e": int(n_e), "K": float(g["K"].iloc[0]), "eta": float(eta),
            "tau_pred": pred, "tau_full": full, "tau_lo": lo, "tau_hi": hi, "tau_sim": sim, "ratio": ratio,
            "ratio_lo": lo / pred, "ratio_hi": hi / pred, "ratio_full": sim / full, "monotonic": mono,
            "runs": int(len(g)),
            "outcome": ("within 20%" if abs(ratio - 1) <= TOLERANCE else "outside 20%") if np.isfinite(ratio)
            else "not bracketed",
        })
    out = pd.DataFrame(rows)
    out["slope"], out["slope_se"] = math.nan, math.nan
    for _, g in out.groupby(["rule", "p", "n_e"]):
        s, se = fit_slope(g["eta"], g["tau_sim"])
        out.loc[g.index, "slope"], out.loc[g.index, "slope_se"] = s, se
    return out


# -- figure ---------------------------------------------------------------------------------
OUTCOME_STYLE = {  # one colour (and marker) per outcome
    "stable": ("#009E73", "o"), "oscillating": ("#E69F00", "s"), "unsettled": ("#CC79A7", "D"),
    "runaway": ("#D55E00", "^"), "diverged": ("#000000", "X"),
}


def _rule_color(rule: str, default: str) -> str:
    """The project's colour of the rule (plasticity.plot.RULE_COLORS: "bcm", "scaling") when there is one."""
    from plasticity import plot

    palette = getattr(plot, "RULE_COLORS", None) or {}
    return palette.get(rule, default)


SPARSE_SHIFT = 1.25  # the p < 1 runs are drawn at eta / SPARSE_SHIFT (same eta as a p = 1 column)


def figure(table: pd.DataFrame):
    from plasticity.plot import new_figure

    ok = table[table["error"].isna()] if "error" in table else table
    summary = boundary_table(ok)
    dense_all, sparse_all = ok[ok.p >= 1.0], ok[ok.p < 1.0]
    quick = sparse_all.empty and dense_all["eta"].nunique() <= len(QUICK_ETAS) \
        and dense_all["tau_factor"].nunique() <= len(QUICK_TAU_FACTORS)
    fig, axes = new_figure(2, 2, figsize=(10.0, 8.4))
    for col, rule in enumerate(RULES):
        ax = axes[0, col]
        g = dense_all[dense_all.rule == rule]
        if g.empty:
            continue
        color = _rule_color(rule, "#0072B2" if rule == "scaling" else "#CC79A7")
        for outcome, (c, marker) in OUTCOME_STYLE.items():
            h = g[g.outcome == outcome]
            if len(h):
                ax.scatter(h.eta, h.tau, color=c, marker=marker, s=14, lw=0, label=outcome, zorder=2)
        eta_line = np.geomspace(g.eta.min() / 2.0, g.eta.max() * 1.5, 100)
        K = float(g.K.iloc[0])
        ax.plot(eta_line, [critical_tau(rule, e, K) for e in eta_line], color=color, lw=1.4,
                label=r"predicted $\tau_c = 1/(\eta K G)$", zorder=1)
        ax.plot(eta_line, [full_critical_tau(rule, e, K) for e in eta_line], color=color, lw=1.0, ls="--",
                label="4-D mean field (rate lag)", zorder=1)
        s = summary[(summary.rule == rule) & (summary.p >= 1.0)]
        f = s[np.isfinite(s.tau_sim)]
        ax.errorbar(f.eta * 1.1, f.tau_sim, yerr=[f.tau_sim - f.tau_lo, f.tau_hi - f.tau_sim], fmt="_", ms=10,
                    color="k", capsize=3, lw=1.0, label="simulated boundary (bracket)", zorder=3)
        sp = sparse_all[sparse_all.rule == rule]
        if len(sp):
            for outcome, (c, marker) in OUTCOME_STYLE.items():
                h = sp[sp.outcome == outcome]
                if len(h):
                    ax.scatter(h.eta / SPARSE_SHIFT, h.tau, facecolors="none", edgecolors=c, marker=marker, s=14,
                               lw=0.7, zorder=2)
            ss = summary[(summary.rule == rule) & (summary.p < 1.0) & np.isfinite(summary.tau_sim)]
            for r in ss.itertuples():
                x = r.eta / SPARSE_SHIFT
                ax.plot([x / 1.15, x * 1.15], [r.tau_pred] * 2, color=color, lw=1.0, ls=":")
                ax.errorbar([x * 1.1], [r.tau_sim], yerr=[[r.tau_sim - r.tau_lo], [r.tau_hi - r.tau_sim]], fmt="_",
                            ms=10, color="0.45", capsize=3, lw=1.0, zorder=3,
                            label=f"p = {r.p:g}, n_E = {r.n_e} (open, shifted left; dotted: its prediction)")
        dense_slope = float(s.slope.iloc[0]) if len(s) else math.nan
        ax.set(xscale="log", yscale="log", xlabel=r"learning rate $\eta$",
               ylabel=r"compensation time constant $\tau$" + (r" ($\tau_\theta$)" if rule == "bcm" else r" ($\tau_a$)"),
               title=f"{LABELS[rule]}\nfitted slope {dense_slope:.2f} (predicted -1)")
        ax.legend(fontsize=6, loc="lower left")
        # example traces: the bracket of the middle learning rate (p = 1)
        ax = axes[1, col]
        if len(f):
            row = f.iloc[len(f) // 2]
            top = 1.2
            for tau in (row.tau_lo, row.tau_hi):
                run = g[(g.eta == row.eta) & np.isclose(g.tau, tau)].iloc[0]
                c = OUTCOME_STYLE.get(run.outcome, ("0.5", "o"))[0]
                r = np.asarray(run.trace_r)
                top = max(top, float(np.nanmax(r)) * 1.05)
                ax.plot(np.asarray(run.trace_t) / row.tau_pred, r, color=c, lw=0.9,
                        label=fr"$\tau$ = {run.tau / row.tau_pred:.2f} $\tau_c$: {run.outcome}")
            ax.axhline(1.0, color="0.6", lw=0.6, ls=":")
            ax.set(xlabel=r"time / $\tau_c$ (predicted)", ylabel="mean E rate",
                   title=fr"$\eta$ = {row.eta:g}, $\tau_c$ = {row.tau_pred:.3g}: either side of the boundary",
                   ylim=(0.0, min(top, 4.0)))
            ax.legend(fontsize=7, loc="upper left")
    for ax, letter in zip(axes.flat, "abcd"):
        ax.set_title(f"({letter})", loc="left", fontsize=10)
    seeds = sorted(int(s) for s in ok["seed"].unique())
    dense = summary[(summary.p >= 1.0) & np.isfinite(summary.ratio)]
    sparse = summary[(summary.p < 1.0) & np.isfinite(summary.ratio)]
    sparse_text = "" if sparse.empty else (
        f";\np = {sparse.p.iloc[0]:g} (n_E = {sparse.n_e.iloc[0]}, rows normalised, mean K = {sparse.K.iloc[0]:.1f}, "
        f"eta = {sparse.eta.iloc[0]:g}): " + ", ".join(f"{r.rule} {r.ratio:.2f}" for r in sparse.itertuples()))
    fig.suptitle(
        "Predicted (solid): adiabatic Hopf boundary of the 2-D mean-field plasticity system, "
        r"$\tau_c = 1/(2\eta K)$ (BCM), $1/(3\eta K)$ (scaling);" "\n"
        "dashed: 4-D mean field with the rates' lag. Measured: the classify_run outcome of each run (markers); "
        "boundary = geometric midpoint of the\n"
        f"last stable and first unstable $\\tau$ (bracket): simulated/predicted {dense.ratio.min():.2f}-"
        f"{dense.ratio.max():.2f} (p = 1){sparse_text}.\n"
        f"E/I network n_E = {N_E}, n_I = {N_I}, p = 1 (K = {N_E - 1}), dt = {DT}; runs of {RUN_LENGTH:g} "
        f"$\\tau_c$ from a {DELTA:.0%} displacement; seed(s) {seeds}; {'quick' if quick else 'full'} mode.",
        fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
