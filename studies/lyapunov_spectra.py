"""Full Lyapunov spectra of random tanh rate networks: mean exponent -1, point symmetry, and size-invariant D_KY/N and entropy rate against g.

Model (Engelken, Wolf & Abbott 2023, Phys Rev Research 5:043044, arXiv:2006.02427; the authors'
demo code github.com/RainerEngelken/RNN-LyapunovSpectra): tau dh/dt = -h + J tanh(h), tau = 1,
J_ij ~ N(0, g^2/N), J_ii = 0 (no autapses, as in the demo code). Spectra by the QR method of
:func:`plasticity.metrics.lyapunov_spectrum` on the RK4 flow (dt = 0.1 tau, QR every 10 steps,
i.e. t_ONS = 1 tau, the demo code's example values; the demo itself steps Euler), after a transient.

Closed form tested: the Jacobian -1 + J diag(tanh'(h)) has trace -N at every state when
J_ii = 0, so by Liouville's formula sum_i lambda_i = -N exactly: the mean exponent is -1/tau for
every g, N and seed (RK4 adds an O(dt^4) error, about 1e-6 here).

Published claims compared (what the sources read state: the paper's abstract, arXiv and ar5iv
versions, and the demo code; the paper body and its figures were not readable with the tools at
hand): (i) the spectrum is point-symmetric, which about its mean -1 reads
lambda_i + lambda_{N+1-i} = -2; (ii) chaos is extensive with a
size-invariant spectrum, so D_KY/N and H/N (H = sum of the positive exponents, 1/tau) do not
depend on N; (iii) D_KY << N; (iv) D_KY and H grow with g near the onset of chaos and decrease far
from it. Small networks can settle on a fixed point or a limit cycle (lambda_1 <= 0.01): they
are named in the table, marked X in the figure and left out of the D/N and H/N means, which are
claims about chaotic networks. No published numbers of D_KY/N(g) or H(g) were available: the table says so (NaN) rather
than quote values from memory. Thresholds of the outcome column: symmetry RMS residual < 5 % of
the spectrum's width; size invariance: relative difference of the seed means between consecutive
N (worst g; the median over g is shown too) < 20 %; non-monotonic in g: the drop from the peak to
the largest g exceeds 2 SEM over seeds (N with >= 2 seeds preferred); D_KY << N: D_KY/N < 0.5 at every g.

Cost (single-threaded BLAS, measured under load): a step costs ~1.5, 6 and 22 ms at N = 100, 200,
400 (~N^3; ~170 ms at N = 800, ~1.5 s at N = 2000). Quick mode (N = 100, 160; g = 3, 8; one seed; T = 150 tau): ~25 s.
Full mode (N = 100, 200, 400 over 8 gains, N = 800 at g = 2, 5; 3/3/1/1 seeds; T = 300 tau; and
N = 2000 at g = 2, 5 for T = 100 tau, ~1.5 s a step): about 50 min wall for the first part and
45 min for the two N = 2000 points, with 2 workers on the 2-core machine (measured).

Full-mode results: the mean exponent is -1 within 9e-6 at every point; symmetry RMS / width
0.010, 0.0050, 0.0026, 0.0016, 0.0011 at N = 100, 200, 400, 800, 2000; D_KY/N rises from ~0.03
(g = 2) to ~0.09 (g >= 8, N >= 200) and H/N to 0.015 (1/tau, g = 30, N = 200), with no significant
decrease up to g = 30; between consecutive N the median relative change over g of D/N (H/N) is
17 % (39 %) for 100 -> 200, 3 % (15 %) for 200 -> 400, 2 % (7 %) for 400 -> 800 and 6 % (14 %) for
800 -> 2000 (g = 5: 1 % (3 %); g = 2: 11 % (25 %), of which the shorter T is part: N = 800 at
T = 100 tau gives 5 % (14 %), near onset the small exponents converge slowly); 9 networks
(N <= 200, g <= 3) were not chaotic.

Writes ``fig_lyapunov_spectra.{png,pdf}``, ``results.*`` (the comparison table) and ``points.*``.
"""
from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd

from plasticity.metrics import entropy_rate, kaplan_yorke_dimension, lyapunov_spectrum
from plasticity.metrics.systems import rate_system

NAME = "lyapunov_spectra"
DT = 0.1              # RK4 step (tau)
QR_EVERY = 10         # steps between re-orthonormalisations: t_ONS = 1 tau
SYMMETRY_TOL = 0.05   # RMS of lambda_i + lambda_{N+1-i} + 2, as a fraction of lambda_1 - lambda_N
SIZE_TOL = 0.20       # relative difference of D/N or H/N between the largest and smallest N
CHAOS_MIN = 0.01      # lambda_1 above this (1/tau) counts as chaotic; below: fixed point or limit cycle
SOURCE = "Engelken, Wolf & Abbott 2023, PRR 5:043044 (abstract)"


def _grid(sizes: dict, gains, t_sim: float, t_transient: float) -> list[dict]:
    return [{"g": float(g), "n": n, "seed": s, "t_sim": t_sim, "t_transient": t_transient}
            for n, (gs, seeds) in sizes.items() for g in (gains if gs is None else gs) for s in seeds]


GAINS = [1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0]
GRID = (_grid({100: (None, [0, 1, 2]), 200: (None, [0, 1, 2]), 400: (None, [0]), 800: ([2.0, 5.0], [0])}, GAINS, 300.0, 100.0)
        + _grid({2000: ([2.0, 5.0], [0])}, GAINS, 100.0, 50.0))  # N = 2000: shorter runs (a step costs ~3 s)
QUICK = _grid({100: (None, [0]), 160: (None, [0])}, [3.0, 8.0], 150.0, 50.0)


def coupling(n: int, g: float, seed: int) -> np.ndarray:
    """Random coupling ``J_ij ~ N(0, g^2 / n)`` with a zero diagonal (no autapses), ``J[post, pre]``.

    ``ValueError`` unless ``n >= 2`` and ``g > 0``; the same ``seed`` gives the same matrix.
    """
    if n < 2 or g <= 0:
        raise ValueError(f"coupling: need n >= 2 and g > 0; got n = {n}, g = {g}")
    J = g * np.random.default_rng(seed).standard_normal((n, n)) / np.sqrt(n)
    np.fill_diagonal(J, 0.0)
    return J


def symmetry_residual(spectrum: np.ndarray) -> np.ndarray:
    """``lambda_i + lambda_{N+1-i} + 2`` (descending input): zero for a spectrum point-symmetric about -1."""
    lam = np.asarray(spectrum, dtype=float)
    return lam + lam[::-1] + 2.0


def point(g: float, n: int, seed: int, t_sim: float, t_transient: float) -> dict:
    """Full spectrum of one network, exponents in 1/tau, descending.

    Returns the spectrum and its summaries: ``mean_exponent`` (-1 in closed form), ``max_exponent``,
    ``ky_per_n`` = D_KY / N, ``entropy_per_n`` = H / N with H = sum of the positive exponents (nats
    per tau, Pesin), ``unstable_fraction``, ``chaotic`` (lambda_1 > CHAOS_MIN), ``width`` =
    lambda_1 - lambda_N, and the RMS and maximum of :func:`symmetry_residual`.
    """
    J = coupling(n, g, seed)
    x0 = np.random.default_rng(seed + 1000).standard_normal(n)
    lam = np.asarray(lyapunov_spectrum(rate_system(J, dynamics="flow"), x0, steps=round(t_sim / DT), dt=DT,
                                       transient=round(t_transient / DT), reorthonormalize_every=QR_EVERY, seed=seed))
    res = symmetry_residual(lam)
    return {"spectrum": lam, "mean_exponent": float(lam.mean()), "max_exponent": float(lam[0]),
            "ky_per_n": kaplan_yorke_dimension(lam) / n, "entropy_per_n": entropy_rate(lam) / n,
            "unstable_fraction": float(np.mean(lam > 0)), "chaotic": bool(lam[0] > CHAOS_MIN), "width": float(lam[0] - lam[-1]),
            "symmetry_rms": float(np.sqrt(np.mean(res ** 2))), "symmetry_max": float(np.max(np.abs(res)))}


def _curve_size(ok: pd.DataFrame) -> int:
    """The N whose g-curve is read: the largest with >= 3 gains, preferring a median >= 2 seeds per g."""
    per = ok.groupby(["n", "g"])["seed"].nunique().groupby("n").agg(["size", "median"])
    for rule in ((per["size"] >= 3) & (per["median"] >= 2), per["size"] >= 3):
        if rule.any():
            return int(per[rule].index.max())
    return int(per.index.max())


def _by_g(ok: pd.DataFrame, col: str) -> pd.DataFrame:
    return ok.groupby(["n", "g"])[col].agg(["mean", "std", "count"]).reset_index()


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per compared quantity: published (text and value), ours, agreement, outcome."""
    ok = table[table["error"].isna()] if "error" in table else table
    rows = []
    dev = float(np.max(np.abs(ok["mean_exponent"] + 1.0)))
    rows.append({"quantity": "mean exponent (all points)", "n": int(ok["n"].max()), "published": "-1 (tr Jacobian = -N)",
                 "published_value": -1.0, "ours": float(ok["mean_exponent"].mean()), "agreement": dev,
                 "outcome": "holds" if dev < 1e-4 else "differs", "source": "closed form (Liouville)"})
    for n, grp in ok.groupby("n"):
        rel = float(np.median(grp["symmetry_rms"] / grp["width"]))
        rows.append({"quantity": "point symmetry: RMS(l_i + l_N+1-i + 2) / width", "n": int(n),
                     "published": "0 (point-symmetric)", "published_value": 0.0, "ours": rel, "agreement": rel,
                     "outcome": "holds" if rel < SYMMETRY_TOL else "differs", "source": SOURCE})
    chaotic = ok[ok["chaotic"].astype(bool)]  # D/N and H/N of chaotic networks; the others have their own row
    for col, label in (("ky_per_n", "D_KY / N"), ("entropy_per_n", "H / N (1/tau)")):
        stats = _by_g(chaotic, col)
        sizes = sorted(stats["n"].unique())
        for small, large in pairwise(sizes):  # consecutive sizes: does the difference shrink with N?
            both = stats[stats["n"] == small].merge(stats[stats["n"] == large], on="g", suffixes=("_s", "_l"))
            if not len(both):
                continue
            rel = np.abs(both["mean_l"] - both["mean_s"]) / np.maximum(np.abs(both["mean_l"]), 1e-12)
            worst = int(np.argmax(rel))
            rows.append({"quantity": f"{label}: size invariance N={small} vs {large} (worst of {len(both)} g: g = "
                                     f"{both['g'][worst]:g}; median {np.median(rel):.2f})",
                         "n": int(large), "published": "size-invariant", "published_value": np.nan,
                         "ours": float(both["mean_l"][worst]), "agreement": float(rel[worst]),
                         "outcome": "holds" if rel[worst] < SIZE_TOL else "differs", "source": SOURCE})
        top = stats[stats["n"] == _curve_size(chaotic)]
        peak, last = top.loc[top["mean"].idxmax()], top.loc[top["g"].idxmax()]
        sem = (top["std"] / np.sqrt(top["count"])).fillna(0.0)  # one seed: no error estimate
        noise = 2.0 * np.hypot(sem[peak.name], sem[last.name])
        inside = top["g"].min() < peak["g"] < top["g"].max() and peak["mean"] - last["mean"] > noise
        tested = max(peak["count"], last["count"]) > 1
        verdict = ("falls beyond the peak (> 2 SEM)" if tested else "peak inside g range (one seed: noise untested)") \
            if inside else f"no significant decrease up to g = {top['g'].max():g}"
        rows.append({"quantity": f"{label}: rises then falls with g (peak at g = {peak['g']:g}, N = {int(peak['n'])})",
                     "n": int(peak["n"]), "published": "non-monotonic in g; curve values not available here",
                     "published_value": np.nan, "ours": float(peak["mean"]), "agreement": np.nan,
                     "outcome": verdict,
                     "source": SOURCE})
    quiet = ok[~ok["chaotic"].astype(bool)]
    rows.append({"quantity": "networks not chaotic (lambda_1 <= 0.01): " + (", ".join(f"N={r.n} g={r.g:g} seed {r.seed}"
                 for r in quiet.itertuples()) or "none"), "n": int(ok["n"].max()), "published": "chaotic above a critical g (N -> inf)",
                 "published_value": np.nan, "ours": float(len(quiet)), "agreement": np.nan,
                 "outcome": "finite-size: fixed point or cycle" if len(quiet) else "all chaotic",
                 "source": "Sompolinsky, Crisanti & Sommers 1988, PRL 61:259"})
    d_max = float(ok["ky_per_n"].max())
    rows.append({"quantity": "D_KY << N: largest D_KY / N", "n": int(ok["n"].max()), "published": "much smaller than N",
                 "published_value": np.nan, "ours": d_max, "agreement": np.nan,
                 "outcome": "holds" if d_max < 0.5 else "differs", "source": SOURCE})
    return pd.DataFrame(rows)


def figure(table: pd.DataFrame):
    """(a) spectra vs i/N, (b) D_KY/N vs g, (c) H/N vs g, (d) point-symmetry residual against N."""
    from plasticity.plot import PALETTE, new_figure, plain_log_ticks

    ok = table[table["error"].isna()] if "error" in table else table
    sizes = sorted(ok["n"].unique())
    gains = sorted(ok["g"].unique())
    shown = gains if len(gains) <= 4 else [gains[1], gains[len(gains) // 2], gains[-1]]
    seeds = {int(n): sorted(ok[ok.n == n]["seed"].unique()) for n in sizes}
    T = ok.groupby("n")["t_sim"].first()  # simulated time per N (the largest N runs shorter)
    t_sim = T.mode().iloc[0]
    other = ", ".join(f"N = {n}: {t:g} tau" for n, t in T.items() if t != t_sim)
    fig, axes = new_figure(2, 2, figsize=(9.5, 7.0))
    styles = ["-", "--", ":", "-.", (0, (6, 1, 1, 1, 1, 1))]  # one per N
    ax = axes[0, 0]
    for k, g in enumerate(shown):
        for j, n in enumerate(sizes):
            run = ok[(ok.g == g) & (ok.n == n)].sort_values("seed")
            if len(run):
                lam = np.asarray(run["spectrum"].iloc[0])
                ax.plot(np.arange(1, n + 1) / n, lam, color=PALETTE[k], ls=styles[j % len(styles)], lw=1.0,
                        label=f"g = {g:g}, N = {n}")
    ax.axhline(0.0, color="0.6", lw=0.7)
    ax.axhline(-1.0, color="0.6", lw=0.7, ls=":")
    ax.set(xlabel="$i / N$", ylabel=r"Lyapunov exponent $\lambda_i$ ($1/\tau$)",
           title="(a) spectra, seed 0: one g, any N, one curve")
    ax.legend(fontsize=6, ncol=2)
    for ax, col, label, letter, what in ((axes[0, 1], "ky_per_n", r"$D_{KY} / N$", "b", "Kaplan-Yorke dimension"),
                                         (axes[1, 0], "entropy_per_n", r"entropy rate $H / N$ ($1/\tau$)", "c", "entropy rate")):
        stats = _by_g(ok[ok["chaotic"].astype(bool)], col)
        for j, n in enumerate(sizes):
            s = stats[stats.n == n]
            ax.errorbar(s.g, s["mean"], yerr=s["std"].fillna(0.0), fmt="o-", ms=4, capsize=2, color=PALETTE[j % len(PALETTE)],
                        label=f"N = {n} ({len(seeds[int(n)])} seed{'s' * (len(seeds[int(n)]) > 1)})")
        quiet = ok[~ok["chaotic"].astype(bool)]
        if len(quiet):
            ax.plot(quiet.g, quiet[col], "X", color="k", ms=7, label=r"not chaotic ($\lambda_1 \leq$ 0.01)")
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis, gains)
        ax.set(xlabel="coupling $g$", ylabel=label, title=f"({letter}) {what} per neuron (published values not available)")
        ax.legend(fontsize=7)
    ax = axes[1, 1]
    runs = ok.groupby("g")["n"].nunique()
    g_sym = runs[runs == runs.max()].index.max()  # the gain run at the most sizes (the largest on a tie)
    for j, n in enumerate(sizes):
        run = ok[(ok.g == g_sym) & (ok.n == n)].sort_values("seed")
        if len(run):
            lam, half = np.asarray(run["spectrum"].iloc[0]), (n + 1) // 2  # the residual is even about i/N = 1/2
            ax.plot(np.arange(1, half + 1) / n, symmetry_residual(lam)[:half], lw=0.9, color=PALETTE[j % len(PALETTE)],
                    label=f"N = {n}: RMS / width = {run['symmetry_rms'].iloc[0] / run['width'].iloc[0]:.4f}, "
                          f"mean + 1 = {lam.mean() + 1:.0e}")
    ax.axhline(0.0, color="0.6", lw=0.7)
    ax.set(xlabel="$i / N$", ylabel=r"$\lambda_i + \lambda_{N+1-i} + 2$ ($1/\tau$)",
           title=f"(d) point symmetry about -1 at g = {g_sym:g}, seed 0")
    ax.legend(fontsize=6)
    fig.suptitle(f"tanh rate network, RK4 dt = {DT}, T = {t_sim:g} tau{f' ({other})' if other else ''}; "
                 "error bars: SD over seeds", fontsize=9)
    return fig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
