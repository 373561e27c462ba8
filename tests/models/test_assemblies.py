"""models.assemblies: the groups, the learning protocol (timing, recorded arrays, divergence) and the
recall test with the thresholds intrinsic plasticity learned."""
import math

import numpy as np
import pytest

from models import RateNetwork
from models.assemblies import assembly_groups, cue_recall, learn_assemblies, weight_structure


def test_assemblies_are_disjoint_and_cover_half_of_E():
    groups = assembly_groups(400, 4, 3)
    flat = np.concatenate(groups)
    assert len(groups) == 4 and all(len(g) == 400 // 8 for g in groups)
    assert len(set(flat)) == flat.size == 200 and flat.max() < 400
    assert all(np.array_equal(a, b) for a, b in zip(groups, assembly_groups(400, 4, 3)))  # same seed, same groups


def test_recall_tests_the_network_with_its_learned_thresholds():
    # the recall test runs frozen; the study relies on frozen runs keeping the thresholds that
    # intrinsic plasticity learned: after it settled (E at 3, not the quiet 2), a frozen run from
    # the same state stays at 3, and the cue test of _recall sees those neurons
    from models import RateNetwork
    from plasticity.rules import IntrinsicPlasticity

    net = RateNetwork.ei(100, 25, seed=1)
    rule = IntrinsicPlasticity(eta=0.5, target=3.0)
    net.run(3000, plasticity={"EE": rule}, progress=False)
    e = net.populations["E"]
    before = net.run(10, plasticity={"EE": rule}, progress=False).rates[-1, e]
    assert before.mean() == pytest.approx(3.0, abs=0.01)
    frozen = net.run(200, x0=net.x.copy(), progress=False).rates[-1, e]
    np.testing.assert_allclose(frozen, before, atol=1e-3)
    groups = assembly_groups(100, 4, 0)
    in_assembly = np.zeros(100, bool)
    in_assembly[np.concatenate(groups)] = True
    x_end = net.x.copy()
    recall, why = cue_recall(net, groups, 15.0, 10.0)
    assert why == "" and np.array_equal(net.x, x_end)  # the test leaves the network's state as it was
    assert 0.5 < recall < 1.5  # no assemblies were learned: the un-cued half fires like the rest


def test_protocol_records_every_phase_once_and_drives_the_shown_assembly():
    net = RateNetwork.ei(100, 25, seed=0)
    net.run(200, progress=False)
    groups = assembly_groups(100, 2, 0)
    W0 = net.weights("EE")
    run = learn_assemblies(net, groups, {}, amplitude=15.0, t_show=2.0, n_cycles=2, t_free=5.0, record_every=5)
    # 2 assemblies x 2 cycles x 2 + 5 free = 13 time units, sampled every 0.5, each run's start once
    assert not run.diverged and run.phase == "free" and math.isnan(run.diverged_at) and run.reason == ""
    np.testing.assert_allclose(run.t, np.arange(27) * 0.5, atol=1e-9)
    assert run.rates.shape == (27, 100) and run.free is not None
    np.testing.assert_array_equal(run.W_learned, W0)  # no plasticity: the weights did not move
    assert run.retention_learned == pytest.approx(1.0, abs=1e-12) and run.measured_at == pytest.approx(13.0)
    # at the end of the first presentation (t = 2) assembly 0 is driven, assembly 1 is not
    k = 4
    assert run.rates[k, groups[0]].mean() > 3 * run.rates[k, groups[1]].mean()


def test_protocol_stops_at_divergence_and_keeps_the_weights_then():
    from plasticity.rules import Hebbian

    net = RateNetwork.ei(100, 25, seed=0)
    run = learn_assemblies(net, assembly_groups(100, 2, 0), {"EE": Hebbian(eta=0.05)}, amplitude=15.0, t_show=5.0,
                           n_cycles=5, t_free=10.0)
    assert run.diverged and run.phase == "learning" and run.free is None
    assert run.diverged_at <= 2 * 5 * 5.0 and run.t[-1] <= run.diverged_at and run.reason
    np.testing.assert_array_equal(run.W_learned, net.weights("EE"))


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match=r"assembly_groups.k must be an integer in \[1, n_exc // 2 = 5\]"):
        assembly_groups(10, 6, 0)
    net = RateNetwork.ei(40, 10, seed=0)
    with pytest.raises(ValueError, match=r"learn_assemblies.t_show must be a number in \(0, inf\)"):
        learn_assemblies(net, assembly_groups(40, 2, 0), {}, 15.0, 0.0, 1, 1.0)


def test_weight_structure_of_an_untrained_network():
    # RateNetwork.ei: every present E->E synapse w0 = J_EE / (p (n_E - 1)) (no self-synapses), I->E
    # w = J_IE / (p n_I): retention exactly 1, summed weights J_EE = 0.5, J_IE = 1 times the mean in-degree ratio
    net = RateNetwork.ei(400, 100, seed=2)
    out, why = weight_structure(net, assembly_groups(400, 4, 2))
    assert why == "" and out["retention"] == pytest.approx(1.0, abs=1e-12)
    k_ee, k_ie = net.connectivity("EE").sum(axis=1).mean(), net.connectivity("IE").sum(axis=1).mean()
    assert out["J_EE"] == pytest.approx(0.5 / (0.1 * 399) * k_ee, rel=1e-12)
    assert out["J_IE"] == pytest.approx(1.0 / 10 * k_ie, rel=1e-12)
