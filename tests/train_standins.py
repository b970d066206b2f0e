"""Small stand-ins with the package contract's shapes, for fast tests of azlib.train.

``TinyZoomModel`` has AdaptiveZoom's signature (forward(rgb, lnet, theta) -> dict(logits, theta),
lnet_parameters / backbone_parameters) and uses the global RNG in training (like θ
augmentation), so resume tests see RNG state restored. ``ClipTensors`` yields the contract's
item dicts with one random clip per video per epoch (train) or N clips per video (test).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from azlib.config import TrainSettings


class TinyZoomModel(nn.Module):
    def __init__(self, num_classes: int = 3, channels: int = 3, lnet_channels: int = 2):
        super().__init__()
        self.lnet = nn.Sequential(nn.Flatten(), nn.LazyLinear(2))
        self.lnet_in = lnet_channels
        self.backbone = nn.Sequential(nn.Conv3d(channels, 4, 3, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, num_classes))
        self.lnet(torch.zeros(1, lnet_channels, 4, 4))  # materialise the lazy layer

    def forward(self, rgb, lnet=None, theta=None):
        if theta is None:
            scale = 0.5 + 0.5 * torch.sigmoid(self.lnet(lnet))
            zeros = torch.zeros_like(scale[:, 0])
            theta = torch.stack([torch.stack([scale[:, 0], zeros, zeros], -1),
                                 torch.stack([zeros, scale[:, 1], zeros], -1)], 1)
            if self.training:  # random jitter from the global RNG, like θ augmentation
                theta = theta + 0.01 * torch.randn_like(theta)
        grid = nn.functional.affine_grid(theta, (rgb.shape[0], 1, 6, 6), align_corners=False)
        frames = [nn.functional.grid_sample(rgb[:, :, t], grid, align_corners=False)
                  for t in range(rgb.shape[2])]
        logits = self.backbone(torch.stack(frames, 2))
        return {"logits": logits, "theta": theta}

    def lnet_parameters(self):
        return self.lnet.parameters()

    def backbone_parameters(self):
        return self.backbone.parameters()


class ClipTensors(torch.utils.data.Dataset):
    """``videos`` synthetic videos of ``frames`` frames; class = which colour channel is bright."""

    def __init__(self, videos: int = 12, num_classes: int = 3, train: bool = True,
                 test_clips: int = 3, frames: int = 12, clip_len: int = 2, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.labels = np.arange(videos) % num_classes
        data = rng.normal(0, 1, (videos, 3, frames, 8, 8)).astype(np.float32)
        for v, label in enumerate(self.labels):
            data[v, label] += 1.0
        self.data = torch.from_numpy(data)
        self.boxes = torch.from_numpy(rng.uniform(-0.8, 0.8, (videos, 4)).astype(np.float32))
        self.boxes[:, 2:] = self.boxes[:, :2] + 0.2
        self.train, self.test_clips, self.frames, self.clip_len = train, test_clips, frames, clip_len
        self.seed, self.epoch = seed, 0
        self.videos = videos
        self.n_clips = 1 if train else test_clips  # as ClipDataset: clips per video

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self):
        return self.videos if self.train else self.videos * self.test_clips

    def __getitem__(self, i):
        if self.train:
            video, clip = i, 0
            rng = np.random.default_rng([self.seed, self.epoch, i])
            start = int(rng.integers(0, self.frames - self.clip_len + 1))
        else:
            video, clip = divmod(i, self.test_clips)
            start = int(np.linspace(0, self.frames - self.clip_len, self.test_clips)[clip])
        rgb = self.data[video, :, start:start + self.clip_len]
        return {"rgb": rgb, "lnet": rgb.mean(0)[:, ::2, ::2].clone(),
                "label": int(self.labels[video]), "video": video, "clip": clip,
                "box": self.boxes[video]}


TRAIN_CFG = TrainSettings(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4, lnet_lr_mult=1.0,
                          batch_size=4, epochs=3, plateau_patience=1, amp_bf16=False,
                          warmup_epochs=0.0, theta_source="model")
