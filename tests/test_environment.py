"""The environment files agree, and every notebook declares the parameters the runner injects."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from azlib.config import REPO_ROOT


def _pyproject():
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_agrees_with_pyproject():
    project = _pyproject()["project"]
    pins = {_name(r): r for r in project["dependencies"]}
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert any(str(d).startswith("python=3.11") for d in deps if isinstance(d, str))
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    # The conda environment installs the project itself, with its test extra...
    assert "-e .[test]" in pip_section
    # ...and every pin it repeats is the same as pyproject's (torch/torchvision must match exactly).
    for line in pip_section:
        if line.startswith("-"):
            continue
        assert pins.get(_name(line)) == line, f"environment.yml pins {line}, pyproject says {pins.get(_name(line))}"
    assert pins["torch"] == "torch==2.14.1" and pins["torchvision"] == "torchvision==0.29.1"


def test_jupyter_book_is_pinned_below_2():
    deps = _pyproject()["project"]["dependencies"]
    assert "jupyter-book>=1,<2" in deps


def test_notebook_sources_are_jupytext_with_parameters_cell():
    import jupytext

    sources = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    assert sources, "no notebooks"
    for source in sources:
        notebook = jupytext.read(source)
        tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{source.name}: needs exactly one cell tagged 'parameters'"
        for name in ("profile", "out_dir", "data_root", "device"):
            assert re.search(rf"^{name}\s*=", tagged[0].source, re.M), f"{source.name}: parameter {name}"


def test_no_ipynb_sources_are_committed():
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "notebooks"], cwd=REPO_ROOT, capture_output=True,
                             text=True).stdout.split()
    assert not [t for t in tracked if t.endswith(".ipynb")], "commit jupytext .py sources, not .ipynb"
