"""studies/training_chaos_danovski.py: the point function in the authors' setup at a short run (non-chaotic
at eta = 0.01, positive exponent at eta = 1 by both estimators), the comparison rows and the figure.
The network, the data and the estimators are tested in tests/models/test_iris_mlp.py and
tests/models/test_trajectories.py."""
import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from studies import training_chaos_danovski as td  # noqa: E402

TINY = {"steps": 300, "copies": 2, "eps": 1e-8}


@pytest.fixture(scope="module")
def runs():
    return {(lr, seed): td.point(lr=lr, seed=seed, **TINY) for lr in (0.01, 1.0, 5.0) for seed in (0, 1)}


def test_small_lr_is_not_chaotic(runs):
    for seed in (0, 1):
        r = runs[(0.01, seed)]
        # the copies stay within a factor 10 of their initial L1 distance; no saturation; lr * sharpness << 2
        assert not r["diverged"] and not r["saturated"] and r["separation"] < 1.0
        assert r["lr_times_sharpness"] < 0.5 and r["loss_rises"] == 0.0
        assert r["final_loss"] < r["loss_t"][0]


def test_edge_of_stability_lr_has_a_positive_exponent(runs):
    for seed in (0, 1):
        r = runs[(1.0, seed)]
        # separation by more than 6 decades within 300 epochs: positive exponent by both estimators
        assert not r["diverged"] and r["saturated"] and r["separation"] > 6.0
        assert r["exponent"] > 0.05
        assert r["exponent"] > 10 * runs[(0.01, seed)]["exponent"]
        assert r["loss_rises"] > 0.1  # non-monotonic loss


def test_point_is_deterministic(runs):
    again = td.point(lr=1.0, seed=0, **TINY)
    for key in ("exponent", "theirs", "late_exponent", "final_loss", "sharpness"):
        assert again[key] == runs[(1.0, 0)][key] or (math.isnan(again[key]) and math.isnan(runs[(1.0, 0)][key]))
    np.testing.assert_array_equal(again["l1_distance_t"], runs[(1.0, 0)]["l1_distance_t"])


def test_summary_rows_and_figure(runs):
    table = pd.DataFrame([{"lr": lr, "seed": seed, **TINY, **res, "error": None} for (lr, seed), res in runs.items()])
    s = td.summarize(table)
    assert s["lr"].tolist() == [0.01, 1.0, 5.0] and s["runs"].tolist() == [2, 2, 2]
    rows = s.set_index("lr")
    assert rows.loc[0.01, "agreement"] == "yes"
    assert rows.loc[1.0, "agreement"].startswith("yes (positive)")
    assert str(td.PUBLISHED_EXAMPLE) in rows.loc[1.0, "published"]
    assert rows.loc[5.0, "published"].startswith("chaotic-intermittent")
    fig = td.figure(table)
    axes = fig.get_axes()
    assert [ax.get_title(loc="left") for ax in axes] == [f"({c})" for c in "abcdef"]
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes[:5])
    assert len(axes[5].tables) == 1
