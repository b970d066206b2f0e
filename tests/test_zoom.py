"""θ parameterisations, θ augmentation, the sampler and θ ↔ box geometry (azlib.models.zoom)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from azlib.models import zoom as Z

# Entries of θ as (row, column), and which each mode may set (Table 4).
ENTRIES = {"sx": (0, 0), "shx": (0, 1), "tx": (0, 2), "shy": (1, 0), "sy": (1, 1), "ty": (1, 2)}
TARGETED = {"scale": {"sx", "sy"}, "scale_translation": {"sx", "sy", "tx", "ty"},
            "scale_shear": {"sx", "sy", "shx", "shy"}, "all": set(ENTRIES)}


def _random_head(mode, in_features=5, scale=3.0, seed=0, **kw):
    head = Z.ThetaHead(in_features, mode, **kw)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        head.fc.weight.copy_(scale * torch.randn(head.fc.weight.shape, generator=g))
        head.fc.bias.copy_(scale * torch.randn(head.fc.bias.shape, generator=g))
    return head


@pytest.mark.parametrize("in_size,out_size", [((32, 48), (16, 24)), ((60, 80), (48, 48)),
                                              ((128, 171), (112, 112)), ((37, 53), (20, 31))])
def test_identity_theta_is_a_plain_resize(in_size, out_size):
    clip = torch.randn(2, 3, 4, *in_size, generator=torch.Generator().manual_seed(1))
    out = Z.zoom(clip, Z.identity_theta(2), out_size)
    frames = clip.transpose(1, 2).reshape(-1, 3, *in_size)
    expected = F.interpolate(frames, size=out_size, mode="bilinear", align_corners=False,
                             antialias=False).reshape(2, 4, 3, *out_size).transpose(1, 2)
    assert out.shape == (2, 3, 4, *out_size)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)  # float32 grid arithmetic


def test_identity_upsampling_matches_resize_with_border_padding():
    # Upsampling samples half a pixel past the edge: resize clamps, which is border padding.
    clip = torch.randn(1, 3, 2, 8, 10)
    out = Z.zoom(clip, Z.identity_theta(1), (16, 25), padding_mode="border")
    expected = F.interpolate(clip[0].transpose(0, 1), size=(16, 25), mode="bilinear",
                             align_corners=False).transpose(0, 1)[None]
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)  # float32 grid arithmetic


def test_box_theta_crops_exact_pixels_from_every_frame():
    clip = torch.randn(2, 3, 5, 12, 16)
    box = torch.tensor([[4.0, 2.0, 12.0, 10.0], [0.0, 4.0, 8.0, 12.0]])  # 8x8 pixel boxes
    out = Z.zoom(clip, Z.box_to_theta(box, 12, 16), (8, 8))
    torch.testing.assert_close(out[0], clip[0, :, :, 2:10, 4:12], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out[1], clip[1, :, :, 4:12, 0:8], atol=1e-4, rtol=1e-4)


def test_zoom_uses_one_theta_for_all_frames_of_a_clip():
    frame = torch.randn(1, 3, 1, 20, 30)
    clip = frame.expand(1, 3, 6, 20, 30).contiguous()
    theta = Z.theta_from_params(torch.tensor([0.5]), torch.tensor([0.7]), torch.tensor([0.2]),
                                torch.tensor([-0.1]), torch.tensor([0.1]), torch.tensor([0.0]))
    out = Z.zoom(clip, theta, (10, 10))
    for t in range(6):
        torch.testing.assert_close(out[:, :, t], out[:, :, 0])


def test_zoom_rejects_bad_shapes():
    with pytest.raises(ValueError, match="B, C, T, H, W"):
        Z.zoom(torch.zeros(1, 3, 8, 8), Z.identity_theta(1), (4, 4))
    with pytest.raises(ValueError, match="theta"):
        Z.zoom(torch.zeros(2, 3, 2, 8, 8), Z.identity_theta(1), (4, 4))


@pytest.mark.parametrize("mode", Z.THETA_MODES)
def test_each_mode_sets_exactly_its_parameters(mode):
    head = _random_head(mode)
    theta = head(torch.randn(64, 5, generator=torch.Generator().manual_seed(2)))
    for name, (row, col) in ENTRIES.items():
        values = theta[:, row, col]
        if name in TARGETED[mode]:
            assert values.abs().min() > 0 and values.std() > 1e-3, f"{mode}: {name} not learned"
        else:
            assert torch.equal(values, torch.zeros_like(values)), f"{mode}: {name} is not zero"


@pytest.mark.parametrize("mode", Z.THETA_MODES)
def test_theta_stays_in_bounds_under_extreme_lnet_outputs(mode):
    s_min, max_shear, margin = 0.3, 0.3, 0.1
    head = _random_head(mode, scale=1e4, s_min=s_min, max_shear=max_shear, t_margin=margin)
    theta = head(1e3 * torch.randn(256, 5))
    assert torch.isfinite(theta).all()
    sx, sy = theta[:, 0, 0], theta[:, 1, 1]
    for s in (sx, sy):
        assert s.min() >= s_min and s.max() <= 1.0
    assert (theta[:, 0, 2].abs() <= 1 - sx + margin + 1e-6).all()
    assert (theta[:, 1, 2].abs() <= 1 - sy + margin + 1e-6).all()
    assert (theta[:, 0, 1].abs() <= max_shear).all() and (theta[:, 1, 0].abs() <= max_shear).all()
    # extreme outputs reach both ends of the scale range: the bound is what holds them
    assert sx.min() < s_min + 1e-3 and sx.max() > 1 - 1e-3


def test_zero_initialised_head_starts_at_init_scale():
    features = torch.randn(4, 7)
    theta = Z.ThetaHead(7, "all", s_min=0.3, init_scale=(0.6, 0.8))(features)
    expected = Z.theta_from_params(torch.full((4,), 0.6), torch.full((4,), 0.8))
    torch.testing.assert_close(theta, expected)
    near_identity = Z.ThetaHead(7, "scale", s_min=0.3, init_scale=1.0)(features)
    assert torch.allclose(near_identity, Z.identity_theta(4), atol=0.04)
    with pytest.raises(ValueError, match="init_scale"):
        Z.ThetaHead(7, "scale", s_min=0.3, init_scale=0.2)
    with pytest.raises(ValueError, match="theta_mode"):
        Z.ThetaHead(7, "rotation")


def test_theta_box_round_trip_in_pixels():
    g = torch.Generator().manual_seed(3)
    H, W = 128, 171
    x0 = torch.rand(50, generator=g) * W / 2
    y0 = torch.rand(50, generator=g) * H / 2
    box = torch.stack([x0, y0, x0 + 10 + torch.rand(50, generator=g) * W / 2,
                       y0 + 10 + torch.rand(50, generator=g) * H / 2], -1)
    theta = Z.box_to_theta(box, H, W)
    torch.testing.assert_close(Z.theta_to_box(theta, H, W), box, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(Z.box_to_theta(Z.theta_to_box(theta, H, W), H, W), theta)
    # normalised coordinates: the whole frame is the identity
    whole = torch.tensor([[-1.0, -1.0, 1.0, 1.0]])
    torch.testing.assert_close(Z.normalised_box_to_theta(whole), Z.identity_theta(1))
    torch.testing.assert_close(Z.theta_to_box(Z.identity_theta(1), H, W),
                               torch.tensor([[0.0, 0.0, float(W), float(H)]]))


def test_centre_crop_theta_is_the_baselines_pixel_crop():
    alpha = Z.pixel_crop_fraction((128, 171), (112, 112))
    box = Z.theta_to_box(Z.centre_crop_theta(1, alpha), 128, 171)
    torch.testing.assert_close(box, torch.tensor([[29.5, 8.0, 141.5, 120.0]]))
    torch.testing.assert_close(Z.box_area_ratio(Z.centre_crop_theta(3, 0.875)), torch.full((3,), 0.875))
    with pytest.raises(ValueError, match="larger than the frame"):
        Z.pixel_crop_fraction((100, 100), (112, 112))
    with pytest.raises(ValueError, match="alpha"):
        Z.centre_crop_theta(1, 1.2)


def test_random_crops_stay_inside_the_frame_and_are_seeded():
    theta = Z.random_crop_theta(500, area=(0.8, 1.0), generator=torch.Generator().manual_seed(0))
    box = Z.theta_to_box(theta, 60, 80)
    assert (box[:, :2] >= -1e-4).all() and (box[:, 2] <= 80 + 1e-4).all() and (box[:, 3] <= 60 + 1e-4).all()
    area = theta[:, 0, 0] * theta[:, 1, 1]
    assert area.min() >= 0.8 - 1e-6 and area.max() <= 1.0 and area.max() - area.min() > 0.15
    again = Z.random_crop_theta(500, area=(0.8, 1.0), generator=torch.Generator().manual_seed(0))
    assert torch.equal(theta, again)
    fixed = Z.random_crop_theta(200, alpha=(0.5, 0.75), generator=torch.Generator().manual_seed(1))
    assert torch.all(fixed[:, 0, 0] == 0.5) and torch.all(fixed[:, 1, 1] == 0.75)
    assert fixed[:, 0, 2].abs().max() <= 0.5 and fixed[:, 0, 2].std() > 0.1


def test_augmentation_adds_bounded_shear_and_translation_only():
    theta = Z.centre_crop_theta(400, 0.6)
    out = Z.augment_theta(theta, shear=0.1, translation=0.2, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out[:, 0, 0], theta[:, 0, 0])
    torch.testing.assert_close(out[:, 1, 1], theta[:, 1, 1])
    for (row, col), amplitude in (((0, 1), 0.1), ((1, 0), 0.1), ((0, 2), 0.2), ((1, 2), 0.2)):
        noise = out[:, row, col] - theta[:, row, col]
        assert noise.abs().max() <= amplitude and noise.abs().max() > 0.8 * amplitude
