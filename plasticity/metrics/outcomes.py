"""Outcomes of repeated runs (seeds) summarised: the majority class, ties going to the worse, and the counts.

Run classes are those of :func:`plasticity.metrics.classify_run`, ordered best to worst in
:data:`OUTCOME_ORDER` ("stable" first, "diverged" last). With an even split between two classes
the summary reports the worse one: one stable and one diverged run read "diverged".
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["OUTCOME_ORDER", "agreement", "majority_outcome", "outcome_counts", "summarize_runs"]

#: Run classes of ``classify_run``, best to worst.
OUTCOME_ORDER = ("stable", "oscillating", "saturated", "silent", "runaway", "diverged")


def agreement(ratio: float, tolerance: float, undefined: str = "undefined") -> str:
    """Outcome of comparing an estimate with a reference: ``"within 30%"`` when
    ``|ratio - 1| <= tolerance`` (``ratio`` = estimate / reference, ``tolerance`` = 0.3), ``"outside
    30%"`` otherwise, and ``undefined`` for a NaN or infinite ratio (e.g. a reference not bracketed)."""
    if not math.isfinite(ratio):
        return undefined
    return f"{'within' if abs(ratio - 1) <= tolerance else 'outside'} {tolerance:.0%}"


def majority_outcome(outcomes: Iterable[str], order: tuple[str, ...] = OUTCOME_ORDER) -> str:
    """The most frequent outcome; a tie goes to the one later in ``order`` (the worse).

    Outcomes not in ``order`` lose ties to every listed one. Returns ``"failed"`` when there is
    no outcome (every run errored).
    """
    counts = Counter(o for o in outcomes if isinstance(o, str))
    if not counts:
        return "failed"
    return max(counts, key=lambda o: (counts[o], order.index(o) if o in order else -1))


def outcome_counts(outcomes: Iterable[str], order: tuple[str, ...] = OUTCOME_ORDER) -> str:
    """``"stable 2, oscillating 1"``: the count of each outcome of ``order`` that occurs, in that order (or "none")."""
    counts = Counter(outcomes)
    return ", ".join(f"{o} {counts[o]}" for o in order if counts[o]) or "none"


def summarize_runs(table: Any, by: str, metrics: Sequence[str], order: Sequence[str] | None = None) -> Any:
    """One row per value of ``by``: majority outcome, outcome counts, runs, diverged runs, metric means.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per run with an ``outcome`` column (classes of ``classify_run``), optionally
        ``error`` (a run that raised: counted in ``runs``, left out of everything else) and
        ``diverged``.
    by : str
        The column that groups runs (e.g. the condition).
    metrics : sequence of str
        Columns averaged over the runs of a group, NaN ignored; a column absent or all NaN gives NaN.
    order : sequence, optional
        Row order of the groups (others after them); default: first appearance.

    Returns
    -------
    pandas.DataFrame
        Columns ``by``, ``outcome`` (:func:`majority_outcome`), ``outcome_counts``, ``runs``,
        ``diverged`` and one per metric.
    """
    import math

    import pandas as pd

    rows = []
    for key, group in table.groupby(by, sort=False):
        ok = group[group["error"].isna()] if "error" in group else group
        outcomes = list(ok["outcome"].dropna())
        row = {by: key, "outcome": majority_outcome(outcomes), "outcome_counts": outcome_counts(outcomes),
               "runs": len(group), "diverged": int(ok["diverged"].astype(bool).sum()) if "diverged" in ok else 0}
        for col in metrics:
            values = pd.to_numeric(ok[col], errors="coerce") if col in ok else pd.Series(dtype=float)
            row[col] = float(values.mean()) if values.notna().any() else math.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    if order is not None and len(out):
        rank = {k: i for i, k in enumerate(order)}
        out = out.sort_values(by, key=lambda s: s.map(lambda k: rank.get(k, len(rank))), kind="stable")
    return out.reset_index(drop=True)
