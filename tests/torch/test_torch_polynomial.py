"""The generic polynomial rule: basis order, named points, plain-numpy reference, gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import plasticity.torch as pt
from plasticity.torch import TERM_NAMES, TERMS, PolynomialRule, term_index


def polynomial_reference(W, x, y, coefficients, dt):
    """Plain numpy, one monomial at a time, straight from the module docstring."""
    dW = np.zeros_like(W)
    for k, (a, b, c) in enumerate(TERMS):
        dW += coefficients[k] * np.outer(y**b, x**a) * W**c
    return W + dt * dW


def test_basis_order_is_documented_one():
    assert len(TERMS) == 27 and TERMS[term_index(1, 1, 0)] == (1, 1, 0)
    assert all(term_index(*t) == k for k, t in enumerate(TERMS))
    assert TERM_NAMES[term_index(1, 1, 0)] == "x y"
    assert TERM_NAMES[term_index(0, 2, 1)] == "y^2 w"
    assert TERM_NAMES[0] == "1"


def test_matches_plain_numpy_reference():
    rng = np.random.default_rng(0)
    coef = rng.normal(0, 0.3, 27)
    rule = PolynomialRule(coef)
    W = rng.normal(0, 0.5, (4, 3))
    Wt = torch.tensor(W)
    for _ in range(10):
        x, y = rng.normal(size=3), rng.normal(size=4)
        W = polynomial_reference(W, x, y, coef, 0.05)
        Wt, _ = rule.update(Wt, torch.tensor(x), torch.tensor(y), rule.init_state(4, 3, dtype=torch.float64), 0.05)
    # 27 terms summed in a different order (einsum + Horner in w): a few ulps per step
    np.testing.assert_allclose(Wt.numpy(), W, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    "point, twin",
    [(lambda: PolynomialRule.oja(0.7), lambda: pt.Oja(eta=0.7)),
     (lambda: PolynomialRule.hebbian(0.7, 0.1), lambda: pt.Hebbian(eta=0.7, decay=0.1))],
    ids=["oja", "hebbian"],
)
def test_named_points_equal_the_rules(point, twin):
    rng = np.random.default_rng(1)
    W0, x, y = (torch.tensor(rng.normal(size=s)) for s in ((5, 3), (3,), (5,)))
    p, t = point(), twin()
    Wp, _ = p.update(W0, x, y, p.init_state(5, 3, dtype=torch.float64), 0.1)
    Wt, _ = t.update(W0, x, y, t.init_state(5, 3, dtype=torch.float64), 0.1)
    torch.testing.assert_close(Wp, Wt, rtol=1e-14, atol=1e-15)  # same terms, other rounding order


def test_batched_equals_per_sample_and_gradcheck():
    rng = np.random.default_rng(2)
    coef = torch.nn.Parameter(torch.tensor(rng.normal(0, 0.3, 27)))
    rule = PolynomialRule(coef)
    assert list(rule.parameters())[0] is coef
    W, x, y = (torch.tensor(rng.normal(size=s)) for s in ((2, 3, 2), (2, 2), (2, 3)))
    Wb, _ = rule.update(W, x, y, rule.init_state(3, 2, batch=2, dtype=torch.float64), 0.1)
    for i in range(2):
        Wi, _ = rule.update(W[i], x[i], y[i], rule.init_state(3, 2, dtype=torch.float64), 0.1)
        torch.testing.assert_close(Wb[i], Wi, rtol=1e-14, atol=1e-15)  # einsum may reorder sums

    def f(W, x, y, c):
        r = PolynomialRule(c)
        s = r.init_state(3, 2, dtype=torch.float64)
        for _ in range(2):
            W, s = r.update(W, x, y, s, 0.1)
        return W

    args = (W[0].clone().requires_grad_(), x[0].clone().requires_grad_(), y[0].clone().requires_grad_(),
            coef.detach().clone().requires_grad_())
    assert torch.autograd.gradcheck(f, args)


def test_float32_and_errors():
    rule = PolynomialRule.oja(1.0)
    W2, _ = rule.update(torch.zeros(3, 2), torch.ones(2), torch.ones(3), rule.init_state(3, 2), 0.1)
    assert W2.dtype == torch.float32
    with pytest.raises(ValueError, match=r"PolynomialRule\.coefficients must have shape \(27,\) or \(3, 3, 3\); got \(5,\)"):
        PolynomialRule(np.zeros(5))
    with pytest.raises(ValueError, match="must be finite"):
        PolynomialRule(np.full(27, np.nan))
    with pytest.raises(TypeError, match=r"PolynomialRule\.coefficients must be 27 real numbers"):
        PolynomialRule("oja")
