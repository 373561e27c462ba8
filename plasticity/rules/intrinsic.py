"""Intrinsic plasticity: a homeostatic threshold, and optionally a homeostatic gain.

The neuron's output is ``y = phi(gain * u - threshold)`` (``u`` its summed input); the rule
adapts ``threshold`` and ``gain`` and leaves ``W`` unchanged (networks apply the state).

    dthreshold[i]/dt = eta * (y[i] - target)
    dgain[i]/dt      = eta_gain * gain[i] * (target_var - (y[i] - target)**2)   (adapt_gain=True)

The threshold is integral feedback on the mean rate: at a stationary state the time average
of ``y`` equals ``target`` exactly, for any increasing ``phi`` (intrinsic excitability
homeostasis: Desai, Rutherford & Turrigiano 1999, Nat Neurosci 2:515). The gain is a second,
slower homeostat on the second moment: at a joint stationary state the mean of ``y`` is
``target`` and its variance about it is ``target_var``. That two homeostats with different
target functions of the rate control mean and variance together is the result of Cannon &
Miller (2017) J Math Neurosci 7:1; this gain equation is one instance of their framework
(its target function is quadratic). The factor ``gain`` keeps the gain positive. For a
linear ``phi`` and input of standard deviation ``sigma_u`` the fixed point is
``gain = sqrt(target_var) / sigma_u``, ``threshold = gain * mean(u) - target``.

Explicit Euler; both variables are advanced from the same ``y``. ``dt`` shares the model's
time unit; ``eta`` and ``eta_gain`` are per unit time. W is ``W[post, pre]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from plasticity._validation import Interval, any_real, check_number, positive
from plasticity.rules._base import RateRule, check_step

__all__ = ["IntrinsicPlasticity", "IntrinsicPlasticityState", "intrinsic_reference", "intrinsic_coefficients"]


@dataclass
class IntrinsicPlasticityState:
    """``threshold`` and ``gain`` of each postsynaptic neuron, each of shape ``(n_post,)``."""

    threshold: np.ndarray
    gain: np.ndarray


@dataclass(frozen=True)
class IntrinsicPlasticity(RateRule):
    """Homeostatic threshold (and gain) of each neuron (see the module docstring).

    Parameters
    ----------
    eta : float
        Threshold adaptation rate, in (0, inf), per unit model time.
    target : float
        Target mean rate, in the units of ``post``.
    adapt_gain : bool
        Also adapt the gain towards an output variance of ``target_var``.
    eta_gain : float or None
        Gain adaptation rate, in (0, inf); ``None`` means ``eta``. Make it smaller than
        ``eta`` so that the mean settles before the variance.
    target_var : float
        Target variance of ``y`` about ``target``, in (0, inf), units of ``post`` squared.
    threshold0, gain0 : float
        Initial threshold (any real) and gain (in (0, inf)) of every neuron.
    """

    eta: float
    target: float
    adapt_gain: bool = False
    eta_gain: float | None = None
    target_var: float = 0.01
    threshold0: float = 0.0
    gain0: float = 1.0

    constraints: ClassVar[dict[str, Interval]] = {
        "eta": positive,
        "target": any_real,
        "target_var": positive,
        "threshold0": any_real,
        "gain0": positive,
    }
    state_fields: ClassVar[tuple[str, ...]] = ("threshold", "gain")
    acts_on_neurons: ClassVar[bool] = True

    def _check_together(self) -> None:
        if not isinstance(self.adapt_gain, (bool, np.bool_)):
            raise TypeError(
                f"IntrinsicPlasticity.adapt_gain must be True or False; got {self.adapt_gain!r} "
                f"of type {type(self.adapt_gain).__name__}"
            )
        if self.eta_gain is not None:
            check_number("IntrinsicPlasticity", "eta_gain", self.eta_gain, positive)

    @property
    def _eta_gain(self) -> float:
        return self.eta if self.eta_gain is None else float(self.eta_gain)

    @classmethod
    def examples(cls) -> tuple["IntrinsicPlasticity", ...]:
        """Configured instances that exercise every code path (read by the contract tests)."""
        return (IntrinsicPlasticity(eta=0.05, target=0.2),
                IntrinsicPlasticity(eta=0.05, target=0.2, adapt_gain=True, eta_gain=0.02, target_var=0.05))

    def _params(self) -> np.ndarray:
        return np.array(
            [self.eta, self.target, float(self.adapt_gain), self._eta_gain, self.target_var], dtype=np.float64
        )

    def _initial_rows(self, n_post: int) -> np.ndarray:
        return np.array([np.full(n_post, self.threshold0), np.full(n_post, self.gain0)])

    def _make_state(self, S: np.ndarray) -> IntrinsicPlasticityState:
        return IntrinsicPlasticityState(threshold=S[0].copy(), gain=S[1].copy())

    def reference_update(
        self, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: IntrinsicPlasticityState, dt: float
    ) -> None:
        """The same step as :meth:`update`, in plain numpy (``W`` is not changed)."""
        check_step(self, W, pre, post, state, dt)
        intrinsic_reference(
            post, state.threshold, state.gain, self.eta, self.target, self.adapt_gain, self._eta_gain, self.target_var, dt
        )


def intrinsic_reference(y, threshold, gain, eta, target, adapt_gain, eta_gain, target_var, dt):
    """Plain-numpy step; updates ``threshold`` and ``gain`` in place."""
    if adapt_gain:
        gain += dt * eta_gain * gain * (target_var - (y - target) ** 2)
    threshold += dt * eta * (y - target)


@njit(cache=True, nogil=True)
def intrinsic_coefficients(y, S, P, dt, a, b, c):
    """``a = b = 0`` (W unchanged); advance threshold (``S[0]``) and, if asked, gain (``S[1]``)."""
    eta, target, adapt_gain, eta_gain, target_var = P[0], P[1], P[2], P[3], P[4]
    threshold, gain = S[0], S[1]
    for i in range(y.shape[0]):
        d = y[i] - target
        if adapt_gain != 0.0:
            gain[i] += dt * eta_gain * gain[i] * (target_var - d * d)
        threshold[i] += dt * eta * d


IntrinsicPlasticity._coefficients = staticmethod(intrinsic_coefficients)
