"""Networks that own a time loop: rate (numba), spiking (numba, brian2 reference), rnn (torch).

Names are resolved lazily (module ``__getattr__``), so ``import models`` is cheap and a
missing optional part (e.g. the spiking module) does not break the others.
"""
from __future__ import annotations

import importlib

_LAZY = {
    "RateNetwork": "models.rate",
    "RateResult": "models.rate",
    "RatePopulation": "models.populations",
    "RateProjection": "models.populations",
    "SpikingNetwork": "models.spiking",
    "SpikingResult": "models.spiking",
    "driven_coba": "models.spiking_builders",
    "build_stack": "models.feedforward",
    "propagation_profile": "models.propagation",
    "gd_trajectories": "models.trajectories",
    "effective_trial": "models.rnn",
    "frozen_system": "models.rnn",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in ("rate", "spiking", "rnn", "tasks"):
        return importlib.import_module(f"models.{name}")
    raise AttributeError(f"module 'models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
