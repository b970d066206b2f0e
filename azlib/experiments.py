"""The paper's experiment grid as data, run-or-reuse by configuration hash, and our tables.

``python -m azlib experiments --profile cpu --table 4 [--out results/cpu]`` trains the runs of
Table 4 that have no record yet (every seed of ``experiments.seeds``) and reuses the rest; a
configuration that several tables share is trained once. Pretraining (``pretrain.enabled``) is a
run too: its backbone weights become ``model.pretrained`` of the fine-tuning runs.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from azlib import records, results
from azlib.config import ConfigError, deep_merge, load_profile

# The paper's final adaptive model (Tables 1-3, 5-7): scale-only θ, θ augmentation, residuals.
AZ = {"zoom": "adaptive", "theta_mode": "scale", "augment": True, "lnet_input": "residual"}
BASELINE = {"zoom": "none"}
MAIN_MODELS = ("R3D", "R(2+1)D", "X3D")


@dataclass(frozen=True)
class Row:
    label: str                 # the row's name in our table (the paper's wording)
    paper_key: object          # key into the paper's dict for this table
    overrides: dict            # merged into the profile (model/train/synth sections)
    backbone: str | None = None  # a paper model name (R3D, ...); None: the ablation backbone
    compare_to: str | None = None  # label of the row this one is compared with (paired bootstrap)


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    rows: tuple
    paper_datasets: tuple = ("hmdb51",)  # the paper's datasets (the columns of Tables 1-3)
    main: bool = False                   # Tables 1-3: every split of every dataset
    crops: bool = False                  # Table 7: inference-only crop variants of one model
    overrides: dict = field(default_factory=dict)
    synthetic_only: bool = False         # beyond the paper: needs SynthActions' true boxes etc.


def _main_rows() -> tuple:
    rows = []
    for name in MAIN_MODELS:
        rows.append(Row(name, (name, False), {"model": BASELINE}, backbone=name))
        rows.append(Row(f"{name} + AZ", (name, True), {"model": AZ}, backbone=name,
                        compare_to=name))
    return tuple(rows)


def _theta_rows() -> tuple:
    return tuple(Row(results.PAPER_TABLE4_LABELS[mode], mode,
                     {"model": {**AZ, "theta_mode": mode, "augment": False}})
                 for mode in results.PAPER_TABLE4_THETA)


TABLES = {
    "1": Table("1", "Adaptive zooming plugged into three backbones", _main_rows(), ("hmdb51",),
               main=True),
    "2": Table("2", "Adaptive zooming plugged into three backbones", _main_rows(), ("ucf101",),
               main=True),
    "3": Table("3", "Adaptive zooming plugged into three backbones", _main_rows(),
               ("kinetics_temporal", "kinetics_static"), main=True),
    "4": Table("4", "θ parameterisation (no augmentation)", _theta_rows()),
    "5": Table("5", "θ augmentation", tuple(
        Row("Yes" if aug else "No", aug, {"model": {**AZ, "augment": aug}}) for aug in (False, True))),
    "6": Table("6", "LNet input", tuple(
        Row(results.PAPER_TABLE6_LABELS[m], m, {"model": {**AZ, "lnet_input": m}})
        for m in results.PAPER_TABLE6_LNET_INPUT)),
    "7": Table("7", "Inference cropping of the adaptive model",
               (Row("Adaptive", "adaptive", {"model": AZ}),), crops=True),
    # Beyond the paper.
    "4u": Table("4u", "θ parameterisation with actors anywhere (synth.placement: uniform)",
                _theta_rows(), overrides={"synth": {"placement": "uniform"}}, synthetic_only=True),
    "oracle": Table("oracle", "Crops from the true figure box, trained end to end", (
        Row("Centre crop", "baseline", {"model": BASELINE}),
        Row("Adaptive", "adaptive", {"model": AZ}, compare_to="Centre crop"),
        Row("Oracle box", "oracle", {"model": BASELINE, "train": {"theta_source": "oracle"}},
            compare_to="Centre crop"),
        Row("Oracle scale (centred)", "oracle_scale",
            {"model": BASELINE, "train": {"theta_source": "oracle_scale"}},
            compare_to="Centre crop"),
    ), synthetic_only=True),
}
TABLE_IDS = tuple(TABLES)
CROP_LABELS = {**results.PAPER_TABLE7_LABELS, "oracle": "Oracle box (beyond the paper)",
               "oracle_scale": "Oracle scale, centred (beyond the paper)"}


@dataclass
class PlannedRun:
    table: str
    row: Row
    dataset: str
    split: object
    seed: int
    config: dict
    pretrain: dict | None = None   # the pretraining run this one fine-tunes from

    @property
    def hash(self) -> str:
        return records.config_hash(self.config)


# --- planning ---------------------------------------------------------------------------------

def _backbone_names(profile_cfg: dict) -> dict:
    return {**results.BACKBONE_NAMES, **(profile_cfg.get("experiments", {}).get("backbones") or {})}


def _ablation_backbone(profile_cfg: dict) -> str:
    exp = profile_cfg.get("experiments", {})
    return exp.get("ablation_backbone") or _backbone_names(profile_cfg)["R(2+1)D"]


def _dataset_root(profile_cfg: dict, dataset: str):
    """Where a real dataset lives: ``experiments.data_roots[dataset]``, else ``data_root/<dataset>``
    (DATA_ROOT holding one folder per dataset), else ``data_root`` itself for the profile's own
    dataset (DATA_ROOT pointing straight at it)."""
    roots = profile_cfg.get("experiments", {}).get("data_roots") or {}
    if dataset in roots:
        return roots[dataset]
    root = profile_cfg.get("data_root")
    if not root or dataset == "synthactions":
        return root
    nested = Path(root) / dataset
    if dataset == profile_cfg.get("dataset") and not nested.is_dir():
        return root
    return str(nested)


def pretrain_config(run: dict, profile_cfg: dict) -> dict:
    """The pretraining run for ``run``'s backbone (SynthActions-Pretrain, centre-crop baseline)."""
    from azlib.datasets.synthetic import synth_config
    from azlib.train import run_config

    section = copy.deepcopy(profile_cfg.get("pretrain") or {})
    training = {k: section.pop(k) for k in ("train", "clip", "model", "seed") if k in section}
    synth = synth_config({**profile_cfg, "pretrain": section}, pretrain=True)
    overrides = {"synth": synth, "train": {**training.get("train", {}), "theta_source": "model"},
                 "clip": training.get("clip", {}),
                 "model": {**training.get("model", {}), **BASELINE, "pretrained": None,
                           "backbone": run["model"]["backbone"], "width": run["model"]["width"]}}
    base = deep_merge({k: v for k, v in profile_cfg.items() if k != "synth"}, {"synth": {}})
    pre = run_config(deep_merge(base, overrides), dataset="synthactions", split=1,
                     seed=int(training.get("seed", 0)), kind="pretrain")
    pre["synth"] = synth
    return pre


def pretrained_weights(pre: dict) -> str:
    """``model.pretrained`` of a fine-tuning run: a reference to its pretraining run."""
    return records.run_reference(pre)


def plan(table_id, profile_cfg: dict, out_dir, seeds=None) -> list[PlannedRun]:
    """Every run of one table under ``profile_cfg`` (no work is done)."""
    from azlib.train import run_config

    table_id = str(table_id)
    if table_id not in TABLES:
        raise ConfigError(f"--table: unknown table {table_id!r}; expected one of {', '.join(TABLE_IDS)}")
    table = TABLES[table_id]
    synthetic = profile_cfg.get("dataset") == "synthactions"
    if table.synthetic_only and not synthetic:
        raise ConfigError(f"table {table_id}: needs dataset synthactions (profile has "
                          f"{profile_cfg.get('dataset')!r})")
    exp = profile_cfg.get("experiments", {})
    seeds = list(seeds if seeds is not None else exp.get("seeds") or profile_cfg.get("seeds") or [0])
    splits = list(profile_cfg.get("splits") or [1])
    if synthetic:  # SynthActions stands in for every paper dataset (labelled as such)
        cells = [("synthactions", s) for s in (splits if table.main else splits[:1])]
    elif table.main:
        cells = [(d, s) for d in table.paper_datasets
                 for s in (splits if not d.startswith("kinetics") else [1])]
    else:
        cells = [("hmdb51", 1)]
    names = _backbone_names(profile_cfg)
    pretrain_on = bool((profile_cfg.get("pretrain") or {}).get("enabled"))
    planned = []
    for row in table.rows:
        backbone = names[row.backbone] if row.backbone else _ablation_backbone(profile_cfg)
        overrides = deep_merge(deep_merge(table.overrides, row.overrides),
                               {"model": {"backbone": backbone}})
        for dataset, split in cells:
            cfg = deep_merge(profile_cfg, {"data_root": _dataset_root(profile_cfg, dataset)})
            for seed in seeds:
                run = run_config(cfg, overrides, dataset=dataset, split=split, seed=seed)
                pre = None
                if pretrain_on and run["model"].get("pretrained") is None:
                    pre = pretrain_config(run, profile_cfg)
                    run["model"]["pretrained"] = pretrained_weights(pre)
                planned.append(PlannedRun(table_id, row, dataset, split, seed, run, pre))
    return planned


def attach_pretraining(run: dict, profile_cfg: dict, out_dir, progress: bool = True) -> dict:
    """Train (or reuse) the pretraining run for ``run`` and point ``model.pretrained`` at it."""
    pre = pretrain_config(run, profile_cfg)
    ensure_pretrained(pre, out_dir, progress=progress)
    run = copy.deepcopy(run)
    run["model"]["pretrained"] = pretrained_weights(pre)
    return run


def ensure_pretrained(pre: dict, out_dir, progress: bool = True) -> dict:
    """A pretraining run with its weights on disk (records without weights are retrained)."""
    from azlib.train import train_run

    folder = records.run_dir(out_dir, pre)
    if records.is_complete(folder) and not (folder / records.BACKBONE_WEIGHTS_FILE).is_file():
        (folder / records.METRICS_FILE).unlink(missing_ok=True)  # a record without weights: redo
    return train_run(pre, out_dir, progress=progress)


# --- running ----------------------------------------------------------------------------------

def _worker_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _run_job(kind: str, config: dict, out_dir, crops: bool, progress: bool = False) -> str:
    """One run of :func:`run_table`, a pretraining or a (fine-)tuning one; in a worker process
    it shows no progress bar of its own (the table's bar counts)."""
    from azlib.train import train_run

    if kind == "pretrain":
        ensure_pretrained(config, out_dir, progress=progress)
    else:
        train_run(config, out_dir, crops=crops, progress=progress)
    return records.config_hash(config)


def _jobs(profile_cfg: dict, jobs) -> int:
    """How many runs go side by side: ``--jobs``, else ``experiments.jobs``, else 1; always 1 under
    torchrun (the ranks already share each run)."""
    value = jobs if jobs is not None else (profile_cfg.get("experiments") or {}).get("jobs", 1)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"experiments.jobs / --jobs: {value!r} must be a positive integer")
    return 1 if int(os.environ.get("WORLD_SIZE", "1")) > 1 else value


def _run_all(work: list, out_dir, jobs: int, desc: str, progress: bool) -> None:
    """Run ``work`` ([(kind, config, crops, label)]) one after the other, or in ``jobs`` processes.

    Runs are independent and each seeds itself, so the records are the same either way (on one
    intra-op thread per process: set OMP_NUM_THREADS=1, as make does).
    """
    from tqdm import tqdm  # text bars everywhere: tqdm.auto warns in kernels without ipywidgets

    if not work:
        return
    bar = tqdm(total=len(work), desc=desc, unit="run",
               disable=not progress or int(os.environ.get("RANK", "0")) != 0)
    if jobs <= 1 or len(work) <= 1:
        for kind, config, crops, label in work:
            bar.set_postfix_str(label)
            _run_job(kind, config, out_dir, crops, progress)
            bar.update()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        import torch

        # spawn: a fresh interpreter per worker (forking a process that holds torch's thread
        # pools can deadlock); each worker keeps this process's intra-op thread count, so its
        # floating-point sums (and numbers) are those of a serial run; a failed run raises here
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_worker_threads,
                                 initargs=(torch.get_num_threads(),)) as pool:
            futures = {pool.submit(_run_job, kind, config, str(out_dir), crops): label
                       for kind, config, crops, label in work}
            for future in as_completed(futures):
                future.result()
                bar.set_postfix_str(futures[future])
                bar.update()
    bar.close()


def run_table(table_id, profile_cfg: dict, out_dir, seeds=None, progress: bool = True,
              dry_run: bool = False, jobs: int | None = None) -> dict:
    """Run what is missing of one table, reuse the rest; write ``tables/table<id>.json``.

    ``jobs`` (default ``experiments.jobs``): runs trained side by side in separate processes,
    pretraining runs first (the fine-tuning runs load their weights).
    """
    from azlib.train import validate

    started = time.perf_counter()
    planned = plan(table_id, profile_cfg, out_dir, seeds)
    for p in planned:  # every field checked before any work
        if p.pretrain:
            validate(p.pretrain)
        validate(p.config, check_files=p.pretrain is None, out_dir=out_dir)
    table = TABLES[str(table_id)]
    unique = {p.hash: p for p in planned}
    pretrains = {records.config_hash(p.pretrain): p.pretrain for p in planned if p.pretrain}
    crops_missing = lambda p: table.crops and not (records.run_dir(out_dir, p.config) / records.CROPS_FILE).is_file()
    todo = [p for p in unique.values()
            if not records.is_complete(records.run_dir(out_dir, p.config)) or crops_missing(p)]
    pre_todo = [h for h, pre in pretrains.items()
                if not (records.run_dir(out_dir, pre) / records.BACKBONE_WEIGHTS_FILE).is_file()]
    say = print if int(os.environ.get("RANK", "0")) == 0 else (lambda *a, **k: None)
    say(f"table {table_id} ({profile_cfg.get('profile')}): {len(unique)} runs, "
          f"{len(unique) - len(todo)} reused, {len(todo)} to run; pretraining: "
          f"{len(pretrains) - len(pre_todo)} reused, {len(pre_todo)} to run; out={out_dir}")
    if dry_run:
        return {"table": str(table_id), "runs": len(unique), "todo": len(todo)}
    jobs = _jobs(profile_cfg, jobs)
    if jobs > 1 and len(pre_todo) + len(todo) > 1:
        from azlib.train import prepare_shared_inputs
        prepare_shared_inputs([pretrains[h] for h in pre_todo] + [p.config for p in todo], out_dir,
                              workers=jobs, progress=progress)
    _run_all([("pretrain", pretrains[h], False, f"pretraining {pretrains[h]['model']['backbone']}")
              for h in pre_todo], out_dir, jobs, f"table {table_id} pretraining", progress)
    _run_all([("train", p.config, table.crops, f"{p.row.label} {p.dataset}/{p.split} seed {p.seed}")
              for p in todo], out_dir, jobs, f"table {table_id}", progress)
    summary = table_record(table_id, profile_cfg, out_dir, seeds)
    summary["invocation_time_s"] = round(time.perf_counter() - started, 2)
    record_path = Path(out_dir) / "tables" / f"table{table_id}.json"
    if not todo and not pre_todo and record_path.is_file():
        # nothing ran: keep the wall time of the call that computed these runs, not this reuse
        earlier = records.read_json(record_path)
        if earlier.get("runs") == summary["runs"] and "invocation_time_s" in earlier:
            summary["invocation_time_s"] = earlier["invocation_time_s"]
    if int(os.environ.get("RANK", "0")) == 0:
        records.write_json(record_path, summary)
    return summary


def table_record(table_id, profile_cfg: dict, out_dir, seeds=None) -> dict:
    """Which runs make the table and the measured wall time of all of them (pretraining included)."""
    planned = plan(table_id, profile_cfg, out_dir, seeds)
    hashes = sorted({p.hash for p in planned})
    pre_hashes = sorted({records.config_hash(p.pretrain) for p in planned if p.pretrain})
    total, done = 0.0, 0
    for h in hashes + pre_hashes:
        folder = Path(out_dir) / "runs" / h
        if records.is_complete(folder):
            done += 1
            total += records.read_json(folder / records.METRICS_FILE).get("wall_time_s", 0.0)
            crops = folder / records.CROPS_FILE
            if crops.is_file() and TABLES[str(table_id)].crops:
                total += records.read_json(crops).get("wall_time_s", 0.0)
    return {"table": str(table_id), "profile": profile_cfg.get("profile"), "runs": hashes,
            "pretraining_runs": pre_hashes, "complete": done,
            "missing": len(hashes) + len(pre_hashes) - done, "wall_time_s": round(total, 2)}


# --- our tables -------------------------------------------------------------------------------

DATASET_LABELS = {"synthactions": "SynthActions", "hmdb51": "HMDB51", "ucf101": "UCF101",
                  "kinetics_temporal": "Kinetics-32 Temporal", "kinetics_static": "Kinetics-32 Static"}
_PAPER_MAIN = {"1": results.PAPER_TABLE1_HMDB51, "2": results.PAPER_TABLE2_UCF101,
               "3": results.PAPER_TABLE3_KINETICS32}
_PAPER_SMALL = {"4": results.PAPER_TABLE4_THETA, "5": results.PAPER_TABLE5_AUGMENT,
                "6": results.PAPER_TABLE6_LNET_INPUT, "4u": results.PAPER_TABLE4_THETA}


def _paper_figure(table_id: str, row: Row, dataset: str, split) -> tuple[float, float]:
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


def _correct(folder: Path, variant=None) -> np.ndarray:
    pred = records.load_predictions(folder, variant)
    return records.topk_correct(pred["scores"], pred["labels"], 1).astype(float)


def _summary(values_top1, values_top5) -> dict:
    # Accuracies are percentages: a t-interval over few seeds can overshoot [0, 100]; clip it.
    m1, lo1, hi1 = (float(v) for v in np.clip(records.t_interval(values_top1), 0.0, 100.0))
    m5, lo5, hi5 = (float(v) for v in np.clip(records.t_interval(values_top5), 0.0, 100.0))
    return {"seeds": len(values_top1), "top1": m1, "top1_lo": lo1, "top1_hi": hi1,
            "top5": m5, "top5_lo": lo5, "top5_hi": hi5}


def table(table_id, out_dir, profile="cpu", seeds=None, overrides=None) -> pd.DataFrame:
    """Our Table ``table_id`` from the finished runs: mean and 95 % t-interval over seeds, the
    paired bootstrap difference to the compared row (per-video top-1 correctness pooled over
    seeds), and the paper's figure beside ours. ``attrs`` name the dataset and profile."""
    profile_cfg = profile if isinstance(profile, dict) else load_profile(profile, overrides)
    table_id = str(table_id)
    planned = plan(table_id, profile_cfg, out_dir, seeds)
    spec = TABLES[table_id]
    out_dir = Path(out_dir)
    rows, correct = [], {}
    groups: dict = {}
    for p in planned:
        groups.setdefault((p.row.label, p.dataset, p.split), []).append(p)
    for (label, dataset, split), group in groups.items():
        folders = [records.run_dir(out_dir, p.config) for p in group]
        done = [f for f in folders if records.is_complete(f)]
        row = group[0].row
        where = {"dataset": DATASET_LABELS.get(dataset, dataset), "split": split}
        if spec.crops:
            for variant in CROP_LABELS:
                got = [records.read_json(f / records.CROPS_FILE)["variants"].get(variant)
                       for f in done if (f / records.CROPS_FILE).is_file()]
                got = [g for g in got if g]
                if not got:
                    continue
                paper = results.PAPER_TABLE7_CROPS.get(variant, (float("nan"),) * 2)
                rows.append({"row": CROP_LABELS[variant], **where,
                             **_summary([g["top1"] for g in got], [g["top5"] for g in got]),
                             "paper_top1": paper[0], "paper_top5": paper[1]})
            continue
        metrics = [records.read_json(f / records.METRICS_FILE) for f in done]
        paper = _paper_figure(table_id, row, dataset, split)
        entry = {"row": label, **where,
                 **_summary([m["top1"] for m in metrics], [m["top5"] for m in metrics]),
                 "paper_top1": paper[0], "paper_top5": paper[1]}
        if done:  # per-video correctness averaged over seeds (same test videos in every seed)
            correct[(label, dataset, split)] = np.mean([_correct(f) for f in done], axis=0)
        rows.append(entry)
        if row.compare_to:
            base = correct.get((row.compare_to, dataset, split))
            ours = correct.get((label, dataset, split))
            if base is not None and ours is not None:
                d, lo, hi = records.paired_bootstrap(base, ours, seed=0)
                entry.update({"vs": row.compare_to, "diff_top1": d, "diff_lo": lo, "diff_hi": hi})
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame = frame.set_index("row")
    datasets = sorted({p.dataset for p in planned})
    frame.attrs.update({
        "table": table_id, "title": spec.title, "profile": profile_cfg.get("profile"),
        "dataset": ", ".join(DATASET_LABELS.get(d, d) for d in datasets),
        "paper_dataset": results.paper_table(int(table_id)).attrs["dataset"]
        if table_id.isdigit() else "(beyond the paper)",
        "runs_missing": sum(not records.is_complete(records.run_dir(out_dir, p.config)) for p in planned),
    })
    return frame


# --- CLI --------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser, command: str = "experiments") -> None:
    parser.add_argument("--profile", default="cpu", help="params/<profile>.yaml (default cpu)")
    parser.add_argument("--table", action="append", default=None,
                        help=f"table(s) to run: {', '.join(TABLE_IDS)} (default: experiments.tables)")
    parser.add_argument("--out", default=None, help="results folder (default results/<profile>)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--dry-run", action="store_true", help="only say what would run")
    parser.add_argument("--jobs", type=int, default=None,
                        help="runs trained side by side, one process each (default experiments.jobs, "
                             "else 1); with OMP_NUM_THREADS=1, one per core")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from azlib.train import parse_sets

    profile_cfg = load_profile(args.profile, parse_sets(args.sets))
    out = Path(args.out or Path("results") / args.profile)
    tables = args.table or [str(t) for t in profile_cfg.get("experiments", {}).get("tables", [])]
    for t in tables:  # unknown table ids stop before any work
        plan(t, profile_cfg, out, args.seeds)
    main_process = int(os.environ.get("RANK", "0")) == 0  # under torchrun, rank 0 reports
    for t in tables:
        summary = run_table(t, profile_cfg, out, seeds=args.seeds, progress=not args.no_progress,
                            dry_run=args.dry_run, jobs=args.jobs)
        if not args.dry_run and main_process:
            print(f"table {t}: {summary['complete']} runs complete, measured wall time "
                  f"{summary['wall_time_s']:.1f} s (this call {summary['invocation_time_s']:.1f} s)")
            frame = table(t, out, profile_cfg, seeds=args.seeds)
            print(f"Table {t}: {frame.attrs['title']} -- ours on {frame.attrs['dataset']} "
                  f"(profile {frame.attrs['profile']}); paper on {frame.attrs['paper_dataset']}")
            print(frame.round(2).to_string())
    return 0
