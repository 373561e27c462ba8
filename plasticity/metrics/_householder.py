"""Tangent propagation of a large numpy Map with Q kept in Householder form (LAPACK through scipy).

One step of the QR method costs the product ``J Q`` and a QR factorisation. Forming Q
explicitly (``np.linalg.qr`` = ``geqrf`` + ``orgqr``) doubles the factorisation cost; here the
full spectrum keeps Q as the reflectors of ``dgeqrf`` and applies it to ``J`` from the right
with ``dormqr``, so a step is one ``dormqr`` (~ a matrix product) plus one ``dgeqrf``. For the
top ``k < n`` exponents the ``n x k`` Q is formed by ``dorgqr`` (cheap, O(n k^2)) and ``J Q`` is
one ``dgemm``. Workspaces are queried (``lwork=-1``): scipy's default ``geqrf`` workspace is
``3 n`` doubles, which makes LAPACK fall back to the unblocked algorithm (3x slower).

numpy and scipy wheels each bundle their own OpenBLAS with its own thread pool; the user's
``step``/``jacobian`` run through numpy's, the factorisations through scipy's, and a pool whose
threads still spin after a call competes with the other (on 2 cores this doubles the step
time). :func:`plasticity._threads.numpy_blas_single_thread` pins numpy's pool to one thread during the loop.

Reference: Geist, Parlitz & Lauterborn (1990), Prog Theor Phys 83:875 (QR method H2);
LAPACK Users' Guide (1999), sec. 2.4.2 (orthogonal factorisations in Householder form).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg import blas, lapack

from plasticity._threads import scipy_blas_single_thread

__all__ = ["HouseholderTangent"]


def _log_abs_diagonal(H: np.ndarray, k: int) -> np.ndarray:
    """``log |R_ii|`` of the first ``k`` diagonal entries of a ``geqrf`` result (``-inf`` for 0)."""
    with np.errstate(divide="ignore"):
        return np.log(np.abs(np.diagonal(H)[:k]))


def _lwork(routine, *args) -> int:
    out = routine(*args, lwork=-1)
    return max(1, int(out[-2][0]))  # work array, then info, are the last two outputs


def _check_info(name: str, info: int) -> None:
    if info != 0:
        raise RuntimeError(f"LAPACK {name} failed with info={info}")


class HouseholderTangent:
    """State ``x`` and tangent basis of a numpy :class:`~plasticity.metrics.systems.Map` with an analytic Jacobian.

    Parameters
    ----------
    system : Map
    x : (n,) float64 array
    G : (n, k) array
        Random matrix whose Q factor is the initial orthonormal basis.
    """

    def __init__(self, system: Any, x: np.ndarray, G: np.ndarray) -> None:
        self.system, self.x = system, x
        n, k = G.shape
        self.n, self.k, self.full = n, k, k == n
        G = np.array(G, dtype=np.float64, order="F")
        self._lw_geqrf = _lwork(lapack.dgeqrf, G)
        H, tau, _, info = lapack.dgeqrf(G, lwork=self._lw_geqrf, overwrite_a=1)
        _check_info("dgeqrf", info)
        self._buf = np.empty((n, k), order="F")
        if self.full:
            self._H, self._tau = H, tau
            self._lw_ormqr = _lwork(lapack.dormqr, "R", "N", H, tau, self._buf)
        else:
            self._lw_orgqr = _lwork(lapack.dorgqr, H, tau)
            self._Q, _, info = lapack.dorgqr(H, tau, lwork=self._lw_orgqr, overwrite_a=1)
            _check_info("dorgqr", info)
        self._M: np.ndarray | None = None  # unnormalised J...J Q since the last QR

    @staticmethod
    def _gemm(J: np.ndarray, B: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        # a C-ordered J is a Fortran-ordered J^T: multiply with trans_a instead of copying
        if J.flags.c_contiguous and not J.flags.f_contiguous:
            a, trans = J.T, 1
        else:
            a, trans = np.asfortranarray(J), 0
        if out is None:
            return blas.dgemm(1.0, a, B, trans_a=trans)
        return blas.dgemm(1.0, a, B, trans_a=trans, c=out, overwrite_c=1)

    def advance(self) -> np.ndarray:
        """One step: ``M <- J(x) M`` (``M = Q`` right after a QR), ``x <- F(x)``; returns the new ``x``."""
        if not self.full and self.system.has_jvp:  # the tangent map without forming J
            self._M = np.asfortranarray(self.system.jvp(self.x, self._Q if self._M is None else self._M))
            self.x = self.system(self.x)
            return self.x
        J = self.system.jacobian(self.x)
        x_new = self.system(self.x)
        if self._M is not None:  # several steps between QRs: plain products
            self._M = self._gemm(J, self._M, None)
        elif self.full:
            np.copyto(self._buf, J)
            self._M, _, info = lapack.dormqr("R", "N", self._H, self._tau, self._buf, lwork=self._lw_ormqr, overwrite_c=1)
            _check_info("dormqr", info)
        else:
            self._M = self._gemm(J, self._Q, self._buf)
        self.x = x_new
        return x_new

    def finite(self) -> bool:
        return bool(np.isfinite(self.x).all())

    def qr(self) -> np.ndarray:
        """Re-orthonormalise; returns ``log |diag R|`` (k,)."""
        M, self._M = self._M, None
        if M is None:
            return np.zeros(self.k)
        if self.full:
            H, tau, _, info = lapack.dgeqrf(M, lwork=self._lw_geqrf, overwrite_a=1)
            _check_info("dgeqrf", info)
            logs = _log_abs_diagonal(H, self.k)
            self._buf, self._H, self._tau = self._H, H, tau  # the old reflectors' storage is the next buffer
        else:
            # the QR of a tall (n, k) block is too small a job for several threads: one thread is
            # faster (measured, N = 1000, k = 100: 8.6 -> 5.2 ms a step on 2 threads), while the
            # J M product (advance) keeps them all
            with scipy_blas_single_thread():
                H, tau, _, info = lapack.dgeqrf(M, lwork=self._lw_geqrf, overwrite_a=1)
                _check_info("dgeqrf", info)
                logs = _log_abs_diagonal(H, self.k)  # before dorgqr overwrites H with Q
                Q, _, info = lapack.dorgqr(H, tau, lwork=self._lw_orgqr, overwrite_a=1)
                _check_info("dorgqr", info)
            self._buf, self._Q = self._Q, Q
        return logs
