"""End-to-end differentiability that matters: AdaptiveZoom learns where to look.

A tiny task: each 32x32 clip holds two Gaussian blobs, one red and one green, at random places
off the centre; the class is the colour of the blob the LNet input marks. The whole frame always
holds one blob of each colour and the centre holds neither, so the class is visible only in a
view zoomed onto the marked blob alone: the backbone behind a centre crop stays at chance, while
AdaptiveZoom (scale + translation θ, trained end to end through the sampler) learns it.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from azlib.models import zoom as Z
from azlib.models.az import AdaptiveZoom, FixedCrop
from azlib.models.backbones import build_backbone
from azlib.models.lnet import build_lnet

SIZE, OUT, FRAMES, SIGMA = 32, 8, 2, 2.5


def blob(xs, ys, x, y):
    """A Gaussian blob, cut to zero far out (denormal floats would slow CPU convolutions ~50x)."""
    values = torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * SIGMA ** 2))
    return torch.where(values > 1e-4, values, torch.zeros(()))


def make_task(n: int, seed: int):
    """(rgb (n,3,T,32,32), lnet (n,T,16,16), labels (n,), marked blob centre (n,2) in pixels)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    rgb = 0.05 * torch.randn(n, 3, FRAMES, SIZE, SIZE, generator=g)
    lnet = torch.zeros(n, FRAMES, SIZE // 2, SIZE // 2)
    centres = torch.zeros(n, 2)
    ys, xs = torch.meshgrid(torch.arange(SIZE) + 0.5, torch.arange(SIZE) + 0.5, indexing="ij")
    lys, lxs = ys[::2, ::2] + 0.5, xs[::2, ::2] + 0.5
    margin = 2 * SIGMA
    for i in range(n):
        while True:  # both blobs off the centre, well apart; placement independent of the label
            (mx, my), (ox, oy) = (margin + (SIZE - 2 * margin) * torch.rand(2, 2, generator=g)).tolist()
            off_centre = min(max(abs(x - SIZE / 2), abs(y - SIZE / 2)) for x, y in ((mx, my), (ox, oy)))
            if max(abs(mx - ox), abs(my - oy)) >= 12 and off_centre >= 6:
                break
        colour = int(labels[i])
        rgb[i, colour] += blob(xs, ys, mx, my)
        rgb[i, 1 - colour] += blob(xs, ys, ox, oy)
        lnet[i] = blob(lxs, lys, mx, my)
        centres[i] = torch.tensor([mx, my])
    return rgb, lnet, labels, centres


def fit(model, data, steps=300, lr=0.005, lnet_lr_mult=0.1, batch=32, seed=0):
    """Adam, the LNet slower than the backbone (per-group learning rates): the backbone first
    learns what a colour means, then the LNet where to look."""
    rgb, lnet, labels, _ = data
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam([
        {"params": list(model.lnet_parameters()), "lr": lr * lnet_lr_mult},
        {"params": list(model.backbone_parameters()), "lr": lr}])
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(labels), (batch,), generator=g)
        loss = F.cross_entropy(model(rgb[idx], lnet[idx])["logits"], labels[idx])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model


@torch.no_grad()
def evaluate(model, data):
    rgb, lnet, labels, _ = data
    out = model.eval()(rgb, lnet)
    return (out["logits"].argmax(1) == labels).float().mean().item(), out["theta"]


def test_the_task_needs_a_zoom():
    rgb, _, labels, centres = make_task(64, 5)
    whole = Z.zoom(rgb, Z.identity_theta(64), (OUT, OUT))
    # the whole frame holds as much red as green whatever the class
    red, green = whole[:, 0].sum((1, 2, 3)), whole[:, 1].sum((1, 2, 3))
    assert ((red - green).abs() < 0.15 * (red + green).abs()).all()
    # a box around the marked blob shows its colour, i.e. the class
    half = 2.5 * SIGMA
    box = torch.cat([centres - half, centres + half], 1)
    zoomed = Z.zoom(rgb, Z.box_to_theta(box, SIZE, SIZE), (OUT, OUT))
    colour = (zoomed[:, 1].sum((1, 2, 3)) > zoomed[:, 0].sum((1, 2, 3))).long()
    assert torch.equal(colour, labels)


@pytest.fixture
def one_thread():
    """One intra-op thread: with several processes sharing 2 cores, OpenMP threads of small ops
    wait on each other (measured: 15 ms vs 1.6 s per step)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_adaptive_zoom_learns_where_to_look_and_beats_the_centre_crop(one_thread):
    train, test = make_task(512, 0), make_task(256, 1)

    torch.manual_seed(0)
    adaptive = AdaptiveZoom(build_backbone("r3d_18", 2, width=8), build_lnet("tiny", FRAMES, 8),
                            "scale_translation", out_size=OUT, s_min=0.2, init_scale=0.5)
    adaptive_accuracy, theta = evaluate(fit(adaptive, train), test)

    torch.manual_seed(0)
    baseline = FixedCrop(build_backbone("r3d_18", 2, width=8), out_size=OUT)  # random / centre crop
    baseline_accuracy, _ = evaluate(fit(baseline, train), test)

    assert baseline_accuracy < 0.65, baseline_accuracy  # chance: the centre shows no blob
    assert adaptive_accuracy > 0.85, adaptive_accuracy
    assert adaptive_accuracy - baseline_accuracy > 0.25
    # θ moved off its start, and what the LNet input says matters: another clip's input -> chance
    assert theta[:, :, 2].std(0).min() > 0.1
    rgb, lnet, labels, centres = test
    shuffled = (rgb, lnet.roll(1, 0), labels, centres)
    assert evaluate(adaptive, shuffled)[0] < 0.7
