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

import jupytext
import nbformat
import yaml

from azlib import front, paper, reproduction
from azlib.config import REPO_ROOT, Profile, load_profile
from azlib.notebook import hide_plumbing
from azlib.files import read_json
from azlib.provenance import environment

BOOK_SOURCE = REPO_ROOT / "book"
NOTEBOOK_SOURCES = REPO_ROOT / "notebooks"
#: the pages of book/ listed right after the front page, in this order
STATIC_PAGES = ("method", "deviations", "limitations", "bibliography")
#: written beside the staged pages; book/deviations.md includes it
DEVIATIONS_TABLE = "deviations_table.md"


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


def _lnet_lr_text(p) -> str:
    """The LNet's learning rate: the profile's, or the per-row choices where rows set it."""
    chosen = sorted({float(v["train"]["lnet_lr_mult"]) for v in p.experiments.row_settings.values()
                     if "lnet_lr_mult" in v.get("train", {})})
    if not chosen:
        return f"{_show(p.train.lnet_lr_mult)} × the backbone's"
    return " or ".join(f"{_show(v)}×" for v in chosen) + " the backbone's, per row (chosen on validation)"


def _show(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (tuple, list)):
        return ", ".join(_show(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _size(size) -> str:
    return "×".join(str(v) for v in size)


DATASET_NAMES = {"synthactions": "SynthActions", "hmdb51": "HMDB51", "ucf101": "UCF101"}


def _pretraining(p: Profile) -> str:
    if not p.pretrain.enabled:
        return "Kinetics-400 weights" if p.model.pretrained == "kinetics400" else _show(p.model.pretrained)
    train = {"optimizer": p.train.optimizer, "lr": p.train.lr, "epochs": p.train.epochs, **p.pretrain.train}
    synth = {"classes": p.synth.classes, "figure_height": p.synth.figure_height, **p.pretrain.synth}
    low, high = synth["figure_height"]
    return (f"SynthActions-Pretrain ({len(synth['classes'])} classes, figures {_show(low)}–{_show(high)} "
            f"of the frame height, seed {synth.get('seed')}; {train['optimizer']}, lr "
            f"{_show(train['lr'])}, {train['epochs']} epochs)")


def _lnet(p: Profile) -> str:
    name = {"efficientnet_b0": "EfficientNet-B0", "tiny": "tiny CNN (3 stride-2 convolutions)"}[p.model.lnet]
    width = f", width {p.model.lnet_width}" if p.model.lnet_width else ""
    weights = {None: ", from scratch", "imagenet": ", ImageNet weights"}.get(
        p.model.lnet_pretrained, f", weights {p.model.lnet_pretrained}")
    return f"{name}{width}{weights}"


def _crop(p: Profile) -> str:
    (height, width), crop = p.clip.resize, p.clip.crop
    text = f"{crop}² ({crop / height:.2f} of the height, {crop / width:.2f} of the width)"
    return text + (f"; X3D: {p.clip.x3d.crop}²" if p.clip.x3d else "")


def _test_clips(p: Profile) -> str:
    text = _show(p.clip.test_clips)
    if p.dataset == "synthactions":
        low, high = p.synth.seconds
        text += f" (videos of {_show(low)}–{_show(high)} s at {p.synth.fps} fps)"
    return text


#: What the cpu profile changes from the paper's settings, and why: (setting, its value in a
#: profile, whether the paper states it, why). The values are read from params/paper.yaml and
#: params/cpu.yaml each time the page is made, so the page cannot drift from the profiles; the
#: reasons are those given beside each value in params/cpu.yaml.
DEVIATIONS = (
    ("dataset", lambda p: DATASET_NAMES.get(p.dataset, p.dataset) + (
        "" if p.dataset == "synthactions" else " (Table 1; UCF101 and Kinetics-32 in Tables 2–3)"), True,
     "No dataset can be downloaded where this project is built and tested. SynthActions is "
     "rendered and encoded as MPEG-4 Part 2 by azlib, so its motion vectors and residuals are "
     "real, and it records every figure's true box. One SynthActions table stands in for Tables 1–3."),
    ("splits", lambda p: _show(p.splits), True,
     "The cpu budget. A SynthActions split is made by actor."),
    ("videos", lambda p: (f"{len(p.synth.classes)} classes × {p.synth.actors} actors × "
                          f"{p.synth.videos_per_actor_class}, rendered at {p.synth.width}×{p.synth.height}, "
                          f"figures {_show(p.synth.figure_height[0])}–{_show(p.synth.figure_height[1])} "
                          "of the frame height") if p.dataset == "synthactions" else "the dataset's own",
     True, "Rendered at twice the frame the model reads: cheap to render and to extract. Small "
     "figures defeat a centre crop: what zooming is for (see the limitations)."),
    ("frames per clip K, stride", lambda p: f"{p.clip.frames}, stride {p.clip.stride}", True,
     "CPU cost; periodic motions at a random phase need more than 4 frames."),
    ("frame H×W the sampler reads", lambda p: _size(p.clip.resize) + (
        f"; X3D: {_size(p.clip.x3d.resize)}" if p.clip.x3d else ""), True, "CPU sizes."),
    ("backbone input", _crop, True,
     "CPU sizes. The same input for all three backbones (the paper gives X3D a larger one)."),
    ("test clips per video", _test_clips, True, "Short videos: room for this many clips."),
    ("backbones", lambda p: "full size" if p.model.width is None else f"slim, first-stage width {p.model.width}",
     True, "A CPU trains slim backbones in minutes; the architectures are the paper's, with fewer channels."),
    ("backbone pretraining", _pretraining, True,
     "The stand-in for Kinetics-400 pretraining: from scratch a slim 3D CNN learns stick figures "
     "only when they are big, so each backbone is first trained on SynthActions-Pretrain (its own "
     "actors and seed, big figures) and every configuration fine-tunes from it."),
    ("LNet", _lnet, True,
     "A CPU-sized LNet beside a slim backbone; no ImageNet weights can be downloaded here."),
    ("LNet also reads its input's spatial moments", lambda p: _show(p.model.lnet_moments), False,
     "The residual's soft spatial moments make the figure's extent a linear read-out for the θ "
     "head (an architecture choice: no box is used)."),
    ("θ at the start of training", lambda p: "the centre crop's framing" if p.model.init_scale == "crop"
     else f"scale {_show(p.model.init_scale)}, no shear or translation", False,
     "The adaptive model starts from the baseline's view and learns to depart from it."),
    ("optimizer", lambda p: p.train.optimizer + (f", momentum {_show(p.train.momentum)}"
                                                 if p.train.optimizer == "sgd" else ""), True,
     "SGD does not fine-tune these slim networks in the cpu profile's epochs. The paper profile "
     "keeps the paper's momentum 0.1 as printed (0.9 is customary)."),
    ("learning rate", lambda p: _show(p.train.lr) + (
        f" (Kinetics-32: {_show(p.train.lr_kinetics)})" if p.dataset != "synthactions" else ""), True,
     "Goes with the optimizer."),
    ("learning-rate warm-up", lambda p: f"{_show(p.train.warmup_epochs)} epoch, linear"
     if p.train.warmup_epochs else "none", False, "Eases the new LNet in."),
    ("LNet learning rate", _lnet_lr_text, False,
     "The LNet starts from scratch behind a pretrained backbone; the cpu profile chooses 1× or 3× "
     "per zooming row on its validation actors."),
    ("weight decay", lambda p: _show(p.train.weight_decay), False, "Not stated by the paper."),
    ("batch size (global)", lambda p: _show(p.train.batch_size), True,
     "CPU memory and time (the paper: 8 GPUs × 32)."),
    ("epochs", lambda p: _show(p.train.epochs), False,
     "Not stated by the paper: the paper profile's value is this project's guess, the cpu "
     "profile's its budget (chapter 10 shows the learning curves)."),
    ("learning-rate schedule", lambda p: f"×0.1 after {p.train.plateau_patience} epochs without a "
     "lower loss", False, "The paper reduces on plateau without saying after how long."),
    ("seeds per configuration", lambda p: _show(p.experiments.seeds), False,
     "The paper reports one number per configuration; several seeds give each of ours an interval."),
)


def deviations_table(paper_profile: Profile | None = None, cpu_profile: Profile | None = None) -> str:
    """Markdown table of :data:`DEVIATIONS`: the paper profile's value (the paper's setting, or
    our choice where the paper states none), the cpu profile's, and why they differ."""
    ours, theirs = cpu_profile or load_profile("cpu"), paper_profile or load_profile("paper")
    lines = ["| setting | the paper | cpu profile | why |", "|---|---|---|---|"]
    for what, value, stated, why in DEVIATIONS:
        paper_value = value(theirs) if stated else f"not stated (paper profile: {value(theirs)})"
        lines.append(f"| {what} | {paper_value} | {value(ours)} | {why} |")
    return "\n".join(lines) + "\n"


#: tags that already say how the book shows a cell's code
SHOWING_TAGS = ("remove-cell", "remove-input", "hide-input", "hide-cell", "show-input")


def stage_notebook(source: Path, target: Path, chapter: Path | None = None) -> None:
    """Copy an executed chapter for the book: the tags of its source ``chapter`` (.py) applied
    (a copy executed before a tag was added shows as the source says now), parameters cells
    removed, every other code cell's code folded (``hide-input``) unless the source says
    otherwise: the page shows tables and figures, the code one click away."""
    notebook = nbformat.read(source, as_version=4)
    if chapter is not None and chapter.is_file():
        tags_of = {cell.source: cell.metadata.get("tags", []) for cell in jupytext.read(chapter).cells}
        for cell in notebook.cells:
            tags = cell.metadata.get("tags", [])
            extra = [tag for tag in tags_of.get(cell.source, []) if tag not in tags]
            if extra:
                cell.metadata["tags"] = [*tags, *extra]
    hide_plumbing(notebook)
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and not any(tag in SHOWING_TAGS for tag in tags):
            cell.metadata["tags"] = [*tags, "hide-input"]
    nbformat.write(notebook, target)


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
    (stage_dir / DEVIATIONS_TABLE).write_text(deviations_table())
    for name in names:
        stage_notebook(results_dir / "notebooks" / f"{name}.ipynb", stage_dir / "chapters" / f"{name}.ipynb",
                       NOTEBOOK_SOURCES / f"{name}.py")
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
           "chapters": [{"file": page} for page in STATIC_PAGES]
           + [{"file": f"chapters/{n}"} for n in names] + extra}
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
