"""A rate network's frozen dynamics handed to the metrics (as_system -> fixed points, Lyapunov)."""
import numpy as np
import pytest

from models import RateNetwork
from plasticity.metrics import fixed_points, max_lyapunov, spectral_radius


@pytest.mark.parametrize("dynamics", ["map", "flow"])
def test_small_gain_network_has_only_the_stable_origin(dynamics):
    # g = 0.5: phi = tanh is a contraction composed with W of radius ~0.5, so 0 is the only
    # fixed point and it is stable (map: |lambda| = |eig W| < 1; flow: Re(-1 + eig W) < 0)
    net = RateNetwork.random(40, 0.5, seed=3, dynamics=dynamics)
    fps = fixed_points(net.as_system(), 12, seed=0)
    assert len(fps) == 1
    assert fps[0].label == "stable"
    assert np.max(np.abs(fps[0].x)) < 1e-8
    expected = np.linalg.eigvals(net.W) if dynamics == "map" else np.linalg.eigvals(net.W) - 1.0
    assert np.sort_complex(fps[0].eigenvalues) == pytest.approx(np.sort_complex(expected), abs=1e-8)


def test_quiescent_map_exponent_is_log_radius():
    # the orbit decays to 0 where J = W: lambda_max = ln rho(W) (finite-time error ~1e-3)
    net = RateNetwork.random(60, 0.6, seed=1)
    lam = max_lyapunov(net.as_system(), np.full(60, 0.3), steps=1500, transient=200)
    assert lam == pytest.approx(np.log(spectral_radius(net.W)), abs=5e-3)
