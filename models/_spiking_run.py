"""Driving the numba kernel of a spiking network: run checks, packing, chunked calls, result.

The loop is cut into chunks (0.1 s of simulated time, or up to the next weight snapshot);
between chunks Python grows the spike buffer, takes snapshots and advances the progress bar.
All state lives in arrays owned here, so a chunk continues exactly where the last stopped.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from plasticity._validation import check_choice, check_number, positive
from plasticity.rules._spiking_base import SpikingRule
from models._spiking_connect import projection_csr, projection_weights
from models._compile_choice import marker, nth
from models._spiking_kernels import STATUS_DIVERGED, STATUS_FULL, run_chunk
from models._spiking_pack import Drive, PackedProjections, Params, Record, State, pack_pops, pack_projections
from models._spiking_result import SpikingResult, SynapsePairs, WeightSnapshots

__all__ = ["RunSpec", "check_duration", "prepare_run", "run_numba", "pack_plastic"]

_WINDOW = 10e-3        # divergence window (s)
_CHUNK = 0.1           # simulated seconds per kernel call
_PROGRESS_WORK = 2e8   # neuron-steps above which progress=None shows a bar


@dataclass(frozen=True)
class RunSpec:
    """The checked arguments of :meth:`SpikingNetwork.run`, shared by both backends."""

    n_steps: int                # steps to simulate
    duration: float             # n_steps * dt (s)
    backend: str                # "numba" or "brian2"
    rec_every: int | None       # steps between weight snapshots (None: start and end only)
    progress: bool
    brian2_target: str
    record_state: np.ndarray    # int64 neurons whose V is recorded
    max_rate: float             # divergence bound (Hz), inf for none
    plastic: dict               # projection name -> spiking rule


def check_duration(owner: str, duration: Any, dt: float, name: str = "duration") -> int:
    """Number of steps in ``duration``; raise unless it is a positive whole number of steps."""
    check_number(owner, name, duration, positive)
    steps = int(round(duration / dt))
    if steps < 1 or abs(steps * dt - duration) > 1e-6 * dt:
        raise ValueError(f"{owner}: {name} must be a whole number of steps dt={dt:g} s; got {duration!r} "
                         f"({duration / dt:.6g} steps)")
    return steps


def prepare_run(net, duration, plasticity, backend, record_weights_every, progress,
                brian2_target, record_state, max_rate) -> RunSpec:
    """Check the arguments of :meth:`SpikingNetwork.run` (shared by both backends)."""
    owner = "SpikingNetwork.run"
    dt = net.dt
    n_steps = check_duration(owner, duration, dt)
    backend = check_choice(owner, "backend", backend, ("numba", "brian2"))
    brian2_target = check_choice(owner, "brian2_target", brian2_target, ("runtime", "cpp_standalone", "numpy"))
    rec_every = None
    if record_weights_every is not None:
        rec_every = check_duration(owner, record_weights_every, dt, "record_weights_every")
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"{owner}: progress must be True, False or None; got {progress!r}")
    if max_rate is not None:
        check_number(owner, "max_rate", max_rate, positive)
    rec = np.zeros(0, dtype=np.int64)
    if record_state is not None:
        rec = np.asarray(record_state)
        if rec.ndim != 1 or (rec.size and rec.dtype.kind not in "iu"):
            raise TypeError(f"{owner}: record_state must be a sequence of neuron indices (ints); got {record_state!r}")
        rec = rec.astype(np.int64)
        if rec.size and (rec.min() < 0 or rec.max() >= net.n):
            raise ValueError(f"{owner}: record_state indices must be in [0, {net.n - 1}]; got min {rec.min()}, max {rec.max()}")
    plastic = {}
    names = [p.name for p in net._built.projections]
    if plasticity is not None:
        if not isinstance(plasticity, dict):
            raise TypeError(f"{owner}: plasticity must be a dict projection name -> spiking rule; got {type(plasticity).__name__}")
        for name, rule in plasticity.items():
            if name not in names:
                raise ValueError(f"{owner}: plasticity keys must be projection names {names} (source first); got {name!r}")
            if not isinstance(rule, SpikingRule):
                raise TypeError(f"{owner}: plasticity[{name!r}] must be a spiking rule (PairSTDP, TripletSTDP, "
                                f"InhibitorySTDP, SpikingSynapticScaling); got {type(rule).__name__}")
            plastic[name] = rule
    if progress is None:
        progress = n_steps * net.n >= _PROGRESS_WORK
    return RunSpec(n_steps=n_steps, duration=n_steps * dt, backend=backend, rec_every=rec_every,
                   progress=bool(progress), brian2_target=brian2_target, record_state=rec,
                   max_rate=math.inf if max_rate is None else float(max_rate), plastic=plastic)


def pack_plastic(net, plastic: dict) -> PackedProjections:
    """The projections of ``net`` packed for a run with rules ``plastic`` (name -> rule); see
    :func:`models._spiking_pack.pack_projections`."""
    return pack_projections(net._built, plastic, net.weight_dtype)


def run_numba(net, spec: RunSpec) -> SpikingResult:
    """Run the numba kernel in chunks; see :meth:`SpikingNetwork.run`."""
    t_start = time.perf_counter()
    b, dt, N = net._built, net.dt, net.n
    n_steps = spec.n_steps
    win_steps = max(1, int(round(_WINDOW / dt)))
    mode, pops = pack_pops(net, spec.max_rate, win_steps)
    use_I_t = bool(b.I_funcs)
    prm = Params(dt=float(dt), mode=mode, E_e=float(net.E_exc), E_i=float(net.E_inh),
                 dec_e=math.exp(-dt / net.tau_exc), dec_i=math.exp(-dt / net.tau_inh),
                 use_I_t=use_I_t, win_steps=win_steps)
    pk = pack_plastic(net, spec.plastic)
    tab = pk.table
    pois_p = np.ascontiguousarray(b.pois_rate * dt)
    st = State(v=b.V0.copy(), g=np.ascontiguousarray(b.g0.copy()),
               last=np.full(N, -(2**30), dtype=np.int32),  # step of the last spike; int32: less traffic
               pois_next=np.full(pois_p.size, -1, dtype=np.int64),
               ring=np.zeros((pk.max_delay, N + pois_p.size), dtype=np.int64),
               ring_cnt=np.zeros(pk.max_delay, dtype=np.int64),
               win_count=np.zeros(len(b.names), dtype=np.int64), win_pos=np.zeros(1, dtype=np.int64),
               pre_scratch=np.zeros(max(int(tab.nsrc.max(initial=1)), 1), dtype=np.int64),
               post_scratch=np.zeros(max(int(tab.ntgt.max(initial=1)), 1), dtype=np.int64))
    rec_idx = spec.record_state
    cap = int(N * n_steps * dt * 40.0) + 4 * N + 1024  # ~40 Hz; grown when needed
    rec_step, rec_neuron = np.zeros(cap, dtype=np.int64), np.zeros(cap, dtype=np.int64)
    n_rec = 0
    run_rng = np.random.default_rng(net._run_seed)
    by_name = {p.name: p for p in b.projections}
    # snapshots in the weight dtype, made float64 when read (SpikingResult.weights): the first
    # is the build's initial weights, the last the run's own array (neither copied)
    snaps = {name: [projection_weights(b, by_name[name])] for name in pk.plastic}
    snap_times = [0.0]
    V_chunks, chunk_len = [], max(1, int(round(_CHUNK / dt)))

    plastic = marker(bool(pk.plastic))  # a static network's loop compiles no rule
    model = nth(prm.mode)  # nor the V updates of other neuron models

    def call(k0, steps):
        I_t = np.zeros((max(steps, 1), N) if use_I_t else (1, 1))
        if use_I_t:
            I_t[:] = b.I_const
            for i in range(steps):
                t = (k0 + i) * dt
                for sl, f in b.I_funcs:
                    I_t[i, sl] = f(t)
        rec_v = np.zeros((rec_idx.size, steps))
        out = run_chunk(model, plastic, steps, k0, int(run_rng.integers(2**31 - 1)), n_rec, prm, pops,
                        Drive(b.I_const, I_t, pois_p), st, tab, pk.syn, Record(rec_idx, rec_v, rec_step, rec_neuron))
        return out, rec_v

    t0 = time.perf_counter()
    call(0, 0)  # compile, or load from the numba cache
    t_compile = time.perf_counter() - t0
    bar = None
    if spec.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps * dt, desc="SpikingNetwork (numba)",
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total:.2f} s simulated [{elapsed}<{remaining}]")
    step, status, t_loop = 0, 0, 0.0
    rec_every = spec.rec_every
    while step < n_steps:
        target = min(n_steps, step + chunk_len)
        if rec_every is not None:
            target = min(target, (step // rec_every + 1) * rec_every)
        t0 = time.perf_counter()
        (done, n_rec, status, bad), rec_v = call(step, target - step)
        t_loop += time.perf_counter() - t0
        V_chunks.append(rec_v[:, :done])
        step += done
        if bar is not None:
            bar.update(done * dt)
        if status == STATUS_FULL:
            rec_step = np.concatenate([rec_step, np.zeros_like(rec_step)])
            rec_neuron = np.concatenate([rec_neuron, np.zeros_like(rec_neuron)])
            continue
        if status == STATUS_DIVERGED:
            break
        if rec_every is not None and step % rec_every == 0 and step < n_steps:
            for name, sl in pk.plastic.items():
                snaps[name].append(pk.syn.w_run[sl].copy())
            snap_times.append(step * dt)
    if bar is not None:
        bar.close()
    for name, sl in pk.plastic.items():
        snaps[name].append(pk.syn.w_run[sl])
    snap_times.append(step * dt)
    diverged = status == STATUS_DIVERGED
    T = step * dt
    counts = np.bincount(rec_neuron[:n_rec], minlength=N)
    rates = {name: float(counts[sl].sum() / ((sl.stop - sl.start) * T)) if T > 0 else 0.0
             for name, sl in b.slices.items()}
    return SpikingResult(
        spike_times=rec_step[:n_rec] * dt, spike_indices=rec_neuron[:n_rec].copy(),
        populations=dict(b.slices), rates=rates,
        weights=WeightSnapshots(snaps), weight_times=np.array(snap_times),
        diverged=diverged, diverged_at=T if diverged else None, duration=T, dt=dt,
        synapses=SynapsePairs({name: projection_csr(b, by_name[name]) for name in pk.plastic}),
        shapes={name: (by_name[name].n_post, by_name[name].n_pre) for name in pk.plastic},
        state_indices=rec_idx.copy(), state_times=np.arange(step) * dt,
        V=np.concatenate(V_chunks, axis=1) if V_chunks else np.zeros((rec_idx.size, 0)),
        backend="numba",
        timings={"compile": t_compile, "loop": t_loop, "total": time.perf_counter() - t_start},
    )
