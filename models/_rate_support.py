"""Support of :class:`models.rate.RateNetwork`: inputs, rule checks, the Dale matrix, numpy steps.

``python_chunk`` is the slow, plain-numpy path for a user's own rule object that is not a
registered rate rule: each step calls ``rule.update(W, pre, post, state, dt)``
with the same pre/post convention as the kernel (see :mod:`models._rate_kernels`).
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from plasticity._validation import check_finite_array
from plasticity.activations import ACTIVATIONS

_MAP, _EULER, _RK4 = 0, 1, 2


def check_rule(owner: str, rule: Any, name: str = "rule") -> bool:
    """Whether the fused kernel runs ``rule`` (True) or its own ``update`` each step (False).

    Registered rate rules and their combinations run in the kernel; a rule object of the
    user's own (any object with ``init_state`` and ``update``) runs through ``update``, with a
    warning that says so. Classes, spiking rules and unregistered ``RateRule`` subclasses raise.
    """
    from plasticity.rules import RateRule

    if rule is None:
        return False
    if isinstance(rule, type):
        raise TypeError(f"{owner}: {name} must be a rule instance; got the class {rule.__name__} "
                        f"(create it with its parameters, e.g. {rule.__name__}(eta=...))")
    if getattr(rule, "spiking", False):
        raise TypeError(f"{owner}: {name} must be a rate rule; got {type(rule).__name__}, a spiking rule")
    if isinstance(rule, RateRule):
        for term in rule.terms():
            if type(term).kind < 1:
                raise TypeError(f"{owner}: {name} {type(term).__name__} is a RateRule that is not registered in "
                                f"plasticity.rules.registry.RATE_RULES, so no kernel can run it")
        return True
    if not (callable(getattr(rule, "init_state", None)) and callable(getattr(rule, "update", None))):
        raise TypeError(f"{owner}: {name} must have init_state(n_post, n_pre) and update(W, pre, post, state, dt); "
                        f"got {type(rule).__name__}")
    warnings.warn(f"{owner}: {name} {type(rule).__name__} is not a registered rate rule; it runs through its "
                  f"update() method every step (plain Python, much slower than the fused kernel)",
                  RuntimeWarning, stacklevel=3)
    return False


def neuron_state(rule: Any, state: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(gain, threshold)`` views from the term of ``rule`` that acts on the neurons, or None."""
    if rule is None or not hasattr(rule, "terms"):
        return None
    for term, st in zip(rule.terms(), rule.term_states(state)):
        if term.acts_on_neurons:
            return st.gain, st.threshold
    return None


class InputSource:
    """External input ``I`` as float64 ``(m, n)`` blocks (``m = 1``: the same for every step)."""

    def __init__(self, owner: str, inputs: Any, steps: int, n: int, t0: float, dt_time: float) -> None:
        self.owner, self.n, self.t0, self.dt_time = owner, n, t0, dt_time
        self.fn, self.arr, self.max_chunk = None, None, steps
        if callable(inputs):
            self.fn = inputs
            self.max_chunk = max(1, 2**22 // n)  # evaluated blocks of at most 32 MB
            return
        if inputs is None:
            self.arr = np.zeros((1, n))
            return
        arr = np.asarray(inputs)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{owner}: inputs must be None, a number, an (n,) or (steps, n) array, "
                            f"or a callable t -> (n,); got {type(inputs).__name__} of dtype {arr.dtype}")
        if arr.ndim == 0 or arr.shape == (n,):
            arr = np.broadcast_to(arr, (1, n))
        elif arr.shape != (steps, n):
            raise ValueError(f"{owner}: inputs has shape {arr.shape}; expected () (a number), "
                             f"({n},) = (n,) or ({steps}, {n}) = (steps, n)")
        self.arr = np.ascontiguousarray(arr, dtype=np.float64)
        check_finite_array(owner, "inputs", self.arr)

    def chunk(self, k0: int, k1: int) -> np.ndarray:
        """The inputs of steps ``k0 .. k1-1`` (one row if constant)."""
        if self.fn is None:
            return self.arr if self.arr.shape[0] == 1 else self.arr[k0:k1]
        out = np.empty((k1 - k0, self.n))
        for k in range(k0, k1):
            t = self.t0 + k * self.dt_time
            v = np.asarray(self.fn(t))
            if v.dtype.kind not in "biuf" or v.shape not in ((self.n,), ()):
                raise ValueError(f"{self.owner}: inputs(t) must return a real array of shape ({self.n},) = (n,); "
                                 f"got shape {v.shape}, dtype {v.dtype} at t = {t:g}")
            out[k - k0] = v
        if not np.all(np.isfinite(out)):
            raise ValueError(f"{self.owner}: inputs(t) must be finite; got non-finite values for t in "
                             f"[{self.t0 + k0 * self.dt_time:g}, {self.t0 + (k1 - 1) * self.dt_time:g}]")
        return out


def dale_matrix(n: int, g: float, rng: np.random.Generator, e_fraction: float = 0.8) -> np.ndarray:
    """Balanced E/I matrix, signs by column (see ``RateNetwork.random``; Rajan & Abbott 2006)."""
    if n < 2:
        raise ValueError(f"RateNetwork.random: n must be an integer in [2, inf) when dale=True; got {n!r}")
    n_e = min(int(round(e_fraction * n)), n - 1)
    n_i = n - n_e
    W = np.zeros((n, n))
    if g == 0.0:
        return W
    s = g / math.sqrt(n)  # std of every entry about its column mean
    mean_i = s * n_e / n_i  # n_e * mean_e = n_i * mean_i: zero mean row sum
    W[:, :n_e] = rng.gamma(1.0, s, size=(n, n_e))
    inh = rng.gamma((mean_i / s) ** 2, s**2 / mean_i, size=(n, n_i))
    inh *= (W[:, :n_e].sum(axis=1) / inh.sum(axis=1))[:, None]  # exact zero row sums
    W[:, n_e:] = -inh
    return W


def _check(x: np.ndarray, bound: float) -> int:
    if not np.all(np.isfinite(x)):
        return 1
    return 2 if np.abs(x).max() > bound else 0


def python_chunk(net, rule, state, mode, I, x, bound, wbound, k0, nsteps, rec_every, rec_x, rec_r, p):
    """``nsteps`` steps in numpy with ``rule.update``; same contract as ``run_chunk``."""
    W, dt, tau = net.W, net.dt, net.tau
    phi = ACTIVATIONS[net.activation].value

    def field(z, Ik):  # the flow's right-hand side with W frozen
        return (-z + W @ phi(z).astype(W.dtype) + Ik) / tau

    for s in range(nsteps):
        Ik = I[s] if I.shape[0] > 1 else I[0]
        if mode == _MAP:
            xn = phi(W @ x.astype(W.dtype) + Ik)
            code = _check(xn, bound)
            if code:
                return code, s, p
            rule.update(W, x.copy(), xn, state, 1.0)
        else:
            if mode == _EULER:
                xn = x + dt * field(x, Ik)
            else:
                k1 = field(x, Ik)
                k2 = field(x + 0.5 * dt * k1, Ik)
                k3 = field(x + 0.5 * dt * k2, Ik)
                k4 = field(x + dt * k3, Ik)
                xn = x + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
            code = _check(xn, bound)
            if code:
                return code, s, p
            r = phi(x)
            rule.update(W, r, r.copy(), state, dt)
        m = np.abs(W).max()  # O(n^2), but so is the rule's own update on this slow path
        if not np.isfinite(m):
            return 4, s, p
        if m > wbound:
            return 3, s, p
        x[:] = xn
        if (k0 + s + 1) % rec_every == 0:
            rec_x[p] = x
            if mode != _MAP:
                rec_r[p] = phi(x)
            p += 1
    return 0, nsteps, p
