"""models._rnn_plastic.PlasticScan (the fused plastic trial with a hand-written backward) against the
step-by-step autograd loop it replaces (PlasticRNN._forward_autograd) and against torch.autograd.gradcheck."""
from __future__ import annotations

import math

import pytest
import torch

import plasticity.torch as pt
from models._rnn_plastic import PlasticScan, _flatten, supports_scan
from models.rnn import PlasticRNN


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def P(v):
    return torch.nn.Parameter(torch.tensor(v, dtype=torch.float64))


RULES = {
    "hebbian-learnt": lambda: pt.Hebbian(eta=P(0.2), decay=P(0.15)),
    "hebbian-no-decay": lambda: pt.Hebbian(eta=0.3, decay=0.0),  # b is None
    "bcm": lambda: pt.BCM(eta=P(0.1), tau_theta=P(4.0)),
    "metaplastic": lambda: pt.MetaplasticBCM(eta=0.1, tau_theta=3.0, tau_meta=10.0, kappa=1.0),
    "oja+heterosynaptic": lambda: pt.Oja(eta=P(0.1)) + pt.HeterosynapticDecay(beta=P(0.05), w_ref=0.1),  # c term
    "scaling+hebbian": lambda: pt.Hebbian(eta=0.2, decay=0.1) + pt.SynapticScaling(eta=P(0.1), target=0.2, tau=P(5.0)),
    "intrinsic": lambda: pt.IntrinsicPlasticity(eta=P(0.1), target=0.1, adapt_gain=True, target_var=0.05),
    "hebbian+intrinsic": lambda: pt.Hebbian(eta=0.2, decay=0.1) + pt.IntrinsicPlasticity(eta=0.05, target=0.0),
}


def _both(model, x, h0):
    """Outputs and gradients (wrt h0 and every parameter) of the scan and of the autograd loop."""
    params = [h0, *model.parameters()]
    res = []
    for run in (lambda: model(x, h0=h0, return_hidden=True),
                lambda: model._forward_autograd(x, h0, return_hidden=True)):
        out, hidden = run()
        loss = (out ** 2).sum() + (hidden[:, ::3] ** 3).sum()  # every step and a nonlinear loss
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        state = [t.clone() for t in _flatten(model.last_rule_state)[0]]
        res.append((out.detach(), hidden.detach(), model.last_hebb.clone(), state, grads))
    return res


@pytest.mark.parametrize("plastic", ["per-synapse", "global"])
@pytest.mark.parametrize("name", list(RULES))
def test_scan_equals_the_autograd_loop(name, plastic):
    model = PlasticRNN(3, 6, 2, rule=RULES[name](), plastic=plastic, plasticity_init=0.3, alpha=0.4, g=1.3,
                       seed=1).double()
    with torch.no_grad():  # unequal coefficients, so that a transposed index would show
        if plastic == "per-synapse":
            model.plasticity_coef.copy_(torch.linspace(-0.8, 1.0, 36, dtype=torch.float64).reshape(6, 6))
    x = torch.randn(4, 11, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    h0 = (0.3 * torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))).requires_grad_()
    assert supports_scan(model, x)
    (o1, h1, H1, s1, g1), (o2, h2, H2, s2, g2) = _both(model, x, h0)
    # the same float64 arithmetic in another order (fused numba loops): agreement to rounding
    tight = {"rtol": 1e-11, "atol": 1e-13}
    torch.testing.assert_close(h1, h2, **tight)
    torch.testing.assert_close(o1, o2, **tight)
    torch.testing.assert_close(H1, H2, **tight)
    for a, b in zip(s1, s2):
        torch.testing.assert_close(a, b, **tight)
    names = ["h0"] + [n for n, _ in model.named_parameters()]
    for n, a, b in zip(names, g1, g2):
        if b is None:  # unused by the loop (e.g. plasticity_coef of intrinsic plasticity alone)
            assert a is None or torch.count_nonzero(a) == 0, n
            continue
        assert a is not None, n
        torch.testing.assert_close(a, b, **tight, msg=lambda m, n=n: f"{n}: {m}")
    assert any(b is not None and torch.count_nonzero(b) for b in g2[1:])


@pytest.mark.parametrize("T", [1, 3, 4, 10, 16])  # 3, 10: a short last segment; 16: four whole ones
def test_gradcheck_small_float64(T):
    rule = pt.BCM(eta=P(0.2), tau_theta=P(3.0)) + pt.HeterosynapticDecay(beta=0.1, w_ref=0.2)
    model = PlasticRNN(2, 3, 1, rule=rule, plasticity_init=0.5, alpha=0.5, seed=4).double()
    gen = torch.Generator().manual_seed(5)
    drive = torch.randn(2, T, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    h0 = (0.5 * torch.randn(2, 3, dtype=torch.float64, generator=gen)).requires_grad_()
    W = model.W_hh.detach().clone().requires_grad_()
    A = (0.5 * torch.randn(3, 3, dtype=torch.float64, generator=gen)).requires_grad_()
    rule_tensors = [t for t in rule._tensors() if t.requires_grad]

    def f(drive, h0, W, A, *params):
        state = rule.init_state(3, 3, batch=(2,), dtype=torch.float64)
        leaves, build = _flatten(state)
        return PlasticScan.apply(model, drive, h0, W, A, (build, len(leaves)), *leaves, *params)[0]

    assert torch.autograd.gradcheck(f, (drive, h0, W, A, *rule_tensors), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_activations_kept_for_backward_are_O_T_B_n():
    B, n, T = 2, 5, 30
    model = PlasticRNN(3, n, 2, seed=0).double()
    x = torch.randn(B, T, 3, dtype=torch.float64)
    _, hidden = model(x, return_hidden=True)
    ctx = hidden.grad_fn  # the PlasticScan node (its ctx)
    k = math.ceil(math.sqrt(T))
    assert ctx.k == k and len(ctx.ckpts) == math.ceil(T / k) - 1  # the only (B, n, n) tensors kept (Hebb_0 = 0)
    assert all(t.shape == (B, n, n) for t in ctx.ckpts.values())
    per_step = [*ctx.hs, *ctx.zs] + [t for s in ctx.states for t in _flatten(s)[0]]
    assert all(t.shape[-1] == n and t.numel() <= B * n for t in per_step)
    assert all(v.shape == (B, n) for c in ctx.coefs for v in c)  # a, 1 + b, c as numpy arrays


def test_the_autograd_loop_is_used_where_the_scan_does_not_apply():
    x = torch.randn(2, 6, 3)
    clipped = PlasticRNN(3, 5, 2, rule=pt.Hebbian(eta=0.5, decay=0.1, w_min=-0.05, w_max=0.05), seed=0)
    assert not supports_scan(clipped, x)
    out = clipped(x)
    assert out.grad_fn is not None and float(clipped.last_hebb.abs().max()) <= 0.05 + 1e-7
    poly = PlasticRNN(3, 5, 2, rule=pt.PolynomialRule(torch.zeros(27)), seed=0)
    assert not supports_scan(poly, x)
    model = PlasticRNN(3, 5, 2, seed=0)
    model(x, retain_hidden_grad=True).sum().backward()  # per-step states with their gradients
    assert len(model.hidden_states) == 6 and model.hidden_states[0].grad is not None


def test_no_grad_inference_and_float32():
    model = PlasticRNN(3, 7, 2, seed=0)
    x = torch.randn(3, 9, 3)
    with torch.no_grad():
        out = model(x)
    ref = model._forward_autograd(x, torch.zeros(3, 7))
    torch.testing.assert_close(out, ref.detach(), rtol=1e-5, atol=1e-6)  # float32, another summation order


def test_double_backward_is_refused_not_wrong():
    model = PlasticRNN(3, 4, 2, seed=0).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    (g,) = torch.autograd.grad(model(x).pow(2).sum(), [model.W_in], create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        g.sum().backward()
