"""Execute the notebooks in ``notebooks/`` top to bottom and check the numbers they report.

Each notebook runs in a fresh kernel started with this interpreter (a ``python3`` kernelspec
written to a temporary ``JUPYTER_PATH``, so a stale user-level kernelspec pointing at another
Python cannot be picked up), with ``MPLBACKEND=Agg``. A failing cell fails the test with
that cell's error. The last cell of each notebook prints one line
``NOTEBOOK_RESULTS {json}`` of key numbers, which are checked here against independent
references (analytic results, numpy, published values).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
RESULTS_PREFIX = "NOTEBOOK_RESULTS "


@pytest.fixture
def clean_kernel_env(tmp_path, monkeypatch):
    """A python3 kernelspec for ``sys.executable`` and a private Jupyter/IPython environment."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (plasticity tests)",
        "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))  # searched before the user's and the venv's
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # no user startup files or profiles
    monkeypatch.setenv("MPLBACKEND", "Agg")
    work = tmp_path / "cwd"
    work.mkdir()
    return work


def execute(name: str, cwd: Path) -> dict:
    """Run notebook ``name`` in a fresh kernel; return the JSON its last cell prints."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"{name}: a cell failed:\n{e}", pytrace=False)
    lines = [line for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
             if out.get("output_type") == "stream" and out.get("name") == "stdout"
             for line in out["text"].splitlines() if line.startswith(RESULTS_PREFIX)]
    assert len(lines) == 1, f"{name}: expected one line starting with {RESULTS_PREFIX!r}; got {len(lines)}"
    return json.loads(lines[0][len(RESULTS_PREFIX):])


@pytest.mark.parametrize("name", ["compare_rules.ipynb", "custom_simulation.ipynb"])
def test_notebook_is_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code cell"
    assert all(not c.outputs and c.execution_count is None for c in code), f"{name} is stored with outputs"


def test_compare_rules(clean_kernel_env):
    r = execute("compare_rules.ipynb", clean_kernel_env)
    # Plain Hebbian learning has no stabilising term (dw/dt = eta C w grows exponentially,
    # Dayan & Abbott 2001 eq. 8.7): its run must stop inside the run and keep what it recorded.
    assert r["diverged"]["Hebbian"] is True
    assert 0 < r["hebbian_diverged_at"] <= r["steps"]
    # the last recorded state is the step before the bad one
    assert r["hebbian_recorded_until"] == r["hebbian_diverged_at"] - 1
    assert r["hebbian_recorded_finite"] is True
    assert r["diverged"]["none"] is False  # frozen weights cannot leave the weight bound
    # g = 1.5 > 1: the frozen random tanh map is chaotic (Sompolinsky et al. 1988; maps:
    # Molgedey et al. 1992); the exponent of a 100-neuron map is small but positive.
    assert r["lyapunov_start"] > 0
    # the sweep: 7 rules x 2 seeds, no failed point, read back equal, rerun recomputes nothing
    assert r["sweep_points"] == 14
    assert r["sweep_errors"] == 0
    assert r["stored_equals_returned"] is True
    assert r["rerun_recomputed"] == 0


def test_custom_simulation(clean_kernel_env):
    r = execute("custom_simulation.ipynb", clean_kernel_env)
    # Oja (1982): a linear neuron's weight vector converges to the unit principal eigenvector
    # of the input covariance (reference: numpy's eigh). With a constant step (eta = 1e-3) it
    # fluctuates around it; the mean |cos| over the last quarter was >= 0.997 for each of 10
    # seeds tried, so 0.99 sits outside the noise and far above a random direction in 5-D
    # (|cos| ~ 0.4).
    assert r["oja_abs_cos"] > 0.99
    assert abs(r["oja_norm"] - 1.0) < 0.02  # |w| -> 1; measured within 0.0012 over 10 seeds
    # BCM with K = 3 independent patterns shown with p = 1/3: the stable fixed points are
    # selective, response 1/p = 3 to one pattern and 0 to the others (Intrator & Cooper 1992;
    # Castellani et al. 1999). Time averages over the last quarter; per-step fluctuations are
    # ~0.1 and the averages sit within 0.08 of 3 over seeds, hence 0.25.
    responses = sorted(r["bcm_mean_responses"])
    assert abs(responses[-1] - 3.0) < 0.25
    assert max(responses[:-1]) < 0.1  # rectified responses to the other patterns are ~0
    # Pair STDP: spikes on the step grid and traces that decay analytically reproduce the
    # window a_plus exp(-dt/tau_plus), -a_minus exp(dt/tau_minus) to rounding (a few ulps of
    # the weight 0.5 per step, over ~10^3 steps).
    assert r["stdp_max_abs_error"] < 1e-12
    # numba kernel vs plain-numpy reference: the same float64 operations in another order
    assert r["kernel_vs_reference_max_rel_diff"] < 1e-12
    # Henon map a = 1.4, b = 0.3: lambda_1 = 0.41922, lambda_2 = -1.62319 (Sprott 2003,
    # Chaos and Time-Series Analysis, appendix A; long QR runs give 0.420 and -1.624).
    # 20000 steps fix about 3 digits; the interval is the literature interval of STYLE.md.
    lam1, lam2 = r["henon_exponents"]
    assert 0.41 < lam1 < 0.43
    assert -1.64 < lam2 < -1.61
    # det J = -b everywhere, so lambda_1 + lambda_2 = ln 0.3 exactly; central differences are
    # exact for this quadratic map, so only rounding remains.
    assert math.isclose(lam1 + lam2, math.log(0.3), abs_tol=1e-9)
    # and the finite-difference and analytic Jacobians give the same exponents to rounding
    for fd, exact in zip(r["henon_exponents"], r["henon_exponents_analytic_jacobian"]):
        assert math.isclose(fd, exact, abs_tol=1e-9)
