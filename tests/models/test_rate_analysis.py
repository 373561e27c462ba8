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


@pytest.mark.parametrize("g", [1.5, 2.5])
def test_max_lyapunov_of_large_tanh_map_matches_mean_field(g):
    # N = 1000 random tanh map above the edge: the measured exponent against the N -> inf
    # theory (Molgedey et al. 1992); finite-N and finite-time spread over seeds measured at
    # ~5e-3. (Below the edge the exponent is exactly ln rho(W), tested above: at N = 1000
    # rho(W) still exceeds g by ~3%, so there the theory's ln g is not the finite-N answer.)
    from plasticity.metrics.mean_field import tanh_map_mean_field

    net = RateNetwork.random(1000, g, seed=7)
    x0 = np.random.default_rng(0).uniform(-1, 1, 1000)
    lam = max_lyapunov(net.as_system(), x0, steps=600, transient=300)
    assert lam == pytest.approx(tanh_map_mean_field(g).max_lyapunov, abs=0.02)
