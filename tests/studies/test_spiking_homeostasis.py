"""studies/spiking_homeostasis.py: rule parameters against their papers, the network builder, the
spike-statistics glue on Poisson trains, and the point and figure functions at a tiny size."""
import math

import numpy as np
import pytest

from models import SpikingResult
from studies import spiking_homeostasis as sh


def test_triplet_target_is_the_bcm_threshold_of_the_minimal_set():
    # Pfister & Gerstner (2006) Table 4, minimal all-to-all visual cortex: A2- = 7.1e-3, A3+ = 6.5e-3,
    # tau- = 33.7 ms, tau+ = 16.8 ms, tau_y = 125 ms; threshold A2- tau- / (A3+ tau+ tau_y)
    assert sh.triplet_target() == pytest.approx(7.1e-3 * 33.7e-3 / (6.5e-3 * 16.8e-3 * 0.125), rel=1e-12)
    assert sh.triplet_target() == pytest.approx(17.53, abs=0.01)


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


def test_network_keeps_in_degree_and_adds_the_drive():
    net = sh.network(1000, drive=50.0, seed=0, ee_scale=1.1)
    pre, post, w = net.connectivity("EE")
    n_e = 800
    # in-degree 80 * 0.8 = 64 E inputs per neuron at p = 0.08: mean over 800 neurons, SE sqrt(64 * 0.92 / 800)
    assert np.bincount(post, minlength=n_e).mean() == pytest.approx(64.0, abs=5 * math.sqrt(64 * 0.92 / 800))
    np.testing.assert_allclose(w, 1.1 * sh.WE, rtol=1e-6)  # float32 storage
    _, _, w_ei = net.connectivity("EI")
    np.testing.assert_allclose(w_ei, sh.WE, rtol=1e-6)  # only E->E is scaled
    pre_x, post_x, _ = net.connectivity("XE")
    assert net.inputs[0].rate * sh.N_X * sh.P_X == pytest.approx(50.0)  # drive = Hz of input events per neuron
    assert pre_x.max() < sh.N_X


def _poisson_result(n_e, n_i, rate, duration, seed):
    rng = np.random.default_rng(seed)
    n = n_e + n_i
    counts = rng.poisson(rate * duration, n)
    idx = np.repeat(np.arange(n), counts)
    t = rng.uniform(0, duration, idx.size)
    order = np.argsort(t)
    return SpikingResult(spike_times=t[order], spike_indices=idx[order],
                         populations={"E": slice(0, n_e), "I": slice(n_e, n)}, rates={}, weights={},
                         weight_times=np.zeros(0), diverged=False, diverged_at=None, duration=duration, dt=1e-4)


def test_spike_statistics_on_poisson_trains():
    res = _poisson_result(400, 100, 20.0, 30.0, seed=0)
    st = sh.spike_statistics(res, 10.0, 30.0)
    # 400 neurons x 20 s x 20 Hz = 160000 spikes: rate SE 20/sqrt(160000) = 0.05 Hz; 5 SE
    assert st["rate_E"] == pytest.approx(20.0, abs=0.25)
    assert st["rate_I"] == pytest.approx(20.0, abs=0.5)   # 40000 spikes: SE 0.1 Hz
    assert st["cv_isi"] == pytest.approx(1.0, abs=5 / math.sqrt(160000) + 0.01)  # SE 1/sqrt(m) + small-m bias
    # Fano over 200 bins of mean 2: per-neuron variance 2/199 + 1/400, mean over 400 neurons: SE 0.0056
    assert st["fano"] == pytest.approx(1.0, abs=0.03)
    # 250 neurons, 2000 bins of 10 ms: the mean pair correlation has SE sqrt(2 / (250 * 249 * 2000)) ~ 1e-4
    assert st["sync_corr"] == pytest.approx(0.0, abs=1e-3)
    assert st["sync_chi"] ** 2 * sh.N_SYNC == pytest.approx(1.0, abs=0.2)  # variance ratio over 2000 bins


def test_points_run_at_tiny_size_and_return_the_documented_keys():
    keys = {"outcome", "diverged", "diverged_at", "rate_E_final", "rate_I_final", "rate_E_peak", "runaway_at", "cv_isi",
            "fano", "sync_corr", "sync_chi", "w_EE_mean", "w_EE_cv", "w_EE_frac_max", "w_EE_frac_zero", "w_IE_mean",
            "rate_times", "rate_E_t", "rate_I_t", "weight_times", "w_EE_mean_t", "w_IE_mean_t", "hist_EE_initial",
            "hist_EE_final", "hist_IE_final", "raster_t", "raster_i"}
    rows = []
    for condition in ("none", "triplet_istdp"):
        out = sh.point(condition, seed=0, n=400, duration=0.3, drive=50.0)
        assert keys <= set(out)
        assert out["outcome"] in ("runaway", "silent", "settled") or out["outcome"].startswith("rate held, ")
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
