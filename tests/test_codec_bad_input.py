"""Every kind of unusable video stops with a message naming the file and what to do."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from azlib import codec, extraction
from azlib.errors import VideoError
from videos import make_audio_only_file, make_translating_video

READERS = {
    "probe": codec.probe,
    "decode_rgb": codec.decode_rgb,
    "extract": extraction.extract,
    "lnet_inputs": extraction.lnet_inputs,
}


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    # 96x128: big enough that half the file lies past the AVI header (about 5.7 KB).
    make_translating_video(folder / "good.avi", [2] * 29, size=(96, 128))
    make_translating_video(folder / "good.mp4", [2] * 29, size=(96, 128))
    return folder


@pytest.mark.parametrize("reader", READERS)
def test_missing_path(tmp_path, reader):
    path = tmp_path / "nowhere" / "clip.avi"
    with pytest.raises(VideoError, match=r"clip\.avi: no such file"):
        READERS[reader](path)


@pytest.mark.parametrize("reader", READERS)
def test_non_video_file(tmp_path, reader):
    path = tmp_path / "notes.avi"
    path.write_text("these are notes, not a video\n" * 50)
    with pytest.raises(VideoError, match=r"notes\.avi: FFmpeg cannot read it as a video.*re-download"):
        READERS[reader](path)


@pytest.mark.parametrize("reader", READERS)
def test_zero_byte_file(tmp_path, reader):
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(VideoError, match=r"empty\.mp4: empty file \(0 bytes\)"):
        READERS[reader](path)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(VideoError, match="is a directory"):
        extraction.extract(tmp_path)


@pytest.mark.parametrize("reader", READERS)
def test_no_video_stream(tmp_path, reader):
    path = make_audio_only_file(tmp_path / "speech.m4a")
    with pytest.raises(VideoError, match=r"speech\.m4a: no video stream \(streams: audio\)"):
        READERS[reader](path)


def test_truncated_avi_decodes_valid_part_and_reports_where_it_stopped(video, tmp_path):
    data = (video / "good.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match=r"cut\.avi: truncated or damaged: decoded \d+ valid frames of 30"):
        fields = extraction.extract(cut)
    stopped = int(fields["truncated_at"])
    assert 5 < stopped < 30 and fields["mv"].shape[0] == stopped
    full = extraction.extract(video / "good.avi")
    assert int(full["truncated_at"]) == -1
    for name in ("mv", "mv_accumulated", "residual_accumulated"):
        np.testing.assert_array_equal(fields[name], full[name][:stopped], err_msg=name)
    with pytest.warns(UserWarning, match="truncated"):
        lnet = extraction.lnet_inputs(cut)
    assert int(lnet["truncated_at"]) == stopped and lnet["residual"].shape[0] == stopped
    with pytest.warns(UserWarning, match="truncated"):
        assert codec.decode_rgb(cut).shape[0] == stopped


def test_file_cut_inside_its_header_is_refused(video, tmp_path):
    cut = tmp_path / "stub.avi"
    cut.write_bytes((video / "good.avi").read_bytes()[:5800])  # header and no whole frame
    with pytest.raises(VideoError, match=r"stub\.avi: (no decodable video frame|FFmpeg cannot read)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the truncation warning, if it gets that far
            extraction.extract(cut)


def test_truncated_mp4_without_index_is_refused(video, tmp_path):
    data = (video / "good.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match=r"cut\.mp4: .*damaged.*cut short"):
        extraction.extract(cut)


@pytest.mark.parametrize("reader", ["decode_rgb", "extract", "lnet_inputs"])
def test_video_shorter_than_one_clip(video, reader):
    with pytest.raises(VideoError, match=r"good\.avi: 30 decodable frames, fewer than the 32 one clip needs"):
        READERS[reader](video / "good.avi", min_frames=32)
    assert len(READERS[reader](video / "good.avi", min_frames=30)["pict_type"]
               if reader != "decode_rgb" else READERS[reader](video / "good.avi", min_frames=30)) == 30


def test_command_line_reports_bad_video(tmp_path, capsys):
    from azlib.__main__ import main

    path = tmp_path / "empty.avi"
    path.touch()
    assert main(["extract", str(path), "-o", str(tmp_path / "out.npz")]) == 2
    printed = capsys.readouterr()
    assert printed.err.startswith("error: ") and "empty.avi: empty file" in printed.err
    assert "Traceback" not in printed.err and printed.out == ""
    assert not (tmp_path / "out.npz").exists()
