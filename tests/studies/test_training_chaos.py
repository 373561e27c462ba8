"""studies/training_chaos.py: the point function at a tiny size (regular at small lr, chaotic at large lr,
divergence as a result), its summary and figure. The trainer, the MLP and its gradient are tested in
tests/models/test_trajectories.py and tests/models/test_feedforward.py."""
import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from studies import training_chaos as tc  # noqa: E402

TINY = {"batches": 1, "n_hidden": 8, "n_samples": 64, "steps": 600, "copies": 2}


@pytest.fixture(scope="module")
def runs():
    return {lr: tc.point(lr=lr, seed=0, **TINY) for lr in (0.2, 0.5, 3.0)}


def test_small_lr_trains_regularly(runs):
    r = runs[0.2]
    assert not r["diverged"] and not r["saturated"]
    # the weights reached by training are a strictly stable minimum: nearby copies started there
    # converge (negative exponent; its size is set by lr times the smallest Hessian eigenvalue)
    assert r["late_exponent"] < 0
    # from the initial weights the separation grows by less than 100x over the whole run (no
    # exponential divergence; Danovski et al. 2024 report the same non-monotonic, marginal growth)
    assert r["separation"] < 2.0
    # gradient descent at the minimum is linearly stable: lr * lambda_max < 2
    assert 0.2 * r["sharpness"] < 2.0
    assert r["final_accuracy"] > 0.9 and r["final_loss"] < r["loss_t"][0]


def test_large_lr_training_is_chaotic(runs):
    r = runs[0.5]
    assert not r["diverged"]
    # copies 1e-8 apart separate exponentially until they are as far apart as the trajectory is long
    assert r["exponent"] > 0.01 and r["saturated"] and r["separation"] > 6.0
    assert r["exponent"] > 10 * runs[0.2]["exponent"]
    # past the edge of stability: the minima found at small lr are linearly unstable at this lr
    assert 0.5 * runs[0.2]["sharpness"] > 2.0


def test_divergence_is_a_result(runs):
    r = runs[3.0]
    assert r["diverged"] and 0 < r["diverged_at"] < TINY["steps"]
    assert math.isnan(r["final_loss"]) and math.isnan(r["late_exponent"])
    k = int(r["diverged_at"])
    assert np.all(np.isfinite(r["loss_t"][:k])) and np.all(np.isnan(r["loss_t"][k + 1:]))


def test_small_lr_run_long_enough_reaches_a_stable_minimum():
    # min_time = 300 makes the run at lr = 0.05 last 6000 steps (lr * steps = 300). At a minimum of
    # L + WEIGHT_DECAY |theta|^2 / 2 every Hessian eigenvalue is >= WEIGHT_DECAY, so every mode of a
    # separation contracts at least by 1 - lr WEIGHT_DECAY per step (lr h < 1 here): the exponent of the
    # trained dynamics is at most ln(1 - lr WEIGHT_DECAY) = -5.0e-5 per step
    r = tc.point(lr=0.05, seed=0, **{**TINY, "min_time": 300.0})
    assert r["steps_run"] == 6000 and not r["diverged"]
    assert r["late_exponent"] < math.log(1.0 - 0.05 * tc.WEIGHT_DECAY)
    assert 0.05 * r["sharpness"] < 2.0


def test_diverged_run_is_measured_at_divergence(runs):
    r = runs[3.0]
    k = int(r["diverged_at"])
    # the loss at divergence is the last finite loss, at the last weights inside the bound
    assert r["final_loss_at_divergence"] == r["loss_t"][k - 1] and r["final_loss_at_divergence"] > 100 * r["loss_t"][0]
    assert math.isnan(runs[0.5]["final_loss_at_divergence"])


def test_point_is_deterministic(runs):
    again = tc.point(lr=0.5, seed=0, **TINY)
    for key in ("exponent", "late_exponent", "sharpness", "final_loss"):
        assert again[key] == runs[0.5][key]
    np.testing.assert_array_equal(again["distance_t"], runs[0.5]["distance_t"])


def test_summary_and_figure(runs):
    rows = [{"lr": lr, "seed": 0, **TINY, **res, "error": None} for lr, res in runs.items()]
    rows += [{**row, "seed": 1} for row in rows]  # a second seed (a copy) for the error bars
    table = pd.DataFrame(rows)
    summary = tc.summarize(table)
    assert list(summary["lr"]) == [0.2, 0.5, 3.0]
    assert list(summary["diverged"]) == [0, 0, 2] and list(summary["saturated"]) == [0, 2, 0]
    assert tc.transition_lr(table) == pytest.approx(math.sqrt(0.2 * 0.5))
    assert tc.edge_of_stability_lr(table) == pytest.approx(2.0 / runs[0.2]["sharpness"])
    fig = tc.figure(table)
    axes = fig.get_axes()
    assert [ax.get_title(loc="left") for ax in axes] == [f"({c})" for c in "abcdef"]
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)
    # (f): the diverged runs at lr = 3 are drawn at their loss at divergence, under their own name;
    # the line of means holds only the lrs at which some run did not diverge
    lines = {ln.get_label(): ln for ln in axes[5].get_lines()}
    diverged = lines["diverged run, value at divergence (full batch)"]
    np.testing.assert_array_equal(diverged.get_xdata(), [3.0, 3.0])
    np.testing.assert_array_equal(diverged.get_ydata(), [runs[3.0]["final_loss_at_divergence"]] * 2)
    means = next(c for c in axes[5].containers if c.get_label() == "full batch").lines[0]
    np.testing.assert_array_equal(means.get_xdata(), [0.2, 0.5])
    assert summary.loc[summary["lr"] == 3.0, "final_loss_at_divergence"].item() == runs[3.0]["final_loss_at_divergence"]
