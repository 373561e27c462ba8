"""Dynamical systems given by callables of the state vector, and their Jacobians.

    Map:   x_{t+1} = F(x_t),      J(x) = dF/dx      (one step is one unit of time)
    Flow:  dx/dt   = f(x),        J(x) = df/dx      (time in the model's unit)

A system holds the user's callable (``step`` or ``rhs``) and, optionally, its analytic Jacobian.
Without one, :meth:`jacobian` uses central finite differences for numpy states (step
``h_j = eps^(1/3) max(1, |x_j|)``, error O(h^2) ~ 1e-10 relative for smooth F) and autograd for
torch tensors (the callable must then map tensors to tensors). Every call checks the output
shape against the input: a wrong shape is reported with the callable's name and both shapes.

The rate network's equations (``map_jacobian``, ``flow_jacobian``, ``rate_system``) live in
:mod:`plasticity.metrics.rate_systems`; they are importable from here too.

Reference: Strogatz (2015), Nonlinear Dynamics and Chaos, ch. 6 and 10 (linearisation of flows
and maps).
"""
from __future__ import annotations

from numbers import Integral
from typing import Any, Callable, ClassVar

import numpy as np

from plasticity.metrics.linalg import is_torch

__all__ = [
    "Map",
    "Flow",
    "finite_difference_jacobian",
    "autograd_jacobian",
    "jacobian_error",
]

_FD_SCALE = np.finfo(np.float64).eps ** (1.0 / 3.0)  # balances O(h^2) truncation and O(eps/h) rounding


def finite_difference_jacobian(f: Callable, x: np.ndarray, h: float | None = None) -> np.ndarray:
    """Central-difference Jacobian ``J[:, j] = (f(x + h_j e_j) - f(x - h_j e_j)) / (2 h_j)``.

    Parameters
    ----------
    f : callable
        ``(n,) -> (m,)`` numpy function.
    x : (n,) array
        Point of evaluation.
    h : float, optional
        Absolute step; default ``eps^(1/3) * max(1, |x_j|)`` per coordinate.

    Returns
    -------
    (m, n) array
        Cost: ``2 n`` evaluations of ``f``.
    """
    x = np.asarray(x, dtype=np.float64)
    steps = _FD_SCALE * np.maximum(1.0, np.abs(x)) if h is None else np.full(x.shape, float(h))
    columns = []
    for j in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp[j] += steps[j]
        xm[j] -= steps[j]
        columns.append((np.asarray(f(xp), dtype=np.float64) - np.asarray(f(xm), dtype=np.float64)) / (xp[j] - xm[j]))
    return np.stack(columns, axis=-1)


def autograd_jacobian(f: Callable, x: Any) -> Any:
    """Jacobian of a tensor function by reverse-mode autograd (``torch.autograd.functional.jacobian``).

    Parameters
    ----------
    f : callable
        ``(n,) tensor -> (m,) tensor``, built from differentiable torch operations.
    x : (n,) tensor
        Point of evaluation (detached first; the result carries no graph).

    Returns
    -------
    (m, n) tensor
    """
    import torch

    return torch.autograd.functional.jacobian(f, x.detach())


def _fd_directional(f: Callable, x: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``J(x) V`` by central differences along each column of ``V`` (2 evaluations per column)."""
    out = np.empty((x.size, V.shape[1]))
    scale = _FD_SCALE * max(1.0, float(np.linalg.norm(x)))
    for j in range(V.shape[1]):
        norm = float(np.linalg.norm(V[:, j]))
        if norm == 0.0:
            out[:, j] = 0.0
            continue
        h = scale / norm
        out[:, j] = (np.asarray(f(x + h * V[:, j])) - np.asarray(f(x - h * V[:, j]))) / (2.0 * h)
    return out


class _System:
    """Shared machinery of :class:`Map` and :class:`Flow`."""

    kind: ClassVar[str] = ""
    _fn_name: ClassVar[str] = ""

    def __init__(self, fn: Callable, jacobian: Callable | None = None, *, jvp: Callable | None = None,
                 dim: int | None = None) -> None:
        owner = type(self).__name__
        if not callable(fn):
            raise TypeError(f"{owner}: {self._fn_name} must be a callable of the state vector; got {type(fn).__name__}")
        if jacobian is not None and not callable(jacobian):
            raise TypeError(f"{owner}: jacobian must be a callable of the state vector or None; got {type(jacobian).__name__}")
        if jvp is not None and not callable(jvp):
            raise TypeError(f"{owner}: jvp must be a callable (x, V) -> J(x) V or None; got {type(jvp).__name__}")
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, Integral) or dim < 1):
            raise ValueError(f"{owner}.dim must be an integer in [1, inf) or None; got {dim!r}")
        self._fn = fn
        self._jac = jacobian
        self._jvp = jvp
        self.dim = None if dim is None else int(dim)

    @property
    def has_jacobian(self) -> bool:
        """True when an analytic Jacobian was given."""
        return self._jac is not None

    @property
    def has_jvp(self) -> bool:
        """True when a tangent map ``jvp(x, V)`` was given (used instead of forming J)."""
        return self._jvp is not None

    def _check_state(self, who: str, x: Any) -> None:
        if x.ndim != 1 or (self.dim is not None and x.shape[0] != self.dim):
            want = "(n,)" if self.dim is None else f"({self.dim},)"
            raise ValueError(f"{type(self).__name__}.{who}: x must be a state vector of shape {want}; got shape {tuple(x.shape)}")

    def _checked(self, who: str, x: Any, y: Any, shape: tuple[int, ...]) -> Any:
        if type(y) is np.ndarray and type(x) is np.ndarray and y.shape == shape and y.dtype == np.float64:
            return y  # the common case, checked in O(1)
        owner = f"{type(self).__name__}: {who}"
        if is_torch(x):
            if not is_torch(y):
                raise TypeError(f"{owner} must map a tensor to a tensor; got {type(y).__name__} for a tensor state")
        else:
            if is_torch(y):
                raise TypeError(f"{owner} returned a tensor for a numpy state; pass a tensor x to use torch")
            y = np.asarray(y, dtype=np.float64) if np.isrealobj(y) else np.asarray(y)
        if tuple(y.shape) != shape:
            raise ValueError(f"{owner}(x) returned shape {tuple(y.shape)}; expected {shape} for x of shape {tuple(x.shape)}")
        return y

    def __call__(self, x: Any) -> Any:
        """``F(x)`` (Map) or ``f(x)`` (Flow), checked for shape."""
        if type(x) is not np.ndarray and not is_torch(x):
            x = np.asarray(x, dtype=np.float64)
        self._check_state("__call__", x)
        return self._checked(self._fn_name, x, self._fn(x), tuple(x.shape))

    def jacobian(self, x: Any) -> Any:
        """``(n, n)`` Jacobian at ``x``: analytic if given, else finite differences (numpy) or autograd (tensor)."""
        if type(x) is not np.ndarray and not is_torch(x):
            x = np.asarray(x, dtype=np.float64)
        self._check_state("jacobian", x)
        n = x.shape[0]
        if self._jac is not None:
            return self._checked("jacobian", x, self._jac(x), (n, n))
        if is_torch(x):
            return self._checked(self._fn_name + " (autograd)", x, autograd_jacobian(self.__call__, x), (n, n))
        return finite_difference_jacobian(self.__call__, x)

    def jvp(self, x: Any, V: Any) -> Any:
        """Tangent map ``J(x) V`` for ``V`` of shape ``(n, k)``.

        A given ``jvp`` callable is used first; then an analytic Jacobian, or for ``k >= n/2``
        a numerical ``J``; otherwise, for numpy, ``2 k`` directional differences instead of
        ``2 n`` coordinate ones.
        """
        if self._jvp is not None:
            return self._checked("jvp", x, self._jvp(x, V), (x.shape[0], V.shape[1]))
        if self._jac is not None or is_torch(x) or 2 * V.shape[1] >= x.shape[0]:
            return self.jacobian(x) @ V
        self._check_state("jvp", x)
        return _fd_directional(self.__call__, x, V)

    def __repr__(self) -> str:
        name = getattr(self._fn, "__name__", type(self._fn).__name__)
        jac = "analytic" if self._jac is not None else "numerical"
        return f"{type(self).__name__}({self._fn_name}={name}, jacobian={jac}, dim={self.dim})"


class Map(_System):
    """A discrete-time system ``x_{t+1} = step(x_t)``.

    Parameters
    ----------
    step : callable
        ``(n,) -> (n,)``; numpy arrays, or tensors to tensors for torch use.
    jacobian : callable, optional
        ``(n,) -> (n, n)``, ``J[i, j] = d step(x)[i] / d x[j]``. Default: finite differences
        (numpy) or autograd (tensor).
    jvp : callable, optional
        ``(x, V) -> J(x) V`` for ``V`` of shape ``(n, k)``, when the tangent map is cheaper
        than forming ``J`` (a rate network: ``phi' * (W V)``). Used by the Lyapunov methods.
    dim : int, optional
        State dimension, when known; lets :func:`~plasticity.metrics.fixed_points` draw random
        starts from an integer count, and is checked on every call.
    """

    kind = "map"
    _fn_name = "step"

    def __init__(self, step: Callable, jacobian: Callable | None = None, *, jvp: Callable | None = None,
                 dim: int | None = None) -> None:
        super().__init__(step, jacobian, jvp=jvp, dim=dim)

    @property
    def step(self) -> Callable:
        """The user's step function, unchecked."""
        return self._fn


class Flow(_System):
    """A continuous-time system ``dx/dt = rhs(x)``.

    Parameters
    ----------
    rhs : callable
        ``(n,) -> (n,)`` time derivative, in state units per model time unit.
    jacobian : callable, optional
        ``(n,) -> (n, n)``, ``J[i, j] = d rhs(x)[i] / d x[j]``, per model time unit. Default:
        finite differences (numpy) or autograd (tensor).
    jvp : callable, optional
        ``(x, V) -> J(x) V`` (see :class:`Map`).
    dim : int, optional
        State dimension, when known (see :class:`Map`).
    """

    kind = "flow"
    _fn_name = "rhs"

    def __init__(self, rhs: Callable, jacobian: Callable | None = None, *, jvp: Callable | None = None,
                 dim: int | None = None) -> None:
        super().__init__(rhs, jacobian, jvp=jvp, dim=dim)

    @property
    def rhs(self) -> Callable:
        """The user's right-hand side, unchecked."""
        return self._fn


def jacobian_error(system: Map | Flow, x: Any) -> float:
    """Largest entry of ``|J_analytic - J_numerical|``, relative to ``max(1, max |J_numerical|)``.

    The numerical Jacobian is central differences (numpy ``x``, expect ~1e-9 or less for a
    correct smooth Jacobian of O(1) entries) or autograd (tensor ``x``, expect rounding).

    Parameters
    ----------
    system : Map or Flow
        Must have an analytic Jacobian.
    x : (n,) array or tensor
        Point of evaluation.
    """
    if not isinstance(system, _System):
        raise TypeError(f"jacobian_error: system must be a Map or Flow; got {type(system).__name__}")
    if not system.has_jacobian:
        raise ValueError("jacobian_error: system has no analytic jacobian to check; pass jacobian= when building it")
    analytic = system.jacobian(x)
    if is_torch(x):
        numerical = autograd_jacobian(system.__call__, x)
        diff, scale = float((analytic - numerical).abs().max()), float(numerical.abs().max())
    else:
        x = np.asarray(x, dtype=np.float64)
        numerical = finite_difference_jacobian(system.__call__, x)
        diff, scale = float(np.max(np.abs(analytic - numerical))), float(np.max(np.abs(numerical)))
    return diff / max(1.0, scale)


_RATE_NAMES = ("map_jacobian", "flow_jacobian", "rate_system", "ACTIVATIONS")


def __getattr__(name: str) -> Any:  # the rate systems, defined in rate_systems (which imports this module)
    if name in _RATE_NAMES:
        from plasticity.metrics import rate_systems

        return getattr(rate_systems, name)
    raise AttributeError(f"module 'plasticity.metrics.systems' has no attribute {name!r}")
