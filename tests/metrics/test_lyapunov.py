"""Lyapunov exponents in ChaosTools' order: exact cases, literature values, then agreement between methods."""
import re

import numpy as np
import pytest

import plasticity.metrics.lyapunov as lyap_module
from plasticity.metrics import (
    Flow,
    Map,
    entropy_rate,
    kaplan_yorke_dimension,
    local_lyapunov,
    logdet_consistency,
    lyapunov_spectrum,
    max_lyapunov,
)
from plasticity.metrics.systems import rate_system

A, B = 1.4, 0.3
SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0
LN2 = np.log(2.0)


def henon(x):
    return np.array([1.0 - A * x[0] ** 2 + x[1], B * x[0]])


def henon_jac(x):
    return np.array([[-2.0 * A * x[0], 1.0], [B, 0.0]])


HENON = Map(henon, henon_jac)
LOGISTIC = Map(lambda x: 4.0 * x * (1.0 - x), lambda x: np.array([[4.0 - 8.0 * x[0]]]))
LORENZ = Flow(lambda x: np.array([SIGMA * (x[1] - x[0]), x[0] * (RHO - x[2]) - x[1], x[0] * x[1] - BETA * x[2]]),
              lambda x: np.array([[-SIGMA, SIGMA, 0.0], [RHO - x[2], -1.0, -x[0]], [x[1], x[0], -BETA]]))
X_HENON, X_LORENZ = np.array([0.1, 0.1]), np.array([1.0, 1.0, 1.0])


def rk4_growth(z, h):
    """|exact one-step growth| of RK4 on dx/dt = z x: the truncated exponential series."""
    return abs(1 + z * h + (z * h) ** 2 / 2 + (z * h) ** 3 / 6 + (z * h) ** 4 / 24)


# -- exact cases -------------------------------------------------------------------------------
def test_diagonal_linear_map():
    D = np.diag([2.0, 0.5])
    lam = lyapunov_spectrum(Map(lambda x: D @ x, lambda x: D), np.array([1e-3, 2e-3]), steps=100, transient=60)
    # after 60 transient steps the random basis is aligned to (1/4)^60; what remains is rounding of 100 logs
    np.testing.assert_allclose(lam, [LN2, np.log(0.5)], rtol=0, atol=1e-13)


@pytest.mark.parametrize("A_matrix, eigenvalues", [
    (np.diag([1.0, -2.0]), [1.0, -2.0]),
    (np.array([[-0.1, 1.0], [-1.0, -0.1]]), [-0.1 + 1j, -0.1 - 1j]),  # normal: both exponents are Re = -0.1
])
def test_linear_flow_is_rk4_exact(A_matrix, eigenvalues):
    h = 0.01
    lam = lyapunov_spectrum(Flow(lambda x: A_matrix @ x, lambda x: A_matrix), np.array([0.1, 0.2]), steps=200, dt=h,
                            transient=2000)
    # the RK4 map of a normal linear flow is the normal matrix T4(hA): its exponents are log|T4(h mu)| / h exactly
    expected = sorted((np.log(rk4_growth(mu, h)) / h for mu in eigenvalues), reverse=True)
    np.testing.assert_allclose(lam, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(lam, sorted(np.real(eigenvalues), reverse=True), atol=1e-8)  # RK4 error h^4 mu^5 / 120


def test_logistic_map_is_ln2_with_its_exact_finite_time_correction():
    steps, transient, x0 = 10_000, 100, 0.3
    lam = lyapunov_spectrum(LOGISTIC, np.array([x0]), steps, transient=transient)[0]
    x = x0
    for _ in range(transient):
        x = 4.0 * x * (1.0 - x)
    start = x
    for _ in range(steps):
        x = 4.0 * x * (1.0 - x)
    # |f'(x)| = 2 sqrt(f(1-f)) / sqrt(x(1-x)) telescopes (conjugacy to the tent map, slope 2):
    # sum log|f'(x_t)| = T ln 2 + [ln x(1-x)]/2 at the end minus at the start
    finite_time = LN2 + 0.5 * (np.log(x * (1 - x)) - np.log(start * (1 - start))) / steps
    assert lam == pytest.approx(finite_time, abs=1e-11)  # rounding of 1e4 logs, amplified near x = 0, 1
    assert abs(lam - LN2) < 1e-3


def test_henon_sum_and_literature_value():
    lam = lyapunov_spectrum(HENON, X_HENON, steps=20_000, transient=100)
    # det J = -b at every point: log|R11| + log|R22| = ln 0.3 at every step, to rounding
    assert lam.sum() == pytest.approx(np.log(B), abs=1e-12)
    # Sprott (2003), Chaos and Time-Series Analysis, App. A: lambda_1 = 0.41922 for a = 1.4, b = 0.3
    assert 0.41 < lam[0] < 0.43
    # Kaplan-Yorke dimension 1.2583 (Sprott 2003), from these exponents to the same precision
    assert kaplan_yorke_dimension(lam) == pytest.approx(1.2583, abs=0.01)


def test_lorenz_spectrum_short_run():
    dt, T = 0.01, 100.0
    lam = lyapunov_spectrum(LORENZ, X_LORENZ, steps=int(T / dt), dt=dt, transient=1000)
    # sum = tr J = -(sigma + 1 + beta) exactly for the flow; the RK4 map differs by O(h^4 mu^5 / 120) ~ 1e-4
    assert lam.sum() == pytest.approx(-(SIGMA + 1 + BETA), abs=5e-4)
    # Sprott (2003) / Viswanath (1998): (0.9056, 0, -14.5723). Over T = 100 the estimate of lambda_1 has a
    # standard deviation of 0.024 across initial conditions (6 runs measured when writing this test): 4 sigma
    assert lam[0] == pytest.approx(0.9056, abs=0.1)
    assert abs(lam[1]) < 0.05  # the flow direction: |lambda_2| = O(1/T) plus the same fluctuation
    assert kaplan_yorke_dimension(lam) == pytest.approx(2.06, abs=0.01)


@pytest.mark.slow
def test_lorenz_spectrum_long_run():
    dt, T = 0.01, 2000.0
    res = lyapunov_spectrum(LORENZ, X_LORENZ, steps=int(T / dt), dt=dt, transient=1000, return_trace=True)
    # Viswanath (1998) 0.905630; Sprott (2003) (0.9056, 0, -14.5723). sd over T = 2000 is 0.024 / sqrt(20) = 0.005
    np.testing.assert_allclose(res.exponents, [0.9056, 0.0, -14.5723], atol=0.02)
    assert kaplan_yorke_dimension(res.exponents) == pytest.approx(2.0621, abs=0.002)


def test_lorenz_rk4_sum_error_is_fourth_order():
    errors = []
    for dt in (0.01, 0.005):
        lam = lyapunov_spectrum(LORENZ, X_LORENZ, steps=int(40 / dt), dt=dt, transient=int(10 / dt), k=3)
        errors.append(lam.sum() + (SIGMA + 1 + BETA))
    # error = mean over the trajectory of -h^4 tr(J^5) / 120 + ...: halving h divides it by 16; the two runs
    # sample slightly different stretches of the attractor, hence the band
    assert 12 < errors[0] / errors[1] < 22


# -- the transition to chaos -------------------------------------------------------------------
def test_random_tanh_map_changes_sign_near_g_1():
    n = 400
    x0 = np.random.default_rng(1).uniform(-1, 1, n)
    signs = {}
    for g in (0.7, 1.5):
        W = np.random.default_rng(0).normal(0.0, g / np.sqrt(n), (n, n))
        signs[g] = max_lyapunov(rate_system(W), x0, steps=300, transient=200)
        if g == 0.7:
            # quiescent: x -> 0, where J = W; the exponent is ln rho(W) up to the O(log(cond)/T) start-up term
            assert signs[g] == pytest.approx(np.log(np.max(np.abs(np.linalg.eigvals(W)))), abs=0.03)
    assert signs[0.7] < -0.2 and signs[1.5] > 0.05  # mean field (Molgedey et al. 1992): ln 0.7 = -0.36, +0.19


def test_linear_map_spectrum_is_log_eigenvalue_moduli():
    n, k = 30, 5
    W = np.random.default_rng(2).normal(0.0, 0.8 / np.sqrt(n), (n, n))
    W = W + W.T  # symmetric: normal, real eigenvalues; exponents are ln|eig| sorted
    W /= 1.01 * np.max(np.abs(np.linalg.eigvalsh(W)))  # contracting, so that the state stays finite
    lam = lyapunov_spectrum(Map(lambda x: W @ x, lambda x: W), np.ones(n), steps=3000, transient=500, k=k)
    expected = np.sort(np.log(np.abs(np.linalg.eigvalsh(W))))[::-1][:k]
    gaps = np.abs(np.diff(np.sort(np.abs(np.linalg.eigvalsh(W)))[::-1][: k + 1]))
    # alignment error decays like (|mu_{i+1}| / |mu_i|)^t; what is left after 500 steps is below 1e-6 for these gaps
    assert np.min(gaps) > 0.01
    np.testing.assert_allclose(lam, expected, atol=1e-6)


# -- agreement between methods -----------------------------------------------------------------
@pytest.mark.parametrize("system, x0, dt", [(HENON, X_HENON, None), (LORENZ, X_LORENZ, 0.01)], ids=["henon", "lorenz"])
def test_max_lyapunov_is_the_first_qr_column(system, x0, dt):
    steps = 3000
    single = max_lyapunov(system, x0, steps, dt=dt, transient=100, seed=7)
    # the first column of Gram-Schmidt evolves alone: same seed, same vector, same numbers to rounding
    assert single == pytest.approx(lyapunov_spectrum(system, x0, steps, dt=dt, k=1, transient=100, seed=7)[0], abs=1e-12)
    full = lyapunov_spectrum(system, x0, steps, dt=dt, transient=100)
    assert single == pytest.approx(full[0], abs=0.05)  # different start vectors: finite-time fluctuation only


def test_finite_difference_jacobian_gives_the_same_spectrum():
    exact = lyapunov_spectrum(HENON, X_HENON, 2000, transient=10)
    numerical = lyapunov_spectrum(Map(henon), X_HENON, 2000, transient=10)
    # same trajectory (same step), tangent perturbed by the 1e-10 relative FD error at each step
    np.testing.assert_allclose(numerical, exact, atol=1e-8)
    flow = lyapunov_spectrum(Flow(LORENZ.rhs), X_LORENZ, 500, dt=0.01)
    np.testing.assert_allclose(flow, lyapunov_spectrum(LORENZ, X_LORENZ, 500, dt=0.01), atol=1e-7)


@pytest.mark.parametrize("k, every, tangent", [(None, 1, "jacobian"), (None, 3, "jacobian"), (10, 1, "jacobian"),
                                               (10, 4, "jacobian"), (10, 1, "jvp"), (10, 4, "jvp")])
def test_householder_engine_matches_explicit_qr(monkeypatch, k, every, tangent):
    n = 80
    W = np.random.default_rng(3).normal(0.0, 1.5 / np.sqrt(n), (n, n))
    system, x0 = rate_system(W), np.random.default_rng(4).uniform(-1, 1, n)
    if tangent == "jacobian":  # the same network without its tangent map: J is formed
        system = Map(system.step, system.jacobian)
    fast = lyapunov_spectrum(system, x0, 30, k=k, transient=5, reorthonormalize_every=every)
    monkeypatch.setattr(lyap_module, "_HOUSEHOLDER_MIN_N", 10**9)
    plain = lyapunov_spectrum(system, x0, 30, k=k, transient=5, reorthonormalize_every=every)
    # same products and factorisations in another order; logs of |R_ii| down to e^-5 per step lose a few digits
    np.testing.assert_allclose(fast, plain, rtol=0, atol=1e-10)


@pytest.mark.parametrize("package, k", [("numpy", None), ("scipy", 5)])
def test_blas_thread_count_is_restored(package, k):
    # numpy's pool runs single-threaded during a Householder run, scipy's during the QR of a top-k block
    from plasticity._threads import _bundled_openblas

    found = _bundled_openblas(package)
    if found is None:
        pytest.skip(f"{package} has no bundled OpenBLAS here")
    before = found[1]()
    n = 70
    lyapunov_spectrum(rate_system(np.eye(n) * 0.5), np.ones(n), 3, k=k)
    assert found[1]() == before


def test_spectrum_sums_to_mean_log_det():
    check = logdet_consistency(HENON, X_HENON, 500, transient=10)
    assert check.difference == pytest.approx(0.0, abs=1e-12)  # prod det J_t = prod det R_t: rounding only
    n = 100
    W = np.random.default_rng(5).normal(0.0, 1.2 / np.sqrt(n), (n, n))
    check = logdet_consistency(rate_system(W), np.random.default_rng(6).uniform(-1, 1, n), 40)
    assert check.difference == pytest.approx(0.0, abs=1e-9)  # 100 exponents, each a sum of 40 logs
    flow = logdet_consistency(LORENZ, X_LORENZ, 2000, dt=0.01)
    # Liouville: mean tr J = -(sigma + 1 + beta) exactly; RK4's determinant differs by O(h^4), as above
    assert flow.mean_log_det == pytest.approx(-(SIGMA + 1 + BETA), abs=1e-12)
    assert flow.difference == pytest.approx(0.0, abs=5e-4)


def test_trace_and_local_exponents():
    res = lyapunov_spectrum(HENON, X_HENON, 4000, transient=100, return_trace=True)
    np.testing.assert_array_equal(res.trace[-1], res.exponents)
    np.testing.assert_array_equal(res.times, np.arange(1, 4001))
    assert res.trace.shape == res.increments.shape == (4000, 2)
    np.testing.assert_allclose(res.increments.sum(axis=1), np.log(B), atol=1e-13)  # |det R_t| = b every step
    assert np.all(res.spread < 0.02)  # converging: the last quarter moves by O(1/t)
    local = local_lyapunov(HENON, X_HENON, 4000, window=100, transient=100)
    assert local.exponents.shape == (40, 2)
    np.testing.assert_array_equal(local.times, np.arange(1, 41) * 100.0)
    # lambda_1, lambda_2 never cross over 100-step windows, so the window means recombine the full estimate
    np.testing.assert_allclose(local.exponents.mean(axis=0), res.exponents, atol=1e-13)
    assert np.std(local.exponents[:, 0]) > 0.01  # finite-time exponents do fluctuate


def test_kaplan_yorke_and_entropy_rate():
    assert kaplan_yorke_dimension([1.0, -2.0]) == 1.5
    assert kaplan_yorke_dimension([-1.0, -2.0]) == 0.0
    assert kaplan_yorke_dimension([1.0, 0.5]) == 2.0
    assert kaplan_yorke_dimension([-1.0, 0.5, -0.2]) == pytest.approx(2.3)  # sorted first: (0.5, -0.2, -1)
    # Lorenz, Sprott (2003): D_KY = 2 + 0.9056 / 14.5723 = 2.0621
    assert kaplan_yorke_dimension([0.9056, 0.0, -14.5723]) == pytest.approx(2.0621, abs=1e-4)
    assert entropy_rate([0.9056, 0.0, -14.5723]) == 0.9056
    assert entropy_rate([0.3, 0.2, -1.0]) == 0.5
    assert entropy_rate([-0.1]) == 0.0


def test_same_seed_same_numbers():
    a = lyapunov_spectrum(LORENZ, X_LORENZ, 300, dt=0.01, seed=3)
    np.testing.assert_array_equal(a, lyapunov_spectrum(LORENZ, X_LORENZ, 300, dt=0.01, seed=3))
    assert not np.array_equal(a, lyapunov_spectrum(LORENZ, X_LORENZ, 300, dt=0.01, seed=4))


# -- errors --------------------------------------------------------------------------------------
def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=re.escape("lyapunov_spectrum.steps must be an integer in [1, inf); got 0")):
        lyapunov_spectrum(HENON, X_HENON, 0)
    with pytest.raises(ValueError, match=re.escape("lyapunov_spectrum.k must be an integer in [1, 2]; got 3")):
        lyapunov_spectrum(HENON, X_HENON, 10, k=3)
    with pytest.raises(ValueError, match="max_lyapunov: dt is required for a Flow"):
        max_lyapunov(LORENZ, X_LORENZ, 10)
    with pytest.raises(ValueError, match=re.escape("lyapunov_spectrum.dt must be a number in (0, inf); got -0.1")):
        lyapunov_spectrum(LORENZ, X_LORENZ, 10, dt=-0.1)
    with pytest.raises(ValueError, match="lyapunov_spectrum: x0 must be finite"):
        lyapunov_spectrum(HENON, np.array([np.nan, 0.0]), 10)
    with pytest.raises(ValueError, match=re.escape("lyapunov_spectrum: x0 must be a state vector of shape (n,); got shape (2, 1)")):
        lyapunov_spectrum(HENON, np.zeros((2, 1)), 10)
    with pytest.raises(ValueError, match=re.escape("lyapunov_spectrum.transient must be an integer in [0, inf); got -1")):
        lyapunov_spectrum(HENON, X_HENON, 10, transient=-1)
    with pytest.raises(ValueError, match="reorthonormalize_every must be an integer"):
        lyapunov_spectrum(HENON, X_HENON, 10, reorthonormalize_every=0)
    with pytest.raises(TypeError, match="lyapunov_spectrum: system must be a plasticity.metrics.Map or Flow"):
        lyapunov_spectrum(henon, X_HENON, 10)
    with pytest.raises(ValueError, match=re.escape("Map: step(x) returned shape (3,); expected (2,)")):
        lyapunov_spectrum(Map(lambda x: np.zeros(3), henon_jac), X_HENON, 10)
    with pytest.raises(ValueError, match=re.escape("Map: jacobian(x) returned shape (1, 1); expected (2, 2)")):
        lyapunov_spectrum(Map(henon, lambda x: np.ones((1, 1))), X_HENON, 10)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_divergence_is_reported_with_the_step():
    blowup = Map(lambda x: 1e10 * x, lambda x: np.eye(1) * 1e10)
    with pytest.raises(ValueError, match="non-finite at measurement step 31"):
        lyapunov_spectrum(blowup, np.array([1.0]), 100)


# -- torch ---------------------------------------------------------------------------------------
def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")

    def henon_t(x):
        return torch.stack([1.0 - A * x[0] ** 2 + x[1], B * x[0]])

    x0 = torch.tensor(X_HENON)
    auto = lyapunov_spectrum(Map(henon_t), x0, 300, transient=10)
    assert isinstance(auto, torch.Tensor) and auto.dtype == torch.float64
    analytic = lyapunov_spectrum(Map(henon_t, lambda x: torch.tensor(henon_jac(x.numpy()))), x0, 300, transient=10)
    # same torch trajectory; autograd and the analytic Jacobian agree to rounding
    np.testing.assert_allclose(auto.numpy(), analytic.numpy(), atol=1e-12)
    assert float(auto.sum()) == pytest.approx(np.log(B), abs=1e-12)
    assert isinstance(max_lyapunov(Map(henon_t), x0, 100), float)


def test_torch_matches_numpy_on_a_contracting_network():
    torch = pytest.importorskip("torch")
    n = 12
    W = np.random.default_rng(8).normal(0.0, 0.8 / np.sqrt(n), (n, n))
    x0 = np.random.default_rng(9).uniform(-1, 1, n)
    lam = lyapunov_spectrum(rate_system(W), x0, 200, transient=20)
    lam_t = lyapunov_spectrum(rate_system(torch.tensor(W)), torch.tensor(x0), 200, transient=20)  # autograd-free jvp
    # contracting dynamics: the two libraries' rounding differences shrink instead of growing
    np.testing.assert_allclose(lam_t.numpy(), lam, atol=1e-12)
    flow = rate_system(W, dynamics="flow")
    lam_f = lyapunov_spectrum(flow, x0, 100, dt=0.05, k=4)
    Wt = torch.tensor(W)
    lam_ft = lyapunov_spectrum(Flow(lambda x: -x + Wt @ torch.tanh(x)), torch.tensor(x0), 100, dt=0.05, k=4)
    np.testing.assert_allclose(lam_ft.numpy(), lam_f, atol=1e-12)  # autograd Jacobian of the same equations
