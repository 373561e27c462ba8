"""Fixed points of a Map or Flow: Newton from each start, slow-point minimisation when Newton fails.

    Map:   G(x) = F(x) - x,   dG/dx = J(x) - 1
    Flow:  G(x) = f(x),       dG/dx = J(x)

From each start, damped Newton (backtracking on ``|G|``) runs until ``|G(x)|_2 <= tol``. When it
fails (singular Jacobian, no decrease, too many iterations), the start goes to the slow-point
search of Sussillo & Barak (2013): minimise ``q(x) = |G(x)|^2 / 2`` with its analytic gradient
``dG/dx^T G`` and the Gauss-Newton Hessian ``dG/dx^T dG/dx`` (scipy's ``trust-exact``; on a
random tanh network it needs ~20 evaluations where L-BFGS-B needs ~400), then polish the minimiser with Newton; a minimum with ``q > 0`` is a
slow point, not a fixed point, and is dropped. Solutions closer than ``dedup_tol`` (relative,
max-norm) are merged. Each fixed point is classified by the eigenvalues of ``J``:

    Map:   "stable"   all |lambda| < 1,    "unstable" all |lambda| >= 1,    else "saddle"
    Flow:  "stable"   all Re lambda < 0,   "unstable" all Re lambda >= 0,   else "saddle"

(``marginal`` flags eigenvalues within ``1e-9`` of the boundary, where the label is fragile).

References: Sussillo & Barak (2013), Neural Comput 25:626; Golub & Sussillo (2018), JOSS 3:1003
(FixedPointFinder); Dennis & Schnabel (1996), Numerical Methods for Unconstrained Optimization,
ch. 6 (backtracking Newton).
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np

from plasticity._validation import Interval, as_rng, check_number, positive
from plasticity.metrics.linalg import is_torch
from plasticity.metrics.systems import Map, _System

__all__ = ["FixedPoint", "fixed_points"]

_MARGIN = 1e-9


@dataclass(frozen=True)
class FixedPoint:
    """One fixed point.

    Attributes
    ----------
    x : (n,) array or tensor
        Location.
    eigenvalues : (n,) complex array or tensor
        Of the Jacobian ``J(x)`` of the map/flow (not of ``G``), by decreasing ``|lambda|``
        (map) or ``Re lambda`` (flow).
    label : {"stable", "unstable", "saddle"}
    residual : float
        ``|F(x) - x|_2`` (map) or ``|f(x)|_2`` (flow).
    jacobian : (n, n) array or tensor
        ``J(x)``.
    kind : {"map", "flow"}
    method : {"newton", "minimize"}
        How it was found.
    marginal : bool
        Some eigenvalue lies within 1e-9 of the stability boundary.
    """

    x: Any
    eigenvalues: Any
    label: str
    residual: float
    jacobian: Any
    kind: str
    method: str
    marginal: bool


def _classify(kind: str, lam: np.ndarray) -> tuple[str, bool, np.ndarray]:
    margin = np.abs(lam) - 1.0 if kind == "map" else lam.real
    order = np.argsort(-margin, kind="stable")
    inside = int(np.count_nonzero(margin < 0.0))
    label = "stable" if inside == lam.size else "unstable" if inside == 0 else "saddle"
    return label, bool(np.any(np.abs(margin) <= _MARGIN)), lam[order]


class _Problem:
    """``G`` and ``dG/dx`` of a system as numpy functions (wrapping a tensor system if needed)."""

    def __init__(self, system: Any, like: Any) -> None:
        self.system, self.like = system, like
        self.is_map = isinstance(system, Map)

    def _to(self, x: np.ndarray) -> Any:
        if self.like is None:
            return x
        import torch

        return torch.as_tensor(x, dtype=self.like.dtype, device=self.like.device)

    @staticmethod
    def _np(a: Any) -> np.ndarray:
        return a.detach().cpu().numpy() if is_torch(a) else np.asarray(a)

    def G(self, x: np.ndarray) -> np.ndarray:
        y = self._np(self.system(self._to(x))).astype(np.float64)
        return y - x if self.is_map else y

    def J(self, x: np.ndarray) -> np.ndarray:
        return self._np(self.system.jacobian(self._to(x))).astype(np.float64)

    def DG(self, x: np.ndarray) -> np.ndarray:
        J = self.J(x)
        if self.is_map:
            J[np.diag_indices_from(J)] -= 1.0
        return J


def _newton(p: _Problem, x: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, float, bool]:
    g = p.G(x)
    r = float(np.linalg.norm(g))
    for _ in range(max_iter):
        if r <= tol:
            return x, r, True
        try:
            d = np.linalg.solve(p.DG(x), -g)
        except np.linalg.LinAlgError:
            return x, r, False
        if not np.all(np.isfinite(d)):
            return x, r, False
        alpha = 1.0
        while alpha >= 2.0**-20:  # backtracking: Armijo on |G|
            x_new = x + alpha * d
            g_new = p.G(x_new)
            r_new = float(np.linalg.norm(g_new))
            if np.isfinite(r_new) and r_new <= (1.0 - 1e-4 * alpha) * r:
                break
            alpha *= 0.5
        else:
            return x, r, r <= tol
        x, g, r = x_new, g_new, r_new
    return x, r, r <= tol


def _slow_point(p: _Problem, x: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, float, bool]:
    def q_and_grad(z: np.ndarray) -> tuple[float, np.ndarray]:
        g = p.G(z)
        if not np.all(np.isfinite(g)):
            return np.inf, np.zeros_like(z)
        return 0.5 * float(g @ g), p.DG(z).T @ g

    def gauss_newton(z: np.ndarray) -> np.ndarray:
        D = p.DG(z)
        return D.T @ D

    import scipy.optimize  # here: `import plasticity.metrics` binds this module eagerly

    with np.errstate(invalid="ignore", over="ignore"):
        res = scipy.optimize.minimize(q_and_grad, x, jac=True, hess=gauss_newton, method="trust-exact",
                                      options={"maxiter": 20 * max_iter, "gtol": 1e-12})
    return _newton(p, res.x, tol, max_iter)


def _starts(owner: str, system: Any, starts: Any, seed: Any, dim: Any, scale: float) -> tuple[np.ndarray, Any]:
    if is_torch(starts):
        like = starts
        arr = starts.detach().cpu().numpy().astype(np.float64)
    elif isinstance(starts, Integral) and not isinstance(starts, bool):
        check_number(owner, "starts", starts, Interval(1, closed="left", integer=True))
        n = dim if dim is not None else system.dim
        if n is None:
            raise ValueError(f"{owner}: starts is an integer ({starts}) but the state dimension is unknown; "
                             "pass dim=n, build the system with dim=n, or give starts as an (m, n) array")
        check_number(owner, "dim", n, Interval(1, closed="left", integer=True))
        return as_rng(seed).uniform(-scale, scale, (int(starts), int(n))), None
    else:
        like = None
        try:
            arr = np.array(starts, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{owner}: starts must be an integer in [1, inf) or an (m, n) array of initial guesses; "
                            f"got {starts!r:.80} of type {type(starts).__name__}") from e
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{owner}: starts must be an integer or an (m, n) array of initial guesses; got shape {arr.shape}")
    if system.dim is not None and arr.shape[1] != system.dim:
        raise ValueError(f"{owner}: starts has shape {arr.shape}; expected (m, {system.dim}) for {system!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}: starts must be finite; got NaN or inf entries")
    return arr, like


def fixed_points(system: Any, starts: Any, tol: float = 1e-10, seed: Any = None, *, dim: int | None = None,
                 scale: float = 1.0, max_iter: int = 50, dedup_tol: float = 1e-6) -> list[FixedPoint]:
    """Fixed points of a Map (``F(x) = x``) or Flow (``f(x) = 0``), classified by their eigenvalues.

    Parameters
    ----------
    system : Map or Flow
        With an analytic Jacobian when possible (else finite differences / autograd).
    starts : int or (m, n) array or tensor
        Initial guesses, or how many to draw uniformly in ``[-scale, scale]^n`` (needs ``dim``
        or ``system.dim``). A tensor runs the system on tensors and returns tensors.
    tol : float
        Accept ``x`` when ``|G(x)|_2 <= tol`` (see the module docstring for ``G``).
    seed : int or Generator, optional
        For the random starts.
    dim : int, optional
        State dimension for integer ``starts`` when the system does not know it.
    scale : float
        Half-width of the box of random starts (state units).
    max_iter : int
        Newton iterations per start (the minimisation gets ``20 * max_iter``).
    dedup_tol : float
        Two solutions with ``max|x - y| <= dedup_tol * max(1, max|y|)`` are the same.

    Returns
    -------
    list of FixedPoint
        In order of discovery (by start).
    """
    owner = "fixed_points"
    if not isinstance(system, _System):
        raise TypeError(f"{owner}: system must be a plasticity.metrics.Map or Flow; got {type(system).__name__}")
    tol = check_number(owner, "tol", tol, positive)
    scale = check_number(owner, "scale", scale, positive)
    check_number(owner, "max_iter", max_iter, Interval(1, closed="left", integer=True))
    dedup_tol = check_number(owner, "dedup_tol", dedup_tol, positive)
    X0, like = _starts(owner, system, starts, seed, dim, scale)
    problem = _Problem(system, like)
    found: list[FixedPoint] = []
    for x0 in X0:
        x, r, ok = _newton(problem, x0.copy(), tol, max_iter)
        method = "newton"
        if not ok:
            x, r, ok = _slow_point(problem, x0.copy(), tol, max_iter)
            method = "minimize"
        if not ok or any(np.max(np.abs(x - _np_x(f.x))) <= dedup_tol * max(1.0, float(np.max(np.abs(_np_x(f.x))))) for f in found):
            continue
        J = problem.J(x)
        label, marginal, lam = _classify(system.kind, np.linalg.eigvals(J))
        if like is not None:
            import torch

            x, lam, J = (torch.as_tensor(a, device=like.device) for a in (x, lam, J))
            x, J = x.to(like.dtype), J.to(like.dtype)
        found.append(FixedPoint(x=x, eigenvalues=lam, label=label, residual=r, jacobian=J, kind=system.kind,
                                method=method, marginal=marginal))
    return found


def _np_x(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if is_torch(x) else x
