"""Backbones, LNets, AdaptiveZoom / FixedCrop, build_model, weights loading and MAC counts."""

from __future__ import annotations

import copy
import inspect

import warnings

import pytest
import torch
from torch import nn
from torchvision.models import EfficientNet_B0_Weights, efficientnet_b0
from torchvision.models.video import R3D_18_Weights, r3d_18

from azlib.models import zoom as Z
from azlib.models.az import AdaptiveZoom, FixedCrop, build_model
from azlib.config import BACKBONES, ModelSettings, load_profile
from azlib.models.backbones import (DepthwiseConv3d, PhaseConv3d, _Conv3dFunction, _conv3d_input_grad,
                                    _depthwise_input_grad, backbone_stats, build_backbone, head_of)
from azlib.settings import to_dict
from azlib.models.cost import count_macs, macs_table, step_times, training_step
from azlib.models.lnet import WeightsMissingError, adapt_first_conv, build_lnet, hub_checkpoint_path

SLIM = {"r3d_18": 8, "r2plus1d_18": 8, "x3d_xs": 8, "x3d_s": 8, "x3d_m": 8}


@pytest.fixture
def hub_dir(tmp_path):
    """An empty torch hub cache (restored afterwards): the weights cache tests write into."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(old)


def _same_parameters(a: nn.Module, b: nn.Module, skip: str = "\0") -> bool:
    sb = b.state_dict()
    return all(torch.equal(v, sb[k]) for k, v in a.state_dict().items() if not k.startswith(skip))


@pytest.mark.parametrize("name", BACKBONES)
def test_slim_backbones_give_logits_for_any_clip_size(name):
    torch.manual_seed(0)
    model = build_backbone(name, num_classes=5, width=SLIM[name]).eval()
    for shape in ((2, 3, 4, 48, 48), (1, 3, 8, 64, 80)):
        with torch.no_grad():
            logits = model(torch.randn(shape))
        assert logits.shape == (shape[0], 5) and torch.isfinite(logits).all()
    # logits, not probabilities (pytorchvideo's X3D ends in a softmax unless told otherwise)
    assert not torch.allclose(logits.exp().sum(1), torch.ones(1))


def test_slim_video_resnets_are_torchvision_with_scaled_widths():
    full = r3d_18(num_classes=7)
    slim = build_backbone("r3d_18", 7, width=16)
    assert type(slim) is type(full)
    assert [n for n, _ in slim.named_modules()] == [n for n, _ in full.named_modules()]
    widths = [getattr(slim, f"layer{i}")[0].conv1[0].out_channels for i in (1, 2, 3, 4)]
    assert widths == [16, 32, 64, 128] and slim.fc.in_features == 128
    assert all(p.device.type == "cpu" for p in slim.parameters())  # nothing left on meta
    r21d = build_backbone("r2plus1d_18", 7, width=16)
    assert r21d.stem[3].out_channels == 16 and r21d.layer4[0].conv1[0][0].in_channels == 64


def test_full_backbones_match_the_libraries():
    from pytorchvideo.models.hub.x3d import x3d_m

    assert sum(p.numel() for p in build_backbone("r3d_18", 400).parameters()) == \
        sum(p.numel() for p in r3d_18().parameters())
    ours, theirs = build_backbone("x3d_m", 400), x3d_m(pretrained=False)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, v.shape) for k, v in theirs.state_dict().items()]


@pytest.mark.parametrize("kind, channels, kernel, stride, padding, size", [
    ("depthwise", (3, 3), (3, 3, 3), (1, 1, 1), (1, 1, 1), (5, 7, 6)),
    ("depthwise", (3, 3), (3, 3, 3), (1, 2, 2), (1, 1, 1), (5, 8, 9)),
    ("depthwise", (3, 3), (5, 1, 1), (1, 1, 1), (2, 0, 0), (6, 4, 4)),
    ("depthwise", (3, 3), (3, 3, 3), (2, 2, 2), (1, 1, 1), (5, 6, 7)),
    ("phase", (3, 4), (3, 7, 7), (1, 2, 2), (1, 3, 3), (5, 15, 14)),
    ("phase", (3, 4), (1, 7, 7), (1, 2, 2), (0, 3, 3), (3, 12, 13)),
    ("phase", (2, 3), (3, 5, 4), (2, 3, 2), (1, 2, 0), (6, 13, 12)),
    ("phase", (3, 2), (1, 3, 3), (1, 2, 2), (0, 1, 1), (4, 9, 8)),
])
def test_cpu_convolution_gradients_are_the_library_ones(kind, channels, kernel, stride, padding, size):
    torch.manual_seed(0)
    c_in, c_out = channels
    groups = c_in if kind == "depthwise" else 1
    cls = {"depthwise": DepthwiseConv3d, "phase": PhaseConv3d}[kind]
    ours = cls(c_in, c_out, kernel, stride=stride, padding=padding, groups=groups, bias=False).double()
    plain = nn.Conv3d(c_in, c_out, kernel, stride=stride, padding=padding, groups=groups, bias=False).double()
    plain.weight = ours.weight
    x = torch.randn(2, c_in, *size, dtype=torch.float64, requires_grad=True)
    input_grad = {"depthwise": _depthwise_input_grad, "phase": _conv3d_input_grad}[kind]
    assert torch.autograd.gradcheck(
        lambda x, w: _Conv3dFunction.apply(x, w, stride, padding, groups, input_grad), (x, ours.weight))
    assert torch.equal(ours(x), plain(x))
    g = torch.randn_like(plain(x))
    for a, b in zip(torch.autograd.grad(ours(x), (x, ours.weight), g),
                    torch.autograd.grad(plain(x), (x, plain.weight), g)):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name, depthwise", [("r3d_18", 0), ("r2plus1d_18", 0), ("x3d_m", 27)])
def test_backbones_give_the_library_gradients(name, depthwise, monkeypatch):
    torch.manual_seed(0)
    model = build_backbone(name, 5, width=8).double().train()
    assert sum(isinstance(m, PhaseConv3d) for m in model.modules()) == 1
    assert sum(isinstance(m, DepthwiseConv3d) for m in model.modules()) == depthwise
    plain = copy.deepcopy(model)
    for m in plain.modules():
        if isinstance(m, (PhaseConv3d, DepthwiseConv3d)):
            m.__class__ = nn.Conv3d
    x = torch.randn(2, 3, 4, 32, 32, dtype=torch.float64)
    grads = []
    for net in (model, plain):
        torch.manual_seed(1)  # the same dropout mask in X3D's head
        clip = x.clone().requires_grad_()  # as adaptive zooming's sampled clip
        net(clip).square().sum().backward()
        grads.append([clip.grad] + [p.grad for p in net.parameters()])
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)
    # under autocast, without gradients or without an input gradient, the library's convolutions run
    monkeypatch.setattr(_Conv3dFunction, "apply", None)
    model.float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model(x.float().requires_grad_())
    with torch.no_grad():
        model(x.float().requires_grad_())
    if not depthwise:
        model(x.float()).sum().backward()


def test_backbone_stats_are_kinetics_normalisation():
    assert backbone_stats("r2plus1d_18") == ((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989))
    assert backbone_stats("x3d_m") == ((0.45,) * 3, (0.225,) * 3)
    with pytest.raises(ValueError, match="model.backbone"):
        backbone_stats("resnet50")


@pytest.mark.parametrize("name", ("r3d_18", "r2plus1d_18", "x3d_xs"))
def test_backbone_loads_a_local_state_dict(tmp_path, name):
    torch.manual_seed(0)
    source = build_backbone(name, 4, width=8)
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    torch.manual_seed(1)
    loaded = build_backbone(name, 4, width=8, pretrained=str(path))
    assert _same_parameters(source, loaded)
    # a checkpoint of another task (other classes, pytorchvideo-style wrapper): head stays fresh
    torch.save({"model_state": source.state_dict()}, path)
    finetune = build_backbone(name, 9, width=8, pretrained=str(path))
    head_name = next(n for n, m in finetune.named_modules() if m is head_of(finetune)[2])
    assert _same_parameters(source, finetune, skip=head_name + ".")
    assert head_of(finetune)[2].out_features == 9


def test_weights_that_do_not_fit_or_are_missing_stop_with_the_file_named(tmp_path):
    path = tmp_path / "w16.pt"
    torch.save(build_backbone("r3d_18", 4, width=16).state_dict(), path)
    with pytest.raises(ValueError, match="w16.pt.*model.width"):
        build_backbone("r3d_18", 4, width=8, pretrained=str(path))
    with pytest.raises(WeightsMissingError, match="nothere.pt"):
        build_backbone("r3d_18", 4, width=8, pretrained=str(tmp_path / "nothere.pt"))
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt"):
        build_backbone("r3d_18", 4, width=8, pretrained=str(tmp_path / "junk.pt"))


@pytest.mark.parametrize("name", ("r3d_18", "r2plus1d_18", "x3d_m"))
def test_missing_kinetics_weights_say_where_to_put_them(hub_dir, name):
    with pytest.raises(WeightsMissingError, match=f"{name}.*{hub_dir}.*download https://"):
        build_backbone(name, 51, pretrained="kinetics400")
    with pytest.warns(UserWarning, match="random initialisation"):
        build_backbone(name, 51, pretrained="kinetics400", strict=False)
    with pytest.raises(ValueError, match="full-size"):
        build_backbone(name, 51, width=8, pretrained="kinetics400")


def test_kinetics_weights_load_from_the_hub_cache(hub_dir):
    from pytorchvideo.models.hub.x3d import checkpoint_paths

    torch.manual_seed(0)
    kinetics = build_backbone("x3d_xs", 400)
    path = hub_checkpoint_path(checkpoint_paths["x3d_xs"])
    path.parent.mkdir(parents=True)
    torch.save({"model_state": kinetics.state_dict()}, path)  # pytorchvideo's checkpoint layout
    model = build_backbone("x3d_xs", 51, pretrained="kinetics400")
    assert _same_parameters(kinetics, model, skip="blocks.5.proj.")
    assert model.blocks[5].proj.out_features == 51
    assert hub_checkpoint_path(R3D_18_Weights.KINETICS400_V1.url).name == "r3d_18-b3b3357e.pth"


def test_tiny_lnet_features():
    lnet = build_lnet("tiny", in_channels=8, width=4)
    assert lnet(torch.randn(3, 8, 15, 20)).shape == (3, lnet.out_features)
    with pytest.raises(ValueError, match="model.lnet"):
        build_lnet("resnet", 8)


def test_efficientnet_lnet_adapts_imagenet_first_conv(hub_dir):
    torch.manual_seed(0)
    imagenet = efficientnet_b0()
    path = hub_checkpoint_path(EfficientNet_B0_Weights.IMAGENET1K_V1.url)
    with pytest.raises(WeightsMissingError, match="efficientnet_b0"):
        build_lnet("efficientnet_b0", 16, weights="imagenet")
    path.parent.mkdir(parents=True)
    torch.save(imagenet.state_dict(), path)
    lnet = build_lnet("efficientnet_b0", 16, weights="imagenet").eval()
    first = lnet.body[0][0][0]
    assert first.in_channels == 16 and lnet.out_features == 1280
    rgb_mean = imagenet.features[0][0].weight.mean(1, keepdim=True)
    torch.testing.assert_close(first.weight, rgb_mean.expand(-1, 16, -1, -1))
    torch.testing.assert_close(lnet.body[0][1][0].block[0][0].weight,
                               imagenet.features[1][0].block[0][0].weight)
    assert lnet(torch.randn(2, 16, 64, 86)).shape == (2, 1280)
    conv = adapt_first_conv(nn.Conv3d(3, 4, 3, bias=True), 2)
    assert conv.weight.shape == (4, 2, 3, 3, 3) and conv.bias is not None


def _az(theta_mode="scale", augment=False, **kw):
    torch.manual_seed(0)
    return AdaptiveZoom(build_backbone("r3d_18", 3, width=4), build_lnet("tiny", 4, 4),
                        theta_mode, augment, out_size=16, **kw)


def test_adaptive_zoom_outputs_and_gradient_reaches_the_lnet():
    model = _az("all")
    rgb, lnet = torch.randn(2, 3, 4, 24, 32), torch.rand(2, 4, 6, 8)
    out = model(rgb, lnet)
    assert out["logits"].shape == (2, 3) and out["theta"].shape == (2, 2, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(2):  # the head starts at zero: the LNet body gets gradient from step 2 on
        opt.zero_grad()
        model(rgb, lnet)["logits"].sum().backward()
        opt.step()
    first_conv = model.lnet.body[0].weight.grad
    assert first_conv is not None and first_conv.abs().sum() > 0
    assert model.head.fc.weight.grad.abs().sum() > 0
    lnet_ids = {id(p) for p in model.lnet_parameters()}
    backbone_ids = {id(p) for p in model.backbone_parameters()}
    assert not lnet_ids & backbone_ids and lnet_ids | backbone_ids == {id(p) for p in model.parameters()}


def test_explicit_theta_overrides_and_augmentation_is_training_only():
    model = _az("scale", augment=True, augment_shear=0.2, augment_translation=0.2)
    rgb, lnet = torch.randn(2, 3, 4, 24, 32), torch.rand(2, 4, 6, 8)
    theta = Z.centre_crop_theta(2, 0.5)
    model.eval()
    torch.testing.assert_close(model(rgb, lnet, theta)["theta"], theta)
    torch.testing.assert_close(model(rgb, None, theta)["logits"],
                               model.backbone(Z.zoom(rgb, theta, (16, 16))))
    eval_theta = model(rgb, lnet)["theta"]
    assert torch.equal(eval_theta[:, 0, 1:], torch.zeros(2, 2))
    model.train()
    out = model(rgb, lnet)
    assert out["theta"][:, 0, 1:].abs().min() > 0  # shear and translation added
    torch.testing.assert_close(out["theta_predicted"][:, :, :2].diagonal(dim1=1, dim2=2),
                               out["theta"][:, :, :2].diagonal(dim1=1, dim2=2))
    with pytest.raises(ValueError, match="LNet input"):
        model(rgb)


def test_fixed_crop_random_to_train_centre_to_test():
    torch.manual_seed(0)
    model = FixedCrop(nn.Identity(), out_size=(4, 6))
    rgb = torch.randn(8, 3, 2, 8, 12)
    model.eval()
    out = model(rgb)
    torch.testing.assert_close(Z.zoom(rgb, out["theta"], (4, 6)), rgb[..., 2:6, 3:9])
    torch.testing.assert_close(out["logits"], rgb[..., 2:6, 3:9], atol=1e-5, rtol=1e-5)
    model.train()
    theta = model(rgb)["theta"]
    boxes = Z.theta_to_box(theta, 8, 12)
    torch.testing.assert_close(boxes[:, 2] - boxes[:, 0], torch.full((8,), 6.0))
    assert boxes[:, 0].std() > 0.1 and (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 12 + 1e-5).all()
    model = FixedCrop(nn.Identity(), out_size=4, crop="random").eval()
    area = Z.box_area_ratio(model(rgb)["theta"]) ** 2
    assert area.min() >= 0.8 - 1e-5 and area.std() > 0
    assert list(model.lnet_parameters()) == []
    with pytest.raises(ValueError, match="crop"):
        FixedCrop(nn.Identity(), 4, crop="corner")


def _cfg(**kw):
    cfg = dict(backbone="r3d_18", width=4, lnet="tiny", lnet_width=4, theta_mode="scale",
               augment=True, lnet_input="residual", s_min=0.3, pretrained=None)
    cfg.update(kw)
    return cfg


def test_build_model_from_profile_sections():
    profile = load_profile("smoke")
    settings = to_dict(profile.model)
    model = build_model(**settings, num_classes=4, crop=48, frames=4, frame_size=(60, 80))
    assert isinstance(model, AdaptiveZoom) and model.head.mode == profile.model.theta_mode
    assert model(torch.randn(1, 3, 4, 60, 80), torch.rand(1, 4, 15, 20))["logits"].shape == (1, 4)
    sizes = dict(num_classes=4, crop=16, frames=3, frame_size=(20, 24))
    mv = build_model(**_cfg(lnet_input="mv", theta_mode="all"), **sizes)
    assert mv.lnet.body[0].in_channels == 6 and mv.head.mode == "all"
    assert isinstance(build_model(**_cfg(zoom="none"), **sizes), FixedCrop)
    crop_start = build_model(**_cfg(init_scale="crop"), num_classes=4, crop=48, frames=2,
                             frame_size=(60, 80)).eval()
    theta = crop_start(torch.randn(1, 3, 2, 60, 80), torch.rand(1, 2, 15, 20))["theta"]
    torch.testing.assert_close(theta[0, :, :2].diagonal(), torch.tensor([0.6, 0.8]))
    with pytest.raises(ValueError, match="model.zoom"):
        build_model(**_cfg(zoom="sometimes"), **sizes)
    with pytest.raises(ValueError, match="model.lnet_input"):
        build_model(**_cfg(lnet_input="flow"), **sizes)


def test_build_model_defaults_are_the_profile_defaults():
    """One default per setting: build_model's signature and ModelSettings agree."""
    signature = inspect.signature(build_model).parameters
    for name, value in to_dict(ModelSettings()).items():
        if name in signature and signature[name].default is not inspect.Parameter.empty:
            default = signature[name].default
            assert (list(default) if isinstance(default, tuple) else default) == value, name


def test_paper_profile_stops_when_weights_are_missing(hub_dir):
    settings = to_dict(load_profile("paper").model)
    sizes = dict(num_classes=51, crop=112, frames=16, frame_size=(128, 171))
    with pytest.raises(WeightsMissingError, match="Kinetics-400 weights for r2plus1d_18"):
        build_model(**settings, **sizes)
    with pytest.raises(WeightsMissingError, match="LNet ImageNet weights"):
        build_model(**dict(settings, pretrained=None), **sizes)


def test_count_macs_follows_fvcore_and_counts_the_sampler():
    conv = nn.Conv3d(3, 8, 3, padding=1, bias=False)
    assert count_macs(conv, torch.zeros(1, 3, 4, 10, 10)) == 3 * 8 * 27 * 4 * 10 * 10
    model = _az("scale").train()
    rgb, lnet = torch.zeros(1, 3, 4, 24, 32), torch.zeros(1, 4, 6, 8)
    parts = count_macs(model, (rgb, lnet), by_module=True)
    assert model.training  # mode restored
    sampler = parts[""] - parts["backbone"] - parts["lnet"] - parts["head"]
    assert sampler == 4 * 3 * 4 * 16 * 16 + 6 * 16 * 16  # bilinear taps + affine grid
    # torchvision's R3D-18 at 16x112x112: ~40.7 GMac, not the paper's 8.33 (noted in the book)
    assert 40.0e9 < count_macs(build_backbone("r3d_18", 400), torch.zeros(1, 3, 16, 112, 112)) < 41.5e9


def test_macs_table_at_cpu_sizes():
    table = macs_table(("r3d_18", "x3d_xs"), frames=4, crop=48, frame_size=(60, 80), lnet="tiny",
                       lnet_width=8, lnet_size=(15, 20), width=8)
    assert list(table["backbone"]) == ["r3d_18", "x3d_xs"]
    torch.testing.assert_close(torch.tensor(table["total GMac"].values),
                               torch.tensor((table["backbone GMac"] + table["zoom GMac"]).values))
    assert (table["zoom GMac"] > 0).all() and (table["zoom %"] < 5).all()


def test_step_times_measure_every_step_interleaved():
    calls = []
    model = build_backbone("r3d_18", 3, 4)
    step = training_step(model, (torch.randn(2, 3, 2, 16, 16),), torch.tensor([0, 1]))
    times = step_times({"a": lambda: calls.append("a"), "b": step}, repeats=3, warmup=1)
    assert set(times) == {"a", "b"} and calls == ["a"] * 4 and times["b"] > 0
