"""Per-condition summaries and panels of trained-RNN studies (e.g. :mod:`studies.plastic_rnn`).

A table has one row per run (condition and seed) with a boolean ``diverged`` column and the
scalars to summarise; rows with a non-null ``error`` (a sweep point that raised) are left out. A
diverged run is counted and marked (an ``X`` at the top of a panel), never dropped silently; its
values are left out of the means.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["finished", "summarize_conditions", "band", "by_condition"]


def _no_error(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["error"].isna()] if "error" in table.columns else table


def finished(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of finished points (no sweep error) that did not diverge."""
    data = _no_error(table)
    return data[~data["diverged"].astype(bool)]


def summarize_conditions(table: pd.DataFrame, key: str, scalars: Sequence[str]) -> pd.DataFrame:
    """One row per value of ``key`` (in order of appearance): ``runs``, ``diverged`` (count), and for
    each scalar its mean and standard error ``std(ddof=1) / sqrt(n)`` (``<scalar>_sem``; NaN for one
    run) over the finite values of the runs that did not diverge."""
    rows = []
    for value, g in _no_error(table).groupby(key, sort=False):
        good = finished(g)
        row: dict[str, Any] = {key: value, "runs": len(g), "diverged": int(g["diverged"].astype(bool).sum())}
        for c in scalars:
            v = good[c].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            row[c] = v.mean() if v.size else math.nan
            row[c + "_sem"] = v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def band(ax, x: np.ndarray, Y: np.ndarray, color: Any, label: str, **line: Any) -> None:
    """Mean of the rows of ``Y`` (runs) against ``x``, with a band of one standard error when there
    are several; ``line`` goes to ``ax.plot`` (e.g. ``ls``, ``lw``, ``zorder``)."""
    mean = Y.mean(axis=0)
    ax.plot(x, mean, color=color, label=label, **line)
    if Y.shape[0] > 1:
        sem = Y.std(axis=0, ddof=1) / math.sqrt(Y.shape[0])
        ax.fill_between(x, mean - sem, mean + sem, color=color, alpha=0.25, lw=0, zorder=line.get("zorder"))


def by_condition(ax, table: pd.DataFrame, key: str, conditions: Sequence[Any], column: str,
                 colors: Mapping[Any, Any], offset: float, marker: str, label: str | None, filled: bool = True,
                 ticks: Mapping[Any, str] | None = None) -> None:
    """One position per condition (``key`` value): the runs as dots and their mean with a
    standard-error bar, shifted by ``offset``; diverged runs are left out of the mean and marked
    with an ``X`` at the top of the axes. ``label`` (optional) names the series in the legend,
    ``ticks`` the conditions on the axis (default: the values)."""
    data = _no_error(table)
    for k, r in enumerate(conditions):
        rows = data[data[key] == r]
        bad = rows["diverged"].astype(bool).to_numpy()
        v = rows[column].to_numpy(dtype=float)[~bad]
        v = v[np.isfinite(v)]
        if v.size:
            sem = v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else 0.0
            ax.errorbar(k + offset, v.mean(), yerr=sem, marker=marker, color=colors[r], ms=6, capsize=3,
                        mfc=colors[r] if filled else "white", mec=colors[r], ls="none")
            ax.plot(np.full(v.size, k + offset), v, ".", color=colors[r], ms=2.5, alpha=0.6)
        if bad.any():
            ax.plot(k + offset, 0.97, "X", color=colors[r], ms=8, mec="k", mew=0.5, clip_on=False,
                    transform=ax.get_xaxis_transform())
    if label is not None:
        ax.errorbar([], [], yerr=[], marker=marker, color="0.3", mfc="0.3" if filled else "white", ls="none",
                    capsize=3, label=label)
    ticks = ticks or {}
    ax.set_xticks(range(len(conditions)), [ticks.get(r, str(r)) for r in conditions])
    ax.set_xlim(-0.5, len(conditions) - 0.5)
