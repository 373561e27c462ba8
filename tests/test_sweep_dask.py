"""plasticity.sweep on a Dask cluster: the same table as serially, and a worker killed mid-sweep."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import plasticity

distributed = pytest.importorskip("distributed")

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import _sweep_points as pts  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    import cloudpickle

    # workers need not find tests/ on their path: the helper module travels by value
    cloudpickle.register_pickle_by_value(pts)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        yield c
    cloudpickle.unregister_pickle_by_value(pts)


def assert_same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    arrays = [c for c in a.columns if any(isinstance(v, np.ndarray) for v in a[c])]
    pd.testing.assert_frame_equal(a.drop(columns=arrays), b.drop(columns=arrays))
    for c in arrays:
        for u, v in zip(a[c], b[c]):
            np.testing.assert_array_equal(u, v)


def test_dask_client_and_address_give_the_serial_table(cluster):
    grid = {"x": [1, 2, 3, 4], "scale": [1.0, 0.25]}
    serial = plasticity.sweep(pts.square, grid, scheduler="serial")
    with distributed.Client(cluster, set_as_default=False) as client:
        on_client = plasticity.sweep(pts.square, grid, scheduler=client, progress=False)
    on_address = plasticity.sweep(pts.square, grid, scheduler=cluster.scheduler_address, progress=False)
    assert_same_table(serial, on_client)
    assert_same_table(serial, on_address)


def test_dask_seeds_and_errors_match_serial(cluster):
    points = [{"x": x} for x in range(5)]
    serial = plasticity.sweep(pts.draw, points, scheduler="serial", seed=3)
    on_dask = plasticity.sweep(pts.draw, points, scheduler=cluster.scheduler_address, seed=3, progress=False)
    assert_same_table(serial, on_dask)
    failed = plasticity.sweep(pts.fails_on_two, {"x": [1, 2]}, scheduler=cluster.scheduler_address, progress=False)
    assert failed["error"].tolist() == [None, "ValueError: x=2 is not allowed here"]


def test_sweep_completes_when_a_worker_is_killed(cluster, tmp_path):
    grid = {"x": list(range(8))}  # 8 points of 0.4 s on 2 workers: about 1.6 s of work
    with distributed.Client(cluster, set_as_default=False) as client:
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        killed_at = []

        def kill():
            os.kill(victim, signal.SIGKILL)
            killed_at.append(time.monotonic())

        timer = threading.Timer(0.6, kill)  # both workers are busy then (a point takes 0.4 s)
        start = time.monotonic()
        timer.start()
        table = plasticity.sweep(pts.sleepy, grid, scheduler=client, store=tmp_path / "store", progress=False)
        finished = time.monotonic()
        timer.join()
        client.wait_for_workers(2, timeout=60)  # the nanny restarts the worker for the next test
    assert killed_at and start < killed_at[0] < finished  # killed while the sweep ran
    assert table["error"].isna().all()
    assert table["y"].tolist() == [3 * x for x in range(8)]
    for x, a in zip(table["x"], table["pid_independent"]):
        np.testing.assert_array_equal(a, np.arange(x + 1))


def test_sweep_completes_when_a_worker_dies_holding_finished_results(cluster, tmp_path, monkeypatch):
    """A worker is killed after its points finished and before the sweep gathered them: their
    futures are lost, not failed (``f.exception()`` is None); Dask recomputes them and the sweep
    waits for the new results."""
    from plasticity._store import PointStore

    grid = {"x": list(range(8))}
    write = PointStore.write_point
    killed = []
    with distributed.Client(cluster, set_as_default=False) as client:
        pids = client.run(os.getpid)

        def write_then_kill(self, key, record, arrays):
            write(self, key, record, arrays)
            if killed:
                return
            # the sweep is here after its first point: wait until every point has finished, then
            # kill the worker holding the most finished results the sweep has not gathered yet
            deadline = time.monotonic() + 30
            while any(client.processing().values()):
                assert time.monotonic() < deadline, "the points did not all finish"
                time.sleep(0.02)
            address, keys = max(client.has_what().items(), key=lambda item: len(item[1]))
            killed.append((address, len(keys)))
            os.kill(pids[address], signal.SIGKILL)
            while address in client.has_what():  # the scheduler has seen the death: the futures are lost
                assert time.monotonic() < deadline, "the scheduler did not notice the dead worker"
                time.sleep(0.02)

        monkeypatch.setattr(PointStore, "write_point", write_then_kill)
        table = plasticity.sweep(pts.sleepy_short, grid, scheduler=client, store=tmp_path / "store", progress=False)
        client.wait_for_workers(2, timeout=60)
    assert killed and killed[0][1] >= 2  # results the sweep had not gathered were lost with the worker
    assert table["error"].isna().all()
    assert table["y"].tolist() == [3 * x for x in range(8)]
    for x, a in zip(table["x"], table["pid_independent"]):
        np.testing.assert_array_equal(a, np.arange(x + 1))


def test_sweep_completes_when_a_worker_dies_mid_point(cluster, tmp_path):
    flag = tmp_path / "died"
    with distributed.Client(cluster, set_as_default=False) as client:
        table = plasticity.sweep(pts.dies_once, {"x": list(range(6)), "flag": [str(flag)]}, scheduler=client,
                                 progress=False)
        client.wait_for_workers(2, timeout=60)
    assert flag.exists()  # a worker did die in the middle of point 0
    assert table["error"].isna().all()
    assert table["y"].tolist() == [3 * x for x in range(6)]
    for x, a in zip(table["x"], table["pid_independent"]):
        np.testing.assert_array_equal(a, np.arange(x + 1))
