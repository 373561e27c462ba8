"""plasticity.plot: each helper draws what it claims (counted and located on the axes)."""
from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest

from plasticity import plot


def by_gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def test_metric_over_time_lines_and_divergence_marker():
    fig, ax = plot.new_figure()
    t = np.arange(10.0)
    hebb = np.r_[np.exp(t[:6] / 2), np.nan]  # ran away: 7 records, the last one non-finite
    plot.metric_over_time(ax, t, {"oja": np.ones(10), "hebbian": hebb}, ylabel="spectral radius",
                          diverged_at={"oja": None, "hebbian": 6.5}, xlabel="time (steps)")
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["hebbian"].get_xdata(), t[:7])
    [marker] = by_gid(ax, "diverged")
    # at the divergence time, at the last finite value recorded by then (t = 5)
    assert marker.get_xdata()[0] == 6.5 and marker.get_ydata()[0] == pytest.approx(np.exp(2.5), rel=1e-15)
    assert marker.get_color() == lines["hebbian"].get_color()
    assert "diverged" in ax.get_legend_handles_labels()[1]
    assert ax.get_xlabel() == "time (steps)" and ax.get_ylabel() == "spectral radius"
    assert ax.get_legend() is None  # one legend per figure is the caller's choice


def test_metric_over_time_series_form_and_no_divergence():
    fig, ax = plot.new_figure()
    series = {"a": ([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]), "b": ([0.0, 2.0], [0.5, 0.25])}
    plot.metric_over_time(ax, series, ylabel="variance", legend=True)
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert not by_gid(ax, "diverged") and [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    with pytest.raises(ValueError, match="no longer than their times"):
        plot.metric_over_time(ax, [0.0], {"c": [1.0, 2.0]})


def test_metric_vs_param_mean_band_and_diverged_points():
    rng = np.random.default_rng(0)
    rows = [{"rule": r, "g": g, "seed": s, "radius": g * (1 + 0.1 * rng.standard_normal()), "diverged": False}
            for r in ("oja", "bcm") for g in (0.5, 1.0, 1.5) for s in range(4)]
    table = pd.DataFrame(rows)
    table.loc[(table.rule == "bcm") & (table.g == 1.5) & (table.seed == 0), ["radius", "diverged"]] = [np.inf, True]
    fig, ax = plot.new_figure()
    plot.metric_vs_param(ax, table, "g", "radius", hue="rule", xlabel="gain g", ylabel="spectral radius")
    lines = {line.get_label(): line for line in ax.get_lines() if line.get_label() in ("oja", "bcm")}
    ok = table[~table.diverged]
    for rule, line in lines.items():
        expected = ok[ok.rule == rule].groupby("g")["radius"].mean()
        np.testing.assert_allclose(line.get_ydata(), expected.to_numpy(), rtol=1e-14)  # summation order only
    # the band of the first hue: mean +- sem (ddof=1), as scipy computes it
    from scipy.stats import sem

    band = ax.collections[0].get_paths()[0].vertices
    oja = ok[ok.rule == "oja"].groupby("g")["radius"]
    for g, mean, err in zip(oja.mean().index, oja.mean(), oja.agg(sem)):
        at = band[band[:, 0] == g, 1]  # the band's vertical extent at this g
        np.testing.assert_allclose([at.min(), at.max()], [mean - err, mean + err], rtol=1e-12)
    [marker] = by_gid(ax, "diverged")
    assert list(marker.get_xdata()) == [1.5] and marker.get_color() == lines["bcm"].get_color()
    assert ax.get_xlabel() == "gain g" and ax.get_legend() is not None


def test_gershgorin_discs_and_eigenvalues():
    rng = np.random.default_rng(1)
    n = 7
    J = rng.normal(0.0, 0.3, (n, n)) + np.diag(rng.uniform(-0.5, 0.5, n))
    fig, ax = plot.new_figure()
    plot.eigenvalues_with_gershgorin(ax, J)
    discs = by_gid(ax, "gershgorin")
    assert len(discs) == n
    for i, disc in enumerate(discs):  # centre J[i, i], radius = off-diagonal absolute row sum
        assert disc.center == pytest.approx((J[i, i], 0.0), abs=1e-15)
        assert disc.radius == pytest.approx(sum(abs(J[i, j]) for j in range(n) if j != i), rel=1e-14)
    [unit] = by_gid(ax, "unit_circle")
    assert unit.radius == 1.0 and unit.center == (0.0, 0.0)
    [points] = by_gid(ax, "eigenvalues")
    drawn = points.get_offsets()
    ev = np.linalg.eigvals(J)
    np.testing.assert_allclose(drawn[:, 0] + 1j * drawn[:, 1], ev)
    # Gershgorin's theorem: every eigenvalue lies in some disc
    assert all(any(abs(z - d.center[0] - 1j * d.center[1]) <= d.radius + 1e-12 for d in discs) for z in ev)
    lo, hi = ax.get_xlim()
    assert lo <= min(d.center[0] - d.radius for d in discs) and hi >= max(d.center[0] + d.radius for d in discs)


def test_raster_counts_spikes_per_population():
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 100, 500)
    times = rng.uniform(0.0, 1.0, 500)
    fig, ax = plot.new_figure()
    plot.raster(ax, times, idx, populations={"E": slice(0, 80), "I": slice(80, 100)})
    [exc] = by_gid(ax, "raster:E")
    [inh] = by_gid(ax, "raster:I")
    assert len(exc.get_xdata()) == np.sum(idx < 80) and len(inh.get_xdata()) == np.sum(idx >= 80)
    assert set(inh.get_ydata()) == set(idx[idx >= 80])
    assert exc.get_color() != inh.get_color() and exc.get_rasterized()
    assert ax.get_xlabel() == "time (s)" and not by_gid(ax, "raster:other")


def test_style_and_files(tmp_path):
    before = matplotlib.rcParams["axes.spines.top"]
    with plot.paper_style():
        assert matplotlib.rcParams["axes.spines.top"] is False
        assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][:2] == list(plot.PALETTE[:2])
        fig, axes = plot.new_figure(2, 3)
    assert matplotlib.rcParams["axes.spines.top"] == before
    assert axes.shape == (2, 3) and tuple(fig.get_size_inches()) == pytest.approx((3 * 3.4, 2 * 2.6))
    paths = plot.save_figure(fig, tmp_path / "fig_x")
    assert [p.name for p in paths] == ["fig_x.png", "fig_x.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].read_bytes()[:5] == b"%PDF-"


def test_import_plasticity_does_not_import_matplotlib():
    code = "import sys, plasticity; print('matplotlib' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_a_rule_keeps_its_colour_in_every_helper():
    import matplotlib

    matplotlib.use("Agg")
    from plasticity.plot import PALETTE, metric_over_time, new_figure, rule_color, series_color

    assert series_color("BCM", 5) == rule_color("bcm")  # a rule name: its own colour, whatever the position
    assert series_color("g = 1.5", 2) == PALETTE[2]  # anything else: by position
    fig, axes = new_figure(1, 2)
    t = np.arange(5.0)
    metric_over_time(axes[0], t, {"bcm": t, "hebbian": t})
    metric_over_time(axes[1], t, {"hebbian": t, "none": t, "bcm": t})
    for ax in axes:
        for line in ax.get_lines():
            if line.get_label() in ("bcm", "hebbian", "none"):
                assert matplotlib.colors.to_hex(line.get_color()) == rule_color(line.get_label()).lower()


def test_spread_labels_keeps_order_gap_and_range():
    from plasticity.plot import spread_labels

    # three labels at the same height and one far below: pushed apart by exactly the gap, order kept
    ys = spread_labels([5.0, 5.0, 5.0, 1.0], gap=1.0, lo=0.0, hi=10.0)
    assert ys[3] == 1.0 and sorted(ys[:3]) == [5.0, 6.0, 7.0]
    # a stack that overflows the top is shifted down as a whole, and stays above lo
    ys = spread_labels([9.5, 9.6, 9.7], gap=1.0, lo=0.0, hi=10.0)
    assert ys == [8.0, 9.0, 10.0]
    assert spread_labels([], gap=1.0, lo=0.0, hi=1.0) == []
    # already spread labels do not move
    assert spread_labels([3.0, 1.0, 2.0], gap=0.5, lo=0.0, hi=5.0) == [3.0, 1.0, 2.0]
