"""studies/fast_rate_detector.py: the point functions at tiny sizes, and the figure and summary on a constructed
table (the estimates and read-outs are tested in tests/models/test_rate_detector.py, the BCM boundaries and models
in tests/models/test_bcm_stability.py)."""
import numpy as np
import pytest

from studies import fast_rate_detector as frd


def test_rate_point_returns_documented_keys():
    out = frd.point("rate", seed=1, model="network", tau_theta=10.0)
    assert {"final_rate", "amplitude", "growth", "diverged", "unstable", "tau_c", "tau_c_bulk", "t", "y"} <= set(out)
    from models.bcm_stability import NET_ETA, NET_I0, NET_N, NET_TAU, mode_critical_tau

    assert out["tau_c"] == pytest.approx(mode_critical_tau(1 - NET_I0, NET_TAU, NET_ETA * NET_N))


def test_spiking_points_run_at_tiny_size():
    out = frd.point("spiking", seed=0, tau_rate=0.5, eta=1.0, n=400, duration=0.2)
    assert {"rate_E_peak", "rate_E_final", "slow_osc", "runaway_at", "diverged", "unstable", "why", "w_EE_final",
            "rate_times", "rate_E_t"} <= set(out)
    assert out["rate_E_t"].shape == out["rate_times"].shape and np.all(np.isfinite(out["rate_E_t"]))
    probe = frd.point("probe", seed=0, kind="ltp", ee_scale=0.9, n=400)
    assert set(probe) == {"drift", "rate_E"} and probe["drift"] > 0 and probe["rate_E"] > 0
    from models.spiking_builders import driven_coba

    _, _, w = driven_coba(400, 50.0, 0, ee_scale=0.9).connectivity("EE")
    np.testing.assert_allclose(w, 0.9 * 6e-9, rtol=1e-6)  # ee_scale reached the E->E weights (float32)
    with pytest.raises(ValueError, match="part must be one of"):
        frd.point("other", seed=0, n=400, duration=0.2)


def test_figure_marks_silent_runs_and_scales_to_the_data():
    # a constructed table: spiking runs (one crossing the runaway line), Poisson-drift probes, BCM runs of which one
    # collapsed to y = 0; (a) is scaled to the data, (e) marks the silent run instead of drawing a tiny amplitude
    import pandas as pd

    t = np.arange(100) * 0.05
    rows = []
    for tau, peak in ((0.5, 20.0), (1.0, 30.0), (2.0, 120.0)):
        rows.append({"part": "spiking", "eta": 1.0, "tau_rate": tau, "seed": 0, "unstable": peak > 50,
                     "why": "runaway" if peak > 50 else "", "rate_E_peak": peak, "rate_E_final": 10.0, "slow_osc": 0.1,
                     "runaway_at": 0.3 if peak > 50 else np.nan, "rate_times": t, "rate_E_t": np.where(t < 1, peak, 10.0)})
    for s in (0.8, 0.9, 1.0, 1.1):
        rows += [{"part": "probe", "kind": k, "ee_scale": s, "seed": 0, "drift": d * s, "rate_E": 20 * s}
                 for k, d in (("ltp", 0.3), ("ltd", -0.1))]
    for model, tc in (("neuron", 30.0), ("network", 21.6)):
        for tau in (10.0, 20.0, 40.0):
            silent = model == "neuron" and tau == 40.0
            rows.append({"part": "rate", "model": model, "tau_theta": tau, "seed": 0, "tau_c": tc,
                         "amplitude": 0.0 if silent else 0.01 * tau, "final_rate": 0.0 if silent else 1.0,
                         "diverged": False, "unstable": tau > tc, "t": t, "y": np.ones_like(t)})
    table = pd.DataFrame(rows).assign(error=None)
    fig = frd.figure(table)
    a, e = fig.axes[0], fig.axes[4]
    assert 120 <= a.get_ylim()[1] < 300
    silent = [line for line in e.get_lines() if line.get_gid() == "silent"]
    assert len(silent) == 1 and list(silent[0].get_xdata()) == [40.0]
    assert all(40.0 not in line.get_xdata() for line in e.get_lines() if line.get_label() == "neuron")
    summary = frd.summarize(table)
    assert set(summary["part"]) == {"spiking", "rate"} and (summary.loc[summary["part"] == "spiking", "paper"] == frd.PAPER).all()
