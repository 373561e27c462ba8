"""Where the points of a sweep run: in this process, local processes, an Executor, or Dask.

Each runner is a generator of ``(index, outcome)`` in completion order. An outcome is a plain
picklable dict built in the process that ran the point by :func:`run_point`, which catches the
point's exceptions (retrying them) so that one failing point never stops a sweep.
"""
from __future__ import annotations

import functools
import os
import pickle
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

__all__ = ["runner", "run_point", "error_info"]


# -- one point, in whichever process runs it -----------------------------------------------
def run_point(fn: Callable, kwargs: dict[str, Any], retries: int, reserved: list[str]) -> dict[str, Any]:
    """Call ``fn(**kwargs)`` up to ``1 + retries`` times; a picklable outcome dict, never raises."""
    t0 = time.perf_counter()
    for attempt in range(1, retries + 2):
        try:
            out = fn(**kwargs)
        except Exception as e:
            error = error_info(e)
            continue
        try:
            scalars, arrays = _split_result(out, reserved)
        except (TypeError, ValueError) as e:  # the same output again would fail again: no retry
            return {"status": "error", "error": error_info(e), "attempts": attempt, "elapsed": time.perf_counter() - t0}
        return {"status": "ok", "scalars": scalars, "arrays": arrays, "names": list(out), "attempts": attempt,
                "elapsed": time.perf_counter() - t0}
    return {"status": "error", "error": error, "attempts": retries + 1, "elapsed": time.perf_counter() - t0}


def error_info(e: BaseException) -> dict[str, str]:
    kind = type(e).__qualname__ if type(e).__module__ == "builtins" else f"{type(e).__module__}.{type(e).__qualname__}"
    return {"type": kind, "message": str(e),
            "traceback": "".join(traceback.format_exception(type(e), e, e.__traceback__))}


def _split_result(out: Any, reserved: list[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if not isinstance(out, Mapping):
        raise TypeError(f"sweep: fn must return a dict of scalars and arrays; got {type(out).__name__}")
    scalars: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for k, v in out.items():
        if not isinstance(k, str) or not k or "/" in k:
            raise TypeError(f"sweep: fn's result keys must be non-empty names without '/'; got {k!r}")
        if k in reserved:
            raise ValueError(f"sweep: fn returned {k!r}, which is a grid parameter or a column the sweep adds "
                             f"({', '.join(reserved)}); rename it")
        if isinstance(v, np.ndarray) and v.ndim == 0:
            v = v[()]
        if isinstance(v, np.generic):
            v = v.item()
        if v is None or isinstance(v, (bool, int, float, complex, str)):
            scalars[k] = v
            continue
        if isinstance(v, (list, tuple, np.ndarray)) or hasattr(v, "__array__"):
            a = np.asarray(v)
            if a.dtype.hasobject:
                raise TypeError(f"sweep: fn's result {k!r} must be a numeric or string array (stored without "
                                f"pickle); got an array of Python objects")
            arrays[k] = a
            continue
        raise TypeError(f"sweep: fn's result {k!r} must be a scalar or an array; got {type(v).__name__}")
    return scalars, arrays


# -- runners: each yields (index, outcome) as points finish ------------------------------------
def runner(fn: Callable, scheduler: Any, max_workers: int | None) -> Callable[..., Iterator[tuple[int, dict]]]:
    from concurrent.futures import Executor

    if scheduler is None or scheduler == "processes":
        if max_workers == 1:
            return _run_serial
        try:
            pickle.dumps(fn)
        except Exception as e:
            raise TypeError(f"sweep: fn must be picklable to run in local processes (a function defined at module "
                            f"level, not a lambda or a local function); got {fn!r} ({e}). "
                            "Use scheduler='serial' (or max_workers=1) to run it in this process.") from e
        return functools.partial(_run_processes, max_workers=max_workers or os.cpu_count() or 1)
    if scheduler == "serial":
        return _run_serial
    if isinstance(scheduler, str):
        if ":" not in scheduler:
            raise ValueError(f"sweep: scheduler must be None, 'serial', 'processes', a Dask address such as "
                             f"'tcp://127.0.0.1:8786' or a dask.distributed.Client; got {scheduler!r}")
        return functools.partial(_run_dask, scheduler=scheduler)
    if type(scheduler).__module__.split(".")[0] == "distributed" and hasattr(scheduler, "submit"):
        return functools.partial(_run_dask, scheduler=scheduler)
    if isinstance(scheduler, Executor):
        return functools.partial(_run_executor, executor=scheduler)
    raise TypeError(f"sweep: scheduler must be None, 'serial', a Dask address or Client, or an Executor; "
                    f"got {type(scheduler).__name__}")


def _run_serial(fn, todo, retries, reserved):
    for i, kwargs in todo:
        yield i, run_point(fn, kwargs, retries, reserved)


def _run_executor(fn, todo, retries, reserved, executor, broken=()):
    """Yield outcomes as they finish; points lost to a broken pool go to ``broken`` (a list)."""
    from concurrent.futures import as_completed

    futures = {executor.submit(run_point, fn, kwargs, retries, reserved): (i, kwargs) for i, kwargs in todo}
    try:
        for f in as_completed(futures):
            i, kwargs = futures[f]
            try:
                outcome = f.result()
            except Exception as e:
                if type(e).__name__ == "BrokenProcessPool" and isinstance(broken, list):
                    broken.append((i, kwargs))
                    continue
                outcome = {"status": "error", "error": error_info(e), "attempts": 1, "elapsed": 0.0}
            yield i, outcome
    finally:
        for f in futures:
            f.cancel()


def _run_processes(fn, todo, retries, reserved, max_workers):
    """A process pool; a pool broken by a dying worker is rebuilt up to ``retries`` times."""
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // max_workers)
    for _ in range(retries + 1):
        broken: list = []
        pool = ProcessPoolExecutor(max_workers=min(max_workers, max(1, len(todo))),
                                   initializer=_init_worker, initargs=(threads,))
        completed = False
        try:
            yield from _run_executor(fn, todo, retries, reserved, pool, broken)
            completed = True
        finally:  # interrupted: do not wait for the points still running
            pool.shutdown(wait=completed, cancel_futures=True)
        if not broken:
            return
        todo = broken
    for i, _ in todo:
        yield i, {"status": "error", "attempts": retries + 1, "elapsed": 0.0,
                  "error": {"type": "BrokenProcessPool", "message": "a worker process died while running this point",
                            "traceback": ""}}


def _init_worker(threads: int) -> None:
    """A local worker: its thread pools sized to its share of the cores, and exit when the driver dies."""
    from plasticity._threads import limit_threads

    limit_threads(threads)
    _exit_with_parent()


#: Seconds between a worker's checks that its parent (the sweep's driver) is alive.
PARENT_POLL = 0.25


def _exit_with_parent() -> None:
    """A daemon thread ends this worker when its parent process dies (SIGKILL of the driver
    gives the pool no chance to stop its workers; an orphan is re-parented, so its parent pid
    changes). Polling rather than ``PR_SET_PDEATHSIG``, which fires when the parent *thread*
    that started the worker ends, and which exists only on Linux."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="plasticity-exit-with-parent", daemon=True).start()


#: Seconds to wait for a Dask scheduler given by address before giving up.
DASK_CONNECT_TIMEOUT = 10.0


def _connect(scheduler: str):
    from distributed import Client

    try:
        return Client(scheduler, set_as_default=False, timeout=DASK_CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as e:
        raise ValueError(f"sweep: scheduler must be the address of a reachable Dask scheduler; got {scheduler!r}, "
                         f"which did not answer within {DASK_CONNECT_TIMEOUT:g} s ({type(e).__name__}: {e})") from e


def _run_dask(fn, todo, retries, reserved, scheduler):
    from distributed import as_completed

    client = _connect(scheduler) if isinstance(scheduler, str) else scheduler
    futures = {}
    try:
        for i, kwargs in todo:
            futures[client.submit(run_point, fn, kwargs, retries, reserved, pure=False, retries=retries)] = i
        for f in as_completed(list(futures), loop=client.loop):
            i = futures.pop(f)
            try:  # a result lost with its worker since it finished is recomputed by Dask: result() waits for it
                outcome = f.result()
            except Exception as e:  # lost beyond Dask's own rescheduling (KilledWorker) or cancelled
                outcome = {"status": "error", "error": error_info(e), "attempts": retries + 1, "elapsed": 0.0}
            f.release()
            yield i, outcome
    finally:
        if futures:
            client.cancel(list(futures))
        if isinstance(scheduler, str):
            client.close()
