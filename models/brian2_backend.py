"""The brian2 reference backend of :class:`models.spiking.SpikingNetwork`.

Builds the same network in brian2 from the same build (connectivity as explicit ``i, j``
lists, the same initial state and weights), runs it with the runtime device (cython or numpy
code generation) or the C++ standalone device, and returns the same :class:`SpikingResult`.

Numerics, chosen to equal the numba kernel step for step:

* one ``NeuronGroup`` with per-neuron parameters; ``V`` ``(unless refractory)``, threshold
  ``v > V_th``, reset ``v = V_reset``, ``refractory = t_ref``;
* ``method="euler"``: the state updater integrates ``V`` with Euler; the synaptic variables
  decay exactly in a ``run_regularly`` slot right after it (``when="after_groups"``), so both
  read the old synaptic values, as the kernel; ``method="exact"``: brian2's linear solver for
  the whole system (``V``, ``I_e``, ``I_i``);
* one ``Synapses`` per projection, ``on_pre: g_post += w``, ``delay = (steps - 1) dt``;
  plastic projections get the rule's event-driven traces (:mod:`models._brian2_rules`).

Poisson inputs are brian2 ``PoissonGroup``s (brian2's own random numbers: comparisons with
them are statistical). ``max_rate`` is applied after the run: spikes after the first window
whose population rate exceeds it are dropped and the result is marked diverged, as the numba
kernel would have stopped there.

brian2 is imported only in this module.
"""
from __future__ import annotations

import math
import shutil
import tempfile
import time

import numpy as np

from models._spiking_result import SpikingResult

__all__ = ["run_brian2"]

_WINDOW = 10e-3


def _equations(net) -> tuple[str, str]:
    b = net._built
    I_ext = "I_const + I_t(t, i)" if b.I_funcs else "I_const"
    if net.synapse == "conductance":
        syn = "g_e*(E_e - v) + g_i*(E_i - v)"
        unit = "siemens"
    else:
        syn = "g_e - g_i"
        unit = "amp"
    if net.method == "euler":
        gdef = f"g_e : {unit}\ng_i : {unit}\n"
        method = "euler"
    else:
        gdef = f"dg_e/dt = -g_e/tau_exc : {unit}\ndg_i/dt = -g_i/tau_inh : {unit}\n"
        method = "exact"
    eqs = (
        f"dv/dt = (E_L - v + R*({I_ext} + {syn}))/tau_m : volt (unless refractory)\n"
        + gdef
        + "I_const : amp (constant)\ntau_m : second (constant)\nR : ohm (constant)\n"
        "E_L : volt (constant)\nV_th : volt (constant)\nV_reset : volt (constant)\nt_ref : second (constant)\n"
    )
    return eqs, method


def _time_varying_current(net, b2, n_steps):
    b = net._built
    values = np.zeros((n_steps, net.n))
    for k in range(n_steps):
        t = k * net.dt
        for sl, f in b.I_funcs:
            values[k, sl] = f(t)
    return b2.TimedArray(values * b2.amp, dt=net.dt * b2.second)


def _truncate_diverged(net, t, i, duration, max_rate):
    """First window (numba's 10 ms windows) whose population rate exceeds ``max_rate``."""
    if not math.isfinite(max_rate):
        return None
    dt = net.dt
    win = max(1, int(round(_WINDOW / dt)))
    steps = np.round(t / dt).astype(np.int64)
    n_win = int(round(duration / dt)) // win
    for name, sl in net._built.slices.items():
        m = (i >= sl.start) & (i < sl.stop)
        counts = np.bincount(steps[m] // win, minlength=n_win + 1)[:n_win]
        bad = np.nonzero(counts > max_rate * (sl.stop - sl.start) * win * dt)[0]
        if bad.size:
            return int((bad[0] + 1) * win)
    return None


def run_brian2(net, spec: dict) -> SpikingResult:
    """Run ``net`` in brian2 as described by ``spec`` (from ``prepare_run``)."""
    import brian2 as b2

    t_start = time.perf_counter()
    target = spec.brian2_target
    dt, n_steps = net.dt, spec.n_steps
    old_target = b2.prefs.codegen.target
    tmpdir = None
    if target == "cpp_standalone":
        tmpdir = tempfile.mkdtemp(prefix="plasticity_brian2_")
        b2.set_device("cpp_standalone", directory=tmpdir, build_on_run=False)
    else:
        b2.set_device("runtime")
        b2.prefs.codegen.target = "numpy" if target == "numpy" else "cython"
    try:
        b2.defaultclock.dt = dt * b2.second
        b2.seed(net._run_seed)
        objects, mons, syn, ns = _build(net, spec, b2, n_steps)
        network = b2.Network(*objects)
        duration = n_steps * dt * b2.second
        if target == "cpp_standalone":
            network.run(duration, namespace=ns)
            t0 = time.perf_counter()
            b2.device.build(directory=tmpdir, compile=True, run=True, with_output=False)
            t_total_build = time.perf_counter() - t0
            t_loop = float(b2.device._last_run_time)
            t_build = t_total_build - t_loop
        else:
            t0 = time.perf_counter()
            network.run(0 * b2.second, namespace=ns)  # code generation and compilation
            t_build = time.perf_counter() - t0
            t0 = time.perf_counter()
            network.run(duration, namespace=ns, report=("text" if spec.progress else None))
            t_loop = time.perf_counter() - t0
        result = _collect(net, spec, mons, syn, b2)
    finally:
        if target == "cpp_standalone":
            b2.device.reinit()
            b2.set_device("runtime")
            shutil.rmtree(tmpdir, ignore_errors=True)
        b2.prefs.codegen.target = old_target
    result.timings = {"build": t_build, "loop": t_loop, "total": time.perf_counter() - t_start}
    return result


def _build(net, spec, b2, n_steps):
    from models._brian2_rules import init_rate_trace, plastic_synapses
    from models._spiking_build import connectivity

    b = net._built
    eqs, method = _equations(net)
    ns = {"E_e": net.E_exc * b2.volt, "E_i": net.E_inh * b2.volt,
          "tau_exc": net.tau_exc * b2.second, "tau_inh": net.tau_inh * b2.second}
    if b.I_funcs:
        ns["I_t"] = _time_varying_current(net, b2, n_steps)
    G = b2.NeuronGroup(net.n, eqs, threshold="v > V_th", reset="v = V_reset", refractory="t_ref",
                       method=method, name="neurons")
    pa = b.pop_arrays
    for p, name in enumerate(b.names):
        sl = b.slices[name]
        for var, unit in (("tau_m", b2.second), ("R", b2.ohm), ("E_L", b2.volt), ("V_th", b2.volt),
                          ("V_reset", b2.volt)):
            getattr(G, var)[sl] = pa[var][p] * unit
        G.t_ref[sl] = pa["ref_steps"][p] * net.dt * b2.second
    G.v = b.V0 * b2.volt
    gunit = b2.siemens if net.synapse == "conductance" else b2.amp
    unit_name = "siemens" if net.synapse == "conductance" else "amp"
    G.g_e = b.g0[0] * gunit
    G.g_i = b.g0[1] * gunit
    G.I_const = b.I_const * b2.amp
    objects = [G]
    if net.method == "euler":
        decay = G.run_regularly("g_e = g_e*dec_e\ng_i = g_i*dec_i", when="after_groups", name="syn_decay")
        ns.update(dec_e=math.exp(-net.dt / net.tau_exc), dec_i=math.exp(-net.dt / net.tau_inh))
        objects.append(decay)
    P = None
    if b.pois_rate.size:
        P = b2.PoissonGroup(b.pois_rate.size, rates=b.pois_rate * b2.Hz, name="poisson")
        objects.append(P)
    syn = {}
    for pr in b.projections:
        if pr.is_input:
            s = b.pois_slices[pr.source]
            src = P[s.start:s.stop]
        else:
            s = b.slices[pr.source]
            src = G[s.start:s.stop]
        t = b.slices[pr.target]
        tgt = G[t.start:t.stop]
        var = "g_i" if pr.channel == 1 else "g_e"
        rule = spec.plastic.get(pr.name)
        name = f"syn_{pr.name}"
        if rule is None:
            S = b2.Synapses(src, tgt, model=f"w : {unit_name} (constant)", on_pre=f"{var}_post += w", name=name)
        else:
            S = plastic_synapses(b2, src, tgt, var, unit_name, rule, name)
        pre, post, w = connectivity(b, pr)  # derived from the compact build, for this call only
        S.connect(i=pre, j=post)
        if rule is not None:
            init_rate_trace(S, rule, net.dt, b2)
        S.w = w * gunit  # the stored weight-dtype values, as the numba kernel reads them
        del pre, post, w
        if pr.delay > 1:
            S.delay = (pr.delay - 1) * net.dt * b2.second
        objects.append(S)
        syn[pr.name] = S
    mons = {"spikes": b2.SpikeMonitor(G, name="spikemon")}
    objects.append(mons["spikes"])
    if spec.record_state.size:
        mons["v"] = b2.StateMonitor(G, "v", record=spec.record_state, name="vmon")
        objects.append(mons["v"])
    if spec.plastic and spec.rec_every is not None:
        for name in spec.plastic:
            # 'start' of step s holds the weights after s steps, as the numba snapshots
            m = b2.StateMonitor(syn[name], "w", record=True, dt=spec.rec_every * net.dt * b2.second,
                                when="start", name=f"wmon_{name}")
            mons[f"w_{name}"] = m
            objects.append(m)
    return objects, mons, syn, ns


def _collect(net, spec, mons, syn, b2) -> SpikingResult:
    from models._spiking_build import connectivity

    b = net._built
    dt = net.dt
    sm = mons["spikes"]
    t = np.asarray(sm.t / b2.second, dtype=np.float64)
    i = np.asarray(sm.i[:], dtype=np.int64)
    steps = np.round(t / dt).astype(np.int64)
    order = np.lexsort((i, steps))
    steps, i = steps[order], i[order]
    n_steps = spec.n_steps
    stop = _truncate_diverged(net, steps * dt, i, n_steps * dt, spec.max_rate)
    diverged = stop is not None
    if diverged:
        keep = steps < stop
        steps, i = steps[keep], i[keep]
        n_steps = stop
    T = n_steps * dt
    counts = np.bincount(i, minlength=net.n)
    rates = {name: float(counts[sl].sum() / ((sl.stop - sl.start) * T)) for name, sl in b.slices.items()}
    weights, synapses, shapes = {}, {}, {}
    snap_steps = [0]
    if spec.rec_every is not None:
        snap_steps += list(range(spec.rec_every, n_steps, spec.rec_every))
    by_name = {p.name: p for p in b.projections}
    for name in spec.plastic:
        pr = by_name[name]
        pre, post, w0 = connectivity(b, pr)
        snaps = [w0]
        # brian2 keeps synapses in the order of the i, j lists: our CSR order
        if f"w_{name}" in mons:
            m = mons[f"w_{name}"]
            W = np.asarray(m.w, dtype=np.float64).T  # (K, n_syn), SI units; row k at step k * rec_every
            snaps += [W[k] for k in range(1, len(snap_steps))]
        snaps.append(np.asarray(syn[name].w[:], dtype=np.float64))
        weights[name] = np.array(snaps)
        synapses[name] = (pre, post)
        shapes[name] = (pr.n_post, pr.n_pre)
    V = np.zeros((spec.record_state.size, 0))
    if "v" in mons:
        V = np.asarray(mons["v"].v / b2.volt)[:, :n_steps]
    return SpikingResult(
        spike_times=steps * dt, spike_indices=i, populations=dict(b.slices), rates=rates,
        weights=weights, weight_times=np.array([k * dt for k in snap_steps] + [T]),
        diverged=diverged, diverged_at=T if diverged else None, duration=T, dt=dt,
        synapses=synapses, shapes=shapes, state_indices=spec.record_state.copy(),
        state_times=np.arange(V.shape[1]) * dt, V=V, backend=f"brian2-{spec.brian2_target}",
    )
