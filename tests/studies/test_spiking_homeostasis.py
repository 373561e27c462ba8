"""studies/spiking_homeostasis.py: rule parameters against their papers, and the point, summary and figure
functions at a tiny size (the network builder and the spike statistics are tested in
tests/models/test_spiking_builders.py)."""
import math

import numpy as np
import pytest

from studies import spiking_homeostasis as sh


def test_rules_are_in_siemens_with_the_published_parameters():
    assert sh.rules("none") is None
    trip = sh.rules("triplet")["EE"]
    assert trip.a3_plus == pytest.approx(6.5e-3 * sh.WE) and trip.a2_minus == pytest.approx(7.1e-3 * sh.WE)
    assert trip.a2_plus == 0 and trip.a3_minus == 0 and trip.target_rate is None and trip.w_max == sh.W_MAX_EE
    homeo = sh.rules("triplet_homeostatic")["EE"]
    assert homeo.target_rate == pytest.approx(sh.triplet_target()) and homeo.tau_rate == sh.TAU_RATE
    assert homeo.a2_minus == trip.a2_minus  # target = theta0: Pfister's amplitudes unchanged
    pair = sh.rules("pair")["EE"]  # Song, Miller & Abbott (2000): A+ = 0.005 gmax, A-/A+ = 1.05, 20 ms
    assert pair.a_plus == pytest.approx(0.005 * sh.W_MAX_EE) and pair.a_minus / pair.a_plus == pytest.approx(1.05)
    assert pair.tau_plus == pair.tau_minus == 20e-3
    both = sh.rules("triplet_istdp")
    assert both["EE"] == trip
    assert both["IE"].alpha == pytest.approx(2 * sh.triplet_target() * 20e-3)  # Vogels et al. 2011
    with pytest.raises(ValueError, match="condition must be one of"):
        sh.rules("hebbian")


def test_points_run_at_tiny_size_and_return_the_documented_keys():
    keys = {"outcome", "flags", "diverged", "diverged_at", "rate_E_final", "rate_I_final", "rate_E_peak", "runaway_at", "cv_isi",
            "fano", "sync_corr", "sync_chi", "w_EE_mean", "w_EE_cv", "w_EE_frac_max", "w_EE_frac_zero", "w_IE_mean",
            "rate_times", "rate_E_t", "rate_I_t", "weight_times", "w_EE_mean_t", "w_IE_mean_t", "hist_EE_initial",
            "hist_EE_final", "hist_IE_final", "raster_t", "raster_i"}
    rows = []
    for condition in ("none", "triplet_istdp"):
        out = sh.point(condition, seed=0, n=400, duration=0.3, drive=50.0)
        assert keys <= set(out)
        assert out["outcome"] in ("runaway", "silent", "on target", "off target")
        assert out["hist_EE_final"].sum() == out["hist_EE_initial"].sum() > 0  # every synapse counted once
        rows.append(dict(out, condition=condition, seed=0, error=None))
    assert rows[0]["w_EE_mean"] == pytest.approx(1.0, rel=1e-6) and math.isnan(rows[0]["w_IE_mean"])
    assert np.isfinite(rows[1]["w_IE_mean"])
    import pandas as pd

    table = pd.DataFrame(rows)
    summary = sh.summarize(table)
    assert list(summary["condition"]) == ["none", "triplet_istdp"] and (summary["runs"] == 1).all()
    fig = sh.figure(table)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == [f"({k})" for k in "abcdefg"]
    assert all(ax.get_ylabel() for ax in fig.axes)  # (c-e) are bars with named conditions, no x label
    for ax in fig.axes[2:5]:  # one seed: the bars say so and carry no error bars
        assert ax.get_title() == "one seed: no error bars" and not ax.containers[0].errorbar


def test_outcome_labels_are_honest():
    target = sh.triplet_target()
    # a rate far above the set point is not "held", and a crossing of the runaway line is flagged
    assert sh.classify(41.0, False, True, 0.6, 0.1) == ("off target", "passed 50 Hz, E->E at w_max")
    assert sh.classify(1.2 * target, False, False, 0.0, 0.1) == ("on target", "")
    assert sh.classify(0.7 * target, False, False, 0.0, 0.9) == ("off target", "synchronous")
    assert sh.classify(60.0, False, True, 0.0, 0.1) == ("runaway", "")
    assert sh.classify(10.0, True, True, 0.0, 0.1)[0] == "runaway"
    assert sh.classify(0.5, False, False, 0.0, math.nan) == ("silent", "")


def test_figure_marks_every_crossing_of_the_runaway_line():
    t = np.arange(20) * sh.RATE_BIN
    rows = []
    for k, c in enumerate(("none", "triplet_istdp")):
        rate = np.full(20, 20.0) if k == 0 else np.where((t > 0.3) & (t < 0.6), 80.0, 40.0)
        rows.append(dict(condition=c, seed=0, error=None, outcome="on target" if k == 0 else "off target",
                         flags="" if k == 0 else "passed 50 Hz", diverged=False, diverged_at=np.nan,
                         runaway_at=np.nan if k == 0 else 0.4, rate_times=t, rate_E_t=rate,
                         raster_t=np.zeros(0), raster_i=np.zeros(0, int), cv_isi=1.0, fano=1.0, sync_corr=0.0,
                         hist_EE_final=np.ones(sh.HIST_BINS, int), hist_IE_final=np.ones(sh.HIST_BINS, int)))
    import pandas as pd

    fig = sh.figure(pd.DataFrame(rows))
    marks = [line for line in fig.axes[0].get_lines() if line.get_gid() == "diverged"]
    assert len(marks) == 1 and marks[0].get_xdata()[0] == pytest.approx(0.4)
