"""One numba entry point over every spiking rule's sparse kernel, for the spiking network.

``spiking_rule_step(kind, pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, indptr,
indices, post_indptr, post_off, post_pre, w, S_pre, S_post, P, dt)`` runs one step of the rule
whose ``SpikingRule.kind`` is ``kind`` on one plastic projection; the arguments are described
in :mod:`plasticity.rules._spiking_base`. Kind codes are fixed here (apart from the rate
rules' codes 1-6 in :mod:`plasticity.rules._dispatch`):

    0 static (nothing happens)   10 PairSTDP   11 TripletSTDP   12 InhibitorySTDP
    13 SpikingSynapticScaling

An unknown code leaves everything untouched, like 0; the Python side maps a rule to its code
(``rule.kind``), so a network never builds a code by hand.

Caching: this dispatcher and its callers (the network loop) are cached by numba with the rule
kernels inlined; an edited rule kernel still takes effect at the next run because the cache
folder is keyed on all the project's sources (:mod:`plasticity._numba_cache`).
"""
from __future__ import annotations

from numba import njit

from plasticity.rules.inhibitory import istdp_sparse
from plasticity.rules.spiking_scaling import spiking_scaling_sparse
from plasticity.rules.stdp import pair_stdp_sparse
from plasticity.rules.triplet import triplet_sparse

__all__ = ["spiking_rule_step", "STATIC", "PAIR_STDP", "TRIPLET_STDP", "INHIBITORY_STDP", "SPIKING_SCALING"]

STATIC, PAIR_STDP, TRIPLET_STDP, INHIBITORY_STDP, SPIKING_SCALING = 0, 10, 11, 12, 13


@njit(cache=True, nogil=True)
def spiking_rule_step(kind, pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, indptr, indices,
                      post_indptr, post_off, post_pre, w, S_pre, S_post, P, dt):
    if kind == PAIR_STDP:
        pair_stdp_sparse(pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, indptr, indices,
                         post_indptr, post_off, post_pre, w, S_pre, S_post, P, dt)
    elif kind == TRIPLET_STDP:
        triplet_sparse(pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, indptr, indices,
                       post_indptr, post_off, post_pre, w, S_pre, S_post, P, dt)
    elif kind == INHIBITORY_STDP:
        istdp_sparse(pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, indptr, indices,
                     post_indptr, post_off, post_pre, w, S_pre, S_post, P, dt)
    elif kind == SPIKING_SCALING:
        spiking_scaling_sparse(pre_spikes, n_pre_spikes, post_spikes, n_post_spikes, indptr, indices,
                               post_indptr, post_off, post_pre, w, S_pre, S_post, P, dt)
