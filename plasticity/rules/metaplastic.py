"""BCM with a slow metaplastic threshold offset carrying the history of activity.

    dW[i, j]/dt             = eta * y[i] * (y[i] - theta[i] - kappa * meta[i]) * x[j]
    tau_theta dtheta[i]/dt  = y[i]**power - theta[i]
    tau_meta  dmeta[i]/dt   = y[i]**power - meta[i]          (tau_meta > tau_theta)

The BCM rule of :mod:`plasticity.rules.bcm` plus a second, slower trace ``meta`` of the same
activity that raises the modification threshold. It models metaplasticity, "the plasticity
of synaptic plasticity" (Abraham & Bear 1996, Trends Neurosci 19:126): prior activity makes
later LTP harder for longer than the fast BCM threshold remembers (Abraham 2008, Nat Rev
Neurosci 9:387). ``kappa = 0`` recovers plain BCM.

Defining effect: prime with high activity, pause (``y = 0``) for longer than ``tau_theta``
but shorter than ``tau_meta``, then present a test stimulus. After the pause ``theta`` has
relaxed but ``meta`` has not, so the test gives less potentiation than without priming; plain
BCM with the same ``tau_theta`` shows (almost) no difference. During the pause both traces
decay exactly exponentially, so the reduction in potentiation is predicted analytically.

For a constant response both traces relax to ``y**power``, the effective threshold to
``(1 + kappa) * y**power``, and the non-zero fixed point of ``y (y - (1 + kappa) y**power)``
(``power=2``) is ``y = 1 / (1 + kappa)``.

Explicit Euler; W is updated with the old ``theta`` and ``meta``, then both traces. ``dt``,
``tau_theta`` and ``tau_meta`` share the model's time unit; ``eta`` is per unit time. W is
``W[post, pre]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from plasticity._validation import Interval, any_real, nonnegative, positive
from plasticity.rules._base import RateRule, check_step

__all__ = ["MetaplasticBCM", "MetaplasticBCMState", "metaplastic_bcm_reference", "metaplastic_bcm_coefficients"]


@dataclass
class MetaplasticBCMState:
    """Fast threshold ``theta`` and slow history ``meta`` of each neuron, each ``(n_post,)``."""

    theta: np.ndarray
    meta: np.ndarray


@dataclass(frozen=True)
class MetaplasticBCM(RateRule):
    """BCM with a slow metaplastic threshold offset (see the module docstring).

    Parameters
    ----------
    eta : float
        Learning rate, in (0, inf), per unit model time.
    tau_theta : float
        Time constant of the fast sliding threshold, in (0, inf), model time units.
    tau_meta : float
        Time constant of the slow activity history, in (0, inf) and larger than ``tau_theta``.
    theta0 : float
        Initial fast threshold of every neuron.
    power : float
        Exponent of the activity both traces follow, in (0, inf).
    kappa : float
        Weight of the slow history in the threshold, in [0, inf); 0 is plain BCM.
    meta0 : float
        Initial slow history of every neuron.
    """

    eta: float
    tau_theta: float
    tau_meta: float
    theta0: float = 0.0
    power: float = 2.0
    kappa: float = 1.0
    meta0: float = 0.0

    constraints: ClassVar[dict[str, Interval]] = {
        "eta": positive,
        "tau_theta": positive,
        "tau_meta": positive,
        "theta0": any_real,
        "power": positive,
        "kappa": nonnegative,
        "meta0": any_real,
    }
    state_fields: ClassVar[tuple[str, ...]] = ("theta", "meta")

    def _check_together(self) -> None:
        if not self.tau_meta > self.tau_theta:
            raise ValueError(
                f"MetaplasticBCM.tau_meta must be larger than tau_theta = {self.tau_theta!r}; got {self.tau_meta!r}"
            )

    @classmethod
    def examples(cls) -> tuple["MetaplasticBCM", ...]:
        """Configured instances that exercise every code path (read by the contract tests)."""
        return (MetaplasticBCM(eta=0.05, tau_theta=2.0, tau_meta=20.0, kappa=0.5, meta0=0.1),)

    def _params(self) -> np.ndarray:
        return np.array([self.eta, self.tau_theta, self.tau_meta, self.power, self.kappa], dtype=np.float64)

    def _initial_rows(self, n_post: int) -> np.ndarray:
        return np.array([np.full(n_post, self.theta0), np.full(n_post, self.meta0)])

    def _make_state(self, S: np.ndarray) -> MetaplasticBCMState:
        return MetaplasticBCMState(theta=S[0].copy(), meta=S[1].copy())

    def reference_update(
        self, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: MetaplasticBCMState, dt: float
    ) -> None:
        """The same step as :meth:`update`, in plain numpy."""
        check_step(self, W, pre, post, state, dt)
        metaplastic_bcm_reference(
            W, pre, post, state.theta, state.meta, self.eta, self.tau_theta, self.tau_meta, self.power, self.kappa, dt
        )


def metaplastic_bcm_reference(W, x, y, theta, meta, eta, tau_theta, tau_meta, power, kappa, dt):
    """Plain-numpy step; updates ``W``, ``theta`` and ``meta`` in place."""
    W += dt * eta * np.outer(y * (y - theta - kappa * meta), x)
    theta += dt / tau_theta * (y**power - theta)
    meta += dt / tau_meta * (y**power - meta)


@njit(cache=True, nogil=True)
def metaplastic_bcm_coefficients(y, S, P, dt, a, b, c):
    """``a[i] = dt eta y (y - theta - kappa meta)``, ``b = 0``; then advance theta (``S[0]``), meta (``S[1]``)."""
    eta, tau_theta, tau_meta, power, kappa = P[0], P[1], P[2], P[3], P[4]
    theta, meta = S[0], S[1]
    for i in range(y.shape[0]):
        a[i] += dt * eta * y[i] * (y[i] - theta[i] - kappa * meta[i])
        drive = y[i] ** power
        theta[i] += dt / tau_theta * (drive - theta[i])
        meta[i] += dt / tau_meta * (drive - meta[i])


MetaplasticBCM._coefficients = staticmethod(metaplastic_bcm_coefficients)
