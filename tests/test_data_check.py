"""Real datasets without surprises: every bad video, missing split or name collision is found
before training, named, and never trusted later (issue: a researcher's first hours with HMDB51)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from azlib import records
from azlib.datasets.check import check_dataset
from azlib.errors import DataError
from test_datasets import make_hmdb51, make_kinetics, make_ucf101, moving_square
from videos import make_audio_only_file, make_h264_video, make_translating_video

SMOKE_ON = ["--profile", "smoke", "--no-progress", "--set", "pretrain.enabled=false",
            "--set", "device=cpu", "--set", "clip.resize=[40, 54]", "--set", "clip.crop=32"]


def azlib(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "azlib", *map(str, args)], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


def cut_in_half(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def damage(root: Path) -> dict[str, Path]:
    """Every kind of bad video, in the training and in the test part of split 1 of an HMDB51 tree
    (make_hmdb51: ids 1, 1, 2, 0 for videos 0-3 of each class)."""
    train = {c: root / c / f"{c}_video_0_f_cm_np1_ri_med_0.avi" for c in ("brush_hair", "cartwheel", "climb_stairs")}
    test = {c: root / c / f"{c}_video_2_f_cm_np1_ri_med_2.avi" for c in ("brush_hair", "cartwheel", "climb_stairs")}
    bad = {
        "corrupt (train)": train["brush_hair"], "truncated (train)": train["cartwheel"],
        "too short (train)": train["climb_stairs"], "h264 (test)": test["brush_hair"],
        "audio only (test)": test["cartwheel"], "missing (test)": test["climb_stairs"],
    }
    bad["corrupt (train)"].write_bytes(b"\x00garbage" * 400)
    make_translating_video(bad["truncated (train)"], [2] * 39, size=(96, 128))  # past the AVI header
    cut_in_half(bad["truncated (train)"])
    moving_square(bad["too short (train)"], seed=6, frames=5)
    make_h264_video(bad["h264 (test)"].with_suffix(".tmp.mp4"), frames=12)
    bad["h264 (test)"].with_suffix(".tmp.mp4").rename(bad["h264 (test)"])
    make_audio_only_file(bad["audio only (test)"].with_suffix(".m4a"))
    bad["audio only (test)"].with_suffix(".m4a").rename(bad["audio only (test)"])
    bad["missing (test)"].unlink()
    for c, cls in enumerate(train):  # a good test video per class, so that some test set remains
        moving_square(root / cls / f"{cls}_extra.avi", seed=50 + c)
        with open(root / "testTrainMulti_7030_splits" / f"{cls}_test_split1.txt", "a") as f:
            f.write(f"{cls}_extra.avi 2 \n")
    return bad


@pytest.fixture(scope="module")
def damaged_hmdb51(tmp_path_factory):
    root = make_hmdb51(tmp_path_factory.mktemp("damaged") / "hmdb51")
    return root, damage(root)


def test_the_check_names_every_bad_video_and_stops(damaged_hmdb51, tmp_path):
    root, bad = damaged_hmdb51
    with pytest.raises(DataError) as stop:
        check_dataset("hmdb51", root, 1, min_frames=7, cache_dir=tmp_path, expected_classes=3,
                      progress=False)
    message = str(stop.value)
    assert "6 video(s) cannot be used" in message and "--allow-missing 6" in message
    allowed = check_dataset("hmdb51", root, 1, min_frames=7, cache_dir=tmp_path, expected_classes=3,
                            allow_missing=6, progress=False)
    reasons = {Path(v["path"]).name: v["status"] for v in allowed.excluded()}
    assert reasons == {bad["corrupt (train)"].name: "unreadable", bad["truncated (train)"].name: "truncated",
                       bad["too short (train)"].name: "too_short", bad["h264 (test)"].name: "codec",
                       bad["audio only (test)"].name: "unreadable", bad["missing (test)"].name: "missing"}
    index = allowed.index()
    assert len(index.train) == 6 - 3 and len(index.test) == 6 - 3  # only usable videos remain
    # the manifest is reused while files are unchanged, and a changed file is looked at again
    manifest = next((tmp_path / "manifests").glob("hmdb51-*.json"))
    before = manifest.stat().st_mtime_ns
    check_dataset("hmdb51", root, 1, min_frames=7, cache_dir=tmp_path, expected_classes=3, allow_missing=6,
                  progress=False)
    assert manifest.stat().st_mtime_ns == before
    assert allowed.identity() != check_dataset("hmdb51", root, 1, min_frames=5, cache_dir=tmp_path,
                                               expected_classes=3, allow_missing=5, progress=False).identity()


def test_check_data_command_stops_before_training_with_the_fix(damaged_hmdb51, tmp_path):
    root, bad = damaged_hmdb51
    done = azlib("check-data", *SMOKE_ON, "--set", "dataset=hmdb51", "--set", f"data_root={root}",
                 "--set", "dataset_classes=3", "--out", tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert bad["corrupt (train)"].name in done.stderr and "--allow-missing 6" in done.stderr
    # the same check runs inside train (and before a dry run returns): nothing trains
    done = azlib("train", *SMOKE_ON, "--set", "dataset=hmdb51", "--set", f"data_root={root}",
                 "--set", "dataset_classes=3", "--out", tmp_path, "--dry-run")
    assert done.returncode == 2 and "cannot be used" in done.stderr and not (tmp_path / "runs").exists()
    # a class count other than the dataset's stops too (a reduced copy must say so)
    done = azlib("check-data", *SMOKE_ON, "--set", "dataset=hmdb51", "--set", f"data_root={root}",
                 "--out", tmp_path)
    assert done.returncode == 2 and "has 51" in done.stderr and "dataset_classes" in done.stderr


def test_allow_missing_trains_and_every_record_lists_the_excluded_videos(damaged_hmdb51, tmp_path):
    root, bad = damaged_hmdb51
    done = azlib("train", *SMOKE_ON, "--set", "dataset=hmdb51", "--set", f"data_root={root}",
                 "--set", "dataset_classes=3", "--set", "model.zoom=none", "--allow-missing", "6",
                 "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip().splitlines()[-1].removeprefix("record: "))
    excluded = records.load_run(folder).provenance["excluded_videos"]
    assert {Path(v["path"]).name for v in excluded} == {p.name for p in bad.values()}
    assert records.load_run(folder).metrics["num_train"] == 3


def test_a_missing_split_file_or_an_empty_class_stops_for_every_dataset(tmp_path):
    hmdb = make_hmdb51(tmp_path / "hmdb51")
    (hmdb / "testTrainMulti_7030_splits" / "cartwheel_test_split1.txt").unlink()
    with pytest.raises(DataError, match="cartwheel_test_split1.txt"):
        check_dataset("hmdb51", hmdb, 1, min_frames=1, cache_dir=tmp_path, expected_classes=3, progress=False)
    ucf = make_ucf101(tmp_path / "ucf")
    (ucf / "ucfTrainTestlist" / "testlist01.txt").unlink()
    with pytest.raises(DataError, match="testlist01.txt: UCF101 split file missing"):
        check_dataset("ucf101", ucf, 1, min_frames=1, cache_dir=tmp_path, expected_classes=2, progress=False)
    ucf = make_ucf101(tmp_path / "ucf2")
    shutil.rmtree(ucf / "UCF-101" / "BabyCrawling")
    with pytest.raises(DataError, match=r"3 video\(s\) cannot be used.*BabyCrawling.*missing"):
        check_dataset("ucf101", ucf, 1, min_frames=1, cache_dir=tmp_path, expected_classes=2, progress=False)
    kinetics = make_kinetics(tmp_path / "k400")
    with pytest.raises(DataError, match="no rows in the annotation"):
        check_dataset("kinetics_temporal", kinetics, 1, min_frames=1, cache_dir=tmp_path, progress=False)


def test_reencode_keeps_every_frame_or_says_why(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    moving_square(src / "walk" / "x.avi", seed=1, frames=48)
    moving_square(src / "walk" / "full.avi", seed=2, frames=30)
    make_h264_video(src / "walk" / "x.mp4", frames=30)  # x.avi and x.mp4 would both be dst/walk/x.avi
    make_translating_video(src / "run" / "cut.avi", [2] * 39, size=(96, 128))
    cut_in_half(src / "run" / "cut.avi")
    (src / "run" / "notes.avi").write_text("not a video\n" * 100)
    done = azlib("reencode", src, dst, "--height", "48", "--workers", "1", "--no-progress")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "1 re-encoded" in done.stderr and "1 truncated (not written)" in done.stderr
    assert "1 failed" in done.stderr and "1 name collision(s)" in done.stderr
    assert "COLLISION" in done.stderr and "x.avi" in done.stderr and "x.mp4" in done.stderr
    assert "cut.avi: truncated or damaged" in done.stderr
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*.avi")) == ["walk/full.avi"]
    from azlib.codec import probe

    assert probe(dst / "walk" / "full.avi").num_frames == 30  # every frame kept
    kept = azlib("reencode", src / "run" / "cut.avi", dst / "run" / "cut.avi", "--allow-truncated")
    assert kept.returncode == 0 and "truncated source" in kept.stdout


def test_errors_go_to_stderr_with_exit_2_and_no_traceback(tmp_path):
    for args in (["train", "--profile", "smoke", "--set", "train.lrr=1"],
                 ["experiments", "--profile", "smoke", "--table", "9"],
                 ["synth", "--profile", "nosuch", "-o", tmp_path / "s"],
                 ["extract-dataset", tmp_path / "nowhere"],
                 ["extract", tmp_path / "nothing.avi", "-o", tmp_path / "x.npz"]):
        done = azlib(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr, done.stderr
    debug = azlib("--debug", "train", "--profile", "smoke", "--set", "train.lrr=1")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_an_unwritable_output_stops_before_the_work(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where a folder should be")  # unwritable even for root
    video = moving_square(tmp_path / "v.avi", seed=1)
    for args in (["extract", video, "-o", blocker / "out.npz"],
                 ["extract-dataset", tmp_path, "--cache", blocker / "cache"],
                 ["experiments", "--profile", "smoke", "--table", "5", "--out", blocker / "results"]):
        done = azlib(*args)
        assert done.returncode == 2 and "cannot write there" in done.stderr, (args, done.stderr)
