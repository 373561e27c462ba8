"""The result of :meth:`models.rate.RateNetwork.run`: recorded arrays, divergence status, I/O.

Saved as ``.npz`` without pickle (``allow_pickle=False`` on load), with a schema version;
the write is atomic (a temporary file in the same directory, then ``os.replace``).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["RateResult", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
_ARRAYS = ("times", "rates", "states", "weights", "weight_times")


@dataclass
class RateResult:
    """What a rate-network run recorded.

    Attributes
    ----------
    times : (T,) float64
        Model time of each recorded state (the start of the run included).
    rates : (T, n)
        Outputs ``phi`` of the neurons; for a map, the state itself (the same array).
    states : (T, n)
        The state ``x``. Stored in W's dtype.
    weights : (K, n, n)
        Snapshots of ``W[post, pre]`` at ``weight_times`` (K,).
    diverged : bool
        True when the run left ``bound`` / ``weight_bound`` or turned non-finite; it then
        stopped, and the arrays hold what was recorded before (all finite).
    diverged_at : float or None
        Model time of the first bad state or weight matrix.
    reason : str
        ``"non-finite state"``, ``"|x| > bound"``, ``"|W| > weight_bound"`` or
        ``"non-finite weights"``; ``""`` when the run did not diverge.
    dynamics : str
        ``"map"`` or ``"flow"`` (kept so that a loaded result knows whether rates is states).
    populations : dict[str, slice] or None
        Neuron indices of each population (population networks); None for a single matrix.
    """

    times: np.ndarray
    rates: np.ndarray
    states: np.ndarray
    weights: np.ndarray
    weight_times: np.ndarray
    diverged: bool = False
    diverged_at: float | None = None
    reason: str = ""
    dynamics: str = "map"
    populations: dict | None = None

    def to_dataframe(self, form: str = "long"):
        """The recorded activity as a pandas DataFrame.

        Parameters
        ----------
        form : {"long", "wide"}
            ``"long"``: one row per (time, neuron), columns ``time``, ``neuron``, ``state``,
            ``rate``. ``"wide"``: one row per time (index ``time``), columns a MultiIndex
            ``(quantity, neuron)`` with quantity ``"state"`` and ``"rate"``.
            Weights are not included (see ``weights``).
        """
        import pandas as pd

        T, n = self.states.shape
        if form == "long":
            return pd.DataFrame({
                "time": np.repeat(self.times, n),
                "neuron": np.tile(np.arange(n), T),
                "state": self.states.reshape(-1),
                "rate": self.rates.reshape(-1),
            })
        if form == "wide":
            cols = pd.MultiIndex.from_product([["state", "rate"], range(n)], names=["quantity", "neuron"])
            data = np.concatenate([self.states, self.rates], axis=1) if T else np.empty((0, 2 * n))
            return pd.DataFrame(data, index=pd.Index(self.times, name="time"), columns=cols)
        raise ValueError(f"RateResult.to_dataframe: form must be one of ('long', 'wide'); got {form!r}")

    def save(self, path: str | os.PathLike) -> None:
        """Write to ``path`` (npz, no pickle) atomically; the name is used as given."""
        path = Path(path)
        arrays = {name: np.asarray(getattr(self, name)) for name in _ARRAYS}
        if self.rates is self.states:
            del arrays["rates"]
        meta = {
            "schema_version": np.array(SCHEMA_VERSION),
            "diverged": np.array(bool(self.diverged)),
            "diverged_at": np.array(np.nan if self.diverged_at is None else float(self.diverged_at)),
            "reason": np.array(self.reason),
            "dynamics": np.array(self.dynamics),
        }
        if self.populations:
            meta["population_names"] = np.array(list(self.populations))
            meta["population_bounds"] = np.array([[s.start, s.stop] for s in self.populations.values()], np.int64)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays, **meta)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RateResult":
        """Read a result written by :meth:`save` (refuses other schema versions)."""
        with np.load(path, allow_pickle=False) as f:
            version = int(f["schema_version"]) if "schema_version" in f else None
            if version != SCHEMA_VERSION:
                raise ValueError(f"RateResult.load: {path} has schema_version {version}; expected {SCHEMA_VERSION}")
            arrays = {name: f[name] for name in _ARRAYS if name in f}
            diverged_at = float(f["diverged_at"])
            states = arrays["states"]
            return cls(
                times=arrays["times"],
                rates=arrays.get("rates", states),
                states=states,
                weights=arrays["weights"],
                weight_times=arrays["weight_times"],
                diverged=bool(f["diverged"]),
                diverged_at=None if np.isnan(diverged_at) else diverged_at,
                reason=str(f["reason"]),
                dynamics=str(f["dynamics"]),
                populations={str(k): slice(int(a), int(b)) for k, (a, b) in
                             zip(f["population_names"], f["population_bounds"])} if "population_names" in f else None,
            )
