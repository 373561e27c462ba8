"""models.ei_conditions: every condition is built, rates scale with w0, and the documented fixed points hold
(one rule step at the set point leaves the weights where the docstring says)."""
import numpy as np
import pytest

from models.ei_conditions import CONDITION_NAMES, homeostatic_conditions
from models.population_network import EI_DEFAULTS


def test_every_condition_and_its_projections():
    conds = homeostatic_conditions(400, 100)
    assert tuple(conds) == CONDITION_NAMES and conds["none"] == {}
    assert set(conds["hebbian+inhibitory"]) == set(conds["hebbian+all3"]) == {"EE", "IE"}
    assert all(set(c) == {"EE"} for name, c in conds.items() if name not in ("none", "hebbian+inhibitory",
                                                                                "hebbian+all3"))


def test_learning_rates_scale_with_w0():
    w0 = EI_DEFAULTS["J_EE"] / (EI_DEFAULTS["p"] * 400)  # 0.5 / 40
    hebb = homeostatic_conditions(400, 100)["hebbian"]["EE"]
    assert hebb.eta == pytest.approx(0.005 * w0, rel=1e-15)
    assert homeostatic_conditions(800, 200)["hebbian"]["EE"].eta == pytest.approx(hebb.eta / 2, rel=1e-15)
    inhib = homeostatic_conditions(400, 100)["hebbian+inhibitory"]["IE"]
    assert inhib.eta == pytest.approx(0.3 / (0.1 * 100), rel=1e-15) and inhib.target == 2.0


def test_heterosynaptic_decay_balances_hebbian_growth_at_w0_and_the_set_point():
    # W* = eta x / (beta y^3) = (0.005 w0) 2 / (0.005/4 * 8) = w0 at x = y = 2: one step changes nothing
    n_exc = 400
    w0 = EI_DEFAULTS["J_EE"] / (EI_DEFAULTS["p"] * n_exc)
    rule = homeostatic_conditions(n_exc, 100)["hebbian+heterosynaptic"]["EE"]
    W = np.full((3, 4), w0)
    rule.reference_update(W, np.full(4, 2.0), np.full(3, 2.0), rule.init_state(3, 4), 0.1)
    np.testing.assert_allclose(W, w0, rtol=1e-14)
    W = np.full((3, 4), 2 * w0)  # above W*: decays
    rule.reference_update(W, np.full(4, 2.0), np.full(3, 2.0), rule.init_state(3, 4), 0.1)
    assert np.all(W < 2 * w0)


def test_bad_sizes_name_the_parameter():
    with pytest.raises(ValueError, match=r"homeostatic_conditions.n_inh must be a number in \(0, inf\)"):
        homeostatic_conditions(400, 0)
