"""Evaluation (paper §4.1): N uniformly spaced clips per test video, softmax scores averaged, each
video counted once; the inference-crop variants of Table 7; θ from the true box (oracle crops).

Predictions are per test video: ``scores`` (V, C), ``labels`` (V,), ``clips`` (V,), ``theta``
(V, 2, 3) the mean θ used, ``box`` (V, 4) the mean true box (NaN where unknown).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm  # text bars (tqdm.auto warns in a kernel without ipywidgets)

from azlib.files import save_npz
from azlib.models.zoom import centre_crop_theta, oracle_theta, random_crop_theta
from azlib.training.distributed import Dist, all_reduce, autocast

#: Table 7's inference-only crops (paper) plus the oracle crops (beyond the paper). A centre crop
#: "α" keeps α of the frame's short side, square (the paper's 112 of 128 is α = 0.875), so the
#: picture keeps its aspect; "adaptive" is the model's own θ (for the baseline: its own crop).
CENTRE_ALPHAS = (0.925, 0.875, 0.8, 0.75, 0.6)
CROP_VARIANTS = (("random",) + tuple(f"centre_{a}" for a in CENTRE_ALPHAS)
                 + ("centre_mean_adaptive", "adaptive", "oracle", "oracle_scale"))


def theta_for(batch: dict, source: str, frame_hw) -> torch.Tensor | None:
    """θ of ``train.theta_source``: None for 'model' (the model's own), else the true box's."""
    if source == "model":
        return None
    return oracle_theta(batch["box"], frame_hw, translate=(source == "oracle"))


@torch.no_grad()
def evaluate_variants(model: torch.nn.Module, test_set, num_videos: int, num_classes: int,
                      theta_fns: dict, *, batch_size: int = 8, ctx: Dist | None = None,
                      amp_bf16: bool = False, progress: bool = True, desc: str = "test",
                      workers: int = 0) -> dict[str, dict]:
    """Predictions for several θ choices in one pass over the data: {name: predictions}.

    ``theta_fns[name](batch)`` gives an explicit θ, or is None for the model's own. Each process
    takes every ``world``-th video's clips (every ``world``-th clip when the dataset does not say
    how many clips a video has): no padding, no duplicates; per-video sums are then added across
    processes.
    """
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
            with autocast(ctx, amp_bf16):
                out = model(rgb, lnet, None if theta is None else theta.to(ctx.device))
            probs = out["logits"].float().softmax(dim=1).double().cpu()
            scores[name].index_add_(0, video, probs)
            used = out.get("theta") if out.get("theta") is not None else theta
            if used is not None:
                theta_sum[name].index_add_(0, video, used.detach().float().reshape(-1, 6).double().cpu())
    for tensor in (clips, box_sum, *scores.values(), *theta_sum.values()):
        all_reduce(tensor, ctx)
    all_reduce(labels, ctx, dist.ReduceOp.MAX if ctx.active else None)
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


def evaluate(model: torch.nn.Module, test_set, num_videos: int, num_classes: int, *,
             theta_fn: Callable[[dict], torch.Tensor | None] | None = None, desc: str = "test",
             **options) -> dict:
    """Predictions of ``model`` on ``test_set`` (see :func:`evaluate_variants` for ``options``)."""
    return evaluate_variants(model, test_set, num_videos, num_classes, {desc: theta_fn}, desc=desc,
                             **options)[desc]


# --- what predictions say ---------------------------------------------------------------------

def topk_correct(scores: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per-video bool: is the label among the ``k`` highest scores."""
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return (top == np.asarray(labels)[:, None]).any(axis=1)


def correct(predictions: dict) -> np.ndarray:
    """Per-video top-1 correctness as 0/1 floats."""
    return topk_correct(np.asarray(predictions["scores"]), np.asarray(predictions["labels"]), 1).astype(float)


def accuracy(predictions: dict) -> dict:
    """Top-1 / top-5 in percent from per-video scores."""
    scores, labels = predictions["scores"], predictions["labels"]
    return {f"top{k}": float(100 * topk_correct(scores, labels, k).mean()) for k in (1, 5)}


def mean_scale(predictions: dict) -> tuple[float, float]:
    """Mean horizontal and vertical scale of θ over the test videos (the 'mean adaptive ratio')."""
    theta = predictions["theta"]
    return float(theta[:, 0, 0].mean()), float(theta[:, 1, 1].mean())


def save_predictions(path, predictions: dict, names) -> None:
    """Per-video predictions as .npz (video, name, label, scores, theta, box), atomic."""
    save_npz(Path(path), {"video": np.arange(len(predictions["labels"])),
                          "name": np.asarray([str(n) for n in names]), **predictions})


# --- Table 7: inference crops -----------------------------------------------------------------

def short_side_fraction(alpha: float, frame_hw) -> tuple[float, float]:
    """(ax, ay) of a square centre crop whose side is ``alpha`` of the frame's short side."""
    height, width = frame_hw
    side = alpha * min(height, width)
    return side / width, side / height


def crop_theta_fn(variant: str, frame_hw, *, adaptive_scale=None, seed: int = 0):
    """θ for one Table 7 variant (None: the model's own θ)."""
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
        fraction = short_side_fraction(float(variant.split("_", 1)[1]), frame_hw)
        return lambda batch: centre_crop_theta(len(batch["label"]), fraction)
    if variant in ("oracle", "oracle_scale"):
        return lambda batch: oracle_theta(batch["box"], frame_hw, translate=variant == "oracle")
    raise ValueError(f"crop variant: unknown {variant!r}; expected one of {', '.join(CROP_VARIANTS)}")


def evaluate_crops(model, test_set, num_videos: int, num_classes: int, frame_hw, *,
                   variants=CROP_VARIANTS, seed: int = 0, has_boxes: bool = True,
                   adaptive_scale=None, **options) -> dict[str, dict]:
    """Evaluate a trained model with each inference-only crop; {variant: predictions}.

    "centre_mean_adaptive" is a centre crop at ``adaptive_scale`` (sx, sy): the mean scale of an
    adaptive model's θ, given for a baseline model; None takes this model's own mean θ (then
    a second pass over the test set, after the first has measured it)."""
    wanted = [v for v in variants if has_boxes or not v.startswith("oracle")]
    first = {v: crop_theta_fn(v, frame_hw, seed=seed) for v in wanted
             if v != "centre_mean_adaptive"}
    first.setdefault("adaptive", None)
    results = evaluate_variants(model, test_set, num_videos, num_classes, first, desc="crops",
                                **options)
    if "centre_mean_adaptive" in wanted:
        scale = adaptive_scale if adaptive_scale is not None else mean_scale(results["adaptive"])
        fn = crop_theta_fn("centre_mean_adaptive", frame_hw, adaptive_scale=tuple(scale))
        results.update(evaluate_variants(model, test_set, num_videos, num_classes,
                                         {"centre_mean_adaptive": fn}, desc="mean crop", **options))
    return {v: results[v] for v in wanted}
