"""RateNetwork against independent references: a plain-numpy loop, analytic solutions, FD Jacobians."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import expm

import models.rate
from models import RateNetwork, RateResult
from models._rate_support import neuron_state
from plasticity.rules import (BCM, Hebbian, HeterosynapticDecay, IntrinsicPlasticity, MetaplasticBCM, Oja, PairSTDP,
                              SynapticScaling)
from plasticity.rules.registry import RATE_RULES

RULES = {
    "none": None,
    "bcm": BCM(eta=0.05, tau_theta=3.0),
    "hebbian": Hebbian(eta=0.02, decay=0.1, w_min=-0.4, w_max=0.4),
    "oja": Oja(eta=0.05),
    "scaling": SynapticScaling(eta=0.05, target=0.3, tau=4.0),
    "intrinsic": IntrinsicPlasticity(eta=0.05, target=0.1, adapt_gain=True, eta_gain=0.02, target_var=0.05),
    "metaplastic": MetaplasticBCM(eta=0.05, tau_theta=2.0, tau_meta=8.0),
}
# Every registered rule's declared configurations, and a composition with a neuron term: a new
# registered rule is run through the network kernels here without editing this file.
REGISTERED = {f"{cls.__name__}[{k}]": rule for cls in RATE_RULES for k, rule in enumerate(cls.examples())}
REGISTERED["hebbian+scaling+heterosynaptic+intrinsic"] = (
    Hebbian(eta=0.02, decay=0.1) + SynapticScaling(eta=0.05, target=0.3, tau=4.0)
    + HeterosynapticDecay(beta=0.05, w_ref=0.02) + IntrinsicPlasticity(eta=0.05, target=0.1))
SCHEMES = [("map", "euler"), ("flow", "euler"), ("flow", "rk4")]


def phi_ref(name, u):
    return {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0), "linear": lambda v: v,
            "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v))}[name](u)


def reference_run(W, x0, steps, rule, dynamics, method, activation="tanh", tau=1.0, dt=0.1, I=0.0):
    """The network written out in numpy, the rule through its numpy ``reference_update``."""
    W, x = W.copy(), x0.astype(np.float64)
    n = len(x)
    state = rule.init_state(n, n) if rule is not None else None
    views = neuron_state(rule, state) if rule is not None else None  # (gain, threshold) of intrinsic plasticity

    def rate(u):  # intrinsic plasticity: phi(gain * u - threshold)
        return phi_ref(activation, views[0] * u - views[1] if views is not None else u)

    xs = [x]
    for k in range(steps):
        Ik = I[k] if np.ndim(I) == 2 else I
        if dynamics == "map":
            xn = rate(W @ x + Ik)
            if rule is not None:
                rule.reference_update(W, x, xn, state, 1.0)
        else:
            def f(z):
                return (-z + W @ rate(z) + Ik) / tau

            if method == "euler":
                xn = x + dt * f(x)
            else:
                k1 = f(x)
                k2 = f(x + dt / 2 * k1)
                k3 = f(x + dt / 2 * k2)
                xn = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + f(x + dt * k3))
            r = rate(x)
            if rule is not None:
                rule.reference_update(W, r, r.copy(), state, dt)
        x = xn
        xs.append(x)
    return np.array(xs), W, state


def make(n=24, g=0.9, seed=1, dynamics="map", method="euler", dtype=np.float64, **kw):
    return RateNetwork.random(n, g, seed=seed, dynamics=dynamics, method=method, dtype=dtype, **kw)


@pytest.mark.parametrize("rule_name", list(RULES) + list(REGISTERED))
@pytest.mark.parametrize("dynamics,method", SCHEMES)
def test_fused_kernel_matches_numpy_loop_float64(rule_name, dynamics, method):
    rule = {**RULES, **REGISTERED}[rule_name]
    net = make(dynamics=dynamics, method=method, tau=2.0, dt=0.2)
    if rule is not None:
        np.clip(net.W, *rule.weight_bounds(), out=net.W)  # weights outside the rule's bounds: run raises
    W0, x0 = net.W.copy(), np.random.default_rng(5).uniform(-1, 1, net.n)
    I = np.random.default_rng(6).normal(0, 0.3, (40, net.n))
    res = net.run(40, rule=rule, inputs=I, x0=x0)
    xs, W_ref, state = reference_run(W0, x0, 40, rule, dynamics, method, tau=2.0, dt=0.2, I=I)
    # Same float64 operations in another order (BLAS vs the fused row loop, FMA): a few ulps
    # per step, grown by at most ~g per step over 40 steps of a non-chaotic (g < 1) network.
    np.testing.assert_allclose(res.states, xs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(net.W, W_ref, rtol=1e-10, atol=1e-12)
    if state is not None:
        for term, mine, ref in zip(rule.terms(), rule.term_states(net.rule_state), rule.term_states(state)):
            for name in term.state_fields:
                np.testing.assert_allclose(getattr(mine, name), getattr(ref, name), rtol=1e-10, atol=1e-12)
    if dynamics == "flow":
        views = neuron_state(rule, net.rule_state) if rule is not None else None
        gain, thr = views if views is not None else (1.0, 0.0)
        # the recorded rate is tanh of the recorded state (the same float64 numbers): to rounding
        np.testing.assert_allclose(res.rates[-1], np.tanh(gain * res.states[-1] - thr), rtol=1e-12, atol=1e-14)
    assert not res.diverged and res.diverged_at is None and res.reason == ""


@pytest.mark.parametrize("dynamics,method", SCHEMES)
def test_fused_kernel_matches_numpy_loop_float32(dynamics, method):
    net = make(n=40, g=0.5, dynamics=dynamics, method=method, dtype=np.float32)
    W0, x0 = net.W.copy(), np.random.default_rng(5).uniform(-1, 1, net.n)
    res = net.run(30, rule=RULES["bcm"], inputs=0.2, x0=x0)
    xs, W_ref, _ = reference_run(W0, x0, 30, RULES["bcm"], dynamics, method, I=0.2)
    assert net.W.dtype == np.float32 and res.states.dtype == np.float32
    # float32 W and dot products (eps 6e-8, ~sqrt(40) * eps per dot) against a float64-dot
    # reference; the contracting network (g = 0.5) does not amplify: 1e-5 is ~20x that error.
    np.testing.assert_allclose(res.states, xs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(net.W, W_ref, rtol=1e-5, atol=1e-6)


def test_user_rule_without_kind_runs_the_python_path():
    class SlowBCM:  # a user's rule: no kind, only the contract methods
        def __init__(self):
            self.inner = BCM(eta=0.05, tau_theta=3.0)

        def init_state(self, n_post, n_pre):
            return self.inner.init_state(n_post, n_pre)

        def update(self, W, pre, post, state, dt):
            self.inner.reference_update(W, pre, post, state, dt)

    for dynamics, method in SCHEMES:
        fast, slow = make(dynamics=dynamics, method=method), make(dynamics=dynamics, method=method)
        rf = fast.run(30, rule=RULES["bcm"], inputs=0.1)
        with pytest.warns(RuntimeWarning, match="SlowBCM is not a registered rate rule"):
            rs = slow.run(30, rule=SlowBCM(), inputs=0.1)
        # two implementations of one float64 computation: agreement to rounding
        np.testing.assert_allclose(rs.states, rf.states, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(rs.rates, rf.rates, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(slow.W, fast.W, rtol=1e-10, atol=1e-12)


def _linear_flow_error(method, dt, T=2.0):
    n, tau = 6, 1.5
    rng = np.random.default_rng(3)
    W = rng.normal(0, 0.8 / math.sqrt(n), (n, n))
    x0, b = rng.uniform(-1, 1, n), rng.normal(0, 0.5, n)
    net = RateNetwork(W, activation="linear", dynamics="flow", tau=tau, dt=dt, method=method)
    res = net.run(round(T / dt), inputs=b, x0=x0)
    A = (W - np.eye(n)) / tau  # tau dx/dt = (W - 1) x + b: x(T) = e^{AT} x0 + A^{-1}(e^{AT} - 1) b / tau
    exact = expm(A * T) @ x0 + np.linalg.solve(A, (expm(A * T) - np.eye(n)) @ b / tau)
    return np.abs(res.states[-1] - exact).max()


@pytest.mark.parametrize("method,order", [("euler", 1), ("rk4", 4)])
def test_linear_flow_converges_to_matrix_exponential_at_the_method_order(method, order):
    dts = [0.2, 0.1, 0.05, 0.025]
    errors = [_linear_flow_error(method, dt) for dt in dts]
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.15, (slope, errors)  # asymptotic regime: within 0.15 of the order
    assert errors[-1] < (1e-2 if method == "euler" else 1e-7)


def test_input_forms_describing_the_same_input_agree():
    n, steps = 10, 25
    for dynamics in ("map", "flow"):
        runs = []
        for inputs in (0.3, np.full(n, 0.3), np.full((steps, n), 0.3), lambda t: np.full(n, 0.3)):
            runs.append(make(n=n, dynamics=dynamics).run(steps, inputs=inputs).states)
        for other in runs[1:]:
            np.testing.assert_array_equal(other, runs[0])  # the kernel sees identical numbers
        dt = 1.0 if dynamics == "map" else 0.1

        def drive(t):
            return np.sin(t + np.arange(n))

        arr = np.array([drive(k * dt) for k in range(steps)])
        a = make(n=n, dynamics=dynamics).run(steps, inputs=drive).states
        b = make(n=n, dynamics=dynamics).run(steps, inputs=arr).states
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, runs[0])


def test_hebbian_runaway_is_a_returned_divergence():
    static = RateNetwork.random(30, 0.8, seed=2, activation="relu").run(2000, inputs=0.5)
    assert not static.diverged and np.abs(static.states).max() < 10  # the network alone is stable
    net = RateNetwork.random(30, 0.8, seed=2, activation="relu")
    res = net.run(2000, rule=Hebbian(eta=0.005), inputs=0.5, record_every=3, record_weights_every=2)
    assert res.diverged and res.reason in ("|x| > bound", "|W| > weight_bound", "non-finite state")
    assert res.diverged_at is not None and 0 < res.diverged_at < 2000 and len(res.weight_times) >= 3
    assert len(res.times) == len(res.states) >= 2 and res.times[-1] < res.diverged_at
    assert np.all(np.isfinite(res.states)) and np.all(np.isfinite(res.weights))
    assert np.abs(res.states).max() <= 1e6 and np.abs(res.weights).max() <= 1e6
    assert res.weight_times[-1] < res.diverged_at


def test_weight_bound_stops_a_run_and_names_the_reason():
    net = RateNetwork.random(20, 0.5, seed=2)
    res = net.run(5000, rule=Hebbian(eta=0.5), inputs=0.8, weight_bound=3.0)
    assert res.diverged and res.reason == "|W| > weight_bound"
    assert np.abs(res.weights).max() <= 3.0 < np.abs(net.W).max()


def test_recording_shapes_and_times():
    net = make(n=12, dynamics="flow", dt=0.05)
    res = net.run(100, rule=RULES["bcm"], record_every=7)
    assert res.states.shape == res.rates.shape == (15, 12)  # steps 0, 7, ..., 98
    np.testing.assert_allclose(res.times, 0.05 * np.arange(0, 100, 7))
    assert res.weights.shape == (2, 12, 12)  # default: start and end
    np.testing.assert_allclose(res.weight_times, [0.0, 5.0])
    np.testing.assert_array_equal(res.weights[-1], net.W)
    res = net.run(20, rule=RULES["bcm"], record_weights_every=8)  # continues in time
    np.testing.assert_allclose(res.weight_times, 5.0 + 0.05 * np.array([0, 8, 16, 20]))
    assert res.times[0] == pytest.approx(5.0)
    static = make(n=12).run(50)
    assert static.weights.shape == (2, 12, 12)  # frozen weights: start and end only
    none = make(n=12).run(50, rule=RULES["bcm"], record_weights_every=0)
    assert none.weights.shape == (0, 12, 12) and none.weight_times.shape == (0,)
    mapped = make(n=12).run(10, rule=RULES["bcm"])
    assert mapped.rates is mapped.states and mapped.times[-1] == 10.0


def test_consecutive_runs_continue_state_time_and_rule_state():
    a, b = make(), make()
    whole = a.run(60, rule=BCM(eta=0.05, tau_theta=3.0))
    b.run(25, rule=BCM(eta=0.05, tau_theta=3.0))
    second = b.run(35, rule=BCM(eta=0.05, tau_theta=3.0))  # an equal rule continues its state
    # the second run recomputes W x once at its start: same sums, possibly another order
    np.testing.assert_allclose(second.states, whole.states[25:], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b.rule_state.theta, a.rule_state.theta, rtol=1e-12)
    np.testing.assert_allclose(second.times, np.arange(25, 61))
    b.run(5, rule=BCM(eta=0.01, tau_theta=3.0))  # a different rule starts from its init_state
    assert b._rule == BCM(eta=0.01, tau_theta=3.0)


def test_same_seed_same_numbers():
    r1 = RateNetwork.random(20, 1.5, seed=7).run(50, rule=RULES["bcm"])
    r2 = RateNetwork.random(20, 1.5, seed=np.random.default_rng(7)).run(50, rule=RULES["bcm"])
    np.testing.assert_array_equal(r1.states, r2.states)
    np.testing.assert_array_equal(r1.weights, r2.weights)
    r3 = RateNetwork.random(20, 1.5, seed=8).run(50, rule=RULES["bcm"])
    assert not np.allclose(r1.states, r3.states)


def test_dale_matrix_is_balanced_with_signs_by_column():
    n, g = 500, 1.2
    W = RateNetwork.random(n, g, seed=0, dale=True).W
    n_e = 400
    assert np.all(W[:, :n_e] >= 0) and np.all(W[:, n_e:] <= 0)
    np.testing.assert_allclose(W.sum(axis=1), 0.0, atol=1e-12)  # every row sums to zero
    # about each column's mean the variance is g^2/n: the E block (2e5 exponential entries)
    # has a sampling error of 0.6%; the I block also carries the row balancing, which raises
    # it by 2-4% (seeds 0-4 give 1.02-1.04 g^2/n), hence 3% and 6%
    assert np.var(W[:, :n_e] - W[:, :n_e].mean(0)) == pytest.approx(g**2 / n, rel=0.03)
    assert np.var(W[:, n_e:] - W[:, n_e:].mean(0)) == pytest.approx(g**2 / n, rel=0.06)
    # Rajan & Abbott (2006): eigenvalues in the disc of radius g, no outliers; at n = 500 the
    # largest modulus exceeds g by 1-4% (as for the Gaussian matrix: 3% at seed 0)
    assert np.abs(np.linalg.eigvals(W)).max() == pytest.approx(g, rel=0.06)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
@pytest.mark.parametrize("dynamics", ["map", "flow"])
def test_as_system_jacobian_matches_finite_differences(activation, dynamics):
    net = make(n=8, dynamics=dynamics, activation=activation, tau=1.7)
    x = np.random.default_rng(0).uniform(-1, 1, 8)
    I = np.linspace(-0.3, 0.3, 8)
    system = net.as_system(inputs=I)
    f = system.step if dynamics == "map" else system.rhs
    expected = phi_ref(activation, net.W @ x + I) if dynamics == "map" else (-x + net.W @ phi_ref(activation, x) + I) / 1.7
    np.testing.assert_allclose(f(x), expected, rtol=1e-14, atol=1e-15)  # the same formula: to rounding
    h = 1e-6  # central differences: error ~h^2 * |phi'''| ~ 1e-12, rounding ~eps/h ~ 1e-10
    fd = np.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(8)], axis=1)
    np.testing.assert_allclose(system.jacobian(x), fd, rtol=1e-7, atol=1e-8)


def test_to_dataframe_and_save_load_roundtrip(tmp_path):
    res = make(n=5, dynamics="flow").run(12, rule=RULES["bcm"], record_every=4)
    long = res.to_dataframe()
    assert list(long.columns) == ["time", "neuron", "state", "rate"] and len(long) == 4 * 5
    np.testing.assert_array_equal(long["rate"].to_numpy().reshape(4, 5), res.rates)
    wide = res.to_dataframe("wide")
    np.testing.assert_array_equal(wide["state"].to_numpy(), res.states)
    np.testing.assert_array_equal(wide.index.to_numpy(), res.times)
    res.save(tmp_path / "r.npz")
    back = RateResult.load(tmp_path / "r.npz")
    for name in ("times", "rates", "states", "weights", "weight_times"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert (back.diverged, back.diverged_at, back.reason, back.dynamics) == (False, None, "", "flow")
    bad = RateNetwork.random(10, 3.0, seed=0, activation="linear").run(500, bound=1e3)
    bad.save(tmp_path / "bad.npz")
    back = RateResult.load(tmp_path / "bad.npz")
    assert back.diverged and back.diverged_at == bad.diverged_at and back.reason == "|x| > bound"
    assert back.rates is back.states
    assert [p.name for p in tmp_path.iterdir()] in (["r.npz", "bad.npz"], ["bad.npz", "r.npz"])


def test_progress_true_shows_a_bar(capsys):
    make(n=5).run(3, progress=True)
    assert "RateNetwork.run" in capsys.readouterr().err
    make(n=5).run(3, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kwargs,match", [
    ({"activation": "softplus"}, r"RateNetwork\.activation must be one of \('tanh', 'relu', 'sigmoid', 'linear'\); got 'softplus'"),
    ({"dynamics": "ode"}, r"RateNetwork\.dynamics must be one of"),
    ({"method": "rk45"}, r"RateNetwork\.method must be one of"),
    ({"tau": 0.0}, r"RateNetwork\.tau must be a number in \(0, inf\); got 0\.0"),
    ({"dt": -0.1}, r"RateNetwork\.dt must be a number in \(0, inf\); got -0\.1"),
    ({"W": np.ones((3, 4))}, r"W must be a square 2-D array .* got shape \(3, 4\)"),
    ({"W": np.array([[0.0, np.nan], [0.0, 0.0]])}, r"W must be finite"),
])
def test_bad_construction_is_refused_with_the_parameter_named(kwargs, match):
    args = {"W": np.eye(2) * 0.5, **kwargs}
    with pytest.raises(ValueError, match=match):
        RateNetwork(**args)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"steps": 0}, ValueError, r"RateNetwork\.run\.steps must be an integer in \[1, inf\); got 0"),
    ({"steps": 2.5}, ValueError, r"steps must be an integer in \[1, inf\); got 2\.5"),
    ({"inputs": np.ones((7, 3))}, ValueError, r"inputs has shape \(7, 3\); expected .*\(10, 4\) = \(steps, n\)"),
    ({"inputs": np.array([0.0, np.nan, 0.0, 0.0])}, ValueError, r"inputs must be finite"),
    ({"inputs": lambda t: np.ones(3)}, ValueError, r"inputs\(t\) must return .* shape \(4,\)"),
    ({"inputs": lambda t: np.full(4, np.nan)}, ValueError, r"inputs\(t\) must be finite"),
    ({"x0": np.ones(5)}, ValueError, r"x0 has shape \(5,\); expected \(4,\)"),
    ({"record_every": 0}, ValueError, r"record_every must be an integer in \[1, inf\)"),
    ({"bound": -1.0}, ValueError, r"bound must be a number in \(0, inf\]"),
    ({"rule": PairSTDP(a_plus=0.01, a_minus=0.01, tau_plus=0.02, tau_minus=0.02)}, TypeError, r"rule must be a rate rule"),
    ({"rule": "bcm"}, TypeError, r"rule must have init_state"),
])
def test_bad_run_arguments_are_refused_with_the_parameter_named(kwargs, error, match):
    net = RateNetwork(np.eye(4) * 0.5)
    with pytest.raises(error, match=match):
        net.run(**{"steps": 10, **kwargs})


def test_a_static_run_after_intrinsic_plasticity_is_the_frozen_system():
    net = make(dynamics="flow", method="euler", tau=2.0, dt=0.2)
    net.run(50, rule=RULES["intrinsic"], inputs=0.2)
    assert np.abs(net.rule_state.threshold).max() > 0.01
    system, x = net.as_system(inputs=0.2), net.x.copy()
    res = net.run(20, inputs=0.2)
    for _ in range(20):
        x = x + 0.2 * system(x)
    np.testing.assert_allclose(res.states[-1], x, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_a_map_step_after_intrinsic_plasticity_is_the_frozen_system(activation):
    # the map the kernel runs and the Map that as_system() returns (built by rate_system) are one
    # definition: one kernel step from x equals system(x), phi(g (W x + I) - b) written out
    net = make(dynamics="map", activation=activation)
    net.run(40, rule=RULES["intrinsic"], inputs=0.1)
    gain, thr = net.rule_state.gain.copy(), net.rule_state.threshold.copy()
    assert np.abs(thr).max() > 0.01
    system, x = net.as_system(inputs=0.1), net.x.copy()
    assert system.has_jvp and system.dim == net.n
    np.testing.assert_allclose(system(x), phi_ref(activation, gain * (net.W @ x + 0.1) - thr), rtol=1e-14, atol=1e-15)
    res = net.run(1, inputs=0.1)
    # the kernel sums W x in vector lanes, BLAS in its own order: rounding of n-term sums
    np.testing.assert_allclose(res.states[-1], system(x), rtol=1e-13, atol=1e-14)


def test_default_snapshots_only_while_they_fit(monkeypatch):
    # beyond SNAPSHOT_BYTES for the two copies, a run records no weights unless asked
    monkeypatch.setattr(models.rate, "SNAPSHOT_BYTES", 2 * 12 * 12 * 8 - 1)
    res = make(n=12).run(20, rule=RULES["bcm"])
    assert res.weights.shape == (0, 12, 12)
    res = make(n=12).run(20, rule=RULES["bcm"], record_weights_every=10)
    assert res.weights.shape == (3, 12, 12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_random_weights_drawn_in_blocks_equal_one_draw(dtype):
    # RateNetwork.random draws row blocks straight into the network's array (one copy of W);
    # the numbers are those of one rng.normal draw of the whole matrix, cast to the dtype
    n = 700  # several blocks of 2**18 // n rows
    W = RateNetwork.random(n, 1.3, seed=11, dtype=dtype).W
    expected = np.random.default_rng(11).normal(0.0, 1.3 / math.sqrt(n), size=(n, n)).astype(dtype)
    np.testing.assert_array_equal(W, expected)
    assert W.dtype == dtype and W.flags.c_contiguous
