"""Driving the numba kernel of a spiking network: run checks, packing, chunked calls, result.

The loop is cut into chunks (0.1 s of simulated time, or up to the next weight snapshot);
between chunks Python grows the spike buffer, takes snapshots and advances the progress bar.
All state lives in arrays owned here, so a chunk continues exactly where the last stopped.
"""
from __future__ import annotations

import math
import time

import numpy as np

from plasticity._validation import check_choice, check_number, positive
from models._spiking_build import projection_csr, projection_weights
from models._spiking_result import SpikingResult, SynapsePairs, WeightSnapshots

__all__ = ["prepare_run", "run_numba", "pack_plastic"]

_WINDOW = 10e-3        # divergence window (s)
_CHUNK = 0.1           # simulated seconds per kernel call
_PROGRESS_WORK = 2e8   # neuron-steps above which progress=None shows a bar


def prepare_run(net, duration, plasticity, backend, record_weights_every, progress,
                brian2_target, record_state, max_rate) -> dict:
    """Check the arguments of :meth:`SpikingNetwork.run` (shared by both backends)."""
    from models.spiking import check_duration

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
    names = [p["name"] for p in net._built.projections]
    if plasticity is not None:
        if not isinstance(plasticity, dict):
            raise TypeError(f"{owner}: plasticity must be a dict projection name -> spiking rule; got {type(plasticity).__name__}")
        from plasticity.rules._spiking_base import SpikingRule

        for name, rule in plasticity.items():
            if name not in names:
                raise ValueError(f"{owner}: plasticity keys must be projection names {names} (source first); got {name!r}")
            if not isinstance(rule, SpikingRule):
                raise TypeError(f"{owner}: plasticity[{name!r}] must be a spiking rule (PairSTDP, TripletSTDP, "
                                f"InhibitorySTDP, SpikingSynapticScaling); got {type(rule).__name__}")
            plastic[name] = rule
    if progress is None:
        progress = n_steps * net.n >= _PROGRESS_WORK
    return dict(n_steps=n_steps, duration=n_steps * dt, backend=backend, rec_every=rec_every,
                progress=bool(progress), brian2_target=brian2_target, record_state=rec,
                max_rate=math.inf if max_rate is None else float(max_rate), plastic=plastic)


def pack_plastic(net, plastic: dict) -> dict:
    """Per-projection tables for the kernel; plastic weights and by-post indexes.

    The connectivity is the build's own (``indptr``, ``indices``, fixed ``w_static``: not
    copied). Each plastic projection gets a copy of its initial weights in ``w_run`` and its
    by-post index (``post_indptr``, ``post_off``, ``post_pre``), filled in place without
    temporaries of the synapse count.
    """
    from plasticity.rules._spiking_base import fill_post_index

    b = net._built
    prs = b.projections
    max_pre = max([p["n_pre"] for p in prs], default=1)
    idx_t = b.indices.dtype
    pre_t = np.int16 if max_pre < 2**15 else np.int32
    J = len(prs)
    out = {k: np.zeros(J, dtype=np.int64) for k in (
        "src", "nsrc", "tgt", "ntgt", "chan", "delay", "ip_off", "syn_off", "kind", "pip_off", "psyn_off",
        "pre_off", "pre_rows", "post_off", "post_rows", "P_off", "P_len", "wmode", "woff")}
    out["wconst"] = np.zeros(J, dtype=np.float64)
    plastic_prs = [pr for pr in prs if pr["name"] in plastic]
    n_run = sum(pr["n_syn"] for pr in plastic_prs)
    w_run = np.empty(n_run, dtype=net.weight_dtype)
    post_indptr = np.zeros(sum(pr["n_post"] + 1 for pr in plastic_prs), dtype=np.int64)
    post_off = np.empty(n_run, dtype=idx_t)
    post_pre = np.empty(n_run, dtype=pre_t)
    S_pre, S_post, P = [], [], []
    c = dict(pip=0, run=0, pre=0, post=0, P=0)
    for j, pr in enumerate(prs):
        for key, val in (("src", pr["src_start"]), ("nsrc", pr["n_pre"]), ("tgt", pr["tgt_start"]),
                         ("ntgt", pr["n_post"]), ("chan", pr["channel"]), ("delay", pr["delay"]),
                         ("ip_off", pr["ip_off"]), ("syn_off", pr["syn_off"])):
            out[key][j] = val
        rule = plastic.get(pr["name"])
        if rule is None:
            if pr["w_off"] < 0:
                out["wconst"][j] = pr["w_const"]
            else:
                out["wmode"][j], out["woff"][j] = 1, pr["w_off"]
            continue
        n_syn, n_post = pr["n_syn"], pr["n_post"]
        run = slice(c["run"], c["run"] + n_syn)
        w_run[run] = projection_weights(b, pr)
        fill_post_index(*projection_csr(b, pr), post_indptr[c["pip"]:c["pip"] + n_post + 1],
                        post_off[run], post_pre[run])
        sp, so = rule.init_sparse_state(n_post, pr["n_pre"])
        params = np.asarray(rule._params(), dtype=np.float64)
        for key, val in (("kind", rule.kind), ("pip_off", c["pip"]), ("psyn_off", c["run"]),
                         ("pre_off", c["pre"]), ("pre_rows", sp.shape[0]), ("post_off", c["post"]),
                         ("post_rows", so.shape[0]), ("P_off", c["P"]), ("P_len", params.size),
                         ("wmode", 2), ("woff", c["run"])):
            out[key][j] = val
        S_pre.append(sp.ravel())
        S_post.append(so.ravel())
        P.append(params)
        c["pip"] += n_post + 1
        c["run"] += n_syn
        c["pre"] += sp.size
        c["post"] += so.size
        c["P"] += params.size

    def cat(parts, dtype):
        return np.ascontiguousarray(np.concatenate(parts) if parts else np.zeros(1), dtype=dtype)

    out.update(indptr=b.indptr, indices=b.indices, w_static=b.weights, w_run=w_run,
               post_indptr=post_indptr, post_syn_off=post_off, post_pre=post_pre,
               S_pre=cat(S_pre, np.float64), S_post=cat(S_post, np.float64), P=cat(P, np.float64))
    return out


def _pop_coefficients(net) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Mode code and per-population ``(c0, c1, c2)`` of the V update (see the kernel)."""
    from models._spiking_kernels import MODE_COBA_EULER, MODE_CUBA_EULER, MODE_CUBA_EXACT

    dt, tau = net.dt, net._built.pop_arrays["tau_m"]
    if net.method == "euler":
        mode = MODE_COBA_EULER if net.synapse == "conductance" else MODE_CUBA_EULER
        return mode, dt / tau, np.zeros_like(tau), np.zeros_like(tau)
    a = np.exp(-dt / tau)

    def response(tau_s):  # V's response over one step to a unit R*I that decays with tau_s
        d = np.exp(-dt / tau_s)
        same = np.isclose(tau, tau_s, rtol=1e-12)
        return np.where(same, dt / tau * a, tau_s / np.where(same, 1.0, tau_s - tau) * (d - a))

    return MODE_CUBA_EXACT, a, response(net.tau_exc), response(net.tau_inh)


def run_numba(net, spec: dict) -> SpikingResult:
    """Run the numba kernel in chunks; see :meth:`SpikingNetwork.run`."""
    from models._spiking_kernels import STATUS_DIVERGED, STATUS_FULL, run_chunk

    t_start = time.perf_counter()
    b, dt, N = net._built, net.dt, net.n
    n_steps = spec["n_steps"]
    pa = b.pop_arrays
    mode, c0, c1, c2 = _pop_coefficients(net)
    v, g = b.V0.copy(), np.ascontiguousarray(b.g0.copy())
    last = np.full(N, -(2**30), dtype=np.int32)  # step of the last spike; int32: less traffic
    pois_p = np.ascontiguousarray(b.pois_rate * dt)
    pois_next = np.full(pois_p.size, -1, dtype=np.int64)
    pk = pack_plastic(net, spec["plastic"])
    n_ring = int(max(pk["delay"].max(initial=1), 1))
    ring = np.zeros((n_ring, N + pois_p.size), dtype=np.int64)
    ring_cnt = np.zeros(n_ring, dtype=np.int64)
    scratch_pre = np.zeros(max(int(pk["nsrc"].max(initial=1)), 1), dtype=np.int64)
    scratch_post = np.zeros(max(int(pk["ntgt"].max(initial=1)), 1), dtype=np.int64)
    rec_idx = spec["record_state"]
    win_steps = max(1, int(round(_WINDOW / dt)))
    n_pops = len(b.names)
    sizes = (pa["stop"] - pa["start"]).astype(np.float64)
    max_count = spec["max_rate"] * sizes * win_steps * dt
    win_count, win_pos = np.zeros(n_pops, dtype=np.int64), np.zeros(1, dtype=np.int64)
    cap = int(N * n_steps * dt * 40.0) + 4 * N + 1024  # ~40 Hz; grown when needed
    rec_step, rec_neuron = np.zeros(cap, dtype=np.int64), np.zeros(cap, dtype=np.int64)
    n_rec = 0
    run_rng = np.random.default_rng(net._run_seed)
    plastic_names = [p["name"] for p in b.projections if p["name"] in spec["plastic"]]
    plastic_slices = {p["name"]: slice(int(pk["woff"][j]), int(pk["woff"][j]) + p["n_syn"])
                      for j, p in enumerate(b.projections) if p["name"] in spec["plastic"]}
    by_name = {p["name"]: p for p in b.projections}
    # snapshots in the weight dtype, made float64 when read (SpikingResult.weights): the first
    # is the build's initial weights, the last the run's own array (neither copied)
    snaps = {name: [projection_weights(b, by_name[name])] for name in plastic_names}
    snap_times = [0.0]
    V_chunks, chunk_len = [], max(1, int(round(_CHUNK / dt)))
    use_I_t = bool(b.I_funcs)
    has_I = np.array([bool(np.any(b.I_const[b.slices[name]] != 0.0)) or any(sl == b.slices[name] for sl, _ in b.I_funcs)
                      for name in b.names])

    def call(k0, steps):
        I_t = np.zeros((max(steps, 1), N) if use_I_t else (1, 1))
        if use_I_t:
            I_t[:] = b.I_const
            for i in range(steps):
                t = (k0 + i) * dt
                for sl, f in b.I_funcs:
                    I_t[i, sl] = f(t)
        rec_v = np.zeros((rec_idx.size, steps))
        out = run_chunk(steps, k0, dt, mode, int(run_rng.integers(2**31 - 1)),
                        v, g, last, b.I_const, I_t, use_I_t,
                        pa["start"], pa["stop"], has_I, pa["R"], pa["E_L"], pa["V_th"], pa["V_reset"], pa["ref_steps"],
                        c0, c1, c2, net.E_exc, net.E_inh, math.exp(-dt / net.tau_exc), math.exp(-dt / net.tau_inh),
                        pois_p, pois_next, ring, ring_cnt,
                        pk["src"], pk["nsrc"], pk["tgt"], pk["ntgt"], pk["chan"], pk["delay"], pk["ip_off"],
                        pk["syn_off"], pk["kind"], pk["pip_off"], pk["psyn_off"], pk["pre_off"], pk["pre_rows"],
                        pk["post_off"], pk["post_rows"], pk["P_off"], pk["P_len"], pk["wmode"], pk["wconst"], pk["woff"],
                        pk["indptr"], pk["indices"], pk["w_static"], pk["w_run"], pk["post_indptr"],
                        pk["post_syn_off"], pk["post_pre"],
                        pk["S_pre"], pk["S_post"], pk["P"], scratch_pre, scratch_post,
                        rec_idx, rec_v, rec_step, rec_neuron, n_rec,
                        win_steps, win_count, win_pos, max_count)
        return out, rec_v

    t0 = time.perf_counter()
    call(0, 0)  # compile, or load from the numba cache
    t_compile = time.perf_counter() - t0
    bar = None
    if spec["progress"]:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps * dt, desc="SpikingNetwork (numba)",
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total:.2f} s simulated [{elapsed}<{remaining}]")
    step, status, t_loop = 0, 0, 0.0
    rec_every = spec["rec_every"]
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
            for name in plastic_names:
                snaps[name].append(pk["w_run"][plastic_slices[name]].copy())
            snap_times.append(step * dt)
    if bar is not None:
        bar.close()
    for name in plastic_names:
        snaps[name].append(pk["w_run"][plastic_slices[name]])
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
        synapses=SynapsePairs({name: projection_csr(b, by_name[name]) for name in plastic_names}),
        shapes={name: (by_name[name]["n_post"], by_name[name]["n_pre"]) for name in plastic_names},
        state_indices=rec_idx.copy(), state_times=np.arange(step) * dt,
        V=np.concatenate(V_chunks, axis=1) if V_chunks else np.zeros((rec_idx.size, 0)),
        backend="numba",
        timings={"compile": t_compile, "loop": t_loop, "total": time.perf_counter() - t_start},
    )
