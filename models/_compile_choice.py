"""Choices made when a kernel is compiled, not when it runs, so a run compiles only what it uses.

A kernel that branches on a run-time flag compiles every branch: a serial/``parallel=True``
switch compiles both passes (the parallel one costs ~5 s for the population pass, ~15 s for
the single-matrix pass, measured with numba's compile events), and a spiking loop that may
call plasticity compiles every spiking rule (~6 s) even for a static network. Here the choice
is carried by the *type* of a marker argument: :data:`FIRST` is an int8, :data:`SECOND` an
int16, :data:`THIRD` an int32 (:func:`nth`), so each specialisation of the calling kernel holds one branch, and the kernel stays
cacheable (a dispatcher passed as an argument would make it uncacheable: numba refuses to
cache functions with such dynamic globals).

    pass_ = compile_time_choice(rows_serial, rows_parallel)   # module level, once

    @njit(cache=True)
    def kernel(which, W, ...):          # which = SERIAL or PARALLEL, from Python
        pass_(which, W, ...)            # resolved when `kernel` is compiled for that marker
"""
from __future__ import annotations

import numpy as np
from numba.extending import overload

__all__ = ["FIRST", "SECOND", "THIRD", "SERIAL", "PARALLEL", "STATIC", "PLASTIC", "compile_time_choice", "marker", "nth"]

FIRST, SECOND, THIRD = np.int8(0), np.int16(1), np.int32(2)
_BY_WIDTH = {8: 0, 16: 1, 32: 2}
SERIAL, PARALLEL = FIRST, SECOND   # passes over the rows
STATIC, PLASTIC = FIRST, SECOND    # a spiking network without / with plastic projections


def marker(second: bool) -> np.integer:
    """:data:`SECOND` if ``second`` else :data:`FIRST` (e.g. ``marker(parallel)``)."""
    return SECOND if second else FIRST


def nth(k: int) -> np.integer:
    """The marker of branch ``k`` (0, 1 or 2): :data:`FIRST`, :data:`SECOND` or :data:`THIRD`."""
    return (FIRST, SECOND, THIRD)[k]


def compile_time_choice(*branches):
    """A function ``f(which, *args)`` for jitted code: ``branches[k](*args)`` when ``which`` is
    the marker :func:`nth` ``(k)`` (decided at compile time; two or three branches)."""
    if not 2 <= len(branches) <= 3:
        raise ValueError(f"compile_time_choice: 2 or 3 branches; got {len(branches)}")

    def choose(which, *args):
        raise NotImplementedError("for numba-compiled code only: the branch is chosen at compile time")

    @overload(choose)
    def _choose(which, *args):
        chosen = branches[_BY_WIDTH[which.bitwidth]]

        def impl(which, *args):
            return chosen(*args)
        return impl

    choose.__name__ = choose.__qualname__ = "_or_".join(b.__name__ for b in branches)
    return choose
