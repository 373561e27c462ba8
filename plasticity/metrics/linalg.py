"""Linear-algebra stability metrics of a weight matrix or a Jacobian.

    spectral radius            rho(W)   = max_i |lambda_i|
    spectral norm              ||W||_2  = sigma_max(W)                   (rho <= ||W||_2)
    departure from normality   dep(W)   = sqrt(||W||_F^2 - sum_i |lambda_i|^2)    (Henrici)
    numerical abscissa         omega(W) = lambda_max((W + W^H) / 2)      (>= max_i Re lambda_i)
    Gershgorin row discs       |z - W_ii| <= sum_{j != i} |W_ij|         (hold every eigenvalue)

``rho < 1`` (maps) or ``max Re lambda < 0`` (flows) is asymptotic stability of a linear system;
the gap to ``||W||_2`` and ``omega`` and the size of ``dep`` measure how much a stable non-normal
system can amplify transients (Trefethen & Embree 2005, Spectra and Pseudospectra, ch. 14-15).
``activity_variance`` is the order parameter of the transition to chaos in random rate networks
(Sompolinsky, Crisanti & Sommers 1988, Phys Rev Lett 61:259).

Every function takes numpy arrays (returns floats or numpy arrays) or torch tensors (returns
tensors, differentiable where torch is: eigenvalues, singular values, symmetric eigenvalues).
torch is imported only when a tensor is passed.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

__all__ = [
    "activity_variance",
    "spectral_radius",
    "spectral_norm",
    "departure_from_normality",
    "numerical_abscissa",
    "gershgorin_discs",
    "gershgorin_radius_bound",
]


def is_torch(x: Any) -> bool:
    """True for a torch tensor, decided without importing torch."""
    return type(x).__module__.startswith("torch")


def as_square(owner: str, W: Any, name: str = "W") -> Any:
    """Return ``W`` as a square 2-D numpy array or tensor; raise naming ``owner`` and ``name``.

    O(n^2): the finiteness scan costs no more than reading the matrix once, which every metric
    does anyway (eigenvalues of a NaN matrix are an opaque LAPACK error otherwise).
    """
    if is_torch(W):
        import torch

        if not (W.is_floating_point() or W.is_complex()):
            raise TypeError(f"{owner}: {name} must be a floating or complex tensor; got dtype {W.dtype}")
        finite = bool(torch.isfinite(W).all())
    else:
        try:
            W = np.asarray(W)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{owner}: {name} must be a square 2-D array; got {type(W).__name__}") from exc
        if W.dtype.kind not in "biufc":
            raise TypeError(f"{owner}: {name} must be a real or complex numeric array; got dtype {W.dtype}")
        if W.dtype.kind in "biu":
            W = W.astype(np.float64)
        finite = bool(np.all(np.isfinite(W)))
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] == 0:
        raise ValueError(f"{owner}: {name} must be a square 2-D matrix (n, n) with n >= 1; got shape {tuple(W.shape)}")
    if not finite:
        raise ValueError(f"{owner}: {name} must be finite; got NaN or inf entries")
    return W


def activity_variance(rates: Any) -> Any:
    """Mean over neurons of each neuron's variance over time.

        V = (1/n) sum_i [ (1/T) sum_t (r_ti - <r_i>_t)^2 ]

    Parameters
    ----------
    rates : (T, n) array_like or tensor
        Activity of ``n`` neurons at ``T`` times (rows are times), in the model's rate unit.

    Returns
    -------
    float, or a 0-d tensor for a tensor input
        In (rate unit)^2. 0 at a fixed point; grows past the onset of chaos (population variance,
        ``ddof=0``).

    References
    ----------
    Sompolinsky, Crisanti & Sommers (1988), Phys Rev Lett 61:259.
    """
    owner = "activity_variance"
    if is_torch(rates):
        import torch

        if rates.ndim != 2 or rates.shape[0] == 0 or rates.shape[1] == 0:
            raise ValueError(f"{owner}: rates must be a (T, n) array with T, n >= 1; got shape {tuple(rates.shape)}")
        if not bool(torch.isfinite(rates).all()):
            raise ValueError(f"{owner}: rates must be finite; got NaN or inf entries")
        return rates.var(dim=0, unbiased=False).mean()
    r = np.asarray(rates)
    if r.dtype.kind not in "biuf":
        raise TypeError(f"{owner}: rates must be a real numeric array; got dtype {r.dtype}")
    if r.ndim != 2 or r.shape[0] == 0 or r.shape[1] == 0:
        raise ValueError(f"{owner}: rates must be a (T, n) array with T, n >= 1; got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError(f"{owner}: rates must be finite; got NaN or inf entries")
    return float(np.mean(np.var(r, axis=0)))


def spectral_radius(W: Any) -> Any:
    """Largest eigenvalue modulus, ``max_i |lambda_i(W)|``.

    Parameters
    ----------
    W : (n, n) array_like or tensor
        Real or complex square matrix (weights ``W[post, pre]`` or a Jacobian). Not modified.

    Returns
    -------
    float, or a 0-d tensor for a tensor input
        ``< 1``: the linear map ``x -> W x`` is asymptotically stable.
    """
    W = as_square("spectral_radius", W)
    if is_torch(W):
        import torch

        return torch.linalg.eigvals(W).abs().max()
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def spectral_norm(W: Any) -> Any:
    """Largest singular value ``||W||_2``, the largest one-step gain of ``x -> W x``.

    Parameters
    ----------
    W : (n, n) array_like or tensor
        Square matrix. Not modified.

    Returns
    -------
    float, or a 0-d tensor for a tensor input
        ``>= spectral_radius(W)``, with equality for normal matrices.
    """
    W = as_square("spectral_norm", W)
    if is_torch(W):
        import torch

        return torch.linalg.matrix_norm(W, ord=2)
    return float(np.linalg.norm(W, 2))


def departure_from_normality(W: Any) -> Any:
    """Henrici's departure from normality, ``sqrt(||W||_F^2 - sum_i |lambda_i|^2)``.

    For numpy input it is computed as the Frobenius norm of the strictly upper triangle of the
    complex Schur form ``W = U T U^H`` (the same number, as ``||W||_F = ||T||_F`` and
    ``diag T`` are the eigenvalues), which is accurate to ``eps * ||W||_F`` even for normal
    matrices. The tensor version uses the defining formula (differentiable, but the
    cancellation limits its accuracy to about ``sqrt(eps) * ||W||_F`` near 0).

    Parameters
    ----------
    W : (n, n) array_like or tensor
        Real or complex square matrix. Not modified.

    Returns
    -------
    float, or a 0-d tensor for a tensor input
        0 for a normal matrix; grows with transient amplification.

    References
    ----------
    Henrici (1962), Numer. Math. 4:24; Trefethen & Embree (2005), Spectra and Pseudospectra.
    """
    W = as_square("departure_from_normality", W)
    if is_torch(W):
        import torch

        lam = torch.linalg.eigvals(W)
        gap = torch.linalg.matrix_norm(W, ord="fro") ** 2 - (lam.abs() ** 2).sum()
        return torch.sqrt(torch.clamp(gap, min=0.0))
    T, _ = scipy.linalg.schur(W, output="complex")
    return float(np.linalg.norm(np.triu(T, 1)))


def numerical_abscissa(W: Any) -> Any:
    """Largest eigenvalue of the Hermitian part ``(W + W^H) / 2``.

    ``d/dt ||x||^2 / 2 <= omega ||x||^2`` along ``dx/dt = W x``: the initial growth rate of the
    largest transient. ``omega >= max_i Re lambda_i(W)``, with equality for normal ``W``.

    Parameters
    ----------
    W : (n, n) array_like or tensor
        Square matrix (for real ``W``, ``W^H = W^T``). Not modified.

    Returns
    -------
    float, or a 0-d tensor for a tensor input

    References
    ----------
    Trefethen & Embree (2005), Spectra and Pseudospectra, ch. 14 and 17.
    """
    W = as_square("numerical_abscissa", W)
    if is_torch(W):
        import torch

        return torch.linalg.eigvalsh((W + W.mH) / 2).max()
    return float(np.max(np.linalg.eigvalsh((W + W.conj().T) / 2)))


def gershgorin_discs(J: Any) -> tuple[Any, Any]:
    """Gershgorin row discs ``{z : |z - J_ii| <= sum_{j != i} |J_ij|}``; every eigenvalue lies in their union.

    Parameters
    ----------
    J : (n, n) array_like or tensor
        Square matrix (a Jacobian or weights ``W[post, pre]``). Not modified.

    Returns
    -------
    centers : (n,) array or tensor
        ``J_ii`` (complex if ``J`` is).
    radii : (n,) array or tensor
        ``sum_{j != i} |J_ij|``, non-negative.

    References
    ----------
    Gershgorin (1931), Izv. Akad. Nauk SSSR 6:749; Horn & Johnson (2013), Matrix Analysis, 6.1.1.
    """
    J = as_square("gershgorin_discs", J)
    if is_torch(J):
        import torch

        off_diagonal = ~torch.eye(J.shape[0], dtype=torch.bool, device=J.device)
        return torch.diagonal(J), (J.abs() * off_diagonal).sum(dim=1)
    centers = np.diagonal(J).copy()
    off = np.abs(J)
    np.fill_diagonal(off, 0.0)  # subtracting |J_ii| from the row sum would round away small radii
    return centers, off.sum(axis=1)


def gershgorin_radius_bound(J: Any) -> Any:
    """Upper bound on the spectral radius from the row discs, ``max_i (|J_ii| + sum_{j != i} |J_ij|)``.

    This is the infinity norm ``||J||_inf``; cheap (O(n^2), no eigenvalues) and ``>= rho(J)``.

    Parameters
    ----------
    J : (n, n) array_like or tensor
        Square matrix. Not modified.

    Returns
    -------
    float, or a 0-d tensor for a tensor input
    """
    J = as_square("gershgorin_radius_bound", J)
    if is_torch(J):
        return J.abs().sum(dim=1).max()
    return float(np.max(np.abs(J).sum(axis=1)))
