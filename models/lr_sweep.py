"""Learning-rate sweeps of training runs: per-lr summaries, the transition to chaos, the edge of
stability, and a panel of one quantity against the learning rate with diverged runs shown.

A sweep table has one row per run with at least the columns ``lr``, ``seed``, ``batches``,
``diverged`` (bool), ``saturated`` (bool: the copies separated to the size of the trajectory, see
:func:`models.trajectories.exponent`) and the scalars to summarise; rows with a non-null
``error`` (a point that raised) are left out. A diverged run is a result: it is counted
(``diverged``), its value at divergence is kept (``<column>_at_divergence`` when the point records
one), and :func:`plot_vs_lr` draws it as its own marker instead of dropping it.

Used by :mod:`studies.training_chaos` and :mod:`studies.training_chaos_danovski` (Danovski,
Soriano & Lacasa 2024, Front. Complex Syst. 2:1367957; the edge of stability ``lr * lambda_max =
2`` of Cohen et al. 2021, ICLR).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["ok_rows", "summarize", "transition_lr", "edge_of_stability_lr", "example_lrs", "plot_vs_lr"]


def ok_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows whose point did not raise (``error`` null, or no ``error`` column)."""
    return table[table["error"].isna()] if "error" in table.columns else table


def _mean_sem(v: np.ndarray) -> tuple[float, float]:
    v = v[np.isfinite(v)]
    mean = float(v.mean()) if v.size else math.nan
    return mean, (float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan)


def summarize(table: pd.DataFrame, scalars: Sequence[str], by: Sequence[str] = ("batches", "lr")) -> pd.DataFrame:
    """One row per ``by`` group: ``runs``, ``diverged``, ``saturated`` counts, the mean and standard
    error (``<c>_sem``) of each scalar over the runs that did not diverge, and for the runs that did,
    the mean step of divergence and the mean of ``<c>_at_divergence`` where recorded;
    ``lr_times_sharpness`` when ``sharpness`` is summarised."""
    rows = []
    for key, g in ok_rows(table).groupby(list(by), sort=True):
        bad = g["diverged"].astype(bool).to_numpy()
        ok = g[~bad]
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row.update(runs=len(g), diverged=int(bad.sum()), saturated=int(ok["saturated"].astype(bool).sum()))
        for c in scalars:
            row[c], row[f"{c}_sem"] = _mean_sem(ok[c].to_numpy(dtype=float))
            if f"{c}_at_divergence" in g.columns:
                row[f"{c}_at_divergence"] = _mean_sem(g[bad][f"{c}_at_divergence"].to_numpy(dtype=float))[0]
        row["diverged_at"] = _mean_sem(g[bad]["diverged_at"].to_numpy(dtype=float))[0] if bad.any() else math.nan
        if "sharpness" in scalars:
            row["lr_times_sharpness"] = row["lr"] * row["sharpness"]
        rows.append(row)
    return pd.DataFrame(rows)


def transition_lr(table: pd.DataFrame, batches: int | None = 1) -> float:
    """Geometric mean of the largest lr at which fewer than half of the runs separated (copies at the
    size of the trajectory) or diverged and the next lr, at and after which at least half did; NaN if
    there is no such step. ``batches=None``: the table has no ``batches`` column."""
    data = ok_rows(table) if batches is None else ok_rows(table)[ok_rows(table)["batches"] == batches]
    frac = [(g["saturated"].astype(bool) | g["diverged"].astype(bool)).mean() for _, g in data.groupby("lr", sort=True)]
    lrs = sorted(set(data["lr"]))
    for k in range(1, len(lrs)):
        if all(f >= 0.5 for f in frac[k:]) and frac[k - 1] < 0.5:
            return float(math.sqrt(lrs[k - 1] * lrs[k]))
    return math.nan


def edge_of_stability_lr(table: pd.DataFrame, batches: int | None = 1) -> float:
    """``2 / sharpness`` of the weights reached at the smallest lr (mean over the runs that did not
    diverge): the largest lr at which gradient descent could stay at those minima
    (linear stability of ``theta <- theta - lr grad L``: ``lr * lambda_max < 2``)."""
    data = ok_rows(table)
    if batches is not None:
        data = data[data["batches"] == batches]
    data = data[~data["diverged"].astype(bool)]
    if data.empty:
        return math.nan
    return float(2.0 / data[data["lr"] == data["lr"].min()]["sharpness"].mean())


def example_lrs(table: pd.DataFrame) -> dict[str, float]:
    """Learning rates to draw, by role: ``smallest``, ``below`` (the largest below the first lr at
    which a run's copies separated), ``chaotic`` (that first lr), ``largest`` (at which not every run
    diverged) and ``diverged`` (the smallest at which a run diverged)."""
    data = ok_rows(table)
    lrs = sorted(set(data["lr"]))
    if not lrs:
        return {}
    g = data.groupby("lr")
    chaotic = [lr for lr, x in g if x["saturated"].astype(bool).any()]
    diverged = [lr for lr, x in g if x["diverged"].astype(bool).any()]
    ok = [lr for lr, x in g if not x["diverged"].astype(bool).all()]
    roles = {"smallest": lrs[0]}
    below = [lr for lr in lrs if not chaotic or lr < min(chaotic)]
    if below:
        roles["below"] = below[-1]
    if chaotic:
        roles["chaotic"] = min(chaotic)
    if ok:
        roles["largest"] = max(ok)
    if diverged:
        roles["diverged"] = min(diverged)
    return roles


def plot_vs_lr(ax, rows: pd.DataFrame, column: str, color, ls: str, marker: str, label: str,
               show_diverged: bool = True) -> None:
    """``column`` against ``lr``: the mean over the runs that did not diverge, with standard-error
    bars; each diverged run as an ``X`` at its value at divergence (``<column>_at_divergence`` if
    the table has it, else its own ``column`` value, e.g. an exponent fitted up to divergence), or at
    the top edge of the axes when it has no finite value there ("diverged, no value")."""
    lrs, mean, sem, at, none = [], [], [], [], []
    source = f"{column}_at_divergence" if f"{column}_at_divergence" in rows.columns else column
    for lr, g in rows.groupby("lr", sort=True):
        bad = g["diverged"].astype(bool).to_numpy()
        m, s = _mean_sem(g[column].to_numpy(dtype=float)[~bad])
        if np.isfinite(m):
            lrs.append(lr)
            mean.append(m)
            sem.append(s if np.isfinite(s) else 0.0)
        for v in g[source].to_numpy(dtype=float)[bad]:
            (at if np.isfinite(v) else none).append((lr, v))
    ax.errorbar(lrs, mean, yerr=sem, color=color, ls=ls, marker=marker, ms=3.5, lw=1.1, capsize=2, label=label)
    if show_diverged and at:
        ax.plot(*zip(*at), "X", color=color, ms=7, mec="k", mew=0.5, ls="none",
                label=f"diverged run, value at divergence ({label})")
    if show_diverged and none:
        ax.plot([p[0] for p in none], [0.96] * len(none), "X", color=color, ms=7, mec="k", mew=0.5, ls="none",
                clip_on=False, transform=ax.get_xaxis_transform(), label=f"diverged run, no value ({label})")
