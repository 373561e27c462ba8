"""Plain Hebbian rule with optional weight decay and hard bounds.

    dW[i, j]/dt = eta * y[i] * x[j] - decay * W[i, j],   then W clipped to [w_min, w_max]

Hebb (1949) The Organization of Behavior; the rate form and its instability are in Dayan &
Abbott (2001) Theoretical Neuroscience, section 8.2. Explicit Euler; the clip is applied after
each step (hard bounds). ``dt`` shares the model's time unit; ``eta`` and ``decay`` are per
unit time. W is ``W[post, pre]``. The rule has no state.

For a linear neuron ``y = w . x`` driven by zero-mean inputs of covariance ``C`` (and
``decay = 0``, no bounds), the averaged dynamics is ``dw/dt = eta C w``: ``|w|`` grows like
``exp(eta * lambda_max * t)`` along the top eigenvector of ``C`` (Dayan & Abbott 2001, eq. 8.7).
That runaway is the reason for Oja, BCM and the homeostatic rules.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from plasticity._validation import Interval, extended_real, nonnegative, positive
from plasticity.rules._base import RateRule, check_step

__all__ = ["Hebbian", "HebbianState", "hebbian_reference", "hebbian_coefficients"]



@dataclass
class HebbianState:
    """The Hebbian rule keeps no state; this empty dataclass keeps the interface uniform."""


@dataclass(frozen=True)
class Hebbian(RateRule):
    """Hebbian rule ``dW/dt = eta y x^T - decay W``, clipped to ``[w_min, w_max]``.

    Parameters
    ----------
    eta : float
        Learning rate, in (0, inf), per unit model time.
    decay : float
        Passive weight decay rate, in [0, inf), per unit model time.
    w_min, w_max : float
        Hard bounds applied after every step; ``w_min < w_max`` (infinite means unbounded).
    """

    eta: float
    decay: float = 0.0
    w_min: float = -math.inf
    w_max: float = math.inf

    constraints: ClassVar[dict[str, Interval]] = {
        "eta": positive,
        "decay": nonnegative,
        "w_min": extended_real,
        "w_max": extended_real,
    }
    state_fields: ClassVar[tuple[str, ...]] = ()
    bounds: ClassVar[tuple[str, str] | None] = ("w_min", "w_max")

    @classmethod
    def examples(cls) -> tuple["Hebbian", ...]:
        """Configured instances that exercise every code path (read by the contract tests)."""
        return (Hebbian(eta=0.05, decay=0.01), Hebbian(eta=0.05, decay=0.01, w_min=-0.3, w_max=0.4))

    def _params(self) -> np.ndarray:
        return np.array([self.eta, self.decay], dtype=np.float64)

    def _initial_rows(self, n_post: int) -> np.ndarray:
        return np.zeros((0, n_post))

    def _make_state(self, S: np.ndarray) -> HebbianState:
        return HebbianState()

    def reference_update(self, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: HebbianState, dt: float) -> None:
        """The same step as :meth:`update`, in plain numpy."""
        check_step(self, W, pre, post, state, dt)
        hebbian_reference(W, pre, post, self.eta, self.decay, self.w_min, self.w_max, dt)


def hebbian_reference(W, x, y, eta, decay, w_min, w_max, dt):
    """Plain-numpy Hebbian step; updates ``W`` in place."""
    W += dt * (eta * np.outer(y, x) - decay * W)
    np.clip(W, w_min, w_max, out=W)


@njit(cache=True, nogil=True)
def hebbian_coefficients(y, S, P, dt, a, b, c):
    """Row coefficients ``a[i] = dt eta y[i]``, ``b[i] = -dt decay``; no state to advance."""
    eta, decay = P[0], P[1]
    for i in range(y.shape[0]):
        a[i] += dt * eta * y[i]
        b[i] += -dt * decay


Hebbian._coefficients = staticmethod(hebbian_coefficients)
