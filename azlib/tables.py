"""Our tables from the run records: each row's mean over seeds with its interval, the
difference to the row it is compared with (seed × actor × video bootstrap, per-seed differences),
and the paper's figure beside ours.

A table is built from finished records only (it never trains); :func:`row_runs` gives the runs of
one row by its stable key and :func:`difference` compares two rows, for claims and figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from azlib import paper
from azlib.config import Profile
from azlib.files import atomic_path
from azlib.grid import (CROP_LABELS, DATASET_LABELS, SWAPPED_LABELS, PlannedRun, Row, plan, row_settings,
                        table_spec)
from azlib.records import RunRecord, load_predictions
from azlib.runner import find_record, resolve
from azlib.settings import flat_text
from azlib.stats import accuracy_interval, seed_group_bootstrap, video_groups
from azlib.training.evaluate import correct

_PAPER_MAIN = {"1": paper.TABLE1_HMDB51, "2": paper.TABLE2_UCF101, "3": paper.TABLE3_KINETICS32}
_PAPER_SMALL = {"4": paper.TABLE4_THETA, "5": paper.TABLE5_AUGMENT, "6": paper.TABLE6_LNET_INPUT,
                "4u": paper.TABLE4_THETA, "7": paper.TABLE7_CROPS}


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


def row_runs(table_id, row_key: str, profile: Profile, out_dir, dataset: str | None = None, split=None,
             crops: bool = False, **options) -> list:
    """The finished runs of one row (every seed), named by its stable key; ``crops``: only runs
    that hold the Table 7 crop variants. An unknown row key raises KeyError (never an empty result)."""
    table_spec(table_id).row(row_key)
    out = []
    for p, record, _ in planned_records(table_id, profile, out_dir, **options):
        if p.row.key != row_key or record is None:
            continue
        if (dataset or p.dataset) != p.dataset or (split if split is not None else p.split) != p.split:
            continue
        if crops and record.crops is None:
            continue
        out.append(record)
    return out


def by_seed(runs, variant: str | None = None) -> dict[int, dict]:
    """Per training seed, the per-video predictions of one row's runs (``variant``: a Table 7 crop)."""
    return {int(r.config["seed"]): load_predictions(r.folder, variant) for r in runs}


def difference(base: dict[int, dict], ours: dict[int, dict]) -> dict:
    """``ours − base`` in top-1 points over the seeds both rows have (seed ``s`` paired with seed
    ``s``) and the same test videos, with the seed × actor × video bootstrap interval
    (:func:`azlib.stats.seed_group_bootstrap`); the actor of a video is read from its name."""
    seeds = sorted(base.keys() & ours.keys())
    if not seeds:
        raise ValueError("difference: the two rows share no seed")
    names = ours[seeds[0]].get("name")
    groups = video_groups(names) if names is not None else np.arange(len(ours[seeds[0]]["labels"])).astype(str)
    return seed_group_bootstrap([correct(base[s]) for s in seeds], [correct(ours[s]) for s in seeds],
                                groups, seed=0)


def row_difference(profile: Profile, out_dir, ours: tuple[str, str], base: tuple[str, str]) -> dict | None:
    """``ours − base`` (each a (table, row key) pair whose runs test the same videos) as
    :func:`difference` gives it; None while either row has no finished run of a shared seed."""
    a, b = by_seed(row_runs(*ours, profile, out_dir)), by_seed(row_runs(*base, profile, out_dir))
    return difference(b, a) if a.keys() & b.keys() else None


#: the oracle table's rows as the robustness summary names them, against its centre crop
DRAW_ROWS = ("centre", "adaptive", "oracle_scale", "oracle_box")


def draw_summary(profile: Profile, out_dir, runs: dict | None = None) -> dict:
    """The oracle table on ``profile``'s draw of SynthActions, as the robustness section reads
    it: per row the top-1 per seed and its mean; against the centre crop the difference with its
    seed × actor × video interval and per-seed differences; and the share of the scale-only
    oracle's headroom (oracle scale − centre) that adaptive zooming captures. ``runs``: the
    records of each row when they are not the profile's own (``benchmarks/replicate.py``)."""
    if runs is None:
        runs = {key: row_runs("oracle", key, profile, out_dir) for key in DRAW_ROWS}
    base = by_seed(runs["centre"])
    result = {"synth_seed": profile.synth.seed, "profile": profile.name,
              "seeds": list(profile.experiments.seeds), "rows": {}}
    for key, found in runs.items():
        top1 = {int(r.config["seed"]): r.metrics["top1"] for r in found}
        row = {"top1_per_seed": top1, "top1": float(np.mean(list(top1.values()))) if top1 else float("nan")}
        ours = by_seed(found) if key != "centre" else {}
        if ours.keys() & base.keys():
            diff = difference(base, ours)
            row.update(diff=diff["diff"], lo=diff["lo"], hi=diff["hi"], per_seed=list(diff["per_seed"]))
        result["rows"][key] = row
    rows = result["rows"]
    if "diff" in rows["adaptive"] and "diff" in rows["oracle_scale"] and rows["oracle_scale"]["diff"] > 0:
        result["headroom_share"] = rows["adaptive"]["diff"] / rows["oracle_scale"]["diff"]
    return result


def per_seed_text(result: dict) -> str:
    """The per-seed differences of :func:`difference`, as shown in tables and on the claims page."""
    return " / ".join(f"{d:+.1f}" for d in result["per_seed"])


def _diff_columns(result: dict) -> dict:
    return {"diff_top1": result["diff"], "diff_lo": result["lo"], "diff_hi": result["hi"],
            "diff_per_seed": per_seed_text(result)}


def table(table_id, profile: Profile, out_dir, seeds=None, reuse_stale: bool | None = None) -> pd.DataFrame:
    """Our Table ``table_id``: per row, the mean and 95 % t-interval over seeds, the difference to
    the compared row with its seed × actor × video bootstrap interval and per-seed differences
    (:func:`difference`), and the paper's figure beside ours. ``attrs`` name the dataset and profile."""
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
        if spec.crops and key == "baseline":  # the paper's rows: its crops, each against the adaptive crop
            adaptive = [r for _, r, _ in groups.get(("adaptive", dataset, split), []) if r is not None]
            rows += _crop_rows(done, where, CROP_LABELS, against=by_seed(adaptive) if adaptive else None)
            continue
        figure = paper_figure(spec.id, row, dataset, split)
        where["chosen"] = flat_text(row_settings(profile, spec, row))  # chosen on validation
        entry = {"row": row.label, **where,
                 **_summary([r.metrics["top1"] for r, _ in done], [r.metrics["top5"] for r, _ in done]),
                 "paper_top1": figure[0], "paper_top5": figure[1]}
        if done:  # per seed, the per-video predictions (the same test videos in every seed)
            pooled[(key, dataset, split)] = by_seed([r for r, _ in done])
        rows.append(entry)
        if row.compare_to:
            compared.append((entry, row, dataset, split))
    # differences once every row is pooled: a row may be compared with one listed after it
    for entry, row, dataset, split in compared:
        base, ours = pooled.get((row.compare_to, dataset, split)), pooled.get((row.key, dataset, split))
        if base is not None and ours is not None:
            entry.update({"vs": spec.row(row.compare_to).label, **_diff_columns(difference(base, ours))})
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


def _crop_rows(done: list, where: dict, labels: dict, against: dict | None) -> list[dict]:
    """One row per fixed crop variant the runs hold (``labels`` order; the model's own crop,
    "adaptive", is its own row), with the paper's figure and, when ``against`` (per-seed
    predictions) is given, this crop − ``against``."""
    rows = []
    with_crops = [r for r, _ in done if r.crops]
    for variant, label in labels.items():
        got = [r.crops["variants"][variant] for r in with_crops if variant in r.crops["variants"]]
        if variant == "adaptive" or not got:
            continue
        figure = paper.TABLE7_CROPS.get(variant, (float("nan"),) * 2)
        entry = {"row": label, **where, "key": variant,
                 **_summary([g["top1"] for g in got], [g["top5"] for g in got]),
                 "paper_top1": figure[0], "paper_top5": figure[1]}
        if against is not None:
            entry.update({"vs": CROP_LABELS["adaptive"],
                          **_diff_columns(difference(against, by_seed(with_crops, variant)))})
        rows.append(entry)
    return rows


def swapped_crops(profile: Profile, out_dir, seeds=None) -> pd.DataFrame:
    """Beyond the paper: Table 7's fixed crops (and the oracle crops) swapped into the *adaptive*
    model at test time, each against that model's own crop (a train/test mismatch, not the
    paper's comparison)."""
    found = [(p, r, stale) for p, r, stale in planned_records("7", profile, out_dir, seeds)
             if p.row.key == "adaptive" and r is not None]
    done = [(r, stale) for _, r, stale in found]
    rows = []
    if done:
        p = found[0][0]
        where = {"key": "adaptive", "dataset": DATASET_LABELS.get(p.dataset, p.dataset), "split": p.split,
                 "stale": sum(stale for _, stale in done)}
        own = by_seed([r for r, _ in done])
        rows = _crop_rows(done, where, SWAPPED_LABELS, against=own)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame = frame.set_index("row")
    frame.attrs.update({"table": "7s", "title": "Fixed crops swapped into the adaptive model at test time",
                        "profile": profile.name, "dataset": ", ".join(sorted({w for w in frame.get("dataset", [])})),
                        "paper_dataset": "(beyond the paper)", "runs_missing": 0,
                        "runs_stale": sum(stale for _, stale in done)})
    return frame


def save_table(frame: pd.DataFrame, out_dir) -> Path:
    """``tables/table<id>.csv`` (atomic)."""
    path = Path(out_dir) / "tables" / f"table{frame.attrs['table']}.csv"
    with atomic_path(path) as tmp:
        frame.to_csv(tmp)
    return path
