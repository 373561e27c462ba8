"""Maximal Lyapunov exponent measured from trajectories: a reference and perturbed copies.

When the dynamics is only available as a black box (a training loop, a plastic network whose
weights are the state), the maximal exponent is measured the way it is defined: start copies
at a distance ``eps`` from a reference, run all of them with the same inputs (same data
order), and fit the slope of the log distance against time while the separation is still
small and growing (or shrinking) exponentially,

    d_c(t) = ||theta_c(t) - theta_ref(t)||_2,      L(t) = mean_c ln d_c(t),
    L(t) ~ L(0) + lambda_max * t   over the fit window.

Averaging the logarithms (a geometric mean of distances) is the estimator of Sato et al.
(1987) and Rosenstein et al. (1993); averaging distances first would weight the copies that
happen to separate fastest. Danovski, Soriano & Lacasa (2024) apply this to the parameter
trajectories of a network along training: gradient descent on a quadratic loss
``0.5 theta^T H theta`` with learning rate ``lr`` is the linear map ``theta <- (I - lr H) theta``,
whose exponent is ``max_i ln|1 - lr h_i|`` (``ln|1 - lr h_max|`` once ``lr > 2 / (h_max + h_min)``,
positive past ``lr = 2 / h_max``).

References
----------
Danovski, Soriano & Lacasa (2024), Front. Complex Syst. 2:1367957.
Sato, Sano & Sawada (1987), Prog. Theor. Phys. 77:1.
Rosenstein, Collins & De Luca (1993), Physica D 65:117.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral
from typing import Any, Callable

import numpy as np

from plasticity._validation import Interval, as_rng, check_number, positive

__all__ = ["TrajectoryLyapunov", "trajectory_lyapunov", "perturbed_trajectories"]

_OWNER = "trajectory_lyapunov"


def _is_torch(a: Any) -> bool:
    return type(a).__module__.split(".")[0] == "torch"


def _to_numpy(owner: str, name: str, a: Any) -> np.ndarray:
    if _is_torch(a):
        a = a.detach().cpu().numpy()
    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{owner}: {name} must hold real numbers; got dtype {arr.dtype}")
    return arr


@dataclass(frozen=True)
class TrajectoryLyapunov:
    """Result of :func:`trajectory_lyapunov`.

    Attributes
    ----------
    exponent : float
        Slope of ``ln distance`` against time over the fit window, per unit of ``dt``.
    fit_window : (int, int)
        ``(start, stop)``: the record indices ``start <= t < stop`` used in the fit.
    distance : (T,) ndarray
        Geometric mean over copies of ``||theta_c(t) - theta_ref(t)||`` (0 where a copy
        coincides with the reference).
    times : (T,) ndarray
        ``t * dt``.
    intercept : float
        Fitted ``ln distance`` at time 0.
    r2 : float
        Coefficient of determination of the fit (nan for a two-point window).
    stderr : float
        Standard error of the exponent across copies (slopes of each copy's log distance over
        the same window); nan with a single copy. It does not include the variation between
        reference trajectories (finite-time fluctuations).
    distances : (copies, T) ndarray
        Each copy's distance to the reference.
    """

    exponent: float
    fit_window: tuple[int, int]
    distance: np.ndarray
    times: np.ndarray
    intercept: float
    r2: float
    stderr: float
    distances: np.ndarray


def _stack(trajectories: Any) -> tuple[np.ndarray, float]:
    """``(n, T, P)`` float64 array and the machine epsilon of the input dtype."""
    if isinstance(trajectories, (list, tuple)):
        parts = [_to_numpy(_OWNER, f"trajectories[{i}]", a) for i, a in enumerate(trajectories)]
        if len(parts) < 2:
            raise ValueError(f"{_OWNER}: trajectories must hold a reference and at least one copy; got {len(parts)}")
        parts = [p[:, None] if p.ndim == 1 else p for p in parts]
        for i, p in enumerate(parts):
            if p.ndim != 2 or p.shape != parts[0].shape:
                raise ValueError(
                    f"{_OWNER}: trajectories[{i}] has shape {p.shape}; expected {parts[0].shape} "
                    "(T, P) like trajectories[0]"
                )
        X = np.stack(parts)
        dtypes = [p.dtype for p in parts]
    else:
        X = _to_numpy(_OWNER, "trajectories", trajectories)
        if X.ndim == 2:
            X = X[:, :, None]
        if X.ndim != 3:
            raise ValueError(f"{_OWNER}: trajectories must have shape (copies, T, P) or (copies, T); got {X.shape}")
        if X.shape[0] < 2:
            raise ValueError(f"{_OWNER}: trajectories must hold a reference and at least one copy; got shape {X.shape}")
        dtypes = [X.dtype]
    if X.shape[1] < 2 or X.shape[2] < 1:
        raise ValueError(f"{_OWNER}: trajectories need at least 2 time points and 1 parameter; got shape {X.shape}")
    eps = max(np.finfo(d).eps if np.issubdtype(d, np.floating) else np.finfo(np.float64).eps for d in dtypes)
    return X.astype(np.float64, copy=False), float(eps)


def _fit(t: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares slope, intercept and r2 of ``y`` against ``t``."""
    tc = t - t.mean()
    slope = float(np.dot(tc, y - y.mean()) / np.dot(tc, tc))
    intercept = float(y.mean() - slope * t.mean())
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - intercept - slope * t) ** 2))
    if len(y) < 3:
        r2 = math.nan
    else:
        r2 = 1.0 - ss_res / ss_tot if ss_tot > 0.0 else 1.0
    return slope, intercept, r2


def trajectory_lyapunov(
    trajectories: Any,
    dt: float = 1.0,
    fit_window: tuple[int, int] | None = None,
    *,
    saturation: float = 0.1,
    noise_floor: float = 1e3,
) -> TrajectoryLyapunov:
    """Maximal Lyapunov exponent from a reference trajectory and perturbed copies.

    ``d_c(t) = ||theta_c(t) - theta_ref(t)||_2``; ``distance(t) = exp(mean_c ln d_c(t))`` (the
    log-average, see the module docstring); ``exponent`` = least-squares slope of
    ``ln distance`` against ``t * dt`` over the fit window.

    Automatic window (``fit_window=None``): ``[0, stop)``, where ``stop`` is the first record
    at which

    * a copy's distance is zero, non-finite, or at rounding level,
      ``d_c(t) <= noise_floor * eps * ||theta_ref(t)||`` (``eps`` the machine epsilon of the
      input dtype): the separation is no longer resolved; or
    * the separation has grown at least tenfold from ``distance(0)`` and reaches
      ``saturation * min(size, max_t distance(t))``, with ``size`` the RMS distance of all
      recorded points (reference and copies) to their mean: it is no longer small against
      the visited set, or against the plateau where it ends up (a training trajectory drifts
      far more than its copies separate).

    No linearity test is applied: in a chaotic system the log distance is a random walk with
    drift (local stretching varies along the orbit), so a good fit (``r2``, reported) is not
    expected over short windows. The initial alignment of a random perturbation with the
    most unstable direction biases a window that starts at 0; pass ``fit_window=(start, stop)``
    to skip it.

    Parameters
    ----------
    trajectories : (copies, T, P) array_like, (copies, T) for scalar states, or list of (T, P)
        Reference first, then at least one perturbed copy. numpy arrays or torch tensors
        (converted to float64 numpy). Not modified.
    dt : float
        Time between two records (for example ``lr``-steps times ``record_every``), > 0.
    fit_window : (int, int), optional
        ``(start, stop)`` record indices, ``0 <= start``, ``stop - start >= 2``, ``stop <= T``;
        the distances must be positive and finite there. None: automatic (above).
    saturation : float
        Fraction of the size of the visited set (or of the largest separation) at which the
        separation counts as saturated, in (0, inf).
    noise_floor : float
        Rounding floor in units of ``eps * ||theta_ref(t)||``, in [0, inf).

    Returns
    -------
    TrajectoryLyapunov
        ``exponent`` (per unit of ``dt``), ``fit_window``, ``distance``, ``times``,
        ``intercept``, ``r2``, ``stderr``, ``distances``.

    Raises
    ------
    ValueError
        If fewer than 2 usable records remain (copies identical to the reference, ``eps`` below
        rounding, or saturated from the start), or on bad shapes and values.

    References
    ----------
    Danovski, Soriano & Lacasa (2024), Front. Complex Syst. 2:1367957;
    Rosenstein, Collins & De Luca (1993), Physica D 65:117.
    """
    dt = check_number(_OWNER, "dt", dt, positive)
    saturation = check_number(_OWNER, "saturation", saturation, positive)
    noise_floor = check_number(_OWNER, "noise_floor", noise_floor, Interval(0.0, math.inf, "left"))
    X, eps = _stack(trajectories)
    n_t = X.shape[1]
    times = np.arange(n_t) * dt
    with np.errstate(invalid="ignore", over="ignore"):
        D = np.linalg.norm(X[1:] - X[0], axis=2)  # (copies, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        logD = np.log(D)
        L = logD.mean(axis=0)
    distance = np.exp(L)
    if fit_window is None:
        start, stop = 0, _auto_stop(X, D, L, eps, saturation, noise_floor)
    else:
        start, stop = _check_window(fit_window, n_t)
        if not np.all(np.isfinite(logD[:, start:stop])):
            raise ValueError(
                f"{_OWNER}: fit_window={fit_window!r} holds zero or non-finite distances; "
                "choose records where every copy differs from the reference"
            )
    t_fit = times[start:stop]
    exponent, intercept, r2 = _fit(t_fit, L[start:stop])
    if D.shape[0] > 1:
        slopes = [_fit(t_fit, logD[c, start:stop])[0] for c in range(D.shape[0])]
        stderr = float(np.std(slopes, ddof=1) / math.sqrt(len(slopes)))
    else:
        stderr = math.nan
    return TrajectoryLyapunov(exponent, (start, stop), distance, times, intercept, r2, stderr, D)


def _auto_stop(X: np.ndarray, D: np.ndarray, L: np.ndarray, eps: float, saturation: float, noise_floor: float) -> int:
    with np.errstate(invalid="ignore", over="ignore"):
        ref_norm = np.linalg.norm(X[0], axis=1)
        finite = np.all(np.isfinite(X), axis=(0, 2))
        pts = X[:, finite].reshape(-1, X.shape[2])
        size = math.sqrt(np.mean(np.sum((pts - pts.mean(axis=0)) ** 2, axis=1))) if len(pts) else math.inf
        distance = np.exp(L)
        largest = np.max(distance[np.isfinite(distance)], initial=0.0)
        bad = ~np.all(np.isfinite(D) & (D > noise_floor * eps * ref_norm), axis=0)
        bad |= ~np.isfinite(L)
        # a separation that never grew cannot have saturated (neutral or contracting dynamics,
        # where the visited set may be no larger than the perturbation itself)
        bad |= (distance >= saturation * min(size, largest)) & (distance >= 10.0 * distance[0])
    stop = int(np.argmax(bad)) if bad.any() else X.shape[1]
    if stop < 2:
        raise ValueError(
            f"{_OWNER}: fewer than 2 usable records (found {stop}): the copies coincide with the "
            "reference, sit at rounding level, or are saturated from the start; increase eps or "
            "record more often"
        )
    return stop


def _check_window(fit_window: Any, n_t: int) -> tuple[int, int]:
    msg = (
        f"{_OWNER}.fit_window must be a pair of integers (start, stop) with 0 <= start, "
        f"stop - start >= 2, stop <= {n_t} = T; got {fit_window!r}"
    )
    if not isinstance(fit_window, (tuple, list)) or len(fit_window) != 2:
        raise TypeError(msg)
    start, stop = fit_window
    if not all(isinstance(v, Integral) and not isinstance(v, bool) for v in (start, stop)):
        raise TypeError(msg)
    if not (0 <= start and stop - start >= 2 and stop <= n_t):
        raise ValueError(msg)
    return int(start), int(stop)


def perturbed_trajectories(
    update: Callable[[Any, int], Any],
    theta0: Any,
    steps: int,
    copies: int = 1,
    eps: float = 1e-8,
    seed: int | np.random.Generator | None = None,
    record_every: int = 1,
) -> Any:
    """Run a reference and ``copies`` perturbed copies through the same update.

    Copy ``c`` starts at ``theta0 + eps * u_c`` with ``u_c`` a random unit vector (so its
    initial distance to the reference is ``eps``); every trajectory is advanced by
    ``theta <- update(theta, step)`` for ``step = 0 .. steps - 1``, so an update that picks
    its minibatch from ``step`` feeds all copies the same data in the same order. A copy that
    turns non-finite is stopped and the rest of its records are NaN.

    Parameters
    ----------
    update : callable ``(theta, step) -> theta``
        One step; must return the new state (it may modify its argument: the recorded
        states are copies).
    theta0 : (P,) array_like or torch.Tensor
        Initial state of the reference. Not modified.
    steps : int
        Number of updates, >= 1.
    copies : int
        Number of perturbed copies, >= 1.
    eps : float
        Initial distance, > 0; must be resolvable at the precision of ``theta0``.
    seed : int or numpy.random.Generator, optional
        Draws the perturbation directions.
    record_every : int
        Record every this many steps (and at step 0), >= 1.

    Returns
    -------
    (copies + 1, steps // record_every + 1, P) ndarray or torch.Tensor
        Reference first; the type, dtype and device of ``theta0``. Feed it to
        :func:`trajectory_lyapunov` with ``dt = record_every`` (times one step's duration).
    """
    owner = "perturbed_trajectories"
    if not callable(update):
        raise TypeError(f"{owner}: update must be a callable (theta, step) -> theta; got {type(update).__name__}")
    steps = int(check_number(owner, "steps", steps, Interval(1, math.inf, "left", integer=True)))
    copies = int(check_number(owner, "copies", copies, Interval(1, math.inf, "left", integer=True)))
    record_every = int(check_number(owner, "record_every", record_every, Interval(1, math.inf, "left", integer=True)))
    eps = check_number(owner, "eps", eps, positive)
    rng = as_rng(seed)
    torch_mode = _is_torch(theta0)
    if torch_mode:
        base = theta0.detach()
        if not base.is_floating_point():
            raise TypeError(f"{owner}: theta0 must be a floating-point tensor; got {base.dtype}")
    else:
        base = _to_numpy(owner, "theta0", theta0)
        if not np.issubdtype(base.dtype, np.floating):
            base = base.astype(np.float64)
    if base.ndim != 1:
        raise ValueError(f"{owner}: theta0 must have shape (P,); got {tuple(base.shape)}")
    u = rng.standard_normal((copies, base.shape[0]))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    n_rec = steps // record_every + 1
    records = []
    for c in range(copies + 1):
        if torch_mode:
            import torch

            step0 = torch.as_tensor(eps * u[c - 1], dtype=base.dtype, device=base.device)
            theta = base.clone() if c == 0 else base + step0
            start_dist = float(torch.linalg.vector_norm(theta - base))
        else:
            theta = base.copy() if c == 0 else base + (eps * u[c - 1]).astype(base.dtype)
            start_dist = float(np.linalg.norm(theta - base))
        if c > 0 and start_dist < 0.5 * eps:
            raise ValueError(
                f"{owner}.eps must be resolvable at the precision of theta0 ({base.dtype}, norm "
                f"{_norm(base):.3g}); got {eps!r}, which leaves the copy (nearly) equal to the reference"
            )
        records.append(_run(update, theta, steps, record_every, n_rec, torch_mode, owner))
    if torch_mode:
        import torch

        return torch.stack(records)
    return np.stack(records)


def _norm(a: Any) -> float:
    if _is_torch(a):
        import torch

        return float(torch.linalg.vector_norm(a))
    return float(np.linalg.norm(a))


def _run(update: Callable, theta: Any, steps: int, record_every: int, n_rec: int, torch_mode: bool, owner: str) -> Any:
    if torch_mode:
        import torch

        out = torch.full((n_rec, theta.shape[0]), math.nan, dtype=theta.dtype, device=theta.device)
        out[0] = theta
        finite = lambda a: bool(torch.all(torch.isfinite(a)))  # noqa: E731
        snap = lambda a: a.detach().clone()  # noqa: E731
    else:
        out = np.full((n_rec, theta.shape[0]), np.nan, dtype=theta.dtype)
        out[0] = theta
        finite = lambda a: bool(np.all(np.isfinite(a)))  # noqa: E731
        snap = lambda a: np.array(a, dtype=out.dtype, copy=True)  # noqa: E731
    shape = tuple(theta.shape)
    theta = snap(theta)
    for step in range(steps):
        theta = update(theta, step)
        if theta is None:
            raise TypeError(f"{owner}: update returned None; it must return the new state")
        if not torch_mode:
            theta = np.asarray(theta)
        if tuple(theta.shape) != shape:
            raise ValueError(
                f"{owner}: update returned shape {tuple(theta.shape)} at step {step}; expected {shape} like theta0"
            )
        if (step + 1) % record_every == 0:
            out[(step + 1) // record_every] = snap(theta)
        if not finite(theta):
            break  # diverged: the remaining records stay NaN
    return out
