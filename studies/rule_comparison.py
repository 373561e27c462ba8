"""Rule comparison: which homeostatic mechanism holds E activity at its set point AND keeps what Hebbian learning wrote?

Network. ``RateNetwork.ei`` (threshold-linear E/I flow, p = 0.1, tau_E = 1, tau_I = 0.5, Euler
dt = 0.1; quiet state r_E = r_I = 2 in mean field). The E population's **set point is 2.0**,
the quiet-state rate, and every homeostatic rule targets it. Times are model time units
(tau_E = 1) from the start of the learning phase.

Protocol (one point = one condition and one seed):

0. settle: ``T_SETTLE`` without plasticity, from the network's random initial state.
1. learning: ``K`` assemblies, disjoint random groups of ``n_exc / (2 K)`` E neurons (together
   half of E; the other half is the non-assembly reference), each shown in turn for ``T_SHOW``
   as an extra input ``PATTERN_AMPLITUDE`` to its neurons, ``N_CYCLES`` cycles, while the
   condition's plasticity acts (Hebbian on E->E plus its compensation).
2. free: ``T_FREE`` without patterns, plasticity continuing.
3. measurement of the network as the free phase left it (plasticity frozen).

Conditions (the keys of :data:`CONDITION_NAMES`; colours from ``plasticity.plot.rule_color``):
``none`` (no plasticity), ``hebbian``, ``hebbian+scaling_fast``, ``hebbian+scaling_slow``,
``hebbian+intrinsic``, ``bcm``, ``metaplastic_bcm``, ``hebbian+inhibitory`` (inhibitory
plasticity on I->E, the rate form of Vogels et al. 2011), ``hebbian+heterosynaptic`` (Zenke et
al. 2015), ``hebbian+all3`` (scaling_fast + heterosynaptic on E->E and inhibitory on I->E
together, as in Zenke, Agnes & Gerstner 2015) and ``oja``.

Parameters, and why (``w0 = J_EE / (p n_exc)`` is the initial E->E weight, so rates scale
with the network and quick and full runs behave alike):

- ``PATTERN_AMPLITUDE = 15``: an assembly fires at ~12 while its pattern is on, against ~2 for
  the rest. With a plain Hebbian term and positive rates, a between-assembly pair is also
  potentiated whenever one side is shown, so over a cycle within/between increments are about
  ``(y_on^2 + 3 y_off^2) / (2 y_on y_off + 2 y_off^2)``: 1.5 for y_on = 6, ~3 for y_on = 12.
  Weaker patterns write too little structure to tell conditions apart. ``T_SHOW = 5`` (5 tau_E:
  rates settle within a presentation), ``N_CYCLES = 5``.
- Hebbian ``eta = ETA_REL w0`` with ``ETA_REL = 0.005``: at the set point every E->E weight
  grows by ``ETA_REL r^2 = 2%`` of w0 per unit time, so J_EE crosses the runaway threshold of
  the E/I network (J_EE = 1.5, ``RateNetwork.ei``) within the learning phase; Hebbian alone
  runs away (diverges) inside the run, so compensation has something to do. The same ``eta``
  for BCM, metaplastic BCM and Oja (the same Hebbian term, different stabilisers).
- ``hebbian+scaling_fast``: ``SynapticScaling(eta=0.3, target=2, tau=2)``. Scaling is a
  proportional controller against Hebbian growth: its steady rate offset is about
  ``ETA_REL r^2 / eta = 0.02 / 0.3`` (~3% of the set point). ``eta tau target = 1.2`` keeps the
  rate estimate fast enough not to oscillate (Harnack et al. 2015); ``tau = 2`` < ``T_SHOW``.
- ``hebbian+scaling_slow``: ``SynapticScaling(eta=0.003, target=2, tau=20)``: its correction,
  ``eta (r - 2) <= 0.003 (r - 2)`` per unit time, needs r - 2 ~ 7 to match Hebbian growth,
  i.e. homeostasis slower than Hebbian runaway (the "temporal paradox" of Zenke & Gerstner
  2017): expected to fail.
- ``hebbian+intrinsic``: ``IntrinsicPlasticity(eta=0.1, target=2)`` (threshold only): integral
  control of the rate in ~10 tau_E, but it leaves the weights alone, so the E->E loop keeps
  growing under it.
- ``hebbian+inhibitory``: ``InhibitoryPlasticity(eta=0.3 / (p n_inh), target=2)`` on I->E: a
  rate error of 1 changes a neuron's summed inhibition J_IE by ``eta 2 p n_inh = 0.6`` per
  unit time, fast against the Hebbian growth of J_EE (~0.01-0.02 per unit time). Integral
  control: zero steady rate error; E->E is left to Hebbian learning.
- ``hebbian+heterosynaptic``: ``HeterosynapticDecay(beta=ETA_REL / 4, w_ref=0, power=4)``:
  its fixed point ``W* = eta x / (beta y^3)`` is w0 exactly at x = y = 2 (Zenke et al. 2015:
  no target, the y^4 dependence wins at high rates).
- ``bcm``, ``metaplastic_bcm``: ``BCM(eta, tau_theta=5, theta0=4)`` (theta0 = the squared set
  point) and ``MetaplasticBCM(eta, tau_theta=5, tau_meta=50, theta0=4, kappa=0.5)``. BCM's
  change grows like y^3, so with patterns driving an assembly to ~12 the threshold must catch
  up within one presentation: with ``tau_theta = 50`` (averaging over patterns, the textbook
  selectivity regime) the first presentation runs away within ~3 tau_E; with 20 every
  within-assembly weight is depressed to 0; 5 is the value that stays bounded. Their set
  point is built in (theta -> y^2 gives y* = 1, y* = 1 / (1 + kappa) with metaplasticity; the
  network cannot go below ~1.3 even with no E->E weight) and cannot be put at 2: they are
  judged against 2 like the others, and the table shows where they go.
- ``oja``: ``Oja(eta)``. Its normalisation pulls each row of W to unit norm; the rows here
  have norm ~ sqrt(p n_exc) w0 << 1, so at these weights it is Hebbian growth (expected: runaway).
- ``T_FREE = 60`` (12 presentations): long enough to settle (``settle_time``) and to see
  forgetting by ongoing Hebbian learning of the unstructured free activity, short enough that
  the integral controllers' E->E growth (+1.2 w0 per 60 time units) stays below the
  oscillatory regime.

Columns of ``points.csv`` (one row per condition and seed):

- ``outcome``: ``classify_run`` of the free phase with ``target = 2`` (its final 25%,
  thresholds of ``plasticity.metrics.classify``).
- ``settle_time``: ``settling_time`` of the free phase (tol 10%), as time since the free phase
  started; NaN when it never settles or diverged.
- ``rate_error``: (mean E rate over the final window - 2) / 2; final window = the last
  ``FINAL_WINDOW`` time units recorded (up to divergence for a diverged run).
- ``retention``: mean E->E weight of within-assembly synapses (pre and post in the same
  assembly) over the mean of between-assembly synapses (pre and post in different assemblies),
  at the end of the free phase: 1 = no structure, exactly 1 at the start (all weights w0);
  NaN when both means are 0. ``retention_learned``: the same at the end of learning (at
  divergence for a run that diverged while learning). ``J_EE``, ``J_IE``: a neuron's summed
  E->E and I->E weight, mean over E neurons, at the end (0.5 and 1 at the start).
- ``recall``: after the free phase, with plasticity frozen, half of each assembly is driven by
  ``PATTERN_AMPLITUDE`` for ``T_CUE``; recall = mean rate of the un-cued half over the mean rate
  of the non-assembly E neurons over the last half of the cue, averaged over assemblies
  (1 = nothing recalled). Frozen runs keep the thresholds intrinsic plasticity learned.
- ``spectral_radius``: rho(W_eff), W_eff = W diag(phi'(x)) = tau J + 1, the effective
  connectivity of the frozen network linearised at its final state (J from ``net.as_system()``);
  ``spectral_abscissa``: max Re lambda(J) (< 0: the final state is a stable fixed point).
- ``activity_variance``: of E rates over the final window. ``max_lyapunov``: of the frozen
  flow from its final state (RK4, ``LYAP_STEPS`` steps of 0.1), per unit time.
- Divergence: ``diverged``, ``diverged_at``, ``diverged_phase``. A diverged run is measured at
  divergence from what it recorded: the last finite state ``net.x`` and the weights the kernel
  held then (finite when the state bound tripped first); a metric that cannot be measured is
  NaN and ``reason`` says why. ``measured_at``: time of the state the metrics describe. Nothing is
  ever read from an earlier checkpoint.

``results.csv``: one row per condition: ``outcome`` (majority over seeds, a tie going to the
worse outcome), ``outcome_counts``, ``runs``, ``diverged`` (count) and the mean over seeds of
every metric (NaN-ignoring; ``n_measured_retention`` counts the finite retentions). Figure: (a)
|rate error| against retention, one point per run (colour = condition, marker = outcome,
diverged runs drawn and labelled); (b) mean E rate over time (first seed; X at divergence); (c)
outcome counts per condition; (d) recall and retention per condition.

Expectation (and what the quick and full runs give): Hebbian alone diverges within the first
cycle of patterns (t ~ 10), the assembly loop first; slow scaling and Oja (at these weights just
Hebbian growth) diverge with it; intrinsic plasticity holds the rate while the weights grow and
then diverges (t ~ 40-50), because a threshold cannot stop the E->E loop from outgrowing
inhibition. BCM and metaplastic BCM stay bounded at their own set point (E ~ 1.35, rate error
~ -32%, "stable" to classify_run, which has no class for "bounded away from the target") with
the within-assembly weights depressed. Fast scaling (~+4%) and heterosynaptic decay (~-10%:
no target, its fixed point drifts) hold the rate but erase the assemblies: while its pattern
is on, an assembly's own high rate scales down (or, y^4, decays) its rows, so what the pattern
wrote is removed as it is written (retention_learned < 1), and the free phase renormalises the
rest. Inhibitory plasticity holds the rate exactly (integral control, ~+1%) and leaves E->E to
Hebbian learning, so the assemblies survive (retention ~ 2, recall > 1); all three together
hold the rate and keep part of it (~1.25). The recall effect is weak everywhere (assemblies
span 1/8 of E each and J_EE stays small): read retention first.
"""
from __future__ import annotations

import math
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pandas as pd

from models import RateNetwork
from models.population_network import EI_DEFAULTS
from plasticity.metrics import activity_variance, classify_run, max_lyapunov, settling_time, spectral_radius
from plasticity.rules import (
    BCM,
    HeterosynapticDecay,
    Hebbian,
    InhibitoryPlasticity,
    IntrinsicPlasticity,
    MetaplasticBCM,
    Oja,
    SynapticScaling,
)

NAME = "rule_comparison"

SET_POINT = 2.0          # quiet-state E rate of RateNetwork.ei (mean field) = every homeostatic target
K = 4                    # assemblies
PATTERN_AMPLITUDE = 15.0  # extra input to the shown assembly (and to the cued half at recall)
T_SETTLE = 20.0          # no plasticity, before learning
T_SHOW = 5.0             # one presentation
N_CYCLES = 5             # presentations of each pattern
T_FREE = 60.0            # free phase, plasticity on, no patterns
T_CUE = 10.0             # recall test, plasticity frozen
FINAL_WINDOW = 15.0      # = 25% of T_FREE, the window of classify_run
ETA_REL = 0.005          # Hebbian eta in units of w0 per unit time per rate^2
RECORD_EVERY = 10        # steps (1 time unit)
LYAP_STEPS = 300         # RK4 steps of DT for max_lyapunov (30 time units)
DT = float(EI_DEFAULTS["dt"])

CONDITION_NAMES = (
    "none", "hebbian", "hebbian+scaling_fast", "hebbian+scaling_slow", "hebbian+intrinsic", "bcm",
    "metaplastic_bcm", "hebbian+inhibitory", "hebbian+heterosynaptic", "hebbian+all3", "oja",
)
OUTCOMES = ("stable", "oscillating", "saturated", "silent", "runaway", "diverged")  # best to worst
OUTCOME_MARKERS = {"stable": "o", "oscillating": "D", "runaway": "^", "saturated": "s", "silent": "v",
                   "diverged": "X"}


def conditions(n_exc: int, n_inh: int) -> dict[str, dict]:
    """Condition name -> ``plasticity`` dict of ``net.run`` (module docstring: why these rates)."""
    w0 = EI_DEFAULTS["J_EE"] / (EI_DEFAULTS["p"] * n_exc)
    eta = ETA_REL * w0
    hebb = Hebbian(eta=eta)
    fast = SynapticScaling(eta=0.3, target=SET_POINT, tau=2.0)
    slow = SynapticScaling(eta=0.003, target=SET_POINT, tau=20.0)
    hetero = HeterosynapticDecay(beta=ETA_REL / 4.0, w_ref=0.0, power=4.0)
    inhib = InhibitoryPlasticity(eta=0.3 / (EI_DEFAULTS["p"] * n_inh), target=SET_POINT)
    return {
        "none": {},
        "hebbian": {"EE": hebb},
        "hebbian+scaling_fast": {"EE": hebb + fast},
        "hebbian+scaling_slow": {"EE": hebb + slow},
        "hebbian+intrinsic": {"EE": hebb + IntrinsicPlasticity(eta=0.1, target=SET_POINT)},
        "bcm": {"EE": BCM(eta=eta, tau_theta=5.0, theta0=SET_POINT ** 2)},
        "metaplastic_bcm": {"EE": MetaplasticBCM(eta=eta, tau_theta=5.0, tau_meta=50.0, theta0=SET_POINT ** 2,
                                                 kappa=0.5)},
        "hebbian+inhibitory": {"EE": hebb, "IE": inhib},
        "hebbian+heterosynaptic": {"EE": hebb + hetero},
        "hebbian+all3": {"EE": hebb + fast + hetero, "IE": inhib},
        "oja": {"EE": Oja(eta=eta)},
    }


GRID = {"condition": list(CONDITION_NAMES), "seed": [0, 1, 2], "n_exc": [800], "n_inh": [200]}
QUICK = {"condition": list(CONDITION_NAMES), "seed": [0], "n_exc": [400], "n_inh": [100]}


def assemblies(n_exc: int, seed: int) -> list[np.ndarray]:
    """K disjoint random groups of n_exc // (2K) E neurons (sorted indices)."""
    size = n_exc // (2 * K)
    perm = np.random.default_rng([seed, 7]).permutation(n_exc)
    return [np.sort(perm[k * size:(k + 1) * size]) for k in range(K)]


def retention_index(W: np.ndarray, mask: np.ndarray, groups: list[np.ndarray]) -> float:
    """Mean within-assembly weight over mean between-assembly weight (present synapses only)."""
    label = np.full(W.shape[0], -1)
    for k, g in enumerate(groups):
        label[g] = k
    inside = label >= 0
    both = inside[:, None] & inside[None, :] & mask
    same = both & (label[:, None] == label[None, :])
    within, between = W[same].mean(), W[both & ~same].mean()
    if not (np.isfinite(within) and np.isfinite(between)) or between == 0.0:
        return math.nan
    return float(within / between)


def point(condition: str, seed: int, n_exc: int, n_inh: int) -> dict:
    """Learn K assemblies under one condition, run free, measure (module docstring)."""
    plastic = conditions(n_exc, n_inh)[condition]
    net = RateNetwork.ei(n_exc, n_inh, seed=seed)
    e = net.populations["E"]
    groups = assemblies(n_exc, seed)
    in_assembly = np.zeros(n_exc, bool)
    in_assembly[np.concatenate(groups)] = True
    net.run(int(round(T_SETTLE / DT)), progress=False)
    t_start = net.t
    times, rates, reasons = [], [], []
    phase, res, diverged = "learning", None, False
    learn_results = []
    for _ in range(N_CYCLES):
        for g in groups:
            drive = np.zeros(n_exc)
            drive[g] = PATTERN_AMPLITUDE
            res = net.run(int(round(T_SHOW / DT)), plasticity=plastic, inputs={"E": drive},
                          record_every=RECORD_EVERY, progress=False)
            learn_results.append(res)
            times.append(res.times - t_start)
            rates.append(res.rates[:, e])
            if res.diverged:
                diverged = True
                break
        if diverged:
            break
    retention_learned = retention_index(net.weights("EE"), net.connectivity("EE"), groups)
    free = None
    if not diverged:
        phase = "free"
        free = net.run(int(round(T_FREE / DT)), plasticity=plastic, record_every=RECORD_EVERY, progress=False)
        times.append(free.times - t_start)
        rates.append(free.rates[:, e])
        diverged = free.diverged
    last = free if free is not None else res
    t = np.concatenate(times)
    r = np.concatenate(rates)
    keep = np.r_[True, np.diff(t) > 0]  # each run records its start again: drop the repeats
    t, r = t[keep], r[keep]
    m = r.mean(axis=1)
    out: dict = {"diverged": bool(diverged), "diverged_at": math.nan, "diverged_phase": "", "t": t, "rate_E": m}
    if diverged:
        out.update(diverged_at=float(last.diverged_at) - t_start, diverged_phase=phase)
        reasons.append(f"diverged during {phase} at t={out['diverged_at']:.1f} ({last.reason})")
    out["measured_at"] = float(net.t - t_start)

    # outcome, settling: the free phase (a run that diverged while learning is classified on that run)
    target_result = free if free is not None else SimpleNamespace(
        rates=r, times=t, diverged=True, populations={"E": slice(0, n_exc)})
    out["outcome"] = classify_run(target_result, target=SET_POINT, population="E")
    if free is not None and not diverged:
        free_rel = SimpleNamespace(rates=free.rates, times=free.times - free.times[0], diverged=False,
                                   populations=free.populations)
        out["settle_time"] = settling_time(free_rel, target=SET_POINT, population="E", tol=0.1)
    else:
        out["settle_time"] = math.nan
    final = t >= t[-1] - FINAL_WINDOW
    out["rate_error"] = float((m[final].mean() - SET_POINT) / SET_POINT)
    out["activity_variance"] = float(activity_variance(r[final]))

    W_EE = net.weights("EE")
    if np.all(np.isfinite(W_EE)):
        out["retention"] = retention_index(W_EE, net.connectivity("EE"), groups)
        out["J_EE"] = float(W_EE.sum(axis=1).mean())
        out["J_IE"] = float(net.weights("IE").sum(axis=1).mean())
        if not np.isfinite(out["retention"]):
            reasons.append("retention: no E->E weight left between assemblies")
    else:
        out.update(retention=math.nan, J_EE=math.nan, J_IE=math.nan)
        reasons.append("retention: weights non-finite at divergence")
    out["retention_learned"] = retention_learned

    out.update(_dynamics_metrics(net, reasons))
    if diverged:
        out["recall"] = math.nan
        reasons.append("recall: not measured (no free phase to recall after)" if phase == "learning"
                       else "recall: not measured (diverged in the free phase)")
    else:
        out["recall"] = _recall(net, groups, in_assembly, reasons)
    out["reason"] = "; ".join(reasons)
    return out


def _dynamics_metrics(net, reasons: list[str]) -> dict:
    """Spectral radius/abscissa and max Lyapunov exponent of the frozen network at ``net.x``."""
    x = np.asarray(net.x, dtype=float)
    W = net.W
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(W))):
        reasons.append("spectral radius, Lyapunov: state or weights non-finite")
        return {"spectral_radius": math.nan, "spectral_abscissa": math.nan, "max_lyapunov": math.nan}
    # numpy's OpenBLAS on one thread: sweep workers share the cores, and two workers with two
    # BLAS threads each made one eigvals 20-50x slower on the shared 2-core machine
    from plasticity.metrics._householder import numpy_blas_single_thread

    system = net.as_system()  # before any frozen run: it carries the learned thresholds
    J = system.jacobian(x)
    tau = np.empty(net.n)
    tau[net.populations["E"]] = EI_DEFAULTS["tau_e"]
    tau[net.populations["I"]] = EI_DEFAULTS["tau_i"]
    W_eff = tau[:, None] * J + np.eye(net.n)
    with numpy_blas_single_thread(), np.errstate(all="ignore"):
        out = {"spectral_radius": float(spectral_radius(W_eff)),
               "spectral_abscissa": float(np.max(np.linalg.eigvals(J).real))}
        try:
            lam = float(max_lyapunov(system, x, steps=LYAP_STEPS, dt=DT))
        except (FloatingPointError, ValueError, OverflowError) as exc:  # trajectory left the floats
            lam = math.nan
            reasons.append(f"max_lyapunov: {exc!r}")
    if not math.isfinite(lam) and not any(s.startswith("max_lyapunov") for s in reasons):
        reasons.append("max_lyapunov: the frozen trajectory from the final state overflowed")
        lam = math.nan
    out["max_lyapunov"] = lam
    return out


def _recall(net, groups, in_assembly, reasons: list[str]) -> float:
    """Cue half of each assembly (frozen network); un-cued half over non-assembly rate, averaged.

    Frozen runs keep the gains and thresholds intrinsic plasticity learned (``RateNetwork``
    keeps a neuron's gain and threshold across runs), so ``hebbian+intrinsic`` is tested as it
    learned to be.
    """
    e = net.populations["E"]
    x_end = net.x.copy()
    steps = int(round(T_CUE / DT))
    ratios = []
    for g in groups:
        cued, uncued = g[: len(g) // 2], g[len(g) // 2:]
        drive = np.zeros(e.stop - e.start)
        drive[cued] = PATTERN_AMPLITUDE
        res = net.run(steps, inputs={"E": drive}, x0=x_end, record_every=RECORD_EVERY, progress=False)
        if res.diverged:
            reasons.append(f"recall: frozen network diverged under the cue ({res.reason})")
            return math.nan
        rE = res.rates[res.times >= res.times[-1] - T_CUE / 2][:, e]
        base = rE[:, ~in_assembly].mean()
        if base < 1e-3:
            reasons.append("recall: non-assembly neurons silent under the cue")
            return math.nan
        ratios.append(rE[:, uncued].mean() / base)
    net.x = x_end
    return float(np.mean(ratios))


# -- tables ------------------------------------------------------------------------------

METRICS = ["rate_error", "settle_time", "retention", "retention_learned", "recall", "spectral_radius",
           "spectral_abscissa", "activity_variance", "max_lyapunov", "J_EE", "J_IE", "diverged_at"]


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per condition: majority outcome (ties to the worse), outcome counts, NaN-ignoring means."""
    rows = []
    for cond, grp in table.groupby("condition", sort=False):
        ok = grp[grp["error"].isna()] if "error" in grp else grp
        counts = Counter(ok["outcome"].dropna())
        # ties go to the worse outcome (later in OUTCOMES): 1 stable + 1 diverged reads "diverged"
        majority = max(counts, key=lambda o: (counts[o], OUTCOMES.index(o) if o in OUTCOMES else -1)) \
            if counts else "failed"
        row = {"condition": cond, "outcome": majority,
               "outcome_counts": ", ".join(f"{o} {counts[o]}" for o in OUTCOMES if counts[o]) or "none",
               "runs": len(grp), "diverged": int(ok["diverged"].astype(bool).sum()) if len(ok) else 0}
        for col in METRICS:
            vals = pd.to_numeric(ok[col], errors="coerce") if col in ok else pd.Series(dtype=float)
            row[col] = float(vals.mean()) if vals.notna().any() else math.nan
        row["n_measured_retention"] = int(pd.to_numeric(ok.get("retention"), errors="coerce").notna().sum()) \
            if len(ok) else 0
        rows.append(row)
    out = pd.DataFrame(rows)
    order = {c: k for k, c in enumerate(CONDITION_NAMES)}
    return out.sort_values("condition", key=lambda s: s.map(lambda c: order.get(c, len(order)))).reset_index(drop=True)


# -- figure ------------------------------------------------------------------------------

ERROR_FLOOR, ERROR_CEIL = 1e-3, 10.0  # x range of panel (a); diverged runs sit in a column right of it
X_DIVERGED = 40.0


def _stagger(values: list[float], gap: float, lo: float, hi: float) -> list[float]:
    """Positions near ``values`` (same order), at least ``gap`` apart, inside [lo, hi] when possible."""
    order = np.argsort(values)
    placed = np.array(values, dtype=float)[order]
    for k in range(1, len(placed)):
        placed[k] = max(placed[k], placed[k - 1] + gap)
    shift = max(0.0, placed[-1] - hi) if len(placed) else 0.0
    placed = np.maximum(placed - shift, lo)
    out = np.empty(len(values))
    out[order] = placed
    return list(out)


def figure(table: pd.DataFrame):
    """(a) |rate error| vs retention; (b) E rate over time; (c) outcomes; (d) retention, recall."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from plasticity.plot import new_figure, rule_color

    data = table[table["error"].isna()] if "error" in table else table
    conds = [c for c in CONDITION_NAMES if c in set(data["condition"])] + \
        [c for c in dict.fromkeys(data["condition"]) if c not in CONDITION_NAMES]
    seeds = sorted(set(data["seed"]))
    fig, axes = new_figure(2, 2, figsize=(11.0, 8.6))

    # (a) the answer: small |rate error| with retention > 1 is the goal
    ax = axes[0, 0]
    err = np.abs(pd.to_numeric(data["rate_error"], errors="coerce").to_numpy(float))
    ret = pd.to_numeric(data["retention"], errors="coerce").to_numpy(float)
    top = max(1.5, float(np.nanmax(ret)) if np.isfinite(ret).any() else 1.5) * 1.08
    ax.fill_between([ERROR_FLOOR, 0.1], 1.0, top, color="#E5F2E5", zorder=0, lw=0)
    ax.axvspan(ERROR_CEIL * 1.6, X_DIVERGED * 2.2, color="0.93", zorder=0, lw=0)
    ax.axhline(1.0, color="0.5", lw=0.8, ls="--", zorder=1)
    ax.axvline(0.1, color="0.5", lw=0.8, ls=":", zorder=1)
    div_labels = []
    for k, row in enumerate(data.itertuples()):
        diverged = bool(row.diverged)
        if diverged:
            x = X_DIVERGED
        elif np.isfinite(err[k]):
            x = min(max(err[k], ERROR_FLOOR), ERROR_CEIL)
        else:
            continue
        y = ret[k] if np.isfinite(ret[k]) else 0.0  # no weights to compare: drawn on the axis
        ax.scatter([x], [y], s=70 if diverged else 45, marker=OUTCOME_MARKERS.get(row.outcome, "o"),
                   color=rule_color(row.condition), edgecolor="k", linewidth=0.5, zorder=4, clip_on=False,
                   gid="diverged" if diverged else "run")
    # one label per diverged condition: when (mean over its diverged runs) and how many runs
    div_labels = []
    for c in conds:
        rows = data[(data["condition"] == c) & data["diverged"].astype(bool)]
        if rows.empty:
            continue
        y = pd.to_numeric(rows["retention"], errors="coerce").fillna(0.0).mean()
        when = f"t={rows['diverged_at'].mean():.0f}" if len(rows) == 1 else f"t~{rows['diverged_at'].mean():.0f}"
        div_labels.append((y, f"{c} ({when}, {len(rows)}/{int((data['condition'] == c).sum())})", rule_color(c)))
    if div_labels:
        ys = _stagger([v[0] for v in div_labels], gap=0.065 * top, lo=0.03 * top, hi=0.97 * top)
        for (y, text, color), yt in zip(div_labels, ys):
            ax.annotate(text, (X_DIVERGED, y), xytext=(X_DIVERGED * 0.62, yt), textcoords="data", fontsize=6.5,
                        color=color, ha="right", va="center",
                        arrowprops={"arrowstyle": "-", "color": color, "lw": 0.5, "shrinkB": 4})
    ax.set_xscale("log")
    ax.set_xlim(ERROR_FLOOR * 0.8, X_DIVERGED * 2.2)
    ax.set_ylim(0.0, top)
    ticks = [t for t in (1e-3, 1e-2, 1e-1, 1.0, 10.0)]
    ax.set_xticks(ticks + [X_DIVERGED], ["0.1%", "1%", "10%", "100%", "1000%", "diverged"])
    ax.minorticks_off()
    ax.text(0.09, 1.015, "goal: at the set point,\nassemblies kept", ha="right", va="bottom", fontsize=7,
            color="#2E7D32")
    ax.set_xlabel("|rate error| = |mean E rate (final 15 $\\tau_E$) - 2| / 2")
    ax.set_ylabel("retention = within / between-assembly E$\\to$E weight")
    ax.set_title("(a) homeostasis vs memory: one point per run", loc="left")
    present = [o for o in OUTCOMES if o in set(data["outcome"])]

    # (b) mean E rate over time, first seed; log axis so runaways and the set point both show
    ax = axes[0, 1]
    first = data[data["seed"] == seeds[0]]
    t_learn = K * N_CYCLES * T_SHOW
    ax.axvspan(0.0, t_learn, color="0.94", zorder=0, lw=0)
    ax.text(t_learn / 2, 0.98, f"learning: {K} patterns x {N_CYCLES}", transform=ax.get_xaxis_transform(),
            ha="center", va="top", fontsize=7, color="0.35")
    ax.text(t_learn + T_FREE / 2, 0.98, "free", transform=ax.get_xaxis_transform(), ha="center", va="top",
            fontsize=7, color="0.35")
    ax.axhline(SET_POINT, color="0.3", lw=0.8, ls="--")
    for c in conds:
        rows = first[first["condition"] == c]
        if rows.empty:
            continue
        row = rows.iloc[0]
        tt, mm = np.asarray(row["t"], float), np.asarray(row["rate_E"], float)
        color = rule_color(c)
        ax.plot(tt, np.clip(mm, 0.05, None), color=color, lw=1.0, label=c, zorder=3 if c != "none" else 2)
        if bool(row["diverged"]):
            ax.plot([row["diverged_at"]], [max(mm[-1], 0.05)], marker="X", ms=8, color=color, markeredgecolor="k",
                    markeredgewidth=0.6, ls="none", gid="diverged", zorder=5, clip_on=False)
    ax.set_yscale("log")
    ax.set_xlabel("time ($\\tau_E$) from the start of learning")
    ax.set_ylabel("mean E rate (set point 2, dashed)")
    ax.set_title(f"(b) E rate over time (seed {seeds[0]}; X = diverged)", loc="left")

    # (c) outcome counts per condition
    ax = axes[1, 0]
    cols = present or ["stable"]
    for i, c in enumerate(conds):
        counts = Counter(data.loc[data["condition"] == c, "outcome"])
        for j, o in enumerate(cols):
            if counts[o]:
                ax.scatter([j], [i], s=50 + 40 * counts[o], marker=OUTCOME_MARKERS.get(o, "o"), color=rule_color(c),
                           edgecolor="k", linewidth=0.5, gid=f"outcome:{c}:{o}")
                ax.annotate(f"{counts[o]}/{len(seeds)}", (j, i), xytext=(10, -3), textcoords="offset points",
                            fontsize=7)
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(conds)), conds)
    ax.set_xlim(-0.5, len(cols) - 0.3)
    ax.set_ylim(len(conds) - 0.5, -0.5)
    ax.grid(True, color="0.9", lw=0.6)
    ax.set_title("(c) outcome of the free phase (classify_run, target 2): runs per class", loc="left")

    # (d) retention (circles; X = measured at divergence) and recall (diamonds) per condition
    ax = axes[1, 1]
    ax.axvline(1.0, color="0.5", lw=0.8, ls="--")
    for i, c in enumerate(conds):
        rows = data[data["condition"] == c]
        div = rows["diverged"].astype(bool).to_numpy()
        for off, col in ((-0.17, "retention"), (0.17, "recall")):
            v = pd.to_numeric(rows[col], errors="coerce").to_numpy(float)
            for flag, marker in ((False, "o" if col == "retention" else "D"), (True, "X")):
                sel = np.isfinite(v) & (div == flag)
                ax.scatter(v[sel], np.full(sel.sum(), i + off), marker=marker, s=34 if flag else 28,
                           color=rule_color(c), edgecolor="k", linewidth=0.4, zorder=3)
            if not np.isfinite(v).any():
                ax.text(1.02, i + off, f"{col}: n/a (diverged)" if div.all() else f"{col}: n/a", va="center",
                        fontsize=6, color="0.45")
    ax.set_yticks(range(len(conds)), conds)
    ax.set_ylim(len(conds) - 0.5, -0.5)
    ax.set_xlabel("retention (o; X = measured at divergence) and recall ($\\diamond$, un-cued half / non-assembly "
                  "rate); 1 = no structure", fontsize=8)
    ax.set_title("(d) what learning left after the free phase", loc="left")

    handles = [Patch(color=rule_color(c), label=c) for c in conds]
    handles += [Line2D([], [], marker=OUTCOME_MARKERS[o], color="0.6", ls="none", markeredgecolor="k", markersize=7,
                       label=f"outcome: {o}") for o in present]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(7, len(handles)), fontsize=7.5,
               title="colour = condition, marker = outcome (classify_run of the free phase)", title_fontsize=7.5)
    n_e = int(data["n_exc"].iloc[0]) if len(data) else 0
    quick = n_e < int(GRID["n_exc"][0]) or len(seeds) < len(GRID["seed"])
    fig.suptitle(
        f"Which homeostatic mechanism holds E at its set point (2) and keeps the learned assemblies? E/I rate network, "
        f"n_E = {n_e}, {len(seeds)} seed{'s' if len(seeds) > 1 else ''}{' (quick mode)' if quick else ''}.\n"
        "Expect: Hebbian alone, slow scaling and Oja diverge, intrinsic plasticity later; BCM settles at its own "
        "set point (~1.3); fast scaling and\nheterosynaptic decay hold the rate but erase the assemblies; "
        "inhibitory plasticity holds the rate and keeps them (all3: partly).", fontsize=8.5)
    return fig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
