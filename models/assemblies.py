"""Hebbian cell assemblies in an E/I rate network: the groups, the learning protocol and the recall test.

Protocol (:func:`learn_assemblies`), on a ``PopulationRateNetwork`` (``RateNetwork.ei``) with
E->E (and possibly I->E) plasticity:

0. settle (optional): ``t_settle`` without plasticity or patterns;
1. learning: each assembly (:func:`assembly_groups`: ``k`` disjoint random groups of
   ``n_exc // (2 k)`` E neurons, together half of E) is shown in turn for ``t_show`` as an extra
   input ``amplitude`` to its neurons, ``n_cycles`` cycles, plasticity on;
2. free: ``t_free`` without patterns, plasticity continuing.

A run that diverges stops there (``RateNetwork`` keeps the last finite state and the weights the
kernel held). Structure is read from the weights with
:func:`plasticity.metrics.retention.retention_index`; recall (:func:`cue_recall`) from the
activity of the frozen network: half of each assembly is driven by ``amplitude`` for ``t_cue``,
and recall is the mean rate of the un-cued half over that of the E neurons in no assembly, over
the last half of the cue, averaged over assemblies (1 = nothing recalled). Frozen runs keep the
gains and thresholds intrinsic plasticity learned (``RateNetwork`` keeps them across runs).

Times are in the network's time unit (tau_E = 1 for ``RateNetwork.ei``); rates dimensionless.

References: Hebb (1949) The Organization of Behavior; Litwin-Kumar & Doiron (2014) Nat Commun
5:5319 and Zenke, Agnes & Gerstner (2015) Nat Commun 6:6922 (assemblies learned from patterned
input and maintained with homeostatic plasticity, in spiking networks; this is a rate version).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from plasticity._validation import check_number, positive

__all__ = ["AssemblyRun", "assembly_groups", "cue_recall", "learn_assemblies", "weight_structure"]


def assembly_groups(n_exc: int, k: int, seed: int) -> list[np.ndarray]:
    """``k`` disjoint random groups of ``n_exc // (2 k)`` E neurons (sorted indices), together half of E.

    Drawn from ``numpy.random.default_rng([seed, 7])``: the same seed gives the same groups.
    """
    if not (isinstance(k, (int, np.integer)) and k >= 1 and n_exc // (2 * k) >= 1):
        raise ValueError(f"assembly_groups.k must be an integer in [1, n_exc // 2 = {n_exc // 2}]; got {k!r}")
    size = n_exc // (2 * k)
    perm = np.random.default_rng([seed, 7]).permutation(n_exc)
    return [np.sort(perm[j * size:(j + 1) * size]) for j in range(k)]


@dataclass
class AssemblyRun:
    """What :func:`learn_assemblies` recorded.

    Attributes
    ----------
    t : (T,) array
        Times since the start of learning (repeated run starts dropped).
    rates : (T, n_exc) array
        E rates at ``t``.
    diverged : bool
        Whether a run diverged (then the protocol stopped there).
    phase : str
        ``"learning"`` or ``"free"``: the phase reached (where it diverged, for a diverged run).
    diverged_at : float
        Time of divergence since the start of learning (NaN if none).
    reason : str
        The diverged run's ``reason`` ("" if none).
    W_learned : (n_exc, n_exc) array
        E->E weights at the end of learning (at divergence if it diverged while learning).
    retention_learned : float
        :func:`~plasticity.metrics.retention.retention_index` of ``W_learned``.
    measured_at : float
        Time of the network's final state since the start of learning (the last finite state
        of a diverged run).
    free : RateResult or None
        The free-phase run (None if learning diverged).
    """

    t: np.ndarray
    rates: np.ndarray
    diverged: bool
    phase: str
    diverged_at: float
    reason: str
    W_learned: np.ndarray
    retention_learned: float
    measured_at: float
    free: object = field(default=None, repr=False)


def learn_assemblies(net, groups, plasticity: dict, amplitude: float, t_show: float, n_cycles: int, t_free: float,
                     record_every: int = 10, t_settle: float = 0.0) -> AssemblyRun:
    """Show each assembly in turn (``n_cycles`` cycles), then run free, plasticity on (module docstring).

    Parameters
    ----------
    net : PopulationRateNetwork
        With populations ``"E"`` and ``"I"``; it is run in place from its current state.
    groups : list of int arrays
        The assemblies (indices into E).
    plasticity : dict
        Rules per projection, as for ``net.run``.
    amplitude : float
        Extra input to the neurons of the shown assembly.
    t_show, t_free : float
        Duration of one presentation and of the free phase (time units of the network), > 0.
    n_cycles : int
        Presentations of each pattern.
    record_every : int
        Steps between recorded samples.
    t_settle : float
        Run first for this long without plasticity or patterns (not recorded).

    Returns
    -------
    AssemblyRun
    """
    from plasticity.metrics.retention import retention_index

    for name, value in (("t_show", t_show), ("t_free", t_free), ("amplitude", amplitude)):
        check_number("learn_assemblies", name, value, positive)
    e = net.populations["E"]
    n_exc = e.stop - e.start
    dt = net.dt
    if t_settle > 0:
        net.run(int(round(t_settle / dt)), progress=False)
    t_start = net.t
    times, rates = [], []
    res, diverged = None, False
    for _ in range(n_cycles):
        for g in groups:
            drive = np.zeros(n_exc)
            drive[g] = amplitude
            res = net.run(int(round(t_show / dt)), plasticity=plasticity, inputs={"E": drive},
                          record_every=record_every, progress=False)
            times.append(res.times - t_start)
            rates.append(res.rates[:, e])
            if res.diverged:
                diverged = True
                break
        if diverged:
            break
    W_learned = np.array(net.weights("EE"))
    phase, free = "learning", None
    if not diverged:
        phase = "free"
        free = net.run(int(round(t_free / dt)), plasticity=plasticity, record_every=record_every, progress=False)
        times.append(free.times - t_start)
        rates.append(free.rates[:, e])
        diverged = free.diverged
    last = free if free is not None else res
    t, r = np.concatenate(times), np.concatenate(rates)
    keep = np.r_[True, np.diff(t) > 0]  # each run records its start again: drop the repeats
    return AssemblyRun(t=t[keep], rates=r[keep], diverged=bool(diverged), phase=phase,
                       diverged_at=float(last.diverged_at) - t_start if diverged else math.nan,
                       reason=str(last.reason) if diverged else "", W_learned=W_learned,
                       retention_learned=retention_index(W_learned, net.connectivity("EE"), groups),
                       measured_at=float(net.t - t_start), free=free)


def weight_structure(net, groups) -> tuple[dict, str]:
    """Assembly structure and summed weights the network holds now (at divergence, the weights then).

    Returns
    -------
    (dict, str)
        ``retention`` (:func:`plasticity.metrics.retention.retention_index` of E->E), ``J_EE`` and
        ``J_IE`` (a neuron's summed E->E and I->E weight, mean over E neurons), NaN where the
        weights are not finite; and "" or why ``retention`` is NaN.
    """
    from plasticity.metrics.retention import retention_index

    W_EE = net.weights("EE")
    if not np.all(np.isfinite(W_EE)):
        nan = {"retention": math.nan, "J_EE": math.nan, "J_IE": math.nan}
        return nan, "retention: weights non-finite at divergence"
    out = {"retention": retention_index(W_EE, net.connectivity("EE"), groups), "J_EE": float(W_EE.sum(axis=1).mean()),
           "J_IE": float(net.weights("IE").sum(axis=1).mean())}
    return out, "" if np.isfinite(out["retention"]) else "retention: no E->E weight left between assemblies"


def cue_recall(net, groups, amplitude: float, t_cue: float, record_every: int = 10) -> tuple[float, str]:
    """Cue half of each assembly in the frozen network; un-cued half over non-assembly rate, averaged.

    Each assembly is tested from the same state (the network's state on entry, restored on exit).

    Parameters
    ----------
    net : PopulationRateNetwork
        Run without plasticity.
    groups : list of int arrays
        The assemblies; the first half of each (in index order) is cued. E neurons in no group
        are the reference.
    amplitude, t_cue : float
        Extra input to the cued half and its duration (> 0).

    Returns
    -------
    (float, str)
        Recall (1 = nothing recalled; NaN when it cannot be measured) and "" or why it is NaN.
    """
    from plasticity.metrics.retention import assembly_labels

    check_number("cue_recall", "t_cue", t_cue, positive)
    e = net.populations["E"]
    in_assembly = assembly_labels(e.stop - e.start, groups) >= 0
    x_end = net.x.copy()
    steps = int(round(t_cue / net.dt))
    ratios = []
    try:
        for g in groups:
            cued, uncued = g[: len(g) // 2], g[len(g) // 2:]
            drive = np.zeros(e.stop - e.start)
            drive[cued] = amplitude
            res = net.run(steps, inputs={"E": drive}, x0=x_end, record_every=record_every, progress=False)
            if res.diverged:
                return math.nan, f"recall: frozen network diverged under the cue ({res.reason})"
            rE = res.rates[res.times >= res.times[-1] - t_cue / 2][:, e]
            base = rE[:, ~in_assembly].mean()
            if base < 1e-3:
                return math.nan, "recall: non-assembly neurons silent under the cue"
            ratios.append(rE[:, uncued].mean() / base)
    finally:
        net.x = x_end
    return float(np.mean(ratios)), ""
