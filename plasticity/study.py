"""The harness that keeps each study script thin: options, the sweep, tables and figures on disk.

A study module ``studies/<name>.py`` holds a grid, a point function, a figure function and
``main(argv=None)`` that calls :func:`run_study`; ``plasticity study run <name>`` and
``python -m studies.<name>`` both end here. Everything a study writes goes to ``--out``::

    <out>/store/ (store_quick/ for --quick)   the resumable sweep store (one file per point)
    <out>/results.csv, results.parquet        the table (the summary when the study has one)
    <out>/points.csv, points.parquet          one row per point, when the study summarizes
    <out>/fig_<name>.png (dpi 200), .pdf      each figure

Tables hold the scalar columns; array results stay in the store's ``.npz`` files (read them
with :func:`plasticity.sweep.load_store`, or rerun: every point is then read, not computed).
"""
from __future__ import annotations

import argparse
import io
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["run_study", "study_parser"]


def study_parser(name: str, description: str | None = None) -> argparse.ArgumentParser:
    """The command line every study accepts (``plasticity study run NAME --help`` shows it)."""
    parser = argparse.ArgumentParser(prog=f"plasticity study run {name}", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="run the study's small grid (a few minutes on a laptop); stored apart from the full grid")
    parser.add_argument("--out", metavar="DIR", help=f"directory for tables, figures and the store (default results/{name})")
    parser.add_argument("--scheduler", metavar="ADDR",
                        help="'serial' (this process), or a Dask scheduler address such as tcp://127.0.0.1:8786 "
                             "(default: local processes)")
    parser.add_argument("--seed", type=int, metavar="N",
                        help="base seed of the per-point seeds (used when the grid has no 'seed' parameter)")
    parser.add_argument("--max-workers", type=int, metavar="N", help="local processes (default: one per core)")
    parser.add_argument("--retries", type=int, default=2, metavar="N",
                        help="extra attempts of a point that raises (default 2)")
    parser.add_argument("--fresh", action="store_true",
                        help="delete this grid's store first and recompute every point (e.g. after changing "
                             "code the store cannot see, such as a model in another module)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def run_study(name: str, grid: Any, point: Callable[..., Mapping[str, Any]], figure: Callable | None,
              quick: Any = None, argv: Sequence[str] | None = None, table_columns: Sequence[str] | None = None,
              summarize: Callable | None = None, description: str | None = None):
    """Parse the study's command line, run its sweep, write its tables and figures; return the table.

    Parameters
    ----------
    name : str
        The study's name (its module name); names the default output directory and figure.
    grid, quick : grid of :func:`plasticity.sweep`
        The full grid, and the small one run with ``--quick`` (the full one when None).
    point : callable
        ``point(**params) -> dict`` of scalars and arrays (module level, to run in processes).
    figure : callable, optional
        ``figure(table)`` -> a Figure, a dict ``name -> Figure`` (written as ``fig_<name>``), or
        None. Drawn inside :func:`plasticity.plot.paper_style` on matplotlib's Agg backend
        (unless pyplot is already in use, e.g. in a notebook).
    argv : list of str, optional
        Command-line arguments (``sys.argv[1:]`` when None); see :func:`study_parser`.
    table_columns : list of str, optional
        Columns (and their order) of the per-point table on disk; all scalar columns by default.
    summarize : callable, optional
        ``summarize(table) -> DataFrame``; written as ``results.*`` with the per-point table as
        ``points.*``. The figure always receives the per-point table.
    description : str, optional
        ``--help`` text; the docstring of ``point``'s module by default.

    Returns
    -------
    pandas.DataFrame
        The per-point table of :func:`plasticity.sweep` (with array columns).
    """
    from plasticity.sweep import sweep

    if description is None:
        description = getattr(sys.modules.get(getattr(point, "__module__", "")), "__doc__", None)
    args = study_parser(name, description).parse_args(argv)
    out = Path(args.out) if args.out else Path("results") / name
    chosen = grid
    if args.quick:
        if quick is None:
            print(f"{name}: this study has no quick grid; running the full grid", file=sys.stderr)
        else:
            chosen = quick
    if args.seed is not None and _has_seed_parameter(chosen):
        print(f"{name}: --seed {args.seed} has no effect: the grid sets 'seed' itself", file=sys.stderr)
    store = out / ("store_quick" if args.quick else "store")
    if args.fresh and store.exists():
        shutil.rmtree(store)
    out.mkdir(parents=True, exist_ok=True)
    table = sweep(point, chosen, store=store, scheduler=args.scheduler, retries=args.retries, seed=args.seed,
                  progress=False if args.no_progress else None, max_workers=args.max_workers)
    written = _write_tables(table, out, table_columns, summarize)
    if figure is not None:
        written += _write_figures(figure, table, out, name)
    failed = int(table["error"].notna().sum())
    for path in written:
        print(f"{name}: wrote {path}")
    print(f"{name}: {len(table) - failed} of {len(table)} points done; store {store}")
    if failed:
        first = table["error"].dropna().iloc[0]
        print(f"{name}: {failed} point(s) failed (see the 'error' column); first: {first}", file=sys.stderr)
    return table


def _has_seed_parameter(grid: Any) -> bool:
    if isinstance(grid, Mapping):
        return "seed" in grid
    return any("seed" in p for p in grid)


def _scalar_columns(table) -> list[str]:
    import numpy as np

    return [c for c in table.columns if not any(isinstance(v, np.ndarray) for v in table[c])]


def _write_tables(table, out: Path, table_columns, summarize) -> list[Path]:
    per_point = table[list(table_columns)] if table_columns is not None else table[_scalar_columns(table)]
    if summarize is None:
        return _write_table(per_point, out / "results")
    summary = summarize(table)
    return _write_table(summary[_scalar_columns(summary)], out / "results") + _write_table(per_point, out / "points")


def _write_table(table, stem: Path) -> list[Path]:
    """``<stem>.csv`` and ``<stem>.parquet``, each written atomically."""
    from plasticity._store import atomic_write

    csv = stem.with_suffix(".csv")
    atomic_write(csv, table.to_csv(index=False).encode())
    buf = io.BytesIO()
    _parquet_safe(table).to_parquet(buf, index=False)
    parquet = stem.with_suffix(".parquet")
    atomic_write(parquet, buf.getvalue())
    return [csv, parquet]


def _parquet_safe(table):
    """Parquet wants one type per column: a column mixing types (e.g. bools and NaN of a failed
    point) is written as nullable booleans when it can be, else as strings."""
    import pandas as pd

    table = table.copy()
    for c in table.columns:
        if table[c].dtype != object:
            continue
        kinds = {type(v) for v in table[c] if v is not None and not (isinstance(v, float) and v != v)}
        if kinds <= {bool}:
            table[c] = table[c].astype("boolean")
        elif len(kinds) > 1:
            table[c] = pd.Series([None if v is None or (isinstance(v, float) and v != v) else str(v)
                                  for v in table[c]], dtype=object, index=table.index)
    return table


def _write_figures(figure: Callable, table, out: Path, name: str) -> list[Path]:
    import matplotlib

    from plasticity.plot import paper_style, save_figure

    if "matplotlib.pyplot" not in sys.modules:  # no GUI for batch runs; a notebook keeps its backend
        matplotlib.use("Agg")
    with paper_style():
        made = figure(table)
        if made is None:
            return []
        figures = made if isinstance(made, Mapping) else {name: made}
        written: list[Path] = []
        for key, fig in figures.items():
            if not hasattr(fig, "savefig"):
                raise TypeError(f"run_study: figure must return a matplotlib Figure, a dict of them or None; "
                                f"got {type(fig).__name__} for {key!r}")
            written += save_figure(fig, out / f"fig_{key}", dpi=200)
            if "matplotlib.pyplot" in sys.modules:
                import matplotlib.pyplot as plt

                plt.close(fig)
    return written
