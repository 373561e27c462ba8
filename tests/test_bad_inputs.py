"""Bad user input raises ValueError or TypeError naming the parameter; silent failures are reported.

One table (:data:`CASES`) of ``(call, exception type, pattern the message must match)``: the
pattern names the parameter (and, where the check is a range, the value given). Below it, the
cases whose right answer is a result rather than an error.
"""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

import plasticity
from plasticity.metrics import Map, fixed_points, lyapunov_spectrum
from plasticity.rules import (BCM, BCMState, Hebbian, OjaState, PairSTDP, RATE_RULES, SynapticScaling,
                              InhibitorySTDP, TripletSTDP)
from plasticity.rules._base import state_class

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import _sweep_points as pts  # noqa: E402

N_POST, N_PRE = 5, 4


# -- helpers: each builds the arguments of one bad call ---------------------------------------
def bcm_step(**state_fields):
    """BCM.update with the given state fields replacing a good state's; W must stay untouched."""
    rule = BCM(eta=0.1, tau_theta=2.0)
    W = np.full((N_POST, N_PRE), 0.5)
    W0 = W.copy()
    state = rule.init_state(N_POST, N_PRE)
    for k, v in state_fields.items():
        setattr(state, k, v)
    try:
        rule.update(W, np.ones(N_PRE), np.ones(N_POST), state, 0.1)
    finally:
        np.testing.assert_array_equal(W, W0)  # checked before W was touched


def read_only(n):
    a = np.zeros(n)
    a.flags.writeable = False
    return a


def rate_step(rule, state):
    rule.update(np.full((N_POST, N_PRE), 0.5), np.ones(N_PRE), np.ones(N_POST), state, 0.1)


def rate_rule_W(rule, W):
    rule.update(W, np.ones(N_PRE), np.ones(N_POST), rule.init_state(N_POST, N_PRE), 0.1)


def rate_network_run(rule, W):
    from models.rate import RateNetwork

    RateNetwork(W, activation="tanh", seed=0).run(3, rule=rule, progress=False)


def ei_network_run(w_max):
    from models.rate import RateNetwork

    net = RateNetwork.ei(20, p=1.0, seed=0)
    net.run(3, plasticity={"EE": Hebbian(eta=1e-3, w_min=0.0, w_max=w_max)}, progress=False)


def combined_nan_term():
    rule = Hebbian(eta=0.1) + SynapticScaling(eta=0.1, target=1.0, tau=2.0)
    state = rule.init_state(N_POST, N_PRE)
    state.terms[1].rate[2] = np.nan
    rate_step(rule, state)


def spiking_step(rule, W, pre=None, post=None):
    W0 = W.copy()
    pre = np.ones(W.shape[1]) if pre is None else pre
    post = np.ones(W.shape[0]) if post is None else post
    try:
        rule.update(W, pre, post, rule.init_state(*W.shape), 1e-3)
    finally:
        np.testing.assert_array_equal(W, W0)


PAIR = PairSTDP(a_plus=0.01, a_minus=0.01, tau_plus=0.02, tau_minus=0.02, w_min=0.1, w_max=0.9)


def lif_run(current):
    from models.spiking import SpikingNetwork

    SpikingNetwork.single_neuron(current, t_ref=2e-3).run(0.005)


def nan_jacobian(n):
    system = Map(lambda x: 0.5 * x, lambda x: np.full((n, n), np.nan))
    lyapunov_spectrum(system, np.ones(n), steps=10)


def unreachable_scheduler(monkeypatch):
    from plasticity import _runners

    monkeypatch.setattr(_runners, "DASK_CONNECT_TIMEOUT", 1.0)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    plasticity.sweep(pts.square, {"x": [1]}, scheduler=f"tcp://127.0.0.1:{port}", progress=False)


def rnn_call(dtype):
    import torch
    from models.rnn import RNN

    RNN(2, 4, 1, seed=0)(torch.zeros(3, 5, 2, dtype=dtype))


def train_on(task, steps=2, **kw):
    from models.rnn import RNN, train

    train(RNN(2, 4, 1, seed=0), task, steps, lr=1e-3, metrics_every=None, **kw)


def pairs(n, bad=None):
    import torch

    for _ in range(n):
        yield (torch.zeros(2, 3, 2), torch.zeros(2, 3, 1)) if bad is None else bad


def write_file(tmp_path):
    path = tmp_path / "a_file"
    path.write_text("not a directory")
    return path


CASES = [
    # rate rule states: non-finite or integer arrays, another rule's state, wrong length, read-only
    pytest.param(lambda tp, mp: bcm_step(theta=np.full(N_POST, np.nan)), ValueError,
                 r"BCM\.update: state\.theta must be finite; got 5 non-finite", id="bcm-theta-nan"),
    pytest.param(lambda tp, mp: bcm_step(theta=np.array([0.0, 0.0, np.inf, 0.0, 0.0])), ValueError,
                 r"state\.theta must be finite; got 1 non-finite", id="bcm-theta-inf"),
    pytest.param(lambda tp, mp: bcm_step(theta=np.zeros(N_POST, dtype=np.int64)), TypeError,
                 r"BCM\.update: state\.theta must have dtype float64 \(or float32\); got int64", id="bcm-theta-int"),
    pytest.param(lambda tp, mp: bcm_step(theta=np.zeros(N_POST, dtype=complex)), TypeError,
                 r"state\.theta must have dtype float64 \(or float32\); got complex128", id="bcm-theta-complex"),
    pytest.param(lambda tp, mp: bcm_step(theta=[0.0] * N_POST), TypeError,
                 r"state\.theta must be a numpy array .*; got list", id="bcm-theta-list"),
    pytest.param(lambda tp, mp: bcm_step(theta=np.zeros(N_PRE)), ValueError,
                 r"BCM\.update: state\.theta has shape \(4,\); expected \(5,\) = n_post from W\[post, pre\] "
                 r"of shape \(5, 4\)", id="bcm-theta-length-n_pre"),
    pytest.param(lambda tp, mp: bcm_step(theta=read_only(N_POST)), ValueError,
                 r"BCM\.update: state\.theta must be writeable", id="bcm-theta-read-only"),
    pytest.param(lambda tp, mp: rate_step(BCM(eta=0.1, tau_theta=2.0), None), TypeError,
                 r"BCM\.update: state must be a BCMState .*; got None of type NoneType", id="bcm-state-None"),
    pytest.param(lambda tp, mp: rate_step(BCM(eta=0.1, tau_theta=2.0), OjaState()), TypeError,
                 r"state must be a BCMState .*got OjaState", id="bcm-state-of-oja"),
    pytest.param(lambda tp, mp: combined_nan_term(), ValueError,
                 r"state\.terms\[1\]\.rate must be finite", id="combined-term-nan"),
    pytest.param(lambda tp, mp: rate_step(Hebbian(eta=0.1) + BCM(eta=0.1, tau_theta=1.0), BCMState(np.zeros(N_POST))),
                 TypeError, r"state must be a CombinedState .*got BCMState", id="combined-state-of-term"),
    # rate rules and networks: weights outside the rule's bounds would be clipped silently
    pytest.param(lambda tp, mp: rate_rule_W(Hebbian(eta=0.1, w_min=0.0, w_max=1.0), np.full((N_POST, N_PRE), -0.5)),
                 ValueError, r"Hebbian\.update: W must hold weights in \[w_min, w_max\] = \[0, 1\].*got W\[0, 0\] = -0\.5",
                 id="hebbian-W-below-w_min"),
    pytest.param(lambda tp, mp: Hebbian(eta=0.1, w_max=1.0).reference_update(
        np.full((N_POST, N_PRE), 2.0), np.ones(N_PRE), np.ones(N_POST), Hebbian(eta=0.1).init_state(N_POST, N_PRE), 0.1),
                 ValueError, r"Hebbian\.update: W must hold weights in .*got W\[0, 0\] = 2\.0", id="hebbian-reference-W-above"),
    pytest.param(lambda tp, mp: rate_rule_W(Hebbian(eta=0.1, w_max=1.0) + BCM(eta=0.1, tau_theta=1.0),
                                            np.where(np.eye(N_POST, N_PRE) > 0, 0.5, np.nan)), ValueError,
                 r"Combined\.update: W must hold weights in .*got W\[0, 1\] = nan", id="combined-W-nan"),
    pytest.param(lambda tp, mp: rate_network_run(Hebbian(eta=0.1, w_min=-1.0, w_max=1.0),
                                                 np.where(np.eye(4) > 0, 2.0, 0.1)), ValueError,
                 r"RateNetwork\.run: W must hold weights in \[w_min, w_max\] = \[-1, 1\].*got W\[0, 0\] = 2\.0",
                 id="rate-network-W-above-w_max"),
    pytest.param(lambda tp, mp: ei_network_run(1e-3), ValueError,
                 r"RateNetwork\.run: plasticity\['EE'\]: weights\('EE'\) must hold weights in \[w_min, w_max\] = "
                 r"\[0, 0\.001\]", id="ei-network-EE-above-rule-w_max"),
    # spiking rules: weights outside the bounds would be clipped silently
    pytest.param(lambda tp, mp: spiking_step(PAIR, np.full((N_POST, N_PRE), 0.05)), ValueError,
                 r"PairSTDP\.update: W must hold weights in \[w_min, w_max\] = \[0\.1, 0\.9\].*got W\[0, 0\] = 0\.05",
                 id="pair-stdp-W-below-w_min"),
    pytest.param(lambda tp, mp: spiking_step(PAIR, np.where(np.eye(N_POST, N_PRE) > 0, 1.5, 0.5)), ValueError,
                 r"W must hold weights in \[w_min, w_max\].*got W\[0, 0\] = 1\.5", id="pair-stdp-W-above-w_max"),
    pytest.param(lambda tp, mp: spiking_step(InhibitorySTDP(eta=0.01, target_rate=3.0, tau=0.02, w_max=1.0),
                                             np.full((N_POST, N_PRE), -0.1)), ValueError,
                 r"InhibitorySTDP\.update: W must hold weights in \[w_min, w_max\] = \[0, 1\]", id="istdp-W-negative"),
    pytest.param(lambda tp, mp: spiking_step(TripletSTDP.minimal_visual_cortex(), np.full((N_POST, N_PRE), np.nan)),
                 ValueError, r"TripletSTDP\.update: W must hold weights in .*got W\[0, 0\] = nan", id="triplet-W-nan"),
    pytest.param(lambda tp, mp: rate_step(PAIR, None), TypeError, r"PairSTDP\.update: state must be a PairSTDPState",
                 id="pair-stdp-state-None"),
    # networks and their inputs
    pytest.param(lambda tp, mp: __import__("models.rate").rate.RateNetwork([[1.0, 2.0], [3.0]]), ValueError,
                 r"RateNetwork: W must be a square 2-D array .*got a ragged", id="rate-network-ragged-W"),
    pytest.param(lambda tp, mp: __import__("models.rate").rate.RateNetwork(np.eye(3), seed=-1).run(5), ValueError,
                 r"seed must be an int in \[0, inf\).*; got -1", id="rate-network-seed-negative"),
    pytest.param(lambda tp, mp: lif_run(lambda t: np.ones(3)), ValueError,
                 r"LIFPopulation\('N'\)\.current must return a number or a \(1,\) array.*got shape \(3,\) at t=0",
                 id="lif-current-wrong-shape"),
    pytest.param(lambda tp, mp: lif_run(lambda t: "1 nA"), TypeError,
                 r"LIFPopulation\('N'\)\.current must return .*got '1 nA' of type str", id="lif-current-string"),
    pytest.param(lambda tp, mp: lif_run(lambda t: np.nan if t > 1e-3 else 1e-10), ValueError,
                 r"LIFPopulation\('N'\)\.current must return .*got NaN or inf at t=0\.0011", id="lif-current-nan"),
    # metrics
    pytest.param(lambda tp, mp: fixed_points(Map(lambda x: 0.5 * x, dim=2), "abc"), TypeError,
                 r"fixed_points: starts must be an integer in \[1, inf\) or an \(m, n\) array.*got 'abc'",
                 id="fixed-points-starts-string"),
    pytest.param(lambda tp, mp: nan_jacobian(3), ValueError,
                 r"lyapunov_spectrum: the tangent growth became NaN or inf at measurement step 1", id="lyapunov-nan-jacobian"),
    pytest.param(lambda tp, mp: nan_jacobian(70), ValueError,  # the Householder engine (n >= 64)
                 r"lyapunov_spectrum: .*NaN or inf at measurement step 1", id="lyapunov-nan-jacobian-householder"),
    # sweeps
    pytest.param(lambda tp, mp: plasticity.sweep(pts.square, {}, scheduler="serial"), ValueError,
                 r"sweep: grid must hold at least one point .*got an empty dict", id="sweep-grid-empty-dict"),
    pytest.param(lambda tp, mp: plasticity.sweep(pts.square, [], scheduler="serial"), ValueError,
                 r"sweep: grid must hold at least one point; got an empty list", id="sweep-grid-empty-list"),
    pytest.param(lambda tp, mp: plasticity.sweep(pts.square, {"x": [1]}, store=write_file(tp), scheduler="serial"),
                 ValueError, r"sweep: store must be a directory path .*a_file', which is an existing file",
                 id="sweep-store-is-a-file"),
    pytest.param(lambda tp, mp: unreachable_scheduler(mp), ValueError,
                 r"sweep: scheduler must be the address of a reachable Dask scheduler; got 'tcp://127\.0\.0\.1:\d+'",
                 id="sweep-scheduler-unreachable"),
    # torch models and training
    pytest.param(lambda tp, mp: rnn_call(__import__("torch").float64), TypeError,
                 r"RNN\.forward: inputs must have the dtype of the model's parameters, torch\.float32; got torch\.float64",
                 id="rnn-inputs-float64"),
    pytest.param(lambda tp, mp: train_on(None), TypeError,
                 r"train: task must be an iterator or iterable of \(inputs, targets\) pairs; got None", id="train-task-None"),
    pytest.param(lambda tp, mp: train_on(pairs(1), steps=3), ValueError,
                 r"train: task must yield at least steps=3 batches; it ran out at step 1", id="train-task-runs-out"),
    pytest.param(lambda tp, mp: train_on(pairs(2, bad=1.0)), TypeError,
                 r"train: task must yield \(inputs, targets\) pairs of tensors; got 1\.0 of type float at step 0",
                 id="train-task-not-pairs"),
    pytest.param(lambda tp, mp: train_on(pairs(2), checkpoint_dir=write_file(tp), checkpoint_every=100), ValueError,
                 r"train: checkpoint_dir must be a directory path .*a_file', which is an existing file",
                 id="train-checkpoint-dir-is-a-file"),
    pytest.param(lambda tp, mp: __import__("models.tasks").tasks.classification_2d(10, "spiral"), ValueError,
                 r"classification_2d\.kind must be one of \('moons', 'circles', 'xor'\); got 'spiral'",
                 id="classification-2d-kind-at-call"),
    pytest.param(lambda tp, mp: __import__("models.tasks").tasks.flipflop(0, 10), ValueError,
                 r"flipflop\.batch_size must be an integer in \[1, inf\); got 0", id="flipflop-batch-size-at-call"),
    # torch rules: dt as a tensor, dtypes and devices that would silently promote, parameter shapes
    pytest.param(lambda tp, mp: torch_step(dt=__import__("torch").tensor(-0.1)), ValueError,
                 r"BCM\.update: dt must be a number in \(0, inf\); got tensor\(-0\.1", id="torch-dt-negative-tensor"),
    pytest.param(lambda tp, mp: torch_step(state_dtype="float64"), TypeError,
                 r"BCM\.update: state tensor 0 has dtype torch\.float64; expected torch\.float32, the dtype of W",
                 id="torch-state-dtype-promotes-W"),
    pytest.param(lambda tp, mp: torch_step(W_device="meta"), ValueError,
                 r"BCM\.update: pre is on device cpu; expected meta, the device of W", id="torch-W-other-device"),
    pytest.param(lambda tp, mp: torch_step(eta_shape=(N_POST + 2,)), ValueError,
                 r"BCM\.update: parameter eta has shape \(7,\); expected a scalar or a shape that broadcasts to "
                 r"\(\*batch, n_post\) = \(5,\)", id="torch-param-wrong-shape"),
    pytest.param(lambda tp, mp: __import__("plasticity.torch").torch.BCM(0.1, 2.0).init_state(3, 2, dtype="int32"),
                 TypeError, r"BCM\.init_state: dtype must be a floating torch dtype .*; got 'int32'",
                 id="torch-init-state-dtype"),
]


def torch_step(dt=0.1, state_dtype=None, W_device=None, eta_shape=None):
    """A torch BCM step with one thing wrong."""
    import torch

    from plasticity.torch import BCM as TorchBCM

    rule = TorchBCM(0.1 if eta_shape is None else torch.full(eta_shape, 0.1), 2.0)
    W, x, y = torch.zeros(N_POST, N_PRE), torch.ones(N_PRE), torch.ones(N_POST)
    state = rule.init_state(N_POST, N_PRE, dtype=getattr(torch, state_dtype) if state_dtype else None)
    if W_device is not None:
        W = W.to(W_device)
    return rule.update(W, x, y, state, dt)


def test_torch_init_state_takes_a_numpy_dtype():
    import torch

    from plasticity.torch import BCM as TorchBCM

    assert TorchBCM(0.1, 2.0).init_state(3, 2, dtype=np.float64).theta.dtype == torch.float64


@pytest.mark.parametrize("call, error, pattern", CASES)
def test_bad_input_raises_naming_the_parameter(call, error, pattern, tmp_path, monkeypatch):
    with pytest.raises(error, match=pattern) as info:
        call(tmp_path, monkeypatch)
    assert type(info.value) is error  # not a subclass that happens to match


@pytest.mark.parametrize("cls", RATE_RULES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad", [None, "state", OjaState], ids=["None", "str", "other-rule-state"])
def test_every_registered_rate_rule_refuses_a_foreign_state(cls, bad):
    rule = cls.examples()[0]
    state = bad() if isinstance(bad, type) else bad
    if isinstance(state, state_class(rule)):  # Oja's own state is no foreign state for Oja
        state = BCMState(np.zeros(N_POST))
    W = np.full((N_POST, N_PRE), 0.5)
    with pytest.raises(TypeError, match=rf"{cls.__name__}\.update: state must be a {cls.__name__}State"):
        rule.update(W, np.ones(N_PRE), np.ones(N_POST), state, 0.1)
    with pytest.raises(TypeError, match=rf"state must be a {cls.__name__}State"):
        rule.reference_update(W, np.ones(N_PRE), np.ones(N_POST), state, 0.1)
    np.testing.assert_array_equal(W, 0.5)


# -- silent failures: the documented results -----------------------------------------------------
def test_pointwise_affine_of_a_sequential_reusing_one_activation_module():
    torch = pytest.importorskip("torch")
    from plasticity.metrics import pointwise_affine

    torch.manual_seed(0)
    act = torch.nn.ReLU()
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), act, torch.nn.Linear(8, 8), act, torch.nn.Linear(8, 2)).double()
    for _ in range(5):
        x = torch.randn(3, dtype=torch.float64)
        A, b = pointwise_affine(net, x)
        with torch.no_grad():
            torch.testing.assert_close(A @ x + b, net(x), rtol=1e-12, atol=1e-12)
            J = torch.autograd.functional.jacobian(net, x)
            torch.testing.assert_close(A, J, rtol=1e-12, atol=1e-12)


def test_rate_rule_with_good_float32_state_still_steps():
    rule = BCM(eta=0.1, tau_theta=2.0)
    state = BCMState(theta=np.full(N_POST, 0.2, dtype=np.float32))
    W = np.full((N_POST, N_PRE), 0.5)
    rule.update(W, np.ones(N_PRE), np.ones(N_POST), state, 0.1)
    assert not np.array_equal(W, 0.5) and np.all(np.isfinite(W))
    assert state.theta.dtype == np.float32
    np.testing.assert_allclose(state.theta, 0.2 + 0.1 / 2.0 * (1.0 - 0.2), rtol=1e-6)  # theta += dt/tau (y^2 - theta)


def test_rate_rules_and_networks_accept_weights_on_their_bounds():
    W = np.full((N_POST, N_PRE), 0.1)
    W[:, 0] = 0.9
    rule = Hebbian(eta=0.1, w_min=0.1, w_max=0.9)
    rule.update(W, np.ones(N_PRE), np.ones(N_POST), rule.init_state(N_POST, N_PRE), 0.1)
    assert np.all((W >= 0.1) & (W <= 0.9)) and np.any(W == 0.9)  # the clip acted on the way
    from models.rate import RateNetwork

    net = RateNetwork.ei(20, p=0.5, seed=0)  # absent synapses (stored as -1) are not weights: not checked
    w_max = float(net.weights("EE").max())
    net.run(3, plasticity={"EE": Hebbian(eta=1e-3, w_min=0.0, w_max=w_max)}, progress=False)


def test_spiking_rule_accepts_weights_on_its_bounds():
    W = np.full((N_POST, N_PRE), 0.1)
    W[:, 0] = 0.9
    PAIR.update(W, np.ones(N_PRE), np.zeros(N_POST), PAIR.init_state(N_POST, N_PRE), 1e-3)
    assert np.all((W >= 0.1) & (W <= 0.9))


def test_spiking_rule_does_not_scan_weights_it_does_not_change():
    # only the columns of presynaptic and the rows of postsynaptic spikes are changed, and checked
    W = np.full((N_POST, N_PRE), 0.5)
    W[0, 0] = 5.0  # outside [0.1, 0.9], but neuron 0 is silent on both sides
    pre, post = np.array([0, 1, 1, 1.0]), np.array([0, 1, 1, 1, 1.0])
    PAIR.update(W, pre, post, PAIR.init_state(N_POST, N_PRE), 1e-3)
    assert W[0, 0] == 5.0
    with pytest.raises(ValueError, match=r"got W\[0, 0\] = 5\.0"):
        PAIR.update(W, np.ones(N_PRE), post, PAIR.init_state(N_POST, N_PRE), 1e-3)


def test_spiking_network_at_its_refractory_limit_is_saturated():
    from models.spiking import SATURATION, SpikingNetwork

    strong = SpikingNetwork.single_neuron(1e-6, t_ref=5e-3).run(0.2)  # 200 Hz = 1 / t_ref: max_rate unreachable
    assert strong.rates["N"] >= SATURATION / 5e-3
    assert not strong.diverged
    assert strong.saturated and strong.saturated_populations == ("N",)
    weak = SpikingNetwork.single_neuron(3e-10, t_ref=5e-3).run(0.2)
    assert 0 < weak.rates["N"] < SATURATION / 5e-3
    assert not weak.saturated and weak.saturated_populations == ()


def test_sweep_grid_of_one_parameter_still_runs():
    table = plasticity.sweep(pts.square, {"x": [2]}, scheduler="serial")
    assert table["y"].tolist() == [4.0]


# -- training checkpoints ----------------------------------------------------------------------
def _train(steps, ckpt):
    from models.rnn import RNN, train
    from models.tasks import flipflop

    model = RNN(3, 6, 3, seed=0)
    return model, train(model, flipflop(4, 10, seed=1), steps, lr=5e-3, checkpoint_dir=ckpt, checkpoint_every=2,
                        keep_checkpoints=2, metrics_every=None)


def test_stray_checkpoint_temporary_is_removed(tmp_path):
    stray = tmp_path / ".checkpoint_abc123.tmp"
    stray.write_bytes(b"half a checkpoint")
    other = tmp_path / "notes.txt"
    other.write_text("kept")
    _train(2, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_00000002.pt", "notes.txt"]


def test_corrupt_newest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    import torch
    from models.rnn import TrainingHistory

    full_model, full = _train(6, None)
    _train(4, tmp_path)
    newest = tmp_path / "checkpoint_00000004.pt"
    newest.write_bytes(newest.read_bytes()[:100])  # torn
    with pytest.warns(RuntimeWarning, match=r"checkpoint '.*checkpoint_00000004\.pt' is unreadable"):
        model, resumed = _train(6, tmp_path)
    # resumed from step 2: the same run as an uninterrupted one
    for (n, a), (_, b) in zip(full_model.state_dict().items(), model.state_dict().items()):
        assert torch.equal(a, b), n
    for name in TrainingHistory._per_step:
        np.testing.assert_array_equal(getattr(full, name), getattr(resumed, name))
    assert torch.load(newest, weights_only=True)["step"] == 4  # rewritten whole


def test_checkpoint_dir_file_is_refused_before_any_step(tmp_path):
    drawn = []

    def counting():
        for batch in pairs(10):
            drawn.append(1)
            yield batch

    with pytest.raises(ValueError, match="checkpoint_dir"):
        train_on(counting(), steps=5, checkpoint_dir=write_file(tmp_path), checkpoint_every=100)
    assert drawn == []
