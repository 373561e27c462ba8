"""Lyapunov exponents of a Map or Flow by the QR (Benettin) method.

The tangent basis ``Q`` (n x k, orthonormal) is carried along the trajectory and
re-orthonormalised every ``reorthonormalize_every`` steps, ``J_t ... J_s Q = Q' R``; the
exponents are the time averages of ``log |R_ii|``:

    lambda_i = (1 / (steps * dt)) * sum_QRs log |R_ii|,     descending for i = 1..k.

A Map advances ``x <- F(x)``, ``Q <- J(x) Q`` (dt = 1: exponents per step). A Flow is
integrated with classical RK4 together with its variational equation ``dQ/dt = J(x) Q``
(exponents per unit time); RK4 of the pair is exactly the linearisation of the RK4 map, so the
spectrum is that of the discrete RK4 flow map divided by ``dt``. ``transient`` steps evolve
state and basis (re-orthonormalising) without accumulating. The maximal exponent alone uses one
tangent vector renormalised every step, which is the first column of the QR method: with
the same seed the two agree to rounding.

References: Benettin, Galgani, Giorgilli & Strelcyn (1980), Meccanica 15:9 and 15:21;
Geist, Parlitz & Lauterborn (1990), Prog Theor Phys 83:875; Kaplan & Yorke (1979), Lecture
Notes in Math. 730:204; Pesin (1977), Russ Math Surveys 32:55 (entropy = sum of positive
exponents); Datseris & Parlitz (2022), Nonlinear Dynamics (ChaosTools.jl), ch. 3.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from plasticity._validation import Interval, as_rng, check_number, positive
from plasticity._threads import numpy_blas_single_thread
from plasticity.metrics._householder import HouseholderTangent
from plasticity.metrics._tangent import SMALL_N, ExplicitTangent
from plasticity.metrics.linalg import is_torch
from plasticity.metrics.systems import Flow, Map, _System

__all__ = [
    "lyapunov_spectrum",
    "LyapunovResult",
    "max_lyapunov",
    "kaplan_yorke_dimension",
    "entropy_rate",
    "local_lyapunov",
    "LocalLyapunov",
    "logdet_consistency",
    "LogDetCheck",
]

_HOUSEHOLDER_MIN_N = SMALL_N  # below this, call overhead beats the saved flops (a numba QR is used)
_positive_int = Interval(1, closed="left", integer=True)
_nonnegative_int = Interval(0, closed="left", integer=True)


@dataclass(frozen=True)
class LyapunovResult:
    """Exponents with their convergence trace.

    Attributes
    ----------
    exponents : (k,) array
        Final estimates, descending (per step for a Map, per unit time for a Flow).
    times : (m,) array
        Elapsed time after the transient at each re-orthonormalisation.
    trace : (m, k) array
        Running estimate ``sum log|R_ii| / time`` at each of ``times``.
    increments : (m, k) array
        ``log |R_ii|`` of each re-orthonormalisation (local stretching).
    spread : (k,) array
        ``max |trace - exponents|`` over the last quarter of the run: a cheap convergence
        estimate (it shrinks like 1/time for a converged exponent).
    """

    exponents: Any
    times: Any
    trace: Any
    increments: Any
    spread: Any


@dataclass(frozen=True)
class LocalLyapunov:
    """Finite-time exponents over consecutive windows: ``exponents[w]`` is the spectrum of window ``w``, ending at ``times[w]``."""

    times: np.ndarray
    exponents: np.ndarray


@dataclass(frozen=True)
class LogDetCheck:
    """Sum of the full spectrum against the mean volume growth along the same trajectory.

    ``mean_log_det`` is the average of ``log |det J(x_t)|`` per step (Map) or of ``tr J(x(t))``
    per unit time (Flow, Liouville's formula, integrated with the same RK4 steps). For a Map the
    two agree to rounding (``prod det J_t = prod det R_t``); for a Flow to the RK4 error.
    """

    sum_exponents: float
    mean_log_det: float
    difference: float


# -- argument checks ---------------------------------------------------------------------------
def _prepare(owner: str, system: Any, x0: Any, steps: Any, dt: Any, transient: Any) -> tuple[Any, float]:
    if not isinstance(system, _System):
        raise TypeError(f"{owner}: system must be a plasticity.metrics.Map or Flow; got {type(system).__name__}")
    check_number(owner, "steps", steps, _positive_int)
    check_number(owner, "transient", transient, _nonnegative_int)
    if isinstance(system, Flow):
        if dt is None:
            raise ValueError(f"{owner}: dt is required for a Flow (the RK4 step, in model time units); got None")
        dt = check_number(owner, "dt", dt, positive)
    else:
        dt = 1.0 if dt is None else check_number(owner, "dt", dt, positive)
    if is_torch(x0):
        import torch

        if x0.ndim != 1 or not x0.is_floating_point():
            raise ValueError(f"{owner}: x0 must be a floating (n,) tensor; got shape {tuple(x0.shape)}, dtype {x0.dtype}")
        finite = bool(torch.isfinite(x0).all())
        x0 = x0.detach().clone()
    else:
        x0 = np.array(x0, dtype=np.float64)
        if x0.ndim != 1:
            raise ValueError(f"{owner}: x0 must be a state vector of shape (n,); got shape {x0.shape}")
        finite = bool(np.all(np.isfinite(x0)))
    if x0.shape[0] == 0 or (system.dim is not None and x0.shape[0] != system.dim):
        raise ValueError(f"{owner}: x0 has shape {tuple(x0.shape)}; expected ({system.dim or 'n >= 1'},) for {system!r}")
    if not finite:
        raise ValueError(f"{owner}: x0 must be finite; got NaN or inf entries")
    return x0, float(dt)


def _initial_basis(n: int, k: int, seed: Any) -> np.ndarray:
    # (k, n) then transposed: column 0 is the same draw as max_lyapunov's single vector
    return as_rng(seed).standard_normal((k, n)).T


def _qr_growth(owner: str, engine: Any, steps: int, transient: int, every: int, record: bool) -> tuple[np.ndarray, list, list]:
    """Benettin et al. (1980): advance, re-orthonormalise every ``every`` steps, sum ``log|R_ii|`` after the transient."""
    total = np.zeros(engine.k)
    at: list[int] = []
    increments: list[np.ndarray] = []
    for accumulate, n_steps in ((False, transient), (True, steps)):
        since = 0
        for i in range(n_steps):
            engine.advance()
            if not engine.finite():
                phase = "measurement" if accumulate else "transient"
                raise ValueError(f"{owner}: the trajectory became non-finite at {phase} step {i + 1}; the system diverges from x0")
            since += 1
            if since == every or i == n_steps - 1:
                logs = engine.qr()
                since = 0
                if np.any(np.isnan(logs) | (logs == np.inf)):  # -inf is a collapsed vector, a result
                    phase = "measurement" if accumulate else "transient"
                    raise ValueError(f"{owner}: the tangent growth became NaN or inf at {phase} step {i + 1}; "
                                     f"the system's Jacobian returned NaN or inf entries")
                if accumulate:
                    total += logs
                    if record:
                        at.append(i + 1)
                        increments.append(logs)
    return total, at, increments


def _engine(system: Any, x0: Any, k: int, dt: float, seed: Any) -> Any:
    n = x0.shape[0]
    G = _initial_basis(n, k, seed)
    if not is_torch(x0) and isinstance(system, Map) and system.has_jacobian and n >= _HOUSEHOLDER_MIN_N:
        return HouseholderTangent(system, x0, G)
    return ExplicitTangent(system, x0, G, dt)


def _run(owner: str, system: Any, x0: Any, steps: Any, dt: Any, k: Any, transient: Any, every: Any, seed: Any, record: bool):
    x0, dt = _prepare(owner, system, x0, steps, dt, transient)
    n = x0.shape[0]
    k = n if k is None else check_number(owner, "k", k, Interval(1, n, closed="both", integer=True))
    check_number(owner, "reorthonormalize_every", every, _positive_int)
    engine = _engine(system, x0, k, dt, seed)
    if isinstance(engine, HouseholderTangent):
        with numpy_blas_single_thread():
            total, at, inc = _qr_growth(owner, engine, steps, transient, every, record)
    else:
        total, at, inc = _qr_growth(owner, engine, steps, transient, every, record)
    return x0, dt, total, at, inc


def _like(x0: Any, a: np.ndarray) -> Any:
    if is_torch(x0):
        import torch

        return torch.as_tensor(a, dtype=x0.dtype, device=x0.device)
    return a


def lyapunov_spectrum(system: Map | Flow, x0: Any, steps: int, dt: float | None = None, k: int | None = None,
                      transient: int = 0, reorthonormalize_every: int = 1, *, seed: Any = 0,
                      return_trace: bool = False) -> Any:
    """The ``k`` largest Lyapunov exponents by the QR method.

    Parameters
    ----------
    system : Map or Flow
        With an analytic Jacobian when possible (else finite differences, or autograd for a
        tensor ``x0``). A numpy Map with an analytic Jacobian and n >= 64 keeps Q in
        Householder form (see ``plasticity.metrics._householder``).
    x0 : (n,) array or tensor
        Initial state.
    steps : int
        Steps accumulated after the transient (map steps, or RK4 steps of length ``dt``).
    dt : float, optional
        Required for a Flow: the RK4 step (model time). For a Map, the time one step lasts
        (default 1: exponents per step).
    k : int, optional
        Number of exponents, in [1, n]; default n.
    transient : int
        Steps before accumulation (state and basis evolve, nothing is summed).
    reorthonormalize_every : int
        Steps between QR factorisations. 1 is safest: with widely spread exponents the
        bottom of the spectrum is lost to rounding if the basis is left alone for long.
    seed : int or Generator
        Draws the initial orthonormal basis (default 0: reproducible).
    return_trace : bool
        Return a :class:`LyapunovResult` with the running estimates instead of the array.

    Returns
    -------
    (k,) array (tensor for a tensor ``x0``), descending; or a :class:`LyapunovResult`.
    """
    owner = "lyapunov_spectrum"
    x0, dt, total, at, inc = _run(owner, system, x0, steps, dt, k, transient, reorthonormalize_every, seed, return_trace)
    exponents = total / (steps * dt)
    order = np.argsort(-exponents, kind="stable")  # QR already sorts them, up to finite-time crossings
    exponents = exponents[order]
    if not return_trace:
        return _like(x0, exponents)
    times = np.asarray(at, dtype=np.float64) * dt
    increments = np.asarray(inc)[:, order]
    trace = np.cumsum(increments, axis=0) / times[:, None]
    tail = trace[int(0.75 * len(trace)):]
    spread = np.max(np.abs(tail - exponents), axis=0)
    return LyapunovResult(*(_like(x0, a) for a in (exponents, times, trace, increments, spread)))


def max_lyapunov(system: Map | Flow, x0: Any, steps: int, dt: float | None = None, transient: int = 0, *,
                 seed: Any = 0) -> float:
    """The largest Lyapunov exponent from one tangent vector renormalised every step.

        lambda_1 = (1 / (steps * dt)) * sum_t log ||J(x_t) v_t||,   v_{t+1} = J v_t / ||J v_t||

    Parameters are as in :func:`lyapunov_spectrum`. Without an analytic Jacobian the tangent
    step is one directional central difference (2 evaluations per step for numpy).

    Returns
    -------
    float
        Per step (Map) or per unit time (Flow).
    """
    owner = "max_lyapunov"
    x0, dt = _prepare(owner, system, x0, steps, dt, transient)
    engine = ExplicitTangent(system, x0, _initial_basis(x0.shape[0], 1, seed), dt)
    total, _, _ = _qr_growth(owner, engine, steps, transient, 1, False)
    return float(total[0] / (steps * dt))


def kaplan_yorke_dimension(exponents: Any) -> float:
    """Kaplan-Yorke (Lyapunov) dimension ``D = j + (lambda_1 + ... + lambda_j) / |lambda_{j+1}|``.

    ``j`` is the largest index with a non-negative partial sum of the exponents sorted in
    descending order. 0 when ``lambda_1 < 0``; ``len(exponents)`` when all partial sums are
    non-negative (the spectrum given is too short to bound the dimension).

    Parameters
    ----------
    exponents : (k,) array_like or tensor
    """
    lam = np.asarray(exponents.detach().cpu() if is_torch(exponents) else exponents, dtype=np.float64).ravel()
    if lam.size == 0 or not np.all(np.isfinite(lam)):
        raise ValueError(f"kaplan_yorke_dimension: exponents must be a non-empty finite 1-D array; got {lam!r}")
    lam = np.sort(lam)[::-1]
    partial = np.cumsum(lam)
    if partial[0] < 0:
        return 0.0
    j = int(np.nonzero(partial >= 0)[0][-1]) + 1  # partial sums are not monotone; take the last
    if j == lam.size:
        return float(j)
    return float(j + partial[j - 1] / abs(lam[j]))


def entropy_rate(exponents: Any) -> float:
    """Sum of the positive exponents, Pesin's identity for the Kolmogorov-Sinai entropy rate.

    An upper bound of the KS entropy (Ruelle's inequality), equal for SRB measures; in nats
    per step (Map) or per unit time (Flow).
    """
    lam = np.asarray(exponents.detach().cpu() if is_torch(exponents) else exponents, dtype=np.float64).ravel()
    return float(lam[lam > 0].sum())


def local_lyapunov(system: Map | Flow, x0: Any, steps: int, window: int, dt: float | None = None,
                   k: int | None = None, transient: int = 0, *, seed: Any = 0) -> LocalLyapunov:
    """Finite-time exponents over consecutive windows of ``window`` steps (QR every step).

    ``exponents[w] = sum over window w of log |R_ii| / (window * dt)``; the mean over complete
    windows is the full-run estimate restricted to those windows. A trailing partial window
    is dropped.
    """
    owner = "local_lyapunov"
    check_number(owner, "window", window, _positive_int)
    if isinstance(steps, int) and window > steps:
        raise ValueError(f"{owner}: window must be <= steps = {steps}; got {window}")
    x0, dt, _, at, inc = _run(owner, system, x0, steps, dt, k, transient, 1, seed, True)
    inc = np.asarray(inc)
    m = inc.shape[0] // window
    sums = inc[: m * window].reshape(m, window, -1).sum(axis=1)
    exponents = -np.sort(-sums / (window * dt), axis=1)
    return LocalLyapunov(times=np.arange(1, m + 1) * window * dt, exponents=exponents)


def logdet_consistency(system: Map | Flow, x0: Any, steps: int, dt: float | None = None, transient: int = 0, *,
                       seed: Any = 0) -> LogDetCheck:
    """Compare the sum of the full spectrum with the mean volume growth on the same trajectory.

    Map: ``mean_t log |det J(x_t)|``; Flow: the time average of ``tr J(x(t))`` integrated with
    the same RK4 steps (Liouville: ``d log vol / dt = tr J``). A numpy state only.
    """
    owner = "logdet_consistency"
    x0, dt = _prepare(owner, system, x0, steps, dt, transient)
    if is_torch(x0):
        raise TypeError(f"{owner}: x0 must be a numpy array; got a tensor")
    total = float(np.sum(lyapunov_spectrum(system, x0, steps, dt=dt, transient=transient, seed=seed)))
    x, volume = x0, 0.0
    for t in range(transient + steps):
        if isinstance(system, Map):
            if t >= transient:
                volume += np.linalg.slogdet(system.jacobian(x))[1]
            x = system(x)
            continue
        h = dt  # the same RK4 stages as the tangent integration
        k1 = system(x)
        x2 = x + 0.5 * h * k1
        k2 = system(x2)
        x3 = x + 0.5 * h * k2
        k3 = system(x3)
        x4 = x + h * k3
        if t >= transient:
            tr = [float(np.trace(system.jacobian(p))) for p in (x, x2, x3, x4)]
            volume += h / 6.0 * (tr[0] + 2.0 * tr[1] + 2.0 * tr[2] + tr[3])
        x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + system(x4))
    mean = float(volume / (steps * dt))
    return LogDetCheck(sum_exponents=total, mean_log_det=mean, difference=total - mean)
