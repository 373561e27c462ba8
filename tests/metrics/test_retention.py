"""plasticity.metrics.retention: the retention index on hand-made weights (exact ratios)."""
import math

import numpy as np
import pytest

from plasticity.metrics.retention import assembly_labels, retention_index


def test_retention_index_on_hand_made_weights():
    groups = [np.array([0, 1, 2]), np.array([3, 4, 5])]
    n = 8  # neurons 6, 7 belong to no assembly: never counted
    mask = ~np.eye(n, dtype=bool)
    W = np.ones((n, n))
    assert retention_index(W, mask, groups) == pytest.approx(1.0, abs=1e-15)
    W[:3, :3] = 3.0
    W[3:6, 3:6] = 3.0
    W[6:, :] = 100.0  # rows and columns of non-assembly neurons do not count
    W[:, 6:] = 100.0
    assert retention_index(W, mask, groups) == pytest.approx(3.0, rel=1e-15)
    mask[0, 1] = False
    W[0, 1] = 1e6  # an absent synapse does not count either
    assert retention_index(W, mask, groups) == pytest.approx(3.0, rel=1e-15)
    assert math.isnan(retention_index(np.zeros((n, n)), mask, groups))


def test_retention_index_is_the_ratio_of_means_not_of_sums():
    # unequal group sizes: 2 within synapses of 4.0 in the pair (no self-synapses), 6 within of 1.0 in the
    # triple, and 12 between of 2.0: mean within = (8 + 6) / 8 = 1.75, ratio 1.75 / 2
    groups = [np.array([0, 1]), np.array([2, 3, 4])]
    mask = ~np.eye(5, dtype=bool)
    W = np.full((5, 5), 2.0)
    W[:2, :2] = 4.0
    W[2:, 2:] = 1.0
    assert retention_index(W, mask, groups) == pytest.approx(1.75 / 2.0, rel=1e-15)


def test_no_between_synapse_gives_nan_and_labels_mark_non_members():
    groups = [np.array([0, 1]), np.array([2, 3])]
    mask = np.zeros((4, 4), bool)
    mask[0, 1] = mask[2, 3] = True  # within-assembly synapses only
    assert math.isnan(retention_index(np.ones((4, 4)), mask, groups))
    np.testing.assert_array_equal(assembly_labels(6, groups), [0, 0, 1, 1, -1, -1])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"retention_index: W must be square and mask of its shape"):
        retention_index(np.ones((3, 4)), np.ones((3, 4), bool), [np.array([0])])
