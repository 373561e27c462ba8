"""Spiking rules: the three formulations agree, and each rule shows its analytic signature.

Three formulations of every rule (numpy reference, dense numba kernel, sparse event-driven
kernel) must agree to rounding. The physics is checked against closed forms: the pair-STDP
window, soft and hard bounds, nearest-spike against all-to-all interactions, the triplet
rule's BCM-like drift under Poisson firing (Pfister & Gerstner 2006), its sliding
threshold, the iSTDP drift of Vogels et al. (2011), and closed-loop synaptic scaling.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

import _spiking_cases  # registered by tests/conftest.py (loaded by path: any import mode)
from plasticity.rules import InhibitorySTDP, PairSTDP, SpikingSynapticScaling, TripletSTDP
from plasticity.rules._spiking_base import post_index
from plasticity.rules._spiking_dispatch import spiking_rule_step
from plasticity.rules.stdp import pair_stdp_sparse


CASES = list(_spiking_cases.SPIKING_RULES)


def rule_id(rule) -> str:
    return f"{type(rule).__name__}-{getattr(rule, 'interaction', '')}-{getattr(rule, 'bounds', '')}"


def random_spikes(rng, n_steps, n, p):
    return rng.random((n_steps, n)) < p


def sparse_projection(mask):
    """CSR-by-pre arrays of the synapses ``mask[post, pre]`` (all int64)."""
    n_post, n_pre = mask.shape
    by_pre = mask.T
    indptr = np.concatenate([[0], np.cumsum(by_pre.sum(axis=1))]).astype(np.int64)
    indices = np.nonzero(by_pre)[1].astype(np.int64)
    return (indptr, indices, *post_index(indptr, indices, n_post))


def run_sparse(rule, W0, mask, pres, posts, dt, int_dtype=np.int64, w_dtype=np.float64):
    indptr, indices, post_indptr, post_off, post_pre = sparse_projection(mask)
    ints = [a.astype(int_dtype) for a in (indptr, indices, post_indptr, post_off, post_pre)]
    w = W0.T[mask.T].astype(w_dtype)  # synapse order = CSR by pre, post ascending
    S_pre, S_post = rule.init_sparse_state(*W0.shape)
    P = rule._params()
    for pre, post in zip(pres, posts):
        a, b = np.flatnonzero(pre), np.flatnonzero(post)
        spiking_rule_step(rule.kind, a, a.size, b, b.size, *ints, w, S_pre, S_post, P, dt)
    W = np.zeros(W0.shape)
    W.T[mask.T] = w
    return W, S_pre, S_post


# -- the three formulations agree ---------------------------------------------------------------
@pytest.mark.parametrize("rule", CASES, ids=rule_id)
def test_dense_kernel_matches_reference_over_many_steps(rule):
    rng = np.random.default_rng(10)
    n_post, n_pre, dt = 13, 9, 2e-3
    W_fast = np.clip(rng.uniform(0.1, 0.9, (n_post, n_pre)), *rule.weight_bounds())  # update refuses W outside
    W_ref = W_fast.copy()
    s_fast, s_ref = rule.init_state(n_post, n_pre), rule.init_state(n_post, n_pre)
    for pre, post in zip(random_spikes(rng, 2000, n_pre, 0.05), random_spikes(rng, 2000, n_post, 0.05)):
        rule.update(W_fast, pre, post, s_fast, dt)
        rule.reference_update(W_ref, pre, post, s_ref, dt)
    # Same float64 operations in the same order, except numpy's exp in the scaling rule
    # (< 1 ulp apart from libm's): differences stay at a few ulps after 2000 steps.
    np.testing.assert_allclose(W_fast, W_ref, rtol=1e-12, atol=1e-14)
    for name in rule.pre_fields + rule.post_fields:
        np.testing.assert_allclose(getattr(s_fast, name), getattr(s_ref, name), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("density", [1.0, 0.3], ids=["all-to-all", "random-sparse"])
@pytest.mark.parametrize("rule", CASES, ids=rule_id)
def test_sparse_kernel_matches_dense_reference(rule, density):
    rng = np.random.default_rng(11)
    n_post, n_pre, dt, steps = 12, 17, 2e-3, 1500
    mask = rng.random((n_post, n_pre)) < density
    lo, hi = rule.weight_bounds()  # update refuses weights outside the bounds
    W0 = np.where(mask, np.clip(rng.uniform(0.1, 0.9, (n_post, n_pre)), lo, hi), 0.0)
    pres, posts = random_spikes(rng, steps, n_pre, 0.05), random_spikes(rng, steps, n_post, 0.05)
    hold = max(lo, 0.0)  # an absent synapse changes no other weight: held at a value inside the bounds
    W_ref, state = np.where(mask, W0, hold), rule.init_state(n_post, n_pre)
    for pre, post in zip(pres, posts):
        rule.reference_update(W_ref, pre, post, state, dt)
        W_ref[~mask] = hold  # absent synapses are held fixed
    W_sp, S_pre, S_post = run_sparse(rule, W0, mask, pres, posts, dt)
    # Same operations per synapse in the same order: rounding-level agreement (see above).
    np.testing.assert_allclose(W_sp[mask], W_ref[mask], rtol=1e-12, atol=1e-14)
    assert not np.array_equal(W_ref[mask], W0[mask])
    S_pre_ref, S_post_ref = rule.pack(state)
    np.testing.assert_allclose(S_post, S_post_ref, rtol=1e-12, atol=1e-14)
    if rule.pre_fields:
        np.testing.assert_allclose(S_pre, S_pre_ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("rule", CASES[:1] + CASES[2:3], ids=rule_id)
def test_sparse_kernel_narrow_dtypes(rule):
    # int32 indices and float32 weights (16 bytes per plastic synapse) follow the float64 run.
    rng = np.random.default_rng(12)
    mask = rng.random((10, 14)) < 0.4
    W0 = np.where(mask, rng.uniform(0.2, 0.8, mask.shape), 0.0)
    pres, posts = random_spikes(rng, 500, 14, 0.05), random_spikes(rng, 500, 10, 0.05)
    W64, _, _ = run_sparse(rule, W0, mask, pres, posts, 2e-3)
    W32, _, _ = run_sparse(rule, W0, mask, pres, posts, 2e-3, int_dtype=np.int32, w_dtype=np.float32)
    # float32 storage rounds each weight at every change (eps 6e-8 relative); a few hundred
    # changes of weights O(1) accumulate to well below 1e-5.
    np.testing.assert_allclose(W32[mask], W64[mask], rtol=0, atol=1e-5)


def test_post_index_lists_every_synapse_once():
    rng = np.random.default_rng(13)
    mask = rng.random((6, 8)) < 0.5
    indptr, indices, post_indptr, post_off, post_pre = sparse_projection(mask)
    pre_of = np.repeat(np.arange(8), np.diff(indptr))
    post_syn = indptr[post_pre] + post_off  # entry q is synapse indptr[post_pre[q]] + post_off[q]
    assert np.all((post_off >= 0) & (post_off < np.diff(indptr)[post_pre]))
    assert sorted(post_syn) == list(range(indices.size))
    for i in range(6):
        syn = post_syn[post_indptr[i]:post_indptr[i + 1]]
        assert np.all(np.diff(syn) > 0)  # increasing within a group
        assert np.all(indices[syn] == i)
        np.testing.assert_array_equal(post_pre[post_indptr[i]:post_indptr[i + 1]], pre_of[syn])
        np.testing.assert_array_equal(np.sort(pre_of[syn]), np.flatnonzero(mask[i]))


def test_dispatch_is_the_rule_kernel_and_static_does_nothing():
    rule = CASES[0]
    rng = np.random.default_rng(14)
    mask = np.ones((4, 5), dtype=bool)
    arrays = sparse_projection(mask)
    w1 = rng.uniform(0.2, 0.8, 20)
    w2, w3 = w1.copy(), w1.copy()
    states = [rule.init_sparse_state(4, 5) for _ in range(3)]
    a, b = np.array([1, 3]), np.array([0, 2])
    for _ in range(3):
        pair_stdp_sparse(a, 2, b, 2, *arrays, w1, *states[0], rule._params(), 1e-3)
        spiking_rule_step(rule.kind, a, 2, b, 2, *arrays, w2, *states[1], rule._params(), 1e-3)
        spiking_rule_step(0, a, 2, b, 2, *arrays, w3, *states[2], rule._params(), 1e-3)
    np.testing.assert_array_equal(w1, w2)  # the same compiled arithmetic: identical bits
    np.testing.assert_array_equal(states[0][1], states[1][1])
    assert not np.array_equal(w1, w3)
    np.testing.assert_array_equal(states[2][1], 0.0)


@pytest.mark.parametrize("rule", CASES, ids=rule_id)
def test_pack_unpack_round_trip(rule):
    state = rule.init_state(3, 4)
    for k, name in enumerate(rule.pre_fields + rule.post_fields):
        getattr(state, name)[...] = np.arange(getattr(state, name).size) + 10.0 * k
    S_pre, S_post = rule.pack(state)
    assert S_pre.shape == ((len(rule.pre_fields), 4) if rule.pre_fields else (0, 0))
    assert S_post.shape == (len(rule.post_fields), 3)
    fresh = rule.init_state(3, 4)
    rule.unpack(S_pre, S_post, fresh)
    for name in rule.pre_fields + rule.post_fields:
        np.testing.assert_array_equal(getattr(fresh, name), getattr(state, name))


def test_trace_on_the_wrong_side_is_refused():
    rule = CASES[0]
    state = rule.init_state(3, 4)
    state.x = np.zeros(3)  # a pre trace sized like the post population
    with pytest.raises(ValueError, match=r"state\.x has shape \(3,\); expected \(4,\) = n_pre"):
        rule.update(np.full((3, 4), 0.5), np.zeros(4), np.zeros(3), state, 1e-3)


@pytest.mark.parametrize("method", ["update", "reference_update"])
def test_silent_traces_flush_to_zero_instead_of_going_subnormal(method):
    rule = PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=0.01, tau_minus=0.01)
    W, state = np.full((1, 1), 0.5), rule.init_state(1, 1)
    getattr(rule, method)(W, np.ones(1), np.ones(1), state, 1.0)
    for _ in range(3):  # e^-100 per step: 1e-130 after three steps, below TINY = 1e-100
        getattr(rule, method)(W, np.zeros(1), np.zeros(1), state, 1.0)
    assert state.x[0] == 0.0 and state.y[0] == 0.0


# -- pair STDP: window, bounds, interactions ------------------------------------------------------
def pair_dw(rule, pre_steps, post_steps, w0=0.5, dt=1e-4):
    """Weight change of one synapse for spikes at the given step numbers."""
    W, state = np.array([[w0]]), rule.init_state(1, 1)
    for t in range(max(pre_steps + post_steps) + 1):
        rule.update(W, np.array([t in pre_steps]), np.array([t in post_steps]), state, dt)
    return W[0, 0] - w0


def test_pair_stdp_reproduces_the_classic_window():
    rule = PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=0.017, tau_minus=0.034)
    dt = 1e-4
    for lag in (-400, -120, -7, -1, 0, 1, 9, 150, 400):  # Delta t = t_post - t_pre in steps
        t_pre, t_post = (10, 10 + lag) if lag >= 0 else (10 - lag, 10)
        got = pair_dw(rule, [t_pre], [t_post], dt=dt)
        delta = lag * dt
        want = rule.a_plus * math.exp(-delta / rule.tau_plus) if lag >= 0 else -rule.a_minus * math.exp(delta / rule.tau_minus)
        # Exact trace decay: only rounding of exp products (~1e-15) and of 0.5 + dw.
        assert got == pytest.approx(want, rel=1e-9, abs=1e-15), lag


def test_multiplicative_bounds_scale_with_distance_to_the_bound():
    rule = PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=0.017, tau_minus=0.034, w_min=0.1, w_max=0.9,
                    bounds="multiplicative")
    w0s = np.array([0.15, 0.3, 0.5, 0.85])
    ltp = np.array([pair_dw(rule, [5], [50], w0=w) for w in w0s])
    ltd = np.array([pair_dw(rule, [50], [5], w0=w) for w in w0s])
    e_plus, e_minus = math.exp(-45e-4 / 0.017), math.exp(-45e-4 / 0.034)
    # dw+ = a_plus e^{-dt/tau+} (w_max - w)/(w_max - w_min); dw- = -a_minus e^{..} (w - w_min)/(..)
    np.testing.assert_allclose(ltp, 0.01 * e_plus * (0.9 - w0s) / 0.8, rtol=1e-9)
    np.testing.assert_allclose(ltd, -0.012 * e_minus * (w0s - 0.1) / 0.8, rtol=1e-9)
    additive = PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=0.017, tau_minus=0.034, w_min=0.1, w_max=0.9)
    ltp_add = np.array([pair_dw(additive, [5], [50], w0=w) for w in (0.3, 0.5, 0.7)])
    np.testing.assert_allclose(ltp_add, 0.01 * e_plus, rtol=1e-9)  # independent of w
    assert pair_dw(additive, [5], [50], w0=0.895) == pytest.approx(0.005, rel=1e-12)  # clipped at w_max
    assert pair_dw(additive, [50], [5], w0=0.105) == pytest.approx(-0.005, rel=1e-12)  # clipped at w_min


def test_nearest_and_all_to_all_differ_as_theory_says():
    kw = dict(a_plus=0.01, a_minus=0.012, tau_plus=0.017, tau_minus=0.034)
    all_to_all, nearest = PairSTDP(**kw), PairSTDP(**kw, interaction="nearest")
    dt, e = 1e-4, math.exp
    # pre, pre, post: all pairs potentiate vs only the nearest preceding pre spike
    t0, t1, t2 = 0, 60, 100
    both = 0.01 * (e(-(t2 - t0) * dt / 0.017) + e(-(t2 - t1) * dt / 0.017))
    near = 0.01 * e(-(t2 - t1) * dt / 0.017)
    assert pair_dw(all_to_all, [t0, t1], [t2]) == pytest.approx(both, rel=1e-9)
    assert pair_dw(nearest, [t0, t1], [t2]) == pytest.approx(near, rel=1e-9)
    # post, post, pre: the same for depression
    both = -0.012 * (e(-(t2 - t0) * dt / 0.034) + e(-(t2 - t1) * dt / 0.034))
    near = -0.012 * e(-(t2 - t1) * dt / 0.034)
    assert pair_dw(all_to_all, [t2], [t0, t1]) == pytest.approx(both, rel=1e-9)
    assert pair_dw(nearest, [t2], [t0, t1]) == pytest.approx(near, rel=1e-9)
    # a single pair cannot tell them apart
    assert pair_dw(all_to_all, [t0], [t2]) == pair_dw(nearest, [t0], [t2])


def test_triplet_rule_on_post_pre_post_and_pre_pre_post():
    # Pfister & Gerstner (2006) Eqs. 3-4 evaluated by hand for three spikes.
    rule = TripletSTDP(a2_plus=5e-3, a3_plus=6e-3, a2_minus=7e-3, a3_minus=2e-3, tau_plus=0.017,
                       tau_minus=0.034, tau_x=0.1, tau_y=0.125)
    dt, e = 1e-4, math.exp
    t0, t1, t2 = 0, 80, 130  # post, pre, post
    want = -e(-(t1 - t0) * dt / 0.034) * (7e-3 + 2e-3 * 0.0)  # r2 = 0 before the only pre spike
    want += e(-(t2 - t1) * dt / 0.017) * (5e-3 + 6e-3 * e(-(t2 - t0) * dt / 0.125))
    assert pair_dw(rule, [t1], [t0, t2]) == pytest.approx(want, rel=1e-9)
    # pre, pre, post with the nearest-spike model: only the later pre counts in r1
    near = TripletSTDP(**{**rule.__dict__, "interaction": "nearest"})
    want = e(-(t2 - t1) * dt / 0.017) * 5e-3  # o2 = 0 before the only post spike
    assert pair_dw(near, [t0, t1], [t2]) == pytest.approx(want, rel=1e-9)
    want_all = (e(-(t2 - t1) * dt / 0.017) + e(-(t2 - t0) * dt / 0.017)) * 5e-3
    assert pair_dw(rule, [t0, t1], [t2]) == pytest.approx(want_all, rel=1e-9)


# -- drift under independent Poisson firing -------------------------------------------------------
# Not cached: numba's cache would record this test module's import name, which depends on
# pytest's import mode.
@njit(cache=False)
def _drive_pairs(kind, P, w, S_pre, S_post, p_pre, p_post, warmup, steps, dt, seed):
    """Independent Bernoulli(p) spike trains on ``n = w.size`` one-to-one synapses (pre k -> post k).

    Runs ``warmup`` steps (traces reach their stationary statistics), then ``steps`` more;
    returns the weights at the end of the warm-up. Inter-spike intervals are drawn as
    geometric variables, so the cost is per spike, not per neuron and step.
    """
    np.random.seed(seed)
    n = w.size
    ids = np.arange(n)
    indptr = np.arange(n + 1)
    zeros = np.zeros(n, np.int64)  # synapse k is the only one of pre k and of post k: place 0 in its row
    next_pre = np.empty(n, np.int64)
    next_post = np.empty(n, np.int64)
    for k in range(n):
        next_pre[k] = np.random.geometric(p_pre) - 1
        next_post[k] = np.random.geometric(p_post) - 1
    pre_sp = np.empty(n, np.int64)
    post_sp = np.empty(n, np.int64)
    w_warm = w.copy()
    for t in range(warmup + steps):
        if t == warmup:
            w_warm[:] = w
        n_pre = 0
        n_post = 0
        for k in range(n):
            if next_pre[k] == t:
                pre_sp[n_pre] = k
                n_pre += 1
                next_pre[k] += np.random.geometric(p_pre)
            if next_post[k] == t:
                post_sp[n_post] = k
                n_post += 1
                next_post[k] += np.random.geometric(p_post)
        spiking_rule_step(kind, pre_sp, n_pre, post_sp, n_post, indptr, ids, indptr, zeros, ids, w, S_pre, S_post, P, dt)
    return w_warm


def measured_drift(rule, rho_pre, rho_post, n=1000, seconds=40.0, dt=1e-3, seed=0, rate=None):
    """Mean dW/dt over ``n`` independent synapses and its standard error (weight units per second)."""
    w = np.full(n, 0.5)
    S_pre, S_post = rule.init_sparse_state(n, n)
    if rate is not None:
        S_post[-1] = rate  # TripletSTDP: hold the rate estimate (tau_rate is huge in these tests)
    steps = round(seconds / dt)
    w0 = _drive_pairs(rule.kind, rule._params(), w, S_pre, S_post, rho_pre * dt, rho_post * dt, round(1.0 / dt), steps, dt, seed)
    assert np.all((w > rule.w_min if hasattr(rule, "w_min") else w > 0) & (w < 1.0)), "a bound was hit: drift biased"
    rates = (w - w0) / seconds
    return rates.mean(), rates.std(ddof=1) / math.sqrt(n)


def triplet_drift_exact(rule, rho_x, rho_y, dt, a2m=None):
    """<dW/dt> for Bernoulli spikes on the step grid, exactly (see the module docstring of triplet.py).

    Pre spike: -o1 (decayed, before the post bump) * (A2- + A3- r2 (before its bump));
    post spike: r1 (after the pre bump) * (A2+ + A3+ o2 (before its bump)); all independent.
    Tends to Pfister & Gerstner's continuous-time drift as dt -> 0.
    """
    a2m = rule.a2_minus if a2m is None else a2m
    p, q = rho_x * dt, rho_y * dt
    d = {name: math.exp(-dt / getattr(rule, name)) for name in ("tau_plus", "tau_minus", "tau_x", "tau_y")}
    r1 = p / (1 - d["tau_plus"])
    r2 = d["tau_x"] * p / (1 - d["tau_x"])
    o1 = d["tau_minus"] * q / (1 - d["tau_minus"])
    o2 = d["tau_y"] * q / (1 - d["tau_y"])
    return (q * r1 * (rule.a2_plus + rule.a3_plus * o2) - p * o1 * (a2m + rule.a3_minus * r2)) / dt


def triplet_drift_pfister(rule, rho_x, rho_y, a2m=None):
    """Pfister & Gerstner (2006): the drift under independent Poisson firing, all-to-all, continuous time."""
    a2m = rule.a2_minus if a2m is None else a2m
    return rho_x * rho_y * (rule.a2_plus * rule.tau_plus - a2m * rule.tau_minus
                            + rule.a3_plus * rule.tau_plus * rule.tau_y * rho_y
                            - rule.a3_minus * rule.tau_minus * rule.tau_x * rho_x)


# The minimal visual-cortex amplitudes scaled by 1e-2 so that no weight reaches a bound in the
# run; the drift is linear in the amplitudes, so the curve's shape and threshold are unchanged.
SCALE = 1e-2


def test_triplet_drift_follows_the_bcm_like_curve():
    base = TripletSTDP.minimal_visual_cortex()
    rule = TripletSTDP.minimal_visual_cortex(a3_plus=base.a3_plus * SCALE, a2_minus=base.a2_minus * SCALE)
    rho_x, dt = 10.0, 1e-3
    threshold = rule.a2_minus * rule.tau_minus / (rule.a3_plus * rule.tau_plus * rule.tau_y)  # continuous drift = 0
    assert threshold == pytest.approx(19.22, abs=0.01)  # 7.1e-3 * 33.7 ms / (6.5e-3 * 16.8 ms * 114 ms)
    rhos = np.array([6.0, 12.0, 24.0, 36.0])
    means, errs = zip(*(measured_drift(rule, rho_x, r, seed=s) for s, r in enumerate(rhos)))
    means, errs = np.array(means), np.array(errs)
    exact = np.array([triplet_drift_exact(rule, rho_x, r, dt) for r in rhos])
    pfister = np.array([triplet_drift_pfister(rule, rho_x, r) for r in rhos])
    # 4 standard errors: a false alarm has probability ~1e-4 per point (and the seed is fixed).
    np.testing.assert_array_less(np.abs(means - exact), 4 * errs)
    # The continuous drift differs from the exact grid value by O(dt/tau) of each of its terms (traces
    # sampled at step ends shift tau_plus by +dt/2, tau_minus and tau_y by -dt/2): bounded by
    # dt/tau_plus (6%) of their sum, a bound that stays meaningful near the sign change.
    ltp = rho_x * rhos * rule.a3_plus * rule.tau_plus * rule.tau_y * rhos
    ltd = rho_x * rhos * rule.a2_minus * rule.tau_minus
    assert np.all(np.abs(exact - pfister) < dt / rule.tau_plus * (ltp + ltd))
    np.testing.assert_array_less(np.abs(means - pfister), np.abs(exact - pfister) + 4 * errs)
    # On a 10x finer grid the measurement approaches the continuous drift itself (grid effect 1.4%
    # here, at 24 Hz where it is a small difference of its two terms): within 4 standard errors of it
    # plus the remaining grid effect.
    fine_mean, fine_err = measured_drift(rule, rho_x, 24.0, seconds=10.0, dt=1e-4, seed=9)
    fine_exact, fine_pfister = triplet_drift_exact(rule, rho_x, 24.0, 1e-4), triplet_drift_pfister(rule, rho_x, 24.0)
    assert abs(fine_exact - fine_pfister) < 0.02 * fine_pfister
    assert abs(fine_mean - fine_pfister) < 4 * fine_err + abs(fine_exact - fine_pfister)
    # the sign changes at the threshold: LTD below, LTP above, each significant
    assert np.all(means[rhos < threshold] + 4 * errs[rhos < threshold] < 0)
    assert np.all(means[rhos > threshold] - 4 * errs[rhos > threshold] > 0)
    # threshold from a straight-line fit of drift / (rho_x rho_y) against rho_y (linear in continuous time)
    slope, icept = np.polyfit(rhos, means / (rho_x * rhos), 1)
    g = [triplet_drift_exact(rule, rho_x, r, dt) / (rho_x * r) for r in (10.0, 20.0)]  # linear in rho_y
    exact_threshold = 10.0 - g[0] * 10.0 / (g[1] - g[0])
    # The fitted root scatters by 0.14% (sd over 10 seeds): 0.6% is ~4 sd.
    assert -icept / slope == pytest.approx(exact_threshold, rel=0.006)
    # The 1 ms grid moves the threshold from 19.22 to 18.47 Hz: tau_minus and tau_y effectively
    # shortened by dt/2, tau_plus lengthened by dt/2, a predicted shift of -3.91%.
    shift = (1 - dt / 2 / rule.tau_minus) / ((1 + dt / 2 / rule.tau_plus) * (1 - dt / 2 / rule.tau_y)) - 1
    assert exact_threshold / threshold - 1 == pytest.approx(shift, abs=0.002)


def test_triplet_threshold_slides_with_the_rate_estimate():
    base = TripletSTDP.minimal_visual_cortex()
    target = 10.0
    rule = TripletSTDP.minimal_visual_cortex(a3_plus=base.a3_plus * SCALE, a2_minus=base.a2_minus * SCALE,
                                             target_rate=target, tau_rate=1e6)  # estimate held fixed
    rho_x, rho_y, dt = 10.0, 15.0, 1e-3
    theta0 = rule.a2_minus * rule.tau_minus / (rule.a3_plus * rule.tau_plus * rule.tau_y)
    for rate, sign in ((0.8 * target, +1), (1.2 * target, -1)):
        # theta = theta0 (rate / target)^2: 12.3 Hz (rho_y = 15 Hz potentiates), 27.7 Hz (depresses)
        assert sign * (rho_y - theta0 * (rate / target) ** 2) > 0
        mean, err = measured_drift(rule, rho_x, rho_y, rate=rate, seed=int(rate))
        a2m = rule.a2_minus * (rate / target) ** 2
        exact = triplet_drift_exact(rule, rho_x, rho_y, dt, a2m=a2m)
        assert abs(mean - exact) < 4 * err  # 4 standard errors, as above
        assert sign * mean > 4 * err


def test_triplet_rate_estimate_tracks_the_postsynaptic_rate():
    rule = TripletSTDP.minimal_visual_cortex(a3_plus=0.0, a2_minus=0.0, target_rate=5.0, tau_rate=0.5)
    n, rho_y = 2000, 12.0
    S_pre, S_post = rule.init_sparse_state(n, n)
    _drive_pairs(rule.kind, rule._params(), np.full(n, 0.5), S_pre, S_post, 1e-3, rho_y * 1e-3, 0, 5000, 1e-3, 7)
    # After 10 tau_rate the estimate is stationary: mean rho_y * (dt/tau) / (1 - e^{-dt/tau}) (grid
    # effect 1e-3), spread sqrt(rho_y / (2 tau_rate)) = 3.5 Hz per neuron, 0.08 Hz over 2000 neurons.
    assert S_post[2].mean() == pytest.approx(rho_y, abs=4 * math.sqrt(rho_y / 1.0) / math.sqrt(n) + 0.02)
    assert S_post[2].std() == pytest.approx(math.sqrt(rho_y / 1.0), rel=0.1)


def test_inhibitory_stdp_drift_vanishes_at_the_target_rate():
    target, tau, eta, dt = 8.0, 0.02, 1e-4, 1e-3
    rule = InhibitorySTDP(eta=eta, target_rate=target, tau=tau)
    rho_pre = 10.0
    for rho_post, sign in ((0.5 * target, -1), (target, 0), (2.0 * target, +1)):
        mean, err = measured_drift(rule, rho_pre, rho_post, seed=int(rho_post))
        # Vogels et al. (2011): <dW/dt> = eta rho_pre (2 rho_post tau - alpha); on the step grid
        # exactly eta rho_pre (rho_post dt coth(dt / 2 tau) - alpha) (differs by (dt/tau)^2/12).
        analytic = eta * rho_pre * (2 * rho_post * tau - rule.alpha)
        exact = eta * rho_pre * (rho_post * dt / math.tanh(dt / (2 * tau)) - rule.alpha)
        assert abs(exact - analytic) <= eta * rho_pre * rho_post * tau * (dt / tau) ** 2 / 5
        assert abs(mean - exact) < 4 * err  # 4 standard errors, as above
        if sign:
            assert sign * mean > 4 * err


# -- closed-loop synaptic scaling -----------------------------------------------------------------
def test_spiking_scaling_drives_the_rate_to_its_target():
    # Toy closed loop: neuron i fires Poisson at rho_i = gain * sum_j W[i, j].
    rng = np.random.default_rng(20)
    n_post, n_pre, dt, target, gain = 100, 10, 2e-3, 8.0, 4.0
    rule = SpikingSynapticScaling(eta=0.02, target_rate=target, tau=1.0)
    ratios0 = rng.uniform(0.2, 1.0, (n_post, n_pre))
    ratios0 /= ratios0.sum(axis=1, keepdims=True)
    rho0 = rng.uniform(2.0, 20.0, n_post)  # initial rates
    W = ratios0 * (rho0 / gain)[:, None]
    state = rule.init_state(n_post, n_pre)
    steps, late = 40000, 15000  # 80 s: ~10 relaxation times (1 / (eta * target) = 6 s)
    late_rates = np.zeros(n_post)
    no_pre = np.zeros(n_pre)
    for t in range(steps):
        rho = gain * W.sum(axis=1)
        rule.update(W, no_pre, rng.random(n_post) < rho * dt, state, dt)
        if t >= steps - late:
            late_rates += rho / late
    # Linear analysis: log-rate fluctuations ~ eta * sqrt(target / (2 eta target)) = 0.1 per
    # neuron, reduced by averaging over the last 30 s (5 correlation times); measured over 4
    # seeds: 4.5-6.4% per neuron (so 30% is 5 sd), population mean +0.3 to +0.8% (the mean of a
    # log-normal rate and the grid bias of the estimate) with 0.6% sampling sd, so 2.5%.
    assert late_rates.mean() == pytest.approx(target, rel=0.025)
    assert np.all(np.abs(late_rates / target - 1) < 0.3)
    assert late_rates.std() < rho0.std() / 5
    np.testing.assert_allclose(W / W.sum(axis=1, keepdims=True), ratios0, rtol=1e-12)  # ratios kept
    assert np.all(np.abs(state.pending) < rule.max_pending)


# -- bad input ------------------------------------------------------------------------------------
PAIR = dict(a_plus=0.01, a_minus=0.012, tau_plus=0.017, tau_minus=0.034)
TRIPLET = dict(a2_plus=0.0, a3_plus=6.5e-3, a2_minus=7.1e-3, a3_minus=0.0, tau_plus=0.0168,
               tau_minus=0.0337, tau_x=0.101, tau_y=0.125)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: PairSTDP(**{**PAIR, "tau_plus": 0.0}), r"PairSTDP\.tau_plus must be a number in \(0, inf\); got 0\.0"),
        (lambda: PairSTDP(**{**PAIR, "tau_minus": -0.02}), r"PairSTDP\.tau_minus must be a number in \(0, inf\); got -0\.02"),
        (lambda: PairSTDP(**{**PAIR, "a_plus": -0.01}), r"PairSTDP\.a_plus must be a number in \[0, inf\); got -0\.01"),
        (lambda: PairSTDP(**PAIR, w_min=0.5, w_max=0.5), r"w_min must be < w_max; got w_min=0\.5, w_max=0\.5"),
        (lambda: PairSTDP(**PAIR, w_min=-0.1), r"PairSTDP\.w_min must be a number in \[0, inf\); got -0\.1"),
        (lambda: PairSTDP(**PAIR, w_max=math.inf, bounds="multiplicative"), r"w_max must be finite with bounds='multiplicative'"),
        (lambda: PairSTDP(**PAIR, bounds="soft"), r"PairSTDP\.bounds must be one of \('additive', 'multiplicative'\); got 'soft'"),
        (lambda: PairSTDP(**PAIR, interaction="nearest-neighbour"), r"PairSTDP\.interaction must be one of \('all-to-all', 'nearest'\)"),
        (lambda: TripletSTDP(**{**TRIPLET, "tau_y": 0.0}), r"TripletSTDP\.tau_y must be a number in \(0, inf\); got 0\.0"),
        (lambda: TripletSTDP(**{**TRIPLET, "a3_plus": -1.0}), r"TripletSTDP\.a3_plus must be a number in \[0, inf\)"),
        (lambda: TripletSTDP(**TRIPLET, target_rate=0.0), r"TripletSTDP\.target_rate must be a number in \(0, inf\); got 0\.0"),
        (lambda: TripletSTDP(**TRIPLET, target_rate=5.0, tau_rate=0.0), r"TripletSTDP\.tau_rate must be a number in \(0, inf\)"),
        (lambda: TripletSTDP(**TRIPLET, w_min=1.0, w_max=0.5), r"w_min must be < w_max"),
        (lambda: TripletSTDP.minimal_visual_cortex(interaction="nearest-spike"), r"TripletSTDP\.interaction must be one of"),
        (lambda: InhibitorySTDP(eta=1e-3, target_rate=5.0, tau=0.0), r"InhibitorySTDP\.tau must be a number in \(0, inf\)"),
        (lambda: InhibitorySTDP(eta=1e-3, target_rate=-5.0, tau=0.02), r"InhibitorySTDP\.target_rate must be a number in \[0, inf\)"),
        (lambda: InhibitorySTDP(eta=1e-3, target_rate=5.0, tau=0.02, w_max=0.0), r"InhibitorySTDP\.w_max must be a number in \(0, inf\]"),
        (lambda: SpikingSynapticScaling(eta=0.01, target_rate=5.0, tau=-1.0), r"SpikingSynapticScaling\.tau must be a number in \(0, inf\)"),
        (lambda: SpikingSynapticScaling(eta=0.0, target_rate=5.0, tau=1.0), r"SpikingSynapticScaling\.eta must be a number in \(0, inf\)"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_non_string_choice_is_a_type_error():
    with pytest.raises(TypeError, match=r"PairSTDP\.bounds must be one of"):
        PairSTDP(**PAIR, bounds=1)
    with pytest.raises(TypeError, match=r"TripletSTDP\.target_rate must be a number"):
        TripletSTDP(**TRIPLET, target_rate="5")


@pytest.mark.parametrize("rule", CASES, ids=rule_id)
def test_spike_arrays_must_be_zero_or_one(rule):
    W, state = np.full((3, 4), 0.5), rule.init_state(3, 4)
    good_pre, good_post = np.array([0.0, 1.0, 0.0, 1.0]), np.array([True, False, True])
    for method in (rule.update, rule.reference_update):
        method(W, good_pre, good_post, state, 1e-3)  # float 0/1 and bool are spikes
        method(W, good_pre.astype(np.int8), good_post.astype(np.int64), state, 1e-3)  # so are integer 0/1
        with pytest.raises(ValueError, match=r"pre must be spike indicators of one step \(bool, or 0/1\); got 1 other value\(s\), e\.g\. 0\.5"):
            method(W, np.array([0.0, 0.5, 0.0, 1.0]), good_post, state, 1e-3)
        with pytest.raises(ValueError, match=r"post must be spike indicators .* e\.g\. 2\.0"):
            method(W, good_pre, np.array([0, 2, 1]), state, 1e-3)


def test_parameter_sets_of_the_paper():
    # Pfister & Gerstner (2006), Table 3, visual cortex; tau_plus, tau_minus common to all sets
    # (all eight sets of Tables 3 and 4: tests/rules/test_triplet_presets.py).
    minimal = TripletSTDP.minimal_visual_cortex()
    assert (minimal.a2_plus, minimal.a3_plus, minimal.a2_minus, minimal.a3_minus) == (0.0, 6.5e-3, 7.1e-3, 0.0)
    assert (minimal.tau_plus, minimal.tau_minus, minimal.tau_y) == (16.8e-3, 33.7e-3, 0.114)
    assert minimal.interaction == "all-to-all" and minimal.target_rate is None
    full = TripletSTDP.full_visual_cortex()
    assert (full.a2_plus, full.a3_plus, full.a2_minus, full.a3_minus, full.tau_x) == (5e-10, 6.2e-3, 7e-3, 2.3e-4, 0.101)
    nearest = TripletSTDP.minimal_visual_cortex("nearest", target_rate=5.0)
    assert (nearest.interaction, nearest.tau_y, nearest.target_rate) == ("nearest", 0.040, 5.0)
