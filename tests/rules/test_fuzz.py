"""Fuzzing every registered rule: bad parameters and bad step arguments are refused clearly.

Generated from :data:`plasticity.rules.registry.RATE_RULES` and ``SPIKING_RULES`` (a new rule in
the registry is fuzzed without editing this file). Two properties:

* a constructor given NaN, inf, a value outside a declared constraint or a wrong type raises
  ``ValueError`` (a number outside the range) or ``TypeError`` (not a number) whose message
  reads ``<Rule>.<param> must be ... in <range>; got <value>``;
* ``update`` with random shapes, dtypes (int, float32, float64, complex, object), memory
  layouts (Fortran order, strided, read-only), non-finite values, foreign or damaged states and
  bad ``dt`` either raises ``ValueError``/``TypeError`` naming an argument that was damaged,
  before touching ``W`` or the state, exactly as ``reference_update`` does, or gives the result
  of ``reference_update``.

Rate rules are fed finite weights only: their step does not scan W for NaN (a full pass would
double the cost of the kernel; networks detect non-finite weights), so a NaN weight is the
caller's to avoid. Spiking rules refuse a NaN or out-of-bounds weight among those the step
changes, so theirs are fuzzed too.
"""
from __future__ import annotations

import dataclasses
import math
import re
import types
from numbers import Real

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plasticity.rules.registry import RATE_RULES, SPIKING_RULES

CLASSES = list(RATE_RULES) + list(SPIKING_RULES)


def _inside(allowed):
    """A value well inside a declared interval."""
    lo, hi = allowed.low, allowed.high
    v = (lo + hi) / 2 if math.isfinite(lo) and math.isfinite(hi) else lo + 1 if math.isfinite(lo) else hi - 1 if math.isfinite(hi) else 0.5
    return int(math.ceil(v)) if allowed.integer else v


def base_instances(cls) -> list:
    """The configurations a rule declares (``examples()``), or one built from its defaults and
    a value inside each declared constraint without a default."""
    if hasattr(cls, "examples"):
        return list(cls.examples())
    kwargs = {f.name: _inside(cls.constraints[f.name]) for f in dataclasses.fields(cls)
              if f.default is dataclasses.MISSING and f.name in cls.constraints}
    return [cls(**kwargs)]


UPDATE_RULES = [rule for cls in CLASSES for rule in base_instances(cls)]


def rule_id(x) -> str:
    return x.__name__ if isinstance(x, type) else type(x).__name__


# -- constructors ------------------------------------------------------------------------------
NOT_NUMBERS = ["0.1", None, [1.0], (1.0,), 1 + 1j, True, np.array([1.0]), object()]


@st.composite
def bad_parameter(draw, cls):
    """(name, bad value, expected exception type) for one declared constraint or choice."""
    names = sorted(cls.constraints) + sorted(cls.choices)
    name = draw(st.sampled_from(names))
    if name in cls.choices:
        value = draw(st.one_of(st.text(max_size=8).filter(lambda s: s not in cls.choices[name]),
                               st.sampled_from([None, 1, 1.5, b"additive"])))
        return name, value, ValueError if isinstance(value, str) else TypeError
    allowed = cls.constraints[name]
    real = st.one_of(st.sampled_from(allowed.outside() + [math.nan, math.inf, -math.inf]),
                     st.floats(allow_nan=True, allow_infinity=True),
                     st.integers(-10**6, 10**6))
    value = draw(st.one_of(real.filter(lambda v: v not in allowed), st.sampled_from(NOT_NUMBERS)))
    is_number = isinstance(value, Real) and not isinstance(value, bool)
    return name, value, ValueError if is_number else TypeError


@pytest.mark.parametrize("cls", CLASSES, ids=rule_id)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_constructor_refuses_bad_parameters(cls, data):
    base = base_instances(cls)[0]
    name, value, error = data.draw(bad_parameter(cls), label="name, value, error")
    with pytest.raises((ValueError, TypeError)) as info:
        dataclasses.replace(base, **{name: value})
    assert type(info.value) is error, info.value
    message = str(info.value)
    assert message.startswith(f"{cls.__name__}.{name} must be"), message
    if name in cls.constraints:
        assert f" in {cls.constraints[name]}; got " in message, message


# -- update ------------------------------------------------------------------------------------
FLOATS = (np.float64, np.float32)
DTYPES = [np.float64, np.float64, np.float32, np.int64, np.complex128, object]
LAYOUTS = ["C", "C", "F", "strided", "read-only"]


def _layout(a: np.ndarray, layout: str) -> np.ndarray:
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":  # a view of every other element of a larger array
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    if layout == "read-only":
        a = a.copy()
        a.flags.writeable = False
    return a


def _sprinkle(data, a: np.ndarray, label: str) -> bool:
    """Maybe put NaN or inf somewhere in float ``a`` (in place); whether it did."""
    if a.size == 0 or not data.draw(st.sampled_from([False, False, False, True]), label=f"{label} non-finite"):
        return False
    a.flat[data.draw(st.integers(0, a.size - 1), label=f"{label} index")] = data.draw(
        st.sampled_from([math.nan, math.inf, -math.inf]), label=f"{label} value")
    return True


class Case:
    """The arguments of one step and which of them were damaged."""

    def __init__(self) -> None:
        self.bad: set[str] = set()  # certainly invalid: the step must raise naming one of them
        self.maybe: set[str] = set()  # possibly invalid (a spiking rule checks only what it changes)


def _array(data, case: Case, name: str, values: np.ndarray, may_be_nonfinite: bool, bounds=None) -> np.ndarray:
    dtype = data.draw(st.sampled_from(DTYPES), label=f"{name} dtype")
    layout = data.draw(st.sampled_from(LAYOUTS), label=f"{name} layout")
    values = values.astype(np.float64)
    if may_be_nonfinite and _sprinkle(data, values, name):
        (case.maybe if bounds is not None else case.bad).add(name)
    if dtype is np.int64 and not (np.all(np.isfinite(values)) and np.all(values == np.round(values))):
        dtype = np.float64  # NaN and fractions (a bad spike 0.5) do not survive a cast to int
    if dtype not in (*FLOATS, np.int64):
        case.bad.add(name)
    if dtype is np.int64 and name == "W":
        case.bad.add(name)
    arr = values.astype(dtype)
    if layout == "read-only" and name == "W":
        case.bad.add(name)
    return _layout(arr, layout)


def _shape(data, case: Case, name: str, n: int) -> int:
    if data.draw(st.sampled_from([True, True, True, True, False]), label=f"{name} shape ok"):
        return n
    case.bad.add(name)
    return data.draw(st.sampled_from([n + 1, max(n - 1, 0)]).filter(lambda m: m != n), label=f"{name} length")


def _state(data, case: Case, rule, n_post: int, n_pre: int):
    state = rule.init_state(n_post, n_pre)
    fields = [f.name for f in dataclasses.fields(state)] if dataclasses.is_dataclass(state) else []
    what = data.draw(st.sampled_from(["good"] * 5 + ["None", "look-alike"] + ["field"] * 4 if fields else
                                     ["good"] * 5 + ["None", "look-alike"]), label="state damage")
    if what == "None":
        case.bad.add("state")
        return None
    if what == "look-alike":  # the right fields on the wrong class: refused like any foreign object
        case.bad.add("state")
        return types.SimpleNamespace(**{f: getattr(state, f) for f in fields})
    if what == "field":
        f = data.draw(st.sampled_from(fields), label="state field")
        arr = getattr(state, f)
        kind = data.draw(st.sampled_from(["nan", "int", "complex", "float32", "read-only", "strided", "length", "list"]),
                         label="state field damage")
        if kind == "nan":
            arr = arr.copy()
            arr[data.draw(st.integers(0, arr.size - 1))] = math.nan
        elif kind == "int":
            arr = arr.astype(np.int64)
        elif kind == "complex":
            arr = arr.astype(np.complex128)
        elif kind == "float32":
            arr = arr.astype(np.float32)
        elif kind in ("read-only", "strided"):
            arr = _layout(arr, kind)
        elif kind == "length":
            arr = np.zeros(arr.size + 1)
        else:
            arr = arr.tolist()
        if kind not in ("float32", "strided"):
            case.bad.add("state")
        setattr(state, f, arr)
    return state


def _dt(data, case: Case):
    dt = data.draw(st.sampled_from([0.01, 0.01, 0.01, 0.1, np.float32(0.01), 0.0, -0.1, math.nan, math.inf, "0.01", None]),
                   label="dt")
    if not isinstance(dt, (float, np.floating)) or not (math.isfinite(dt) and dt > 0):
        case.bad.add("dt")
    return dt


def _clone(a):
    """A copy of an array with the same dtype, memory layout and writeability."""
    if not isinstance(a, np.ndarray):
        return list(a) if isinstance(a, list) else a
    fortran = a.flags.f_contiguous and not a.flags.c_contiguous
    c = np.array(a, copy=True, order="F" if fortran else "C")
    if not (a.flags.c_contiguous or a.flags.f_contiguous):
        c = _layout(c, "strided")
    c.flags.writeable = a.flags.writeable
    return c


def _copy_state(state):
    if state is None:
        return None
    if isinstance(state, types.SimpleNamespace):
        return types.SimpleNamespace(**{k: _clone(v) for k, v in vars(state).items()})
    out = dataclasses.replace(state)
    for f in dataclasses.fields(state):
        setattr(out, f.name, _clone(getattr(state, f.name)))
    return out


def _state_arrays(state) -> dict:
    if state is None:
        return {}
    items = vars(state).items() if isinstance(state, types.SimpleNamespace) else \
        ((f.name, getattr(state, f.name)) for f in dataclasses.fields(state))
    return {k: np.array(v, copy=True) for k, v in items}


def _assert_same(a, b) -> None:
    """Equal dtype, shape and elements (NaN equal to NaN, also in object arrays)."""
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype == object:
        assert all(x is y or x == y for x, y in zip(a.ravel(), b.ravel()))
    else:
        np.testing.assert_array_equal(a, b)


def _named(message: str, rule) -> str:
    m = re.match(rf"{type(rule).__name__}\.update: (\S+) ", message)
    assert m, f"the message does not name an argument: {message}"
    return re.split(r"[.\[]", m.group(1))[0]


@pytest.mark.parametrize("rule", UPDATE_RULES, ids=rule_id)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_update_refuses_bad_arguments_or_matches_the_reference(rule, data):
    n_post = data.draw(st.integers(1, 6), label="n_post")
    n_pre = data.draw(st.integers(1, 6), label="n_pre")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    case = Case()
    spiking = getattr(rule, "spiking", False)
    if spiking:
        lo, hi = rule.weight_bounds()
        lo, hi = max(lo, 0.0), min(hi, lo + 1.0) if math.isfinite(lo) else min(hi, 1.0)
        W0 = rng.uniform(lo, hi, (n_post, n_pre))
        pre0 = (rng.random(_shape(data, case, "pre", n_pre)) < 0.5).astype(float)
        post0 = (rng.random(_shape(data, case, "post", n_post)) < 0.5).astype(float)
        if pre0.size and data.draw(st.sampled_from([False] * 5 + [True]), label="pre not a spike"):
            pre0[0] = 0.5
            case.bad.add("pre")
    else:
        W0 = np.clip(rng.normal(0.0, 1.0, (n_post, n_pre)), *rule.weight_bounds())  # outside: refused (test_bad_inputs)
        pre0 = rng.normal(0.0, 1.0, _shape(data, case, "pre", n_pre))
        post0 = rng.uniform(0.0, 2.0, _shape(data, case, "post", n_post))  # >= 0: y**power stays real
    W = _array(data, case, "W", W0, may_be_nonfinite=spiking, bounds=rule.weight_bounds() if spiking else None)
    if data.draw(st.sampled_from([False] * 9 + [True]), label="W not 2-D"):
        W = W.reshape(-1)
        case.bad.add("W")
    pre = _array(data, case, "pre", pre0, may_be_nonfinite=True)
    post = _array(data, case, "post", post0, may_be_nonfinite=True)
    state = _state(data, case, rule, n_post, n_pre)
    dt = _dt(data, case)

    runs = []
    for method in (rule.update, rule.reference_update):
        Wm = _clone(W)
        sm = _copy_state(state)
        pre_in, post_in = pre.copy(), post.copy()
        W_before, s_before = np.array(Wm, copy=True), _state_arrays(sm)
        try:
            method(Wm, pre, post, sm, dt)
        except (ValueError, TypeError) as e:
            runs.append(e)
            _assert_same(Wm, W_before)  # refused before touching W ...
            after = _state_arrays(sm)
            for k, v in s_before.items():  # ... or the state
                _assert_same(after[k], v)
        else:
            runs.append((Wm, _state_arrays(sm)))
        _assert_same(pre, pre_in)  # inputs are never modified
        _assert_same(post, post_in)
    fast, ref = runs
    if isinstance(fast, Exception):
        assert isinstance(ref, Exception) and type(ref) is type(fast) and str(ref) == str(fast), (fast, ref)
        named = _named(str(fast), rule)
        assert named in case.bad | case.maybe, f"{fast} (damaged: {sorted(case.bad | case.maybe)})"
        return
    assert not case.bad, f"accepted damaged {sorted(case.bad)}"
    assert not isinstance(ref, Exception), ref
    (W_fast, s_fast), (W_ref, s_ref) = fast, ref
    # float32 anywhere (a float32 dt too): numpy's reference computes some terms in float32 (y**power
    # of a float32 y; dt * eta with a numpy float32 dt under NEP 50) where the kernel uses float64
    single = any(np.asarray(a).dtype == np.float32 for a in (W, pre, post, dt, *s_ref.values()))
    rtol = 1e-4 if single else 1e-10
    scale = max(1.0, float(np.max(np.abs(W_ref), initial=0.0, where=np.isfinite(W_ref))))
    np.testing.assert_allclose(W_fast, W_ref, rtol=rtol, atol=rtol * scale)
    assert W_fast.dtype == W.dtype
    for k, v in s_ref.items():
        np.testing.assert_allclose(s_fast[k], v, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(v), initial=0.0))))
