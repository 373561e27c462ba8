"""Meta-learning a plasticity rule: recover Oja's rule from random polynomial coefficients.

A linear neuron ``y = w . x`` sees zero-mean Gaussian inputs of covariance ``C`` and changes
its weights with a :class:`~plasticity.torch.PolynomialRule` for ``steps`` steps of length
``dt``. The loss asks for the unit-norm principal eigenvector ``v1`` of ``C``,

    L = 1 - cos^2(w_T, v1) + (|w_T| - 1)^2,

averaged over a batch of covariances, and the rule's coefficients descend its gradient
(backpropagation through the whole plastic episode), as in Confavreux et al. (2020) NeurIPS 33
(the Oja experiment of their section 3). Each episode draws a new random rotation and
spectrum (``lambda_1`` in ``lam1_range``, the others below ``ratio * lambda_1``), so only a rule
that works for every covariance is rewarded; a random ``lambda_1`` makes the norm identify
the ratio of the Hebbian and normalising terms.

Design choices, each needed in practice (measured while writing this module):
- the update of each step is the mean over ``samples`` input draws (batch averaging): it lowers
  the stochastic fluctuation of ``w`` so the meta-gradient measures the rule's drift;
- SGD with momentum and weight decay, not Adam: Adam rescales the tiny, noisy gradients of
  coefficients that do not change the mean drift (``x``, ``y w``, ``x y^2`` have zero mean for
  zero-mean Gaussian inputs) into steps of size ``lr``, so they wander; weight decay removes them;
- ``w`` passes through a soft bound ``w_max tanh(w / w_max)`` after each step, so that a random
  initial rule with explosive terms gives a finite loss (Oja's fixed point, ``|w| = 1``, is far
  inside it).

Result, measured (n_pre = 4, default settings, 200 meta-steps, seeds 0 and 1): in the
``"row-affine"`` basis (the six terms ``a(y) x + b(y) w`` with ``a``, ``b`` quadratic in ``y``:
the family the project's numba kernels implement) the coefficients, normalised by the ``x y``
coefficient, end within 0.11 and 0.15 (Euclidean) of Oja's (``x y: 1``, ``y^2 w: -1``) from
random starts 1.6 and 1.0 away. In the full 27-term basis the ``x y`` and ``-y^2 w`` terms
dominate but others stay (distance about 0.5): for a finite horizon some extra terms speed up
convergence from poor initial weights, so the loss does not single out Oja's rule there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from plasticity.torch.threads import torch_threads

from plasticity._validation import Interval, as_rng, check_choice, check_number, positive
from plasticity.torch.polynomial import TERMS, PolynomialRule, term_index

__all__ = ["metalearn_oja", "MetaLearnResult", "oja_distance", "pca_loss", "random_covariances", "BASES"]

#: Named sets of monomials ``(a, b, c)`` of ``x^a y^b w^c`` that meta-learning may use.
BASES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "row-affine": tuple(t for t in TERMS if (t[0] == 1 and t[2] == 0) or (t[0] == 0 and t[2] == 1)),
    "all": TERMS,
}

_OJA = PolynomialRule.oja(1.0).coefficients


def oja_distance(coefficients: torch.Tensor | np.ndarray) -> float:
    """Euclidean distance between ``coefficients / coefficients[x y]`` and Oja's ``(x y: 1, y^2 w: -1)``.

    Dividing by the ``x y`` coefficient removes the learning-rate scale (a rule and its multiple
    differ only in speed). ``inf`` when that coefficient is not positive (not Hebbian).
    """
    c = torch.as_tensor(coefficients, dtype=torch.float64).detach().reshape(27)
    hebb = float(c[term_index(1, 1, 0)])
    if not hebb > 0:
        return math.inf
    return float(torch.linalg.vector_norm(c / hebb - _OJA))


def random_covariances(
    rng: np.random.Generator, batch: int, n_pre: int, lam1_range: tuple[float, float] = (0.5, 3.0), ratio: float = 0.3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random input statistics: ``(L, v1)`` with ``C = L L^T`` and ``v1`` its top eigenvector.

    ``C = Q diag(lambda) Q^T`` with ``Q`` a random orthogonal matrix (QR of a Gaussian matrix),
    ``lambda_1`` uniform in ``lam1_range`` and the others uniform in ``[0, ratio * lambda_1)``.
    Returns float64 tensors of shapes ``(batch, n_pre, n_pre)`` and ``(batch, n_pre)``.
    """
    Q, _ = np.linalg.qr(rng.normal(size=(batch, n_pre, n_pre)))
    lam1 = rng.uniform(*lam1_range, size=batch)
    lam = np.concatenate([lam1[:, None], rng.uniform(0.0, ratio, size=(batch, n_pre - 1)) * lam1[:, None]], axis=1)
    return torch.as_tensor(Q * np.sqrt(lam)[:, None, :]), torch.as_tensor(Q[:, :, 0].copy())


def pca_loss(
    rule: Any,
    L: torch.Tensor,
    v1: torch.Tensor,
    steps: int = 100,
    dt: float = 0.1,
    samples: int = 16,
    w_max: float = 3.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean of ``1 - cos^2(w, v1) + (|w| - 1)^2`` after ``steps`` plastic steps of a linear neuron.

    ``w`` starts at ``N(0, 0.25)`` per weight; each step draws ``samples`` inputs ``x = L z``
    (``z ~ N(0, I)``), applies ``rule`` to each (broadcast over a samples dimension) and keeps
    the mean of the updated weights, then the soft bound ``w_max tanh(w / w_max)``.
    Differentiable in the rule's parameters.
    """
    batch, n_pre = v1.shape
    dtype = L.dtype
    w = 0.5 * torch.randn(batch, 1, 1, n_pre, generator=generator, dtype=dtype)  # (batch, 1 sample, 1 post, n_pre)
    state = rule.init_state(1, n_pre, batch=(batch, 1), dtype=dtype)
    for _ in range(steps):
        z = torch.randn(batch, samples, 1, n_pre, generator=generator, dtype=dtype)
        # x = L z as a broadcast product: a batched matmul of 4 x 4 blocks is parallelised
        # by torch, and on a busy machine its thread synchronisation costs 10x the work
        x = (L.unsqueeze(1) * z).sum(-1)  # (batch, samples, n_pre)
        y = (w.squeeze(-2) * x).sum(-1, keepdim=True)  # (batch, samples, 1)
        w, state = rule.update(w, x, y, state, dt)
        w = w.mean(dim=1, keepdim=True)
        w = w_max * torch.tanh(w / w_max)
    w = w.reshape(batch, n_pre)
    norm = torch.linalg.vector_norm(w, dim=-1)
    cos2 = ((w * v1).sum(-1) / norm) ** 2
    return (1.0 - cos2).mean() + ((norm - 1.0) ** 2).mean()


@dataclass
class MetaLearnResult:
    """What :func:`metalearn_oja` returns.

    Attributes
    ----------
    rule : PolynomialRule
        The learned rule (coefficients as a plain float64 buffer).
    coefficients : (meta_steps + 1, 27) ndarray
        Coefficients before each meta-step and at the end (basis order of ``TERMS``).
    losses : (meta_steps,) ndarray
        Training loss of each meta-step (NaN where the episode diverged and the step was skipped).
    distances : (meta_steps + 1,) ndarray
        :func:`oja_distance` of each row of ``coefficients``.
    learned_loss, oja_loss : float
        Loss of the learned rule and of Oja's rule (``eta = coefficients[x y]``) on the same
        held-out covariances and samples.
    basis : tuple of (a, b, c)
        The monomials that were learned; the others stayed at zero.
    """

    rule: PolynomialRule
    coefficients: np.ndarray
    losses: np.ndarray
    distances: np.ndarray
    learned_loss: float
    oja_loss: float
    basis: tuple[tuple[int, int, int], ...]

    @property
    def distance(self) -> float:
        """Final normalised distance to Oja's coefficients."""
        return float(self.distances[-1])


def metalearn_oja(
    n_pre: int = 4,
    meta_steps: int = 200,
    batch: int = 16,
    samples: int = 16,
    steps: int = 100,
    dt: float = 0.1,
    basis: str = "row-affine",
    init_scale: float = 0.1,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 2e-3,
    grad_clip: float = 1.0,
    seed: int | np.random.Generator | None = None,
    progress: bool | None = None,
) -> MetaLearnResult:
    """Learn :class:`PolynomialRule` coefficients that make a linear neuron find its principal component.

    Starting from coefficients drawn from ``N(0, init_scale^2)`` on the monomials of ``basis``
    (``"row-affine"`` or ``"all"``, see :data:`BASES`), runs ``meta_steps`` steps of SGD (with
    ``momentum``, ``weight_decay``, a cosine learning-rate decay to 5% of ``lr`` and gradient
    norm clipping at ``grad_clip``) on :func:`pca_loss` over ``batch`` fresh random
    covariances of ``n_pre`` inputs each step. See the module docstring for the setting,
    the reasons for each choice and the measured result. float64 throughout; ``seed`` fixes
    everything (same seed, same numbers).
    """
    owner = "metalearn_oja"
    for name, v, allowed in (
        ("n_pre", n_pre, Interval(2, math.inf, closed="left", integer=True)),
        ("meta_steps", meta_steps, Interval(0, math.inf, closed="left", integer=True)),
        ("batch", batch, Interval(1, math.inf, closed="left", integer=True)),
        ("samples", samples, Interval(1, math.inf, closed="left", integer=True)),
        ("steps", steps, Interval(1, math.inf, closed="left", integer=True)),
        ("dt", dt, positive), ("init_scale", init_scale, positive), ("lr", lr, positive),
        ("momentum", momentum, Interval(0.0, 1.0, closed="left")),
        ("weight_decay", weight_decay, Interval(0.0, closed="left")), ("grad_clip", grad_clip, positive),
    ):
        check_number(owner, name, v, allowed)
    check_choice(owner, "basis", basis, tuple(BASES))
    with torch_threads(1):  # every tensor here is tiny: see plasticity.torch.threads
        return _metalearn(n_pre, meta_steps, batch, samples, steps, dt, basis, init_scale, lr, momentum,
                          weight_decay, grad_clip, seed, progress)


def _metalearn(n_pre, meta_steps, batch, samples, steps, dt, basis, init_scale, lr, momentum, weight_decay,
               grad_clip, seed, progress) -> MetaLearnResult:
    owner = "metalearn_oja"
    rng = as_rng(seed)
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    mask = torch.zeros(27, dtype=torch.float64)
    for t in BASES[basis]:
        mask[term_index(*t)] = 1.0
    theta = torch.nn.Parameter(torch.as_tensor(rng.normal(0.0, init_scale, 27)) * mask)
    opt = torch.optim.SGD([theta], lr=lr, momentum=momentum, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(meta_steps, 1), eta_min=0.05 * lr)
    history, losses = [theta.detach().clone()], []
    from tqdm.auto import tqdm

    for _ in tqdm(range(meta_steps), disable=not progress if progress is not None else meta_steps < 500, desc=owner):
        L, v1 = random_covariances(rng, batch, n_pre)
        loss = pca_loss(PolynomialRule(theta * mask), L, v1, steps, dt, samples, generator=gen)
        opt.zero_grad()
        if torch.isfinite(loss):
            loss.backward()
            theta.grad.mul_(mask)  # weight decay must not move the excluded monomials either
            torch.nn.utils.clip_grad_norm_([theta], grad_clip)
            opt.step()
            with torch.no_grad():
                theta.mul_(mask)
            losses.append(float(loss.detach()))
        else:  # a diverged episode: skip it, keep the record
            losses.append(math.nan)
        sched.step()
        history.append(theta.detach().clone())
    learned = theta.detach().clone()
    # held-out evaluation: the same covariances and samples for both rules
    L, v1 = random_covariances(np.random.default_rng(rng.integers(2**62)), 256, n_pre)
    eval_seed = int(rng.integers(2**62))
    with torch.no_grad():
        learned_loss = float(pca_loss(PolynomialRule(learned), L, v1, steps, dt, samples, generator=torch.Generator().manual_seed(eval_seed)))
        hebb = float(learned[term_index(1, 1, 0)])
        oja = PolynomialRule.oja(hebb if hebb > 0 else 1.0)
        oja_loss = float(pca_loss(oja, L, v1, steps, dt, samples, generator=torch.Generator().manual_seed(eval_seed)))
    coefs = torch.stack(history).numpy()
    return MetaLearnResult(
        rule=PolynomialRule(learned),
        coefficients=coefs,
        losses=np.array(losses),
        distances=np.array([oja_distance(c) for c in coefs]),
        learned_loss=learned_loss,
        oja_loss=oja_loss,
        basis=BASES[basis],
    )
