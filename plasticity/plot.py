"""Figure helpers with one consistent style: labelled axes, quiet legends, a colour-blind-safe palette.

Each helper draws on an ``ax`` the caller owns and returns it. Figures come from
:func:`new_figure` (a ``matplotlib.figure.Figure`` with constrained layout, not tied to
pyplot's global state or to a GUI backend), the style from :func:`paper_style` (the study
harness draws every study figure inside it), files from :func:`save_figure` (PNG and PDF,
written atomically). Divergence is drawn, not hidden: a marker ``X`` (``gid="diverged"``)
where a run stopped.

matplotlib is imported here only, so ``import plasticity`` does not pay for it.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["spread_labels", "plain_log_ticks", "PALETTE", "RULE_COLORS", "rule_color", "series_color", "STYLE", "paper_style", "new_figure", "save_figure",
           "metric_over_time", "metric_vs_param", "eigenvalues_with_gershgorin", "raster"]

# Okabe & Ito (2008), "Color universal design": distinguishable under the common colour-vision
# deficiencies; yellow last because it is faint on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")

# One colour per plasticity rule / study condition, the same in every study and notebook.
# Okabe-Ito first, then Tol's muted colours for the rest; variants of one mechanism share a hue
# (fast scaling dark blue, slow scaling light blue; BCM and metaplastic BCM purples); "none"
# (no plasticity) is grey, the combination of three compensations black.
RULE_COLORS: dict[str, str] = {
    "none": "#888888",
    "hebbian": "#D55E00",
    "oja": "#882255",
    "bcm": "#CC79A7",
    "metaplastic_bcm": "#AA4499",
    "scaling": "#0072B2",
    "hebbian+scaling_fast": "#0072B2",
    "hebbian+scaling_slow": "#56B4E9",
    "intrinsic": "#E69F00",
    "hebbian+intrinsic": "#E69F00",
    "inhibitory": "#009E73",
    "hebbian+inhibitory": "#009E73",
    "heterosynaptic": "#999933",
    "hebbian+heterosynaptic": "#999933",
    "hebbian+all3": "#000000",
}
# Fallback colours for names not in RULE_COLORS (Tol muted and dark, none of the above).
_FALLBACK_COLORS = ("#332288", "#88CCEE", "#44AA99", "#117733", "#DDCC77", "#CC6677", "#661100", "#6699CC")


def series_color(label: Any, k: int) -> str:
    """The colour of the ``k``-th series: its rule's fixed colour when ``label`` names a rule or
    condition of :data:`RULE_COLORS`, else the ``k``-th colour of :data:`PALETTE`."""
    key = "_".join(str(label).strip().lower().replace("-", " ").split())
    return RULE_COLORS[key] if key in RULE_COLORS else PALETTE[k % len(PALETTE)]


def rule_color(name: str) -> str:
    """The fixed colour of a rule or condition name (:data:`RULE_COLORS`).

    Looked up as given, then case-insensitively with spaces and dashes read as underscores
    (``"Metaplastic BCM"`` is ``"metaplastic_bcm"``); any other name gets one of
    ``_FALLBACK_COLORS`` chosen by the CRC-32 of the normalised name, so it is the same in every
    process and run (unlike ``hash``).
    """
    import zlib

    if name in RULE_COLORS:
        return RULE_COLORS[name]
    key = "_".join(str(name).strip().lower().replace("-", " ").split())
    if key in RULE_COLORS:
        return RULE_COLORS[key]
    return _FALLBACK_COLORS[zlib.crc32(key.encode()) % len(_FALLBACK_COLORS)]


STYLE: dict[str, Any] = {
    "font.size": 9, "axes.labelsize": 9, "axes.titlesize": 10, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "lines.linewidth": 1.4, "lines.markersize": 4,
    "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
    "figure.constrained_layout.use": True, "savefig.dpi": 200, "savefig.bbox": "tight",
    "pdf.fonttype": 42, "ps.fonttype": 42,  # embed TrueType: text stays text in the PDF
    "image.cmap": "viridis",
}
_DIVERGED = {"marker": "X", "markersize": 8, "markeredgecolor": "k", "markeredgewidth": 0.6, "linestyle": "none"}


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Context in which figures get the project's style (:data:`STYLE`, :data:`PALETTE`)."""
    import matplotlib as mpl
    from cycler import cycler

    with mpl.rc_context({**STYLE, "axes.prop_cycle": cycler(color=list(PALETTE))}):
        yield


def new_figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] | None = None, **subplot_kw: Any):
    """``(fig, axes)`` as ``plt.subplots`` returns them, without pyplot (no GUI backend, no leak).

    ``figsize`` defaults to 3.4 x 2.6 inches per panel (one journal column per panel).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize or (3.4 * ncols, 2.6 * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, **subplot_kw)


def save_figure(fig, stem: str | os.PathLike, dpi: int = 200) -> list[Path]:
    """Write ``<stem>.png`` (``dpi``) and ``<stem>.pdf``, each atomically; return the paths."""
    from plasticity._store import atomic_write

    paths = []
    for fmt in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
        path = Path(f"{stem}.{fmt}")
        atomic_write(path, buf.getvalue())
        paths.append(path)
    return paths


def metric_over_time(ax, times, values_by_label: Mapping[str, Any] | None = None, ylabel: str = "",
                     diverged_at: Mapping[str, float | None] | float | None = None, *, xlabel: str = "time",
                     legend: bool = False):
    """One line per run of a metric against time; a marker ``X`` where a run diverged.

    Parameters
    ----------
    ax : matplotlib Axes
    times : (T,) array, or dict label -> (T_label,) array, or dict label -> (times, values)
        Shared times, per-run times, or (with ``values_by_label=None``) the whole series.
    values_by_label : dict label -> (T_label,) array, optional
        A run that stopped early may be shorter than its times (it is drawn over the first ones).
    ylabel, xlabel : str
        Axis labels; put the unit in them, e.g. ``"time (steps)"``.
    diverged_at : dict label -> time, or a time for every run, optional
        The marker sits at that time, at the run's last finite value recorded by then (at the
        top of the axes when there is none). None or NaN: the run did not diverge.
    legend : bool
        Add a legend (off by default so that multi-panel figures carry one legend).
    """
    series = _series(times, values_by_label)
    any_diverged = False
    for k, (label, (t, v)) in enumerate(series.items()):
        color = series_color(label, k)
        ax.plot(t[: len(v)], v, color=color, label=str(label))
        d = diverged_at.get(label) if isinstance(diverged_at, Mapping) else diverged_at
        if d is None or not math.isfinite(float(d)):
            continue
        any_diverged = True
        ok = np.flatnonzero((t[: len(v)] <= d) & np.isfinite(v))
        if ok.size:
            ax.plot([d], [v[ok[-1]]], color=color, gid="diverged", label="_nolegend_", zorder=5, **_DIVERGED)
        else:
            ax.plot([d], [0.97], color=color, gid="diverged", label="_nolegend_", zorder=5, clip_on=False,
                    transform=ax.get_xaxis_transform(), **_DIVERGED)
    if any_diverged:
        ax.plot([], [], color="0.6", label="diverged", **_DIVERGED)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend()
    return ax


def _series(times, values_by_label) -> dict[Any, tuple[np.ndarray, np.ndarray]]:
    if values_by_label is None:
        if not isinstance(times, Mapping):
            raise TypeError("metric_over_time: without values_by_label, times must be a dict label -> (times, values)")
        pairs = {k: (np.asarray(t, dtype=float), np.asarray(v, dtype=float)) for k, (t, v) in times.items()}
    else:
        pairs = {k: (np.asarray(times[k] if isinstance(times, Mapping) else times, dtype=float),
                     np.asarray(v, dtype=float)) for k, v in values_by_label.items()}
    for k, (t, v) in pairs.items():
        if v.ndim != 1 or t.ndim != 1 or len(v) > len(t):
            raise ValueError(f"metric_over_time: values of {k!r} must be 1-D and no longer than their times; "
                             f"got values {v.shape}, times {t.shape}")
    return pairs


def metric_vs_param(ax, table, x: str, y: str, hue: str | None = None, err: str | None = "sem", *,
                    xlabel: str | None = None, ylabel: str | None = None, diverged: str = "diverged",
                    legend: bool = True):
    """Mean of ``y`` against ``x`` across seeds, with an error band; diverged points marked.

    Rows with an ``error`` (failed sweep points) are left out. Runs flagged in the boolean
    column ``diverged`` (when the table has it) or with a non-finite ``y`` are left out of the
    mean; an ``x`` where at least one run diverged gets a marker ``X`` at the top of the axes,
    in the colour of its ``hue``.

    Parameters
    ----------
    ax : matplotlib Axes
    table : pandas.DataFrame
        One row per run (e.g. the table of :func:`plasticity.sweep`).
    x, y, hue : str
        Column names: the parameter, the metric, and what separates the lines (optional).
    err : "sem", "std" or None
        Band half-width: standard error of the mean (std with ddof=1 over sqrt(n)), standard
        deviation (ddof=1), or no band. Groups of one run get no band.
    xlabel, ylabel : str, optional
        Axis labels with units; the column names by default.
    """
    if err not in ("sem", "std", None):
        raise ValueError(f"metric_vs_param: err must be one of ('sem', 'std', None); got {err!r}")
    data = table
    if "error" in data.columns:
        data = data[data["error"].isna()]
    flagged = data[diverged].astype(bool).to_numpy() if diverged in data.columns else np.zeros(len(data), bool)
    values = data[y].to_numpy(dtype=float)
    bad = flagged | ~np.isfinite(values)
    groups = [(None, np.ones(len(data), bool))] if hue is None else \
        [(h, (data[hue] == h).to_numpy()) for h in dict.fromkeys(data[hue])]
    any_diverged = False
    for k, (h, in_group) in enumerate(groups):
        color = series_color(h, k)
        xs = np.array(sorted(set(data[x][in_group])), dtype=float)
        mean, half, marks = [], [], []
        for xv in xs:
            at = in_group & (data[x].to_numpy(dtype=float) == xv)
            good = values[at & ~bad]
            n = good.size
            mean.append(good.mean() if n else np.nan)
            spread = good.std(ddof=1) if n > 1 else np.nan
            half.append(spread / math.sqrt(n) if err == "sem" and n > 1 else spread)
            if flagged[at].any() or (~np.isfinite(values[at])).any():
                marks.append(xv)
        mean, half = np.array(mean), np.array(half)
        ax.plot(xs, mean, "o-", color=color, label="_nolegend_" if h is None else str(h))
        if err is not None:
            ax.fill_between(xs, mean - half, mean + half, color=color, alpha=0.25, linewidth=0)
        if marks:
            any_diverged = True
            ax.plot(marks, [0.97] * len(marks), color=color, gid="diverged", label="_nolegend_", clip_on=False,
                    transform=ax.get_xaxis_transform(), **_DIVERGED)
    if any_diverged:
        ax.plot([], [], color="0.6", label="diverged (any run)", **_DIVERGED)
    ax.set_xlabel(xlabel if xlabel is not None else x)
    ax.set_ylabel(ylabel if ylabel is not None else y)
    if legend and (hue is not None or any_diverged):
        ax.legend(title=hue)
    return ax


def _discs(J: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        from plasticity.metrics import gershgorin_discs

        return gershgorin_discs(J)
    except (ImportError, AttributeError):  # metrics not there: the definition, in numpy
        return np.diag(J).copy(), np.abs(J).sum(axis=1) - np.abs(np.diag(J))


def plain_log_ticks(axis, ticks: Sequence[float]) -> None:
    """Plain-number ticks at ``ticks`` on a log axis (matplotlib's 3x10^1 labels collide on a short decade)."""
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())


def spread_labels(values: Sequence[float], gap: float, lo: float, hi: float) -> list[float]:
    """Label positions near ``values`` (same order), at least ``gap`` apart, inside ``[lo, hi]`` when they fit.

    Sorted positions are pushed up until each is ``gap`` above the one below, then the whole stack
    is shifted down by what overflows ``hi`` (never below ``lo``). For labels of points that share
    an axis position (e.g. a column of diverged runs) so that no two labels overlap.
    """
    order = np.argsort(values)
    placed = np.array(values, dtype=float)[order]
    for k in range(1, len(placed)):
        placed[k] = max(placed[k], placed[k - 1] + gap)
    shift = max(0.0, placed[-1] - hi) if len(placed) else 0.0
    placed = np.maximum(placed - shift, lo)
    out = np.empty(len(values))
    out[order] = placed
    return list(out)


def eigenvalues_with_gershgorin(ax, J, *, legend: bool = True):
    """Eigenvalues of ``J`` in the complex plane with its row Gershgorin discs and the unit circle.

    Disc ``i`` is centred at ``J[i, i]`` with radius ``sum_{j != i} |J[i, j]|``; every eigenvalue
    lies in their union (Gershgorin 1931). The unit circle is the stability boundary of a map.
    Artists carry ``gid`` ``"gershgorin"`` (one ``Circle`` per row), ``"unit_circle"`` and
    ``"eigenvalues"``.
    """
    from matplotlib.patches import Circle

    J = np.asarray(J)
    if J.ndim != 2 or J.shape[0] != J.shape[1]:
        raise ValueError(f"eigenvalues_with_gershgorin: J must be a square matrix; got shape {J.shape}")
    ev = np.linalg.eigvals(J)
    centers, radii = (np.asarray(a) for a in _discs(J))
    for k, (c, r) in enumerate(zip(centers, radii)):
        ax.add_patch(Circle((float(np.real(c)), float(np.imag(c))), float(r), facecolor=PALETTE[5], alpha=0.12,
                            edgecolor=PALETTE[0], linewidth=0.6, gid="gershgorin",
                            label="Gershgorin discs" if k == 0 else "_nolegend_"))
    ax.add_patch(Circle((0.0, 0.0), 1.0, fill=False, linestyle="--", edgecolor="0.3", linewidth=0.9,
                        gid="unit_circle", label="unit circle"))
    ax.scatter(ev.real, ev.imag, s=10, color=PALETTE[1], zorder=3, gid="eigenvalues", label="eigenvalues")
    reach = max(1.0, float(np.max(np.abs(centers) + radii)) if len(radii) else 1.0, float(np.max(np.abs(ev))))
    ax.set_xlim(-1.05 * reach, 1.05 * reach)
    ax.set_ylim(-1.05 * reach, 1.05 * reach)
    ax.set_aspect("equal")
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    if legend:
        ax.legend(loc="upper right")
    return ax


def raster(ax, spike_times, spike_indices, populations: Mapping[str, Any] | None = None, *,
           markersize: float = 1.0):
    """Spike raster: one dot per spike at (time in s, neuron index), coloured by population.

    ``populations`` maps a name to a slice (or index array) of neurons, as
    ``SpikingResult.populations``; neurons in none of them are grey. Dots are rasterized in
    vector output, so a PDF of a million spikes stays small.
    """
    t = np.asarray(spike_times, dtype=float)
    i = np.asarray(spike_indices)
    if t.shape != i.shape or t.ndim != 1:
        raise ValueError(f"raster: spike_times and spike_indices must be 1-D of equal length; got {t.shape}, {i.shape}")
    rest = np.ones(t.size, bool)
    for k, (name, members) in enumerate((populations or {}).items()):
        if isinstance(members, slice):
            start, stop, step = members.indices(int(i.max()) + 1 if i.size else 0)
            inside = (i >= start) & (i < stop) & ((i - start) % step == 0)
        else:
            inside = np.isin(i, np.asarray(members))
        inside &= rest
        rest &= ~inside
        ax.plot(t[inside], i[inside], ".", markersize=markersize, color=PALETTE[k % len(PALETTE)],
                label=str(name), rasterized=True, gid=f"raster:{name}")
    if rest.any():
        ax.plot(t[rest], i[rest], ".", markersize=markersize, color="0.5", rasterized=True, gid="raster:other",
                label="_nolegend_" if populations else "spikes")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("neuron index")
    if populations:
        ax.legend(loc="upper right", markerscale=6 / max(markersize, 0.1))
    return ax
