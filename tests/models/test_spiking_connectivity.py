"""The compact connectivity of models.SpikingNetwork: the row-by-row Bernoulli draw has the right
statistics, and the one stored copy (int64 row pointers, 16/32-bit targets, weights only when they
differ) round-trips through ``connectivity()`` (which the brian2 backend reads) and the run's result."""
from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from models._spiking_connect import _capacity, _draw_into, bernoulli_pairs, projection_csr, projection_weights
from models.spiking import LIFPopulation, PoissonPopulation, Projection, SpikingNetwork
from plasticity.rules import InhibitorySTDP, TripletSTDP


def _within_binomial(count, trials, p, z=5.0):
    m = trials * p
    return abs(count - m) <= z * math.sqrt(max(m * (1 - p), 1e-12)) + 1e-9


@pytest.mark.parametrize("n_pre, n_post, p, autapses", [
    (300, 300, 0.05, False), (300, 300, 0.05, True), (200, 500, 0.3, True), (500, 40, 0.9, False),
    (1000, 1000, 0.002, True), (50, 50, 1.0, False), (50, 70, 1.0, True), (40, 40, 0.0, True),
])
def test_draw_has_bernoulli_statistics(n_pre, n_post, p, autapses):
    rng = np.random.default_rng(7)
    pre, post = bernoulli_pairs(rng, n_pre, n_post, p, autapses=autapses)
    assert pre.dtype == post.dtype == np.int64
    skip = not autapses and n_pre == n_post
    pairs = n_pre * n_post - (n_pre if skip else 0)
    # the count: Binomial(pairs, p), within 5 standard deviations (exact for p = 0 and 1)
    assert _within_binomial(pre.size, pairs, p)
    if p in (0.0, 1.0):
        assert pre.size == round(pairs * p)
    # indices in range, sorted by pre then post, no pair twice
    assert pre.size == 0 or (pre.min() >= 0 and pre.max() < n_pre and post.min() >= 0 and post.max() < n_post)
    key = pre * n_post + post
    assert np.all(np.diff(key) > 0)
    if skip:
        assert not np.any(pre == post)
    elif p == 1.0 and n_pre == n_post:
        assert np.count_nonzero(pre == post) == n_pre  # autapses drawn like any pair
    if 0.0 < p < 1.0:
        # every row and every column is Binomial too: their mean counts within 5 SE
        rows = np.bincount(pre, minlength=n_pre)
        cols = np.bincount(post, minlength=n_post)
        per_row = (n_post - (1 if skip else 0)) * p
        assert abs(rows.mean() - per_row) <= 5 * math.sqrt(per_row * (1 - p) / n_pre)
        per_col = (n_pre - (1 if skip else 0)) * p
        assert abs(cols.mean() - per_col) <= 5 * math.sqrt(per_col * (1 - p) / n_post)
        # no position is favoured: columns spread as Binomial(n_pre, p) (variance ratio ~ 1)
        assert cols.var(ddof=1) / (per_col * (1 - p)) == pytest.approx(1.0, abs=6 * math.sqrt(2 / (n_post - 1)))
        # the diagonal pairs of a self-projection with autapses are Bernoulli(p) too
        if autapses and n_pre == n_post:
            assert _within_binomial(np.count_nonzero(pre == post), n_pre, p)


def test_draw_that_outgrows_its_room_equals_the_draw_that_did_not():
    # the row-by-row draw stops when the index array is full and resumes after growing it:
    # the result is the same numbers as with room enough (the pending index is not lost)
    n_pre, n_post, p = 400, 300, 0.1
    full_ip = np.zeros(n_pre + 1, dtype=np.int64)
    full, n_full = _draw_into(np.random.default_rng(3), n_post, p, True, full_ip,
                              np.empty(_capacity(n_pre, n_post, p, True), dtype=np.int16), 0)
    small_ip = np.zeros(n_pre + 1, dtype=np.int64)
    small, n_small = _draw_into(np.random.default_rng(3), n_post, p, True, small_ip,
                                np.empty(100 + 5, dtype=np.int16), 5)  # room for 100 after an offset of 5
    assert small.size > 105 and n_small == n_full
    np.testing.assert_array_equal(small_ip, full_ip)
    np.testing.assert_array_equal(small[5:5 + n_small], full[:n_full])


def _mixed_net(weight_dtype="float32", seed=11):
    drawn = {}

    def w_ie(rng, n):
        drawn["IE"] = rng.uniform(5e-9, 20e-9, n)
        return drawn["IE"]

    E = LIFPopulation("E", 60, t_ref=2e-3, V_init=lambda rng, n: rng.uniform(-60e-3, -50e-3, n))
    I = LIFPopulation("I", 20, t_ref=2e-3, inhibitory=True)
    projs = [Projection("E", "E", 0.2, 2e-9, autapses=False), Projection("I", "E", 0.5, w_ie, delay=2e-4),
             Projection("E", "I", 0.3, 2.5e-9), Projection("X", "E", 0.1, 3e-9)]
    net = SpikingNetwork([E, I], projs, inputs=[PoissonPopulation("X", 30, 40.0)], dt=1e-4,
                         weight_dtype=weight_dtype, seed=seed)
    return net, drawn


@pytest.mark.parametrize("weight_dtype", ["float32", "float64"])
def test_compact_storage_round_trips_through_connectivity(weight_dtype):
    net, drawn = _mixed_net(weight_dtype)
    b = net._built
    assert b.indices.dtype == np.int16 and b.indptr.dtype == np.int64 and b.weights.dtype == weight_dtype
    # fixed weights are one number each: only I->E (a callable) stores a weight per synapse
    by_name = {pr.name: pr for pr in b.projections}
    assert b.weights.size == by_name["IE"].n_syn
    assert b.indices.size == sum(pr.n_syn for pr in b.projections)
    fixed = {"EE": 2e-9, "EI": 2.5e-9, "XE": 3e-9}
    for name, pr in by_name.items():
        pre, post, w = net.connectivity(name)
        assert pre.dtype == post.dtype == np.int64 and w.dtype == np.float64
        assert pre.size == post.size == w.size == pr.n_syn > 0
        indptr, indices = projection_csr(b, pr)
        np.testing.assert_array_equal(np.bincount(pre, minlength=pr.n_pre), np.diff(indptr))
        np.testing.assert_array_equal(post, indices)
        assert np.all(np.diff(pre * pr.n_post + post) > 0)  # sorted by pre then post
        if name in fixed:
            np.testing.assert_array_equal(w, np.asarray(fixed[name], dtype=weight_dtype).astype(np.float64))
        else:
            np.testing.assert_array_equal(w, drawn["IE"].astype(weight_dtype).astype(np.float64))
        np.testing.assert_array_equal(projection_weights(b, pr), w)
        pre[:] = 0
        w[:] = -1.0  # fresh arrays: the network's copy is untouched
        assert np.array_equal(net.connectivity(name)[1], post) and net.connectivity(name)[2].min() > 0
    assert not np.any(net.connectivity("EE")[0] == net.connectivity("EE")[1])  # autapses=False


def test_run_result_is_the_stored_connectivity():
    net, _ = _mixed_net("float32")
    rules = {"EE": TripletSTDP.minimal_visual_cortex(a3_plus=1e-10, a2_minus=1e-10, w_max=6e-9),
             "IE": InhibitorySTDP(eta=2e-10, target_rate=5.0, tau=20e-3, w_max=40e-9)}
    res = net.run(0.2, plasticity=rules, record_weights_every=0.1)
    assert "EE" in res.weights and "EI" not in res.weights and sorted(res.synapses) == ["EE", "IE"]
    for name in rules:
        pre, post, w = net.connectivity(name)
        rp, rq = res.synapses[name]
        np.testing.assert_array_equal(rp, pre)
        np.testing.assert_array_equal(rq, post)
        W = res.weights[name]
        assert W.dtype == np.float64 and W.shape == (3, pre.size)  # at 0, 0.1 and 0.2 s
        np.testing.assert_array_equal(W[0], w)
        assert np.all(W[-1] == W[-1].astype(np.float32))  # float32 storage, read as float64
        assert res.weights[name] is W  # made once
    assert not np.array_equal(res.weights["EE"][-1], res.weights["EE"][0])
    # the network's initial weights are untouched by the run, so a second run repeats the first
    again = net.run(0.2, plasticity=rules, record_weights_every=0.1)
    np.testing.assert_array_equal(again.weights["IE"], res.weights["IE"])
    np.testing.assert_array_equal(again.spike_indices, res.spike_indices)
    back = pickle.loads(pickle.dumps(res))
    np.testing.assert_array_equal(back.weights["IE"], res.weights["IE"])
    np.testing.assert_array_equal(back.synapses["EE"][1], res.synapses["EE"][1])


def test_large_targets_get_32_bit_indices():
    # a target population of 32768 neurons or more no longer fits 16-bit indices
    big = LIFPopulation("B", 40000)
    net = SpikingNetwork([big], [Projection("X", "B", 0.002, 1e-9)], inputs=[PoissonPopulation("X", 50, 1.0)],
                         seed=0)
    b = net._built
    assert b.indices.dtype == np.int32
    pre, post, w = net.connectivity("XB")
    assert _within_binomial(pre.size, 50 * 40000, 0.002)
    assert post.max() >= 2**15  # the indices above int16 survive
    np.testing.assert_array_equal(post, b.indices)
    assert b.weights.size == 0 and np.all(w == np.float32(1e-9))
