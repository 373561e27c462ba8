"""models.rate_detector: the measured-drift estimate against the Poisson formula, the probe drift against the drift
counted from the spike trains, and the runaway read-out on constructed spike trains."""
import math

import numpy as np
import pytest

from models import rate_detector as rd


def test_critical_from_sweep():
    est, lo, hi = rd.critical_from_sweep([1, 2, 4, 8], [0.0, 0.0, 1.0, 1.0])
    assert (lo, hi) == (2, 4) and est == pytest.approx(math.sqrt(8))
    assert math.isnan(rd.critical_from_sweep([1, 2], [0.0, 0.0])[0])


def test_meanfield_tau_rate_formula():
    # 1 / (G eta A3+ tau+ tau_y kappa^2) with the minimal all-to-all visual-cortex set written out (Pfister &
    # Gerstner 2006, Table 3: A3+ = 6.5e-3, A2- = 7.1e-3, tau+ = 16.8 ms, tau- = 33.7 ms, tau_y = 114 ms; A3+,
    # tau+-, tau_y as in Zenke's Auryn src/auryn/TripletConnection.cpp), kappa = A2- tau- / (A3+ tau+ tau_y)
    kappa = 7.1e-3 * 33.7e-3 / (6.5e-3 * 16.8e-3 * 0.114)
    expected = 1 / (50.0 * 2.0 * 6.5e-3 * 16.8e-3 * 0.114 * kappa**2)
    assert rd.meanfield_tau_rate(50.0, 2.0) == pytest.approx(expected, rel=1e-12)


def test_measured_estimate_reduces_to_the_poisson_one_for_poisson_drift():
    # P, L of independent Poisson firing (the trace-rule drift, written out: A3+ tau+ tau_y rho^3, A2- tau- rho^2,
    # Table 3 values) on a network whose rate is linear in the weight, rho = G w, linearised at rho* = kappa:
    # a = eta G (3 A3+ tau+ tau_y kappa^2 - 2 A2- tau- kappa) = eta G A3+ tau+ tau_y kappa^2, the Poisson formula
    from models.rate_detector import measured_tau_rate

    c3, c2, G, eta = 6.5e-3 * 16.8e-3 * 0.114, 7.1e-3 * 33.7e-3, 20.0, 1.5
    kappa = c2 / c3
    h = 1e-4  # secant slopes: relative error O(h^2)
    s = np.array([1 - h, 1 + h]) * kappa / G
    rho = G * s
    out = measured_tau_rate(s, rho, c3 * rho**3, c2 * rho**2, kappa, eta)
    assert out["tau_c"] == pytest.approx(1 / (eta * G * c3 * kappa**2), rel=1e-6)
    assert out["tau_c"] == pytest.approx(rd.meanfield_tau_rate(G, eta), rel=1e-6)
    assert out["w_star"] == pytest.approx(kappa / G) and not out["extrapolated"]
    # three times the Poisson LTP (correlations) at half the target: a = eta G (9 c3 rho^2 - 2 c2 rho rho^2 / kappa^2)
    r0 = kappa / 2
    s = np.array([1 - h, 1 + h]) * r0 / G
    out = measured_tau_rate(s, G * s, 3 * c3 * (G * s) ** 3, c2 * (G * s) ** 2, r0, eta)
    assert out["tau_c"] == pytest.approx(1 / (eta * G * (9 * c3 * r0**2 - 2 * c2 * r0**3 / kappa**2)), rel=1e-6)
    assert math.isnan(measured_tau_rate(s, G * s, 0 * s, c2 * (G * s) ** 2, r0, eta)["tau_c"])  # no growth: stable


def test_probe_drift_matches_the_drift_counted_from_the_spike_trains():
    # LTD-only probe, independently: every E pre spike at t depresses each of its E->E synapses by
    # PROBE_ETA A2- we o1_post(t), o1 = sum over earlier post spikes of exp(-(t - t_post) / tau-)
    from dataclasses import replace

    from models import rate_detector as rd
    from models.spiking_builders import driven_coba, triplet_rule
    from plasticity.rules import TripletSTDP

    out = rd.probe_drift("ltd", 1.0, seed=3, n=400, duration=0.9)
    assert out["drift"] < 0 and out["rate_E"] > 0
    net = driven_coba(400, 50.0, 3)
    res = net.run(0.9, plasticity={"EE": replace(triplet_rule(rd.PROBE_ETA), a3_plus=0.0)}, progress=False)
    pre, post, _ = net.connectivity("EE")
    E = res.populations["E"]
    e = (res.spike_indices >= E.start) & (res.spike_indices < E.stop)
    t, i = res.spike_times[e], res.spike_indices[e] - E.start
    r = TripletSTDP.minimal_visual_cortex()
    n_out = np.bincount(pre, minlength=E.stop - E.start)
    total = 0.0
    for tk, jk in zip(t[t >= rd.PROBE_SKIP], i[t >= rd.PROBE_SKIP]):
        targets = post[pre == jk]
        earlier = t < tk - 1e-12
        o1 = np.bincount(i[earlier], weights=np.exp(-(tk - t[earlier]) / r.tau_minus), minlength=n_out.size)
        total += o1[targets].sum()
    expected = -rd.PROBE_ETA * r.a2_minus * total / post.size / (0.9 - rd.PROBE_SKIP) / rd.PROBE_ETA
    assert out["drift"] == pytest.approx(expected, rel=0.02)  # same-step ordering and float32 weights
    assert out["rate_E"] == pytest.approx(np.count_nonzero(t >= rd.PROBE_SKIP) / (n_out.size * (0.9 - rd.PROBE_SKIP)))
    with pytest.raises(ValueError, match="kind must be one of"):
        rd.probe_drift("both", 1.0, seed=0, n=400)


def test_run_outcome_names_why_a_run_is_unstable():
    from models import SpikingResult
    from models.rate_detector import run_outcome
    from models.spiking_builders import RATE_BIN, RUNAWAY_RATE

    def result(rate_of_t, duration=2.0, n=100, diverged=False):
        edges = np.arange(0, duration + 1e-9, RATE_BIN)
        counts = np.round([rate_of_t(a) * n * RATE_BIN for a in edges[:-1]]).astype(int)
        t = np.concatenate([np.linspace(a, a + RATE_BIN, c, endpoint=False) for a, c in zip(edges[:-1], counts)])
        idx = np.arange(t.size) % n
        return SpikingResult(spike_times=t, spike_indices=idx, populations={"E": slice(0, n), "I": slice(n, n + 1)},
                             rates={}, weights={}, weight_times=np.zeros(0), diverged=diverged, diverged_at=None,
                             duration=duration, dt=1e-4)

    calm = run_outcome(result(lambda a: 20.0))
    assert not calm["unstable"] and calm["why"] == "" and math.isnan(calm["runaway_at"])
    assert calm["rate_E_final"] == pytest.approx(20.0)
    burst = run_outcome(result(lambda a: 80.0 if 0.5 <= a < 0.8 else 20.0))  # passes the line and comes back
    assert burst["unstable"] and burst["why"] == "runaway" and 0.45 <= burst["runaway_at"] <= 0.6
    assert burst["rate_E_peak"] > RUNAWAY_RATE and burst["rate_E_final"] == pytest.approx(20.0)
    assert run_outcome(result(lambda a: 0.0 if a > 0.5 else 5.0))["why"] == "silent"
    assert run_outcome(result(lambda a: 20.0, diverged=True))["why"] == "diverged"


def _sweep_table(G=20.0, rho_star=12.0, scales=np.linspace(0.4, 1.4, 201)):
    """A constructed study table: runs unstable from tau_rate = 2 s on (crossing at 0.3 s); probes with Poisson drift."""
    import pandas as pd

    c3, c2 = rd.poisson_drift(1.0)
    rows = [{"part": "spiking", "eta": 1.0, "tau_rate": tau, "seed": 0, "unstable": tau >= 2, "rate_E_final": rho_star
             if tau == 1 else 5.0, "runaway_at": 0.3 if tau >= 2 else math.nan} for tau in (0.5, 1.0, 2.0, 4.0)]
    for s in scales:
        rows += [{"part": "probe", "kind": "ltp", "ee_scale": s, "seed": 0, "drift": c3 * (G * s) ** 3, "rate_E": G * s},
                 {"part": "probe", "kind": "ltd", "ee_scale": s, "seed": 0, "drift": -c2 * (G * s) ** 2, "rate_E": G * s}]
    return pd.DataFrame(rows).assign(error=None)


def test_critical_estimates_of_a_constructed_sweep():
    from models.spiking_builders import triplet_target

    kappa, G, rho_star = triplet_target(), 20.0, 12.0
    e = rd.critical_estimates(_sweep_table(G, rho_star))[1.0]
    assert e["sim"] == (pytest.approx(math.sqrt(2)), 1.0, 2.0) and e["rho_star"] == rho_star
    assert e["poisson"] == pytest.approx(rd.meanfield_tau_rate(G, 1.0), rel=1e-3)
    c3, c2 = rd.poisson_drift(1.0)
    # Poisson drift linearised at rho*: a = G (3 c3 rho*^2 - 2 c2 rho* rho*^2 / kappa^2)
    assert e["measured"] == pytest.approx(1 / (G * (3 * c3 * rho_star**2 - 2 * c2 * rho_star**3 / kappa**2)), rel=1e-2)
    assert e["ltp_excess"] == pytest.approx(1.0) and e["balance"] == pytest.approx(kappa / rho_star, rel=1e-3)
    assert e["runaway_at"] == 0.3 and e["detector_moved"] == pytest.approx(1 - math.exp(-0.3 / 2.0))
    assert all(math.isnan(v) for v in e["sim_late"]) and e["reference"] == e["sim"]  # no time courses: no late criterion


def test_late_criterion_ignores_the_start_transient():
    # 10 s runs: tau_rate 1 and 2 s cross the runaway line only in the first second (transient), 4 s bursts at 6 s,
    # 8 s diverges (stopped) at 1 s: any-crossing boundary 0.5-1 s, late boundary 2-4 s
    from models.spiking_builders import RATE_BIN

    t = np.arange(0, 10, RATE_BIN) + RATE_BIN / 2
    early, late = np.where(t < 0.6, 90.0, 15.0), np.where((t > 6) & (t < 6.5), 90.0, 15.0)
    assert not rd.late_runaway(t, early, diverged=False) and rd.late_runaway(t, late, diverged=False)
    assert rd.late_runaway(t[:20], early[:20], diverged=True)  # stopped early: cannot show it would have recovered
    rates = {0.5: (np.full_like(t, 15.0), False), 1.0: (early, False), 2.0: (early, False), 4.0: (late, False),
             8.0: (early[:20], True)}
    import pandas as pd

    table = pd.DataFrame([{"part": "spiking", "eta": 1.0, "tau_rate": tau, "seed": 0, "rate_times": t[:len(y)],
                           "rate_E_t": y, "diverged": div, "unstable": tau > 0.5, "rate_E_final": 15.0,
                           "runaway_at": 0.3 if tau > 0.5 else math.nan} for tau, (y, div) in rates.items()])
    e = rd.critical_estimates(table.assign(error=None))[1.0]
    assert e["sim"][1:] == (0.5, 1.0) and e["sim_late"][1:] == (2.0, 4.0) and e["reference"] == e["sim_late"]
