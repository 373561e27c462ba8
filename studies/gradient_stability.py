"""Gradient stability at initialisation: signal and gradient propagation in deep stacks, and Jacobian spectra.

Part "profile". Deep stacks of width n at initialisation, h_1 = W_1 x and for l >= 2

    plain      h_l = W_l phi(h_{l-1})
    residual   h_l = h_{l-1} + alpha W_l phi(h_{l-1})   (alpha = 1, or 1/sqrt(depth): "residual_scaled")
    recurrent  h_l = W phi(h_{l-1})                      (one W for every l >= 2: an RNN unrolled in time)

with phi = ReLU or tanh and W_ij drawn by He (var 2/fan_in), Glorot (var 2/(fan_in + fan_out)),
naive N(0, 0.01^2) ("naive_small") or N(0, 1) ("naive_unit"), or scaled orthogonal (gain sqrt 2
for ReLU, 1 otherwise). Measured per layer: the mean squared pre-activation q_l (forward), the mean
squared gradient of a random linear read-out of h_L with respect to h_l (backward), and the
spectral norm and spectral radius of the input-output Jacobian J_l = dh_l/dx, an explicit product
of W_k diag(phi'(h_{k-1})) factors. References drawn in the figure, all tested:

* ReLU, weights of variance c/fan_in: q_{l+1} = (c/2) q_l in expectation (He et al. 2015), so He
  (c = 2) keeps q constant and c = 1 halves it; the backward pass scales by c/2 per layer too.
* tanh: the infinite-width recursion q_{l+1} = c E[tanh(sqrt(q_l) z)^2] and the gradient factor
  chi_l = c E[tanh'(sqrt(q_l) z)^2] (Poole et al. 2016; Schoenholz et al. 2017), by quadrature.
  Glorot (c = 1) sits at the order-chaos boundary: q decays slowly (algebraically), gradients stay
  O(1); He for tanh (c = 2) is on the chaotic side (gradients grow backwards).
* deep linear networks with orthogonal weights: every singular value of J_l is 1 (Saxe et al. 2014).

Part "affine". A ReLU network f: R^n -> R^n (``depth`` Linear layers, constant bias) is the pointwise
affine map f(x) = A(x) x + b(x) (:func:`plasticity.metrics.pointwise_affine`); the eigenvalues of
A(x) at random x, for several initialisations and biases, are the spectra of Drgona, Tuor et al.
(2020). A negative bias switches units off (A loses rank, eigenvalues collapse towards 0); a positive
one switches the first layer's units on (with one hidden layer, A -> W_2 W_1 as bias -> +inf).

Writes ``fig_gradient_stability.{png,pdf}`` (propagation), ``fig_gradient_stability_spectra.{png,pdf}``
(Jacobian and affine spectra), ``results.{csv,parquet}`` (one row per configuration, means and
standard errors over seeds) and ``points.{csv,parquet}`` (one row per point).

References: He, Zhang, Ren & Sun (2015), ICCV, "Delving deep into rectifiers"; Glorot & Bengio
(2010), AISTATS; Saxe, McClelland & Ganguli (2014), ICLR; Poole et al. (2016), NeurIPS;
Schoenholz et al. (2017), ICLR, "Deep information propagation"; Pennington, Schoenholz & Ganguli
(2017), NeurIPS (dynamical isometry); Hanin & Rolnick (2018), NeurIPS (scaled residual branches);
Drgona, Tuor, Vasisht, Skomski & Vrabie (2020), arXiv:2011.13492 (pointwise affine spectra).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from plasticity.torch.threads import torch_threads

NAME = "gradient_stability"
INITS = ("he", "glorot", "naive_small", "naive_unit", "orthogonal")
ACTIVATIONS = ("relu", "tanh", "linear")
ARCHS = ("plain", "residual", "residual_scaled", "recurrent")
AFFINE_INITS = ("he", "glorot", "orthogonal")
AFFINE_POINTS = 64      # random states x at which A(x) is formed, per network


def _grid(inits, activations, archs, seeds, width, depth, batch, affine_inits, biases, affine_width, affine_depth):
    common = {"bias": 0.0, "batch": batch}
    points = [
        {"part": "profile", "init": i, "activation": a, "arch": r, "seed": s, "width": width, "depth": depth, **common}
        for i in inits for a in activations for r in archs for s in seeds
    ]
    points += [
        {"part": "affine", "init": i, "activation": "relu", "arch": "plain", "seed": s, "width": affine_width,
         "depth": affine_depth, "bias": float(b), "batch": AFFINE_POINTS}
        for i in affine_inits for b in biases for s in seeds
    ]
    return points


GRID = _grid(INITS, ("relu", "tanh"), ARCHS, [0, 1, 2], 256, 50, 128,
             AFFINE_INITS, [-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0], 32, 4)
QUICK = _grid(INITS, ("relu", "tanh"), ARCHS, [0, 1], 64, 24, 64,
              AFFINE_INITS, [-0.5, 0.0, 0.5], 16, 3)


# -- weights ------------------------------------------------------------------------------
def weight_factor(init: str | float, n_out: int, n_in: int, activation: str) -> float:
    """``c = fan_in * Var(W_ij)`` of an initialisation (the factor of the mean-field recursions).

    ``init`` a number means Gaussian weights of variance ``init / fan_in``. For ``"orthogonal"``,
    ``c`` is the squared gain (rows of norm ``gain``).
    """
    if not isinstance(init, str):
        c = float(init)
        if not (c > 0 and math.isfinite(c)):
            raise ValueError(f"gradient_stability.init must be one of {INITS} or a number in (0, inf); got {init!r}")
        return c
    if init == "he":
        return 2.0
    if init == "glorot":
        return 2.0 * n_in / (n_in + n_out)
    if init == "naive_small":
        return 1e-4 * n_in
    if init == "naive_unit":
        return float(n_in)
    if init == "orthogonal":
        return 2.0 if activation == "relu" else 1.0
    raise ValueError(f"gradient_stability.init must be one of {INITS} or a number in (0, inf); got {init!r}")


def init_weight(init: str | float, n_out: int, n_in: int, activation: str, generator):
    """One ``(n_out, n_in)`` float64 torch weight matrix drawn with ``generator``.

    Orthogonal: the Q factor of a Gaussian matrix with the signs of diag(R) absorbed (Haar
    distributed; Mezzadri 2007), times the gain sqrt(c).
    """
    c = weight_factor(init, n_out, n_in, activation)
    if init == "orthogonal":
        big, small = max(n_out, n_in), min(n_out, n_in)
        Q, R = torch.linalg.qr(torch.randn(big, small, generator=generator, dtype=torch.float64))
        Q = Q * torch.sign(torch.diagonal(R))
        W = Q if n_out >= n_in else Q.T
        return math.sqrt(c) * W
    return math.sqrt(c / n_in) * torch.randn(n_out, n_in, generator=generator, dtype=torch.float64)


def build_stack(depth: int, width: int, init: str | float, activation: str, arch: str, seed: int) -> list:
    """Weights ``[W_1, ..., W_depth]`` (each ``(width, width)``); for ``"recurrent"`` W_2..W_depth are one matrix."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"gradient_stability.activation must be one of {ACTIVATIONS}; got {activation!r}")
    if arch not in ARCHS:
        raise ValueError(f"gradient_stability.arch must be one of {ARCHS}; got {arch!r}")
    if not (isinstance(depth, int) and depth >= 1 and isinstance(width, int) and width >= 1):
        raise ValueError(f"gradient_stability: depth and width must be integers >= 1; got {depth!r}, {width!r}")
    gen = torch.Generator().manual_seed(int(seed))
    first = init_weight(init, width, width, activation, gen)
    if arch == "recurrent":
        W = init_weight(init, width, width, activation, gen)
        return [first] + [W] * (depth - 1)
    return [first] + [init_weight(init, width, width, activation, gen) for _ in range(depth - 1)]


def _phi(activation: str):
    return {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda z: z}[activation]


def _phi_prime(activation: str, h):
    if activation == "relu":
        return (h > 0).to(h.dtype)   # torch's convention: ReLU'(0) = 0
    if activation == "tanh":
        return 1.0 - torch.tanh(h) ** 2
    return torch.ones_like(h)


def residual_scale(arch: str, depth: int) -> float:
    """Branch scale alpha of the residual stacks (0 marks a non-residual stack)."""
    return {"residual": 1.0, "residual_scaled": 1.0 / math.sqrt(depth)}.get(arch, 0.0)


def forward(weights: list, x, activation: str, arch: str) -> list:
    """``[h_1, ..., h_depth]`` for inputs ``x`` of shape ``(batch, width)`` (rows are inputs)."""
    phi, alpha = _phi(activation), residual_scale(arch, len(weights))
    hs = [x @ weights[0].T]
    for W in weights[1:]:
        branch = phi(hs[-1]) @ W.T
        hs.append(hs[-1] + alpha * branch if alpha else branch)
    return hs


# -- forward and backward profiles ----------------------------------------------------------
def propagation_profile(depth: int, width: int, init: str | float, activation: str, seed: int,
                        arch: str = "plain", batch: int = 64) -> dict[str, np.ndarray]:
    """Mean squared pre-activation and mean squared gradient per layer, at initialisation.

    Inputs ``x ~ N(0, I)`` (``batch`` of them); loss ``L = sum_b g_b . h_L,b`` with ``g ~ N(0, I)``
    fixed, so ``dL/dh_L = g``. Zero biases.

    Returns
    -------
    dict with ``q`` ``(depth,)``: ``mean(h_l ** 2)`` over inputs and units, ``grad`` ``(depth,)``:
    ``mean((dL/dh_l) ** 2)``, and ``weight_grad`` ``(depth,)``: ``||dL/dW_l||_F`` (the gradient of the
    l-th weight matrix; for ``"recurrent"`` each time step's share of the tied matrix's gradient).
    """
    with torch_threads(1):  # one torch thread per sweep point (points run one per core)
        weights = build_stack(depth, width, init, activation, arch, seed)
        gen = torch.Generator().manual_seed(int(seed) + 7919)  # inputs independent of the weights
        x = torch.randn(batch, width, generator=gen, dtype=torch.float64)
        g = torch.randn(batch, width, generator=gen, dtype=torch.float64)
        leaves = [W.detach().clone().requires_grad_(True) for W in weights]
        hs = forward(leaves, x, activation, arch)
        grads = torch.autograd.grad((hs[-1] * g).sum(), hs + leaves)
        delta, wgrad = grads[:depth], grads[depth:]
        return {
            "q": np.array([float((h.detach() ** 2).mean()) for h in hs]),
            "grad": np.array([float((d ** 2).mean()) for d in delta]),
            "weight_grad": np.array([float(torch.linalg.norm(w)) for w in wgrad]),
        }


def signal_variance_profile(depth: int, width: int, init: str | float, activation: str, seed: int,
                            arch: str = "plain", batch: int = 64) -> np.ndarray:
    """``q_l = mean(h_l ** 2)`` for ``l = 1 .. depth`` (see :func:`propagation_profile`)."""
    return propagation_profile(depth, width, init, activation, seed, arch, batch)["q"]


def gradient_profile(depth: int, width: int, init: str | float, activation: str, seed: int,
                     arch: str = "plain", batch: int = 64) -> np.ndarray:
    """``mean((dL/dh_l) ** 2)`` for ``l = 1 .. depth`` (see :func:`propagation_profile`)."""
    return propagation_profile(depth, width, init, activation, seed, arch, batch)["grad"]


def mean_field_profile(depth: int, c: float, activation: str, q1: float,
                       alpha: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-width forward and backward recursions from ``q_1``.

    Plain (``alpha = 0``): ``q_{l+1} = c E[phi(u)^2]`` and per-layer backward factor
    ``chi_l = c E[phi'(u)^2]``, with ``u ~ N(0, q_l)`` (Poole et al. 2016; Schoenholz et al. 2017).
    Residual: ``q_{l+1} = q_l + alpha^2 c E[phi(u)^2]`` and ``chi_l = 1 + alpha^2 c E[phi'(u)^2]``.
    For ReLU, ``E[phi(u)^2] = q/2`` and ``E[phi'(u)^2] = 1/2`` exactly; for tanh the expectations
    are Simpson sums over ``u`` on a grid fine against both 1 (the width of tanh's bend) and
    ``sqrt(q)`` (that of the Gaussian), out to 10 standard deviations.

    Returns
    -------
    q : (depth,) ndarray
    grad : (depth,) ndarray
        Mean squared gradient relative to the last layer: ``grad[-1] = 1``,
        ``grad[l-1] = chi_{l-1} grad[l]``.
    """
    scale, keep = (alpha ** 2, 1.0) if alpha else (1.0, 0.0)
    q = np.empty(depth)
    chi = np.empty(depth)
    q[0] = q1
    for k in range(depth):
        e_phi2, e_dphi2 = _gaussian_moments(activation, q[k])
        chi[k] = keep + scale * c * e_dphi2
        if k + 1 < depth:
            q[k + 1] = keep * q[k] + scale * c * e_phi2
    grad = np.ones(depth)
    for k in range(depth - 2, -1, -1):
        grad[k] = chi[k] * grad[k + 1]
    return q, grad


def _gaussian_moments(activation: str, q: float) -> tuple[float, float]:
    """``(E[phi(u)^2], E[phi'(u)^2])`` for ``u ~ N(0, q)``."""
    if activation == "relu":
        return q / 2.0, 0.5
    if activation == "linear":
        return q, 1.0
    from scipy.integrate import simpson

    sd = math.sqrt(q)
    du = min(0.01, sd / 100.0)
    u = np.linspace(-10.0 * sd, 10.0 * sd, 2 * int(math.ceil(10.0 * sd / du)) + 1)
    density = np.exp(-0.5 * (u / sd) ** 2) / (sd * math.sqrt(2.0 * math.pi))
    t = np.tanh(u)
    return float(simpson(t ** 2 * density, x=u)), float(simpson((1.0 - t ** 2) ** 2 * density, x=u))


# -- Jacobians ------------------------------------------------------------------------------
def jacobian_products(weights: list, x, activation: str, arch: str) -> list:
    """``[J_1, ..., J_depth]`` with ``J_l = dh_l/dx`` at one input ``x`` (shape ``(width,)``).

    ``J_1 = W_1``, ``J_l = M_l J_{l-1}`` with ``M_l = W_l diag(phi'(h_{l-1}))`` (plain, recurrent)
    or ``I + alpha W_l diag(phi'(h_{l-1}))`` (residual).
    """
    alpha = residual_scale(arch, len(weights))
    hs = forward(weights, x[None, :], activation, arch)
    J = weights[0].clone()
    out = [J]
    for W, h in zip(weights[1:], hs[:-1]):
        WD = W * _phi_prime(activation, h[0])[None, :]
        J = (J + alpha * (WD @ J)) if alpha else WD @ J
        out.append(J)
    return out


def jacobian_spectra(depth: int, width: int, init: str | float, activation: str, seed: int,
                     arch: str = "plain") -> dict[str, np.ndarray]:
    """Per layer: spectral norm, spectral radius and smallest singular value of ``J_l = dh_l/dx``."""
    with torch_threads(1):
        weights = build_stack(depth, width, init, activation, arch, seed)
        gen = torch.Generator().manual_seed(int(seed) + 7919)
        x = torch.randn(width, generator=gen, dtype=torch.float64)
        norm, radius, smin = (np.empty(depth) for _ in range(3))
        for k, J in enumerate(jacobian_products(weights, x, activation, arch)):
            A = J.numpy()
            s = np.linalg.svd(A, compute_uv=False)
            norm[k], smin[k] = s[0], s[-1]
            radius[k] = np.max(np.abs(np.linalg.eigvals(A)))
    return {"jac_norm": norm, "jac_radius": radius, "jac_smin": smin}


# -- pointwise affine spectra -----------------------------------------------------------------
def affine_network(width: int, depth: int, init: str, bias: float, seed: int):
    """``Sequential(Linear, ReLU, ..., Linear)``: ``depth`` square Linear layers, every bias ``= bias``."""
    gen = torch.Generator().manual_seed(int(seed))
    layers = []
    for k in range(depth):
        lin = torch.nn.Linear(width, width, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(init_weight(init, width, width, "relu", gen))
            lin.bias.fill_(bias)
        layers.append(lin)
        if k < depth - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def affine_spectra(width: int, depth: int, init: str, bias: float, seed: int, points: int = AFFINE_POINTS) -> dict:
    """Eigenvalues of ``A(x)`` (``f(x) = A(x) x + b(x)``) at ``points`` random ``x ~ N(0, I)``.

    Returns ``eig`` ``(points, width)`` complex, ``radius`` ``(points,)`` and ``active`` ``(points,)``,
    the fraction of hidden units on.
    """
    from plasticity.metrics import activation_pattern, pointwise_affine

    with torch_threads(1):
        net = affine_network(width, depth, init, bias, seed)
        gen = torch.Generator().manual_seed(int(seed) + 7919)
        xs = torch.randn(points, width, generator=gen, dtype=torch.float64)
        eig = np.empty((points, width), complex)
        active = np.empty(points)
        with torch.no_grad():
            for k, x in enumerate(xs):
                A, _ = pointwise_affine(net, x)
                eig[k] = np.linalg.eigvals(A.numpy())
                active[k] = np.mean(np.concatenate(activation_pattern(net, x))) if depth > 1 else 1.0
    return {"eig": eig, "radius": np.abs(eig).max(axis=1), "active": active}


# -- the study ------------------------------------------------------------------------------
def point(part: str, init: str, activation: str, arch: str, seed: int, width: int, depth: int,
          bias: float, batch: int) -> dict:
    """One stack (part "profile") or one pointwise-affine network (part "affine").

    ``width``, ``depth``: layer width and number of weight layers. Profile: ``init``,
    ``activation``, ``arch``; ``batch`` inputs. Affine: ReLU network with every bias ``bias``;
    A(x) at ``batch`` random states. ``seed`` draws the weights and the inputs.
    """
    if part == "affine":
        res = affine_spectra(width, depth, init, bias, seed, points=batch)
        return {
            "affine_radius": float(res["radius"].mean()),
            "affine_radius_std": float(res["radius"].std()),
            "active_fraction": float(res["active"].mean()),
            "unstable_fraction": float(np.mean(np.abs(res["eig"]) > 1.0)),
            "eig_real": res["eig"].real.ravel(),
            "eig_imag": res["eig"].imag.ravel(),
        }
    if part != "profile":
        raise ValueError(f"gradient_stability.part must be one of ('profile', 'affine'); got {part!r}")
    prof = propagation_profile(depth, width, init, activation, seed, arch, batch)
    spec = jacobian_spectra(depth, width, init, activation, seed, arch)
    q, grad = prof["q"], prof["grad"]
    layers = np.arange(1, depth + 1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q, log_g = np.log10(q / q[0]), np.log10(grad / grad[-1])
        log_norm, log_radius = np.log10(spec["jac_norm"]), np.log10(spec["jac_radius"])
    return {
        # per-layer log10 factors: slopes of straight-line fits over all layers
        "forward_factor": _slope(layers, log_q),
        "backward_factor": -_slope(layers, log_g),
        "c": weight_factor(init, width, width, activation),
        "log10_q_last": float(log_q[-1]),
        "log10_grad_first": float(log_g[0]),
        "log10_jac_norm": float(log_norm[-1]),
        "log10_jac_radius": float(log_radius[-1]),
        # ReLU Jacobians are singular (inactive units): their condition number is not informative
        "log10_jac_cond": math.nan if activation == "relu" else
        float(np.log10(spec["jac_norm"][-1] / spec["jac_smin"][-1])),
        "q1": float(q[0]),
        "q": q, "grad": grad, "weight_grad": prof["weight_grad"],
        "jac_norm": spec["jac_norm"], "jac_radius": spec["jac_radius"], "jac_smin": spec["jac_smin"],
    }


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(y)
    return float(np.polyfit(x[ok], y[ok], 1)[0]) if ok.sum() >= 2 else math.nan


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


def _select(prof, **kw):
    rows = prof
    for k, v in kw.items():
        rows = rows[rows[k] == v]
    return rows


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
                c = weight_factor(init, width, width, act)
                q1 = float(np.mean(rows["q1"]))
                mf_q, mf_g = mean_field_profile(depth, c, act, q1)
                ref = np.log10(mf_q / mf_q[0]) if column == "q" else np.log10(mf_g)
                ax.plot(layers, ref, color=PALETTE[k], ls=":", lw=1.2, label="_nolegend_")
            what = "forward: $\\log_{10}\\, q_l / q_1$" if column == "q" else \
                "backward: $\\log_{10}\\, \\|\\partial L/\\partial h_l\\|^2 / \\|\\partial L/\\partial h_L\\|^2$"
            ax.set_ylabel(what)
            ax.set_xlabel("layer $l$")
            ax.set_title(f"{act}, plain stack", fontsize=9)
    for row, (column, tf) in enumerate((("q", fwd), ("grad", bwd))):
        ax = axes[row, 2]
        for k, arch in enumerate(ARCHS):
            rows = _select(prof, activation="relu", init="he", arch=arch)
            if rows.empty:
                continue
            mean, sem = _mean_sem(rows, column, tf)
            depth = len(mean)
            layers = np.arange(1, depth + 1)
            _band(ax, layers, mean, sem, PALETTE[k], arch)
            if arch != "recurrent":
                mf_q, mf_g = mean_field_profile(depth, 2.0, "relu", float(np.mean(rows["q1"])),
                                                alpha=residual_scale(arch, depth))
                ref = np.log10(mf_q / mf_q[0]) if column == "q" else np.log10(mf_g)
                ax.plot(layers, ref, color=PALETTE[k], ls=":", lw=1.2, label="_nolegend_")
        ax.set_xlabel("layer $l$")
        ax.set_ylabel(axes[row, 0].get_ylabel())
        ax.set_title("relu, He init: architectures", fontsize=9)
    axes[0, 0].plot([], [], color="0.4", ls=":", label="mean-field theory")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    axes[0, 2].plot([], [], color="0.4", ls=":", label="mean-field theory")
    axes[0, 2].legend(fontsize=7, loc="upper left")
    for ax, letter in zip(axes.flat, "abcdef"):
        ax.set_title(f"({letter})", loc="left", fontsize=10, fontweight="bold")
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
    ax.legend(fontsize=7)
    for ax, letter in zip(axes.flat, "abcd"):
        ax.set_title(f"({letter})", loc="left", fontsize=10, fontweight="bold")
    return fig


def main(argv: list[str] | None = None) -> pd.DataFrame:
    from plasticity.study import run_study

    return run_study(NAME, GRID, point, figure, quick=QUICK, argv=argv, summarize=summarize)


if __name__ == "__main__":
    main()
