"""Oja's rule: Hebbian growth with a row-wise multiplicative normalisation.

    dW[i, j]/dt = eta * (y[i] * x[j] - y[i]**2 * W[i, j])

Oja (1982) J Math Biol 15:267. Explicit Euler. ``dt`` shares the model's time unit; ``eta``
is per unit time. W is ``W[post, pre]``; each row is one neuron's weight vector. The rule has
no state.

For a linear neuron ``y = w . x`` with zero-mean inputs of covariance ``C`` (top eigenvalue
simple), ``w`` converges to the unit-norm principal eigenvector of ``C`` (up to sign), at the
rate ``eta * (lambda_1 - lambda_2)``. With a constant step the stochastic rule fluctuates
around it by ``O(sqrt(eta * dt))``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from plasticity._validation import Interval, positive
from plasticity.rules._base import RateRule, check_step

__all__ = ["Oja", "OjaState", "oja_reference", "oja_coefficients"]


@dataclass
class OjaState:
    """Oja's rule keeps no state; this empty dataclass keeps the interface uniform."""


@dataclass(frozen=True)
class Oja(RateRule):
    """Oja's rule ``dW/dt = eta (y x^T - diag(y**2) W)`` (see the module docstring).

    Parameters
    ----------
    eta : float
        Learning rate, in (0, inf), per unit model time.
    """

    eta: float

    constraints: ClassVar[dict[str, Interval]] = {"eta": positive}
    state_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def examples(cls) -> tuple["Oja", ...]:
        """Configured instances that exercise every code path (read by the contract tests)."""
        return (Oja(eta=0.05),)

    def _params(self) -> np.ndarray:
        return np.array([self.eta], dtype=np.float64)

    def _initial_rows(self, n_post: int) -> np.ndarray:
        return np.zeros((0, n_post))

    def _make_state(self, S: np.ndarray) -> OjaState:
        return OjaState()

    def reference_update(self, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: OjaState, dt: float) -> None:
        """The same step as :meth:`update`, in plain numpy."""
        check_step(self, W, pre, post, state, dt)
        oja_reference(W, pre, post, self.eta, dt)


def oja_reference(W, x, y, eta, dt):
    """Plain-numpy Oja step; updates ``W`` in place."""
    W += dt * eta * (np.outer(y, x) - (y**2)[:, None] * W)


@njit(cache=True, nogil=True)
def oja_coefficients(y, S, P, dt, a, b, c):
    """Row coefficients ``a[i] = dt eta y[i]``, ``b[i] = -dt eta y[i]**2``; no state."""
    eta = P[0]
    for i in range(y.shape[0]):
        a[i] += dt * eta * y[i]
        b[i] += -dt * eta * y[i] * y[i]


Oja._coefficients = staticmethod(oja_coefficients)
