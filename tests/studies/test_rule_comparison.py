"""studies/rule_comparison.py: the headline study at a tiny size (n_E = 200, one seed), its tables and
figure, and the shared rule palette. Its library is tested in tests/models/test_assemblies.py,
test_ei_conditions.py, test_frozen_stability.py and tests/metrics/test_retention.py, test_outcomes.py."""
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.assemblies import assembly_groups
from plasticity import plot
from plasticity.metrics.retention import retention_index
from studies import rule_comparison as rc

TINY = {"condition": list(rc.CONDITION_NAMES), "seed": [0], "n_exc": [200], "n_inh": [50]}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The study's harness on the tiny grid (serial): (per-point table, output directory)."""
    from plasticity.study import run_study

    out = tmp_path_factory.mktemp("rule_comparison")
    table = run_study(rc.NAME, TINY, rc.point, rc.figure, quick=TINY, summarize=rc.summarize,
                      argv=["--quick", "--out", str(out), "--scheduler", "serial", "--no-progress"])
    return table.set_index("condition", drop=False), out


def test_tiny_grid_writes_figure_and_both_tables(tiny):
    table, out = tiny
    assert table["error"].isna().all(), table["error"].dropna().to_dict()
    for name in ("fig_rule_comparison.png", "fig_rule_comparison.pdf", "results.csv", "results.parquet",
                 "points.csv", "points.parquet"):
        assert (out / name).stat().st_size > 0, name
    summary = pd.read_csv(out / "results.csv")
    assert list(summary["condition"]) == list(rc.CONDITION_NAMES)  # one row per condition, study order
    assert set(summary["outcome"]) <= set(rc.OUTCOMES) and (summary["runs"] == 1).all()
    for row in summary.itertuples():  # one seed: the counts name the single outcome
        assert row.outcome_counts == f"{row.outcome} 1"
    points = pd.read_csv(out / "points.csv")
    for col in ("condition", "seed", "outcome", "settle_time", "rate_error", "retention", "recall",
                "spectral_radius", "activity_variance", "max_lyapunov", "diverged", "diverged_at", "reason"):
        assert col in points.columns, col
    assert len(points) == len(rc.CONDITION_NAMES)


def test_hebbian_alone_runs_away(tiny):
    table, _ = tiny
    assert table.loc["hebbian", "outcome"] in ("runaway", "diverged")


def test_a_compensated_condition_holds_the_set_point(tiny):
    table, _ = tiny
    held = [c for c in ("hebbian+scaling_fast", "hebbian+inhibitory")
            if table.loc[c, "outcome"] == "stable" and abs(table.loc[c, "rate_error"]) < 0.10]
    assert held, table.loc[["hebbian+scaling_fast", "hebbian+inhibitory"], ["outcome", "rate_error"]]


def test_no_plasticity_writes_no_structure(tiny):
    table, _ = tiny
    row = table.loc["none"]
    # every E->E weight stays w0: the ratio of means is 1 up to rounding
    assert row["retention"] == pytest.approx(1.0, abs=1e-12)
    assert row["retention_learned"] == pytest.approx(1.0, abs=1e-12)
    assert row["J_EE"] == pytest.approx(0.5, rel=0.1)  # J_EE = 0.5 with binomial in-degrees (mean of 200 rows)


def test_inhibitory_plasticity_keeps_the_assemblies(tiny):
    # E->E is left to Hebbian learning: what the patterns wrote survives the free phase
    table, _ = tiny
    row = table.loc["hebbian+inhibitory"]
    assert not row["diverged"]
    assert row["retention_learned"] > 1.3 and row["retention"] > 1.2


def test_diverged_runs_are_measured_at_divergence(tiny):
    table, _ = tiny
    diverged = table[table["diverged"].astype(bool)]
    assert len(diverged) >= 1 and "hebbian" in diverged.index
    for cond, row in diverged.iterrows():
        assert row["outcome"] == "diverged"
        # the metrics describe the last finite state: one step before the first bad one
        assert row["diverged_at"] - row["measured_at"] == pytest.approx(rc.DT, abs=1e-9), cond
        t = np.asarray(row["t"])
        assert t[-1] <= row["diverged_at"] and np.all(np.isfinite(row["rate_E"])), cond
        assert math.isnan(row["settle_time"]) and math.isnan(row["recall"]) and "recall" in row["reason"], cond
        assert f"at t={row['diverged_at']:.1f}" in row["reason"], cond
        for col, why in (("retention", "retention:"), ("spectral_radius", "spectral radius"),
                         ("max_lyapunov", "max_lyapunov")):
            assert np.isfinite(row[col]) or why in row["reason"], (cond, col)  # measured, or NaN with a reason


def test_diverged_metrics_come_from_the_weights_at_divergence(monkeypatch):
    # capture the network the point builds: a diverged run is not measured after, so the network
    # still holds the weights at divergence; the reported numbers must be those, not a checkpoint's
    made = []
    original = rc.RateNetwork.ei

    def capture(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(rc.RateNetwork, "ei", capture)
    out = rc.point("hebbian", 0, 200, 50)
    net = made[0]
    assert out["diverged"] and out["diverged_phase"] == "learning"
    W = net.weights("EE")
    assert out["J_EE"] == pytest.approx(W.sum(axis=1).mean(), rel=1e-12)
    groups = assembly_groups(200, rc.K, 0)
    assert out["retention"] == pytest.approx(retention_index(W, net.connectivity("EE"), groups), rel=1e-12)
    assert out["J_EE"] > 10 * 0.5  # far above the start and any checkpoint before the runaway
    assert out["measured_at"] == pytest.approx(net.t - rc.T_SETTLE, abs=1e-9)


def test_summary_majority_outcome_and_counts():
    rows = [("bcm", 0, "stable"), ("bcm", 1, "stable"), ("bcm", 2, "oscillating"),
            ("oja", 0, "diverged"), ("oja", 1, "runaway")]
    table = pd.DataFrame([{"condition": c, "seed": s, "outcome": o, "diverged": o == "diverged", "error": None,
                           "rate_error": 0.1 * s, "retention": np.nan if o == "diverged" else 1.0 + s}
                          for c, s, o in rows])
    summary = rc.summarize(table).set_index("condition")
    assert summary.loc["bcm", "outcome"] == "stable"
    assert summary.loc["bcm", "outcome_counts"] == "stable 2, oscillating 1"
    # a tie goes to the worse outcome (later in OUTCOMES: ..., runaway, diverged)
    assert summary.loc["oja", "outcome"] == "diverged"
    assert summary.loc["oja", "outcome_counts"] == "runaway 1, diverged 1"
    assert summary.loc["bcm", "rate_error"] == pytest.approx(0.1)
    assert summary.loc["oja", "retention"] == pytest.approx(2.0)  # the diverged run's NaN is left out
    assert summary.loc["oja", "diverged"] == 1 and list(summary.index) == ["bcm", "oja"]


def test_figure_draws_every_run_and_marks_divergence(tiny):
    table, _ = tiny
    fig = rc.figure(table.reset_index(drop=True))
    ax_a, ax_b = fig.axes[0], fig.axes[1]
    n_div = int(table["diverged"].astype(bool).sum())
    marks_a = [a for a in ax_a.collections if a.get_gid() == "diverged"]
    runs_a = [a for a in ax_a.collections if a.get_gid() in ("diverged", "run")]
    assert len(marks_a) == n_div and len(runs_a) == len(table)  # diverged runs drawn, not dropped
    labels = [t.get_text() for t in ax_a.texts]
    for cond in table.index[table["diverged"].astype(bool)]:
        assert sum(label.startswith(cond + " (t=") and label.endswith(", 1/1)") for label in labels) == 1, cond
    marks_b = [line for line in ax_b.get_lines() if line.get_gid() == "diverged"]
    assert sorted(m.get_xdata()[0] for m in marks_b) == pytest.approx(sorted(table.loc[table["diverged"].astype(bool),
                                                                                        "diverged_at"]))
    for line in ax_b.get_lines():
        if line.get_label() in rc.CONDITION_NAMES:
            assert line.get_color() == plot.rule_color(line.get_label())
    assert "1 seed" in fig.get_suptitle() and "quick mode" in fig.get_suptitle()


def test_rule_palette_is_fixed_and_distinct():
    colors = [plot.rule_color(c) for c in rc.CONDITION_NAMES]
    assert len(set(colors)) == len(colors)  # every condition of the headline study distinguishable
    assert plot.rule_color("Metaplastic BCM") == plot.RULE_COLORS["metaplastic_bcm"]
    assert plot.rule_color("scaling") == plot.RULE_COLORS["hebbian+scaling_fast"]
    # unknown names: a fixed fallback colour, the same in another process (not Python's salted hash)
    code = "from plasticity.plot import rule_color; print(rule_color('triplet_istdp'), rule_color('pair'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "123"}, cwd=str(Path(rc.__file__).parents[1]))
    assert other.stdout.split() == [plot.rule_color("triplet_istdp"), plot.rule_color("pair")]
    assert plot.rule_color("pair") not in plot.RULE_COLORS.values()  # never mistaken for a known rule
