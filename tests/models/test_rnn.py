"""models.rnn: forward equations against independent references, plasticity, training, checkpoints."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

import plasticity.torch as pt
from models.rnn import RNN, PlasticRNN, TrainingHistory, train
from models.tasks import flipflop, flipflop_accuracy


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def test_forward_shapes():
    x = torch.randn(5, 7, 3)
    for model in (RNN(3, 8, 2, seed=0), PlasticRNN(3, 8, 2, seed=0), PlasticRNN(3, 8, 2, plastic="global", seed=0)):
        out, hidden = model(x, return_hidden=True)
        assert out.shape == (5, 7, 2) and hidden.shape == (5, 7, 8)
        assert model(x).shape == (5, 7, 2)


def test_alpha_one_equals_torch_nn_rnn():
    torch.manual_seed(0)
    ref = torch.nn.RNN(3, 6, batch_first=True, nonlinearity="tanh", bias=True).double()
    model = RNN(3, 6, 2, alpha=1.0, seed=0).double()
    with torch.no_grad():
        model.W_in.copy_(ref.weight_ih_l0)
        model.W_hh.copy_(ref.weight_hh_l0)
        model.b.copy_(ref.bias_ih_l0 + ref.bias_hh_l0)
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    _, hidden = model(x, return_hidden=True)
    # the same float64 operations, bias summed first: rounding only
    torch.testing.assert_close(hidden, ref(x)[0], rtol=1e-12, atol=1e-14)


def test_leaky_equation_against_numpy():
    model = RNN(2, 5, 1, alpha=0.3, activation="relu", g=1.5, seed=1).double()
    x = torch.randn(2, 6, 2, dtype=torch.float64)
    out, hidden = model(x, return_hidden=True)
    Win, Whh, b = (p.detach().numpy() for p in (model.W_in, model.W_hh, model.b))
    Wout, bout = model.W_out.detach().numpy(), model.b_out.detach().numpy()
    for k in range(2):
        h = np.zeros(5)
        for t in range(6):
            h = 0.7 * h + 0.3 * np.maximum(Whh @ h + Win @ x[k, t].numpy() + b, 0.0)
            np.testing.assert_allclose(hidden[k, t].detach().numpy(), h, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(out[k, t].detach().numpy(), Wout @ h + bout, rtol=1e-12, atol=1e-14)


def test_plastic_with_zero_coefficients_equals_plain_rnn():
    x = torch.randn(3, 12, 3)
    plain = RNN(3, 10, 2, seed=4)
    for plastic in ("per-synapse", "global"):
        model = PlasticRNN(3, 10, 2, plastic=plastic, plasticity_init=0.0, seed=4)
        torch.testing.assert_close(model(x), plain(x), rtol=0, atol=0)  # + 0 * Hebb h is exact


def test_plastic_dynamics_against_numpy_miconi_loop():
    eta, decay = 0.3, 0.2
    model = PlasticRNN(2, 4, 1, rule=pt.Hebbian(eta=eta, decay=decay), alpha=0.5, plasticity_init=0.7, seed=5).double()
    with torch.no_grad():
        model.plasticity_coef.copy_(torch.linspace(-1, 1, 16, dtype=torch.float64).reshape(4, 4))
    x = torch.randn(1, 8, 2, dtype=torch.float64)
    _, hidden = model(x, return_hidden=True)
    Win, Whh, b, A = (p.detach().numpy() for p in (model.W_in, model.W_hh, model.b, model.plasticity_coef))
    h, hebb = np.zeros(4), np.zeros((4, 4))
    for t in range(8):
        h_new = 0.5 * h + 0.5 * np.tanh((Whh + A * hebb) @ h + Win @ x[0, t].numpy() + b)
        hebb = hebb + 1.0 * (eta * np.outer(h_new, h) - decay * hebb)  # W[post, pre], rule_dt = 1
        h = h_new
        np.testing.assert_allclose(hidden[0, t].detach().numpy(), h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.last_hebb[0].numpy(), hebb, rtol=1e-12, atol=1e-14)


def test_gradients_reach_plasticity_coefficients_and_rule_parameters():
    tau = torch.nn.Parameter(torch.tensor(5.0))
    for rule in (None, pt.BCM(eta=torch.nn.Parameter(torch.tensor(0.05)), tau_theta=tau),
                 pt.IntrinsicPlasticity(eta=torch.nn.Parameter(torch.tensor(0.05)), target=0.1)):
        model = PlasticRNN(3, 6, 2, rule=rule, seed=6)
        names = {n for n, _ in model.named_parameters()}
        assert "plasticity_coef" in names and any(n.startswith("rule.") for n in names)
        model(torch.randn(4, 10, 3)).pow(2).mean().backward()
        # intrinsic plasticity leaves Hebb at zero, so its coefficients get no gradient (rightly)
        intrinsic = isinstance(rule, pt.IntrinsicPlasticity)
        for name, p in model.named_parameters():
            if name.startswith("rule.") or (name == "plasticity_coef" and not intrinsic):
                assert p.grad is not None and torch.all(torch.isfinite(p.grad)) and p.grad.abs().sum() > 0, name


def test_bad_input_errors():
    model = RNN(3, 8, 2, seed=0)
    with pytest.raises(ValueError, match=r"RNN\.forward: inputs has shape \(7, 3\); expected \(batch, T, 3\)"):
        model(torch.randn(7, 3))
    with pytest.raises(ValueError, match=r"inputs has shape \(2, 7, 4\)"):
        model(torch.randn(2, 7, 4))
    with pytest.raises(ValueError, match=r"h0 has shape \(3, 8\); expected \(2, 8\)"):
        model(torch.randn(2, 7, 3), h0=torch.zeros(3, 8))
    with pytest.raises(ValueError, match=r"RNN\.alpha must be a number in \(0, 1\]; got 0"):
        RNN(3, 8, 2, alpha=0)
    with pytest.raises(ValueError, match=r"RNN\.activation must be one of"):
        RNN(3, 8, 2, activation="sigmoid")
    with pytest.raises(ValueError, match=r"BCM\.tau_theta has shape \(5,\); expected a scalar or a tensor broadcastable to \(8,\)"):
        PlasticRNN(3, 8, 2, rule=pt.BCM(eta=0.1, tau_theta=torch.ones(5)))
    import plasticity.rules as nr

    with pytest.raises(TypeError, match=r"PlasticRNN\.rule must be a differentiable rule from plasticity\.torch"):
        PlasticRNN(3, 8, 2, rule=nr.BCM(eta=0.1, tau_theta=2.0))
    with pytest.raises(ValueError, match=r"PlasticRNN\.plastic must be one of"):
        PlasticRNN(3, 8, 2, plastic="row")
    with pytest.raises(ValueError, match=r"train\.lr must be a number in \(0, inf\); got 0"):
        train(model, flipflop(2, 5, seed=0), 2, lr=0)
    with pytest.raises(ValueError, match=r"train\.lr must be a number in \(0, inf\); got -0\.1"):
        train(model, flipflop(2, 5, seed=0), 2, lr=-0.1)
    with pytest.raises(ValueError, match=r"model output has shape \(2, 5, 2\); expected \(2, 5, 3\)"):
        train(model, flipflop(2, 5, seed=0), 2, lr=0.1)  # 2 outputs for 3 bits


def test_flipflop_trains_to_high_accuracy():
    model = RNN(3, 64, 3, alpha=0.2, seed=0)
    hist = train(model, flipflop(64, 50, p_flip=0.1, seed=0), steps=250, lr=1e-2, metrics_every=50)
    assert not hist.diverged
    # measured: 0.86 -> about 0.06 (the residue is the transients after each flip)
    assert hist.loss[-10:].mean() < 0.15 * hist.loss[0]
    x, y = next(flipflop(256, 100, p_flip=0.1, seed=123))  # longer held-out trials
    with torch.no_grad():
        acc = flipflop_accuracy(model(x), y)
    assert acc > 0.97  # measured 0.999 (sign of each defined output)


def run(steps, ckpt=None, seed=0, **kw):
    model = PlasticRNN(3, 12, 3, seed=seed)
    hist = train(model, flipflop(8, 20, seed=1), steps, lr=5e-3, checkpoint_dir=ckpt, checkpoint_every=4,
                 metrics_every=3, **kw)
    return model, hist


def test_resume_equals_uninterrupted_run(tmp_path):
    full_model, full = run(12)
    run(8, ckpt=tmp_path)  # "killed" after 8 steps
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_00000004.pt", "checkpoint_00000008.pt"]
    resumed_model, resumed = run(12, ckpt=tmp_path, seed=99)  # other initial weights: the checkpoint wins
    for (n, a), (_, b) in zip(full_model.state_dict().items(), resumed_model.state_dict().items()):
        assert torch.equal(a, b), n  # same operations in the same order: bitwise equal
    for name in TrainingHistory._per_step + TrainingHistory._per_metric:
        np.testing.assert_array_equal(getattr(full, name), getattr(resumed, name))
    saved = torch.load(tmp_path / "checkpoint_00000012.pt", weights_only=True)
    assert saved["step"] == 12


def test_checkpoint_of_another_model_is_refused(tmp_path):
    run(4, ckpt=tmp_path)
    other = RNN(3, 12, 3, seed=0)
    with pytest.raises(ValueError, match=r"checkpoint_dir .* holds a checkpoint of another model"):
        train(other, flipflop(8, 20, seed=1), 8, lr=1e-3, checkpoint_dir=tmp_path)
    bigger = PlasticRNN(3, 13, 3, seed=0)
    with pytest.raises(ValueError, match=r"another model.*W_hh"):
        train(bigger, flipflop(8, 20, seed=1), 8, lr=1e-3, checkpoint_dir=tmp_path)


def test_history_metrics_and_dataframe():
    model, hist = run(7)
    assert list(hist.metric_steps) == [0, 3, 6]
    radius = np.abs(np.linalg.eigvals(model.W_hh.detach().double().numpy())).max()
    assert hist.spectral_radius[-1] == pytest.approx(radius, rel=1e-10)  # measured after the last update
    assert hist.spectral_norm[-1] == pytest.approx(np.linalg.norm(model.W_hh.detach().double().numpy(), 2), rel=1e-10)
    assert np.all(np.isfinite(hist.grad_first)) and np.all(hist.grad_last > 0)
    df = hist.to_dataframe()
    assert len(df) == 7 and df["spectral_radius"].notna().sum() == 3
    assert {"loss", "grad_norm", "grad_first", "grad_last", "lyapunov"} <= set(df.columns)


def test_divergence_is_a_status():
    def nan_task():
        while True:
            yield torch.randn(2, 5, 3), torch.full((2, 5, 3), math.nan)

    hist = train(RNN(3, 4, 3, seed=0), nan_task(), 5, lr=1e-3)
    assert hist.diverged and hist.diverged_at == 0 and len(hist.loss) == 0


def test_autonomous_system_and_lyapunov():
    from plasticity.metrics import max_lyapunov

    model = RNN(3, 6, 2, alpha=0.25, g=1.2, seed=7).double()
    sys_np, sys_t = model.as_system(), model.as_system(backend="torch")
    h = np.random.default_rng(0).normal(size=6)
    _, hidden = model(torch.zeros(1, 1, 3, dtype=torch.float64), h0=torch.tensor(h)[None], return_hidden=True)
    np.testing.assert_allclose(sys_np(h), hidden[0, 0].detach().numpy(), rtol=1e-12, atol=1e-15)
    J_auto = torch.autograd.functional.jacobian(lambda v: sys_t(v), torch.tensor(h))
    np.testing.assert_allclose(sys_np.jacobian(h), J_auto.numpy(), rtol=1e-12, atol=1e-14)
    # W_hh = 0 and b = 0: h -> (1 - alpha) h exactly, so lambda_max = ln(1 - alpha)
    still = RNN(3, 6, 2, alpha=0.25, g=0.0, seed=7)
    lam = max_lyapunov(still.as_system(), h, steps=50)
    assert lam == pytest.approx(math.log(0.75), rel=1e-12)
    plastic = PlasticRNN(3, 6, 2, seed=7)
    plastic(torch.randn(2, 5, 3))
    W = plastic.W_hh.detach().double() + plastic.plasticity_coef.detach().double() * plastic.last_hebb[1].double()
    J = plastic.as_system(hebb=plastic.last_hebb[1]).jacobian(np.zeros(6))
    np.testing.assert_allclose(J, 0.8 * np.eye(6) + 0.2 * W.numpy(), rtol=1e-6, atol=1e-7)  # float32 weights


def test_train_records_lyapunov_when_asked():
    model = RNN(3, 8, 3, seed=0)
    hist = train(model, flipflop(4, 10, seed=0), 2, lr=1e-3, metrics_every=1, lyapunov=True, lyapunov_steps=20)
    assert np.all(np.isfinite(hist.lyapunov)) and len(hist.lyapunov) == 2
