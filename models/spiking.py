"""Networks of leaky integrate-and-fire neurons with sparse random synapses, run in numba.

    tau_m dV/dt = E_L - V + R (I_ext + I_syn)           spike when V > V_th
    conductance synapses: I_syn = g_e (E_exc - V) + g_i (E_inh - V),  tau_exc dg_e/dt = -g_e, ...
    current synapses:     I_syn = I_e - I_i,                          tau_exc dI_e/dt = -I_e, ...

A presynaptic spike adds the synapse's weight (a non-negative magnitude) to ``g_e``/``I_e``
when its source population is excitatory, to ``g_i``/``I_i`` when it is inhibitory. ``V`` is
integrated with explicit Euler (as the Brette et al. 2007 reference scripts) or, for current
synapses, exactly; synaptic variables decay exactly. The step order is brian2's schedule (see
:mod:`models._spiking_kernels`), and ``backend="brian2"`` runs the same build in brian2
(:mod:`models.brian2_backend`) as the independent reference.

References
----------
Brette et al. (2007) J Comput Neurosci 23:349, benchmarks 1 (COBA) and 2 (CUBA), after
Vogels & Abbott (2005) J Neurosci 25:10786.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from plasticity._validation import as_rng, check_choice, check_number, positive
from models._spiking_build import LIFPopulation, PoissonPopulation, Projection, build, connectivity
from models._spiking_result import SpikingResult
from models._spiking_run import prepare_run, run_numba

__all__ = ["SpikingNetwork", "SpikingResult", "LIFPopulation", "PoissonPopulation", "Projection"]

_mV, _ms, _nS = 1e-3, 1e-3, 1e-9

#: A population is saturated when its mean rate reaches this fraction of ``1 / t_ref``.
SATURATION = 0.9


class SpikingNetwork:
    """LIF populations, Poisson inputs and random projections (SI units throughout).

    Parameters
    ----------
    populations : sequence of LIFPopulation
        Simulated neurons; global indices follow this order.
    projections : sequence of Projection
    inputs : sequence of PoissonPopulation
    synapse : {"conductance", "current"}
    tau_exc, tau_inh : float
        Decay time constants of the excitatory and inhibitory synaptic variables (s), > 0.
    E_exc, E_inh : float
        Reversal potentials (V) of conductance synapses.
    dt : float
        Time step (s), > 0.
    method : {"euler", "exact"} or None
        Integration of ``V``; ``"exact"`` needs current synapses. Default: ``"euler"`` for
        conductance synapses, ``"exact"`` for current synapses (as Brian's CUBA).
    weight_dtype : {"float32", "float64"}
        Storage of synaptic weights: float32 keeps a plastic synapse at 10 bytes while the
        populations have fewer than 32768 neurons (int16 target, float32 weight, and the
        by-post index: int16 presynaptic neuron + int16 place in its row). A projection with
        a fixed weight (a number) stores that one number, not one per synapse.
    seed : int, numpy Generator or None
        Connectivity and initial state are drawn at construction; each run draws its
        Poisson spikes from a seed fixed at construction, so a run is repeatable.
    """

    def __init__(self, populations: Sequence[LIFPopulation], projections: Sequence[Projection] = (),
                 inputs: Sequence[PoissonPopulation] = (), synapse: str = "conductance",
                 tau_exc: float = 5e-3, tau_inh: float = 10e-3, E_exc: float = 0.0, E_inh: float = -80e-3,
                 dt: float = 1e-4, method: str | None = None, weight_dtype: str = "float32", seed=None):
        owner = "SpikingNetwork"
        self.synapse = check_choice(owner, "synapse", synapse, ("conductance", "current"))
        self.tau_exc = check_number(owner, "tau_exc", tau_exc, positive)
        self.tau_inh = check_number(owner, "tau_inh", tau_inh, positive)
        self.E_exc = check_number(owner, "E_exc", E_exc)
        self.E_inh = check_number(owner, "E_inh", E_inh)
        self.dt = float(check_number(owner, "dt", dt, positive))
        if method is None:
            method = "euler" if synapse == "conductance" else "exact"
        self.method = check_choice(owner, "method", method, ("euler", "exact"))
        if self.method == "exact" and self.synapse == "conductance":
            raise ValueError("SpikingNetwork.method must be 'euler' for conductance synapses "
                             "(V is not linear in time under a decaying conductance); got 'exact'")
        self.weight_dtype = np.dtype(check_choice(owner, "weight_dtype", weight_dtype, ("float32", "float64")))
        for kind, seq, cls in (("populations", populations, LIFPopulation), ("projections", projections, Projection),
                               ("inputs", inputs, PoissonPopulation)):
            for item in seq:
                if not isinstance(item, cls):
                    raise TypeError(f"SpikingNetwork.{kind} must hold {cls.__name__} objects; got {type(item).__name__}")
        if not populations:
            raise ValueError("SpikingNetwork.populations must hold at least one LIFPopulation; got none")
        self.populations = tuple(populations)
        self.projections = tuple(projections)
        self.inputs = tuple(inputs)
        for pop in self.populations:
            if pop.t_ref > 0 and abs(round(pop.t_ref / self.dt) * self.dt - pop.t_ref) > 1e-6 * self.dt:
                raise ValueError(f"LIFPopulation({pop.name!r}).t_ref must be a whole number of steps dt={self.dt:g}; got {pop.t_ref!r}")
        rng = as_rng(seed)
        self._built = build(self.populations, self.inputs, self.projections, self.dt, rng, self.weight_dtype)
        self._run_seed = int(rng.integers(2**31 - 1))

    # -- named networks ---------------------------------------------------------------
    @classmethod
    def coba(cls, seed=None, **overrides) -> "SpikingNetwork":
        """Brette et al. (2007) benchmark 1 (COBA) as in its reference Brian script.

        4000 LIF neurons (3200 E, 800 I), all-pairs p = 0.02 (autapses allowed, as
        ``connect_random`` from the group onto itself), dt = 0.1 ms, Euler for V; E_L = -60
        mV, V_th = -50 mV, V_reset = -60 mV, tau_m = 20 ms (C_m = 200 pF, g_L = 10 nS),
        refractory 5 ms, E_exc = 0 mV, E_inh = -80 mV, tau_exc = 5 ms, tau_inh = 10 ms,
        we = 6 nS, wi = 67 nS, no external drive. Initial V = E_L - 5 mV + 5 mV N(0,1),
        g_exc = (4 + 1.5 N(0,1)) g_L, g_inh = (20 + 12 N(0,1)) g_L (Brian script: ``P.v =
        (randn*5 - 5) mV`` relative to rest, ``P.ge = randn*1.5 + 4``, ``P.gi = randn*12 + 20``
        in units of g_L). Fires at about 20 Hz (Brette et al. 2007, Fig. 3).

        ``overrides``: ``n_exc, n_inh, p, we, wi, E_L, V_th, V_reset, tau_m, g_L, t_ref, E_exc,
        E_inh, tau_exc, tau_inh, dt, delay, weight_dtype``.
        """
        P = dict(n_exc=3200, n_inh=800, p=0.02, we=6 * _nS, wi=67 * _nS, E_L=-60 * _mV, V_th=-50 * _mV,
                 V_reset=-60 * _mV, tau_m=20 * _ms, g_L=10 * _nS, t_ref=5 * _ms, E_exc=0.0, E_inh=-80 * _mV,
                 tau_exc=5 * _ms, tau_inh=10 * _ms, dt=0.1 * _ms, delay=None, weight_dtype="float32")
        P = _apply_overrides("SpikingNetwork.coba", P, overrides)
        gL, EL = P["g_L"], P["E_L"]

        def pop(name, n, inhibitory):
            return LIFPopulation(
                name, n, tau_m=P["tau_m"], R=1.0 / gL, E_L=EL, V_th=P["V_th"], V_reset=P["V_reset"],
                t_ref=P["t_ref"], inhibitory=inhibitory,
                V_init=lambda rng, k: EL - 5 * _mV + 5 * _mV * rng.standard_normal(k),
                g_exc_init=lambda rng, k: (4.0 + 1.5 * rng.standard_normal(k)) * gL,
                g_inh_init=lambda rng, k: (20.0 + 12.0 * rng.standard_normal(k)) * gL)

        return cls([pop("E", P["n_exc"], False), pop("I", P["n_inh"], True)],
                   _ei_projections(P["p"], P["we"], P["wi"], P["delay"]), synapse="conductance",
                   tau_exc=P["tau_exc"], tau_inh=P["tau_inh"], E_exc=P["E_exc"], E_inh=P["E_inh"],
                   dt=P["dt"], method="euler", weight_dtype=P["weight_dtype"], seed=seed)

    @classmethod
    def cuba(cls, seed=None, **overrides) -> "SpikingNetwork":
        """Brette et al. (2007) benchmark 2 (CUBA), as Brian's CUBA example.

        4000 LIF neurons (3200 E, 800 I), p = 0.02, tau_m = 20 ms, V_th = -50 mV, V_reset =
        -60 mV, E_L = -49 mV (above threshold: no external drive needed), tau_exc = 5 ms,
        tau_inh = 10 ms, refractory 5 ms; synaptic jumps of ``R I``: we = 60 * 0.27 / 10 mV =
        1.62 mV, wi = 20 * 4.5 / 10 mV = 9 mV (subtracted). Here as currents with R = 100 Mohm
        (g_L = 10 nS): we = 16.2 pA, wi = 90 pA. Exact integration of V, initial V uniform in
        [V_reset, V_th), synaptic currents 0.

        ``overrides``: ``n_exc, n_inh, p, we, wi, E_L, V_th, V_reset, tau_m, R, t_ref,
        tau_exc, tau_inh, dt, delay, method, weight_dtype``.
        """
        P = dict(n_exc=3200, n_inh=800, p=0.02, R=1e8, E_L=-49 * _mV, V_th=-50 * _mV, V_reset=-60 * _mV,
                 tau_m=20 * _ms, t_ref=5 * _ms, tau_exc=5 * _ms, tau_inh=10 * _ms, dt=0.1 * _ms, delay=None,
                 method="exact", weight_dtype="float32", we=None, wi=None)
        P = _apply_overrides("SpikingNetwork.cuba", P, overrides)
        we = 60 * 0.27 / 10 * _mV / P["R"] if P["we"] is None else P["we"]
        wi = 20 * 4.5 / 10 * _mV / P["R"] if P["wi"] is None else P["wi"]
        Vr, Vt = P["V_reset"], P["V_th"]

        def pop(name, n, inhibitory):
            return LIFPopulation(
                name, n, tau_m=P["tau_m"], R=P["R"], E_L=P["E_L"], V_th=Vt, V_reset=Vr, t_ref=P["t_ref"],
                inhibitory=inhibitory, V_init=lambda rng, k: Vr + rng.random(k) * (Vt - Vr))

        return cls([pop("E", P["n_exc"], False), pop("I", P["n_inh"], True)],
                   _ei_projections(P["p"], we, wi, P["delay"]), synapse="current",
                   tau_exc=P["tau_exc"], tau_inh=P["tau_inh"], dt=P["dt"], method=P["method"],
                   weight_dtype=P["weight_dtype"], seed=seed)

    @classmethod
    def single_neuron(cls, current, tau_m: float = 20e-3, E_L: float = -70e-3, V_th: float = -50e-3,
                      V_reset: float = -70e-3, t_ref: float = 2e-3, R: float = 1e8, dt: float = 1e-4,
                      method: str = "exact", V_init: float | None = None) -> "SpikingNetwork":
        """One LIF neuron (population ``"N"``) under ``current`` (A, constant or ``t -> A``).

        Starting at ``V_reset`` (default ``V_init``) under a constant current ``I`` with
        ``R I > V_th - E_L`` it fires periodically: the first spike when ``V`` crosses
        ``V_th`` after ``T = tau_m ln((R I - (V_reset - E_L)) / (R I - (V_th - E_L)))``, then
        every ``t_ref + T``, each rounded up to the step grid (``V`` is compared with the
        threshold once per step, and stays at ``V_reset`` for ``t_ref``).
        ``method="exact"`` integrates V exactly between steps; ``"euler"`` as the networks.
        """
        pop = LIFPopulation("N", 1, tau_m=tau_m, R=R, E_L=E_L, V_th=V_th, V_reset=V_reset, t_ref=t_ref,
                            V_init=V_reset if V_init is None else V_init, current=current)
        return cls([pop], synapse="current", dt=dt, method=method, seed=0)

    # -- running ------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of simulated neurons."""
        return self._built.n

    def connectivity(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(pre, post, w)`` of projection ``name``: local indices (int64) and initial weights
        (float64, the stored ``weight_dtype`` values), sorted by ``pre`` then ``post``.

        Made on demand (24 bytes per synapse) from the network's compact storage.
        """
        for pr in self._built.projections:
            if pr.name == name:
                return connectivity(self._built, pr)
        raise ValueError(f"SpikingNetwork.connectivity: name must be one of {[p.name for p in self._built.projections]}; got {name!r}")

    def run(self, duration: float, plasticity: dict | None = None, backend: str = "numba",
            record_weights_every: float | None = None, progress: bool | None = None,
            brian2_target: str = "runtime", record_state=None, max_rate: float | None = 1000.0) -> SpikingResult:
        """Simulate ``duration`` seconds from the initial state drawn at construction.

        Parameters
        ----------
        duration : float
            Simulated time (s), a whole number of steps.
        plasticity : dict name -> spiking rule, optional
            Plastic projections by name (source first: ``"EE"``, ``"IE"``). Rules act on
            the weights in their SI units (S or A); see :mod:`plasticity.rules._spiking_base`.
        backend : {"numba", "brian2"}
        record_weights_every : float or None
            Interval (s) of weight snapshots of plastic projections (whole steps); ``None``:
            at the start and the end only.
        progress : bool or None
            tqdm bar; ``None`` shows one for long runs only.
        brian2_target : {"runtime", "cpp_standalone", "numpy"}
            brian2 device/target (``"runtime"`` = cython code generation).
        record_state : sequence of int or None
            Neurons whose ``V`` is recorded at the start of every step.
        max_rate : float or None
            Divergence bound (Hz) on each population's mean rate over consecutive 10 ms
            windows; past it the run stops with ``diverged=True``. ``None``: no bound.

        Returns
        -------
        SpikingResult
            ``saturated`` is True (and ``saturated_populations`` names them) when a
            population's mean rate reached ``SATURATION * 1 / t_ref`` (90% of the rate its
            refractory period allows): such a run cannot reach ``max_rate`` and so is never
            ``diverged``, but it has run away all the same.
        """
        spec = prepare_run(self, duration, plasticity, backend, record_weights_every, progress,
                           brian2_target, record_state, max_rate)
        if spec.backend == "brian2":
            from models.brian2_backend import run_brian2

            result = run_brian2(self, spec)
        else:
            result = run_numba(self, spec)
        b = self._built
        t_ref = dict(zip(b.names, b.pop_arrays["ref_steps"] * self.dt))
        result.saturated_populations = tuple(name for name in b.names if t_ref[name] > 0
                                             and result.rates.get(name, 0.0) >= SATURATION / t_ref[name])
        result.saturated = bool(result.saturated_populations)
        return result


def _apply_overrides(owner: str, defaults: dict, overrides: dict) -> dict:
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise TypeError(f"{owner}: unknown parameter(s) {unknown}; allowed: {sorted(defaults)}")
    out = dict(defaults)
    out.update(overrides)
    return out


def _ei_projections(p: float, we: float, wi: float, delay) -> list[Projection]:
    return [Projection("E", "E", p, we, delay), Projection("E", "I", p, we, delay),
            Projection("I", "E", p, wi, delay), Projection("I", "I", p, wi, delay)]
