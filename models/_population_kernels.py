"""Numba kernels of population rate networks: one pass over the plastic weights per step.

Weights of all projections live in one ``(n, n)`` array ``W[post, pre]`` of magnitudes,
blocks ``[target rows, source columns]``; a synapse that does not exist holds ``ABSENT``
(a negative number, never a valid magnitude), so it is skipped by the recurrent input and
left alone by plasticity (``p < 1`` stays sparse). ``proj[T, S]`` says what the block from
population ``S`` to ``T`` is: ``-1`` no projection (never read), ``0`` static (read once
per step), ``q + 1`` plastic projection ``q`` (read and written once per step, in the same
pass that computes the recurrent input of the next step, as in :mod:`models._rate_kernels`;
in the parallel pass (large networks) rows of one population go in pairs, so that each load
of ``pre``/``nxt`` serves two rows):

    W[i, j] <- clip(W[i, j] (1 + b_q[i]) + a_q[i] pre[j] + c_q[i], lo_q, hi_q)   (present j)
    (computed in W's dtype; the coefficients are float64 and cast once per step)
    h[i]    <- sum_S sign_S sum_{j in S, present} W[i, j] nxt[j]

Map: ``x <- phi(h + bias + I)``; pre = x_t, nxt = x_{t+1}, the rule's ``y`` = x_{t+1}.
Euler flow: ``x <- x + dt/tau (-x + h + bias + I)``; pre = r_t, nxt = r_{t+1}, ``y`` = r_t.
The coefficients ``(a_q, b_q, c_q)`` of projection ``q`` come from its (possibly combined)
rule through :func:`plasticity.rules._dispatch.rule_coefficients` with ``y`` the target
population's rates. A term that acts on neurons (intrinsic plasticity) sets the target
population's ``threshold`` and ``gain`` (``phi(gain * u - threshold)``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from plasticity.activations import LINEAR, POWER, RELU, SIGMOID, TANH, jit_scalar_value  # noqa: F401
from plasticity.activations import RECTIFIED_TANH as RECT_TANH  # noqa: F401
from models._compile_choice import compile_time_choice
# divergence codes and the flag scan are the single-matrix kernel's (one meaning for both)
from models._rate_kernels import NONFINITE_W, NONFINITE_X, OK, W_BOUND, X_BOUND, _first_flag  # noqa: F401
from plasticity.rules._dispatch import rule_coefficients

ABSENT = -1.0
_phi = jit_scalar_value()  # phi(code, u, k, e) of the activation table, compiled by numba
MAP, EULER = 0, 1
_FM = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, nogil=True)
def activation(code, u, k, e, cap):
    """``min(phi(u), cap)`` for activation ``code`` of :mod:`plasticity.activations`."""
    v = _phi(code, u, k, e)
    return v if v < cap else cap


@njit(cache=True, nogil=True)
def rates_into(act, k, e, cap, gain, thr, u, out):
    for i in range(u.shape[0]):
        out[i] = activation(act[i], gain[i] * u[i] - thr[i], k[i], e[i], cap[i])


@njit(inline="always", fastmath=_FM)
def _static_dot(row, nxt, z0):
    """``sum_j max(w_j, 0) nxt_j``: absent synapses (negative) add nothing. ``z0`` is a zero of
    W's dtype, so that float32 rows are summed in float32 vector lanes, as in models._rate_kernels."""
    acc = z0
    for j in range(row.shape[0]):
        acc += max(row[j], z0) * nxt[j]
    return acc


@njit(inline="always", fastmath=_FM)
def _plastic_row(row, pre, nxt, ai, si, ci, lo, hi, wb, z0):
    """Update the present weights of one block row (clip to [lo, hi]) and dot them with ``nxt``;
    count weights past ``wb``. All arithmetic in W's dtype (the coefficients are cast once)."""
    acc = z0
    nb = 0
    for j in range(row.shape[0]):
        w = row[j]
        present = w >= z0
        v = min(max(w * si + ai * pre[j] + ci, lo), hi)
        v = v if present else w
        row[j] = v
        acc += (v if present else z0) * nxt[j]
        nb += v > wb
    return acc, nb


@njit(inline="always", fastmath=_FM)
def _static_two(r0, r1, nxt, z0):
    """``_static_dot`` of two rows in one loop: each load of ``nxt`` serves both."""
    acc0, acc1 = z0, z0
    for j in range(r0.shape[0]):
        y = nxt[j]
        acc0 += max(r0[j], z0) * y
        acc1 += max(r1[j], z0) * y
    return acc0, acc1


@njit(inline="always", fastmath=_FM)
def _plastic_two(r0, r1, pre, nxt, a0, a1, s0, s1, c0, c1, lo, hi, wb, z0):
    """``_plastic_row`` of two rows in one loop: each load of ``pre``/``nxt`` serves both."""
    acc0, acc1 = z0, z0
    nb = 0
    for j in range(r0.shape[0]):
        x, y = pre[j], nxt[j]
        w0, w1 = r0[j], r1[j]
        p0, p1 = w0 >= z0, w1 >= z0
        v0 = min(max(w0 * s0 + a0 * x + c0, lo), hi)
        v1 = min(max(w1 * s1 + a1 * x + c1, lo), hi)
        v0 = v0 if p0 else w0
        v1 = v1 if p1 else w1
        r0[j] = v0
        r1[j] = v1
        acc0 += (v0 if p0 else z0) * y
        acc1 += (v1 if p1 else z0) * y
        nb += (v0 > wb) + (v1 > wb)
    return acc0, acc1, nb


@njit(inline="always")
def _finish(i, total, nbad, h, flags):
    h[i] = total
    if nbad > 0:
        flags[i] = W_BOUND
    elif not abs(total) < math.inf:  # a NaN/inf weight makes its row's dot non-finite
        flags[i] = NONFINITE_W
    else:
        flags[i] = OK


@njit(inline="always")
def _rows(p, W, pre, nxt, row_pop, proj, start, stop, sign, A, B, C, lo, hi, wb, h, flags):
    """Rows ``2p`` and ``2p + 1`` together when both exist and belong to one population (so
    they share blocks and coefficient rows), else row ``2p`` (and ``2p + 1``) alone."""
    i = 2 * p
    n = W.shape[0]
    z0 = lo[0] - lo[0]  # a zero of W's dtype (lo has W's dtype and finite entries)
    T = row_pop[i]
    if i + 1 < n and row_pop[i + 1] == T:
        it = i - start[T]
        t0, t1, nbad = 0.0, 0.0, 0
        for S in range(start.shape[0]):
            code = proj[T, S]
            if code < 0:
                continue
            c0, c1 = start[S], stop[S]
            if code == 0:
                d0, d1 = _static_two(W[i, c0:c1], W[i + 1, c0:c1], nxt[c0:c1], z0)
            else:
                q = code - 1
                d0, d1, nb = _plastic_two(W[i, c0:c1], W[i + 1, c0:c1], pre[c0:c1], nxt[c0:c1], A[q, it],
                                          A[q, it + 1], B[q, it], B[q, it + 1], C[q, it], C[q, it + 1],
                                          lo[q], hi[q], wb[0], z0)
                nbad += nb
            t0 += sign[S] * d0
            t1 += sign[S] * d1
        _finish(i, t0, nbad, h, flags)
        _finish(i + 1, t1, nbad, h, flags)
        return
    for k in range(i, min(i + 2, n)):
        _row(k, W, pre, nxt, row_pop, proj, start, stop, sign, A, B, C, lo, hi, wb, h, flags)


@njit(inline="always")
def _row(k, W, pre, nxt, row_pop, proj, start, stop, sign, A, B, C, lo, hi, wb, h, flags):
    """Row ``k`` alone: every block of it, read (static) or updated and read (plastic)."""
    z0 = lo[0] - lo[0]
    T = row_pop[k]
    it = k - start[T]
    total, nbad = 0.0, 0
    for S in range(start.shape[0]):
        code = proj[T, S]
        if code < 0:
            continue
        c0, c1 = start[S], stop[S]
        if code == 0:
            acc = _static_dot(W[k, c0:c1], nxt[c0:c1], z0)
        else:
            q = code - 1
            acc, nb = _plastic_row(W[k, c0:c1], pre[c0:c1], nxt[c0:c1], A[q, it], B[q, it], C[q, it],
                                   lo[q], hi[q], wb[0], z0)
            nbad += nb
        total += sign[S] * acc
    _finish(k, total, nbad, h, flags)


@njit(cache=True, nogil=True, fastmath=_FM)
def pass_serial(W, pre, nxt, row_pop, proj, start, stop, sign, A, B, C, lo, hi, wb, h, flags):
    """Row by row: below ``PARALLEL_MIN_N`` W sits in cache and single rows are faster (measured:
    pairs cost 1.25x at n = 1000 and save 1.2x at n = 4000, where the pass is memory-bound)."""
    for k in range(W.shape[0]):
        _row(k, W, pre, nxt, row_pop, proj, start, stop, sign, A, B, C, lo, hi, wb, h, flags)


@njit(cache=True, nogil=True, parallel=True, fastmath=_FM)
def pass_parallel(W, pre, nxt, row_pop, proj, start, stop, sign, A, B, C, lo, hi, wb, h, flags):
    for p in prange((W.shape[0] + 1) // 2):
        _rows(p, W, pre, nxt, row_pop, proj, start, stop, sign, A, B, C, lo, hi, wb, h, flags)


@njit(cache=True, nogil=True)
def full_pass_serial(W, pre, nxt, row_pop, proj, start, stop, sign, A, B, C, lo, hi, wb, h, flags):
    """One pass over every row, row by row: update the plastic blocks, ``h = (signed W) nxt``; a divergence code."""
    pass_serial(W, pre, nxt, row_pop, proj, start, stop, sign, A, B, C, lo, hi, wb, h, flags)
    return _first_flag(flags)


@njit(cache=True, nogil=True)
def full_pass_parallel(W, pre, nxt, row_pop, proj, start, stop, sign, A, B, C, lo, hi, wb, h, flags):
    """As :func:`full_pass_serial`, rows in pairs over the threads."""
    pass_parallel(W, pre, nxt, row_pop, proj, start, stop, sign, A, B, C, lo, hi, wb, h, flags)
    return _first_flag(flags)


_full_pass = compile_time_choice(full_pass_serial, full_pass_parallel)


@njit(cache=True, nogil=True)
def run_chunk(which, mode, W, row_pop, proj, start, stop, sign, tau, bias, act, k, e, cap, gain, thr,
              q_target, q_terms, kinds, soff, poff, S, P, q_neuron, lo, hi, A64, B64, C64,
              x, r, h, I, dt, bound, wb, k0, nsteps, rec_every, rec_x, rec_r, p):
    """Advance ``nsteps`` steps in place (see the module docstring); returns ``(code, s, p)``.

    ``which`` is :data:`models._compile_choice.SERIAL` or ``PARALLEL``: the pass is chosen when
    this kernel is compiled, so a run compiles only the pass it uses (:mod:`models._compile_choice`).

    Plastic projection ``q`` targets population ``q_target[q]``; its terms are
    ``kinds[q_terms[q]:q_terms[q+1]]`` with state-row offsets ``soff[q_terms[q] + q :
    q_terms[q+1] + q + 1]`` (absolute rows of ``S``) and parameter offsets likewise in
    ``poff``; ``q_neuron[q]`` is the first state row of its neuron term, or -1.
    """
    n = x.shape[0]
    nq = q_target.shape[0]
    xn = np.empty(n)
    rn = np.empty(n)
    z = np.empty(n)
    pre = np.empty(n, dtype=W.dtype)
    nxt = np.empty(n, dtype=W.dtype)
    flags = np.zeros(n, dtype=np.int64)
    # the pass's coefficients in W's dtype: A = a, B = 1 + b, C = c (as models._rate_kernels)
    A = np.zeros(A64.shape, dtype=W.dtype)
    B = np.ones(A64.shape, dtype=W.dtype)
    C = np.zeros(A64.shape, dtype=W.dtype)
    wbv = np.full(1, wb, dtype=W.dtype)
    dt_rule = 1.0 if mode == MAP else dt
    for s in range(nsteps):
        Ik = I[s] if I.shape[0] > 1 else I[0]
        if mode == MAP:
            for i in range(n):
                z[i] = h[i] + bias[i] + Ik[i]
            rates_into(act, k, e, cap, gain, thr, z, xn)
        else:
            for i in range(n):
                xn[i] = x[i] + dt / tau[i] * (-x[i] + h[i] + bias[i] + Ik[i])
        for i in range(n):
            v = xn[i]
            if not abs(v) < math.inf:
                return NONFINITE_X, s, p
            if abs(v) > bound:
                return X_BOUND, s, p
        y = xn if mode == MAP else r
        for q in range(nq):
            T = q_target[q]
            t0, t1 = start[T], stop[T]
            k1, k2 = q_terms[q], q_terms[q + 1]
            rule_coefficients(kinds[k1:k2], soff[k1 + q:k2 + q + 1], poff[k1 + q:k2 + q + 1], y[t0:t1], S, P,
                              dt_rule, A64[q], B64[q], C64[q])
            for i in range(t1 - t0):
                A[q, i] = A64[q, i]
                B[q, i] = 1.0 + B64[q, i]
                C[q, i] = C64[q, i]
            if q_neuron[q] >= 0:
                for i in range(t1 - t0):
                    thr[t0 + i] = S[q_neuron[q], i]
                    gain[t0 + i] = S[q_neuron[q] + 1, i]
        if mode == MAP:
            for i in range(n):
                pre[i] = x[i]
                nxt[i] = xn[i]
        else:
            rates_into(act, k, e, cap, gain, thr, xn, rn)
            for i in range(n):
                pre[i] = r[i]
                nxt[i] = rn[i]
        code = _full_pass(which, W, pre, nxt, row_pop, proj, start, stop, sign, A, B, C, lo, hi, wbv, h, flags)
        if code != OK:
            return code, s, p
        for i in range(n):
            x[i] = xn[i]
        if mode != MAP:
            for i in range(n):
                r[i] = rn[i]
        if (k0 + s + 1) % rec_every == 0:
            for i in range(n):
                rec_x[p, i] = x[i]
                rec_r[p, i] = r[i] if mode != MAP else x[i]
            p += 1
    return OK, nsteps, p

