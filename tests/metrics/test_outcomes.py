"""plasticity.metrics.outcomes: majority over seeds with ties to the worse class, and the counts text."""
import math

from plasticity.metrics.outcomes import OUTCOME_ORDER, agreement, majority_outcome, outcome_counts


def test_majority_and_ties_to_the_worse():
    assert majority_outcome(["stable", "stable", "oscillating"]) == "stable"
    assert majority_outcome(["stable", "diverged"]) == "diverged"
    assert majority_outcome(["runaway", "diverged"]) == "diverged"
    assert majority_outcome(["silent", "oscillating"]) == "silent"
    # an unknown label loses a tie to any known one, and wins when it is the majority
    assert majority_outcome(["unsettled", "stable"]) == "stable"
    assert majority_outcome(["unsettled", "unsettled", "diverged"]) == "unsettled"


def test_missing_outcomes_are_ignored_and_none_reads_failed():
    assert majority_outcome([None, math.nan, "stable"]) == "stable"
    assert majority_outcome([]) == "failed" and outcome_counts([]) == "none"


def test_counts_in_class_order():
    assert outcome_counts(["diverged", "stable", "oscillating", "stable"]) == "stable 2, oscillating 1, diverged 1"
    assert OUTCOME_ORDER[0] == "stable" and OUTCOME_ORDER[-1] == "diverged"


def test_agreement_names_the_band():
    assert agreement(1.29, 0.3) == "within 30%" and agreement(0.71, 0.3) == "within 30%"
    assert agreement(1.31, 0.3) == "outside 30%" and agreement(0.2, 0.2) == "outside 20%"
    assert agreement(float("nan"), 0.3) == "undefined" and agreement(float("inf"), 0.2, "not bracketed") == "not bracketed"
