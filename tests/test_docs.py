"""The documentation builds with warnings as errors (``docs/``, Sphinx).

Slow (a minute or two: it imports every documented module and renders the notebooks as
stored, without executing them). Needs the ``docs`` extra:
``pip install -c constraints.txt -e ".[docs]"``.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DOCS_PACKAGES = ("sphinx", "pydata_sphinx_theme", "numpydoc", "myst_parser", "myst_nb")

pytestmark = pytest.mark.slow


def _missing_docs_packages() -> list[str]:
    return [name for name in DOCS_PACKAGES if importlib.util.find_spec(name) is None]


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory) -> Path:
    missing = _missing_docs_packages()
    if missing:
        pytest.skip(f"the docs tools are not installed ({', '.join(missing)}): "
                    f"pip install -c constraints.txt -e \".[docs]\"")
    out = tmp_path_factory.mktemp("docs_html")
    doctrees = tmp_path_factory.mktemp("docs_doctrees")
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-d", str(doctrees), "-q",
         str(DOCS), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"sphinx -W failed (exit {done.returncode}):\n{done.stderr[-20000:]}"
    return out


def test_docs_build_without_warnings(built_docs: Path) -> None:
    for page in ("index", "getting_started", "user_guide/index", "user_guide/ei_networks", "api/index",
                 "api/rules", "api/metrics", "api/models", "notebooks", "gallery/index"):
        assert (built_docs / f"{page}.html").is_file(), page
    for name in ("plasticity.rules.Combined", "plasticity.rules.InhibitoryPlasticity",
                 "plasticity.rules.HeterosynapticDecay", "plasticity.metrics.classify_run",
                 "models.RateNetwork", "models.RatePopulation", "models.RateProjection", "plasticity.sweep.sweep"):
        assert (built_docs / "api" / "generated" / f"{name}.html").is_file(), name
    rate_network = (built_docs / "api" / "generated" / "models.RateNetwork.html").read_text(encoding="utf-8")
    assert 'id="models.RateNetwork.ei"' in rate_network and 'id="models.RateNetwork.from_populations"' in rate_network


def test_every_export_is_in_the_api_reference(built_docs: Path) -> None:
    """A class or function exported by a documented package has its page (add new names to
    the lists in ``docs/api/*.rst``)."""
    import inspect

    import models
    import plasticity.metrics
    import plasticity.rules
    import plasticity.torch

    generated = {p.stem for p in (built_docs / "api" / "generated").glob("*.html")}
    missing = []
    for package in (plasticity.rules, plasticity.torch, plasticity.metrics, models):
        for name in package.__all__:
            obj = getattr(package, name)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and f"{package.__name__}.{name}" not in generated:
                missing.append(f"{package.__name__}.{name}")
    assert not missing, f"not in the API reference (docs/api/*.rst): {missing}"


def test_gallery_has_every_study(built_docs: Path) -> None:
    from plasticity.study_registry import find_studies

    gallery = (DOCS / "gallery" / "index.md").read_text(encoding="utf-8")
    for name in find_studies():
        assert f"plasticity study run {name} --quick" in gallery, f"study {name} has no gallery entry"
    for image in re.findall(r"_static/gallery/(\S+\.png)", gallery):
        assert (DOCS / "_static" / "gallery" / image).is_file(), image
        assert (built_docs / "_images" / image).is_file() or (built_docs / "_static" / "gallery" / image).is_file()
