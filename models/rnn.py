"""Gradient-trained recurrent networks in torch: a leaky (continuous-time) RNN and a plastic RNN.

Both take ``inputs`` of shape ``(batch, T, n_in)`` (batch first, like ``batch_first=True``
in ``torch.nn.RNN``) and return ``outputs`` of shape ``(batch, T, n_out)``; with
``return_hidden=True`` they return ``(outputs, hidden)`` with ``hidden`` ``(batch, T, n_hidden)``.

:class:`RNN`, the Euler discretisation of ``tau dh/dt = -h + phi(W_hh h + W_in u + b)`` with
``alpha = dt / tau`` (Song, Yang & Wang 2016, PLoS Comput Biol 12:e1004792)::

    h_t = (1 - alpha) h_{t-1} + alpha phi(W_hh h_{t-1} + W_in u_t + b),    y_t = W_out h_t + b_out

``alpha = 1`` is the discrete Elman RNN of ``torch.nn.RNN``.

:class:`PlasticRNN`, differentiable plasticity (Miconi, Clune & Stanley 2018, ICML, "Differentiable
plasticity: training plastic neural networks with backpropagation"): the recurrent weights are a
trained part plus a fast plastic part that a :mod:`plasticity.torch` rule changes within each
trial, gated by learned plasticity coefficients ``A`` (Miconi's alpha; one per synapse or one
global)::

    W_eff(t) = W_hh + A * Hebb(t)                   (elementwise; Hebb = 0 at the trial start)
    h_t      = (1 - alpha) h_{t-1} + alpha phi(gain * (W_eff(t-1) h_{t-1} + W_in u_t + b) - threshold)
    Hebb(t), state = rule.update(Hebb(t-1), pre=h_{t-1}, post=h_t, state, dt=rule_dt)

``gain`` and ``threshold`` are 1 and 0 unless the rule is intrinsic plasticity, whose state
they are. Everything (``W_hh``, ``A``, and any ``torch.nn.Parameter`` of the rule) is trained
by backpropagation through time. Training: :func:`train` (in :mod:`models._rnn_train`).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from plasticity._validation import Interval, as_rng, check_choice, check_number, nonnegative, positive
from models._rnn_train import TrainingHistory, train

__all__ = ["RNN", "PlasticRNN", "train", "TrainingHistory"]

_ACTIVATIONS = ("tanh", "relu")
_count = Interval(1, math.inf, closed="left", integer=True)


class _LeakyRNNBase(torch.nn.Module):
    """Parameters, input checks, read-out and the autonomous system shared by both networks."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int, activation: str, alpha: float, g: float, seed: Any) -> None:
        super().__init__()
        owner = type(self).__name__
        for name, v in (("n_in", n_in), ("n_hidden", n_hidden), ("n_out", n_out)):
            check_number(owner, name, v, _count)
        self.activation = check_choice(owner, "activation", activation, _ACTIVATIONS)
        self.alpha = float(check_number(owner, "alpha", alpha, Interval(0.0, 1.0, closed="right")))
        g = float(check_number(owner, "g", g, nonnegative))
        self.n_in, self.n_hidden, self.n_out = int(n_in), int(n_hidden), int(n_out)
        gen = torch.Generator().manual_seed(int(as_rng(seed).integers(2**62)))

        def normal(shape: tuple[int, ...], std: float) -> torch.nn.Parameter:
            return torch.nn.Parameter(std * torch.randn(shape, generator=gen))

        self.W_in = normal((n_hidden, n_in), 1.0 / math.sqrt(n_in))
        self.W_hh = normal((n_hidden, n_hidden), g / math.sqrt(n_hidden))  # W[post, pre], variance g^2/n
        self.b = torch.nn.Parameter(torch.zeros(n_hidden))
        self.W_out = normal((n_out, n_hidden), 1.0 / math.sqrt(n_hidden))
        self.b_out = torch.nn.Parameter(torch.zeros(n_out))
        self._phi = torch.tanh if activation == "tanh" else torch.relu

    def _check_inputs(self, inputs: Any, h0: Any) -> torch.Tensor:
        owner = f"{type(self).__name__}.forward"
        if not isinstance(inputs, torch.Tensor):
            raise TypeError(f"{owner}: inputs must be a torch.Tensor of shape (batch, T, {self.n_in}); got {type(inputs).__name__}")
        if inputs.ndim != 3 or inputs.shape[-1] != self.n_in:
            raise ValueError(
                f"{owner}: inputs has shape {tuple(inputs.shape)}; expected (batch, T, {self.n_in}) = (batch, T, n_in) (batch first)"
            )
        if not inputs.is_floating_point():
            raise TypeError(f"{owner}: inputs must have a floating dtype; got {inputs.dtype}")
        if inputs.dtype != self.W_in.dtype:
            raise TypeError(f"{owner}: inputs must have the dtype of the model's parameters, {self.W_in.dtype}; got "
                            f"{inputs.dtype} (cast with inputs.to({self.W_in.dtype}), or the model with .to({inputs.dtype}))")
        B = inputs.shape[0]
        if h0 is None:
            return inputs.new_zeros(B, self.n_hidden)
        if not isinstance(h0, torch.Tensor) or tuple(h0.shape) != (B, self.n_hidden):
            raise ValueError(f"{owner}: h0 has shape {tuple(getattr(h0, 'shape', ()))}; expected ({B}, {self.n_hidden}) = (batch, n_hidden)")
        if h0.dtype != inputs.dtype:
            raise TypeError(f"{owner}: h0 must have the dtype of inputs, {inputs.dtype}; got {h0.dtype}")
        return h0

    def _leak(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.alpha == 1.0:
            return self._phi(z)
        return (1.0 - self.alpha) * h + self.alpha * self._phi(z)

    def _finish(self, hs: list[torch.Tensor], return_hidden: bool, retain_hidden_grad: bool):
        if retain_hidden_grad:
            for h in hs:
                if h.requires_grad:
                    h.retain_grad()
        # the tensors that carry the recurrence: h.grad after backward is the total dL/dh_t
        self.hidden_states = hs if retain_hidden_grad else None
        hidden = torch.stack(hs, dim=1)
        outputs = F.linear(hidden, self.W_out, self.b_out)
        return (outputs, hidden) if return_hidden else outputs

    def recurrent_weights(self) -> torch.Tensor:
        """The trained recurrent matrix ``W_hh`` (``W[post, pre]``)."""
        return self.W_hh

    def as_system(self, inputs: Any = None, backend: str = "numpy", hebb: Any = None):
        """The autonomous (frozen-weight) dynamics ``h -> (1 - alpha) h + alpha phi(W h + W_in u + b)``.

        Parameters
        ----------
        inputs : (n_in,) array_like, optional
            Constant input ``u``; default zero (the autonomous dynamics).
        backend : {"numpy", "torch"}
            ``"numpy"``: float64 arrays in and out; ``"torch"``: float64 tensors.
        hebb : (n_hidden, n_hidden) array_like, optional
            :class:`PlasticRNN` only: a frozen plastic component, so ``W = W_hh + A * hebb``
            (e.g. ``model.last_hebb[k]``, the end of trial ``k``); default zero.

        Returns
        -------
        plasticity.metrics.Map
            With the analytic Jacobian ``(1 - alpha) I + alpha diag(phi'(z)) W``. The weights
            are frozen: no plasticity acts, and an intrinsic-plasticity gain and threshold are
            not applied (they are per-trial state, not trained parameters).
        """
        from plasticity.metrics import Map

        owner = f"{type(self).__name__}.as_system"
        check_choice(owner, "backend", backend, ("numpy", "torch"))
        with torch.no_grad():
            W = self._effective_weights(hebb).detach().to("cpu", torch.float64)
            I = self.b.detach().to("cpu", torch.float64)
            if inputs is not None:
                u = torch.as_tensor(np.asarray(inputs, dtype=np.float64))
                if tuple(u.shape) != (self.n_in,):
                    raise ValueError(f"{owner}: inputs has shape {tuple(u.shape)}; expected ({self.n_in},) = (n_in,)")
                I = I + self.W_in.detach().to("cpu", torch.float64) @ u
        a, relu = self.alpha, self.activation == "relu"
        if backend == "numpy":
            Wn, In, eye = W.numpy(), I.numpy(), np.eye(self.n_hidden)
            phi = (lambda z: np.maximum(z, 0.0)) if relu else np.tanh
            dphi = (lambda z: (z > 0).astype(np.float64)) if relu else (lambda z: 1.0 - np.tanh(z) ** 2)

            def step(h):
                return (1.0 - a) * h + a * phi(Wn @ h + In)

            def jacobian(h):
                return (1.0 - a) * eye + a * dphi(Wn @ h + In)[:, None] * Wn

        else:
            eye_t = torch.eye(self.n_hidden, dtype=torch.float64)
            phi_t = torch.relu if relu else torch.tanh
            dphi_t = (lambda z: (z > 0).to(z.dtype)) if relu else (lambda z: 1.0 - torch.tanh(z) ** 2)

            def step(h):
                return (1.0 - a) * h + a * phi_t(W.to(h) @ h + I.to(h))

            def jacobian(h):
                return (1.0 - a) * eye_t.to(h) + a * dphi_t(W.to(h) @ h + I.to(h))[:, None] * W.to(h)

        return Map(step, jacobian, dim=self.n_hidden)

    def _effective_weights(self, hebb: Any) -> torch.Tensor:
        if hebb is not None:
            raise ValueError(f"{type(self).__name__}.as_system: hebb is for PlasticRNN only; got {type(hebb).__name__}")
        return self.W_hh


class RNN(_LeakyRNNBase):
    """Leaky (continuous-time, Euler-discretised) RNN; see the module docstring for the equation.

    Parameters
    ----------
    n_in, n_hidden, n_out : int
        Sizes, each in [1, inf).
    activation : {"tanh", "relu"}
    alpha : float
        ``dt / tau`` in (0, 1]; 1 gives the discrete RNN of ``torch.nn.RNN``.
    g : float
        Gain of the initial recurrent weights, ``W_hh ~ N(0, g^2 / n_hidden)``, in [0, inf).
        ``W_in ~ N(0, 1/n_in)``, ``W_out ~ N(0, 1/n_hidden)``, biases 0.
    seed : int or numpy.random.Generator, optional
        Initial weights.
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int, activation: str = "tanh", alpha: float = 0.2,
                 g: float = 1.0, seed: Any = None) -> None:
        super().__init__(n_in, n_hidden, n_out, activation, alpha, g, seed)

    def forward(self, inputs: torch.Tensor, h0: torch.Tensor | None = None, return_hidden: bool = False,
                retain_hidden_grad: bool = False):
        """Run the network over ``inputs`` ``(batch, T, n_in)``; returns ``(batch, T, n_out)``.

        ``h0`` ``(batch, n_hidden)`` defaults to zeros. ``retain_hidden_grad=True`` keeps the
        per-step states in ``self.hidden_states`` with ``retain_grad()``, so that after
        ``backward`` ``self.hidden_states[t].grad`` is ``dL/dh_t`` (gradient flow through time).
        """
        h = self._check_inputs(inputs, h0)
        drive = F.linear(inputs, self.W_in, self.b)  # the input term of every step in one product
        W_t = self.W_hh.t()
        hs = []
        for t in range(inputs.shape[1]):
            h = self._leak(h, torch.addmm(drive[:, t], h, W_t))
            hs.append(h)
        return self._finish(hs, return_hidden, retain_hidden_grad)


class PlasticRNN(_LeakyRNNBase):
    """RNN with a fast plastic recurrent component (differentiable plasticity, Miconi et al. 2018).

    Parameters
    ----------
    n_in, n_hidden, n_out, activation, alpha, g, seed
        As in :class:`RNN`.
    rule : plasticity.torch rule, optional
        Drives ``Hebb`` (``W[post, pre]``: pre = ``h_{t-1}``, post = ``h_t``). Default: a
        learnable Hebbian rule, ``Hebbian(eta=Parameter(0.1), decay=Parameter(0.1))``, Miconi's
        decaying Hebbian trace. Its Parameters are trained with the network.
    plastic : {"per-synapse", "global"}
        One learned plasticity coefficient per synapse (``(n_hidden, n_hidden)``) or one for all.
    plasticity_init : float
        Initial plasticity coefficient(s); 0 makes the network start as a plain :class:`RNN`.
    rule_dt : float
        Model time of one step for the rule, in (0, inf) (its ``eta`` is per unit time).

    After a forward pass ``self.last_hebb`` holds the final plastic component (detached,
    ``(batch, n_hidden, n_hidden)``) and ``self.last_rule_state`` the rule's final state.
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int, rule: Any = None, plastic: str = "per-synapse",
                 activation: str = "tanh", alpha: float = 0.2, g: float = 1.0, plasticity_init: float = 0.01,
                 rule_dt: float = 1.0, seed: Any = None) -> None:
        super().__init__(n_in, n_hidden, n_out, activation, alpha, g, seed)
        from plasticity.torch import Hebbian, TorchRule

        owner = "PlasticRNN"
        self.plastic = check_choice(owner, "plastic", plastic, ("per-synapse", "global"))
        init = float(check_number(owner, "plasticity_init", plasticity_init))
        self.rule_dt = float(check_number(owner, "rule_dt", rule_dt, positive))
        if rule is None:
            rule = Hebbian(eta=torch.nn.Parameter(torch.tensor(0.1)), decay=torch.nn.Parameter(torch.tensor(0.1)))
        if not isinstance(rule, TorchRule):
            kind = f"{type(rule).__module__}.{type(rule).__name__}"
            raise TypeError(
                f"{owner}.rule must be a differentiable rule from plasticity.torch (e.g. plasticity.torch.BCM); got {kind}"
            )
        rule.check_shapes(self.n_hidden, self.n_hidden)
        self.rule = rule
        shape = (self.n_hidden, self.n_hidden) if self.plastic == "per-synapse" else ()
        self.plasticity_coef = torch.nn.Parameter(torch.full(shape, init))
        self.last_hebb = None
        self.last_rule_state = None

    def forward(self, inputs: torch.Tensor, h0: torch.Tensor | None = None, return_hidden: bool = False,
                retain_hidden_grad: bool = False):
        """As :meth:`RNN.forward`; the plastic component starts at zero in every call (trial)."""
        h = self._check_inputs(inputs, h0)
        B, n = inputs.shape[0], self.n_hidden
        drive = F.linear(inputs, self.W_in, self.b)
        W_t, A, rule = self.W_hh.t(), self.plasticity_coef, self.rule
        hebb = inputs.new_zeros(B, n, n)
        state = rule.init_state(n, n, batch=(B,), dtype=inputs.dtype, device=inputs.device)
        intrinsic = _neuron_state(rule, state) is not None
        rule._check_step(hebb, h, h, state, self.rule_dt)  # shapes are fixed from here on
        hs = []
        for t in range(inputs.shape[1]):
            z = torch.addmm(drive[:, t], h, W_t)
            # batched matrix-vector products as multiply-and-sum: torch.bmm with a vector
            # operand is 4x slower on CPU (measured, torch 2.13)
            if self.plastic == "global":
                z = z + A * torch.linalg.vecdot(hebb, h.unsqueeze(-2))
            else:
                z = z + torch.linalg.vecdot(A * hebb, h.unsqueeze(-2))
            if intrinsic:  # intrinsic plasticity, alone or as a term of a Combined rule
                ip = _neuron_state(rule, state)
                z = ip.gain * z - ip.threshold
            h_new = self._leak(h, z)
            hebb, state = rule._step(hebb, h, h_new, state, self.rule_dt)
            h = h_new
            hs.append(h)
        self.last_hebb = hebb.detach()
        self.last_rule_state = _detached(state)
        return self._finish(hs, return_hidden, retain_hidden_grad)

    def _effective_weights(self, hebb: Any) -> torch.Tensor:
        if hebb is None:
            return self.W_hh
        hebb = torch.as_tensor(np.asarray(hebb.detach().cpu() if isinstance(hebb, torch.Tensor) else hebb, dtype=np.float64))
        if tuple(hebb.shape) != (self.n_hidden, self.n_hidden):
            raise ValueError(
                f"PlasticRNN.as_system: hebb has shape {tuple(hebb.shape)}; expected ({self.n_hidden}, {self.n_hidden}) = (n_hidden, n_hidden)"
            )
        return self.W_hh.double() + self.plasticity_coef.double() * hebb


def _neuron_state(rule: Any, state: Any) -> Any:
    """The state (with ``gain`` and ``threshold``) of the rule or term that acts on the neurons, or None."""
    if hasattr(rule, "terms") and hasattr(state, "terms"):
        for term, st in zip(rule.terms(), state.terms):
            if getattr(term, "acts_on_neurons", False):
                return st
        return None
    return state if getattr(rule, "acts_on_neurons", False) else None


def _detached(state: Any) -> Any:
    """A rule state (a NamedTuple of tensors, or of the terms' states) with every tensor detached."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple):
        items = [_detached(s) for s in state]
        return type(state)(*items) if hasattr(state, "_fields") else tuple(items)
    return state


# a trial step by step (per-step Hebb traces, effective radius) and the frozen dynamics of its end
from models._rnn_trial import effective_trial, frozen_system  # noqa: E402  (uses the classes above)

__all__ += ["effective_trial", "frozen_system"]
