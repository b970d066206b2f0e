"""The dataset check: every split file and every video, before any training.

:func:`check_dataset` reads the split files (:func:`azlib.datasets.splits.load_index`: every class
has its split file, no class is empty, the class count is the dataset's) and opens every video
the split names: it must exist, decode to its end, be MPEG-4 Part 2 with I- and P-frames only and
hold at least one clip. What it learns of each file (frames, codec, B-frames, where decoding
stopped, SHA-256) is kept in a small manifest under ``<cache>/manifests/`` and reused while the
file's size and modification time are unchanged, so a second check of 13,000 videos reads
nothing but the manifest.

A dataset with unusable videos stops with a summary (counts by reason, the first paths, the fix)
unless ``allow_missing`` admits that many; the excluded videos are then listed in the result and
in every run record that uses it. :meth:`DatasetCheck.identity` names the usable content (class
list, and each video's subset, label, name and digest): runs on real data are keyed by it, not by
the folder's path.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from av.video.frame import PictureType

from azlib.codec import open_video, read_frames
from azlib.datasets.splits import DATASET_CLASSES, DatasetIndex, VideoRecord, load_index
from azlib.errors import DataError, VideoError
from azlib.files import digest, read_json, write_json
from azlib.parallel import parallel_map
from azlib.store import content_hash

MANIFEST_VERSION = 1
#: what a failure reason means and how to fix it
FIXES = {
    "missing": "the split file names it but the file is absent or empty: restore it",
    "unreadable": "FFmpeg cannot open it: re-download it",
    "codec": "not MPEG-4 Part 2: re-encode the dataset (python -m azlib reencode SRC DST)",
    "b_frames": "has B-frames: re-encode the dataset (python -m azlib reencode SRC DST)",
    "truncated": "stops decoding before its end: re-download it, then re-encode it",
    "too_short": "fewer frames than one clip",
}


@dataclass(frozen=True)
class VideoCheck:
    path: str
    subset: str          # train | test
    label: int
    name: str
    status: str          # ok, or a key of FIXES
    reason: str = ""
    frames: int = 0
    digest: str | None = None


@dataclass
class DatasetCheck:
    dataset: str
    root: str
    split: object
    classes: list[str]
    videos: list[VideoCheck] = field(default_factory=list)

    @property
    def failures(self) -> list[VideoCheck]:
        return [v for v in self.videos if v.status != "ok"]

    def counts(self) -> dict[str, int]:
        return dict(Counter(v.status for v in self.videos))

    def excluded(self) -> list[dict]:
        """The videos left out: {path, subset, status, reason} each."""
        return [{"path": v.path, "subset": v.subset, "status": v.status, "reason": v.reason}
                for v in self.failures]

    def index(self) -> DatasetIndex:
        """The split with the usable videos only."""
        def records(subset):
            return [VideoRecord(Path(v.path), v.label, v.name) for v in self.videos
                    if v.subset == subset and v.status == "ok"]
        return DatasetIndex(self.dataset, list(self.classes), records("train"), records("test"),
                            [Path(v.path) for v in self.failures], Path(self.root))

    def identity(self) -> str:
        """Digest of what the runs see: classes, and subset, label, name, digest of each usable video."""
        return digest({"dataset": self.dataset, "split": self.split, "classes": self.classes,
                       "videos": sorted((v.subset, v.label, v.name, v.digest) for v in self.videos
                                        if v.status == "ok")}, 16)

    def summary(self) -> str:
        """One line: how many videos, how many usable, failures by reason."""
        failed = Counter(v.status for v in self.failures)
        text = (f"{self.dataset} at {self.root}, split {self.split}: {len(self.classes)} classes, "
                f"{len(self.videos)} videos, {len(self.videos) - len(self.failures)} usable")
        if failed:
            text += ", " + ", ".join(f"{n} {status}" for status, n in sorted(failed.items()))
        return text


def inspect_video(path: str) -> dict:
    """What a video file is: {'frames', 'codec', 'b_frames', 'truncated_at', 'error', 'digest'}
    (decodes every frame once, converts none)."""
    facts = {"frames": 0, "codec": None, "b_frames": False, "truncated_at": -1, "error": None,
             "digest": None}
    try:
        container, stream = open_video(path)
    except VideoError as error:
        facts["error"] = str(error)
        return facts
    try:
        facts["codec"] = stream.codec_context.name
        state: dict = {}
        for frame in read_frames(path, stream, container, None, state, warn=False):
            facts["frames"] += 1
            if PictureType(frame.pict_type).name not in ("I", "P"):
                facts["b_frames"] = True
        facts["truncated_at"] = int(state["truncated_at"])
    finally:
        container.close()
    facts["digest"] = content_hash(path)
    return facts


def _status(facts: dict, min_frames: int) -> tuple[str, str]:
    if facts["error"]:
        return "unreadable", facts["error"]
    if facts["codec"] != "mpeg4":
        return "codec", f"codec {facts['codec']!r}; {FIXES['codec']}"
    if facts["b_frames"]:
        return "b_frames", FIXES["b_frames"]
    if facts["truncated_at"] >= 0:
        return "truncated", f"decodes {facts['truncated_at']} frames, then stops; {FIXES['truncated']}"
    if facts["frames"] < min_frames:
        return "too_short", f"{facts['frames']} frames, fewer than the {min_frames} one clip needs"
    return "ok", ""


def manifest_path(cache_dir, dataset: str, root) -> Path:
    return Path(cache_dir) / "manifests" / f"{dataset}-{digest(str(Path(root).resolve()), 10)}.json"


def _stat_key(path: str) -> list[int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def check_dataset(dataset: str, root, split, *, min_frames: int, cache_dir, allow_missing: int = 0,
                  expected_classes: int | None = None, workers: int = 1,
                  progress: bool = True) -> DatasetCheck:
    """Check ``split`` of ``dataset`` under ``root`` (see the module docstring).

    ``expected_classes``: the class count the split files must give (None: the dataset's own,
    :data:`DATASET_CLASSES`; SynthActions is not counted). Raises DataError when more than
    ``allow_missing`` videos cannot be used.
    """
    if expected_classes is None:
        expected_classes = DATASET_CLASSES.get(dataset)
    index = load_index(dataset, root, split, expected_classes=expected_classes)
    path = manifest_path(cache_dir, dataset, root)
    manifest = read_json(path) if path.is_file() else {}
    if manifest.get("version") != MANIFEST_VERSION:
        manifest = {"version": MANIFEST_VERSION, "videos": {}}
    known = manifest["videos"]
    listed = [(r, "train") for r in index.train] + [(r, "test") for r in index.test]
    todo = sorted({str(r.path) for r, _ in listed
                   if known.get(str(r.path), {}).get("stat") != _stat_key(str(r.path))})
    for (video,), facts in parallel_map(inspect_video, [(v,) for v in todo], workers=workers,
                                        desc=f"check {dataset}", unit="video", progress=progress):
        known[video] = {**facts, "stat": _stat_key(video)}
    if todo:
        write_json(path, manifest)

    videos = []
    for record, subset in listed:
        status, reason = _status(known[str(record.path)], min_frames)
        facts = known[str(record.path)]
        videos.append(VideoCheck(str(record.path), subset, record.label, record.name, status, reason,
                                 facts["frames"], facts["digest"]))
    for missing in index.missing:
        videos.append(VideoCheck(str(missing), "split file", -1, Path(missing).stem, "missing",
                                 FIXES["missing"]))
    result = DatasetCheck(dataset, str(root), split, list(index.classes), videos)
    failures = result.failures
    if len(failures) > allow_missing:
        shown = "; ".join(f"{v.path}: {v.status} ({v.reason})" for v in failures[:5])
        raise DataError(f"{result.summary()}. {len(failures)} video(s) cannot be used: {shown}"
                        f"{' ...' if len(failures) > 5 else ''}. Fix them (see each reason), or "
                        f"pass --allow-missing {len(failures)} (profile: allow_missing) to train "
                        "without them; they are then listed in every run record")
    return result
