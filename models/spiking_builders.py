"""The driven COBA network with plastic E->E synapses: its builder, its triplet rule and its read-out.

The network of the spiking studies (``studies.spiking_homeostasis``, ``studies.fast_rate_detector``):
the Brette et al. (2007) COBA benchmark (:meth:`models.SpikingNetwork.coba`: 80% E, 20% I
conductance-based LIF neurons, we = 6 nS, wi = 67 nS) with

* the in-degree of the 4000-neuron benchmark kept at any size (p = 0.02 * 4000 / n), and
* a weak external Poisson drive (``drive`` Hz of input events per neuron: ``N_X`` sources,
  connection probability ``P_X``, weight we), which gives the self-sustained state a floor;

plus the minimal all-to-all visual-cortex triplet STDP of Pfister & Gerstner (2006), J Neurosci
26:9673, Table 3 (every value read from :meth:`TripletSTDP.minimal_visual_cortex`), with
amplitudes in siemens (relative weight changes times we), optionally with the sliding LTD
amplitude of Zenke, Hennequin & Gerstner (2013), PLoS Comput Biol 9:e1003330 (``target_rate``,
``tau_rate``), and the spike statistics of a run's E population.

Conventions shared by those studies: weights in siemens, E->E bounded to [0, W_MAX_EE = 3 we]
and I->E to [0, W_MAX_IE = 10 wi]; a run stops (diverged) when its population rate passes
MAX_RATE in a 10 ms window; rates are read in RATE_BIN bins; a final E rate above RUNAWAY_RATE
is a runaway and one below SILENT_RATE is silence.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from models.spiking import PoissonPopulation, Projection, SpikingNetwork
from plasticity.rules import TripletSTDP

__all__ = ["with_poisson_drive", "WE", "WI", "W_MAX_EE", "W_MAX_IE", "N_X", "P_X", "MAX_RATE", "RATE_BIN", "RUNAWAY_RATE", "SILENT_RATE",
           "triplet_target", "triplet_rule", "driven_coba", "spike_statistics"]

WE, WI = 6e-9, 67e-9             # COBA weights (S)
W_MAX_EE, W_MAX_IE = 3 * WE, 10 * WI
N_X, P_X = 1000, 0.02            # external Poisson drive: sources, connection probability
MAX_RATE = 200.0                 # Hz in a 10 ms window: the run stops (diverged)
RATE_BIN = 0.05                  # s, bins of the population rate over time
RUNAWAY_RATE, SILENT_RATE = 50.0, 1.0   # Hz, final E rate


def triplet_target() -> float:
    """theta0 = A2- tau- / (A3+ tau+ tau_y) of the minimal visual-cortex set (Hz): its BCM threshold under Poisson firing."""
    r = TripletSTDP.minimal_visual_cortex()
    return r.a2_minus * r.tau_minus / (r.a3_plus * r.tau_plus * r.tau_y)


def triplet_rule(eta: float = 1.0, target_rate: float | None = None, tau_rate: float = 0.5) -> TripletSTDP:
    """Minimal all-to-all visual-cortex triplet STDP in siemens (amplitudes times ``eta * WE``), w_max = W_MAX_EE.

    ``target_rate`` (Hz) and ``tau_rate`` (s): the LTD amplitude slides with a low-pass estimate of
    the postsynaptic rate, A2-(t) = A2- (rate_hat / target_rate)^2 (None: fixed amplitudes).
    """
    r = TripletSTDP.minimal_visual_cortex()
    return TripletSTDP.minimal_visual_cortex(a3_plus=r.a3_plus * eta * WE, a2_minus=r.a2_minus * eta * WE,
                                             w_max=W_MAX_EE, target_rate=target_rate, tau_rate=tau_rate)


def with_poisson_drive(base: SpikingNetwork, drive: float, seed: int, projections: tuple | None = None,
                       weight: float = WE) -> SpikingNetwork:
    """``base`` (a COBA network; its ``projections`` replaced when given) plus ``drive`` Hz of Poisson
    input per neuron: ``N_X`` sources at connection probability ``P_X`` onto E and I with
    conductance ``weight`` (S). ``drive = 0`` adds no input."""
    projections = base.projections if projections is None else tuple(projections)
    inputs = (PoissonPopulation("X", N_X, drive / (N_X * P_X)),) if drive > 0 else ()
    if drive > 0:
        projections += (Projection("X", "E", P_X, weight), Projection("X", "I", P_X, weight))
    return SpikingNetwork(base.populations, projections, inputs=inputs, synapse="conductance",
                          tau_exc=base.tau_exc, tau_inh=base.tau_inh, E_exc=base.E_exc, E_inh=base.E_inh,
                          dt=base.dt, method="euler", weight_dtype="float32", seed=seed)


def driven_coba(n: int, drive: float, seed: int, ee_scale: float = 1.0) -> SpikingNetwork:
    """COBA (80% E) with in-degree kept at 80 (p = 80 / n), plus ``drive`` Hz of Poisson input per neuron.

    ``ee_scale`` multiplies the E->E weights (for measuring the network's gain). With ``drive = 0``
    and ``ee_scale = 1`` it is :meth:`SpikingNetwork.coba` itself.
    """
    n_exc = int(round(0.8 * n))
    base = SpikingNetwork.coba(seed=seed, n_exc=n_exc, n_inh=n - n_exc, p=min(1.0, 0.02 * 4000 / n))
    if drive == 0 and ee_scale == 1.0:
        return base
    projections = tuple(replace(p, weight=p.weight * ee_scale) if p.key == "EE" else p for p in base.projections)
    return with_poisson_drive(base, drive, seed, projections)


def spike_statistics(res, t_start: float, t_stop: float, fano_bin: float = 0.1, sync_bin: float = 0.01,
                     n_sync: int = 250) -> dict:
    """Rates, CV of ISI, Fano factor and synchrony of the E population of ``res`` over ``[t_start, t_stop)``.

    ``rate_E``, ``rate_I`` (Hz); ``cv_isi``: mean CV of the ISIs (neurons with >= 3 spikes);
    ``fano``: mean spike-count Fano factor in ``fano_bin`` bins; ``sync_corr`` and ``sync_chi``:
    mean pairwise correlation of ``sync_bin`` spike counts and Golomb's chi over the first
    ``n_sync`` E neurons (a random subset: connectivity is random). NaN where undefined.
    """
    from plasticity.metrics import fano_factor, golomb_synchrony, isi_cv, pairwise_correlation, spike_counts

    E = res.populations["E"]
    n_e = E.stop - E.start
    in_e = (res.spike_indices >= E.start) & (res.spike_indices < E.stop)
    t, i = res.spike_times[in_e], res.spike_indices[in_e] - E.start
    span = max(t_stop - t_start, 1e-12)
    rate = float(np.count_nonzero((t >= t_start) & (t < t_stop)) / (n_e * span))
    I = res.populations["I"]
    in_i = (res.spike_indices >= I.start) & (res.spike_indices < I.stop) & (res.spike_times >= t_start) & (res.spike_times < t_stop)
    out = {"rate_E": rate, "rate_I": float(np.count_nonzero(in_i) / ((I.stop - I.start) * span)),
           "cv_isi": np.nan, "fano": np.nan, "sync_corr": np.nan, "sync_chi": np.nan}
    if rate == 0:
        return out
    with np.errstate(all="ignore"):
        out["cv_isi"] = float(np.nanmean(isi_cv(t, i, n_e, t_start=t_start, t_stop=t_stop)))
    if span >= 2 * fano_bin:
        out["fano"] = float(np.nanmean(fano_factor(spike_counts(t, i, n_e, fano_bin, t_start, t_stop))))
    sub = i < n_sync
    counts = spike_counts(t[sub], i[sub], min(n_sync, n_e), sync_bin, t_start, t_stop)
    if counts.shape[1] >= 2:
        out["sync_corr"] = pairwise_correlation(counts)
        out["sync_chi"] = golomb_synchrony(counts)
    return out
