"""Build the Jupyter Book from executed notebooks, without executing anything.

``python -m azlib.book --profile cpu [--results DIR]`` stages ``book/`` (static pages) and the
executed notebooks of a results folder (default ``results/<profile>``, the published one) into
``book/_stage/``, writes the front page (:func:`azlib.front.front_page`: verdicts, forest plot,
Table 1, how to cite), the table of contents, the status page (per table: runs, training time,
commit, versions, machines) and, when the folder holds one, the reproduction report, and runs
``jupyter-book build`` with warnings as errors into ``book/_build/html``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from azlib import front, paper, reproduction
from azlib.config import REPO_ROOT
from azlib.files import read_json
from azlib.provenance import environment

BOOK_SOURCE = REPO_ROOT / "book"
NOTEBOOK_SOURCES = REPO_ROOT / "notebooks"


class BookError(RuntimeError):
    pass


def notebook_names() -> list[str]:
    """Notebook stems in chapter order (their NN_ prefix)."""
    return sorted(p.stem for p in NOTEBOOK_SOURCES.glob("[0-9][0-9]_*.py"))


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def status_page(profile: str, results_dir: Path) -> str:
    """Markdown for the status page: per table, the runs behind it, the training time they took,
    the commit, library versions and machines that produced them; then this build's machine."""
    lines = [f"# Reproduction status ({profile} profile)", "",
             "Each table of the book is made from run records; a record says which code, commit, "
             "libraries and machine produced it (`runs/<key>/provenance.json`). Training time is the "
             "measured time of training and evaluating every run a table uses, pretraining included "
             "(a run shared by several tables counts in each).", ""]
    table_records = sorted((results_dir / "tables").glob("table*.json")) if (results_dir / "tables").is_dir() else []
    if table_records:
        lines += ["| table | runs | missing | stale | training time | commit | torch | CPU / GPU | finished |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for path in table_records:
            record = read_json(path)
            made = record.get("made_by") or {}
            commits = ", ".join(c[:10] for c in made.get("commits", [])) or "–"
            if made.get("dirty"):
                commits += " (uncommitted changes)"
            machines = "; ".join(made.get("gpus") or made.get("cpus") or []) or "–"
            lines.append(f"| {record.get('table')} | {record.get('complete')} | {record.get('missing')} "
                         f"| {len(record.get('stale', []))} | {_hours(record.get('wall_time_s', 0.0))} "
                         f"| {commits} | {', '.join(made.get('versions', {}).get('torch', [])) or '–'} "
                         f"| {machines} | {(made.get('finished') or '–')[:10]} |")
        lines.append("")
    env = environment()
    lines += ["## This build", "", "| item | value |", "|---|---|",
              f"| CPU | {env['cpu']} ({env['cores']} cores) |", f"| GPU | {env['gpu'] or 'none'} |",
              f"| platform | {env['platform']} |"]
    lines += [f"| {name} | {version} |" for name, version in env["versions"].items()]
    return "\n".join(lines) + "\n"


def inconsistencies_page() -> str:
    """Markdown for the page on the paper's inconsistencies (from azlib.paper, typed once)."""
    lines = ["# Where the paper does not add up", "",
             "What a careful reader of the paper finds inconsistent, and what this project does about "
             "it. The list lives in `azlib/paper.py` beside the paper's numbers.", ""]
    lines += [f"- **{item['where']}.** {item['what']}" for item in paper.INCONSISTENCIES]
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
    (stage_dir / "intro.md").write_text(front.front_page(profile, results_dir))  # the root page
    (stage_dir / "status.md").write_text(status_page(profile, results_dir))
    (stage_dir / "inconsistencies.md").write_text(inconsistencies_page())
    extra = [{"file": "inconsistencies"}, {"file": "status"}]
    report = reproduction.load(results_dir)
    if report is not None:
        (stage_dir / "reproduction.md").write_text(reproduction.page(report))
        extra.append({"file": "reproduction"})
    toc = {"format": "jb-book", "root": "intro",
           "chapters": [{"file": f"chapters/{n}"} for n in names] + extra}
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
