"""BCM rule with a sliding modification threshold.

    dW[i, j]/dt            = eta * y[i] * (y[i] - theta[i]) * x[j]
    tau_theta dtheta[i]/dt = y[i]**power - theta[i]

Bienenstock, Cooper & Munro (1982) J Neurosci 2:32; threshold on y**2 as in Intrator &
Cooper (1992) Neural Networks 5:3. (Nengo's BCM low-passes y itself: that is ``power=1``.)
Explicit Euler; W is updated with the old theta, then theta. ``dt``, ``tau_theta`` share the
model's time unit; ``eta`` is per unit time. W is ``W[post, pre]``.

For a constant response ``y`` and frozen W the threshold relaxes exponentially to
``y**power`` with time constant ``tau_theta``. With ``power=2``, a linear neuron driven by one
constant input settles at ``y* = 1``; driven by K linearly independent patterns, each shown
with probability ``p = 1/K`` and a threshold that averages over them (``tau_theta`` long
compared with one presentation), it becomes selective: ``y* = 1/p = K`` for one pattern and 0
for the others (Intrator & Cooper 1992; Castellani et al. 1999, Network 10:111). The
threshold must be fast compared with the weights (``tau_theta * eta`` small) or the rule
oscillates (Udeigwe, Munro & Ermentrout 2017, J Math Neurosci 7:2).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from plasticity._validation import Interval, any_real, positive
from plasticity.rules._base import RateRule, check_step

__all__ = ["BCM", "BCMState", "bcm_reference", "bcm_coefficients"]


@dataclass
class BCMState:
    """Sliding threshold ``theta`` of each postsynaptic neuron, shape ``(n_post,)``."""

    theta: np.ndarray


@dataclass(frozen=True)
class BCM(RateRule):
    """BCM rule with a sliding threshold (see the module docstring for the equations).

    Parameters
    ----------
    eta : float
        Learning rate, in (0, inf), per unit model time.
    tau_theta : float
        Time constant of the sliding threshold, in (0, inf), model time units.
    theta0 : float
        Initial threshold of every neuron.
    power : float
        Exponent of the activity the threshold tracks, in (0, inf); 2 is the classic choice.
    """

    eta: float
    tau_theta: float
    theta0: float = 0.0
    power: float = 2.0

    constraints: ClassVar[dict[str, Interval]] = {
        "eta": positive,
        "tau_theta": positive,
        "theta0": any_real,
        "power": positive,
    }
    state_fields: ClassVar[tuple[str, ...]] = ("theta",)

    @classmethod
    def examples(cls) -> tuple["BCM", ...]:
        """Configured instances that exercise every code path (read by the contract tests)."""
        return (BCM(eta=0.05, tau_theta=2.0, theta0=0.1), BCM(eta=0.05, tau_theta=2.0, power=1.0))

    def _params(self) -> np.ndarray:
        return np.array([self.eta, self.tau_theta, self.power], dtype=np.float64)

    def _initial_rows(self, n_post: int) -> np.ndarray:
        return np.full((1, n_post), self.theta0)

    def _make_state(self, S: np.ndarray) -> BCMState:
        return BCMState(theta=S[0].copy())

    def reference_update(self, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: BCMState, dt: float) -> None:
        """The same step as :meth:`update`, in plain numpy."""
        check_step(self, W, pre, post, state, dt)
        bcm_reference(W, pre, post, state.theta, self.eta, self.tau_theta, self.power, dt)


def bcm_reference(W, x, y, theta, eta, tau_theta, power, dt):
    """Plain-numpy BCM step; updates ``W`` and ``theta`` in place."""
    W += dt * eta * np.outer(y * (y - theta), x)
    theta += dt / tau_theta * (y**power - theta)


@njit(cache=True, nogil=True)
def bcm_coefficients(y, S, P, dt, a, b, c):
    """Row coefficients ``a[i] = dt eta y (y - theta)``, ``b = 0``; then advance theta (``S[0]``)."""
    eta, tau_theta, power = P[0], P[1], P[2]
    theta = S[0]
    for i in range(y.shape[0]):
        a[i] += dt * eta * y[i] * (y[i] - theta[i])
        theta[i] += dt / tau_theta * (y[i] ** power - theta[i])


BCM._coefficients = staticmethod(bcm_coefficients)
