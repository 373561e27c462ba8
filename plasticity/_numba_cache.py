"""Keep numba's on-disk cache consistent with the source it was compiled from.

numba's ``cache=True`` keys a cached function on its own file's timestamp only: a cached
kernel that calls a jitted function from another module keeps running the *old* callee after
that module changes. Our kernels call across modules (rules are inlined in
network loops), so the cache directory is keyed on a hash of every source file of this
project: any edit, install or upgrade starts a fresh cache, and a second run with unchanged
sources starts fast. A ``NUMBA_CACHE_DIR`` set by the user is respected.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path


def _source_hash() -> str:
    here = Path(__file__).resolve().parent
    roots = [here, here.parent / "models"]
    h = hashlib.sha256()
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root.parent)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def configure() -> None:
    """Point NUMBA_CACHE_DIR at a per-source-version folder, unless numba is already imported
    (its config is read at import) or the user chose a folder."""
    if "NUMBA_CACHE_DIR" in os.environ or "numba" in sys.modules:
        return
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "plasticity" / "numba"
    target = base / _source_hash()
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # read-only home: numba's default (__pycache__ beside the sources) still works
    os.environ["NUMBA_CACHE_DIR"] = str(target)
    _prune(base, keep=target)


def _prune(base: Path, keep: Path, max_age_days: float = 7.0) -> None:
    """Remove cache folders unused for ``max_age_days`` (each edit of the sources makes one;
    a folder still in use by a running process is recent, so it is never removed under it)."""
    import shutil
    import time

    try:
        keep.touch()
        cutoff = time.time() - max_age_days * 86400.0
        stale = [p for p in base.iterdir() if p.is_dir() and p != keep and p.stat().st_mtime < cutoff]
    except OSError:
        return
    for old in stale:
        shutil.rmtree(old, ignore_errors=True)
