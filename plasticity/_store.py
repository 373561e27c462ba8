"""The on-disk store of a sweep: one file per finished point, a manifest, atomic writes only.

Layout of a store directory::

    manifest.json          schema, code version, fingerprints of the grid and of the function
    points/<key>.json      one finished point: its parameters, scalars, status, error, timing
    points/<key>.npz       its arrays, when it returned any (``allow_pickle=False``)

``<key>`` is the first 24 hex digits of the SHA-256 of the point's canonical JSON (sorted
keys), so a point's file name does not depend on its position in the grid. Every file is
written to a temporary name beginning with ``.tmp-`` and moved into place with
``os.replace`` (atomic on POSIX and Windows), the ``.npz`` before the ``.json``: a point
exists only once its ``.json`` does, so a run killed at any instant leaves whole files and
at most a stray temporary, which readers ignore and a later sweep removes.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import io
import json
import os
import socket
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SCHEMA", "canonical_json", "point_key", "atomic_write", "function_fingerprint", "PointStore"]

SCHEMA = 1
_TMP_PREFIX = ".tmp-"


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the same value always gives the same text.

    ``float`` is written with ``repr`` (shortest round-trip form), so equal floats give equal
    text and the text reads back to the same float.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def point_key(point: dict[str, Any]) -> str:
    """The stable file name of a point (not Python's ``hash``, which is salted per process)."""
    return hashlib.sha256(canonical_json(point).encode()).hexdigest()[:24]


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and ``os.replace``.

    The temporary name carries host and pid so that :meth:`PointStore.clean_temporaries` can
    tell a dead writer's leftover from a live writer's file.
    """
    path = Path(path)
    tmp = path.parent / f"{_TMP_PREFIX}{socket.gethostname()}-{os.getpid()}-{time.monotonic_ns()}-{path.name}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the rename must not reach the disk before the data does
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def function_fingerprint(fn: Callable) -> dict[str, Any]:
    """What makes a point function the same function: module, qualified name, source, and the
    module-level values it uses.

    ``source_sha256`` hashes ``inspect.getsource`` (None when there is no source, e.g. in a
    REPL). ``globals_sha256`` hashes, for each name the function's code reads from its module's
    globals, the source of functions of the same module (followed recursively) or the ``repr``
    of plain values (numbers, strings, containers, parameter dataclasses such as rules; arrays
    by their bytes): a study that changes ``RULES = {...}`` under an unchanged ``point`` must
    not reuse the old points. Modules, classes and functions of other modules are left out
    (they are library code), as are values whose ``repr`` holds a memory address and the module's
    own dunders (``__name__`` is ``"__main__"`` under ``python -m``).
    """
    extra = None
    if isinstance(fn, functools.partial):
        try:
            extra = canonical_json([list(fn.args), fn.keywords])
        except TypeError:
            extra = repr((fn.args, fn.keywords))
        fn = fn.func
    module = getattr(fn, "__module__", None) or type(fn).__module__
    if module == "__main__":  # `python -m studies.x` and `import studies.x` give the same function
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        module = spec.name if spec is not None else module
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return {"module": module, "qualname": qualname, "source_sha256": _source_sha256(fn),
            "globals_sha256": _globals_sha256(fn), "partial": extra}


def _source_sha256(obj: Any) -> str | None:
    try:
        source = inspect.getsource(obj if inspect.isroutine(obj) else type(obj))
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode()).hexdigest()


def _globals_sha256(fn: Any) -> str | None:
    if not isinstance(fn, types.FunctionType):
        return None
    parts: list[str] = []
    seen: set[int] = set()
    todo = [fn]
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        for name in sorted(_names(f.__code__)):
            # a module's dunders (__name__, __spec__, __file__ ...) say how it was loaded, not what
            # it computes: `python -m studies.x` and `plasticity study run x` share a store
            if name not in f.__globals__ or (name.startswith("__") and name.endswith("__")):
                continue
            v = f.__globals__[name]
            if isinstance(v, types.ModuleType) or isinstance(v, type):
                continue
            v = getattr(v, "py_func", v)  # a numba dispatcher: its Python function
            if isinstance(v, types.FunctionType):
                if v.__module__ == fn.__module__:
                    parts.append(f"{name}:source:{_source_sha256(v)}")
                    todo.append(v)
                continue
            if callable(v) and not hasattr(v, "__dataclass_fields__"):
                continue
            if hasattr(v, "tobytes") and hasattr(v, "dtype"):
                text = f"{v.dtype}{getattr(v, 'shape', '')}{hashlib.sha256(v.tobytes()).hexdigest()}"
            elif isinstance(v, (set, frozenset)):  # iteration order of str sets varies per process
                text = repr(sorted(v, key=repr))
            else:
                text = repr(v)
            if " at 0x" not in text:
                parts.append(f"{name}:{text}")
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()


def _names(code: types.CodeType) -> set[str]:
    """Global names a code object (and the code nested in it: lambdas, comprehensions) reads."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _encode_scalar(v: Any) -> Any:
    """JSON form of a result scalar (complex numbers have no JSON form of their own)."""
    if isinstance(v, complex):
        return {"__complex__": [v.real, v.imag]}
    return v


def _decode_scalar(v: Any) -> Any:
    if isinstance(v, dict) and "__complex__" in v:
        re, im = v["__complex__"]
        return complex(re, im)
    return v


class PointStore:
    """A sweep's store directory (see the module docstring for the layout)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.points_dir = self.root / "points"

    # -- manifest -----------------------------------------------------------------------
    def open(self, manifest: dict[str, Any]) -> None:
        """Create the store, or check that an existing one was written by the same sweep.

        Raises ``ValueError`` naming ``store`` when the existing manifest records another
        schema, grid, seed or function, or when the directory holds points but no manifest.
        """
        path = self.root / "manifest.json"
        if path.exists():
            try:
                old = json.loads(path.read_text())
            except (OSError, ValueError) as e:
                raise ValueError(f"sweep: store {str(self.root)!r} has an unreadable manifest.json ({e}); "
                                 "use another store directory") from e
            self._check_same(old, manifest)
            return
        if self.points_dir.exists() and any(p.suffix == ".json" for p in self.points_dir.iterdir()):
            raise ValueError(f"sweep: store {str(self.root)!r} holds points but no manifest.json; "
                             "it was not written by plasticity.sweep or was damaged; use another store directory")
        self.points_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(manifest, indent=1, sort_keys=True).encode())

    def _check_same(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        where = f"sweep: store {str(self.root)!r}"
        fix = "; use another store directory, or delete this one to recompute"
        if old.get("schema") != new["schema"]:
            raise ValueError(f"{where} has schema {old.get('schema')!r}; this version reads schema {new['schema']}{fix}")
        if old.get("grid") != new["grid"]:
            raise ValueError(f"{where} was written by another grid ({old.get('grid', {}).get('n_points')} points, "
                             f"fingerprint {old.get('grid', {}).get('fingerprint')}); this grid has "
                             f"{new['grid']['n_points']} points, fingerprint {new['grid']['fingerprint']}{fix}")
        if old.get("seed") != new["seed"]:
            raise ValueError(f"{where} was written with seed={old.get('seed')!r}; this sweep has seed={new['seed']!r}{fix}")
        if old.get("function") != new["function"]:
            o, n = old.get("function", {}), new["function"]
            what = ("the module-level values or functions it uses changed"
                    if {k: v for k, v in o.items() if k != "globals_sha256"} == {k: v for k, v in n.items() if k != "globals_sha256"}
                    else f"source sha256 {o.get('source_sha256')}, now {n['module']}.{n['qualname']} with "
                         f"source sha256 {n['source_sha256']}")
            raise ValueError(f"{where} was written by another function ({o.get('module')}.{o.get('qualname')}: "
                             f"{what}){fix}")

    # -- points -------------------------------------------------------------------------
    def write_point(self, key: str, record: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Store one finished point: arrays first, then the record that makes the point exist."""
        record = dict(record, key=key, schema=SCHEMA, arrays=sorted(arrays))
        record["scalars"] = {k: _encode_scalar(v) for k, v in record.get("scalars", {}).items()}
        if arrays:
            buf = io.BytesIO()
            np.savez(buf, allow_pickle=False, **arrays)
            atomic_write(self.points_dir / f"{key}.npz", buf.getvalue())
        atomic_write(self.points_dir / f"{key}.json", canonical_json(record).encode())

    def read_points(self) -> dict[str, tuple[dict[str, Any], dict[str, np.ndarray]]]:
        """Every whole point in the store: key -> (record, arrays).

        Temporaries, unreadable records and records whose arrays are missing or unreadable
        are skipped (the point counts as not done and is recomputed).
        """
        out: dict[str, tuple[dict[str, Any], dict[str, np.ndarray]]] = {}
        if not self.points_dir.is_dir():
            return out
        for path in self.points_dir.glob("*.json"):
            if path.name.startswith(_TMP_PREFIX):
                continue
            try:
                record = json.loads(path.read_text())
                if record.get("key") != path.stem or record.get("schema") != SCHEMA:
                    continue
                arrays: dict[str, np.ndarray] = {}
                if record.get("arrays"):
                    with np.load(self.points_dir / f"{path.stem}.npz", allow_pickle=False) as z:
                        arrays = {name: z[name] for name in record["arrays"]}
            except (OSError, ValueError, KeyError, EOFError):
                continue
            record["scalars"] = {k: _decode_scalar(v) for k, v in record.get("scalars", {}).items()}
            out[path.stem] = (record, arrays)
        return out

    def clean_temporaries(self, max_age: float = 3600.0) -> None:
        """Remove temporaries left by dead writers on this host, and any older than ``max_age`` s."""
        if not self.points_dir.is_dir():
            return
        host, now = socket.gethostname(), time.time()
        for d in (self.root, self.points_dir):
            for path in d.glob(f"{_TMP_PREFIX}*"):
                try:
                    parts = path.name[len(_TMP_PREFIX):].rsplit("-", 3)
                    dead = False
                    if len(parts) == 4 and parts[0] == host and parts[1].isdigit():
                        dead = not _alive(int(parts[1]))
                    if dead or now - path.stat().st_mtime > max_age:
                        path.unlink()
                except OSError:
                    continue


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
