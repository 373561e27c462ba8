"""Fixtures and helpers shared by the test suite.

* ``tiny``: the test module's ``TINY`` source registered as the study ``tiny`` (for the study
  harness and CLI tests).
* ``torch_one_thread``: torch on one thread for a test (RNN tests use it module-wide).
* ``_spiking_cases``: ``tests/rules/_spiking_cases.py`` (configured spiking-rule instances) loaded
  by path and registered under that module name, so that test modules can
  ``from _spiking_cases import SPIKING_RULES`` under any pytest import mode (``importlib`` mode
  puts no test directory on ``sys.path``). A conftest is imported before the test modules.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _register_by_path(name: str, path: Path):
    """Import the file ``path`` as module ``name`` (kept in ``sys.modules``) and return it."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_register_by_path("_spiking_cases", HERE / "rules" / "_spiking_cases.py")


@pytest.fixture()
def tiny(request, tmp_path, monkeypatch):
    """The requesting test module's ``TINY`` (the source of a study module) registered as the study ``tiny``.

    Written as the module ``tiny_study`` in a temporary directory put on ``sys.path``, and added to
    the entry points that :mod:`plasticity.study_registry` reads (as an installed package's
    ``plasticity.studies`` entry point would be), so ``plasticity study list/run`` find it; yields
    the imported module, and forgets it after.
    """
    from plasticity import study_registry

    extra = tmp_path / "extra_studies"
    extra.mkdir()
    (extra / "tiny_study.py").write_text(request.module.TINY)
    monkeypatch.syspath_prepend(str(extra))
    installed = study_registry._entry_points
    monkeypatch.setattr(study_registry, "_entry_points", lambda: [*installed(), ("tiny", "tiny_study")])
    sys.modules.pop("tiny_study", None)
    yield study_registry.load_study("tiny")
    sys.modules.pop("tiny_study", None)


@pytest.fixture()
def torch_one_thread():
    """torch on one thread for the test (tiny tensors: the thread pool only adds synchronisation
    on a shared 2-core machine); the previous count is restored."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
