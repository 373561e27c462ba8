"""What a spiking run returns: spikes, rates, weight snapshots, status, and spike statistics."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from models._spiking_connect import projection_pairs

__all__ = ["SpikingResult", "WeightSnapshots", "SynapsePairs"]


class _Derived(Mapping):
    """A read-only mapping name -> array whose values are made from compact parts on first
    access, then kept (and the parts let go). Membership and iteration make nothing."""

    def __init__(self, parts: dict):
        self._parts = dict(parts)
        self._made: dict = {}

    def _make(self, part):  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, name):
        if name not in self._made:
            if name not in self._parts:
                raise KeyError(name)
            self._made[name] = self._make(self._parts[name])
            self._parts[name] = None
        return self._made[name]

    def __iter__(self):
        return iter(self._parts)

    def __len__(self):
        return len(self._parts)

    def __contains__(self, name):
        return name in self._parts

    def __repr__(self):
        return f"{type(self).__name__}({list(self._parts)})"


class WeightSnapshots(_Derived):
    """``name -> (K, n_syn)`` float64 weight snapshots, kept as K ``(n_syn,)`` arrays in the
    network's weight dtype (the first and the last without copies) until read."""

    def _make(self, part):
        return np.array(part, dtype=np.float64)


class SynapsePairs(_Derived):
    """``name -> (pre, post)`` int64 of each synapse, made from the CSR ``(indptr, indices)``
    views of the build when read."""

    def _make(self, part):
        return projection_pairs(*part)


@dataclass
class SpikingResult:
    """The record of one :meth:`SpikingNetwork.run`.

    Attributes
    ----------
    spike_times : (n_spikes,) float64
        Spike times in seconds (step index times ``dt``), in time order.
    spike_indices : (n_spikes,) int64
        Neuron of each spike; populations in declaration order (``E`` first, then ``I``).
    populations : dict name -> slice
        The neuron indices of each population.
    rates : dict name -> float
        Mean rate of each population (Hz) over the simulated time (up to ``diverged_at``).
    weights : mapping name -> (K, n_syn) float64 array
        Snapshots of the synapse weights of each plastic projection (S or A), in the order of
        ``synapses[name]``; taken at ``weight_times``. Held in the weight dtype and made
        float64 when first read (numba backend).
    weight_times : (K,) float64
        Times of the snapshots (s): 0, every ``record_weights_every``, and the end.
    synapses : mapping name -> (pre, post)
        Local presynaptic and postsynaptic index (int64) of each synapse of each plastic
        projection, made from the network's compact connectivity when first read.
    diverged : bool
        Whether a population's rate exceeded ``max_rate`` (the run then stopped).
    diverged_at : float or None
        Time (s) at which the run stopped, ``None`` when it did not diverge.
    saturated : bool
        Whether a population fired at its refractory limit: mean rate >= ``0.9 / t_ref``
        (``models.spiking.SATURATION``). Such a run has run away although it cannot reach
        ``max_rate`` (e.g. 200 Hz with ``t_ref = 5 ms``), so ``diverged`` stays False.
    saturated_populations : tuple of str
        The saturated populations.
    duration : float
        Simulated time (s), ``diverged_at`` when it diverged.
    dt : float
    state_indices : (n_rec,) int64, state_times : (T,) float64, V : (n_rec, T) float64
        Membrane potential (V) of the neurons in ``record_state`` at the start of each step.
    backend : str
    timings : dict
        Wall-clock seconds: ``"total"``, ``"loop"`` (the simulation alone) and, for brian2,
        ``"build"`` (code generation and compilation).
    """

    spike_times: np.ndarray
    spike_indices: np.ndarray
    populations: dict
    rates: dict
    weights: dict
    weight_times: np.ndarray
    diverged: bool
    diverged_at: float | None
    duration: float
    dt: float
    synapses: dict = field(default_factory=dict)
    shapes: dict = field(default_factory=dict)  # plastic projection -> (n_post, n_pre)
    state_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    state_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    V: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    backend: str = "numba"
    timings: dict = field(default_factory=dict)
    saturated: bool = False
    saturated_populations: tuple = ()

    # -- statistics ------------------------------------------------------------------
    def _pop_items(self, population):
        if population is None:
            return list(self.populations.items())
        return [(population, self.populations[population])]

    def spike_trains(self, population: str | None = None) -> list[np.ndarray]:
        """Spike times (s) of each neuron of ``population`` (all neurons when ``None``)."""
        sl = slice(0, max(s.stop for s in self.populations.values())) if population is None else self.populations[population]
        mask = (self.spike_indices >= sl.start) & (self.spike_indices < sl.stop)
        idx, t = self.spike_indices[mask] - sl.start, self.spike_times[mask]
        order = np.lexsort((t, idx))
        idx, t = idx[order], t[order]
        bounds = np.searchsorted(idx, np.arange(sl.stop - sl.start + 1))
        return [t[bounds[i]:bounds[i + 1]] for i in range(sl.stop - sl.start)]

    def cv_isi(self, min_spikes: int = 3) -> dict:
        """Mean over neurons of the coefficient of variation of inter-spike intervals.

        Per population; neurons with fewer than ``min_spikes`` spikes are left out (NaN
        when none is left). ``CV = std(ISI) / mean(ISI)`` (1 for a Poisson process).
        """
        out = {}
        for name, _ in self._pop_items(None):
            cvs = []
            for t in self.spike_trains(name):
                if t.size >= min_spikes:
                    isi = np.diff(t)
                    cvs.append(isi.std() / isi.mean())
            out[name] = float(np.mean(cvs)) if cvs else float("nan")
        return out

    def spike_counts(self, bin: float, population: str | None = None) -> np.ndarray:
        """Spike counts ``(n_neurons, n_bins)`` in consecutive bins of ``bin`` seconds."""
        sl = self.populations[population] if population is not None else slice(0, max(s.stop for s in self.populations.values()))
        n_bins = int(np.floor(self.duration / bin + 1e-9))
        mask = (self.spike_indices >= sl.start) & (self.spike_indices < sl.stop) & (self.spike_times < n_bins * bin)
        b = np.minimum((self.spike_times[mask] / bin + 1e-9).astype(np.int64), n_bins - 1)
        counts = np.zeros((sl.stop - sl.start, n_bins), dtype=np.int64)
        np.add.at(counts, (self.spike_indices[mask] - sl.start, b), 1)
        return counts

    def fano_factor(self, bin: float = 0.1) -> dict:
        """Mean over neurons (with at least one spike) of var/mean of their spike counts in bins of ``bin`` s."""
        out = {}
        for name, _ in self._pop_items(None):
            c = self.spike_counts(bin, name)
            m = c.mean(axis=1)
            ok = m > 0
            out[name] = float(np.mean(c[ok].var(axis=1) / m[ok])) if np.any(ok) and c.shape[1] > 1 else float("nan")
        return out

    def rate_over_time(self, bin: float = 0.01) -> tuple[np.ndarray, dict]:
        """``(bin_starts, {name: rate (Hz) of the population in each bin})``."""
        n_bins = int(np.floor(self.duration / bin + 1e-9))
        starts = np.arange(n_bins) * bin
        rates = {}
        for name, sl in self.populations.items():
            mask = (self.spike_indices >= sl.start) & (self.spike_indices < sl.stop)
            h = np.bincount(np.minimum((self.spike_times[mask] / bin + 1e-9).astype(np.int64), max(n_bins - 1, 0)),
                            minlength=n_bins)[:n_bins]
            rates[name] = h / ((sl.stop - sl.start) * bin)
        return starts, rates

    def to_dataframe(self):
        """The spikes as a pandas DataFrame with columns ``time`` (s), ``neuron``, ``population``."""
        import pandas as pd

        pop = np.empty(self.spike_indices.size, dtype=object)
        for name, sl in self.populations.items():
            pop[(self.spike_indices >= sl.start) & (self.spike_indices < sl.stop)] = name
        return pd.DataFrame({"time": self.spike_times, "neuron": self.spike_indices, "population": pop})

    def weight_matrix(self, name: str, k: int = -1) -> np.ndarray:
        """Dense ``W[post, pre]`` of plastic projection ``name`` at snapshot ``k`` (absent synapses 0)."""
        pre, post = self.synapses[name]
        W = np.zeros(self.shapes[name])
        np.add.at(W, (post, pre), self.weights[name][k])
        return W
