"""Inhibitory plasticity in rate form: inhibition onto a neuron grows while it fires above target.

    dW[i, j]/dt = eta * (y[i] - target) * x[j]          (W >= 0: magnitudes of inhibition)

The rate form of the inhibitory spike-timing rule of Vogels, Sprekeler, Zenke, Clopath &
Gerstner (2011) Science 334:1569 (their eq. 1 averaged over Poisson spike trains: the pair
term gives ``x y``, the presynaptic-spike depression ``-alpha x`` with ``alpha = 2 rho0
tau_STDP``, so ``dW/dt ~ x (y - rho0)``). ``W[post, pre]`` holds magnitudes of inhibitory
weights from an inhibitory population (``x`` its rates) onto the neurons whose rates are ``y``;
the network subtracts them. A neuron above ``target`` gets more inhibition, one below gets
less, so at a fixed point with active presynaptic input every postsynaptic rate equals
``target`` exactly (integral feedback through W). Weights are magnitudes: give the projection
(or the rule, through ``w_min``) a lower bound of 0 so that they never change sign.

Explicit Euler; ``dt`` shares the model's time unit, ``eta`` is per unit time per unit rate
squared. The rule has no state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from plasticity._validation import Interval, extended_real, nonnegative, positive
from plasticity.rules._base import RateRule, check_step

__all__ = ["InhibitoryPlasticity", "InhibitoryPlasticityState", "inhibitory_rate_reference", "inhibitory_rate_coefficients"]



@dataclass
class InhibitoryPlasticityState:
    """The rate form of inhibitory plasticity keeps no state."""


@dataclass(frozen=True)
class InhibitoryPlasticity(RateRule):
    """``dW/dt = eta (y - target) x^T`` on inhibitory magnitudes (see the module docstring).

    Parameters
    ----------
    eta : float
        Learning rate, in (0, inf), per unit model time per unit rate squared.
    target : float
        Target rate of the postsynaptic neurons, in [0, inf).
    w_min, w_max : float
        Hard bounds after every step, ``w_min < w_max``; the default ``w_min = 0`` keeps
        magnitudes non-negative.
    """

    eta: float
    target: float
    w_min: float = 0.0
    w_max: float = math.inf

    constraints: ClassVar[dict[str, Interval]] = {
        "eta": positive,
        "target": nonnegative,
        "w_min": extended_real,
        "w_max": extended_real,
    }
    state_fields: ClassVar[tuple[str, ...]] = ()
    bounds: ClassVar[tuple[str, str] | None] = ("w_min", "w_max")

    @classmethod
    def examples(cls) -> tuple["InhibitoryPlasticity", ...]:
        """Configured instances that exercise every code path (read by the contract tests)."""
        return (InhibitoryPlasticity(eta=0.05, target=0.3),
                InhibitoryPlasticity(eta=0.05, target=0.3, w_min=-math.inf, w_max=0.6))

    def _params(self) -> np.ndarray:
        return np.array([self.eta, self.target], dtype=np.float64)

    def _initial_rows(self, n_post: int) -> np.ndarray:
        return np.zeros((0, n_post))

    def _make_state(self, S: np.ndarray) -> InhibitoryPlasticityState:
        return InhibitoryPlasticityState()

    def reference_update(self, W: np.ndarray, pre: np.ndarray, post: np.ndarray,
                         state: InhibitoryPlasticityState, dt: float) -> None:
        """The same step as :meth:`update`, in plain numpy."""
        check_step(self, W, pre, post, state, dt)
        inhibitory_rate_reference(W, pre, post, self.eta, self.target, self.w_min, self.w_max, dt)


def inhibitory_rate_reference(W, x, y, eta, target, w_min, w_max, dt):
    """Plain-numpy step; updates ``W`` in place."""
    W += dt * eta * np.outer(y - target, x)
    np.clip(W, w_min, w_max, out=W)


@njit(cache=True, nogil=True)
def inhibitory_rate_coefficients(y, S, P, dt, a, b, c):
    """Row coefficients ``a[i] += dt eta (y[i] - target)``; no state."""
    eta, target = P[0], P[1]
    for i in range(y.shape[0]):
        a[i] += dt * eta * (y[i] - target)


InhibitoryPlasticity._coefficients = staticmethod(inhibitory_rate_coefficients)
