"""Pair-based STDP with presynaptic and postsynaptic traces.

    x[j] (pre trace, tau_plus),  y[i] (post trace, tau_minus):  dx/dt = -x / tau_plus, ...
    pre spike of j:   W[i, j] <- clip(W[i, j] - a_minus * y[i] * F_minus(W[i, j]))
    post spike of i:  W[i, j] <- clip(W[i, j] + a_plus  * x[j] * F_plus(W[i, j]))
    additive:        F_plus = F_minus = 1 (hard bounds by the clip to [w_min, w_max])
    multiplicative:  F_plus(w) = (w_max - w) / (w_max - w_min),  F_minus(w) = (w - w_min) / (w_max - w_min)

Traces are dimensionless: on a spike they are incremented by 1 ("all-to-all": every pair of
spikes interacts) or reset to 1 ("nearest": each spike interacts only with the nearest
preceding spike of the other neuron, the symmetric nearest-spike scheme). The amplitudes
``a_plus``, ``a_minus`` are in weight units (the change of a weight at ``w_min`` for
potentiation, at ``w_max`` for depression, in the multiplicative case), so for one pair

    Delta t = t_post - t_pre > 0:  dW = +a_plus  * exp(-Delta t / tau_plus)
    Delta t < 0:                   dW = -a_minus * exp(+Delta t / tau_minus)

Within one step of length ``dt`` (s): decay x and y by ``exp(-dt/tau)``; for each pre spike
depress with y and then bump x; for each post spike potentiate with x (which includes this
step's pre spikes, so a same-step pair counts as Delta t = 0+, dW = +a_plus) and then bump y.
The clip is applied after each of the two changes. Traces decay analytically, so the result
does not depend on ``dt`` beyond the placement of spikes on the step grid.

References: Song, Miller & Abbott (2000) Nat Neurosci 3:919 (additive); van Rossum, Bi &
Turrigiano (2000) J Neurosci 20:8812 and Gütig et al. (2003) J Neurosci 23:3697 (weight
dependence, ``mu = 1``); Morrison, Diesmann & Gerstner (2008) Biol Cybern 98:459 (the trace
formulation, all-to-all and nearest-spike interactions). Brian2's ``STDP`` example has the same
shape. W is ``W[post, pre]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from plasticity._validation import Interval, nonnegative, positive
from plasticity.rules._spiking_base import SpikingRule, clip, decay, decay_reference

__all__ = ["PairSTDP", "PairSTDPState", "pair_stdp_reference", "pair_stdp_dense", "pair_stdp_sparse"]


@dataclass
class PairSTDPState:
    """Presynaptic trace ``x`` ``(n_pre,)`` and postsynaptic trace ``y`` ``(n_post,)``, dimensionless."""

    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class PairSTDP(SpikingRule):
    """Pair-based STDP (see the module docstring for the equations and the step order).

    Parameters
    ----------
    a_plus, a_minus : float
        Potentiation and depression amplitudes, in [0, inf), weight units.
    tau_plus, tau_minus : float
        Time constants of the pre and post traces, in (0, inf), seconds.
    w_min, w_max : float
        Weight bounds, ``0 <= w_min < w_max <= inf`` (``w_max`` finite for multiplicative bounds).
    bounds : {"additive", "multiplicative"}
        Hard bounds (clip) or soft, weight-dependent bounds.
    interaction : {"all-to-all", "nearest"}
        Traces incremented by 1 or reset to 1 on a spike.
    """

    a_plus: float
    a_minus: float
    tau_plus: float
    tau_minus: float
    w_min: float = 0.0
    w_max: float = 1.0
    bounds: str = "additive"
    interaction: str = "all-to-all"

    constraints: ClassVar[dict[str, Interval]] = {
        "a_plus": nonnegative,
        "a_minus": nonnegative,
        "tau_plus": positive,
        "tau_minus": positive,
        "w_min": nonnegative,
        "w_max": Interval(0.0, math.inf, closed="right"),
    }
    choices: ClassVar[dict[str, tuple[str, ...]]] = {
        "bounds": ("additive", "multiplicative"),
        "interaction": ("all-to-all", "nearest"),
    }
    kind: ClassVar[int] = 10
    pre_fields: ClassVar[tuple[str, ...]] = ("x",)
    post_fields: ClassVar[tuple[str, ...]] = ("y",)
    state_class: ClassVar[type] = PairSTDPState

    def _check_together(self) -> None:
        if not self.w_min < self.w_max:
            raise ValueError(f"PairSTDP: w_min must be < w_max; got w_min={self.w_min!r}, w_max={self.w_max!r}")
        if self.bounds == "multiplicative" and math.isinf(self.w_max):
            raise ValueError(f"PairSTDP.w_max must be finite with bounds='multiplicative'; got {self.w_max!r}")

    def _params(self) -> np.ndarray:
        return np.array(
            [self.a_plus, self.a_minus, self.tau_plus, self.tau_minus, self.w_min, self.w_max,
             float(self.bounds == "multiplicative"), float(self.interaction == "nearest")],
            dtype=np.float64,
        )

    def _reference(self, W, pre, post, state, dt):
        pair_stdp_reference(W, pre, post, state.x, state.y, self.a_plus, self.a_minus, self.tau_plus,
                            self.tau_minus, self.w_min, self.w_max, self.bounds, self.interaction, dt)


def pair_stdp_reference(W, pre, post, x, y, a_plus, a_minus, tau_plus, tau_minus, w_min, w_max,
                        bounds, interaction, dt):
    """Plain-numpy step; ``pre``/``post`` are 0/1 float arrays; updates ``W``, ``x``, ``y`` in place."""
    decay_reference(x, math.exp(-dt / tau_plus))
    decay_reference(y, math.exp(-dt / tau_minus))
    span = w_max - w_min
    fired = pre != 0.0
    cols = W[:, fired]
    dep = (a_minus * y)[:, None]
    if bounds == "multiplicative":
        dep = dep * ((cols - w_min) / span)
    W[:, fired] = np.clip(cols - dep, w_min, w_max)
    x[fired] = 1.0 if interaction == "nearest" else x[fired] + 1.0
    fired = post != 0.0
    rows = W[fired, :]
    pot = (a_plus * x)[None, :]
    if bounds == "multiplicative":
        pot = pot * ((w_max - rows) / span)
    W[fired, :] = np.clip(rows + pot, w_min, w_max)
    y[fired] = 1.0 if interaction == "nearest" else y[fired] + 1.0


@njit(cache=True, nogil=True, inline="always")
def _depress(w, amount, w_min, w_max, mult):
    if mult:
        return clip(w - amount * ((w - w_min) / (w_max - w_min)), w_min, w_max)
    return clip(w - amount, w_min, w_max)


@njit(cache=True, nogil=True, inline="always")
def _potentiate(w, amount, w_min, w_max, mult):
    if mult:
        return clip(w + amount * ((w_max - w) / (w_max - w_min)), w_min, w_max)
    return clip(w + amount, w_min, w_max)


@njit(cache=True, nogil=True, inline="always")
def _bump(trace, k, nearest):
    trace[k] = 1.0 if nearest else trace[k] + 1.0


@njit(cache=True, nogil=True)
def pair_stdp_dense(W, pre, post, S_pre, S_post, P, dt):
    """Dense step on ``W[post, pre]``; ``S_pre = [x]``, ``S_post = [y]``, ``P = rule._params()``."""
    a_plus, a_minus, w_min, w_max = P[0], P[1], P[4], P[5]
    mult, nearest = P[6] != 0.0, P[7] != 0.0
    x, y = S_pre[0], S_post[0]
    decay(x, math.exp(-dt / P[2]))
    decay(y, math.exp(-dt / P[3]))
    n_post, n_pre = W.shape
    for j in range(n_pre):
        if pre[j] != 0.0:
            for i in range(n_post):
                W[i, j] = _depress(W[i, j], a_minus * y[i], w_min, w_max, mult)
            _bump(x, j, nearest)
    for i in range(n_post):
        if post[i] != 0.0:
            for j in range(n_pre):
                W[i, j] = _potentiate(W[i, j], a_plus * x[j], w_min, w_max, mult)
            _bump(y, i, nearest)


@njit(cache=True, nogil=True)
def pair_stdp_sparse(pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, indptr, indices,
                     post_indptr, post_off, post_pre, w, S_pre, S_post, P, dt):
    """Event-driven step on a CSR-by-pre projection (interface in :mod:`plasticity.rules._spiking_base`)."""
    a_plus, a_minus, w_min, w_max = P[0], P[1], P[4], P[5]
    mult, nearest = P[6] != 0.0, P[7] != 0.0
    x, y = S_pre[0], S_post[0]
    decay(x, math.exp(-dt / P[2]))
    decay(y, math.exp(-dt / P[3]))
    for k in range(n_pre_spikes):
        j = pre_spikes[k]
        for s in range(indptr[j], indptr[j + 1]):
            w[s] = _depress(w[s], a_minus * y[np.uintp(indices[s])], w_min, w_max, mult)
        _bump(x, j, nearest)
    for k in range(n_post_spikes):
        i = post_spikes[k]
        for q in range(post_indptr[i], post_indptr[i + 1]):
            j = np.uintp(post_pre[q])  # unsigned: no wraparound test
            s = np.uintp(indptr[j] + post_off[q])
            w[s] = _potentiate(w[s], a_plus * x[j], w_min, w_max, mult)
        _bump(y, i, nearest)


PairSTDP._dense_kernel = staticmethod(pair_stdp_dense)
