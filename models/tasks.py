"""Tasks for gradient-trained RNNs: infinite, seeded generators of ``(inputs, targets)`` batches.

Every generator yields torch tensors (``float32`` unless ``dtype`` says otherwise), batch
first: ``inputs`` of shape ``(batch_size, T, n_in)`` and ``targets`` of ``(batch_size, T, n_out)``
(``classification_2d`` without ``T`` yields ``(batch_size, 2)`` and ``(batch_size, 1)``, for
feedforward networks). The numbers are drawn with numpy from ``seed`` (an int or a
``numpy.random.Generator``): the same seed gives the same batches on every platform.

- :func:`flipflop`: the 3-bit flip-flop of Sussillo & Barak (2013) Neural Comput 25:626.
- :func:`delayed_match`: delayed match-to-sample (e.g. Miller, Erickson & Desimone 1996,
  J Neurosci 16:5154, as a rate-network task).
- :func:`classification_2d`: two-class toy data in the plane (moons, circles, xor).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from plasticity._validation import Interval, as_rng, check_choice, check_number, nonnegative

__all__ = ["flipflop", "delayed_match", "classification_2d", "flipflop_accuracy", "sign_accuracy"]

_count = Interval(1, math.inf, closed="left", integer=True)
_probability = Interval(0.0, 1.0, closed="right")


def flipflop(
    batch_size: int, T: int, n_bits: int = 3, p_flip: float = 0.05, seed: Any = None, dtype: torch.dtype = torch.float32
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The n-bit flip-flop task (Sussillo & Barak 2013).

    Each input channel carries brief pulses of +1 or -1 (at each step a pulse occurs with
    probability ``p_flip``, its sign a fair coin); the target of channel ``k`` is the sign of
    the last pulse on channel ``k`` so far, and 0 before the first pulse. A network that
    solves it has (at least) ``2**n_bits`` stable fixed points, one per memory state.

    Yields
    ------
    inputs, targets : tensors of shape ``(batch_size, T, n_bits)``
    """
    owner = "flipflop"
    for name, v in (("batch_size", batch_size), ("T", T), ("n_bits", n_bits)):
        check_number(owner, name, v, _count)
    check_number(owner, "p_flip", p_flip, _probability)
    rng = as_rng(seed)
    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:  # arguments checked at the call, not at next()
        while True:
            pulses = rng.random((batch_size, T, n_bits)) < p_flip
            signs = np.where(rng.random((batch_size, T, n_bits)) < 0.5, -1.0, 1.0)
            inputs = np.where(pulses, signs, 0.0)
            targets = np.empty_like(inputs)
            held = np.zeros((batch_size, n_bits))
            for t in range(T):
                held = np.where(pulses[:, t], inputs[:, t], held)
                targets[:, t] = held
            yield torch.as_tensor(inputs, dtype=dtype), torch.as_tensor(targets, dtype=dtype)

    return batches()


def delayed_match(
    batch_size: int,
    n_stimuli: int = 4,
    t_stimulus: int = 5,
    t_delay: int = 10,
    t_response: int = 5,
    p_match: float = 0.5,
    seed: Any = None,
    dtype: torch.dtype = torch.float32,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Delayed match-to-sample: is the test stimulus the same as the sample shown before the delay?

    Timeline (steps): sample ``[0, t_stimulus)``, delay ``t_delay``, test ``t_stimulus`` steps,
    response window ``t_response``; ``T = 2 t_stimulus + t_delay + t_response``. Stimuli are
    one-hot on ``n_stimuli`` input channels. With probability ``p_match`` the test equals the
    sample, else it is one of the others (uniformly). The target is +1 (match) or -1
    (non-match) during the response window and 0 elsewhere.

    Yields
    ------
    inputs : ``(batch_size, T, n_stimuli)``
    targets : ``(batch_size, T, 1)``
    """
    owner = "delayed_match"
    for name, v in (("batch_size", batch_size), ("t_stimulus", t_stimulus), ("t_response", t_response)):
        check_number(owner, name, v, _count)
    check_number(owner, "n_stimuli", n_stimuli, Interval(2, math.inf, closed="left", integer=True))
    check_number(owner, "t_delay", t_delay, Interval(0, math.inf, closed="left", integer=True))
    check_number(owner, "p_match", p_match, Interval(0.0, 1.0, closed="both"))
    rng = as_rng(seed)
    T = 2 * t_stimulus + t_delay + t_response
    test_on = t_stimulus + t_delay
    rows = np.arange(batch_size)
    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:  # arguments checked at the call, not at next()
        while True:
            sample = rng.integers(n_stimuli, size=batch_size)
            match = rng.random(batch_size) < p_match
            other = (sample + rng.integers(1, n_stimuli, size=batch_size)) % n_stimuli  # never the sample
            test = np.where(match, sample, other)
            inputs = np.zeros((batch_size, T, n_stimuli))
            inputs[rows, :t_stimulus, sample] = 1.0  # rows broadcast against the time slice
            inputs[rows, test_on : test_on + t_stimulus, test] = 1.0
            targets = np.zeros((batch_size, T, 1))
            targets[:, T - t_response :, 0] = np.where(match, 1.0, -1.0)[:, None]
            yield torch.as_tensor(inputs, dtype=dtype), torch.as_tensor(targets, dtype=dtype)

    return batches()


def classification_2d(
    batch_size: int,
    kind: str = "moons",
    noise: float = 0.1,
    T: int | None = None,
    seed: Any = None,
    dtype: torch.dtype = torch.float32,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Two classes in the plane; targets are +1 / -1.

    ``kind``: ``"moons"`` (two interleaved half circles of radius 1, the second shifted by
    ``(1, -0.5)``), ``"circles"`` (radius 1 vs 0.5) or ``"xor"`` (class = sign(x1 * x2), points
    uniform in ``[-1, 1]^2``). Gaussian noise of standard deviation ``noise`` is added to the
    points (not to the labels). Classes are drawn with probability 1/2 each.

    Yields
    ------
    inputs, targets : ``(batch_size, 2)`` and ``(batch_size, 1)``; with ``T`` given the same
    point is held for ``T`` steps: ``(batch_size, T, 2)`` and ``(batch_size, T, 1)``.
    """
    owner = "classification_2d"
    check_number(owner, "batch_size", batch_size, _count)
    check_choice(owner, "kind", kind, ("moons", "circles", "xor"))
    check_number(owner, "noise", noise, nonnegative)
    if T is not None:
        check_number(owner, "T", T, _count)
    rng = as_rng(seed)
    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:  # arguments checked at the call, not at next()
        while True:
            label = rng.random(batch_size) < 0.5
            if kind == "moons":
                angle = rng.uniform(0.0, math.pi, batch_size)
                pts = np.stack([np.cos(angle), np.sin(angle)], axis=1)
                pts[label] = np.stack([1.0 - np.cos(angle[label]), 0.5 - np.sin(angle[label])], axis=1)
            elif kind == "circles":
                angle = rng.uniform(0.0, 2.0 * math.pi, batch_size)
                radius = np.where(label, 0.5, 1.0)
                pts = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
            else:
                pts = rng.uniform(-1.0, 1.0, (batch_size, 2))
                label = pts[:, 0] * pts[:, 1] > 0
            pts = pts + noise * rng.normal(size=pts.shape)
            y = np.where(label, 1.0, -1.0)[:, None]
            if T is not None:
                pts = np.repeat(pts[:, None, :], T, axis=1)
                y = np.repeat(y[:, None, :], T, axis=1)
            yield torch.as_tensor(pts, dtype=dtype), torch.as_tensor(y, dtype=dtype)

    return batches()


def flipflop_accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of (trial, step, bit) with a defined target (non-zero) whose output has its sign."""
    return sign_accuracy(outputs, targets)


def sign_accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of entries with ``targets != 0`` where ``sign(outputs) == sign(targets)``."""
    if outputs.shape != targets.shape:
        raise ValueError(f"sign_accuracy: outputs has shape {tuple(outputs.shape)}; expected {tuple(targets.shape)} = targets' shape")
    defined = targets != 0
    n = int(defined.sum())
    if n == 0:
        return math.nan
    return float(((torch.sign(outputs) == torch.sign(targets)) & defined).sum()) / n
