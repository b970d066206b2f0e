"""MPEG-4 Part 2 encoding and compressed-domain extraction with PyAV.

(The extraction half of this module is being built; this file starts with the encoder that
SynthActions and the tests use.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import av
import numpy as np

GOP_SIZE = 12  # the CoViAR convention: one I-frame every 12 frames
MPEG4_QSCALE = 3  # fixed quantiser (1 best .. 31 worst): high quality, real residuals


class VideoError(RuntimeError):
    """A video that cannot be used; the message names the file and what to do."""


def _tmp_path(dst: Path) -> Path:
    # Same directory and same suffix, so the container is chosen by extension and rename is atomic.
    return dst.with_name(f".{dst.stem}.partial-{os.getpid()}{dst.suffix}")


def encode_frames(
    frames: Iterable[np.ndarray],
    dst: str | os.PathLike,
    fps: int = 25,
    gop: int = GOP_SIZE,
    qscale: int = MPEG4_QSCALE,
) -> Path:
    """Encode RGB uint8 frames (H, W, 3) to MPEG-4 Part 2 (.avi/.mp4), GoP ``gop``, no B-frames.

    Written to a temporary file and renamed, so a failure never leaves a half-written video.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(dst)
    try:
        with av.open(str(tmp), mode="w") as container:
            stream = None
            for frame in frames:
                if stream is None:
                    height, width = frame.shape[:2]
                    stream = container.add_stream("mpeg4", rate=fps)
                    stream.width, stream.height = width, height
                    stream.pix_fmt = "yuv420p"
                    stream.codec_context.gop_size = gop
                    stream.codec_context.max_b_frames = 0
                    # Fixed quantiser; scene-cut detection off so I-frames fall exactly every gop frames.
                    stream.codec_context.options = {"qscale": str(qscale), "sc_threshold": "1000000000"}
                    stream.codec_context.qmin = qscale
                    stream.codec_context.qmax = qscale
                video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                for packet in stream.encode(video_frame):
                    container.mux(packet)
            if stream is None:
                raise VideoError(f"{dst}: no frames to encode")
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dst
