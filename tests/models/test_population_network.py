"""Population (E/I) rate networks: the fused kernel against a plain-numpy loop, sign and sparsity
kept under every registered rule, mean-field quiet state, homeostasis at network level, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from models import RatePopulation, RateProjection, RateNetwork
from models._population_kernels import ABSENT
from models.population_network import EI_DEFAULTS
from plasticity.rules import (BCM, Hebbian, HeterosynapticDecay, InhibitoryPlasticity, IntrinsicPlasticity, PairSTDP,
                              SynapticScaling)
from plasticity.rules.registry import RATE_RULES


def small_net(dynamics="flow", seed=0, p=0.3, act_e="relu", act_i="relu", dtype=np.float64):
    pops = [RatePopulation("E", 12, activation=act_e, tau=1.0, bias=1.0, max_rate=6.0, k=0.5, exponent=2.0),
            RatePopulation("I", 5, activation=act_i, inhibitory=True, tau=0.5, bias=0.5)]
    projs = [RateProjection("E", "E", p=p, w=0.08, w_max=0.5), RateProjection("E", "I", p=p, w=0.1),
             RateProjection("I", "E", p=p, w=0.15), RateProjection("I", "I", p=1.0, w=0.05)]
    return RateNetwork.from_populations(pops, projs, dynamics=dynamics, dt=0.1, seed=seed, dtype=dtype)


POPULATION_PHI = {
    "relu": lambda z, p: np.maximum(z, 0.0),
    "rectified_tanh": lambda z, p: np.maximum(np.tanh(z), 0.0),
    "power": lambda z, p: p.k * np.maximum(z, 0.0) ** p.exponent,
    "sigmoid": lambda z, p: 1.0 / (1.0 + np.exp(-z)),
    "tanh": lambda z, p: np.tanh(z),
    "linear": lambda z, p: z,
}


def reference_run(net, steps, plasticity, inputs, x0):
    """Plain numpy: the same equations, each projection's rule through ``reference_update``."""
    W = net._W.astype(np.float64).copy()
    mask = W >= 0
    pops = net.population_list
    sl = net.populations
    sign = np.concatenate([np.full(p.n, -1.0 if p.inhibitory else 1.0) for p in pops])
    tau = np.concatenate([np.full(p.n, p.tau) for p in pops])
    bias = np.concatenate([np.full(p.n, p.bias) for p in pops])
    gain, thr = np.ones(net.n), np.zeros(net.n)
    states = {k: rule.init_state(sl[net.projections[k].target].stop - sl[net.projections[k].target].start,
                                 sl[net.projections[k].source].stop - sl[net.projections[k].source].start)
              for k, rule in plasticity.items()}

    def phi(u):  # the populations' activations written out (independent of plasticity.activations)
        out = np.empty(net.n)
        for p in pops:
            z = gain[sl[p.name]] * u[sl[p.name]] - thr[sl[p.name]]
            out[sl[p.name]] = np.minimum(POPULATION_PHI[p.activation](z, p), np.inf if p.max_rate is None else p.max_rate)
        return out

    x = x0.copy()
    r = x if net.dynamics == "map" else phi(x)
    xs = [x.copy()]
    for s in range(steps):
        Ws = np.where(mask, W, 0.0) * sign[None, :]
        if net.dynamics == "map":
            xn = phi(Ws @ x + bias + inputs[s])
            pre_all, post_all = x, xn
        else:
            xn = x + 0.1 / tau * (-x + Ws @ r + bias + inputs[s])
            pre_all, post_all = r, r
        for name, rule in plasticity.items():
            pr = net.projections[name]
            t, src = sl[pr.target], sl[pr.source]
            block = np.where(mask[t, src], W[t, src], 0.0)
            rule.reference_update(block, pre_all[src].copy(), post_all[t].copy(), states[name],
                                  1.0 if net.dynamics == "map" else 0.1)
            np.clip(block, pr.w_min, pr.w_max, out=block)
            W[t, src] = np.where(mask[t, src], block, ABSENT)
            for term, st in zip(rule.terms(), rule.term_states(states[name])):
                if term.acts_on_neurons:
                    thr[t], gain[t] = st.threshold, st.gain
        x = xn
        r = x if net.dynamics == "map" else phi(x)
        xs.append(x.copy())
    return np.array(xs), W


PLASTICITY = {
    "hebbian+scaling on EE, inhibitory on IE": {"EE": Hebbian(0.02) + SynapticScaling(0.05, 1.0, 5.0),
                                               "IE": InhibitoryPlasticity(0.03, 1.0)},
    "bcm + heterosynaptic + intrinsic on EE": {"EE": BCM(0.02, 3.0) + HeterosynapticDecay(0.01, w_ref=0.05)
                                              + IntrinsicPlasticity(0.05, 1.0, adapt_gain=True)},
    "none": {},
}


@pytest.mark.parametrize("dynamics", ["flow", "map"])
@pytest.mark.parametrize("case", list(PLASTICITY))
def test_kernel_matches_numpy_loop(dynamics, case):
    net = small_net(dynamics)
    rng = np.random.default_rng(1)
    steps = 60
    I = rng.uniform(0, 0.5, (steps, net.n))
    x0 = rng.uniform(0, 1, net.n)
    ref_x, ref_W = reference_run(net, steps, PLASTICITY[case], I, x0)
    res = net.run(steps, plasticity=PLASTICITY[case], inputs=I, x0=x0, progress=False)
    assert not res.diverged
    # the same float64 arithmetic, summed in another order (dot products in vector lanes):
    # rounding of ~1e-16 relative per step, amplified by at most a few over 60 steps
    np.testing.assert_allclose(res.states, ref_x, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(net._W, ref_W, rtol=1e-11, atol=1e-12)
    if case != "none":
        assert not np.allclose(ref_W, small_net(dynamics)._W)  # the rules did change W


@pytest.mark.parametrize("case", list(PLASTICITY))
def test_parallel_paired_pass_matches_numpy_loop(case, monkeypatch):
    # large networks take the parallel pass, whose rows go in pairs within a population; force it
    # on the small network (13 E rows: the last E row and the odd I row take the single-row path)
    import models.population_network as pn
    import numba

    monkeypatch.setattr(pn, "PARALLEL_MIN_N", 0)
    assert numba.get_num_threads() > 1 or pytest.skip("one numba thread: no parallel pass")
    pops = [RatePopulation("E", 13, bias=1.0, max_rate=6.0), RatePopulation("I", 5, inhibitory=True, tau=0.5, bias=0.5)]
    projs = [RateProjection("E", "E", p=0.3, w=0.08, w_max=0.5), RateProjection("E", "I", p=0.3, w=0.1),
             RateProjection("I", "E", p=0.3, w=0.15), RateProjection("I", "I", w=0.05)]
    net = RateNetwork.from_populations(pops, projs, seed=0)
    rng = np.random.default_rng(1)
    I, x0 = rng.uniform(0, 0.5, (60, net.n)), rng.uniform(0, 1, net.n)
    ref_x, ref_W = reference_run(net, 60, PLASTICITY[case], I, x0)
    res = net.run(60, plasticity=PLASTICITY[case], inputs=I, x0=x0, progress=False)
    np.testing.assert_allclose(res.states, ref_x, rtol=1e-11, atol=1e-12)  # as the serial test
    np.testing.assert_allclose(net._W, ref_W, rtol=1e-11, atol=1e-12)


def test_structure_signs_and_sparsity():
    net = RateNetwork.ei(n_exc=200, n_inh=50, seed=3)
    assert net.populations == {"E": slice(0, 200), "I": slice(200, 250)}
    W = net.W
    assert np.all(W[:, :200] >= 0) and np.all(W[:, 200:] <= 0)
    for name in ("EE", "EI", "IE", "II"):
        src, tgt = name[0], name[1]  # projections are named source first
        m = net.connectivity(name)
        w = net.weights(name)
        assert m.shape == (net.populations[tgt].stop - net.populations[tgt].start,
                           net.populations[src].stop - net.populations[src].start)
        # p = 0.1 binomial: the fraction is within 4 standard deviations of 0.1
        assert abs(m.mean() - 0.1) < 4 * math.sqrt(0.09 / m.size)
        J = EI_DEFAULTS[f"J_{name}"]
        n_source = (200 if src == "E" else 50) - (src == tgt)  # no self-synapses within a population
        np.testing.assert_allclose(w[m], J / (0.1 * n_source))
        assert np.all(w[~m] == 0)
    assert not net.connectivity("EE").diagonal().any()  # no self-connections


def test_quiet_state_matches_mean_field():
    # p = 1: every E neuron sees the same input, and its summed weights are exactly the J's
    n_e, n_i = 100, 25
    net = RateNetwork.ei(n_exc=n_e, n_inh=n_i, p=1.0, seed=0)
    res = net.run(400, progress=False, record_every=400)
    J = {k: EI_DEFAULTS[f"J_{k}"] for k in ("EE", "EI", "IE", "II")}
    for k in J:
        np.testing.assert_allclose(net.weights(k).sum(axis=1), J[k], rtol=1e-12)
    b_e, b_i = EI_DEFAULTS["bias_e"], EI_DEFAULTS["bias_i"]
    r_e = (b_e - J["IE"] * b_i / (1 + J["II"])) / (1 - J["EE"] + J["IE"] * J["EI"] / (1 + J["II"]))
    r_i = (J["EI"] * r_e + b_i) / (1 + J["II"])
    np.testing.assert_allclose(res.rates[-1, :n_e], r_e, rtol=1e-9)
    np.testing.assert_allclose(res.rates[-1, n_e:], r_i, rtol=1e-9)


def test_as_system_jacobian_matches_finite_differences():
    net = small_net("flow", act_e="power")
    net.run(20, plasticity={"EE": Hebbian(0.01) + IntrinsicPlasticity(0.1, 1.0)}, progress=False)
    system = net.as_system(inputs={"E": 0.2})
    x = net.x + 0.3
    J = system.jacobian(x)
    eps = 1e-6
    fd = np.stack([(system(x + eps * e) - system(x - eps * e)) / (2 * eps) for e in np.eye(net.n)], axis=1)
    np.testing.assert_allclose(J, fd, atol=1e-6)


@pytest.mark.parametrize("cls", RATE_RULES, ids=lambda c: c.__name__)
def test_every_rule_keeps_bounds_sparsity_and_signs(cls):
    for base in cls.examples():
        net = small_net("flow", seed=2)  # fresh weights inside every example's bounds (outside: run raises)
        mask0 = {k: net.connectivity(k) for k in net.projections}
        rule = base + Hebbian(0.05)  # a composition, so that every rule is pushed hard
        res = net.run(80, plasticity={"EE": rule, "IE": base}, inputs={"E": 1.0}, progress=False)
        for name, pr in net.projections.items():
            w = net.weights(name)
            assert np.array_equal(net.connectivity(name), mask0[name]), name
            assert w.min() >= pr.w_min and w.max() <= pr.w_max, name
        W = net.W
        assert np.all(W[:, :12] >= 0) and np.all(W[:, 12:] <= 0)
        assert np.all(np.isfinite(res.rates))


def test_hebbian_alone_diverges_and_keeps_the_record():
    net = RateNetwork.ei(n_exc=200, n_inh=50, seed=0)
    res = net.run(4000, plasticity={"EE": Hebbian(2e-3)}, record_every=10, progress=False)
    assert res.diverged and res.diverged_at is not None and res.reason
    assert res.times[-1] <= res.diverged_at and np.all(np.isfinite(res.rates))
    assert res.rates[-1, :200].mean() > 10 * res.rates[0, :200].mean()  # it ran away before it stopped


def test_scaling_holds_the_set_point_under_hebbian_learning():
    # Hebbian growth eta_h y_i x_j balanced by scaling eta_s (target - a_i) W_ij: at the fixed
    # point (a_i = y_i) every E rate sits above the target by the offset of a proportional
    # controller, y_i - target = eta_h y_i sum_{j -> i} x_j / (eta_s J_i), J_i = sum_j W_ij;
    # Hebbian learning alone runs away.
    target, eta_h = 2.0, 5e-5
    common = dict(n_exc=160, n_inh=40, seed=1)
    runaway = RateNetwork.ei(**common).run(30000, plasticity={"EE": Hebbian(eta_h)}, record_every=100, progress=False)
    assert runaway.diverged or runaway.rates[-1, :160].mean() > 3 * target
    offsets = []
    for eta_s in (0.05, 0.2):
        net = RateNetwork.ei(**common)
        rule = Hebbian(eta_h) + SynapticScaling(eta_s, target, 1.0)
        res = net.run(30000, plasticity={"EE": rule}, inputs={"E": 0.5}, record_every=100, progress=False)
        assert not res.diverged
        r, W = res.rates[-1, :160], net.weights("EE")
        predicted = eta_h * r * ((W > 0) @ r) / (eta_s * W.sum(axis=1))
        np.testing.assert_allclose(r - target, predicted, rtol=1e-3)  # converged to 5e-5 here
        offsets.append(np.mean(r - target))
    # faster scaling, smaller offset (less than 1/eta_s: the weights J_i shrink with it)
    assert 0 < offsets[1] < 0.7 * offsets[0]


def test_inhibitory_plasticity_brings_e_rates_to_target():
    # integral feedback per neuron through its inhibitory weights: every E neuron ends at the
    # target exactly. p = 0.5 gives each E neuron ~20 inhibitory inputs; with p = 0.1 some have
    # one weak input and converge at rate eta x^2 ~ 1e-3 per unit time (physics, not a bug).
    target = 1.0
    net = RateNetwork.ei(n_exc=160, n_inh=40, p=0.5, seed=2)
    res = net.run(20000, plasticity={"IE": InhibitoryPlasticity(eta=1e-2, target=target)}, inputs={"E": 1.0},
                  record_every=100, progress=False)
    assert not res.diverged
    quiet = RateNetwork.ei(n_exc=160, n_inh=40, p=0.5, seed=2).run(2000, inputs={"E": 1.0}, progress=False)
    assert quiet.rates[-1, :160].mean() > 2 * target  # without plasticity the rates are far above it
    np.testing.assert_allclose(res.rates[-1, :160], target, rtol=1e-9)


def test_heterosynaptic_decay_stops_runaway():
    common = dict(n_exc=160, n_inh=40, seed=3)
    hebb = Hebbian(2e-3)
    alone = RateNetwork.ei(**common).run(5000, plasticity={"EE": hebb}, record_every=50, progress=False)
    net = RateNetwork.ei(**common)
    res = net.run(5000, plasticity={"EE": hebb + HeterosynapticDecay(beta=1e-3)}, record_every=50, progress=False)
    assert alone.diverged
    assert not res.diverged
    late = res.rates[-20:, :160].mean(axis=1)
    assert late.max() < 20 and np.ptp(late) < 0.01 * late.mean()  # settled, not still growing


def test_same_seed_same_numbers():
    runs = [RateNetwork.ei(n_exc=80, n_inh=20, seed=7).run(50, plasticity={"EE": Hebbian(1e-3)}, progress=False)
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0].rates, runs[1].rates)


def test_float32_weights_follow_float64():
    res = [small_net("flow", dtype=d).run(40, plasticity={"EE": Hebbian(0.01)}, inputs=0.3, x0=np.full(17, 0.5),
                                          progress=False) for d in (np.float32, np.float64)]
    # float32 storage rounds each weight to 6e-8 relative per step; rates of order 1
    np.testing.assert_allclose(res[0].rates, res[1].rates, rtol=1e-4, atol=1e-5)


def test_result_round_trip_keeps_populations(tmp_path):
    from models import RateResult

    res = small_net().run(10, progress=False)
    res.save(tmp_path / "r.npz")
    back = RateResult.load(tmp_path / "r.npz")
    assert back.populations == res.populations
    np.testing.assert_array_equal(back.rates, res.rates)


def test_bad_input_names_the_argument():
    E = RatePopulation("E", 4)
    I = RatePopulation("I", 2, inhibitory=True)
    with pytest.raises(ValueError, match=r"projections\[0\]\.target must name a population \['E', 'I'\]; got 'X'"):
        RateNetwork.from_populations([E, I], [RateProjection("E", "X")])
    with pytest.raises(ValueError, match=r"RateProjection\.w must be a magnitude in \[w_min, w_max\]"):
        RateProjection("I", "E", w=-0.1)
    with pytest.raises(ValueError, match=r"RateProjection\.p must be a number in \(0, 1\]"):
        RateProjection("I", "E", p=0.0)
    with pytest.raises(ValueError, match="population names must be unique"):
        RateNetwork.from_populations([E, E], [])
    with pytest.raises(ValueError, match="RatePopulation.activation must be one of"):
        RatePopulation("E", 3, activation="softplus")
    net = RateNetwork.from_populations([E, I], [RateProjection("E", "E", w=0.1), RateProjection("I", "E", w=0.1)])
    with pytest.raises(ValueError, match=r"plasticity keys must name a projection \['EE', 'IE'\]; got 'EI'"):
        net.run(5, plasticity={"EI": Hebbian(0.1)})
    with pytest.raises(ValueError, match=r"inputs keys must name a population \['E', 'I'\]; got 'X'"):
        net.run(5, inputs={"X": 1.0})
    with pytest.raises(ValueError, match=r"inputs\['E'\].*inputs has shape \(3,\)"):
        net.run(5, inputs={"E": np.ones(3)})
    with pytest.raises(TypeError, match="plasticity per projection"):
        net.run(5, rule=Hebbian(0.1))
    with pytest.raises(TypeError, match=r"plasticity\['EE'\] must be a rate rule; got PairSTDP"):
        net.run(5, plasticity={"EE": PairSTDP(0.01, 0.01, 0.02, 0.02)})
    with pytest.raises(TypeError, match=r"got the class Hebbian"):
        net.run(5, plasticity={"EE": Hebbian})
    with pytest.raises(AttributeError, match="set per projection"):
        net.W = np.zeros((6, 6))
    with pytest.raises(TypeError, match="unknown keyword"):
        RateNetwork.ei(n_exc=10, n_inh=5, J_XY=1.0)


def test_a_frozen_run_after_intrinsic_plasticity_is_the_frozen_system():
    # the neurons keep the gain and threshold intrinsic plasticity left: a run without plasticity
    # integrates exactly the Flow that as_system() returns (Euler at the same dt)
    net = small_net("flow")
    net.run(200, plasticity={"EE": IntrinsicPlasticity(0.1, 0.8, adapt_gain=True, eta_gain=0.05)}, inputs=0.3,
            progress=False)
    assert np.abs(net._thr).max() > 0.05  # the thresholds moved
    system, x = net.as_system(inputs=0.3), net.x.copy()
    res = net.run(30, inputs=0.3, progress=False)
    for k in range(30):
        x = x + 0.1 * system(x)
    np.testing.assert_allclose(res.states[-1], x, rtol=1e-10, atol=1e-12)
