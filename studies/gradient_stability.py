"""Gradient stability at initialisation: signal and gradient propagation in deep stacks, and Jacobian spectra.

Part "profile". Deep stacks of width n at initialisation (:mod:`models.feedforward`: plain,
residual with alpha = 1 or 1/sqrt(depth) ("residual_scaled"), or recurrent, an RNN unrolled in
time; ReLU or tanh; He, Glorot, naive N(0, 0.01^2) / N(0, 1) or scaled orthogonal weights),
summarised by :func:`models.propagation_summary.stack_summary`: per layer the mean squared
pre-activation q_l (forward), the mean squared gradient of a random linear read-out of h_L with
respect to h_l (backward), the spectral norm and radius of J_l = dh_l/dx. Expect (drawn dotted,
tested): ReLU with weights of variance c/fan_in scales q by c/2 per layer both ways (He et al.
2015: He, c = 2, keeps it; c = 1 halves it); tanh follows the infinite-width recursions
q_{l+1} = c E[tanh(sqrt(q_l) z)^2], chi_l = c E[tanh'(sqrt(q_l) z)^2] (Poole et al. 2016;
Schoenholz et al. 2017): Glorot at the order-chaos edge (q decays algebraically, gradients O(1)),
He on the chaotic side; deep linear orthogonal stacks have every singular value 1 (Saxe et al. 2014).

Part "affine". A ReLU network f: R^n -> R^n (``depth`` Linear layers, constant bias) is the
pointwise affine map f(x) = A(x) x + b(x) (Drgona, Tuor et al. 2020); the eigenvalues of A(x) at
random x for several initialisations and biases (:func:`models.propagation_summary.affine_summary`).
Expect: a negative bias switches units off (eigenvalues collapse towards 0).

Figures: lines are means over seeds; shaded bands (and error bars) are +-1 standard error of the
mean over seeds (sample SD / sqrt(n); quick: 2 seeds, full: 3). Writes ``fig_gradient_stability``
and ``fig_gradient_stability_spectra`` (png, pdf), ``results`` (per configuration: means and
standard errors over seeds) and ``points`` (csv, parquet).

References: He, Zhang, Ren & Sun (2015), ICCV; Glorot & Bengio (2010), AISTATS; Saxe, McClelland &
Ganguli (2014), ICLR; Poole et al. (2016), NeurIPS; Schoenholz et al. (2017), ICLR; Hanin & Rolnick
(2018), NeurIPS; Drgona, Tuor, Vasisht, Skomski & Vrabie (2020), arXiv:2011.13492.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models.feedforward import ARCHS, INITS, residual_scale, weight_factor
from models.propagation import mean_field_profile
from models.propagation_summary import affine_summary, stack_summary

NAME = "gradient_stability"
AFFINE_INITS = ("he", "glorot", "orthogonal")
AFFINE_POINTS = 64      # random states x at which A(x) is formed, per network


def _grid(inits, activations, archs, seeds, width, depth, batch, affine_inits, biases, affine_width, affine_depth):
    common = {"bias": 0.0, "batch": batch}
    return [{"part": "profile", "init": i, "activation": a, "arch": r, "seed": s, "width": width, "depth": depth,
             **common} for i in inits for a in activations for r in archs for s in seeds] + \
        [{"part": "affine", "init": i, "activation": "relu", "arch": "plain", "seed": s, "width": affine_width,
          "depth": affine_depth, "bias": float(b), "batch": AFFINE_POINTS} for i in affine_inits for b in biases
         for s in seeds]


GRID = _grid(INITS, ("relu", "tanh"), ARCHS, [0, 1, 2], 256, 50, 128,
             AFFINE_INITS, [-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0], 32, 4)
QUICK = _grid(INITS, ("relu", "tanh"), ARCHS, [0, 1], 64, 24, 64, AFFINE_INITS, [-0.5, 0.0, 0.5], 16, 3)


def point(part: str, init: str, activation: str, arch: str, seed: int, width: int, depth: int,
          bias: float, batch: int) -> dict:
    """One stack (part "profile") or one pointwise-affine network (part "affine").

    ``width``, ``depth``: layer width and number of weight layers. Profile: ``init``,
    ``activation``, ``arch``; ``batch`` inputs. Affine: ReLU network with every bias ``bias``;
    A(x) at ``batch`` random states. ``seed`` draws the weights and the inputs.
    """
    if part == "affine":
        return affine_summary(width, depth, init, bias, seed, points=batch)
    if part != "profile":
        raise ValueError(f"gradient_stability.part must be one of ('profile', 'affine'); got {part!r}")
    return stack_summary(depth, width, init, activation, seed, arch, batch)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration: mean and standard error over seeds of the scalar results."""
    data = table[table["error"].isna()] if "error" in table.columns else table
    keys = ["part", "init", "activation", "arch", "bias", "width", "depth"]
    names = ("forward_factor", "backward_factor", "log10_q_last", "log10_grad_first", "log10_jac_norm",
             "log10_jac_radius", "log10_jac_cond", "affine_radius", "active_fraction", "unstable_fraction")
    scalars = [c for c in names if c in data.columns]
    grouped = data.groupby(keys, sort=False, dropna=False)[scalars]
    mean, sem = grouped.mean(), grouped.sem()
    out = pd.DataFrame(index=mean.index)
    for c in scalars:
        out[c], out[f"{c}_sem"] = mean[c], sem[c]
    out["seeds"] = grouped.size()
    return out.reset_index()


# -- figures ----------------------------------------------------------------------------------
def _mean_sem(rows: pd.DataFrame, column: str, transform) -> tuple[np.ndarray, np.ndarray]:
    Y = np.array([transform(np.asarray(v, float)) for v in rows[column]])
    sem = Y.std(axis=0, ddof=1) / math.sqrt(len(Y)) if len(Y) > 1 else np.zeros(Y.shape[1])
    return Y.mean(axis=0), sem


def _band(ax, x, mean, sem, color, label, **kw):
    ax.plot(x, mean, color=color, label=label, **kw)
    ax.fill_between(x, mean - sem, mean + sem, color=color, alpha=0.25, linewidth=0)


def figure(table: pd.DataFrame) -> dict:
    """Two figures: propagation profiles (2 x 3 panels) and spectra (2 x 2 panels)."""
    data = table[table["error"].isna()] if "error" in table.columns else table
    prof = data[data["part"] == "profile"]
    aff = data[data["part"] == "affine"]
    return {NAME: _propagation_figure(prof), f"{NAME}_spectra": _spectra_figure(prof, aff)}


def _select(rows, **kw):
    for k, v in kw.items():
        rows = rows[rows[k] == v]
    return rows


def _caption(fig, rows: pd.DataFrame, what: str) -> None:
    """Suptitle: what the figure shows, the seeds, what the shaded band is, quick or full mode."""
    seeds = sorted(int(s) for s in rows["seed"].unique())
    n = len(seeds)
    quick = len(rows) > 0 and (int(rows["width"].max()) < GRID[0]["width"] or n < 3)
    band = "no band (one seed)" if n < 2 else \
        f"shaded band = mean ± 1 standard error over the {n} seeds (sample SD / sqrt({n}))"
    fig.suptitle(f"{what}\nLines: mean over seeds {seeds}; {band}. {'Quick' if quick else 'Full'} mode.", fontsize=8)


def _propagation_figure(prof: pd.DataFrame):
    from plasticity.plot import PALETTE, new_figure

    fig, axes = new_figure(2, 3, figsize=(11.0, 6.6))
    fwd = lambda q: np.log10(q / q[0])       # noqa: E731
    bwd = lambda g: np.log10(g / g[-1])      # noqa: E731
    for col, act in enumerate(("relu", "tanh")):
        for row, (column, tf) in enumerate((("q", fwd), ("grad", bwd))):
            ax = axes[row, col]
            for k, init in enumerate(INITS):
                rows = _select(prof, activation=act, arch="plain", init=init)
                if rows.empty:
                    continue
                mean, sem = _mean_sem(rows, column, tf)
                depth, width = len(mean), int(rows["width"].iloc[0])
                layers = np.arange(1, depth + 1)
                _band(ax, layers, mean, sem, PALETTE[k], init)
                mf_q, mf_g = mean_field_profile(depth, weight_factor(init, width, width, act), act,
                                                float(np.mean(rows["q1"])))
                ref = np.log10(mf_q / mf_q[0]) if column == "q" else np.log10(mf_g)
                ax.plot(layers, ref, color=PALETTE[k], ls=":", lw=1.2, label="_nolegend_")
            ax.set(xlabel="layer $l$", ylabel="forward: $\\log_{10}\\, q_l / q_1$" if column == "q" else
                   "backward: $\\log_{10}\\, \\|\\partial L/\\partial h_l\\|^2 / \\|\\partial L/\\partial h_L\\|^2$")
            ax.set_title(f"{act}, plain stack", fontsize=9)
    for row, (column, tf) in enumerate((("q", fwd), ("grad", bwd))):
        ax = axes[row, 2]
        for k, arch in enumerate(ARCHS):
            rows = _select(prof, activation="relu", init="he", arch=arch)
            if rows.empty:
                continue
            mean, sem = _mean_sem(rows, column, tf)
            depth, layers = len(mean), np.arange(1, len(mean) + 1)
            _band(ax, layers, mean, sem, PALETTE[k], arch)
            if arch != "recurrent":
                mf_q, mf_g = mean_field_profile(depth, 2.0, "relu", float(np.mean(rows["q1"])),
                                                alpha=residual_scale(arch, depth))
                ref = np.log10(mf_q / mf_q[0]) if column == "q" else np.log10(mf_g)
                ax.plot(layers, ref, color=PALETTE[k], ls=":", lw=1.2, label="_nolegend_")
        ax.set(xlabel="layer $l$", ylabel=axes[row, 0].get_ylabel())
        ax.set_title("relu, He init: architectures", fontsize=9)
    n = prof["seed"].nunique()
    for ax in (axes[0, 0], axes[0, 2]):
        ax.plot([], [], color="0.4", ls=":", label="mean-field theory")
        ax.fill_between([], [], [], color="0.4", alpha=0.25, lw=0, label=f"±1 s.e.m. over {n} seeds")
        ax.legend(fontsize=7, loc="upper left")
    for ax, letter in zip(axes.flat, "abcdef"):
        ax.set_title(f"({letter})", loc="left", fontsize=10, fontweight="bold")
    w, d = (int(prof[c].iloc[0]) for c in ("width", "depth")) if len(prof) else (0, 0)
    _caption(fig, prof, f"Signal (top) and gradient (bottom) propagation at initialisation, width {w}, depth {d}; "
             "dotted: infinite-width mean field (ReLU: c/2 per layer; tanh: Glorot at the order-chaos edge).")
    return fig


def _spectra_figure(prof: pd.DataFrame, aff: pd.DataFrame):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle

    from plasticity.plot import PALETTE, new_figure

    fig, axes = new_figure(2, 2, figsize=(8.4, 6.8))
    for ax, arch in zip(axes[0], ("plain", "recurrent")):
        for k, init in enumerate(("he", "glorot", "orthogonal")):
            rows = _select(prof, activation="relu", init=init, arch=arch)
            if rows.empty:
                continue
            for column, ls in (("jac_norm", "-"), ("jac_radius", "--")):
                mean, sem = _mean_sem(rows, column, np.log10)
                layers = np.arange(1, len(mean) + 1)
                _band(ax, layers, mean, sem, PALETTE[k], init if ls == "-" else "_nolegend_", ls=ls)
        ax.axhline(0.0, color="0.5", lw=0.7)
        ax.set_xlabel("layer $l$")
        ax.set_ylabel("$\\log_{10}$ of $\\|J_l\\|_2$ (solid), $\\rho(J_l)$ (dashed)")
        ax.set_title(f"relu, {arch}: $J_l = \\partial h_l/\\partial x$", fontsize=9)
    handles = axes[0, 0].get_legend_handles_labels()[0]
    handles += [Line2D([], [], color="0.3", ls="-", label="spectral norm"),
                Line2D([], [], color="0.3", ls="--", label="spectral radius")]
    axes[0, 0].legend(handles=handles, fontsize=7, loc="best")

    ax = axes[1, 0]
    shown = _select(aff, init="he", seed=0) if not aff.empty else aff
    biases = sorted(set(shown["bias"])) if not shown.empty else []
    picks = [b for b in biases if b in (min(biases), 0.0, max(biases))] if biases else []
    for k, b in reversed(list(enumerate(picks))):  # the compact (negative-bias) cloud on top
        row = shown[shown["bias"] == b].iloc[0]
        n = 16 * int(row["width"])  # the eigenvalues at the first 16 states x
        ax.scatter(row["eig_real"][:n], row["eig_imag"][:n], s=6, alpha=0.6, color=PALETTE[k], marker="os^"[k],
                   label=f"bias {b:+g}", rasterized=True, linewidths=0)
    ax.add_patch(Circle((0, 0), 1.0, fill=False, ls="--", color="0.3", lw=0.9))
    ax.set_aspect("equal")
    ax.set_xlabel("Re $\\lambda$ of $A(x)$")
    ax.set_ylabel("Im $\\lambda$ of $A(x)$")
    if picks:
        ax.set_title(f"relu net as a map, He init, {int(shown['depth'].iloc[0])} layers", fontsize=9)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], fontsize=7, loc="upper right", markerscale=2)

    ax = axes[1, 1]
    for k, init in enumerate(AFFINE_INITS):
        rows = _select(aff, init=init) if not aff.empty else aff
        if rows.empty:
            continue
        g = rows.groupby("bias")["affine_radius"]
        ax.errorbar(g.mean().index, g.mean().values, yerr=g.sem().fillna(0.0).values, marker="o", ms=3,
                    color=PALETTE[k], label=init, capsize=2)
    ax.axhline(1.0, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel("bias of every unit")
    ax.set_ylabel("spectral radius of $A(x)$ (mean over $x$)")
    ax.legend(fontsize=7, title=f"bars: ±1 s.e.m., {aff['seed'].nunique()} seeds", title_fontsize=7)
    for ax, letter in zip(axes.flat, "abcd"):
        ax.set_title(f"({letter})", loc="left", fontsize=10, fontweight="bold")
    _caption(fig, pd.concat([prof, aff]), "(a, b) norm and radius of the input-output Jacobian of ReLU stacks; (c) "
             "eigenvalues of A(x) of a ReLU net f(x) = A(x) x + b(x) (seed 0,\n16 states); (d) its spectral radius, "
             "mean over the states x of each seed: a negative bias switches units off.")
    return fig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
