"""plasticity.metrics.boundary: the bracket of a stability transition and the power-law fit, on hand-made sweeps."""
import math

import numpy as np
import pytest

from plasticity.metrics.boundary import power_law_fit, stability_bracket


def test_stability_bracket():
    taus = [1, 2, 4, 8, 16]
    assert stability_bracket(taus, [0, 0, 1, 1, 1]) == (2.0, 4.0, math.sqrt(8.0), True)
    assert stability_bracket(taus[::-1], [1, 1, 1, 0, 0]) == (2.0, 4.0, math.sqrt(8.0), True)  # order-free
    lo, hi, sim, mono = stability_bracket(taus, [0, 1, 0, 1, 1])
    assert (lo, hi, mono) == (1.0, 2.0, False)
    lo, hi, sim, mono = stability_bracket(taus, [0, 0, 0, 0, 0])
    assert lo == 16.0 and math.isnan(hi) and math.isnan(sim)
    lo, hi, sim, mono = stability_bracket(taus, [1, 1, 1, 1, 1])
    assert math.isnan(lo) and hi == 1.0 and math.isnan(sim)


def test_power_law_fit():
    eta = np.array([1e-5, 1e-4, 1e-3])
    s, se = power_law_fit(eta, 3.0 / eta)
    assert s == pytest.approx(-1.0, abs=1e-12) and se == pytest.approx(0.0, abs=1e-12)
    s, _ = power_law_fit(eta, eta ** -0.5 * np.array([1.0, 1.1, 0.9]))
    assert s == pytest.approx(-0.5, abs=0.05) and s != pytest.approx(-0.5, abs=1e-6)




def test_mismatched_sweep_is_refused():
    with pytest.raises(ValueError, match=r"stability_bracket: values and unstable must be 1-D of the same length"):
        stability_bracket([1.0, 2.0], [True])
