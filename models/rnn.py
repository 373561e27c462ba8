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
by backpropagation through time. Training: :func:`train` (in :mod:`models._rnn_train`). On CPU,
with a row-affine rule without weight bounds, a trial of :class:`PlasticRNN` is one autograd
function (:mod:`models._rnn_plastic`): a fused pass over the ``(batch, n, n)`` trace per step
forward, a hand-written backward that recomputes the trace from checkpoints and keeps
``O(T batch n)`` activations; its gradients equal autograd's to rounding.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from models._rnn_base import _detached, _LeakyRNNBase, _neuron_state
from models._rnn_plastic import PlasticScan, _flatten, supports_scan
from models._rnn_train import TrainingHistory, train
from models._rnn_trial import effective_trial, frozen_system, trial_stability
from plasticity._validation import check_choice, check_number, positive

__all__ = ["RNN", "PlasticRNN", "train", "TrainingHistory", "effective_trial", "frozen_system", "trial_stability"]


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
        """As :meth:`RNN.forward`; the plastic component starts at zero in every call (trial).

        On CPU with a row-affine rule without weight bounds (every rule of :mod:`plasticity.torch`
        but :class:`~plasticity.torch.PolynomialRule` and clipped weights) the trial runs as one
        :class:`models._rnn_plastic.PlasticScan`: a fused pass over the plastic trace per step
        and a hand-written backward that keeps ``O(T B n)`` activations and ``2 sqrt(T)`` traces.
        Otherwise, and with ``retain_hidden_grad=True`` (per-step states that keep their
        gradients), it is the step-by-step autograd loop (:meth:`_forward_autograd`); the two
        agree to rounding, values and gradients.
        """
        h = self._check_inputs(inputs, h0)
        if retain_hidden_grad or not supports_scan(self, inputs):
            return self._forward_autograd(inputs, h, return_hidden, retain_hidden_grad)
        B, n = inputs.shape[0], self.n_hidden
        drive = F.linear(inputs, self.W_in, self.b)
        state = self.rule.init_state(n, n, batch=(B,), dtype=inputs.dtype, device=inputs.device)
        self.rule._check_step(inputs.new_zeros(1, n, n), h[:1], h[:1], _first(state), self.rule_dt)
        leaves, build = _flatten(state)
        tensors = [t for t in self.rule._tensors() if t.requires_grad]
        hidden, hebb, *final = PlasticScan.apply(self, drive, h, self.W_hh, self.plasticity_coef, (build, len(leaves)),
                                                 *leaves, *tensors)
        self.last_hebb = hebb
        self.last_rule_state = build(iter(final))
        self.hidden_states = None
        outputs = F.linear(hidden, self.W_out, self.b_out)
        return (outputs, hidden) if return_hidden else outputs

    def _forward_autograd(self, inputs: torch.Tensor, h: torch.Tensor, return_hidden: bool = False,
                          retain_hidden_grad: bool = False):
        """The trial step by step under autograd (the reference for :class:`PlasticScan`)."""
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


def _first(state):
    """The first batch row of a (nested) rule state, for the shape checks of one step."""
    if isinstance(state, torch.Tensor):
        return state[:1]
    items = [_first(v) for v in state]
    return type(state)(*items) if hasattr(state, "_fields") else tuple(items)
