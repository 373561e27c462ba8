"""Critical time constant of a homeostatic rate detector in the driven COBA network: estimates and read-out.

Library code of :mod:`studies.fast_rate_detector` (after Zenke, Hennequin & Gerstner 2013, PLoS
Comput Biol 9:e1003330). The network is :func:`models.spiking_builders.driven_coba`; its E->E
synapses follow the minimal all-to-all visual-cortex triplet rule
(:meth:`plasticity.rules.TripletSTDP.minimal_visual_cortex`, Pfister & Gerstner 2006, J Neurosci
26:9673, Table 3) whose LTD amplitude slides as A2-(t) = A2- (r_hat / kappa)^2 with the
detector tau_rate d r_hat/dt = -r_hat + (spike train) and target kappa = theta0 =
A2- tau- / (A3+ tau+ tau_y) (:func:`models.spiking_builders.triplet_target`; every number here
is read from the preset). Weights w are in units of the initial E->E weight, time in s.

Mean-field (one weight w, network rate rho(w), detector r_hat). With the mean relative weight
drift split into its potentiation and depression parts,

    dw/dt = eta [P(w) - L(w) r_hat^2 / kappa^2],     tau_rate dr_hat/dt = rho(w) - r_hat,

the Jacobian at a fixed point (w*, r_hat* = rho*) is [[a, -b], [G / tau_rate, -1 / tau_rate]]
with a = eta (P' - L' rho*^2 / kappa^2), b = 2 eta L rho* / kappa^2 > 0, G = rho'. Its
determinant (b G - a) / tau_rate is positive where the weight is held at all, and its trace
a - 1/tau_rate changes sign (a Hopf bifurcation) at

    tau_c = 1 / a.

Two estimates of a:

* Poisson (:func:`meanfield_tau_rate`): independent Poisson firing, P = A3+ tau+ tau_y rho^3,
  L = A2- tau- rho^2, operating point rho* = kappa, so a = eta G A3+ tau+ tau_y kappa^2 with G
  measured; no spike correlations, no spread of weights or rates.
* Measured (:func:`measured_tau_rate`): P(w), L(w) and rho(w) read from the recurrent network
  itself (:func:`probe_drift`: uniform E->E weights scaled by ``ee_scale``, an LTP-only or
  LTD-only copy of the rule at a learning rate PROBE_ETA small enough that the weights do not
  move the rates), linearised at the operating point rho* the plastic network reaches in the
  stable simulations (not at kappa), with r_hat* = rho* (the detector's noise and its spread over
  neurons left out). The measured P includes the potentiation that spike-timing correlations and
  bursty firing add (in the quick probes about 3x the Poisson value at 20 Hz); the probes do not
  include the spread of weights and rates that the plastic network develops (``balance`` in
  :func:`critical_estimates` measures how far the probes are from the settled state).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from models.spiking_builders import MAX_RATE, RATE_BIN, RUNAWAY_RATE, SILENT_RATE, WE, driven_coba, triplet_rule, triplet_target
from plasticity.rules import TripletSTDP

__all__ = ["critical_estimates", "PROBE_ETA", "PROBE_DURATION", "PROBE_SKIP", "SMOOTH_BINS", "probe_drift", "poisson_drift",
           "meanfield_tau_rate", "measured_tau_rate", "critical_from_sweep", "run_outcome", "late_runaway", "smooth",
           "SETTLE_TIME"]

PROBE_ETA = 1e-3        # learning-rate factor of the probes: relative weight change ~1e-4 over a probe
PROBE_DURATION, PROBE_SKIP = 1.5, 0.5   # s: probe length, and the start transient left out
SMOOTH_BINS = 3         # RATE_BIN bins: the 0.15 s moving average of the runaway criterion
SETTLE_TIME = 2.0       # s: the start transient of a plastic run; the "late" criterion ignores crossings before it


def smooth(x: np.ndarray, k: int = SMOOTH_BINS) -> np.ndarray:
    """Moving average over ``k`` bins (same length; shorter windows at the ends)."""
    x = np.asarray(x, dtype=float)
    if x.size < k:
        return x
    kernel = np.ones(k)
    return np.convolve(x, kernel, "same") / np.convolve(np.ones_like(x), kernel, "same")


def probe_drift(kind: str, ee_scale: float, seed: int, n: int = 4000, drive: float = 50.0,
                duration: float = PROBE_DURATION) -> dict:
    """Mean relative E->E weight drift of the potentiation (``kind="ltp"``) or depression (``"ltd"``) term alone.

    The network with every E->E weight ``ee_scale * we`` runs ``duration`` s under the triplet rule
    with only one of its terms (A2- = 0 or A3+ = 0; A2- at its fixed value, i.e. r_hat = kappa)
    at learning rate PROBE_ETA. Returns ``drift``: (mean w(T) - mean w(PROBE_SKIP)) / (T - PROBE_SKIP)
    per unit learning rate (1/s, w in units of the initial weight we; positive for LTP, negative
    for LTD), and
    ``rate_E``, the E rate over the same window (Hz).
    """
    if kind not in ("ltp", "ltd"):
        raise ValueError(f"kind must be one of ('ltp', 'ltd'); got {kind!r}")
    if not duration > PROBE_SKIP:
        raise ValueError(f"duration must be a number in ({PROBE_SKIP}, inf) s; got {duration!r}")
    rule = triplet_rule(PROBE_ETA)
    rule = replace(rule, a2_minus=0.0) if kind == "ltp" else replace(rule, a3_plus=0.0)
    net = driven_coba(n, drive, seed, ee_scale=ee_scale)
    res = net.run(duration, plasticity={"EE": rule}, record_weights_every=PROBE_SKIP, progress=False, max_rate=MAX_RATE)
    t = np.asarray(res.weight_times, dtype=float)
    i0, i1 = int(np.argmin(np.abs(t - PROBE_SKIP))), len(t) - 1
    w = res.weights["EE"]
    drift = (float(w[i1].mean(dtype=np.float64)) - float(w[i0].mean(dtype=np.float64))) / WE
    E = res.populations["E"]
    in_e = (res.spike_indices >= E.start) & (res.spike_indices < E.stop) & (res.spike_times >= t[i0])
    span = t[i1] - t[i0]
    return {"drift": drift / (span * PROBE_ETA) if span > 0 else math.nan,
            "rate_E": float(np.count_nonzero(in_e) / ((E.stop - E.start) * span)) if span > 0 else math.nan}


def poisson_drift(rho: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(P, L) of the module docstring under independent Poisson firing at rate ``rho`` (Hz): 1/s per unit eta."""
    r = TripletSTDP.minimal_visual_cortex()
    rho = np.asarray(rho, dtype=float)
    return r.a3_plus * r.tau_plus * r.tau_y * rho**3, r.a2_minus * r.tau_minus * rho**2


def meanfield_tau_rate(G: float, eta: float) -> float:
    """Poisson estimate tau_c = 1 / (G eta A3+ tau+ tau_y kappa^2) (s); ``G`` = d rho / d w at rho = kappa (Hz)."""
    r = TripletSTDP.minimal_visual_cortex()
    return 1.0 / (G * eta * r.a3_plus * r.tau_plus * r.tau_y * triplet_target() ** 2)


def measured_tau_rate(scales, rho, ltp, ltd, rho_star: float, eta: float) -> dict:
    """tau_c = 1 / a from the measured drift, linearised where the probe rate equals ``rho_star``.

    ``scales``, ``rho``, ``ltp``, ``ltd``: the probe points (weight scale, E rate in Hz, and P and
    L, the magnitudes of the LTP and LTD drifts, 1/s per unit eta). The slopes P', L' in the scale
    (central differences between probe points, one-sided at the ends) are interpolated to the
    scale w* where the probe rate is rho* (linear in the rate; past the ends w* is extrapolated,
    the slopes are those of the end point, and ``extrapolated`` is set). Returns ``tau_c`` (s; NaN if a <= 0), ``a`` (1/s), ``w_star`` and
    ``extrapolated``.
    """
    s, rho, P, L = (np.asarray(v, dtype=float) for v in (scales, rho, ltp, ltd))
    order = np.argsort(s)
    s, rho, P, L = s[order], rho[order], P[order], L[order]
    if s.size < 2 or not np.all(np.diff(rho) > 0) or not math.isfinite(rho_star):
        return {"tau_c": math.nan, "a": math.nan, "w_star": math.nan, "extrapolated": True}
    k = int(np.clip(np.searchsorted(rho, rho_star) - 1, 0, s.size - 2))   # the probe interval around rho*
    w_star = float(s[k] + (rho_star - rho[k]) * (s[k + 1] - s[k]) / (rho[k + 1] - rho[k]))
    dP, dL = (float(np.interp(w_star, s, np.gradient(y, s))) for y in (P, L))
    a = eta * (dP - dL * (rho_star / triplet_target()) ** 2)
    return {"tau_c": 1.0 / a if a > 0 else math.nan, "a": float(a), "w_star": w_star,
            "extrapolated": bool(rho_star < rho[0] or rho_star > rho[-1])}


def critical_from_sweep(taus, unstable_frac) -> tuple[float, float, float]:
    """(estimate, lower, upper): the first tau at which most runs are unstable and the one before it (geometric mean)."""
    taus, frac = np.asarray(taus, float), np.asarray(unstable_frac, float)
    order = np.argsort(taus)
    taus, frac = taus[order], frac[order]
    hit = np.flatnonzero(frac >= 0.5)
    if hit.size == 0:
        return math.nan, taus[-1], math.inf
    if hit[0] == 0:
        return math.nan, 0.0, taus[0]
    lo, hi = taus[hit[0] - 1], taus[hit[0]]
    return math.sqrt(lo * hi), lo, hi


def run_outcome(res) -> dict:
    """Runaway read-out of a plastic run: E rate in RATE_BIN bins, smoothed over SMOOTH_BINS.

    ``runaway_at``: first time the smoothed rate passes RUNAWAY_RATE (NaN if never);
    ``rate_E_final``: mean over the last quarter; ``unstable``: diverged (the run stopped at
    MAX_RATE), passed RUNAWAY_RATE at any time, or ended below SILENT_RATE; ``why``: which of these.
    """
    times, rates = res.rate_over_time(RATE_BIN)
    y = smooth(rates["E"])
    T = res.duration
    final = float(np.mean(rates["E"][times >= 0.75 * T])) if times.size else math.nan
    over = np.flatnonzero(y > RUNAWAY_RATE)
    half = rates["E"][times >= T / 2]
    k = max(1, int(round(0.5 / RATE_BIN)))  # slow oscillation: 0.5 s bins over the second half
    slow = half[: len(half) // k * k].reshape(-1, k).mean(axis=1) if len(half) >= 2 * k else half
    why = "diverged" if res.diverged else ("runaway" if over.size else ("silent" if final < SILENT_RATE else ""))
    return {"rate_E_peak": float(y.max()) if y.size else math.nan, "rate_E_final": final,
            "slow_osc": float(slow.std() / slow.mean()) if slow.size > 1 and slow.mean() > 0 else math.nan,
            "runaway_at": float(times[over[0]] + RATE_BIN / 2) if over.size else math.nan,
            "diverged": bool(res.diverged), "unstable": bool(why), "why": why,
            "rate_times": times + RATE_BIN / 2, "rate_E_t": rates["E"]}


def late_runaway(times, rates, diverged: bool, settle: float = SETTLE_TIME) -> bool:
    """Unstable after the start transient: the smoothed E rate passes RUNAWAY_RATE after ``settle``
    seconds, or the run diverged (a run stopped early cannot show that it would have recovered)."""
    y, t = smooth(np.asarray(rates, float)), np.asarray(times, float)
    return bool(diverged) or bool(np.any(y[t >= settle] > RUNAWAY_RATE))


def critical_estimates(table) -> dict:
    """Per learning-rate factor eta of a :mod:`studies.fast_rate_detector` table: the critical values.

    ``sim``: (estimate, lo, hi) of :func:`critical_from_sweep` over the ``spiking`` rows (``unstable``
    against ``tau_rate``, fraction over seeds); ``rho_star``: the mean last-quarter E rate at the last
    stable tau_rate (the operating point next to the boundary); ``poisson``: :func:`meanfield_tau_rate`
    with G the slope of the probe rates at the target; ``measured``: :func:`measured_tau_rate` of the
    ``probe`` rows (``drift`` of ``kind`` "ltp"/"ltd" against ``ee_scale``, means over seeds) at rho_star;
    ``ltp_excess``: measured over Poisson LTP drift at the probe rate nearest the target;
    ``balance``: P / (L rho*^2 / kappa^2) of the probes at rho* (interpolated in the rate), 1 if the
    uniform-weight probes described the settled network (whose drift is zero on average there);
    ``runaway_at``: median time of the first runaway crossing over the unstable runs (s), and
    ``detector_moved``: 1 - exp(-runaway_at / tau_rate) at the first unstable tau_rate, the fraction
    of its way a step-driven detector had gone by then; ``sim_late``: as ``sim`` with
    :func:`late_runaway` (crossings in the first SETTLE_TIME seconds ignored; NaNs when the runs are
    not longer than twice that); ``reference``: the simulated value an estimate is held to,
    ``sim_late`` when defined (the settled state's instability, which linear estimates describe),
    else ``sim``.
    """
    ok = table[table["error"].isna()] if "error" in table else table
    pr = ok[ok["part"] == "probe"]
    by = [] if "drift" not in pr else (pr.assign(P=pr["drift"].abs()).groupby(["ee_scale", "kind"])[["P", "rate_E"]]
                                       .mean().unstack("kind"))  # no probes: no estimates
    out = {}
    for eta, g in ok[ok["part"] == "spiking"].groupby("eta"):
        sim = critical_from_sweep(*_fraction(g, "unstable"))
        stable = g[g["tau_rate"] == sim[1]]          # the last stable tau: the operating point next to tau_c
        rho_star = float(stable["rate_E_final"].mean()) if len(stable) else math.nan
        cross = g.loc[g["unstable"].astype(bool), "runaway_at"].dropna()
        t_run = float(cross.median()) if len(cross) else math.nan
        late = math.nan, math.nan, math.nan
        kept = g.loc[~g["diverged"].astype(bool), "rate_times"] if "rate_times" in g else []  # diverged: stopped early
        if len(kept) and kept.map(lambda t: len(t) and t[-1] > 2 * SETTLE_TIME).all():
            g = g.assign(late=[late_runaway(r.rate_times, r.rate_E_t, r.diverged) for r in g.itertuples()])
            late = critical_from_sweep(*_fraction(g, "late"))
        est = {"sim": sim, "sim_late": late, "reference": late if math.isfinite(late[0]) else sim, "rho_star": rho_star,
               "poisson": math.nan, "measured": math.nan, "extrapolated": True, "ltp_excess": math.nan,
               "balance": math.nan, "runaway_at": t_run,
               "detector_moved": 1 - math.exp(-t_run / sim[2]) if math.isfinite(sim[2]) else math.nan}
        if len(by) >= 2 and "ltp" in by["P"] and "ltd" in by["P"]:
            s, rho = by.index.to_numpy(float), by["rate_E"].mean(axis=1).to_numpy()
            G = float(np.interp(triplet_target(), rho, np.gradient(rho, s))) if np.all(np.diff(rho) > 0) else math.nan
            m = measured_tau_rate(s, rho, by["P"]["ltp"], by["P"]["ltd"], rho_star, eta)
            near = int(np.argmin(np.abs(rho - triplet_target())))
            P_star, L_star = (float(np.interp(rho_star, rho, by["P"][k])) for k in ("ltp", "ltd"))
            est.update(poisson=meanfield_tau_rate(G, eta), measured=m["tau_c"], extrapolated=m["extrapolated"],
                       ltp_excess=float(by["P"]["ltp"].iloc[near] / poisson_drift(rho[near])[0]),
                       balance=P_star / (L_star * (rho_star / triplet_target()) ** 2))
        out[float(eta)] = est
    return out


def _fraction(g, column: str) -> tuple[np.ndarray, np.ndarray]:
    """tau_rate values and the fraction of runs (seeds) with ``column`` true at each."""
    frac = g.groupby("tau_rate")[column].mean()
    return frac.index.to_numpy(float), frac.to_numpy(float)
