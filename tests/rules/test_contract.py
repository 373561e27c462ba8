"""The contract every exported rule honours, one check per test, run over a registry.

Each test is parametrised over ``RULES`` (configured instances of every rule class in
``plasticity.rules.ALL_RULES``; the spiking ones come from ``_spiking_cases.py`` beside this
file), so ``pytest -k kernel_matches`` runs one property across all rules. Error tests are
generated from each rule's declared ``constraints``.
"""
from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import _spiking_cases  # registered by tests/conftest.py (loaded by path: any import mode)
import plasticity.rules
from plasticity.rules import IntrinsicPlasticity, RateRule
from plasticity.rules.registry import RATE_RULES as REGISTERED_RATE_RULES
from plasticity.rules._dispatch import rule_coefficients
from plasticity.rules._base import pack_state


# Every registered rate rule, with the configurations it declares (``examples()``): a new rule
# in the registry is picked up here without editing this file.
RATE_RULES = [rule for cls in REGISTERED_RATE_RULES for rule in cls.examples()]
SPIKING_RULES = list(_spiking_cases.SPIKING_RULES)
RULES = RATE_RULES + SPIKING_RULES
N_POST, N_PRE = 7, 5  # non-square and odd, so a transposed index cannot pass


def rule_id(rule) -> str:
    return type(rule).__name__


def step_inputs(rule, n_post: int, n_pre: int, steps: int, seed: int):
    """Initial ``W`` and a list of ``(pre, post)`` per step suited to the rule.

    Rate rules get signed activities; spiking rules get 0/1 spike indicators (about 30% of
    neurons spike per step, so that pairs, triplets and silent steps all occur) and
    non-negative weights inside their default bounds.
    """
    rng = np.random.default_rng(seed)
    if getattr(rule, "spiking", False):
        W = np.clip(rng.uniform(0.1, 0.9, (n_post, n_pre)), *rule.weight_bounds())  # update refuses W outside
        seq = [
            ((rng.random(n_pre) < 0.3).astype(np.float64), (rng.random(n_post) < 0.3).astype(np.float64))
            for _ in range(steps)
        ]
    else:
        W = np.clip(rng.normal(0.0, 0.5, (n_post, n_pre)), *rule.weight_bounds())  # update refuses W outside
        seq = [(rng.normal(0.0, 1.0, n_pre), rng.normal(0.3, 0.8, n_post)) for _ in range(steps)]
    return W, seq


def dt_for(rule) -> float:
    """The step of the contract runs: 0.1 model time units for rate rules, 0.1 s for spiking
    rules (``_spiking_cases.py`` picks trace time constants of that order, so that traces
    carry over between steps)."""
    return 0.1


def state_arrays(state) -> dict[str, np.ndarray]:
    return {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}


def assert_close_scaled(actual, desired, rtol, what):
    # Rounding differences are relative to the largest terms that were summed, not to an
    # entry that happens to have cancelled to near zero, hence an atol scaled by the maximum.
    scale = max(float(np.max(np.abs(desired), initial=0.0)), 1e-300)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale, err_msg=what)


def run_both(rule, W0, seq, dt):
    W_fast, W_ref = W0.copy(), W0.copy()
    s_fast, s_ref = rule.init_state(*W0.shape), rule.init_state(*W0.shape)
    for pre, post in seq:
        rule.update(W_fast, pre, post, s_fast, dt)
        rule.reference_update(W_ref, pre, post, s_ref, dt)
    return (W_fast, s_fast), (W_ref, s_ref)


def test_registry_covers_every_rule():
    assert isinstance(plasticity.rules.ALL_RULES, tuple)
    assert len(set(plasticity.rules.ALL_RULES)) == len(plasticity.rules.ALL_RULES)
    assert {type(r) for r in RULES} == set(plasticity.rules.ALL_RULES)


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_kernel_matches_reference(rule):
    W0, seq = step_inputs(rule, N_POST, N_PRE, steps=60, seed=0)
    (W_fast, s_fast), (W_ref, s_ref) = run_both(rule, W0, seq, dt=dt_for(rule))
    assert not np.array_equal(W_ref, W0) or isinstance(rule, IntrinsicPlasticity)  # the test exercised W
    # Same float64 operations grouped differently (e.g. (dt*eta*g)*x against dt*(eta*outer)):
    # a few ulps per step, accumulated over 60 steps, stays far below 1e-12.
    assert_close_scaled(W_fast, W_ref, 1e-12, "W")
    for name, ref in state_arrays(s_ref).items():
        assert_close_scaled(state_arrays(s_fast)[name], ref, 1e-12, f"state.{name}")


@pytest.mark.parametrize("rule", RATE_RULES, ids=rule_id)
def test_float32_weights_follow_float64_reference(rule):
    W0, seq = step_inputs(rule, N_POST, N_PRE, steps=60, seed=1)
    W32, s32 = W0.astype(np.float32), rule.init_state(N_POST, N_PRE)
    W64, s64 = W0.copy(), rule.init_state(N_POST, N_PRE)
    for pre, post in seq:
        rule.update(W32, pre, post, s32, 0.1)
        rule.reference_update(W64, pre, post, s64, 0.1)
    assert W32.dtype == np.float32
    # float32 storage rounds W once per step (half-ulp 6e-8 relative): 60 roundings give at
    # most 60 * 6e-8 = 3.6e-6 even if they all add up (typically ~5e-7); 1e-5 bounds that.
    assert_close_scaled(W32, W64, 1e-5, "W float32")


def _draw_in(draw, allowed, name):
    """A value inside ``allowed``, in a moderate range (keeps 8 Euler steps finite)."""
    lo = allowed.low if math.isfinite(allowed.low) else -2.0
    hi = allowed.high if math.isfinite(allowed.high) else lo + 4.0
    if allowed.low == 0.0 and allowed.closed in ("right", "neither"):
        lo = 0.05  # open at zero: taus/etas near zero are valid but make no different kernel path
    if name in ("w_min", "w_max") and draw(st.booleans()):
        return -math.inf if name == "w_min" else math.inf
    return draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))


@pytest.mark.parametrize("base", RATE_RULES, ids=rule_id)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_kernel_matches_reference_property(base, data):
    params = {name: _draw_in(data.draw, allowed, name) for name, allowed in base.constraints.items()}
    try:
        rule = dataclasses.replace(base, **params)
    except ValueError:  # a cross-parameter check (w_min < w_max, tau_meta > tau_theta)
        assume(False)
    n_post = data.draw(st.integers(1, 9), label="n_post")
    n_pre = data.draw(st.integers(1, 9), label="n_pre")
    dt = data.draw(st.floats(0.001, 0.2), label="dt")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    W0 = np.clip(rng.normal(0.0, 1.0, (n_post, n_pre)), *rule.weight_bounds())
    # Rates are non-negative here, so that a non-integer power of y stays real.
    seq = [(rng.normal(0.0, 1.0, n_pre), rng.uniform(0.0, 2.0, n_post)) for _ in range(8)]
    (W_fast, s_fast), (W_ref, s_ref) = run_both(rule, W0, seq, dt)
    # As in test_kernel_matches_reference: regrouped float64 operations, a few ulps per step
    # (the worst seen over 1500 draws per rule was 5e-15 relative to max |W|).
    assert_close_scaled(W_fast, W_ref, 1e-12, "W")
    for name, ref in state_arrays(s_ref).items():
        assert_close_scaled(state_arrays(s_fast)[name], ref, 1e-12, f"state.{name}")


@pytest.mark.parametrize("rule", RATE_RULES, ids=rule_id)
def test_dispatch_matches_rule_coefficients(rule):
    rng = np.random.default_rng(2)
    y = rng.uniform(0.0, 2.0, N_POST)
    S0 = pack_state(rule.init_state(N_POST, N_PRE), rule.state_fields, N_POST) + rng.normal(0, 0.1, (1, N_POST))
    S1, S2 = S0.copy(), S0.copy()
    a1, b1, c1, a2, b2, c2 = (np.zeros(N_POST) for _ in range(6))
    rule._coefficients(y, S1, rule._params(), 0.1, a1, b1, c1)
    n = len(rule.state_fields)
    rule_coefficients(np.array([rule.kind]), np.array([0, n]), np.array([0, rule._params().size]), y, S2,
                      rule._params(), 0.1, a2, b2, c2)
    # The same compiled arithmetic reached through the dispatcher: identical bits.
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_array_equal(S1, S2)


def test_kind_codes_come_from_the_registry():
    assert [cls.kind for cls in REGISTERED_RATE_RULES] == list(range(1, len(REGISTERED_RATE_RULES) + 1))
    for cls in REGISTERED_RATE_RULES:
        assert cls.examples() and all(type(r) is cls for r in cls.examples())


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_inputs_not_modified(rule):
    W, seq = step_inputs(rule, N_POST, N_PRE, steps=1, seed=3)
    pre, post = seq[0]
    pre0, post0 = pre.copy(), post.copy()
    for method in (rule.update, rule.reference_update):
        assert method(W, pre, post, rule.init_state(N_POST, N_PRE), dt_for(rule)) is None
        np.testing.assert_array_equal(pre, pre0)
        np.testing.assert_array_equal(post, post0)


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_frozen(rule):
    name = next(iter(rule.constraints))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(rule, name, getattr(rule, name))


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_equal_params_equal_rules(rule):
    twin = dataclasses.replace(rule)
    assert twin == rule and hash(twin) == hash(rule)
    name, allowed = next(iter(rule.constraints.items()))
    value = getattr(rule, name)
    other = next(v for v in (value * 1.5, value * 0.5, value + 0.5, value - 0.5) if v != value and v in allowed)
    assert dataclasses.replace(rule, **{name: other}) != rule


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_init_state_shapes(rule):
    state = rule.init_state(N_POST, N_PRE)
    assert dataclasses.is_dataclass(state)
    allowed = {(N_POST,), (N_PRE,), (N_POST, N_PRE)}
    for name, arr in state_arrays(state).items():
        assert isinstance(arr, np.ndarray) and arr.shape in allowed, (name, getattr(arr, "shape", None))
        assert np.all(np.isfinite(arr)), name
    if isinstance(rule, RateRule):
        assert tuple(state_arrays(state)) == rule.state_fields
        for arr in state_arrays(state).values():
            assert arr.shape == (N_POST,) and arr.dtype == np.float64
    for bad, err in ((0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(err, match=r"n_post must be an integer in \[1, inf\)"):
            rule.init_state(bad, N_PRE)


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_shape_mismatch_names_the_argument(rule):
    W, seq = step_inputs(rule, N_POST, N_PRE, steps=1, seed=4)
    pre, post = seq[0]
    state = rule.init_state(N_POST, N_PRE)
    with pytest.raises(ValueError, match=rf"post has shape \({N_POST - 1},\); expected \({N_POST},\)"):
        rule.update(W, pre, post[:-1], state, 0.1)
    with pytest.raises(ValueError, match=rf"pre has shape \({N_PRE + 1},\); expected \({N_PRE},\)"):
        rule.update(W, np.append(pre, 0.0), post, state, 0.1)
    if state_arrays(state):  # a stateless rule has no state to mismatch
        with pytest.raises(ValueError, match=r"state\.\w+ has shape"):
            rule.update(W, pre, post, rule.init_state(N_POST + 1, N_PRE + 1), 0.1)


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_nan_input_rejected(rule):
    W, seq = step_inputs(rule, N_POST, N_PRE, steps=1, seed=5)
    pre, post = seq[0]
    for name, bad in (("pre", math.nan), ("post", math.inf), ("post", math.nan)):
        arrays = {"pre": pre.copy(), "post": post.copy()}
        arrays[name][0] = bad
        for method in (rule.update, rule.reference_update):
            with pytest.raises(ValueError, match=rf"{name} must be finite"):
                method(W, arrays["pre"], arrays["post"], rule.init_state(N_POST, N_PRE), 0.1)


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_bad_dt_rejected(rule):
    W, seq = step_inputs(rule, N_POST, N_PRE, steps=1, seed=6)
    pre, post = seq[0]
    for dt in (0.0, -0.1, math.nan, math.inf):
        with pytest.raises(ValueError, match=r"dt must be a number in \(0, inf\)"):
            rule.update(W, pre, post, rule.init_state(N_POST, N_PRE), dt)


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_every_constraint_is_enforced(rule):
    owner = type(rule).__name__
    for name, allowed in rule.constraints.items():
        for bad in allowed.outside() + [math.nan]:
            with pytest.raises(ValueError, match=rf"{owner}\.{name} must be .*{re.escape(str(allowed))}; got"):
                dataclasses.replace(rule, **{name: bad})
        with pytest.raises(TypeError, match=rf"{owner}\.{name} must be"):
            dataclasses.replace(rule, **{name: "0.1"})


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_same_inputs_same_numbers(rule):
    W0, seq = step_inputs(rule, N_POST, N_PRE, steps=20, seed=7)
    runs = []
    for _ in range(2):
        W, state = W0.copy(), rule.init_state(N_POST, N_PRE)
        for pre, post in seq:
            rule.update(W, pre, post, state, dt_for(rule))
        runs.append((W, state_arrays(state)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    for name in runs[0][1]:
        np.testing.assert_array_equal(runs[0][1][name], runs[1][1][name])
