"""The activation table: every entry against its closed form and finite differences, and its
numpy, torch, plain-Python and numba evaluations against each other; the kernels read its codes."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from plasticity.activations import (ACTIVATIONS, NETWORK_ACTIVATIONS, PerNeuronActivation, jit_scalar_value,
                                    scalar_derivative, scalar_value)

# (k, exponent) of power; the other entries ignore them
PARAMS = [(1.0, 2.0), (0.3, 2.5), (2.0, 0.7)]

# the closed forms, written out independently of the table (sigmoid by the plain formula)
CLOSED = {
    "tanh": lambda u, k, e: np.tanh(u),
    "relu": lambda u, k, e: np.where(u > 0, u, 0.0),
    "sigmoid": lambda u, k, e: 1.0 / (1.0 + np.exp(-u)),
    "linear": lambda u, k, e: u,
    "rectified_tanh": lambda u, k, e: np.where(u > 0, np.tanh(u), 0.0),
    "power": lambda u, k, e: np.where(u > 0, k * np.abs(u) ** e, 0.0),
}


def points(seed=0):
    """Inputs in [-4, 4] at least 1e-3 from the kinks at 0 (so that central differences of
    step 1e-6 never straddle one)."""
    u = np.random.default_rng(seed).uniform(-4.0, 4.0, 200)
    return u[np.abs(u) > 1e-3]


def test_table_is_complete_and_ordered_by_code():
    assert set(CLOSED) == set(ACTIVATIONS)
    assert [a.code for a in ACTIVATIONS.values()] == list(range(len(ACTIVATIONS)))
    assert set(NETWORK_ACTIVATIONS) <= set(ACTIVATIONS)
    for a in ACTIVATIONS.values():  # nonnegative is a property of the formula, checked on a grid
        assert a.nonnegative == bool(np.all(a.value(np.linspace(-50, 50, 1001)) >= 0))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("k, e", PARAMS)
def test_value_is_the_closed_form_and_derivative_matches_finite_differences(name, k, e):
    act, u = ACTIVATIONS[name], points()
    y, d = act.value_and_derivative(u, k, e)
    # same formula but for sigmoid (0.5 (1 + tanh(u/2)) against 1/(1+exp(-u))): a few ulps
    np.testing.assert_allclose(y, CLOSED[name](u, k, e), rtol=1e-14, atol=1e-300)
    h = 1e-6  # central differences: truncation h^2 |phi'''| / 6 <~ 1e-11, rounding eps |phi| / h <~ 1e-9
    fd = (CLOSED[name](u + h, k, e) - CLOSED[name](u - h, k, e)) / (2 * h)
    np.testing.assert_allclose(d, fd, rtol=1e-7, atol=1e-8)
    np.testing.assert_array_equal(act.value(u, k, e), y)
    np.testing.assert_array_equal(act.derivative(u, k, e), d)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_numba_plain_python_and_numpy_agree(name):
    code, u = ACTIVATIONS[name].code, np.concatenate([points(1), [-800.0, -30.0, 0.0, 30.0, 800.0]])
    jit = jit_scalar_value()
    for k, e in PARAMS:
        y, d = ACTIVATIONS[name].value_and_derivative(u, k, e)
        plain = np.array([scalar_value(code, float(v), k, e) for v in u])
        compiled = np.array([jit(code, float(v), k, e) for v in u])
        np.testing.assert_array_equal(compiled, plain)  # the same source, compiled: equal but for libm ulps
        # sigmoid: two overflow-free formulas of the same function; elsewhere the same arithmetic
        np.testing.assert_allclose(plain, y, rtol=1e-14, atol=1e-300)
        dscalar = np.array([scalar_derivative(code, float(v), k, e) for v in u])
        # 1 - y^2 (and y (1 - y)) cancel: an ulp of y (math against numpy tanh) is ~2e-16 absolute
        np.testing.assert_allclose(dscalar, d, rtol=1e-13, atol=1e-15)
    with np.errstate(over="raise"):  # no overflow in the scalar sigmoid at either end
        assert jit(ACTIVATIONS["sigmoid"].code, -800.0, 1.0, 1.0) == 0.0
        assert jit(ACTIVATIONS["sigmoid"].code, 800.0, 1.0, 1.0) == 1.0


def test_cap_saturates_value_and_zeroes_derivative():
    u = np.array([-1.0, 0.5, 2.0, 3.0])
    y, d = ACTIVATIONS["power"].value_and_derivative(u, 1.0, 2.0, max_rate=4.0)
    np.testing.assert_array_equal(y, [0.0, 0.25, 4.0, 4.0])
    np.testing.assert_array_equal(d, [0.0, 1.0, 0.0, 0.0])  # at u = 2 phi reaches the cap: derivative 0


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_torch_matches_numpy_and_autograd_matches_the_derivative(name):
    act, u = ACTIVATIONS[name], points(2)
    for k, e in PARAMS:
        ut = torch.tensor(u, requires_grad=True)
        yt, dt = act.value_and_derivative(ut, k, e)
        y, d = act.value_and_derivative(u, k, e)
        # elementwise functions of two libraries (and torch.sigmoid against the tanh form): ulps
        np.testing.assert_allclose(yt.detach().numpy(), y, rtol=1e-14, atol=1e-300)
        # derivatives: 1 - y^2 and y (1 - y) cancel, an ulp of y is ~2e-16 absolute
        np.testing.assert_allclose(dt.detach().numpy(), d, rtol=1e-13, atol=1e-15)
        (grad,) = torch.autograd.grad(yt.sum(), ut)
        np.testing.assert_allclose(grad.numpy(), d, rtol=1e-13, atol=1e-15)
    if act.torch_name is not None:  # the named torch function computes the same values
        fn = getattr(torch, act.torch_name.split(".", 1)[1])
        np.testing.assert_allclose(fn(torch.tensor(u)).numpy(), act.value(u), rtol=1e-14, atol=1e-300)


def test_per_neuron_activation_uses_each_blocks_entry_and_cap():
    u = np.linspace(-1.0, 3.0, 7)
    phi = PerNeuronActivation([(slice(0, 3), "relu", 1.0, 2.0, None), (slice(3, 7), "power", 0.5, 2.0, 2.0)])
    y, d = phi.value_and_derivative(u)
    np.testing.assert_array_equal(y[:3], np.maximum(u[:3], 0.0))
    np.testing.assert_array_equal(y[3:], np.minimum(0.5 * u[3:] ** 2, 2.0))
    np.testing.assert_array_equal(d[3:], np.where(0.5 * u[3:] ** 2 < 2.0, u[3:], 0.0))
    yt, _ = phi.value_and_derivative(torch.tensor(u))
    np.testing.assert_allclose(yt.numpy(), y, rtol=1e-15)
    with pytest.raises(ValueError, match="contiguous slices in order from 0"):
        PerNeuronActivation([(slice(1, 3), "relu", 1.0, 2.0, None)])
    with pytest.raises(ValueError, match=r"activation must be one of \('tanh', 'relu'"):
        PerNeuronActivation([(slice(0, 3), "softplus", 1.0, 2.0, None)])


def test_every_path_reads_the_table():
    from models._population_kernels import POWER, RECT_TANH
    from models._rate_kernels import ACTIVATIONS as RATE_CODES
    from models.populations import ACTIVATION_NAMES
    from plasticity.metrics.rate_systems import ACTIVATIONS as SYSTEM_NAMES

    assert RATE_CODES == {name: ACTIVATIONS[name].code for name in NETWORK_ACTIVATIONS}
    assert ACTIVATION_NAMES == SYSTEM_NAMES == tuple(ACTIVATIONS)
    assert (RECT_TANH, POWER) == (ACTIVATIONS["rectified_tanh"].code, ACTIVATIONS["power"].code)


def test_the_metrics_do_not_import_numba():
    # the table compiles its scalar function only when a kernel asks: metrics stay numba-free
    code = ("import sys, plasticity.activations, plasticity.metrics.rate_systems; "
            "sys.exit('numba' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
