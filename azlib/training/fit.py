"""The training loop (paper §4.1): one random clip per video per epoch, cross-entropy, SGD or
AdamW with the LNet at its own learning rate, an optional linear warm-up, lr x0.1 on a loss
plateau; a checkpoint after every epoch, so an interrupted run resumes to the same numbers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm  # text bars (tqdm.auto warns in a kernel without ipywidgets)

from azlib.config import TrainSettings
from azlib.files import atomic_path
from azlib.records import CHECKPOINT_FILE, LOG_FILE
from azlib.training.distributed import Dist, all_reduce, autocast, barrier, gather_objects
from azlib.training.evaluate import theta_for
from azlib.training.state import load_checkpoint, rng_state, save_checkpoint, seed_everything, set_rng_state


class Interrupted(RuntimeError):
    """Raised by an ``on_epoch_end`` callback to stop a run (tests of resume)."""


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


def build_optimizer(model: torch.nn.Module, train: TrainSettings) -> torch.optim.Optimizer:
    groups = param_groups(model, train.lr, train.lnet_lr_mult)
    if train.optimizer == "sgd":
        optimizer = torch.optim.SGD(groups, lr=train.lr, momentum=train.momentum,
                                    weight_decay=train.weight_decay)
    else:
        optimizer = torch.optim.AdamW(groups, lr=train.lr, weight_decay=train.weight_decay)
    for group in optimizer.param_groups:
        group["base_lr"] = group["lr"]  # warm-up ramps towards this
    return optimizer


def warm_up(optimizer, step: int, warmup_steps: int) -> None:
    """Linear warm-up from base_lr/warmup_steps to base_lr over the first ``warmup_steps``."""
    if step < warmup_steps:
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * (step + 1) / warmup_steps


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


def _write_log(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(row) + "\n" for row in rows))


def fit(model: torch.nn.Module, train_set, train: TrainSettings, run_folder, *, seed: int = 0,
        frame_hw=None, workers: int = 0, ctx: Dist | None = None,
        on_epoch_end: Callable[[int, dict], None] | None = None, progress: bool = True) -> dict:
    """Train ``model`` for ``train.epochs``, resuming from ``run_folder/checkpoint.pt``.

    One random clip per video per epoch (the dataset's ``set_epoch``), data order from a
    ``DistributedSampler`` seeded by ``seed`` (also in one process). After every epoch the log
    row goes to ``log.jsonl`` and a checkpoint (model, optimizer, scheduler, RNG states) is saved,
    so a resumed run continues exactly where an uninterrupted one would. Returns a summary
    (``log``, ``train_time_s``) and leaves the trained weights in ``model``.
    """
    ctx = ctx or Dist()
    run_folder = Path(run_folder)
    run_folder.mkdir(parents=True, exist_ok=True)
    checkpoint_path = run_folder / CHECKPOINT_FILE
    model.to(ctx.device)
    optimizer = build_optimizer(model, train)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=0.1, patience=train.plateau_patience)
    epochs = int(train.epochs)
    start_epoch, log, train_time = 0, [], 0.0
    seed_everything(seed + ctx.rank)
    if checkpoint_path.is_file():
        state = load_checkpoint(checkpoint_path, map_location=ctx.device)
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
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
            find_unused_parameters=train.theta_source != "model")
    per_rank_batch = max(1, int(train.batch_size) // ctx.world)
    sampler = DistributedSampler(train_set, num_replicas=ctx.world, rank=ctx.rank, shuffle=True,
                                 seed=seed)
    loader = DataLoader(train_set, batch_size=per_rank_batch, sampler=sampler, num_workers=workers)
    steps_per_epoch = len(loader)
    warmup_steps = int(round(train.warmup_epochs * steps_per_epoch))

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
            warm_up(optimizer, epoch * steps_per_epoch + step, warmup_steps)
            rgb = batch["rgb"].to(ctx.device, non_blocking=True)
            lnet = batch["lnet"].to(ctx.device, non_blocking=True)
            label = batch["label"].to(ctx.device, non_blocking=True)
            theta = theta_for(batch, train.theta_source, frame_hw)
            with autocast(ctx, train.amp_bf16):
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
        all_reduce(totals, ctx)
        mean_loss = float(totals[0] / totals[2])
        lrs = {g.get("name", str(i)): g["lr"] for i, g in enumerate(optimizer.param_groups)}
        if (epoch + 1) * steps_per_epoch > warmup_steps:  # no plateau decisions during warm-up
            plateau.step(mean_loss)
        elapsed = time.perf_counter() - started
        train_time += elapsed
        row = {"epoch": epoch + 1, "loss": mean_loss, "acc": float(100 * totals[1] / totals[2]),
               "lr": lrs, "time_s": round(elapsed, 3)}
        log.append(row)
        rngs = gather_objects(rng_state(), ctx)
        if ctx.main:
            _write_log(run_folder / LOG_FILE, log)
            save_checkpoint(checkpoint_path, {
                "epoch": epoch, "model": _unwrap(model).state_dict(),
                "optimizer": optimizer.state_dict(), "plateau": plateau.state_dict(),
                "rng": rngs, "log": log, "train_time_s": train_time})
        barrier(ctx)
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    return {"log": log, "train_time_s": train_time, "epochs": epochs,
            "resumed_train_time_s": resumed_time}
