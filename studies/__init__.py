"""Studies: each ``studies/<name>.py`` is a grid, a point function, a figure and ``main(argv=None)``.

A study module's docstring starts with one line saying what it shows; :data:`STUDIES` maps
each name to that line, read from the source with :mod:`ast`, so ``import studies`` imports
no study (nor numpy, models or matplotlib). Run one with ``plasticity study run NAME`` or
``python -m studies.NAME`` (options: ``--help``).
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

__all__ = ["STUDIES", "discover", "load"]


def discover() -> dict[str, str]:
    """name -> first docstring line of every study module on ``studies.__path__``, sorted by name."""
    found: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.ispkg or info.name.startswith("_"):
            continue
        path = Path(getattr(info.module_finder, "path", "")) / f"{info.name}.py"
        try:
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        except (OSError, SyntaxError, ValueError):
            doc = None
        lines = (doc or "").strip().splitlines()
        found[info.name] = lines[0].strip() if lines else "(no description)"
    return found


def load(name: str) -> ModuleType:
    """Import the study ``name``; ``KeyError`` listing the known studies if there is none."""
    known = discover()
    if name not in known:
        raise KeyError(f"unknown study {name!r}; known studies: {', '.join(known) or '(none)'}")
    return importlib.import_module(f"{__name__}.{name}")


STUDIES: dict[str, str] = discover()
