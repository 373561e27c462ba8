"""plasticity: compare homeostatic plasticity rules on recurrent rate and spiking networks.

Subpackages: :mod:`plasticity.rules` (numpy reference + numba kernels), :mod:`plasticity.metrics`
(stability metrics), :mod:`plasticity.torch` (differentiable rules; needs torch).
``plasticity.sweep`` runs a function over a grid with a resumable store.
"""
from __future__ import annotations

__version__ = "0.1.0"

from plasticity import _numba_cache

_numba_cache.configure()


def __getattr__(name):  # lazy, so that `import plasticity` stays fast
    if name == "sweep":
        from plasticity.sweep import sweep

        return sweep
    if name in ("rules", "metrics", "plot"):
        import importlib

        return importlib.import_module(f"plasticity.{name}")
    raise AttributeError(f"module 'plasticity' has no attribute {name!r}")
