"""The lyapunov_spectra study against closed forms: trace identity, linear regime, point symmetry."""
import numpy as np
import pandas as pd
import pytest

from plasticity.metrics import logdet_consistency
from plasticity.metrics.systems import rate_system
from studies.lyapunov_spectra import (
    DT,
    SIZE_TOL,
    SYMMETRY_TOL,
    coupling,
    main,
    point,
    summarize,
    symmetry_residual,
)


def test_coupling_has_no_autapses_and_variance_g2_over_n():
    J = coupling(400, 2.0, seed=5)
    assert np.all(np.diag(J) == 0.0)
    off = J[~np.eye(400, dtype=bool)]
    # sample variance of 159600 normal draws: relative standard error sqrt(2 / 159600) = 0.35 %
    assert np.var(off) == pytest.approx(4.0 / 400, rel=0.02)
    assert np.array_equal(J, coupling(400, 2.0, seed=5))
    with pytest.raises(ValueError, match="n >= 2 and g > 0"):
        coupling(1, 2.0, 0)
    with pytest.raises(ValueError, match="n >= 2 and g > 0"):
        coupling(10, 0.0, 0)


def test_trace_is_minus_n_so_mean_exponent_is_minus_one():
    # tr(-1 + J diag(tanh'(h))) = -N + sum_i J_ii tanh'(h_i) = -N when J_ii = 0, at every state: the
    # RK4-quadrature of the trace is -N to rounding, and the spectrum sums to it up to RK4's O(dt^4)
    n = 60
    check = logdet_consistency(rate_system(coupling(n, 3.0, 0), dynamics="flow"), np.random.default_rng(1).standard_normal(n),
                               steps=300, dt=DT, transient=100)
    assert check.mean_log_det == pytest.approx(-n, rel=1e-12)
    assert check.sum_exponents == pytest.approx(-n, abs=1e-4 * n)
    out = point(3.0, n, 0, 50.0, 10.0)
    assert out["mean_exponent"] == pytest.approx(-1.0, abs=1e-5)
    # with autapses the trace, hence the mean exponent, moves off -1 (control: the identity is not generic)
    J = coupling(n, 3.0, 0) + np.diag(np.full(n, 0.5))
    check = logdet_consistency(rate_system(J, dynamics="flow"), np.random.default_rng(1).standard_normal(n), steps=300, dt=DT,
                               transient=100)
    assert check.mean_log_det > -n + 0.5 * n * 0.01          # sum_i 0.5 tanh'(h_i) > 0
    assert check.difference == pytest.approx(0.0, abs=1e-4 * n)


def test_quiescent_network_spectrum_is_real_part_of_jacobian_eigenvalues():
    # g < 1: h -> 0, where tanh'(0) = 1 and the Jacobian is the constant -1 + J: the exponents are the
    # real parts of its eigenvalues (a complex pair gives two equal exponents). Nearly equal real
    # parts converge like 1 / (T * gap); measured max error 0.008 at T = 300 tau
    n, g, seed = 40, 0.5, 3
    out = point(g, n, seed, 300.0, 50.0)
    exact = np.sort(np.linalg.eigvals(coupling(n, g, seed) - np.eye(n)).real)[::-1]
    assert np.max(np.abs(out["spectrum"] - exact)) < 0.02
    assert out["ky_per_n"] == 0.0 and out["entropy_per_n"] == 0.0 and out["unstable_fraction"] == 0.0
    assert out["mean_exponent"] == pytest.approx(-1.0, abs=1e-5)


def test_symmetry_residual_exact_cases():
    sym = np.array([0.3, 0.1, -0.4, -1.0, -1.6, -2.1, -2.3])  # lambda_i + lambda_{8-i} = -2 for all i
    assert np.allclose(symmetry_residual(sym), 0.0, atol=1e-15)
    skew = np.array([0.5, 0.0, -1.0, -1.2, -1.3])
    assert np.allclose(symmetry_residual(skew), [1.2, 0.8, 0.0, 0.8, 1.2])  # 0.5 - 1.3 + 2, 0 - 1.2 + 2, -1 - 1 + 2


def _table(rows):
    t = pd.DataFrame(rows)
    t["error"] = None
    return t


def test_summarize_outcomes_on_synthetic_points():
    width = 2.0
    rows = []
    for n, scale in ((100, 1.0), (200, 1.0)):
        for g, d, h in ((2.0, 0.05, 0.001), (5.0, 0.10, 0.004), (10.0, 0.08, 0.003)):
            rows.append({"g": g, "n": n, "seed": 0, "t_sim": 1.0, "mean_exponent": -1.0 + 1e-6, "ky_per_n": d * scale,
                         "entropy_per_n": h, "width": width, "symmetry_rms": 0.01 * width, "chaotic": True})
    out = summarize(_table(rows)).set_index("quantity")
    assert out.loc["mean exponent (all points)", "outcome"] == "holds"
    assert out.loc["mean exponent (all points)", "agreement"] == pytest.approx(1e-6)
    sym = out[out.index.str.startswith("point symmetry")]
    assert list(sym["outcome"]) == ["holds", "holds"] and np.allclose(sym["ours"], 0.01)
    size = out[out.index.str.contains("size invariance")]
    assert list(size["outcome"]) == ["holds", "holds"] and np.allclose(size["agreement"], 0.0)
    peak = out[out.index.str.contains("rises then falls")]
    assert list(peak["outcome"]) == ["peak inside g range (one seed: noise untested)"] * 2
    assert "peak at g = 5" in peak.index[0]
    # a spectrum that is not symmetric, a size dependence and a monotone curve are reported as such
    for r in rows:
        if r["n"] == 200:
            r["symmetry_rms"] = 2 * SYMMETRY_TOL * width
            r["ky_per_n"] *= 1 + 2 * SIZE_TOL
        r["entropy_per_n"] = r["g"] * 1e-3
    out = summarize(_table(rows)).set_index("quantity")
    assert out[out.index.str.startswith("point symmetry")]["outcome"].tolist() == ["holds", "differs"]
    assert out[out.index.str.startswith("D_KY / N: size")]["outcome"].tolist() == ["differs"]
    assert out[out.index.str.startswith("H / N (1/tau): rises")]["outcome"].tolist() == ["no significant decrease up to g = 10"]
    assert out[out.index.str.startswith("networks not chaotic")]["outcome"].tolist() == ["all chaotic"]
    # a network at a fixed point is named and left out of the D/N and H/N comparisons
    rows.append({**rows[0], "seed": 9, "ky_per_n": 0.0, "entropy_per_n": 0.0, "chaotic": False})
    again = summarize(_table(rows)).set_index("quantity")
    assert again.index.str.contains("N=100 g=2 seed 9").any()
    assert again.filter(like="size invariance", axis=0)["ours"].tolist() == out.filter(like="size invariance", axis=0)["ours"].tolist()


def test_summarize_calls_a_drop_within_seed_noise_no_decrease():
    rows = []
    for g, d in ((2.0, 0.05), (5.0, 0.10), (10.0, 0.09)):
        for seed, sign in ((0, -1), (1, 1)):  # SD over the two seeds 0.028, SEM 0.02: a 0.01 drop is noise
            rows.append({"g": g, "n": 100, "seed": seed, "t_sim": 1.0, "mean_exponent": -1.0, "ky_per_n": d + sign * 0.02,
                         "entropy_per_n": d / 10, "width": 2.0, "symmetry_rms": 0.01, "chaotic": True})
    out = summarize(_table(rows)).set_index("quantity")
    assert out.filter(like="D_KY / N: rises", axis=0)["outcome"].tolist() == ["no significant decrease up to g = 10"]
    for r in rows:
        r["ky_per_n"] = {2.0: 0.05, 5.0: 0.10, 10.0: 0.04}[r["g"]] + (0.001 if r["seed"] else -0.001)
    out = summarize(_table(rows)).set_index("quantity")
    assert out.filter(like="D_KY / N: rises", axis=0)["outcome"].tolist() == ["falls beyond the peak (> 2 SEM)"]


def test_quick_study_writes_table_and_figure(tmp_path):
    table = main(["--quick", "--out", str(tmp_path), "--scheduler", "serial", "--no-progress"])
    assert table["error"].isna().all() and len(table) == 4
    results = pd.read_csv(tmp_path / "results.csv").set_index("quantity")
    assert results.loc["mean exponent (all points)", "outcome"] == "holds"
    assert (results[results.index.str.startswith("point symmetry")]["outcome"] == "holds").all()
    assert (tmp_path / "fig_lyapunov_spectra.png").exists() and (tmp_path / "points.parquet").exists()
    for spec in table["spectrum"]:
        assert np.all(np.diff(spec) <= 0)


@pytest.mark.slow
def test_point_symmetry_and_mean_at_n200_g2():
    # the brief's check: N = 200, g = 2, T = 300 tau
    out = point(2.0, 200, 0, 300.0, 100.0)
    assert out["mean_exponent"] == pytest.approx(-1.0, abs=1e-5)
    assert out["symmetry_rms"] / out["width"] < SYMMETRY_TOL
    assert 0 < out["ky_per_n"] < 0.5


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="finite size: measured D_KY/N = 0.057 at N = 100 (3 seeds: 0.071, 0.053, 0.047) "
                   "against 0.076 at N = 200 (2 seeds), a 25 % difference; the published size invariance is a large-N "
                   "statement, not reached at N = 100")
def test_size_invariance_of_dimension_and_entropy_at_g5():
    # extensive chaos (Engelken et al. 2023): D_KY/N and H/N at N = 100 (3 seeds) and N = 200 (2 seeds),
    # with the study's a-priori criterion (relative difference < SIZE_TOL)
    def means(n, seeds):
        pts = [point(5.0, n, s, 300.0, 100.0) for s in seeds]
        assert all(p["chaotic"] for p in pts)
        return np.mean([p["ky_per_n"] for p in pts]), np.mean([p["entropy_per_n"] for p in pts])

    d1, h1 = means(100, [0, 1, 2])
    d2, h2 = means(200, [0, 1])
    assert abs(d2 - d1) / d2 < SIZE_TOL
    assert abs(h2 - h1) / h2 < SIZE_TOL
