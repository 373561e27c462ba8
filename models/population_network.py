"""Rate networks built from populations and projections (E/I networks with sign-keeping weights).

    tau_P dx_i/dt = -x_i + sum_S sign_S sum_j W[i, j] r_j + bias_P + I_i,    r_i = phi_P(x_i)

(``dynamics="flow"``, Euler at ``dt``) or ``x_i <- phi_P(sum_S sign_S sum_j W[i, j] x_j +
bias_P + I_i)`` (``"map"``), with ``P`` the population of neuron ``i``, ``W`` magnitudes and
``sign_S = -1`` for inhibitory sources. Plasticity is given per projection
(``plasticity={"EE": Hebbian(...) + SynapticScaling(...)}``) and runs in the fused pass of
:mod:`models._population_kernels`: a rule on ``"EE"`` sees ``pre`` = E rates and ``post`` =
E rates; on ``"IE"`` (I to E) ``pre`` = I rates and ``post`` = E rates. The bounds of a
projection and of its rule both hold: weights stay in ``[max(w_min), min(w_max)]``, absent
synapses stay absent and signs never flip.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

import models.rate as _rate
from models import _population_kernels as K
from models._compile_choice import marker
from models._population_support import _KernelArgs, _PopulationInputs
from models._rate_result import RateResult
from models._rate_support import check_rule
from models._rate_stepper import Snapshots, num_threads
from models.populations import RatePopulation, RateProjection
from models.rate import PARALLEL_MIN_N, RateNetwork
from plasticity._progress import progress_bar
from plasticity._validation import Interval, as_rng, check_choice, check_number, positive
from plasticity.activations import ACTIVATIONS, PerNeuronActivation

__all__ = ["PopulationRateNetwork", "ei_network"]

_steps_interval = Interval(1, closed="left", integer=True)
_bound_interval = Interval(0.0, math.inf, closed="right")


class PopulationRateNetwork(RateNetwork):
    """A rate network of named populations joined by sign-keeping projections (module docstring).

    Build it with :meth:`RateNetwork.from_populations` or :meth:`RateNetwork.ei`.

    Attributes
    ----------
    populations : dict[str, slice]
        Neuron indices of each population (in the order given; E first in ``ei``).
    projections : dict[str, RateProjection]
        The projections by name (source first).
    plasticity_state : dict[str, object]
        The state of each projection's rule, continued by later runs with an equal rule.
    """

    def __init__(self, populations: Any, projections: Any, dynamics: str = "flow", dt: float = 0.1,
                 seed: int | np.random.Generator | None = None, dtype: Any = np.float64) -> None:
        owner = "RateNetwork.from_populations"
        pops = list(populations) if not isinstance(populations, RatePopulation) else [populations]
        if not pops or not all(isinstance(p, RatePopulation) for p in pops):
            raise TypeError(f"{owner}: populations must be a non-empty list of RatePopulation; got {populations!r}")
        names = [p.name for p in pops]
        if len(set(names)) != len(names):
            raise ValueError(f"{owner}: population names must be unique; got {names}")
        projs = list(projections) if not isinstance(projections, RateProjection) else [projections]
        for k, pr in enumerate(projs):
            if not isinstance(pr, RateProjection):
                raise TypeError(f"{owner}: projections[{k}] must be a RateProjection; got {type(pr).__name__}")
            for end in ("source", "target"):
                if getattr(pr, end) not in names:
                    raise ValueError(f"{owner}: projections[{k}].{end} must name a population {names}; "
                                     f"got {getattr(pr, end)!r}")
        pnames = [pr.name for pr in projs]
        if len(set(pnames)) != len(pnames):
            raise ValueError(f"{owner}: each (source, target) pair may have one projection; got {pnames}")
        self.dynamics = check_choice(owner, "dynamics", dynamics, ("map", "flow"))
        self.dt = float(check_number(owner, "dt", dt, positive))
        if dtype not in (np.float32, np.float64, "float32", "float64"):
            raise ValueError(f"{owner}: dtype must be float32 or float64; got {dtype!r}")
        self.method, self.activation, self.tau = "euler", "populations", 1.0
        self._rng = as_rng(seed)
        self.population_list = pops
        stops = np.cumsum([p.n for p in pops])
        self.populations = {p.name: slice(int(s - p.n), int(s)) for p, s in zip(pops, stops)}
        self.projections = {pr.name: pr for pr in projs}
        n = int(stops[-1])
        self._W = np.full((n, n), K.ABSENT, dtype=np.dtype(dtype))
        for pr in projs:  # block by block: no (n, n) temporaries
            ts, ss = self.populations[pr.target], self.populations[pr.source]
            shape = (ts.stop - ts.start, ss.stop - ss.start)
            w = np.asarray(pr.w, dtype=np.float64)
            if w.ndim and w.shape != shape:
                raise ValueError(f"{owner}: projection {pr.name!r} has w of shape {w.shape}; expected {shape} "
                                 f"= (n_{pr.target}, n_{pr.source})")
            mask = self._rng.random(shape) < pr.p if pr.p < 1.0 else np.ones(shape, dtype=bool)
            if pr.source == pr.target:
                np.fill_diagonal(mask, False)
            self._W[ts, ss] = np.where(mask, np.broadcast_to(w, shape), K.ABSENT)
        self.x: np.ndarray | None = None
        self.t = 0.0
        self.plasticity_state: dict[str, Any] = {}
        self._plasticity: dict[str, Any] = {}
        self.rule_state, self._rule = None, None
        # per-neuron constants of the kernel
        self._tau = np.concatenate([np.full(p.n, p.tau) for p in pops])
        self._bias = np.concatenate([np.full(p.n, p.bias) for p in pops])
        self._act = np.concatenate([np.full(p.n, ACTIVATIONS[p.activation].code, np.int64) for p in pops])
        self._k = np.concatenate([np.full(p.n, p.k) for p in pops])
        self._e = np.concatenate([np.full(p.n, p.exponent) for p in pops])
        self._cap = np.concatenate([np.full(p.n, math.inf if p.max_rate is None else p.max_rate) for p in pops])
        self._gain, self._thr = np.ones(n), np.zeros(n)
        self._sign = np.array([-1.0 if p.inhibitory else 1.0 for p in pops])
        self._row_pop = np.concatenate([np.full(p.n, k, np.int64) for k, p in enumerate(pops)])
        self._start = np.array([s.start for s in self.populations.values()], np.int64)
        self._stop = np.array([s.stop for s in self.populations.values()], np.int64)

    # -- weights -----------------------------------------------------------------------
    @property
    def W(self) -> np.ndarray:
        """The signed effective matrix ``sign_source * magnitude`` (0 where no synapse): a copy."""
        out = np.empty(self._W.shape, dtype=self._W.dtype)
        self._signed_into(out)
        return out

    def _signed_into(self, out: np.ndarray) -> None:
        """Write the signed matrix into ``out`` block by block (no temporaries of W's size)."""
        out[...] = 0
        for pr in self.projections.values():
            ts, ss = self.populations[pr.target], self.populations[pr.source]
            block, dest = self._W[ts, ss], out[ts, ss]
            np.maximum(block, 0, out=dest)
            if self._pop(pr.source).inhibitory:
                np.negative(dest, out=dest)

    @W.setter
    def W(self, value: Any) -> None:
        raise AttributeError("RateNetwork: a population network's weights are set per projection "
                             "(RateProjection.w); read them with net.weights(name) or net.W")

    def weights(self, name: str) -> np.ndarray:
        """The ``(n_target, n_source)`` magnitudes of projection ``name`` (0 where there is no synapse)."""
        pr = self._projection("RateNetwork.weights", "name", name)
        return np.maximum(self._W[self.populations[pr.target], self.populations[pr.source]], 0)

    def connectivity(self, name: str) -> np.ndarray:
        """Boolean ``(n_target, n_source)`` mask of the synapses of projection ``name``."""
        pr = self._projection("RateNetwork.connectivity", "name", name)
        return self._W[self.populations[pr.target], self.populations[pr.source]] >= 0

    @property
    def n(self) -> int:
        return self._W.shape[0]

    def _pop(self, name: str) -> RatePopulation:
        return next(p for p in self.population_list if p.name == name)

    def _projection(self, owner: str, what: str, name: Any) -> RateProjection:
        if name not in self.projections:
            raise ValueError(f"{owner}: {what} must name a projection {list(self.projections)}; got {name!r}")
        return self.projections[name]

    # -- running -----------------------------------------------------------------------
    def run(self, steps: int, plasticity: dict | None = None, inputs: Any = None, x0: Any = None,
            record_every: int = 1, progress: bool | None = None, bound: float = 1e6,
            record_weights_every: int | None = None, weight_bound: float | None = None,
            rule: Any = None) -> RateResult:
        """Run ``steps`` steps with plasticity per projection; return what was recorded.

        Parameters
        ----------
        steps : int
            Number of steps, >= 1 (flow steps of length ``dt``, or map steps).
        plasticity : dict[str, rule] or None
            Projection name -> rate rule (or a sum of rules). A projection's rule state is
            created at its first run and continued by later runs with an equal rule.
        inputs : input form, or dict[str, input form]
            External input ``I`` (added to each population's ``bias``): None, a number, an
            ``(n,)`` or ``(steps, n)`` array, or a callable ``t -> (n,)``; for a dict, each
            value is such a form for that population's neurons (``{"E": 0.5}``).
        x0, record_every, progress, bound, record_weights_every, weight_bound
            As in :meth:`RateNetwork.run`. ``x0`` defaults to ``Uniform(0, 1)`` from the seed.
        rule
            Not used by population networks (give ``plasticity``); raises if set.

        Returns
        -------
        RateResult
            With ``populations``; ``weights`` snapshots of the signed matrix ``net.W``.
        """
        owner = "RateNetwork.run"
        if rule is not None:
            raise TypeError(f"{owner}: a population network takes plasticity per projection, e.g. "
                            f"plasticity={{'EE': rule}}; got rule={rule!r}")
        steps = int(check_number(owner, "steps", steps, _steps_interval))
        record_every = int(check_number(owner, "record_every", record_every, _steps_interval))
        bound = float(check_number(owner, "bound", bound, _bound_interval))
        weight_bound = bound if weight_bound is None else float(check_number(owner, "weight_bound", weight_bound,
                                                                            _bound_interval))
        if record_weights_every is not None:
            record_weights_every = int(check_number(owner, "record_weights_every", record_weights_every,
                                                    Interval(0, closed="left", integer=True)))
        if progress is not None and not isinstance(progress, bool):
            raise TypeError(f"{owner}: progress must be True, False or None; got {progress!r}")
        plastic = self._check_plasticity(owner, plasticity)
        n, W = self.n, self._W
        dt_time = 1.0 if self.dynamics == "map" else self.dt
        source = _PopulationInputs(owner, inputs, steps, self.populations, self.t, dt_time)
        x = self._initial_state(owner, x0)
        kernel = _KernelArgs(self, plastic)
        largest = max((float(self._W[self.populations[pr.target], self.populations[pr.source]].max(initial=0.0))
                       for pr in self.projections.values()), default=0.0)  # absent synapses are negative
        if largest > weight_bound:
            raise ValueError(f"{owner}: weight_bound must be at least the largest weight {largest:g} at the "
                             f"start; got {weight_bound!r}")
        snaps = Snapshots(steps, record_weights_every, W.shape, W.dtype, self.t, dt_time, _rate.SNAPSHOT_BYTES)
        est = steps * W.nbytes * 2 / 2e10
        show = est > 2.0 if progress is None else progress
        per_chunk = max(1, int(steps * 0.25 / est)) if show and est > 0 else steps
        cuts = sorted(set(snaps.steps) | set(range(0, steps, min(per_chunk, source.max_chunk))) | {steps})
        T = steps // record_every + 1
        rec_x = np.empty((T, n), dtype=W.dtype)
        rec_r = rec_x if self.dynamics == "map" else np.empty((T, n), dtype=W.dtype)
        r = np.empty(n)
        K.rates_into(self._act, self._k, self._e, self._cap, self._gain, self._thr, x, r)
        if self.dynamics == "map":
            r = x
        h = self._recurrent(r)
        rec_x[0], rec_r[0] = x, r
        snaps.take(0, self._signed_into)
        p, code, k_bad, k_done, t0 = 1, 0, -1, 0, self.t
        mode = K.MAP if self.dynamics == "map" else K.EULER
        which = marker(n >= PARALLEL_MIN_N and num_threads() > 1)  # the pass, chosen at compile time
        try:
            with progress_bar(show, total=steps, desc=owner, unit="step", leave=False) as bar:
                for k0, k1 in zip(cuts[:-1], cuts[1:]):
                    code, s, p = K.run_chunk(which, mode, W, self._row_pop, kernel.proj, self._start, self._stop,
                                             self._sign, self._tau, self._bias, self._act, self._k, self._e, self._cap,
                                             self._gain, self._thr, *kernel.rule_arrays(), x, r, h,
                                             source.chunk(k0, k1), self.dt, bound, weight_bound, k0, k1 - k0,
                                             record_every, rec_x, rec_r, p)
                    kernel.unpack()
                    bar.update(int(s))
                    k_done = k0 + int(s)
                    if code:
                        k_bad = k_done + 1
                        break
                    snaps.take(k1, self._signed_into)
        finally:
            kernel.unpack()
            self.x, self.t = x.copy(), t0 + k_done * dt_time
        return self._result(rec_x, rec_r, p, record_every, snaps, int(code), k_bad, t0, dt_time,
                            populations=dict(self.populations))

    def _check_plasticity(self, owner: str, plasticity: Any) -> dict[str, Any]:
        if plasticity is None:
            return {}
        if not isinstance(plasticity, dict):
            raise TypeError(f"{owner}: plasticity must be a dict from projection name to rule, e.g. "
                            f"{{'EE': Hebbian(eta=1e-3)}}; got {type(plasticity).__name__}")
        for name, rule in plasticity.items():
            self._projection(owner, "plasticity keys", name)
            if rule is not None and not check_rule(owner, rule, name=f"plasticity[{name!r}]"):
                raise TypeError(f"{owner}: plasticity[{name!r}] must be a registered rate rule (or a sum of them): "
                                f"population networks run rules only in their kernel; got {type(rule).__name__}")
        plastic = {k: v for k, v in plasticity.items() if v is not None}
        for name, rule in plastic.items():
            same = name in self._plasticity and self._plasticity[name] == rule
            if not same:
                pr = self.projections[name]
                n_t = self.populations[pr.target].stop - self.populations[pr.target].start
                n_s = self.populations[pr.source].stop - self.populations[pr.source].start
                self.plasticity_state[name] = rule.init_state(n_t, n_s)
                self._plasticity[name] = rule
        return plastic

    def _initial_state(self, owner: str, x0: Any) -> np.ndarray:
        if x0 is None:
            return self._rng.uniform(0.0, 1.0, self.n) if self.x is None else self.x.copy()
        return super()._initial_state(owner, x0)

    def _recurrent(self, r: np.ndarray) -> np.ndarray:
        """``h = (signed W) r`` by the kernel's read-only pass."""
        n = self.n
        empty = np.zeros((1, n), dtype=self._W.dtype)
        proj = _KernelArgs(self, {}).proj
        h, flags = np.empty(n), np.zeros(n, np.int64)
        zero = np.zeros(1, dtype=self._W.dtype)
        K.full_pass_serial(self._W, r.astype(self._W.dtype), r.astype(self._W.dtype), self._row_pop, proj,
                    self._start, self._stop, self._sign, empty, empty, empty, zero, zero,
                    np.full(1, np.inf, dtype=self._W.dtype), h, flags)
        return h

    # -- analysis ----------------------------------------------------------------------
    def as_system(self, inputs: Any = None):
        """The frozen-weight dynamics as a ``plasticity.metrics.Flow`` (or ``Map``), by ``rate_system``.

        Flow: ``f(x) = (-x + W phi(g x - b) + bias + I) / tau``, ``J = (-1 + W diag(g phi'(g x -
        b))) / tau`` (row ``i`` divided by its neuron's ``tau``), with ``W`` the signed matrix,
        ``phi`` each population's activation and cap (a
        :class:`~plasticity.activations.PerNeuronActivation`), ``g``, ``b`` the gains and
        thresholds of intrinsic plasticity. ``inputs``: None, a number, an ``(n,)`` array or a
        dict of them per population (a constant input).
        """
        from plasticity.metrics.rate_systems import rate_system

        owner = "RateNetwork.as_system"
        if callable(inputs):
            raise TypeError(f"{owner}: inputs must be constant (None, a number, an (n,) array or a dict); got a callable")
        I = _PopulationInputs(owner, inputs, 1, self.populations, 0.0, 1.0).chunk(0, 1)[0] + self._bias
        phi = PerNeuronActivation([(self.populations[p.name], p.activation, p.k, p.exponent, p.max_rate)
                                   for p in self.population_list])
        return rate_system(self.W.astype(np.float64), phi, self.dynamics, tau=self._tau.copy(), inputs=I,
                           gain=self._gain.copy(), threshold=self._thr.copy())

    def __repr__(self) -> str:
        pops = ", ".join(f"{p.name}={p.n}{'(inh)' if p.inhibitory else ''}" for p in self.population_list)
        return f"RateNetwork.from_populations([{pops}], projections={list(self.projections)}, dynamics={self.dynamics!r})"


def ei_network(n_exc: int = 800, n_inh: int = 200, seed: int | np.random.Generator | None = None,
               **overrides: Any) -> PopulationRateNetwork:
    """See :meth:`RateNetwork.ei`."""
    owner = "RateNetwork.ei"
    params = dict(EI_DEFAULTS)
    unknown = set(overrides) - set(params)
    if unknown:
        raise TypeError(f"{owner}: unknown keyword(s) {sorted(unknown)}; allowed: {sorted(params)}")
    params.update(overrides)
    n_exc = int(check_number(owner, "n_exc", n_exc, Interval(2, closed="left", integer=True)))
    n_inh = int(check_number(owner, "n_inh", n_inh, Interval(2, closed="left", integer=True)))
    p = params["p"]
    pops = [
        RatePopulation("E", n_exc, activation=params["activation"], tau=params["tau_e"], bias=params["bias_e"],
                       max_rate=params["max_rate"]),
        RatePopulation("I", n_inh, activation=params["activation"], inhibitory=True, tau=params["tau_i"],
                       bias=params["bias_i"], max_rate=params["max_rate"]),
    ]
    size = {"E": n_exc, "I": n_inh}
    projs = []
    for name in ("EE", "EI", "IE", "II"):
        J = float(check_number(owner, f"J_{name}", params[f"J_{name}"], Interval(0.0, closed="left")))
        # a neuron's summed weight from the source population is J on average (exactly for
        # p = 1): p (n - 1) synapses within a population (no self-synapses), p n across
        w = J / (p * (size[name[0]] - (name[0] == name[1])))
        projs.append(RateProjection(name[0], name[1], p=p, w=w, w_max=params["w_max"]))
    return PopulationRateNetwork(pops, projs, dynamics=params["dynamics"], dt=params["dt"], seed=seed,
                                 dtype=params["dtype"])


#: Defaults of :meth:`RateNetwork.ei` (each may be overridden by keyword).
EI_DEFAULTS: dict[str, Any] = {
    "p": 0.1, "J_EE": 0.5, "J_EI": 1.0, "J_IE": 1.0, "J_II": 1.0, "tau_e": 1.0, "tau_i": 0.5,
    "bias_e": 3.0, "bias_i": 2.0, "activation": "relu", "max_rate": None, "w_max": math.inf,
    "dynamics": "flow", "dt": 0.1, "dtype": np.float64,
}
