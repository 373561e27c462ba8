"""The numba kernel shared by every row-affine rate rule.

    W[i, j] <- clip(W[i, j] * (1 + b[i]) + a[i] * x[j] + c[i], w_min, w_max)

``a``, ``b``, ``c`` (float64, length n_post) already include ``dt`` (they come from the rules'
``coefficients`` functions, summed over the terms of a combined rule). The inner loop is a
fused multiply-add over one contiguous row of ``W[post, pre]``, which numba vectorises; with
infinite bounds the clip is skipped so the loop stays branch-free.
"""
from __future__ import annotations

import math

from numba import njit

__all__ = ["affine_rows", "first_outside"]


@njit(cache=True, nogil=True)
def affine_rows(W, x, a, b, c, w_min, w_max):
    n_post, n_pre = W.shape
    clip = not (math.isinf(w_min) and math.isinf(w_max))
    for i in range(n_post):
        ai = a[i]
        si = 1.0 + b[i]
        ci = c[i]
        if ai == 0.0 and si == 1.0 and ci == 0.0 and not clip:
            continue
        row = W[i]
        if clip:
            for j in range(n_pre):
                w = row[j] * si + ai * x[j] + ci
                row[j] = min(max(w, w_min), w_max)
        else:
            for j in range(n_pre):
                row[j] = row[j] * si + ai * x[j] + ci


@njit(cache=True, nogil=True)
def first_outside(W, w_min, w_max, absent_below):
    """``(i, j)`` of the first weight outside ``[w_min, w_max]`` or NaN, row by row; ``(-1, -1)`` if none.
    Entries below ``absent_below`` mark absent synapses and are skipped (``-inf``: none are).

    One read of ``W``: a row's flag is a branch-free reduction; only a flagged row is searched."""
    n_post, n_pre = W.shape
    for i in range(n_post):
        row = W[i]
        inside = True
        for j in range(n_pre):
            w = row[j]
            inside &= ((w >= w_min) & (w <= w_max)) | (w < absent_below)
        if not inside:
            for j in range(n_pre):
                w = row[j]
                if not ((w >= w_min and w <= w_max) or w < absent_below):
                    return i, j
    return -1, -1
