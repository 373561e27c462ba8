"""What every spiking rule shares: spike checks, packed traces, and the sparse projection interface.

A spiking rule is a frozen dataclass of parameters (validated as in :mod:`plasticity.rules._base`)
whose state is a set of *traces*: per-presynaptic-neuron arrays ``(n_pre,)`` and
per-postsynaptic-neuron arrays ``(n_post,)``. Units are SI (seconds, hertz); weights are
non-negative magnitudes (the sign of a synapse comes from its presynaptic population).

Within one step of length ``dt`` every rule does, in this order (reference, dense kernel and
sparse kernel alike):

1. decay every trace by ``exp(-dt / tau)`` (exact between spikes, so event-driven updates are
   exact; values below ``TINY = 1e-100`` are flushed to 0, see :func:`decay`);
2. for each presynaptic neuron that spiked: change its outgoing weights using the
   postsynaptic traces (depression), clip, then bump its presynaptic traces;
3. for each postsynaptic neuron that spiked: change its incoming weights using the
   presynaptic traces (already including this step's presynaptic spikes), clip, then bump its
   postsynaptic traces.

So a pre and a post spike in the same step count as pre-before-post (``Delta t = 0+``).

Dense interface (any user loop)
-------------------------------
``rule.update(W, pre, post, state, dt)`` with ``W[post, pre]`` float64 (or float32) and
``pre`` ``(n_pre,)``, ``post`` ``(n_post,)`` the spike indicators of one step (bool, or a real
array of 0/1). ``rule.reference_update`` is the same step in plain numpy. A weight the step
changes (a column of a presynaptic spike, a row of a postsynaptic spike) that lies outside the
rule's ``weight_bounds()`` or is NaN raises ``ValueError`` naming ``W`` before anything changes,
instead of being clipped silently; the weights of silent neurons are not scanned, since a full
scan would cost O(n_post * n_pre) against the O(spikes * n) of the step.

Sparse interface (the spiking network's plastic projections)
------------------------------------------------------------
A projection from a presynaptic population of ``n_pre`` neurons to a postsynaptic population
of ``n_post`` neurons with ``n_syn`` synapses is stored CSR by presynaptic neuron:

* ``indptr``  int64 ``(n_pre + 1,)``: the synapses of presynaptic neuron ``j`` are
  ``s = indptr[j] .. indptr[j+1]-1``;
* ``indices`` int64 ``(n_syn,)``: ``indices[s]`` is the postsynaptic neuron of synapse ``s``;
* ``w``       float64 ``(n_syn,)``: weight magnitude of synapse ``s`` (updated in place);
* ``post_indptr`` int64 ``(n_post + 1,)``, ``post_off`` ``(n_syn,)`` and ``post_pre``
  ``(n_syn,)``: the synapses onto postsynaptic neuron ``i`` are, for
  ``q = post_indptr[i] .. post_indptr[i+1]-1``, ``s = indptr[post_pre[q]] + post_off[q]``:
  ``post_pre[q]`` is the presynaptic neuron of that synapse (needed to read its presynaptic
  trace on a post spike) and ``post_off[q]`` its place in that neuron's row. Entries of a
  group are in increasing ``s``. Build all three with :func:`post_index` (int64) or
  :func:`fill_post_index` (into arrays of any integer dtype).

Integer arrays may also be int32, or int16 when the populations have fewer than 32768 neurons
(a row's place is below its length, at most ``n_post``), and ``w`` float32: numba compiles one
specialisation per dtype combination. With int16 ``indices``/``post_pre``/``post_off`` and
float32 ``w`` a plastic synapse costs 2 + 4 + 2 + 2 = 10 bytes; with int32 everywhere, 16
bytes. (Storing the place in the row rather than the synapse id ``s``, which needs 32 bits
beyond 32767 synapses, costs one read of ``indptr[post_pre[q]]`` per synapse, in increasing
order of ``post_pre``.)

Traces are packed into two float64 arrays, ``S_pre`` ``(k_pre, n_pre)`` and ``S_post``
``(k_post, n_post)``, whose rows are the rule's ``pre_fields`` and ``post_fields`` in order;
``P`` is the float64 parameter vector ``rule._params()``. Per step the network calls, for each
plastic projection, the numba function (callable from numba code or from Python)

    plasticity.rules._spiking_dispatch.spiking_rule_step(
        kind, pre_spikes, n_pre_spikes, post_spikes, n_post_spikes,
        indptr, indices, post_indptr, post_off, post_pre, w, S_pre, S_post, P, dt)

where ``kind`` is ``rule.kind`` (int), ``pre_spikes``/``post_spikes`` are int64 arrays whose
first ``n_pre_spikes``/``n_post_spikes`` entries are the (distinct) indices of the neurons that
spiked this step (local to the presynaptic / postsynaptic population), and ``dt`` is the step
in seconds. It decays all traces (``O(k (n_pre + n_post))``), changes only the weights of
synapses whose pre or post neuron spiked, bumps the traces, and returns nothing. Spikes must
be given in the step they reach the synapse (for a projection with delays, the network passes
the delayed presynaptic spikes; presynaptic traces are per neuron, so one delay per projection).
Kind codes: 0 static (nothing happens), 10 PairSTDP, 11 TripletSTDP, 12 InhibitorySTDP,
13 SpikingSynapticScaling. Per rule:

* ``rule.kind`` (int code, see :mod:`plasticity.rules._spiking_dispatch`),
  ``rule._params()`` (``P``),
* ``rule.init_sparse_state(n_post, n_pre) -> (S_pre, S_post)``,
* ``rule.pack(state) -> (S_pre, S_post)`` and ``rule.unpack(S_pre, S_post, state)`` (copies
  between the dense state dataclass and the packed arrays, in place on ``state``).

The sparse step on an all-to-all projection equals the dense step to rounding; on any other
projection it equals the dense step with absent synapses held at zero (tested).
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numba import njit

from plasticity._validation import check_shape
from plasticity.rules._base import Rule, _check_sizes, check_step, out_of_bounds_error

__all__ = ["SpikingRule", "check_spikes", "post_index", "fill_post_index", "decay", "decay_reference", "clip", "TINY"]


def check_spikes(owner: str, name: str, a: np.ndarray) -> np.ndarray:
    """Return ``a`` as a float64 0/1 array; raise ``ValueError`` if an entry is not 0 or 1 (O(n))."""
    if a.dtype == np.bool_:
        return a.astype(np.float64)
    out = np.ascontiguousarray(a, dtype=np.float64)
    bad = (out != 0.0) & (out != 1.0)
    if np.any(bad):
        first = float(out[np.argmax(bad)])
        raise ValueError(
            f"{owner}: {name} must be spike indicators of one step (bool, or 0/1); "
            f"got {int(np.count_nonzero(bad))} other value(s), e.g. {first!r}"
        )
    return out


def post_index(indptr: np.ndarray, indices: np.ndarray, n_post: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(post_indptr, post_off, post_pre)``: the synapses of a CSR-by-pre projection grouped by post neuron.

    Parameters
    ----------
    indptr : (n_pre + 1,) int array
        CSR row pointer by presynaptic neuron.
    indices : (n_syn,) int array
        Postsynaptic neuron of each synapse.
    n_post : int
        Size of the postsynaptic population.

    Returns
    -------
    post_indptr : (n_post + 1,) int64
    post_off : (n_syn,) int64
        Place of each synapse in its presynaptic neuron's row: the synapse of entry ``q`` is
        ``indptr[post_pre[q]] + post_off[q]`` (increasing within each group).
    post_pre : (n_syn,) int64
        Presynaptic neuron of each entry.

    For narrower integer dtypes (see the module docstring) use :func:`fill_post_index`.
    """
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    n_syn = int(indptr[-1]) if indptr.size else 0
    post_indptr = np.zeros(n_post + 1, dtype=np.int64)
    post_off = np.empty(n_syn, dtype=np.int64)
    post_pre = np.empty(n_syn, dtype=np.int64)
    fill_post_index(indptr, indices, post_indptr, post_off, post_pre)
    return post_indptr, post_off, post_pre


@njit(cache=True, nogil=True)
def fill_post_index(indptr, indices, post_indptr, post_off, post_pre):
    """Fill ``post_indptr`` ``(n_post + 1,)``, ``post_off`` and ``post_pre`` ``(n_syn,)`` (see
    :func:`post_index`) in place, by a counting sort: no temporary beyond ``n_post`` counters."""
    n_pre = indptr.shape[0] - 1
    n_post = post_indptr.shape[0] - 1
    n_syn = indptr[n_pre] if n_pre >= 0 else 0
    for i in range(n_post + 1):
        post_indptr[i] = 0
    for s in range(n_syn):
        post_indptr[np.intp(indices[s]) + 1] += 1
    for i in range(n_post):
        post_indptr[i + 1] += post_indptr[i]
    fill = post_indptr[:n_post].copy()
    for j in range(n_pre):
        a = indptr[j]
        for s in range(a, indptr[j + 1]):
            i = np.intp(indices[s])
            q = fill[i]
            fill[i] = q + 1
            post_pre[q] = j
            post_off[q] = s - a


def _check_bounds(owner: str, W: np.ndarray, fired_pre: np.ndarray, fired_post: np.ndarray,
                  w_min: float, w_max: float) -> None:
    """Raise ``ValueError`` naming ``W`` if a weight this step changes (the columns of the
    presynaptic and the rows of the postsynaptic spikes) lies outside ``[w_min, w_max]`` or is
    NaN: the step would clip it silently. Costs what the step costs, O(spikes * n); the
    weights of silent neurons are not scanned (a full scan would be O(n_post * n_pre) per step)."""
    if w_min == -np.inf and w_max == np.inf:
        return
    for block, rows, cols in ((W[:, fired_pre], slice(None), np.flatnonzero(fired_pre)),
                              (W[fired_post, :], np.flatnonzero(fired_post), slice(None))):
        bad = ~((block >= w_min) & (block <= w_max))
        if np.any(bad):
            i, j = np.unravel_index(np.argmax(bad), bad.shape)
            i = i if isinstance(rows, slice) else rows[i]
            j = j if isinstance(cols, slice) else cols[j]
            raise out_of_bounds_error(owner, "W", (i, j), W[i, j], w_min, w_max)


def _stack(state: Any, fields: tuple[str, ...]) -> np.ndarray:
    if not fields:  # a rule without traces on this side: an empty 2-D block, same numba type
        return np.zeros((0, 0))
    return np.array([getattr(state, f) for f in fields], dtype=np.float64)


class SpikingRule(Rule):
    """Base of spiking rules (see the module docstring for the step order and the sparse interface).

    Subclasses set ``kind``, ``pre_fields``, ``post_fields``, ``state_class``, and implement
    ``_params()``, ``_initial_traces(n_post, n_pre) -> (S_pre, S_post)``, ``_dense_kernel``
    (a numba function ``(W, pre, post, S_pre, S_post, P, dt)``) and ``_reference(W, pre, post,
    state, dt)`` (plain numpy on the state dataclass).
    """

    spiking: ClassVar[bool] = True
    kind: ClassVar[int] = -1
    pre_fields: ClassVar[tuple[str, ...]] = ()
    post_fields: ClassVar[tuple[str, ...]] = ()
    state_class: ClassVar[type] = object

    # -- hooks ---------------------------------------------------------------------------
    def _params(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _initial_traces(self, n_post: int, n_pre: int) -> tuple[np.ndarray, np.ndarray]:
        """Initial ``(S_pre, S_post)``; zeros unless a subclass says otherwise."""
        return np.zeros((len(self.pre_fields), n_pre)), np.zeros((len(self.post_fields), n_post))

    @staticmethod
    def _dense_kernel(W, pre, post, S_pre, S_post, P, dt):  # pragma: no cover - abstract
        raise NotImplementedError

    def _reference(self, W, pre, post, state, dt) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- packing -------------------------------------------------------------------------
    def init_sparse_state(self, n_post: int, n_pre: int) -> tuple[np.ndarray, np.ndarray]:
        """Packed traces ``(S_pre (k_pre, n_pre), S_post (k_post, n_post))``, float64, C order."""
        n_post, n_pre = _check_sizes(type(self).__name__, n_post, n_pre)
        S_pre, S_post = self._initial_traces(n_post, n_pre)
        return np.ascontiguousarray(S_pre, dtype=np.float64), np.ascontiguousarray(S_post, dtype=np.float64)

    def init_state(self, n_post: int, n_pre: int) -> Any:
        """The state dataclass: one ``(n_pre,)`` array per pre trace, one ``(n_post,)`` per post trace."""
        S_pre, S_post = self.init_sparse_state(n_post, n_pre)
        fields = {name: S_pre[k].copy() for k, name in enumerate(self.pre_fields)}
        fields.update({name: S_post[k].copy() for k, name in enumerate(self.post_fields)})
        return self.state_class(**fields)

    def pack(self, state: Any) -> tuple[np.ndarray, np.ndarray]:
        """New packed arrays ``(S_pre, S_post)`` holding the traces of ``state``."""
        return _stack(state, self.pre_fields), _stack(state, self.post_fields)

    def unpack(self, S_pre: np.ndarray, S_post: np.ndarray, state: Any) -> None:
        """Copy the rows of ``S_pre`` and ``S_post`` into the arrays of ``state``, in place."""
        for k, name in enumerate(self.pre_fields):
            getattr(state, name)[...] = S_pre[k]
        for k, name in enumerate(self.post_fields):
            getattr(state, name)[...] = S_post[k]

    def weight_bounds(self) -> tuple[float, float]:
        """The hard bounds ``(w_min, w_max)`` of the weights (the rule's ``w_min``, ``w_max``
        fields; unbounded when it has none)."""
        return float(getattr(self, "w_min", -np.inf)), float(getattr(self, "w_max", np.inf))

    # -- the contract --------------------------------------------------------------------
    def _checked(self, W, pre, post, state, dt) -> tuple[np.ndarray, np.ndarray]:
        check_step(self, W, pre, post, state, dt)
        owner = f"{type(self).__name__}.update"
        n_post, n_pre = W.shape
        for fields, n, what in ((self.pre_fields, n_pre, "n_pre"), (self.post_fields, n_post, "n_post")):
            for name in fields:  # check_step accepts either length; a trace has one side
                why = f"{what} from W[post, pre] of shape {W.shape}"
                check_shape(owner, f"state.{name}", getattr(state, name), (n,), why)
        x, y = check_spikes(owner, "pre", pre), check_spikes(owner, "post", post)
        _check_bounds(owner, W, x != 0.0, y != 0.0, *self.weight_bounds())
        return x, y

    def update(self, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: Any, dt: float) -> None:
        """One step of length ``dt`` (s) through the dense numba kernel, in place on ``W`` and ``state``.

        ``pre`` ``(n_pre,)`` and ``post`` ``(n_post,)`` are the spikes of this step (bool or 0/1).
        """
        x, y = self._checked(W, pre, post, state, dt)
        S_pre, S_post = self.pack(state)
        self._dense_kernel(W, x, y, S_pre, S_post, self._params(), float(dt))
        self.unpack(S_pre, S_post, state)

    def reference_update(self, W: np.ndarray, pre: np.ndarray, post: np.ndarray, state: Any, dt: float) -> None:
        """The same step as :meth:`update`, in plain numpy."""
        x, y = self._checked(W, pre, post, state, dt)
        self._reference(W, x, y, state, float(dt))


# Traces that decay below this are set to 0: a silent neuron's trace would otherwise reach
# subnormal numbers after ~700 time constants, and arithmetic on subnormals is ~100x slower.
# A trace of 1e-100 changes no weight at double precision, so nothing observable changes.
TINY = 1e-100


def decay_reference(trace: np.ndarray, factor: float) -> None:
    """``trace *= factor`` with values below :data:`TINY` flushed to 0 (numpy, in place)."""
    trace *= factor
    trace[trace < TINY] = 0.0


@njit(cache=True, nogil=True)
def decay(trace, factor):
    """``trace *= factor`` with values below :data:`TINY` flushed to 0 (numba, in place).

    An explicit loop: numba's in-place array operator on a row view allocates a temporary.
    """
    for k in range(trace.shape[0]):
        v = trace[k] * factor
        trace[k] = v if v >= TINY else 0.0


@njit(cache=True, nogil=True, inline="always")
def clip(w, w_min, w_max):
    """``min(max(w, w_min), w_max)`` for the kernels."""
    return min(max(w, w_min), w_max)
