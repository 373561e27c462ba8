"""Transient growth: how far a stable linear system can amplify before it decays.

For a map ``x <- A x`` the worst-case gain after ``t`` steps is ``||A^t||_2``; for a flow
``dx/dt = A x`` it is ``||expm(t A)||_2``. A spectral radius below 1 (a spectral abscissa
below 0) says only that these gains decay eventually: a non-normal ``A`` can amplify by a
large factor first (Trefethen & Embree 2005, ch. 14-15; Murphy & Miller 2009 for neural
circuits). The gap ``||A||_2 - rho(A)`` is the simplest warning sign, and a product of
matrices each of spectral radius below 1 can grow without bound: frozen-weight stability
says nothing about a network whose weights keep changing.

References
----------
Trefethen & Embree (2005), Spectra and Pseudospectra, Princeton University Press.
Murphy & Miller (2009), Neuron 61:635 (balanced amplification).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import scipy.linalg
import scipy.optimize

from plasticity._validation import Interval, check_choice, check_finite_array, check_number, positive

__all__ = [
    "TransientAmplification",
    "transient_amplification",
    "radius_norm_gap",
    "NonnormalGrowth",
    "nonnormal_growth_example",
]

_OWNER = "transient_amplification"
_MAX_MAP_STEPS = 10_000


def _is_torch(a: Any) -> bool:
    # torch is imported only when the caller already uses it
    return type(a).__module__.split(".")[0] == "torch"


def _square_matrix(owner: str, name: str, A: Any) -> np.ndarray:
    """``A`` as a float (or complex) numpy array, checked square and finite."""
    if _is_torch(A):
        A = A.detach().cpu().numpy()
    try:
        M = np.asarray(A)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"{owner}: {name} must be a square matrix; got {type(A).__name__}") from exc
    if M.dtype == object or not (np.issubdtype(M.dtype, np.number)):
        raise TypeError(f"{owner}: {name} must be a numeric square matrix; got dtype {M.dtype}")
    if M.ndim != 2 or M.shape[0] != M.shape[1] or M.shape[0] == 0:
        raise ValueError(f"{owner}: {name} must be a non-empty square matrix (n, n); got shape {M.shape}")
    if not np.iscomplexobj(M):
        M = M.astype(np.float64, copy=False)
    check_finite_array(owner, name, M)
    return M


@dataclass(frozen=True)
class TransientAmplification:
    """Result of :func:`transient_amplification`.

    Unpacks as ``peak, t_peak = transient_amplification(A)``.

    Attributes
    ----------
    peak : float or 0-d torch.Tensor
        ``max_t ||A^t||_2`` (map) or ``max_t ||expm(t A)||_2`` (flow); at least 1 (``t = 0``).
        A torch tensor (differentiable in ``A``) when ``A`` was one.
    t_peak : float
        Where the peak is reached: an integer number of steps (map) or a time (flow, refined
        between grid points).
    times : (T,) ndarray
        The grid: ``0, 1, ..., t_max`` (map) or ``n_times`` points on ``[0, t_max]`` (flow).
    norms : (T,) ndarray or torch.Tensor
        The gain at each grid time (a torch tensor when ``A`` was one; with gradients for a
        map only).
    """

    peak: Any
    t_peak: float
    times: np.ndarray
    norms: Any

    def __iter__(self) -> Iterator[Any]:
        yield self.peak
        yield self.t_peak


def _default_t_max(M: np.ndarray, kind: str) -> float:
    ev = np.linalg.eigvals(M)
    if kind == "map":
        rho = float(np.max(np.abs(ev)))
        # the peak of ||A^t|| comes after about (size of Jordan chain) / (1 - rho) steps
        return min(_MAX_MAP_STEPS, max(50, math.ceil(10.0 / (1.0 - rho)))) if rho < 1.0 else 100
    alpha = float(np.max(ev.real))
    return 10.0 / abs(alpha) if alpha < 0.0 else 10.0


def transient_amplification(
    A: Any, kind: str = "map", t_max: float | None = None, n_times: int = 201
) -> TransientAmplification:
    """Largest transient gain of ``x <- A x`` (map) or ``dx/dt = A x`` (flow).

    Map: ``norms[t] = ||A^t||_2`` for ``t = 0, 1, ..., t_max`` (repeated products).
    Flow: ``norms[k] = ||expm(t_k A)||_2`` on ``n_times`` equally spaced times in ``[0, t_max]``
    (``scipy.linalg.expm`` of one grid step, then products); the grid maximum is refined by a
    bounded scalar search between its neighbours, with ``expm`` evaluated at each trial time.
    ``peak = max(norms)``; it is 1 for a stable normal matrix (reached at ``t = 0``) and can
    be much larger than 1 for a stable non-normal one.

    Parameters
    ----------
    A : (n, n) array_like or torch.Tensor
        Real or complex matrix. Not modified.
    kind : {"map", "flow"}
        Discrete steps (time in steps) or continuous time (in the time unit of ``A``'s inverse).
    t_max : float, optional
        End of the time grid; an integer >= 1 for a map. Default: for a map with spectral
        radius ``rho < 1``, ``ceil(10 / (1 - rho))`` steps (at least 50, at most 10000),
        else 100; for a flow with spectral abscissa ``alpha < 0``, ``10 / |alpha|``, else 10.
        A peak at the end of the grid (``t_peak == times[-1]``) means growth, not a peak.
    n_times : int
        Number of grid points of a flow, >= 3 (ignored for a map).

    Returns
    -------
    TransientAmplification
        ``peak``, ``t_peak``, ``times``, ``norms``; ``peak`` and ``norms`` are torch tensors
        when ``A`` is one. ``peak`` is differentiable in ``A``, and so are the map's ``norms``;
        a flow's ``norms`` are computed in numpy (no gradient).

    References
    ----------
    Trefethen & Embree (2005), Spectra and Pseudospectra, ch. 14-15.
    """
    kind = check_choice(_OWNER, "kind", kind, ("map", "flow"))
    M = _square_matrix(_OWNER, "A", A)
    if t_max is None:
        t_max = _default_t_max(M, kind)
    elif kind == "map":
        t_max = int(check_number(_OWNER, "t_max", t_max, Interval(1, math.inf, "left", integer=True)))
    else:
        t_max = check_number(_OWNER, "t_max", t_max, positive)
    if kind == "map":
        return _map_amplification(A, M, int(t_max))
    n_times = int(check_number(_OWNER, "n_times", n_times, Interval(3, math.inf, "left", integer=True)))
    return _flow_amplification(A, M, float(t_max), n_times)


def _map_amplification(A: Any, M: np.ndarray, t_max: int) -> TransientAmplification:
    times = np.arange(t_max + 1, dtype=np.float64)
    if _is_torch(A):
        import torch

        P = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
        norms = [torch.linalg.matrix_norm(P, ord=2)]
        for _ in range(t_max):
            P = P @ A
            norms.append(torch.linalg.matrix_norm(P, ord=2))
        norms_t = torch.stack(norms)
        k = int(torch.argmax(norms_t.detach()))
        return TransientAmplification(norms_t[k], float(k), times, norms_t)
    norms = np.empty(t_max + 1)
    P = np.eye(M.shape[0], dtype=M.dtype)
    norms[0] = 1.0
    for t in range(1, t_max + 1):
        P = P @ M
        norms[t] = np.linalg.norm(P, 2)
    k = int(np.argmax(norms))
    return TransientAmplification(float(norms[k]), float(k), times, norms)


def _flow_amplification(A: Any, M: np.ndarray, t_max: float, n_times: int) -> TransientAmplification:
    times = np.linspace(0.0, t_max, n_times)
    E = scipy.linalg.expm((times[1] - times[0]) * M)
    norms = np.empty(n_times)
    P = np.eye(M.shape[0], dtype=E.dtype)
    norms[0] = 1.0
    for k in range(1, n_times):
        P = P @ E
        norms[k] = np.linalg.norm(P, 2)
    k = int(np.argmax(norms))
    t_peak, peak = float(times[k]), float(norms[k])
    # refine unless the grid maximum is the last point (still growing) or the norm falls from t = 0
    # (the right derivative of ||expm(tA)|| at 0 is the numerical abscissa; <= 0 means t = 0 is the peak)
    falls_from_zero = k == 0 and np.linalg.eigvalsh((M + M.conj().T) / 2.0)[-1] <= 0.0
    if k < n_times - 1 and not falls_from_zero:
        lo, hi = times[max(k - 1, 0)], times[k + 1]
        res = scipy.optimize.minimize_scalar(
            lambda t: -np.linalg.norm(scipy.linalg.expm(t * M), 2),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-10 * max(t_max, 1.0)},
        )
        if -res.fun > peak:
            t_peak, peak = float(res.x), float(-res.fun)
    if _is_torch(A):
        import torch

        # the grid norms come from numpy (a batched matrix_exp would hold n_times n x n copies);
        # at fixed t_peak the gradient of the peak is exact (envelope theorem)
        norms_t = torch.as_tensor(norms, dtype=A.real.dtype if A.is_complex() else A.dtype, device=A.device)
        peak_t = torch.linalg.matrix_norm(torch.linalg.matrix_exp(t_peak * A), ord=2)
        return TransientAmplification(peak_t, t_peak, times, norms_t)
    return TransientAmplification(peak, t_peak, times, norms)


def radius_norm_gap(W: Any) -> Any:
    """Gap between spectral norm and spectral radius, ``||W||_2 - max_i |lambda_i|``.

    Parameters
    ----------
    W : (n, n) array_like or torch.Tensor
        Real or complex square matrix. Not modified.

    Returns
    -------
    float or 0-d torch.Tensor
        >= 0 (to rounding); 0 for a normal matrix, whose norm equals its radius. A positive gap
        means ``W`` is non-normal and one step can amplify some state by more than the
        eigenvalues suggest. (0 does not imply normal: a block-diagonal matrix whose largest
        block is normal has gap 0 whatever its other blocks are.)

    References
    ----------
    Trefethen & Embree (2005), Spectra and Pseudospectra, ch. 14.
    """
    if _is_torch(W):
        import torch

        _square_matrix("radius_norm_gap", "W", W)
        return torch.linalg.matrix_norm(W, ord=2) - torch.max(torch.abs(torch.linalg.eigvals(W)))
    M = _square_matrix("radius_norm_gap", "W", W)
    return float(np.linalg.norm(M, 2) - np.max(np.abs(np.linalg.eigvals(M))))


@dataclass(frozen=True)
class NonnormalGrowth:
    """Result of :func:`nonnormal_growth_example`.

    Attributes
    ----------
    matrices : (steps, 2, 2) ndarray
        ``M_1, ..., M_steps``, alternating ``A`` and ``A.T``.
    radii : (steps,) ndarray
        Spectral radius of each ``M_k`` (all equal to ``eigenvalue`` < 1).
    norms : (steps + 1,) ndarray
        ``||M_k ... M_1||_2`` for ``k = 0 .. steps`` (``norms[0] = 1``, the identity).
    growth_per_pair : float
        Spectral radius of ``A.T @ A`` (= ``||A||_2**2``), the growth factor of the product per
        two steps: ``(tr + sqrt(tr**2 - 4 l**4)) / 2`` with ``tr = 2 l**2 + c**2``; after ``2k``
        steps the product is ``(A.T @ A)**k`` (symmetric), so ``norms[2k] = growth_per_pair**k``.
    """

    matrices: np.ndarray
    radii: np.ndarray
    norms: np.ndarray
    growth_per_pair: float


def nonnormal_growth_example(steps: int = 20, eigenvalue: float = 0.5, coupling: float = 2.0) -> NonnormalGrowth:
    """Matrices each of spectral radius < 1 whose product grows exponentially.

    ``A = [[l, c], [0, l]]`` and ``A.T`` both have the double eigenvalue ``l`` (radius ``|l|``),
    yet ``A.T @ A = [[l**2, l c], [l c, l**2 + c**2]]`` has spectral radius
    ``(tr + sqrt(tr**2 - 4 l**4)) / 2`` with ``tr = 2 l**2 + c**2``, which exceeds 1 when ``c``
    is large enough (4.49 for the defaults): alternating the two multiplies the norm by that
    factor every two steps. For time-varying (plastic) weights, each frozen ``W`` being stable
    does not make the sequence stable.

    Parameters
    ----------
    steps : int
        Number of factors, >= 1.
    eigenvalue : float
        ``l``, in (-1, 1).
    coupling : float
        ``c``, the off-diagonal entry.

    Returns
    -------
    NonnormalGrowth
        ``matrices``, ``radii``, ``norms`` of the partial products, ``growth_per_pair``.

    References
    ----------
    Trefethen & Embree (2005), Spectra and Pseudospectra, ch. 25 (products of matrices);
    Gurvits (1995), Linear Algebra Appl. 231:47 (joint spectral radius).
    """
    owner = "nonnormal_growth_example"
    steps = int(check_number(owner, "steps", steps, Interval(1, math.inf, "left", integer=True)))
    lam = check_number(owner, "eigenvalue", eigenvalue, Interval(-1.0, 1.0))
    c = check_number(owner, "coupling", coupling)
    A = np.array([[lam, c], [0.0, lam]])
    matrices = np.stack([A if k % 2 == 0 else A.T for k in range(steps)])
    radii = np.array([np.max(np.abs(np.linalg.eigvals(M))) for M in matrices])
    norms = np.empty(steps + 1)
    norms[0] = 1.0
    P = np.eye(2)
    for k in range(steps):
        P = matrices[k] @ P
        norms[k + 1] = np.linalg.norm(P, 2)
    tr = 2.0 * lam**2 + c**2
    growth = 0.5 * (tr + math.sqrt(tr**2 - 4.0 * lam**4))
    return NonnormalGrowth(matrices, radii, norms, growth)
