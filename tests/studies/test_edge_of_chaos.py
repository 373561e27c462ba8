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
    # at the quiescent origin tanh'(0) = 1, so the Jacobian along the orbit is W itself
    assert out["radius_W"] == pytest.approx(spectral_radius(W), rel=1e-12)
    assert out["radius_J"] == pytest.approx(spectral_radius(W), rel=1e-9)


def test_plastic_point_reports_divergence_and_metrics():
    out = point("plastic", "bcm", 1.5, 0, 60, 300)
    assert set(out) >= {"diverged", "diverged_at", "max_lyapunov", "radius_W", "radius_J", "activity_variance"}
    assert np.isfinite(out["radius_W"])
    # J(x) = diag(1 - tanh^2) W with every diagonal entry in (0, 1]: 0 < rho(J) <= ||J||_2 <= ||W||_2, with W
    # the plastic weights, rebuilt here from the same seeded run (the point reports only rho(W))
    from models import RateNetwork
    from plasticity.metrics import spectral_norm
    from studies.edge_of_chaos import NOISE, RULES

    net = RateNetwork.random(60, 1.5, seed=0, activation="tanh", dynamics="map")
    net.run(300, rule=RULES["bcm"], inputs=NOISE * np.random.default_rng(777).normal(size=(300, 60)),
            record_every=10, progress=False)
    assert out["radius_W"] == pytest.approx(spectral_radius(net.W), rel=1e-12)
    assert 0 < out["radius_J"] <= spectral_norm(net.W) * (1 + 1e-12)
