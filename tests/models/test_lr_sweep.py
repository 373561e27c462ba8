"""models.lr_sweep: counts and means of a hand-made sweep table, the transition lr, and the panel that
keeps diverged runs (drawn at their value at divergence)."""
import math

import numpy as np
import pandas as pd
import pytest

from models import lr_sweep


def _table():
    rows = []
    for lr, sat, div, loss in [(0.1, False, False, 1.0), (0.1, False, False, 3.0), (0.3, True, False, 2.0),
                               (0.3, False, False, 4.0), (1.0, True, False, 5.0), (1.0, False, True, math.nan)]:
        rows.append({"lr": lr, "batches": 1, "saturated": sat, "diverged": div, "final_loss": loss,
                     "final_loss_at_divergence": 1e9 if div else math.nan, "diverged_at": 7.0 if div else math.nan,
                     "sharpness": 10.0, "error": None})
    rows.append({**rows[0], "error": "boom"})  # a point that raised is left out
    return pd.DataFrame(rows)


def test_summarize_counts_and_means():
    s = lr_sweep.summarize(_table(), ["final_loss", "sharpness"])
    assert s["runs"].tolist() == [2, 2, 2] and s["diverged"].tolist() == [0, 0, 1]
    assert s["saturated"].tolist() == [0, 1, 1]
    assert s["final_loss"].tolist() == [2.0, 3.0, 5.0]
    assert s["final_loss_sem"].iloc[0] == pytest.approx(1.0)  # std(1, 3) / sqrt(2)
    assert s["final_loss_at_divergence"].iloc[2] == 1e9 and s["diverged_at"].iloc[2] == 7.0
    assert s["lr_times_sharpness"].tolist() == pytest.approx([1.0, 3.0, 10.0])


def test_transition_and_edge_of_stability():
    t = _table()
    assert lr_sweep.transition_lr(t) == pytest.approx(math.sqrt(0.1 * 0.3))
    assert lr_sweep.edge_of_stability_lr(t) == pytest.approx(0.2)
    assert lr_sweep.example_lrs(t) == {"smallest": 0.1, "below": 0.1, "chaotic": 0.3, "largest": 1.0, "diverged": 1.0}


def test_plot_keeps_diverged_runs():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    lr_sweep.plot_vs_lr(ax, lr_sweep.ok_rows(_table()), "final_loss", "C0", "-", "o", "x")
    means = ax.containers[0].lines[0]
    np.testing.assert_array_equal(means.get_xdata(), [0.1, 0.3, 1.0])
    np.testing.assert_array_equal(means.get_ydata(), [2.0, 3.0, 5.0])
    (marker,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("diverged run, value at divergence")]
    assert list(marker.get_xdata()) == [1.0] and list(marker.get_ydata()) == [1e9]
    plt.close(fig)
