"""The ``plasticity`` command: help at every level, study list/run, bench, ``python -m plasticity``."""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plasticity import cli

REPO = Path(__file__).resolve().parents[1]
# the source of the study module that the ``tiny`` fixture (tests/conftest.py) registers as the study tiny
TINY = '"""Tiny: one point, for the CLI tests."""\n' + '''
def point(x, seed):
    return {"y": 2 * x}


def main(argv=None):
    from plasticity.study import run_study

    return run_study("tiny", {"x": [1, 2]}, point, None, argv=argv)
'''


def plasticity_cmd(*args: str) -> subprocess.CompletedProcess:
    # cwd = the repository, so that `studies` is this checkout's package whatever the install
    return subprocess.run([sys.executable, "-m", "plasticity", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120)


@pytest.mark.parametrize("args, expected", [
    ([], ["study", "bench"]),
    (["study"], ["list", "run"]),
    (["study", "run"], ["NAME", "--quick", "--out DIR", "--scheduler ADDR", "--seed N"]),
    (["study", "list"], ["one line"]),
    (["bench"], ["NAME", "source checkout"]),
])
def test_help_at_every_level(args, expected):
    done = plasticity_cmd(*args, "--help")
    assert done.returncode == 0, done.stderr
    for word in expected:
        assert word in done.stdout


def test_no_command_prints_help_and_fails():
    done = plasticity_cmd()
    assert done.returncode == 2 and "usage: plasticity" in done.stderr
    done = plasticity_cmd("study")  # a command without its subcommand fails the same way
    assert done.returncode == 2 and "usage: plasticity study" in done.stderr and "list" in done.stderr


def registered_in_pyproject() -> dict[str, str]:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project["entry-points"]["plasticity.studies"]


def test_every_study_module_is_registered_as_an_entry_point():
    modules = {path.stem for path in (REPO / "studies").glob("[!_]*.py")}
    registered = registered_in_pyproject()
    assert set(registered) == modules, "each studies/<name>.py needs a line in pyproject's plasticity.studies group"
    assert all(registered[name] == f"studies.{name}" for name in modules)
    from plasticity.study_registry import find_studies

    installed = find_studies()
    missing = modules - set(installed)
    assert not missing, f"registered in pyproject.toml but not installed (reinstall: pip install -e .): {missing}"


def test_study_list_shows_each_study_with_its_first_docstring_line():
    done = plasticity_cmd("study", "list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    expected = {}
    for path in sorted((REPO / "studies").glob("[!_]*.py")):  # read independently of the registry
        doc = ast.get_docstring(ast.parse(path.read_text())) or "(no description)"
        expected[path.stem] = doc.strip().splitlines()[0]
    assert len(lines) == len(expected) == len(registered_in_pyproject())
    for line in lines:
        name, one_liner = re.fullmatch(r"(\S+) +(\S.*)", line).groups()
        assert expected[name] == one_liner
    assert len({line.index(expected[n]) for n, line in zip(expected, lines)}) <= 1  # one aligned column


def test_unknown_study_exits_2_and_lists_known_ones():
    done = plasticity_cmd("study", "run", "no_such_study", "--quick")
    assert done.returncode == 2
    assert "unknown study 'no_such_study'" in done.stderr
    for name in registered_in_pyproject():
        assert name in done.stderr


def test_study_run_passes_the_options_to_the_study(tiny, tmp_path, capsys):
    assert cli.main(["study", "list"]) == 0
    assert re.search(r"^tiny +Tiny: one point, for the CLI tests\.$", capsys.readouterr().out, re.M)
    out = tmp_path / "out"
    assert cli.main(["study", "run", "tiny", "--out", str(out), "--scheduler", "serial", "--seed", "3"]) == 0
    results = (out / "results.csv").read_text().splitlines()
    assert results[0] == "x,seed,y,error,error_traceback" and results[2].startswith("2,")
    assert "tiny: wrote" in capsys.readouterr().out


def test_bench_lists_and_refuses_unknown(capsys):
    assert cli.main(["bench"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == sorted(p.stem[len("bench_"):] for p in (REPO / "benchmarks").glob("bench_*.py"))
    assert "sweep" in listed
    assert cli.main(["bench", "no_such_bench"]) == 2
    assert "unknown benchmark 'no_such_bench'" in capsys.readouterr().err


def test_bench_without_benchmarks_directory_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "_benchmarks_dir", lambda: tmp_path / "benchmarks")
    assert cli.main(["bench", "sweep"]) == 2
    err = capsys.readouterr().err
    assert "no benchmarks directory" in err and "source checkout" in err


def test_console_script_runs():
    script = Path(sys.executable).with_name("plasticity")
    if not script.exists():
        script = shutil.which("plasticity")
    if script is None:
        pytest.skip("the plasticity console script is not installed")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("plasticity ")


@pytest.mark.slow
def test_rule_comparison_quick_runs_end_to_end(tmp_path):
    if not (REPO / "studies" / "rule_comparison.py").exists():
        pytest.skip("studies/rule_comparison.py is not written yet")
    done = plasticity_cmd("study", "run", "rule_comparison", "--quick", "--out", str(tmp_path), "--no-progress")
    assert done.returncode == 0, done.stderr
    for name in ("fig_rule_comparison.png", "fig_rule_comparison.pdf", "results.csv", "results.parquet"):
        assert (tmp_path / name).stat().st_size > 0


def test_warmup_compiles_a_family_and_refuses_unknown_ones():
    done = plasticity_cmd("warmup", "metrics")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "metrics" and done.stdout.strip().endswith("s")
    done = plasticity_cmd("warmup", "nope")
    assert done.returncode == 2 and "families must be among" in done.stderr and "'nope'" in done.stderr
