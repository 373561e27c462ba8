"""Stability metrics as pure functions: numpy in, numpy out; torch in, torch out.

Linear algebra of weight matrices and Jacobians (:mod:`~plasticity.metrics.linalg`),
dynamical systems given by callables (:mod:`~plasticity.metrics.systems`), Lyapunov spectra
(:mod:`~plasticity.metrics.lyapunov`) and fixed points (:mod:`~plasticity.metrics.fixed_points`).

Names are resolved lazily (PEP 562), so ``import plasticity.metrics`` stays cheap and one
submodule never pays for another's imports. To export a name, add ``"name": "module"`` to
``_EXPORTS`` below (one entry per line).
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    # linalg
    "activity_variance": "linalg",
    "spectral_radius": "linalg",
    "spectral_norm": "linalg",
    "departure_from_normality": "linalg",
    "numerical_abscissa": "linalg",
    "gershgorin_discs": "linalg",
    "gershgorin_radius_bound": "linalg",
    # systems
    "Map": "systems",
    "Flow": "systems",
    "finite_difference_jacobian": "systems",
    "autograd_jacobian": "systems",
    "jacobian_error": "systems",
    # rate networks as systems
    "map_jacobian": "rate_systems",
    "flow_jacobian": "rate_systems",
    "rate_system": "rate_systems",
    # lyapunov
    "lyapunov_spectrum": "lyapunov",
    "LyapunovResult": "lyapunov",
    "max_lyapunov": "lyapunov",
    "kaplan_yorke_dimension": "lyapunov",
    "entropy_rate": "lyapunov",
    "local_lyapunov": "lyapunov",
    "logdet_consistency": "lyapunov",
    # fixed points
    "fixed_points": "fixed_points",
    "FixedPoint": "fixed_points",
    # transient growth
    "TransientAmplification": "transient",
    "transient_amplification": "transient",
    "radius_norm_gap": "transient",
    "NonnormalGrowth": "transient",
    "nonnormal_growth_example": "transient",
    # trajectory Lyapunov exponent
    "TrajectoryLyapunov": "trajectory",
    "trajectory_lyapunov": "trajectory",
    "perturbed_trajectories": "trajectory",
    # pointwise affine maps of piecewise-linear networks
    "pointwise_affine": "affine",
    "affine_eigenvalues": "affine",
    "activation_pattern": "affine",
    "activation_region_exit": "affine",
    "same_region": "affine",
    # spike-train statistics
    "spike_counts": "spikes",
    "isi_cv": "spikes",
    "fano_factor": "spikes",
    "pairwise_correlation": "spikes",
    "golomb_synchrony": "spikes",
    "weight_summary": "spikes",
    # run classification
    "classify_run": "classify",
    "settling_time": "classify",
    "RunClassThresholds": "classify",
    "RUN_CLASSES": "classify",
    # outcomes over seeds, stability boundaries, assembly retention
    "OUTCOME_ORDER": "outcomes",
    "agreement": "outcomes",
    "majority_outcome": "outcomes",
    "outcome_counts": "outcomes",
    "summarize_runs": "outcomes",
    "stability_bracket": "boundary",
    "power_law_fit": "boundary",
    "retention_index": "retention",
    # other helpers' modules: add entries here
}

__all__ = sorted(_EXPORTS)

# The function `fixed_points` shares its name with its submodule: importing the submodule (by
# anyone) binds the package attribute to the module. Binding the function here, after that
# import, keeps `from plasticity.metrics import fixed_points` the function for good.
from plasticity.metrics.fixed_points import FixedPoint, fixed_points  # noqa: E402


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'plasticity.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"plasticity.metrics.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
