"""What :class:`models.rnn.RNN` and :class:`models.rnn.PlasticRNN` share: parameters, input checks,
read-out and the autonomous (frozen-weight) system; and the helpers that read a rule's state.

Its own module so that :mod:`models._rnn_train`, :mod:`models._rnn_plastic` and :mod:`models.rnn`
import it without importing each other.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from plasticity._validation import (
    Interval,
    as_rng,
    check_choice,
    check_number,
    nonnegative,
)
from plasticity.activations import ACTIVATIONS

__all__ = ["_LeakyRNNBase"]

_ACTIVATIONS = ("tanh", "relu")  # the entries of plasticity.activations.ACTIVATIONS an RNN takes
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
        self._phi = getattr(torch, ACTIVATIONS[activation].torch_name.split(".")[1])  # torch.tanh / torch.relu

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
        a, act = self.alpha, ACTIVATIONS[self.activation]
        phi, dphi = act.value, act.derivative  # numpy arrays and tensors alike
        if backend == "numpy":
            Wn, In, eye = W.numpy(), I.numpy(), np.eye(self.n_hidden)

            def step(h):
                return (1.0 - a) * h + a * phi(Wn @ h + In)

            def jacobian(h):
                return (1.0 - a) * eye + a * dphi(Wn @ h + In)[:, None] * Wn

        else:
            eye_t = torch.eye(self.n_hidden, dtype=torch.float64)

            def step(h):
                return (1.0 - a) * h + a * phi(W.to(h) @ h + I.to(h))

            def jacobian(h):
                return (1.0 - a) * eye_t.to(h) + a * dphi(W.to(h) @ h + I.to(h))[:, None] * W.to(h)

        return Map(step, jacobian, dim=self.n_hidden)

    def _effective_weights(self, hebb: Any) -> torch.Tensor:
        if hebb is not None:
            raise ValueError(f"{type(self).__name__}.as_system: hebb is for PlasticRNN only; got {type(hebb).__name__}")
        return self.W_hh


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
