"""Spike statistics against analytic results: Poisson (CV = Fano = 1, no correlation), periodic
trains (CV = Fano = 0), and trains sharing a common Poisson component (correlation c)."""
import math

import numpy as np
import pytest

from plasticity.metrics import fano_factor, golomb_synchrony, isi_cv, pairwise_correlation, spike_counts, weight_summary


def poisson_trains(n, rate, duration, rng):
    """Independent homogeneous Poisson trains in continuous time: (times, indices), time-sorted."""
    counts = rng.poisson(rate * duration, n)
    idx = np.repeat(np.arange(n), counts)
    t = rng.uniform(0.0, duration, idx.size)  # given the count, Poisson times are uniform
    order = np.argsort(t)
    return t[order], idx[order]


def shared_trains(n, rate, c, duration, rng):
    """Each train = a private Poisson train at (1 - c) rate + one shared train at c rate."""
    t, i = poisson_trains(n, (1 - c) * rate, duration, rng)
    common, _ = poisson_trains(1, c * rate, duration, rng)
    t = np.concatenate([t, np.tile(common, n)])
    i = np.concatenate([i, np.repeat(np.arange(n), common.size)])
    order = np.argsort(t, kind="stable")
    return t[order], i[order]


def test_spike_counts_by_hand():
    t = np.array([0.0, 0.05, 0.1, 0.25, 0.31, 0.39])
    i = np.array([0, 1, 0, 0, 1, 1])
    c = spike_counts(t, i, n=3, bin=0.1, t_start=0.0, t_stop=0.4)
    # bins [0, .1), [.1, .2), [.2, .3), [.3, .4)
    np.testing.assert_array_equal(c, [[1, 1, 1, 0], [1, 0, 0, 2], [0, 0, 0, 0]])
    # a window drops spikes outside it and counts whole bins only
    c = spike_counts(t, i, n=2, bin=0.1, t_start=0.1, t_stop=0.35)
    np.testing.assert_array_equal(c, [[1, 1], [0, 0]])


def test_poisson_cv_and_fano_are_one():
    rng = np.random.default_rng(0)
    n, rate, duration = 200, 20.0, 50.0
    t, i = poisson_trains(n, rate, duration, rng)
    cv = isi_cv(t, i, n)
    m = i.size - n  # number of intervals
    # CV of m exponential intervals: standard error 1/sqrt(m) (delta method, see isi_cv); 5 SE
    # plus the O(1/k) small-sample bias of a ratio over k ~ 1000 intervals per neuron
    assert np.nanmean(cv) == pytest.approx(1.0, abs=5 / math.sqrt(m) + 2e-3)
    counts = spike_counts(t, i, n, bin=0.1, t_stop=duration)
    fano = fano_factor(counts)
    B, mu = counts.shape[1], rate * 0.1
    se = math.sqrt((2 / (B - 1) + 1 / (B * mu)) / n)  # variance of one neuron's estimate, mean over n
    assert np.mean(fano) == pytest.approx(1.0, abs=5 * se)


def test_periodic_train_cv_and_fano_are_zero():
    period, n = 0.05, 4
    t = np.repeat(0.5 * period + period * np.arange(200), n) + np.tile(1e-3 * np.arange(n), 200)
    i = np.tile(np.arange(n), 200)
    # differences of times ~ 10 s in float64: exact to ~1e-15 s
    np.testing.assert_allclose(isi_cv(t, i, n), 0.0, atol=1e-9)
    counts = spike_counts(t, i, n, bin=4 * period, t_stop=10.0)  # a whole number of periods per bin
    np.testing.assert_array_equal(counts, 4)
    np.testing.assert_array_equal(fano_factor(counts), 0.0)


def test_isi_cv_of_two_intervals_by_hand_and_min_spikes():
    t = np.array([0.0, 1.0, 4.0, 0.5, 0.7])
    i = np.array([0, 0, 0, 1, 1])
    cv = isi_cv(t, i, n=3)
    # neuron 0: ISIs 1 and 3, mean 2, std 1 -> CV 0.5; neuron 1 has 2 spikes < min_spikes=3; 2 is silent
    assert cv[0] == pytest.approx(0.5, rel=1e-12)
    assert np.isnan(cv[1]) and np.isnan(cv[2])
    assert isi_cv(t, i, n=3, min_spikes=2)[1] == pytest.approx(0.0, abs=1e-12)


def test_independent_trains_are_uncorrelated():
    rng = np.random.default_rng(1)
    n, rate, duration, bin = 50, 20.0, 50.0, 0.01
    t, i = poisson_trains(n, rate, duration, rng)
    counts = spike_counts(t, i, n, bin=bin, t_stop=duration)
    B = counts.shape[1]
    # mean of n(n-1)/2 pair estimates, each with variance 1/B under independence: 5 SE
    assert pairwise_correlation(counts) == pytest.approx(0.0, abs=5 * math.sqrt(2 / (n * (n - 1) * B)))
    # chi^2 = 1/N in expectation; the ratio of two variance estimates over B bins has relative
    # standard error ~ sqrt(2/B) each: 5 SE on chi^2 N
    chi = golomb_synchrony(counts)
    assert chi**2 * n == pytest.approx(1.0, abs=5 * 2 * math.sqrt(2 / B))


@pytest.mark.parametrize("c", [0.1, 0.3])
def test_shared_component_gives_correlation_c(c):
    rng = np.random.default_rng(2)
    n, rate, duration, bin = 40, 20.0, 50.0, 0.01
    t, i = shared_trains(n, rate, c, duration, rng)
    counts = spike_counts(t, i, n, bin=bin, t_stop=duration)
    B = counts.shape[1]
    # every pair's count correlation is c; the pair estimates share the one common train, so their
    # mean fluctuates like one estimate: standard error (1 - c^2)/sqrt(B) (Fisher); 5 SE
    assert pairwise_correlation(counts) == pytest.approx(c, abs=5 * (1 - c**2) / math.sqrt(B))
    # chi^2 = c + (1 - c)/N; relative error of a variance ratio over B bins ~ 2 sqrt(2/B); 5 SE
    expected = c + (1 - c) / n
    assert golomb_synchrony(counts) ** 2 == pytest.approx(expected, rel=5 * 2 * math.sqrt(2 / B))


def test_identical_trains_have_chi_one():
    rng = np.random.default_rng(3)
    t, _ = poisson_trains(1, 20.0, 10.0, rng)
    n = 10
    counts = spike_counts(np.tile(t, n), np.repeat(np.arange(n), t.size), n, bin=0.005, t_stop=10.0)
    assert golomb_synchrony(counts) == pytest.approx(1.0, rel=1e-12)
    assert pairwise_correlation(counts) == pytest.approx(1.0, rel=1e-12)


def test_weight_summary():
    w = np.array([0.0, 0.0, 1.0, 2.0, 3.0, 3.0, 3.0, 0.5])
    s = weight_summary(w, w_min=0.0, w_max=3.0)
    assert s["mean"] == pytest.approx(w.mean(), rel=1e-12)
    assert s["std"] == pytest.approx(w.std(), rel=1e-12)
    assert s["cv"] == pytest.approx(w.std() / w.mean(), rel=1e-12)
    assert s["frac_at_min"] == 2 / 8 and s["frac_at_max"] == 3 / 8


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"spike_counts.bin must be a number in \(0, inf\); got -1"):
        spike_counts([0.1], [0], 1, bin=-1.0)
    with pytest.raises(ValueError, match="spike_indices must be in"):
        spike_counts([0.1], [3], 2, bin=0.1)
    with pytest.raises(ValueError, match="equal length"):
        isi_cv([0.1, 0.2], [0], 2)
    with pytest.raises(TypeError, match="spike_indices must be integers"):
        isi_cv([0.1], [0.5], 2)
    with pytest.raises(ValueError, match=r"isi_cv.min_spikes must be an integer in \[2, inf\)"):
        isi_cv([0.1], [0], 1, min_spikes=1)
    with pytest.raises(ValueError, match="n_bins >= 2"):
        fano_factor(np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"weight_summary.w_max must be a number in \(1, inf\]"):
        weight_summary([1.0], w_min=1.0, w_max=0.5)
