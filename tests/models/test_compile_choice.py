"""Compile-time choice of a branch by the type of a marker (models/_compile_choice.py)."""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from models._compile_choice import FIRST, SECOND, THIRD, compile_time_choice, marker, nth


@njit
def _plus_one(x):
    return x + 1.0


@njit
def _times_two(x):
    return 2.0 * x


@njit
def _negate(x):
    return -x


_two = compile_time_choice(_plus_one, _times_two)
_three = compile_time_choice(_plus_one, _times_two, _negate)


@njit
def _call_two(which, x):
    return _two(which, x)


@njit
def _call_three(which, x):
    return _three(which, x)


def test_each_marker_runs_its_branch():
    assert _call_two(FIRST, 3.0) == 4.0 and _call_two(SECOND, 3.0) == 6.0
    assert [_call_three(nth(k), 3.0) for k in range(3)] == [4.0, 6.0, -3.0]
    assert marker(False) is FIRST and marker(True) is SECOND and nth(2) is THIRD
    assert {np.dtype(type(m)).itemsize for m in (FIRST, SECOND, THIRD)} == {1, 2, 4}  # distinct types


def test_only_the_chosen_branch_is_compiled():
    # a fresh set of branches: a caller specialised for FIRST compiles the first branch alone
    @njit
    def a(x):
        return x

    @njit
    def b(x):
        return x

    choose = compile_time_choice(a, b)

    @njit
    def caller(which, x):
        return choose(which, x)

    assert caller(FIRST, 1.0) == 1.0
    assert len(a.signatures) == 1 and len(b.signatures) == 0


def test_two_or_three_branches():
    with pytest.raises(ValueError, match="2 or 3 branches"):
        compile_time_choice(_plus_one)
