"""Dynamical systems given by callables of the state vector, and their Jacobians.

    Map:   x_{t+1} = F(x_t),      J(x) = dF/dx      (one step is one unit of time)
    Flow:  dx/dt   = f(x),        J(x) = df/dx      (time in the model's unit)

A system holds the user's callable (``step`` or ``rhs``) and, optionally, its analytic Jacobian.
Without one, :meth:`jacobian` uses central finite differences for numpy states (step
``h_j = eps^(1/3) max(1, |x_j|)``, error O(h^2) ~ 1e-10 relative for smooth F) and autograd for
torch tensors (the callable must then map tensors to tensors). Every call checks the output
shape against the input: a wrong shape is reported with the callable's name and both shapes.

Rate-network Jacobians (``W[post, pre]``, activation ``phi``):

    map,  x <- phi(g (W x + I) - b):          J = diag(g phi'(g (W x + I) - b)) W
    flow, tau dx/dt = -x + W phi(x) + I:      J = (-1 + W diag(phi'(x))) / tau      ("current" form)
    flow, tau dr/dt = -r + phi(W r + I):      J = (-1 + diag(phi'(W r + I)) W) / tau  ("rate" form)

Reference: Strogatz (2015), Nonlinear Dynamics and Chaos, ch. 6 and 10 (linearisation of flows
and maps); Miller & Fumarola (2012), Neural Comput 24:25 (the two rate-model forms).
"""
from __future__ import annotations

from numbers import Integral
from typing import Any, Callable, ClassVar

import numpy as np

from plasticity._validation import check_choice, check_number, positive
from plasticity.metrics.linalg import as_square, is_torch

__all__ = [
    "Map",
    "Flow",
    "finite_difference_jacobian",
    "autograd_jacobian",
    "jacobian_error",
    "map_jacobian",
    "flow_jacobian",
    "rate_system",
    "ACTIVATIONS",
]

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
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


# -- rate networks ---------------------------------------------------------------------------
def _activation(activation: str, u: Any) -> tuple[Any, Any]:
    """``(phi(u), phi'(u))`` for a named activation (checked by the caller), numpy or torch."""
    if is_torch(u):
        import torch

        if activation == "tanh":
            y = torch.tanh(u)
            return y, 1.0 - y * y
        if activation == "relu":
            return torch.relu(u), (u > 0).to(u.dtype)
        if activation == "sigmoid":
            y = torch.sigmoid(u)
            return y, y * (1.0 - y)
        return u, torch.ones_like(u)
    if activation == "tanh":
        y = np.tanh(u)
        return y, 1.0 - y * y
    if activation == "relu":
        return np.maximum(u, 0.0), (u > 0).astype(u.dtype)
    if activation == "sigmoid":
        y = 0.5 * (1.0 + np.tanh(0.5 * u))  # = 1/(1+exp(-u)) without overflow
        return y, y * (1.0 - y)
    return u, np.ones_like(u)


def _check_inputs(owner: str, inputs: Any, W: Any) -> Any:
    """``inputs`` as a float, or an (n,) array (a tensor like ``W`` when ``W`` is one)."""
    n = W.shape[0]
    if inputs is None:
        return 0.0
    shape = tuple(inputs.shape) if is_torch(inputs) else np.shape(inputs)
    if shape not in ((), (n,)):
        raise ValueError(f"{owner}: inputs must be None, a scalar or shape ({n},); got shape {shape}")
    if shape == () and not is_torch(inputs):
        return float(inputs)
    if is_torch(W) and not is_torch(inputs):
        import torch

        return torch.as_tensor(inputs, dtype=W.dtype, device=W.device)
    return inputs if is_torch(inputs) else np.asarray(inputs, dtype=np.float64)


def _rate_args(owner: str, W: Any, x: Any, inputs: Any) -> tuple[Any, Any, Any]:
    W = as_square(owner, W)
    if not is_torch(x):
        x = np.asarray(x, dtype=np.float64)
    if tuple(x.shape) != (W.shape[0],):
        raise ValueError(f"{owner}: x has shape {tuple(x.shape)}; expected ({W.shape[0]},) from W of shape {tuple(W.shape)}")
    return W, x, _check_inputs(owner, inputs, W)


def map_jacobian(W: Any, x: Any, activation: str = "tanh", inputs: Any = None, *, gain: Any = 1.0, threshold: Any = 0.0) -> Any:
    """Jacobian of the rate map ``x <- phi(gain * (W x + I) - threshold)``.

        J = diag(gain * phi'(gain * (W x + I) - threshold)) W

    Parameters
    ----------
    W : (n, n) array or tensor
        Weights ``W[post, pre]``.
    x : (n,) array or tensor
        State (the rates of the previous step).
    activation : {"tanh", "relu", "sigmoid", "linear"}
    inputs : None, float or (n,) array
        External input ``I`` (0 by default).
    gain, threshold : float or (n,) array
        Intrinsic gain and threshold of each neuron (see ``IntrinsicPlasticity``).

    Returns
    -------
    (n, n) array or tensor
    """
    W, x, inputs = _rate_args("map_jacobian", W, x, inputs)
    check_choice("map_jacobian", "activation", activation, ACTIVATIONS)
    return _map_jacobian(W, x, activation, inputs, _like(gain, W), _like(threshold, W))


def _like(value: Any, W: Any) -> Any:
    """A numpy array parameter as a tensor like ``W`` when ``W`` is a tensor (numbers pass through)."""
    if is_torch(W) and isinstance(value, np.ndarray):
        import torch

        return torch.as_tensor(value, dtype=W.dtype, device=W.device)
    return value


def _map_jacobian(W: Any, x: Any, activation: str, inputs: Any, gain: Any, threshold: Any) -> Any:
    _, slope = _activation(activation, gain * (W @ x + inputs) - threshold)
    return (gain * slope)[:, None] * W


def flow_jacobian(W: Any, x: Any, activation: str = "tanh", tau: float = 1.0, *, inputs: Any = None, form: str = "current") -> Any:
    """Jacobian of a continuous-time rate network, per unit model time.

        form="current":  tau dx/dt = -x + W phi(x) + I     ->  J = (-1 + W diag(phi'(x))) / tau
        form="rate":     tau dr/dt = -r + phi(W r + I)     ->  J = (-1 + diag(phi'(W r + I)) W) / tau

    ``form="current"`` is the convention of ``models.RateNetwork(dynamics="flow")``; its
    Jacobian does not depend on ``I``.

    Parameters
    ----------
    W : (n, n) array or tensor
        Weights ``W[post, pre]``.
    x : (n,) array or tensor
        State.
    activation : {"tanh", "relu", "sigmoid", "linear"}
    tau : float
        Time constant, in (0, inf), model time units.
    inputs : None, float or (n,) array
        External input (used by ``form="rate"`` only).
    form : {"current", "rate"}

    Returns
    -------
    (n, n) array or tensor
    """
    owner = "flow_jacobian"
    check_number(owner, "tau", tau, positive)
    check_choice(owner, "form", form, ("current", "rate"))
    W, x, inputs = _rate_args(owner, W, x, inputs)
    check_choice(owner, "activation", activation, ACTIVATIONS)
    return _flow_jacobian(W, x, activation, tau, inputs, form)


def _flow_jacobian(W: Any, x: Any, activation: str, tau: float, inputs: Any, form: str) -> Any:
    if form == "current":
        _, slope = _activation(activation, x)
        J = W * slope[None, :]
    else:
        _, slope = _activation(activation, W @ x + inputs)
        J = slope[:, None] * W
    if is_torch(J):
        import torch

        J = J - torch.eye(J.shape[0], dtype=J.dtype, device=J.device)
    else:
        J[np.diag_indices_from(J)] -= 1.0
    return J / tau


def _matmul(W: Any, V: Any) -> Any:
    """``W @ V`` (V a vector or a matrix); float64 numpy products go through scipy's BLAS, as the
    Lyapunov loop's factorisations do: alternating numpy's and scipy's OpenBLAS thread pools in
    one loop lets one pool spin while the other works (measured: top-100 exponents at N = 1000,
    25 ms per step with numpy's matrix-vector product, against ~10 ms with scipy's)."""
    if is_torch(W) or W.dtype != np.float64 or V.dtype != np.float64 or W.ndim != 2:
        return W @ V
    from scipy.linalg import blas

    c_order = W.flags.c_contiguous and not W.flags.f_contiguous  # C-ordered W is a Fortran-ordered W^T
    if V.ndim == 1:
        return blas.dgemv(1.0, W.T, V, trans=1) if c_order else blas.dgemv(1.0, W, V)
    if c_order:
        return blas.dgemm(1.0, W.T, V, trans_a=1)
    return blas.dgemm(1.0, W, V)


class _LastInput:
    """Remembers ``W x + I`` for the last ``x``: a Lyapunov step asks for step(x) and jvp(x, Q) at the same x."""

    def __init__(self, W: Any, inputs: Any) -> None:
        self.W, self.inputs, self.x, self.u = W, inputs, None, None

    def __call__(self, x: Any) -> Any:
        if self.x is None or self.x.shape != x.shape or not bool((self.x == x).all()):  # O(n) against O(n^2)
            self.u = _matmul(self.W, x) + self.inputs
            self.x = x.clone() if is_torch(x) else np.array(x, copy=True)
        return self.u


def rate_system(W: Any, activation: str = "tanh", dynamics: str = "map", tau: float = 1.0, inputs: Any = None, *,
                gain: Any = 1.0, threshold: Any = 0.0, form: str = "current") -> Map | Flow:
    """The frozen-weight rate network as a :class:`Map` or :class:`Flow` with its analytic Jacobian.

    ``dynamics="map"``: ``x <- phi(gain * (W x + I) - threshold)``; ``dynamics="flow"``:
    ``tau dx/dt = -x + W phi(x) + I`` (``form="current"``) or ``tau dr/dt = -r + phi(W r + I)``
    (``form="rate"``); see :func:`map_jacobian` and :func:`flow_jacobian`. The system also gets
    the tangent map ``jvp(x, V)`` (``phi' * (W V)``, never forming J) and ``dim = n``. ``W`` and
    ``inputs`` are used as given (not copied: do not modify them while the system is in use).
    """
    owner = "rate_system"
    check_choice(owner, "dynamics", dynamics, ("map", "flow"))
    W = as_square(owner, W)
    n = W.shape[0]
    inputs = _check_inputs(owner, inputs, W)
    gain, threshold = _like(gain, W), _like(threshold, W)
    check_choice(owner, "activation", activation, ACTIVATIONS)
    if dynamics == "map":
        field = _LastInput(W, inputs)

        def step(x):
            return _activation(activation, gain * field(x) - threshold)[0]

        def map_jvp(x, V):
            slope = gain * _activation(activation, gain * field(x) - threshold)[1]
            return slope[:, None] * _matmul(W, V)

        return Map(step, lambda x: _map_jacobian(W, x, activation, inputs, gain, threshold), jvp=map_jvp, dim=n)
    check_number(owner, "tau", tau, positive)
    check_choice(owner, "form", form, ("current", "rate"))
    if form == "current":
        def rhs(x):
            return (-x + W @ _activation(activation, x)[0] + inputs) / tau

        def flow_jvp(x, V):
            return (-V + _matmul(W, _activation(activation, x)[1][:, None] * V)) / tau
    else:
        field = _LastInput(W, inputs)

        def rhs(x):
            return (-x + _activation(activation, field(x))[0]) / tau

        def flow_jvp(x, V):
            return (-V + _activation(activation, field(x))[1][:, None] * _matmul(W, V)) / tau

    return Flow(rhs, lambda x: _flow_jacobian(W, x, activation, tau, inputs, form), jvp=flow_jvp, dim=n)
