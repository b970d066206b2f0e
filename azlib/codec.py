"""Video containers with PyAV: open, probe, decode to RGB, encode and re-encode to MPEG-4 Part 2.

The compressed-domain fields (motion vectors, residuals) need MPEG-4 Part 2 with I- and P-frames
only, one I-frame every 12 frames (CoViAR's convention): :func:`reencode` and
:func:`reencode_dataset` turn any decodable video into that, keeping every frame or saying why
not; :mod:`azlib.extraction` reads the fields. Decoding uses one thread per video (parallelism
is across videos), so the same file gives the same frames on every machine.
"""

from __future__ import annotations

import os
import warnings
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
from av.video.reformatter import VideoReformatter
import numpy as np

from azlib.errors import VideoError
from azlib.files import atomic_path, remove_stale_partials
from azlib.parallel import parallel_map

GOP_SIZE = 12  # the CoViAR convention: one I-frame every 12 frames
MPEG4_QSCALE = 3  # fixed quantiser (1 best .. 31 worst): high quality, real residuals
REENCODE_HEIGHT = 256  # the paper's 64x86 LNet input is 256x344 / 4
#: what counts as a video file, wherever azlib looks for videos (dataset readers included)
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")
PICT_I, PICT_P, PICT_B = ord("I"), ord("P"), ord("B")
REENCODE_HINT = "re-encode it with `python -m azlib reencode IN OUT` (MPEG-4 Part 2, GoP 12, no B-frames)"


@dataclass(frozen=True)
class VideoInfo:
    path: str
    num_frames: int
    height: int
    width: int
    fps: float
    codec: str


def encode_frames(
    frames: Iterable[np.ndarray],
    dst: str | os.PathLike,
    fps: int | Fraction = 25,
    gop: int = GOP_SIZE,
    qscale: int = MPEG4_QSCALE,
) -> int:
    """Encode RGB uint8 frames (H, W, 3) to MPEG-4 Part 2 (.avi/.mp4), GoP ``gop``, no B-frames.

    Written to a temporary file and renamed, so a failure never leaves a half-written video.
    Returns the number of frames encoded.
    """
    dst = Path(dst)
    count = 0
    with atomic_path(dst) as tmp:
        with av.open(str(tmp), mode="w") as container:
            stream = None
            for frame in frames:
                if stream is None:
                    height, width = frame.shape[:2]
                    if height % 2 or width % 2:
                        raise VideoError(
                            f"{dst}: frame size {height}x{width} is odd; MPEG-4 with 4:2:0 chroma "
                            "needs even height and width (crop or resize the frames)"
                        )
                    stream = container.add_stream("mpeg4", rate=fps)
                    stream.width, stream.height = width, height
                    stream.pix_fmt = "yuv420p"
                    stream.codec_context.gop_size = gop
                    stream.codec_context.max_b_frames = 0
                    # One encoder thread: with more, the encoder splits frames into slices, so the
                    # bitstream (and every residual) would depend on the machine's core count.
                    stream.codec_context.thread_count = 1
                    # Fixed quantiser; scene-cut detection off so I-frames fall exactly every gop frames.
                    stream.codec_context.options = {"qscale": str(qscale), "sc_threshold": "1000000000"}
                    stream.codec_context.qmin = qscale
                    stream.codec_context.qmax = qscale
                video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                for packet in stream.encode(video_frame):
                    container.mux(packet)
                count += 1
            if stream is None:
                raise VideoError(f"{dst}: no frames to encode")
            for packet in stream.encode():
                container.mux(packet)
    return count


# --------------------------------------------------------------------------- opening and probing


def open_video(path: str | os.PathLike):
    """Open ``path`` and return (container, video stream); VideoError for every unusable file."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such file; check the path (or DATA_ROOT)")
    if path.is_dir():
        raise VideoError(f"{path}: is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes); re-download or re-generate it")
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise VideoError(
            f"{path}: FFmpeg cannot read it as a video ({error.strerror or error}); the file is not a "
            "video or is damaged (an .mp4 cut short loses its index): re-download or re-encode it"
        ) from None
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
        container.close()
        raise VideoError(f"{path}: no video stream (streams: {kinds}); this file cannot be used as a video")
    stream = container.streams.video[0]
    # One decoding thread: the work is parallelised across videos instead, and exported motion
    # vectors are read frame by frame in decoding order.
    stream.thread_type = "NONE"
    stream.codec_context.thread_count = 1
    return container, stream


def count_packets(container, stream) -> int:
    """Frames stored in the stream, counted from its packets (no decoding)."""
    return sum(1 for packet in container.demux(stream) if packet.size)


def probe(path: str | os.PathLike) -> VideoInfo:
    """Frame count, size, frame rate and codec of the first video stream (no decoding)."""
    container, stream = open_video(path)
    try:
        num_frames = stream.frames or count_packets(container, stream)  # some containers store no count
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        return VideoInfo(str(path), int(num_frames), stream.height, stream.width, fps, stream.codec_context.name)
    finally:
        container.close()


def read_frames(path, stream, container, max_frames, state: dict, warn: bool = True) -> Iterator[av.VideoFrame]:
    """Decoded frames; stops at the first damaged frame and records it in ``state['truncated_at']``
    (-1 when the whole stream decoded), with a warning unless ``warn`` is False."""
    expected = stream.frames or 0
    index = 0
    state["truncated_at"] = -1
    try:
        for frame in container.decode(stream):
            if max_frames is not None and index >= max_frames:
                return
            if frame.is_corrupt:
                state["truncated_at"] = index
                break
            yield frame
            index += 1
    except av.FFmpegError as error:
        state["truncated_at"] = index
        state["error"] = str(error)
    if state["truncated_at"] < 0 and expected and index < expected and (max_frames is None or index < max_frames):
        state["truncated_at"] = index  # the header promised more frames than the file holds
    state["decoded"], state["expected"] = index, expected
    if state["truncated_at"] >= 0 and warn:
        warnings.warn(
            f"{path}: truncated or damaged: decoded {index} valid frames of "
            f"{expected or 'an unknown number'}; using those (re-download the file to get the rest)",
            stacklevel=3,
        )


def require_frames(path, num_frames: int, min_frames: int) -> None:
    """Stop unless at least ``min_frames`` (and at least one) frames were decoded."""
    if num_frames == 0:
        raise VideoError(f"{path}: no decodable video frame (damaged or truncated file); re-download or "
                         "re-encode it")
    if num_frames < min_frames:
        raise VideoError(
            f"{path}: {num_frames} decodable frames, fewer than the {min_frames} one clip needs; "
            "drop this video from the dataset (or lower clip.frames / clip.stride)"
        )


def decode_rgb(
    path: str | os.PathLike,
    size: tuple[int, int] | None = None,
    max_frames: int | None = None,
    min_frames: int = 1,
) -> np.ndarray:
    """Decode to uint8 RGB (T, H, W, 3); ``size=(H, W)`` resizes (area interpolation)."""
    frames, _ = _decode(path, size, max_frames)
    require_frames(path, len(frames), min_frames)
    return np.stack(frames)


def decode_clip(path: str | os.PathLike, indices, size: tuple[int, int] | None = None) -> tuple[np.ndarray | None, int]:
    """The RGB frames at ``indices`` (increasing, repeats allowed), as :func:`decode_rgb` gives
    them, and how many frames were decoded. Every frame up to the last index is decoded (a
    P-frame needs its predecessors) but only the wanted ones are converted to RGB and resized:
    the bulk of a clip's cost. ``None`` when the video ends before the last index."""
    indices = np.asarray(indices, dtype=np.int64)
    frames, decoded = _decode(path, size, int(indices[-1]) + 1, wanted=set(indices.tolist()))
    if decoded <= indices[-1]:
        return None, decoded
    position = {index: n for n, index in enumerate(sorted(set(indices.tolist())))}
    return np.stack([frames[position[int(i)]] for i in indices]), decoded


def _decode(path, size, max_frames, wanted: set | None = None) -> tuple[list[np.ndarray], int]:
    """(RGB frames, decoded count): every frame up to ``max_frames``, or only those in ``wanted``
    converted. One scaler context for the whole video."""
    container, stream = open_video(path)
    state: dict = {}
    kwargs = {"format": "rgb24", "threads": 1}
    if size is not None:
        kwargs.update(height=int(size[0]), width=int(size[1]), interpolation="AREA")
    reformatter = VideoReformatter()
    frames, decoded = [], 0
    try:
        for index, frame in enumerate(read_frames(path, stream, container, max_frames, state)):
            decoded += 1
            if wanted is None or index in wanted:
                frames.append(reformatter.reformat(frame, **kwargs).to_ndarray())
    finally:
        container.close()
    return frames, decoded


# --------------------------------------------------------------------------- re-encoding


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def reencode(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    height: int | None = REENCODE_HEIGHT,
    gop: int = GOP_SIZE,
    qscale: int = MPEG4_QSCALE,
    width: int | None = None,
    allow_truncated: bool = False,
) -> dict:
    """Re-encode any decodable video to MPEG-4 Part 2 (GoP ``gop``, no B-frames), atomically.

    ``height`` (None: keep) sets the output height; the width keeps the aspect ratio unless
    ``width`` is given. Both are rounded to even numbers (4:2:0 chroma). A source that stops
    decoding before its end (damaged or cut short) raises VideoError and writes nothing, unless
    ``allow_truncated``; the output's frames are counted back and must equal those decoded.
    Returns {'frames': written, 'source_frames': the count the source's header promises (0 when
    it has none), 'truncated_at': -1 or the first frame that could not be decoded}.
    """
    container, stream = open_video(src)
    fps = stream.average_rate or stream.guessed_rate or Fraction(25)
    fps = Fraction(fps).limit_denominator(65535)  # MPEG-4 time bases are 16-bit
    in_h, in_w = stream.height, stream.width
    out_h = _even(height if height else in_h)
    out_w = _even(width if width else in_w * out_h / in_h)
    state: dict = {}

    def frames():
        for frame in read_frames(src, stream, container, None, state, warn=False):
            yield frame.to_ndarray(format="rgb24", width=out_w, height=out_h,
                                   interpolation="AREA", threads=1)
        if state["truncated_at"] >= 0 and not allow_truncated:
            raise VideoError(
                f"{src}: truncated or damaged: frames decode up to {state['truncated_at']} of "
                f"{state['expected'] or 'an unknown number'}; nothing written (re-download the file, "
                "or pass --allow-truncated to keep the frames that decode)")

    try:
        written = encode_frames(frames(), dst, fps=fps, gop=gop, qscale=qscale)
    except VideoError as error:
        if "no frames to encode" in str(error):
            raise VideoError(f"{src}: no decodable video frame; re-download the file") from None
        raise
    finally:
        container.close()
    out_container, out_stream = open_video(dst)
    try:
        stored = count_packets(out_container, out_stream)
    finally:
        out_container.close()
    if stored != written:
        Path(dst).unlink(missing_ok=True)
        raise VideoError(f"{dst}: {stored} frames stored but {written} encoded from {src}; output "
                         "removed (a disk or encoder problem: try again)")
    return {"frames": written, "source_frames": int(state.get("expected") or 0),
            "truncated_at": int(state["truncated_at"])}


def find_videos(root: str | os.PathLike) -> list[Path]:
    """Every video file under ``root`` (by suffix), sorted; hidden and partial files skipped."""
    root = Path(root)
    if not root.is_dir():
        raise VideoError(f"{root}: not a directory; pass the dataset's root folder")
    return sorted(
        p for p in root.rglob("*")
        if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )


def _reencode_job(src: str, dst: str, options: dict) -> tuple[str, dict | str]:
    try:
        return "done", reencode(src, dst, **options)
    except VideoError as error:  # reported in the summary, never dropped silently
        return ("truncated" if "truncated or damaged" in str(error) else "failed"), str(error)
    except Exception as error:
        return "failed", f"{src}: {type(error).__name__}: {error}"


def reencode_dataset(src_dir: str | os.PathLike, dst_dir: str | os.PathLike, *, workers: int = 2,
                     suffix: str = ".avi", progress: bool = True, **options) -> dict:
    """Re-encode every video under ``src_dir`` into the same layout under ``dst_dir``, each with
    :func:`reencode` and its ``options`` (height, gop, qscale, width, allow_truncated).

    Outputs already present are skipped (writes are atomic, so a present file is complete);
    temporary files of a killed earlier run are removed first. Two sources that would give one
    output (``x.avi`` and ``x.mp4``) are both refused, never one silently lost. Returns
    {'done': {src: frames}, 'kept_truncated': {src: frames}, 'skipped': [src], 'truncated':
    {src: reason}, 'failed': {src: reason}, 'collisions': {dst: [srcs]}}.
    """
    src_dir, dst_dir = Path(src_dir), Path(dst_dir)
    remove_stale_partials(dst_dir)
    targets: dict[Path, list[Path]] = defaultdict(list)
    for src in find_videos(src_dir):
        targets[(dst_dir / src.relative_to(src_dir)).with_suffix(suffix)].append(src)
    summary: dict = {"done": {}, "kept_truncated": {}, "skipped": [], "truncated": {}, "failed": {},
                     "collisions": {}}
    jobs = []
    for dst, sources in sorted(targets.items()):
        if len(sources) > 1:
            summary["collisions"][str(dst)] = [str(s) for s in sources]
        elif dst.exists():
            summary["skipped"].append(str(sources[0]))
        else:
            jobs.append((str(sources[0]), str(dst), options))
    for job, (status, outcome) in parallel_map(_reencode_job, jobs, workers=workers, desc="reencode",
                                               unit="video", progress=progress):
        src = job[0]
        if status == "done" and outcome["truncated_at"] >= 0:
            summary["kept_truncated"][src] = outcome["frames"]
        elif status == "done":
            summary["done"][src] = outcome["frames"]
        else:
            summary[status][src] = outcome
    return summary
