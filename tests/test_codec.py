"""Compressed-domain extraction on videos with known motion (made here, a few KB each)."""

from __future__ import annotations

import numpy as np
import pytest

from azlib import codec, extraction
from azlib.errors import VideoError
from videos import make_moving_patch_video, make_translating_video, textured_image

# Steps change inside GoPs and GoP boundaries (frames 12, 24) fall in the middle of each run.
PAN_STEPS = [(2, 0)] * 5 + [(3, 1)] * 8 + [(-1, 2)] * 8 + [(1, -2)] * 8
PATCH_STEPS = [(2, 0)] * 7 + [(0, 3)] * 6 + [(-3, -1)] * 6


@pytest.fixture(scope="module")
def pan(tmp_path_factory):
    path = tmp_path_factory.mktemp("pan") / "pan.avi"
    shifts = make_translating_video(path, PAN_STEPS, size=(96, 128), gop=12)
    return path, shifts, extraction.extract(path)


@pytest.fixture(scope="module")
def patch(tmp_path_factory):
    path = tmp_path_factory.mktemp("patch") / "patch.avi"
    shifts, boxes = make_moving_patch_video(path, PATCH_STEPS, size=(96, 128), patch=32, start=(30, 20))
    return path, shifts, boxes, extraction.extract(path)


def last_iframe(pict_type, t):
    return max(i for i in range(t + 1) if pict_type[i] == codec.PICT_I)


def test_encode_frames_makes_mpeg4_gop12_without_b_frames(pan):
    path, shifts, fields = pan
    info = codec.probe(path)
    assert (info.num_frames, info.height, info.width, info.codec) == (len(shifts), 96, 128, "mpeg4")
    kinds = bytes(fields["pict_type"]).decode()
    assert kinds == ("I" + "P" * 11) * 2 + "I" + "P" * 5
    assert list(fields["gop_index"]) == [t // 12 for t in range(len(shifts))]


def test_encode_frames_is_deterministic(tmp_path):
    a = make_translating_video(tmp_path / "a.avi", [1] * 5)
    b = make_translating_video(tmp_path / "b.avi", [1] * 5)
    assert (a == b).all()
    assert (tmp_path / "a.avi").read_bytes() == (tmp_path / "b.avi").read_bytes()
    with pytest.raises(VideoError, match="odd"):
        codec.encode_frames([np.zeros((15, 16, 3), np.uint8)], tmp_path / "odd.avi")
    assert not list(tmp_path.glob(".*partial*"))


def test_fields_have_contract_shapes_and_dtypes(pan):
    _, shifts, fields = pan
    t = len(shifts)
    expected = {
        "pict_type": ((t,), np.uint8), "gop_index": ((t,), np.int32),
        "mv": ((t, 96, 128, 2), np.int16), "mv_accumulated": ((t, 96, 128, 2), np.int16),
        "residual": ((t, 96, 128, 3), np.int16), "residual_accumulated": ((t, 96, 128, 3), np.int16),
        "intra": ((t, 96, 128), np.bool_),
    }
    for name, (shape, dtype) in expected.items():
        assert fields[name].shape == shape and fields[name].dtype == dtype, name
    assert int(fields["truncated_at"]) == -1


def test_mv_equals_true_step_on_moving_region(pan):
    _, shifts, fields = pan
    margin = 24  # blocks near the border where new content enters have no true match
    for t in range(len(shifts)):
        mv = fields["mv"][t, margin:-margin, margin:-margin]
        if fields["pict_type"][t] == codec.PICT_I:
            assert not mv.any()
        else:
            assert (mv == -shifts[t]).all(), f"frame {t}: expected {-shifts[t]}"


def test_mv_accumulated_is_cumulative_step_since_iframe_and_resets(pan):
    _, shifts, fields = pan
    for t in range(len(shifts)):
        start = last_iframe(fields["pict_type"], t)
        travelled = shifts[start + 1: t + 1].sum(axis=0)
        acc = fields["mv_accumulated"][t]
        if t == start:
            assert not acc.any(), f"frame {t} is an I-frame: accumulation resets"
            continue
        margin = int(np.abs(travelled).max()) + 16
        if 2 * margin >= 96:
            continue
        assert (acc[margin:-margin, margin:-margin] == -travelled).all(), f"frame {t}"
    # The accumulated residual really uses the traced I-frame pixels: far below the plain difference.
    t = 11
    frames = codec.decode_rgb(pan[0]).astype(np.int16)
    inner = np.s_[40:-40, 40:-40]
    plain = np.abs(frames[t] - frames[0])[inner].mean()
    assert np.abs(fields["residual_accumulated"][t][inner]).mean() < plain / 4


def test_moving_patch_vectors_and_static_background(patch):
    _, shifts, boxes, fields = patch
    for t in range(1, len(shifts)):
        if fields["pict_type"][t] == codec.PICT_I:
            continue
        x0, y0, x1, y1 = boxes[t]
        inside = fields["mv"][t, y0 + 8:y1 - 8, x0 + 8:x1 - 8]
        assert (inside == -shifts[t]).mean(axis=(0, 1)).min() > 0.9, f"frame {t}"
        far = np.ones(fields["mv"].shape[1:3], bool)
        far[max(y0 - 24, 0):y1 + 24, max(x0 - 24, 0):x1 + 24] = False
        assert (fields["mv"][t][far] == 0).all()


def test_residual_energy_concentrates_on_moving_edges(patch):
    _, shifts, boxes, fields = patch
    for name in ("residual", "residual_accumulated"):
        edge_energy, other_energy = [], []
        for t in range(1, len(shifts)):
            if fields["pict_type"][t] == codec.PICT_I:
                continue
            energy = (fields[name][t].astype(np.float64) ** 2).sum(-1)
            edge = np.zeros(energy.shape, bool)
            reference = last_iframe(fields["pict_type"], t) if name.endswith("accumulated") else t - 1
            for box in (boxes[t], boxes[reference]):
                x0, y0, x1, y1 = box
                edge[max(y0 - 8, 0):y1 + 8, max(x0 - 8, 0):x1 + 8] = True
                edge[y0 + 8:y1 - 8, x0 + 8:x1 - 8] = False
            edge_energy.append(energy[edge].mean())
            other_energy.append(energy[~edge].mean())
        assert np.mean(edge_energy) > 10 * np.mean(other_energy), name


def naive_fields(path):
    """CoViAR's per-pixel loops, written plainly, from the block vectors and decoded RGB."""
    rgb = codec.decode_rgb(path).astype(np.int16)
    vectors = extraction.motion_vectors(path)
    kinds = bytes(extraction.extract(path)["pict_type"]).decode()
    t_len, height, width, _ = rgb.shape
    mv = np.zeros((t_len, height, width, 2), np.int16)
    acc = np.zeros_like(mv)
    res = np.zeros((t_len, height, width, 3), np.int16)
    res_acc = np.zeros_like(res)
    intra = np.zeros((t_len, height, width), bool)
    trace = None
    for t in range(t_len):
        if kinds[t] == "I":
            trace = [[(y, x) for x in range(width)] for y in range(height)]
            iframe = t
            continue
        field = np.zeros((height, width, 2), int)
        coded = np.zeros((height, width), bool)
        for source, w, h, src_x, src_y, dst_x, dst_y, *_ in vectors[t]:
            assert source == -1
            for y in range(dst_y - h // 2, dst_y + h // 2):
                for x in range(dst_x - w // 2, dst_x + w // 2):
                    if 0 <= y < height and 0 <= x < width:
                        field[y, x] = (src_x - dst_x, src_y - dst_y)
                        coded[y, x] = True
        new_trace = [[None] * width for _ in range(height)]
        for y in range(height):
            for x in range(width):
                ry = min(max(y + field[y, x, 1], 0), height - 1)
                rx = min(max(x + field[y, x, 0], 0), width - 1)
                mv[t, y, x] = (rx - x, ry - y)
                new_trace[y][x] = trace[ry][rx]
                ty, tx = new_trace[y][x]
                acc[t, y, x] = (tx - x, ty - y)
                res[t, y, x] = rgb[t, y, x] - rgb[t - 1, ry, rx]
                res_acc[t, y, x] = rgb[t, y, x] - rgb[iframe, ty, tx]
        trace = new_trace
        intra[t] = ~coded
    return {"mv": mv, "mv_accumulated": acc, "residual": res, "residual_accumulated": res_acc, "intra": intra}


@pytest.mark.parametrize("scene", ["pan", "patch"])
def test_extract_equals_plain_per_pixel_reference(tmp_path, scene):
    path = tmp_path / "small.avi"
    if scene == "pan":  # references leave the picture (clamping); the 25-pixel jump makes intra blocks
        make_translating_video(path, [(3, 1)] * 3 + [(25, 0)] + [(2, -2)] * 5, size=(48, 64), gop=6)
    else:
        make_moving_patch_video(path, [(3, 1)] * 4 + [(2, -2)] * 5, size=(48, 64), patch=16, start=(20, 20), gop=6)
    fields = extraction.extract(path)
    expected = naive_fields(path)
    for name, value in expected.items():
        np.testing.assert_array_equal(fields[name], value, err_msg=name)
    assert fields["residual"].any() and fields["mv"].any()
    if scene == "pan":
        intra = fields["intra"][4]
        assert intra.any() and not fields["mv"][4][intra].any()
        # Intra pixels keep the trace of the same location (CoViAR): zero motion for this frame.
        np.testing.assert_array_equal(fields["mv_accumulated"][4][intra], fields["mv_accumulated"][3][intra])


def pooled(field, scale):
    t, h, w = field.shape[:3]
    return field[:, : h // scale * scale, : w // scale * scale].reshape(
        t, h // scale, scale, w // scale, scale, *field.shape[3:]).mean(axis=(2, 4))


@pytest.mark.parametrize("accumulated", [True, False])
def test_lnet_inputs_equal_downscaled_extract(patch, accumulated):
    path, shifts, _, fields = patch
    scale = 4
    lnet = extraction.lnet_inputs(path, scale=scale, accumulated=accumulated)
    t = len(shifts)
    assert lnet["residual"].shape == (t, 24, 32) and lnet["residual"].dtype == np.uint8
    assert lnet["mv"].shape == (t, 2, 24, 32) and lnet["mv"].dtype == np.int8
    assert lnet["gray"].dtype == np.uint8 and lnet["pict_type"].tolist() == fields["pict_type"].tolist()
    suffix = "_accumulated" if accumulated else ""
    magnitude = np.sqrt((fields["residual" + suffix].astype(np.float64) ** 2).sum(-1))
    peak = magnitude.max(axis=(1, 2), keepdims=True)
    expected = pooled(magnitude / np.where(peak > 0, peak, 1), scale) * 255
    assert np.abs(lnet["residual"] - expected).max() <= 0.51
    mv = np.moveaxis(pooled(fields["mv" + suffix].astype(np.float64), scale), -1, 1)
    assert np.abs(lnet["mv"] - mv).max() <= 0.51
    gray = pooled(codec.decode_rgb(path).astype(np.float64) @ [0.299, 0.587, 0.114], scale)
    assert np.abs(lnet["gray"].astype(float) - (16 + gray * 219 / 255)).mean() < 3  # luma, video range
    moving = lnet["mv_magnitude"][1:].max(axis=0) > 0
    assert moving[5:12, 7:20].any() and not moving[-3:, -3:].any()


def block_sum(image, scale):
    """Sums over scale x scale blocks in the order lnet_inputs adds its float32 magnitudes: down
    the rows first, then across the columns (extraction._pool_sum, whole-frame numpy)."""
    return extraction._pool_sum(image, scale, image.shape[0] // scale, image.shape[1] // scale)


def exact_lnet_inputs(fields, scale, accumulated):
    """residual, mv, mv_magnitude of lnet_inputs, computed with whole-frame numpy operations from
    the full-resolution fields of extract (themselves checked against per-pixel loops above)."""
    suffix = "_accumulated" if accumulated else ""
    residual, mv, mv_magnitude = [], [], []
    for t in range(len(fields["pict_type"])):
        res = fields["residual" + suffix][t].astype(np.int32)
        magnitude = np.sqrt((res * res).sum(-1).astype(np.float32))  # eq. 1, float32
        peak = float(magnitude.max())
        pooled = block_sum(magnitude, scale)
        residual.append(np.zeros(pooled.shape, np.uint8) if peak <= 0 else
                        np.rint(pooled * (255.0 / (peak * scale * scale))).astype(np.uint8))
        offsets = fields["mv" + suffix][t].astype(np.int64)
        mean = np.stack([block_sum(offsets[..., 0], scale), block_sum(offsets[..., 1], scale)]) / (scale * scale)
        mv.append(np.clip(np.rint(mean), -127, 127).astype(np.int8))
        length = np.sqrt((mean * mean).sum(axis=0))
        mv_magnitude.append(np.zeros(length.shape, np.uint8) if length.max() <= 0 else
                            np.rint(length * (255.0 / float(length.max()))).astype(np.uint8))
    return {"residual": np.stack(residual), "mv": np.stack(mv), "mv_magnitude": np.stack(mv_magnitude)}


@pytest.mark.parametrize("scale", [4, 3, 5])
@pytest.mark.parametrize("accumulated", [True, False])
def test_lnet_inputs_are_exactly_the_pooled_extract_fields(pan, patch, scale, accumulated):
    """The compiled per-frame kernel gives, bit for bit, the numpy formulation from extract()
    (pan: references clamped at the border and intra blocks; scales 3 and 5 leave edge pixels
    out of every block)."""
    for path, fields in ((pan[0], pan[2]), (patch[0], patch[3])):
        lnet = extraction.lnet_inputs(path, scale=scale, accumulated=accumulated)
        expected = exact_lnet_inputs(fields, scale, accumulated)
        for name, value in expected.items():
            assert lnet[name].dtype == value.dtype
            np.testing.assert_array_equal(lnet[name], value, err_msg=f"{path.name} {name}")
        assert expected["residual"].any() and expected["mv"].any()


def test_peer_agreement_with_mv_extractor(pan, patch):
    videocap = pytest.importorskip("mvextractor.videocap", reason="motion-vector-extractor (test extra) missing")
    for path in (pan[0], patch[0]):
        ours = extraction.motion_vectors(path)
        cap = videocap.VideoCap()
        assert cap.open(str(path))
        theirs, kinds = [], []
        while True:
            ok, _, vectors, kind = cap.read()
            if not ok:
                break
            theirs.append(np.asarray(vectors, np.int32).reshape(-1, 10))
            kinds.append(kind)
        cap.release()
        assert len(ours) == len(theirs)
        for t, (a, b) in enumerate(zip(ours, theirs)):
            assert len(a) > 0 or kinds[t] == "I"
            np.testing.assert_array_equal(np.unique(a, axis=0), np.unique(b, axis=0), err_msg=f"{path} frame {t}")


def test_b_frames_are_refused_with_reencode_hint(tmp_path):
    import av

    texture = textured_image(80, 140)
    src = tmp_path / "bframes.mp4"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.max_b_frames = 2
        stream.codec_context.gop_size = 12
        for i in range(16):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(texture[10:58, 2 * i:2 * i + 64]), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(VideoError, match=r"B-frame.*python -m azlib reencode"):
        extraction.extract(src)
    with pytest.raises(VideoError, match="reencode"):
        extraction.lnet_inputs(src)
    assert codec.reencode(src, tmp_path / "fixed.avi", height=None)["frames"] == 16
    fields = extraction.extract(tmp_path / "fixed.avi")
    assert set(bytes(fields["pict_type"]).decode()) == {"I", "P"} and len(fields["pict_type"]) == 16


def test_decode_rgb_and_reencode_sizes(pan, tmp_path):
    path, shifts, _ = pan
    rgb = codec.decode_rgb(path, size=(48, 64), max_frames=5)
    assert rgb.shape == (5, 48, 64, 3) and rgb.dtype == np.uint8
    out = tmp_path / "small.mp4"
    assert codec.reencode(path, out, height=50) == {"frames": len(shifts), "source_frames": len(shifts),
                                                    "truncated_at": -1}
    info = codec.probe(out)
    assert (info.height, info.width, info.num_frames, info.codec) == (50, 66, len(shifts), "mpeg4")
    assert bytes(extraction.extract(out)["pict_type"]).decode().count("I") == 3


def test_extract_and_reencode_command_line(pan, tmp_path, capsys):
    from azlib.__main__ import main

    path = pan[0]
    out = tmp_path / "fields.npz"
    assert main(["extract", str(path), "-o", str(out), "--max-frames", "14"]) == 0
    with np.load(out) as saved:
        assert saved["mv"].shape == (14, 96, 128, 2)
        assert bytes(saved["pict_type"]).decode() == "I" + "P" * 11 + "IP"
    src_dir, dst_dir = tmp_path / "src", tmp_path / "dst"
    (src_dir / "a").mkdir(parents=True)
    make_translating_video(src_dir / "a" / "one.avi", [1] * 4, size=(32, 48))
    (src_dir / "broken.mp4").write_text("not a video")
    assert main(["reencode", str(src_dir), str(dst_dir), "--height", "32", "--workers", "1",
                 "--no-progress"]) == 2
    report = capsys.readouterr().err
    assert "1 re-encoded" in report and "1 failed" in report and "broken.mp4" in report
    assert codec.probe(dst_dir / "a" / "one.avi").height == 32
    main(["reencode", str(src_dir), str(dst_dir), "--height", "32", "--workers", "1", "--no-progress"])
    assert "0 re-encoded, 1 already done" in capsys.readouterr().err
