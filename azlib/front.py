"""The book's front page: what was reproduced on what data, and what came out, in one screen.

:func:`front_page` returns the MyST markdown of the root page (``intro.md``, written by
:func:`azlib.book.stage`): the title; one sentence saying what was reproduced on which data (the
cpu and smoke profiles run on SynthActions, a synthetic benchmark, and say so); the verdicts
table (per claim: the paper's Δ, ours with its interval, the verdict, from ``tables/claims.csv``
which chapter 09 writes); the forest plot (``figures/09_claims_forest.png``, chapter 09); the
comparison of adaptive zoom with the centre crop on every draw of SynthActions measured
(``tables/robustness.csv``, chapter 09, where there is one); the headline table (Table 1: each
backbone, centre crop against adaptive zoom, ours beside the paper's, from ``tables/table1.csv``);
how the method works, briefly; how to cite (from ``CITATION.cff``). It only reads: a table a
chapter has not written yet reads "not computed yet".
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pandas as pd
import yaml

from azlib import claims, paper
from azlib.config import REPO_ROOT, load_profile
from azlib.datasets.splits import DATASET_CLASSES
from azlib.grid import DATASET_LABELS, DRAW_HEADROOM_LINE, DRAW_SEEDS_LINE, MAIN_MODELS, draw_line
from azlib.stats import detectable_difference, seeds_needed

TITLE = "Adaptive zooming with motion residuals, reproduced"
FOREST_FIGURE = "09_claims_forest"
CITATION_FILE = REPO_ROOT / "CITATION.cff"
NOT_COMPUTED = "not computed yet"
VERDICT_MARKS = {"holds": "**holds**", "does not hold": "**does not hold**", "inconclusive": "inconclusive",
                 "not measured": "not measured"}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value, digits: int = 1, signed: bool = False) -> str:
    if _missing(value):
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _interval(mean, lo, hi, digits: int = 1, signed: bool = True, exact: bool = False) -> str:
    """``mean [lo, hi]``; just the mean where there is no interval (``exact``: a count, not an
    estimate, whose ends equal it)."""
    if _missing(mean):
        return NOT_COMPUTED
    if _missing(lo) or _missing(hi) or (exact and lo == hi == mean):
        return _number(mean, digits, signed)
    return f"{_number(mean, digits, signed)} [{_number(lo, digits, signed)}, {_number(hi, digits, signed)}]"


def _cell_text(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# --- what was reproduced on what ---------------------------------------------------------------

def data_sentence(profile: str) -> str:
    """One sentence: what this book reproduces, on which data, under ``profile``."""
    cfg = load_profile(profile)
    paper_title = "*Video Action Recognition with Adaptive Zooming Using Motion Residuals* (Shahabinejad et al.)"
    if cfg.dataset == "synthactions":
        text = (f"This book re-implements {paper_title} and checks its claims under the `{profile}` profile "
                f"on **SynthActions**, a synthetic benchmark this project renders ({cfg.synth.num_classes} "
                "motions of articulated figures of widely varying size, encoded as MPEG-4 Part 2 so that "
                "motion vectors and residuals are real): our numbers are SynthActions numbers, never "
                "HMDB51, UCF101 or Kinetics numbers, and the paper's, shown beside them, are the "
                "authors' on real video.")
        if profile == "smoke":
            text += (" The smoke profile trains tiny models for an epoch or two: its numbers only show "
                     "that every chapter runs, they measure nothing.")
        return text
    datasets = [DATASET_LABELS.get(d, d) for d in ("hmdb51", "ucf101")] + ["Kinetics-32"]
    return (f"This book re-implements {paper_title} and reruns its experiments under the `{profile}` "
            f"profile on {', '.join(datasets[:-1])} and {datasets[-1]} ("
            f"{DATASET_CLASSES['hmdb51']}, {DATASET_CLASSES['ucf101']} and 32 classes), "
            "beside the paper's numbers.")


# --- the verdicts ------------------------------------------------------------------------------

def verdict_summary(frame: pd.DataFrame) -> str:
    """A sentence counting the claims by verdict (computed, never assumed)."""
    judged = claims.verdicts(frame)
    counts = Counter(judged["verdict"])
    plural = {"holds": "hold", "does not hold": "do not hold"}
    parts = [f"{counts[v]} {v if counts[v] == 1 else plural.get(v, v)}" for v in VERDICT_MARKS if counts.get(v)]
    parts += [f"{n} {v}" for v, n in counts.items() if v not in VERDICT_MARKS]
    return (f"Of the paper's {len(judged)} claims checked here, on this data: " + ", ".join(parts) + ". "
            "A claim holds when every one of its comparisons' 95 % intervals lies on the paper's side "
            "(above zero for accuracy; below the negligible line for cost).")


def _paper_cell(row) -> str:
    """The paper's figure of one comparison (a row of the claims table)."""
    if row["unit"] == claims.COST_UNIT:
        return "“negligible”" if _missing(row["paper_diff"]) else f"{row['paper_diff']:.2f} %"
    return _number(row["paper_diff"], 2, signed=True)


def _ours_cell(row) -> str:
    """Ours with its 95 % interval, for one comparison (a row of the claims table)."""
    if row["unit"] == claims.COST_UNIT:
        text = _interval(row["diff"], row["lo"], row["hi"], digits=2, signed=False, exact=True)
        return text if text == NOT_COMPUTED else text + " %"
    return _interval(row["diff"], row["lo"], row["hi"])


def deciding(group: pd.DataFrame):
    """The comparison of one claim that decides its verdict: the one whose interval comes
    nearest the wrong side (accuracy: the lowest lower end; cost: the highest upper end)."""
    measured = group.dropna(subset=["diff"])
    if measured.empty:
        return group.iloc[0]
    if (measured["unit"] == claims.COST_UNIT).all():
        return measured.loc[measured["hi"].idxmax()]
    return measured.loc[measured["lo"].idxmin()]


def verdicts_table(frame: pd.DataFrame | None) -> str:
    """Markdown table, one row per claim: its verdict and the comparison that decides it (the
    paper's Δ beside ours with its 95 % interval)."""
    if frame is None or frame.empty:
        return f"*Claims: {NOT_COMPUTED} (chapter 09 writes `tables/claims.csv`).*"
    lines = ["| claim | verdict | deciding comparison (of n) | paper | ours, 95 % interval |",
             "|---|---|---|---|---|"]
    for _, group in frame.groupby("key", sort=False):
        row = deciding(group)
        lines.append(f"| {_cell_text(row['claim'])} | {VERDICT_MARKS.get(row['verdict'], row['verdict'])} "
                     f"| {_cell_text(row['comparison'])} (of {len(group)}) "
                     f"| {_paper_cell(row)} | {_ours_cell(row)} |")
    return "\n".join(lines)


def _detectable_cell(row) -> str:
    """The smallest difference the comparison detects; where its interval holds zero, also the
    seeds it would need (:func:`azlib.stats.seeds_needed`, a lower bound)."""
    se = row.get("se")
    if se is None or not isinstance(se, (int, float)) or math.isnan(se):
        return "–"
    text = f"{detectable_difference(se):.1f}"
    if row["lo"] <= 0 <= row["hi"]:
        seeds = len(str(row.get("per_seed") or "").split("/"))
        needed = seeds_needed(row["diff"], se, seeds)
        if needed is not None:
            text += f" (≥ {needed} seeds)"
    return text


def comparisons_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every comparison of every claim as display strings (the claim and its verdict on its first
    comparison only): claim, comparison, paper, ours with its 95 % interval, the per-seed
    differences, the smallest detectable difference, verdict."""
    rows, last = [], None
    for _, row in frame.iterrows():
        first = row["key"] != last
        last = row["key"]
        per_seed = row.get("per_seed")
        rows.append({"claim": row["claim"] if first else "", "comparison": row["comparison"],
                     "paper": _paper_cell(row), "ours, 95 % interval": _ours_cell(row),
                     "per seed": per_seed if isinstance(per_seed, str) and per_seed else "–",
                     "detectable": _detectable_cell(row),
                     "verdict": row["verdict"] if first else ""})
    return pd.DataFrame(rows, columns=["claim", "comparison", "paper", "ours, 95 % interval", "per seed",
                                       "detectable", "verdict"])


def comparisons_table(frame: pd.DataFrame | None) -> str:
    """:func:`comparisons_frame` as a markdown table (verdicts marked as in the verdicts table)."""
    if frame is None or frame.empty:
        return ""
    shown = comparisons_frame(frame)
    lines = ["| " + " | ".join(shown.columns) + " |", "|---" * len(shown.columns) + "|"]
    for _, row in shown.iterrows():
        cells = [*(_cell_text(v) for v in row.iloc[:-1]), VERDICT_MARKS.get(row["verdict"], row["verdict"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- Table 1 -----------------------------------------------------------------------------------

def headline_table(results_dir: Path, profile: str) -> str:
    """Markdown Table 1: per backbone, centre crop and adaptive zoom, ours beside the paper's
    (HMDB51 split 1), and the difference."""
    path = Path(results_dir) / "tables" / "table1.csv"
    if not path.is_file():
        return f"*Table 1: {NOT_COMPUTED} (chapter 02 writes `tables/table1.csv`).*"
    frame = pd.read_csv(path)
    if frame.empty:
        return f"*Table 1: {NOT_COMPUTED}.*"
    split = frame["split"].iloc[0] if "split" in frame else 1
    frame = frame[frame["split"] == split] if "split" in frame else frame
    key = frame["key"] if "key" in frame else frame["row"].str.replace(" + AZ", "+AZ", regex=False)
    by_key = {k: r for k, r in zip(key, frame.itertuples())}
    ours = ", ".join(dict.fromkeys(frame["dataset"])) if "dataset" in frame else "ours"
    paper_split = int(split) if str(split).isdigit() and int(split) <= 3 else 1
    lines = [f"| backbone | centre crop, ours ({ours}) | centre crop, paper (HMDB51 split {paper_split}) "
             f"| adaptive zoom, ours ({ours}) | adaptive zoom, paper (HMDB51 split {paper_split}) "
             "| Δ ours, 95 % interval | Δ paper |",
             "|---|---|---|---|---|---|---|"]
    for model in MAIN_MODELS:
        base, az = by_key.get(model), by_key.get(f"{model}+AZ")
        paper_base = paper.TABLE1_HMDB51[(model, False)]["top1"][paper_split - 1]
        paper_az = paper.TABLE1_HMDB51[(model, True)]["top1"][paper_split - 1]

        def top1(r):
            return NOT_COMPUTED if r is None else _interval(r.top1, r.top1_lo, r.top1_hi, signed=False)

        diff = NOT_COMPUTED
        if az is not None and not _missing(getattr(az, "diff_top1", float("nan"))):
            diff = _interval(az.diff_top1, az.diff_lo, az.diff_hi)
        lines.append(f"| {model} | {top1(base)} | {paper_base:.2f} | {top1(az)} | {paper_az:.2f} "
                     f"| {diff} | {paper_az - paper_base:+.2f} |")
    caption = (f"Top-1 %, ours: mean over seeds with a 95 % t-interval (profile `{profile}`); Δ: adaptive "
               "zoom − centre crop, seed × actor × video bootstrap 95 % interval. "
               "Tables 2–7: the chapters.")
    return "\n".join(lines) + "\n\n" + caption


#: the robustness table's lines shown on the front page (chapter 09 writes ``tables/robustness.csv``)
ROBUSTNESS_LINES = (draw_line("adaptive", "diff"), draw_line("adaptive", "per_seed"), DRAW_HEADROOM_LINE,
                    DRAW_SEEDS_LINE)


def robustness_table(results_dir: Path) -> str | None:
    """Markdown: R(2+1)D's adaptive zoom − centre crop on every draw of SynthActions chapter 09
    measured (the main one and ``experiments.draws``), the paper's gain beside them; None when
    that chapter wrote no robustness table (other profiles)."""
    path = Path(results_dir) / "tables" / "robustness.csv"
    if not path.is_file():
        return None
    frame = pd.read_csv(path, index_col=0, dtype=str).fillna("—")
    missing = [line for line in ROBUSTNESS_LINES if line not in frame.index]
    if missing:
        raise ValueError(f"{path}: no line {missing[0]!r}; re-run chapter 09_claims")
    lines = ["| | " + " | ".join(ROBUSTNESS_LINES) + " |", "|---" * (len(ROBUSTNESS_LINES) + 1) + "|"]
    for column in frame.columns:
        cells = " | ".join(_cell_text(frame.at[line, column]) for line in ROBUSTNESS_LINES)
        lines.append(f"| {column} | {cells} |")
    caption = ("R(2+1)D, top-1 points; each draw is SynthActions rendered from its own generator seed "
               "(other actors, other videos) and trained with its own seeds; the interval resamples "
               "seeds, test actors and videos of that draw. "
               "The share of the headroom: how much of the trained scale-only oracle's gain over the "
               "centre crop adaptive zoom reaches. Details: {doc}`chapters/09_claims`.")
    return "\n".join(lines) + "\n\n" + caption


# --- citation ----------------------------------------------------------------------------------

def _person(author: dict) -> str:
    if "family-names" in author:
        return author["family-names"] + (f", {author['given-names']}" if author.get("given-names") else "")
    return author.get("name", "")


def citation(path: Path = CITATION_FILE) -> str:
    """The Cite section's markdown, from CITATION.cff: this reproduction, then the paper."""
    if not Path(path).is_file():
        return f"*{Path(path).name}: not found.*"
    cff = yaml.safe_load(Path(path).read_text())
    own_authors = "; ".join(_person(a) for a in cff.get("authors", []))
    own = f"{own_authors}. *{cff['title']}*. Version {cff.get('version', '?')}"
    if cff.get("date-released"):
        own += f", {cff['date-released']}"
    lines = [cff.get("message", "").strip(), "", f"- **This reproduction:** {own}."]
    for ref in cff.get("references", []):
        authors = [a.get("family-names", a.get("name", "")) for a in ref.get("authors", [])]
        names = ", ".join(authors)
        where = "; ".join(str(v) for v in (ref.get("institution", {}) or {}).values())
        lines.append(f"- **The paper:** {names}. *{ref.get('title')}*." + (f" {where}." if where else ""))
    return "\n".join(lines)


# --- the page ----------------------------------------------------------------------------------

METHOD_SUMMARY = """\
From each MPEG-4 Part 2 video the compressed stream's motion vectors and residuals are taken and
accumulated inside each group of pictures; a light localisation network (LNet) reads the residual
magnitudes of a K-frame clip and regresses an affine θ; a grid generator and bilinear sampler zoom
the RGB clip with θ; a 3D CNN classifies the zoomed clip, all trained end to end. The baseline is
the same backbone behind a fixed centre crop."""


def front_page(profile: str, results_dir: Path) -> str:
    """The MyST markdown of the book's root page under ``profile``, from what ``results_dir``
    holds (missing tables and figures say so; nothing is computed here)."""
    results_dir = Path(results_dir)
    frame = claims.load_claims(results_dir)
    parts = [f"# {TITLE}", "", data_sentence(profile), "", "## Verdicts", ""]
    if frame is not None and not frame.empty:
        parts += [verdict_summary(frame), ""]
    parts += [verdicts_table(frame), ""]
    if frame is not None and not frame.empty:
        parts += ["The deciding comparison is the one whose interval comes nearest the wrong side of "
                  "its claim (n: how many comparisons the claim has).", ""]
    if frame is not None and not frame.empty:
        parts += ["<details><summary>Every comparison of every claim</summary>", "",
                  comparisons_table(frame), "", "</details>", ""]
    if (results_dir / "figures" / f"{FOREST_FIGURE}.png").is_file():
        parts += [f"```{{figure}} figures/{FOREST_FIGURE}.png",
                  ":alt: Forest plot of the paper's claims",
                  ":width: 100%",
                  "",
                  "Each comparison of a claim: ours (dot, 95 % interval, coloured by the claim's verdict) "
                  "beside the paper's figure (open diamond). Top: accuracy differences in top-1 points; "
                  "bottom: what zooming adds to the backbone's cost, in % (dashed: the line below which "
                  f"this book calls it negligible, {claims.NEGLIGIBLE_PERCENT:g} %). "
                  "Details: {doc}`chapters/09_claims`.",
                  "```", ""]
    else:
        parts += [f"*Forest plot of the claims: {NOT_COMPUTED} (chapter 09 draws it).*", ""]
    draws = robustness_table(results_dir)
    if draws is not None:
        parts += ["## The central comparison on other draws of actors", "", draws, ""]
    parts += ["## Table 1: adaptive zooming in front of three backbones", "",
              headline_table(results_dir, profile), "",
              "## The method in brief", "", METHOD_SUMMARY, "",
              "```{image} pipeline.svg", ":alt: The adaptive zooming pipeline", ":width: 100%", "```", "",
              "## Cite", "", citation(), ""]
    return "\n".join(parts)
