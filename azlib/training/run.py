"""One run end to end: data, model, training, evaluation, and the run's record.

:func:`train_run` is the whole recipe (CoViAR's ``train.py`` on one screen); the helpers below it
prepare the data, build the model and write the record. The record's folder and files are
described in :mod:`azlib.records`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from azlib import records
from azlib.config import RunSpec
from azlib.datasets.check import DatasetCheck, check_dataset
from azlib.datasets.clips import ClipDataset
from azlib.datasets.splits import DatasetIndex, carve_validation
from azlib.datasets.synthetic import dataset_root, generate
from azlib.errors import ConfigError, DataError
from azlib.files import read_json, write_json
from azlib.models.az import build_model
from azlib.models.backbones import backbone_stats
from azlib.provenance import RUN_CODE, environment, fingerprint, git_state
from azlib.settings import to_dict
from azlib.store import LNetInputStore
from azlib.training.distributed import Dist, barrier, init_distributed
from azlib.training.evaluate import (accuracy, evaluate, evaluate_crops, mean_scale, save_predictions,
                                     theta_for)
from azlib.training.fit import fit
from azlib.training.state import load_checkpoint, save_weights, seed_everything


def train_run(spec: RunSpec, out_dir, *, crops=False, progress: bool = True,
              on_epoch_end=None, ctx: Dist | None = None) -> dict:
    """Train and evaluate ``spec``, or reuse its finished record; returns its metrics.

    Writes ``config.json`` first and ``metrics.json`` last; ``crops`` adds the Table 7 crop
    variants (``crops.json``, ``predictions_<variant>.npz``), computed from the saved weights
    when the run itself is already finished: ``True``, or the (sx, sy) mean scale of an adaptive
    model for the centre crop at the mean adaptive ratio (a baseline's Table 7).
    """
    folder = records.run_dir(out_dir, spec)
    done = records.is_complete(folder)
    if done and not (crops and not (folder / records.CROPS_FILE).is_file()):
        return read_json(folder / records.METRICS_FILE)
    ctx = ctx or init_distributed(spec.device)
    started, began = time.perf_counter(), _now()
    if ctx.main:
        write_json(folder / records.CONFIG_FILE, to_dict(spec))
    data = prepare_data(spec, out_dir, ctx=ctx, progress=progress)
    seed_everything(spec.seed)
    model = make_model(spec, len(data.index.classes), out_dir)
    eval_options = dict(batch_size=max(1, spec.train.batch_size // ctx.world), ctx=ctx,
                        progress=progress, workers=spec.clip.workers)
    frame_hw = tuple(spec.clip.resize)
    if done:  # only the crop variants are missing: they need the trained weights
        metrics = read_json(folder / records.METRICS_FILE)
        model.load_state_dict(load_checkpoint(folder / records.CHECKPOINT_FILE)["model"])
    else:
        summary = fit(model, data.train, spec.train, folder, seed=spec.seed, frame_hw=frame_hw,
                      workers=spec.clip.workers, ctx=ctx, on_epoch_end=on_epoch_end, progress=progress)
        eval_started = time.perf_counter()
        source = spec.train.theta_source
        theta_fn = None if source == "model" else (lambda batch: theta_for(batch, source, frame_hw))
        predictions = evaluate(model, data.test, len(data.index.test), len(data.index.classes),
                               theta_fn=theta_fn, amp_bf16=spec.train.amp_bf16, **eval_options)
        held_out = None
        if data.validation is not None:  # after the test set: the test numbers do not depend on it
            held_out = evaluate(model, data.validation, len(data.index.validation), len(data.index.classes),
                                theta_fn=theta_fn, amp_bf16=spec.train.amp_bf16, **eval_options)
        metrics = run_metrics(spec, data, summary, predictions, ctx,
                              eval_time_s=time.perf_counter() - eval_started)
        if held_out is not None:
            metrics.update({f"validation_{k}": v for k, v in accuracy(held_out).items()},
                           num_validation=len(data.index.validation))
        if ctx.main:
            save_predictions(folder / records.PREDICTIONS_FILE, predictions, data.test_names)
            if held_out is not None:
                save_predictions(folder / records.VALIDATION_PREDICTIONS_FILE, held_out,
                                 [r.name for r in data.index.validation])
            if spec.kind == "pretrain":
                save_weights(folder / records.BACKBONE_WEIGHTS_FILE, getattr(model, "backbone", model).state_dict())
    if crops:
        crop_started = time.perf_counter()
        adaptive_scale = tuple(crops) if isinstance(crops, (tuple, list)) else None
        variants = evaluate_crops(model, data.test, len(data.index.test), len(data.index.classes),
                                  frame_hw, seed=spec.seed, has_boxes=spec.synthetic,
                                  adaptive_scale=adaptive_scale, **eval_options)
        if ctx.main:
            write_crops(folder, variants, data.test_names, time.perf_counter() - crop_started,
                        adaptive_scale)
    # measured wall time: this call (data, training, evaluation) plus training before a resume
    metrics.setdefault("wall_time_s", round(time.perf_counter() - started
                                            + metrics.get("resumed_train_time_s", 0.0), 2))
    if ctx.main:
        if not done:
            write_provenance(folder, spec, data.check, ctx, began, metrics["wall_time_s"])
        write_json(folder / records.METRICS_FILE, metrics)
    return metrics


# --- data -------------------------------------------------------------------------------------

@dataclass
class Data:
    root: Path
    check: DatasetCheck
    index: DatasetIndex
    train: torch.utils.data.Dataset
    test: torch.utils.data.Dataset
    validation: torch.utils.data.Dataset | None = None   # when the run holds groups out

    @property
    def test_names(self) -> list[str]:
        return [r.name for r in self.index.test]


def reads_lnet_input(spec: RunSpec) -> bool:
    """Whether a run reads the LNet input (residuals / MVs / grey): a fixed crop or an oracle
    crop (``model.zoom: none``) never does, so baselines need no extraction."""
    return spec.model.zoom != "none"


def data_root(spec: RunSpec, out_dir) -> Path:
    """The dataset's folder: ``data_root``, or SynthActions' own folder under ``out_dir``."""
    if spec.synthetic and not spec.data_root:
        return dataset_root(out_dir, spec.synth)
    if not spec.data_root:
        raise ConfigError(f"data_root: dataset {spec.dataset!r} needs a data root; pass "
                          "DATA_ROOT=/path (make) or --set data_root=/path")
    return Path(spec.data_root)


def check_data(spec: RunSpec, out_dir, workers: int = 1, progress: bool = True) -> DatasetCheck:
    """The dataset check of ``spec``'s data (generating SynthActions first when it is missing)."""
    root = data_root(spec, out_dir)
    if spec.synthetic and not spec.data_root:
        generate(root, spec.synth, progress=progress)
    expected = spec.dataset_classes or (spec.synth.num_classes if spec.synthetic else None)
    return check_dataset(spec.dataset, root, spec.split, min_frames=spec.clip.span,
                         cache_dir=Path(out_dir) / "cache", allow_missing=spec.allow_missing,
                         expected_classes=expected, workers=workers, progress=progress)


def lnet_store(spec: RunSpec, out_dir) -> LNetInputStore:
    return LNetInputStore(Path(out_dir) / "cache" / "lnet", scale=spec.extract.scale,
                          accumulated=spec.extract.accumulated, min_frames=spec.clip.span)


def prepare_data(spec: RunSpec, out_dir, ctx: Dist | None = None, progress: bool = True) -> Data:
    """Check the dataset (rank 0 first: it may generate SynthActions) and build the train, test
    and (``validation`` > 0: held-out training groups) validation clip datasets of its usable
    videos."""
    ctx = ctx or Dist()
    if not ctx.main:
        barrier(ctx)
    check = check_data(spec, out_dir, progress=progress and ctx.main)
    if ctx.main:
        barrier(ctx)
    if spec.data_id is not None and check.identity() != spec.data_id:
        raise DataError(f"{check.root}: the dataset changed since this run was planned (content "
                        f"{check.identity()}, planned {spec.data_id}); plan the run again")
    index = carve_validation(check.index(), spec.validation, spec.split)
    store = lnet_store(spec, out_dir) if reads_lnet_input(spec) else None
    mean, std = backbone_stats(spec.model.backbone)
    clip = spec.clip
    common = dict(frames=clip.frames, stride=clip.stride, size=clip.resize, test_clips=clip.test_clips,
                  store=store, modality=spec.model.lnet_input, mean=mean, std=std, seed=spec.seed,
                  boxes_root=check.root if spec.synthetic else None, num_classes=len(index.classes))
    # loader processes start afresh each epoch: a cache only outlives one in this process
    cache_bytes = clip.cache_mib * 2**20 if clip.workers == 0 else 0
    train_set = ClipDataset(index.train, train=True, cache_bytes=cache_bytes, **common)
    return Data(Path(check.root), check, index, train_set,
                ClipDataset(index.test, train=False, **common),
                ClipDataset(index.validation, train=False, **common) if index.validation else None)


# --- model ------------------------------------------------------------------------------------

def make_model(spec: RunSpec, num_classes: int, out_dir) -> torch.nn.Module:
    """The run's model; ``model.pretrained: run:<key>`` is that run's backbone in ``out_dir``."""
    settings = to_dict(spec.model)
    settings["pretrained"] = records.resolve_weights(spec.model.pretrained, out_dir)
    return build_model(num_classes=num_classes, crop=spec.clip.crop, frames=spec.clip.frames,
                       frame_size=tuple(spec.clip.resize), **settings)


# --- the record -------------------------------------------------------------------------------

def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_metrics(spec: RunSpec, data: Data, summary: dict, predictions: dict, ctx: Dist,
                eval_time_s: float) -> dict:
    return {**accuracy(predictions), "key": records.run_key(spec), "kind": spec.kind,
            "dataset": spec.dataset, "split": spec.split, "seed": spec.seed,
            "epochs": summary["epochs"],
            "final_loss": summary["log"][-1]["loss"] if summary["log"] else None,
            "num_train": len(data.index.train), "num_test": len(data.index.test),
            "num_classes": len(data.index.classes), "mean_scale": list(mean_scale(predictions)),
            "train_time_s": round(summary["train_time_s"], 2),
            "resumed_train_time_s": round(summary["resumed_train_time_s"], 2),
            "eval_time_s": round(eval_time_s, 2)}


def write_provenance(folder: Path, spec: RunSpec, check: DatasetCheck, ctx: Dist, started: str,
                     wall_time_s: float) -> None:
    """What produced the run: code, commit, machine, times, and the videos it left out."""
    write_json(folder / records.PROVENANCE_FILE, {
        "key": folder.name, "spec_key": records.spec_key(spec), "fingerprint": fingerprint(RUN_CODE),
        **git_state(), "environment": environment(), "world_size": ctx.world,
        "device": str(ctx.device), "started": started, "finished": _now(),
        "wall_time_s": wall_time_s, "dataset": check.summary(),
        "excluded_videos": check.excluded(), "command": " ".join(sys.argv)})


def write_crops(folder: Path, variants: dict, names: list[str], seconds: float,
                adaptive_scale=None) -> None:
    for variant, predictions in variants.items():
        save_predictions(folder / f"predictions_{variant}.npz", predictions, names)
    write_json(folder / records.CROPS_FILE, {
        "variants": {v: accuracy(p) for v, p in variants.items()},
        "mean_scale": list(mean_scale(variants["adaptive"])), "wall_time_s": round(seconds, 2),
        "adaptive_scale": None if adaptive_scale is None else list(adaptive_scale)})
