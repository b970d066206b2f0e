"""Compute cost: MACs counted with fvcore, and measured training-step times.

MACs: one multiply-add is one "flop" in fvcore's count. fvcore's conventions hold: convolutions,
linear layers, norms, poolings and the bilinear sampler (4 per output value) are counted;
element-wise activations and additions are not. Handlers are added for the two ops of this model
fvcore does not know: the affine grid generator and 3D adaptive average pooling.

Step times (:func:`step_times`): forward + backward of several models on the same inputs,
interleaved so that a change in the machine's load hits them alike; a measurement to show
beside a table or print from a benchmark, never an assertion.
"""

from __future__ import annotations

import statistics
import time
import warnings
from typing import Any, Callable, Mapping, Sequence

import pandas as pd
import torch
from fvcore.nn import FlopCountAnalysis
from fvcore.nn.jit_handles import elementwise_flop_counter, get_shape
from torch import nn

from azlib.models.az import AdaptiveZoom
from azlib.models.backbones import BACKBONE_INPUT, build_backbone
from azlib.models.lnet import build_lnet


def _affine_grid_macs(inputs: list[Any], outputs: list[Any]) -> int:
    """Each grid point (x, y) is θ (2x3) times (x', y', 1): 6 MACs per output point."""
    batch, height, width, _ = get_shape(outputs[0])
    return batch * height * width * 6


EXTRA_HANDLES = {
    "aten::affine_grid_generator": _affine_grid_macs,
    "aten::adaptive_avg_pool3d": elementwise_flop_counter(1, 0),
}


def _analysis(model: nn.Module, example_inputs) -> FlopCountAnalysis:
    analysis = FlopCountAnalysis(model, example_inputs).set_op_handle(**EXTRA_HANDLES)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return analysis


def count_macs(model: nn.Module, example_inputs, by_module: bool = False):
    """MACs of one forward pass of ``model`` on ``example_inputs`` (a tensor or a tuple), in eval
    mode (no dropout / stochastic depth). With ``by_module``, a dict module name -> MACs ('' is
    the whole model)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about dict outputs etc.
            analysis = _analysis(model, example_inputs)
            return dict(analysis.by_module()) if by_module else int(analysis.total())
    finally:
        model.train(was_training)


def macs_table(backbones: Sequence[str] = ("r3d_18", "r2plus1d_18", "x3d_m"), *,
               frames: int | None = None, crop: int | None = None, frame_size=None,
               lnet: str = "efficientnet_b0", lnet_width: int | None = None,
               lnet_channels: int = 1, lnet_size=(64, 86), width: int | None = None,
               num_classes: int = 400, theta_mode: str = "scale") -> pd.DataFrame:
    """GMac per clip of each backbone alone and behind AdaptiveZoom (LNet, θ head, sampler).

    ``frames``/``crop``: backbone input (None: each backbone's nominal input, X3D-M 16 x 224²,
    R3D/R(2+1)D 16 x 112²). ``frame_size``: (H, W) of the frame the sampler reads (None: the
    paper's 128x171 resize scaled with the crop). The LNet input has K·``lnet_channels`` channels
    of ``lnet_size`` (the paper's 64x86: residuals of the 256-line video downscaled by S = 4).
    """
    rows = []
    for name in backbones:
        nominal_frames, nominal_crop = BACKBONE_INPUT[name]
        k = frames or nominal_frames
        side = crop or nominal_crop
        H, W = frame_size or (round(side * 128 / 112), round(side * 171 / 112))
        backbone = build_backbone(name, num_classes, width)
        lnet_net = build_lnet(lnet, k * lnet_channels, lnet_width)
        model = AdaptiveZoom(backbone, lnet_net, theta_mode, out_size=side)
        rgb = torch.zeros(1, 3, k, H, W)
        lnet_input = torch.zeros(1, k * lnet_channels, *lnet_size)
        macs = count_macs(model, (rgb, lnet_input), by_module=True)
        total, backbone_macs = macs[""], macs["backbone"]
        rows.append({
            "backbone": name, "width": width or "full", "input": f"{k}x{side}x{side}",
            "frame": f"{H}x{W}", "lnet": lnet,
            "lnet input": f"{k * lnet_channels}x{lnet_size[0]}x{lnet_size[1]}",
            "backbone GMac": backbone_macs / 1e9,
            "LNet GMac": (macs["lnet"] + macs["head"]) / 1e9,
            "sampler GMac": (total - backbone_macs - macs["lnet"] - macs["head"]) / 1e9,
            "zoom GMac": (total - backbone_macs) / 1e9,
            "total GMac": total / 1e9,
            "zoom %": 100.0 * (total - backbone_macs) / backbone_macs,
        })
    return pd.DataFrame(rows)


def step_time_samples(steps: Mapping[str, Callable[[], None]], repeats: int = 5, warmup: int = 1,
                      device: str = "cpu") -> dict[str, list[float]]:
    """Seconds of each step function (e.g. forward + backward of one model) in every counted
    round, the steps interleaved ``warmup + repeats`` times (the first ``warmup`` rounds are not
    counted); round i of every step ran back to back, so their ratios are paired."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_ in range(warmup + repeats):
        for name, step in steps.items():
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            step()
            if device == "cuda":
                torch.cuda.synchronize()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def step_times(steps: Mapping[str, Callable[[], None]], repeats: int = 5, warmup: int = 1,
               device: str = "cpu") -> dict[str, float]:
    """Median seconds of each step function over :func:`step_time_samples`' rounds."""
    samples = step_time_samples(steps, repeats=repeats, warmup=warmup, device=device)
    return {name: statistics.median(values) for name, values in samples.items()}


def training_step(model: nn.Module, inputs: Sequence, labels, amp_bf16: bool = False) -> Callable[[], None]:
    """A step function for :func:`step_times`: forward ``model(*inputs)``, cross-entropy, backward;
    the forward under bf16 autocast when ``amp_bf16`` (as ``train.amp_bf16`` runs it)."""
    device_type = labels.device.type

    def step():
        model.zero_grad(set_to_none=True)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp_bf16):
            out = model(*inputs)
        logits = out["logits"] if isinstance(out, dict) else out
        nn.functional.cross_entropy(logits, labels).backward()
    return step
