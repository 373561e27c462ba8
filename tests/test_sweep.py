"""plasticity.sweep: grid order, local processes, the resumable store, errors, per-point seeds."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import plasticity
from plasticity.sweep import load_store, point_seed

HERE = Path(__file__).parent
if str(HERE) not in sys.path:  # the point functions live beside this file, importable by workers
    sys.path.insert(0, str(HERE))
import _sweep_points as pts  # noqa: E402


def assert_same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal columns, dtypes and values; array cells compared element by element."""
    assert list(a.columns) == list(b.columns)
    arrays = [c for c in a.columns if any(isinstance(v, np.ndarray) for v in a[c])]
    pd.testing.assert_frame_equal(a.drop(columns=arrays), b.drop(columns=arrays))
    for c in arrays:
        for u, v in zip(a[c], b[c]):
            np.testing.assert_array_equal(u, v)


def test_product_grid_in_order_with_python_scalars_and_arrays(tmp_path):
    table = plasticity.sweep(pts.square, {"x": [1, 2, 3], "scale": [1.0, 0.5]}, scheduler="serial")
    stored = plasticity.sweep(pts.square, {"x": [1, 2, 3], "scale": [1.0, 0.5]}, store=tmp_path, scheduler="serial")
    reread = plasticity.sweep(pts.square, {"x": [1, 2, 3], "scale": [1.0, 0.5]}, store=tmp_path, scheduler="serial")
    assert_same_table(table, stored)
    assert_same_table(table, reread)  # the same columns, in fn's order, and dtypes when read back
    # itertools.product order: the last parameter varies fastest
    assert table[["x", "scale"]].values.tolist() == [[1, 1.0], [1, 0.5], [2, 1.0], [2, 0.5], [3, 1.0], [3, 0.5]]
    assert list(table.columns) == ["x", "scale", "y", "n", "big", "label", "trace", "error", "error_traceback"]
    np.testing.assert_array_equal(table["y"], [1.0, 0.5, 4.0, 2.0, 9.0, 4.5])
    assert table["n"].dtype == np.int64 and table["big"].dtype == bool
    assert table["label"].tolist() == [f"x={x}" for x in (1, 1, 2, 2, 3, 3)]
    assert all(isinstance(v, np.ndarray) for v in table["trace"])
    np.testing.assert_array_equal(table["trace"][4], [0.0, 3.0, 6.0])
    assert table["error"].isna().all()


def test_awkward_scalars_survive_the_store(tmp_path):
    def odd(x):
        return {"z": complex(x, -1), "nan": float("nan"), "inf": -np.inf, "none": None, "zero_d": np.array(2.5)}

    fresh = plasticity.sweep(odd, {"x": [1]}, store=tmp_path, scheduler="serial")
    again = plasticity.sweep(odd, {"x": [1]}, store=tmp_path, scheduler="serial")  # read from the store
    for table in (fresh, again):
        row = table.iloc[0]
        assert row["z"] == 1 - 1j and np.isnan(row["nan"]) and row["inf"] == -np.inf and row["zero_d"] == 2.5
        assert row["none"] is None


def test_explicit_points_and_callable_module():
    import plasticity.sweep as module  # rebinds plasticity.sweep to the module: it must stay callable

    points = [{"x": 3}, {"x": 1, "scale": 2.0}]
    table = plasticity.sweep(pts.square, points, scheduler="serial")
    assert plasticity.sweep is module
    assert table["x"].tolist() == [3, 1]
    assert table["y"].tolist() == [9.0, 2.0]


def test_serial_and_two_processes_give_the_same_table():
    grid = {"x": [0, 1, 2, 3, 4, 5]}
    serial = plasticity.sweep(pts.slow_logged, grid, scheduler="serial")
    parallel = plasticity.sweep(pts.slow_logged, grid, max_workers=2, progress=False)
    assert_same_table(serial, parallel)


def test_lambda_refused_for_processes_but_fine_in_process():
    with pytest.raises(TypeError, match="picklable"):
        plasticity.sweep(lambda x: {"y": x}, {"x": [1, 2]}, max_workers=2)
    table = plasticity.sweep(lambda x: {"y": x}, {"x": [1, 2]}, max_workers=1)
    assert table["y"].tolist() == [1, 2]


@pytest.mark.parametrize("grid, match", [
    ({"x": 3}, "grid\\['x'\\] must be a list"),
    ({"x": []}, "at least one value"),
    ([], "at least one point"),
    ("x", "dict of lists or a list of dicts"),
    ({"x": [object()]}, "for 'x'"),
    ([{"x": 1}, {"x": 1}], "must not repeat"),
])
def test_bad_grid_is_refused(grid, match):
    with pytest.raises((TypeError, ValueError), match=match):
        plasticity.sweep(pts.square, grid, scheduler="serial")


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="retries must be an integer in \\[0, inf\\); got -1"):
        plasticity.sweep(pts.square, {"x": [1]}, retries=-1)
    with pytest.raises(ValueError, match="scheduler"):
        plasticity.sweep(pts.square, {"x": [1]}, scheduler="fast")
    with pytest.raises(TypeError, match="seed"):
        plasticity.sweep(pts.square, {"x": [1]}, seed=1.5)
    with pytest.raises(TypeError, match="'square' takes no 'seed' parameter"):
        plasticity.sweep(pts.square, {"x": [1]}, seed=1)


def test_result_clashing_with_a_parameter_is_an_error_of_that_point():
    table = plasticity.sweep(lambda x: {"x": 2}, {"x": [1]}, scheduler="serial")
    assert table["error"][0].startswith("ValueError: sweep: fn returned 'x'")


# -- errors ---------------------------------------------------------------------------------
def test_errors_are_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("SWEEP_CALL_LOG", str(log))
    table = plasticity.sweep(pts.fails_on_two, {"x": [1, 2, 3]}, scheduler="serial", retries=2)
    assert table["y"].tolist()[0::2] == [1, 3] and np.isnan(table["y"][1])
    assert table["error"][1] == "ValueError: x=2 is not allowed here"
    assert "Traceback" in table["error_traceback"][1] and "fails_on_two" in table["error_traceback"][1]
    assert table["error"][[0, 2]].isna().all()
    assert pts.calls(log).count("2") == 3  # the first call and 2 retries
    assert pts.calls(log).count("1") == 1


def test_errored_points_are_recorded_in_the_store_and_retried_on_rerun(tmp_path, monkeypatch):
    log, flag, store = tmp_path / "calls.log", tmp_path / "flag", tmp_path / "store"
    monkeypatch.setenv("SWEEP_CALL_LOG", str(log))
    monkeypatch.setenv("SWEEP_FLAG", str(flag))
    first = plasticity.sweep(pts.fails_until_flag, {"x": [0, 1, 2]}, store=store, scheduler="serial", retries=0)
    assert first["error"][1] == "RuntimeError: flag missing"
    records = [json.loads(p.read_text()) for p in (store / "points").glob("*.json")]
    failed = [r for r in records if r["status"] == "error"]
    assert len(records) == 3 and len(failed) == 1
    assert failed[0]["error"]["type"] == "RuntimeError" and "flag missing" in failed[0]["error"]["traceback"]
    flag.touch()
    second = plasticity.sweep(pts.fails_until_flag, {"x": [0, 1, 2]}, store=store, scheduler="serial", retries=0)
    assert second["y"].tolist() == [0, 1, 2] and second["error"].isna().all()
    assert pts.calls(log) == ["0", "1", "2", "1"]  # only the failed point ran again


# -- store -----------------------------------------------------------------------------------
def test_rerun_reads_the_store_and_runs_only_missing_points(tmp_path, monkeypatch):
    log, store = tmp_path / "calls.log", tmp_path / "store"
    monkeypatch.setenv("SWEEP_CALL_LOG", str(log))
    grid = {"x": [0, 1, 2, 3]}
    first = plasticity.sweep(pts.slow_logged, grid, store=store, scheduler="serial")
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["schema"] == 1 and manifest["plasticity_version"] == plasticity.__version__
    assert manifest["function"]["qualname"] == "slow_logged" and len(manifest["function"]["source_sha256"]) == 64
    assert manifest["grid"]["n_points"] == 4
    for p in (store / "points").glob("*.json"):  # forget point x = 2
        if json.loads(p.read_text())["point"] == {"x": 2}:
            p.unlink()
    second = plasticity.sweep(pts.slow_logged, grid, store=store, scheduler="serial")
    assert pts.calls(log) == ["0", "1", "2", "3", "2"]
    assert_same_table(first, second)
    assert_same_table(first, load_store(store))


def test_store_from_another_grid_function_or_seed_is_refused(tmp_path):
    store = tmp_path / "store"
    table = plasticity.sweep(pts.draw, {"x": [1, 2]}, store=store, scheduler="serial", seed=1)
    assert_same_table(table, load_store(store))  # with its derived seed column
    with pytest.raises(ValueError, match="store .* another grid"):
        plasticity.sweep(pts.draw, {"x": [1, 2, 3]}, store=store, scheduler="serial", seed=1)
    with pytest.raises(ValueError, match="store .* another function"):
        plasticity.sweep(lambda x, seed: {}, {"x": [1, 2]}, store=store, scheduler="serial", seed=1)
    with pytest.raises(ValueError, match="store .* seed=1"):
        plasticity.sweep(pts.draw, {"x": [1, 2]}, store=store, scheduler="serial", seed=2)


def test_store_refused_when_a_module_level_value_changes(tmp_path, monkeypatch):
    store = tmp_path / "store"
    plasticity.sweep(pts.scaled, {"x": [1, 2]}, store=store, scheduler="serial")
    plasticity.sweep(pts.scaled, {"x": [1, 2]}, store=store, scheduler="serial")  # same values: accepted
    monkeypatch.setattr(pts, "SCALE", 2.0)
    with pytest.raises(ValueError, match="store .* module-level values or functions it uses changed"):
        plasticity.sweep(pts.scaled, {"x": [1, 2]}, store=store, scheduler="serial")


def test_store_shared_between_python_m_and_import(tmp_path, monkeypatch):
    """A study started as ``python -m module`` resumes under the CLI (module imported): the
    function's ``__name__`` global differs between the two and must not make the store foreign."""
    store, log = tmp_path / "store", tmp_path / "calls.log"
    env = dict(os.environ, SWEEP_CALL_LOG=str(log))
    subprocess.run([sys.executable, "-m", "_sweep_points", str(store)], cwd=HERE, env=env, check=True)
    assert pts.calls(log) == ["1", "2"]
    monkeypatch.setenv("SWEEP_CALL_LOG", str(log))
    table = plasticity.sweep(pts.named, {"x": [1, 2]}, store=store, scheduler="serial")
    assert pts.calls(log) == ["1", "2"]  # nothing recomputed
    assert list(table["y"]) == [1, 2]


def test_local_workers_share_the_cores():
    """Each of the local worker processes sizes its pools (numba, numpy's OpenBLAS, later-loaded
    BLAS through the environment) to its share of the cores, so that workers never oversubscribe."""
    workers = 2
    share = max(1, (os.cpu_count() or 1) // workers)
    table = plasticity.sweep(pts.pool_sizes, {"x": [0, 1, 2, 3]}, max_workers=workers, progress=False)
    assert set(table["env"]) == {share} and set(table["numba"]) <= {share}
    assert set(table["numpy_blas"]) <= {share, -1}


def test_progress_bar_only_when_asked(capsys):
    plasticity.sweep(pts.square, {"x": [1, 2, 3]}, scheduler="serial", progress=False)
    assert capsys.readouterr().err == ""
    plasticity.sweep(pts.square, {"x": [1, 2, 3]}, scheduler="serial", progress=True)
    assert "3/3" in capsys.readouterr().err
    plasticity.sweep(pts.square, {"x": [1, 2, 3]}, scheduler="serial")  # not a terminal, a short sweep
    assert capsys.readouterr().err == ""


def test_partial_and_temporary_files_are_ignored(tmp_path):
    store = tmp_path / "store"
    grid = {"x": [1, 2]}
    first = plasticity.sweep(pts.square, grid, store=store, scheduler="serial")
    records = sorted((store / "points").glob("*.json"))
    records[0].write_text(records[0].read_text()[:20])  # a torn record (as from a non-atomic writer)
    elsewhere = store / "points" / ".tmp-otherhost-1-2-abc.json"  # maybe a live writer on another host
    elsewhere.write_text("{")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = store / "points" / f".tmp-{socket.gethostname()}-{int(dead.stdout)}-5-abc.json"  # a dead writer here
    orphan.write_text("{")
    again = plasticity.sweep(pts.square, grid, store=store, scheduler="serial")
    assert_same_table(first, again)
    json.loads(records[0].read_text())  # rewritten whole
    assert elsewhere.exists() and not orphan.exists()


def test_killed_sweep_resumes_without_recomputing_stored_points(tmp_path):
    """SIGKILL the whole process group of a sweep midway; the rerun runs only what is missing."""
    store, log = tmp_path / "store", tmp_path / "calls.log"
    n = 16
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        import plasticity, _sweep_points
        plasticity.sweep(_sweep_points.slow_logged, {{"x": list(range({n}))}}, store={str(store)!r},
                         max_workers=2, progress=False)
    """)
    env = dict(os.environ, SWEEP_CALL_LOG=str(log), SWEEP_SLEEP="0.3")
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    try:
        while len(list((store / "points").glob("[!.]*.json"))) < 3:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "the sweep stored nothing within 60 s"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, as a batch system would
        proc.wait()
    stored_x = {json.loads(p.read_text())["point"]["x"] for p in (store / "points").glob("[!.]*.json")}
    calls_before = len(pts.calls(log))
    assert 3 <= len(stored_x) < n
    env_log = os.environ.get("SWEEP_CALL_LOG")
    os.environ["SWEEP_CALL_LOG"] = str(log)
    try:
        table = plasticity.sweep(pts.slow_logged, {"x": list(range(n))}, store=store, scheduler="serial")
    finally:
        if env_log is None:
            del os.environ["SWEEP_CALL_LOG"]
        else:
            os.environ["SWEEP_CALL_LOG"] = env_log
    rerun = [int(x) for x in pts.calls(log)[calls_before:]]
    assert sorted(rerun) == sorted(set(range(n)) - stored_x)  # each missing point once, no stored one
    assert table["y"].tolist() == [2 * x for x in range(n)] and table["error"].isna().all()
    files = list((store / "points").iterdir())
    assert not [f for f in files if f.name.startswith(".")]  # the dead writers' temporaries are gone
    for f in files:  # every file is whole
        if f.suffix == ".json":
            json.loads(f.read_text())
        else:
            with np.load(f, allow_pickle=False) as z:
                assert z["ys"].shape == (4,)


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's zombie waits for a reaper we do not control)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_the_driver_is_killed(tmp_path):
    """SIGKILL the driver alone (not its process group): its pool workers must not live on."""
    log = tmp_path / "calls.log"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        import plasticity, _sweep_points
        plasticity.sweep(_sweep_points.logged_pid, {{"x": list(range(8))}}, max_workers=2, progress=False)
    """)
    env = dict(os.environ, SWEEP_CALL_LOG=str(log), SWEEP_SLEEP="60")
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(set(pts.calls(log))) < 2:  # both workers are inside a 60 s point
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "the workers did not start within 60 s"
            time.sleep(0.01)
        workers = {int(p) for p in pts.calls(log)}
        assert proc.pid not in workers and all(_running(p) for p in workers)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while any(_running(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in workers if _running(p)], "a worker outlived its driver by 10 s"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left, if the test failed
        except ProcessLookupError:
            pass


# -- seeds -------------------------------------------------------------------------------------
def test_point_seeds_do_not_depend_on_order_or_workers():
    points = [{"x": x} for x in range(6)]
    serial = plasticity.sweep(pts.draw, points, scheduler="serial", seed=7)
    parallel = plasticity.sweep(pts.draw, points[::-1], max_workers=2, seed=7, progress=False)
    parallel = parallel.iloc[::-1].reset_index(drop=True)
    assert_same_table(serial, parallel)
    assert serial["seed"].tolist() == serial["seed_seen"].tolist()
    assert serial["seed"].tolist() == [point_seed(7, p) for p in points]
    assert len(set(serial["u"])) == 6  # distinct points, distinct streams
    other = plasticity.sweep(pts.draw, points, scheduler="serial", seed=8)
    assert not np.any(other["u"].to_numpy() == serial["u"].to_numpy())
    # a row is reproduced from its parameters and its seed
    row = serial.iloc[3]
    assert pts.draw(x=int(row["x"]), seed=int(row["seed"]))["u"] == row["u"]


def test_grid_seed_is_not_overridden():
    table = plasticity.sweep(pts.draw, {"x": [1], "seed": [11, 12]}, scheduler="serial", seed=3)
    assert table["seed_seen"].tolist() == [11, 12]
    assert table["u"].tolist() == [np.random.default_rng(s).random() for s in (11, 12)]


def test_point_seed_is_stable_across_processes():
    code = "from plasticity.sweep import point_seed; print(point_seed(7, {'x': 1, 'g': 0.5}))"
    out = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=dict(os.environ, PYTHONHASHSEED=str(h))).stdout.strip() for h in (1, 2)}
    assert out == {str(point_seed(7, {"g": 0.5, "x": 1}))}
