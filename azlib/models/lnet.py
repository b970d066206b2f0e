"""Localization networks (LNet, eq. 2): a K·C-channel LNet-input stack → a feature vector.

``efficientnet_b0``: torchvision's EfficientNet-B0 (the paper's LNet) with its first convolution
taking K·C channels; ImageNet weights load from a local file or the torch hub cache and the RGB
kernel of the first convolution is averaged over colour and replicated over the input channels
(the cross-modality initialisation of TSN). ``tiny``: a small CNN for the CPU profiles.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import EfficientNet_B0_Weights, efficientnet_b0

from azlib.config import LNETS
from azlib.errors import WeightsMissingError


def weights_missing(message: str, strict: bool, stacklevel: int = 3) -> None:
    """Missing pretrained weights: stop (``strict``, the paper profile) or warn and go on
    from a random initialisation (CPU profiles, tests)."""
    if strict:
        raise WeightsMissingError(message)
    warnings.warn(message + "; using random initialisation", stacklevel=stacklevel)


def hub_checkpoint_path(url: str) -> Path:
    """Where ``torch.hub.load_state_dict_from_url`` caches (and looks for) ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def adapt_first_conv(conv: nn.Conv2d | nn.Conv3d, in_channels: int) -> nn.Module:
    """A copy of ``conv`` taking ``in_channels`` inputs, its kernel the mean of the old one over
    input channels, replicated (so a pretrained RGB kernel starts a K-channel LNet)."""
    new = type(conv)(in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                     conv.dilation, conv.groups, conv.bias is not None)
    with torch.no_grad():
        mean = conv.weight.mean(dim=1, keepdim=True)
        new.weight.copy_(mean.expand_as(new.weight))
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new


class LNetFeatures(nn.Module):
    """A feature extractor: ``body`` then a flatten; ``out_features`` is the vector length."""

    def __init__(self, body: nn.Module, out_features: int):
        super().__init__()
        self.body = body
        self.out_features = out_features

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).flatten(1)


def tiny_lnet(in_channels: int, width: int = 8, grid: int = 4) -> LNetFeatures:
    """Three stride-2 conv-BN-ReLU blocks (width, 2·width, 4·width), then average pooling to a
    ``grid`` x ``grid`` map, which keeps the coarse *where* that translations need."""
    layers: list[nn.Module] = []
    channels = in_channels
    for out in (width, 2 * width, 4 * width):
        layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1, bias=False),
                   nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
        channels = out
    layers.append(nn.AdaptiveAvgPool2d(grid))
    return LNetFeatures(nn.Sequential(*layers), channels * grid * grid)


def spatial_moments(x: Tensor) -> Tensor:
    """Soft spatial moments of an LNet input (B, C, H, W): (mean x, mean y, std x, std y) of
    its magnitude above the per-sample mean, in [-1, 1] frame coordinates. Where motion is, and
    how far it extends: the figure's extent, which a scale-only θ needs, as an explicit feature
    (an architecture choice: no box is used)."""
    mass = x.abs().mean(1)
    mass = torch.relu(mass - mass.mean((1, 2), keepdim=True))  # the background floor goes
    p = mass / (mass.sum((1, 2), keepdim=True) + 1e-6)
    height, width = mass.shape[-2:]
    ys = (torch.arange(height, dtype=x.dtype, device=x.device) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, dtype=x.dtype, device=x.device) + 0.5) / width * 2 - 1
    px, py = p.sum(1), p.sum(2)  # marginals over x (B, W) and y (B, H)
    mx, my = (px * xs).sum(1), (py * ys).sum(1)
    sx = ((px * (xs - mx[:, None]) ** 2).sum(1) + 1e-6).sqrt()
    sy = ((py * (ys - my[:, None]) ** 2).sum(1) + 1e-6).sqrt()
    return torch.stack([mx, my, sx, sy], 1)


class WithMoments(nn.Module):
    """An LNet's features followed by the input's :func:`spatial_moments`, standardised by a
    non-affine BatchNorm so the θ head sees them at unit scale (``model.lnet_moments``)."""

    def __init__(self, lnet: nn.Module):
        super().__init__()
        self.lnet = lnet
        self.moments_norm = nn.BatchNorm1d(4, affine=False)
        self.out_features = lnet.out_features + 4

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.lnet(x), self.moments_norm(spatial_moments(x.float()))], 1)


def _imagenet_state_dict(weights, strict: bool):
    """EfficientNet-B0 ImageNet state dict from a path or the torch hub cache, or None."""
    if weights == "imagenet":
        path = hub_checkpoint_path(EfficientNet_B0_Weights.IMAGENET1K_V1.url)
        how = (f"download {EfficientNet_B0_Weights.IMAGENET1K_V1.url} to {path} (for example "
               f"with `python -c \"import torchvision; torchvision.models.efficientnet_b0("
               f"weights='IMAGENET1K_V1')\"` on a machine with internet) or set model.lnet_pretrained "
               f"to the path of a state dict")
    else:
        path = Path(weights)
        how = "set model.lnet_pretrained to an existing EfficientNet-B0 state dict, or null"
    if not path.is_file():
        weights_missing(f"LNet ImageNet weights not found at {path}: {how}", strict)
        return None
    if weights == "imagenet":
        return EfficientNet_B0_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    return torch.load(path, map_location="cpu", weights_only=True)


def efficientnet_b0_lnet(in_channels: int, weights=None, strict: bool = True) -> LNetFeatures:
    """EfficientNet-B0 features + global pooling (1280 features); first conv takes ``in_channels``.

    ``weights``: None (random), 'imagenet' (torchvision's file in the torch hub cache) or a path.
    When missing, ``strict`` stops with a message saying how to get them; otherwise warns.
    """
    net = efficientnet_b0(weights=None)
    state = _imagenet_state_dict(weights, strict) if weights is not None else None
    if state is not None:
        net.load_state_dict(state)
    net.features[0][0] = adapt_first_conv(net.features[0][0], in_channels)
    body = nn.Sequential(net.features, net.avgpool)
    return LNetFeatures(body, net.classifier[-1].in_features)


def build_lnet(name: str, in_channels: int, width: int | None = None, weights=None,
               strict: bool = True, moments: bool = False) -> nn.Module:
    """LNet by name ('tiny' or 'efficientnet_b0') taking ``in_channels`` = K·C input channels;
    ``moments=True`` appends the input's spatial moments to its features (:class:`WithMoments`)."""
    if moments:
        return WithMoments(build_lnet(name, in_channels, width, weights, strict))
    if in_channels < 1:
        raise ValueError(f"in_channels: {in_channels!r} must be >= 1")
    if name == "tiny":
        if weights is not None:
            raise ValueError("model.lnet_pretrained: the tiny LNet has no pretrained weights; set null")
        return tiny_lnet(in_channels, width or 8)
    if name == "efficientnet_b0":
        if width is not None:
            raise ValueError("model.lnet_width: EfficientNet-B0 has a fixed width; set null")
        return efficientnet_b0_lnet(in_channels, weights, strict)
    raise ValueError(f"model.lnet: unknown value {name!r}; expected one of {', '.join(LNETS)}")
