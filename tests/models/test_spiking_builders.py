"""models.spiking_builders: the triplet rule's threshold against Pfister & Gerstner (2006), the driven COBA
builder (in-degree, weights, drive), and the spike statistics on Poisson trains."""
import math

import numpy as np
import pytest

from models import SpikingResult
from models import spiking_builders as sb


def test_triplet_target_is_the_bcm_threshold_of_the_minimal_set():
    # Pfister & Gerstner (2006) Table 3, minimal all-to-all visual cortex, written out: A2- = 7.1e-3,
    # A3+ = 6.5e-3, tau- = 33.7 ms, tau+ = 16.8 ms, tau_y = 114 ms (A3+, tau+-, tau_y as in Zenke's Auryn
    # src/auryn/TripletConnection.cpp, the rule of Zenke et al. 2013); threshold A2- tau- / (A3+ tau+ tau_y)
    assert sb.triplet_target() == pytest.approx(7.1e-3 * 33.7e-3 / (6.5e-3 * 16.8e-3 * 0.114), rel=1e-12)
    assert sb.triplet_target() == pytest.approx(19.22, abs=0.01)


def test_triplet_rule_is_in_siemens_with_the_published_amplitudes():
    # Pfister & Gerstner (2006) Table 3 times we; the homeostatic form keeps them (target = theta0)
    trip = sb.triplet_rule(eta=2.0)
    assert trip.a3_plus == pytest.approx(2.0 * 6.5e-3 * 6e-9) and trip.a2_minus == pytest.approx(2.0 * 7.1e-3 * 6e-9)
    assert trip.target_rate is None and trip.w_max == pytest.approx(3 * 6e-9)
    homeo = sb.triplet_rule(target_rate=12.0, tau_rate=0.3)
    assert homeo.target_rate == 12.0 and homeo.tau_rate == 0.3 and homeo.a2_minus == pytest.approx(7.1e-3 * 6e-9)


def test_network_keeps_in_degree_and_adds_the_drive():
    net = sb.driven_coba(1000, drive=50.0, seed=0, ee_scale=1.1)
    pre, post, w = net.connectivity("EE")
    n_e = 800
    # in-degree 80 * 0.8 = 64 E inputs per neuron at p = 0.08: mean over 800 neurons, SE sqrt(64 * 0.92 / 800)
    assert np.bincount(post, minlength=n_e).mean() == pytest.approx(64.0, abs=5 * math.sqrt(64 * 0.92 / 800))
    np.testing.assert_allclose(w, 1.1 * sb.WE, rtol=1e-6)  # float32 storage
    _, _, w_ei = net.connectivity("EI")
    np.testing.assert_allclose(w_ei, sb.WE, rtol=1e-6)  # only E->E is scaled
    pre_x, post_x, _ = net.connectivity("XE")
    assert net.inputs[0].rate * sb.N_X * sb.P_X == pytest.approx(50.0)  # drive = Hz of input events per neuron
    assert pre_x.max() < sb.N_X


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
    st = sb.spike_statistics(res, 10.0, 30.0)
    # 400 neurons x 20 s x 20 Hz = 160000 spikes: rate SE 20/sqrt(160000) = 0.05 Hz; 5 SE
    assert st["rate_E"] == pytest.approx(20.0, abs=0.25)
    assert st["rate_I"] == pytest.approx(20.0, abs=0.5)   # 40000 spikes: SE 0.1 Hz
    assert st["cv_isi"] == pytest.approx(1.0, abs=5 / math.sqrt(160000) + 0.01)  # SE 1/sqrt(m) + small-m bias
    # Fano over 200 bins of mean 2: per-neuron variance 2/199 + 1/400, mean over 400 neurons: SE 0.0056
    assert st["fano"] == pytest.approx(1.0, abs=0.03)
    # 250 neurons (n_sync), 2000 bins of 10 ms: the mean pair correlation has SE sqrt(2 / (250 * 249 * 2000)) ~ 1e-4
    assert st["sync_corr"] == pytest.approx(0.0, abs=1e-3)
    assert st["sync_chi"] ** 2 * 250 == pytest.approx(1.0, abs=0.2)  # variance ratio over 2000 bins
