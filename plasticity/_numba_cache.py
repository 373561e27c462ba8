"""The one numba caching mechanism of this project: where compiled kernels live, when they are
thrown away, how to clear them.

Every jitted function of :mod:`plasticity` and :mod:`models` is declared
``@njit(cache=True, ...)``; nothing else touches numba's caching. This module only chooses the
cache directory, once, at ``import plasticity`` (:func:`configure`).

Where the cache lives
    ``<base>/src-<hash>``, where ``<hash>`` is a SHA-256 (16 hex digits) of the relative path
    and contents of every ``*.py`` file under ``plasticity/`` and ``models/``, and ``<base>``
    is ``$NUMBA_CACHE_DIR`` when the user set it, else ``$XDG_CACHE_HOME/plasticity/numba``
    (``~/.cache/plasticity/numba``). :func:`cache_dir` returns it. If the folder cannot be
    created (read-only home), numba's default (``__pycache__`` beside the sources) is used.

When it is invalidated
    numba's ``cache=True`` keys a cached function on the source of *its own file* only. A
    cached kernel that calls a jitted function of another module (the network loops call the
    rules' kernels, the spiking loop calls :func:`plasticity.rules._spiking_dispatch.
    spiking_rule_step`, which calls e.g. ``triplet_sparse``) keeps running the compiled *old*
    callee after that module is edited: numba finds the caller's index unchanged and loads it,
    callee inlined. (Measured before this mechanism: an edited triplet kernel kept running
    through the stale cached dispatcher until its ``.nbi``/``.nbc`` files were deleted by
    hand.) Keying the whole directory on a hash of all sources removes that: any edit,
    ``git pull``, install or upgrade of this project starts a fresh, empty folder, and an
    unchanged source tree finds its folder filled. ``tests/test_numba_cache.py`` checks both
    numba's stale behaviour under a fixed directory and its absence here. A numba upgrade
    needs nothing: numba keys its index on its own version.

Cost
    An edit of any source file recompiles every kernel on first use (the kernel families
    compile in about a minute on one core; ``plasticity warmup`` compiles them in parallel).
    Hashing the sources costs ~15 ms per import.

How to clear it
    Folders unused for 7 days are removed at import (:func:`configure`); every folder of this
    project, in use or not, with :func:`clear` (``python -c "from plasticity._numba_cache
    import clear; clear()"``), or delete ``<base>`` by hand. Clearing is never needed for
    correctness.

Filling it ahead of a run
    ``plasticity warmup [FAMILY ...]`` (:mod:`plasticity.warmup`) runs each kernel family on a
    tiny network in parallel processes, which inherit ``NUMBA_CACHE_DIR`` from
    :func:`configure` and so fill the folder later runs read.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

__all__ = ["configure", "cache_dir", "cache_base", "clear", "source_hash"]

#: Sub-folder prefix of one source version's cache (only such folders are ever removed).
PREFIX = "src-"
_ROOTS = ("plasticity", "models")  # packages whose sources key the cache (siblings of this one)
_MAX_AGE_DAYS = 7.0


def _default_roots() -> list[Path]:
    here = Path(__file__).resolve().parent
    return [here.parent / name for name in _ROOTS]


def source_hash(roots: list[Path] | None = None) -> str:
    """16 hex digits of SHA-256 over the relative path and bytes of every ``*.py`` under ``roots``
    (default: the ``plasticity`` and ``models`` packages)."""
    h = hashlib.sha256()
    for root in (_default_roots() if roots is None else [Path(r) for r in roots]):
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root.parent)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def cache_base() -> Path:
    """Folder holding one ``src-<hash>`` cache per source version: the user's
    ``NUMBA_CACHE_DIR`` (without a ``src-*`` leaf set by :func:`configure` in a parent
    process), else ``$XDG_CACHE_HOME/plasticity/numba``."""
    user = os.environ.get("NUMBA_CACHE_DIR")
    if user:
        p = Path(user)
        return p.parent if p.name.startswith(PREFIX) else p
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "plasticity" / "numba"


def cache_dir(roots: list[Path] | None = None) -> Path:
    """The cache folder of the current sources: ``cache_base() / ("src-" + source_hash())``."""
    return cache_base() / (PREFIX + source_hash(roots))


def configure(roots: list[Path] | None = None) -> Path | None:
    """Point numba's cache at :func:`cache_dir` (creating it) and prune old folders.

    Sets ``NUMBA_CACHE_DIR`` (read by numba at its import, and inherited by child processes)
    and, if numba is already imported, ``numba.config.CACHE_DIR``, which numba reads when a
    ``cache=True`` function is decorated: call this before any kernel module is imported
    (``import plasticity`` does). Idempotent. Returns the folder, or ``None`` when it cannot
    be created (numba then caches beside the sources, keyed per file only).
    """
    target = cache_dir(roots)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    os.environ["NUMBA_CACHE_DIR"] = str(target)
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.config.CACHE_DIR = str(target)
    _prune(target.parent, keep=target)
    return target


def _prune(base: Path, keep: Path, max_age_days: float = _MAX_AGE_DAYS) -> None:
    """Remove ``src-*`` folders unused for ``max_age_days`` (each edit of the sources makes one;
    the folder in use is touched at each import, so it is never removed under a running process)."""
    try:
        keep.touch()
        cutoff = time.time() - max_age_days * 86400.0
        stale = [p for p in base.iterdir() if p.is_dir() and _ours(p) and p != keep and p.stat().st_mtime < cutoff]
    except OSError:
        return
    for old in stale:
        shutil.rmtree(old, ignore_errors=True)


def _ours(p: Path) -> bool:
    """A cache folder made by :func:`configure` (``src-<hash>``; bare ``<hash>`` by older versions)."""
    name = p.name[len(PREFIX):] if p.name.startswith(PREFIX) else p.name
    return len(name) == 16 and all(c in "0123456789abcdef" for c in name)


def clear() -> list[Path]:
    """Remove every cache folder of this project under :func:`cache_base` (the current one included:
    the next run recompiles). Returns the folders removed."""
    base = cache_base()
    try:
        folders = [p for p in base.iterdir() if p.is_dir() and _ours(p)]
    except OSError:
        return []
    for p in folders:
        shutil.rmtree(p, ignore_errors=True)
    return folders
