"""Dataset indexes in the official formats: HMDB51, UCF101, Kinetics-Temporal/-Static, SynthActions.

``load_index(dataset, root, split)`` returns the class list and the train / test videos of one
split, as the split files list them. A missing root, split folder or split file, a class folder
without its split file, a class with no video, or a class count other than ``expected_classes``
stops with a :class:`~azlib.errors.DataError` naming the file and the fix. Videos the split files
name but the disk lacks (or holds empty) are listed in ``DatasetIndex.missing`` and left out of
``train`` / ``test``; the dataset check (:mod:`azlib.datasets.check`) decides whether that may
go on. :func:`carve_validation` holds a share of the training groups out as a validation set.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from azlib.codec import VIDEO_SUFFIXES
from azlib.errors import ConfigError, DataError
from azlib.stats import video_groups

DATASETS = ("synthactions", "hmdb51", "ucf101", "kinetics_temporal", "kinetics_static")
#: classes of each dataset by its definition (SynthActions: as generated, see its synth_config.json)
DATASET_CLASSES = {"hmdb51": 51, "ucf101": 101, "kinetics_temporal": 32, "kinetics_static": 32}

# Kinetics-Temporal / Kinetics-Static (Sevilla-Lara et al., "Only time can tell: Discovering
# temporal data for temporal modeling", WACV 2021). The paper's supplementary lists the classes;
# we could not read it here. These lists are the class indices published in
# github.com/kiyoon/video_datasets_api (video_datasets_api/onlytimecantell/definitions.py,
# KINETICS_TEMPORAL_CLASSES_INDICES / KINETICS_STATIC_CLASSES_INDICES), applied to the
# alphabetically sorted Kinetics-400 labels. Not confirmed against the paper itself: pass
# ``classes_file`` (one label per line) to use another list.
KINETICS_TEMPORAL = (
    "bouncing on trampoline", "breakdancing", "busking", "cartwheeling", "cleaning shoes",
    "country line dancing", "drop kicking", "gymnastics tumbling", "hammer throw", "high kick",
    "jumpstyle dancing", "kitesurfing", "parasailing", "playing cards", "playing cymbals",
    "playing drums", "playing ice hockey", "robot dancing", "shining shoes", "shuffling cards",
    "side kick", "ski jumping", "skiing (not slalom or crosscountry)", "skiing crosscountry",
    "skiing slalom", "snowboarding", "somersaulting", "tap dancing", "throwing ball",
    "throwing discus", "vault", "wrestling",
)
KINETICS_STATIC = (
    "belly dancing", "bending back", "blasting sand", "blowing nose", "changing wheel",
    "clapping", "curling hair", "deadlifting", "dining", "doing aerobics", "dribbling basketball",
    "eating doughnuts", "filling eyebrows", "getting a tattoo", "laying bricks", "long jump",
    "lunge", "making bed", "moving furniture", "mowing lawn", "peeling apples",
    "playing badminton", "playing controller", "playing cricket", "pull ups", "riding camel",
    "shot put", "testifying", "trimming trees", "waxing eyebrows", "yawning", "yoga",
)


@dataclass(frozen=True)
class VideoRecord:
    path: Path
    label: int
    name: str  # file name without extension, unique within the dataset


@dataclass
class DatasetIndex:
    dataset: str
    classes: list[str]
    train: list[VideoRecord]
    test: list[VideoRecord]
    missing: list[Path] = field(default_factory=list)
    root: Path | None = None
    validation: list[VideoRecord] = field(default_factory=list)  # carved from train: carve_validation


def carve_validation(index: DatasetIndex, share: float, split=1) -> DatasetIndex:
    """``index`` with ``share`` of its training groups moved to ``validation``.

    A group is what a video's name says it was filmed with (:func:`azlib.stats.video_groups`):
    SynthActions' actor, UCF101's group; a video of a dataset that names none (HMDB51, Kinetics)
    is a group of its own. Held-out groups never train, so validation scores, like test scores,
    are on people (or groups) the model has not seen. The groups are drawn by a permutation
    seeded with the split alone: the same validation set for every run, seed and setting of a
    split. ``share`` 0 returns ``index`` unchanged; otherwise at least one group is held out
    and at least one trains.
    """
    if share <= 0:
        return index
    groups = video_groups(r.name for r in index.train)
    names = sorted(set(groups.tolist()))
    if len(names) < 2:
        raise DataError(f"{index.dataset}: validation: the training list has {len(names)} group(s); "
                        "at least 2 are needed to hold one out (or set validation: 0)")
    count = min(len(names) - 1, max(1, int(round(share * len(names)))))
    seed = zlib.crc32(str(split).encode())
    held = set(np.asarray(names)[np.random.default_rng([seed, 7727]).permutation(len(names))[:count]].tolist())
    train = [r for r, g in zip(index.train, groups) if g not in held]
    validation = [r for r, g in zip(index.train, groups) if g in held]
    return dataclasses.replace(index, train=train, validation=validation)


def _require_dir(path: Path, what: str, fix: str) -> Path:
    if not path.is_dir():
        raise DataError(f"{path}: {what} not found; {fix}")
    return path


def _first_dir(candidates: list[Path], what: str, fix: str) -> Path:
    for path in candidates:
        if path.is_dir():
            return path
    raise DataError(f"{what} not found (looked in {', '.join(map(str, candidates))}); {fix}")


def _usable(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _finish(dataset, classes, train, test, root, expected_classes: int | None) -> DatasetIndex:
    """Check the classes (count, none empty) and set missing / empty videos aside."""
    if expected_classes is not None and len(classes) != expected_classes:
        raise DataError(f"{dataset} at {root}: {len(classes)} classes in the split files, but "
                        f"{dataset} has {expected_classes}; restore the missing split files (or, for a "
                        "deliberately reduced copy, set dataset_classes in the profile)")
    for label, cls in enumerate(classes):
        if not any(r.label == label for r in train + test):
            raise DataError(f"{dataset} at {root}: class {cls!r} has no video in this split; its "
                            "split file (or folder) is empty: restore it from the official files")
    missing = sorted({r.path for r in train + test if not _usable(r.path)})
    gone = set(missing)
    train = [r for r in train if r.path not in gone]
    test = [r for r in test if r.path not in gone]
    if not train and not test:
        raise DataError(f"{dataset} at {root}: none of the videos in the split files exist; "
                        "check that the root points at the dataset's video folder")
    return DatasetIndex(dataset, list(classes), train, test, missing, Path(root))


def _check_split(split: int, allowed=(1, 2, 3), dataset: str = "") -> int:
    if split not in allowed:
        raise ConfigError(f"split: {dataset} has splits {list(allowed)}, got {split!r}")
    return int(split)


def _name_and_label(line: str) -> tuple[str, str | None]:
    """A split-file line: the video name (spaces allowed) and its trailing label, if any."""
    parts = line.strip().rsplit(None, 1)
    if len(parts) == 2 and parts[1].isdigit():
        return parts[0], parts[1]
    return line.strip(), None


def _has_videos(folder: Path) -> bool:
    return any(p.suffix.lower() in VIDEO_SUFFIXES for p in folder.iterdir() if p.is_file())


def load_hmdb51_layout(dataset: str, video_dir: Path, split_dir: Path, split: int, root: Path,
                       expected_classes: int | None = None) -> DatasetIndex:
    """HMDB51 split files ``<class>_test_split<k>.txt``: lines ``<video> <0|1|2>`` (the name may
    hold spaces); one split file per class folder of ``video_dir``."""
    suffix = f"_test_split{split}.txt"
    files = {f.name[: -len(suffix)]: f for f in split_dir.glob(f"*{suffix}")}
    if not files:
        raise DataError(f"{split_dir}: no <class>{suffix} files; unpack the official split files there")
    folders = {d.name for d in video_dir.iterdir()
               if d.is_dir() and not d.name.startswith(".") and d != split_dir and _has_videos(d)}
    lacking = sorted(folders - set(files))
    if lacking:
        raise DataError(f"{split_dir}: no split file for class folder(s) {lacking[:5]} (e.g. "
                        f"{split_dir / (lacking[0] + suffix)}); restore the official split files, "
                        "or move the folder out of the dataset")
    classes = sorted(files, key=lambda c: files[c].name)  # the split files' order, as listed
    train, test = [], []
    for label, cls in enumerate(classes):
        split_file = files[cls]
        for number, line in enumerate(split_file.read_text().splitlines(), 1):
            if not line.strip():
                continue
            name, subset = _name_and_label(line)
            if subset not in ("0", "1", "2"):
                raise DataError(f"{split_file}:{number}: expected '<video> <0|1|2>', got {line!r}")
            if subset == "0":
                continue
            record = VideoRecord(video_dir / cls / name, label, Path(name).stem)
            (train if subset == "1" else test).append(record)
    return _finish(dataset, classes, train, test, root, expected_classes)


def load_hmdb51(root, split: int = 1, expected_classes: int | None = None) -> DatasetIndex:
    root = _require_dir(Path(root), "HMDB51 root", "point data_root at the folder holding the class folders")
    split_dir = _first_dir([root / "testTrainMulti_7030_splits", root.parent / "testTrainMulti_7030_splits",
                            root / "splits"], "HMDB51 split folder testTrainMulti_7030_splits",
                           "unpack test_train_splits.rar into the dataset root")
    video_dir = root / "videos" if (root / "videos").is_dir() else root
    return load_hmdb51_layout("hmdb51", video_dir, split_dir, _check_split(split, dataset="hmdb51"), root,
                              expected_classes)


def load_synthactions(root, split: int = 1, expected_classes: int | None = None) -> DatasetIndex:
    root = _require_dir(Path(root), "SynthActions root", "generate it with `python -m azlib synth -o DIR`")
    split_dir = _require_dir(root / "splits", "SynthActions split folder", "regenerate the dataset")
    video_dir = _require_dir(root / "videos", "SynthActions video folder", "regenerate the dataset")
    return load_hmdb51_layout("synthactions", video_dir, split_dir,
                              _check_split(split, dataset="synthactions"), root, expected_classes)


def load_ucf101(root, split: int = 1, expected_classes: int | None = None) -> DatasetIndex:
    """``<root>/UCF-101/<class>/<video>.avi`` and ``<root>/ucfTrainTestlist/``."""
    root = _require_dir(Path(root), "UCF101 root", "point data_root at the folder holding UCF-101/")
    split = _check_split(split, dataset="ucf101")
    video_dir = root / "UCF-101" if (root / "UCF-101").is_dir() else root
    lists = _first_dir([root / "ucfTrainTestlist", root.parent / "ucfTrainTestlist"],
                       "UCF101 split folder ucfTrainTestlist", "unpack UCF101TrainTestSplits-RecognitionTask.zip")
    class_file, train_file, test_file = (lists / "classInd.txt", lists / f"trainlist0{split}.txt",
                                         lists / f"testlist0{split}.txt")
    for path in (class_file, train_file, test_file):
        if not path.is_file():
            raise DataError(f"{path}: UCF101 split file missing; unpack the official ucfTrainTestlist")
    classes = {}
    for number, line in enumerate(class_file.read_text().splitlines(), 1):
        if line.strip():
            index, name = line.split(None, 1)
            if not index.isdigit():
                raise DataError(f"{class_file}:{number}: expected '<index> <class>', got {line!r}")
            classes[name.strip()] = int(index) - 1
    ordered = sorted(classes, key=classes.get)
    if [classes[c] for c in ordered] != list(range(len(ordered))):
        raise DataError(f"{class_file}: class indices must run 1..{len(ordered)} without gaps")

    def read(path: Path, labelled: bool) -> list[VideoRecord]:
        records = []
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            relative, given = _name_and_label(line) if labelled else (line.strip(), None)
            cls = relative.split("/")[0]
            if cls not in classes:
                raise DataError(f"{path}:{number}: video {relative} has class {cls!r}, which is not in "
                                f"{class_file}")
            label = classes[cls]
            if given is not None and int(given) - 1 != label:
                raise DataError(f"{path}:{number}: video {relative} is labelled {given} but its "
                                f"folder {cls!r} is class {label + 1} in {class_file}")
            records.append(VideoRecord(video_dir / relative, label, Path(relative).stem))
        return records

    return _finish("ucf101", ordered, read(train_file, True), read(test_file, False), root, expected_classes)


def read_classes_file(path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: classes file not found (one Kinetics label per line)")
    classes = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not classes:
        raise DataError(f"{path}: classes file is empty")
    return classes


def _annotation_files(root: Path, annotations) -> list[Path]:
    if annotations is not None:
        paths = [Path(a) for a in ([annotations] if isinstance(annotations, (str, os.PathLike)) else annotations)]
    else:
        # test.csv holds no labels (held out), so only the labelled CSVs are read.
        paths = [p for p in sorted((root / "annotations").glob("*.csv")) + sorted(root.glob("*.csv"))
                 if p.name != "test.csv"]
    missing = [p for p in paths if not p.is_file()]
    if not paths or missing:
        raise DataError(f"Kinetics-400 annotation CSV not found ({missing or root / 'annotations'}); "
                        "put train.csv and validate.csv (label,youtube_id,time_start,time_end,split) "
                        "in <root>/annotations or pass annotations=")
    return paths


def load_kinetics32(dataset: str, root, split: int = 1, classes_file=None, annotations=None,
                    expected_classes: int | None = None) -> DatasetIndex:
    """Kinetics-Temporal / -Static: the 32-class subsets of Kinetics-400 (train -> train, val -> test).

    Videos are found by file name ``<youtube_id>_<start:06d>_<end:06d>.<ext>`` anywhere under
    ``root`` (the common ``<split>/<label>/`` layout or any other).
    """
    root = _require_dir(Path(root), f"{dataset} root", "point data_root at the Kinetics-400 video folder")
    _check_split(split, (1,), dataset)
    classes = (read_classes_file(classes_file) if classes_file is not None
               else list(KINETICS_TEMPORAL if dataset == "kinetics_temporal" else KINETICS_STATIC))
    label_of = {c: i for i, c in enumerate(classes)}
    on_disk = {p.stem: p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES}
    train, test, seen = [], [], set()
    for csv_path in _annotation_files(root, annotations):
        with open(csv_path, newline="") as f:
            reader = csv.DictReader(f)
            need = {"label", "youtube_id", "time_start", "time_end", "split"}
            if not reader.fieldnames or not need <= set(reader.fieldnames):
                raise DataError(f"{csv_path}: expected columns {sorted(need)}, got {reader.fieldnames}")
            for row in reader:
                if row["label"] not in label_of:
                    continue
                name = f"{row['youtube_id']}_{int(float(row['time_start'])):06d}_{int(float(row['time_end'])):06d}"
                if name in seen:
                    continue
                seen.add(name)
                where = row["split"].strip().lower()
                if where not in ("train", "val", "validate", "valid", "validation"):
                    continue
                subdir = "train" if where == "train" else "val"
                path = on_disk.get(name, root / subdir / row["label"] / f"{name}.mp4")
                record = VideoRecord(path, label_of[row["label"]], name)
                (train if where == "train" else test).append(record)
    absent = [c for c in classes if not any(r.label == label_of[c] for r in train + test)]
    if absent:
        raise DataError(f"{dataset}: classes {absent[:5]} have no rows in the annotation CSV(s); "
                        "check the CSV or the classes_file")
    return _finish(dataset, classes, train, test, root, expected_classes)


def load_index(dataset: str, root, split: int = 1, classes_file=None, annotations=None,
               expected_classes: int | None = None) -> DatasetIndex:
    """The class list and train / test videos of ``split`` of ``dataset`` under ``root``;
    ``expected_classes`` (None: not checked) is the class count the split files must give."""
    if dataset not in DATASETS:
        raise ConfigError(f"dataset: unknown value {dataset!r}; expected one of {', '.join(DATASETS)}")
    if root is None:
        raise ConfigError(f"dataset {dataset!r}: no root given; set data_root")
    if dataset == "synthactions":
        return load_synthactions(root, split, expected_classes)
    if dataset == "hmdb51":
        return load_hmdb51(root, split, expected_classes)
    if dataset == "ucf101":
        return load_ucf101(root, split, expected_classes)
    return load_kinetics32(dataset, root, split, classes_file, annotations, expected_classes)
