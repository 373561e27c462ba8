"""Multiplicative synaptic scaling of a spiking neuron's inputs towards a target rate.

    tau d rate[i]/dt = -rate[i] + sum_k delta(t - t_i^k)      (rate estimate, Hz)
    dW[i, j]/dt      = eta * (target_rate - rate[i]) * W[i, j]

Turrigiano et al. (1998) Nature 391:892 (the experiment); the spike-driven rate estimate and
multiplicative scaling follow van Rossum, Bi & Turrigiano (2000) J Neurosci 20:8812. All
incoming weights of a neuron scale by one factor, so their ratios are kept and they stay
non-negative. ``eta`` is in 1/(Hz s) (dimensionless). The estimate starts at ``target_rate``.

Lazy application. Scaling every weight every step would cost O(n_syn) per step, more than
all the spike-driven rules together. Instead each neuron accumulates the log of its pending
factor,

    pending[i] += dt * eta * (target_rate - rate[i])          (every step, O(n_post))

and its incoming weights are multiplied by ``exp(pending[i])`` (then ``pending[i] = 0``) in
the step where ``|pending[i]| >= max_pending``. Between applications the stored weights lag
the continuously scaled ones by a factor within ``exp(+-max_pending)`` (0.1% by default);
``max_pending = 0`` applies the factor every step. The per-step factor ``exp(dt * eta *
(target - rate))`` is the exact solution for a rate estimate held over the step. The dense
reference, the dense kernel and the sparse kernel apply the factor at the same steps, so they
agree to rounding.

Within one step of length ``dt`` (s): decay ``rate`` by ``exp(-dt/tau)``; accumulate
``pending`` with the decayed rate; apply due factors; then add ``1/tau`` to ``rate`` of each
neuron that spiked. Presynaptic spikes play no role. W is ``W[post, pre]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from plasticity._validation import Interval, nonnegative, positive
from plasticity.rules._spiking_base import SpikingRule, decay, decay_reference

__all__ = [
    "SpikingSynapticScaling",
    "SpikingSynapticScalingState",
    "spiking_scaling_reference",
    "spiking_scaling_dense",
    "spiking_scaling_sparse",
]


@dataclass
class SpikingSynapticScalingState:
    """Rate estimate ``rate`` (Hz) and pending log-factor ``pending`` of each postsynaptic neuron, ``(n_post,)``."""

    rate: np.ndarray
    pending: np.ndarray


@dataclass(frozen=True)
class SpikingSynapticScaling(SpikingRule):
    """Multiplicative synaptic scaling driven by spikes (see the module docstring).

    Parameters
    ----------
    eta : float
        Scaling rate, in (0, inf), per hertz per second.
    target_rate : float
        Target rate, in [0, inf), Hz.
    tau : float
        Time constant of the rate estimate, in (0, inf), seconds.
    max_pending : float
        Largest pending log-factor before a neuron's weights are rescaled, in [0, inf).
    """

    eta: float
    target_rate: float
    tau: float
    max_pending: float = 1e-3

    constraints: ClassVar[dict[str, Interval]] = {
        "eta": positive,
        "target_rate": nonnegative,
        "tau": positive,
        "max_pending": nonnegative,
    }
    kind: ClassVar[int] = 13
    pre_fields: ClassVar[tuple[str, ...]] = ()
    post_fields: ClassVar[tuple[str, ...]] = ("rate", "pending")
    state_class: ClassVar[type] = SpikingSynapticScalingState

    def _initial_traces(self, n_post, n_pre):
        S_post = np.zeros((2, n_post))
        S_post[0] = self.target_rate
        return np.zeros((0, n_pre)), S_post

    def _params(self) -> np.ndarray:
        return np.array([self.eta, self.target_rate, self.tau, self.max_pending], dtype=np.float64)

    def _reference(self, W, pre, post, state, dt):
        spiking_scaling_reference(W, post, state.rate, state.pending, self.eta, self.target_rate,
                                  self.tau, self.max_pending, dt)


def spiking_scaling_reference(W, post, rate, pending, eta, target_rate, tau, max_pending, dt):
    """Plain-numpy step; updates ``W``, ``rate``, ``pending`` in place."""
    decay_reference(rate, math.exp(-dt / tau))
    pending += dt * eta * (target_rate - rate)
    due = np.abs(pending) >= max_pending
    W[due, :] *= np.exp(pending[due])[:, None]
    pending[due] = 0.0
    rate[post != 0.0] += 1.0 / tau


@njit(cache=True, nogil=True)
def _advance(S_post, P, dt):
    """Decay the rate estimate and accumulate the pending log-factors (shared by both kernels)."""
    eta, target, tau = P[0], P[1], P[2]
    rate, pending = S_post[0], S_post[1]
    decay(rate, math.exp(-dt / tau))
    for i in range(rate.shape[0]):
        pending[i] += dt * eta * (target - rate[i])


@njit(cache=True, nogil=True)
def spiking_scaling_dense(W, pre, post, S_pre, S_post, P, dt):
    """Dense step on ``W[post, pre]``; ``S_post = [rate, pending]``, ``P = [eta, target, tau, max_pending]``."""
    _advance(S_post, P, dt)
    rate, pending = S_post[0], S_post[1]
    for i in range(W.shape[0]):
        if abs(pending[i]) >= P[3]:
            f = math.exp(pending[i])
            for j in range(W.shape[1]):
                W[i, j] *= f
            pending[i] = 0.0
        if post[i] != 0.0:
            rate[i] += 1.0 / P[2]


@njit(cache=True, nogil=True)
def spiking_scaling_sparse(pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, indptr, indices,
                           post_indptr, post_off, post_pre, w, S_pre, S_post, P, dt):
    """Event-driven step on a CSR-by-pre projection (interface in :mod:`plasticity.rules._spiking_base`)."""
    _advance(S_post, P, dt)
    rate, pending = S_post[0], S_post[1]
    for i in range(rate.shape[0]):
        if abs(pending[i]) >= P[3]:
            f = math.exp(pending[i])
            for q in range(post_indptr[i], post_indptr[i + 1]):
                w[np.uintp(indptr[np.uintp(post_pre[q])] + post_off[q])] *= f
            pending[i] = 0.0
    for k in range(n_post_spikes):
        rate[post_spikes[k]] += 1.0 / P[2]


SpikingSynapticScaling._dense_kernel = staticmethod(spiking_scaling_dense)
