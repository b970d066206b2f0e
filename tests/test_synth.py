"""SynthActions generator: layout, determinism, actor splits, boxes, knobs, CLI."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import av
import numpy as np
import pytest

from azlib import provenance
from azlib.config import load_profile, pretrain_synth
from azlib.datasets import synthetic
from azlib.datasets.splits import VideoRecord, load_index
from azlib.datasets.synthetic import SynthSettings, generate, load_boxes, render_video
from azlib.errors import ConfigError, DataError
from azlib.settings import parse
from conftest import dead_writer_partial

TINY = SynthSettings(seed=7, classes=("wave_one_hand", "wave_both_hands", "squat"), actors=3,
                     videos_per_actor_class=2, width=96, height=72, fps=25, seconds=(0.6, 0.8),
                     figure_height=(0.5, 0.9), workers=1)


def settings(**changes) -> SynthSettings:
    return replace(TINY, **changes)


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
        assert index.classes == sorted(TINY.classes)
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
    other = generate(tmp_path / "b", settings(workers=2))
    assert "SynthActions ->" in capfd.readouterr().err  # the progress bar
    for split_file in sorted((tiny_root / "splits").iterdir()):
        assert split_file.read_bytes() == (other / "splits" / split_file.name).read_bytes()
    video = sorted((tiny_root / "videos" / "squat").iterdir())[1]
    assert np.array_equal(decode(video), decode(other / "videos" / "squat" / video.name))
    assert np.array_equal(load_boxes(tiny_root, _record(video)), load_boxes(other, _record(video)))
    # a different seed gives different videos and a different actor split
    changed = generate(tmp_path / "c", settings(seed=8), progress=False)
    assert "SynthActions ->" not in capfd.readouterr().err  # --no-progress: no bar
    assert not np.array_equal(decode(video)[:5], decode(changed / "videos" / "squat" / video.name)[:5])


def _record(path):
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
    generate(tiny_root, settings(workers=2))  # the worker count does not change the videos
    with pytest.raises(DataError, match="other settings"):
        generate(tiny_root, settings(limb_width=0.2))
    # a killed generator's half-written video is removed on the next run
    leftover = dead_writer_partial(tiny_root / "videos" / "squat" / "x.avi")
    generate(tiny_root, TINY)
    assert not leftover.exists()


def test_boxes_enclose_the_figure_and_follow_the_camera():
    cfg = settings(background_shapes=0, background_texture=0.0, camera_motion=0.05,
                   figure_height=(0.6, 0.6), seconds=(1.0, 1.0))
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
    small = settings(figure_height=(0.3, 0.3), seconds=(0.4, 0.4))
    big = settings(figure_height=(0.9, 0.9), seconds=(0.4, 0.4))
    _, small_boxes = render_video(small, "squat", 1, 0)
    _, big_boxes = render_video(big, "squat", 1, 0)
    height = lambda b: float(np.median(b[:, 3] - b[:, 1]))  # noqa: E731
    assert height(big_boxes) > 2.5 * height(small_boxes)
    # a standing figure with limb width 0.1 is at least ~2.5 limb widths wide (legs + gap)
    assert np.median(big_boxes[:, 2] - big_boxes[:, 0]) >= 0.25 * height(big_boxes)


def test_classes_move_differently():
    cfg = settings(background_shapes=0, background_texture=0.0, camera_motion=0.0,
                   figure_height=(0.5, 0.5), seconds=(1.2, 1.2), speed=(1.0, 1.0), amplitude=(1.0, 1.0))
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
    cfg = settings(figure_height=(0.3, 0.3), seconds=(0.2, 0.2), camera_motion=0.0)
    centres = {}
    for placement in ("centred", "uniform"):
        c = replace(cfg, placement=placement)
        xs = [render_video(c, "squat", a, i)[1][0, [0, 2]].mean() for a in range(3) for i in range(4)]
        centres[placement] = np.asarray(xs)
    assert np.abs(centres["centred"] - 48).max() <= 0.05 * 96 + 3
    assert np.abs(centres["uniform"] - 48).max() > 0.15 * 96


def test_bad_knobs_are_named():
    def parsed(**changes):
        return parse(SynthSettings, {"seed": 7, **changes}, "synth")

    with pytest.raises(ConfigError, match="synth.classes"):
        parsed(classes=["wave_one_hand", "moonwalk"])
    with pytest.raises(ConfigError, match="synth.figure_height"):
        parsed(figure_height=[0.9, 0.3])
    with pytest.raises(ConfigError, match="synth.placement"):
        parsed(placement="left")
    with pytest.raises(ConfigError, match=r"synth.num_classes: unknown setting"):
        parsed(num_classes=5)
    with pytest.raises(ConfigError, match=r"synth.actors: expected int"):
        parsed(actors="ten")


def test_pretrain_section_is_its_own_dataset():
    cfg = load_profile("cpu")
    main, pre = cfg.synth, pretrain_synth(cfg)
    assert pre.seed != main.seed
    assert pre.figure_height[0] > main.figure_height[0]
    assert set(main.classes) <= set(pre.classes)
    assert synthetic.make_actor(pre.seed, 0) != synthetic.make_actor(main.seed, 0)
    with pytest.raises(ConfigError, match="pretrain.synth.seed"):
        load_profile("cpu", {"pretrain": {"synth": {"seed": main.seed}}})
    with pytest.raises(ConfigError, match="pretrain.synth.limbs: unknown setting"):
        load_profile("cpu", {"pretrain": {"synth": {"limbs": 0.2}}})


def test_cli_smoke_profile(tmp_path):
    out = tmp_path / "smoke"
    result = subprocess.run([sys.executable, "-m", "azlib", "synth", "--profile", "smoke", "-o", str(out),
                             "--pretrain", "--no-progress"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # --no-progress: no bar
    cfg = pretrain_synth(load_profile("smoke"))
    expected = cfg.num_classes * cfg.actors * cfg.videos_per_actor_class
    assert len(list((out / "videos").rglob("*.avi"))) == expected
    assert len(list((out / "boxes").rglob("*.npy"))) == expected


def test_contact_sheet_shows_every_class(tiny_root):
    index = load_index("synthactions", tiny_root, 1)
    sheet = synthetic.contact_sheet(tiny_root, index, per_class=1, columns=2)
    assert sheet.shape == (2 * 72, 2 * 96, 3) and sheet.dtype == np.uint8
    assert (sheet[..., 0] == 255).sum() > 50 and (sheet[..., 1:] == 0).all(-1).sum() > 50  # boxes drawn
    assert (sheet[72:, 96:] == 0).all()  # 3 classes in a 2 x 2 grid: the last tile is blank


def test_a_folder_per_setting_and_generator_code(tmp_path, monkeypatch):
    root = synthetic.dataset_root(tmp_path, TINY)
    assert root.parent == tmp_path / "data"
    assert synthetic.dataset_root(tmp_path, settings(workers=7)) == root  # not a setting
    assert synthetic.dataset_root(tmp_path, settings(limb_width=0.2)) != root
    # an edit to the generator's code gives another folder: no video of other code is reused
    monkeypatch.setattr(synthetic, "fingerprint", lambda patterns=provenance.SYNTH_CODE: "edited")
    assert synthetic.dataset_root(tmp_path, TINY) != root
