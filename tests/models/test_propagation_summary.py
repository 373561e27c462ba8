"""models.propagation_summary: the per-layer factor of a ReLU stack against log10(c/2) (He et al. 2015),
the line fit on hand-made data, and the affine summary in the all-off limit of the bias."""
import math

import numpy as np
import pytest

pytest.importorskip("torch")

from models import propagation_summary as ps  # noqa: E402


def test_log_slope_on_exact_lines_and_non_finite_values():
    x = np.arange(1.0, 6.0)
    assert ps.log_slope(x, 0.3 * x - 2.0) == pytest.approx(0.3, abs=1e-12)
    y = 0.3 * x - 2.0
    y[2] = -np.inf  # a layer whose quantity is exactly 0: left out of the fit
    assert ps.log_slope(x, y) == pytest.approx(0.3, abs=1e-12)
    assert math.isnan(ps.log_slope(x, np.full(5, np.nan)))


@pytest.mark.parametrize("c", [1.0, 4.0])
def test_forward_factor_of_relu_with_variance_c_over_fan_in(c):
    # ReLU, Var(W) = c / fan_in: E q_{l+1} = (c/2) q_l. Scaling every weight by sqrt(c/2) from He (c = 2) scales
    # q_l by (c/2)^(l-1) exactly for one seed (ReLU is positively homogeneous), so the fitted slopes differ
    # by log10(c/2) to rounding; the backward factor likewise
    he = ps.stack_summary(8, 32, 2.0, "relu", 5, "plain", 32)
    other = ps.stack_summary(8, 32, c, "relu", 5, "plain", 32)
    assert other["forward_factor"] - he["forward_factor"] == pytest.approx(math.log10(c / 2), abs=1e-9)
    assert other["backward_factor"] - he["backward_factor"] == pytest.approx(math.log10(c / 2), abs=1e-9)
    assert math.isnan(he["log10_jac_cond"]) and he["c"] == 2.0 and he["q"].shape == (8,)


def test_tanh_summary_has_a_condition_number():
    out = ps.stack_summary(4, 16, "glorot", "tanh", 0, "plain", 16)
    # condition number >= 1: log10 >= 0
    assert out["log10_jac_cond"] >= 0.0 and out["log10_jac_norm"] >= out["log10_jac_radius"] - 1e-12


def test_affine_summary_with_every_unit_off():
    # bias -> -inf switches every hidden unit off: A(x) = 0, no eigenvalue outside the unit circle
    out = ps.affine_summary(6, 3, "he", -1e3, 0, points=4)
    assert out["affine_radius"] == 0.0 and out["active_fraction"] == 0.0 and out["unstable_fraction"] == 0.0
    assert out["eig_real"].shape == (24,) and np.all(out["eig_imag"] == 0.0)
