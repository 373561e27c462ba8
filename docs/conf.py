"""Sphinx configuration of the plasticity documentation.

Build (from the repository root, after ``pip install -c constraints.txt -e ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The API reference is generated from the NumPy-style docstrings (autodoc + autosummary +
numpydoc); the notebooks of ``notebooks/`` are rendered by myst-nb as stored, never executed.
"""
from __future__ import annotations

import inspect
import itertools
import os
import re
import shutil
import sys
from pathlib import Path

import sphinx.ext.autosummary as autosummary

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # `models` and `studies` from this checkout, even without an install
os.environ.setdefault("MPLBACKEND", "Agg")

import plasticity  # noqa: E402

# -- project -------------------------------------------------------------------------------
project = "plasticity"
author = "the plasticity developers"
copyright = "the plasticity developers (MIT licence)"
version = release = plasticity.__version__

# -- extensions ----------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",  # markdown pages (it loads myst-parser) and notebooks
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# Cross-references that cannot resolve (types such as ``array_like`` or ``numpy.random.Generator``
# in parameter lists, names of private modules) stay plain text rather than warnings.
nitpicky = False
default_role = "literal"  # `W[post, pre]` in docstrings is code, not a reference

# -- autodoc / autosummary -----------------------------------------------------------------
autosummary_generate = True
autosummary_generate_overwrite = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}  # members are listed by the templates
autodoc_typehints = "none"  # the signatures carry the annotations; numpydoc lists the types
autodoc_mock_imports: list[str] = []  # nothing is mocked: every dependency is installed
autoclass_content = "class"
# A method without a docstring of its own (torch's ``extra_repr``, ...) is not listed with the
# text of the library it overrides.
autodoc_inherit_docstrings = False
highlight_language = "text"  # docstrings' literal blocks are formulas and tables, not Python

# Each API page lists its objects explicitly; ``currentmodule`` of a section is the module
# that holds them, so names stay short.

# -- numpydoc ------------------------------------------------------------------------------
numpydoc_show_class_members = False  # autodoc's :members: lists them; avoids duplicate stubs
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()
numpydoc_attributes_as_param_list = True

# -- myst / myst-nb ------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist", "fieldlist"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # notebooks are shown as stored; the test suite executes them
nb_merge_streams = True

suppress_warnings = [
    "mystnb.unknown_mime_type",  # widget outputs have no static rendering
]

# -- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"plasticity {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "getting_started": [], "notebooks": [], "gallery/index": []}
html_show_sourcelink = False


# -- notebooks -----------------------------------------------------------------------------
def _copy_notebooks() -> None:
    """Copy ``notebooks/*.ipynb`` into ``docs/notebooks/`` (git-ignored): Sphinx reads sources
    only below ``docs/``. A file is rewritten only when it changed, so rebuilds stay incremental."""
    target = DOCS / "notebooks"
    target.mkdir(exist_ok=True)
    wanted = {p.name: p for p in sorted((ROOT / "notebooks").glob("*.ipynb"))}
    for stale in target.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    for name, src in wanted.items():
        dst = target / name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)


_copy_notebooks()


# -- docstring markup that is not reST ---------------------------------------------------------
# The docstrings are NumPy style and mostly valid reST, but a few use plain-text notation that
# reST reads as markup: ``|x|`` (absolute value) is a substitution reference, ``(*batch, n)``
# (a shape with leading batch dimensions) opens an emphasis, and an indented block of formulas
# after "...:" is a block quote (whose continuation lines are errors). Escape ``|`` and ``(*`` in
# running text, never inside inline literals, roles, literal blocks or doctests, and read such
# blocks as literal blocks. The docstrings themselves are left as they are.
_INLINE_CODE = re.compile(r"(``.+?``|:[\w:.-]+:`[^`]+`|`[^`]+`_{0,2})")
_BAR = re.compile(r"(?<!\\)\|")
_STAR_AFTER_BRACKET = re.compile(r"(?<=[(\[])\*(?=\w)")


def _escape_text(line: str) -> str:
    parts = _INLINE_CODE.split(line)
    for i in range(0, len(parts), 2):  # even parts are running text
        parts[i] = _STAR_AFTER_BRACKET.sub(r"\\*", _BAR.sub(r"\\|", parts[i]))
    return "".join(parts)


def _is_table_or_line_block(stripped: str) -> bool:
    return stripped.startswith(("| ", "+-", "+=")) or stripped == "|" or (
        stripped.startswith("|") and stripped.endswith("|") and " | " in stripped)


def _mark_preformatted(lines: list[str]) -> None:
    """A paragraph ending in ``:`` followed by a blank line and a more indented block is a
    preformatted block (formulas, aligned tables) in plain-text docstrings: make it ``::``."""
    for k, line in enumerate(lines):
        stripped = line.strip()
        if (not stripped.endswith(":") or stripped.endswith("::") or stripped.startswith((":", ".."))
                or k + 2 >= len(lines) or lines[k + 1].strip()):
            continue
        nxt = next((m for m in lines[k + 1:] if m.strip()), None)
        if nxt is not None and len(nxt) - len(nxt.lstrip()) > len(line) - len(line.lstrip()):
            lines[k] = line.rstrip() + ":"


def _escape_plain_notation(app, what, name, obj, options, lines) -> None:
    _mark_preformatted(lines)
    block_indent = None  # indentation of the line ending in "::" while its literal block lasts
    doctest = False
    for k, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if block_indent is not None:
            if not stripped or indent > block_indent:
                continue
            block_indent = None
        if doctest:
            if stripped:
                continue
            doctest = False
        if stripped.startswith(">>>"):
            doctest = True
            continue
        if _is_table_or_line_block(stripped.rstrip()):
            continue
        lines[k] = _escape_text(line)
        if stripped.rstrip().endswith("::"):
            block_indent = indent


# autosummary (Sphinx 9) may cut the one-line summary inside an inline literal at a ". " (for
# example ``D = j + (lambda_1 + ... + lambda_j)``), leaving an unterminated literal. Keep the
# whole first paragraph in that case.
_extract_summary = autosummary.extract_summary


def _balanced_summary(doc, settings):
    summary = _extract_summary(doc, settings)
    if summary.count("``") % 2:
        lines = itertools.dropwhile(lambda line: not line.strip(), doc)
        summary = " ".join(line.strip() for line in itertools.takewhile(lambda line: line.strip(), lines))
    return summary


autosummary.extract_summary = _balanced_summary


def _skip_foreign_class_attributes(app, what, name, obj, skip, options):
    """A class attribute that holds a class from another library (``state_class = NamedTuple``)
    would be shown with that library's docstring: leave it out."""
    if (what == "class" and (inspect.isclass(obj) or inspect.isfunction(obj))
            and str(getattr(obj, "__module__", "")).split(".")[0] not in _OWN_PACKAGES):
        return True
    return None


_OWN_PACKAGES = ("plasticity", "models", "studies")


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_class_attributes)
    # before numpydoc (priority 500) turns the sections into reST
    app.connect("autodoc-process-docstring", _escape_plain_notation, priority=400)
