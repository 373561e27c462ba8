"""Composed rules and the two compensatory rules of the homeostasis comparison.

A combination's step equals the sum of its terms' steps from the same W and state (numba and
numpy, for every pair of registered rules); the new rules reach their documented fixed points.
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import math

import numpy as np
import pytest

from plasticity.rules import (BCM, Combined, CombinedState, Hebbian, HeterosynapticDecay, InhibitoryPlasticity,
                              IntrinsicPlasticity, PairSTDP, SynapticScaling)
from plasticity.rules.registry import RATE_RULES

N_POST, N_PRE = 6, 5


def unbounded(rule):
    if rule.bounds is None:
        return rule
    return dataclasses.replace(rule, **{rule.bounds[0]: -math.inf, rule.bounds[1]: math.inf})


PAIRS = [(unbounded(a.examples()[0]), unbounded(b.examples()[0])) for a, b in itertools.combinations(RATE_RULES, 2)]


def inputs(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.5, (N_POST, N_PRE)), rng.uniform(0, 1.5, N_PRE), rng.uniform(0, 1.5, N_POST)


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{type(p[0]).__name__}+{type(p[1]).__name__}")
@pytest.mark.parametrize("method", ["update", "reference_update"])
def test_combination_equals_sum_of_terms(pair, method):
    W0, pre, post = inputs(0)
    combined = pair[0] + pair[1]
    state = combined.init_state(N_POST, N_PRE)
    for st in state.terms:  # a state away from its initial value, so that every term acts
        for f in dataclasses.fields(st):
            getattr(st, f.name)[...] += np.linspace(0.1, 0.3, N_POST)
    separate = copy.deepcopy(state.terms)
    W = W0.copy()
    getattr(combined, method)(W, pre, post, state, 0.1)
    expected = W0.copy()
    for term, st in zip(combined.terms(), separate):
        Wt = W0.copy()
        getattr(term, method)(Wt, pre, post, st, 0.1)
        expected += Wt - W0
    # one float64 sum of a few products regrouped: rounding only
    np.testing.assert_allclose(W, expected, rtol=1e-13, atol=1e-14)
    for st, ref in zip(state.terms, separate):
        for f in dataclasses.fields(st):
            np.testing.assert_allclose(getattr(st, f.name), getattr(ref, f.name), rtol=1e-14, atol=1e-15)


def test_kernel_and_reference_agree_with_bounds_and_neuron_term():
    rule = Hebbian(0.2, w_min=-0.1, w_max=0.3) + InhibitoryPlasticity(0.1, 0.4) + IntrinsicPlasticity(0.05, 0.5) \
        + HeterosynapticDecay(0.3, w_ref=0.05)
    W0, pre, post = inputs(1)
    W0 = np.clip(W0, 0.0, 0.3)  # start inside the bounds (update raises on weights outside them)
    W1, W2 = W0.copy(), W0.copy()
    s1, s2 = rule.init_state(N_POST, N_PRE), rule.init_state(N_POST, N_PRE)
    for _ in range(20):
        rule.update(W1, pre, post, s1, 0.1)
        rule.reference_update(W2, pre, post, s2, 0.1)
    np.testing.assert_allclose(W1, W2, rtol=1e-12, atol=1e-13)
    assert W1.min() >= 0.0 and W1.max() <= 0.3  # the intersection of [-0.1, 0.3] and [0, inf)
    np.testing.assert_allclose(s1.terms[2].threshold, s2.terms[2].threshold, rtol=1e-13)


def test_sum_operator_flattens_and_compares():
    a, b, c = Hebbian(0.1), SynapticScaling(0.1, 1.0, 5.0), BCM(0.1, 2.0)
    assert a + b == Combined(a, b)
    assert (a + b) + c == a + (b + c) == Combined(a, b, c)
    assert (a + b + c).terms() == (a, b, c)
    assert hash(a + b) == hash(Combined(a, b))
    assert isinstance((a + b).init_state(3, 2), CombinedState)
    with pytest.raises(dataclasses.FrozenInstanceError):
        (a + b)._terms = ()


def test_bad_compositions_name_the_problem():
    stdp = PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=0.02, tau_minus=0.02)
    with pytest.raises(TypeError, match="spiking rule PairSTDP as term 1"):
        Combined(Hebbian(0.1), stdp)
    with pytest.raises(TypeError, match="spiking rule PairSTDP"):
        Hebbian(0.1) + stdp
    with pytest.raises(TypeError, match="got the class BCM as term 0"):
        Combined(BCM)
    with pytest.raises(ValueError, match="at least one term"):
        Combined()
    with pytest.raises(ValueError, match="bounds do not overlap"):
        Hebbian(0.1, w_max=-1.0) + InhibitoryPlasticity(0.1, 1.0)
    rule = Hebbian(0.1) + BCM(0.1, 2.0)
    W0, pre, post = inputs(2)
    with pytest.raises(TypeError, match="CombinedState"):
        rule.update(W0, pre, post, BCM(0.1, 2.0).init_state(N_POST, N_PRE), 0.1)
    bad = rule.init_state(N_POST, N_PRE)
    bad.terms[1].theta = np.zeros(N_POST + 1)
    with pytest.raises(ValueError, match=r"state\.terms\[1\]\.theta has shape"):
        rule.update(W0, pre, post, bad, 0.1)


def test_inhibitory_plasticity_brings_the_rate_to_target():
    # y = [drive - W x]_+ : inhibition onto one neuron from 10 inhibitory cells of fixed rates
    rng = np.random.default_rng(3)
    x, drive, target = rng.uniform(0.5, 2.0, 10), 5.0, 1.5
    rule = InhibitoryPlasticity(eta=0.02, target=target)
    W, state = np.full((1, 10), 0.05), rule.init_state(1, 10)
    for _ in range(4000):
        y = np.maximum(drive - W @ x, 0.0)
        rule.update(W, x, y, state, 0.1)
    y = np.maximum(drive - W @ x, 0.0)
    # dy/dt = -eta |x|^2 (y - target): exponential convergence at rate eta |x|^2 ~ 0.4 per unit time
    assert abs(y[0] - target) < 1e-9
    assert W.min() >= 0.0


def test_heterosynaptic_fixed_point_beside_hebbian():
    # frozen rates: W_ij* = w_ref + eta x_j / (beta y_i^(power - 1))
    rng = np.random.default_rng(4)
    x, y = rng.uniform(0.5, 1.5, N_PRE), rng.uniform(0.8, 1.6, N_POST)
    eta, beta, w_ref = 0.05, 0.4, 0.2
    rule = Hebbian(eta) + HeterosynapticDecay(beta, w_ref=w_ref)
    W, state = np.zeros((N_POST, N_PRE)), rule.init_state(N_POST, N_PRE)
    for _ in range(3000):
        rule.update(W, x, y, state, 0.1)
    expected = w_ref + eta * x[None, :] / (beta * y[:, None] ** 3)
    np.testing.assert_allclose(W, expected, rtol=1e-10)


def test_heterosynaptic_decay_stops_hebbian_runaway():
    # linear neuron y = w . x: Hebbian alone grows without bound; with the y^4 term the rate
    # settles where eta y x = beta y^4 w: w parallel to x and y*^4 = eta |x|^2 / beta
    x = np.array([0.6, 0.8, 0.3])
    eta, beta = 0.05, 0.4
    for rule, runaway in ((Hebbian(eta), True), (Hebbian(eta) + HeterosynapticDecay(beta), False)):
        w, state = np.full((1, 3), 0.5), rule.init_state(1, 3)
        for _ in range(20000):
            y = w @ x
            rule.update(w, x, y, state, 0.05)
            if not np.isfinite(w).all() or np.abs(w).max() > 1e6:
                break
        y = float((w @ x)[0])
        if runaway:
            assert not np.isfinite(y) or y > 1e5
        else:
            assert abs(y - (eta * x @ x / beta) ** 0.25) < 1e-8
