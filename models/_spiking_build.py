"""Populations, inputs and projections of a spiking network, and their validated build.

The parts are frozen dataclasses checked at construction (message format of
:mod:`plasticity._validation`); :func:`build` turns them, with a seed, into plain arrays:
initial state, compact CSR connectivity by presynaptic neuron (drawn row by row, kept once;
``(pre, post, w)`` arrays are derived on demand) and per-population parameter vectors. Both
backends (numba and brian2) start from the same build, so they simulate the same
connectivity and initial state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import numpy as np

from plasticity._validation import Interval, any_real, check_number, nonnegative, positive, unit_interval
from models._spiking_connect import (_capacity, _draw_into, bernoulli_pairs, connectivity, projection_csr,
                                     projection_pairs, projection_weights)

__all__ = ["LIFPopulation", "PoissonPopulation", "Projection", "Built", "build", "bernoulli_pairs",
           "projection_csr", "projection_weights", "projection_pairs", "connectivity"]


def _init_values(owner: str, name: str, spec: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """Evaluate an initial-value spec (number, ``(n,)`` array or ``f(rng, n)``) to a float64 ``(n,)``."""
    value = spec(rng, n) if callable(spec) else spec
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{owner}: {name} has shape {arr.shape}; expected ({n},) = the population size")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}: {name} must be finite")
    return arr


def _check_spec(owner: str, name: str, spec: Any) -> None:
    if callable(spec) or isinstance(spec, np.ndarray):
        return
    check_number(owner, name, spec, any_real)


@dataclass(frozen=True)
class LIFPopulation:
    """A population of leaky integrate-and-fire neurons (SI units).

        tau_m dV/dt = E_L - V + R (I_ext + I_syn),  spike when V > V_th,
        then V <- V_reset, held for t_ref.

    Parameters
    ----------
    name : str
        Population name (projection names are built from it, source first: ``"EE"``).
    n : int
        Number of neurons, >= 1.
    tau_m, R : float
        Membrane time constant (s) and resistance ``1 / g_L`` (ohm), both in (0, inf).
    E_L, V_th, V_reset : float
        Resting, threshold and reset potentials (V); ``V_reset < V_th``.
    t_ref : float
        Refractory period (s), in [0, inf); ``V`` is clamped at ``V_reset`` meanwhile.
    inhibitory : bool
        Whether the population's synapses are inhibitory (their weights are magnitudes).
    V_init, g_exc_init, g_inh_init : float, (n,) array or callable ``(rng, n) -> (n,)``
        Initial potential (V) and synaptic variables (S for conductance synapses, A for
        current synapses). Default ``V_init`` is ``E_L``.
    current : float, (n,) array or callable ``t -> float | (n,)``
        External current (A): constant, or a function of time (s) evaluated each step.
    """

    name: str
    n: int
    tau_m: float = 20e-3
    R: float = 1e8
    E_L: float = -60e-3
    V_th: float = -50e-3
    V_reset: float = -60e-3
    t_ref: float = 5e-3
    inhibitory: bool = False
    V_init: Any = None
    g_exc_init: Any = 0.0
    g_inh_init: Any = 0.0
    current: Any = 0.0

    def __post_init__(self) -> None:
        owner = f"LIFPopulation({self.name!r})"
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"LIFPopulation.name must be a non-empty string; got {self.name!r}")
        check_number(owner, "n", self.n, Interval(1, math.inf, "left", integer=True))
        for name in ("tau_m", "R"):
            check_number(owner, name, getattr(self, name), positive)
        for name in ("E_L", "V_th", "V_reset"):
            check_number(owner, name, getattr(self, name), any_real)
        check_number(owner, "t_ref", self.t_ref, nonnegative)
        if not self.V_reset < self.V_th:
            raise ValueError(f"{owner}.V_reset must be a number in (-inf, V_th={self.V_th:g}); got {self.V_reset!r}")
        if not isinstance(self.inhibitory, (bool, np.bool_)):
            raise TypeError(f"{owner}.inhibitory must be a bool; got {self.inhibitory!r}")
        for name in ("V_init", "g_exc_init", "g_inh_init"):
            spec = getattr(self, name)
            if spec is not None:
                _check_spec(owner, name, spec)
        if not callable(self.current):
            arr = np.asarray(self.current, dtype=np.float64)
            if arr.ndim not in (0, 1) or (arr.ndim == 1 and arr.shape != (self.n,)):
                raise ValueError(f"{owner}: current must be a number, a ({self.n},) array or a callable t -> current; got shape {arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{owner}: current must be finite")


@dataclass(frozen=True)
class PoissonPopulation:
    """Independent Poisson spike sources (an input: not simulated, not in ``spike_indices``).

    Parameters
    ----------
    name : str
    n : int
        Number of sources, >= 1.
    rate : float
        Rate of each source (Hz), in [0, 1/dt]; each step a source spikes with
        probability ``rate * dt`` (as brian2's ``PoissonGroup``).
    inhibitory : bool
        Whether its synapses are inhibitory.
    """

    name: str
    n: int
    rate: float
    inhibitory: bool = False

    def __post_init__(self) -> None:
        owner = f"PoissonPopulation({self.name!r})"
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"PoissonPopulation.name must be a non-empty string; got {self.name!r}")
        check_number(owner, "n", self.n, Interval(1, math.inf, "left", integer=True))
        check_number(owner, "rate", self.rate, nonnegative)


@dataclass(frozen=True)
class Projection:
    """Random connections from ``source`` to ``target`` (names of populations).

    Parameters
    ----------
    source, target : str
        Population names; the source may be a :class:`PoissonPopulation`.
    p : float
        Connection probability of each (pre, post) pair, in [0, 1] (Bernoulli, as brian2's
        ``connect(p=...)``).
    weight : float or callable ``(rng, n_syn) -> (n_syn,)``
        Weight magnitude per synapse, >= 0: siemens for conductance synapses, amperes for
        current synapses. The sign comes from the source population.
    delay : float or None
        Transmission delay (s), a whole number of steps >= 1 step (``None``: one step, which
        is brian2's ``delay = 0``: ``V`` feels a spike from the next step on).
    autapses : bool
        Whether a neuron may connect to itself when ``source == target``.
    name : str or None
        Defaults to ``source + target`` (``"EE"``, ``"IE"``).
    """

    source: str
    target: str
    p: float
    weight: Any
    delay: float | None = None
    autapses: bool = True
    name: str | None = None

    @property
    def key(self) -> str:
        return self.name if self.name is not None else f"{self.source}{self.target}"

    def __post_init__(self) -> None:
        owner = f"Projection({self.key!r})"
        check_number(owner, "p", self.p, unit_interval)
        if not callable(self.weight):
            check_number(owner, "weight", self.weight)
            if not (math.isfinite(self.weight) and self.weight >= 0):
                raise ValueError(f"{owner}.weight must be a number in [0, inf) (a magnitude: the sign comes from "
                                 f"the presynaptic population); got {self.weight!r}")
        if self.delay is not None:
            check_number(owner, "delay", self.delay, nonnegative)


class BuiltProjection(NamedTuple):
    """One projection of a built network: where its synapses sit in :class:`Built`'s arrays."""

    name: str          # source first, e.g. "EE"
    source: str
    target: str
    n_pre: int
    n_post: int
    src_start: int     # first presynaptic index (Poisson inputs after the n neurons)
    tgt_start: int     # first postsynaptic neuron
    channel: int       # 0 excitatory, 1 inhibitory
    delay: int         # steps
    is_input: bool     # from a Poisson input population
    ip_off: int        # offset of its indptr block (n_pre + 1 entries)
    syn_off: int       # offset of its synapses in indices
    n_syn: int
    w_off: int         # offset of its weights (-1: one constant weight, w_const)
    w_const: float


@dataclass
class Built:
    """Plain arrays of a built network (what the kernels and the brian2 backend consume)."""

    names: list[str]                    # neuron populations, in index order
    slices: dict[str, slice]
    n: int
    pop_arrays: dict[str, np.ndarray]   # per-population parameter vectors
    inhibitory: dict[str, bool]         # every population, inputs included
    V0: np.ndarray
    g0: np.ndarray                      # (2, n): exc, inh
    I_const: np.ndarray
    I_funcs: list[tuple[slice, Callable]]
    pois_names: list[str]
    pois_slices: dict[str, slice]
    pois_rate: np.ndarray
    projections: list[BuiltProjection] = field(default_factory=list)
    # connectivity, one compact copy (see projection_csr / projection_weights / connectivity):
    indptr: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))   # ip_off + (n_pre + 1)
    indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))  # syn_off + n_syn
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))  # w_off + n_syn


@dataclass(frozen=True)
class CheckedCurrent:
    """A population's ``current`` callable whose every value is checked: a number or an
    ``(n,)`` array of finite currents (A). A NaN current would otherwise silence the
    population (no threshold crossing) without any sign of trouble."""

    owner: str
    fn: Callable
    n: int

    def __call__(self, t: float) -> np.ndarray:
        value = self.fn(t)
        expected = f"a number or a ({self.n},) array of finite currents (A)"
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{self.owner}.current must return {expected}; got {value!r:.80} of type "
                            f"{type(value).__name__} at t={t:g} s") from e
        if arr.shape not in ((), (self.n,)):
            raise ValueError(f"{self.owner}.current must return {expected}; got shape {arr.shape} at t={t:g} s")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{self.owner}.current must return {expected}; got NaN or inf at t={t:g} s")
        return arr


def build(populations, inputs, projections, dt: float, rng: np.random.Generator,
          weight_dtype="float64") -> Built:
    """Draw initial state and connectivity; check cross-part consistency (names, delays).

    Connectivity is kept once, compact: ``built.indptr`` (int64), ``built.indices`` (int16
    while every target population has fewer than 32768 neurons, else int32) and
    ``built.weights`` (``weight_dtype``, only for projections whose weight is a callable; a
    fixed weight is one number, ``w_const``). Read a projection with :func:`projection_csr`,
    :func:`projection_weights` or :func:`connectivity`.
    """
    weight_dtype = np.dtype(weight_dtype)
    names = [p.name for p in populations]
    all_names = names + [q.name for q in inputs]
    if len(set(all_names)) != len(all_names):
        raise ValueError(f"SpikingNetwork: population names must be unique; got {all_names}")
    slices, start = {}, 0
    for pop in populations:
        slices[pop.name] = slice(start, start + pop.n)
        start += pop.n
    n = start
    pois_slices, k = {}, 0
    for q in inputs:
        if q.rate * dt > 1.0:
            raise ValueError(f"PoissonPopulation({q.name!r}).rate must be a number in [0, 1/dt={1 / dt:g}]; got {q.rate!r}")
        pois_slices[q.name] = slice(k, k + q.n)
        k += q.n
    pop_arrays = {
        key: np.array([getattr(p, key) for p in populations], dtype=np.float64)
        for key in ("tau_m", "R", "E_L", "V_th", "V_reset", "t_ref")
    }
    pop_arrays["start"] = np.array([slices[p.name].start for p in populations], dtype=np.int64)
    pop_arrays["stop"] = np.array([slices[p.name].stop for p in populations], dtype=np.int64)
    pop_arrays["ref_steps"] = np.array([int(round(p.t_ref / dt)) for p in populations], dtype=np.int64)
    V0, g0, I_const, I_funcs = np.empty(n), np.zeros((2, n)), np.zeros(n), []
    for pop in populations:
        s, owner = slices[pop.name], f"LIFPopulation({pop.name!r})"
        V0[s] = _init_values(owner, "V_init", pop.E_L if pop.V_init is None else pop.V_init, pop.n, rng)
        g0[0, s] = _init_values(owner, "g_exc_init", pop.g_exc_init, pop.n, rng)
        g0[1, s] = _init_values(owner, "g_inh_init", pop.g_inh_init, pop.n, rng)
        if callable(pop.current):
            I_funcs.append((s, CheckedCurrent(owner, pop.current, pop.n)))
        else:
            I_const[s] = pop.current
    inhibitory = {p.name: bool(p.inhibitory) for p in list(populations) + list(inputs)}
    sizes = {p.name: p.n for p in list(populations) + list(inputs)}
    built = Built(names, slices, n, pop_arrays, inhibitory, V0, g0, I_const, I_funcs,
                  [q.name for q in inputs], pois_slices,
                  np.concatenate([np.full(q.n, q.rate) for q in inputs]) if inputs else np.zeros(0))
    keys = [pr.key for pr in projections]
    if len(set(keys)) != len(keys):
        raise ValueError(f"SpikingNetwork: projection names must be unique (give name=...); got {keys}")
    plan = []
    for pr in projections:
        owner = f"Projection({pr.key!r})"
        if pr.source not in sizes:
            raise ValueError(f"{owner}.source must be one of {all_names}; got {pr.source!r}")
        if pr.target not in slices:
            raise ValueError(f"{owner}.target must be one of the LIF populations {names}; got {pr.target!r}")
        delay = dt if pr.delay is None else pr.delay
        d_steps = int(round(delay / dt))
        if d_steps < 1 or abs(d_steps * dt - delay) > 1e-6 * dt:
            raise ValueError(f"{owner}.delay must be a whole number of steps in [dt={dt:g}, inf); got {pr.delay!r}")
        plan.append((pr, d_steps, not pr.autapses and pr.source == pr.target))
    # connectivity of every projection, drawn in order into one index array, each projection
    # right after the last (room: the sum of the projections' capacities)
    max_post = max([sizes[pr.target] for pr in projections], default=1)
    idx_t = np.int16 if max_post < 2**15 else np.int32
    ip_offs, ip = [], 0
    for pr, _, _ in plan:
        ip_offs.append(ip)
        ip += sizes[pr.source] + 1
    indptr = np.zeros(ip, dtype=np.int64)
    indices = np.empty(sum(_capacity(sizes[pr.source], sizes[pr.target], float(pr.p), skip) for pr, _, skip in plan),
                       dtype=idx_t)
    syn_offs, n_syns, so = [], [], 0
    for k, (pr, _, skip) in enumerate(plan):
        indices, n_syn = _draw_into(rng, sizes[pr.target], float(pr.p), skip,
                                    indptr[ip_offs[k]:ip_offs[k] + sizes[pr.source] + 1], indices, so)
        syn_offs.append(so)
        n_syns.append(n_syn)
        so += n_syn
    indices = indices[:so]  # a view: the unused room (~8 standard deviations) is not copied
    # weights: one number for a projection with a fixed weight, else an array (weight dtype)
    w_offs, w_total = [], 0
    for (pr, _, _), n_syn in zip(plan, n_syns):
        w_offs.append(w_total if callable(pr.weight) else -1)
        w_total += n_syn if callable(pr.weight) else 0
    weights = np.empty(w_total, dtype=weight_dtype)
    for k, ((pr, d_steps, _), n_syn) in enumerate(zip(plan, n_syns)):
        owner = f"Projection({pr.key!r})"
        w_const = float("nan")
        if callable(pr.weight):
            w = np.asarray(pr.weight(rng, n_syn), dtype=np.float64)
            if w.shape != (n_syn,):
                raise ValueError(f"{owner}: weight returned shape {w.shape}; expected ({n_syn},) = the number of synapses")
            if n_syn and not (np.all(np.isfinite(w)) and w.min() >= 0.0):
                sign = "inhibitory" if inhibitory[pr.source] else "excitatory"
                raise ValueError(
                    f"{owner}.weight must be a number in [0, inf) (a magnitude: the sign comes from the "
                    f"presynaptic population, {sign} here); got {w.min()!r}"
                )
            weights[w_offs[k]:w_offs[k] + n_syn] = w
            del w
        else:
            w_const = float(np.asarray(float(pr.weight), dtype=weight_dtype))
        is_input = pr.source in pois_slices
        src_start = n + pois_slices[pr.source].start if is_input else slices[pr.source].start
        built.projections.append(BuiltProjection(
            name=pr.key, source=pr.source, target=pr.target, n_pre=sizes[pr.source], n_post=sizes[pr.target],
            src_start=src_start, tgt_start=slices[pr.target].start,
            channel=1 if inhibitory[pr.source] else 0, delay=d_steps, is_input=is_input,
            ip_off=ip_offs[k], syn_off=syn_offs[k], n_syn=n_syns[k], w_off=w_offs[k], w_const=w_const,
        ))
    built.indptr, built.indices, built.weights = indptr, indices, weights
    return built
