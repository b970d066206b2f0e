"""Our tables from the run records: each row's mean over seeds with its interval, the paired
difference to the row it is compared with, and the paper's figure beside ours.

A table is built from finished records only (it never trains); :func:`row_predictions` gives the
per-video predictions of one row by its stable key, for claims and figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from azlib import paper
from azlib.config import Profile
from azlib.files import atomic_path
from azlib.grid import CROP_LABELS, DATASET_LABELS, PlannedRun, Row, plan, table_spec
from azlib.records import RunRecord, load_predictions
from azlib.runner import find_record, resolve
from azlib.stats import accuracy_interval, paired_bootstrap
from azlib.training.evaluate import correct

_PAPER_MAIN = {"1": paper.TABLE1_HMDB51, "2": paper.TABLE2_UCF101, "3": paper.TABLE3_KINETICS32}
_PAPER_SMALL = {"4": paper.TABLE4_THETA, "5": paper.TABLE5_AUGMENT, "6": paper.TABLE6_LNET_INPUT,
                "4u": paper.TABLE4_THETA}


def paper_figure(table_id: str, row: Row, dataset: str, split) -> tuple[float, float]:
    """The paper's (top-1, top-5) for ``row`` of ``table_id`` (NaN where it has none)."""
    if table_id in _PAPER_MAIN:
        numbers = _PAPER_MAIN[table_id].get(row.paper_key)
        if numbers is None:
            return float("nan"), float("nan")
        if table_id == "3":
            position = 0 if dataset != "kinetics_static" else 1
        else:
            position = int(split) - 1 if str(split).isdigit() and int(split) <= 3 else -1
        return numbers["top1"][position], numbers["top5"][position]
    return _PAPER_SMALL.get(table_id, {}).get(row.paper_key, (float("nan"), float("nan")))


def _summary(top1: list[float], top5: list[float]) -> dict:
    m1, lo1, hi1 = accuracy_interval(top1)
    m5, lo5, hi5 = accuracy_interval(top5)
    return {"seeds": len(top1), "top1": m1, "top1_lo": lo1, "top1_hi": hi1,
            "top5": m5, "top5_lo": lo5, "top5_hi": hi5}


def planned_records(table_id, profile: Profile, out_dir, seeds=None, reuse_stale: bool | None = None,
                    progress: bool = False) -> list[tuple[PlannedRun, RunRecord | None, bool]]:
    """(planned run, its record or None, whether the record is stale) for every run of a table."""
    reuse = profile.experiments.reuse_stale if reuse_stale is None else reuse_stale
    planned = resolve(plan(table_id, profile, seeds), out_dir, progress=progress)
    found = [(p, find_record(p.spec, out_dir, reuse)) for p in planned]
    return [(p, f.record, f.stale) for p, f in found]


def row_predictions(table_id, row_key: str, profile: Profile, out_dir, variant: str | None = None,
                    dataset: str | None = None, split=None, **options) -> list[dict]:
    """Per-video predictions of every finished seed of one row, named by its stable key.

    ``variant``: a Table 7 crop. An unknown row key raises KeyError (never an empty result)."""
    table_spec(table_id).row(row_key)
    out = []
    for p, record, _ in planned_records(table_id, profile, out_dir, **options):
        if p.row.key != row_key or record is None:
            continue
        if (dataset or p.dataset) != p.dataset or (split if split is not None else p.split) != p.split:
            continue
        if variant is not None and record.crops is None:
            continue
        out.append(load_predictions(record.folder, variant))
    return out


def table(table_id, profile: Profile, out_dir, seeds=None, reuse_stale: bool | None = None) -> pd.DataFrame:
    """Our Table ``table_id``: per row, the mean and 95 % t-interval over seeds, the paired
    bootstrap difference to the compared row (per-video top-1 correctness pooled over seeds), and
    the paper's figure beside ours. ``attrs`` name the dataset and profile."""
    spec = table_spec(table_id)
    found = planned_records(spec.id, profile, out_dir, seeds, reuse_stale)
    groups: dict = {}
    for p, record, stale in found:
        groups.setdefault((p.row.key, p.dataset, p.split), []).append((p, record, stale))
    rows, pooled, compared = [], {}, []
    for (key, dataset, split), group in groups.items():
        row = group[0][0].row
        done = [(r, stale) for _, r, stale in group if r is not None]
        where = {"key": key, "dataset": DATASET_LABELS.get(dataset, dataset), "split": split,
                 "stale": sum(stale for _, stale in done)}
        if spec.crops:
            with_crops = [r for r, _ in done if r.crops]
            adaptive = (np.mean([correct(load_predictions(r.folder, "adaptive")) for r in with_crops], axis=0)
                        if with_crops else None)
            for variant, label in CROP_LABELS.items():
                got = [r.crops["variants"][variant] for r, _ in done
                       if r.crops and variant in r.crops["variants"]]
                if not got:
                    continue
                figure = paper.TABLE7_CROPS.get(variant, (float("nan"),) * 2)
                entry = {"row": label, **where, "key": variant,
                         **_summary([g["top1"] for g in got], [g["top5"] for g in got]),
                         "paper_top1": figure[0], "paper_top5": figure[1]}
                if variant != "adaptive" and adaptive is not None:
                    # this crop − the adaptive crop of the same models, over the same test videos
                    ours = np.mean([correct(load_predictions(r.folder, variant)) for r in with_crops], axis=0)
                    d, lo, hi = paired_bootstrap(adaptive, ours, seed=0)
                    entry.update({"vs": CROP_LABELS["adaptive"], "diff_top1": d, "diff_lo": lo, "diff_hi": hi})
                rows.append(entry)
            continue
        figure = paper_figure(spec.id, row, dataset, split)
        entry = {"row": row.label, **where,
                 **_summary([r.metrics["top1"] for r, _ in done], [r.metrics["top5"] for r, _ in done]),
                 "paper_top1": figure[0], "paper_top5": figure[1]}
        if done:  # per-video correctness averaged over seeds (same test videos in every seed)
            pooled[(key, dataset, split)] = np.mean([correct(load_predictions(r.folder)) for r, _ in done],
                                                    axis=0)
        rows.append(entry)
        if row.compare_to:
            compared.append((entry, row, dataset, split))
    # differences once every row is pooled: a row may be compared with one listed after it
    for entry, row, dataset, split in compared:
        base, ours = pooled.get((row.compare_to, dataset, split)), pooled.get((row.key, dataset, split))
        if base is not None and ours is not None:
            d, lo, hi = paired_bootstrap(base, ours, seed=0)
            entry.update({"vs": spec.row(row.compare_to).label, "diff_top1": d, "diff_lo": lo,
                          "diff_hi": hi})
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame = frame.set_index("row")
    datasets = sorted({p.dataset for p, _, _ in found})
    frame.attrs.update({
        "table": spec.id, "title": spec.title, "profile": profile.name,
        "dataset": ", ".join(DATASET_LABELS.get(d, d) for d in datasets),
        "paper_dataset": paper.table(int(spec.id)).attrs["dataset"] if spec.id.isdigit() else "(beyond the paper)",
        "runs_missing": sum(record is None for _, record, _ in found),
        "runs_stale": sum(stale for _, _, stale in found),
    })
    return frame


def save_table(frame: pd.DataFrame, out_dir) -> Path:
    """``tables/table<id>.csv`` (atomic)."""
    path = Path(out_dir) / "tables" / f"table{frame.attrs['table']}.csv"
    with atomic_path(path) as tmp:
        frame.to_csv(tmp)
    return path
