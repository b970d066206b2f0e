"""SynthActions generator: layout, determinism, actor splits, boxes, knobs, CLI."""

from __future__ import annotations

import subprocess
import sys

import av
import numpy as np
import pytest

from azlib.config import ConfigError, load_profile
from azlib.datasets import synthetic
from azlib.datasets.splits import load_index
from azlib.datasets.synthetic import generate, load_boxes, render_video, synth_config, validate

TINY = {
    "seed": 7, "classes": ["wave_one_hand", "wave_both_hands", "squat"], "actors": 3,
    "videos_per_actor_class": 2, "width": 96, "height": 72, "fps": 25, "seconds": [0.6, 0.8],
    "figure_height": [0.5, 0.9], "workers": 1,
}


def decode(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("synth") / "a", TINY)


def test_layout_and_reader(tiny_root):
    videos = sorted((tiny_root / "videos").rglob("*.avi"))
    assert len(videos) == 3 * 3 * 2
    for split in (1, 2, 3):
        index = load_index("synthactions", tiny_root, split)
        assert index.classes == sorted(TINY["classes"])
        assert len(index.train) + len(index.test) == 18 and not index.missing
        # 3 actors, train_fraction 0.7 -> 2 train actors, 1 test actor, the same for every class
        assert len(index.train) == 12 and len(index.test) == 6
        train_actors = {r.name.split("_a")[-1][:2] for r in index.train}
        test_actors = {r.name.split("_a")[-1][:2] for r in index.test}
        assert not train_actors & test_actors
        for record in index.train + index.test:
            assert record.name.startswith(index.classes[record.label])
    line = (tiny_root / "splits" / "squat_test_split1.txt").read_text().splitlines()[0]
    assert line.endswith((" 1", " 2")) and line.split()[0].endswith(".avi")


def test_same_seed_same_bytes_and_frames_any_worker_count(tiny_root, tmp_path, capfd):
    capfd.readouterr()
    other = generate(tmp_path / "b", TINY, workers=2)
    assert "SynthActions ->" in capfd.readouterr().err  # the progress bar
    for split_file in sorted((tiny_root / "splits").iterdir()):
        assert split_file.read_bytes() == (other / "splits" / split_file.name).read_bytes()
    video = sorted((tiny_root / "videos" / "squat").iterdir())[1]
    assert np.array_equal(decode(video), decode(other / "videos" / "squat" / video.name))
    assert np.array_equal(load_boxes(tiny_root, _record(video)), load_boxes(other, _record(video)))
    # a different seed gives different videos and a different actor split
    changed = generate(tmp_path / "c", {**TINY, "seed": 8}, workers=1, progress=False)
    assert "SynthActions ->" not in capfd.readouterr().err  # --no-progress: no bar
    assert not np.array_equal(decode(video)[:5], decode(changed / "videos" / "squat" / video.name)[:5])


def _record(path):
    from azlib.datasets.splits import VideoRecord

    return VideoRecord(path, 0, path.stem)


def test_generation_skips_finished_videos_and_refuses_other_settings(tiny_root):
    video = sorted((tiny_root / "videos" / "squat").iterdir())[0]
    before = video.stat().st_mtime_ns
    box = tiny_root / "boxes" / "squat" / f"{video.stem}.npy"
    box.unlink()  # an unfinished video (no box yet) is made again
    generate(tiny_root, TINY)
    assert box.exists()
    untouched = sorted((tiny_root / "videos" / "wave_one_hand").iterdir())[0]
    mtime = untouched.stat().st_mtime_ns
    generate(tiny_root, TINY)
    assert untouched.stat().st_mtime_ns == mtime
    assert video.stat().st_mtime_ns >= before
    generate(tiny_root, {**TINY, "workers": 2})  # the worker count does not change the videos
    with pytest.raises(ConfigError, match="other settings"):
        generate(tiny_root, {**TINY, "limb_width": 0.2})


def test_boxes_enclose_the_figure_and_follow_the_camera():
    cfg = validate({**TINY, "background_shapes": 0, "background_texture": 0.0, "camera_motion": 0.05,
                    "figure_height": [0.6, 0.6], "seconds": [1.0, 1.0]})
    frames, boxes = render_video(cfg, "wave_both_hands", 0, 0)
    assert frames.shape == (25, 72, 96, 3) and boxes.shape == (25, 4) and boxes.dtype == np.float32
    for t in (0, 12, 24):
        background = np.median(frames[t].reshape(-1, 3), axis=0)
        mask = np.abs(frames[t].astype(int) - background).sum(-1) > 30
        ys, xs = np.nonzero(mask)
        x0, y0, x1, y1 = boxes[t]
        assert xs.min() >= x0 - 1.5 and xs.max() <= x1 + 0.5 and ys.min() >= y0 - 1.5 and ys.max() <= y1 + 0.5
        # the box is tight: the figure reaches within 2 px of each side
        assert xs.min() <= x0 + 2 and xs.max() >= x1 - 3 and ys.min() <= y0 + 2 and ys.max() >= y1 - 3
        # figure height is the knob: 60 % of the frame height, up to the raised hands
        assert 0.55 * 72 <= y1 - y0 <= 0.8 * 72


def test_limbs_are_thick_and_size_follows_the_knob():
    small = validate({**TINY, "figure_height": [0.3, 0.3], "seconds": [0.4, 0.4]})
    big = validate({**TINY, "figure_height": [0.9, 0.9], "seconds": [0.4, 0.4]})
    _, small_boxes = render_video(small, "squat", 1, 0)
    _, big_boxes = render_video(big, "squat", 1, 0)
    height = lambda b: float(np.median(b[:, 3] - b[:, 1]))  # noqa: E731
    assert height(big_boxes) > 2.5 * height(small_boxes)
    # a standing figure with limb width 0.1 is at least ~2.5 limb widths wide (legs + gap)
    assert np.median(big_boxes[:, 2] - big_boxes[:, 0]) >= 0.25 * height(big_boxes)


def test_classes_move_differently():
    cfg = validate({**TINY, "background_shapes": 0, "background_texture": 0.0, "camera_motion": 0.0,
                    "figure_height": [0.5, 0.5], "seconds": [1.2, 1.2], "speed": [1, 1], "amplitude": [1, 1]})
    motion = {}
    for cls in ("wave_one_hand", "wave_both_hands", "squat"):
        frames, boxes = render_video(cfg, cls, 0, 0)
        diff = np.abs(np.diff(frames.astype(np.int16), axis=0)).sum(-1) > 40
        motion[cls] = diff.mean(0)  # where pixels change over the video
        assert diff.any(axis=(1, 2)).mean() > 0.8, f"{cls}: the figure should move in most frames"
    # waving moves the upper frame; squatting moves the figure's height (box top) over time
    upper = lambda m: m[: m.shape[0] // 2].sum()  # noqa: E731
    assert upper(motion["wave_both_hands"]) > 1.3 * upper(motion["wave_one_hand"])
    _, squat_boxes = render_video(cfg, "squat", 0, 0)
    assert np.ptp(squat_boxes[:, 1]) > 0.05 * 72


def test_uniform_placement_spreads_figures():
    cfg = validate({**TINY, "figure_height": [0.3, 0.3], "seconds": [0.2, 0.2], "camera_motion": 0.0})
    centres = {}
    for placement in ("centred", "uniform"):
        c = validate({**cfg, "placement": placement})
        xs = [render_video(c, "squat", a, i)[1][0, [0, 2]].mean() for a in range(3) for i in range(4)]
        centres[placement] = np.asarray(xs)
    assert np.abs(centres["centred"] - 48).max() <= 0.05 * 96 + 3
    assert np.abs(centres["uniform"] - 48).max() > 0.15 * 96


def test_bad_knobs_are_named():
    with pytest.raises(ConfigError, match="synth.classes"):
        validate({**TINY, "classes": ["wave_one_hand", "moonwalk"]})
    with pytest.raises(ConfigError, match="synth.figure_height"):
        validate({**TINY, "figure_height": [0.9, 0.3]})
    with pytest.raises(ConfigError, match="synth.placement"):
        validate({**TINY, "placement": "left"})
    with pytest.raises(ConfigError, match="synth.num_classes"):
        validate({**TINY, "num_classes": 5})


def test_pretrain_section_is_its_own_dataset():
    cfg = load_profile("cpu")
    main, pre = synth_config(cfg), synth_config(cfg, pretrain=True)
    assert pre["seed"] != main["seed"]
    assert pre["figure_height"][0] > main["figure_height"][0]
    assert set(main["classes"]) <= set(pre["classes"])
    assert synthetic.make_actor(pre["seed"], 0) != synthetic.make_actor(main["seed"], 0)
    with pytest.raises(ConfigError, match="data_seed"):
        synth_config({**cfg, "pretrain": {"enabled": True, "data_seed": main["seed"]}}, pretrain=True)
    with pytest.raises(ConfigError, match="pretrain.enabled"):
        synth_config({**cfg, "pretrain": {"enabled": False}}, pretrain=True)


def test_cli_smoke_profile(tmp_path):
    out = tmp_path / "smoke"
    result = subprocess.run([sys.executable, "-m", "azlib", "synth", "--profile", "smoke", "-o", str(out),
                             "--pretrain"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    cfg = synth_config(load_profile("smoke"), pretrain=True)
    expected = len(cfg["classes"]) * cfg["actors"] * cfg["videos_per_actor_class"]
    assert len(list((out / "videos").rglob("*.avi"))) == expected
    assert len(list((out / "boxes").rglob("*.npy"))) == expected


def test_contact_sheet_shows_every_class(tiny_root):
    index = load_index("synthactions", tiny_root, 1)
    sheet = synthetic.contact_sheet(tiny_root, index, per_class=1, columns=2)
    assert sheet.shape == (2 * 72, 2 * 96, 3) and sheet.dtype == np.uint8
    assert (sheet[..., 0] == 255).sum() > 50 and (sheet[..., 1:] == 0).all(-1).sum() > 50  # boxes drawn
    assert (sheet[72:, 96:] == 0).all()  # 3 classes in a 2 x 2 grid: the last tile is blank


def test_ensure_dataset(tmp_path):
    cfg = {"dataset": "synthactions", "data_root": None, "synth": TINY,
           "pretrain": {"enabled": True, "data_seed": 99, "actors": 2, "videos_per_actor_class": 1}}
    root = synthetic.ensure_dataset(cfg, tmp_path)
    assert root == synthetic.dataset_root(tmp_path, synthetic.synth_config(cfg))
    assert root.parent == tmp_path / "data" and len(load_index("synthactions", root, 1).classes) == 3
    # One folder per generator setting; the worker count is not a setting.
    more_workers = {**cfg, "synth": {**TINY, "workers": 7}}
    assert synthetic.dataset_root(tmp_path, synthetic.synth_config(more_workers)) == root
    pre = synthetic.ensure_dataset(cfg, tmp_path, pretrain=True)
    assert pre != root and len(list((pre / "videos").rglob("*.avi"))) == 3 * 2 * 1
    with pytest.raises(ConfigError, match="data_root"):
        synthetic.ensure_dataset({**cfg, "dataset": "hmdb51"}, tmp_path)
    assert synthetic.ensure_dataset({**cfg, "dataset": "hmdb51", "data_root": str(root)}, tmp_path) == root
