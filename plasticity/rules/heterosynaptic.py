"""Heterosynaptic decay: a fast, rate-dependent pull of all of a neuron's weights to a reference.

    dW[i, j]/dt = -beta * |y[i]|**power * (W[i, j] - w_ref)        (y >= 0 in E/I networks)

The heterosynaptic term of Zenke, Agnes & Gerstner (2015) Nat Commun 6:6922 (their eq. 2,
with ``power = 4`` acting on the postsynaptic rate estimate; here on the rate ``y`` itself),
discussed as a fast compensatory process by Zenke & Gerstner (2017) Phil Trans R Soc B
372:20160259. It needs no target rate: because it grows with ``y**4`` while Hebbian growth
grows with ``y x``, it wins at high rates and stops runaway potentiation. For a neuron driven
at constant rates with Hebbian learning ``eta y x_j`` beside it, each weight settles at
``W_ij* = w_ref + eta x_j / (beta y**(power - 1))``; with ``eta = 0`` every weight relaxes
exponentially to ``w_ref`` at rate ``beta y**power``. The change of a row is
``b[i] = -dt beta |y|**power`` (multiplicative) plus the constant ``c[i] = dt beta |y|**power
w_ref``: row-affine, so it fuses with other rules in one pass over W.

Explicit Euler; ``dt`` shares the model's time unit, ``beta`` is per unit time per unit rate
to the ``power``. The rule has no state.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from plasticity._validation import Interval, any_real, positive
from plasticity.rules._base import RateRule, check_step

__all__ = ["HeterosynapticDecay", "HeterosynapticDecayState", "heterosynaptic_reference",
           "heterosynaptic_coefficients"]


@dataclass
class HeterosynapticDecayState:
    """Heterosynaptic decay keeps no state."""


@dataclass(frozen=True)
class HeterosynapticDecay(RateRule):
    """``dW_ij/dt = -beta |y_i|**power (W_ij - w_ref)`` (see the module docstring).

    Parameters
    ----------
    beta : float
        Strength, in (0, inf), per unit model time per unit rate to the ``power``.
    w_ref : float
        The weight every synapse of an active neuron is pulled to.
    power : float
        Exponent of the postsynaptic rate, in (0, inf); 4 in Zenke et al. (2015).
    """

    beta: float
    w_ref: float = 0.0
    power: float = 4.0

    constraints: ClassVar[dict[str, Interval]] = {"beta": positive, "w_ref": any_real, "power": positive}
    state_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def examples(cls) -> tuple["HeterosynapticDecay", ...]:
        """Configured instances that exercise every code path (read by the contract tests)."""
        return (HeterosynapticDecay(beta=0.05, w_ref=0.1), HeterosynapticDecay(beta=0.05, power=2.0))

    def _params(self) -> np.ndarray:
        return np.array([self.beta, self.w_ref, self.power], dtype=np.float64)

    def _initial_rows(self, n_post: int) -> np.ndarray:
        return np.zeros((0, n_post))

    def _make_state(self, S: np.ndarray) -> HeterosynapticDecayState:
        return HeterosynapticDecayState()

    def reference_update(self, W: np.ndarray, pre: np.ndarray, post: np.ndarray,
                         state: HeterosynapticDecayState, dt: float) -> None:
        """The same step as :meth:`update`, in plain numpy."""
        check_step(self, W, pre, post, state, dt)
        heterosynaptic_reference(W, post, self.beta, self.w_ref, self.power, dt)


def heterosynaptic_reference(W, y, beta, w_ref, power, dt):
    """Plain-numpy step; updates ``W`` in place."""
    W -= dt * beta * (np.abs(y) ** power)[:, None] * (W - w_ref)


@njit(cache=True, nogil=True)
def heterosynaptic_coefficients(y, S, P, dt, a, b, c):
    """``b[i] += -dt beta |y|**power``, ``c[i] += dt beta |y|**power w_ref``; no state."""
    beta, w_ref, power = P[0], P[1], P[2]
    for i in range(y.shape[0]):
        k = dt * beta * abs(y[i]) ** power
        b[i] -= k
        c[i] += k * w_ref


HeterosynapticDecay._coefficients = staticmethod(heterosynaptic_coefficients)
