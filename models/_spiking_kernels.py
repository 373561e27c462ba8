"""The numba time loop of :class:`models.spiking.SpikingNetwork`.

One step of length ``dt`` follows brian2's default schedule
``['start', 'groups', 'thresholds', 'synapses', 'resets', 'end']``:

1. start:      record ``V`` of the monitored neurons (brian2's StateMonitor records here).
2. groups:     a neuron is refractory while ``step - last_spike < ref_steps``; the others
               integrate ``V`` with the old synaptic variables (explicit Euler, or the exact
               linear step for current-based synapses); every synaptic conductance/current
               then decays by its exact factor ``exp(-dt / tau)``.
3. thresholds: a non-refractory neuron with ``V > V_th`` spikes; Poisson sources spike
               (each keeps the step of its next spike, drawn from a geometric distribution,
               which is the inter-spike law of a per-step Bernoulli draw with p = rate dt).
4. synapses:   each projection propagates the spikes its source emitted ``delay - 1`` steps
               ago (a ring of per-step spike lists): ``g[channel, post] += w`` for every
               synapse of a spiking presynaptic neuron (CSR by presynaptic neuron; a
               projection with one fixed weight reads no weight array); then the plastic
               projections call their rule kernel.
5. resets:     ``V <- V_reset``, ``last_spike <- step``.

A delay of one step is brian2's ``delay = 0``: the conductance jumps in the step of the
spike and ``V`` feels it from the next step on.

Membrane equation (SI units; ``R = 1 / g_L``):

    tau_m dV/dt = E_L - V + R (I_ext + I_syn)
    conductance: I_syn = g_e (E_e - V) + g_i (E_i - V)
    current:     I_syn = I_e - I_i       (inhibitory magnitudes are subtracted)

The kernel returns at a step boundary when the spike buffer might overflow, when a
population's rate over the divergence window exceeds its bound, or when the chunk is done.

The kernel's arguments are grouped in the NamedTuples of :mod:`models._spiking_pack`. Caching
(``cache=True``, cross-module invalidation): :mod:`plasticity._numba_cache`.
"""
from __future__ import annotations

import numpy as np

from plasticity import _numba_cache  # noqa: F401  (numba's cache folder is chosen before any @njit)
from numba import njit

from plasticity.rules._spiking_dispatch import spiking_rule_step
from models._compile_choice import compile_time_choice
from models._spiking_pack import MODE_COBA_EULER, MODE_CUBA_EULER, MODE_CUBA_EXACT

__all__ = ["run_chunk", "MODE_COBA_EULER", "MODE_CUBA_EULER", "MODE_CUBA_EXACT",
           "STATUS_DONE", "STATUS_DIVERGED", "STATUS_FULL"]

STATUS_DONE, STATUS_DIVERGED, STATUS_FULL = 0, 1, 2


# 'groups' for neurons i0 .. i1-1 of one population, fused with its threshold test (each
# neuron's test needs only its own new V): flag[i] is whether neuron i spikes. One function per
# integration scheme, with and without external current: a single function branching on the
# scheme ran 3x slower (LLVM kept the loops scalar and unhoisted). The refractory test is a
# select rather than a branch. Without current, I is not read (adding 0.0 changes nothing).
# The loops run over views from index 0: with a runtime start index numba cannot prove the
# index non-negative, checks every access for wraparound, and the loop ran 5x slower.


@njit(cache=True, nogil=True)
def _coba(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag):
    vv, ll, ff = v[i0:i1], last[i0:i1], flag[i0:i1]
    ge, gi = g[0, i0:i1], g[1, i0:i1]
    for i in range(vv.shape[0]):
        vi = vv[i]
        vn = vi + c0 * (EL - vi + R * (ge[i] * (E_e - vi) + gi[i] * (E_i - vi)))
        nr = step - ll[i] >= ref
        vn = vn if nr else vi
        vv[i] = vn
        ff[i] = (vn > vth) & nr
        ge[i] *= dec_e
        gi[i] *= dec_i


@njit(cache=True, nogil=True)
def _coba_I(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag):
    vv, ll, ff = v[i0:i1], last[i0:i1], flag[i0:i1]
    ge, gi, II = g[0, i0:i1], g[1, i0:i1], I[i0:i1]
    for i in range(vv.shape[0]):
        vi = vv[i]
        vn = vi + c0 * (EL - vi + R * (II[i] + ge[i] * (E_e - vi) + gi[i] * (E_i - vi)))
        nr = step - ll[i] >= ref
        vn = vn if nr else vi
        vv[i] = vn
        ff[i] = (vn > vth) & nr
        ge[i] *= dec_e
        gi[i] *= dec_i


@njit(cache=True, nogil=True)
def _cuba(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag):
    vv, ll, ff = v[i0:i1], last[i0:i1], flag[i0:i1]
    ge, gi = g[0, i0:i1], g[1, i0:i1]
    for i in range(vv.shape[0]):
        vi = vv[i]
        vn = vi + c0 * (EL - vi + R * (ge[i] - gi[i]))
        nr = step - ll[i] >= ref
        vn = vn if nr else vi
        vv[i] = vn
        ff[i] = (vn > vth) & nr
        ge[i] *= dec_e
        gi[i] *= dec_i


@njit(cache=True, nogil=True)
def _cuba_I(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag):
    vv, ll, ff = v[i0:i1], last[i0:i1], flag[i0:i1]
    ge, gi, II = g[0, i0:i1], g[1, i0:i1], I[i0:i1]
    for i in range(vv.shape[0]):
        vi = vv[i]
        vn = vi + c0 * (EL - vi + R * (II[i] + ge[i] - gi[i]))
        nr = step - ll[i] >= ref
        vn = vn if nr else vi
        vv[i] = vn
        ff[i] = (vn > vth) & nr
        ge[i] *= dec_e
        gi[i] *= dec_i


@njit(cache=True, nogil=True)
def _exact(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag):
    vv, ll, ff = v[i0:i1], last[i0:i1], flag[i0:i1]
    ge, gi = g[0, i0:i1], g[1, i0:i1]
    for i in range(vv.shape[0]):
        vi = vv[i]
        vn = EL + (vi - EL) * c0 + R * (c1 * ge[i] - c2 * gi[i])
        nr = step - ll[i] >= ref
        vn = vn if nr else vi
        vv[i] = vn
        ff[i] = (vn > vth) & nr
        ge[i] *= dec_e
        gi[i] *= dec_i


@njit(cache=True, nogil=True)
def _exact_I(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag):
    vv, ll, ff = v[i0:i1], last[i0:i1], flag[i0:i1]
    ge, gi, II = g[0, i0:i1], g[1, i0:i1], I[i0:i1]
    for i in range(vv.shape[0]):
        vi = vv[i]
        vinf = EL + R * II[i]
        vn = vinf + (vi - vinf) * c0 + R * (c1 * ge[i] - c2 * gi[i])
        nr = step - ll[i] >= ref
        vn = vn if nr else vi
        vv[i] = vn
        ff[i] = (vn > vth) & nr
        ge[i] *= dec_e
        gi[i] *= dec_i


@njit(cache=True, nogil=True)
def _groups_coba(step, v, g, last, I, has_I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag):
    if has_I:
        _coba_I(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag)
    else:
        _coba(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag)


@njit(cache=True, nogil=True)
def _groups_cuba(step, v, g, last, I, has_I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag):
    if has_I:
        _cuba_I(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag)
    else:
        _cuba(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag)


@njit(cache=True, nogil=True)
def _groups_exact(step, v, g, last, I, has_I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag):
    if has_I:
        _exact_I(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag)
    else:
        _exact(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag)


# the V update of the network's neuron model (MODE_COBA_EULER, MODE_CUBA_EULER, MODE_CUBA_EXACT,
# passed as the marker nth(mode)): a run compiles only its own model's kernels
_groups = compile_time_choice(_groups_coba, _groups_cuba, _groups_exact)


@njit(cache=True, nogil=True)
def _collect(flag, flag64, out):
    """Append the indices with ``flag`` set to ``out``, in order; return their number.

    Spikes are rare, so 8 flags are tested at once as one 64-bit word.
    """
    c = 0
    for wd in range(flag64.shape[0]):
        if flag64[wd] != 0:
            for i in range(8 * wd, 8 * wd + 8):
                if flag[i]:
                    out[c] = i
                    c += 1
    return c


@njit(cache=True, nogil=True)
def _no_rule_step(kind, pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, indptr, indices,
                  post_indptr, post_off, post_pre, w, S_pre, S_post, P, dt):
    """A static network's stand-in for :func:`spiking_rule_step` (never called: no kind != 0)."""


# a static network's loop does not compile the spiking rules (~6 s of the first run)
_rule_step = compile_time_choice(_no_rule_step, spiking_rule_step)


@njit(cache=True, nogil=True)
def run_chunk(model, plastic, n_steps, step0, seed, n_rec0, prm, pops, drive, st, tab, syn, rec):
    """Advance the network by up to ``n_steps`` steps from global step ``step0``.

    ``model`` is ``models._compile_choice.nth(prm.mode)`` (the neuron model's V update is
    compiled in alone); ``plastic`` is :data:`models._compile_choice.STATIC` (no projection is plastic: the rules
    are not compiled in) or ``PLASTIC``. ``prm`` Params, ``pops`` Pops, ``drive`` Drive, ``st`` State (changed in place), ``tab``
    ProjTable, ``syn`` Synapses (plastic weights and rule state changed in place), ``rec``
    Record (filled from ``n_rec0`` spikes on): see :mod:`models._spiking_pack`; ``seed``
    seeds numba's generator for this chunk's Poisson draws.

    Returns ``(steps_done, n_recorded, status, diverged_pop)``; ``status`` is 0 (chunk
    done), 1 (a population's spike count over the last ``win_steps`` steps exceeded
    ``pops.max_count[pop]``: stopped after that step) or 2 (spike buffer nearly full: stopped
    before the step, nothing of it done).
    """
    np.random.seed(seed)
    v, g, last, ring, ring_cnt = st.v, st.g, st.last, st.ring, st.ring_cnt
    pois_p, pois_next = drive.pois_p, st.pois_next
    pre_scratch, post_scratch = st.pre_scratch, st.post_scratch
    pop_stop = pops.stop
    w_run, w_static = syn.w_run, syn.w_static
    indptr_all, indices_all = syn.indptr, syn.indices
    N = v.shape[0]
    n_pois = pois_p.shape[0]
    n_ring = ring.shape[0]
    n_pops = pops.start.shape[0]
    rec_step, rec_neuron = rec.step, rec.neuron
    cap = rec_step.shape[0]
    n_rec = n_rec0
    # flags padded to whole 64-bit words (the padding stays False)
    flag = np.zeros(8 * ((N + 7) // 8), dtype=np.bool_)
    flag64 = flag.view(np.uint64)
    # Poisson sources drawn for the first time in this run
    for k in range(n_pois):
        if pois_next[k] < 0:
            pois_next[k] = step0 + np.random.geometric(pois_p[k]) - 1 if pois_p[k] > 0 else 2**62
    for k in range(n_steps):
        step = step0 + k
        if n_rec + N > cap:
            return k, n_rec, STATUS_FULL, -1
        # start: monitors
        for r in range(rec.idx.shape[0]):
            rec.V[r, k] = v[rec.idx[r]]
        # groups and thresholds; this step's spikes go to ring slot step % n_ring, by index
        slot = step % n_ring
        out = ring[slot]
        I_row = drive.I_t[k] if prm.use_I_t else drive.I_ext
        for p in range(n_pops):
            _groups(model, step, v, g, last, I_row, pops.has_I[p], pops.start[p], pop_stop[p],
                    pops.R[p], pops.E_L[p], pops.V_th[p], pops.ref[p], pops.c0[p], pops.c1[p], pops.c2[p],
                    prm.E_e, prm.E_i, prm.dec_e, prm.dec_i, flag)
        c = _collect(flag, flag64, out)
        p = 0
        for s in range(c):
            while out[s] >= pop_stop[p]:
                p += 1
            st.win_count[p] += 1
        for s in range(c):
            rec_step[n_rec + s] = step
            rec_neuron[n_rec + s] = out[s]
        n_rec += c
        for q in range(n_pois):
            if pois_next[q] == step:
                ring[slot, c] = N + q
                c += 1
                pois_next[q] += np.random.geometric(pois_p[q])
        ring_cnt[slot] = c
        # synapses: propagate, then plasticity
        for j in range(tab.src.shape[0]):
            src0 = tab.src[j]
            src1 = src0 + tab.nsrc[j]
            tgt0 = tab.tgt[j]
            gch = g[tab.chan[j]]
            dslot = (step - tab.delay[j] + 1) % n_ring
            ip = tab.ip_off[j]
            so = tab.syn_off[j]
            n_pre_spk = 0
            tg = gch[tgt0:tgt0 + tab.ntgt[j]]
            wmode = tab.wmode[j]
            wconst = tab.wconst[j]
            wo = tab.woff[j]
            wsrc = w_run if wmode == 2 else w_static
            for s in range(ring_cnt[dslot]):
                src = ring[dslot, s]
                if src < src0 or src >= src1:
                    continue
                pre = src - src0
                pre_scratch[n_pre_spk] = pre
                n_pre_spk += 1
                r0 = indptr_all[ip + pre]
                r1 = indptr_all[ip + pre + 1]
                targets = indices_all[so + r0:so + r1]
                if wmode == 0:
                    for q in range(targets.shape[0]):  # unsigned index: no wraparound test
                        tg[np.uintp(targets[q])] += wconst
                else:
                    weights = wsrc[wo + r0:wo + r1]
                    for q in range(targets.shape[0]):
                        tg[np.uintp(targets[q])] += weights[q]
            if tab.kind[j] != 0:
                ntgt = tab.ntgt[j]
                n_post_spk = 0
                for s in range(c):
                    src = ring[slot, s]
                    if src >= tgt0 and src < tgt0 + ntgt:
                        post_scratch[n_post_spk] = src - tgt0
                        n_post_spk += 1
                nsrc = tab.nsrc[j]
                nsyn = indptr_all[ip + nsrc]
                pip = tab.pip_off[j]
                pso = tab.psyn_off[j]
                pre0, pre_rows = tab.pre_off[j], tab.pre_rows[j]
                post0, post_rows = tab.post_off[j], tab.post_rows[j]
                S_pre = syn.S_pre[pre0:pre0 + pre_rows * nsrc].reshape((pre_rows, nsrc))
                S_post = syn.S_post[post0:post0 + post_rows * ntgt].reshape((post_rows, ntgt))
                _rule_step(plastic, tab.kind[j], pre_scratch, n_pre_spk, post_scratch, n_post_spk,
                                  indptr_all[ip:ip + nsrc + 1], indices_all[so:so + nsyn],
                                  syn.post_indptr[pip:pip + ntgt + 1], syn.post_off[pso:pso + nsyn],
                                  syn.post_pre[pso:pso + nsyn],
                                  w_run[wo:wo + nsyn], S_pre, S_post,
                                  syn.P[tab.P_off[j]:tab.P_off[j] + tab.P_len[j]], prm.dt)
        # resets
        for s in range(c):
            i = ring[slot, s]
            if i >= N:
                break
            p = 0
            while i >= pop_stop[p]:
                p += 1
            v[i] = pops.V_reset[p]
            last[i] = step
        # divergence: population spike counts over consecutive windows
        st.win_pos[0] += 1
        if st.win_pos[0] == prm.win_steps:
            st.win_pos[0] = 0
            bad = -1
            for p in range(n_pops):
                if st.win_count[p] > pops.max_count[p] and bad < 0:
                    bad = p
                st.win_count[p] = 0
            if bad >= 0:
                return k + 1, n_rec, STATUS_DIVERGED, bad
    return n_steps, n_rec, STATUS_DONE, -1
