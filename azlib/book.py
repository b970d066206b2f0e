"""Build the Jupyter Book from executed notebooks, without executing anything.

``python -m azlib.book --profile cpu`` stages ``book/`` (static pages) and the executed
notebooks of ``results/<profile>/notebooks/`` into ``book/_stage/``, writes the table of
contents and the reproduction-status page, and runs ``jupyter-book build`` with warnings as
errors into ``book/_build/html``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from azlib.config import REPO_ROOT

BOOK_SOURCE = REPO_ROOT / "book"
NOTEBOOK_SOURCES = REPO_ROOT / "notebooks"
STATIC_PAGES = ["intro.md"]
REPORTED_PACKAGES = ["torch", "torchvision", "av", "pytorchvideo", "fvcore", "numpy", "pandas",
                     "papermill", "jupytext", "jupyter-book"]


class BookError(RuntimeError):
    pass


def notebook_names() -> list[str]:
    """Notebook stems in chapter order (their NN_ prefix)."""
    return sorted(p.stem for p in NOTEBOOK_SOURCES.glob("[0-9][0-9]_*.py"))


def _executed_metadata(path: Path) -> dict:
    with open(path) as f:
        return json.load(f).get("metadata", {}).get("azlib", {})


def environment_rows() -> list[tuple[str, str]]:
    rows = [("python", platform.python_version()), ("platform", platform.platform()),
            ("cpu cores", str(os.cpu_count()))]
    for name in REPORTED_PACKAGES:
        try:
            rows.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return rows


def status_page(profile: str, results_dir: Path, names: list[str]) -> str:
    """Markdown for the reproduction-status page: what ran, how long it took, on what."""
    lines = [f"# Reproduction status ({profile} profile)", "",
             f"Executed notebooks come from `results/{profile}/notebooks/`; run records from "
             f"`results/{profile}/runs/`.", "",
             "| notebook | executed | wall time (s) |", "|---|---|---|"]
    total = 0.0
    for name in names:
        executed = results_dir / "notebooks" / f"{name}.ipynb"
        if executed.is_file():
            wall = _executed_metadata(executed).get("wall_time_s")
            total += wall or 0.0
            lines.append(f"| {name} | yes | {wall if wall is not None else 'n/a'} |")
        else:
            lines.append(f"| {name} | no | |")
    runs = sorted((results_dir / "runs").glob("*/metrics.json")) if (results_dir / "runs").is_dir() else []
    lines += ["", f"Total notebook wall time: {total:.0f} s. Run records: {len(runs)}.", ""]
    table_records = sorted((results_dir / "tables").glob("table*.json")) if (results_dir / "tables").is_dir() else []
    if table_records:
        lines += ["## Experiment tables", "",
                  "Measured training and evaluation time of every run a table uses (pretraining "
                  "included; a run shared by several tables counts in each).", "",
                  "| table | runs complete | runs missing | wall time (s) |", "|---|---|---|---|"]
        for path in table_records:
            record = json.loads(path.read_text())
            lines.append(f"| {record.get('table')} | {record.get('complete')} | {record.get('missing')} "
                         f"| {record.get('wall_time_s')} |")
        lines.append("")
    lines += [
              "## Environment", "", "| item | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in environment_rows()]
    return "\n".join(lines) + "\n"


def inconsistencies_page() -> str:
    """Markdown for the page on the paper's inconsistencies (from azlib.results, typed once)."""
    from azlib.results import PAPER_INCONSISTENCIES

    lines = ["# Where the paper does not add up", "",
             "What a careful reader of the paper finds inconsistent, and what this project does about "
             "it. The list lives in `azlib/results.py` beside the paper's numbers.", ""]
    lines += [f"- **{item['where']}.** {item['what']}" for item in PAPER_INCONSISTENCIES]
    return "\n".join(lines) + "\n"


def stage(profile: str, results_dir: Path, stage_dir: Path) -> Path:
    """Copy the static pages and the executed notebooks into ``stage_dir`` with a fresh TOC."""
    names = notebook_names()
    missing = [n for n in names if not (results_dir / "notebooks" / f"{n}.ipynb").is_file()]
    if missing:
        raise BookError(
            f"{results_dir / 'notebooks'}: no executed copy of {', '.join(missing)}; "
            f"run `make reproduce PROFILE={profile}` first (the book never executes notebooks)"
        )
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    (stage_dir / "chapters").mkdir(parents=True)
    for item in BOOK_SOURCE.iterdir():
        if item.name.startswith(("_stage", "_build", ".")) or item.name == "_toc.yml":
            continue
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, stage_dir / item.name)
    for name in names:
        shutil.copy2(results_dir / "notebooks" / f"{name}.ipynb", stage_dir / "chapters" / f"{name}.ipynb")
    figures = results_dir / "figures"
    if figures.is_dir():
        shutil.copytree(figures, stage_dir / "figures")
    (stage_dir / "status.md").write_text(status_page(profile, results_dir, names))
    (stage_dir / "inconsistencies.md").write_text(inconsistencies_page())
    toc = {"format": "jb-book", "root": "intro",
           "chapters": [{"file": f"chapters/{n}"} for n in names]
           + [{"file": "inconsistencies"}, {"file": "status"}]}
    (stage_dir / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    return stage_dir


def build(profile: str, results_dir: Path | None = None, output_dir: Path | None = None) -> Path:
    """Stage and build the book; returns the path of ``index.html``."""
    results_dir = Path(results_dir or REPO_ROOT / "results" / profile)
    output_dir = Path(output_dir or BOOK_SOURCE)
    stage_dir = output_dir / "_stage"
    stage(profile, results_dir, stage_dir)
    html = output_dir / "_build" / "html"
    if html.exists():
        shutil.rmtree(html)  # a clean build, so a removed chapter does not linger
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(stage_dir), "--path-output", str(output_dir),
               "-W", "--keep-going", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BookError(f"jupyter-book build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    index = html / "index.html"
    if not index.is_file():
        raise BookError(f"jupyter-book finished but {index} is missing")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m azlib.book", description=__doc__)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--results", default=None, help="results folder (default results/<profile>)")
    parser.add_argument("--output", default=None, help="where _build/html goes (default book/)")
    args = parser.parse_args(argv)
    try:
        index = build(args.profile, args.results and Path(args.results), args.output and Path(args.output))
    except BookError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"book: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
