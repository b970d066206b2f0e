"""Train and evaluate one configuration (Section 4.1): SGD, lr x0.1 on a loss plateau, one random
clip per video per epoch, N uniform clips per test video with softmax scores averaged.

Checkpoints every epoch (atomic) and resumes exactly; runs under ``torchrun`` with DDP
(NCCL on GPUs, gloo on CPU), e.g. on 8 GPUs::

    torchrun --standalone --nproc_per_node=8 -m azlib train --profile paper --set dataset=hmdb51

``python -m azlib train --profile smoke [--set key.sub=value ...]`` trains one configuration and
writes its record under ``results/<profile>/runs/<hash>/`` (see :mod:`azlib.records`).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler, Subset
from tqdm import tqdm  # text bars (tqdm.auto warns in a kernel without ipywidgets)

from azlib import records
from azlib.config import ConfigError, deep_merge, load_profile, require_choice

DATASETS = ("synthactions", "hmdb51", "ucf101", "kinetics_temporal", "kinetics_static")
LNETS = ("tiny", "efficientnet_b0")
OPTIMIZERS = ("sgd", "adamw")
ZOOMS = ("adaptive", "none")  # model.zoom: AdaptiveZoom, or the baseline's fixed crop
#: where θ comes from: the model (LNet / fixed crop), or the generator's true figure box
THETA_SOURCES = ("model", "oracle", "oracle_scale")
#: Table 7's inference-only crops (paper) plus the oracle crops (beyond the paper)
CENTRE_ALPHAS = (0.925, 0.875, 0.8, 0.75, 0.6)
CROP_VARIANTS = (("random",) + tuple(f"centre_{a}" for a in CENTRE_ALPHAS)
                 + ("centre_mean_adaptive", "adaptive", "oracle", "oracle_scale"))
ORACLE_MARGIN = 1.15  # the oracle crop is the figure's box enlarged by this factor


class Interrupted(RuntimeError):
    """Raised by an ``on_epoch_end`` callback to stop a run (tests of resume)."""


# --- configuration ----------------------------------------------------------------------------

def run_config(profile_cfg: dict, overrides: dict | None = None, *, dataset: str | None = None,
               split=None, seed: int | None = None, kind: str = "train") -> dict:
    """The full configuration of one run: what its hash is computed from.

    Profile-level conveniences are resolved here so the record is explicit: X3D's own input size
    (``model.x3d``), Kinetics' learning rate (``train.lr_kinetics``).
    """
    cfg = deep_merge(profile_cfg, overrides)
    dataset = dataset or cfg["dataset"]
    model = copy.deepcopy(cfg["model"])
    clip = copy.deepcopy(cfg["clip"])
    train = copy.deepcopy(cfg["train"])
    x3d = model.pop("x3d", None)
    if x3d and str(model.get("backbone", "")).startswith("x3d"):
        clip.update(x3d)
    lr_kinetics = train.pop("lr_kinetics", None)
    if lr_kinetics is not None and str(dataset).startswith("kinetics"):
        train["lr"] = lr_kinetics
    # keys older profiles lack, filled so that absent and default give the same hash
    model.setdefault("zoom", "adaptive")
    train.setdefault("theta_source", "model")
    train.setdefault("warmup_epochs", 0)
    train.setdefault("lnet_lr_mult", 1.0)
    run = {
        "kind": kind,
        "profile": cfg.get("profile"),
        "dataset": dataset,
        "split": split if split is not None else (cfg.get("splits") or [1])[0],
        "seed": int(cfg.get("seed", 0) if seed is None else seed),
        "data_root": cfg.get("data_root"),
        "device": cfg.get("device", "cpu"),
        "extract": cfg["extract"],
        "clip": clip,
        "model": model,
        "train": train,
    }
    if dataset == "synthactions":
        run["synth"] = cfg["synth"]
    return run


def validate(run: dict, check_files: bool = True, out_dir=None) -> dict:
    """Stop before any work when a field has a bad value; the message names the field.

    ``check_files=False`` skips the check of ``model.pretrained`` (a planned pretraining run
    will write it)."""
    from azlib.models.backbones import BACKBONES
    from azlib.models.zoom import THETA_MODES
    from azlib.store import LNET_CHANNELS

    model, train = run["model"], run["train"]
    require_choice(run["dataset"], "dataset", DATASETS)
    require_choice(model["backbone"], "model.backbone", tuple(BACKBONES))
    require_choice(model["zoom"], "model.zoom", ZOOMS)
    require_choice(model["theta_mode"], "model.theta_mode", THETA_MODES)
    require_choice(model["lnet_input"], "model.lnet_input", tuple(LNET_CHANNELS))
    require_choice(model["lnet"], "model.lnet", LNETS)
    require_choice(train["optimizer"], "train.optimizer", OPTIMIZERS)
    require_choice(train["theta_source"], "train.theta_source", THETA_SOURCES)
    if train["theta_source"] != "model" and run["dataset"] != "synthactions":
        raise ConfigError(f"train.theta_source: {train['theta_source']!r} needs true boxes, which "
                          f"only synthactions has (dataset is {run['dataset']!r})")
    for field in ("lr", "batch_size", "epochs"):
        if not (isinstance(train.get(field), (int, float)) and train[field] > 0):
            raise ConfigError(f"train.{field}: expected a positive number, got {train.get(field)!r}")
    root = run.get("data_root")
    if run["dataset"] != "synthactions":
        if not root:
            raise ConfigError(f"data_root: dataset {run['dataset']!r} needs a data root; "
                              "pass DATA_ROOT=/path (make) or --set data_root=/path")
        if not Path(root).is_dir():
            raise ConfigError(f"data_root: {root} is not a directory; point it at the folder "
                              f"that holds {run['dataset']}")
        from azlib.datasets.splits import load_index

        try:  # reads the split files only: cheap, and it finds a root without the dataset
            load_index(run["dataset"], root, run["split"])
        except FileNotFoundError as error:
            raise ConfigError(f"data_root: {root} does not hold {run['dataset']} ({error})") from error
    else:
        from azlib.datasets.synthetic import validate as validate_synth

        validate_synth(run["synth"])
    pretrained = records.resolve_weights(model.get("pretrained"), out_dir or ".")
    if (check_files and pretrained and pretrained != "kinetics400"
            and not Path(pretrained).is_file()):
        raise ConfigError(f"model.pretrained: no weights file {pretrained}; train the pretraining "
                          "run first (python -m azlib experiments) or set model.pretrained=null")
    return run


# --- data and model ---------------------------------------------------------------------------

@dataclass
class Data:
    index: object  # azlib.datasets.splits.DatasetIndex
    train: torch.utils.data.Dataset
    test: torch.utils.data.Dataset
    root: Path


def synth_root(out_dir, synth_cfg: dict) -> Path:
    """Where SynthActions with these generator settings lives (one folder per setting)."""
    from azlib.datasets.synthetic import dataset_root

    return dataset_root(out_dir, synth_cfg)


def reads_lnet_input(run: dict) -> bool:
    """Whether ``run`` needs the LNet input (residuals / MVs / RGB maps): a fixed crop or an
    oracle crop (zoom none) never reads it, so baselines need no extraction."""
    return run["model"].get("zoom", "adaptive") != "none"


def prepare_data(run: dict, out_dir, progress: bool = True) -> Data:
    """Generate SynthActions if needed, load the split, and build the train and test datasets."""
    from azlib.datasets.clips import ClipDataset
    from azlib.datasets.splits import load_index
    from azlib.models.backbones import backbone_stats
    from azlib.store import LNetInputStore

    if run["dataset"] == "synthactions" and not run.get("data_root"):
        from azlib.datasets.synthetic import generate

        root = synth_root(out_dir, run["synth"])
        generate(root, run["synth"], workers=run["synth"].get("workers", 2), progress=progress)
    else:
        root = Path(run["data_root"])
    index = load_index(run["dataset"], root, run["split"])
    store = None
    if reads_lnet_input(run):
        store = LNetInputStore(Path(out_dir) / "cache" / "lnet", scale=run["extract"]["scale"],
                               accumulated=run["extract"]["accumulated"])
    mean, std = backbone_stats(run["model"]["backbone"])
    boxes_root = root if run["dataset"] == "synthactions" else None
    common = dict(clip_cfg=run["clip"], store=store, modality=run["model"]["lnet_input"],
                  mean=mean, std=std, seed=run["seed"], boxes_root=boxes_root)
    return Data(index=index, root=Path(root),
                train=ClipDataset(index.train, train=True, num_classes=len(index.classes), **common),
                test=ClipDataset(index.test, train=False, num_classes=len(index.classes), **common))


def prepare_shared_inputs(runs, out_dir, workers: int = 2, progress: bool = True) -> dict:
    """Generate the datasets and fill the LNet-input cache that ``runs`` share, once, before they
    run side by side: parallel runs then only read what is on disk and never extract a video twice.

    Returns {data key: store fill summary} (bad videos counted there, as :meth:`LNetInputStore.fill`).
    """
    summaries = {}
    for run in runs:
        key = json.dumps([run["dataset"], run.get("data_root"), run.get("synth"), run["split"],
                          run["extract"] if reads_lnet_input(run) else None], sort_keys=True, default=str)
        if key in summaries:
            continue
        data = prepare_data(run, out_dir, progress=progress)
        summaries[key] = {}
        if data.train.store is not None:
            videos = [r.path for r in list(data.index.train) + list(data.index.test)]
            summaries[key] = data.train.store.fill(videos, workers=workers, progress=progress)
    return summaries


def make_model(run: dict, num_classes: int, out_dir=".") -> torch.nn.Module:
    from azlib.models.az import build_model

    clip = run["clip"]
    model_cfg = {**run["model"], "pretrained": records.resolve_weights(run["model"].get("pretrained"), out_dir)}
    return build_model(model_cfg, num_classes, clip["crop"], frames=clip["frames"],
                       in_size=tuple(clip["resize"]))


# --- distributed ------------------------------------------------------------------------------

@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1 and dist.is_available() and dist.is_initialized()


def init_distributed(device: str = "cpu") -> Dist:
    """Join the process group torchrun describes (WORLD_SIZE > 1); NCCL on GPUs, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' but no GPU is visible; use --set device=cpu")
    if world <= 1:
        return Dist(0, 1, torch.device("cuda" if device == "cuda" else "cpu"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local_rank)
        torch_device = torch.device("cuda", local_rank)
    else:
        torch_device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), torch_device)


def _all_reduce(tensor: torch.Tensor, ctx: Dist, op=None) -> torch.Tensor:
    if ctx.active:
        dist.all_reduce(tensor, op=op or dist.ReduceOp.SUM)
    return tensor


# --- optimisation -----------------------------------------------------------------------------

def param_groups(model: torch.nn.Module, lr: float, lnet_lr_mult: float = 1.0) -> list[dict]:
    """Backbone at ``lr``, LNet at ``lr * lnet_lr_mult`` (when the model has an LNet)."""
    if hasattr(model, "lnet_parameters") and hasattr(model, "backbone_parameters"):
        lnet = [p for p in model.lnet_parameters() if p.requires_grad]
        lnet_ids = {id(p) for p in lnet}
        rest = [p for p in model.parameters() if p.requires_grad and id(p) not in lnet_ids]
        groups = [{"params": rest, "lr": lr, "name": "backbone"}]
        if lnet:
            groups.append({"params": lnet, "lr": lr * lnet_lr_mult, "name": "lnet"})
        return groups
    return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr,
             "name": "backbone"}]


def build_optimizer(model: torch.nn.Module, train_cfg: dict) -> torch.optim.Optimizer:
    groups = param_groups(model, train_cfg["lr"], train_cfg.get("lnet_lr_mult", 1.0))
    name = require_choice(train_cfg["optimizer"], "train.optimizer", OPTIMIZERS)
    if name == "sgd":
        optimizer = torch.optim.SGD(groups, lr=train_cfg["lr"], momentum=train_cfg["momentum"],
                                    weight_decay=train_cfg.get("weight_decay", 0.0))
    else:
        optimizer = torch.optim.AdamW(groups, lr=train_cfg["lr"],
                                      weight_decay=train_cfg.get("weight_decay", 0.0))
    for group in optimizer.param_groups:
        group["base_lr"] = group["lr"]  # warm-up ramps towards this
    return optimizer


def _warm_up(optimizer, step: int, warmup_steps: int) -> None:
    """Linear warm-up from base_lr/warmup_steps to base_lr over the first ``warmup_steps``."""
    if step < warmup_steps:
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * (step + 1) / warmup_steps


# --- θ from the true box (oracle crops) -------------------------------------------------------

def oracle_theta(box: torch.Tensor, frame_hw, translate: bool = True,
                 margin: float = ORACLE_MARGIN) -> torch.Tensor:
    """θ (B,2,3) of a square crop around the true figure box (normalised [-1,1] x0,y0,x1,y1).

    The side is the box's longer side in pixels times ``margin``. ``translate=False`` keeps the
    crop centred (the scale-only oracle), enlarged to still cover the box's offset.
    """
    if torch.isnan(box).any():
        raise ValueError("oracle crop: the dataset has no true box for some videos (box is NaN); "
                         "oracle crops need SynthActions")
    height, width = frame_hw
    box = box.float()
    x0, y0, x1, y1 = box.unbind(-1)
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    half_w_px, half_h_px = (x1 - x0) / 2 * width / 2, (y1 - y0) / 2 * height / 2
    if translate:
        half_side = torch.maximum(half_w_px, half_h_px) * margin
    else:  # centred square that still contains the box
        reach_x = (centre_x.abs() + (x1 - x0) / 2) * width / 2
        reach_y = (centre_y.abs() + (y1 - y0) / 2) * height / 2
        half_side = torch.maximum(reach_x, reach_y) * margin
        centre_x, centre_y = torch.zeros_like(centre_x), torch.zeros_like(centre_y)
    scale_x = (half_side / (width / 2)).clamp(max=1.0)
    scale_y = (half_side / (height / 2)).clamp(max=1.0)
    # keep the crop inside the frame
    centre_x = centre_x.clamp(-1 + scale_x, 1 - scale_x)
    centre_y = centre_y.clamp(-1 + scale_y, 1 - scale_y)
    zero = torch.zeros_like(scale_x)
    return torch.stack([torch.stack([scale_x, zero, centre_x], -1),
                        torch.stack([zero, scale_y, centre_y], -1)], -2)


def _theta_for(batch: dict, source: str, frame_hw) -> torch.Tensor | None:
    if source == "model":
        return None
    return oracle_theta(batch["box"], frame_hw, translate=(source == "oracle"))


# --- RNG state and checkpoints ----------------------------------------------------------------

def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path, state: dict) -> None:
    """``torch.save`` to a temporary name, then rename: a crash never leaves half a checkpoint."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


def _write_log(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    with open(tmp, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    os.replace(tmp, path)


# --- training ---------------------------------------------------------------------------------

def _autocast(ctx: Dist, enabled: bool):
    if not enabled:
        return nullcontext()
    return torch.autocast(ctx.device.type, dtype=torch.bfloat16)


def fit(model: torch.nn.Module, train_set, train_cfg: dict, run_folder, *, seed: int = 0,
        frame_hw=None, ctx: Dist | None = None,
        on_epoch_end: Callable[[int, dict], None] | None = None, progress: bool = True) -> dict:
    """Train ``model`` for ``train_cfg['epochs']``, resuming from ``run_folder/checkpoint.pt``.

    One random clip per video per epoch (the dataset's ``set_epoch``), data order from a
    ``DistributedSampler`` seeded by ``seed`` (also in one process). After every epoch the log
    row goes to ``log.jsonl`` and a checkpoint (model, optimizer, scheduler, RNG states) is saved,
    so a resumed run continues exactly where an uninterrupted one would. Returns a summary
    (``log``, ``train_time_s``) and leaves the trained weights in ``model``.
    """
    ctx = ctx or Dist()
    run_folder = Path(run_folder)
    run_folder.mkdir(parents=True, exist_ok=True)
    checkpoint_path = run_folder / records.CHECKPOINT_FILE
    model.to(ctx.device)
    optimizer = build_optimizer(model, train_cfg)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=0.1, patience=train_cfg.get("plateau_patience", 2))
    epochs = int(train_cfg["epochs"])
    start_epoch, log, train_time = 0, [], 0.0
    seed_everything(seed + ctx.rank)
    if checkpoint_path.is_file():
        state = torch.load(checkpoint_path, map_location=ctx.device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        plateau.load_state_dict(state["plateau"])
        start_epoch, log, train_time = state["epoch"] + 1, state["log"], state["train_time_s"]
        rngs = state["rng"]
        if len(rngs) == ctx.world:
            set_rng_state(rngs[ctx.rank])
        else:  # a different number of processes: continue reproducibly, not identically
            seed_everything(seed + 1000 * start_epoch + ctx.rank)
    resumed_time = train_time  # spent before this call (a resumed run's wall time includes it)
    if start_epoch >= epochs:
        return {"log": log, "train_time_s": train_time, "epochs": epochs,
                "resumed_train_time_s": resumed_time}

    net = model
    if ctx.active:
        theta_free = train_cfg.get("theta_source", "model") != "model"
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
            find_unused_parameters=theta_free)
    per_rank_batch = max(1, int(train_cfg["batch_size"]) // ctx.world)
    sampler = DistributedSampler(train_set, num_replicas=ctx.world, rank=ctx.rank, shuffle=True,
                                 seed=seed)
    loader = DataLoader(train_set, batch_size=per_rank_batch, sampler=sampler,
                        num_workers=int(train_cfg.get("workers", 0)))
    steps_per_epoch = len(loader)
    warmup_steps = int(round(train_cfg.get("warmup_epochs", 0) * steps_per_epoch))
    use_bf16 = bool(train_cfg.get("amp_bf16", False))
    source = train_cfg.get("theta_source", "model")

    for epoch in range(start_epoch, epochs):
        started = time.perf_counter()
        sampler.set_epoch(epoch)
        if hasattr(train_set, "set_epoch"):
            train_set.set_epoch(epoch)
        net.train()
        totals = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, samples
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", leave=False,
                   disable=not (progress and ctx.main))
        for step, batch in enumerate(bar):
            _warm_up(optimizer, epoch * steps_per_epoch + step, warmup_steps)
            rgb = batch["rgb"].to(ctx.device, non_blocking=True)
            lnet = batch["lnet"].to(ctx.device, non_blocking=True)
            label = batch["label"].to(ctx.device, non_blocking=True)
            theta = _theta_for(batch, source, frame_hw)
            with _autocast(ctx, use_bf16):
                out = net(rgb, lnet, None if theta is None else theta.to(ctx.device))
            logits = out["logits"].float()
            loss = F.cross_entropy(logits, label)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{run_folder}: the training loss is {loss.item()} at epoch {epoch + 1}, step "
                    f"{step + 1}; lower train.lr or set train.amp_bf16: false")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            n = label.shape[0]
            totals += torch.tensor([loss.item() * n, (logits.argmax(1) == label).sum().item(), n],
                                   dtype=torch.float64)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        _all_reduce(totals, ctx)
        mean_loss = float(totals[0] / totals[2])
        lrs = {g.get("name", str(i)): g["lr"] for i, g in enumerate(optimizer.param_groups)}
        if (epoch + 1) * steps_per_epoch > warmup_steps:  # no plateau decisions during warm-up
            plateau.step(mean_loss)
        elapsed = time.perf_counter() - started
        train_time += elapsed
        row = {"epoch": epoch + 1, "loss": mean_loss, "acc": float(100 * totals[1] / totals[2]),
               "lr": lrs, "time_s": round(elapsed, 3)}
        log.append(row)
        rngs = _gather_objects(rng_state(), ctx)
        if ctx.main:
            _write_log(run_folder / records.LOG_FILE, log)
            save_checkpoint(checkpoint_path, {
                "epoch": epoch, "model": _unwrap(model).state_dict(),
                "optimizer": optimizer.state_dict(), "plateau": plateau.state_dict(),
                "rng": rngs, "log": log, "train_time_s": train_time})
        if ctx.active:
            dist.barrier()
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    return {"log": log, "train_time_s": train_time, "epochs": epochs,
            "resumed_train_time_s": resumed_time}


def _gather_objects(value, ctx: Dist) -> list:
    if not ctx.active:
        return [value]
    gathered = [None] * ctx.world
    dist.all_gather_object(gathered, value)
    return gathered


# --- evaluation -------------------------------------------------------------------------------

def evaluate(model: torch.nn.Module, test_set, num_videos: int, num_classes: int, *,
             batch_size: int = 8, theta_fn: Callable[[dict], torch.Tensor | None] | None = None,
             ctx: Dist | None = None, amp_bf16: bool = False, progress: bool = True,
             desc: str = "test", workers: int = 0) -> dict:
    """Softmax scores averaged over each video's clips; every video counted once.

    Each process takes every ``world``-th video's clips (every ``world``-th clip when the dataset
    does not say how many clips a video has): no padding, no duplicates; per-video sums are then
    added across processes. ``theta_fn(batch)`` may return an explicit θ (crop variants).
    Returns numpy arrays: ``scores`` (V,C), ``labels`` (V,), ``clips`` (V,), ``theta`` (V,2,3)
    mean θ used, ``box`` (V,4) mean true box (NaN where unknown).
    """
    return evaluate_variants(model, test_set, num_videos, num_classes, {desc: theta_fn},
                             batch_size=batch_size, ctx=ctx, amp_bf16=amp_bf16, progress=progress,
                             desc=desc, workers=workers)[desc]


@torch.no_grad()
def evaluate_variants(model: torch.nn.Module, test_set, num_videos: int, num_classes: int,
                      theta_fns: dict, *, batch_size: int = 8, ctx: Dist | None = None,
                      amp_bf16: bool = False, progress: bool = True, desc: str = "test",
                      workers: int = 0) -> dict[str, dict]:
    """:func:`evaluate` for several θ choices in one pass over the data: {name: predictions}."""
    ctx = ctx or Dist()
    model.to(ctx.device).eval()
    clips_per_video = getattr(test_set, "n_clips", None)
    if clips_per_video:  # whole videos per process: a video's frames are decoded once
        mine = [i for i in range(len(test_set)) if (i // clips_per_video) % ctx.world == ctx.rank]
    else:
        mine = list(range(ctx.rank, len(test_set), ctx.world))
    loader = DataLoader(Subset(test_set, mine), batch_size=batch_size, shuffle=False,
                        num_workers=workers)
    clips = torch.zeros(num_videos, dtype=torch.float64)
    box_sum = torch.zeros(num_videos, 4, dtype=torch.float64)
    labels = torch.full((num_videos,), -1, dtype=torch.float64)
    scores = {name: torch.zeros(num_videos, num_classes, dtype=torch.float64) for name in theta_fns}
    theta_sum = {name: torch.zeros(num_videos, 6, dtype=torch.float64) for name in theta_fns}
    for batch in tqdm(loader, desc=desc, leave=False, disable=not (progress and ctx.main)):
        video = batch["video"].long()
        clips.index_add_(0, video, torch.ones(len(video), dtype=torch.float64))
        if "box" in batch:
            box_sum.index_add_(0, video, batch["box"].double())
        labels[video] = batch["label"].double()
        rgb, lnet = batch["rgb"].to(ctx.device), batch["lnet"].to(ctx.device)
        for name, theta_fn in theta_fns.items():
            theta = theta_fn(batch) if theta_fn is not None else None
            with _autocast(ctx, amp_bf16):
                out = model(rgb, lnet, None if theta is None else theta.to(ctx.device))
            probs = out["logits"].float().softmax(dim=1).double().cpu()
            scores[name].index_add_(0, video, probs)
            used = out.get("theta") if out.get("theta") is not None else theta
            if used is not None:
                theta_sum[name].index_add_(0, video, used.detach().float().reshape(-1, 6).double().cpu())
    for tensor in (clips, box_sum, *scores.values(), *theta_sum.values()):
        _all_reduce(tensor, ctx)
    _all_reduce(labels, ctx, dist.ReduceOp.MAX if ctx.active else None)
    if (clips == 0).any():
        missing = int((clips == 0).sum())
        raise RuntimeError(f"evaluation: {missing} test videos have no clip; the test set and "
                           f"num_videos={num_videos} disagree")
    per_clip = clips[:, None]
    return {name: {"scores": (scores[name] / per_clip).numpy(), "labels": labels.long().numpy(),
                   "clips": clips.long().numpy(),
                   "theta": (theta_sum[name] / per_clip).reshape(-1, 2, 3).numpy(),
                   "box": (box_sum / per_clip).numpy()}
            for name in theta_fns}


def accuracy(predictions: dict) -> dict:
    """Top-1 / top-5 in percent from per-video scores."""
    scores, labels = predictions["scores"], predictions["labels"]
    return {f"top{k}": float(100 * records.topk_correct(scores, labels, k).mean()) for k in (1, 5)}


def save_predictions(path, predictions: dict, names) -> None:
    """Per-video predictions as .npz (video, name, label, scores, theta, box), atomic."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}.npz")
    np.savez_compressed(tmp, video=np.arange(len(predictions["labels"])),
                        name=np.asarray([str(n) for n in names]), **predictions)
    os.replace(tmp, path)


def mean_scale(predictions: dict) -> tuple[float, float]:
    """Mean horizontal and vertical scale of θ over the test videos (the 'mean adaptive ratio')."""
    theta = predictions["theta"]
    return float(theta[:, 0, 0].mean()), float(theta[:, 1, 1].mean())


def crop_theta_fn(variant: str, frame_hw, *, adaptive_scale=None, seed: int = 0):
    """θ for one Table 7 variant (None: the model's own θ)."""
    from azlib.models.zoom import centre_crop_theta, random_crop_theta

    if variant == "adaptive":
        return None
    if variant == "random":
        generator = torch.Generator().manual_seed(seed)
        return lambda batch: random_crop_theta(len(batch["label"]), area=(0.8, 1.0),
                                                    generator=generator)
    if variant == "centre_mean_adaptive":
        if adaptive_scale is None:
            raise ValueError("centre_mean_adaptive needs the adaptive model's mean scale")
        scale_x, scale_y = adaptive_scale
        fixed = torch.tensor([[scale_x, 0.0, 0.0], [0.0, scale_y, 0.0]])
        return lambda batch: fixed.expand(len(batch["label"]), 2, 3).clone()
    if variant.startswith("centre_"):
        alpha = float(variant.split("_", 1)[1])
        return lambda batch: centre_crop_theta(len(batch["label"]), alpha)
    if variant in ("oracle", "oracle_scale"):
        return lambda batch: oracle_theta(batch["box"], frame_hw, translate=variant == "oracle")
    raise ValueError(f"crop variant: unknown {variant!r}; expected one of {', '.join(CROP_VARIANTS)}")


def evaluate_crops(model, test_set, num_videos: int, num_classes: int, frame_hw, *,
                   variants=CROP_VARIANTS, seed: int = 0, batch_size: int = 8,
                   ctx: Dist | None = None, progress: bool = True,
                   has_boxes: bool = True, workers: int = 0) -> dict[str, dict]:
    """Evaluate a trained model with each inference-only crop; {variant: predictions}.

    Two passes over the test set: every variant at once, then the centre crop at the adaptive
    model's mean scale (which needs the first pass)."""
    wanted = [v for v in variants if has_boxes or not v.startswith("oracle")]
    first = {v: crop_theta_fn(v, frame_hw, seed=seed) for v in wanted
             if v != "centre_mean_adaptive"}
    first.setdefault("adaptive", None)
    common = dict(batch_size=batch_size, ctx=ctx, progress=progress, workers=workers)
    results = evaluate_variants(model, test_set, num_videos, num_classes, first, desc="crops",
                                **common)
    if "centre_mean_adaptive" in wanted:
        fn = crop_theta_fn("centre_mean_adaptive", frame_hw,
                           adaptive_scale=mean_scale(results["adaptive"]))
        results.update(evaluate_variants(model, test_set, num_videos, num_classes,
                                         {"centre_mean_adaptive": fn}, desc="mean crop", **common))
    return {v: results[v] for v in wanted}


# --- one run, end to end ----------------------------------------------------------------------

def train_run(run: dict, out_dir, *, crops: bool = False, progress: bool = True,
              on_epoch_end=None, ctx: Dist | None = None) -> dict:
    """Train and evaluate ``run`` (a :func:`run_config`), or reuse its finished record.

    Writes ``config.json`` first, ``metrics.json`` last; ``crops=True`` adds the Table 7 crop
    variants (``crops.json`` and ``predictions_<variant>.npz``). Returns the metrics.
    """
    validate(run, out_dir=out_dir)
    ctx = ctx or init_distributed(run["device"])
    folder = records.run_dir(out_dir, run)
    metrics_path = folder / records.METRICS_FILE
    need_crops = crops and not (folder / records.CROPS_FILE).is_file()
    if metrics_path.is_file() and not need_crops:
        return records.read_json(metrics_path)
    if ctx.main:
        records.write_json(folder / records.CONFIG_FILE, run)
    started = time.perf_counter()
    if ctx.active and not ctx.main:
        dist.barrier()  # rank 0 generates / extracts first; the others then find it on disk
    data = prepare_data(run, out_dir, progress=progress and ctx.main)
    if ctx.active and ctx.main:
        dist.barrier()
    seed_everything(run["seed"])
    num_classes, num_videos = len(data.index.classes), len(data.index.test)
    model = make_model(run, num_classes, out_dir)
    frame_hw = tuple(run["clip"]["resize"])
    eval_batch = max(1, int(run["train"]["batch_size"]) // ctx.world)
    if metrics_path.is_file():  # finished run, only the crop variants are missing
        metrics = records.read_json(metrics_path)
        checkpoint = folder / records.CHECKPOINT_FILE
        if not checkpoint.is_file():
            raise FileNotFoundError(f"{checkpoint}: the crop variants need the trained weights; "
                                    f"delete {folder} to retrain the run")
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
    else:
        workers = int(run["clip"].get("workers", 0))
        summary = fit(model, data.train, {**run["train"], "workers": workers}, folder,
                      seed=run["seed"], frame_hw=frame_hw, ctx=ctx, on_epoch_end=on_epoch_end,
                      progress=progress)
        eval_started = time.perf_counter()
        source = run["train"]["theta_source"]
        predictions = evaluate(
            model, data.test, num_videos, num_classes, batch_size=eval_batch,
            theta_fn=None if source == "model" else (lambda b: _theta_for(b, source, frame_hw)),
            ctx=ctx, amp_bf16=run["train"].get("amp_bf16", False), progress=progress,
            workers=workers)
        names = [r.name for r in data.index.test]
        metrics = {**accuracy(predictions), "hash": folder.name, "kind": run["kind"],
                   "dataset": run["dataset"], "split": run["split"], "profile": run["profile"],
                   "seed": run["seed"], "epochs": summary["epochs"],
                   "final_loss": summary["log"][-1]["loss"] if summary["log"] else None,
                   "num_train": len(data.index.train), "num_test": num_videos,
                   "num_classes": num_classes, "mean_scale": list(mean_scale(predictions)),
                   "world_size": ctx.world, "device": str(ctx.device),
                   "train_time_s": round(summary["train_time_s"], 2),
                   "resumed_train_time_s": round(summary["resumed_train_time_s"], 2),
                   "eval_time_s": round(time.perf_counter() - eval_started, 2)}
        if ctx.main:
            save_predictions(folder / records.PREDICTIONS_FILE, predictions, names)
            if run["kind"] == "pretrain":
                backbone = getattr(model, "backbone", model)
                save_checkpoint(folder / records.BACKBONE_WEIGHTS_FILE, backbone.state_dict())
    if crops:
        crop_started = time.perf_counter()
        variants = evaluate_crops(model, data.test, num_videos, num_classes, frame_hw,
                                  seed=run["seed"], batch_size=eval_batch,
                                  ctx=ctx, progress=progress, workers=int(run["clip"].get("workers", 0)),
                                  has_boxes=run["dataset"] == "synthactions")
        if ctx.main:
            names = [r.name for r in data.index.test]
            for variant, predictions in variants.items():
                save_predictions(folder / f"predictions_{variant}.npz", predictions, names)
            records.write_json(folder / records.CROPS_FILE, {
                "variants": {v: accuracy(p) for v, p in variants.items()},
                "mean_scale": list(mean_scale(variants["adaptive"])),
                "wall_time_s": round(time.perf_counter() - crop_started, 2)})
    # measured wall time: this call (data, training, evaluation) plus training done before a resume
    metrics.setdefault("wall_time_s", round(time.perf_counter() - started
                                            + metrics.get("resumed_train_time_s", 0.0), 2))
    if ctx.main:
        records.write_json(metrics_path, metrics)
    return metrics


# --- CLI --------------------------------------------------------------------------------------

def parse_sets(pairs) -> dict:
    """``['train.lr=0.1', 'model.zoom=none']`` -> nested dict (values parsed as YAML)."""
    import yaml

    nested: dict = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected key.sub=value")
        key, value = pair.split("=", 1)
        node = nested
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(value)
    return nested


def add_arguments(parser: argparse.ArgumentParser, command: str = "train") -> None:
    parser.add_argument("--profile", default="cpu", help="params/<profile>.yaml (default cpu)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile value, e.g. --set model.backbone=r3d_18")
    parser.add_argument("--out", default=None, help="results folder (default results/<profile>)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--split", default=None)
    parser.add_argument("--crops", action="store_true",
                        help="also evaluate the Table 7 crop variants (adaptive models)")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    overrides = parse_sets(args.sets)
    profile_cfg = load_profile(args.profile, overrides)
    split = args.split
    if split is not None and str(split).isdigit():
        split = int(split)
    run_cfg = run_config(profile_cfg, seed=args.seed, split=split)
    out = Path(args.out or Path("results") / args.profile)
    if run_cfg["model"].get("pretrained") is None and profile_cfg.get("pretrain", {}).get("enabled"):
        from azlib.experiments import attach_pretraining

        run_cfg = attach_pretraining(run_cfg, profile_cfg, out, progress=not args.no_progress)
    metrics = train_run(run_cfg, out, crops=args.crops, progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({k: metrics[k] for k in ("hash", "dataset", "profile", "seed", "top1",
                                                   "top5", "wall_time_s")}, indent=1))
        print(f"record: {records.run_dir(out, run_cfg)}")
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    return 0


def main(argv=None) -> int:  # pragma: no cover - convenience for ``python -m azlib.train``
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
