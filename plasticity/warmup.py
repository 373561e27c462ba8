"""Compile the numba kernels ahead of a first run: ``plasticity warmup [FAMILY ...]``.

numba compiles a kernel at its first call and caches it on disk; a study's first run therefore
pays the compile. ``warmup`` runs each kernel family once on a tiny network, in parallel
processes (one per core), so that the next run of anything that uses those kernels starts from
the cache. ``KERNEL_FAMILIES`` is also what ``benchmarks/bench_cold_start.py`` times with a
fresh cache. Where the cache lives, when it is invalidated (any edit of the sources) and how to
clear it: :mod:`plasticity._numba_cache`.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

__all__ = ["KERNEL_FAMILIES", "warmup"]

#: Family name -> a Python snippet that calls every kernel of the family once on a tiny input.
KERNEL_FAMILIES: dict[str, str] = {
    "rate": (
        "import numpy as np\n"
        "from models import RateNetwork\n"
        "from plasticity.rules import BCM\n"
        "for dtype in (np.float64, np.float32):\n"
        "    RateNetwork.random(32, 0.9, seed=0, dtype=dtype).run(3, rule=BCM(eta=1e-3, tau_theta=10.0))\n"
        "    RateNetwork.random(32, 0.9, seed=0, dtype=dtype, dynamics='flow').run(3)\n"
    ),
    "populations": (
        "import models.population_network as pn\n"
        "from models import RateNetwork\n"
        "from plasticity.rules import Hebbian, SynapticScaling\n"
        "for parallel_from in (10**9, 0):  # the serial pass, then the parallel one (chosen by size)\n"
        "    pn.PARALLEL_MIN_N = parallel_from\n"
        "    RateNetwork.ei(40, 10, seed=0).run(3, plasticity={'EE': Hebbian(1e-4) + SynapticScaling(0.1, 2.0, 1.0)})\n"
    ),
    "spiking": (
        "from models import SpikingNetwork\n"
        "from plasticity.rules import InhibitorySTDP, TripletSTDP\n"
        "net = SpikingNetwork.coba(seed=0, n_exc=80, n_inh=20)\n"
        "net.run(0.005, plasticity={'EE': TripletSTDP.minimal_visual_cortex(),\n"
        "                           'IE': InhibitorySTDP(eta=2e-10, target_rate=5.0, tau=20e-3, w_max=40e-9)})\n"
        "net.run(0.005)\n"
    ),
    "metrics": (
        "import numpy as np\n"
        "from models import RateNetwork\n"
        "from plasticity.metrics import lyapunov_spectrum\n"
        "net = RateNetwork.random(20, 1.5, seed=0)\n"
        "lyapunov_spectrum(net.as_system(), np.full(20, 0.1), 5)\n"
        "lyapunov_spectrum(net.as_system(), np.full(20, 0.1), 5, k=3)\n"
    ),
}


def run_family(name: str, env: dict | None = None) -> float:
    """Run one family's snippet in a fresh Python process; its wall time in seconds."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", KERNEL_FAMILIES[name]], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"plasticity warmup: kernel family {name!r} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0


def warmup(families: list[str] | None = None, workers: int | None = None) -> dict[str, float]:
    """Compile (or load from the cache) the kernels of ``families`` (all by default).

    Parameters
    ----------
    families : list of str or None
        Names from :data:`KERNEL_FAMILIES`.
    workers : int or None
        Processes compiling at once (default: the number of cores).

    Returns
    -------
    dict
        Seconds per family (wall time of its process; a second call shows the cached time).
    """
    names = list(KERNEL_FAMILIES) if families is None else list(families)
    unknown = [f for f in names if f not in KERNEL_FAMILIES]
    if unknown:
        raise ValueError(f"warmup: families must be among {list(KERNEL_FAMILIES)}; got {unknown}")
    from plasticity import _numba_cache

    _numba_cache.configure()  # the children inherit NUMBA_CACHE_DIR: they fill the cache runs use
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        times = list(pool.map(run_family, names))
    return dict(zip(names, times))
