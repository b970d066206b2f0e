"""Clip backbones (the paper's ARNet): torchvision R3D-18 / R(2+1)D-18 and pytorchvideo X3D.

Each takes (B, 3, T, H, W) and returns logits. ``width`` (None: full size) gives a slim member of
the same family for CPU profiles: the width of the first stage, later stages doubling as in the
original. Kinetics-400 weights come through each library's own weight mechanism when the file is
already in the torch hub cache (nothing is downloaded), or from a local state-dict path.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.video import R2Plus1D_18_Weights, R3D_18_Weights, r2plus1d_18, r3d_18
from torchvision.models.video.resnet import BasicBlock, Conv2Plus1D, Conv3DSimple, VideoResNet

from azlib.config import BACKBONES
from azlib.models.lnet import hub_checkpoint_path, weights_missing

with warnings.catch_warnings():  # pytorchvideo warns about torch.jit.script on import
    warnings.simplefilter("ignore", FutureWarning)
    from pytorchvideo.models.hub.x3d import checkpoint_paths as X3D_CHECKPOINT_URLS
    from pytorchvideo.models.x3d import create_x3d

# Nominal input (frames, crop side) of each backbone: the paper's for R3D / R(2+1)D (16 x 112²)
# and X3D-M (16 x 224²); pytorchvideo's for X3D-XS / -S. X3D-XS/S/M share one network and
# differ only in input size.
BACKBONE_INPUT = {"r3d_18": (16, 112), "r2plus1d_18": (16, 112), "x3d_xs": (4, 160),
                  "x3d_s": (13, 160), "x3d_m": (16, 224)}

_TORCHVISION_VIDEO_STATS = ((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989))
_X3D_STATS = ((0.45, 0.45, 0.45), (0.225, 0.225, 0.225))

_RESNETS = {  # name -> (builder, Kinetics-400 weights, conv maker)
    "r3d_18": (r3d_18, R3D_18_Weights.KINETICS400_V1, Conv3DSimple),
    "r2plus1d_18": (r2plus1d_18, R2Plus1D_18_Weights.KINETICS400_V1, Conv2Plus1D),
}
_X3D_FULL_WIDTH = 24      # first-stage width of X3D (stem_dim_in 12 x width_factor 2.0)
_X3D_HEAD_DIM = 2048


def backbone_stats(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) of the backbone's Kinetics-400 input normalisation (RGB in [0, 1])."""
    _check_name(name)
    return _X3D_STATS if name.startswith("x3d") else _TORCHVISION_VIDEO_STATS


def _check_name(name: str) -> str:
    if name not in BACKBONES:
        raise ValueError(f"model.backbone: unknown value {name!r}; expected one of {', '.join(BACKBONES)}")
    return name


def head_of(model: nn.Module) -> tuple[nn.Module, str, nn.Linear]:
    """(parent, attribute, layer) of a backbone's final classification layer."""
    if isinstance(model, VideoResNet):
        return model, "fc", model.fc
    head = model.blocks[-1]
    return head, "proj", head.proj


def _init_like_torchvision(model: nn.Module) -> None:
    """The initialisation torchvision's VideoResNet constructor applies."""
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def _stem(name: str, width: int) -> nn.Sequential:
    """torchvision's BasicStem / R2Plus1dStem with ``width`` output channels (same layout, so
    state-dict keys match the full model's)."""
    if name == "r3d_18":
        return nn.Sequential(
            nn.Conv3d(3, width, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(width), nn.ReLU(inplace=True))
    mid = max(1, round(45 * width / 64))  # R(2+1)D's stem goes 3 -> 45 -> 64 at full width
    return nn.Sequential(
        nn.Conv3d(3, mid, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
        nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
        nn.Conv3d(mid, width, (3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
        nn.BatchNorm3d(width), nn.ReLU(inplace=True))


def _slim_video_resnet(name: str, num_classes: int, width: int) -> VideoResNet:
    """torchvision's VideoResNet with stage widths (w, 2w, 4w, 8w) instead of (64 .. 512).

    The full-width skeleton is built on the meta device (no memory, no time); its stem, stages
    and head are then rebuilt at ``width`` with torchvision's own ``_make_layer``.
    """
    builder, _, conv_maker = _RESNETS[name]
    with torch.device("meta"):
        model = builder(weights=None, num_classes=num_classes)
    model.stem = _stem(name, width)
    model.inplanes = width
    for index, stride in enumerate((1, 2, 2, 2)):
        layer = model._make_layer(BasicBlock, conv_maker, width * 2 ** index, 2, stride=stride)
        setattr(model, f"layer{index + 1}", layer)
    model.fc = nn.Linear(8 * width * BasicBlock.expansion, num_classes)
    _init_like_torchvision(model)
    return model


# --- convolutions with cheaper gradients on the CPU -----------------------------------------------
# oneDNN (torch's CPU convolutions) computes some input gradients far more slowly than the forward
# convolution of the same size: ~10 ms per call for X3D's depthwise 3x3x3 convolutions even on
# tiny tensors, and 4x the forward time for a strided stem with 3 input channels, whose input
# gradient only adaptive zooming needs (theta learns through the sampler). The classes below
# compute those input gradients as forward convolutions: the same sums in another order.
# Forward passes, weight gradients, other devices, other dtypes and autocast are the library's.


def _phase_taps(size: int, padding: int, stride: int) -> tuple[int, int, torch.Tensor, torch.Tensor]:
    """For one axis of a convolution (kernel ``size``), the input gradient at i = stride * r + a
    is sum_j g[r + j] * w[a + padding - stride * j]: (first j, last j, kernel index per (a, j)
    clamped into the kernel, whether it is inside)."""
    first = min(math.ceil((a + padding - (size - 1)) / stride) for a in range(stride))
    last = max((a + padding) // stride for a in range(stride))
    index = torch.tensor([[a + padding - stride * j for j in range(first, last + 1)] for a in range(stride)])
    inside = (index >= 0) & (index < size)
    return first, last, index.clamp(0, size - 1), inside


def _conv3d_input_grad(grad: torch.Tensor, weight: torch.Tensor, size, stride, padding) -> torch.Tensor:
    """The input gradient of a 3D convolution (one group, no dilation) as one forward
    convolution: each stride phase of the input (positions i with i mod stride = a) is a stride-1
    correlation of the output gradient with a sub-kernel, and all phases are output channels of
    one convolution, interleaved afterwards."""
    w = weight.transpose(0, 1)  # (C_in, C_out, Kt, Kh, Kw): input channels come out
    taps = [_phase_taps(weight.shape[2 + d], padding[d], stride[d]) for d in range(3)]
    for d, (_, _, index, inside) in enumerate(taps):  # kernel axis -> (phase, tap)
        axis = 2 + 2 * d
        w = w.index_select(axis, index.flatten()).unflatten(axis, index.shape)
        shape = [1] * w.dim()
        shape[axis:axis + 2] = index.shape
        w = w * inside.view(shape).to(w.dtype)
    c_in, c_out, st, lt, sh, lh, sw, lw = w.shape
    w = w.permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(c_in * st * sh * sw, c_out, lt, lh, lw)
    pads = []
    for d in (2, 1, 0):  # F.pad pads the last axis first; negative pads crop
        first, last = taps[d][:2]
        rows = -(-size[2 + d] // stride[d])
        pads += [-first, rows - 1 + last - (grad.shape[2 + d] - 1)]
    out = F.conv3d(F.pad(grad, pads), w)
    rt, rh, rw = out.shape[2:]
    out = out.view(grad.shape[0], c_in, st, sh, sw, rt, rh, rw).permute(0, 1, 5, 2, 6, 3, 7, 4)
    out = out.reshape(grad.shape[0], c_in, rt * st, rh * sh, rw * sw)
    return out[:, :, : size[2], : size[3], : size[4]]


def _depthwise_input_grad(grad: torch.Tensor, weight: torch.Tensor, size, stride, padding) -> torch.Tensor:
    """The input gradient of a depthwise 3D convolution as a forward convolution: the output
    gradient spread back onto the input grid (zeros between, for strides), padded, and
    correlated with the flipped kernel."""
    if any(s > 1 for s in stride):
        spread = grad.new_zeros(*grad.shape[:2], *((o - 1) * s + 1 for o, s in zip(grad.shape[2:], stride)))
        spread[:, :, :: stride[0], :: stride[1], :: stride[2]] = grad
        grad = spread
    pads = []
    for axis in (2, 1, 0):
        k, p, n, i = weight.shape[2 + axis], padding[axis], grad.shape[2 + axis], size[2 + axis]
        pads += [k - 1 - p, i - n - (k - 1 - p) + k - 1]
    return F.conv3d(F.pad(grad, pads), weight.flip(2, 3, 4), groups=weight.shape[0])


class _Conv3dFunction(torch.autograd.Function):
    """conv3d (no bias, no dilation) whose input gradient is ``input_grad``."""

    @staticmethod
    def forward(ctx, x, weight, stride, padding, groups, input_grad):
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.groups, ctx.input_grad = stride, padding, groups, input_grad
        return F.conv3d(x, weight, None, stride, padding, 1, groups)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad_input = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_input = ctx.input_grad(grad, weight, x.shape, ctx.stride, ctx.padding)
        if ctx.needs_input_grad[1]:
            grad_weight = torch.nn.grad.conv3d_weight(x, weight.shape, grad, ctx.stride, ctx.padding,
                                                      groups=ctx.groups)
        return grad_input, grad_weight, None, None, None, None


def _own_gradient(x: torch.Tensor) -> bool:
    """Whether the convolutions below compute the input gradient themselves."""
    return (x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
            and not torch.is_autocast_enabled("cpu") and torch.is_grad_enabled())


class DepthwiseConv3d(nn.Conv3d):
    """A depthwise ``nn.Conv3d`` (one filter per channel: X3D's 3x3x3 convolutions) whose input
    gradient on the CPU is :func:`_depthwise_input_grad`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _own_gradient(x):
            return super().forward(x)
        return _Conv3dFunction.apply(x, self.weight, self.stride, self.padding, self.groups,
                                     _depthwise_input_grad)


class PhaseConv3d(nn.Conv3d):
    """A backbone's first ``nn.Conv3d`` whose input gradient, when the input needs one (adaptive
    zooming), is :func:`_conv3d_input_grad` on the CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (x.requires_grad and _own_gradient(x)):
            return super().forward(x)
        return _Conv3dFunction.apply(x, self.weight, self.stride, self.padding, 1, _conv3d_input_grad)


def _plain_conv(module: nn.Module) -> bool:
    return (type(module) is nn.Conv3d and module.bias is None and module.dilation == (1, 1, 1)
            and module.padding_mode == "zeros" and isinstance(module.padding, tuple))


def _with_cpu_gradients(model: nn.Module) -> nn.Module:
    """``model`` with its first convolution a :class:`PhaseConv3d` and every depthwise convolution
    a :class:`DepthwiseConv3d`, holding the same parameters (same state dict)."""
    first = next(m for m in model.modules() if isinstance(m, nn.Conv3d))
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if not _plain_conv(child):
                continue
            if child is first and child.groups == 1:
                kind = PhaseConv3d
            elif child.groups > 1 and child.groups == child.in_channels == child.out_channels:
                kind = DepthwiseConv3d
            else:
                continue
            swapped = kind(child.in_channels, child.out_channels, child.kernel_size, stride=child.stride,
                           padding=child.padding, groups=child.groups, bias=False)
            swapped.weight = child.weight
            setattr(parent, name, swapped)
    return model


def _x3d(name: str, num_classes: int, width: int | None) -> nn.Module:
    """pytorchvideo X3D (logits out) whose head pools adaptively, so any clip size fits; at the
    nominal size that is the same average as pytorchvideo's fixed pooling window."""
    frames, crop = BACKBONE_INPUT[name]
    scale = 1.0 if width is None else width / _X3D_FULL_WIDTH
    model = create_x3d(input_clip_length=frames, input_crop_size=crop, model_num_class=num_classes,
                       width_factor=2.0 * scale, head_dim_out=max(8, round(_X3D_HEAD_DIM * scale)),
                       head_activation=None)
    model.blocks[-1].pool.pool = nn.AdaptiveAvgPool3d(1)
    return model


def _kinetics_state_dict(name: str, strict: bool):
    """Kinetics-400 state dict from the torch hub cache through the library's mechanism, or None."""
    if name in _RESNETS:
        weights = _RESNETS[name][1]
        url = weights.url
    else:
        url = X3D_CHECKPOINT_URLS[name]
    path = hub_checkpoint_path(url)
    if not path.is_file():
        weights_missing(f"Kinetics-400 weights for {name} not found at {path}: download {url} to "
                        f"that path on a machine with internet (or copy it there), or set "
                        f"model.pretrained to the path of a local state dict", strict, stacklevel=4)
        return None
    if name in _RESNETS:
        return weights.get_state_dict(progress=False)
    return torch.hub.load_state_dict_from_url(url, progress=False, map_location="cpu")["model_state"]


def _unwrap_state_dict(state) -> dict:
    """The tensor mapping inside common checkpoint wrappers, minus a ``backbone.`` prefix."""
    for key in ("model_state", "state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError("not a state dict")
    if state and all(k.startswith("backbone.") for k in state):
        state = {k[len("backbone."):]: v for k, v in state.items()}
    return state


def load_backbone_weights(model: nn.Module, state: dict, source: str) -> nn.Module:
    """Load ``state`` into ``model``; a classification head of another size is left fresh (that
    is fine-tuning), any other mismatch stops with a message naming ``source``."""
    parent, attr, _ = head_of(model)
    head_prefix = next(n for n, m in model.named_modules() if m is getattr(parent, attr)) + "."
    own = model.state_dict()
    state = {k: v for k, v in state.items()
             if not (k.startswith(head_prefix) and k in own and own[k].shape != v.shape)}
    bad = [f"{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items()
           if k in own and own[k].shape != v.shape]
    missing = [k for k in own if k not in state and not k.startswith(head_prefix)]
    unexpected = [k for k in state if k not in own]
    if bad or missing or unexpected:
        raise ValueError(
            f"{source}: weights do not fit this backbone (check model.backbone and model.width); "
            f"shape mismatches {bad[:3]}, missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.load_state_dict(state, strict=False)
    return model


def build_backbone(name: str, num_classes: int, width: int | None = None, pretrained=None,
                   strict: bool = True) -> nn.Module:
    """Backbone ``name`` with a ``num_classes`` head.

    ``width``: first-stage width of a slim variant (None: full size). ``pretrained``: None,
    'kinetics400' (the library's file in the torch hub cache; full size only) or the path of a
    local state dict (a bare one or a checkpoint with 'model_state'/'state_dict'/'model').
    Missing weights stop with a message saying where to put them (``strict``) or warn.
    """
    _check_name(name)
    if num_classes < 1:
        raise ValueError(f"num_classes: {num_classes!r} must be >= 1")
    if width is not None and width < 1:
        raise ValueError(f"model.width: {width!r} must be a positive integer or null")
    if name in _RESNETS:
        if width is None:
            model = _RESNETS[name][0](weights=None, num_classes=num_classes)
        else:
            model = _slim_video_resnet(name, num_classes, width)
    else:
        model = _x3d(name, num_classes, width)
    model = _with_cpu_gradients(model)

    if pretrained is None:
        return model
    if pretrained == "kinetics400":
        if width is not None:
            raise ValueError("model.pretrained: Kinetics-400 weights exist for the full-size "
                             "backbones only; set model.width: null or give a local state dict")
        state = _kinetics_state_dict(name, strict)
        source = f"Kinetics-400 weights of {name}"
    else:
        path = Path(pretrained)
        if not path.is_file():
            weights_missing(f"model.pretrained: no state dict at {path}; give an existing file or null",
                            strict)
            return model
        try:
            state = _unwrap_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as error:  # a corrupt / foreign file: say which one
            raise ValueError(f"model.pretrained: {path} is not a readable state dict ({error})") from error
        source = str(path)
    if state is not None:
        load_backbone_weights(model, state, source)
    return model
