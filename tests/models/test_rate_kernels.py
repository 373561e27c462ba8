"""The fused row pass of models._rate_kernels against numpy; serial and parallel agree bitwise."""
from __future__ import annotations

import numpy as np
import pytest

import models.rate
from models import RateNetwork
from models._rate_kernels import NONFINITE_W, OK, W_BOUND, SIGMOID, phi_into, rows_parallel, rows_serial
from plasticity.rules import BCM


def limits(W, lo=-np.inf, hi=np.inf, wbound=1e6):
    """The pass's (wlim, blim, mrow) as models.rate._Stepper builds them."""
    eps, n = np.finfo(W.dtype).eps, W.shape[0]
    finite = [abs(v) for v in (lo, hi) if np.isfinite(v)]
    wlim = np.array([lo, hi, wbound, 0.0], dtype=W.dtype)
    blim = np.array([0.0, 1 + 16 * eps, 1 + (n + 16) * eps, max(finite, default=0.0),
                     max(finite) if len(finite) == 2 else np.inf, wbound])
    return wlim, blim, np.abs(W).max(axis=1).astype(np.float64)


def run_pass(fn, W, pre, nxt, af, sf, lo=-np.inf, hi=np.inf, wbound=1e6, update=True, mrow=None, cf=None):
    cf = np.zeros_like(af) if cf is None else cf
    wlim, blim, m = limits(W, lo, hi, wbound)
    mrow = m if mrow is None else mrow
    blim[0] = np.abs(pre).max()
    h, flags = np.empty(len(W)), np.empty(len(W), np.int64)
    fn(W, pre, nxt, af, sf, cf, update, bool(np.isfinite(lo) or np.isfinite(hi)), wlim, blim, mrow, h, flags)
    return h, flags, mrow


def pass_inputs(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 1 / np.sqrt(n), (n, n)).astype(dtype)
    pre, nxt = rng.uniform(-1, 1, n).astype(dtype), rng.uniform(-1, 1, n).astype(dtype)
    a, b = rng.normal(0, 0.1, n), rng.normal(0, 0.1, n)
    a[::5], b[::5] = 0.0, 0.0  # rows the rule leaves alone take the read-only branch
    return W, pre, nxt, a.astype(dtype), (1 + b).astype(dtype)


@pytest.mark.parametrize("dtype,w_rtol,h_atol", [(np.float64, 1e-13, 1e-13), (np.float32, 1e-6, 5e-6)])
@pytest.mark.parametrize("clip", [False, True])
def test_row_pass_matches_numpy(dtype, w_rtol, h_atol, clip):
    n = 67  # odd: exercises the vector loop's remainder
    W, pre, nxt, af, sf = pass_inputs(n, dtype)
    lo, hi = (-0.2, 0.25) if clip else (-np.inf, np.inf)
    cf = np.random.default_rng(9).normal(0, 0.01, n).astype(dtype)  # the constant term (heterosynaptic w_ref)
    cf[::3] = 0.0
    expected = np.clip(W.astype(np.float64) * sf[:, None] + af[:, None] * pre + cf[:, None], lo, hi)
    h, flags, _ = run_pass(rows_serial, W, pre, nxt, af, sf, lo, hi, cf=cf)
    # float64: a few ulps (FMA, reordered sum). float32: each W entry rounded once (half an
    # ulp, 6e-8 relative); the dot of 67 terms summed in float32 errs by about
    # sqrt(67) * 6e-8 * sum|w x| ~ 1.5e-6 (sum|w x| ~ 3), hence 5e-6 absolute.
    np.testing.assert_allclose(W, expected, rtol=w_rtol, atol=w_rtol)
    np.testing.assert_allclose(h, expected @ nxt.astype(np.float64), rtol=0, atol=h_atol)
    assert np.all(flags == OK)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_serial_and_parallel_passes_are_bitwise_equal(dtype):
    n = 300
    W1, pre, nxt, af, sf = pass_inputs(n, dtype, seed=1)
    W2 = W1.copy()
    h1, _, m1 = run_pass(rows_serial, W1, pre, nxt, af, sf, wbound=0.45)  # some rows checked, some not
    h2, _, m2 = run_pass(rows_parallel, W2, pre, nxt, af, sf, wbound=0.45)
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(W1, W2)  # rows are independent: the same code per row
    np.testing.assert_array_equal(h1, h2)


def test_pass_flags_weights_past_the_bound_and_non_finite_rows():
    n = 8
    W, pre, nxt, af, sf = pass_inputs(n, np.float64)
    af[2], af[5] = 1e9, np.nan
    _, flags, _ = run_pass(rows_serial, W, pre, nxt, af, sf)
    assert flags[2] == W_BOUND and flags[5] == NONFINITE_W
    assert np.all(np.delete(flags, [2, 5]) == OK)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("clip", [False, True])
def test_row_bounds_stay_upper_bounds_and_every_crossing_is_caught(dtype, clip):
    # The pass skips the per-weight check on rows whose bound (kept across steps) stays below
    # weight_bound. Drive weights across the bound slowly and compare with numpy each step.
    n, wbound = 31, 0.6
    lo, hi = (-0.65, 0.62) if clip else (-np.inf, np.inf)
    rng = np.random.default_rng(3)
    W = rng.uniform(-0.3, 0.3, (n, n)).astype(dtype)
    mrow = np.abs(W).max(axis=1).astype(np.float64)
    for step in range(200):
        pre = rng.uniform(-1, 1, n).astype(dtype)
        af, sf = rng.normal(0.002, 0.01, n).astype(dtype), (1 + rng.normal(0.001, 0.003, n)).astype(dtype)
        _, flags, mrow = run_pass(rows_serial, W, pre, pre, af, sf, lo, hi, wbound, mrow=mrow)
        row_max = np.abs(W).max(axis=1)
        assert np.all(mrow >= row_max)
        np.testing.assert_array_equal(flags == W_BOUND, row_max > dtype(wbound))
        if np.any(flags):
            break
    assert np.any(flags == W_BOUND) and step > 10  # the crossing came after many unchecked steps


def test_parallel_network_run_equals_serial(monkeypatch):
    runs = []
    for min_n in (10**9, 1):
        monkeypatch.setattr(models.rate, "PARALLEL_MIN_N", min_n)
        for dynamics, method in (("map", "euler"), ("flow", "rk4")):
            net = RateNetwork.random(64, 1.3, seed=4, dynamics=dynamics, method=method)
            runs.append((net.run(30, rule=BCM(eta=0.05, tau_theta=2.0), inputs=0.1).states, net.W))
    for (xs, W), (xp, Wp) in zip(runs[:2], runs[2:]):
        np.testing.assert_array_equal(xs, xp)
        np.testing.assert_array_equal(W, Wp)


def test_sigmoid_does_not_overflow():
    u = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    out = np.empty(5)
    with np.errstate(all="raise"):
        phi_into(SIGMOID, u, np.ones(5), np.zeros(5), False, out)
    # references from 1/(1+exp(-u)) and exp(u)/(1+exp(u)) where they do not overflow
    np.testing.assert_allclose(out, [0.0, np.exp(-30.0) / (1 + np.exp(-30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1.0],
                               rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid", "linear"])
def test_kernel_activation_is_the_tables(name):
    # the kernel's phi(gain * u - thr) is the compiled scalar of plasticity.activations; its numpy
    # entry is a separate, vectorised implementation of the same formula: equal to libm ulps
    from models._rate_kernels import ACTIVATIONS as CODES
    from plasticity.activations import ACTIVATIONS

    rng = np.random.default_rng(3)
    u, gain, thr = rng.uniform(-5, 5, 64), rng.uniform(0.5, 1.5, 64), rng.normal(0, 0.3, 64)
    out = np.empty(64)
    phi_into(CODES[name], u, gain, thr, True, out)
    np.testing.assert_allclose(out, ACTIVATIONS[name].value(gain * u - thr), rtol=1e-14, atol=1e-300)
