"""Differentiable twins of the rate rules in :mod:`plasticity.rules`: same names, parameters, equations.

Each class here is declared ``twin_of`` the same-named numpy rule and declares only what is
torch-specific: its NamedTuple state and its differentiable ``_coefficients``. The parameter
names, order, defaults and constraints, the weight bounds and the cross-parameter checks are
read from the numpy dataclass (:mod:`plasticity.torch._base`). Each implements exactly the
equation of its numpy twin (whose module docstring has the reference and the derivations);
``tests/torch/test_torch_rules.py`` checks that every rule of
:data:`plasticity.rules.registry.RATE_RULES` has a twin here and that they agree with
``reference_update`` and the numba ``update`` to rounding. Explicit Euler; ``W`` is updated
from the OLD state, then the state advances, as in the numba coefficient functions. W is
``W[post, pre]``; ``x = pre``, ``y = post``; batched over leading dimensions. The change of
a row is ``W_i (1 + b_i) + a_i x + c_i``:

    Hebbian              dW/dt = eta y x^T - decay W, clipped to [w_min, w_max]
    Oja                  dW/dt = eta (y x^T - y^2 W)
    BCM                  dW/dt = eta y (y - theta) x^T;       tau_theta dtheta/dt = y^power - theta
    SynapticScaling      dW_i/dt = eta (target - a_i) W_i;    tau da/dt = y - a
    IntrinsicPlasticity  dthreshold/dt = eta (y - target);    W unchanged
                         dgain/dt = eta_gain gain (target_var - (y - target)^2)   (adapt_gain)
    MetaplasticBCM       dW/dt = eta y (y - theta - kappa meta) x^T
                         tau_theta dtheta/dt = y^power - theta;  tau_meta dmeta/dt = y^power - meta
    InhibitoryPlasticity dW/dt = eta (y - target) x^T, clipped to [w_min, w_max] (w_min = 0)
    HeterosynapticDecay  dW/dt = -beta |y|^power (W - w_ref)

``Combined(*terms)`` (or ``rule_a + rule_b``) is their sum, as :class:`plasticity.rules.Combined`.
Parameters may be floats, tensors or ``torch.nn.Parameter`` s (see :mod:`plasticity.torch._base`).
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

import plasticity.rules as _np
from plasticity.rules import registry as _registry
from plasticity.torch._base import _TWINS as _twins
from plasticity.torch._base import TorchRule
from plasticity.torch._row_affine import RowAffineRule

__all__ = [
    "Hebbian", "HebbianState", "Oja", "OjaState", "BCM", "BCMState", "SynapticScaling",
    "SynapticScalingState", "IntrinsicPlasticity", "IntrinsicPlasticityState",
    "MetaplasticBCM", "MetaplasticBCMState", "InhibitoryPlasticity", "InhibitoryPlasticityState",
    "HeterosynapticDecay", "HeterosynapticDecayState", "Combined", "CombinedState", "TWINS",
]


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


class InhibitoryPlasticityState(NamedTuple):
    """The rate form of inhibitory plasticity keeps no state."""


class HeterosynapticDecayState(NamedTuple):
    """Heterosynaptic decay keeps no state."""


class Hebbian(RowAffineRule, twin_of=_np.Hebbian):
    """``dW/dt = eta y x^T - decay W``, clipped (``torch.clamp``) to ``[w_min, w_max]``.

    Twin of :class:`plasticity.rules.Hebbian` (Hebb 1949; Dayan & Abbott 2001, sec. 8.2).
    """

    state_class = HebbianState

    def _coefficients(self, y, state, dt):
        b = None if _is_zero(self.decay) else -dt * self.decay  # scalar, or per row for a (n_post,) tensor
        return dt * self.eta * y, b, None, state


class Oja(RowAffineRule, twin_of=_np.Oja):
    """``dW/dt = eta (y x^T - y^2 W)`` (row-wise); twin of :class:`plasticity.rules.Oja` (Oja 1982)."""

    state_class = OjaState

    def _coefficients(self, y, state, dt):
        return dt * self.eta * y, -dt * self.eta * y * y, None, state


class BCM(RowAffineRule, twin_of=_np.BCM):
    """BCM with a sliding threshold; twin of :class:`plasticity.rules.BCM`.

    ``dW/dt = eta y (y - theta) x^T``, ``tau_theta dtheta/dt = y^power - theta`` (Bienenstock,
    Cooper & Munro 1982; Intrator & Cooper 1992). ``theta`` starts at ``theta0``.
    """

    state_class = BCMState

    def _coefficients(self, y, state, dt):
        a = dt * self.eta * y * (y - state.theta)
        theta = state.theta + dt / self.tau_theta * (y**self.power - state.theta)
        return a, None, None, BCMState(theta)


class SynapticScaling(RowAffineRule, twin_of=_np.SynapticScaling):
    """Multiplicative synaptic scaling; twin of :class:`plasticity.rules.SynapticScaling`.

    ``tau da/dt = y - a``, ``dW_i/dt = eta (target - a_i) W_i`` (Turrigiano et al. 1998; van
    Rossum, Bi & Turrigiano 2000). The estimate ``a`` (field ``rate``) starts at ``target``.
    """

    state_class = SynapticScalingState
    initial = {"rate": "target"}

    def _coefficients(self, y, state, dt):
        b = dt * self.eta * (self.target - state.rate)
        rate = state.rate + dt / self.tau * (y - state.rate)
        return None, b, None, SynapticScalingState(rate)


class IntrinsicPlasticity(RowAffineRule, twin_of=_np.IntrinsicPlasticity):
    """Homeostatic threshold (and gain); twin of :class:`plasticity.rules.IntrinsicPlasticity`.

    The neuron's output is ``phi(gain * u - threshold)``; ``dthreshold/dt = eta (y - target)``
    and, with ``adapt_gain``, ``dgain/dt = eta_gain gain (target_var - (y - target)^2)``
    (Desai et al. 1999; Cannon & Miller 2017). ``update`` returns ``W`` itself (unchanged);
    networks apply the state.
    """

    state_class = IntrinsicPlasticityState

    def _coefficients(self, y, state, dt):
        d = y - self.target
        gain = state.gain
        if self.adapt_gain:
            eta_gain = self.eta if self.eta_gain is None else self.eta_gain
            gain = gain + dt * eta_gain * gain * (self.target_var - d * d)
        threshold = state.threshold + dt * self.eta * d
        return None, None, None, IntrinsicPlasticityState(threshold, gain)


class MetaplasticBCM(RowAffineRule, twin_of=_np.MetaplasticBCM):
    """BCM whose threshold has a slow metaplastic offset; twin of :class:`plasticity.rules.MetaplasticBCM`.

    ``dW/dt = eta y (y - theta - kappa meta) x^T``; ``tau_theta dtheta/dt = y^power - theta``;
    ``tau_meta dmeta/dt = y^power - meta`` with ``tau_meta > tau_theta``. ``theta`` starts at
    ``theta0`` and ``meta`` at ``meta0`` (Abraham & Bear 1996, Trends Neurosci 19:126).
    """

    state_class = MetaplasticBCMState

    def _coefficients(self, y, state, dt):
        a = dt * self.eta * y * (y - state.theta - self.kappa * state.meta)
        yp = y**self.power
        theta = state.theta + dt / self.tau_theta * (yp - state.theta)
        meta = state.meta + dt / self.tau_meta * (yp - state.meta)
        return a, None, None, MetaplasticBCMState(theta, meta)


class InhibitoryPlasticity(RowAffineRule, twin_of=_np.InhibitoryPlasticity):
    """``dW/dt = eta (y - target) x^T`` on inhibitory magnitudes, clipped to ``[w_min, w_max]``.

    Twin of :class:`plasticity.rules.InhibitoryPlasticity` (rate form of Vogels et al. 2011);
    ``w_min = 0`` by default keeps the magnitudes non-negative.
    """

    state_class = InhibitoryPlasticityState

    def _coefficients(self, y, state, dt):
        return dt * self.eta * (y - self.target), None, None, state


class HeterosynapticDecay(RowAffineRule, twin_of=_np.HeterosynapticDecay):
    """``dW/dt = -beta |y|^power (W - w_ref)``; twin of :class:`plasticity.rules.HeterosynapticDecay`.

    Row-affine with ``b = -dt beta |y|^power`` and ``c = dt beta |y|^power w_ref`` (Zenke,
    Agnes & Gerstner 2015).
    """

    state_class = HeterosynapticDecayState

    def _coefficients(self, y, state, dt):
        k = dt * self.beta * y.abs() ** self.power
        c = None if _is_zero(self.w_ref) else k * self.w_ref
        return None, -k, c, state


#: The twins, in the order of :data:`plasticity.rules.registry.RATE_RULES`.
TWINS: tuple[type[RowAffineRule], ...] = tuple(
    _twins[cls] for cls in _registry.RATE_RULES if cls in _twins
)


class CombinedState(NamedTuple):
    """The state of each term of a :class:`Combined` rule, in the order of its terms."""

    terms: tuple


class Combined(RowAffineRule):
    """The sum of torch rate rules, ``Combined(a, b, ...)`` or ``a + b + ...``; twin of
    :class:`plasticity.rules.Combined`.

    Every term's change is computed from the same ``W``, ``pre``, ``post`` and its own state
    (``state.terms[t]``, advanced as it would be alone); the row coefficients ``a``, ``b``,
    ``c`` are summed, ``W`` takes one explicit-Euler step and is clipped once to the
    intersection of the terms' bounds. The terms are submodules (``self.rules``): their
    Parameters are the combination's.

    Parameters
    ----------
    *terms : RowAffineRule
        One or more torch rate rules (a nested ``Combined`` is flattened into its terms).

    Raises
    ------
    TypeError
        A term is not a torch rate rule (a numpy rule, a class, ``PolynomialRule``, ...).
    ValueError
        No term, or terms whose weight bounds do not overlap.
    """

    state_class = CombinedState

    def __init__(self, *terms: Any) -> None:
        super().__init__()
        flat: list[RowAffineRule] = []
        for k, term in enumerate(terms):
            if isinstance(term, Combined):
                flat.extend(term.terms())
            elif isinstance(term, RowAffineRule) and type(term)._coefficients is not RowAffineRule._coefficients:
                flat.append(term)
            else:
                raise TypeError(f"Combined: terms must be torch rate rules from plasticity.torch "
                                f"(e.g. plasticity.torch.Hebbian(eta=1e-3)); got {_describe(term)} as term {k}")
        if not flat:
            raise ValueError("Combined: needs at least one term; got none")
        self.rules = torch.nn.ModuleList(flat)
        lo, hi = self.weight_bounds()
        if not bool(torch.all(torch.as_tensor(_detached(lo)) < torch.as_tensor(_detached(hi)))):
            raise ValueError(f"Combined: the terms' weight bounds do not overlap; got [w_min, w_max] = [{lo}, {hi}]")

    def terms(self) -> tuple[RowAffineRule, ...]:
        """The rules whose changes add up to this one's, in order."""
        return tuple(self.rules)

    @property
    def acts_on_neurons(self) -> bool:  # type: ignore[override]
        return any(t.acts_on_neurons for t in self.rules)

    def __repr__(self) -> str:
        return " + ".join(repr(t) for t in self.rules)

    def weight_bounds(self) -> tuple[Any, Any]:
        """The intersection of the terms' bounds (floats, or tensors where a term's are)."""
        lo, hi = -math.inf, math.inf
        for term in self.rules:
            t_lo, t_hi = term.weight_bounds()
            lo, hi = _bound(lo, t_lo, torch.maximum, max), _bound(hi, t_hi, torch.minimum, min)
        return lo, hi

    def check_shapes(self, n_post: int, n_pre: int) -> None:
        for term in self.rules:
            term.check_shapes(n_post, n_pre)

    def _initial_state(self, shape, dtype, device):
        return CombinedState(tuple(term._initial_state(shape, dtype, device) for term in self.rules))

    def _check_state(self, owner, where, state, W):
        n = len(self.rules)
        if not isinstance(state, CombinedState) or not isinstance(state.terms, tuple) or len(state.terms) != n:
            raise TypeError(f"{owner}: {where} must be the CombinedState of this rule's init_state ({n} terms); "
                            f"got {type(state).__name__}")
        tensors: list[torch.Tensor] = []
        for k, (term, st) in enumerate(zip(self.rules, state.terms)):
            tensors += term._check_state(owner, f"{where}.terms[{k}]", st, W)
        return tensors

    def _coefficients(self, y, state, dt):
        a = b = c = None
        new_states = []
        for term, st in zip(self.rules, state.terms):
            ta, tb, tc, new = term._coefficients(y, st, dt)
            a, b, c = _add(a, ta), _add(b, tb), _add(c, tc)
            new_states.append(new)
        return a, b, c, CombinedState(tuple(new_states))


def _describe(term: Any) -> str:
    from plasticity.rules._base import Rule

    if isinstance(term, type):
        return f"the class {term.__name__}"
    name = type(term).__name__
    if isinstance(term, Rule):
        if term.spiking:
            return f"the spiking rule {name} (spiking and rate rules cannot be summed)"
        return f"the numpy rule {name} (its twin is plasticity.torch.{name}; see TorchRule.from_numpy)"
    if isinstance(term, TorchRule):
        return f"{name} (its change is not row-affine)"
    return f"{name} {term!r}"


def _add(u: Any, v: Any) -> Any:
    if u is None:
        return v
    if v is None:
        return u
    return u + v


def _bound(u: Any, v: Any, tensor_op, float_op) -> Any:
    """``max``/``min`` of two bounds, each a float or a tensor (kept differentiable)."""
    if isinstance(u, torch.Tensor) and isinstance(v, torch.Tensor):
        return tensor_op(u, v)
    if isinstance(u, torch.Tensor) or isinstance(v, torch.Tensor):
        t, f = (u, v) if isinstance(u, torch.Tensor) else (v, u)
        if math.isinf(f) and (f < 0) == (float_op is max):
            return t  # the float bound is no bound
        return t.clamp(min=f) if float_op is max else t.clamp(max=f)
    return float_op(float(u), float(v))


def _detached(v: Any) -> Any:
    return v.detach().cpu() if isinstance(v, torch.Tensor) else v


def _is_zero(v: Any) -> bool:
    return isinstance(v, float) and v == 0.0
