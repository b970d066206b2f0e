"""AdaptiveZoom (Fig. 1, eq. 5): LNet(LNet input) → θ → grid + bilinear sampler(clip) → backbone.

The baseline, ``FixedCrop``, is the same backbone behind a fixed-θ crop through the same sampler:
a random crop to train and a centre crop to test (the paper's protocol, §4.1).
"""

from __future__ import annotations

from typing import Iterator, Sequence

from torch import Tensor, nn

from azlib.models import zoom as Z
from azlib.models.backbones import build_backbone
from azlib.models.lnet import build_lnet

ZOOMS = ("adaptive", "none")
LNET_NORMS = (None, "sample")
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
        if lnet_norm not in LNET_NORMS:
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


def _zoom_choice(value) -> str:
    """model.zoom: 'adaptive' | 'none' (true/false accepted)."""
    if value is True:
        return "adaptive"
    if value is False:
        return "none"
    if value not in ZOOMS:
        raise ValueError(f"model.zoom: unknown value {value!r}; expected one of {', '.join(ZOOMS)}")
    return value


def resolve_init_scale(value, out_size, in_size):
    """model.init_scale: a number, an [sx, sy] pair, or 'crop' (the baseline's centre-crop
    framing, which needs the frame size ``in_size`` = clip.resize)."""
    if value == "crop":
        if in_size is None:
            raise ValueError("model.init_scale: 'crop' needs the frame size; pass in_size=clip.resize")
        return Z.pixel_crop_fraction(_size(in_size), _size(out_size))
    return 1.0 if value is None else value


def build_model(model_cfg: dict, num_classes: int, out_size, frames: int | None = None,
                in_size=None) -> nn.Module:
    """The model the ``model:`` section of a profile describes.

    ``out_size``: backbone input side (clip.crop) or (h, w). ``frames``: K (clip.frames), needed
    by AdaptiveZoom's LNet (K·C input channels); ``in_size``: the frame size (clip.resize), needed
    only for ``init_scale: crop``. Keys beyond the profiles' (all optional): zoom, init_scale,
    augment_shear, augment_translation, max_shear, lnet_norm, lnet_pretrained, require_weights,
    crop_alpha, lnet_moments.
    """
    from azlib.store import LNET_CHANNELS

    cfg = dict(model_cfg)
    strict = bool(cfg.get("require_weights", True))
    backbone = build_backbone(cfg["backbone"], num_classes, cfg.get("width"),
                              cfg.get("pretrained"), strict=strict)
    if _zoom_choice(cfg.get("zoom", "adaptive")) == "none":
        return FixedCrop(backbone, out_size, crop="centre", alpha=cfg.get("crop_alpha"))

    frames = frames if frames is not None else cfg.get("frames")
    if frames is None:
        raise ValueError("build_model: AdaptiveZoom needs the clip length K for its LNet input; "
                         "pass frames=clip.frames")
    modality = cfg.get("lnet_input", "residual")
    if modality not in LNET_CHANNELS:
        raise ValueError(f"model.lnet_input: unknown value {modality!r}; expected one of "
                         f"{', '.join(LNET_CHANNELS)}")
    lnet = build_lnet(cfg["lnet"], frames * LNET_CHANNELS[modality], cfg.get("lnet_width"),
                      cfg.get("lnet_pretrained"), strict=strict,
                      moments=bool(cfg.get("lnet_moments", False)))
    return AdaptiveZoom(
        backbone, lnet, theta_mode=cfg.get("theta_mode", "scale"),
        augment=bool(cfg.get("augment", False)), out_size=out_size,
        s_min=float(cfg.get("s_min", 0.3)),
        init_scale=resolve_init_scale(cfg.get("init_scale"), out_size, in_size),
        augment_shear=float(cfg.get("augment_shear", 0.1)),
        augment_translation=float(cfg.get("augment_translation", 0.1)),
        max_shear=float(cfg.get("max_shear", 0.3)), lnet_norm=cfg.get("lnet_norm"))
