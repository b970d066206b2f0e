"""The LNet-input store: content-keyed, atomic, reused; dataset-wide filling reports failures."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from azlib import extraction, store
from azlib.errors import ConfigError, VideoError
from conftest import dead_writer_partial
from videos import make_moving_patch_video, make_translating_video


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    (root / "wave").mkdir()
    (root / "clap").mkdir()
    make_moving_patch_video(root / "wave" / "a.avi", [(2, 1)] * 15, size=(48, 64), patch=16, start=(8, 8))
    make_translating_video(root / "clap" / "b.avi", [(1, 0)] * 15, size=(48, 64))
    (root / "clap" / "broken.avi").write_bytes(b"\x00" * 4000)
    return root


def test_get_matches_lnet_inputs_and_is_reused(dataset, tmp_path, monkeypatch):
    video = dataset / "wave" / "a.avi"
    cache = store.LNetInputStore(tmp_path, scale=4, accumulated=True)
    entry = cache.get(video)
    expected = extraction.lnet_inputs(video, scale=4)
    for name, value in expected.items():
        np.testing.assert_array_equal(entry[name], value, err_msg=name)
    path = cache.entry_path(video)
    assert path.exists() and path.parent.parent == tmp_path
    assert not [p for p in tmp_path.rglob("*") if "partial" in p.name]

    calls = []
    monkeypatch.setattr(extraction, "lnet_inputs", lambda *a, **k: calls.append(a) or expected)
    fresh = store.LNetInputStore(tmp_path, scale=4, accumulated=True)  # nothing in memory: reads the file
    np.testing.assert_array_equal(fresh.get(video)["residual"], entry["residual"])
    copy = tmp_path / "renamed.avi"
    shutil.copy(video, copy)
    assert fresh.entry_path(copy) == path  # keyed by content, not by name
    assert calls == []


def test_key_depends_on_content_and_parameters(dataset, tmp_path):
    a, b = dataset / "wave" / "a.avi", dataset / "clap" / "b.avi"
    acc = store.LNetInputStore(tmp_path, scale=4, accumulated=True)
    per_frame = store.LNetInputStore(tmp_path, scale=4, accumulated=False)
    coarse = store.LNetInputStore(tmp_path, scale=8, accumulated=True)
    paths = {acc.entry_path(a), acc.entry_path(b), per_frame.entry_path(a), coarse.entry_path(a)}
    assert len(paths) == 4
    assert coarse.get(a)["residual"].shape[1:] == (6, 8)
    assert not np.array_equal(acc.get(a)["mv"], per_frame.get(a)["mv"])


@pytest.mark.parametrize("damage", ["garbage", "half"])
def test_damaged_entry_is_extracted_again(dataset, tmp_path, damage):
    video = dataset / "clap" / "b.avi"
    cache = store.LNetInputStore(tmp_path)
    good = cache.get(video)
    path = cache.entry_path(video)
    data = path.read_bytes()
    path.write_bytes(b"garbage" if damage == "garbage" else data[: len(data) // 2])
    fresh = store.LNetInputStore(tmp_path)
    with pytest.warns(UserWarning, match="unreadable cache entry"):
        assert fresh.cached(video) is None  # never reported as cached
    path.write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match="unreadable cache entry"):
        again = store.LNetInputStore(tmp_path).get(video)
    np.testing.assert_array_equal(again["residual"], good["residual"])
    assert store.LNetInputStore(tmp_path).cached(video) is not None  # rewritten whole


def test_min_frames_and_missing_video(dataset, tmp_path):
    with pytest.raises(VideoError, match=r"a\.avi: 16 decodable frames, fewer than the 20"):
        store.LNetInputStore(tmp_path, min_frames=20).get(dataset / "wave" / "a.avi")
    with pytest.raises(VideoError, match="no such file"):
        store.LNetInputStore(tmp_path).get(dataset / "nothing.avi")


def test_lnet_clip_layout_and_ranges(dataset, tmp_path):
    entry = store.LNetInputStore(tmp_path).get(dataset / "wave" / "a.avi")
    frames = [3, 5, 7, 9]
    for modality, channels in store.LNET_CHANNELS.items():
        clip = store.lnet_clip(entry, frames, modality)
        assert clip.dtype == np.float32 and clip.shape == (len(frames) * channels, 12, 16), modality
        assert clip.min() >= -1 and clip.max() <= 1
    residual = store.lnet_clip(entry, frames, "residual")
    assert residual.max() > 0.5  # each frame's map is normalised by its own max before pooling
    np.testing.assert_allclose(residual[1], entry["residual"][5] / 255)
    mv = store.lnet_clip(entry, frames, "mv")
    longest = np.sqrt((entry["mv"][5].astype(float) ** 2).sum(axis=0)).max()
    np.testing.assert_allclose(mv[2:4] * longest, entry["mv"][5], atol=1e-4)  # frame-major
    assert np.sqrt(mv[0] ** 2 + mv[1] ** 2).max() == pytest.approx(1.0)
    gray = store.lnet_clip(entry, frames, "rgb")
    np.testing.assert_allclose(gray[0], entry["gray"][3] / 255)
    with pytest.raises(ConfigError, match="model.lnet_input"):
        store.lnet_clip(entry, frames, "flow")
    with pytest.raises(IndexError, match="16 frames"):
        store.lnet_clip(entry, [14, 16], "residual")


def test_extract_dataset_command_fills_store_and_reports_the_bad_video(dataset, tmp_path, capsys):
    from azlib.__main__ import main

    cache = tmp_path / "cache"
    assert main(["extract-dataset", str(dataset), "--cache", str(cache), "--workers", "2",
                 "--no-progress"]) == 2
    report = capsys.readouterr().err
    assert "3 videos" in report and "extracted 2 (" in report and "failed 1" in report
    assert re.search(r"extracted 2 \((\d+) frames, \d+ frames/s with 2 worker\(s\)\)", report)
    assert "FAILED" in report and "broken.avi" in report and "cannot read it as a video" in report
    assert "Traceback" not in report
    filled = store.LNetInputStore(cache)
    assert filled.cached(dataset / "wave" / "a.avi") is not None
    assert filled.cached(dataset / "clap" / "b.avi") is not None
    # a second run reports the same failure (never as cached), and a killed run's leftovers go
    leftover = dead_writer_partial(cache / "ab" / "entry.npz")
    assert main(["extract-dataset", str(dataset), "--cache", str(cache), "--workers", "1",
                 "--no-progress"]) == 2
    assert "extracted 0, already cached 2, failed 1" in capsys.readouterr().err
    assert not leftover.exists()


def test_a_video_too_short_for_a_clip_fails_again_on_the_next_fill(dataset, tmp_path):
    videos = [str(dataset / "wave" / "a.avi"), str(dataset / "clap" / "b.avi")]  # 16 frames each
    assert store.LNetInputStore(tmp_path, min_frames=16).fill(videos, workers=1, progress=False)["extracted"] == sorted(videos)
    first = store.LNetInputStore(tmp_path, min_frames=20).fill(videos, workers=1, progress=False)
    assert set(first["failed"]) == set(videos) and "fewer than the 20" in first["failed"][videos[0]]
    second = store.LNetInputStore(tmp_path, min_frames=20).fill(videos, workers=1, progress=False)
    assert set(second["failed"]) == set(videos) and second["cached"] == [] == second["extracted"]
