"""Tangent propagation with an explicit basis: small numpy systems, every Flow, and tensors.

A Map advances ``x <- F(x)``, ``M <- J(x) M``; a Flow integrates ``dx/dt = f(x)``,
``dM/dt = J(x) M`` with classical RK4 (the M-part of RK4 of the pair is exactly the derivative
of the RK4 map, so exponents are those of the discrete RK4 flow map). ``J(x) M`` comes from the
system's ``jvp``: the analytic Jacobian, directional finite differences or autograd.
Re-orthonormalisation is a numba Householder QR below ``SMALL_N`` (numpy's and torch's ``qr``
cost 10 us to 10 ms of overhead per call, the whole step of a 2-D map) and ``np.linalg.qr`` /
``torch.linalg.qr`` above.

Reference: Geist, Parlitz & Lauterborn (1990), Prog Theor Phys 83:875; Golub & Van Loan (2013),
Matrix Computations, 5.2.2 (Householder QR).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from plasticity.metrics.linalg import is_torch
from plasticity.metrics.systems import Map

__all__ = ["ExplicitTangent", "SMALL_N"]

SMALL_N = 64


@njit(cache=True)
def _small_qr(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Householder QR of a small (n, k) matrix: ``(Q, log |diag R|)``.

    numpy's ``qr`` costs ~50 us of call overhead, which for a 2-D map is the whole step. A zero
    column gives ``log 0 = -inf`` and leaves the reflection out (Q stays orthonormal).
    """
    n, k = M.shape
    A = M.copy()
    V = np.zeros((n, k))
    logs = np.empty(k)
    for j in range(k):
        norm2 = 0.0
        for i in range(j, n):
            norm2 += A[i, j] * A[i, j]
        norm = np.sqrt(norm2)
        logs[j] = np.log(norm)
        if norm == 0.0:
            continue
        alpha = -norm if A[j, j] >= 0.0 else norm
        vnorm2 = 0.0
        for i in range(j, n):
            V[i, j] = A[i, j]
        V[j, j] -= alpha
        for i in range(j, n):
            vnorm2 += V[i, j] * V[i, j]
        if vnorm2 == 0.0:
            continue
        for c in range(j, k):
            s = 0.0
            for i in range(j, n):
                s += V[i, j] * A[i, c]
            s *= 2.0 / vnorm2
            for i in range(j, n):
                A[i, c] -= s * V[i, j]
        for i in range(j, n):
            V[i, j] /= np.sqrt(vnorm2)
    Q = np.zeros((n, k))
    for i in range(k):
        Q[i, i] = 1.0
    for j in range(k - 1, -1, -1):  # Q = H_0 ... H_{k-1} [I_k; 0]
        for c in range(k):
            s = 0.0
            for i in range(j, n):
                s += V[i, j] * Q[i, c]
            for i in range(j, n):
                Q[i, c] -= 2.0 * s * V[i, j]
    return Q, logs


class ExplicitTangent:
    """State ``x`` and an explicit tangent matrix ``M`` (n, k); numpy or torch."""

    def __init__(self, system: Any, x: Any, G: np.ndarray, dt: float) -> None:
        self.system, self.x, self.dt, self.k = system, x, dt, G.shape[1]
        self.torch = is_torch(x)
        if self.torch:
            import torch

            self._qr, self._diag = torch.linalg.qr, torch.diagonal
            G = torch.as_tensor(G, dtype=x.dtype, device=x.device)
        else:
            self._qr, self._diag = np.linalg.qr, np.diagonal
        self.M = self._qr(G)[0]

    def advance(self) -> Any:
        x, M, system = self.x, self.M, self.system
        if isinstance(system, Map):
            self.M = system.jvp(x, M)
            self.x = system(x)
            return self.x
        h = self.dt  # classical RK4 of (x, M); the M-part is the derivative of the x-part
        k1, K1 = system(x), system.jvp(x, M)
        x2, M2 = x + 0.5 * h * k1, M + 0.5 * h * K1
        k2, K2 = system(x2), system.jvp(x2, M2)
        x3, M3 = x + 0.5 * h * k2, M + 0.5 * h * K2
        k3, K3 = system(x3), system.jvp(x3, M3)
        x4, M4 = x + h * k3, M + h * K3
        k4, K4 = system(x4), system.jvp(x4, M4)
        self.x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        self.M = M + (h / 6.0) * (K1 + 2.0 * K2 + 2.0 * K3 + K4)
        return self.x

    def finite(self) -> bool:
        if self.torch:
            import torch

            return bool(torch.isfinite(self.x).all())
        return bool(np.isfinite(self.x).all())

    def qr(self) -> np.ndarray:
        if self.M.shape[0] < SMALL_N:  # tensors too: a torch qr call costs 1-10 ms here at any size
            if self.torch:
                import torch

                Q, logs = _small_qr(self.M.detach().cpu().numpy().astype(np.float64))
                self.M = torch.as_tensor(Q, dtype=self.x.dtype, device=self.x.device)
            else:
                self.M, logs = _small_qr(self.M)
            return logs
        if self.M.shape[1] == 1:  # one vector: the norm is |R_11|
            norm = (self.M * self.M).sum() ** 0.5
            if norm > 0:  # a saturated orbit annihilates the vector: log 0 = -inf, not 0/0 = NaN
                self.M = self.M / norm
            logs = np.array([float(norm)])
        else:
            self.M, R = self._qr(self.M)
            logs = self._diag(R)
            logs = np.abs(logs.detach().cpu().numpy() if self.torch else logs)
        with np.errstate(divide="ignore"):
            return np.log(logs)
