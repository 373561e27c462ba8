"""The frozen-weight rate network as a dynamical system: one definition of its equations.

With ``W[post, pre]``, an activation ``phi`` of :mod:`plasticity.activations` (one name for all
neurons, or a :class:`~plasticity.activations.PerNeuronActivation`), intrinsic gains ``g`` and
thresholds ``b`` (``phi(g u - b)``, 1 and 0 by default) and a constant input ``I``:

    map,  x <- phi(g (W x + I) - b):               J = diag(g phi'(g (W x + I) - b)) W
    flow, tau dx/dt = -x + W phi(g x - b) + I:     J = (-1 + W diag(g phi'(g x - b))) / tau   ("current")
    flow, tau dr/dt = -r + phi(g (W r + I) - b):   J = (-1 + diag(g phi'(g (W r + I) - b)) W) / tau  ("rate")

``tau`` is a number or one time constant per neuron (row ``i`` of J is divided by ``tau_i``).
:func:`rate_system` returns these as a :class:`~plasticity.metrics.Map` or
:class:`~plasticity.metrics.Flow` with the analytic Jacobian and the tangent map ``jvp(x, V)``
(``phi' * (W V)``, never forming J); ``models.RateNetwork.as_system`` (single-matrix and
population networks) builds its system here, so the dynamics a network runs and the one the
metrics analyse are written once.

Reference: Strogatz (2015), Nonlinear Dynamics and Chaos, ch. 6 and 10 (linearisation of flows
and maps); Miller & Fumarola (2012), Neural Comput 24:25 (the two rate-model forms).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from plasticity._validation import check_choice, check_number, positive
from plasticity.activations import ACTIVATIONS as _TABLE
from plasticity.metrics.linalg import as_square, is_torch
from plasticity.metrics.systems import Flow, Map

__all__ = ["map_jacobian", "flow_jacobian", "rate_system", "ACTIVATIONS"]

#: Activation names the rate systems take (every entry of :data:`plasticity.activations.ACTIVATIONS`;
#: ``power`` with ``k = 1``, ``exponent = 2``: pass a ``PerNeuronActivation`` for other values).
ACTIVATIONS: tuple[str, ...] = tuple(_TABLE)


def _resolve(owner: str, activation: Any) -> Any:
    """An object with ``value_and_derivative(u)``: a table entry by name, or the object given."""
    if isinstance(activation, str) or not callable(getattr(activation, "value_and_derivative", None)):
        return _TABLE[check_choice(owner, "activation", activation, ACTIVATIONS)]
    return activation


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


def _check_tau(owner: str, tau: Any, W: Any) -> tuple[Any, Any]:
    """``(tau, tau_rows)``: a number twice, or an (n,) array and its (n, 1) column (divides J's rows)."""
    if np.ndim(tau) == 0 and not is_torch(tau):
        return check_number(owner, "tau", tau, positive), tau
    arr = np.asarray(tau.detach().cpu() if is_torch(tau) else tau, dtype=np.float64)
    if arr.shape != (W.shape[0],) or not np.all((arr > 0) & np.isfinite(arr)):
        raise ValueError(f"{owner}: tau must be a number in (0, inf) or an array of shape ({W.shape[0]},) with "
                         f"entries in (0, inf); got {tau!r:.80}")
    tau = _like(arr, W)
    return tau, tau[:, None]


def _rate_args(owner: str, W: Any, x: Any, inputs: Any) -> tuple[Any, Any, Any]:
    W = as_square(owner, W)
    if not is_torch(x):
        x = np.asarray(x, dtype=np.float64)
    if tuple(x.shape) != (W.shape[0],):
        raise ValueError(f"{owner}: x has shape {tuple(x.shape)}; expected ({W.shape[0]},) from W of shape {tuple(W.shape)}")
    return W, x, _check_inputs(owner, inputs, W)


def _like(value: Any, W: Any) -> Any:
    """A numpy array parameter as a tensor like ``W`` when ``W`` is a tensor (numbers pass through)."""
    if is_torch(W) and isinstance(value, np.ndarray):
        import torch

        return torch.as_tensor(value, dtype=W.dtype, device=W.device)
    return value


def map_jacobian(W: Any, x: Any, activation: str = "tanh", inputs: Any = None, *, gain: Any = 1.0, threshold: Any = 0.0) -> Any:
    """Jacobian of the rate map ``x <- phi(gain * (W x + I) - threshold)``.

        J = diag(gain * phi'(gain * (W x + I) - threshold)) W

    Parameters
    ----------
    W : (n, n) array or tensor
        Weights ``W[post, pre]``.
    x : (n,) array or tensor
        State (the rates of the previous step).
    activation : str or PerNeuronActivation
        A name of :data:`ACTIVATIONS` (``"tanh"``, ``"relu"``, ``"sigmoid"``, ``"linear"``, ...).
    inputs : None, float or (n,) array
        External input ``I`` (0 by default).
    gain, threshold : float or (n,) array
        Intrinsic gain and threshold of each neuron (see ``IntrinsicPlasticity``).

    Returns
    -------
    (n, n) array or tensor
    """
    W, x, inputs = _rate_args("map_jacobian", W, x, inputs)
    phi = _resolve("map_jacobian", activation)
    return _map_jacobian(W, x, phi, inputs, _like(gain, W), _like(threshold, W))


def _map_jacobian(W: Any, x: Any, phi: Any, inputs: Any, gain: Any, threshold: Any) -> Any:
    _, slope = phi.value_and_derivative(gain * (W @ x + inputs) - threshold)
    return (gain * slope)[:, None] * W


def flow_jacobian(W: Any, x: Any, activation: str = "tanh", tau: Any = 1.0, *, inputs: Any = None, form: str = "current",
                  gain: Any = 1.0, threshold: Any = 0.0) -> Any:
    """Jacobian of a continuous-time rate network, per unit model time.

        form="current":  tau dx/dt = -x + W phi(g x - b) + I       ->  J = (-1 + W diag(g phi'(g x - b))) / tau
        form="rate":     tau dr/dt = -r + phi(g (W r + I) - b)     ->  J = (-1 + diag(g phi'(g (W r + I) - b)) W) / tau

    ``form="current"`` is the convention of ``models.RateNetwork(dynamics="flow")``; its
    Jacobian does not depend on ``I``.

    Parameters
    ----------
    W : (n, n) array or tensor
        Weights ``W[post, pre]``.
    x : (n,) array or tensor
        State.
    activation : str or PerNeuronActivation
        A name of :data:`ACTIVATIONS`.
    tau : float or (n,) array
        Time constant(s), in (0, inf), model time units.
    inputs : None, float or (n,) array
        External input (used by ``form="rate"`` only).
    form : {"current", "rate"}
    gain, threshold : float or (n,) array
        Intrinsic gain ``g`` and threshold ``b`` of each neuron (1 and 0 by default).

    Returns
    -------
    (n, n) array or tensor
    """
    owner = "flow_jacobian"
    check_choice(owner, "form", form, ("current", "rate"))
    W, x, inputs = _rate_args(owner, W, x, inputs)
    _, tau_rows = _check_tau(owner, tau, W)
    phi = _resolve(owner, activation)
    return _flow_jacobian(W, x, phi, tau_rows, inputs, form, _like(gain, W), _like(threshold, W))


def _flow_jacobian(W: Any, x: Any, phi: Any, tau_rows: Any, inputs: Any, form: str, gain: Any, threshold: Any) -> Any:
    if form == "current":
        _, slope = phi.value_and_derivative(gain * x - threshold)
        J = W * (gain * slope)[None, :]
    else:
        _, slope = phi.value_and_derivative(gain * (W @ x + inputs) - threshold)
        J = (gain * slope)[:, None] * W
    if is_torch(J):
        import torch

        J = J - torch.eye(J.shape[0], dtype=J.dtype, device=J.device)
    else:
        J[np.diag_indices_from(J)] -= 1.0
    return J / tau_rows


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


def rate_system(W: Any, activation: Any = "tanh", dynamics: str = "map", tau: Any = 1.0, inputs: Any = None, *,
                gain: Any = 1.0, threshold: Any = 0.0, form: str = "current") -> Map | Flow:
    """The frozen-weight rate network as a :class:`Map` or :class:`Flow` with its analytic Jacobian.

    ``dynamics="map"``: ``x <- phi(gain * (W x + I) - threshold)``; ``dynamics="flow"``:
    ``tau dx/dt = -x + W phi(gain * x - threshold) + I`` (``form="current"``) or
    ``tau dr/dt = -r + phi(gain * (W r + I) - threshold)`` (``form="rate"``); see the module
    docstring, :func:`map_jacobian` and :func:`flow_jacobian`. The system also gets the tangent
    map ``jvp(x, V)`` (``phi' * (W V)``, never forming J) and ``dim = n``. ``W``, ``inputs``,
    ``gain``, ``threshold`` and ``tau`` are used as given (not copied: do not modify them while
    the system is in use).

    Parameters
    ----------
    W : (n, n) array or tensor
        Weights ``W[post, pre]``, finite.
    activation : str or PerNeuronActivation
        A name of :data:`ACTIVATIONS`, or an object with ``value_and_derivative(u)`` such as
        :class:`plasticity.activations.PerNeuronActivation` (one activation per population).
    dynamics : {"map", "flow"}
    tau : float or (n,) array
        Time constant(s) of the flow, in (0, inf), model time units (a map ignores it).
    inputs : None, float or (n,) array
        Constant external input ``I``.
    gain, threshold : float or (n,) array
        Intrinsic gain and threshold of each neuron (see ``IntrinsicPlasticity``).
    form : {"current", "rate"}
        Which flow (see above).
    """
    owner = "rate_system"
    check_choice(owner, "dynamics", dynamics, ("map", "flow"))
    W = as_square(owner, W)
    n = W.shape[0]
    inputs = _check_inputs(owner, inputs, W)
    gain, threshold = _like(gain, W), _like(threshold, W)
    phi = _resolve(owner, activation)
    if dynamics == "map":
        field = _LastInput(W, inputs)

        def step(x):
            return phi.value_and_derivative(gain * field(x) - threshold)[0]

        def map_jvp(x, V):
            slope = gain * phi.value_and_derivative(gain * field(x) - threshold)[1]
            return slope[:, None] * _matmul(W, V)

        return Map(step, lambda x: _map_jacobian(W, x, phi, inputs, gain, threshold), jvp=map_jvp, dim=n)
    tau, tau_rows = _check_tau(owner, tau, W)
    check_choice(owner, "form", form, ("current", "rate"))
    if form == "current":
        def rhs(x):
            return (-x + W @ phi.value_and_derivative(gain * x - threshold)[0] + inputs) / tau

        def flow_jvp(x, V):
            slope = gain * phi.value_and_derivative(gain * x - threshold)[1]
            return (-V + _matmul(W, slope[:, None] * V)) / tau_rows
    else:
        field = _LastInput(W, inputs)

        def rhs(x):
            return (-x + phi.value_and_derivative(gain * field(x) - threshold)[0]) / tau

        def flow_jvp(x, V):
            slope = gain * phi.value_and_derivative(gain * field(x) - threshold)[1]
            return (-V + slope[:, None] * _matmul(W, V)) / tau_rows

    return Flow(rhs, lambda x: _flow_jacobian(W, x, phi, tau_rows, inputs, form, gain, threshold), jvp=flow_jvp, dim=n)
