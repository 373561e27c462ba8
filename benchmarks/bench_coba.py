"""COBA benchmark (Brette et al. 2007, benchmark 1): numba SpikingNetwork vs brian2.

4000 LIF neurons, static or plastic (E->E triplet STDP, Pfister & Gerstner 2006 minimal
all-to-all visual-cortex set; I->E inhibitory STDP, Vogels et al. 2011), simulated for 1 s
(default) or 10 s (``--long``), by

* numba, first run (empty numba cache: compiles the kernels) and warm (cache filled);
* brian2 runtime with cython code generation;
* brian2 cpp_standalone (code generation + C++ compilation + run).

Each measurement runs in a fresh subprocess (so compilation and caches are what a user
gets); wall times are split into the simulation loop alone and end to end (network
construction to result). The machine is shared: ratios against brian2 measured in the same
run are what to read; medians over ``--repeats``. Targets (benchmarks/TARGETS.md): plastic loop
<= 1/4 of standalone's loop, static loop <= 1/3, warm end to end <= 1/6 of standalone's end to
end, first run <= 1/2 of it.

    python benchmarks/bench_coba.py [--long] [--repeats 3] [--only static|plastic]
    python benchmarks/bench_coba.py --scale 25000 [--repeats 1]

``--scale N``: the network scaled to N neurons (80 % E) at connection probability 0.05, weights
scaled by (K_COBA / K)^0.5 with K = 0.05 N the in-degree (as ``bench_memory.py --spiking``), and
a Poisson drive that keeps it firing (:func:`scaled_network`),
plastic only (E->E triplet, I->E iSTDP; 30 M plastic synapses at N = 25 000); numba warm against
brian2 cpp_standalone on the same network (the brian2 backend builds it from the same
connectivity), loop ratio only (target <= 1/4).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def worker(backend: str, target: str, plastic: bool, duration: float, seed: int, n: int = 0) -> dict:
    t0 = time.perf_counter()
    from models.spiking import SpikingNetwork
    from plasticity.rules import InhibitorySTDP, TripletSTDP

    we, wi = 6e-9, 67e-9
    if n:  # scaled network: in-degree 0.05 n instead of 0.02 * 4000, weights scaled by (K0 / K)^0.5
        k = (0.02 * 4000 / (0.05 * n)) ** 0.5
        we, wi = we * k, wi * k
    rules = None
    if plastic:
        rules = {"EE": TripletSTDP.minimal_visual_cortex(a3_plus=6.5e-3 * we, a2_minus=7.1e-3 * we, w_max=3 * we),
                 "IE": InhibitorySTDP(eta=1e-2 * wi, target_rate=5.0, tau=20e-3, w_max=10 * wi)}
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    net = scaled_network(n, we, wi, seed) if n else SpikingNetwork.coba(seed=seed)
    res = net.run(duration, plasticity=rules, backend=backend, brian2_target=target, progress=False)
    total = time.perf_counter() - t0
    return {"loop": res.timings["loop"], "total": total, "import": t_import,
            "compile": res.timings.get("compile", res.timings.get("build", 0.0)),
            "rate_E": res.rates["E"], "rate_I": res.rates["I"], "cv_E": res.cv_isi()["E"]}


def scaled_network(n: int, we: float, wi: float, seed: int):
    """COBA scaled to ``n`` neurons at p = 0.05 plus 2000 Hz of Poisson drive per neuron
    (:func:`models.spiking_builders.with_poisson_drive`): without it the scaled network falls
    silent within 1 s (E 0.05 Hz, measured); with it E fires at ~6-8 Hz."""
    from models.spiking import SpikingNetwork
    from models.spiking_builders import with_poisson_drive

    base = SpikingNetwork.coba(seed=seed, n_exc=int(0.8 * n), n_inh=n - int(0.8 * n), p=0.05, we=we, wi=wi)
    return with_poisson_drive(base, 2000.0, seed)


def spawn(backend, target, plastic, duration, seed, env_extra=None, n=0) -> dict:
    env = dict(os.environ, **(env_extra or {}))
    cmd = [sys.executable, __file__, "--worker", backend, target, str(int(plastic)), str(duration), str(seed), str(n)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{backend}/{target} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--long", action="store_true", help="10 s of simulated time instead of 1 s")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=["static", "plastic"], default=None)
    ap.add_argument("--no-cython", action="store_true", help="skip brian2's runtime (cython) target")
    ap.add_argument("--scale", type=int, default=0, metavar="N", help="plastic network scaled to N neurons at p = 0.05")
    args = ap.parse_args()
    duration = 10.0 if args.long else 1.0
    if args.scale:
        scaled(args.scale, duration, args.repeats)
        return
    cases = [c for c in ("static", "plastic") if args.only in (None, c)]
    print(f"COBA 4000 neurons, {duration:g} s simulated, medians of {args.repeats} (fresh process each)")
    for case in cases:
        plastic = case == "plastic"
        runs: dict[str, list[dict]] = {}
        configs = [("numba first run", "numba", "runtime", "cold"), ("numba warm", "numba", "runtime", "warm"),
                   ("brian2 cpp_standalone", "brian2", "cpp_standalone", None)]
        if not args.no_cython:
            configs.insert(2, ("brian2 runtime (cython)", "brian2", "runtime", None))
        warm_cache = tempfile.mkdtemp(prefix="numba_warm_")
        scratch = [warm_cache]
        spawn("numba", "runtime", plastic, 0.01, 0, {"NUMBA_CACHE_DIR": warm_cache})  # fill the warm cache
        for rep in range(args.repeats):
            for label, backend, target, cache in configs:
                env = None
                if cache == "cold":
                    scratch.append(tempfile.mkdtemp(prefix="numba_cold_"))
                    env = {"NUMBA_CACHE_DIR": scratch[-1]}
                elif cache == "warm":
                    env = {"NUMBA_CACHE_DIR": warm_cache}
                runs.setdefault(label, []).append(spawn(backend, target, plastic, duration, rep, env))
        for d in scratch:
            shutil.rmtree(d, ignore_errors=True)
        med = {label: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for label, rs in runs.items()}
        print(f"\n== {case} ==")
        print(f"{'':26s} {'loop s':>8s} {'end-to-end s':>13s} {'compile/build s':>16s} {'E Hz':>6s} {'I Hz':>6s} {'CV E':>5s}")
        for label, m in med.items():
            print(f"{label:26s} {m['loop']:8.3f} {m['total']:13.2f} {m['compile']:16.2f} {m['rate_E']:6.1f} "
                  f"{m['rate_I']:6.1f} {m['cv_E']:5.2f}")
        sa = med["brian2 cpp_standalone"]
        loop_target = 1 / 4 if plastic else 1 / 3
        print("ratios against brian2 cpp_standalone (same run):")
        print(f"  loop, numba warm / standalone       = {med['numba warm']['loop'] / sa['loop']:.3f}  (target <= {loop_target:.3f})")
        print(f"  end to end, numba warm / standalone = {med['numba warm']['total'] / sa['total']:.3f}  (target <= 0.167)")
        print(f"  end to end, numba first / standalone= {med['numba first run']['total'] / sa['total']:.3f}  (target <= 0.5)")
        if "brian2 runtime (cython)" in med:
            print(f"  loop, numba warm / cython runtime   = {med['numba warm']['loop'] / med['brian2 runtime (cython)']['loop']:.3f}")


def scaled(n: int, duration: float, repeats: int) -> None:
    """Plastic network of ``n`` neurons: numba (warm cache) against brian2 cpp_standalone, loop times."""
    print(f"COBA scaled to {n} neurons (p = 0.05), plastic E->E triplet + I->E iSTDP, {duration:g} s simulated, "
          f"{repeats} repeat(s), fresh process each")
    warm_cache = tempfile.mkdtemp(prefix="numba_warm_")
    spawn("numba", "runtime", True, 0.01, 0, {"NUMBA_CACHE_DIR": warm_cache}, n=400)  # fill the cache
    runs: dict[str, list[dict]] = {}
    for rep in range(repeats):
        runs.setdefault("numba warm", []).append(
            spawn("numba", "runtime", True, duration, rep, {"NUMBA_CACHE_DIR": warm_cache}, n=n))
        runs.setdefault("brian2 cpp_standalone", []).append(spawn("brian2", "cpp_standalone", True, duration, rep, n=n))
    shutil.rmtree(warm_cache, ignore_errors=True)
    print(f"{'':26s} {'loop s':>8s} {'end-to-end s':>13s} {'E Hz':>6s} {'I Hz':>6s} {'CV E':>5s}   (min/median/max loop)")
    for label, rs in runs.items():
        loops = sorted(r["loop"] for r in rs)
        m = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"{label:26s} {m['loop']:8.2f} {m['total']:13.2f} {m['rate_E']:6.1f} {m['rate_I']:6.1f} {m['cv_E']:5.2f}"
              f"   ({loops[0]:.2f}/{statistics.median(loops):.2f}/{loops[-1]:.2f})")
    ratio = statistics.median(r["loop"] for r in runs["numba warm"]) / statistics.median(
        r["loop"] for r in runs["brian2 cpp_standalone"])
    print(f"loop, numba warm / standalone = {ratio:.3f}  (target <= 0.250)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        b, t, p, d, s, n = sys.argv[2:8]
        print(json.dumps(worker(b, t, bool(int(p)), float(d), int(s), int(n))))
    else:
        main()
