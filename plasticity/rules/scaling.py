"""Multiplicative synaptic scaling towards a target rate.

    tau da[i]/dt    = y[i] - a[i]
    dW[i, j]/dt     = eta * (target - a[i]) * W[i, j]

Turrigiano et al. (1998) Nature 391:892 (the experiment); the rate model with a low-pass rate
estimate follows van Rossum, Bi & Turrigiano (2000) J Neurosci 20:8812. Explicit Euler; W is
updated with the old estimate ``a``, then ``a``. ``dt`` and ``tau`` share the model's time
unit; ``eta`` is per unit time per unit rate. W is ``W[post, pre]``. The estimate starts at
``target`` (no scaling until the rate departs from it).

Scaling multiplies a whole row by one factor, so relative weights within a row are preserved.
For a neuron whose rate increases with the scale of its input weights (for example
``y = phi(W x)`` with increasing ``phi`` and ``W x > 0``), the fixed point is ``y = a = target``.
The rate estimate must be fast compared with the scaling (``eta * tau * target`` small) or
the loop oscillates (Harnack et al. 2015, PLoS Comput Biol 11:e1004357).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from plasticity._validation import Interval, nonnegative, positive
from plasticity.rules._base import RateRule, check_step

__all__ = ["SynapticScaling", "SynapticScalingState", "scaling_reference", "scaling_coefficients"]


@dataclass
class SynapticScalingState:
    """Low-pass estimate ``rate`` of each postsynaptic neuron's rate, shape ``(n_post,)``."""

    rate: np.ndarray


@dataclass(frozen=True)
class SynapticScaling(RateRule):
    """Multiplicative synaptic scaling (see the module docstring for the equations).

    Parameters
    ----------
    eta : float
        Scaling rate, in (0, inf), per unit model time per unit rate.
    target : float
        Target rate, in [0, inf), in the units of ``post``.
    tau : float
        Time constant of the rate estimate, in (0, inf), model time units.
    """

    eta: float
    target: float
    tau: float

    constraints: ClassVar[dict[str, Interval]] = {
        "eta": positive,
        "target": nonnegative,
        "tau": positive,
    }
    state_fields: ClassVar[tuple[str, ...]] = ("rate",)

    @classmethod
    def examples(cls) -> tuple["SynapticScaling", ...]:
        """Configured instances that exercise every code path (read by the contract tests)."""
        return (SynapticScaling(eta=0.05, target=0.5, tau=3.0),)

    def _params(self) -> np.ndarray:
        return np.array([self.eta, self.target, self.tau], dtype=np.float64)

    def _initial_rows(self, n_post: int) -> np.ndarray:
        return np.full((1, n_post), self.target)

    def _make_state(self, S: np.ndarray) -> SynapticScalingState:
        return SynapticScalingState(rate=S[0].copy())

    def reference_update(
        self, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: SynapticScalingState, dt: float
    ) -> None:
        """The same step as :meth:`update`, in plain numpy."""
        check_step(self, W, pre, post, state, dt)
        scaling_reference(W, post, state.rate, self.eta, self.target, self.tau, dt)


def scaling_reference(W, y, rate, eta, target, tau, dt):
    """Plain-numpy scaling step; updates ``W`` and ``rate`` in place."""
    W += dt * eta * (target - rate)[:, None] * W
    rate += dt / tau * (y - rate)


@njit(cache=True, nogil=True)
def scaling_coefficients(y, S, P, dt, a, b, c):
    """Row coefficients ``a = 0``, ``b[i] = dt eta (target - rate[i])``; then advance ``rate`` (``S[0]``)."""
    eta, target, tau = P[0], P[1], P[2]
    rate = S[0]
    for i in range(y.shape[0]):
        b[i] += dt * eta * (target - rate[i])
        rate[i] += dt / tau * (y[i] - rate[i])


SynapticScaling._coefficients = staticmethod(scaling_coefficients)
