"""studies/plastic_rnn.py: the point function, summary and figure at a tiny size (the step-by-step trial
and the frozen system it uses are tested in tests/models/test_rnn_trial.py)."""
import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from studies import plastic_rnn as pr  # noqa: E402

TINY = {"n_hidden": 8, "batch_size": 8, "T": 10, "steps": 6}
SCALARS = ("final_loss", "test_loss", "accuracy", "accuracy_beyond", "radius_start", "radius_mean", "radius_end",
           "lyapunov_start", "lyapunov_end", "activity_variance")


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match=r"plastic_rnn\.rule must be one of .*'none'.*; got 'scaling'"):
        pr.make_rule("scaling")


@pytest.fixture(scope="module")
def tiny_points():
    return {rule: pr.point(rule=rule, seed=0, **TINY) for rule in pr.CONDITIONS}


def test_point_returns_the_documented_keys_with_finite_values(tiny_points):
    for rule, res in tiny_points.items():
        assert set(res) == {"diverged", *SCALARS, "radius_t", "loss_steps", "loss_t"}, rule
        assert res["diverged"] is False
        for key in SCALARS:
            assert math.isfinite(res[key]), (rule, key)
        assert res["radius_t"].shape == (2 * TINY["T"] + 1,)
        assert np.all(np.isfinite(res["radius_t"]))
        assert res["loss_t"].shape == res["loss_steps"].shape == (TINY["steps"],)  # fewer steps than bins
        assert 0.0 <= res["accuracy"] <= 1.0 and res["activity_variance"] >= 0.0
        assert res["radius_t"][0] == pytest.approx(res["radius_start"], rel=1e-12)
    plain = tiny_points["none"]
    # the plain RNN has one weight matrix for the whole trial and frozen dynamics that do not change
    assert np.ptp(plain["radius_t"]) == 0.0 and plain["lyapunov_start"] == plain["lyapunov_end"]


def test_point_is_deterministic(tiny_points):
    again = pr.point(rule="bcm", seed=0, **TINY)
    for key in SCALARS:
        assert again[key] == tiny_points["bcm"][key], key


def test_summary_and_figure(tiny_points):
    rows = [{"rule": r, "seed": s, **TINY, **res, "error": None} for r, res in tiny_points.items() for s in (0, 1)]
    rows.append({**rows[2], "seed": 2, "diverged": True, "test_loss": math.nan})
    table = pd.DataFrame(rows)
    summary = pr.summarize(table)
    assert list(summary["rule"]) == list(pr.CONDITIONS)
    assert list(summary["runs"]) == [2, 3, 2, 2, 2] and list(summary["diverged"]) == [0, 1, 0, 0, 0]
    # two copies of one run: mean is the run, standard error 0; the diverged row is left out
    assert summary.loc[1, "test_loss"] == pytest.approx(tiny_points["hebbian"]["test_loss"], rel=1e-12)
    assert summary.loc[1, "test_loss_sem"] == 0.0
    fig = pr.figure(table)
    axes = fig.get_axes()
    assert [ax.get_title(loc="left") for ax in axes] == [f"({c})" for c in "abcdef"]
    assert all(ax.get_xlabel() or ax.get_xticklabels() for ax in axes)
    assert all(ax.get_ylabel() for ax in axes)
