"""θ parameterisations, θ augmentation, grid generator + bilinear sampler, θ ↔ box geometry.

θ is the (B, 2, 3) affine matrix of Spatial Transformer Networks, mapping output coordinates to
input coordinates, both normalised to [-1, 1] (``align_corners=False``):

    [[sx, shx, tx],
     [shy, sy, ty]]

With no shear the sampled window is the box ``x ∈ [tx - sx, tx + sx]``, ``y ∈ [ty - sy, ty + sy]``;
``sx = sy = 1, t = 0`` is the whole frame. Paper §3.2.2 (eq. 2-3) and Table 4 (θ modes).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from azlib.config import THETA_MODES

# Which θ entries each mode learns; an entry a mode does not target stays exactly zero (Table 4).
_MODE_PARAMS = {
    "scale": ("sx", "sy"),
    "scale_translation": ("sx", "sy", "tx", "ty"),
    "scale_shear": ("sx", "sy", "shx", "shy"),
    "all": ("sx", "sy", "tx", "ty", "shx", "shy"),
}


def _check_mode(mode: str) -> str:
    if mode not in THETA_MODES:
        raise ValueError(f"theta_mode: unknown value {mode!r}; expected one of {', '.join(THETA_MODES)}")
    return mode


def _pair(value) -> tuple[float, float]:
    """A scalar or an (x, y) pair as a pair of floats."""
    if isinstance(value, (int, float)):
        return float(value), float(value)
    x, y = value
    return float(x), float(y)


def theta_from_params(sx: Tensor, sy: Tensor, tx=None, ty=None, shx=None, shy=None) -> Tensor:
    """Assemble (B, 2, 3) θ from its entries; missing entries are zero."""
    zero = torch.zeros_like(sx)
    tx, ty, shx, shy = (zero if v is None else v for v in (tx, ty, shx, shy))
    return torch.stack([torch.stack([sx, shx, tx], -1), torch.stack([shy, sy, ty], -1)], -2)


class ThetaHead(nn.Module):
    """Linear regressor from LNet features to a bounded θ of one of ``THETA_MODES``.

    Scales lie in [s_min, 1] (a sigmoid), so the zoom can neither collapse nor look past the
    frame; a translation lies in ±(1 - s + t_margin) (tanh), so a box stays inside the frame but
    for ``t_margin`` (half-widths of the frame) and must zoom in to move far; shears lie in
    ±max_shear (tanh). The linear layer is
    zero-initialised, so θ starts at ``init_scale`` (scalar or (sx, sy); 1: the whole frame, the
    baseline's centre-crop framing is another sensible start) with no shear or translation.
    A sigmoid has no gradient at its ends, so the start is kept within 5 % of them (init 1.0
    starts at s = 1 - 0.05·(1 - s_min)).
    """

    def __init__(self, in_features: int, mode: str = "scale", s_min: float = 0.3,
                 init_scale=1.0, max_shear: float = 0.3, t_margin: float = 0.1):
        super().__init__()
        self.mode = _check_mode(mode)
        if not 0.0 < s_min < 1.0:
            raise ValueError(f"s_min: {s_min!r} must lie in (0, 1)")
        self.s_min = float(s_min)
        self.max_shear = float(max_shear)
        self.t_margin = float(t_margin)
        self.params = _MODE_PARAMS[mode]
        self.fc = nn.Linear(in_features, len(self.params))
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)
        # Offset added to the raw scale outputs so that a zero output means init_scale.
        offsets = []
        for s in _pair(init_scale):
            if not self.s_min <= s <= 1.0:
                raise ValueError(f"init_scale: {s!r} must lie in [s_min={self.s_min}, 1]")
            u = (s - self.s_min) / (1.0 - self.s_min)
            u = min(max(u, 0.05), 0.95)  # where the sigmoid still has a gradient
            offsets.append(math.log(u / (1.0 - u)))
        self.register_buffer("scale_offset", torch.tensor(offsets), persistent=False)

    def forward(self, features: Tensor) -> Tensor:
        raw = dict(zip(self.params, self.fc(features).unbind(-1)))
        span = 1.0 - self.s_min
        sx = self.s_min + span * torch.sigmoid(raw["sx"] + self.scale_offset[0])
        sy = self.s_min + span * torch.sigmoid(raw["sy"] + self.scale_offset[1])
        tx = (1.0 - sx + self.t_margin) * torch.tanh(raw["tx"]) if "tx" in raw else None
        ty = (1.0 - sy + self.t_margin) * torch.tanh(raw["ty"]) if "ty" in raw else None
        shx = self.max_shear * torch.tanh(raw["shx"]) if "shx" in raw else None
        shy = self.max_shear * torch.tanh(raw["shy"]) if "shy" in raw else None
        return theta_from_params(sx, sy, tx, ty, shx, shy)


def identity_theta(batch: int, device=None, dtype=torch.float32) -> Tensor:
    """θ of the whole frame: a plain resize."""
    return centre_crop_theta(batch, 1.0, device=device, dtype=dtype)


def centre_crop_theta(batch: int, alpha=1.0, device=None, dtype=torch.float32) -> Tensor:
    """Centre crop keeping the central fraction ``alpha`` of each side (a scalar or (ax, ay))."""
    ax, ay = _pair(alpha)
    if not (0.0 < ax <= 1.0 and 0.0 < ay <= 1.0):
        raise ValueError(f"alpha: {alpha!r} must lie in (0, 1]")
    theta = torch.zeros(batch, 2, 3, device=device, dtype=dtype)
    theta[:, 0, 0], theta[:, 1, 1] = ax, ay
    return theta


def pixel_crop_fraction(in_size: Sequence[int], out_size: Sequence[int]) -> tuple[float, float]:
    """(ax, ay) of a crop of ``out_size`` pixels from a frame of ``in_size`` (the baseline's crop)."""
    (H, W), (h, w) = in_size, out_size
    if h > H or w > W:
        raise ValueError(f"crop {h}x{w} is larger than the frame {H}x{W}")
    return w / W, h / H


def random_crop_theta(batch: int, area=(0.8, 1.0), alpha=None, generator=None,
                      device=None, dtype=torch.float32) -> Tensor:
    """Random crops at random positions inside the frame.

    With ``alpha`` (scalar or (ax, ay)) every crop keeps that fraction of each side (the
    baseline's training crop: a fixed-size crop at a random place). Otherwise each crop covers a
    uniformly drawn fraction ``area`` of the frame with the frame's aspect ratio (Table 7, "Random").
    """
    if alpha is not None:
        ax, ay = _pair(alpha)
        sx = torch.full((batch,), ax, dtype=dtype)
        sy = torch.full((batch,), ay, dtype=dtype)
    else:
        lo, hi = area
        if not 0.0 < lo <= hi <= 1.0:
            raise ValueError(f"area: {area!r} must satisfy 0 < low <= high <= 1")
        sx = (lo + (hi - lo) * torch.rand(batch, generator=generator, dtype=dtype)).sqrt()
        sy = sx
    tx = (1.0 - sx) * (2.0 * torch.rand(batch, generator=generator, dtype=dtype) - 1.0)
    ty = (1.0 - sy) * (2.0 * torch.rand(batch, generator=generator, dtype=dtype) - 1.0)
    return theta_from_params(sx, sy, tx, ty).to(device)


def augment_theta(theta: Tensor, shear: float = 0.1, translation: float = 0.1,
                  generator=None) -> Tensor:
    """θ plus uniform random shear in ±shear and translation in ±translation (Table 5)."""
    batch = theta.shape[0]

    def uniform(amplitude: float) -> Tensor:
        noise = (2.0 * torch.rand(batch, generator=generator) - 1.0) * amplitude
        return noise.to(device=theta.device, dtype=theta.dtype)

    noise = torch.zeros_like(theta)
    noise[:, 0, 1], noise[:, 1, 0] = uniform(shear), uniform(shear)
    noise[:, 0, 2], noise[:, 1, 2] = uniform(translation), uniform(translation)
    return theta + noise


def zoom(clip: Tensor, theta: Tensor, out_size: Sequence[int], padding_mode: str = "zeros") -> Tensor:
    """Sample every frame of ``clip`` (B, C, T, H, W) with its clip's θ → (B, C, T, h, w).

    One θ per clip: the C·T frames of a clip are treated as channels of one image, so
    ``grid_sample`` builds and uses a single grid per clip (eq. 3).
    """
    if clip.dim() != 5:
        raise ValueError(f"clip: expected (B, C, T, H, W), got shape {tuple(clip.shape)}")
    B, C, T, H, W = clip.shape
    h, w = out_size
    if theta.shape != (B, 2, 3):
        raise ValueError(f"theta: expected shape ({B}, 2, 3), got {tuple(theta.shape)}")
    theta = theta.to(clip.dtype)
    grid = F.affine_grid(theta, [B, C * T, h, w], align_corners=False)
    out = F.grid_sample(clip.reshape(B, C * T, H, W), grid, mode="bilinear",
                        padding_mode=padding_mode, align_corners=False)
    return out.reshape(B, C, T, h, w)


def theta_to_normalised_box(theta: Tensor) -> Tensor:
    """Axis-aligned bounding box (x0, y0, x1, y1) in [-1, 1] coordinates of θ's sampled window."""
    half_w = theta[..., 0, 0].abs() + theta[..., 0, 1].abs()
    half_h = theta[..., 1, 0].abs() + theta[..., 1, 1].abs()
    tx, ty = theta[..., 0, 2], theta[..., 1, 2]
    return torch.stack([tx - half_w, ty - half_h, tx + half_w, ty + half_h], -1)


def theta_to_box(theta: Tensor, H: int, W: int) -> Tensor:
    """Bounding box (x0, y0, x1, y1) in pixels of a H x W frame (pixel edges, so the whole
    frame is (0, 0, W, H)); exact for shear-free θ, the sheared window's bounding box otherwise."""
    box = theta_to_normalised_box(theta)
    scale = box.new_tensor([W / 2.0, H / 2.0, W / 2.0, H / 2.0])
    return (box + 1.0) * scale


def normalised_box_to_theta(box: Tensor) -> Tensor:
    """Shear-free θ sampling the box (x0, y0, x1, y1) given in [-1, 1] coordinates."""
    x0, y0, x1, y1 = box.unbind(-1)
    return theta_from_params((x1 - x0) / 2.0, (y1 - y0) / 2.0, (x0 + x1) / 2.0, (y0 + y1) / 2.0)


def box_to_theta(box: Tensor, H: int, W: int) -> Tensor:
    """Shear-free θ sampling the box (x0, y0, x1, y1) given in pixels of a H x W frame."""
    scale = box.new_tensor([W / 2.0, H / 2.0, W / 2.0, H / 2.0])
    return normalised_box_to_theta(box / scale - 1.0)


def box_area_ratio(theta: Tensor) -> Tensor:
    """Fraction of the frame's side lengths covered, sqrt(area ratio) — Table 7's "mean adaptive
    ratio" is the mean of this over a test set (a central fraction α for ``centre_crop_theta``)."""
    return (theta[..., 0, 0].abs() * theta[..., 1, 1].abs()).sqrt()


ORACLE_MARGIN = 1.15  # an oracle crop is the figure's box enlarged by this factor


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
