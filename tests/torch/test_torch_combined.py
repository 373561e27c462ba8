"""The torch ``Combined`` rule: the sum of its terms, the numpy ``Combined``, gradients, errors.

Every pair of registered rate rules (read from :data:`plasticity.rules.registry.RATE_RULES`)
is combined, so a newly registered rule is composed here as soon as it has a twin.
"""
from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch

import plasticity.rules as nr
import plasticity.torch as pt
from plasticity.rules.registry import RATE_RULES

N_POST, N_PRE = 6, 5


def unbounded(rule):
    if rule.bounds is None:
        return rule
    return dataclasses.replace(rule, **{rule.bounds[0]: -math.inf, rule.bounds[1]: math.inf})


def twin(rule):
    """The torch twin with the numpy instance's field values."""
    return getattr(pt, type(rule).__name__)(**{f.name: getattr(rule, f.name) for f in dataclasses.fields(rule)})


PAIRS = [(unbounded(a.examples()[0]), unbounded(b.examples()[0])) for a, b in itertools.combinations(RATE_RULES, 2)]
PAIR_IDS = [f"{type(a).__name__}+{type(b).__name__}" for a, b in PAIRS]
# every registered rule at once, with its bounds: [-0.3, 0.4] (Hebbian) and [0, inf)
# (InhibitoryPlasticity) intersect to [0, 0.4]
ALL_TERMS = [cls.examples()[0] for cls in RATE_RULES] + [nr.Hebbian.examples()[1]]


def inputs(seed, steps=1):
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 0.5, (N_POST, N_PRE))
    return W, rng.uniform(0, 1.5, (steps, N_PRE)), rng.uniform(0.05, 1.5, (steps, N_POST))


def moved(state):
    """A torch state away from its initial value (each field + a ramp), so that every term acts."""
    if isinstance(state, pt.CombinedState):
        return pt.CombinedState(tuple(moved(s) for s in state.terms))
    return type(state)(*(t + torch.linspace(0.1, 0.3, t.shape[-1], dtype=t.dtype) for t in state))


def to_numpy_state(numpy_rule, state):
    """The numpy state of ``numpy_rule`` holding the values of the torch ``state``."""
    out = numpy_rule.init_state(N_POST, N_PRE)
    for st_np, st_t in zip(numpy_rule.term_states(out), state.terms):
        for f in st_t._fields:
            getattr(st_np, f)[...] = getattr(st_t, f).numpy()
    return out


@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_combination_equals_sum_of_terms(pair):
    W0, pre, post = (torch.tensor(a) for a in inputs(0))
    terms = [twin(r) for r in pair]
    combined = terms[0] + terms[1]
    state = moved(combined.init_state(N_POST, N_PRE, dtype=torch.float64))
    W, new = combined.update(W0, pre[0], post[0], state, 0.1)
    expected, separate = W0.clone(), []
    for term, st in zip(terms, state.terms):
        Wt, st_new = term.update(W0, pre[0], post[0], st, 0.1)
        expected += Wt - W0
        separate.append(st_new)
    # one float64 sum of a few O(1) products, regrouped (W(1+b1+b2) vs W(1+b1) + W(1+b2) - W):
    # a few ulps
    torch.testing.assert_close(W, expected, rtol=1e-13, atol=1e-14)
    assert not torch.allclose(W, W0)  # the step did something
    assert len(new.terms) == 2
    for st, ref in zip(new.terms, separate):
        assert type(st) is type(ref)
        for a, b in zip(st, ref):
            torch.testing.assert_close(a, b, rtol=0, atol=0)  # each term advances its own state: same ops


@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_combination_equals_the_numpy_combined(pair):
    W0, pre, post = inputs(1)
    combined_np = pair[0] + pair[1]
    combined_t = twin(pair[0]) + twin(pair[1])
    s_t = moved(combined_t.init_state(N_POST, N_PRE, dtype=torch.float64))
    W_t, s_t_new = combined_t.update(torch.tensor(W0), torch.tensor(pre[0]), torch.tensor(post[0]), s_t, 0.1)
    for method in ("update", "reference_update"):
        W, s = W0.copy(), to_numpy_state(combined_np, s_t)
        getattr(combined_np, method)(W, pre[0], post[0], s, 0.1)
        # the kernel forms the same W(1+b) + a x + c; the reference sums per-term changes:
        # a few ulps of O(1) values
        np.testing.assert_allclose(W_t.numpy(), W, rtol=1e-13, atol=1e-14)
        for st_np, st_t in zip(s.terms, s_t_new.terms):
            for f in st_t._fields:
                np.testing.assert_allclose(getattr(st_t, f).numpy(), getattr(st_np, f), rtol=1e-14, atol=1e-15)


def test_every_rule_with_bounds_matches_numpy_over_steps():
    steps, dt = 30, 0.1
    W0, pre, post = inputs(2, steps)
    W0 = np.clip(W0 + 0.2, 0.0, 0.4)  # inside the bounds (outside: numpy's update raises), some weights on them
    post[:, 0] = 0.05  # a quiet row: its depression (BCM, inhibitory rule below target) drives weights to 0
    rule_np = nr.Combined(*ALL_TERMS)
    rule_t = pt.Combined(*(twin(r) for r in ALL_TERMS))
    assert rule_t.weight_bounds() == rule_np.weight_bounds() == (0.0, 0.4)
    assert rule_t.acts_on_neurons and len(rule_t.terms()) == len(ALL_TERMS)
    W_ref, s_ref = W0.copy(), rule_np.init_state(N_POST, N_PRE)
    W_fast, s_fast = W0.copy(), rule_np.init_state(N_POST, N_PRE)
    W_t, s_t = torch.tensor(W0), rule_t.init_state(N_POST, N_PRE, dtype=torch.float64)
    hit = {0.0: False, 0.4: False}
    for k in range(steps):
        rule_np.reference_update(W_ref, pre[k], post[k], s_ref, dt)
        rule_np.update(W_fast, pre[k], post[k], s_fast, dt)
        W_t, s_t = rule_t.update(W_t, torch.tensor(pre[k]), torch.tensor(post[k]), s_t, dt)
        for b in hit:
            hit[b] |= bool(np.any(W_ref == b))
    assert all(hit.values()), hit  # the clip to the intersection acted
    # as the single-rule comparison: a few ulps per step over 30 steps, O(1) values
    for W in (W_ref, W_fast):
        np.testing.assert_allclose(W_t.numpy(), W, rtol=1e-12, atol=1e-14)
    for s_np in (s_ref, s_fast):
        for st_np, st_t in zip(s_np.terms, s_t.terms):
            for f in st_t._fields:
                np.testing.assert_allclose(getattr(st_t, f).numpy(), getattr(st_np, f), rtol=1e-12, atol=1e-14)
    # from_numpy builds the same combination
    again = pt.TorchRule.from_numpy(rule_np)
    assert isinstance(again, pt.Combined) and [type(t) for t in again.terms()] == [type(t) for t in rule_t.terms()]


def test_sum_operator_flattens_and_shares_parameters():
    eta = torch.nn.Parameter(torch.tensor(0.1))
    a, b, c = pt.Hebbian(eta), pt.SynapticScaling(0.1, 1.0, 5.0), pt.HeterosynapticDecay(0.2)
    assert (a + b + c).terms() == (a + (b + c)).terms() == pt.Combined(a, b, c).terms() == (a, b, c)
    combined = a + b + c
    assert list(combined.parameters()) == [eta]
    assert repr(combined) == f"{a!r} + {b!r} + {c!r}"
    state = combined.init_state(3, 2, batch=4)
    assert isinstance(state, pt.CombinedState) and [type(s) for s in state.terms] == [
        pt.HebbianState, pt.SynapticScalingState, pt.HeterosynapticDecayState]
    assert state.terms[1].rate.shape == (4, 3)


def test_batched_and_device_agnostic():
    rule = pt.BCM(0.3, 2.0) + pt.HeterosynapticDecay(torch.tensor(0.2), w_ref=0.1) + pt.InhibitoryPlasticity(0.2, 0.4)
    W0, pre, post = inputs(3, steps=2)
    Wb = torch.tensor(np.stack([W0, -W0]))
    xb, yb = torch.tensor(np.stack([pre[0], pre[1]])), torch.tensor(np.stack([post[0], post[1]]))
    Wn, sn = rule.update(Wb, xb, yb, rule.init_state(N_POST, N_PRE, batch=2, dtype=torch.float64), 0.1)
    for i in range(2):
        W1, s1 = rule.update(Wb[i], xb[i], yb[i], rule.init_state(N_POST, N_PRE, dtype=torch.float64), 0.1)
        torch.testing.assert_close(Wn[i], W1, rtol=0, atol=0)  # elementwise ops: batching changes no rounding
        torch.testing.assert_close(sn.terms[0].theta[i], s1.terms[0].theta, rtol=0, atol=0)
    meta = rule.to("meta")
    s = meta.init_state(N_POST, N_PRE, batch=2)
    assert s.terms[0].theta.device.type == "meta"  # the device of the terms' tensors
    W2, _ = meta.update(torch.empty(2, N_POST, N_PRE, device="meta"), torch.empty(2, N_PRE, device="meta"),
                        torch.empty(2, N_POST, device="meta"), s, 0.1)
    assert W2.device.type == "meta" and W2.shape == (2, N_POST, N_PRE)


def _new_rules(**tensors):
    """InhibitoryPlasticity and HeterosynapticDecay (unbounded: the clip has no derivative at the bound)."""
    return [pt.InhibitoryPlasticity(eta=tensors.get("eta", 0.3), target=tensors.get("target", 0.5), w_min=-math.inf),
            pt.HeterosynapticDecay(beta=tensors.get("beta", 0.4), w_ref=tensors.get("w_ref", 0.1), power=3.0)]


def test_gradcheck_through_a_combination():
    W0, pre, post = inputs(4, steps=3)
    W0 = torch.tensor(W0[:3, :2], requires_grad=True)  # 3 post x 2 pre: gradcheck is O(inputs^2)
    pre = torch.tensor(pre[:, :2], requires_grad=True)
    post = torch.tensor(post[:, :3], requires_grad=True)
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.5, 0.4, 0.1)]

    def f(W, x, y, target, beta, w_ref):
        rule = pt.BCM(0.3, 2.0) + pt.Combined(*_new_rules(target=target, beta=beta, w_ref=w_ref))
        s = rule.init_state(3, 2, dtype=torch.float64)
        for k in range(3):
            W, s = rule.update(W, x[k], y[k], s, 0.1)
        return W, s.terms[0].theta

    assert torch.autograd.gradcheck(f, (W0, pre, post, *params))


@pytest.mark.parametrize("which", ["InhibitoryPlasticity.eta", "HeterosynapticDecay.w_ref"])
def test_gradient_reaches_an_nn_parameter_of_the_new_rules(which):
    name = which.split(".")[1]
    p = torch.nn.Parameter(torch.tensor(0.3 if name == "eta" else 0.1, dtype=torch.float64))
    rule = pt.Hebbian(0.2) + pt.Combined(*_new_rules(**{name: p}))
    assert list(rule.parameters()) == [p]  # registered through the terms
    W0, pre, post = (torch.tensor(a) for a in inputs(5, steps=4))

    def loss(rule):
        W, s = W0, rule.init_state(N_POST, N_PRE, dtype=torch.float64)
        for k in range(4):
            W, s = rule.update(W, pre[k], post[k], s, 0.1)
        return (W * W).sum()

    loss(rule).backward()
    h = 1e-6
    plus = loss(pt.Hebbian(0.2) + pt.Combined(*_new_rules(**{name: float(p.detach()) + h})))
    minus = loss(pt.Hebbian(0.2) + pt.Combined(*_new_rules(**{name: float(p.detach()) - h})))
    fd = float(plus - minus) / (2 * h)
    # central difference of a smooth float64 function: error O(h^2 f''') + O(eps f / h) ~ 1e-9
    assert abs(fd) > 1e-3
    assert p.grad is not None and abs(float(p.grad) - fd) < 1e-6 * max(1.0, abs(fd))


def test_gradients_reach_W_pre_post():
    W0, pre, post = inputs(6)
    W = torch.tensor(W0, requires_grad=True)
    x, y = torch.tensor(pre[0], requires_grad=True), torch.tensor(post[0], requires_grad=True)
    rule = pt.Combined(*_new_rules())
    W1, _ = rule.update(W, x, y, rule.init_state(N_POST, N_PRE, dtype=torch.float64), 0.1)
    W1.sum().backward()
    for t in (W, x, y):
        assert t.grad is not None and torch.all(torch.isfinite(t.grad)) and t.grad.abs().sum() > 0
    # dW1/dW = 1 - dt beta |y|^3 per row (the inhibitory term does not depend on W)
    expected = (1 - 0.1 * 0.4 * y.detach() ** 3).unsqueeze(-1).expand(N_POST, N_PRE)
    torch.testing.assert_close(W.grad, expected, rtol=1e-15, atol=1e-15)


def test_bad_compositions_name_the_problem():
    stdp = nr.PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=0.02, tau_minus=0.02)
    with pytest.raises(TypeError, match=r"Combined: terms must be torch rate rules .* got the numpy rule BCM .* as term 1"):
        pt.Combined(pt.Hebbian(0.1), nr.BCM(0.1, 2.0))
    with pytest.raises(TypeError, match="numpy rule BCM"):
        pt.Hebbian(0.1) + nr.BCM(0.1, 2.0)
    with pytest.raises(TypeError, match="spiking rule PairSTDP .* as term 1"):
        pt.Combined(pt.Hebbian(0.1), stdp)
    with pytest.raises(TypeError, match="got the class BCM as term 0"):
        pt.Combined(pt.BCM)
    with pytest.raises(TypeError, match=r"got PolynomialRule \(its change is not row-affine\) as term 1"):
        pt.Hebbian(0.1) + pt.PolynomialRule.oja()
    with pytest.raises(TypeError, match="got int 3 as term 1"):
        pt.Combined(pt.Hebbian(0.1), 3)
    with pytest.raises(ValueError, match="at least one term"):
        pt.Combined()
    with pytest.raises(ValueError, match=r"bounds do not overlap; got \[w_min, w_max\] = \[0.0, -1.0\]"):
        pt.Hebbian(0.1, w_max=-1.0) + pt.InhibitoryPlasticity(0.1, 1.0)
    with pytest.raises(ValueError, match="bounds do not overlap"):  # per-row tensor bounds, one empty row
        pt.Hebbian(0.1, w_max=torch.tensor([1.0, -1.0])) + pt.InhibitoryPlasticity(0.1, 1.0)
    rule = pt.Hebbian(0.1) + pt.BCM(0.1, 2.0)
    W, x, y = torch.zeros(N_POST, N_PRE), torch.zeros(N_PRE), torch.zeros(N_POST)
    with pytest.raises(TypeError, match=r"Combined\.update: state must be the CombinedState of this rule's init_state \(2 terms\); got BCMState"):
        rule.update(W, x, y, pt.BCM(0.1, 2.0).init_state(N_POST, N_PRE), 0.1)
    with pytest.raises(TypeError, match=r"\(2 terms\); got CombinedState"):
        rule.update(W, x, y, (rule + pt.Oja(0.1)).init_state(N_POST, N_PRE), 0.1)
    good = rule.init_state(N_POST, N_PRE)
    with pytest.raises(TypeError, match=r"state\.terms\[0\] must be a HebbianState"):
        rule.update(W, x, y, pt.CombinedState((good.terms[1], good.terms[0])), 0.1)
    bad = pt.CombinedState((good.terms[0], pt.BCMState(torch.zeros(N_POST + 1))))
    with pytest.raises(ValueError, match=r"Combined\.update: state\.terms\[1\]\.theta has shape \(7,\)"):
        rule.update(W, x, y, bad, 0.1)
    with pytest.raises(ValueError, match=r"Combined\.update: dt must be a number"):
        rule.update(W, x, y, good, 0.0)
    with pytest.raises(ValueError, match=r"BCM\.tau_theta has shape \(3,\)"):
        (pt.Hebbian(0.1) + pt.BCM(0.1, torch.ones(3))).check_shapes(N_POST, N_PRE)


def test_plastic_rnn_applies_an_intrinsic_term_of_a_combined_rule():
    # With plasticity_init = 0 the Hebbian trace never reaches the output, so a PlasticRNN under
    # Hebbian + IntrinsicPlasticity must compute exactly what one under IntrinsicPlasticity
    # alone computes: the intrinsic term's gain and threshold act on the neurons in both.
    from models.rnn import PlasticRNN
    from plasticity.torch import Hebbian, IntrinsicPlasticity

    x = torch.randn(3, 12, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ip = IntrinsicPlasticity(eta=0.2, target=0.1, adapt_gain=True, eta_gain=0.1, target_var=0.05)
    alone = PlasticRNN(2, 6, 1, rule=ip, plasticity_init=0.0, seed=4).double()
    combined = PlasticRNN(2, 6, 1, rule=Hebbian(eta=0.3) + ip, plasticity_init=0.0, seed=4).double()
    out_alone, out_combined = alone(x), combined(x)
    torch.testing.assert_close(out_combined, out_alone, rtol=0, atol=0)
    assert not torch.allclose(out_alone, PlasticRNN(2, 6, 1, rule=Hebbian(eta=0.3), plasticity_init=0.0,
                                                    seed=4).double()(x))  # the term does act
    torch.testing.assert_close(combined.last_rule_state.terms[1].threshold, alone.last_rule_state.threshold)
    assert not combined.last_rule_state.terms[1].threshold.requires_grad
