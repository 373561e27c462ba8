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
