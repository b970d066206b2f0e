"""AdaptiveZoom (Fig. 1, eq. 5): LNet(LNet input) → θ → grid + bilinear sampler(clip) → backbone.

The baseline, ``FixedCrop``, is the same backbone behind a fixed-θ crop through the same sampler:
a random crop to train and a centre crop to test (the paper's protocol, §4.1).
"""

from __future__ import annotations

from typing import Iterator, Sequence

from torch import Tensor, nn

from azlib.config import LNET_NORMS, ZOOMS
from azlib.models import zoom as Z
from azlib.models.backbones import build_backbone
from azlib.models.lnet import build_lnet
from azlib.store import LNET_CHANNELS

FIXED_CROPS = ("centre", "random", "full")


def _size(out_size) -> tuple[int, int]:
    return (int(out_size), int(out_size)) if isinstance(out_size, (int, float)) else tuple(map(int, out_size))


def normalise_per_sample(x: Tensor, eps: float = 1e-5) -> Tensor:
    """Each sample standardised to zero mean and unit variance (LNet input calibration lever)."""
    dims = tuple(range(1, x.dim()))
    return (x - x.mean(dims, keepdim=True)) / (x.std(dims, keepdim=True) + eps)


class AdaptiveZoom(nn.Module):
    """Adaptive zooming in front of ``backbone``.

    ``forward(rgb (B,3,T,H,W), lnet (B,K·C,Ha,Wa), theta=None) -> {'logits', 'theta'}``; an
    explicit ``theta`` (B,2,3) bypasses the LNet (oracle and Table 7 crops). In training mode
    with ``augment`` the θ used is the predicted one plus random shear and translation (Table 5);
    then the output also holds ``theta_predicted``. Boxes: ``zoom.theta_to_box(theta, H, W)``.
    """

    def __init__(self, backbone: nn.Module, lnet: nn.Module, theta_mode: str = "scale",
                 augment: bool = False, out_size=112, s_min: float = 0.3, init_scale=1.0,
                 augment_shear: float = 0.1, augment_translation: float = 0.1,
                 max_shear: float = 0.3, lnet_norm: str | None = None):
        super().__init__()
        if lnet_norm is not None and lnet_norm not in LNET_NORMS:
            raise ValueError(f"model.lnet_norm: unknown value {lnet_norm!r}; expected null or 'sample'")
        self.backbone = backbone
        self.lnet = lnet
        self.head = Z.ThetaHead(lnet.out_features, theta_mode, s_min, init_scale, max_shear)
        self.augment = bool(augment)
        self.augment_shear = float(augment_shear)
        self.augment_translation = float(augment_translation)
        self.out_size = _size(out_size)
        self.lnet_norm = lnet_norm

    def predict_theta(self, lnet: Tensor) -> Tensor:
        if self.lnet_norm == "sample":
            lnet = normalise_per_sample(lnet)
        return self.head(self.lnet(lnet))

    def forward(self, rgb: Tensor, lnet: Tensor | None = None, theta: Tensor | None = None) -> dict:
        out = {}
        if theta is None:
            if lnet is None:
                raise ValueError("AdaptiveZoom: give the LNet input (or an explicit theta)")
            theta = self.predict_theta(lnet)
            if self.training and self.augment:
                out["theta_predicted"] = theta
                theta = Z.augment_theta(theta, self.augment_shear, self.augment_translation)
        out["logits"] = self.backbone(Z.zoom(rgb, theta, self.out_size))
        out["theta"] = theta
        return out

    def lnet_parameters(self) -> Iterator[nn.Parameter]:
        yield from self.lnet.parameters()
        yield from self.head.parameters()

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        yield from self.backbone.parameters()


class FixedCrop(nn.Module):
    """The baseline: ``backbone`` behind a fixed crop, through the same sampler as AdaptiveZoom.

    The crop keeps the fraction ``alpha`` (scalar or (ax, ay)) of each side; ``alpha=None`` means
    a crop of ``out_size`` pixels (the paper's 112² from 128x171). Training: that crop at a random
    place. Evaluation, by ``crop``: 'centre' (the paper's test crop; Table 7's centre α), 'random'
    (a random crop covering ``area`` of the frame, Table 7's "Random") or 'full' (plain resize).
    """

    def __init__(self, backbone: nn.Module, out_size=112, crop: str = "centre", alpha=None,
                 area: Sequence[float] = (0.8, 1.0)):
        super().__init__()
        if crop not in FIXED_CROPS:
            raise ValueError(f"crop: unknown value {crop!r}; expected one of {', '.join(FIXED_CROPS)}")
        self.backbone = backbone
        self.out_size = _size(out_size)
        self.crop = crop
        self.alpha = alpha
        self.area = tuple(area)
        self.generator = None  # a torch.Generator for reproducible random crops, if wanted

    def crop_theta(self, rgb: Tensor) -> Tensor:
        batch, (H, W) = rgb.shape[0], rgb.shape[-2:]
        alpha = self.alpha if self.alpha is not None else Z.pixel_crop_fraction((H, W), self.out_size)
        kw = dict(device=rgb.device, dtype=rgb.dtype)
        if self.training:
            return Z.random_crop_theta(batch, alpha=alpha, generator=self.generator, **kw)
        if self.crop == "centre":
            return Z.centre_crop_theta(batch, alpha, **kw)
        if self.crop == "random":
            return Z.random_crop_theta(batch, area=self.area, generator=self.generator, **kw)
        return Z.identity_theta(batch, **kw)

    def forward(self, rgb: Tensor, lnet: Tensor | None = None, theta: Tensor | None = None) -> dict:
        if theta is None:
            theta = self.crop_theta(rgb)
        return {"logits": self.backbone(Z.zoom(rgb, theta, self.out_size)), "theta": theta}

    def lnet_parameters(self) -> Iterator[nn.Parameter]:
        return iter(())

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        yield from self.backbone.parameters()


def resolve_init_scale(value, crop: int, frame_size):
    """model.init_scale: a number, an [sx, sy] pair, or 'crop' (the baseline's centre-crop
    framing: ``crop`` pixels of a ``frame_size`` = (H, W) frame)."""
    if value == "crop":
        return Z.pixel_crop_fraction(_size(frame_size), _size(crop))
    return value


def build_model(*, backbone: str, num_classes: int, crop: int, frames: int, frame_size,
                width: int | None = None, zoom: str = "adaptive", lnet: str = "efficientnet_b0",
                lnet_width: int | None = None, lnet_input: str = "residual", lnet_moments: bool = False,
                lnet_pretrained: str | None = None, lnet_norm: str | None = None,
                theta_mode: str = "scale", augment: bool = True, s_min: float = 0.3,
                init_scale=1.0, augment_shear: float = 0.1, augment_translation: float = 0.1,
                max_shear: float = 0.3, crop_alpha=None, pretrained: str | None = None,
                require_weights: bool = True) -> nn.Module:
    """The backbone behind adaptive zooming (``zoom='adaptive'``) or behind a fixed crop
    (``zoom='none'``, the baseline).

    ``crop``: backbone input side; ``frames``: K, the clip length (the LNet reads K·C channels of
    ``lnet_input``); ``frame_size``: (H, W) of the frames the sampler reads. ``pretrained``:
    backbone weights (a path, 'kinetics400' or None; see :func:`build_backbone`), and
    ``lnet_pretrained`` the LNet's; ``require_weights=False`` warns instead of stopping when they
    are missing. ``init_scale``: where θ starts (a number, (sx, sy), or 'crop': the baseline's
    centre-crop framing). ``crop_alpha``: the baseline's crop as a fraction of each side (None:
    ``crop`` pixels).
    """
    if zoom not in ZOOMS:
        raise ValueError(f"model.zoom: unknown value {zoom!r}; expected one of {', '.join(ZOOMS)}")
    net = build_backbone(backbone, num_classes, width, pretrained, strict=require_weights)
    if zoom == "none":
        return FixedCrop(net, crop, crop="centre", alpha=crop_alpha)
    if lnet_input not in LNET_CHANNELS:
        raise ValueError(f"model.lnet_input: unknown value {lnet_input!r}; expected one of "
                         f"{', '.join(LNET_CHANNELS)}")
    localiser = build_lnet(lnet, frames * LNET_CHANNELS[lnet_input], lnet_width, lnet_pretrained,
                           strict=require_weights, moments=lnet_moments)
    return AdaptiveZoom(
        net, localiser, theta_mode=theta_mode, augment=augment, out_size=crop, s_min=s_min,
        init_scale=resolve_init_scale(init_scale, crop, frame_size), augment_shear=augment_shear,
        augment_translation=augment_translation, max_shear=max_shear, lnet_norm=lnet_norm)
