"""Execute the notebooks in ``notebooks/`` top to bottom and check the numbers they report.

Each notebook runs in a fresh kernel started with this interpreter (a ``python3`` kernelspec
written to a temporary ``JUPYTER_PATH``, so a stale user-level kernelspec pointing at another
Python cannot be picked up), with ``MPLBACKEND=Agg``. A failing cell fails the test with
that cell's error. The last cell of each notebook prints one line
``NOTEBOOK_RESULTS {json}`` of key numbers, which are checked here against independent
references (analytic results, numpy, published values) and against what the notebook's rules
are expected to do.

``compare_rules.ipynb`` is stored *with* its outputs (so that its figures show on GitHub), and
they must be the outputs of the code as it stands: the test compares the stored key numbers
with a fresh run. After changing the notebook or anything it runs, re-execute and save it
(nbclient's command line, from the repository root; one BLAS thread: see ``clean_kernel_env``)::

    OPENBLAS_NUM_THREADS=1 MPLBACKEND=Agg jupyter execute --inplace notebooks/compare_rules.ipynb

``custom_simulation.ipynb`` is stored without outputs.
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
    # The notebooks' matrices are small (eigenvalues of 100 x 100 to 250 x 250), and the test jobs
    # share two cores: a multi-threaded OpenBLAS spinning on busy cores made one 250 x 250
    # eigvals take 2.4 s instead of 0.04 s. One BLAS thread per kernel.
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    work = tmp_path / "cwd"
    work.mkdir()
    return work


def results_of(nb, name: str) -> dict:
    """The JSON of the one ``NOTEBOOK_RESULTS`` line among the outputs of ``nb``."""
    lines = [line for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
             if out.get("output_type") == "stream" and out.get("name") == "stdout"
             for line in out["text"].splitlines() if line.startswith(RESULTS_PREFIX)]
    assert len(lines) == 1, f"{name}: expected one line starting with {RESULTS_PREFIX!r}; got {len(lines)}"
    return json.loads(lines[0][len(RESULTS_PREFIX):])


def execute(name: str, cwd: Path) -> dict:
    """Run notebook ``name`` in a fresh kernel; return the JSON its last cell prints."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"{name}: a cell failed:\n{e}", pytrace=False)
    return results_of(nb, name)


def assert_same_results(stored, fresh, path: str = "results") -> None:
    """Equal structure, equal discrete values (outcomes, divergence flags), floats within a relative
    1e-3: the same code and seeds give the same numbers on one machine; another CPU may round a
    few operations differently (diverged_at may move by a step). Lyapunov exponents of the chaotic
    map are averages along a trajectory that such rounding decorrelates, so of them only the sign
    (and -inf) is compared."""
    if isinstance(stored, dict) and isinstance(fresh, dict):
        assert stored.keys() == fresh.keys(), f"{path}: keys {sorted(stored)} != {sorted(fresh)}"
        for k in stored:
            assert_same_results(stored[k], fresh[k], f"{path}[{k!r}]")
    elif isinstance(stored, float) or isinstance(fresh, float):
        assert isinstance(stored, (int, float)) and isinstance(fresh, (int, float)), f"{path}: {stored!r} != {fresh!r}"
        if "lyapunov" in path and math.isfinite(stored) and math.isfinite(fresh):
            assert math.copysign(1, stored) == math.copysign(1, fresh), f"{path}: stored {stored!r}, fresh run {fresh!r}"
        else:
            assert stored == fresh or math.isclose(stored, fresh, rel_tol=1e-3, abs_tol=1e-6), \
                f"{path}: stored {stored!r}, fresh run {fresh!r} (re-execute and save the notebook)"
    else:
        assert stored == fresh, f"{path}: stored {stored!r}, fresh run {fresh!r} (re-execute and save the notebook)"


def test_custom_simulation_is_stored_without_outputs():
    name = "custom_simulation.ipynb"
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code cell"
    assert all(not c.outputs and c.execution_count is None for c in code), f"{name} is stored with outputs"


def test_compare_rules_is_stored_executed():
    """Stored with the outputs of one top-to-bottom run: every code cell run once, in order, none
    failed, the figures present (what a reader on GitHub sees)."""
    name = "compare_rules.ipynb"
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), \
        f"{name}: cells not executed once each, top to bottom"
    outputs = [out for c in code for out in c.outputs]
    assert not [out for out in outputs if out.get("output_type") == "error"], f"{name} is stored with an error"
    figures = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(figures) >= 2, f"{name}: expected the two figures among the stored outputs; got {len(figures)}"
    results_of(nb, name)


def test_compare_rules(clean_kernel_env):
    r = execute("compare_rules.ipynb", clean_kernel_env)
    # the stored outputs (figures, tables) are those of the code as it stands
    stored = results_of(nbformat.read(NOTEBOOKS / "compare_rules.ipynb", as_version=4), "compare_rules.ipynb")
    assert_same_results(stored, r)

    # Part 1: E/I network, Hebbian E->E learning with each compensation, set point r* = 1.
    ei, target, duration = r["ei"], r["target"], r["ei_duration"]
    for name, c in ei.items():
        assert c["min_rate"] >= 0.0, name  # threshold-linear units: rates are never negative
        assert c["diverged"] == (c["outcome"] == "diverged"), name
        if c["diverged"]:
            assert 0 < c["diverged_at"] <= duration, name
        else:
            assert c["diverged_at"] is None and c["final_rate"] is not None, name
    # frozen weights: nothing changes, and the fixed point of the flow is stable (max Re lambda < 0)
    # although rho(J) > 1: for a flow the spectral radius is no stability criterion
    none = ei["none"]
    assert none["outcome"] == "stable" and none["final_J_EE"] == none["initial_J_EE"]
    assert none["max_re"] < 0 < none["rho"] - 1
    # Plain Hebbian learning has no stabilising term (dw/dt = eta C w grows exponentially,
    # Dayan & Abbott 2001 eq. 8.7): it runs away inside the run.
    heb_at = ei["hebbian"]["diverged_at"]
    assert ei["hebbian"]["diverged"] and ei["hebbian"]["max_re"] > 0
    # Homeostasis slower than the Hebbian runaway delays it but does not stop it (Zenke, Agnes &
    # Gerstner 2015): slow scaling and intrinsic plasticity (integral control of the rate that
    # leaves the weights to Hebbian growth) diverge, later than Hebbian learning alone.
    for name in ("hebbian+scaling_slow", "hebbian+intrinsic"):
        assert ei[name]["diverged"] and ei[name]["diverged_at"] > heb_at, name
    # Fast scaling is a proportional controller: stable, a few percent above the set point
    # (offset ~ eta_Hebb r^2 / (eta_scaling w) = 2-5% here; measured 5%).
    fast = ei["hebbian+scaling_fast"]
    assert fast["outcome"] == "stable" and fast["max_re"] < 0
    assert 0 < fast["final_rate"] - target < 0.1
    # Inhibitory plasticity holds the rate through I->E, but E->E keeps growing under it.
    inh = ei["hebbian+inhibitory"]
    assert not inh["diverged"] and inh["final_J_EE"] > 2 * inh["initial_J_EE"]
    # Heterosynaptic decay has no set point: it stops the runaway where beta y^4 balances Hebbian
    # growth; with beta = 0.02 the weight fixed point at y = r* would be eta / beta = w0 / 10, so the
    # rate settles below r*, with E->E weaker than at the start.
    het = ei["hebbian+heterosynaptic"]
    assert het["outcome"] == "stable" and het["final_rate"] < target
    assert het["final_J_EE"] < het["initial_J_EE"]
    # BCM's sliding threshold theta -> <y^2> builds in the set point y = 1 (Bienenstock et al. 1982);
    # heterogeneous rates put the population mean a little below it (0.89 measured).
    assert ei["bcm"]["outcome"] == "stable" and abs(ei["bcm"]["final_rate"] - 1.0) < 0.2

    # Part 2: the single mixed-sign tanh matrix.
    # Plain Hebbian learning diverges: its run must stop inside the run and keep what it recorded.
    assert r["diverged"]["hebbian"] is True
    assert 0 < r["hebbian_diverged_at"] <= r["steps"]
    # the last recorded state is the step before the bad one
    assert r["hebbian_recorded_until"] == r["hebbian_diverged_at"] - 1
    assert r["hebbian_recorded_finite"] is True
    assert r["diverged"]["none"] is False  # frozen weights cannot leave the weight bound
    # g = 1.5 > 1: the frozen random tanh map is chaotic (Sompolinsky et al. 1988; maps:
    # Molgedey et al. 1992); the exponent of a 100-neuron map is small but positive.
    assert r["lyapunov_start"] > 0
    # Oja on saturated tanh units: every unit pinned at +-1, tanh' = 0 in floating point, a
    # perturbation is erased in one step: lambda_1 = -inf (reported, not dropped).
    assert r["lyapunov_end"]["oja"] == -math.inf
    # Scaling cannot move a zero-mean unit's mean rate to its target: the mean stays near 0
    # (|mean| < target / 5) while the rows grow until W leaves the bound.
    assert r["diverged"]["scaling"] is True
    assert abs(r["scaling_mean_rate"]) < r["scaling_target"] / 5


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
