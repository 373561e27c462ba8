"""models.rnn.effective_trial against the models' own forward pass and the effective radius against numpy;
models.rnn.frozen_system against ``as_system``, a hand-written map and finite differences."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models.rnn import RNN, PlasticRNN, effective_trial, frozen_system  # noqa: E402
from plasticity.torch import BCM, IntrinsicPlasticity  # noqa: E402


def _rho(M) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(M, dtype=np.float64)))))


def _inputs(B=3, T=12, seed=0):
    from models.tasks import flipflop

    return next(flipflop(B, T, p_flip=0.3, seed=seed, dtype=torch.float64))[0]


def test_zero_plasticity_keeps_the_effective_radius_of_W_hh():
    # A = 0: W_eff(t) = W_hh + 0 * Hebb(t) = W_hh at every step, whatever Hebb does
    model = PlasticRNN(3, 10, 3, rule=BCM(eta=0.5, tau_theta=5.0), plasticity_init=0.0, g=1.3, seed=4)
    trial = effective_trial(model, _inputs())
    expected = _rho(model.W_hh.detach())
    assert trial["radius"].shape == (3, 13)
    # one LAPACK eigenvalue problem against another on the same float64 matrix: rounding only
    np.testing.assert_allclose(trial["radius"].numpy(), expected, rtol=1e-12)
    W_hh = model.W_hh.detach().double().numpy()
    np.testing.assert_array_equal(trial["W"].numpy(), np.broadcast_to(W_hh, (3, 10, 10)))


@pytest.mark.parametrize("rule", [None, BCM(eta=0.3, tau_theta=5.0),
                                  IntrinsicPlasticity(eta=0.2, target=0.1, adapt_gain=True, target_var=0.05)],
                         ids=["rnn", "bcm", "intrinsic"])
def test_trial_equals_the_models_forward(rule):
    if rule is None:
        model = RNN(3, 7, 3, alpha=0.3, g=1.2, seed=1).double()
    else:
        model = PlasticRNN(3, 7, 3, rule=rule, plasticity_init=0.4, alpha=0.3, g=1.2, seed=1).double()
    x = _inputs()
    with torch.no_grad():
        out, hidden = model(x, return_hidden=True)
    trial = effective_trial(model, x)
    # the same float64 operations as forward (einsum against addmm/vecdot): agreement to rounding
    np.testing.assert_allclose(trial["hidden"].numpy(), hidden.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(trial["outputs"].numpy(), out.numpy(), rtol=1e-12, atol=1e-14)
    W_hh = model.W_hh.detach().numpy()
    if rule is None:
        W_end, gain = np.broadcast_to(W_hh, (3, 7, 7)), np.ones((3, 7))
    else:
        W_end = W_hh + model.plasticity_coef.detach().numpy() * model.last_hebb.numpy()
        state = model.last_rule_state
        gain = state.gain.numpy() if "gain" in state._fields else np.ones((3, 7))
    np.testing.assert_allclose(trial["W"].numpy(), W_end, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(trial["gain"].numpy(), gain, rtol=1e-12)
    # the last radius is that of diag(gain) W at the end of the trial (numpy, independent)
    for b in range(3):
        assert float(trial["radius"][b, -1]) == pytest.approx(_rho(gain[b][:, None] * W_end[b]), rel=1e-10)
    if rule is not None:
        assert not np.allclose(trial["radius"][:, -1].numpy(), _rho(W_hh))  # plasticity did act


def test_frozen_system_equals_as_system():
    model = PlasticRNN(3, 6, 2, rule=BCM(eta=0.2, tau_theta=4.0), plasticity_init=0.3, g=1.5, seed=2)
    model(torch.randn(2, 8, 3))
    hebb = model.last_hebb[1]
    W = model.W_hh.detach().double() + model.plasticity_coef.detach().double() * hebb.double()
    mine, theirs = frozen_system(model, W), model.as_system(hebb=hebb)
    h = np.random.default_rng(0).normal(size=6)
    # the same formula evaluated on the same float64 numbers
    np.testing.assert_allclose(mine(h), theirs(h), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(mine.jacobian(h), theirs.jacobian(h), rtol=1e-13, atol=1e-15)
    V = np.random.default_rng(1).normal(size=(6, 3))
    np.testing.assert_allclose(mine.jvp(h, V), mine.jacobian(h) @ V, rtol=1e-12, atol=1e-14)
    # with a gain and a threshold: h -> (1 - a) h + a tanh(g (W h + b) - th), by hand
    g, th = np.linspace(0.5, 1.5, 6), np.linspace(-0.2, 0.3, 6)
    gated = frozen_system(model, W, g, th)
    b = model.b.detach().double().numpy()
    a = model.alpha
    np.testing.assert_allclose(gated(h), (1 - a) * h + a * np.tanh(g * (W.numpy() @ h + b) - th), rtol=1e-13)
    from plasticity.metrics import finite_difference_jacobian

    # central differences: O(h^2) truncation ~1e-10 relative (see plasticity.metrics.systems)
    np.testing.assert_allclose(gated.jacobian(h), finite_difference_jacobian(gated, h), rtol=1e-7, atol=1e-9)


def test_trial_stability_against_effective_trial_and_an_analytic_exponent():
    import math

    from models.rnn import trial_stability
    from plasticity.metrics import activity_variance

    # W_hh = 0 and b = 0: the frozen map is h -> (1 - alpha) h, so lambda_max = ln(1 - alpha) exactly
    still = RNN(3, 5, 3, alpha=0.25, g=0.0, seed=0).double()
    x = _inputs(B=4, T=8)
    ev = trial_stability(still, x, trials=2, lyap_steps=40, lyap_transient=5)
    np.testing.assert_allclose(ev["lyapunov_start"], math.log(0.75), rtol=1e-12)
    np.testing.assert_allclose(ev["lyapunov_end"], math.log(0.75), rtol=1e-12)
    # a plastic network: the pieces are those of effective_trial, trial by trial
    model = PlasticRNN(3, 6, 3, rule=BCM(eta=0.3, tau_theta=4.0), plasticity_init=0.4, g=1.2, seed=3).double()
    ev = trial_stability(model, x, trials=3, lyap_steps=30, lyap_transient=5)
    trial = effective_trial(model, x)
    assert ev["finite"] and ev["radius"].shape == (3, 9)
    np.testing.assert_array_equal(ev["radius"], trial["radius"][:3].numpy())
    np.testing.assert_array_equal(ev["outputs"].numpy(), trial["outputs"].numpy())
    for i in range(3):
        assert ev["activity_variance"][i] == activity_variance(trial["hidden"][i].numpy())
    assert np.all(ev["lyapunov_end"] != ev["lyapunov_start"])  # the end-of-trial weights differ from W_hh
    with pytest.raises(ValueError, match=r"trial_stability\.trials must be an integer in \[1, 4\]; got 5"):
        trial_stability(model, x, trials=5)
