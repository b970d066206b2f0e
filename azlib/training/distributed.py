"""Processes under ``torchrun``: NCCL on GPUs, gloo on CPU; one process is the plain case.

``train.batch_size`` is the global batch, split across the processes; every process takes every
``world``-th video at test time and per-video sums are added across processes.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.distributed as dist

from azlib.errors import ConfigError


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


def is_main_process() -> bool:
    """Rank 0 under torchrun (it prints and writes), or a plain process."""
    return int(os.environ.get("RANK", "0")) == 0


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


def all_reduce(tensor: torch.Tensor, ctx: Dist, op=None) -> torch.Tensor:
    if ctx.active:
        dist.all_reduce(tensor, op=op or dist.ReduceOp.SUM)
    return tensor


def gather_objects(value, ctx: Dist) -> list:
    if not ctx.active:
        return [value]
    gathered = [None] * ctx.world
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(ctx: Dist) -> None:
    if ctx.active:
        dist.barrier()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def autocast(ctx: Dist, enabled: bool):
    """bf16 autocast on the process's device when ``enabled`` (train.amp_bf16)."""
    if not enabled:
        return nullcontext()
    return torch.autocast(ctx.device.type, dtype=torch.bfloat16)


def agree(value, ctx: Dist | None = None):
    """Rank 0's ``value`` on every process (the value itself outside torchrun), so that all ranks
    take the same decision about files they might see at different moments."""
    if ctx is None or not ctx.active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
