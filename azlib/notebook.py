"""Run a jupytext notebook headless with papermill, atomically.

``python -m azlib.notebook SRC.py OUT.ipynb --profile smoke`` converts the ``py:percent``
source, injects the parameters (profile, out_dir, data_root, device) and executes it into a
temporary file beside ``OUT.ipynb``; only a run that finishes is renamed to ``OUT.ipynb``, so a
notebook that raises never leaves an up-to-date-looking output (papermill exits non-zero and
make stops). The parameters cells, the source's and the one papermill injects, are tagged
``remove-cell``: the book shows no plumbing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from azlib.config import REPO_ROOT, load_profile
from azlib.files import partial_path


def notebook_parameters(profile: str, out_dir: str | os.PathLike, data_root: str | None = None,
                        device: str | None = None) -> dict:
    """The parameters every notebook's ``parameters`` cell declares, resolved for ``profile``."""
    settings = load_profile(profile)
    return {"profile": profile, "out_dir": str(out_dir),
            "data_root": data_root or settings.data_root, "device": device or settings.device}


#: cells the book never shows: the source's parameters and papermill's injected ones
PLUMBING_TAGS = ("parameters", "injected-parameters")


def hide_plumbing(notebook) -> None:
    """Tag the parameters cells of an executed notebook ``remove-cell`` (in place)."""
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if any(tag in PLUMBING_TAGS for tag in tags) and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]


def run_notebook(source: str | os.PathLike, output: str | os.PathLike, parameters: dict,
                 kernel_name: str = "python3", progress: bool = True) -> Path:
    """Execute jupytext ``source`` into ``output`` (.ipynb) with ``parameters``; atomic."""
    import jupytext
    import nbformat
    import papermill

    source, output = Path(source).resolve(), Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(output)
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": kernel_name, "display_name": "Python 3",
                                       "language": "python"}
    staged = output.with_name(output.stem + ".source.ipynb")
    nbformat.write(notebook, staged)
    started = time.time()
    try:
        papermill.execute_notebook(
            str(staged), str(partial), parameters=parameters, kernel_name=kernel_name,
            cwd=str(source.parent), progress_bar=progress,
        )
        executed = nbformat.read(partial, as_version=4)
        hide_plumbing(executed)
        executed.metadata["azlib"] = {"source": source.name, "parameters": parameters,
                                      "wall_time_s": round(time.time() - started, 1)}
        # papermill records the staged and partial files' absolute paths: name the source and
        # the output instead, as the repository sees them (no machine's folders in the book)
        papermill_meta = executed.metadata.get("papermill", {})
        papermill_meta.update({"input_path": _shown_path(source), "output_path": _shown_path(output)})
        nbformat.write(executed, partial)
        os.replace(partial, output)
    finally:
        staged.unlink(missing_ok=True)
    return output


def _shown_path(path: Path) -> str:
    """``path`` relative to the repository when inside it, else its name."""
    root = REPO_ROOT.resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m azlib.notebook", description=__doc__)
    parser.add_argument("source", help="jupytext py:percent notebook (notebooks/NN_name.py)")
    parser.add_argument("output", help="executed notebook to write (.ipynb)")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--out-dir", default=None, help="results folder (default results/<profile>)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    out_dir = Path(args.out_dir or REPO_ROOT / "results" / args.profile).resolve()
    kernel_dir = Path(args.source).resolve().parent  # papermill runs the kernel there
    if out_dir.is_relative_to(REPO_ROOT.resolve()):
        # inside the repository: relative to the notebook, so an executed notebook names no
        # machine's folders and still runs as is from notebooks/ in JupyterLab
        out_dir = Path(os.path.relpath(out_dir, kernel_dir))
    params = notebook_parameters(args.profile, out_dir, args.data_root or None, args.device)
    try:
        run_notebook(args.source, args.output, params)
    except Exception as error:  # papermill raises PapermillExecutionError with the cell's traceback
        print(f"notebook {args.source} failed under profile {args.profile}: {error}", file=sys.stderr)
        print(f"the partial output is kept for inspection beside {args.output}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
