"""Files that are never half written: every write goes to a temporary name, then a rename.

A temporary file is named ``.<stem>.partial-<pid>@<host><suffix>`` beside its target (same folder,
so the rename is atomic; same suffix, so writers that choose a format by extension still work).
A process killed mid-write leaves such a file behind; :func:`remove_stale_partials` deletes the
ones whose process is gone. Readers validate what they read: :func:`load_npz` reads every array
and raises :class:`~azlib.errors.DataError` naming the file when any of it cannot be read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from azlib.errors import DataError

_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname().split(".")[0]) or "host"
_PARTIAL = re.compile(r"^\..+\.partial-(?P<pid>\d+)@(?P<host>[A-Za-z0-9_]+)(\.[^.]*)?$")
#: a partial file of another machine is stale after this long (its owner cannot be asked)
FOREIGN_PARTIAL_AGE_S = 24 * 3600


def partial_path(path: str | os.PathLike) -> Path:
    """The temporary name :func:`atomic_path` writes ``path`` under."""
    path = Path(path)
    return path.with_name(f".{path.stem}.partial-{os.getpid()}@{_HOST}{path.suffix}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` through; renamed onto ``path`` when the block
    finishes, removed when it raises. Parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def to_jsonable(value: Any):
    """``json`` default: numpy scalars and arrays, paths, dataclasses and tuples as JSON values."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=to_jsonable)


def digest(value: Any, length: int = 12) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``value``'s canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:length]


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike, value: Any) -> Path:
    """Indented JSON with sorted keys, written atomically."""
    return write_text(path, json.dumps(value, indent=1, sort_keys=True, default=to_jsonable) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """JSON from ``path``; a damaged file raises DataError naming it."""
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error.msg}, line {error.lineno}); "
                        "delete the file so that it is written again") from None


def save_npz(path: str | os.PathLike, arrays: dict, compressed: bool = True) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            (np.savez_compressed if compressed else np.savez)(f, **arrays)
    return Path(path)


def load_npz(path: str | os.PathLike) -> dict:
    """Every array of an .npz file, read whole; any damage raises DataError naming the file."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            return {name: saved[name] for name in saved.files}
    except FileNotFoundError:
        raise
    except Exception as error:  # BadZipFile, EOFError, ValueError, zlib.error, OSError ...
        raise DataError(f"{path}: damaged ({type(error).__name__}: {error}); delete it so that it "
                        "is computed again") from None


def _owner_alive(pid: int, host: str) -> bool:
    if host != _HOST:
        return True  # another machine's process: judged by age instead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Delete the temporary files of writers that died (see the module docstring); returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    now = time.time()
    for path in folder.rglob(".*.partial-*") if recursive else folder.glob(".*.partial-*"):
        match = _PARTIAL.match(path.name)
        if not match or not path.is_file():
            continue
        pid, host = int(match["pid"]), match["host"]
        if pid == os.getpid() and host == _HOST:
            continue
        try:
            old = now - path.stat().st_mtime > FOREIGN_PARTIAL_AGE_S
        except FileNotFoundError:
            continue
        if not _owner_alive(pid, host) or (host != _HOST and old):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
