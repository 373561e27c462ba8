"""What the spiking kernel reads: a few typed containers, and the packing of a built network.

numba takes no dataclasses; it takes NamedTuples of arrays and scalars (heterogeneous tuples,
cacheable), so :func:`models._spiking_kernels.run_chunk` gets its ~60 arrays and scalars in
seven groups, each a NamedTuple declared here once:

=============  =============================================================================
``Params``     scalars fixed for a run (step, integration mode, reversal potentials, decays)
``Pops``       per-population vectors ``(n_pops,)`` (bounds, LIF parameters, V-update
               coefficients, divergence bound)
``Drive``      external current and Poisson probabilities
``State``      everything a chunk changes and the next continues from
``ProjTable``  per-projection vectors ``(n_proj,)``: offsets into ``Synapses`` and codes
``Synapses``   the concatenated connectivity, weights, by-post indexes and rule state/params
``Record``     monitors and the spike buffer
=============  =============================================================================

On the Python side :func:`pack_projections` returns a :class:`PackedProjections` (frozen):
the ``ProjTable`` and ``Synapses`` of a run plus where each plastic projection's weights sit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from plasticity.rules._spiking_base import fill_post_index
from models._spiking_connect import projection_csr, projection_weights

__all__ = ["Params", "Pops", "Drive", "State", "ProjTable", "Synapses", "Record", "PackedProjections",
           "pack_projections", "pack_pops", "MODE_COBA_EULER", "MODE_CUBA_EULER", "MODE_CUBA_EXACT"]

MODE_COBA_EULER, MODE_CUBA_EULER, MODE_CUBA_EXACT = 0, 1, 2


class Params(NamedTuple):
    """Scalars of a run."""

    dt: float          # step (s)
    mode: int          # MODE_*: V update of every population
    E_e: float         # reversal potentials (V), conductance synapses
    E_i: float
    dec_e: float       # exp(-dt / tau_exc), exp(-dt / tau_inh)
    dec_i: float
    use_I_t: bool      # read the current from Drive.I_t[k] (time-dependent) rather than I_ext
    win_steps: int     # divergence window (steps)


class Pops(NamedTuple):
    """Per-population vectors ``(n_pops,)``; neurons ``start[p] .. stop[p] - 1``."""

    start: np.ndarray      # int64
    stop: np.ndarray       # int64
    has_I: np.ndarray      # bool: any external current
    R: np.ndarray          # float64 (ohm)
    E_L: np.ndarray
    V_th: np.ndarray
    V_reset: np.ndarray
    ref: np.ndarray        # int64 refractory steps
    c0: np.ndarray         # V-update coefficients (see models._spiking_kernels)
    c1: np.ndarray
    c2: np.ndarray
    max_count: np.ndarray  # float64: spikes per window above which the run has diverged


class Drive(NamedTuple):
    I_ext: np.ndarray   # (N,) constant current (A)
    I_t: np.ndarray     # (steps, N) current of this chunk when Params.use_I_t, else (1, 1)
    pois_p: np.ndarray  # (n_pois,) spike probability per step


class State(NamedTuple):
    """Changed in place by a chunk; the next chunk continues from it."""

    v: np.ndarray             # (N,) float64
    g: np.ndarray             # (2, N) exc, inh synaptic variables
    last: np.ndarray          # (N,) int32 step of the last spike
    pois_next: np.ndarray     # (n_pois,) int64 step of each source's next spike (-1: not drawn yet)
    ring: np.ndarray          # (n_ring, N + n_pois) int64 spikes of the last n_ring steps
    ring_cnt: np.ndarray      # (n_ring,) int64
    win_count: np.ndarray     # (n_pops,) int64 spikes in the current window
    win_pos: np.ndarray       # (1,) int64 steps into the window
    pre_scratch: np.ndarray   # int64 spiking presynaptic neurons of one projection
    post_scratch: np.ndarray  # int64 spiking postsynaptic neurons of one projection


class ProjTable(NamedTuple):
    """Per-projection vectors ``(n_proj,)``, int64 except ``wconst``.

    Connectivity of projection ``j``: row pointer ``Synapses.indptr[ip_off[j]:]`` (relative to
    ``syn_off[j]``), targets ``Synapses.indices[syn_off[j]:]``. Weights: the number
    ``wconst[j]`` (``wmode[j] == 0``), ``Synapses.w_static[woff[j]:]`` (1: fixed) or
    ``Synapses.w_run[woff[j]:]`` (2: plastic, changed in place). A plastic projection's by-post
    index: ``post_indptr[pip_off[j]:]``, ``post_off``/``post_pre`` from ``psyn_off[j]``; its
    rule state ``S_pre[pre_off[j]:]`` (``pre_rows[j]`` rows), ``S_post[post_off[j]:]``
    (``post_rows[j]`` rows), parameters ``P[P_off[j]:P_off[j] + P_len[j]]``, rule ``kind[j]``
    (0: static).
    """

    src: np.ndarray     # first source index (neurons, then Poisson sources from N)
    nsrc: np.ndarray
    tgt: np.ndarray
    ntgt: np.ndarray
    chan: np.ndarray    # 0 excitatory, 1 inhibitory
    delay: np.ndarray   # steps >= 1
    ip_off: np.ndarray
    syn_off: np.ndarray
    kind: np.ndarray
    pip_off: np.ndarray
    psyn_off: np.ndarray
    pre_off: np.ndarray
    pre_rows: np.ndarray
    post_off: np.ndarray
    post_rows: np.ndarray
    P_off: np.ndarray
    P_len: np.ndarray
    wmode: np.ndarray
    woff: np.ndarray
    wconst: np.ndarray  # float64


class Synapses(NamedTuple):
    indptr: np.ndarray       # int64, the build's (not copied)
    indices: np.ndarray      # int16/int32, the build's
    w_static: np.ndarray     # weight dtype, the build's
    w_run: np.ndarray        # weight dtype: plastic weights, a copy
    post_indptr: np.ndarray  # int64
    post_off: np.ndarray     # place of a synapse in its presynaptic row
    post_pre: np.ndarray     # its presynaptic neuron
    S_pre: np.ndarray        # float64 rule state
    S_post: np.ndarray
    P: np.ndarray            # float64 rule parameters


class Record(NamedTuple):
    idx: np.ndarray     # (n_rec,) int64 neurons whose V is recorded
    V: np.ndarray       # (n_rec, steps) of this chunk
    step: np.ndarray    # spike buffer: step and neuron of each spike
    neuron: np.ndarray


@dataclass(frozen=True)
class PackedProjections:
    """A run's projections as the kernel reads them (:func:`pack_projections`)."""

    table: ProjTable
    syn: Synapses
    plastic: dict          # name -> slice of Synapses.w_run, for plastic projections in build order

    @property
    def max_delay(self) -> int:
        return int(max(self.table.delay.max(initial=1), 1))


_TABLE_INT = [f for f in ProjTable._fields if f != "wconst"]


def pack_projections(built, plastic: dict, weight_dtype) -> PackedProjections:
    """Projection table, plastic weights and by-post indexes of a run.

    The connectivity is the build's own (``indptr``, ``indices``, fixed ``w_static``: not
    copied). Each plastic projection (``plastic``: name -> spiking rule) gets a copy of its
    initial weights in ``w_run`` and its by-post index (``post_indptr``, ``post_off``,
    ``post_pre``), filled in place without temporaries of the synapse count.
    """
    prs = built.projections
    max_pre = max([p.n_pre for p in prs], default=1)
    pre_t = np.int16 if max_pre < 2**15 else np.int32
    J = len(prs)
    t = {k: np.zeros(J, dtype=np.int64) for k in _TABLE_INT}
    t["wconst"] = np.zeros(J, dtype=np.float64)
    plastic_prs = [pr for pr in prs if pr.name in plastic]
    n_run = sum(pr.n_syn for pr in plastic_prs)
    w_run = np.empty(n_run, dtype=weight_dtype)
    post_indptr = np.zeros(sum(pr.n_post + 1 for pr in plastic_prs), dtype=np.int64)
    post_off = np.empty(n_run, dtype=built.indices.dtype)
    post_pre = np.empty(n_run, dtype=pre_t)
    S_pre, S_post, P, slices = [], [], [], {}
    pip = run = pre = post = P_at = 0
    for j, pr in enumerate(prs):
        for key, val in (("src", pr.src_start), ("nsrc", pr.n_pre), ("tgt", pr.tgt_start),
                         ("ntgt", pr.n_post), ("chan", pr.channel), ("delay", pr.delay),
                         ("ip_off", pr.ip_off), ("syn_off", pr.syn_off)):
            t[key][j] = val
        rule = plastic.get(pr.name)
        if rule is None:
            if pr.w_off < 0:
                t["wconst"][j] = pr.w_const
            else:
                t["wmode"][j], t["woff"][j] = 1, pr.w_off
            continue
        n_syn, n_post = pr.n_syn, pr.n_post
        sl = slice(run, run + n_syn)
        w_run[sl] = projection_weights(built, pr)
        fill_post_index(*projection_csr(built, pr), post_indptr[pip:pip + n_post + 1], post_off[sl], post_pre[sl])
        sp, so = rule.init_sparse_state(n_post, pr.n_pre)
        params = np.asarray(rule._params(), dtype=np.float64)
        for key, val in (("kind", rule.kind), ("pip_off", pip), ("psyn_off", run), ("pre_off", pre),
                         ("pre_rows", sp.shape[0]), ("post_off", post), ("post_rows", so.shape[0]),
                         ("P_off", P_at), ("P_len", params.size), ("wmode", 2), ("woff", run)):
            t[key][j] = val
        S_pre.append(sp.ravel())
        S_post.append(so.ravel())
        P.append(params)
        slices[pr.name] = sl
        pip += n_post + 1
        run += n_syn
        pre += sp.size
        post += so.size
        P_at += params.size

    def cat(parts):
        return np.ascontiguousarray(np.concatenate(parts) if parts else np.zeros(1), dtype=np.float64)

    syn = Synapses(indptr=built.indptr, indices=built.indices, w_static=built.weights, w_run=w_run,
                   post_indptr=post_indptr, post_off=post_off, post_pre=post_pre,
                   S_pre=cat(S_pre), S_post=cat(S_post), P=cat(P))
    return PackedProjections(ProjTable(**t), syn, slices)


def pack_pops(net, max_rate: float, win_steps: int) -> tuple[int, Pops]:
    """Mode code and :class:`Pops` of ``net`` (``max_rate`` in Hz, window in steps).

    V update of neuron ``i`` (``R`` its resistance, ``I`` its external current, ``ge, gi`` the
    synaptic variables), per mode:

        MODE_COBA_EULER  V += c0 (E_L - V + R (I + ge (E_e - V) + gi (E_i - V))),  c0 = dt / tau_m
        MODE_CUBA_EULER  V += c0 (E_L - V + R (I + ge - gi))
        MODE_CUBA_EXACT  V  = V_inf + (V - V_inf) c0 + R (c1 ge - c2 gi),  V_inf = E_L + R I,
                         c0 = exp(-dt / tau_m), c1 and c2 V's response over one step to a unit
                         R I decaying with tau_exc and tau_inh (exact integration of the ODE).
    """
    b, dt = net._built, net.dt
    pa = b.pop_arrays
    tau = pa["tau_m"]
    if net.method == "euler":
        mode = MODE_COBA_EULER if net.synapse == "conductance" else MODE_CUBA_EULER
        c0, c1, c2 = dt / tau, np.zeros_like(tau), np.zeros_like(tau)
    else:
        a = np.exp(-dt / tau)

        def response(tau_s):  # V's response over one step to a unit R*I that decays with tau_s
            d = np.exp(-dt / tau_s)
            same = np.isclose(tau, tau_s, rtol=1e-12)
            return np.where(same, dt / tau * a, tau_s / np.where(same, 1.0, tau_s - tau) * (d - a))

        mode, c0, c1, c2 = MODE_CUBA_EXACT, a, response(net.tau_exc), response(net.tau_inh)
    has_I = np.array([bool(np.any(b.I_const[b.slices[name]] != 0.0)) or any(sl == b.slices[name] for sl, _ in b.I_funcs)
                      for name in b.names])
    sizes = (pa["stop"] - pa["start"]).astype(np.float64)
    max_count = max_rate * sizes * win_steps * dt
    return mode, Pops(pa["start"], pa["stop"], has_I, pa["R"], pa["E_L"], pa["V_th"], pa["V_reset"],
                      pa["ref_steps"], c0, c1, c2, max_count)
