"""``plasticity.sweep(fn, grid, ...)``: run a function over a grid of parameters, resumably.

Local processes by default, a Dask cluster when given one; each finished point is stored at
once (see :mod:`plasticity._store` for the store's layout), so a killed sweep resumes where it
stopped. :func:`load_store` reads a store back without running anything.

This module is callable (``plasticity.sweep(...)`` calls :func:`sweep` whichever of the module
or the function the name ``plasticity.sweep`` happens to hold after an import).
"""
from __future__ import annotations

import hashlib
import inspect
import itertools
import os
import sys
import time
import types
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

from plasticity._runners import runner
from plasticity._store import SCHEMA, PointStore, canonical_json, function_fingerprint, point_key

__all__ = ["sweep", "load_store", "point_seed"]

_ERROR_COLUMNS = ("error", "error_traceback")


def sweep(fn: Callable[..., Mapping[str, Any]], grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
          store: str | os.PathLike | None = None, scheduler: Any = None, retries: int = 2,
          seed: int | np.random.Generator | None = None, progress: bool | None = None, *,
          max_workers: int | None = None):
    """Run ``fn(**point)`` for every point of ``grid``; one row per point, in grid order.

    Parameters
    ----------
    fn : callable
        ``fn(**point) -> dict`` of scalars (python or numpy numbers, bools, strings, None) and
        arrays. Must be picklable (a module-level function) to run in local processes.
    grid : dict of lists, or list of dicts
        A dict ``{name: values}`` means the product of the value lists, the last name varying
        fastest (``itertools.product`` order); a list of dicts lists the points explicitly.
        Values must be numbers, strings, bools or None (they are hashed and stored as JSON).
    store : path, optional
        Directory of a resumable store. Each finished point is written atomically as soon as
        it finishes; a rerun of the same sweep reads the stored points and runs only the
        missing and the failed ones. A store written by another grid, seed or function (its
        module, qualified name and source, and the module-level values and same-module
        functions it reads, see :func:`plasticity._store.function_fingerprint`) is refused
        with a ``ValueError`` naming ``store``. Changes the store cannot see (code in other
        modules) call for a new store directory.
    scheduler : None, "serial", str address or dask.distributed.Client
        None (or "processes"): a ``ProcessPoolExecutor`` of ``max_workers`` processes.
        ``"serial"`` (or ``max_workers=1``): in this process, for tests and debugging. A Dask
        scheduler address (``"tcp://host:8786"``) or a ``Client``: on that cluster (``fn`` is
        sent with cloudpickle, so closures work there). A ``concurrent.futures.Executor``
        instance is also accepted and used as is.
    retries : int
        How many more times a point that raises is run before its error is recorded. On Dask
        also passed as ``client.submit(..., retries=retries)``; a task whose worker dies is
        rescheduled by Dask itself (up to ``distributed.scheduler.allowed-failures`` times).
    seed : int or Generator, optional
        When set and the grid has no ``seed`` parameter, each point is called with
        ``seed=point_seed(seed, point)``, an int in [0, 2**32) that depends only on ``seed``
        and the point's parameters, never on the order or the number of workers; the table
        then has a ``seed`` column, so ``fn(**params, seed=row.seed)`` reproduces a row.
    progress : bool, optional
        tqdm bar on stderr. None: shown for more than one point to run, at once on a terminal,
        otherwise (logs) only once the sweep has run 30 s, refreshed every 30 s.
    max_workers : int, optional
        Local processes (default ``os.cpu_count()``).

    Returns
    -------
    pandas.DataFrame
        One row per point in grid order: the parameters, ``seed`` when derived, each scalar
        result (numpy scalars as python scalars), each array result as the array itself in an
        object column (stored in ``points/<key>.npz``, never pickled), then ``error``
        (``"Type: message"``, None when the point succeeded) and ``error_traceback``. A point
        that still raises after ``retries`` retries has its error there and NaN results; the
        sweep goes on.
    """
    if not callable(fn):
        raise TypeError(f"sweep: fn must be callable; got {fn!r} of type {type(fn).__name__}")
    retries = _check_count("retries", retries, 0)
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"sweep: progress must be None, True or False; got {progress!r}")
    if max_workers is not None:
        max_workers = _check_count("max_workers", max_workers, 1)
    params, canon, originals = _expand_grid(grid)
    seed = _check_seed(seed)
    derive = seed is not None and "seed" not in params
    seeds = [point_seed(seed, c) for c in canon] if derive else [None] * len(canon)
    if derive:
        _check_takes_seed(fn, seed)
    keys = [point_key(c) for c in canon]
    if len(set(keys)) != len(keys):
        dup = next(c for c, k in zip(canon, keys) if keys.count(k) > 1)
        raise ValueError(f"sweep: grid must not repeat a point; got {dup} more than once")
    reserved = set(params) | set(_ERROR_COLUMNS) | ({"seed"} if derive else set())
    run = runner(fn, scheduler, max_workers)

    outcomes: list[dict[str, Any] | None] = [None] * len(canon)
    point_store = None
    if store is not None:
        point_store = PointStore(_check_path(store))
        point_store.open(_manifest(fn, params, canon, seed if derive else None))
        point_store.clean_temporaries()
        stored = point_store.read_points()
        for i, key in enumerate(keys):
            if key in stored and stored[key][0].get("status") == "ok":
                record, arrays = stored[key]
                outcomes[i] = {"status": "ok", "scalars": record["scalars"], "arrays": arrays, "names": record.get("names")}
    todo = [(i, dict(originals[i], **({"seed": seeds[i]} if derive else {}))) for i, o in enumerate(outcomes) if o is None]

    from tqdm.auto import tqdm

    bar = tqdm(total=len(canon), initial=len(canon) - len(todo), unit="point", desc="sweep", file=sys.stderr,
               **_progress_options(progress, len(todo)))
    finished = run(fn, todo, retries, sorted(reserved)) if todo else iter(())
    try:
        for i, outcome in finished:
            if point_store is not None:
                record = {k: v for k, v in outcome.items() if k != "arrays"}
                record.update(index=i, point=canon[i], seed=seeds[i], finished=time.time())
                point_store.write_point(keys[i], record, outcome.get("arrays", {}))
            outcomes[i] = outcome
            bar.update(1)
    finally:  # on an interrupt, stop the workers now (what finished is stored)
        close = getattr(finished, "close", None)
        if close is not None:
            close()
        bar.close()
    return _frame(params, canon, seeds if derive else None, outcomes)


def point_seed(seed: int, point: Mapping[str, Any]) -> int:
    """The seed of one point: ``SeedSequence([seed, sha256(point)])`` drawn to an int in [0, 2**32).

    Depends only on ``seed`` and the point's canonical JSON (sorted items; not Python's
    ``hash``, which changes between processes). 32 bits so that every library accepts it
    (``numpy.random.seed`` and brian2's ``seed`` require it).
    """
    digest = int(hashlib.sha256(canonical_json(dict(point)).encode()).hexdigest(), 16)
    return int(np.random.SeedSequence([seed, digest]).generate_state(1, np.uint32)[0])


def load_store(store: str | os.PathLike):
    """The table of a store's finished points (in grid order), without running anything.

    Missing points are absent; failed points have their error. Same columns as :func:`sweep`.
    """
    import json

    root = Path(store)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"load_store: store {str(root)!r} has no readable manifest.json ({e})") from e
    stored = PointStore(root).read_points()
    canon = manifest["points"]
    outcomes, seeds = [], []
    for c in canon:
        hit = stored.get(point_key(c))
        outcomes.append(None if hit is None else dict(hit[0], arrays=hit[1]))
        seeds.append(None if hit is None else hit[0].get("seed"))
    keep = [i for i, o in enumerate(outcomes) if o is not None]
    derive = manifest.get("seed") is not None
    return _frame(manifest["grid"]["params"], [canon[i] for i in keep],
                  [seeds[i] for i in keep] if derive else None, [outcomes[i] for i in keep])


# -- grid, seeds, fingerprints ----------------------------------------------------------
def _expand_grid(grid: Any) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """(parameter names in first-seen order, canonical points, points as given)."""
    if isinstance(grid, Mapping):
        if len(grid) == 0:  # the product of no lists is one empty point: refused like an empty list
            raise ValueError("sweep: grid must hold at least one point (a dict of at least one parameter); "
                             "got an empty dict")
        for name, values in grid.items():
            if not isinstance(name, str):
                raise TypeError(f"sweep: grid keys must be parameter names (str); got {name!r}")
            if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray, range)):
                raise TypeError(f"sweep: grid[{name!r}] must be a list of values; got {values!r}")
            if len(values) == 0:
                raise ValueError(f"sweep: grid[{name!r}] must hold at least one value; got an empty list")
        names = list(grid)
        originals = [dict(zip(names, combo)) for combo in itertools.product(*(list(grid[n]) for n in names))]
    elif isinstance(grid, Sequence) and not isinstance(grid, (str, bytes)):
        if len(grid) == 0:
            raise ValueError("sweep: grid must hold at least one point; got an empty list")
        for p in grid:
            if not isinstance(p, Mapping) or not all(isinstance(k, str) for k in p):
                raise TypeError(f"sweep: a grid given as a list must hold dicts of parameter name (str) -> value, "
                                f"one per point; got {p!r}")
        originals = [dict(p) for p in grid]
    else:
        raise TypeError(f"sweep: grid must be a dict of lists or a list of dicts; got {type(grid).__name__}")
    names = list(dict.fromkeys(k for p in originals for k in p))
    canon = [{k: _canonical_value(k, v) for k, v in p.items()} for p in originals]
    return names, canon, originals


def _canonical_value(name: str, v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, Integral):
        return int(v)
    if isinstance(v, Real):
        return float(v)
    raise TypeError(f"sweep: grid values must be numbers, strings, bools or None (they are hashed and stored "
                    f"as JSON); got {v!r} of type {type(v).__name__} for {name!r}")


def _check_seed(seed: Any) -> int | None:
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**63))
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f"sweep: seed must be an int in [0, inf), a numpy.random.Generator or None; got {seed!r}")
    if seed < 0:
        raise ValueError(f"sweep: seed must be an int in [0, inf), a numpy.random.Generator or None; got {seed!r}")
    return int(seed)


def _check_takes_seed(fn: Callable, seed: int) -> None:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # no signature to read (some builtins): let the call decide
        return
    if not any(p.name == "seed" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        raise TypeError(f"sweep: with seed={seed} and no 'seed' in the grid, fn is called with seed=<per-point "
                        f"seed>, but {getattr(fn, '__qualname__', fn)!r} takes no 'seed' parameter")


def _check_count(name: str, v: Any, low: int) -> int:
    if isinstance(v, bool) or not isinstance(v, Integral):
        raise TypeError(f"sweep: {name} must be an integer in [{low}, inf); got {v!r}")
    if v < low:
        raise ValueError(f"sweep: {name} must be an integer in [{low}, inf); got {v!r}")
    return int(v)


def _check_path(store: Any) -> Path:
    if not isinstance(store, (str, os.PathLike)):
        raise TypeError(f"sweep: store must be a directory path or None; got {store!r}")
    if Path(store).exists() and not Path(store).is_dir():
        raise ValueError(f"sweep: store must be a directory path or None (a directory, created if missing); "
                         f"got {str(store)!r}, which is an existing file")
    return Path(store)


def _manifest(fn: Callable, params: list[str], canon: list[dict], seed: int | None) -> dict[str, Any]:
    from plasticity import __version__

    return {"schema": SCHEMA, "plasticity_version": __version__, "seed": seed,
            "grid": {"fingerprint": hashlib.sha256(canonical_json(canon).encode()).hexdigest(),
                     "n_points": len(canon), "params": params},
            "function": function_fingerprint(fn), "points": canon}


def _progress_options(progress: bool | None, n_todo: int) -> dict[str, Any]:
    if progress is False or (progress is None and n_todo <= 1):
        return {"disable": True}
    if progress is None and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        return {"delay": 30.0, "mininterval": 30.0}
    return {}


# -- the table ---------------------------------------------------------------------------------
def _frame(params, canon, seeds, outcomes):
    import pandas as pd

    rows, results = [], {}
    for i, c in enumerate(canon):
        row = dict(c)
        if seeds is not None:
            row["seed"] = seeds[i]
        o = outcomes[i] or {"status": "error", "error": {"type": "RuntimeError", "message": "not run", "traceback": ""}}
        values = {**o.get("scalars", {}), **o.get("arrays", {})}
        for k in o.get("names") or values:  # fn's own order (the store's JSON sorts its keys)
            row[k] = values[k]
            results.setdefault(k, None)
        err = o.get("error") if o["status"] != "ok" else None
        row["error"] = None if err is None else f"{err['type']}: {err['message']}"
        row["error_traceback"] = None if err is None else err["traceback"]
        rows.append(row)
    columns = list(params) + (["seed"] if seeds is not None else []) + list(results) + list(_ERROR_COLUMNS)
    table = pd.DataFrame(rows, columns=columns)
    for k in results:  # arrays stay whole (pandas would otherwise try to align them)
        if any(isinstance(r.get(k), np.ndarray) for r in rows):
            table[k] = pd.Series([r.get(k) for r in rows], dtype=object, index=table.index)
    for k in _ERROR_COLUMNS:  # the same dtype (object, None when fine) whether or not a point failed
        table[k] = pd.Series([r[k] for r in rows], dtype=object, index=table.index)
    return table


class _CallableModule(types.ModuleType):
    """``import plasticity.sweep`` rebinds ``plasticity.sweep`` to this module: keep it callable."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
sys.modules[__name__].__signature__ = inspect.signature(sweep)
