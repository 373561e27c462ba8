"""plasticity._numba_cache: the cache folder is keyed on the sources, so an edited jitted callee
in another module is recompiled, where numba's own per-file cache serves it stale.

Each case runs in fresh processes (numba reads its cache folder when a function is decorated).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from plasticity import _numba_cache

REPO = Path(__file__).resolve().parents[1]

CALLER = """
from numba import njit
from pkg_cache_probe.callee import value

@njit(cache=True)
def outer():
    return value() + 0
"""


def _callee(v: int) -> str:
    return f"from numba import njit\n\n@njit(cache=True)\ndef value():\n    return {v}\n"


def _make_package(root: Path, v: int) -> Path:
    pkg = root / "pkg_cache_probe"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "caller.py").write_text(CALLER)
    (pkg / "callee.py").write_text(_callee(v))
    return pkg


def _run(root: Path, cache: Path, keyed: bool) -> tuple[int, str]:
    """``outer()`` in a fresh process, and the folder numba cached it in."""
    code = f"""
        import sys
        sys.path[:0] = [{str(root)!r}, {str(REPO)!r}]
        if {keyed}:
            from pathlib import Path
            from plasticity import _numba_cache
            _numba_cache.configure([Path({str(root)!r}) / "pkg_cache_probe"])
        import numba
        from pkg_cache_probe.caller import outer
        print(outer(), numba.config.CACHE_DIR)
    """
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          check=False, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    value, folder = done.stdout.split()
    return int(value), folder


@pytest.mark.parametrize("keyed", [False, True])
def test_edited_callee_in_another_module(tmp_path, keyed):
    pkg = _make_package(tmp_path, 1)
    cache = tmp_path / "cache"
    assert _run(tmp_path, cache, keyed)[0] == 1   # compiles and caches outer with value() inlined
    (pkg / "callee.py").write_text(_callee(2))    # edit the callee only; caller.py is unchanged
    value, folder = _run(tmp_path, cache, keyed)
    if keyed:
        # this project's mechanism: a new folder for the new sources, so outer is recompiled
        assert value == 2
        assert Path(folder).parent == cache and Path(folder).name.startswith(_numba_cache.PREFIX)
    else:
        # numba alone (fixed folder): outer's index is keyed on caller.py only and is served
        # stale, the reason for the mechanism (if this starts failing, numba tracks callees now)
        assert value == 1
        assert Path(folder) == cache


def test_kernels_cache_in_the_source_keyed_folder(tmp_path):
    """In a fresh process, even with numba imported first, every spiking kernel caches in
    ``<NUMBA_CACHE_DIR>/src-<hash of the sources>``."""
    code = """
        import numba
        import models._spiking_run
        from plasticity import _numba_cache
        from models import _spiking_build, _spiking_connect, _spiking_kernels
        from plasticity.rules import _spiking_dispatch, triplet
        paths = []
        for mod in (_spiking_connect, _spiking_kernels, _spiking_dispatch, triplet):
            for obj in vars(mod).values():
                if isinstance(obj, numba.core.registry.CPUDispatcher) and obj.__module__ == mod.__name__:
                    paths.append(obj._cache._cache_path)
        print(_numba_cache.cache_dir(), numba.config.CACHE_DIR, len(paths), all(p.startswith(str(_numba_cache.cache_dir())) for p in paths))
    """
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    expected, configured, n, inside = done.stdout.split()
    # (the hash is the child's own: sources edited while the test runs would change it here)
    assert Path(expected).parent == tmp_path and Path(expected).name.startswith(_numba_cache.PREFIX)
    assert configured == expected
    assert int(n) >= 10 and inside == "True"


def test_source_hash_follows_every_file(tmp_path):
    pkg = _make_package(tmp_path, 1)
    h1 = _numba_cache.source_hash([pkg])
    assert h1 == _numba_cache.source_hash([pkg]) and len(h1) == 16
    (pkg / "callee.py").write_text(_callee(1) + "# a comment\n")
    h2 = _numba_cache.source_hash([pkg])
    (pkg / "extra.py").write_text("")
    assert len({h1, h2, _numba_cache.source_hash([pkg])}) == 3


def test_base_folder_and_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert _numba_cache.cache_base() == tmp_path
    # a child process inherits NUMBA_CACHE_DIR = <base>/src-<hash>: same base, no nesting
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "src-0123456789abcdef"))
    assert _numba_cache.cache_base() == tmp_path
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _numba_cache.cache_base() == tmp_path / "xdg" / "plasticity" / "numba"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    for name in ("src-0123456789abcdef", "src-fedcba9876543210", "0123456789abcdef", "user-data"):
        (tmp_path / name).mkdir()
    old = time.time() - 30 * 86400.0
    os.utime(tmp_path / "src-0123456789abcdef", (old, old))
    os.utime(tmp_path / "user-data", (old, old))
    _numba_cache._prune(tmp_path, keep=tmp_path / "src-fedcba9876543210")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0123456789abcdef", "src-fedcba9876543210", "user-data"]
    removed = _numba_cache.clear()
    assert sorted(p.name for p in removed) == ["0123456789abcdef", "src-fedcba9876543210"]
    assert [p.name for p in tmp_path.iterdir()] == ["user-data"]
