"""`make lab`: chapters open as notebooks, and a chapter run by hand never writes to results/."""

from __future__ import annotations

import json
import re

import jupytext

from azlib import report
from azlib.book import NOTEBOOK_SOURCES, notebook_names
from azlib.config import REPO_ROOT

OVERRIDES = REPO_ROOT / "jupyter" / "overrides.json"


def test_python_files_open_as_jupytext_notebooks():
    settings = json.loads(OVERRIDES.read_text())
    viewers = settings["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers["python"] == "Jupytext Notebook"


def test_make_lab_installs_the_overrides_where_jupyterlab_reads_them():
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = re.search(r"^lab:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no lab target"
    lines = recipe.group(1)
    assert "cp jupyter/overrides.json $(LAB_SETTINGS)/overrides.json" in lines
    assert re.search(r"^LAB_SETTINGS := \$\(VENV\)/share/jupyter/lab/settings$", makefile, re.M)
    assert lines.index("overrides.json") < lines.index("jupyter lab")


def _parameters(name: str) -> dict:
    notebook = jupytext.read(NOTEBOOK_SOURCES / f"{name}.py")
    cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{name}: expected one parameters cell"
    namespace: dict = {}
    exec(cells[0].source, namespace)
    return namespace


def test_chapters_run_by_hand_write_to_a_scratch_folder():
    results = (REPO_ROOT / "results").resolve()
    for name in notebook_names():
        params = _parameters(name)
        _, out_dir = report.setup(params["profile"], params["out_dir"])
        out_dir = out_dir.resolve()
        assert not out_dir.is_relative_to(results), f"{name}: a lab run writes to {out_dir}"
        assert out_dir == (REPO_ROOT / "build" / params["profile"] / "lab").resolve(), name


def test_plumbing_cells_are_tagged_for_the_book():
    """The parameters cell and the setup cell after it never show in the book; both still run."""
    for name in notebook_names():
        cells = jupytext.read(NOTEBOOK_SOURCES / f"{name}.py").cells
        index = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
        assert "remove-cell" in cells[index].metadata["tags"], name
        setup = cells[index + 1]
        assert setup.cell_type == "code", name
        assert {"remove-cell", "remove-input"} & set(setup.metadata.get("tags", [])), name
