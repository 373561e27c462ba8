"""Studies: each ``studies/<name>.py`` is a grid, a point function, a figure and ``main(argv=None)``.

A study module's docstring starts with one line saying what it shows. Each study is registered
in ``pyproject.toml`` under the entry-point group ``plasticity.studies`` (see
:mod:`plasticity.study_registry`), which is how ``plasticity study list/run`` finds it; other
packages add their own studies the same way. Run one with ``plasticity study run NAME`` or
``python -m studies.NAME`` (options: ``--help``). Importing this package imports no study.
"""
