"""plasticity.study.run_study: options, resumable store, tables and figures on disk."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plasticity.study import run_study

# the source of the study module that the ``tiny`` fixture (tests/conftest.py) registers as the study tiny
TINY = '''\
"""Tiny: a parabola sampled on a grid, for the harness tests.

The rest of the docstring is not the one-liner.
"""
import os

import numpy as np

GRID = {"x": [0.0, 1.0, 2.0, 3.0], "seed": [0, 1]}
QUICK = {"x": [0.0, 1.0], "seed": [0]}


def point(x, seed):
    if os.environ.get("TINY_CALL_LOG"):
        with open(os.environ["TINY_CALL_LOG"], "a") as f:
            f.write(f"{x},{seed}\\n")
    if x == 2.0 and seed == 1 and os.environ.get("TINY_FAIL"):
        raise ValueError("bad point")
    rng = np.random.default_rng(seed)
    return {"y": x**2 + 0.01 * rng.standard_normal(), "diverged": x > 2.5, "trace": np.arange(3.0) * x}


def figure(table):
    from plasticity.plot import metric_vs_param, new_figure

    fig, ax = new_figure()
    metric_vs_param(ax, table, "x", "y", xlabel="x (a.u.)", ylabel="y (a.u.)")
    return fig


def summarize(table):
    return table.groupby("x", as_index=False)["y"].mean()


def main(argv=None):
    from plasticity.study import run_study

    return run_study("tiny", GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)
'''


def test_writes_tables_and_figures(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    table = tiny.main(["--out", str(out), "--scheduler", "serial"])
    assert len(table) == 8 and table["error"].isna().all()
    names = {p.name for p in out.iterdir()}
    assert names == {"store", "results.csv", "results.parquet", "points.csv", "points.parquet",
                     "fig_tiny.png", "fig_tiny.pdf"}
    points = pd.read_csv(out / "points.csv")
    assert list(points.columns) == ["x", "seed", "y", "diverged", "error", "error_traceback"]  # no array column
    np.testing.assert_array_equal(points["y"], table["y"])
    pd.testing.assert_frame_equal(pd.read_parquet(out / "points.parquet")[["x", "seed", "y"]], points[["x", "seed", "y"]])
    summary = pd.read_csv(out / "results.csv")
    np.testing.assert_allclose(summary["y"], table.groupby("x")["y"].mean().to_numpy(), rtol=1e-15)
    assert (out / "fig_tiny.pdf").read_bytes().startswith(b"%PDF")
    from PIL import Image

    with Image.open(out / "fig_tiny.png") as im:
        assert im.format == "PNG"
        assert im.info["dpi"] == pytest.approx((200, 200), abs=0.01)  # pHYs chunk, rounded to dots/m
    printed = capsys.readouterr().out
    assert f"tiny: wrote {out / 'fig_tiny.png'}" in printed and "8 of 8 points done" in printed


def test_rerun_reads_the_store(tiny, tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("TINY_CALL_LOG", str(log))
    out = tmp_path / "out"
    first = tiny.main(["--out", str(out), "--scheduler", "serial"])
    second = tiny.main(["--out", str(out), "--max-workers", "2", "--no-progress"])
    assert len(log.read_text().split()) == 8  # nothing recomputed
    pd.testing.assert_frame_equal(first.drop(columns="trace"), second.drop(columns="trace"))
    tiny.main(["--out", str(out), "--scheduler", "serial", "--fresh"])
    assert len(log.read_text().split()) == 16  # everything recomputed


def test_quick_grid_has_its_own_store(tiny, tmp_path):
    out = tmp_path / "out"
    quick = tiny.main(["--out", str(out), "--quick", "--scheduler", "serial"])
    full = tiny.main(["--out", str(out), "--scheduler", "serial"])  # not refused: another store
    assert len(quick) == 2 and len(full) == 8
    assert json.loads((out / "store_quick" / "manifest.json").read_text())["grid"]["n_points"] == 2
    assert json.loads((out / "store" / "manifest.json").read_text())["grid"]["n_points"] == 8


def test_failed_points_are_reported_and_kept(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINY_FAIL", "1")
    out = tmp_path / "out"
    table = tiny.main(["--out", str(out), "--scheduler", "serial", "--retries", "0"])
    assert table["error"].notna().sum() == 1
    assert "1 point(s) failed" in capsys.readouterr().err
    points = pd.read_parquet(out / "points.parquet")  # bools beside a failed point's missing value
    assert points["diverged"].isna().sum() == 1 and points["diverged"].sum() == 2


def test_several_figures_table_columns_and_seed(tmp_path, capsys):
    def figure(table):
        from plasticity.plot import new_figure

        figs = {}
        for key in ("left", "right"):
            figs[key], ax = new_figure()
            ax.plot(table["a"], table["b"])
        return figs

    out = tmp_path / "out"
    table = run_study("demo", {"a": [1, 2, 3]}, _demo_point, figure, argv=["--out", str(out), "--seed", "4",
                      "--scheduler", "serial"], table_columns=["a", "seed", "b"])
    assert {"fig_left.png", "fig_left.pdf", "fig_right.png", "fig_right.pdf"} <= {p.name for p in out.iterdir()}
    written = pd.read_csv(out / "results.csv")
    assert list(written.columns) == ["a", "seed", "b"]
    assert written["seed"].tolist() == table["seed"].tolist() and table["seed"].nunique() == 3
    run_study("demo2", {"a": [1], "seed": [0]}, _demo_point, None, argv=["--out", str(tmp_path / "o2"),
              "--seed", "4", "--scheduler", "serial"])
    assert "--seed 4 has no effect" in capsys.readouterr().err


def _demo_point(a, seed=0):
    return {"b": a + seed}


def test_help_shows_the_study_docstring(tiny, capsys):
    with pytest.raises(SystemExit) as exit_info:
        tiny.main(["--help"])
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    assert "plasticity study run tiny" in shown and "Tiny: a parabola" in shown and "--quick" in shown


def test_listing_studies_imports_no_study():
    import subprocess

    code = textwrap.dedent("""
        import sys, studies
        from plasticity.study_registry import find_studies
        found = find_studies()
        heavy = [m for m in ("numpy", "matplotlib", "pandas", "models", "torch") if m in sys.modules]
        heavy += [m for m in sys.modules if m.startswith("studies.")]
        print(heavy, len(found))
    """)
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo)
    assert out.stdout.startswith("[] ")
