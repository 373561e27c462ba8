"""BCM with a slow sliding threshold: the Hopf boundary tau_c of one neuron and of a recurrent rate network.

BCM (``plasticity.rules.BCM``, power 2) with threshold time constant ``tau_theta`` destabilises
activity when the threshold is slower than a critical ``tau_c`` (the rate part of
``studies.fast_rate_detector``, after Zenke, Hennequin & Gerstner 2013, PLoS Comput Biol
9:e1003330). The analytic boundaries (``neuron_critical_tau``, ``mode_jacobian``,
``mode_critical_tau``, ``network_critical_tau``, ``network_boundaries``), the two models
(``bcm_neuron``, ``bcm_network``) in the reference configuration below, and the stability read-out
of a simulated rate (``rate_stability``).

(i) One linear neuron y = w . x with a constant input x:

    dw/dt = eta y (y - theta) x,   tau_theta dtheta/dt = y^2 - theta
    =>  dy/dt = k y (y - theta),   k = eta |x|^2.

Fixed point y* = theta* = 1. Linearised in (y, theta):

    J = [[k, -k], [2 / tau_theta, -1 / tau_theta]],  det J = k / tau_theta > 0,  tr J = k - 1 / tau_theta,

so the fixed point is stable iff tau_theta < tau_c = 1 / (eta |x|^2); at tau_c the eigenvalues
are +-i k: a Hopf bifurcation (here supercritical: just above tau_c the rate oscillates on a
small limit cycle; farther above it collapses to the silent state y = 0 or runs away). With
theta tracking y^p the same tau_c holds for any p > 1 (det J = (p - 1) k / tau_theta). Derived
here; the same instability of the averaged BCM equations is analysed for two and three stimuli
by Udeigwe, Munro & Ermentrout (2017) J Math Neurosci 7:2, and is why the threshold must be
fast compared with the weights (Cooper, Intrator, Blais & Shouval 2004, Theory of Cortical
Plasticity, ch. 3).

(ii) A recurrent rate network, ``models.RateNetwork`` flow with ReLU, n = 100,
tau dx/dt = -x + W relu(x) + I0, W0 = c0/n + sigma N(0, 1)/sqrt(n), all W plastic under BCM
(pre = post = the rates). At a fixed point with every rate 1 (theta = 1), W* 1 = (1 - I0) 1:
the uniform mode has eigenvalue lambda = 1 - I0 of W* exactly. BCM changes each row along the
rate vector (= 1 there), so per eigenvalue lambda of W* the perturbations (x, c, theta) of a
mode (c: the row-sum change) obey

    tau dx/dt = (lambda - 1) x + c,  dc/dt = m (x - theta),  tau_theta dtheta/dt = 2 x - theta,  m = eta n.

Routh-Hurwitz on its characteristic polynomial s^3 + (a + 1/T) s^2 + (a/T - b m) s + b m / T
(a = (1 - lambda)/tau, b = 1/tau, T = tau_theta) gives stability iff
T^2 a b m - T (a^2 - 2 b m) - a < 0, i.e.

    tau_theta < tau_c(lambda) = [a^2 - 2 b m + sqrt(a^4 + 4 b^2 m^2)] / (2 a b m)
                              = (1 - lambda) / m - tau / (1 - lambda) + O(tau^2)

(the first term is the single-neuron result with the mode's closed-loop gain 1/(1 - lambda);
the second is the cost of the neurons' own lag). With sigma small the uniform mode
(lambda = 1 - I0) is the least stable one; the bulk's tau_c is checked to lie well above.

Reference configuration (model time units): the neuron has ``NEURON_K`` inputs, |x| = 1 and
eta = ``NEURON_ETA`` (tau_c = 30); the network has n = ``NET_N``, eta = ``NET_ETA``, I0 =
``NET_I0``, c0 = ``NET_C0``, sigma = ``NET_SIGMA``, tau = ``NET_TAU`` and step ``NET_DT``
(tau_c = 21.6 for seed 0); runs last ``RATE_T`` with step ``RATE_DT``.
"""
from __future__ import annotations

import math

import numpy as np

from models.rate import RateNetwork
from plasticity.rules import BCM

__all__ = ["neuron_critical_tau", "mode_jacobian", "mode_critical_tau", "network_critical_tau", "network_weights",
           "network_boundaries", "bcm_neuron", "bcm_network", "rate_stability", "NEURON_K", "NEURON_ETA", "NET_N",
           "NET_ETA", "NET_I0", "NET_C0", "NET_SIGMA", "NET_TAU", "NET_DT", "RATE_T", "RATE_DT", "AMPLITUDE_STABLE",
           "COLLAPSED"]

NEURON_K, NEURON_ETA = 10, 1 / 30            # inputs, learning rate; |x| = 1 so tau_c = 1 / eta = 30
NET_N, NET_ETA, NET_I0, NET_C0, NET_SIGMA, NET_TAU, NET_DT = 100, 1e-4, 0.25, 0.6, 0.3, 1.0, 0.1
RATE_T, RATE_DT = 2000.0, 0.1                 # model time units per run; step of both models
AMPLITUDE_STABLE = 0.02                       # half peak-to-peak of the mean rate in the last quarter (fixed point 1)
COLLAPSED = 0.05                              # mean rate below this in the last quarter: silent


def neuron_critical_tau(eta: float, x_norm2: float) -> float:
    """tau_c = 1 / (eta |x|^2) of one linear BCM neuron with a constant input (module docstring, (i))."""
    return 1.0 / (eta * x_norm2)


def mode_jacobian(lam: complex, tau: float, m: float, tau_theta: float) -> np.ndarray:
    """Jacobian of one mode (x, c, theta) of the BCM rate network at its fixed point (module docstring, (ii))."""
    return np.array([[(lam - 1) / tau, 1 / tau, 0], [m, 0, -m], [2 / tau_theta, 0, -1 / tau_theta]], dtype=complex)


def mode_critical_tau(lam: float, tau: float, m: float) -> float:
    """Closed-form Routh-Hurwitz boundary tau_c(lambda) of a real mode, lambda < 1 (module docstring, (ii))."""
    a, b = (1 - lam) / tau, 1 / tau
    return (a * a - 2 * b * m + math.sqrt(a**4 + 4 * b * b * m * m)) / (2 * a * b * m)


def network_critical_tau(eigenvalues: np.ndarray, tau: float, m: float) -> float:
    """Smallest tau_theta at which some mode's Jacobian has an eigenvalue with positive real part (bisection)."""
    def unstable(T):
        return any(np.linalg.eigvals(mode_jacobian(lam, tau, m, T)).real.max() > 0 for lam in eigenvalues)

    lo, hi = 1e-6, 1.0
    while not unstable(hi):
        lo, hi = hi, 2 * hi
        if hi > 1e9:
            return math.inf
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if unstable(mid) else (mid, hi)
    return math.sqrt(lo * hi)


def network_weights(seed: int) -> np.ndarray:
    """W0 = c0/n + sigma N(0,1)/sqrt(n), ``(n, n)``."""
    rng = np.random.default_rng(seed)
    return NET_C0 / NET_N + NET_SIGMA / math.sqrt(NET_N) * rng.standard_normal((NET_N, NET_N))


def network_boundaries(seed: int) -> tuple[float, float]:
    """(tau_c of the uniform mode, tau_c of the other modes estimated with W* ~ W0 + a 1^T)."""
    W0 = network_weights(seed)
    m = NET_ETA * NET_N
    W_star = W0 + ((1 - NET_I0) - W0.sum(axis=1))[:, None] / NET_N  # rows shifted along 1 to W* 1 = (1 - I0) 1
    ev = np.linalg.eigvals(W_star)
    bulk = ev[np.argsort(np.abs(ev - (1 - NET_I0)))[1:]]
    return mode_critical_tau(1 - NET_I0, NET_TAU, m), network_critical_tau(bulk, NET_TAU, m)


# -- simulations --------------------------------------------------------------------------
def bcm_neuron(tau_theta: float, seed: int, duration: float = RATE_T, dt: float = RATE_DT) -> tuple[np.ndarray, np.ndarray]:
    """One linear BCM neuron y = w . x, |x| = 1, from y = 0.6 and theta = 0.36; ``(times, y)``.

    Explicit Euler through ``BCM.update`` in a plain loop; stops early if |y| > 1e3.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 1.5, NEURON_K)
    x /= np.linalg.norm(x)
    rule = BCM(eta=NEURON_ETA, tau_theta=tau_theta, theta0=0.36)
    W = (0.6 * x)[None, :].copy()
    state = rule.init_state(1, NEURON_K)
    steps = int(round(duration / dt))
    ys = np.empty(steps)
    for k in range(steps):
        y = W @ x
        ys[k] = y[0]
        if not abs(y[0]) < 1e3:
            return dt * np.arange(k + 1), ys[:k + 1]
        rule.update(W, x, y, state, dt)
    return dt * np.arange(steps), ys


def bcm_network(tau_theta: float, seed: int, duration: float = RATE_T):
    """The BCM rate network (module docstring) from rate ~ I0 / (1 - c0); returns the ``RateResult``."""
    net = RateNetwork(network_weights(seed), activation="relu", dynamics="flow", tau=NET_TAU, dt=NET_DT, seed=seed)
    y0 = NET_I0 / (1 - NET_C0)
    x0 = y0 + 0.01 * np.random.default_rng(seed + 1).standard_normal(NET_N)
    rule = BCM(eta=NET_ETA, tau_theta=tau_theta, theta0=y0**2)
    return net.run(int(round(duration / NET_DT)), rule=rule, inputs=NET_I0, x0=x0, record_every=10, progress=False,
                   bound=1e3)


def rate_stability(times: np.ndarray, y: np.ndarray, diverged: bool, fixed_point: float = 1.0) -> dict:
    """Mean and half peak-to-peak amplitude of ``y`` over the last quarter, its growth over the third; unstable or not.

    Unstable: diverged, collapsed (mean < COLLAPSED), away from the fixed point (mean off by
    more than 10%, e.g. part of the network fell silent), or an oscillation above
    AMPLITUDE_STABLE that is not dying out (amplitude in the last quarter >= 0.9 x that in the
    third quarter).
    The growth test matters just below tau_c, where the decay rate (1/tau_theta - k)/2 is so
    small that a finite run still oscillates visibly.
    """
    q = len(y) // 4
    late, prev = (y[3 * q:], y[2 * q:3 * q]) if q >= 2 else (y, y)
    mean, amp = float(late.mean()), float((late.max() - late.min()) / 2)
    amp_prev = float((prev.max() - prev.min()) / 2)
    growth = amp / amp_prev if amp_prev > 0 else (1.0 if amp == 0 else math.inf)
    return {"final_rate": mean, "amplitude": amp, "growth": growth, "diverged": bool(diverged),
            "unstable": bool(diverged or mean < COLLAPSED or abs(mean - fixed_point) > 0.1 * fixed_point
                             or (amp > AMPLITUDE_STABLE and growth >= 0.9))}
