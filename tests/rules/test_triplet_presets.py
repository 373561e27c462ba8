"""The eight published parameter sets of the triplet rule against the tables, written out here.

Pfister & Gerstner (2006) J Neurosci 26(38):9673, Table 3 (visual cortex, Sjostrom et al. 2001)
and Table 4 (hippocampal cultures, Wang et al. 2005); tau_plus = 16.8 ms and tau_minus = 33.7 ms
in every row. Values as cross-checked against Auryn's TripletConnection (visual cortex,
all-to-all, minimal: A3+ = 6.5e-3, tau_y = 114 ms) and MinimalTripletConnection (hippocampal,
all-to-all, minimal) and two reproductions that print both tables; the paper's own text was not
available to the check. ``None``: the paper prints no tau_x (the minimal models have A3- = 0).
"""
from __future__ import annotations

import numpy as np
import pytest

from plasticity.rules import TripletSTDP

TAU_PLUS_MS, TAU_MINUS_MS = 16.8, 33.7

# (data, model, interaction): (A2+, A3+, A2-, A3-, tau_x [ms], tau_y [ms])
PUBLISHED = {
    # Table 3 (visual cortex), row "All-to-All, Full"
    ("visual_cortex", "full", "all-to-all"): (5e-10, 6.2e-3, 7e-3, 2.3e-4, 101, 125),
    # Table 3, row "All-to-All, Minimal"
    ("visual_cortex", "minimal", "all-to-all"): (0.0, 6.5e-3, 7.1e-3, 0.0, None, 114),
    # Table 3, row "Nearest-Spike, Full"
    ("visual_cortex", "full", "nearest"): (8.8e-11, 5.3e-2, 6.6e-3, 3.1e-3, 714, 40),
    # Table 3, row "Nearest-Spike, Minimal"
    ("visual_cortex", "minimal", "nearest"): (0.0, 5e-2, 8e-3, 0.0, None, 40),
    # Table 4 (hippocampal cultures), row "All-to-All, Full"
    ("hippocampal", "full", "all-to-all"): (6.1e-3, 6.7e-3, 1.6e-3, 1.4e-3, 946, 27),
    # Table 4, row "All-to-All, Minimal"
    ("hippocampal", "minimal", "all-to-all"): (5.3e-3, 8e-3, 3.5e-3, 0.0, None, 40),
    # Table 4, row "Nearest-Spike, Full"
    ("hippocampal", "full", "nearest"): (4.6e-3, 9.1e-3, 3e-3, 7.5e-9, 575, 47),
    # Table 4, row "Nearest-Spike, Minimal"
    ("hippocampal", "minimal", "nearest"): (4.6e-3, 9.1e-3, 3e-3, 0.0, None, 48),
}

SHORTCUTS = {
    ("visual_cortex", "minimal"): TripletSTDP.minimal_visual_cortex,
    ("visual_cortex", "full"): TripletSTDP.full_visual_cortex,
    ("hippocampal", "minimal"): TripletSTDP.minimal_hippocampal,
    ("hippocampal", "full"): TripletSTDP.full_hippocampal,
}


def _check_against_table(rule: TripletSTDP, key: tuple[str, str, str]) -> None:
    a2p, a3p, a2m, a3m, tau_x_ms, tau_y_ms = PUBLISHED[key]
    assert (rule.a2_plus, rule.a3_plus, rule.a2_minus, rule.a3_minus) == (a2p, a3p, a2m, a3m)
    assert rule.tau_plus == pytest.approx(TAU_PLUS_MS * 1e-3, rel=1e-12)
    assert rule.tau_minus == pytest.approx(TAU_MINUS_MS * 1e-3, rel=1e-12)
    assert rule.tau_y == pytest.approx(tau_y_ms * 1e-3, rel=1e-12)
    if tau_x_ms is not None:
        assert rule.tau_x == pytest.approx(tau_x_ms * 1e-3, rel=1e-12)
    assert rule.interaction == key[2]
    assert (rule.w_min, rule.w_max, rule.target_rate) == (0.0, 1.0, None)


@pytest.mark.parametrize("key", list(PUBLISHED), ids=lambda k: "-".join(k))
def test_every_preset_matches_the_published_table(key):
    data, model, interaction = key
    _check_against_table(TripletSTDP.pfister_gerstner(data, model, interaction), key)
    _check_against_table(SHORTCUTS[(data, model)](interaction), key)
    _check_against_table(SHORTCUTS[(data, model)](interaction=interaction), key)


def test_defaults_are_the_minimal_all_to_all_visual_cortex_set():
    _check_against_table(TripletSTDP.pfister_gerstner(), ("visual_cortex", "minimal", "all-to-all"))
    _check_against_table(TripletSTDP.minimal_visual_cortex(), ("visual_cortex", "minimal", "all-to-all"))
    _check_against_table(TripletSTDP.full_hippocampal(), ("hippocampal", "full", "all-to-all"))


@pytest.mark.parametrize("key", [k for k, row in PUBLISHED.items() if row[4] is None], ids=lambda k: "-".join(k))
def test_the_unprinted_tau_x_of_a_minimal_set_changes_no_weight(key):
    # A3- = 0 in every minimal row, so the r2 trace multiplies nothing: two runs of the same spike
    # trains with tau_x two orders of magnitude apart give bit-identical weights, in both the numba
    # kernel and the numpy reference.
    data, model, interaction = key
    rule = TripletSTDP.pfister_gerstner(data, model, interaction)
    assert rule.a3_minus == 0.0
    other = TripletSTDP.pfister_gerstner(data, model, interaction, tau_x=rule.tau_x * 100.0)
    rng = np.random.default_rng(3)
    n_post, n_pre, steps, dt = 5, 7, 400, 1e-3
    pre = rng.random((steps, n_pre)) < 0.03
    post = rng.random((steps, n_post)) < 0.03
    results = []
    for r in (rule, other):
        for method in ("update", "reference_update"):
            W, state = np.full((n_post, n_pre), 0.5), r.init_state(n_post, n_pre)
            for t in range(steps):
                getattr(r, method)(W, pre[t], post[t], state, dt)
            results.append(W)
    assert not np.array_equal(results[0], np.full((n_post, n_pre), 0.5))  # the run did change weights
    np.testing.assert_array_equal(results[0], results[2])  # update, tau_x vs 100 tau_x
    np.testing.assert_array_equal(results[1], results[3])  # reference_update, likewise
    np.testing.assert_allclose(results[0], results[1], rtol=0, atol=1e-12)  # kernel = reference


def test_overrides_replace_published_values():
    rule = TripletSTDP.pfister_gerstner("hippocampal", "full", "nearest", w_max=2.0, a3_minus=0.0,
                                        target_rate=5.0, tau_rate=0.5)
    assert (rule.w_max, rule.a3_minus, rule.target_rate, rule.tau_rate) == (2.0, 0.0, 5.0, 0.5)
    assert (rule.a2_plus, rule.tau_x, rule.tau_y) == (4.6e-3, pytest.approx(0.575), pytest.approx(0.047))


def test_bcm_threshold_of_the_minimal_visual_cortex_set():
    # Under independent Poisson firing, all-to-all, with A2+ = A3- = 0 the drift changes sign at
    # theta0 = A2- tau- / (A3+ tau+ tau_y) (Pfister & Gerstner 2006, "Relation to BCM"): with the
    # Table 3 minimal all-to-all row, 7.1e-3 * 33.7 / (6.5e-3 * 16.8 * 114e-3) = 19.22 Hz.
    a2p, a3p, a2m, a3m, _, tau_y_ms = PUBLISHED[("visual_cortex", "minimal", "all-to-all")]
    assert a2p == a3m == 0.0  # the threshold formula below needs both zero
    theta0 = a2m * TAU_MINUS_MS / (a3p * TAU_PLUS_MS * tau_y_ms * 1e-3)
    assert theta0 == pytest.approx(19.2203, abs=1e-4)
    r = TripletSTDP.minimal_visual_cortex()
    assert r.a2_minus * r.tau_minus / (r.a3_plus * r.tau_plus * r.tau_y) == pytest.approx(theta0, rel=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: TripletSTDP.pfister_gerstner(data="cortex"),
         r"TripletSTDP\.pfister_gerstner\.data must be one of \('visual_cortex', 'hippocampal'\); got 'cortex'"),
        (lambda: TripletSTDP.pfister_gerstner(model="reduced"),
         r"TripletSTDP\.pfister_gerstner\.model must be one of \('minimal', 'full'\); got 'reduced'"),
        (lambda: TripletSTDP.pfister_gerstner(interaction="nearest-spike"),
         r"TripletSTDP\.interaction must be one of \('all-to-all', 'nearest'\); got 'nearest-spike'"),
        (lambda: TripletSTDP.minimal_hippocampal("nearest-neighbour"),
         r"TripletSTDP\.interaction must be one of \('all-to-all', 'nearest'\); got 'nearest-neighbour'"),
        (lambda: TripletSTDP.full_hippocampal(tau_y=0.0),
         r"TripletSTDP\.tau_y must be a number in \(0, inf\); got 0\.0"),
    ],
)
def test_bad_choices_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
