"""The step loop of :class:`models.rate.RateNetwork`: packed arrays of one run, and its weight snapshots.

``_Stepper`` holds what one ``run`` passes to :func:`models._rate_kernels.run_chunk` (the
packed rule, the neurons' gains and thresholds, the bounds of the fused pass) and advances it
chunk by chunk, or through ``python_chunk`` for a user's own rule object.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from models._compile_choice import marker
from models._rate_kernels import ACTIVATIONS, EULER, MAP, RK4, matvec, phi_into, run_chunk
from models._rate_support import python_chunk

# Rows are split over numba's threads from this size on. Below it W sits in cache and a step
# takes < 1 ms, while on a shared, oversubscribed machine every parallel launch can wait
# milliseconds for a time slice (measured here: 7 ms per step at N = 500 with the other core
# busy, against 0.1 ms serial). Call numba.set_num_threads(1) to keep large runs serial too.
# RateNetwork.run reads models.rate.PARALLEL_MIN_N (the same number) and passes ``par``.
PARALLEL_MIN_N = 2048
SNAPSHOT_BYTES = 2**30  # default snapshots (start and end) only while they fit in 1 GiB


class Snapshots:
    """Weight snapshots of one run, written into one array allocated at the start.

    Steps recorded: with ``every = k``, ``0, k, 2k, ...`` and the last step; with ``every = 0``
    none; with ``every = None`` the first and the last step when the two copies take at most
    ``limit`` bytes (``SNAPSHOT_BYTES``, 1 GiB, by default), none otherwise, so that a large
    network holds one copy of its weights (plus what the caller asked to record). A run that diverges keeps the snapshots
    taken before. ``take(step, fill)`` calls ``fill(out)`` to write the weights into ``out``.
    """

    def __init__(self, steps: int, every: int | None, shape: tuple[int, ...], dtype: Any, t0: float,
                 dt_time: float, limit: int = SNAPSHOT_BYTES) -> None:
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if every is None:
            at = [0, steps] if 2 * nbytes <= limit else []
        elif every == 0:
            at = []
        else:
            at = sorted(set(range(0, steps + 1, every)) | {0, steps})
        self.steps = at
        self.array = np.empty((len(at),) + tuple(shape), dtype=dtype)
        self.times = t0 + dt_time * np.asarray(at, dtype=np.float64)
        self.k = 0

    def take(self, step: int, fill) -> None:
        if self.k < len(self.steps) and self.steps[self.k] == step:
            fill(self.array[self.k])
            self.k += 1

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        return self.array[:self.k], self.times[:self.k]


class _Stepper:
    """Holds the packed arrays of one run and advances them, by the kernel or in Python."""

    def __init__(self, net: Any, fused: bool, rule: Any, state: Any, x: np.ndarray, bound: float,
                 wbound: float, mrow: np.ndarray, par: bool | None = None):
        from plasticity.rules._base import PackedRule, check_weights_in_bounds

        self.net, self.fused, self.rule, self.state = net, fused, rule, state
        W, n = net.W, net.n
        self.mode = MAP if net.dynamics == "map" else (RK4 if net.method == "rk4" else EULER)
        self.act = ACTIVATIONS[net.activation]
        self.bound, self.wbound = bound, wbound
        self.x = np.ascontiguousarray(x, dtype=np.float64)
        self.par = (n >= PARALLEL_MIN_N and num_threads() > 1) if par is None else bool(par)
        self.packed = PackedRule(rule, state, n) if fused else PackedRule.static(n)
        lo, hi = rule.weight_bounds() if fused else (-math.inf, math.inf)
        check_weights_in_bounds("RateNetwork.run", W, lo, hi)  # the kernel would clip them silently
        self.ip = self.packed.neuron_rows >= 0
        if self.ip:  # views: the kernel advances the state rows and the neurons read them
            self.thr = self.packed.S[self.packed.neuron_rows]
            self.gain = self.packed.S[self.packed.neuron_rows + 1]
        else:  # no intrinsic term now: the neurons keep what the last one left (as in as_system)
            self.gain, self.thr = net._gain_threshold()
            self.ip = not (np.all(self.gain == 1.0) and np.all(self.thr == 0.0))
        self.clip = not (math.isinf(lo) and math.isinf(hi))
        finite = [abs(v) for v in (lo, hi) if math.isfinite(v)]
        eps = float(np.finfo(W.dtype).eps)
        wb = wbound if wbound < float(np.finfo(W.dtype).max) else math.inf
        self.wlim = np.array([lo, hi, wb, 0.0], dtype=W.dtype)
        # [max|pre| (set per step), rounding inflation of the row bound, of sqrt(sum w^2),
        #  clip floor, clip cap, weight_bound]: see models._rate_kernels._bound
        self.blim = np.array([0.0, 1.0 + 16 * eps, 1.0 + (n + 16) * eps, max(finite, default=0.0),
                              max(finite) if len(finite) == 2 else math.inf, wbound])
        self.mrow = mrow
        self.r = np.empty(n)
        phi_into(self.act, self.x, self.gain, self.thr, self.ip, self.r)
        if self.mode == MAP:
            self.r = self.x
        self.h = np.empty(n)
        matvec(marker(self.par), W, self.x if self.mode == MAP else self.r, np.empty(n, W.dtype), np.zeros(n, W.dtype),
               np.ones(n, W.dtype), np.zeros(n, W.dtype), self.wlim, self.blim, self.mrow, self.h,
               np.zeros(n, np.int64))

    def advance(self, I, k0, nsteps, rec_every, rec_x, rec_r, p):
        net, pk = self.net, self.packed
        if self.rule is not None and not self.fused:
            return python_chunk(net, self.rule, self.state, self.mode, I, self.x, self.bound, self.wbound,
                                k0, nsteps, rec_every, rec_x, rec_r, p)
        code, s, p = run_chunk(self.mode, self.act, pk.kinds, pk.soff, pk.poff, marker(self.par), net.W, self.x, self.r,
                               self.h, I, pk.S, pk.P, self.gain, self.thr, self.ip, net.dt, net.tau, self.clip,
                               self.wlim, self.blim, self.mrow, self.bound, k0, nsteps, rec_every, rec_x, rec_r, p)
        self.finish()
        return int(code), int(s), int(p)

    def finish(self):
        self.packed.unpack()


def row_absmax(W: np.ndarray) -> np.ndarray:
    """max_j |W[i, j]| per row, float64 (NaN/inf propagate), in blocks: no n^2 temporary."""
    out = np.empty(W.shape[0])
    block = max(1, 2**18 // max(W.shape[1], 1))
    for i in range(0, W.shape[0], block):
        out[i:i + block] = np.abs(W[i:i + block]).max(axis=1)
    return out


def num_threads() -> int:
    import numba

    return numba.get_num_threads()
