"""Peak resident memory of building and running networks, over the size of what they hold.

    python benchmarks/bench_memory.py [--sizes N ...] [--large] [--spiking]

Each measurement runs in a fresh process (the peak resident set, ``ru_maxrss``, is a
high-water mark) after the imports and a warm-up on a tiny network (numba compiled and
loaded), so that the rise is what the network itself costs:

* rate build: ``RateNetwork.random(N, 0.9, dtype)``, rise over ``W.nbytes``; target <= 1.5;
* rate run: 5 plastic (BCM) steps with ``record_every=5`` and ``record_weights_every=0``, rise
  over ``W.nbytes`` beyond the build, less what the run records; target <= 0.5;
* ``--large``: N = 40000 float32 (6.4 GB of weights), which must run on a 24 GiB machine;
* ``--spiking``: COBA scaled to ``--spiking-n`` neurons at p = 0.05 with plastic E->E triplet
  STDP and I->E inhibitory STDP, ``--spiking-duration`` (0.1 s) simulated: bytes of resident
  memory per plastic synapse (build + run; target <= 12), build time and loop time.
Each figure is printed with the spread over ``--repeats`` processes.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

CHILD = r"""
import json, resource, sys
import numpy as np
kind, n, dtype = sys.argv[1], int(sys.argv[2]), sys.argv[3]  # spiking: the third is the duration (s)

def peak():  # bytes (Linux reports KiB)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

if kind == "rate":
    from models import RateNetwork
    from plasticity.rules import BCM
    warm = RateNetwork.random(64, 0.9, seed=0, dtype=dtype)
    warm.run(5, rule=BCM(eta=1e-4, tau_theta=10.0), record_every=5, record_weights_every=0)
    p0 = peak()
    net = RateNetwork.random(n, 0.9, seed=0, dtype=dtype)
    p1 = peak()
    res = net.run(5, rule=BCM(eta=1e-4, tau_theta=10.0), record_every=5, record_weights_every=0)
    p2 = peak()
    recorded = res.states.nbytes + res.rates.nbytes + res.weights.nbytes
    print(json.dumps({"W": net.W.nbytes, "build": p1 - p0, "run": p2 - p1 - recorded}))
else:
    import time
    from models import SpikingNetwork
    from plasticity.rules import InhibitorySTDP, TripletSTDP
    n_e = int(0.8 * n)
    k0 = 0.02 * 4000 / (0.05 * n)  # weights scaled by (K0 / K)^0.5 from COBA's
    warm = SpikingNetwork.coba(seed=0, n_exc=80, n_inh=20)
    rules = {"EE": TripletSTDP.minimal_visual_cortex(), "IE": InhibitorySTDP(eta=1e-12, target_rate=5.0, tau=0.02)}
    warm.run(0.01, plasticity=rules)
    p0 = peak()
    t0 = time.perf_counter()
    net = SpikingNetwork.coba(seed=0, n_exc=n_e, n_inh=n - n_e, p=0.05, we=6e-9 * k0 ** 0.5, wi=67e-9 * k0 ** 0.5)
    t_build = time.perf_counter() - t0
    p_build = peak()
    res = net.run(float(dtype), plasticity=rules, progress=False)
    p1 = peak()
    # synapse counts from the build's bookkeeping: connectivity() would make 24 bytes per synapse
    n_syn = {pr.name: pr.n_syn for pr in net._built.projections}
    print(json.dumps({"synapses": n_syn["EE"] + n_syn["IE"], "all": sum(n_syn.values()), "bytes": p1 - p0,
                      "build_bytes": p_build - p0, "build_s": t_build, "loop_s": res.timings["loop"],
                      "duration": res.duration, "rate_E": res.rates["E"]}))
"""


def child(kind: str, n: int, dtype: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(n), dtype], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def spread(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{np.median(v):.2f} [{v.min():.2f}-{v.max():.2f}]"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="*", default=[2000, 6000])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--large", action="store_true", help="also N = 40000 float32 (6.4 GB of weights)")
    p.add_argument("--spiking", action="store_true", help="also a plastic spiking network")
    p.add_argument("--spiking-n", type=int, default=25000)
    p.add_argument("--spiking-duration", type=float, default=0.1, help="simulated seconds of the spiking run")
    args = p.parse_args(argv)
    print(f"{'network':>28} {'held (MB)':>10} {'build / W':>18} {'run / W':>18}   targets: build <= 1.5, run <= 0.5")
    cases = [(n, d) for n in args.sizes for d in ("float32", "float64")] + ([(40000, "float32")] if args.large else [])
    for n, dtype in cases:
        runs = [child("rate", n, dtype) for _ in range(args.repeats if n < 40000 else 1)]
        W = runs[0]["W"]
        print(f"{f'RateNetwork N={n} {dtype}':>28} {W / 1e6:>10.0f} {spread([r['build'] / W for r in runs]):>18} "
              f"{spread([r['run'] / W for r in runs]):>18}", flush=True)
    if args.spiking:
        r = child("spiking", args.spiking_n, str(args.spiking_duration))
        print(f"SpikingNetwork COBA N={args.spiking_n}, p=0.05: {r['synapses'] / 1e6:.1f} M plastic synapses "
              f"({r['all'] / 1e6:.1f} M in all), {r['bytes'] / r['synapses']:.1f} bytes per plastic synapse "
              f"(target <= 12; build alone {r['build_bytes'] / r['synapses']:.1f}); build {r['build_s']:.2f} s, "
              f"loop {r['loop_s']:.2f} s for {r['duration']:g} s simulated (E at {r['rate_E']:.1f} Hz)")


if __name__ == "__main__":
    main()
