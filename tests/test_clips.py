"""Clip pipeline: sampling, normalisation, true boxes, bad input, DataLoader."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from azlib import store as store_module
from azlib.codec import decode_clip, decode_rgb
from azlib.datasets.clips import ClipDataset, clip_starts
from azlib.datasets.splits import VideoRecord, load_index
from azlib.datasets.synthetic import SynthSettings, generate, load_boxes
from azlib.errors import DataError, VideoError

SYNTH = SynthSettings(seed=3, classes=("clap", "jump"), actors=2, videos_per_actor_class=2,
                      width=80, height=60, seconds=(1.0, 1.2), figure_height=(0.4, 0.8), workers=1,
                      train_fraction=0.5)
CLIP = {"frames": 4, "stride": 3, "size": (30, 40), "test_clips": 3}
MEAN, STD = (0.43, 0.39, 0.37), (0.23, 0.22, 0.22)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("clips") / "synth", SYNTH)


@pytest.fixture(scope="module")
def index(root):
    return load_index("synthactions", root, 1)


def test_clip_starts():
    assert clip_starts(100, 16, 1, 1) == [42]  # one clip: centred
    assert clip_starts(100, 16, 1, 3) == [0, 42, 84]  # first and last possible starts included
    assert clip_starts(10, 4, 3, 2) == [0, 0]  # exactly one clip long
    with pytest.raises(ValueError, match="fewer than one clip"):
        clip_starts(9, 4, 3, 1)
    with pytest.raises(ValueError):
        clip_starts(10, 0, 1, 1)


def test_decode_clip_converts_only_the_clips_frames_and_equals_decoding_all(index):
    path = index.train[0].path
    whole = decode_rgb(path, size=(30, 40))
    indices = np.array([2, 5, 5, 8, len(whole) - 1])  # increasing, with a repeat, up to the last frame
    frames, decoded = decode_clip(path, indices, size=(30, 40))
    np.testing.assert_array_equal(frames, whole[indices])
    assert decoded == len(whole)
    # past the end: nothing, and how many frames there are (to pick the clip again)
    assert decode_clip(path, np.array([0, len(whole)]), size=(30, 40)) == (None, len(whole))


def test_test_clips_are_uniform_and_normalised(index, root):
    data = ClipDataset(index.test, **CLIP, train=False, mean=MEAN, std=STD, boxes_root=root)
    assert len(data) == 3 * len(index.test)
    frames = decode_rgb(index.test[1].path, size=(30, 40))
    starts = clip_starts(len(frames), 4, 3, 3)
    for clip in range(3):
        item = data[3 + clip]
        assert (item["video"], item["clip"], item["label"]) == (1, clip, index.test[1].label)
        expected = frames[starts[clip] + 3 * np.arange(4)].astype(np.float32) / 255
        expected = (expected - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
        assert item["rgb"].dtype == torch.float32 and item["rgb"].shape == (3, 4, 30, 40)
        assert torch.allclose(item["rgb"], torch.from_numpy(expected).permute(3, 0, 1, 2), atol=1e-5)


def test_training_clip_is_seeded_per_epoch(index):
    data = ClipDataset(index.train, **CLIP, train=True, seed=5)
    assert len(data) == len(index.train)
    first = [data.frame_indices(v, 0, 30)[0] for v in range(len(index.train))]
    assert first == [data.frame_indices(v, 0, 30)[0] for v in range(len(index.train))]
    data.set_epoch(1)
    epochs = {tuple(first)}
    for epoch in range(1, 6):
        data.set_epoch(epoch)
        epochs.add(tuple(data.frame_indices(v, 0, 30)[0] for v in range(len(index.train))))
    assert len(epochs) > 3  # different clips across epochs
    assert all(0 <= s <= 30 - 10 for e in epochs for s in e)
    data.set_epoch(0)
    again = ClipDataset(index.train, **CLIP, train=True, seed=5)
    assert torch.equal(data[2]["rgb"], again[2]["rgb"])
    # the training clip (decoded only up to its last frame) holds exactly those frames
    frames = decode_rgb(index.train[2].path, size=(30, 40))
    chosen = frames[data.frame_indices(2, 0, len(frames))].astype(np.float32) / 255
    assert torch.allclose(data[2]["rgb"], torch.from_numpy(chosen).permute(3, 0, 1, 2), atol=1e-6)


def test_cached_training_videos_give_the_same_clips_and_decode_once(index, monkeypatch):
    from azlib.datasets import clips

    calls = {"decode_rgb": 0, "decode_clip": 0}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(clips, "decode_rgb", counted("decode_rgb", clips.decode_rgb))
    monkeypatch.setattr(clips, "decode_clip", counted("decode_clip", clips.decode_clip))
    plain = ClipDataset(index.train, **CLIP, train=True, seed=5, mean=MEAN, std=STD)
    cached = ClipDataset(index.train, **CLIP, train=True, seed=5, mean=MEAN, std=STD, cache_bytes=2**30)
    one_video = decode_rgb(index.train[0].path, size=(30, 40)).nbytes
    partly = ClipDataset(index.train, **CLIP, train=True, seed=5, mean=MEAN, std=STD, cache_bytes=one_video)
    n = len(index.train)
    for epoch in range(3):
        for data in (plain, cached, partly):
            data.set_epoch(epoch)
        for v in range(n):
            expected = plain[v]
            for data in (cached, partly):
                item = data[v]
                assert torch.equal(item["rgb"], expected["rgb"]) and item["label"] == expected["label"]
    assert len(cached._decoded) == n and len(partly._decoded) == 1  # the budget holds one video
    # plain: a clip per item; cached: each video once; partly: one video once, the rest per item
    assert calls["decode_rgb"] == n + 1
    assert calls["decode_clip"] == 3 * n + 3 * (n - 1)


def test_a_negative_frame_cache_is_refused():
    from azlib.config import ClipSettings
    from azlib.errors import ConfigError

    with pytest.raises(ConfigError, match="clip.cache_mib: must be >= 0, got -1"):
        ClipSettings(cache_mib=-1)


def test_box_is_the_union_over_the_clip_in_unit_coordinates(index, root):
    data = ClipDataset(index.test, **CLIP, train=False, boxes_root=root)
    item = data[4]
    frames = len(decode_rgb(index.test[1].path, size=(30, 40)))
    indices = clip_starts(frames, 4, 3, 3)[1] + 3 * np.arange(4)
    boxes = load_boxes(root, index.test[1])[indices]
    union = np.array([boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()])
    expected = union / np.array([80, 60, 80, 60]) * 2 - 1
    assert np.allclose(item["box"].numpy(), expected, atol=1e-5)
    assert -1 <= item["box"][0] < item["box"][2] <= 1 and -1 <= item["box"][1] < item["box"][3] <= 1
    assert torch.isnan(ClipDataset(index.test, **CLIP, train=False)[0]["box"]).all()


def test_bad_input_names_the_video(index, tmp_path):
    long_clip = {**CLIP, "frames": 20}  # 20 frames at stride 3 = 58 > a 1.2 s video
    with pytest.raises(VideoError, match=f"{index.test[0].path.name}.*fewer than one clip.*check-data"):
        ClipDataset(index.test, **long_clip, train=False)[0]
    data = ClipDataset(index.test, **CLIP, train=False)
    with pytest.raises(IndexError, match="out of range"):
        data[len(data)]
    with pytest.raises(IndexError, match=f"{index.test[0].path.name}: clip 3 out of range"):
        data.item(0, 3)
    unlabelled = VideoRecord(index.test[0].path, 7, index.test[0].name)
    with pytest.raises(DataError, match=f"{index.test[0].path.name}: label 7 is not in the class index"):
        ClipDataset([unlabelled], **CLIP, num_classes=2)
    with pytest.raises(DataError, match="label -1"):
        ClipDataset([VideoRecord(index.test[0].path, -1, "x")], **CLIP)


def test_an_unreadable_video_stops_naming_it_never_replaced(index, tmp_path):
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video at all" * 50)
    records = [VideoRecord(broken, 0, "broken")] + list(index.test)
    data = ClipDataset(records, **CLIP, train=True)
    with pytest.raises(VideoError, match="broken.avi: FFmpeg cannot read it"):
        data[0]
    assert data[1]["video"] == 1


def test_lnet_input_is_aligned_with_the_rgb_frames(index, tmp_path):
    store = store_module.LNetInputStore(tmp_path / "cache", scale=4, accumulated=True)
    data = ClipDataset(index.test, **CLIP, store=store, modality="residual", train=False)
    item = data[2]
    entry = store.get(index.test[0].path)
    frames = len(decode_rgb(index.test[0].path))
    indices = clip_starts(frames, 4, 3, 3)[2] + 3 * np.arange(4)
    expected = store_module.lnet_clip(entry, indices, "residual")
    assert item["lnet"].dtype == torch.float32 and item["lnet"].shape[0] == 4  # K * C, C = 1
    assert np.array_equal(item["lnet"].numpy(), expected)


def test_dataloader_with_workers(index, root):
    data = ClipDataset(index.train, **CLIP, train=True, boxes_root=root)
    loader = torch.utils.data.DataLoader(data, batch_size=4, num_workers=2, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    batch = next(iter(loader))
    assert batch["rgb"].shape == (4, 3, 4, 30, 40) and batch["box"].shape == (4, 4)
    assert batch["label"].dtype == torch.int64 and not torch.isnan(batch["box"]).any()
