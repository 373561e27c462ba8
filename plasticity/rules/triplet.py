"""Triplet STDP (Pfister & Gerstner 2006), optionally with a sliding LTD amplitude (spiking BCM).

    pre traces  r1 (tau_plus), r2 (tau_x);  post traces o1 (tau_minus), o2 (tau_y)
    pre spike of j:   W[i, j] <- clip(W[i, j] - o1[i] * (A2m[i] + a3_minus * r2[j]))
    post spike of i:  W[i, j] <- clip(W[i, j] + r1[j] * (a2_plus + a3_plus * o2[i]))
    A2m[i] = a2_minus                                        (target_rate=None)
    A2m[i] = a2_minus * (rate[i] / target_rate)**2           (target_rate set)
    tau_rate d rate[i]/dt = -rate[i] + sum_k delta(t - t_i^k)   (a low-pass rate estimate, Hz)

The trace formulation of Pfister & Gerstner (2006) J Neurosci 26:9673. The triplet terms use r2 and o2
*before* their own increment at the same spike (the paper's ``t - epsilon``). Traces are
dimensionless: incremented by 1 ("all-to-all") or reset to 1 ("nearest", the paper's
nearest-spike model, Morrison et al. 2008 Biol Cybern 98:459). The weight change is additive
with hard bounds ``[w_min, w_max]``.

Under independent Poisson firing at rates rho_x (pre) and rho_y (post), all-to-all,

    <dW/dt> = rho_x rho_y [a2_plus tau_plus - A2m tau_minus + a3_plus tau_plus tau_y rho_y
                           - a3_minus tau_minus tau_x rho_x]

(the paper's drift under Poisson firing), a BCM-like curve in rho_y whose sign changes at a threshold. With
``target_rate`` set, A2m scales with the square of the rate estimate against the target: the
exponent p = 2 of Pfister & Gerstner's mapping to BCM (their "Relation to BCM" section: A2-
proportional to <rho_y^p> / rho_0^p), the homeostatic triplet rule of Zenke, Hennequin &
Gerstner (2013) PLoS Comput Biol 9:e1003330. The threshold then slides as rate**2: for
a2_plus = a3_minus = 0 (the minimal visual-cortex sets) it is theta = a2_minus tau_minus
(rate / target)**2 / (a3_plus tau_plus tau_y); with rate = rho_y the fixed point is
rho_y* = target**2 / theta0 (theta0 the threshold at rate = target), which is ``target_rate``
itself only for amplitudes that make theta0 = target_rate. For the minimal all-to-all
visual-cortex set (tau_y = 114 ms) theta0 = 7.1e-3 * 33.7 ms / (6.5e-3 * 16.8 ms * 114 ms)
= 19.22 Hz. The estimate starts at ``target_rate``; without a target it is not kept (stays 0).

Published parameter sets: :meth:`TripletSTDP.pfister_gerstner` (all eight rows of Pfister &
Gerstner 2006, Tables 3 and 4) and its shortcuts ``minimal_visual_cortex``,
``full_visual_cortex``, ``minimal_hippocampal``, ``full_hippocampal``.

Within one step of length ``dt`` (s): decay all traces by ``exp(-dt/tau)``; for each pre
spike depress (with o1, A2m from the current ``rate``, and r2 before its increment), then bump
r1, r2; for each post spike potentiate (with r1, which includes this step's pre spikes, and
o2 before its increment), then bump o1, o2 and add ``1/tau_rate`` to ``rate``. The clip is
applied after each change. W is ``W[post, pre]``; times in seconds, rates in hertz.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from plasticity._validation import (
    Interval,
    check_choice,
    check_number,
    nonnegative,
    positive,
)
from plasticity.rules._spiking_base import SpikingRule, clip, decay, decay_reference
from plasticity.rules.stdp import _bump

__all__ = ["TripletSTDP", "TripletSTDPState", "triplet_reference", "triplet_dense", "triplet_sparse"]


@dataclass
class TripletSTDPState:
    """Pre traces ``r1``, ``r2`` ``(n_pre,)``; post traces ``o1``, ``o2`` and rate estimate ``rate`` (Hz) ``(n_post,)``."""

    r1: np.ndarray
    r2: np.ndarray
    o1: np.ndarray
    o2: np.ndarray
    rate: np.ndarray


# Pfister & Gerstner (2006) J Neurosci 26:9673: Table 3 fits the visual-cortex data (Sjostrom et
# al. 2001: pairing-frequency dependence), Table 4 the hippocampal culture data (Wang et al. 2005:
# triplets and quadruplets). Each table has four rows: all-to-all / nearest-spike interaction
# times full / minimal model. tau_plus = 16.8 ms and tau_minus = 33.7 ms in every row.
# The minimal models have a3_minus = 0, so tau_x multiplies nothing and the paper prints no value
# for it (None here). The visual-cortex minimal rows also have a2_plus = 0.
# Source note: the paper itself is not in the reference corpus these values were checked with;
# they were read from code that writes the tables out: Auryn (Zenke), src/auryn/TripletConnection.cpp
# (a3_plus = 6.5e-3, tau_y = 114 ms: visual cortex, all-to-all, minimal) and
# MinimalTripletConnection.cpp (5.3e-3, 8e-3, 3.5e-3, tau_y = 40 ms: hippocampal, all-to-all,
# minimal), and two independent reproductions that list all eight rows, which agree with each
# other and with Auryn on every entry.
_PG2006_TAU_PLUS, _PG2006_TAU_MINUS = 16.8e-3, 33.7e-3
_PFISTER_GERSTNER_2006: dict[tuple[str, str, str], dict[str, float | None]] = {
    # Table 3, visual cortex
    ("visual_cortex", "full", "all-to-all"): dict(a2_plus=5e-10, a3_plus=6.2e-3, a2_minus=7e-3, a3_minus=2.3e-4, tau_x=0.101, tau_y=0.125),
    ("visual_cortex", "minimal", "all-to-all"): dict(a2_plus=0.0, a3_plus=6.5e-3, a2_minus=7.1e-3, a3_minus=0.0, tau_x=None, tau_y=0.114),
    ("visual_cortex", "full", "nearest"): dict(a2_plus=8.8e-11, a3_plus=5.3e-2, a2_minus=6.6e-3, a3_minus=3.1e-3, tau_x=0.714, tau_y=0.040),
    ("visual_cortex", "minimal", "nearest"): dict(a2_plus=0.0, a3_plus=5e-2, a2_minus=8e-3, a3_minus=0.0, tau_x=None, tau_y=0.040),
    # Table 4, hippocampal cultures
    ("hippocampal", "full", "all-to-all"): dict(a2_plus=6.1e-3, a3_plus=6.7e-3, a2_minus=1.6e-3, a3_minus=1.4e-3, tau_x=0.946, tau_y=0.027),
    ("hippocampal", "minimal", "all-to-all"): dict(a2_plus=5.3e-3, a3_plus=8e-3, a2_minus=3.5e-3, a3_minus=0.0, tau_x=None, tau_y=0.040),
    ("hippocampal", "full", "nearest"): dict(a2_plus=4.6e-3, a3_plus=9.1e-3, a2_minus=3e-3, a3_minus=7.5e-9, tau_x=0.575, tau_y=0.047),
    ("hippocampal", "minimal", "nearest"): dict(a2_plus=4.6e-3, a3_plus=9.1e-3, a2_minus=3e-3, a3_minus=0.0, tau_x=None, tau_y=0.048),
}
_PG2006_DATA = ("visual_cortex", "hippocampal")
_PG2006_MODELS = ("minimal", "full")


@dataclass(frozen=True)
class TripletSTDP(SpikingRule):
    """Triplet STDP (see the module docstring for the equations and the step order).

    Parameters
    ----------
    a2_plus, a3_plus, a2_minus, a3_minus : float
        Pair and triplet amplitudes, in [0, inf), weight units.
    tau_plus, tau_minus, tau_x, tau_y : float
        Time constants of r1, o1, r2, o2, in (0, inf), seconds.
    w_min, w_max : float
        Hard bounds, ``0 <= w_min < w_max <= inf``.
    interaction : {"all-to-all", "nearest"}
        Traces incremented by 1 or reset to 1 on a spike.
    target_rate : float or None
        Target postsynaptic rate (Hz) of the sliding LTD amplitude, in (0, inf); None: constant.
    tau_rate : float
        Time constant of the postsynaptic rate estimate, in (0, inf), seconds.
    """

    a2_plus: float
    a3_plus: float
    a2_minus: float
    a3_minus: float
    tau_plus: float
    tau_minus: float
    tau_x: float
    tau_y: float
    w_min: float = 0.0
    w_max: float = 1.0
    interaction: str = "all-to-all"
    target_rate: float | None = None
    tau_rate: float = 1.0

    constraints: ClassVar[dict[str, Interval]] = {
        "a2_plus": nonnegative,
        "a3_plus": nonnegative,
        "a2_minus": nonnegative,
        "a3_minus": nonnegative,
        "tau_plus": positive,
        "tau_minus": positive,
        "tau_x": positive,
        "tau_y": positive,
        "w_min": nonnegative,
        "w_max": Interval(0.0, math.inf, closed="right"),
        "tau_rate": positive,
    }
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"interaction": ("all-to-all", "nearest")}
    kind: ClassVar[int] = 11
    pre_fields: ClassVar[tuple[str, ...]] = ("r1", "r2")
    post_fields: ClassVar[tuple[str, ...]] = ("o1", "o2", "rate")
    state_class: ClassVar[type] = TripletSTDPState

    def _check_together(self) -> None:
        if not self.w_min < self.w_max:
            raise ValueError(f"TripletSTDP: w_min must be < w_max; got w_min={self.w_min!r}, w_max={self.w_max!r}")
        if self.target_rate is not None:
            check_number("TripletSTDP", "target_rate", self.target_rate, positive)

    @classmethod
    def pfister_gerstner(cls, data: str = "visual_cortex", model: str = "minimal",
                         interaction: str = "all-to-all", **overrides) -> "TripletSTDP":
        """One of the eight published parameter sets of Pfister & Gerstner (2006).

        Table 3 (``data="visual_cortex"``, Sjostrom et al. 2001) and Table 4
        (``data="hippocampal"``, Wang et al. 2005), each with ``model`` "full" or "minimal" and
        ``interaction`` "all-to-all" or "nearest" (the paper's nearest-spike model). Amplitudes as
        printed (weight units per spike pair/triplet); time constants in seconds; tau_plus =
        16.8 ms and tau_minus = 33.7 ms in every set.

        ========================  =======  =======  =======  =======  ======  ======
        set                       A2+      A3+      A2-      A3-      tau_x   tau_y
        ========================  =======  =======  =======  =======  ======  ======
        visual, all-to-all, full  5e-10    6.2e-3   7e-3     2.3e-4   101 ms  125 ms
        visual, all-to-all, min   0        6.5e-3   7.1e-3   0        --      114 ms
        visual, nearest, full     8.8e-11  5.3e-2   6.6e-3   3.1e-3   714 ms  40 ms
        visual, nearest, min      0        5e-2     8e-3     0        --      40 ms
        hippo, all-to-all, full   6.1e-3   6.7e-3   1.6e-3   1.4e-3   946 ms  27 ms
        hippo, all-to-all, min    5.3e-3   8e-3     3.5e-3   0        --      40 ms
        hippo, nearest, full      4.6e-3   9.1e-3   3e-3     7.5e-9   575 ms  47 ms
        hippo, nearest, min       4.6e-3   9.1e-3   3e-3     0        --      48 ms
        ========================  =======  =======  =======  =======  ======  ======

        The minimal models set A3- = 0 (the visual-cortex ones also A2+ = 0), so tau_x multiplies
        nothing and the paper prints no value ("--"). The rule still needs a positive tau_x: the
        minimal sets take the tau_x of the full set of the same data and interaction (101, 714,
        946, 575 ms), which changes no weight while a3_minus = 0 and is a sensible value if an
        override switches a3_minus on. ``overrides`` replace any parameter (e.g. ``w_max``,
        ``target_rate``, scaled amplitudes).

        Parameters
        ----------
        data : {"visual_cortex", "hippocampal"}
        model : {"minimal", "full"}
        interaction : {"all-to-all", "nearest"}
        **overrides
            Any :class:`TripletSTDP` field.

        Raises
        ------
        ValueError
            For an unknown ``data``, ``model`` or ``interaction``.

        References
        ----------
        Pfister J-P, Gerstner W (2006) Triplets of spikes in a model of spike timing-dependent
        plasticity. J Neurosci 26(38):9673-9682, Tables 3 and 4. The values were checked against
        Auryn's TripletConnection / MinimalTripletConnection and two reproductions that write the
        tables out (see the comment above ``_PFISTER_GERSTNER_2006``), not the paper's own text.
        """
        check_choice("TripletSTDP.pfister_gerstner", "data", data, _PG2006_DATA)
        check_choice("TripletSTDP.pfister_gerstner", "model", model, _PG2006_MODELS)
        check_choice("TripletSTDP", "interaction", interaction, ("all-to-all", "nearest"))
        params = dict(_PFISTER_GERSTNER_2006[(data, model, interaction)])
        if params["tau_x"] is None:  # not printed for the minimal model: inert placeholder
            params["tau_x"] = _PFISTER_GERSTNER_2006[(data, "full", interaction)]["tau_x"]
        params.update(tau_plus=_PG2006_TAU_PLUS, tau_minus=_PG2006_TAU_MINUS, interaction=interaction)
        params.update(overrides)
        return cls(**params)

    @classmethod
    def minimal_visual_cortex(cls, interaction: str = "all-to-all", **overrides) -> "TripletSTDP":
        """The minimal model fitted to visual cortex data (Pfister & Gerstner 2006, Table 3).

        All-to-all: a2_plus = 0, a3_plus = 6.5e-3, a2_minus = 7.1e-3, a3_minus = 0,
        tau_y = 114 ms (nearest-spike: a3_plus = 5e-2, a2_minus = 8e-3, tau_y = 40 ms);
        tau_plus = 16.8 ms, tau_minus = 33.7 ms; tau_x not printed (inert, see
        :meth:`pfister_gerstner`). ``overrides`` replace any parameter.
        """
        return cls.pfister_gerstner("visual_cortex", "minimal", interaction, **overrides)

    @classmethod
    def full_visual_cortex(cls, interaction: str = "all-to-all", **overrides) -> "TripletSTDP":
        """The full model fitted to visual cortex data (Pfister & Gerstner 2006, Table 3).

        All-to-all: a2_plus = 5e-10, a3_plus = 6.2e-3, a2_minus = 7e-3, a3_minus = 2.3e-4,
        tau_x = 101 ms, tau_y = 125 ms; nearest-spike: a2_plus = 8.8e-11, a3_plus = 5.3e-2,
        a2_minus = 6.6e-3, a3_minus = 3.1e-3, tau_x = 714 ms, tau_y = 40 ms.
        """
        return cls.pfister_gerstner("visual_cortex", "full", interaction, **overrides)

    @classmethod
    def minimal_hippocampal(cls, interaction: str = "all-to-all", **overrides) -> "TripletSTDP":
        """The minimal model fitted to hippocampal culture data (Pfister & Gerstner 2006, Table 4).

        All-to-all: a2_plus = 5.3e-3, a3_plus = 8e-3, a2_minus = 3.5e-3, a3_minus = 0,
        tau_y = 40 ms; nearest-spike: a2_plus = 4.6e-3, a3_plus = 9.1e-3, a2_minus = 3e-3,
        a3_minus = 0, tau_y = 48 ms; tau_x not printed (inert, see :meth:`pfister_gerstner`).
        """
        return cls.pfister_gerstner("hippocampal", "minimal", interaction, **overrides)

    @classmethod
    def full_hippocampal(cls, interaction: str = "all-to-all", **overrides) -> "TripletSTDP":
        """The full model fitted to hippocampal culture data (Pfister & Gerstner 2006, Table 4).

        All-to-all: a2_plus = 6.1e-3, a3_plus = 6.7e-3, a2_minus = 1.6e-3, a3_minus = 1.4e-3,
        tau_x = 946 ms, tau_y = 27 ms; nearest-spike: a2_plus = 4.6e-3, a3_plus = 9.1e-3,
        a2_minus = 3e-3, a3_minus = 7.5e-9, tau_x = 575 ms, tau_y = 47 ms.
        """
        return cls.pfister_gerstner("hippocampal", "full", interaction, **overrides)

    def _initial_traces(self, n_post, n_pre):
        S_post = np.zeros((3, n_post))
        S_post[2] = 0.0 if self.target_rate is None else self.target_rate
        return np.zeros((2, n_pre)), S_post

    def _params(self) -> np.ndarray:
        return np.array(
            [self.a2_plus, self.a3_plus, self.a2_minus, self.a3_minus, self.tau_plus, self.tau_minus,
             self.tau_x, self.tau_y, self.w_min, self.w_max, float(self.interaction == "nearest"),
             0.0 if self.target_rate is None else self.target_rate, self.tau_rate],
            dtype=np.float64,
        )

    def _reference(self, W, pre, post, state, dt):
        triplet_reference(W, pre, post, state, self._params(), dt)


def triplet_reference(W, pre, post, state, P, dt):
    """Plain-numpy step; ``P = rule._params()``; updates ``W`` and ``state`` in place."""
    a2p, a3p, a2m, a3m, tau_plus, tau_minus, tau_x, tau_y, w_min, w_max, nearest, target, tau_rate = P
    s = state
    decay_reference(s.r1, math.exp(-dt / tau_plus))
    decay_reference(s.r2, math.exp(-dt / tau_x))
    decay_reference(s.o1, math.exp(-dt / tau_minus))
    decay_reference(s.o2, math.exp(-dt / tau_y))
    if target > 0.0:
        decay_reference(s.rate, math.exp(-dt / tau_rate))
    if target > 0.0:
        ratio = s.rate / target
        ltd = a2m * (ratio * ratio)
    else:
        ltd = np.full_like(s.o1, a2m)
    fired = pre != 0.0
    W[:, fired] = np.clip(W[:, fired] - s.o1[:, None] * (ltd[:, None] + a3m * s.r2[None, fired]), w_min, w_max)
    for trace in (s.r1, s.r2):
        trace[fired] = 1.0 if nearest else trace[fired] + 1.0
    fired = post != 0.0
    W[fired, :] = np.clip(W[fired, :] + s.r1[None, :] * (a2p + a3p * s.o2[fired, None]), w_min, w_max)
    for trace in (s.o1, s.o2):
        trace[fired] = 1.0 if nearest else trace[fired] + 1.0
    if target > 0.0:
        s.rate[fired] += 1.0 / tau_rate


@njit(cache=True, nogil=True)
def _decay(S_pre, S_post, P, dt):
    decay(S_pre[0], math.exp(-dt / P[4]))
    decay(S_pre[1], math.exp(-dt / P[6]))
    decay(S_post[0], math.exp(-dt / P[5]))
    decay(S_post[1], math.exp(-dt / P[7]))
    if P[11] > 0.0:  # the rate estimate is kept only when it is used
        decay(S_post[2], math.exp(-dt / P[12]))


@njit(cache=True, nogil=True, inline="always")
def _ltd(a2m, target, rate_i):
    if target > 0.0:
        ratio = rate_i / target
        return a2m * (ratio * ratio)
    return a2m


@njit(cache=True, nogil=True)
def triplet_dense(W, pre, post, S_pre, S_post, P, dt):
    """Dense step on ``W[post, pre]``; ``S_pre = [r1, r2]``, ``S_post = [o1, o2, rate]``."""
    a2p, a3p, a2m, a3m = P[0], P[1], P[2], P[3]
    w_min, w_max, nearest, target = P[8], P[9], P[10] != 0.0, P[11]
    _decay(S_pre, S_post, P, dt)
    r1, r2, o1, o2, rate = S_pre[0], S_pre[1], S_post[0], S_post[1], S_post[2]
    n_post, n_pre = W.shape
    for j in range(n_pre):
        if pre[j] != 0.0:
            for i in range(n_post):
                W[i, j] = clip(W[i, j] - o1[i] * (_ltd(a2m, target, rate[i]) + a3m * r2[j]), w_min, w_max)
            _bump(r1, j, nearest)
            _bump(r2, j, nearest)
    for i in range(n_post):
        if post[i] != 0.0:
            for j in range(n_pre):
                W[i, j] = clip(W[i, j] + r1[j] * (a2p + a3p * o2[i]), w_min, w_max)
            _bump(o1, i, nearest)
            _bump(o2, i, nearest)
            if target > 0.0:
                rate[i] += 1.0 / P[12]


@njit(cache=True, nogil=True)
def triplet_sparse(pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, indptr, indices,
                   post_indptr, post_off, post_pre, w, S_pre, S_post, P, dt):
    """Event-driven step on a CSR-by-pre projection (interface in :mod:`plasticity.rules._spiking_base`)."""
    a2p, a3p, a2m, a3m = P[0], P[1], P[2], P[3]
    w_min, w_max, nearest, target = P[8], P[9], P[10] != 0.0, P[11]
    _decay(S_pre, S_post, P, dt)
    r1, r2, o1, o2, rate = S_pre[0], S_pre[1], S_post[0], S_post[1], S_post[2]
    for k in range(n_pre_spikes):
        j = pre_spikes[k]
        r2j = r2[j]
        for s in range(indptr[j], indptr[j + 1]):
            i = np.uintp(indices[s])
            w[s] = clip(w[s] - o1[i] * (_ltd(a2m, target, rate[i]) + a3m * r2j), w_min, w_max)
        _bump(r1, j, nearest)
        _bump(r2, j, nearest)
    for k in range(n_post_spikes):
        i = post_spikes[k]
        gain = a2p + a3p * o2[i]
        for q in range(post_indptr[i], post_indptr[i + 1]):
            j = np.uintp(post_pre[q])  # unsigned: no wraparound test
            s = np.uintp(indptr[j] + post_off[q])
            w[s] = clip(w[s] + r1[j] * gain, w_min, w_max)
        _bump(o1, i, nearest)
        _bump(o2, i, nearest)
        if target > 0.0:
            rate[i] += 1.0 / P[12]


TripletSTDP._dense_kernel = staticmethod(triplet_dense)
