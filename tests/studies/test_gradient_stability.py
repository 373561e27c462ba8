"""studies/gradient_stability.py: its point function (the per-layer factor it reports), summary and figures
at small sizes. The library it uses is tested in tests/models/test_feedforward.py, test_propagation.py and
test_propagation_summary.py."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from studies import gradient_stability as gs  # noqa: E402


@pytest.mark.parametrize("c", [1.0, 3.0, 0.5])
def test_forward_factor_is_log10_c_over_two(c):
    # Var(W) = c/fan_in scales q by c/2 per layer, exactly for one seed (tests/models/test_propagation.py);
    # the per-layer factor the study reports is that slope, log10(c/2)
    depth, width = 10, 64
    res = gs.point("profile", c, "relu", "plain", 3, width, depth, 0.0, 64)
    assert res["forward_factor"] - gs.point("profile", 2.0, "relu", "plain", 3, width, depth, 0.0, 64)[
        "forward_factor"] == pytest.approx(math.log10(c / 2.0), abs=1e-9)


def test_point_is_deterministic_and_figure_draws():
    import pandas as pd

    rows = []
    for init in ("he", "glorot", "orthogonal"):
        for arch in ("plain", "recurrent"):
            for seed in (0, 1):
                rows.append({"part": "profile", "init": init, "activation": "relu", "arch": arch, "seed": seed,
                             "width": 8, "depth": 4, "bias": 0.0, "batch": 8})
        for bias in (-0.5, 0.0, 0.5):
            for seed in (0, 1):
                rows.append({"part": "affine", "init": init, "activation": "relu", "arch": "plain", "seed": seed,
                             "width": 6, "depth": 3, "bias": bias, "batch": 8})
    results = [gs.point(**r) for r in rows]
    again = gs.point(**rows[0])
    np.testing.assert_array_equal(again["q"], results[0]["q"])
    np.testing.assert_array_equal(again["jac_radius"], results[0]["jac_radius"])
    table = pd.DataFrame([{**r, **res, "error": None} for r, res in zip(rows, results)])
    summary = gs.summarize(table)
    assert {"forward_factor", "forward_factor_sem", "affine_radius", "seeds"} <= set(summary.columns)
    assert (summary["seeds"] == 2).all()
    figs = gs.figure(table)
    assert set(figs) == {"gradient_stability", "gradient_stability_spectra"}
    for fig in figs.values():
        axes = fig.get_axes()
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)
        letters = [ax.get_title(loc="left") for ax in axes]
        assert letters == [f"({c})" for c in "abcdef"[: len(axes)]]
        # the caption says what the band is, over how many seeds, and the mode
        assert "shaded band = mean ± 1 standard error over the 2 seeds" in fig.get_suptitle()
        assert "seeds [0, 1]" in fig.get_suptitle() and "Quick mode" in fig.get_suptitle()
