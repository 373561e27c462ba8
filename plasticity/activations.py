"""The activation functions ``phi`` of rate neurons: one table that every code path reads.

    name             phi(u)                               phi'(u)                      code
    tanh             tanh u                               1 - tanh(u)^2                0
    relu             max(u, 0)                            1 if u > 0 else 0            1
    sigmoid          1 / (1 + exp(-u))                    phi (1 - phi)                2
    linear           u                                    1                            3
    rectified_tanh   max(tanh u, 0)                       1 - tanh(u)^2 if u > 0, 0    4
    power            k max(u, 0)^e                        k e u^(e-1) if u > 0, 0      5

(``u`` dimensionless input, rates in model units; at the kinks of ``relu``, ``rectified_tanh``
and ``power`` the derivative is taken from the left, 0.) ``power`` is the supralinear
transfer function of the stabilized supralinear network (Ahmadian, Rubin & Miller 2013,
Neural Comput 25(8):1994-2037: power-law input-output functions with power > 1; gain ``k``,
exponent ``e``); a cap
``max_rate`` may saturate any entry: ``min(phi(u), max_rate)``, derivative 0 where capped.

Each entry is evaluated three ways, all declared here:

- :meth:`Activation.value_and_derivative`: arrays, numpy or torch (the same arithmetic as
  torch's ``tanh``/``relu``/``sigmoid`` where ``torch_name`` names one); used by the
  dynamical systems of :mod:`plasticity.metrics.rate_systems` and the networks' ``as_system``.
- :func:`scalar_value` / :func:`scalar_derivative`: one float by integer ``code``, plain Python
  that numba compiles (:func:`jit_scalar_value`, on first use); the network kernels
  (``models._rate_kernels``, ``models._population_kernels``) call the compiled one per neuron.
- the sigmoid is computed without overflow and to full relative precision in both tails:
  ``1 / (1 + exp(-u))`` or ``exp(u) / (1 + exp(u))`` by the sign of ``u``, derivative
  ``z / (1 + z)^2`` with ``z = exp(-|u|)`` (torch: ``torch.sigmoid`` and ``phi (1 - phi)``).

Adding an activation: one code constant, one branch in each of ``scalar_value``,
``scalar_derivative`` and ``_evaluate``, one row of ``ACTIVATIONS``; the table's test checks
each entry against finite differences and the three evaluations against each other.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["Activation", "ACTIVATIONS", "NETWORK_ACTIVATIONS", "PerNeuronActivation", "scalar_value",
           "scalar_derivative", "jit_scalar_value", "TANH", "RELU", "SIGMOID", "LINEAR", "RECTIFIED_TANH",
           "POWER"]

TANH, RELU, SIGMOID, LINEAR, RECTIFIED_TANH, POWER = 0, 1, 2, 3, 4, 5


def scalar_value(code: int, u: float, k: float, e: float) -> float:
    """``phi(u)`` of activation ``code`` for one float (``k``, ``e``: gain and exponent of ``power``).

    Plain Python that numba compiles (:func:`jit_scalar_value`); no cap (callers apply it).
    """
    if code == TANH:
        return math.tanh(u)
    if code == RELU:
        return u if u > 0.0 else 0.0
    if code == SIGMOID:  # the two branches avoid overflow of exp
        if u >= 0.0:
            return 1.0 / (1.0 + math.exp(-u))
        z = math.exp(u)
        return z / (1.0 + z)
    if code == RECTIFIED_TANH:
        return math.tanh(u) if u > 0.0 else 0.0
    if code == POWER:
        return k * u ** e if u > 0.0 else 0.0
    return u


def scalar_derivative(code: int, u: float, k: float, e: float) -> float:
    """``phi'(u)`` of activation ``code`` for one float (0 left of a kink); plain Python, numba-compilable."""
    if code == TANH or code == RECTIFIED_TANH:
        if code == RECTIFIED_TANH and not u > 0.0:
            return 0.0
        y = math.tanh(u)
        return 1.0 - y * y
    if code == RELU:
        return 1.0 if u > 0.0 else 0.0
    if code == SIGMOID:  # z / (1 + z)^2 with z = exp(-|u|): no overflow, no cancellation
        z = math.exp(-abs(u))
        return z / ((1.0 + z) * (1.0 + z))
    if code == POWER:
        return k * e * u ** (e - 1.0) if u > 0.0 else 0.0
    return 1.0


_JIT: dict[str, Any] = {}


def jit_scalar_value():
    """:func:`scalar_value` compiled by numba (``cache=True, nogil=True``), made once per process.

    numba is imported here, on first use, so that the metrics (which evaluate arrays) never pay
    for it; the network kernels bind the result to a module global at import.
    """
    if "value" not in _JIT:
        from numba import njit

        _JIT["value"] = njit(cache=True, nogil=True)(scalar_value)
    return _JIT["value"]


def _is_torch(u: Any) -> bool:
    return type(u).__module__.startswith("torch")


def _evaluate(code: int, u: Any, k: float, e: float) -> tuple[Any, Any]:
    """``(phi(u), phi'(u))`` of activation ``code`` for a numpy array or a torch tensor."""
    if _is_torch(u):
        import torch

        if code == TANH:
            y = torch.tanh(u)
            return y, 1.0 - y * y
        if code == RELU:
            return torch.relu(u), (u > 0).to(u.dtype)
        if code == SIGMOID:
            y = torch.sigmoid(u)
            return y, y * (1.0 - y)
        if code == RECTIFIED_TANH:
            y = torch.tanh(u)
            return torch.clamp(y, min=0.0), torch.where(u > 0, 1.0 - y * y, torch.zeros_like(u))
        if code == POWER:
            zp = torch.clamp(u, min=0.0)
            return k * zp ** e, torch.where(u > 0, k * e * zp ** (e - 1.0), torch.zeros_like(u))
        return u, torch.ones_like(u)
    u = np.asarray(u)
    if u.dtype.kind not in "fc":
        u = u.astype(np.float64)
    if code == TANH:
        y = np.tanh(u)
        return y, 1.0 - y * y
    if code == RELU:
        return np.maximum(u, 0.0), (u > 0).astype(u.dtype)
    if code == SIGMOID:  # as scalar_value, z = exp(-|u|) never overflows; phi' = z / (1 + z)^2
        z = np.exp(-np.abs(u))
        return np.where(u >= 0, 1.0 / (1.0 + z), z / (1.0 + z)), z / ((1.0 + z) * (1.0 + z))
    if code == RECTIFIED_TANH:
        y = np.tanh(u)
        return np.maximum(y, 0.0), np.where(u > 0, 1.0 - y * y, 0.0)
    if code == POWER:
        zp = np.maximum(u, 0.0)
        with np.errstate(divide="ignore"):  # 0^(e-1) = inf for e < 1, discarded by the where
            return k * zp ** e, np.where(u > 0, k * e * zp ** (e - 1.0), 0.0)
    return u.copy(), np.ones_like(u)


def _cap(y: Any, d: Any, max_rate: float) -> tuple[Any, Any]:
    """``min(y, max_rate)`` and its derivative (0 where capped)."""
    if _is_torch(y):
        import torch

        return torch.clamp(y, max=max_rate), torch.where(y < max_rate, d, torch.zeros_like(d))
    return np.minimum(y, max_rate), np.where(y < max_rate, d, 0.0)


@dataclass(frozen=True)
class Activation:
    """One entry of the table (see the module docstring).

    Attributes
    ----------
    name : str
        The name networks and metrics take (``activation="tanh"``).
    code : int
        Integer code of the numba kernels (:func:`scalar_value`).
    formula : str
        ``phi(u)`` in words, for documentation and error messages.
    nonnegative : bool
        Rates are ``>= 0`` for every input (the E/I populations' requirement).
    torch_name : str or None
        The torch function with the same values (``"torch.tanh"``), where one exists.
    """

    name: str
    code: int
    formula: str
    nonnegative: bool
    torch_name: str | None

    def value_and_derivative(self, u: Any, k: float = 1.0, exponent: float = 2.0,
                             max_rate: float | None = None) -> tuple[Any, Any]:
        """``(phi(u), phi'(u))`` elementwise, numpy array or torch tensor (differentiable).

        Parameters
        ----------
        u : array or tensor
            Inputs (float64 for numpy; integer arrays are converted).
        k, exponent : float
            Gain and exponent of ``power`` (ignored by the other entries).
        max_rate : float or None
            Cap ``min(phi, max_rate)`` (derivative 0 where ``phi >= max_rate``); None: no cap.
        """
        y, d = _evaluate(self.code, u, k, exponent)
        return (y, d) if max_rate is None else _cap(y, d, max_rate)

    def value(self, u: Any, k: float = 1.0, exponent: float = 2.0, max_rate: float | None = None) -> Any:
        """``phi(u)`` elementwise (see :meth:`value_and_derivative`)."""
        return self.value_and_derivative(u, k, exponent, max_rate)[0]

    def derivative(self, u: Any, k: float = 1.0, exponent: float = 2.0, max_rate: float | None = None) -> Any:
        """``phi'(u)`` elementwise (see :meth:`value_and_derivative`)."""
        return self.value_and_derivative(u, k, exponent, max_rate)[1]


#: The table, by name, in the order of the kernels' codes.
ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("tanh", TANH, "tanh u", False, "torch.tanh"),
    Activation("relu", RELU, "max(u, 0) (threshold-linear)", True, "torch.relu"),
    Activation("sigmoid", SIGMOID, "1 / (1 + exp(-u))", True, "torch.sigmoid"),
    Activation("linear", LINEAR, "u", False, None),
    Activation("rectified_tanh", RECTIFIED_TANH, "max(tanh u, 0)", True, None),
    Activation("power", POWER, "k max(u, 0)^exponent (supralinear)", True, None),
)}
assert [a.code for a in ACTIVATIONS.values()] == list(range(len(ACTIVATIONS)))

#: The entries of a single-matrix ``models.RateNetwork`` (parameter-free).
NETWORK_ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "sigmoid", "linear")


class PerNeuronActivation:
    """Activations that differ between blocks of neurons (the populations of an E/I network).

    Parameters
    ----------
    blocks : sequence of (slice, name, k, exponent, max_rate)
        Contiguous blocks in order, covering ``0 .. n-1``: neurons ``slice`` use table entry
        ``name`` with ``power``'s ``k`` and ``exponent`` and the cap ``max_rate`` (None: none).

    ``value_and_derivative(u)`` takes an ``(n,)`` numpy array or tensor, as an
    :class:`Activation` does, so :func:`plasticity.metrics.rate_systems.rate_system` accepts either.
    """

    def __init__(self, blocks: Sequence[tuple[slice, str, float, float, float | None]]) -> None:
        owner = "PerNeuronActivation"
        stop = 0
        self.blocks = []
        for sl, name, k, e, cap in blocks:
            if not isinstance(sl, slice) or sl.start != stop or sl.stop is None or sl.stop <= stop or sl.step not in (None, 1):
                raise ValueError(f"{owner}: blocks must be contiguous slices in order from 0; got {sl!r} after {stop}")
            if name not in ACTIVATIONS:
                raise ValueError(f"{owner}: activation must be one of {tuple(ACTIVATIONS)}; got {name!r}")
            self.blocks.append((sl, ACTIVATIONS[name], float(k), float(e), None if cap is None else float(cap)))
            stop = sl.stop
        if not self.blocks:
            raise ValueError(f"{owner}: blocks must not be empty")
        self.n = stop

    def value_and_derivative(self, u: Any) -> tuple[Any, Any]:
        """``(phi(u), phi'(u))`` of every neuron, each by its block's entry."""
        parts = [act.value_and_derivative(u[sl], k, e, cap) for sl, act, k, e, cap in self.blocks]
        if _is_torch(u):
            import torch

            y, d = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
        else:
            y, d = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        return y, d
