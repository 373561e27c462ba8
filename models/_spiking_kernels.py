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

numba's on-disk cache checks only the stamp of the file that defines a function, not of the
functions it calls, so an edited rule kernel would be served stale from this module's cache;
:func:`_track_rule_sources` makes this module's cache stamp cover the rule modules too.
"""
from __future__ import annotations

import os

import numpy as np
from numba import njit


def _track_rule_sources() -> None:
    """Make numba's cache for this file stale whenever a spiking-rule source file changes."""
    try:
        from numba.core import caching
    except ImportError:  # pragma: no cover - numba internals moved: plain caching
        return
    import plasticity.rules

    here = os.path.abspath(__file__)
    rules_dir = os.path.dirname(os.path.abspath(plasticity.rules.__file__))
    deps = [here] + [os.path.join(rules_dir, f) for f in sorted(os.listdir(rules_dir)) if f.endswith(".py")]

    def stamp(self):
        return tuple((os.path.basename(p), os.stat(p).st_mtime, os.stat(p).st_size) for p in deps if os.path.exists(p))

    def only_here(base):
        class Locator(base):
            get_source_stamp = stamp

            @classmethod
            def from_function(cls, py_func, py_file):
                if os.path.abspath(py_file) != here:
                    return None
                return super().from_function(py_func, py_file)

        Locator.__name__ = f"Spiking{base.__name__}"
        return Locator

    impl = getattr(caching, "_CacheImpl", None) or getattr(caching, "CacheImpl", None)
    if impl is None or not hasattr(impl, "_locator_classes"):  # pragma: no cover
        return
    if not any(c.__name__.startswith("Spiking") for c in impl._locator_classes):
        impl._locator_classes = [only_here(caching.UserProvidedCacheLocator),
                                 only_here(caching.InTreeCacheLocator)] + list(impl._locator_classes)


_track_rule_sources()

from plasticity.rules._spiking_dispatch import spiking_rule_step  # noqa: E402

__all__ = ["run_chunk", "MODE_COBA_EULER", "MODE_CUBA_EULER", "MODE_CUBA_EXACT"]

MODE_COBA_EULER, MODE_CUBA_EULER, MODE_CUBA_EXACT = 0, 1, 2
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
    ge, gi, II = g[0, i0:i1], g[1, i0:i1], I[i0:i1]
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
    ge, gi, II = g[0, i0:i1], g[1, i0:i1], I[i0:i1]
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
    ge, gi, II = g[0, i0:i1], g[1, i0:i1], I[i0:i1]
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
def _groups(mode, step, v, g, last, I, has_I, i0, i1, R, EL, vth, ref, c0, c1, c2,
            E_e, E_i, dec_e, dec_i, flag):
    if mode == 0:
        if has_I:
            _coba_I(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag)
        else:
            _coba(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag)
    elif mode == 1:
        if has_I:
            _cuba_I(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag)
        else:
            _cuba(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag)
    else:
        if has_I:
            _exact_I(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag)
        else:
            _exact(step, v, g, last, I, i0, i1, R, EL, vth, ref, c0, c1, c2, E_e, E_i, dec_e, dec_i, flag)


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
def run_chunk(n_steps, step0, dt, mode, seed,
              v, g, last, I_ext, I_t, use_I_t,
              pop_start, pop_stop, pop_hasI, pop_R, pop_EL, pop_Vth, pop_Vreset, pop_ref,
              pop_c0, pop_c1, pop_c2, E_e, E_i, dec_e, dec_i,
              pois_p, pois_next,
              ring, ring_cnt,
              pr_src, pr_nsrc, pr_tgt, pr_ntgt, pr_chan, pr_delay, pr_ip_off, pr_syn_off,
              pr_kind, pr_pip_off, pr_psyn_off, pr_pre_off, pr_pre_rows, pr_post_off, pr_post_rows,
              pr_P_off, pr_P_len, pr_wmode, pr_wconst, pr_woff,
              indptr_all, indices_all, w_static, w_run, post_indptr_all, post_off_all, post_pre_all,
              S_pre_all, S_post_all, P_all, pre_scratch, post_scratch,
              rec_idx, rec_v, rec_step, rec_neuron, n_rec0,
              win_steps, win_count, win_pos, max_count):
    """Advance the network by up to ``n_steps`` steps from global step ``step0``.

    Returns ``(steps_done, n_recorded, status, diverged_pop)``; ``status`` is 0 (chunk
    done), 1 (a population's spike count over the last ``win_steps`` steps exceeded
    ``max_count[pop]``: stopped after that step) or 2 (spike buffer nearly full: stopped
    before the step, nothing of it done).

    Connectivity of projection ``j``: row pointer ``indptr_all[pr_ip_off[j]:]`` (relative to
    ``pr_syn_off[j]``) and targets ``indices_all[pr_syn_off[j]:]``; its weights are the number
    ``pr_wconst[j]`` (``pr_wmode[j] == 0``), ``w_static[pr_woff[j]:]`` (1: fixed, read only) or
    ``w_run[pr_woff[j]:]`` (2: plastic, changed in place). A plastic projection's by-post index
    starts at ``pr_psyn_off[j]`` in ``post_off_all`` and ``post_pre_all``.
    """
    np.random.seed(seed)
    N = v.shape[0]
    n_pois = pois_p.shape[0]
    n_ring = ring.shape[0]
    n_pops = pop_start.shape[0]
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
        for r in range(rec_idx.shape[0]):
            rec_v[r, k] = v[rec_idx[r]]
        # groups and thresholds; this step's spikes go to ring slot step % n_ring, by index
        slot = step % n_ring
        out = ring[slot]
        I_row = I_t[k] if use_I_t else I_ext
        for p in range(n_pops):
            _groups(mode, step, v, g, last, I_row, pop_hasI[p], pop_start[p], pop_stop[p],
                    pop_R[p], pop_EL[p], pop_Vth[p], pop_ref[p], pop_c0[p], pop_c1[p], pop_c2[p],
                    E_e, E_i, dec_e, dec_i, flag)
        c = _collect(flag, flag64, out)
        p = 0
        for s in range(c):
            while out[s] >= pop_stop[p]:
                p += 1
            win_count[p] += 1
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
        for j in range(pr_src.shape[0]):
            src0 = pr_src[j]
            src1 = src0 + pr_nsrc[j]
            tgt0 = pr_tgt[j]
            gch = g[pr_chan[j]]
            dslot = (step - pr_delay[j] + 1) % n_ring
            ip = pr_ip_off[j]
            so = pr_syn_off[j]
            n_pre_spk = 0
            tg = gch[tgt0:tgt0 + pr_ntgt[j]]
            wmode = pr_wmode[j]
            wconst = pr_wconst[j]
            wo = pr_woff[j]
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
            if pr_kind[j] != 0:
                ntgt = pr_ntgt[j]
                n_post_spk = 0
                for s in range(c):
                    src = ring[slot, s]
                    if src >= tgt0 and src < tgt0 + ntgt:
                        post_scratch[n_post_spk] = src - tgt0
                        n_post_spk += 1
                nsrc = pr_nsrc[j]
                nsyn = indptr_all[ip + nsrc]
                pip = pr_pip_off[j]
                pso = pr_psyn_off[j]
                S_pre = S_pre_all[pr_pre_off[j]:pr_pre_off[j] + pr_pre_rows[j] * nsrc].reshape((pr_pre_rows[j], nsrc))
                S_post = S_post_all[pr_post_off[j]:pr_post_off[j] + pr_post_rows[j] * ntgt].reshape((pr_post_rows[j], ntgt))
                spiking_rule_step(pr_kind[j], pre_scratch, n_pre_spk, post_scratch, n_post_spk,
                                  indptr_all[ip:ip + nsrc + 1], indices_all[so:so + nsyn],
                                  post_indptr_all[pip:pip + ntgt + 1], post_off_all[pso:pso + nsyn],
                                  post_pre_all[pso:pso + nsyn],
                                  w_run[wo:wo + nsyn], S_pre, S_post,
                                  P_all[pr_P_off[j]:pr_P_off[j] + pr_P_len[j]], dt)
        # resets
        for s in range(c):
            i = ring[slot, s]
            if i >= N:
                break
            p = 0
            while i >= pop_stop[p]:
                p += 1
            v[i] = pop_Vreset[p]
            last[i] = step
        # divergence: population spike counts over consecutive windows
        win_pos[0] += 1
        if win_pos[0] == win_steps:
            win_pos[0] = 0
            bad = -1
            for p in range(n_pops):
                if win_count[p] > max_count[p] and bad < 0:
                    bad = p
                win_count[p] = 0
            if bad >= 0:
                return k + 1, n_rec, STATUS_DIVERGED, bad
    return n_steps, n_rec, STATUS_DONE, -1
