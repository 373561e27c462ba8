"""Differentiable twins of the rate rules in :mod:`plasticity.rules`: same names, parameters, equations.

Each class here implements exactly the equation of the same-named numpy rule (its module
docstring has the reference and the derivations); ``tests/torch/test_torch_rules.py`` checks
that they agree with ``reference_update`` and the numba ``update`` to rounding. Explicit Euler;
``W`` is updated from the OLD state, then the state advances, as in the numba coefficient
functions. W is ``W[post, pre]``; ``x = pre``, ``y = post``; batched over leading dimensions.

    Hebbian              dW/dt = eta y x^T - decay W, clipped to [w_min, w_max]
    Oja                  dW/dt = eta (y x^T - y^2 W)
    BCM                  dW/dt = eta y (y - theta) x^T;       tau_theta dtheta/dt = y^power - theta
    SynapticScaling      dW_i/dt = eta (target - a_i) W_i;    tau da/dt = y - a
    IntrinsicPlasticity  dthreshold/dt = eta (y - target);    W unchanged
                         dgain/dt = eta_gain gain (target_var - (y - target)^2)   (adapt_gain)
    MetaplasticBCM       dW/dt = eta y (y - theta - kappa meta) x^T
                         tau_theta dtheta/dt = y^power - theta;  tau_meta dmeta/dt = y^power - meta

Parameters may be floats, tensors or ``torch.nn.Parameter`` s (see :mod:`plasticity.torch._base`).
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from plasticity._validation import Interval, any_real, nonnegative, positive
from plasticity.torch._base import RowAffineRule

__all__ = [
    "Hebbian", "HebbianState", "Oja", "OjaState", "BCM", "BCMState", "SynapticScaling",
    "SynapticScalingState", "IntrinsicPlasticity", "IntrinsicPlasticityState",
    "MetaplasticBCM", "MetaplasticBCMState",
]

_extended_real = Interval(-math.inf, math.inf, closed="both")


def _full(shape, value, dtype, device) -> torch.Tensor:
    """A tensor of ``shape`` filled with ``value`` (a float or a tensor, kept differentiable)."""
    return torch.zeros(shape, dtype=dtype, device=device) + value


class HebbianState(NamedTuple):
    """The Hebbian rule keeps no state."""


class OjaState(NamedTuple):
    """Oja's rule keeps no state."""


class BCMState(NamedTuple):
    theta: torch.Tensor  #: (*batch, n_post) sliding threshold


class SynapticScalingState(NamedTuple):
    rate: torch.Tensor  #: (*batch, n_post) low-pass rate estimate a


class IntrinsicPlasticityState(NamedTuple):
    threshold: torch.Tensor  #: (*batch, n_post)
    gain: torch.Tensor  #: (*batch, n_post)


class MetaplasticBCMState(NamedTuple):
    theta: torch.Tensor  #: (*batch, n_post) fast sliding threshold
    meta: torch.Tensor  #: (*batch, n_post) slow activity history


class Hebbian(RowAffineRule):
    """``dW/dt = eta y x^T - decay W``, clipped (``torch.clamp``) to ``[w_min, w_max]``.

    Twin of :class:`plasticity.rules.Hebbian` (Hebb 1949; Dayan & Abbott 2001, sec. 8.2).
    ``eta`` in (0, inf) and ``decay`` in [0, inf) are per unit model time.
    """

    constraints = {"eta": positive, "decay": nonnegative, "w_min": _extended_real, "w_max": _extended_real}
    state_class = HebbianState
    w_bounds = ("w_min", "w_max")

    def __init__(self, eta: Any, decay: Any = 0.0, w_min: Any = -math.inf, w_max: Any = math.inf) -> None:
        super().__init__()
        self._set_params(eta=eta, decay=decay, w_min=w_min, w_max=w_max)
        if not bool(torch.all(torch.as_tensor(self.w_min) < torch.as_tensor(self.w_max))):
            raise ValueError(
                f"Hebbian.w_min must be smaller than Hebbian.w_max; got w_min={w_min!r}, w_max={w_max!r}"
            )

    def _coefficients(self, y, state, dt):
        b = None if _is_zero(self.decay) else -dt * self.decay  # scalar, or per row for a (n_post,) tensor
        return dt * self.eta * y, b, state


class Oja(RowAffineRule):
    """``dW/dt = eta (y x^T - y^2 W)`` (row-wise); twin of :class:`plasticity.rules.Oja` (Oja 1982)."""

    constraints = {"eta": positive}
    state_class = OjaState

    def __init__(self, eta: Any) -> None:
        super().__init__()
        self._set_params(eta=eta)

    def _coefficients(self, y, state, dt):
        return dt * self.eta * y, -dt * self.eta * y * y, state


class BCM(RowAffineRule):
    """BCM with a sliding threshold; twin of :class:`plasticity.rules.BCM`.

    ``dW/dt = eta y (y - theta) x^T``, ``tau_theta dtheta/dt = y^power - theta`` (Bienenstock,
    Cooper & Munro 1982; Intrator & Cooper 1992). ``theta`` starts at ``theta0``.
    """

    constraints = {"eta": positive, "tau_theta": positive, "theta0": any_real, "power": positive}
    state_class = BCMState

    def __init__(self, eta: Any, tau_theta: Any, theta0: Any = 0.0, power: Any = 2.0) -> None:
        super().__init__()
        self._set_params(eta=eta, tau_theta=tau_theta, theta0=theta0, power=power)

    def _initial_state(self, shape, dtype, device):
        return BCMState(_full(shape, self.theta0, dtype, device))

    def _coefficients(self, y, state, dt):
        a = dt * self.eta * y * (y - state.theta)
        theta = state.theta + dt / self.tau_theta * (y**self.power - state.theta)
        return a, None, BCMState(theta)


class SynapticScaling(RowAffineRule):
    """Multiplicative synaptic scaling; twin of :class:`plasticity.rules.SynapticScaling`.

    ``tau da/dt = y - a``, ``dW_i/dt = eta (target - a_i) W_i`` (Turrigiano et al. 1998; van
    Rossum, Bi & Turrigiano 2000). The estimate ``a`` (field ``rate``) starts at ``target``.
    """

    constraints = {"eta": positive, "target": nonnegative, "tau": positive}
    state_class = SynapticScalingState

    def __init__(self, eta: Any, target: Any, tau: Any) -> None:
        super().__init__()
        self._set_params(eta=eta, target=target, tau=tau)

    def _initial_state(self, shape, dtype, device):
        return SynapticScalingState(_full(shape, self.target, dtype, device))

    def _coefficients(self, y, state, dt):
        b = dt * self.eta * (self.target - state.rate)
        rate = state.rate + dt / self.tau * (y - state.rate)
        return None, b, SynapticScalingState(rate)


class IntrinsicPlasticity(RowAffineRule):
    """Homeostatic threshold (and gain); twin of :class:`plasticity.rules.IntrinsicPlasticity`.

    The neuron's output is ``phi(gain * u - threshold)``; ``dthreshold/dt = eta (y - target)``
    and, with ``adapt_gain``, ``dgain/dt = eta_gain gain (target_var - (y - target)^2)``
    (Desai et al. 1999; Cannon & Miller 2017). ``update`` returns ``W`` itself (unchanged);
    networks apply the state.
    """

    constraints = {"eta": positive, "target": any_real, "target_var": positive, "threshold0": any_real, "gain0": positive}
    state_class = IntrinsicPlasticityState

    def __init__(
        self,
        eta: Any,
        target: Any,
        adapt_gain: bool = False,
        eta_gain: Any = None,
        target_var: Any = 0.01,
        threshold0: Any = 0.0,
        gain0: Any = 1.0,
    ) -> None:
        super().__init__()
        if not isinstance(adapt_gain, bool):  # a number would silently mean True
            raise TypeError(
                f"IntrinsicPlasticity.adapt_gain must be True or False; got {adapt_gain!r} of type {type(adapt_gain).__name__}"
            )
        self.adapt_gain = adapt_gain
        self._set_params(eta=eta, target=target, target_var=target_var, threshold0=threshold0, gain0=gain0)
        if eta_gain is None:
            self.eta_gain = None
        else:
            self._set_param("eta_gain", eta_gain, positive)

    def _initial_state(self, shape, dtype, device):
        return IntrinsicPlasticityState(_full(shape, self.threshold0, dtype, device), _full(shape, self.gain0, dtype, device))

    def _coefficients(self, y, state, dt):
        d = y - self.target
        gain = state.gain
        if self.adapt_gain:
            eta_gain = self.eta if self.eta_gain is None else self.eta_gain
            gain = gain + dt * eta_gain * gain * (self.target_var - d * d)
        threshold = state.threshold + dt * self.eta * d
        return None, None, IntrinsicPlasticityState(threshold, gain)


class MetaplasticBCM(RowAffineRule):
    """BCM whose threshold has a slow metaplastic offset; twin of :class:`plasticity.rules.MetaplasticBCM`.

    ``dW/dt = eta y (y - theta - kappa meta) x^T``; ``tau_theta dtheta/dt = y^power - theta``;
    ``tau_meta dmeta/dt = y^power - meta`` with ``tau_meta > tau_theta``. ``theta`` starts at
    ``theta0`` and ``meta`` at ``meta0``. Priming with high activity raises ``meta``, which outlasts
    ``theta`` and lowers later potentiation (Abraham & Bear 1996, Trends Neurosci 19:126).
    """

    constraints = {
        "eta": positive, "tau_theta": positive, "tau_meta": positive,
        "theta0": any_real, "power": positive, "kappa": nonnegative, "meta0": any_real,
    }
    state_class = MetaplasticBCMState

    def __init__(
        self,
        eta: Any,
        tau_theta: Any,
        tau_meta: Any,
        theta0: Any = 0.0,
        power: Any = 2.0,
        kappa: Any = 1.0,
        meta0: Any = 0.0,
    ) -> None:
        super().__init__()
        self._set_params(
            eta=eta, tau_theta=tau_theta, tau_meta=tau_meta, theta0=theta0, power=power, kappa=kappa, meta0=meta0
        )
        if not bool(torch.all(torch.as_tensor(self.tau_meta) > torch.as_tensor(self.tau_theta))):
            raise ValueError(
                f"MetaplasticBCM.tau_meta must be larger than tau_theta = {tau_theta!r}; got {tau_meta!r}"
            )

    def _initial_state(self, shape, dtype, device):
        return MetaplasticBCMState(_full(shape, self.theta0, dtype, device), _full(shape, self.meta0, dtype, device))

    def _coefficients(self, y, state, dt):
        a = dt * self.eta * y * (y - state.theta - self.kappa * state.meta)
        yp = y**self.power
        theta = state.theta + dt / self.tau_theta * (yp - state.theta)
        meta = state.meta + dt / self.tau_meta * (yp - state.meta)
        return a, None, MetaplasticBCMState(theta, meta)


def _is_zero(v: Any) -> bool:
    return isinstance(v, float) and v == 0.0

