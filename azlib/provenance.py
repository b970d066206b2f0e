"""What produced a result: a fingerprint of the code that decides it, the commit, the machine.

A **code fingerprint** hashes the source of the modules that decide a number, normalised
(parsed and printed back without comments and docstrings), so an edit to a comment keeps it and
any other edit, a pure refactor included, changes it. Three groups are fingerprinted, one per
kind of cached product:

* :data:`SYNTH_CODE`: a SynthActions folder (the generator and the encoder);
* :data:`STORE_CODE`: an LNet-input store entry (decoding and the compressed-domain extraction);
* :data:`RUN_CODE`: a run (data, extraction, store, clips, models, training).

Everything else (configuration parsing, the grid, tables, figures, notebooks, the book) only
arranges or shows numbers and is not fingerprinted. :func:`environment` describes the machine
and library versions, :func:`git_state` the commit; both are recorded beside each run, never
hashed.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent

SYNTH_CODE = ("codec.py", "datasets/synthetic.py")
STORE_CODE = ("codec.py", "extraction.py")
RUN_CODE = ("codec.py", "extraction.py", "store.py", "datasets/*.py", "models/*.py", "training/*.py")
#: modules under RUN_CODE's folders that only measure or describe (MAC counts, step times)
NOT_RESULT_CODE = ("models/cost.py",)

VERSIONED_PACKAGES = ("torch", "torchvision", "av", "pytorchvideo", "numpy", "fvcore")


def code_files(patterns) -> list[Path]:
    """The package's files matched by ``patterns`` (relative globs), minus NOT_RESULT_CODE."""
    files = set()
    for pattern in patterns:
        files.update(PACKAGE_DIR.glob(pattern))
    skip = {PACKAGE_DIR / name for name in NOT_RESULT_CODE}
    return sorted(f for f in files if f not in skip and "__pycache__" not in f.parts)


def normalised_source(path: Path) -> str:
    """The module's code printed back from its syntax tree, without comments and docstrings."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


@functools.lru_cache(maxsize=None)
def _fingerprint(patterns: tuple[str, ...], root: Path) -> str:
    digest = hashlib.sha256()
    for path in code_files(patterns):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(normalised_source(path).encode() + b"\0")
    return digest.hexdigest()[:16]


def fingerprint(patterns=RUN_CODE) -> str:
    """16 hex digits naming the code of ``patterns`` (memoised for the process)."""
    return _fingerprint(tuple(patterns), PACKAGE_DIR)


@functools.lru_cache(maxsize=None)
def git_state() -> dict:
    """{'commit', 'dirty'}: HEAD of the repository holding azlib and whether azlib/ has
    uncommitted changes (then the commit alone does not describe the code); None outside git."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=PACKAGE_DIR, capture_output=True, text=True,
                              timeout=30)
    try:
        head = git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if head.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict:
    """Library versions, CPU / GPU model, cores, torch threads and host of this process."""
    import torch  # here, not at import: provenance is read by modules that never need torch

    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"versions": versions, "cpu": _cpu_model(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "gpu": gpu, "host": socket.gethostname(),
            "platform": platform.platform()}
