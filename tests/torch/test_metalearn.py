"""Meta-learning recovers Oja's rule (small, fast version of plasticity.torch.metalearn)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from plasticity.torch import PolynomialRule, term_index
from plasticity.torch.metalearn import metalearn_oja, oja_distance, pca_loss, random_covariances


def test_oja_distance_is_scale_free_and_zero_at_oja():
    assert oja_distance(PolynomialRule.oja(2.5).coefficients) == 0.0
    assert oja_distance(PolynomialRule.hebbian(1.0).coefficients) == pytest.approx(1.0)  # misses only -y^2 w
    assert oja_distance(-PolynomialRule.oja(1.0).coefficients) == math.inf  # anti-Hebbian


def test_covariances_have_the_stated_top_eigenvector():
    L, v1 = random_covariances(np.random.default_rng(0), 5, 4)
    C = L @ L.transpose(-1, -2)
    evals, evecs = torch.linalg.eigh(C)
    # eigh is float64 LAPACK: agreement to rounding
    torch.testing.assert_close(evecs[..., -1].abs(), v1.abs(), rtol=0, atol=1e-12)


def test_pca_loss_separates_oja_from_plain_hebbian():
    L, v1 = random_covariances(np.random.default_rng(1), 64, 4)
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    oja = float(pca_loss(PolynomialRule.oja(1.0), L, v1, generator=gen()))
    hebb = float(pca_loss(PolynomialRule.hebbian(1.0), L, v1, generator=gen()))
    # Oja: aligned, unit norm up to sampling noise (a few 1e-3 with 16 samples per step);
    # Hebbian: aligned but its norm runs into the soft bound w_max = 3, so (|w| - 1)^2 ~ 3
    assert oja < 0.03
    assert hebb > 1.0


def test_same_seed_same_numbers():
    a = metalearn_oja(seed=3, meta_steps=3, batch=2, steps=5)
    b = metalearn_oja(seed=3, meta_steps=3, batch=2, steps=5)
    np.testing.assert_array_equal(a.coefficients, b.coefficients)
    np.testing.assert_array_equal(a.losses, b.losses)


def test_recovers_oja_from_random_coefficients():
    res = metalearn_oja(seed=0, meta_steps=40, batch=8, steps=80)
    # the random start is far from Oja (here not even Hebbian: distance inf)
    assert res.distances[0] > 0.8
    # Measured with these settings for seeds 0-3: final distances 0.15, 0.13, 0.12, 0.19 (the
    # 200-step default reaches 0.06-0.10); 0.25 leaves room for platform rounding only.
    assert res.distance < 0.25
    c = res.coefficients[-1] / res.coefficients[-1][term_index(1, 1, 0)]
    assert c[term_index(0, 2, 1)] == pytest.approx(-1.0, abs=0.2)
    # excluded monomials stayed exactly zero
    excluded = [term_index(*t) for t in [(2, 2, 2), (2, 0, 0), (1, 1, 1)]]
    assert np.all(res.coefficients[:, excluded] == 0.0)
    # functionally equivalent: on held-out covariances the learned rule does PCA as well as
    # Oja's rule at the same speed (ratios 0.9-1.25 for seeds 0-3; both are noise-limited)
    assert res.learned_loss < 1.5 * res.oja_loss
    assert res.oja_loss < 0.03


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"metalearn_oja\.basis must be one of"):
        metalearn_oja(basis="cubic")
    with pytest.raises(ValueError, match=r"metalearn_oja\.lr must be a number in \(0, inf\); got -1"):
        metalearn_oja(lr=-1)
    with pytest.raises(ValueError, match=r"metalearn_oja\.n_pre must be an integer in \[2, inf\)"):
        metalearn_oja(n_pre=1)
