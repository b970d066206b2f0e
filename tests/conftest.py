"""Shared fixtures: the smoke-profile notebook runs (into a temporary folder, never results/)."""

from __future__ import annotations

import os

import pytest
import torch

# One intra-op thread: results stable across machines, and no thread-pool stalls when the
# machine is shared (2 threads on a loaded 2-core box made small models ~100x slower).
torch.set_num_threads(int(os.environ.get("AZLIB_TEST_THREADS", "1")))


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    """Every notebook executed under the smoke profile into a temporary results folder.

    Returns (results_dir, {notebook name: executed path or the exception it raised}).
    """
    from azlib.book import NOTEBOOK_SOURCES, notebook_names
    from azlib.notebook import notebook_parameters, run_notebook

    results_dir = tmp_path_factory.mktemp("results_smoke")
    outcomes = {}
    for name in notebook_names():
        params = notebook_parameters("smoke", results_dir)
        try:
            outcomes[name] = run_notebook(NOTEBOOK_SOURCES / f"{name}.py",
                                          results_dir / "notebooks" / f"{name}.ipynb",
                                          params, progress=False)
        except Exception as error:  # reported per notebook by the test that reads it
            outcomes[name] = error
    return results_dir, outcomes


def dead_writer_partial(target) -> "Path":
    """The temporary file a writer of ``target`` on this machine leaves behind when it is killed
    (its pid no longer runs), with some bytes in it."""
    import os

    from azlib.files import partial_path

    path = partial_path(target)
    path = path.with_name(path.name.replace(f"-{os.getpid()}@", "-999999@"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half a file")
    return path
