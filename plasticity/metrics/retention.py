"""Cell-assembly structure in a weight matrix: how much stronger synapses within assemblies are than between them.

An assembly is a group of neurons; Hebbian learning while a group is co-active strengthens the
synapses among its members. :func:`retention_index` measures what is left of that structure:

    R = mean{ W[i, j] : i, j in the same assembly, (i, j) present }
        / mean{ W[i, j] : i, j in different assemblies, (i, j) present }

over synapses whose pre- and postsynaptic neurons both belong to some assembly (neurons in no
assembly are not counted). R = 1: no structure (e.g. all weights equal); R > 1: within-assembly
synapses are stronger. The ratio of mean weights is this module's read-out of the structure
that models of assembly formation and maintenance by plasticity with homeostasis study, e.g.
Litwin-Kumar & Doiron (2014) Nat Commun 5:5319 and Zenke, Agnes & Gerstner (2015) Nat Commun
6:6922.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["assembly_labels", "retention_index"]


def assembly_labels(n: int, groups) -> np.ndarray:
    """Label per neuron: ``k`` for a neuron of ``groups[k]``, -1 for a neuron in no group. Shape ``(n,)``."""
    label = np.full(n, -1)
    for k, g in enumerate(groups):
        label[np.asarray(g, dtype=int)] = k
    return label


def retention_index(W: np.ndarray, mask: np.ndarray, groups) -> float:
    """Mean within-assembly weight over mean between-assembly weight (present synapses only).

    Parameters
    ----------
    W : (n, n) array
        Weights ``W[post, pre]`` of a recurrent projection (magnitudes). Not modified.
    mask : (n, n) bool array
        Which synapses exist (``net.connectivity(name)``); absent entries of ``W`` are ignored.
    groups : sequence of int arrays
        The assemblies: disjoint sets of neuron indices.

    Returns
    -------
    float
        R of the module docstring (dimensionless); NaN when either mean is not finite (e.g. no
        synapse between assemblies) or the between-assembly mean is 0.
    """
    W, mask = np.asarray(W), np.asarray(mask, dtype=bool)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or mask.shape != W.shape:
        raise ValueError(f"retention_index: W must be square and mask of its shape; got W {W.shape}, mask {mask.shape}")
    label = assembly_labels(W.shape[0], groups)
    inside = label >= 0
    both = inside[:, None] & inside[None, :] & mask
    same = both & (label[:, None] == label[None, :])
    with np.errstate(invalid="ignore"):
        within = W[same].mean() if same.any() else math.nan
        between = W[both & ~same].mean() if (both & ~same).any() else math.nan
    if not (np.isfinite(within) and np.isfinite(between)) or between == 0.0:
        return math.nan
    return float(within / between)
