"""Numba kernels of :class:`models.rate.RateNetwork`: one fused pass over W per plastic step.

The step of a plastic rate network needs, per row ``i`` of ``W[post, pre]``, the rule's
row-affine update and the recurrent input of the next step. Both share one pass, so W is
read once and written once per step (a two-pass design cannot exceed 2/3 of the memory
bandwidth):

    W[i, :] <- clip(W[i, :] * (1 + b[i]) + a[i] * pre + c[i], w_min, w_max)
    h[i]    <- W[i, :] . nxt                       (with the row just written)

Map (``x <- phi(W x + I)``, one step = one time unit, rule ``dt = 1``):
    x_{t+1} = phi(h_t + I_t);  (a, b, c) from y = x_{t+1};  pre = x_t;  nxt = x_{t+1}.
Euler flow (``tau dx/dt = -x + W phi(x) + I``):
    x_{t+1} = x_t + dt/tau (-x_t + h_t + I_t);  (a, b, c) from y = r_t = phi(x_t);
    pre = r_t;  nxt = r_{t+1} = phi(x_{t+1}).
RK4 flow: classic RK4 for x with W (and the neuron gains) frozen over the step, three extra
read-only passes (``W phi(z)`` at the stages), then the Euler rule step as above.
Inputs are held constant over a step. With intrinsic plasticity (a term whose rule
``acts_on_neurons``) the output is ``phi(gain * u - threshold)``, ``threshold`` and ``gain``
being views of that term's state rows.

Speed: rows go in pairs (each load of ``pre``/``nxt`` serves two rows of W), and the
weight bound is checked without per-weight work while it provably cannot be crossed: each
row keeps an upper bound ``m_i >= max_j |W[i, j]|``, advanced as ``m_i |1 + b_i| + |a_i|
max|pre|`` (inflated for rounding). Only rows whose bound reaches ``weight_bound`` take the
loop that counts weights past it (and refreshes ``m_i`` to ``sqrt(sum_j W[i, j]**2)``), so
the first step at which a weight passes the bound is always the one reported.

Precision: W, the row update and the dot products are in W's dtype (float32 or float64);
the dot product of a row is accumulated in that dtype, in vector lanes (``reassoc``), so
its rounding differs from BLAS at the ulp level (float64) or ~sqrt(n) * 6e-8 (float32).
The O(n) neuron update, the rule's coefficients and state are float64. ``fastmath`` is
limited to reassociation and contraction (no ``nnan``/``ninf``), so the NaN checks hold.
Rows are independent, so the serial and parallel (``prange`` over rows) kernels give
bitwise equal results.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from plasticity.activations import ACTIVATIONS as _TABLE
from plasticity.activations import LINEAR, NETWORK_ACTIVATIONS, RELU, SIGMOID, TANH, jit_scalar_value  # noqa: F401
from models._compile_choice import compile_time_choice
from plasticity.rules._dispatch import rule_coefficients

#: Activation name -> kernel code, for the names a single-matrix network takes (plasticity.activations).
ACTIVATIONS = {name: _TABLE[name].code for name in NETWORK_ACTIVATIONS}
_phi1 = jit_scalar_value()  # phi(code, u, k, e) of the activation table, compiled by numba
MAP, EULER, RK4 = 0, 1, 2
# divergence codes returned by run_chunk (the caller turns them into RateResult.reason)
OK, NONFINITE_X, X_BOUND, W_BOUND, NONFINITE_W = 0, 1, 2, 3, 4

# Reassociation lets LLVM vectorise the dot-product reduction; contraction gives FMAs.
_FM = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, nogil=True)
def phi_into(act, u, gain, thr, ip, out):
    """``out = phi(gain * u - thr)`` if ``ip`` else ``phi(u)`` (float64 vectors)."""
    for i in range(u.shape[0]):
        v = gain[i] * u[i] - thr[i] if ip else u[i]
        out[i] = _phi1(act, v, 1.0, 1.0)


@njit(inline="always", fastmath=_FM)
def _one(row, pre, nxt, ai, si, ci, update, clip, check, wlim):
    """One row: update (optionally clipped) and dot with ``nxt``; ``check`` counts ``|w| > bound``
    and sums ``w**2`` (a bound on the row's largest weight). Flags are literals at every call
    site, so each combination compiles to its own branch-free loop."""
    lo, hi, wb, acc = wlim[0], wlim[1], wlim[2], wlim[3]
    ss, nb = wlim[3], 0
    if not update:
        for j in range(row.shape[0]):
            acc += row[j] * nxt[j]
        return acc, nb, ss
    for j in range(row.shape[0]):
        w = row[j] * si + ai * pre[j] + ci
        if clip:
            w = min(max(w, lo), hi)
        row[j] = w
        acc += w * nxt[j]
        if check:
            nb += abs(w) > wb
            ss += w * w
    return acc, nb, ss


@njit(inline="always", fastmath=_FM)
def _two(r0, r1, pre, nxt, a0, a1, s0, s1, c0, c1, update, clip, check, wlim):
    """Rows ``i`` and ``i + 1`` in one loop: each ``pre``/``nxt`` load serves two rows of W."""
    lo, hi, wb = wlim[0], wlim[1], wlim[2]
    acc0, acc1, ss0, ss1 = wlim[3], wlim[3], wlim[3], wlim[3]
    nb0, nb1 = 0, 0
    if not update:
        for j in range(r0.shape[0]):
            y = nxt[j]
            acc0 += r0[j] * y
            acc1 += r1[j] * y
        return acc0, acc1, nb0, nb1, ss0, ss1
    for j in range(r0.shape[0]):
        x, y = pre[j], nxt[j]
        w0 = r0[j] * s0 + a0 * x + c0
        w1 = r1[j] * s1 + a1 * x + c1
        if clip:
            w0 = min(max(w0, lo), hi)
            w1 = min(max(w1, lo), hi)
        r0[j] = w0
        r1[j] = w1
        acc0 += w0 * y
        acc1 += w1 * y
        if check:
            nb0 += abs(w0) > wb
            nb1 += abs(w1) > wb
            ss0 += w0 * w0
            ss1 += w1 * w1
    return acc0, acc1, nb0, nb1, ss0, ss1


@njit(inline="always")
def _needs(af, sf, cf, i, update, clip):
    return update and (clip or af[i] != 0 or sf[i] != 1 or cf[i] != 0)


@njit(inline="always")
def _bound(mrow, af, sf, cf, i, blim):
    """An upper bound of max |W[i, :]| after the update, from the bound before it.

    |w_new| <= |s| |w| + |a| max|pre| + |c| (inflated for rounding); a clip to [lo, hi] keeps
    |w| <= max(|lo|, |hi|) (blim[4], inf unless both are finite) and can raise it only to
    a finite bound (blim[3])."""
    raw = (mrow[i] * abs(sf[i]) + abs(af[i]) * blim[0] + abs(cf[i])) * blim[1]
    return min(max(raw, blim[3]), blim[4])


@njit(inline="always")
def _finish(i, acc, nb, ss, checked, bound, h, flags, mrow, blim):
    h[i] = acc
    if nb > 0:
        flags[i] = W_BOUND
    elif not abs(acc) < math.inf:  # a NaN/inf weight always makes its row's dot non-finite
        flags[i] = NONFINITE_W
    else:
        flags[i] = OK
    if checked:  # refresh the bound: max|w| <= sqrt(sum w^2) (inflated for its rounding)
        mrow[i] = min(bound, math.sqrt(ss) * blim[2])
    else:
        mrow[i] = bound


@njit(inline="always")
def _rows_pair(W, p, pre, nxt, af, sf, cf, update, clip, wlim, blim, mrow, h, flags):
    """Rows ``2p`` and ``2p + 1`` (or the last row of an odd ``n``): the body of the passes.

    Rows whose bound stays within ``wlim[2]`` skip the per-weight check; the others count
    weights past it (so the first step with a weight past the bound is always caught)."""
    n = W.shape[0]
    i = 2 * p
    wb = blim[5]
    u0 = _needs(af, sf, cf, i, update, clip)
    if i + 1 < n:
        u1 = _needs(af, sf, cf, i + 1, update, clip)
        if u0 and u1:
            b0, b1 = _bound(mrow, af, sf, cf, i, blim), _bound(mrow, af, sf, cf, i + 1, blim)
            chk = not (b0 <= wb and b1 <= wb)
            if clip and chk:
                r2 = _two(W[i], W[i + 1], pre, nxt, af[i], af[i + 1], sf[i], sf[i + 1], cf[i], cf[i + 1], True, True, True, wlim)
            elif clip:
                r2 = _two(W[i], W[i + 1], pre, nxt, af[i], af[i + 1], sf[i], sf[i + 1], cf[i], cf[i + 1], True, True, False, wlim)
            elif chk:
                r2 = _two(W[i], W[i + 1], pre, nxt, af[i], af[i + 1], sf[i], sf[i + 1], cf[i], cf[i + 1], True, False, True, wlim)
            else:
                r2 = _two(W[i], W[i + 1], pre, nxt, af[i], af[i + 1], sf[i], sf[i + 1], cf[i], cf[i + 1], True, False, False, wlim)
            _finish(i, r2[0], r2[2], r2[4], chk, b0, h, flags, mrow, blim)
            _finish(i + 1, r2[1], r2[3], r2[5], chk, b1, h, flags, mrow, blim)
            return
        if not (u0 or u1):
            r2 = _two(W[i], W[i + 1], pre, nxt, af[i], af[i + 1], sf[i], sf[i + 1], cf[i], cf[i + 1], False, False, False, wlim)
            _finish(i, r2[0], 0, r2[4], False, mrow[i], h, flags, mrow, blim)
            _finish(i + 1, r2[1], 0, r2[5], False, mrow[i + 1], h, flags, mrow, blim)
            return
    for k in range(i, min(i + 2, n)):
        if not _needs(af, sf, cf, k, update, clip):
            r = _one(W[k], pre, nxt, af[k], sf[k], cf[k], False, False, False, wlim)
            _finish(k, r[0], 0, r[2], False, mrow[k], h, flags, mrow, blim)
            continue
        bk = _bound(mrow, af, sf, cf, k, blim)
        chk = not bk <= wb
        # single rows (odd n, or a pair of which one row is left alone) are rarer: run-time
        # flags compile one loop instead of four (the literal flags of pairs cost ~10 s)
        r = _one(W[k], pre, nxt, af[k], sf[k], cf[k], True, clip, chk, wlim)
        _finish(k, r[0], r[1], r[2], chk, bk, h, flags, mrow, blim)


@njit(cache=True, nogil=True, fastmath=_FM)
def rows_serial(W, pre, nxt, af, sf, cf, update, clip, wlim, blim, mrow, h, flags):
    """The fused pass over every row (see the module docstring); one thread.

    ``wlim = [w_min, w_max, weight_bound, 0]`` in W's dtype; ``blim = [max|pre|, rounding
    inflation, sqrt-sum inflation, clip floor, clip cap, weight_bound]`` (float64); ``mrow``
    an upper bound of each row's largest |weight|, kept up to date."""
    for p in range((W.shape[0] + 1) // 2):
        _rows_pair(W, p, pre, nxt, af, sf, cf, update, clip, wlim, blim, mrow, h, flags)


@njit(cache=True, nogil=True, parallel=True, fastmath=_FM)
def rows_parallel(W, pre, nxt, af, sf, cf, update, clip, wlim, blim, mrow, h, flags):
    """As :func:`rows_serial`, pairs of rows split over numba's threads."""
    for p in prange((W.shape[0] + 1) // 2):
        _rows_pair(W, p, pre, nxt, af, sf, cf, update, clip, wlim, blim, mrow, h, flags)


@njit(inline="always")
def _first_flag(flags):
    for i in range(flags.shape[0]):
        if flags[i] != OK:
            return flags[i]
    return OK


@njit(cache=True, nogil=True)
def pass_serial(W, pre, nxt, af, sf, cf, update, clip, wlim, blim, mrow, h, flags):
    """:func:`rows_serial`, then the first divergence code of ``flags`` (or ``OK``)."""
    rows_serial(W, pre, nxt, af, sf, cf, update, clip, wlim, blim, mrow, h, flags)
    return _first_flag(flags)


@njit(cache=True, nogil=True)
def pass_parallel(W, pre, nxt, af, sf, cf, update, clip, wlim, blim, mrow, h, flags):
    """:func:`rows_parallel`, then the first divergence code of ``flags`` (or ``OK``)."""
    rows_parallel(W, pre, nxt, af, sf, cf, update, clip, wlim, blim, mrow, h, flags)
    return _first_flag(flags)


# `which` (models._compile_choice.SERIAL or PARALLEL) picks the pass when the caller is compiled
_pass = compile_time_choice(pass_serial, pass_parallel)


@njit(cache=True, nogil=True)
def matvec(which, W, v, buf, af, sf, cf, wlim, blim, mrow, h, flags):
    """``h = W v`` (read-only pass; ``v`` float64 is cast to W's dtype in ``buf``)."""
    for i in range(v.shape[0]):
        buf[i] = v[i]
    no = v.shape[0] < 0  # a run-time False: a literal would compile the passes twice
    _pass(which, W, buf, buf, af, sf, cf, no, no, wlim, blim, mrow, h, flags)


@njit(cache=True, nogil=True)
def _check(x, bound):
    for i in range(x.shape[0]):
        v = x[i]
        if not abs(v) < math.inf:
            return NONFINITE_X
        if abs(v) > bound:
            return X_BOUND
    return OK


@njit(cache=True, nogil=True)
def run_chunk(mode, act, kinds, soff, poff, which, W, x, r, h, I, S, P, gain, thr, ip,
              dt, tau, clip, wlim, blim, mrow, bound,
              k0, nsteps, rec_every, rec_x, rec_r, p):
    """Advance the network ``nsteps`` steps from state index ``k0``, in place.

    ``x`` (state), ``r`` (rate, flows) and ``h = W x`` (map) or ``W r`` (flow) describe state
    ``k0`` and are advanced; ``I`` has one row per step, or one row for all. States whose
    global index is a multiple of ``rec_every`` go to ``rec_x`` / ``rec_r`` from row ``p``.
    Returns ``(code, s, p)``: ``code`` OK or a divergence code for state ``k0 + s + 1``
    (the step stopped there: x and r keep the last good state), ``p`` the next free row.
    """
    n = x.shape[0]
    xn = np.empty(n)
    rn = np.empty(n)
    z = np.empty(n)
    hz = np.empty(n)
    kacc = np.empty(n)
    a = np.zeros(n)
    b = np.zeros(n)
    c = np.zeros(n)
    pre = np.empty(n, dtype=W.dtype)
    nxt = np.empty(n, dtype=W.dtype)
    af = np.zeros(n, dtype=W.dtype)
    sf = np.ones(n, dtype=W.dtype)
    cf = np.zeros(n, dtype=W.dtype)
    flags = np.zeros(n, dtype=np.int64)
    plastic = kinds.shape[0] > 0
    dt_rule = 1.0 if mode == MAP else dt
    for s in range(nsteps):
        Ik = I[s] if I.shape[0] > 1 else I[0]
        if mode == MAP:
            for i in range(n):
                z[i] = h[i] + Ik[i]
            phi_into(act, z, gain, thr, ip, xn)
        elif mode == EULER:
            for i in range(n):
                xn[i] = x[i] + dt / tau * (-x[i] + h[i] + Ik[i])
        else:  # RK4 with W, gain, thr frozen over the step; k1 uses h = W r
            for i in range(n):
                k1 = (-x[i] + h[i] + Ik[i]) / tau
                kacc[i] = k1
                z[i] = x[i] + 0.5 * dt * k1
            for stage in range(3):
                phi_into(act, z, gain, thr, ip, rn)
                matvec(which, W, rn, nxt, af, sf, cf, wlim, blim, mrow, hz, flags)
                wgt = 1.0 if stage == 2 else 2.0
                for i in range(n):
                    kq = (-z[i] + hz[i] + Ik[i]) / tau
                    kacc[i] += wgt * kq
                    if stage < 2:
                        z[i] = x[i] + (0.5 * dt if stage == 0 else dt) * kq
            for i in range(n):
                xn[i] = x[i] + dt / 6.0 * kacc[i]
        code = _check(xn, bound)
        if code != OK:
            return code, s, p
        if plastic:
            rule_coefficients(kinds, soff, poff, xn if mode == MAP else r, S, P, dt_rule, a, b, c)
            for i in range(n):
                af[i] = a[i]
                sf[i] = 1.0 + b[i]
                cf[i] = c[i]
        if mode == MAP:
            for i in range(n):
                pre[i] = x[i]
                nxt[i] = xn[i]
        else:
            phi_into(act, xn, gain, thr, ip, rn)
            for i in range(n):
                pre[i] = r[i]
                nxt[i] = rn[i]
        pmax = 0.0
        for i in range(n):
            pmax = max(pmax, abs(pre[i]))
        blim[0] = pmax
        code = _pass(which, W, pre, nxt, af, sf, cf, plastic, clip, wlim, blim, mrow, h, flags)
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
                if mode != MAP:
                    rec_r[p, i] = r[i]
            p += 1
    return OK, nsteps, p
