"""The torch rules against the numpy reference and the numba kernel, gradients, batching, errors.

The twins are read from the registry (:data:`plasticity.rules.registry.RATE_RULES`): a registered
numpy rate rule without a same-named twin in :mod:`plasticity.torch` fails here.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import re
from typing import NamedTuple

import numpy as np
import pytest
import torch

import plasticity.rules as nr
import plasticity.torch as pt
from plasticity.rules.registry import RATE_RULES

# One configured instance per rule, with the same parameters for both faces. Positive post
# activities keep y**power real for non-integer powers and drive every state variable.
CONFIGS = {
    "Hebbian": dict(eta=0.3, decay=0.05, w_min=-0.6, w_max=0.7),
    "Oja": dict(eta=0.4),
    "BCM": dict(eta=0.5, tau_theta=2.0, theta0=0.2, power=2.0),
    "SynapticScaling": dict(eta=0.3, target=0.5, tau=3.0),
    "IntrinsicPlasticity": dict(eta=0.2, target=0.4, adapt_gain=True, eta_gain=0.05, target_var=0.02),
    "MetaplasticBCM": dict(eta=0.5, tau_theta=2.0, tau_meta=8.0, theta0=0.1, power=1.5, kappa=0.7, meta0=0.05),
    "InhibitoryPlasticity": dict(eta=0.4, target=0.5, w_min=-0.5, w_max=0.6),
    "HeterosynapticDecay": dict(beta=0.3, w_ref=0.1, power=3.0),
}
# A learnable parameter per rule for gradcheck (the one that enters most nonlinearly).
GRAD_PARAM = {
    "Hebbian": "decay",
    "Oja": "eta",
    "BCM": "tau_theta",
    "SynapticScaling": "target",
    "IntrinsicPlasticity": "target_var",
    "MetaplasticBCM": "power",
    "InhibitoryPlasticity": "target",
    "HeterosynapticDecay": "power",
}
N_POST, N_PRE = 7, 5  # non-square, odd sizes
EXAMPLES = [ex for cls in RATE_RULES for ex in cls.examples()]


def numpy_rule(name: str):
    return getattr(nr, name)(**CONFIGS[name])


def torch_rule(name: str, **override):
    return getattr(pt, name)(**{**CONFIGS[name], **override})


def twin_of_example(rule):
    """The torch twin with the numpy instance's field values (read from the dataclass, not from_numpy)."""
    return getattr(pt, type(rule).__name__)(**{f.name: getattr(rule, f.name) for f in dataclasses.fields(rule)})


def inputs(steps: int, seed: int, batch: tuple[int, ...] = ()):
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 0.4, batch + (N_POST, N_PRE))
    pre = rng.normal(0.0, 1.0, (steps,) + batch + (N_PRE,))
    post = rng.uniform(0.05, 1.2, (steps,) + batch + (N_POST,))
    return W, pre, post


def _signature(cls) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()]


@pytest.mark.parametrize("cls", RATE_RULES, ids=lambda c: c.__name__)
def test_every_registered_rate_rule_has_a_same_named_twin(cls):
    twin = getattr(pt, cls.__name__, None)
    assert twin is not None, f"plasticity.torch has no twin of the registered rate rule {cls.__name__}"
    assert twin.twin is cls and pt.twin_class(cls) is twin and twin in pt.TWINS
    # same parameters, order, kinds and defaults as the numpy dataclass's constructor
    assert _signature(twin) == _signature(cls)
    assert twin.param_names == tuple(f.name for f in dataclasses.fields(cls))
    assert twin.constraints == cls.constraints
    assert twin.state_class._fields == cls.state_fields
    assert twin.w_bounds == cls.bounds and twin.acts_on_neurons == cls.acts_on_neurons


def test_twin_lists_follow_the_registry():
    assert tuple(t.twin for t in pt.TWINS) == RATE_RULES
    assert pt.ALL_RULES == pt.TWINS + (pt.PolynomialRule,)
    assert set(CONFIGS) == set(GRAD_PARAM) == {cls.__name__ for cls in RATE_RULES}


@pytest.mark.parametrize("rule", EXAMPLES, ids=repr)
def test_registered_examples_match_reference_and_kernel(rule):
    steps, dt = 40, 0.1
    W0, pre, post = inputs(steps, seed=11)
    W0 = np.clip(1.5 * W0, *rule.weight_bounds())  # spread up to the examples' bounds, so that the clip acts
    twin = twin_of_example(rule)
    assert all(float(getattr(twin, n)) == float(getattr(rule, n)) for n in twin.constraints)
    W_ref, s_ref = W0.copy(), rule.init_state(N_POST, N_PRE)
    W_fast, s_fast = W0.copy(), rule.init_state(N_POST, N_PRE)
    W_t, s_t = torch.tensor(W0), twin.init_state(N_POST, N_PRE, dtype=torch.float64)
    for field in s_t._fields:  # both faces fill the initial state with the same constant
        np.testing.assert_array_equal(getattr(s_t, field).numpy(), getattr(s_ref, field))
    lo, hi = rule.weight_bounds()
    bounds_hit = {b: False for b in (lo, hi) if math.isfinite(b)}
    for k in range(steps):
        rule.reference_update(W_ref, pre[k], post[k], s_ref, dt)
        rule.update(W_fast, pre[k], post[k], s_fast, dt)
        W_t, s_t = twin.update(W_t, torch.tensor(pre[k]), torch.tensor(post[k]), s_t, dt)
        for b in bounds_hit:
            bounds_hit[b] |= bool(np.any(W_ref == b)) and np.array_equal(W_t.numpy() == b, W_ref == b)
    # the same float64 operations grouped differently (numpy adds dt*(...) to W; the kernel and
    # torch form W*(1+b) + a*x + c): a few ulps per step, O(1) values, 40 steps -> far below 1e-12
    for W_other in (W_ref, W_fast):
        np.testing.assert_allclose(W_t.numpy(), W_other, rtol=1e-12, atol=1e-14)
    assert not np.allclose(W_ref, W0) or rule.acts_on_neurons  # the rule did change W
    s_init = rule.init_state(N_POST, N_PRE)
    for field in s_t._fields:
        for s_other in (s_ref, s_fast):
            np.testing.assert_allclose(getattr(s_t, field).numpy(), getattr(s_other, field), rtol=1e-12, atol=1e-14)
    if s_t._fields:  # the state moved, so the comparison covered its update
        assert any(not np.allclose(getattr(s_ref, f), getattr(s_init, f)) for f in s_t._fields)
    # every finite bound was reached at some step, by the same elements in both faces: the
    # comparison covered torch.clamp
    assert all(bounds_hit.values()), bounds_hit


@pytest.mark.parametrize("rule", EXAMPLES, ids=repr)
def test_from_numpy_builds_the_same_twin(rule):
    twin = pt.TorchRule.from_numpy(rule)
    assert type(twin) is getattr(pt, type(rule).__name__)
    assert all(getattr(twin, n) == getattr(rule, n) for n in twin.param_names)


@pytest.mark.parametrize("name", CONFIGS)
def test_constraints_equal_numpy_constraints(name):
    assert getattr(pt, name).constraints == type(numpy_rule(name)).constraints


@pytest.mark.parametrize("name", CONFIGS)
def test_matches_reference_and_kernel(name):
    steps, dt = 60, 0.1
    W0, pre, post = inputs(steps, seed=1)
    nrule, trule = numpy_rule(name), torch_rule(name)
    W0 = np.clip(W0, *nrule.weight_bounds())  # numpy's update refuses weights outside the bounds
    W_ref, s_ref = W0.copy(), nrule.init_state(N_POST, N_PRE)
    W_fast, s_fast = W0.copy(), nrule.init_state(N_POST, N_PRE)
    W_t, s_t = torch.tensor(W0), trule.init_state(N_POST, N_PRE, dtype=torch.float64)
    for k in range(steps):
        nrule.reference_update(W_ref, pre[k], post[k], s_ref, dt)
        nrule.update(W_fast, pre[k], post[k], s_fast, dt)
        W_t, s_t = trule.update(W_t, torch.tensor(pre[k]), torch.tensor(post[k]), s_t, dt)
    # same float64 operations, grouped differently (numpy adds dt*(...) to W; the kernel and
    # torch form W*(1+b) + a*x): a few ulps per step over 60 steps
    for W_other in (W_ref, W_fast):
        np.testing.assert_allclose(W_t.numpy(), W_other, rtol=1e-12, atol=1e-14)
    assert s_t._fields == tuple(f for f in vars(s_ref))
    for field in s_t._fields:
        for s_other in (s_ref, s_fast):
            np.testing.assert_allclose(getattr(s_t, field).numpy(), getattr(s_other, field), rtol=1e-12, atol=1e-14)
    if nrule.bounds is not None:  # the clip was active, so the comparison covered torch.clamp
        assert np.isclose(W_ref, CONFIGS[name]["w_max"]).any() or np.isclose(W_ref, CONFIGS[name]["w_min"]).any()


@pytest.mark.parametrize("name", CONFIGS)
def test_batched_equals_per_sample(name):
    rule, steps, batch = torch_rule(name), 5, (2, 3)
    W0, pre, post = (torch.tensor(a) for a in inputs(steps, seed=2, batch=batch))
    Wb, sb = W0, rule.init_state(N_POST, N_PRE, batch=batch, dtype=torch.float64)
    for k in range(steps):
        Wb, sb = rule.update(Wb, pre[k], post[k], sb, 0.1)
    for i in range(batch[0]):
        for j in range(batch[1]):
            W, s = W0[i, j], rule.init_state(N_POST, N_PRE, dtype=torch.float64)
            for k in range(steps):
                W, s = rule.update(W, pre[k, i, j], post[k, i, j], s, 0.1)
            # elementwise operations only: batching does not change a single rounding
            torch.testing.assert_close(Wb[i, j], W, rtol=0, atol=0)
            for a, b in zip(sb, s):
                torch.testing.assert_close(a[i, j], b, rtol=0, atol=0)


@pytest.mark.parametrize("name", CONFIGS)
def test_gradcheck_through_steps(name):
    pname = GRAD_PARAM[name]
    W0, pre, post = inputs(3, seed=3)  # sliced to 3 post x 2 pre: gradcheck is O(inputs^2)
    W0 = torch.tensor(W0[:3, :2], requires_grad=True)
    pre = torch.tensor(pre[:, :2], requires_grad=True)
    post = torch.tensor(post[:, :3], requires_grad=True)
    p = torch.tensor(float(CONFIGS[name][pname]), dtype=torch.float64, requires_grad=True)
    cfg = dict(CONFIGS[name])
    if getattr(pt, name).w_bounds:  # the clip is not differentiable at the bounds: test the smooth part
        cfg.update(w_min=-math.inf, w_max=math.inf)

    def f(W, x, y, p):
        rule = getattr(pt, name)(**{**cfg, pname: p})
        s = rule.init_state(3, 2, dtype=torch.float64)
        for k in range(3):
            W, s = rule.update(W, x[k], y[k], s, 0.1)
        return (W, *s)

    assert torch.autograd.gradcheck(f, (W0, pre, post, p))


def test_parameters_are_learnable_and_registered():
    eta = torch.nn.Parameter(torch.tensor(0.5))
    tau = torch.tensor(2.0)
    model = torch.nn.Module()
    model.rule = pt.BCM(eta=eta, tau_theta=tau)
    assert [p is eta for p in model.parameters()] == [True]
    assert any(b is tau for b in model.buffers())
    W = torch.randn(3, 4)
    W2, _ = model.rule.update(W, torch.randn(4), torch.rand(3), model.rule.init_state(3, 4), 0.1)
    W2.sum().backward()
    assert eta.grad is not None and eta.grad != 0


@pytest.mark.parametrize("name", CONFIGS)
def test_float32_close_to_float64(name):
    W0, pre, post = inputs(20, seed=4)
    out = {}
    for dtype in (torch.float32, torch.float64):
        rule = torch_rule(name)
        W, s = torch.tensor(W0, dtype=dtype), rule.init_state(N_POST, N_PRE, dtype=dtype)
        for k in range(20):
            W, s = rule.update(W, torch.tensor(pre[k], dtype=dtype), torch.tensor(post[k], dtype=dtype), s, 0.1)
        assert W.dtype == dtype and all(t.dtype == dtype for t in s)
        out[dtype] = W
    # float32 epsilon is 1.2e-7; 20 steps of O(1) updates lose at most a few hundred ulps
    torch.testing.assert_close(out[torch.float32].double(), out[torch.float64], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", CONFIGS)
def test_device_agnostic_on_meta_device(name):
    # The meta device has no data: any op that silently creates a CPU tensor fails here,
    # which is what would break on CUDA. Tensor parameters move with .to().
    first = getattr(pt, name).param_names[0]
    rule = torch_rule(name, **{first: torch.tensor(CONFIGS[name][first])}).to("meta")
    W = torch.empty(2, N_POST, N_PRE, device="meta")
    s = rule.init_state(N_POST, N_PRE, batch=2)
    assert all(t.device.type == "meta" for t in s)
    W2, s2 = rule.update(W, torch.empty(2, N_PRE, device="meta"), torch.empty(2, N_POST, device="meta"), s, 0.1)
    assert W2.device.type == "meta" and W2.shape == W.shape


@pytest.mark.parametrize("name", CONFIGS)
def test_module_to_dtype_converts_tensor_parameters(name):
    first = getattr(pt, name).param_names[0]
    rule = torch_rule(name, **{first: torch.tensor(CONFIGS[name][first], dtype=torch.float32)}).to(torch.float64)
    assert getattr(rule, first).dtype == torch.float64


@pytest.mark.parametrize("name", CONFIGS)
def test_no_in_place_operation(name):
    rule = torch_rule(name)
    W, pre, post = (torch.tensor(a) for a in inputs(1, seed=5))
    s = rule.init_state(N_POST, N_PRE, dtype=torch.float64)
    tensors = [W, pre[0], post[0], *s]
    versions, copies = [t._version for t in tensors], [t.clone() for t in tensors]
    rule.update(W, pre[0], post[0], s, 0.1)
    assert [t._version for t in tensors] == versions
    for t, c in zip(tensors, copies):
        assert torch.equal(t, c)


@pytest.mark.parametrize("name", CONFIGS)
def test_bad_parameter_values_raise_the_numpy_message(name):
    np_cls, t_cls = getattr(nr, name), getattr(pt, name)
    for pname, allowed in t_cls.constraints.items():
        for bad in allowed.outside() + [math.nan]:
            cfg = {**CONFIGS[name], pname: bad}
            with pytest.raises(ValueError) as t_err:
                t_cls(**cfg)
            with pytest.raises(ValueError) as np_err:
                np_cls(**cfg)
            assert str(t_err.value) == str(np_err.value)
            assert re.search(rf"{name}\.{pname} must be .*{re.escape(str(allowed))}", str(t_err.value))
            # the same value as a tensor is refused too, naming the parameter and the range
            with pytest.raises(ValueError, match=rf"{name}\.{pname} must be .*{re.escape(str(allowed))}"):
                t_cls(**{**CONFIGS[name], pname: torch.tensor(bad)})


def test_cross_parameter_errors_match_numpy():
    for name, cfg in (("Hebbian", dict(eta=1.0, w_min=1.0, w_max=0.0)),
                      ("InhibitoryPlasticity", dict(eta=1.0, target=0.1, w_min=0.5, w_max=0.5)),
                      ("MetaplasticBCM", dict(eta=1.0, tau_theta=5.0, tau_meta=2.0)),
                      ("IntrinsicPlasticity", dict(eta=1.0, target=0.1, eta_gain=-0.5))):
        with pytest.raises(ValueError) as t_err:
            getattr(pt, name)(**cfg)
        with pytest.raises(ValueError) as np_err:
            getattr(nr, name)(**cfg)
        assert str(t_err.value) == str(np_err.value)
    for bad in (1, "yes"):  # the numpy check, with its message, on the torch face
        with pytest.raises(TypeError) as t_err:
            pt.IntrinsicPlasticity(eta=1.0, target=0.1, adapt_gain=bad)
        with pytest.raises(TypeError) as np_err:
            nr.IntrinsicPlasticity(eta=1.0, target=0.1, adapt_gain=bad)
        assert str(t_err.value) == str(np_err.value) and "adapt_gain" in str(t_err.value)
    with pytest.raises(TypeError, match=r"BCM\.eta must be a number"):
        pt.BCM(eta="fast", tau_theta=1.0)


def test_cross_parameter_checks_run_per_element_of_tensor_parameters():
    # row 1 has w_min = 2 > w_max = 1: the numpy message with that element's values
    with pytest.raises(ValueError, match=re.escape("Hebbian.w_min must be smaller than Hebbian.w_max; got w_min=2.0, w_max=1.0")):
        pt.Hebbian(eta=1.0, w_min=torch.tensor([0.0, 2.0]), w_max=1.0)
    with pytest.raises(ValueError, match=r"MetaplasticBCM\.tau_meta must be larger than tau_theta = 3\.0; got 2\.0"):
        pt.MetaplasticBCM(eta=1.0, tau_theta=torch.tensor([1.0, 3.0]), tau_meta=torch.nn.Parameter(torch.tensor([5.0, 2.0])))
    with pytest.raises(ValueError, match=r"IntrinsicPlasticity\.eta_gain must be a number in \(0, inf\); got -1\.0"):
        pt.IntrinsicPlasticity(eta=1.0, target=0.1, eta_gain=torch.tensor([0.5, -1.0]))
    # every element fine: accepted, and the tensors are registered
    rule = pt.Hebbian(eta=1.0, w_min=torch.tensor([0.0, -2.0]), w_max=torch.nn.Parameter(torch.tensor(1.0)))
    assert [n for n, _ in rule.named_parameters()] == ["w_max"] and [n for n, _ in rule.named_buffers()] == ["w_min"]
    ip = pt.IntrinsicPlasticity(eta=1.0, target=0.1, adapt_gain=True, eta_gain=torch.nn.Parameter(torch.tensor(0.3)))
    assert [n for n, _ in ip.named_parameters()] == ["eta_gain"]


def test_generated_init_binds_like_the_dataclass():
    assert pt.BCM(0.1, 2.0, 0.3).theta0 == nr.BCM(0.1, 2.0, 0.3).theta0 == 0.3
    assert pt.MetaplasticBCM(0.1, 2.0, 9.0).kappa == nr.MetaplasticBCM(0.1, 2.0, 9.0).kappa == 1.0  # the default
    with pytest.raises(TypeError, match=r"BCM: missing a required argument: 'tau_theta'"):
        pt.BCM(eta=0.1)
    with pytest.raises(TypeError, match=r"BCM: got an unexpected keyword argument 'gamma'"):
        pt.BCM(eta=0.1, tau_theta=1.0, gamma=2.0)
    with pytest.raises(TypeError, match=r"Oja: too many positional arguments"):
        pt.Oja(0.1, 0.2)
    with pytest.raises(TypeError, match=r"BCM: multiple values for argument 'eta'"):
        pt.BCM(0.1, 2.0, eta=0.2)
    assert repr(pt.HeterosynapticDecay(0.2)) == "HeterosynapticDecay(beta=0.2, w_ref=0.0, power=4.0)"


def test_a_twin_is_checked_against_its_numpy_rule_when_declared():
    from plasticity.torch import RowAffineRule

    class Wrong(NamedTuple):
        threshold: torch.Tensor

    with pytest.raises(TypeError, match=r"has the fields \('threshold',\); expected \('theta',\) = BCM\.state_fields"):
        class BadBCM(RowAffineRule, twin_of=nr.BCM):
            state_class = Wrong
    with pytest.raises(TypeError, match="must declare state_class"):
        class NoState(RowAffineRule, twin_of=nr.Oja):
            pass
    with pytest.raises(TypeError, match=r"no initial value for state field 'rate' \(no parameter 'rate0'\)"):
        class NoInitial(RowAffineRule, twin_of=nr.SynapticScaling):
            state_class = pt.SynapticScalingState
    with pytest.raises(TypeError, match="twin_of must be a numpy rule dataclass"):
        class NotARule(RowAffineRule, twin_of=dict):
            state_class = pt.OjaState

    class MyBCM(RowAffineRule, twin_of=nr.BCM):  # a second twin: declared from BCM too, not registered
        state_class = pt.BCMState

    assert _signature(MyBCM) == _signature(nr.BCM) and pt.twin_class(nr.BCM) is pt.BCM
    assert MyBCM(0.1, 2.0, 0.4).init_state(3, 2, dtype=torch.float64).theta.tolist() == [0.4] * 3


def test_per_neuron_tensor_bounds_clip_rows():
    # a (n_post,) bound is one bound per row of W[post, pre] (n_post != n_pre, so columns would fail)
    w_max = np.array([0.1, 0.2, 0.3])
    rule = pt.Hebbian(eta=1.0, w_max=torch.tensor(w_max))
    rule.check_shapes(3, 2)
    W0, x, y = np.zeros((3, 2)), np.array([1.0, 0.5]), np.array([1.0, 1.0, 1.0])
    W_t, _ = rule.update(torch.tensor(W0), torch.tensor(x), torch.tensor(y), rule.init_state(3, 2), 1.0)
    for i in range(3):
        W_np = W0[i : i + 1].copy()
        r = nr.Hebbian(eta=1.0, w_max=w_max[i])
        r.reference_update(W_np, x, y[i : i + 1], r.init_state(1, 2), 1.0)
        np.testing.assert_array_equal(W_t[i].numpy(), W_np[0])  # a clip and one product: exact
    assert W_t[0, 0] == 0.1 and W_t[2, 1] == 0.3


def test_step_errors_name_the_argument():
    rule = pt.BCM(eta=0.1, tau_theta=2.0)
    W, s = torch.zeros(4, 3), rule.init_state(4, 3)
    with pytest.raises(ValueError, match=r"BCM\.update: post has shape \(5,\); expected \(\*batch, 4\) = n_post"):
        rule.update(W, torch.zeros(3), torch.zeros(5), s, 0.1)
    with pytest.raises(ValueError, match=r"BCM\.update: pre has shape"):
        rule.update(W, torch.zeros(2), torch.zeros(4), s, 0.1)
    with pytest.raises(ValueError, match=r"BCM\.update: dt must be a number in \(0, inf\); got -0\.1"):
        rule.update(W, torch.zeros(3), torch.zeros(4), s, -0.1)
    with pytest.raises(TypeError, match=r"BCM\.update: W must be a torch\.Tensor"):
        rule.update(np.zeros((4, 3)), torch.zeros(3), torch.zeros(4), s, 0.1)
    with pytest.raises(TypeError, match="state must be a BCMState"):
        rule.update(W, torch.zeros(3), torch.zeros(4), pt.OjaState(), 0.1)
    with pytest.raises(ValueError, match=r"state\.theta has shape \(5,\)"):
        rule.update(W, torch.zeros(3), torch.zeros(4), rule.init_state(5, 3), 0.1)
    with pytest.raises(ValueError, match="batch shapes do not broadcast"):
        rule.update(torch.zeros(2, 4, 3), torch.zeros(3, 3), torch.zeros(4), s, 0.1)
    with pytest.raises(ValueError, match=r"BCM\.init_state: n_post must be an integer in \[1, inf\); got 0"):
        rule.init_state(0, 3)
    with pytest.raises(ValueError, match=r"BCM\.tau_theta has shape \(3,\); expected a scalar or a tensor broadcastable to \(4,\)"):
        pt.BCM(eta=0.1, tau_theta=torch.ones(3)).check_shapes(4, 3)


def test_per_neuron_tensor_parameters_match_numpy_rows():
    # a (n_post,) tensor parameter acts row by row like n_post scalar rules
    etas = np.array([0.1, 0.2, 0.3])
    rule = pt.Oja(eta=torch.tensor(etas))
    rule.check_shapes(3, 2)
    W0, x, y = np.ones((3, 2)) * 0.5, np.array([0.3, -0.2]), np.array([0.5, 1.0, 1.5])
    W_t, _ = rule.update(torch.tensor(W0), torch.tensor(x), torch.tensor(y), rule.init_state(3, 2), 0.1)
    for i, eta in enumerate(etas):
        W_np = W0[i : i + 1].copy()
        nr.Oja(eta=eta).reference_update(W_np, x, y[i : i + 1], nr.Oja(eta=eta).init_state(1, 2), 0.1)
        np.testing.assert_allclose(W_t[i].numpy(), W_np[0], rtol=1e-15)  # same operations, one row each
