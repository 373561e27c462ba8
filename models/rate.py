"""Recurrent rate networks with plastic weights, run by a fused numba kernel.

    map:   x_{t+1} = phi(W x_t + I_t)                    (one step = one time unit)
    flow:  tau dx/dt = -x + W phi(x) + I(t)              (Euler or RK4 at step dt)

``W`` is ``W[post, pre]``. A registered rate rule (``plasticity.rules.registry``), or a sum of
them, is applied inside the same pass over W that computes the next recurrent input
(:mod:`models._rate_kernels`); a user's own rule object is called through ``rule.update``
each step (with a warning: that path is slow).
Map: pre = x_t, post = x_{t+1}, rule ``dt = 1``. Flow: pre = post = r_t = phi(x_t), rule
step ``dt`` (for RK4 the state takes an RK4 step with W frozen, then the rule an Euler step).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from models._rate_result import RateResult
# PARALLEL_MIN_N and SNAPSHOT_BYTES are read from this module at each run (tests may change them)
from models._rate_stepper import PARALLEL_MIN_N, SNAPSHOT_BYTES, Snapshots, _Stepper
from models._rate_stepper import num_threads as _num_threads
from models._rate_stepper import row_absmax as _row_absmax
from models._rate_support import InputSource, check_rule, dale_matrix, neuron_state
from plasticity._progress import progress_bar
from plasticity._validation import Interval, as_rng, check_choice, check_finite_array, check_number, check_shape, positive
from plasticity.activations import NETWORK_ACTIVATIONS

__all__ = ["RateNetwork", "RateResult"]

_REASONS = {1: "non-finite state", 2: "|x| > bound", 3: "|W| > weight_bound", 4: "non-finite weights"}
_steps_interval = Interval(1, closed="left", integer=True)
_count_interval = Interval(0, closed="left", integer=True)
_bound_interval = Interval(0.0, math.inf, closed="right")


class RateNetwork:
    """A recurrent rate network ``x <- phi(W x + I)`` (map) or ``tau dx/dt = -x + W phi(x) + I`` (flow).

    Parameters
    ----------
    W : (n, n) array_like
        Weights ``W[post, pre]``, finite. Copied; float32 and float64 are kept (the kernel
        computes in that dtype), other real dtypes become float64.
    activation : {"tanh", "relu", "sigmoid", "linear"}
        The neuron's transfer function ``phi``, an entry of the one activation table
        :data:`plasticity.activations.ACTIVATIONS` (which the kernel and ``as_system`` read).
    dynamics : {"map", "flow"}
        Discrete map (one step = one unit of model time; ``dt`` is not used) or ODE.
    tau : float
        Neuron time constant of the flow, in (0, inf), model time units.
    dt : float
        Integration step of the flow, in (0, inf), model time units.
    method : {"euler", "rk4"}
        Integrator of the flow.
    seed : int, numpy.random.Generator or None
        Source of the default initial state ``x0``.

    Attributes
    ----------
    W : (n, n) ndarray
        The current weights (updated in place by plastic runs).
    x : (n,) ndarray or None
        The current state (None before the first run); ``t`` its model time.
    rule_state : object or None
        The state of the last rule run (``rule.init_state(n, n)``), continued by later runs
        with an equal rule.

    Notes
    -----
    Plastic steps run in the fused kernel of :mod:`models._rate_kernels` (W read and written
    once per step); from ``n >= PARALLEL_MIN_N`` its rows are split over numba's threads
    (``numba.set_num_threads`` controls them).

    References
    ----------
    Sompolinsky, Crisanti & Sommers (1988) Phys Rev Lett 61:259 (random tanh networks).
    """

    def __init__(self, W: Any, activation: str = "tanh", dynamics: str = "map", tau: float = 1.0,
                 dt: float = 0.1, method: str = "euler", seed: int | np.random.Generator | None = None) -> None:
        owner = "RateNetwork"
        self.activation = check_choice(owner, "activation", activation, NETWORK_ACTIVATIONS)
        self.dynamics = check_choice(owner, "dynamics", dynamics, ("map", "flow"))
        self.method = check_choice(owner, "method", method, ("euler", "rk4"))
        self.tau = float(check_number(owner, "tau", tau, positive))
        self.dt = float(check_number(owner, "dt", dt, positive))
        self._rng = as_rng(seed)
        self.W = W
        self.x: np.ndarray | None = None
        self.t = 0.0
        self.rule_state: Any = None
        self._rule: Any = None

    @property
    def W(self) -> np.ndarray:
        return self._W

    @W.setter
    def W(self, W: Any) -> None:
        owned = isinstance(W, _Owned)  # an array built for this network: adopted, not copied
        if owned:
            W = W.array
        try:
            arr = np.asarray(W)
        except ValueError as e:  # ragged nested lists
            raise ValueError(f"RateNetwork: W must be a square 2-D array W[post, pre] with n >= 1; got a ragged "
                             f"nested sequence {W!r:.80} ({e})") from e
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"RateNetwork: W must be a real array; got dtype {arr.dtype}")
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
            raise ValueError(f"RateNetwork: W must be a square 2-D array W[post, pre] with n >= 1; got shape {arr.shape}")
        if hasattr(self, "_W") and arr.shape != self._W.shape:
            raise ValueError(f"RateNetwork: W has shape {arr.shape}; expected {self._W.shape} (n is fixed)")
        dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
        if not owned:
            arr = np.array(arr, dtype=dtype, order="C", copy=True)
        bad = ~np.isfinite(_row_absmax(arr))  # by blocks of rows: no temporary of W's size
        if bad.any():
            raise ValueError(f"RateNetwork: W must be finite; got non-finite values (NaN or inf) in "
                             f"{int(bad.sum())} row(s)")
        self._W = arr

    @property
    def n(self) -> int:
        return self._W.shape[0]

    @classmethod
    def random(cls, n: int, g: float, seed: int | np.random.Generator | None = None, activation: str = "tanh",
               dynamics: str = "map", dale: bool = False, dtype: Any = np.float64, **kwargs: Any) -> "RateNetwork":
        """A network with random weights of variance ``g**2 / n``.

        ``dale=False``: ``W_ij ~ N(0, g**2/n)`` (Sompolinsky et al. 1988; chaotic for g > 1).
        ``dale=True``: the first ``round(0.8 n)`` columns excitatory (>= 0), the rest inhibitory
        (<= 0). Magnitudes are Gamma distributed with standard deviation ``g / sqrt(n)`` in
        every column (E: exponential, mean ``g/sqrt(n)``; I: mean ``n_E/n_I`` times larger),
        then each row's inhibitory weights are scaled so that every row sums to exactly zero
        (balance). This is the construction of Rajan & Abbott (2006) Phys Rev Lett 97:188104
        with ``sigma_E = sigma_I = g`` and their zero-row-sum condition: the eigenvalues lie
        in the disc of radius ``g`` with no outliers. The variance about each column's mean
        is ``g**2/n`` (the balancing adds 2-4% in the inhibitory columns); the column means add a rank-one, non-normal part (so ``W.var()`` over
        all entries is about ``5 g**2 / n``). The same ``seed`` then draws ``x0``.
        ``kwargs`` go to the constructor (``tau``, ``dt``, ``method``).
        """
        owner = "RateNetwork.random"
        n = int(check_number(owner, "n", n, Interval(1, closed="left", integer=True)))
        g = float(check_number(owner, "g", g, Interval(0.0, closed="left")))
        if dtype not in (np.float32, np.float64, "float32", "float64"):
            raise ValueError(f"{owner}: dtype must be float32 or float64; got {dtype!r}")
        rng = as_rng(seed)
        if dale:
            W = dale_matrix(n, g, rng).astype(dtype)
        else:  # drawn in blocks of rows into the network's own array: one copy of W
            W = np.empty((n, n), dtype=dtype)
            rows = max(1, 2**18 // n)  # 2 MB blocks of float64
            for i in range(0, n, rows):
                W[i:i + rows] = rng.normal(0.0, g / math.sqrt(n), size=(min(rows, n - i), n))
        return cls(_Owned(W), activation=activation, dynamics=dynamics, seed=rng, **kwargs)

    @classmethod
    def from_populations(cls, populations: Any, projections: Any, dynamics: str = "flow", dt: float = 0.1,
                         seed: int | np.random.Generator | None = None, dtype: Any = np.float64) -> "RateNetwork":
        """A network of named populations joined by sign-keeping projections.

        Parameters
        ----------
        populations : list of models.RatePopulation
            In order: neuron indices follow it (``result.populations`` gives the slices).
        projections : list of models.RateProjection
            At most one per (source, target); named source first (``"IE"`` = I to E).
        dynamics : {"flow", "map"}
            ``tau_P dx/dt = -x + sum_S sign_S W_S r_S + bias_P + I`` (Euler at ``dt``) or the map
            ``x <- phi(...)``.
        dt : float
            Euler step of the flow, in (0, inf).
        seed : int, numpy.random.Generator or None
            Draws the connectivity, then the default initial state.
        dtype : float32 or float64
            Storage and arithmetic of the weights.

        Returns
        -------
        models.population_network.PopulationRateNetwork
            A ``RateNetwork`` whose ``run`` takes ``plasticity={"EE": rule, ...}`` and
            ``inputs={"E": ...}``, with ``weights(name)`` per projection (see that module).
        """
        from models.population_network import PopulationRateNetwork

        return PopulationRateNetwork(populations, projections, dynamics=dynamics, dt=dt, seed=seed, dtype=dtype)

    @classmethod
    def ei(cls, n_exc: int = 800, n_inh: int = 200, seed: int | np.random.Generator | None = None,
           **overrides: Any) -> "RateNetwork":
        """An inhibition-dominated E/I network of threshold-linear units (defaults below).

        ``n_exc`` E and ``n_inh`` I neurons, every projection (EE, EI, IE, II) with connection
        probability ``p = 0.1`` and equal magnitudes ``w = J / (p n_source)`` (``J / (p
        (n_source - 1))`` within a population, which has no self-synapses), so that a neuron's
        summed weight from a population is ``J`` on average (exactly for ``p = 1``):
        ``J_EE = 0.5``, ``J_EI = 1`` (E to I), ``J_IE = 1`` (I to E), ``J_II = 1``. ``tau_e = 1``, ``tau_i = 0.5``, Euler flow at
        ``dt = 0.1``, biases ``bias_e = 3``, ``bias_i = 2``. Mean-field quiet state (linear
        units above threshold): ``r_I = (J_EI r_E + bias_i) / (1 + J_II)`` and
        ``r_E (1 - J_EE + J_IE J_EI / (1 + J_II)) = bias_e - J_IE bias_i / (1 + J_II)``, i.e.
        ``r_E = r_I = 2`` with the defaults (rates differ between neurons by the random
        connectivity). The quiet state loses stability when the E->E loop outgrows
        inhibition, ``J_EE > 1 + J_IE J_EI / (1 + J_II) = 1.5``: the runaway that Hebbian
        learning on E->E drives towards. Every default (``p``, ``J_*``, ``tau_e``, ``tau_i``,
        ``bias_e``, ``bias_i``, ``activation``, ``max_rate``, ``w_max``, ``dynamics``, ``dt``,
        ``dtype``) may be overridden by keyword; ``models.population_network.EI_DEFAULTS``
        lists them.
        """
        from models.population_network import ei_network

        return ei_network(n_exc, n_inh, seed=seed, **overrides)

    # -- running -----------------------------------------------------------------------
    def run(self, steps: int, rule: Any = None, inputs: Any = None, x0: Any = None, record_every: int = 1,
            progress: bool | None = None, bound: float = 1e6, record_weights_every: int | None = None,
            weight_bound: float | None = None) -> RateResult:
        """Run ``steps`` steps, optionally with a plasticity rule; return what was recorded.

        Parameters
        ----------
        steps : int
            Number of steps, >= 1 (map steps, or flow steps of length ``dt``).
        rule : plasticity rule or None
            A rate rule. Its state is created at the first run (``rule.init_state(n, n)``),
            kept in ``rule_state`` and continued by later runs with an equal rule.
        inputs : None, float, (n,) array, (steps, n) array, or callable ``t -> (n,)``
            External input ``I``, held constant over each step; a callable is evaluated at
            the model time of the start of each step.
        x0 : (n,) array or None
            Initial state. None: continue from the last run's final state; at the first run,
            draw ``x0 ~ Uniform(-1, 1)`` from the network's seed.
        record_every : int
            Record the state at every ``record_every``-th step (the start included).
        progress : bool or None
            tqdm bar: None shows it for runs expected to last more than ~2 s.
        bound : float
            The run diverges when ``|x|`` exceeds it or x turns non-finite.
        record_weights_every : int or None
            Snapshot period of W in steps (start and end included); 0: no snapshots. None: start
            and end while the two copies fit in 1 GiB, none for larger W (see ``Snapshots``:
            snapshots are the only copies of W a run makes).
        weight_bound : float or None
            The run diverges when a weight's magnitude exceeds it (default ``bound``).

        Returns
        -------
        RateResult
            On divergence the arrays stop before the bad state; ``net.x`` is the last good
            state and ``net.W`` the weights as left by the failing step.
        """
        owner = "RateNetwork.run"
        steps = int(check_number(owner, "steps", steps, _steps_interval))
        record_every = int(check_number(owner, "record_every", record_every, _steps_interval))
        bound = float(check_number(owner, "bound", bound, _bound_interval))
        weight_bound = bound if weight_bound is None else float(check_number(owner, "weight_bound", weight_bound, _bound_interval))
        if record_weights_every is not None:
            record_weights_every = int(check_number(owner, "record_weights_every", record_weights_every, _count_interval))
        if progress is not None and not isinstance(progress, bool):
            raise TypeError(f"{owner}: progress must be True, False or None; got {progress!r}")
        fused = check_rule(owner, rule)
        n, W = self.n, self._W
        dt_time = 1.0 if self.dynamics == "map" else self.dt
        source = InputSource(owner, inputs, steps, n, self.t, dt_time)
        x = self._initial_state(owner, x0)
        mrow = _row_absmax(W)
        if not np.all(np.isfinite(mrow)):
            raise ValueError(f"{owner}: W must be finite; got non-finite values (NaN or inf) in {int(np.sum(~np.isfinite(mrow)))} row(s)")
        if mrow.max() > weight_bound:
            raise ValueError(f"{owner}: weight_bound must be at least max |W| = {mrow.max():g} at the start; got {weight_bound!r}")
        state = self._rule_state_for(rule)

        snaps = Snapshots(steps, record_weights_every, W.shape, W.dtype, self.t, dt_time, SNAPSHOT_BYTES)
        est = steps * W.nbytes * (2 if rule is not None else 1) * (4 if self.method == "rk4" and self.dynamics == "flow" else 1) / 2e10
        est *= 5 if rule is not None and not fused else 1
        show = est > 2.0 if progress is None else progress
        per_chunk = max(1, int(steps * 0.25 / est)) if show and est > 0 else steps
        bounds = sorted(set(snaps.steps) | set(range(0, steps, min(per_chunk, source.max_chunk))) | {steps})

        T = steps // record_every + 1
        rec_x = np.empty((T, n), dtype=W.dtype)
        rec_r = rec_x if self.dynamics == "map" else np.empty((T, n), dtype=W.dtype)
        snaps.take(0, lambda out: np.copyto(out, W))
        stepper = _Stepper(self, fused, rule, state, x, bound, weight_bound, mrow,
                           par=n >= PARALLEL_MIN_N and _num_threads() > 1)
        rec_x[0] = stepper.x
        rec_r[0] = stepper.r
        p, code, k_bad, k_done = 1, 0, -1, 0
        t0 = self.t
        try:
            with progress_bar(show, total=steps, desc=owner, unit="step", leave=False) as bar:
                for k0, k1 in zip(bounds[:-1], bounds[1:]):
                    code, s, p = stepper.advance(source.chunk(k0, k1), k0, k1 - k0, record_every, rec_x, rec_r, p)
                    bar.update(s)
                    k_done = k0 + s
                    if code:
                        k_bad = k_done + 1
                        break
                    snaps.take(k1, lambda out: np.copyto(out, W))
        finally:  # also on an error in the inputs callable: the network stays consistent
            stepper.finish()
            self.x, self.t = stepper.x.copy(), t0 + k_done * dt_time
        return self._result(rec_x, rec_r, p, record_every, snaps, int(code), k_bad, t0, dt_time)

    def _result(self, rec_x: np.ndarray, rec_r: np.ndarray, p: int, record_every: int, snaps: "Snapshots",
                code: int, k_bad: int, t0: float, dt_time: float, populations: dict | None = None) -> RateResult:
        """The ``RateResult`` of a run that recorded ``p`` states and stopped with ``code``."""
        states = rec_x[:p]
        weights, weight_times = snaps.result()
        return RateResult(
            times=t0 + dt_time * np.arange(0, p * record_every, record_every, dtype=np.float64),
            rates=states if self.dynamics == "map" else rec_r[:p], states=states,
            weights=weights, weight_times=weight_times,
            diverged=bool(code), diverged_at=t0 + k_bad * dt_time if code else None,
            reason=_REASONS.get(code, ""), dynamics=self.dynamics, populations=populations,
        )

    def _initial_state(self, owner: str, x0: Any) -> np.ndarray:
        if x0 is None:
            if self.x is None:
                return self._rng.uniform(-1.0, 1.0, self.n)
            return self.x.copy()
        x = np.asarray(x0)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{owner}: x0 must be a real array; got dtype {x.dtype}")
        check_shape(owner, "x0", x, (self.n,), "n")
        x = np.array(x, dtype=np.float64)
        check_finite_array(owner, "x0", x)
        return x

    def _rule_state_for(self, rule: Any) -> Any:
        if rule is None:
            return None
        try:
            same = rule is self._rule or (type(rule) is type(self._rule) and bool(rule == self._rule))
        except Exception:
            same = False
        if not same or self.rule_state is None:
            self.rule_state, self._rule = rule.init_state(self.n, self.n), rule
        return self.rule_state

    def _gain_threshold(self) -> tuple[np.ndarray, np.ndarray]:
        """The neurons' (gain, threshold): from intrinsic plasticity's state if it ran last."""
        views = neuron_state(self._rule, self.rule_state) if self.rule_state is not None else None
        if views is None:
            return np.ones(self.n), np.zeros(self.n)
        return np.array(views[0], dtype=np.float64), np.array(views[1], dtype=np.float64)

    # -- analysis ----------------------------------------------------------------------
    def as_system(self, inputs: Any = None):
        """The frozen-weight dynamics as a ``plasticity.metrics.Map`` or ``Flow`` (``rate_system``).

        Map: ``f(x) = phi(g (W x + I) - b)``, ``J = diag(g phi'(g (W x + I) - b)) W``. Flow:
        ``f(x) = (-x + W phi(g x - b) + I) / tau``, ``J = (-1 + W diag(g phi'(g x - b))) / tau``,
        with the gains ``g`` and thresholds ``b`` of intrinsic plasticity if it ran last (1 and
        0 otherwise). Built by :func:`plasticity.metrics.rate_systems.rate_system`, with its
        tangent map ``jvp``; W, g and b are copied now, as float64. ``inputs``: None, a scalar
        or an ``(n,)`` array (a constant input).
        """
        from plasticity.metrics.rate_systems import rate_system

        owner = "RateNetwork.as_system"
        if callable(inputs):
            raise TypeError(f"{owner}: inputs must be None, a number or an (n,) array (a constant input); got a callable")
        I = InputSource(owner, inputs, 1, self.n, 0.0, 1.0).chunk(0, 1)[0].copy()
        gain, thr = self._gain_threshold()
        return rate_system(self._W.astype(np.float64), self.activation, self.dynamics, tau=self.tau, inputs=I,
                           gain=gain, threshold=thr)

    def __repr__(self) -> str:
        return (f"RateNetwork(n={self.n}, activation={self.activation!r}, dynamics={self.dynamics!r}, "
                f"tau={self.tau}, dt={self.dt}, method={self.method!r}, dtype={self._W.dtype})")


class _Owned:
    """Marks an array made for a new network: ``RateNetwork`` adopts it instead of copying it."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
