"""On-disk cache of the LNet inputs: one small .npz per video, keyed by content and parameters.

An entry is what :func:`azlib.codec.lnet_inputs` returns (uint8/int8 maps at H/S x W/S), so a
dataset is extracted once and every epoch reads a few kB per clip; RGB frames are decoded on
demand at clip time, never cached at full size. The key is the SHA-256 of the video's bytes
plus the extraction parameters and ``EXTRACTION_VERSION``: renaming or moving a video reuses
its entry, editing it or changing S / accumulation makes a new one.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import warnings
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from azlib import codec
from azlib.config import require_choice

EXTRACTION_VERSION = 1  # bump when lnet_inputs changes what it computes
# Channels per frame of each LNet input modality ('rgb' is the gray frame of the Table 6 ablation).
LNET_CHANNELS = {"residual": 1, "mv": 2, "rgb": 1, "mv_magnitude": 1}
_HASH_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$AZLIB_CACHE/lnet`` or ``~/.cache/azlib/lnet``."""
    root = os.environ.get("AZLIB_CACHE")
    return Path(root) / "lnet" if root else Path.home() / ".cache" / "azlib" / "lnet"


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 of the file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class LNetInputStore:
    """Per-video cache of :func:`azlib.codec.lnet_inputs` under ``cache_dir``.

    ``get(video)`` returns the cached entry, extracting and writing it atomically on first use.
    A few recent entries are also kept in memory (``memory_items``) for clip sampling.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None, scale: int = 4, accumulated: bool = True,
                 min_frames: int = 1, memory_items: int = 32):
        if int(scale) < 1:
            raise ValueError(f"extract.scale must be an integer >= 1, got {scale!r}")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.scale, self.accumulated, self.min_frames = int(scale), bool(accumulated), int(min_frames)
        self.memory_items = memory_items
        self._hashes: dict = {}
        self._entries: OrderedDict = OrderedDict()

    def params(self) -> dict:
        return {"scale": self.scale, "accumulated": self.accumulated, "version": EXTRACTION_VERSION}

    def key(self, video_path: str | os.PathLike) -> str:
        """``<content sha256[:24]>-s<S>-<acc|frame>-v<version>``; the content hash is memoised
        per (path, size, mtime) so repeated lookups do not re-read the video."""
        path = Path(video_path)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise codec.VideoError(f"{path}: no such file; check the path (or DATA_ROOT)") from None
        memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if memo not in self._hashes:
            self._hashes[memo] = content_hash(path)
        mode = "acc" if self.accumulated else "frame"
        return f"{self._hashes[memo][:24]}-s{self.scale}-{mode}-v{EXTRACTION_VERSION}"

    def entry_path(self, video_path: str | os.PathLike) -> Path:
        key = self.key(video_path)
        return self.cache_dir / key[:2] / f"{key}.npz"

    def contains(self, video_path: str | os.PathLike) -> bool:
        return self.entry_path(video_path).exists()

    def get(self, video_path: str | os.PathLike) -> dict:
        """The LNet inputs of one video (see :func:`azlib.codec.lnet_inputs`)."""
        entry_path = self.entry_path(video_path)
        entry = self._entries.get(entry_path)
        if entry is None:
            entry = self._load(entry_path) if entry_path.exists() else None
            if entry is None:
                entry = codec.lnet_inputs(video_path, scale=self.scale, accumulated=self.accumulated)
                codec.save_npz(entry, entry_path)
            self._entries[entry_path] = entry
            if len(self._entries) > self.memory_items:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(entry_path)
        frames = len(entry["pict_type"])
        if frames < self.min_frames:
            raise codec.VideoError(
                f"{video_path}: {frames} decodable frames, fewer than the {self.min_frames} one clip needs; "
                "drop this video from the dataset (or lower clip.frames / clip.stride)"
            )
        return entry

    @staticmethod
    def _load(entry_path: Path) -> dict | None:
        try:
            with np.load(entry_path) as saved:
                return {name: saved[name] for name in saved.files}
        except (OSError, ValueError, EOFError) as error:  # damaged entry: extract again
            warnings.warn(f"{entry_path}: unreadable cache entry ({error}); extracting again", stacklevel=3)
            return None

    def fill(self, videos, workers: int = 2, progress: bool = True) -> dict:
        """Extract every video not cached yet, in ``workers`` processes, with a progress bar.

        Returns {'extracted': [...], 'cached': [...], 'failed': {video: reason}}: a bad video
        is counted and reported, the others are still extracted.
        """
        from tqdm import tqdm

        videos = [str(v) for v in videos]
        summary: dict = {"extracted": [], "cached": [], "failed": {}}
        todo = []
        for video in videos:
            try:
                (summary["cached"] if self.contains(video) else todo).append(video)
            except (codec.VideoError, OSError) as error:
                summary["failed"][video] = f"{type(error).__name__}: {error}"
        bar = tqdm(total=len(todo), desc="extract", unit="video", disable=not progress)
        settings = (str(self.cache_dir), self.scale, self.accumulated, self.min_frames)
        if workers <= 1:
            results = (_fill_one(settings, video) for video in todo)
            for video, error in results:
                _record(summary, video, error)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for future in as_completed([pool.submit(_fill_one, settings, video) for video in todo]):
                    _record(summary, *future.result())
                    bar.update()
        bar.close()
        summary["extracted"].sort()
        return summary


def _fill_one(settings, video: str) -> tuple[str, str | None]:
    cache_dir, scale, accumulated, min_frames = settings
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            LNetInputStore(cache_dir, scale, accumulated, min_frames).get(video)
        notes = "; ".join(str(w.message) for w in caught)
        return video, ("WARNING " + notes) if notes else None
    except Exception as error:  # reported in the summary, never dropped silently
        return video, f"{type(error).__name__}: {error}"


def _record(summary: dict, video: str, error: str | None) -> None:
    if error is None or error.startswith("WARNING "):
        summary["extracted"].append(video)
        if error:
            summary.setdefault("warnings", {})[video] = error[len("WARNING "):]
    else:
        summary["failed"][video] = error


def lnet_clip(entry: dict, frame_indices, modality: str) -> np.ndarray:
    """Stack the LNet input of a clip: float32 (K*C, Ha, Wa), frame-major (frame k's C
    channels at k*C .. k*C+C-1). residual / rgb / mv_magnitude in [0, 1]; mv divided by the
    frame's largest vector length, so in [-1, 1] (the paper normalises each map by its max)."""
    require_choice(modality, "model.lnet_input", tuple(LNET_CHANNELS))
    indices = np.asarray(frame_indices, dtype=np.int64)
    frames = len(entry["pict_type"])
    if indices.ndim != 1 or len(indices) == 0 or indices.min() < 0 or indices.max() >= frames:
        raise IndexError(f"frame indices {indices.tolist()} outside the video's {frames} frames")
    if modality == "mv":
        mv = entry["mv"][indices].astype(np.float32)  # (K, 2, Ha, Wa)
        peak = np.sqrt((mv ** 2).sum(axis=1)).max(axis=(1, 2))
        mv /= np.maximum(peak, 1.0)[:, None, None, None]
        return mv.reshape(-1, *mv.shape[2:])
    name = {"rgb": "gray"}.get(modality, modality)
    return entry[name][indices].astype(np.float32) / 255.0


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("root", help="dataset root: every video below it is extracted")
    parser.add_argument("--cache", default=None, help=f"cache folder (default {default_cache_dir()})")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes")
    parser.add_argument("--scale", type=int, default=4, help="S: the LNet input is H/S x W/S")
    parser.add_argument("--per-frame", action="store_true", help="per-frame fields instead of accumulated")
    parser.add_argument("--min-frames", type=int, default=1, help="videos with fewer frames fail")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when any video fails")


def run(args: argparse.Namespace) -> int:
    try:
        videos = codec.find_videos(args.root)
    except codec.VideoError as error:
        print(f"error: {error}")
        return 2
    store = LNetInputStore(args.cache, scale=args.scale, accumulated=not args.per_frame,
                           min_frames=args.min_frames)
    summary = store.fill(videos, workers=args.workers)
    print(f"{len(videos)} videos under {args.root}: extracted {len(summary['extracted'])}, "
          f"already cached {len(summary['cached'])}, failed {len(summary['failed'])} -> {store.cache_dir}")
    for video, note in sorted(summary.get("warnings", {}).items()):
        print(f"  WARNING {video}: {note}")
    for video, reason in sorted(summary["failed"].items()):
        print(f"  FAILED {video}: {reason}")
    return 1 if (summary["failed"] and args.strict) else 0
