"""The edge_of_chaos study's point function against exact results at small sizes."""
import numpy as np
import pytest

from plasticity.metrics import spectral_radius
from studies.edge_of_chaos import point


def test_quiescent_network_exponent_is_log_spectral_radius():
    # for g < 1 the orbit decays to x = 0, where J = W: lambda_max = ln rho(W) exactly (up to
    # the finite-time error of 1000 steps, ~1e-3 for a gap this size)
    out = point("static", "none", 0.5, 0, 150, 0)
    from models import RateNetwork

    W = RateNetwork.random(150, 0.5, seed=0).W
    assert out["max_lyapunov"] == pytest.approx(np.log(spectral_radius(W)), abs=5e-3)
    assert out["mean_field_lyapunov"] == pytest.approx(np.log(0.5))
    assert out["activity_variance"] < 1e-12


def test_plastic_point_reports_divergence_and_metrics():
    out = point("plastic", "bcm", 1.5, 0, 60, 300)
    assert set(out) >= {"diverged", "diverged_at", "max_lyapunov", "radius_W", "radius_J", "activity_variance"}
    assert np.isfinite(out["radius_W"]) and out["radius_J"] >= 0
