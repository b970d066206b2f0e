"""Clip sampling (paper §4.1): K frames at a temporal stride, one random clip per video per
training epoch, N uniformly spaced clips per test video; the whole resized frame goes to the
model (crops are the sampler's θ), with the LNet input of the same K frames from the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from azlib.codec import decode_clip, decode_rgb, probe
from azlib.datasets.synthetic import frame_size, load_boxes
from azlib.errors import ConfigError, DataError, VideoError
from azlib.store import lnet_clip


def clip_starts(num_frames: int, frames: int, stride: int, n_clips: int) -> list[int]:
    """First frame of ``n_clips`` uniformly spaced clips of ``frames`` frames at ``stride``.

    One clip is centred; several span the video from its first to its last possible start.
    """
    if frames < 1 or stride < 1 or n_clips < 1:
        raise ValueError(f"clip: frames, stride and n_clips must be >= 1, got {frames}, {stride}, {n_clips}")
    span = (frames - 1) * stride + 1
    if num_frames < span:
        raise ValueError(f"video has {num_frames} frames, fewer than one clip "
                         f"({frames} frames at stride {stride} = {span})")
    last = num_frames - span
    if n_clips == 1:
        return [last // 2]
    return [int(round(i * last / (n_clips - 1))) for i in range(n_clips)]


class ClipDataset(Dataset):
    """Items: dict(rgb (3,K,H,W), lnet (K*C,Ha,Wa), label, video, clip, box (4,) in [-1,1]).

    ``frames`` (K) frames at ``stride``, resized to ``size`` (H, W); ``test_clips`` clips per
    video when not ``train``. A video that cannot be decoded raises VideoError naming it: the
    dataset check (:mod:`azlib.datasets.check`) keeps such videos out before any training.

    ``cache_bytes`` > 0 keeps training videos decoded (whole, resized) in this process, up to
    that many bytes, so later epochs take their clips without decoding; videos past the budget
    decode their clip each time. The clips are the same either way: the same decoder and
    scaler give every frame, and the header's frame count places the clip.
    """

    def __init__(self, records: Sequence, *, frames: int, stride: int, size: Sequence[int],
                 test_clips: int = 1, train: bool = True, store=None, modality: str | None = None,
                 mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), seed: int = 0, boxes_root=None,
                 num_classes: int | None = None, cache_bytes: int = 0):
        self.records = list(records)
        if not self.records:
            raise DataError("ClipDataset: no videos (empty record list)")
        self.frames, self.stride = int(frames), int(stride)
        self.size = tuple(int(v) for v in size)
        self.n_clips = 1 if train else int(test_clips)
        if len(self.size) != 2:
            raise ConfigError(f"clip.resize: expected [H, W], got {list(size)}")
        for record in self.records:
            label = record.label
            if not isinstance(label, (int, np.integer)) or label < 0 or (
                    num_classes is not None and label >= num_classes):
                raise DataError(f"{record.path}: label {label!r} is not in the class index "
                                f"(0..{'?' if num_classes is None else num_classes - 1})")
        if store is not None and modality is None:
            raise ConfigError("ClipDataset: a store needs a modality (model.lnet_input)")
        self.store, self.modality, self.train = store, modality, train
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1, 1)
        self.seed, self.epoch = int(seed), 0
        self.boxes_root = None if boxes_root is None else Path(boxes_root)
        self.frame_hw = None if self.boxes_root is None else frame_size(self.boxes_root)
        self._cache = (None, None)  # (video index, frames): test clips of one video decode once
        self.cache_bytes = int(cache_bytes)
        self._decoded: dict[int, tuple[int, np.ndarray]] = {}  # video -> (header frames, frames)
        self._decoded_bytes = 0

    def set_epoch(self, epoch: int) -> None:
        """Training clips are drawn from (seed, epoch, video): same epoch, same clips."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.records) * self.n_clips

    def _frames(self, video: int) -> np.ndarray:
        if self._cache[0] != video:
            self._cache = (video, decode_rgb(self.records[video].path, size=self.size))
        return self._cache[1]

    def _training_clip(self, video: int, clip: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(indices, RGB frames at them, frames decoded) of a training clip."""
        path = self.records[video].path
        if video in self._decoded:
            header, whole = self._decoded[video]
        else:
            header, whole = probe(path).num_frames, None
        if whole is None and self._decoded_bytes < self.cache_bytes:
            whole = decode_rgb(path, size=self.size)
            self._decoded[video] = (header, whole)
            self._decoded_bytes += whole.nbytes
        indices = self.frame_indices(video, clip, header)
        if whole is not None:
            if indices[-1] >= len(whole):  # the header promised more frames than the file has
                indices = self.frame_indices(video, clip, len(whole))
            return indices, whole[indices], len(whole)
        # Decode only up to the clip's last frame; only the clip's frames are converted to RGB.
        clip_rgb, decoded = decode_clip(path, indices, size=self.size)
        if clip_rgb is None:  # the header promised more frames than the file has
            indices = self.frame_indices(video, clip, decoded)
            clip_rgb, decoded = decode_clip(path, indices, size=self.size)
        return indices, clip_rgb, decoded

    def frame_indices(self, video: int, clip: int, num_frames: int) -> np.ndarray:
        if not 0 <= clip < self.n_clips:
            raise IndexError(f"{self.records[video].path}: clip {clip} out of range (0..{self.n_clips - 1})")
        try:
            starts = clip_starts(num_frames, self.frames, self.stride, self.n_clips)
        except ValueError as error:
            raise VideoError(f"{self.records[video].path}: {error}; the dataset check keeps such "
                             "videos out (python -m azlib check-data)") from None
        if self.train:
            last = num_frames - (self.frames - 1) * self.stride - 1
            start = int(np.random.default_rng([self.seed, self.epoch, video]).integers(0, last + 1))
        else:
            start = starts[clip]
        return start + self.stride * np.arange(self.frames)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"ClipDataset index {index} out of range (0..{len(self) - 1})")
        video, clip = divmod(index, self.n_clips)
        return self.item(video, clip)

    def item(self, video: int, clip: int) -> dict:
        """The clip ``clip`` of video ``video`` (raises VideoError when it cannot be decoded)."""
        record = self.records[video]
        if self.train:  # the header's frame count places the clip
            indices, clip_rgb, frames = self._training_clip(video, clip)
        else:
            whole = self._frames(video)  # N clips spread over the whole video: decode it once
            indices = self.frame_indices(video, clip, len(whole))
            clip_rgb, frames = whole[indices], len(whole)
        rgb = torch.from_numpy(np.ascontiguousarray(clip_rgb)).permute(3, 0, 1, 2).float() / 255.0
        rgb = (rgb - self.mean) / self.std
        item = {"rgb": rgb, "label": int(record.label), "video": video, "clip": clip,
                "lnet": torch.zeros(0), "box": torch.full((4,), float("nan"))}
        if self.store is not None:
            entry = self.store.get(record.path)
            available = len(entry["pict_type"])
            if indices[-1] >= available:
                raise DataError(f"{record.path}: LNet input has {available} frames, RGB has "
                                f"{frames}; the store entry is out of date (clear the cache)")
            item["lnet"] = torch.from_numpy(np.ascontiguousarray(lnet_clip(entry, indices, self.modality)))
        if self.boxes_root is not None:
            item["box"] = torch.from_numpy(self.clip_box(video, indices))
        return item

    def clip_box(self, video: int, indices: np.ndarray) -> np.ndarray:
        """Union of the true boxes over the clip's frames, in [-1, 1] frame coordinates."""
        try:
            boxes = load_boxes(self.boxes_root, self.records[video])
        except DataError:
            return np.full(4, np.nan, np.float32)
        if indices[-1] >= len(boxes):
            raise DataError(f"{self.records[video].path}: {len(boxes)} boxes but clip reaches frame "
                             f"{indices[-1]}; the boxes do not belong to this video")
        chosen = boxes[indices]
        union = np.array([chosen[:, 0].min(), chosen[:, 1].min(), chosen[:, 2].max(), chosen[:, 3].max()])
        height, width = self.frame_hw
        scale = np.array([width, height, width, height], np.float64)
        return (2.0 * union / scale - 1.0).astype(np.float32)
