"""A trial of :mod:`models.rnn` networks step by step, and the frozen dynamics of its end (re-exported there).

:func:`effective_trial` runs an :class:`~models.rnn.RNN` or :class:`~models.rnn.PlasticRNN` as its
``forward`` does, keeping the per-step plastic component (Hebb trace) and intrinsic gain as the
spectral radius of the effective recurrent weights; :func:`frozen_system` is the autonomous map with
the weights, gain and threshold frozen as they are at some step (e.g. the end of the trial), for
:func:`plasticity.metrics.max_lyapunov` and :func:`plasticity.metrics.fixed_points`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from plasticity.activations import ACTIVATIONS

__all__ = ["effective_trial", "frozen_system", "trial_stability"]


def effective_trial(model: Any, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run ``model`` over ``inputs`` ``(B, T, n_in)`` in float64 as its ``forward`` does, stepping the
    plastic component (Hebb trace) to record the spectral radius of the effective weights at every step.

    The effective weights of step ``t`` are ``diag(gain(t)) (W_hh + A * Hebb(t))``: the matrix that
    multiplies ``h_t`` inside the activation at the next step (``Hebb(0) = 0``, gain 1; ``W_hh``
    throughout for a plain :class:`~models.rnn.RNN`). Returns a dict with ``hidden`` ``(B, T, n)``, ``outputs``
    ``(B, T, n_out)``, ``radius`` ``(B, T + 1)`` (entry ``t`` after ``t`` steps; NaN once a matrix is
    not finite), and the end-of-trial ``W`` ``(B, n, n)`` (``W_hh + A * Hebb``), ``gain`` and
    ``threshold`` ``(B, n)`` (for :func:`frozen_system`).
    """
    d = torch.float64
    with torch.no_grad():
        x = inputs.to(d)
        B, T, _ = x.shape
        n = model.n_hidden
        W_hh, W_in, b = model.W_hh.to(d), model.W_in.to(d), model.b.to(d)
        phi = model._phi
        a = model.alpha
        drive = x @ W_in.T + b
        h = x.new_zeros(B, n)
        gain, threshold = x.new_ones(B, n), x.new_zeros(B, n)
        plastic = hasattr(model, "plasticity_coef")  # a PlasticRNN (duck-typed: models.rnn imports this module)
        if plastic:
            A, rule = model.plasticity_coef.to(d), model.rule
            hebb = x.new_zeros(B, n, n)
            state = rule.init_state(n, n, batch=(B,), dtype=d)
            intrinsic = "gain" in state._fields and "threshold" in state._fields
        W = W_hh.expand(B, n, n)
        radius = [_radius(W_hh).expand(B)]
        hs = []
        for t in range(T):
            z = drive[:, t] + torch.einsum("bij,bj->bi", W, h)
            if plastic and intrinsic:
                z = state.gain * z - state.threshold
            h_new = (1.0 - a) * h + a * phi(z)
            if plastic:
                hebb, state = rule.update(hebb, h, h_new, state, model.rule_dt)
                W = W_hh + A * hebb
                if intrinsic:
                    gain, threshold = state.gain, state.threshold
                radius.append(_radius(gain[:, :, None] * W))
            else:
                radius.append(radius[0])
            h = h_new
            hs.append(h)
        hidden = torch.stack(hs, dim=1)
        outputs = hidden @ model.W_out.to(d).T + model.b_out.to(d)
        return {"hidden": hidden, "outputs": outputs, "radius": torch.stack(radius, dim=1),
                "W": W.clone(), "gain": gain.clone(), "threshold": threshold.clone()}


def _radius(M: torch.Tensor) -> torch.Tensor:
    """Spectral radius of each matrix in ``M`` ``(..., n, n)``; NaN for one with a non-finite entry."""
    ok = torch.isfinite(M).all(dim=-1).all(dim=-1)
    r = torch.linalg.eigvals(torch.where(ok[..., None, None], M, torch.zeros_like(M))).abs().amax(dim=-1)
    return torch.where(ok, r, torch.full_like(r, math.nan))


def frozen_system(model: Any, W: Any = None, gain: Any = None, threshold: Any = None):
    """The autonomous map ``h <- (1 - alpha) h + alpha phi(gain (W h + b) - threshold)`` (float64 numpy).

    ``W`` defaults to ``W_hh``, ``gain`` to 1, ``threshold`` to 0 (then it is ``model.as_system()``);
    pass the end of a trial from :func:`effective_trial` to freeze a :class:`~models.rnn.PlasticRNN` there, gain
    and threshold of intrinsic plasticity included. Returns a :class:`plasticity.metrics.Map` with the
    analytic Jacobian ``(1 - alpha) I + alpha diag(phi'(.) gain) W`` and its matrix-free tangent map.
    """
    from plasticity.metrics import Map

    def arr(v, default):
        v = default if v is None else v
        return v.detach().double().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, dtype=np.float64)

    n = model.n_hidden
    Wn, bn, g, th = arr(W, model.W_hh), arr(None, model.b), arr(gain, np.ones(n)), arr(threshold, np.zeros(n))
    a, act = model.alpha, ACTIVATIONS[model.activation]
    phi, dphi = act.value, act.derivative

    def pre(h):
        return g * (Wn @ h + bn) - th

    def step(h):
        return (1.0 - a) * h + a * phi(pre(h))

    def jacobian(h):
        return (1.0 - a) * np.eye(n) + a * (dphi(pre(h)) * g)[:, None] * Wn

    def jvp(h, V):
        return (1.0 - a) * V + a * (dphi(pre(h)) * g)[:, None] * (Wn @ V)

    return Map(step, jacobian, jvp=jvp, dim=n)


def trial_stability(model: Any, inputs: torch.Tensor, trials: int, lyap_steps: int = 400,
                    lyap_transient: int = 200) -> dict[str, Any]:
    """Stability of a trained network over held-out trials: effective radius, frozen-dynamics exponents, variance.

    Runs :func:`effective_trial` on ``inputs`` ``(B, T, n_in)`` and, for each of the first ``trials``
    trials (in [1, B]), the maximal Lyapunov exponent (per step) of the autonomous map of
    :func:`frozen_system` with the weights of the trial start (``W_hh``, gain 1, threshold 0) and
    of its end (``W_hh + A * Hebb(T)``, gain and threshold included), each started from the trial's
    final state (:func:`plasticity.metrics.max_lyapunov`, ``lyap_steps`` steps after
    ``lyap_transient``), and the activity variance (mean over units of the variance over time,
    :func:`plasticity.metrics.activity_variance`). A trial whose final state is not finite gets NaN.

    Returns
    -------
    dict
        ``outputs`` ``(B, T, n_out)`` and ``hidden`` ``(B, T, n)`` (float64 tensors, as
        :func:`effective_trial`), ``finite`` (bool: every output finite), and for the first
        ``trials`` trials the numpy arrays ``radius`` ``(trials, T + 1)``, ``lyapunov_start``,
        ``lyapunov_end`` and ``activity_variance`` ``(trials,)``.
    """
    from plasticity._validation import Interval, check_number
    from plasticity.metrics import activity_variance, max_lyapunov

    check_number("trial_stability", "trials", trials, Interval(1, inputs.shape[0], closed="both", integer=True))
    trial = effective_trial(model, inputs)
    finite = bool(torch.isfinite(trial["outputs"]).all())
    start_sys = frozen_system(model)
    start, end, variance = (np.full(trials, math.nan) for _ in range(3))
    for i in range(trials):
        x0 = trial["hidden"][i, -1].numpy()
        if np.all(np.isfinite(x0)):
            end_sys = frozen_system(model, trial["W"][i], trial["gain"][i], trial["threshold"][i])
            start[i] = max_lyapunov(start_sys, x0, steps=lyap_steps, transient=lyap_transient)
            end[i] = max_lyapunov(end_sys, x0, steps=lyap_steps, transient=lyap_transient)
        if finite:
            variance[i] = activity_variance(trial["hidden"][i].numpy())
    return {"outputs": trial["outputs"], "hidden": trial["hidden"], "finite": finite,
            "radius": trial["radius"][:trials].numpy(), "lyapunov_start": start, "lyapunov_end": end,
            "activity_variance": variance}
