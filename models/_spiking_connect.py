"""Random connectivity of a spiking network, drawn straight into compact CSR arrays.

:func:`models._spiking_build.build` draws every projection with :func:`_draw_into`; the
accessors (:func:`projection_csr`, :func:`projection_weights`, :func:`projection_pairs`,
:func:`connectivity`) read one projection back from a :class:`models._spiking_build.Built` (``built``; ``pr`` is one
of its ``projections``).
"""
from __future__ import annotations

import math
import numpy as np

from plasticity import _numba_cache  # noqa: F401  (numba's cache folder is chosen before any @njit)
from numba import njit

__all__ = ["bernoulli_pairs", "projection_csr", "projection_weights", "projection_pairs", "connectivity"]

# -- connectivity --------------------------------------------------------------------------
# Each projection is drawn row by row (per presynaptic neuron) straight into the compact arrays
# the kernels read: one int64 row pointer per presynaptic neuron and one 16-bit (32-bit when a
# target population has 32768 neurons or more) postsynaptic index per synapse, written by a
# numba function that skips through a row with geometric gaps. No temporary of the size of the
# synapse count is made. The projections follow one another in one index array, allocated for
# their expected counts plus 8 standard deviations each; were a draw ever to need more, the
# array is grown (copied).


@njit(cache=True, nogil=True)
def _draw_rows(seed, reseed, n_post, p, skip_diag, indptr, out, base, limit, r0, pending, c0):
    """Draw rows ``r0 ..`` of a Bernoulli(p) projection into ``out[base + c]``.

    Row ``r`` (presynaptic neuron) gets the sorted postsynaptic indices of its synapses; the
    pair ``(r, r)`` is skipped when ``skip_diag``. ``indptr[r + 1]`` is set when row ``r`` is
    complete. Returns ``(r, pending, c)``: all rows done (``r == n_pre``), or the region is full
    (``base + c == limit``) with the accepted index ``pending`` of row ``r`` still to write;
    calling again with the grown ``out`` and these values (``reseed=False``: numba's generator
    state continues) finishes the draw as if it had never stopped.
    """
    if reseed:
        np.random.seed(seed)
    n_pre = indptr.shape[0] - 1
    log_q = math.log1p(-p) if p < 1.0 else 0.0
    c = c0
    r = r0
    pos = pending
    have = pending >= 0
    if r0 == 0 and not have:
        indptr[0] = 0
    if not have:
        pos = -1
    while r < n_pre:
        if have:
            have = False
        else:
            if p >= 1.0:
                nxt = pos + 1
            else:
                # geometric gap in {1, 2, ...}: P(gap > k) = (1 - p)^k, by inversion
                gap = math.floor(math.log(1.0 - np.random.random()) / log_q) + 1.0
                if pos + gap >= n_post:
                    nxt = n_post
                else:
                    nxt = pos + int(gap)
            if nxt >= n_post:
                indptr[r + 1] = c
                r += 1
                pos = -1
                continue
            pos = nxt
            if skip_diag and pos == r:
                continue
        if base + c >= limit:
            return r, pos, c
        out[base + c] = pos
        c += 1
    return r, -1, c


def _capacity(n_pre: int, n_post: int, p: float, skip_diag: bool) -> int:
    """Room for a projection's synapses: the mean count plus 8 standard deviations (exact for p = 0, 1)."""
    pairs = n_pre * n_post - (min(n_pre, n_post) if skip_diag else 0)
    if p <= 0.0 or pairs == 0:
        return 0
    if p >= 1.0:
        return pairs
    m = pairs * p
    return int(min(pairs, math.ceil(m + 8.0 * math.sqrt(m * (1.0 - p)) + 64)))


def bernoulli_pairs(rng: np.random.Generator, n_pre: int, n_post: int, p: float,
                    autapses: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Each (pre, post) pair independently with probability ``p``, sorted by pre then post (int64).

    The draw of :func:`build` (without ``autapses`` the pairs ``(i, i)`` are left out), for
    small projections and tests; networks keep the compact form.
    """
    indptr, indices = _draw_projection(rng, n_pre, n_post, float(p), not autapses,
                                       np.int16 if n_post < 2**15 else np.int32)
    return np.repeat(np.arange(n_pre, dtype=np.int64), np.diff(indptr)), indices.astype(np.int64)


def _draw_projection(rng, n_pre, n_post, p, skip_diag, idx_t) -> tuple[np.ndarray, np.ndarray]:
    """One projection drawn into its own arrays (see :func:`_draw_into`)."""
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    out = np.empty(_capacity(n_pre, n_post, p, skip_diag), dtype=idx_t)
    out, n_syn = _draw_into(rng, n_post, p, skip_diag, indptr, out, 0)
    return indptr, out[:n_syn]


def _draw_into(rng, n_post, p, skip_diag, indptr, out, base) -> tuple[np.ndarray, int]:
    """Draw a projection into ``out[base:]`` (grown when full); ``(out, n_syn)``."""
    seed = int(rng.integers(2**32))
    n_pre = indptr.size - 1
    if p <= 0.0 or n_pre == 0 or n_post == 0:
        indptr[:] = 0
        return out, 0
    r, pending, c, reseed = 0, -1, 0, True
    while True:
        r, pending, c = _draw_rows(seed, reseed, n_post, float(p), skip_diag, indptr, out, base, out.size,
                                   r, pending, c)
        if r >= n_pre:
            return out, int(c)
        grown = np.empty(out.size + max(out.size // 8, 1024), dtype=out.dtype)  # 8 sigma exceeded: not seen
        grown[:base + c] = out[:base + c]
        out, reseed = grown, False


def projection_csr(built, pr: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr (n_pre + 1,) int64, indices (n_syn,))`` of a built projection: views, not copies."""
    ip, so = pr.ip_off, pr.syn_off
    return built.indptr[ip:ip + pr.n_pre + 1], built.indices[so:so + pr.n_syn]


def projection_weights(built, pr: dict) -> np.ndarray:
    """Initial weights ``(n_syn,)`` in the weight dtype: a view, or a read-only broadcast of
    the projection's one weight (no memory)."""
    if pr.w_off < 0:
        return np.broadcast_to(np.asarray(pr.w_const, dtype=built.weights.dtype), (pr.n_syn,))
    return built.weights[pr.w_off:pr.w_off + pr.n_syn]


def projection_pairs(indptr: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(pre, post)`` int64 of every synapse of a CSR-by-pre projection, in storage order."""
    pre = np.repeat(np.arange(indptr.size - 1, dtype=np.int64), np.diff(indptr))
    return pre, np.asarray(indices, dtype=np.int64).copy()


def connectivity(built, pr: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pre, post, w)`` (int64, int64, float64) of a built projection, made on demand."""
    pre, post = projection_pairs(*projection_csr(built, pr))
    return pre, post, projection_weights(built, pr).astype(np.float64)
