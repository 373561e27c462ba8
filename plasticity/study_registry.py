"""Where ``plasticity study list/run`` finds studies: the entry-point group ``plasticity.studies``.

A study is a module with ``main(argv=None)`` (see :mod:`plasticity.study`). Any installed
distribution registers its own studies in its ``pyproject.toml``::

    [project.entry-points."plasticity.studies"]
    my_study = "my_package.my_study"      # name shown by `plasticity study list` = module to run

and ``plasticity study list`` shows them beside this project's (which register themselves the same
way). Entry points are read from the installed metadata, so a study added to a package appears
after that package is (re)installed (``pip install -e .`` for an editable checkout).

Listing imports no study: the one-line description is the first line of the module's docstring,
read from its source with :mod:`ast` (only the study's parent packages are imported, to locate it).
"""
from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

__all__ = ["ENTRY_POINT_GROUP", "StudyEntry", "find_studies", "load_study"]

ENTRY_POINT_GROUP = "plasticity.studies"


@dataclass(frozen=True)
class StudyEntry:
    """One registered study: its name, the module that holds its ``main`` and its one-line description."""

    name: str
    module: str
    description: str


def _entry_points() -> list[tuple[str, str]]:
    """``(name, module)`` of every installed entry point of :data:`ENTRY_POINT_GROUP`."""
    return [(ep.name, ep.value) for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)]


def _description(module: str) -> str:
    """First docstring line of ``module``, read from its source; a placeholder saying why if unreadable."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as e:
        return f"(cannot be located: {e})"
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return "(cannot be located)" if spec is None else "(no description)"
    try:
        doc = ast.get_docstring(ast.parse(Path(spec.origin).read_text(encoding="utf-8")))
    except (OSError, SyntaxError, ValueError):
        doc = None
    lines = (doc or "").strip().splitlines()
    return lines[0].strip() if lines else "(no description)"


def find_studies() -> dict[str, StudyEntry]:
    """Every registered study, sorted by name.

    Returns
    -------
    dict
        name -> :class:`StudyEntry`. Where two distributions register the same name, the
        one listed first by :func:`importlib.metadata.entry_points` is kept.
    """
    found: dict[str, StudyEntry] = {}
    for name, module in _entry_points():
        module = module.split(":", 1)[0].strip()  # "pkg.mod:main" names the same module
        found.setdefault(name, StudyEntry(name, module, _description(module)))
    return dict(sorted(found.items()))


def load_study(name: str) -> ModuleType:
    """Import the study ``name``; ``KeyError`` listing the registered studies if there is none."""
    known = find_studies()
    if name not in known:
        raise KeyError(f"unknown study {name!r}; registered studies (entry-point group {ENTRY_POINT_GROUP!r}): "
                       f"{', '.join(known) or '(none)'}")
    return importlib.import_module(known[name].module)
