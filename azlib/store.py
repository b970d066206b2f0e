"""On-disk cache of the LNet inputs: one small .npz per video, keyed by content, parameters and code.

An entry is what :func:`azlib.extraction.lnet_inputs` returns (uint8/int8 maps at H/S x W/S),
so a dataset is extracted once and every epoch reads a few kB per clip; RGB frames are decoded
on demand at clip time, never cached at full size. The key is the SHA-256 of the video's bytes,
the extraction parameters and the fingerprint of the extraction code
(:data:`azlib.provenance.STORE_CODE`): renaming or moving a video reuses its entry; editing the
video, S, the accumulation or the extraction code makes a new one. An entry that cannot be read
whole is treated as missing and extracted again; it is never trusted half written.
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np

from azlib import extraction
from azlib.errors import ConfigError, DataError, VideoError
from azlib.files import load_npz, remove_stale_partials, save_npz
from azlib.parallel import parallel_map
from azlib.provenance import STORE_CODE, fingerprint

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
    """Per-video cache of :func:`azlib.extraction.lnet_inputs` under ``cache_dir``.

    ``get(video)`` returns the cached entry, extracting and writing it atomically on first use.
    A few recent entries are also kept in memory (``memory_items``) for clip sampling.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None, scale: int = 4, accumulated: bool = True,
                 min_frames: int = 1, memory_items: int = 32):
        if int(scale) < 1:
            raise ConfigError(f"extract.scale must be an integer >= 1, got {scale!r}")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.scale, self.accumulated, self.min_frames = int(scale), bool(accumulated), int(min_frames)
        self.memory_items = memory_items
        self._hashes: dict = {}
        self._entries: OrderedDict = OrderedDict()

    def key(self, video_path: str | os.PathLike) -> str:
        """``<content sha256[:24]>-s<S>-<acc|frame>-<code fingerprint[:8]>``; the content hash is
        memoised per (path, size, mtime) so repeated lookups do not re-read the video."""
        path = Path(video_path)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise VideoError(f"{path}: no such file; check the path (or DATA_ROOT)") from None
        memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if memo not in self._hashes:
            self._hashes[memo] = content_hash(path)
        mode = "acc" if self.accumulated else "frame"
        return f"{self._hashes[memo][:24]}-s{self.scale}-{mode}-{fingerprint(STORE_CODE)[:8]}"

    def entry_path(self, video_path: str | os.PathLike) -> Path:
        key = self.key(video_path)
        return self.cache_dir / key[:2] / f"{key}.npz"

    def _read(self, entry_path: Path) -> dict | None:
        """A whole, readable entry, or None (missing, or damaged: then it is removed)."""
        if not entry_path.exists():
            return None
        try:
            entry = load_npz(entry_path)
        except DataError as error:
            warnings.warn(f"unreadable cache entry, extracting again: {error}", stacklevel=3)
            entry_path.unlink(missing_ok=True)
            return None
        if "pict_type" not in entry:
            warnings.warn(f"unreadable cache entry, extracting again: {entry_path} has no pict_type",
                          stacklevel=3)
            entry_path.unlink(missing_ok=True)
            return None
        return entry

    def _check_length(self, video_path, entry: dict) -> dict:
        frames = len(entry["pict_type"])
        if frames < self.min_frames:
            raise VideoError(
                f"{video_path}: {frames} decodable frames, fewer than the {self.min_frames} one clip needs; "
                "drop this video from the dataset (or lower clip.frames / clip.stride)"
            )
        return entry

    def cached(self, video_path: str | os.PathLike) -> dict | None:
        """The entry when a whole one is on disk (length checked), else None; never extracts."""
        entry = self._read(self.entry_path(video_path))
        return None if entry is None else self._check_length(video_path, entry)

    def get(self, video_path: str | os.PathLike) -> dict:
        """The LNet inputs of one video (see :func:`azlib.extraction.lnet_inputs`)."""
        entry_path = self.entry_path(video_path)
        entry = self._entries.get(entry_path)
        if entry is None:
            entry = self._read(entry_path)
            if entry is None:
                entry = extraction.lnet_inputs(video_path, scale=self.scale, accumulated=self.accumulated)
                save_npz(entry_path, entry)
            self._entries[entry_path] = entry
            if len(self._entries) > self.memory_items:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(entry_path)
        return self._check_length(video_path, entry)

    def fill(self, videos, workers: int = 2, progress: bool = True) -> dict:
        """Extract every video without a whole entry yet, in ``workers`` processes, with a
        progress bar; temporary files of a killed earlier fill are removed first.

        Returns {'extracted': [...], 'cached': [...], 'failed': {video: reason}, 'warnings':
        {video: note}, 'frames': frames extracted, 'seconds': wall time of the extraction}: a
        bad video is counted and named (also when its entry was made earlier but it is too short
        for ``min_frames``), the others are still extracted.
        """
        remove_stale_partials(self.cache_dir)
        videos = [str(v) for v in videos]
        summary: dict = {"extracted": [], "cached": [], "failed": {}, "warnings": {}, "frames": 0}
        todo = []
        for video in videos:
            try:
                (todo if self.cached(video) is None else summary["cached"]).append(video)
            except (VideoError, OSError) as error:
                summary["failed"][video] = str(error)
        settings = (str(self.cache_dir), self.scale, self.accumulated, self.min_frames)
        began = time.perf_counter()
        for (_, video), (error, notes, frames) in parallel_map(
                _fill_one, [(settings, v) for v in todo], workers=workers, desc="extract",
                unit="video", progress=progress):
            if error:
                summary["failed"][video] = error
            else:
                summary["extracted"].append(video)
                summary["frames"] += frames
                if notes:
                    summary["warnings"][video] = notes
        summary["seconds"] = time.perf_counter() - began
        summary["extracted"].sort()
        return summary


def _fill_one(settings, video: str) -> tuple[str | None, str | None, int]:
    """Worker of :meth:`LNetInputStore.fill`: (error, warnings, frames) of extracting one video."""
    cache_dir, scale, accumulated, min_frames = settings
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            entry = LNetInputStore(cache_dir, scale, accumulated, min_frames).get(video)
        return None, "; ".join(str(w.message) for w in caught) or None, len(entry["pict_type"])
    except VideoError as error:  # reported in the summary, never dropped silently
        return str(error), None, 0
    except Exception as error:
        return f"{video}: {type(error).__name__}: {error}", None, 0


def lnet_clip(entry: dict, frame_indices, modality: str) -> np.ndarray:
    """Stack the LNet input of a clip: float32 (K*C, Ha, Wa), frame-major (frame k's C
    channels at k*C .. k*C+C-1). residual / rgb / mv_magnitude in [0, 1]; mv divided by the
    frame's largest vector length, so in [-1, 1] (the paper normalises each map by its max)."""
    if modality not in LNET_CHANNELS:
        raise ConfigError(f"model.lnet_input: unknown value {modality!r}; expected one of "
                          f"{', '.join(LNET_CHANNELS)}")
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
