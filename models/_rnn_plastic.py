"""The plastic recurrence of :class:`models.rnn.PlasticRNN` over a whole trial, with a hand-written backward.

Per step ``t`` (``Hebb_0 = 0``; ``x = h_t``, the presynaptic rate; ``A`` the plasticity coefficients)::

    p_t      = (A * Hebb_t) h_t                                    (B, n): the plastic input
    h_{t+1}, a_t, b_t, c_t, state_{t+1} = step(h_t, state_t, drive_t, p_t)   (O(B n), any rule)
    Hebb_{t+1} = (1 + b_t) Hebb_t + a_t h_t^T + c_t                 (row-affine rule, no clipping)

Autograd through this loop keeps several ``(B, n, n)`` tensors per step (``A * Hebb``, the
products of the update) and sweeps them many times per step. :class:`PlasticScan` is one
``torch.autograd.Function`` for the whole trial instead:

* forward (no graph): one fused numba pass per step over the trace updates ``Hebb`` in place and
  computes the next step's ``p`` from the updated rows (:func:`_advance`);
* kept for backward: ``h_t``, the step's input ``z_t = W_hh h_t + drive_t + p_t``, the rule state
  and ``a_t, 1 + b_t, c_t`` of every step (``O(T B n)``), and ``Hebb`` at every ``k``-th step
  (``k = ceil(sqrt(T))``, checkpoints);
* backward: per segment of ``k`` steps the traces are recomputed from the checkpoint, which is read
  in place (:func:`_advance_into`; the forward's values to rounding), each segment just before the
  step that needs its last trace; for ``t = T-1, ..., 0`` the
  ``O(B n)`` step from ``z_t`` is rebuilt under autograd (so any row-affine rule, intrinsic gain
  and threshold included, is differentiated by torch), and the trace terms are done by hand in
  one pass over the trace per step (:func:`_bw_trace_coef`: the trace terms of step ``t`` and the
  coefficient sums of step ``t - 1``) with the adjoint ``K_t = dL/dHebb_t / A`` (elementwise; no
  division: it obeys its own recursion)::

      dL/da_t = (A * K_{t+1}) h_t,   dL/db_t = rowsum(A * K_{t+1} * Hebb_t),   dL/dc_t = rowsum(A * K_{t+1})
      dL/dh_t += (A * K_{t+1})^T a_t + (A * Hebb_t)^T dL/dp_t,        dL/dp_t = dL/dz_t
      dL/dA   += sum_batch Hebb_t * (dL/dp_t h_t^T)
      K_t      = (1 + b_t) K_{t+1} + dL/dp_t h_t^T,                  K_T = 0

  ``dL/dW_hh = sum_t dL/dz_t h_t^T`` is one matrix product at the end.

Per time step a training step moves about 8 trace sizes of memory (forward update: read and write;
recomputation: read and write; fused backward: three reads, one write), the traffic of two in-place
sweeps ``trace.mul_(a).add_(b)``; benchmarks/bench_rnn.py measures the time. Memory for backward:
``O(T B n + (T/k + k) B n^2)`` (``2 sqrt(T)`` traces, kept between calls in a per-model pool of
buffers, :class:`_Pool`) against autograd's several traces per step. Gradients equal autograd's
to rounding (tests/models/test_rnn_plastic.py). CPU only (numba); :class:`models.rnn.PlasticRNN`
uses the autograd loop elsewhere, for rules that clip the weights or are not row-affine, and when
per-step hidden states must keep their gradients.
"""
from __future__ import annotations

import math
import weakref
from typing import Any

import torch

from plasticity import _numba_cache  # noqa: F401  (numba's cache folder is chosen before any @njit)
from numba import njit
from models._rnn_base import _neuron_state

__all__ = ["PlasticScan", "supports_scan"]


@njit(cache=True, nogil=True, fastmath=True)
def _advance(H, a, s, c, x, A, y, p):  # pragma: no cover - numba
    """In place, row by row: ``H <- s H + a x^T + c`` (``s = 1 + b``), then ``p = (A * H) y``."""
    B, n, m = H.shape
    for k in range(B):
        xk, yk = x[k], y[k]
        for i in range(n):
            s_i, ai, ci = s[k, i], a[k, i], c[k, i]
            Hi, Ai = H[k, i], A[i]
            acc = p[k, i] * 0
            for j in range(m):
                v = Hi[j] * s_i + ai * xk[j] + ci
                Hi[j] = v
                acc += Ai[j] * v * yk[j]
            p[k, i] = acc


@njit(cache=True, nogil=True, fastmath=True)
def _advance_into(H_src, H_dst, a, s, c, x):  # pragma: no cover - numba
    """``H_dst = s H_src + a x^T + c`` (the recomputation of a checkpointed segment; other arrays:
    an in-place update through two names would keep LLVM from vectorising the loop)."""
    B, n, m = H_src.shape
    for k in range(B):
        xk = x[k]
        for i in range(n):
            s_i, ai, ci = s[k, i], a[k, i], c[k, i]
            Si, Di = H_src[k, i], H_dst[k, i]
            for j in range(m):
                Di[j] = Si[j] * s_i + ai * xk[j] + ci


@njit(cache=True, nogil=True, fastmath=True)
def _bw_trace(K, Hp, A, x, gp, s, gx, gA):  # pragma: no cover - numba
    """``gx += (A * Hp)^T gp``; ``gA += sum_k Hp * gp x^T``; ``K <- s K + gp x^T`` in place (``s = 1 + b``)."""
    B, n, m = K.shape
    for k in range(B):
        gxk, xk = gx[k], x[k]
        for i in range(n):
            gi, s_i = gp[k, i], s[k, i]
            Ki, Hi, Ai, gAi = K[k, i], Hp[k, i], A[i], gA[i]
            for j in range(m):
                t = gi * Hi[j]
                gxk[j] += Ai[j] * t
                gAi[j] += t * xk[j]
                Ki[j] = Ki[j] * s_i + gi * xk[j]


@njit(cache=True, nogil=True, fastmath=True)
def _bw_trace_coef(K, Hp, A, x, gp, s, gx, gA, Hq, xq, aq, ga, gb, gc, gxq):  # pragma: no cover - numba
    """:func:`_bw_trace` of step ``t``, then, on the updated ``K`` and with ``G = A * K``, the sums of step
    ``t - 1``: ``ga = G xq``, ``gb = rowsum(G * Hq)``, ``gc = rowsum(G)``, ``gxq = G^T aq``, in one pass
    over it (``Hq``, ``xq``, ``aq``: ``Hebb_{t-1}``, ``h_{t-1}``, ``a_{t-1}``)."""
    B, n, m = K.shape
    for k in range(B):
        gxk, xk, xqk, gxqk = gx[k], x[k], xq[k], gxq[k]
        for j in range(m):
            gxqk[j] = 0.0
        for i in range(n):
            gi, s_i, ai = gp[k, i], s[k, i], aq[k, i]
            Ki, Hi, Qi, Ai, gAi = K[k, i], Hp[k, i], Hq[k, i], A[i], gA[i]
            sa = ga[k, i] * 0
            sb = sa
            sc = sa
            for j in range(m):
                t = gi * Hi[j]
                gxk[j] += Ai[j] * t
                gAi[j] += t * xk[j]
                kv = Ki[j] * s_i + gi * xk[j]
                Ki[j] = kv
                g = Ai[j] * kv
                sa += g * xqk[j]
                sb += g * Qi[j]
                sc += g
                gxqk[j] += ai * g
            ga[k, i] = sa
            gb[k, i] = sb
            gc[k, i] = sc


def supports_scan(model: Any, inputs: torch.Tensor) -> bool:
    """Whether :class:`PlasticScan` runs this model: a row-affine rule without weight bounds, on CPU,
    in float32 or float64."""
    from plasticity.torch._row_affine import RowAffineRule, _is_inf

    rule = model.rule
    if not isinstance(rule, RowAffineRule) or inputs.device.type != "cpu":
        return False
    if inputs.dtype not in (torch.float32, torch.float64):
        return False
    lo, hi = rule.weight_bounds()
    if not (_is_inf(lo) and _is_inf(hi)):
        return False
    return all(t.device.type == "cpu" for t in rule._tensors())


class _Pool:
    """Trace-sized work buffers kept between training steps: a fresh 8 MB tensor costs its page
    faults (about a sweep over it) on first touch, and a step needs ``2 sqrt(T) + 1`` of them.
    Buffers are taken in the forward (checkpoints) or backward and given back at its end, so two
    trials in flight never share one."""

    def __init__(self, limit: int = 64) -> None:
        self.free: list[torch.Tensor] = []
        self.limit = limit

    def take(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """A buffer of ``shape`` with the dtype and device of ``like`` (uninitialised)."""
        for i, t in enumerate(self.free):
            if t.shape == shape and t.dtype == like.dtype and t.device == like.device:
                return self.free.pop(i)
        return torch.empty(shape, dtype=like.dtype, device=like.device)

    def give(self, tensors: list[torch.Tensor]) -> None:
        self.free.extend(tensors)
        del self.free[:max(0, len(self.free) - self.limit)]  # the oldest go first


_POOLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its buffers (not in its state)


def _pool(model: Any) -> _Pool:
    if model not in _POOLS:
        _POOLS[model] = _Pool()
    return _POOLS[model]


def _flatten(state: Any) -> tuple[list[torch.Tensor], Any]:
    """The tensors of a (nested) NamedTuple state and a function that rebuilds it from such a list."""
    if isinstance(state, torch.Tensor):
        return [state], lambda it: next(it)
    if isinstance(state, tuple):
        parts = [_flatten(s) for s in state]
        leaves = [t for ls, _ in parts for t in ls]
        builders = [f for _, f in parts]

        def build(it):
            items = [f(it) for f in builders]
            return type(state)(*items) if hasattr(state, "_fields") else tuple(items)

        return leaves, build
    return [], lambda it: state  # a constant (not a tensor) in the state


def _rows(v: Any, like: torch.Tensor) -> torch.Tensor:
    """A coefficient (None, a float, a scalar, ``(n,)`` or ``(B, n)``) as a contiguous ``(B, n)`` array."""
    if v is None:
        return torch.zeros_like(like)
    return torch.broadcast_to(torch.as_tensor(v, dtype=like.dtype).detach(), like.shape).contiguous()


def _np(t: torch.Tensor):
    return t.detach().numpy()


class PlasticScan(torch.autograd.Function):
    """The whole trial of a :class:`~models.rnn.PlasticRNN` (see the module docstring).

    ``PlasticScan.apply(model, drive, h0, W_hh, A, (build, n_state), *state0, *rule_tensors)`` returns
    ``(hidden (B, T, n), hebb_T, *state_T)``; only ``hidden`` is differentiable. ``drive`` is
    ``W_in u_t + b`` for every step, ``A`` the plasticity coefficients (``(n, n)`` or a scalar),
    ``state0`` the flattened initial rule state (``build`` rebuilds it, :func:`_flatten`), ``rule_tensors`` the rule's tensors that
    require grad (they receive their gradients through the rule's own ``_coefficients``).
    """

    @staticmethod
    def forward(ctx, model, drive, h0, W_hh, A, spec, *rest):
        build, n_state = spec
        state0_leaves, rule_tensors = rest[:n_state], rest[n_state:]
        state = build(iter(state0_leaves))
        B, T, n = drive.shape
        k = max(1, math.ceil(math.sqrt(T)))
        A_mat = torch.broadcast_to(A.detach(), (n, n)).contiguous()
        H = drive.new_zeros(B, n, n)
        p = drive.new_zeros(B, n)
        h = h0.detach().contiguous()
        W_t = W_hh.detach().t()
        keep = any(ctx.needs_input_grad)  # else no backward will come: no checkpoints
        pool = _pool(model)
        H_np, A_np = _np(H), _np(A_mat)
        hs, zs, states, coefs, ckpts = [h], [], [state], [], {}
        for t in range(T):
            if keep and t % k == 0 and t > 0:  # Hebb_0 = 0 needs no copy
                ckpts[t] = pool.take(H.shape, H).copy_(H)
            z = torch.addmm(drive[:, t], h, W_t) + p  # the whole input of step t, before gain and threshold
            h_new, a, b, c, state = _step(model, h, state, z)
            abc = (_rows(a, h), 1.0 + _rows(b, h), _rows(c, h))  # the middle one holds 1 + b
            p = torch.empty_like(p)
            _advance(H_np, *(_np(v) for v in abc), _np(h), A_np, _np(h_new), _np(p))
            zs.append(z)
            coefs.append(tuple(_np(v) for v in abc))
            hs.append(h_new)
            states.append(state)
            h = h_new
        ctx.model, ctx.k, ctx.n_state = model, k, n_state
        ctx.hs, ctx.zs, ctx.states, ctx.coefs, ctx.ckpts = hs, zs, states, coefs, ckpts
        if ckpts:
            weakref.finalize(ctx, pool.give, list(ckpts.values()))
        ctx.A_mat, ctx.A_shape = A_mat, A.shape
        ctx.rule_tensors = rule_tensors
        ctx.save_for_backward(W_hh)
        final = [t.detach().clone() for t in _flatten(state)[0]]
        ctx.mark_non_differentiable(H, *final)
        return (torch.stack(hs[1:], dim=1), H, *final)

    @staticmethod
    @torch.autograd.function.once_differentiable  # a gradient of this gradient raises, not silently zero
    def backward(ctx, g_hidden, *unused):
        (W_hh,) = ctx.saved_tensors
        model, k, hs, zs, states, coefs = ctx.model, ctx.k, ctx.hs, ctx.zs, ctx.states, ctx.coefs
        rule_tensors = list(ctx.rule_tensors)
        B, n = hs[0].shape
        T = len(zs)
        W = W_hh.detach()
        A_np = _np(ctx.A_mat)
        if g_hidden is None:
            g_hidden = hs[0].new_zeros(B, T, n)
        pool = _pool(model)
        K = pool.take((B, n, n), W).zero_()
        K_np = _np(K)
        gA = torch.zeros(n, n, dtype=W.dtype)
        g_rule = [torch.zeros_like(r) for r in rule_tensors]
        g_z = torch.empty(B, T, n, dtype=W.dtype)  # dL/dz_t = dL/d(drive_t) = dL/dp_t
        gh = hs[0].new_zeros(B, n)
        g_state: list[torch.Tensor | None] = [None] * ctx.n_state
        # K_T = 0, so the coefficient sums of step T - 1 (and its gx) start at zero
        ga, gb, gc, gx = (hs[0].new_zeros(B, n) for _ in range(4))
        g_np = [_np(v) for v in (ga, gb, gc, gx)]
        # a segment's traces: its checkpoint (zeros for the first) then k - 1 recomputed ones; the
        # checkpoint buffers are read in place, so refilling `seg` never touches the trace of step s0
        seg = [pool.take(K.shape, K) for _ in range(min(k, T) - 1)]
        zero = pool.take(K.shape, K).zero_()

        def fill(s0: int) -> list:
            traces = [_np(zero if s0 == 0 else ctx.ckpts[s0])] + [_np(v) for v in seg[:min(s0 + k, T) - s0 - 1]]
            for u in range(1, len(traces)):  # Hebb_{s0+u} from Hebb_{s0+u-1}, as the forward did
                _advance_into(traces[u - 1], traces[u], *coefs[s0 + u - 1], _np(hs[s0 + u - 1]))
            return traces

        s0 = (T - 1) // k * k
        traces = fill(s0)
        for t in reversed(range(T)):
            Hp_np, x_np = traces[t - s0], _np(hs[t])
            s_np = coefs[t][1]
            gh = gh + g_hidden[:, t]
            with torch.enable_grad():
                h_leaf = hs[t].detach().requires_grad_(True)
                st_leaves, build = _flatten(states[t])
                st_leaves = [v.detach().requires_grad_(True) for v in st_leaves]
                z_leaf = zs[t].detach().requires_grad_(True)
                h_new, a, b, c, st_new = _step(model, h_leaf, build(iter(st_leaves)), z_leaf)
                outs, grads = [h_new], [gh]
                for v, g in ((a, ga), (b, gb), (c, gc)):
                    if isinstance(v, torch.Tensor) and v.requires_grad:
                        outs.append(v)
                        grads.append(g.sum_to_size(v.shape))
                for v, g in zip(_flatten(st_new)[0], g_state):
                    if g is not None and v.requires_grad:
                        outs.append(v)
                        grads.append(g)
                got = torch.autograd.grad(outs, [h_leaf, z_leaf, *st_leaves, *rule_tensors], grads, allow_unused=True)
            g_h, g_zt = got[0], got[1]
            g_st, g_r = got[2:2 + len(st_leaves)], got[2 + len(st_leaves):]
            g_zt = torch.zeros_like(gh) if g_zt is None else g_zt.contiguous()
            g_z[:, t] = g_zt
            # dL/dh_t: through the leak, through W_hh h_t, and (in the trace kernels) through p_t
            gh = torch.addmm(gx, g_zt, W) if g_h is None else torch.addmm(gx + g_h, g_zt, W)
            if t == 0:
                _bw_trace(K_np, Hp_np, A_np, x_np, _np(g_zt), s_np, _np(gh), _np(gA))
            else:
                if t == s0:  # Hebb_{t-1} is the last trace of the segment before: recompute it now
                    s0 -= k
                    traces = fill(s0)
                # the trace terms of step t and the coefficient sums of step t - 1 in one pass over K
                _bw_trace_coef(K_np, Hp_np, A_np, x_np, _np(g_zt), s_np, _np(gh), _np(gA), traces[t - 1 - s0],
                               _np(hs[t - 1]), coefs[t - 1][0], *g_np)
            for acc, g in zip(g_rule, g_r):
                if g is not None:
                    acc += g
            g_state = list(g_st)
        pool.give([K, *seg, zero])  # the checkpoints go back when the graph is freed (a retained one may run again)
        g_W = g_z.reshape(-1, n).t() @ torch.stack(hs[:-1], dim=1).reshape(-1, n)  # sum_t dL/dz_t h_t^T
        g_A = gA if len(ctx.A_shape) == 2 else gA.sum().reshape(ctx.A_shape)
        g_state0 = [torch.zeros_like(v) if g is None else g for v, g in zip(_flatten(states[0])[0], g_state)]
        return (None, g_z, gh, g_W, g_A, None, *g_state0, *g_rule)


def _step(model: Any, h: torch.Tensor, state: Any, z: torch.Tensor):
    """The ``O(B n)`` part of one step from its input ``z = W_hh h + drive + p``: ``h_{t+1}`` and the rule's
    coefficients and new state."""
    ip = _neuron_state(model.rule, state)
    if ip is not None:  # intrinsic plasticity, alone or as a term of a Combined rule
        z = ip.gain * z - ip.threshold
    h_new = model._leak(h, z)
    a, b, c, state_new = model.rule._coefficients(h_new, state, model.rule_dt)
    return h_new, a, b, c, state_new
