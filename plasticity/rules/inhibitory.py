"""Inhibitory STDP that balances excitation by holding the postsynaptic rate at a target.

    x_pre[j], x_post[i]: traces with time constant tau, incremented by 1 on each spike
    pre spike of j:   W[i, j] <- clip(W[i, j] + eta * (x_post[i] - alpha), 0, w_max)
    post spike of i:  W[i, j] <- clip(W[i, j] + eta * x_pre[j], 0, w_max)
    alpha = 2 * target_rate * tau

Vogels, Sprekeler, Zenke, Clopath & Gerstner (2011) Science 334:1569 (their Eqs. in the
supplement, with ``rho_0 = target_rate``); Brian2's ``Vogels et al 2011`` example and NEST's
``vogels_sprekeler_synapse`` have the same shape. Near-coincident spikes potentiate (a
symmetric window of width tau); every presynaptic spike depresses by ``eta * alpha``. For
independent Poisson firing at rates rho_pre and rho_post,

    <dW/dt> = eta * rho_pre * (2 * rho_post * tau - alpha) = 2 eta tau rho_pre (rho_post - target_rate),

so inhibition onto a neuron grows while it fires above ``target_rate`` and shrinks below it.
``W`` holds inhibitory weight magnitudes (non-negative); ``eta`` is in weight units.

Within one step of length ``dt`` (s): decay both traces by ``exp(-dt/tau)``; for each pre
spike change its outgoing weights with ``x_post`` (before this step's post spikes), clip,
bump ``x_pre``; for each post spike change its incoming weights with ``x_pre`` (including this
step's pre spikes), clip, bump ``x_post``. W is ``W[post, pre]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from plasticity._validation import Interval, nonnegative, positive
from plasticity.rules._spiking_base import SpikingRule, clip, decay, decay_reference

__all__ = ["InhibitorySTDP", "InhibitorySTDPState", "istdp_reference", "istdp_dense", "istdp_sparse"]


@dataclass
class InhibitorySTDPState:
    """Presynaptic trace ``x_pre`` ``(n_pre,)`` and postsynaptic trace ``x_post`` ``(n_post,)``."""

    x_pre: np.ndarray
    x_post: np.ndarray


@dataclass(frozen=True)
class InhibitorySTDP(SpikingRule):
    """Inhibitory STDP of Vogels et al. (2011) (see the module docstring).

    Parameters
    ----------
    eta : float
        Learning rate, in (0, inf), weight units.
    target_rate : float
        Target postsynaptic rate, in [0, inf), Hz.
    tau : float
        Time constant of both traces (width of the window), in (0, inf), seconds.
    w_max : float
        Upper weight bound, in (0, inf]; the lower bound is 0.
    """

    eta: float
    target_rate: float
    tau: float
    w_max: float = math.inf

    constraints: ClassVar[dict[str, Interval]] = {
        "eta": positive,
        "target_rate": nonnegative,
        "tau": positive,
        "w_max": Interval(0.0, math.inf, closed="right"),
    }
    kind: ClassVar[int] = 12
    pre_fields: ClassVar[tuple[str, ...]] = ("x_pre",)
    post_fields: ClassVar[tuple[str, ...]] = ("x_post",)
    state_class: ClassVar[type] = InhibitorySTDPState

    def weight_bounds(self) -> tuple[float, float]:
        """``(0, w_max)``: the weights' hard bounds."""
        return 0.0, float(self.w_max)

    @property
    def alpha(self) -> float:
        """Depression per presynaptic spike in units of ``eta``: ``2 * target_rate * tau``."""
        return 2.0 * self.target_rate * self.tau

    def _params(self) -> np.ndarray:
        return np.array([self.eta, self.alpha, self.tau, self.w_max], dtype=np.float64)

    def _reference(self, W, pre, post, state, dt):
        istdp_reference(W, pre, post, state.x_pre, state.x_post, self.eta, self.alpha, self.tau, self.w_max, dt)


def istdp_reference(W, pre, post, x_pre, x_post, eta, alpha, tau, w_max, dt):
    """Plain-numpy step; updates ``W``, ``x_pre``, ``x_post`` in place."""
    factor = math.exp(-dt / tau)
    decay_reference(x_pre, factor)
    decay_reference(x_post, factor)
    fired = pre != 0.0
    W[:, fired] = np.clip(W[:, fired] + (eta * (x_post - alpha))[:, None], 0.0, w_max)
    x_pre[fired] += 1.0
    fired = post != 0.0
    W[fired, :] = np.clip(W[fired, :] + (eta * x_pre)[None, :], 0.0, w_max)
    x_post[fired] += 1.0


@njit(cache=True, nogil=True)
def istdp_dense(W, pre, post, S_pre, S_post, P, dt):
    """Dense step on ``W[post, pre]``; ``S_pre = [x_pre]``, ``S_post = [x_post]``, ``P = [eta, alpha, tau, w_max]``."""
    eta, alpha, w_max = P[0], P[1], P[3]
    x_pre, x_post = S_pre[0], S_post[0]
    factor = math.exp(-dt / P[2])
    decay(x_pre, factor)
    decay(x_post, factor)
    n_post, n_pre = W.shape
    for j in range(n_pre):
        if pre[j] != 0.0:
            for i in range(n_post):
                W[i, j] = clip(W[i, j] + eta * (x_post[i] - alpha), 0.0, w_max)
            x_pre[j] += 1.0
    for i in range(n_post):
        if post[i] != 0.0:
            for j in range(n_pre):
                W[i, j] = clip(W[i, j] + eta * x_pre[j], 0.0, w_max)
            x_post[i] += 1.0


@njit(cache=True, nogil=True)
def istdp_sparse(pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, indptr, indices,
                 post_indptr, post_off, post_pre, w, S_pre, S_post, P, dt):
    """Event-driven step on a CSR-by-pre projection (interface in :mod:`plasticity.rules._spiking_base`)."""
    eta, alpha, w_max = P[0], P[1], P[3]
    x_pre, x_post = S_pre[0], S_post[0]
    factor = math.exp(-dt / P[2])
    decay(x_pre, factor)
    decay(x_post, factor)
    for k in range(n_pre_spikes):
        j = pre_spikes[k]
        for s in range(indptr[j], indptr[j + 1]):
            w[s] = clip(w[s] + eta * (x_post[np.uintp(indices[s])] - alpha), 0.0, w_max)
        x_pre[j] += 1.0
    for k in range(n_post_spikes):
        i = post_spikes[k]
        for q in range(post_indptr[i], post_indptr[i + 1]):
            j = np.uintp(post_pre[q])  # unsigned: no wraparound test
            s = np.uintp(indptr[j] + post_off[q])
            w[s] = clip(w[s] + eta * x_pre[j], 0.0, w_max)
        x_post[i] += 1.0


InhibitorySTDP._dense_kernel = staticmethod(istdp_dense)
