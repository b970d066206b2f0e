"""The reproduction report: a recomputed results folder against the published one.

``make reproduce`` recomputes every run of a profile into ``build/<profile>/``; this module then
compares each of its runs with the published record of the same settings (matched by spec key,
so a record made by other code is still found; a record written before records carried a spec
key is matched by the settings its ``config.json`` names) and says whether it is **identical** (every
prediction array equal), **within** the published seed interval of its table row, or
**different**; and, per table, whether every row's mean lies within the published interval.

``python -m azlib.reproduction --profile cpu`` writes ``build/<profile>/reproduction.json`` and
prints the summary line; the book built from ``build/<profile>`` shows it as a page.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from azlib import records
from azlib.config import REPO_ROOT, Profile, load_profile
from azlib.files import load_npz, read_json, write_json
from azlib.runner import find_record
from azlib.settings import result_dict
from azlib.tables import planned_records, table

REPORT_FILE = "reproduction.json"
VERDICTS = ("identical", "within", "different", "not published", "not reproduced")


def same_predictions(a: Path, b: Path) -> bool:
    """Whether two run folders hold the same prediction files with equal arrays."""
    names = sorted(p.name for p in Path(a).glob("predictions*.npz"))
    if not names or names != sorted(p.name for p in Path(b).glob("predictions*.npz")):
        return False
    for name in names:
        x, y = load_npz(Path(a) / name), load_npz(Path(b) / name)
        if set(x) != set(y) or any(not np.array_equal(x[k], y[k]) for k in x):
            return False
    return True


#: settings a record names that say how it ran or which other run it started from, not what it computes
UNCOMPARED_SETTINGS = {"clip.workers", "synth.workers", "data_root", "model.pretrained", "profile", "device"}


def _flat(settings: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif prefix + key not in UNCOMPARED_SETTINGS:
            out[prefix + key] = tuple(value) if isinstance(value, list) else value
    if not prefix and out.get("train.optimizer") not in (None, "sgd"):
        out.pop("train.momentum", None)  # only SGD reads it (its default changed over time)
    return out


def records_without_key(published) -> list[tuple[dict, records.RunRecord]]:
    """Finished records under ``published`` that carry no spec key (written before records had
    provenance), each with its flattened settings."""
    runs = Path(published) / "runs"
    found = []
    for folder in sorted(runs.iterdir()) if runs.is_dir() else []:
        if records.is_complete(folder) and not (folder / records.PROVENANCE_FILE).is_file():
            record = records.load_run(folder)
            found.append((_flat(record.config), record))
    return found


def match_by_settings(spec, candidates) -> records.RunRecord | None:
    """The one record of ``candidates`` (:func:`records_without_key`) whose settings agree with
    ``spec`` on every setting both name; None when none or several do."""
    wanted = _flat(result_dict(spec))
    hits = [record for settings, record in candidates
            if all(wanted[k] == settings[k] for k in wanted.keys() & settings.keys())]
    return hits[0] if len(hits) == 1 else None


def _run_verdict(mine, theirs, interval) -> str:
    if theirs is None:
        return "not published"
    if mine is None:
        return "not reproduced"
    if same_predictions(mine.folder, theirs.folder):
        return "identical"
    lo, hi = interval
    return "within" if lo is not None and lo <= mine.metrics["top1"] <= hi else "different"


def compare(profile: str | Profile, reproduced, published) -> dict:
    """Per run and per table row: reproduced against published (see the module docstring);
    ``profile``: a profile or its name."""
    reproduced, published = Path(reproduced), Path(published)
    profile = load_profile(profile) if isinstance(profile, str) else profile
    profile_name = profile.name
    runs, rows, seen = [], [], set()
    keyless = records_without_key(published)

    def add_run(spec, row_label, interval):
        key = records.spec_key(spec)
        if key in seen:
            return
        seen.add(key)
        mine = find_record(spec, reproduced).record
        theirs = find_record(spec, published, reuse_stale=True).record
        if theirs is None and keyless:
            theirs = match_by_settings(spec, keyless)
        runs.append({"spec_key": key, "row": row_label, "seed": spec.seed, "kind": spec.kind,
                     "reproduced_top1": None if mine is None else mine.metrics["top1"],
                     "published_top1": None if theirs is None else theirs.metrics["top1"],
                     "verdict": _run_verdict(mine, theirs, interval)})

    for table_id in profile.experiments.tables:
        ours, theirs = table(table_id, profile, reproduced), table(table_id, profile, published,
                                                                 reuse_stale=True)
        saved = published / "tables" / f"table{table_id}.csv"
        if keyless and saved.is_file() and ("top1" not in theirs or theirs["top1"].isna().all()):
            theirs = pd.read_csv(saved, index_col="row")  # the table those records made
        for label in ours.index:
            mine, ref = ours.loc[label], theirs.loc[label] if label in theirs.index else None
            if ref is None or np.isnan(ref["top1"]):
                verdict = "not published"
            elif np.isnan(mine["top1"]):
                verdict = "not reproduced"
            elif np.isclose(mine["top1"], ref["top1"]):
                verdict = "identical"
            else:
                verdict = "within" if ref["top1_lo"] <= mine["top1"] <= ref["top1_hi"] else "different"
            rows.append({"table": table_id, "row": label, "reproduced_top1": mine["top1"],
                         "published_top1": None if ref is None else ref["top1"],
                         "published_interval": None if ref is None else [ref["top1_lo"], ref["top1_hi"]],
                         "verdict": verdict})
        for p, _, _ in planned_records(table_id, profile, published, reuse_stale=True):
            ref = theirs.loc[p.row.label] if p.row.label in theirs.index else None
            interval = (None, None) if ref is None else (ref["top1_lo"], ref["top1_hi"])
            if p.pretrain is not None:
                add_run(p.pretrain, f"pretraining {p.pretrain.model.backbone}", (None, None))
            add_run(p.spec, f"{table_id}: {p.row.label}", interval)
    counts = lambda items: ", ".join(f"{n} {v}" for v, n in
                                     ((v, sum(i["verdict"] == v for i in items)) for v in VERDICTS) if n)
    summary = (f"reproduction of {profile_name}: {len(runs)} runs: {counts(runs)}; "
               f"{len(rows)} table rows: {counts(rows)}")
    return {"profile": profile_name, "summary": summary, "runs": runs, "tables": rows}


def page(report: dict) -> str:
    """The book page of a reproduction report (Markdown)."""
    lines = ["# Reproduction report", "",
             f"Every run of the `{report['profile']}` profile recomputed from nothing, against the "
             "published records (matched by their settings).", "", f"**{report['summary']}**", "",
             "## Table rows", "",
             pd.DataFrame(report["tables"]).round(2).to_markdown(index=False), "",
             "## Runs", "", pd.DataFrame(report["runs"]).round(2).to_markdown(index=False), ""]
    return "\n".join(lines)


PUBLISHED_FOLDERS = ("runs", "tables", "notebooks", "figures", "tuning")


def publish(reproduced, published) -> list[Path]:
    """Make ``reproduced`` the published results: its runs (without weights), tables, executed
    notebooks, figures and reproduction report replace those of ``published`` (the calibration
    record there stays). Returns the folders written."""
    reproduced, published = Path(reproduced), Path(published)
    missing = [name for name in ("runs", "notebooks") if not (reproduced / name).is_dir()]
    if missing:
        raise FileNotFoundError(f"{reproduced}: no {', '.join(missing)}; run `make reproduce` first")
    skip = shutil.ignore_patterns("checkpoint*.pt", ".lock", ".*.partial-*")
    written = []
    for name in PUBLISHED_FOLDERS:
        if (reproduced / name).is_dir():
            staged = published / f".{name}.publishing"
            shutil.rmtree(staged, ignore_errors=True)
            shutil.copytree(reproduced / name, staged, ignore=skip)
            shutil.rmtree(published / name, ignore_errors=True)
            staged.rename(published / name)
            written.append(published / name)
    if (reproduced / REPORT_FILE).is_file():
        shutil.copy2(reproduced / REPORT_FILE, published / REPORT_FILE)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m azlib.reproduction", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--reproduced", default=None, help="default build/<profile>")
    parser.add_argument("--published", default=None, help="default results/<profile>")
    parser.add_argument("--publish", action="store_true",
                        help="copy the reproduced results over the published ones instead")
    args = parser.parse_args(argv)
    reproduced = Path(args.reproduced or REPO_ROOT / "build" / args.profile)
    published = Path(args.published or REPO_ROOT / "results" / args.profile)
    if args.publish:
        for folder in publish(reproduced, published):
            print(f"published {folder}")
        return 0
    report = compare(args.profile, reproduced, published)
    write_json(reproduced / REPORT_FILE, report)
    print(report["summary"])
    return 0 if all(r["verdict"] in ("identical", "within") for r in report["runs"]) else 1


def load(results_dir) -> dict | None:
    path = Path(results_dir) / REPORT_FILE
    return read_json(path) if path.is_file() else None


if __name__ == "__main__":
    sys.exit(main())
