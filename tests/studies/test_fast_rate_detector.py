"""studies/fast_rate_detector.py: its critical-value estimate, the mean-field formula and the point functions at
tiny sizes (the BCM boundaries and models it uses are tested in tests/models/test_bcm_stability.py)."""
import math

import numpy as np
import pytest

from studies import fast_rate_detector as frd


def test_critical_from_sweep():
    est, lo, hi = frd.critical_from_sweep([1, 2, 4, 8], [0.0, 0.0, 1.0, 1.0])
    assert (lo, hi) == (2, 4) and est == pytest.approx(math.sqrt(8))
    assert math.isnan(frd.critical_from_sweep([1, 2], [0.0, 0.0])[0])


def test_meanfield_tau_rate_formula():
    # 1 / (G eta a3+ tau+ tau_y kappa^2) with the minimal visual-cortex set (Pfister & Gerstner 2006, Table 4)
    kappa = 7.1e-3 * 33.7e-3 / (6.5e-3 * 16.8e-3 * 0.125)
    expected = 1 / (50.0 * 2.0 * 6.5e-3 * 16.8e-3 * 0.125 * kappa**2)
    assert frd.meanfield_tau_rate(50.0, 2.0) == pytest.approx(expected, rel=1e-12)


def test_rate_point_returns_documented_keys():
    out = frd.point("rate", seed=1, model="network", tau_theta=10.0)
    assert {"final_rate", "amplitude", "growth", "diverged", "unstable", "tau_c", "tau_c_bulk", "t", "y"} <= set(out)
    from models.bcm_stability import NET_ETA, NET_I0, NET_N, NET_TAU, mode_critical_tau

    assert out["tau_c"] == pytest.approx(mode_critical_tau(1 - NET_I0, NET_TAU, NET_ETA * NET_N))


def test_spiking_points_run_at_tiny_size():
    out = frd.point("spiking", seed=0, tau_rate=0.5, eta=1.0, n=400, duration=0.2)
    assert {"rate_E_peak", "rate_E_final", "slow_osc", "runaway_at", "diverged", "unstable", "w_EE_final",
            "rate_times", "rate_E_t"} <= set(out)
    assert out["rate_E_t"].shape == out["rate_times"].shape and np.all(np.isfinite(out["rate_E_t"]))
    gain = frd.point("gain", seed=0, ee_scale=0.9, n=400, duration=0.2)
    assert set(gain) == {"rate_E_final"}
    # independently: the same seeded run, its E spikes counted from the spike list (the point reads the
    # run's per-neuron counts); a silent or a wrongly scaled network would not give the same positive rate
    from models.spiking_builders import driven_coba

    net = driven_coba(400, 50.0, 0, ee_scale=0.9)
    _, _, w = net.connectivity("EE")
    np.testing.assert_allclose(w, 0.9 * 6e-9, rtol=1e-6)  # ee_scale reached the E->E weights (float32)
    res = net.run(0.2, progress=False)
    E = res.populations["E"]
    n_spikes = np.count_nonzero((res.spike_indices >= E.start) & (res.spike_indices < E.stop))
    assert n_spikes > 0
    assert gain["rate_E_final"] == pytest.approx(n_spikes / ((E.stop - E.start) * 0.2), rel=1e-12)
    with pytest.raises(ValueError, match="part must be one of"):
        frd.point("other", seed=0, n=400, duration=0.2)
