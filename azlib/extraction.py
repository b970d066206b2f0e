"""Compressed-domain fields of MPEG-4 Part 2 video: motion vectors, residuals, CoViAR accumulation.

The LNet of the paper reads, per frame, the motion vectors and residuals of the compressed
stream, accumulated inside each GoP as in CoViAR (Wu et al., CVPR 2018). CoViAR reads them
with a patched FFmpeg C extension; here FFmpeg's own exported motion vectors
(``flags2=+export_mvs``, frame side data ``MOTION_VECTORS``) are read through PyAV, and the
residual is rebuilt from the decoded RGB frames:

* ``mv``: per pixel, the whole-pixel offset (dx, dy) from the pixel to its reference location
  in the previous decoded frame (``src - dst`` of its block, as FFmpeg and CoViAR round it);
* ``residual``: RGB frame minus the previous RGB frame sampled at the reference location;
* CoViAR accumulation: each pixel keeps a trace to a location in the GoP's I-frame,
  ``trace_t(p) = trace_{t-1}(p + mv_t(p))``, so ``mv_accumulated = trace - p`` and
  ``residual_accumulated = frame - I_frame[trace]``. Pixels of intra-coded blocks carry no
  vector and keep the trace of the same location (zero motion), as CoViAR does. Reference
  locations outside the picture are clamped to its border, as the decoder's edge extension does.

Only I- and P-frames of single-reference codecs are supported (CoViAR's setting): a stream with
B-frames, or of another codec, stops with a message to re-encode it with
``python -m azlib reencode``. :func:`extract` gives the full-resolution fields; :func:`lnet_inputs`
the LNet's inputs at H/S x W/S in one streaming pass (what the store caches).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import av
import numba
import numpy as np
from av.video.frame import PictureType
from av.video.reformatter import VideoReformatter

from azlib.codec import PICT_I, REENCODE_HINT, open_video, read_frames, require_frames
from azlib.errors import VideoError

# Codecs whose P-frames reference only the previous decoded frame, so "source = -1" means t-1.
# (H.264/HEVC P-frames may reference older frames: re-encode those.)
SINGLE_REFERENCE_CODECS = ("mpeg4",)

VECTOR_FIELDS = ("source", "w", "h", "src_x", "src_y", "dst_x", "dst_y", "motion_x", "motion_y", "motion_scale")


def _side_vectors(frame: av.VideoFrame) -> np.ndarray | None:
    side = frame.side_data.get("MOTION_VECTORS")
    return None if side is None else side.to_ndarray()


def block_vectors(frame: av.VideoFrame) -> np.ndarray:
    """FFmpeg's exported vectors of one frame as int32 (N, 10), columns ``VECTOR_FIELDS``.

    (The column order of the mv-extractor package, so the two can be compared directly.)
    """
    vectors = _side_vectors(frame)
    if vectors is None:
        return np.zeros((0, len(VECTOR_FIELDS)), np.int32)
    return np.stack([vectors[name].astype(np.int32) for name in VECTOR_FIELDS], axis=1)


@dataclass
class BlockMotion:
    """One frame's vectors painted on a block grid: cell (i, j) covers pixels
    [i*grid, (i+1)*grid) x [j*grid, (j+1)*grid). ``dx``/``dy`` int64 point from the block to its
    reference (FFmpeg's ``src - dst``); ``coded`` is False for intra blocks (no vector)."""

    grid: int
    dx: np.ndarray
    dy: np.ndarray
    coded: np.ndarray

    def expand(self, cells: np.ndarray, height: int, width: int) -> np.ndarray:
        """Blow a (hb, wb) cell array up to pixels, (height, width)."""
        hb, wb, g = *cells.shape, self.grid
        full = np.broadcast_to(cells[:, None, :, None], (hb, g, wb, g)).reshape(hb * g, wb * g)
        return full[:height, :width]


@numba.njit(cache=True, nogil=True)
def _paint_blocks(col0, row0, cols, rows, dx, dy, cell_dx, cell_dy, coded):  # pragma: no cover - compiled
    """Block n covers cells [row0, row0 + rows) x [col0, col0 + cols); later blocks overwrite."""
    for n in range(len(dx)):
        for i in range(row0[n], row0[n] + rows[n]):
            for j in range(col0[n], col0[n] + cols[n]):
                cell_dx[i, j] = dx[n]
                cell_dy[i, j] = dy[n]
                coded[i, j] = True


def block_motion(vectors: np.ndarray | None, height: int, width: int) -> BlockMotion:
    """Paint the exported vectors on the coarsest grid all blocks align to.

    16 for plain MPEG-4 macroblocks, 8 when 4MV (8x8) blocks occur; block (w, h) centred at
    (dst_x, dst_y) covers [dst - w/2, dst + w/2).
    """
    if vectors is None or len(vectors) == 0:
        grid = 16
        shape = (-(-height // grid), -(-width // grid))
        zeros = np.zeros(shape, np.int64)
        return BlockMotion(grid, zeros, zeros, np.zeros(shape, bool))
    w, h = vectors["w"].astype(np.int64), vectors["h"].astype(np.int64)
    x0 = vectors["dst_x"].astype(np.int64) - w // 2
    y0 = vectors["dst_y"].astype(np.int64) - h // 2
    dx = vectors["src_x"].astype(np.int64) - vectors["dst_x"]
    dy = vectors["src_y"].astype(np.int64) - vectors["dst_y"]
    if (x0 < 0).any() or (y0 < 0).any():
        raise ValueError("motion vector block starts outside the picture")
    grid = int(np.gcd.reduce(np.concatenate([w, h, x0, y0])))
    hb = max(-(-height // grid), int((y0 + h).max()) // grid)
    wb = max(-(-width // grid), int((x0 + w).max()) // grid)
    cell_dx = np.zeros((hb, wb), np.int64)
    cell_dy = np.zeros((hb, wb), np.int64)
    coded = np.zeros((hb, wb), bool)
    _paint_blocks(x0 // grid, y0 // grid, w // grid, h // grid, dx, dy, cell_dx, cell_dy, coded)
    return BlockMotion(grid, cell_dx, cell_dy, coded)


def _check_vectors(path, index: int, frame: av.VideoFrame, vectors: np.ndarray | None) -> int:
    """The frame's picture type as ASCII; stops on B-frames or future references."""
    kind = PictureType(frame.pict_type).name
    if kind not in ("I", "P"):
        raise VideoError(
            f"{path}: frame {index} is a {kind}-frame; the extraction follows CoViAR and supports "
            f"I- and P-frames only (B-frames would give wrong fields): {REENCODE_HINT}"
        )
    if vectors is not None and len(vectors) and (vectors["source"] > 0).any():
        raise VideoError(
            f"{path}: frame {index} has motion vectors that reference a future frame (B-frame "
            f"prediction); only past references are supported: {REENCODE_HINT}"
        )
    return ord(kind)


def _open_for_vectors(path):
    container, stream = open_video(path)
    codec = stream.codec_context.name
    if codec not in SINGLE_REFERENCE_CODECS:
        container.close()
        raise VideoError(
            f"{path}: codec {codec!r} is not MPEG-4 Part 2; its motion vectors may reference frames "
            f"other than the previous one: {REENCODE_HINT}"
        )
    stream.codec_context.options = {"flags2": "+export_mvs"}
    return container, stream


def _coded_frames(path, max_frames, state: dict):
    """(index, frame, picture type, exported vectors) of each decoded frame, I/P only (checked);
    ``state`` as :func:`azlib.codec.read_frames` fills it."""
    container, stream = _open_for_vectors(path)
    try:
        for index, frame in enumerate(read_frames(path, stream, container, max_frames, state)):
            vectors = _side_vectors(frame)
            yield index, frame, _check_vectors(path, index, frame, vectors), vectors
    finally:
        container.close()


def motion_vectors(path: str | os.PathLike, max_frames: int | None = None) -> list[np.ndarray]:
    """Per decoded frame, the block vectors of :func:`block_vectors` (empty for I-frames)."""
    container, stream = _open_for_vectors(path)
    state: dict = {}
    try:
        return [block_vectors(f) for f in read_frames(path, stream, container, max_frames, state)]
    finally:
        container.close()


# --------------------------------------------------------------------------- CoViAR tracing


class _Tracer:
    """Per-pixel reference locations and CoViAR traces back to the GoP's I-frame.

    Two index spaces, both int64: ``y * W + x`` (picture order, to gather from (H, W) arrays)
    and the "location" ``y * P + x`` with a power-of-two row stride P >= W. A trace holds
    locations: one ``np.take`` moves a whole trace field, shifts and masks split it into
    (y, x), and it directly indexes a frame stored with row stride P (:meth:`padded`).
    """

    def __init__(self, height: int, width: int):
        self.height, self.width = height, width
        self.shift = max(width - 1, 1).bit_length()
        self.stride = 1 << self.shift
        self.ys = np.arange(height, dtype=np.int64)[:, None]
        self.xs = np.arange(width, dtype=np.int64)[None, :]
        self.identity = self.ys * self.stride + self.xs
        self.trace = self.identity
        self._coords: dict = {}

    def reference(self, blocks: BlockMotion, location: bool = True):
        """(picture index, location or None) of each pixel's reference, clamped to the picture.

        Rows clamp per (block, row) and columns per (block, column) on the small block grid;
        one broadcast add then forms each pixel field.
        """
        g, (hb, wb) = blocks.grid, blocks.dx.shape
        if (g, hb, wb) not in self._coords:
            self._coords[(g, hb, wb)] = (np.arange(hb * g).reshape(hb, 1, g),
                                         np.arange(wb * g).reshape(1, wb, g))
        rows, cols = self._coords[(g, hb, wb)]
        ry = np.clip(rows + blocks.dy[:, :, None], 0, self.height - 1)  # (hb, wb, g): block, row
        rx = np.clip(cols + blocks.dx[:, :, None], 0, self.width - 1)  # (hb, wb, g): block, column
        ry = ry.transpose(0, 2, 1)[:, :, :, None]  # (hb, g, wb, 1)
        rx = rx[:, None, :, :]  # (hb, 1, wb, g)
        shape, crop = (hb * g, wb * g), (slice(0, self.height), slice(0, self.width))
        # order="C" keeps the (hb, g, wb, g) result contiguous, so the reshape is free.
        index = np.add(ry * self.width, rx, order="C").reshape(shape)[crop]
        if not location:
            return index, None
        return index, np.add(ry << self.shift, rx, order="C").reshape(shape)[crop]

    def start_gop(self) -> None:
        self.trace = self.identity

    def follow(self, reference_index: np.ndarray) -> np.ndarray:
        """trace_t(p) = trace_{t-1}(reference_t(p)); returns the new trace (locations)."""
        self.trace = np.take(self.trace, reference_index)
        return self.trace

    def padded(self, image: np.ndarray) -> np.ndarray:
        """``image`` (H, W) copied into rows of stride P, so locations index it directly."""
        out = np.zeros((self.height, self.stride), image.dtype)
        out[:, : self.width] = image
        return out

    def offsets(self, location: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(dx, dy) from each pixel to the location."""
        return (location & (self.stride - 1)) - self.xs, (location >> self.shift) - self.ys


def _rgba_words(frame: av.VideoFrame) -> np.ndarray:
    """RGB(A) pixels as one uint32 word each, (H, W): one gather moves all three channels."""
    return frame.to_ndarray(format="rgba", threads=1).view(np.uint32)[..., 0]


def _residual(current: np.ndarray, reference_words: np.ndarray) -> np.ndarray:
    """int16 (H, W, 3): current RGB minus the gathered reference RGB."""
    ref = reference_words.view(np.uint8).reshape(*reference_words.shape, 4)
    cur = current.view(np.uint8).reshape(*current.shape, 4)
    return cur[..., :3].astype(np.int16) - ref[..., :3]


def _stacked(path, out: dict, state: dict, min_frames: int) -> dict:
    """Per-frame lists stacked into arrays, with the dtypes both extraction paths promise."""
    require_frames(path, len(out["pict_type"]), min_frames)
    fields = {k: np.stack(v) for k, v in out.items()}
    fields["pict_type"] = fields["pict_type"].astype(np.uint8)
    fields["gop_index"] = fields["gop_index"].astype(np.int32)
    fields["truncated_at"] = np.int32(state["truncated_at"])
    return fields


def extract(
    path: str | os.PathLike,
    max_frames: int | None = None,
    min_frames: int = 1,
) -> dict:
    """Full-resolution compressed-domain fields of a video (see the module docstring).

    Returns pict_type uint8 (T,), gop_index int32 (T,), mv / mv_accumulated int16 (T,H,W,2),
    residual / residual_accumulated int16 (T,H,W,3), intra bool (T,H,W), and truncated_at
    (-1, or the index of the first frame that could not be decoded). Memory is about 40 bytes
    per pixel and frame: use ``max_frames`` for long videos.
    """
    state: dict = {}
    out = {k: [] for k in ("pict_type", "gop_index", "mv", "mv_accumulated", "residual",
                           "residual_accumulated", "intra")}
    tracer = None
    gop = -1
    for index, frame, kind, vectors in _coded_frames(path, max_frames, state):
        words = _rgba_words(frame)
        if tracer is None:
            tracer = _Tracer(frame.height, frame.width)
        h, w = frame.height, frame.width
        if kind == PICT_I or index == 0:  # a stream cut before its I-frame starts a GoP too
            gop += 1
            tracer.start_gop()
            iframe = tracer.padded(words)
            mv = np.zeros((h, w, 2), np.int16)
            out["mv"].append(mv)
            out["mv_accumulated"].append(mv)
            zero = np.zeros((h, w, 3), np.int16)
            out["residual"].append(zero)
            out["residual_accumulated"].append(zero)
            out["intra"].append(np.zeros((h, w), bool))
        else:
            blocks = block_motion(vectors, h, w)
            reference, reference_location = tracer.reference(blocks)
            trace = tracer.follow(reference)
            out["mv"].append(np.stack(tracer.offsets(reference_location), -1).astype(np.int16))
            out["mv_accumulated"].append(np.stack(tracer.offsets(trace), -1).astype(np.int16))
            out["residual"].append(_residual(words, np.take(previous_words, reference)))
            out["residual_accumulated"].append(_residual(words, np.take(iframe, trace)))
            out["intra"].append(~blocks.expand(blocks.coded, h, w))
        out["pict_type"].append(kind)
        out["gop_index"].append(gop)
        previous_words = words
    return _stacked(path, out, state, min_frames)


# --------------------------------------------------------------------------- LNet inputs


def _pool_sum(image: np.ndarray, scale: int, out_h: int, out_w: int) -> np.ndarray:
    """Sum over non-overlapping scale x scale blocks (strided adds: much faster than reshape-sum)."""
    rows = image[0 : out_h * scale : scale]
    for k in range(1, scale):
        rows = rows + image[k : out_h * scale : scale]
    cols = rows[:, 0 : out_w * scale : scale]
    for k in range(1, scale):
        cols = cols + rows[:, k : out_w * scale : scale]
    return cols


# The per-pixel work of a P-frame in one compiled pass (numba): reference location, trace,
# residual magnitude, block sums, the normalised maps. Each output equals what the whole-frame
# numpy formulation gives (:func:`extract`, then float32 block sums in the order of
# :func:`_pool_sum` and numpy's dtype rules; tested for equality).


@numba.njit(cache=True, nogil=True)
def _p_frame_kernel(dx, dy, grid, lookup, reference, current, shift, scale, own_x, own_y,
                    source, columns, residual, mv, mv_magnitude):  # pragma: no cover - compiled
    """One P-frame. For each pixel p: r = p + mv(p) clamped to the picture; ``source[p] =
    lookup[r]`` (a location ``y << shift | x``: the trace to the I-frame, or r itself);
    m(p) = |current[p] - reference[source[p]]| over the RGB bytes (eq. 1, float32; ``current``
    (H, W, 4) and ``reference`` (N, 4) are RGBA bytes). Per scale x scale block: the sum of m
    (``columns`` holds each pixel column's running sum down the block), and the mean offset
    from the block's pixels to their sources. Fills ``residual``, ``mv``, ``mv_magnitude`` as
    :func:`lnet_inputs` documents them."""
    height, width = source.shape
    out_h, out_w = residual.shape
    cells = (width + grid - 1) // grid
    mask = (1 << shift) - 1
    area = scale * scale
    peak = np.float32(0.0)
    pooled = np.zeros((out_h, out_w), np.float32)
    mean_x = np.zeros((out_h, out_w), np.float64)
    mean_y = np.zeros((out_h, out_w), np.float64)
    for y in range(height):
        row = y // grid
        pool_row = y // scale
        if y % scale == 0:
            columns[:] = 0.0
        for cell in range(cells):
            move_x, move_y = dx[row, cell], dy[row, cell]
            ry = min(max(y + move_y, 0), height - 1)
            for x in range(cell * grid, min(cell * grid + grid, width)):
                rx = min(max(x + move_x, 0), width - 1)
                location = lookup[ry, rx]
                source[y, x] = location
                energy = 0
                for c in range(3):
                    d = np.int32(current[y, x, c]) - np.int32(reference[location, c])
                    energy += d * d
                m = np.float32(np.sqrt(np.float32(energy)))
                peak = max(peak, m)
                columns[x] += m
        if y % scale == scale - 1 and pool_row < out_h:
            for j in range(out_w):
                total = np.float32(0.0)
                xs = 0
                ys = 0
                for kc in range(scale):
                    total += columns[j * scale + kc]
                    for kr in range(scale):
                        location = source[pool_row * scale + kr, j * scale + kc]
                        xs += location & mask
                        ys += location >> shift
                pooled[pool_row, j] = total
                mean_x[pool_row, j] = (xs - own_x[pool_row, j]) / area
                mean_y[pool_row, j] = (ys - own_y[pool_row, j]) / area
    # residual: divided by the frame's peak, x255, rounded (float32, as numpy computes it)
    if peak > 0:
        factor = np.float32(255.0 / (np.float64(peak) * area))
        for i in range(out_h):
            for j in range(out_w):
                residual[i, j] = np.uint8(np.rint(pooled[i, j] * factor))
    else:
        residual[:, :] = 0
    # mv: the rounded mean offsets, clipped to int8; mv_magnitude: their lengths over the peak
    length_peak = 0.0
    for i in range(out_h):
        for j in range(out_w):
            mv[0, i, j] = np.int8(min(max(np.rint(mean_x[i, j]), -127.0), 127.0))
            mv[1, i, j] = np.int8(min(max(np.rint(mean_y[i, j]), -127.0), 127.0))
            length = np.sqrt(mean_x[i, j] * mean_x[i, j] + mean_y[i, j] * mean_y[i, j])
            mean_x[i, j] = length
            length_peak = max(length_peak, length)
    if length_peak > 0:
        factor64 = 255.0 / length_peak
        for i in range(out_h):
            for j in range(out_w):
                mv_magnitude[i, j] = np.uint8(np.rint(mean_x[i, j] * factor64))
    else:
        mv_magnitude[:, :] = 0


@numba.njit(cache=True, nogil=True)
def _gray_kernel(luma, scale, out):  # pragma: no cover - compiled
    """Area-downscaled luma: the rounded mean of each scale x scale block, uint8."""
    out_h, out_w = out.shape
    area = scale * scale
    for i in range(out_h):
        for j in range(out_w):
            total = 0
            for kr in range(scale):
                for kc in range(scale):
                    total += luma[i * scale + kr, j * scale + kc]
            out[i, j] = (total + area // 2) // area


class _LNetFrames:
    """Buffers and per-video state of :func:`lnet_inputs`: allocated once per video, reused for
    every frame (the kernels write into them)."""

    def __init__(self, height: int, width: int, scale: int, accumulated: bool):
        self.tracer = _Tracer(height, width)
        self.scale, self.accumulated = scale, accumulated
        self.out_h, self.out_w = height // scale, width // scale
        self.columns = np.empty(width, np.float32)
        self.sources = [np.empty((height, width), np.int64) for _ in range(2)]
        self.identity = np.ascontiguousarray(self.tracer.identity)
        self.own_x = _pool_sum(np.broadcast_to(self.tracer.xs, (height, width)), scale, self.out_h, self.out_w)
        self.own_y = _pool_sum(np.broadcast_to(self.tracer.ys, (height, width)), scale, self.out_h, self.out_w)
        self.blank = np.zeros((self.out_h, self.out_w), np.uint8)
        self.still = np.zeros((2, self.out_h, self.out_w), np.int8)
        self.reformatter = VideoReformatter()  # one scaler context per video, not one per frame
        self.trace = self.identity

    def words(self, frame: av.VideoFrame) -> np.ndarray:
        """RGBA bytes, (H, W, 4)."""
        rgba = self.reformatter.reformat(frame, format="rgba", threads=1)
        return rgba.to_ndarray()

    def gray(self, frame: av.VideoFrame) -> np.ndarray:
        out = np.empty((self.out_h, self.out_w), np.uint8)
        _gray_kernel(_luma(frame), self.scale, out)
        return out

    def i_frame(self, words: np.ndarray) -> None:
        self.trace = self.identity
        self.iframe = self._rows(words)

    def _rows(self, rgba: np.ndarray) -> np.ndarray:
        """RGBA bytes in rows of stride P, flattened to (H * P, 4): locations index it directly."""
        return self.tracer.padded(rgba.view(np.uint32)[..., 0]).ravel().view(np.uint8).reshape(-1, 4)

    def p_frame(self, words: np.ndarray, previous_words: np.ndarray, blocks: BlockMotion):
        """(residual, mv, mv_magnitude) of a P-frame, as the docstring of lnet_inputs says."""
        if self.accumulated:  # trace_t(p) = trace_{t-1}(r(p)); residual against the I-frame
            lookup, reference = self.trace, self.iframe
        else:  # r(p) itself; residual against the previous frame
            lookup, reference = self.identity, self._rows(previous_words)
        source = self.sources[1] if self.trace is self.sources[0] else self.sources[0]
        residual = np.empty((self.out_h, self.out_w), np.uint8)
        mv = np.empty((2, self.out_h, self.out_w), np.int8)
        mv_magnitude = np.empty((self.out_h, self.out_w), np.uint8)
        _p_frame_kernel(blocks.dx, blocks.dy, blocks.grid, lookup, reference, words, self.tracer.shift,
                        self.scale, self.own_x, self.own_y, source, self.columns, residual, mv, mv_magnitude)
        if self.accumulated:
            self.trace = source
        return residual, mv, mv_magnitude


def _luma(frame: av.VideoFrame) -> np.ndarray:
    plane = frame.planes[0]
    return np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, : frame.width]


def lnet_inputs(
    path: str | os.PathLike,
    scale: int = 4,
    accumulated: bool = True,
    max_frames: int | None = None,
    min_frames: int = 1,
) -> dict:
    """The LNet's inputs at H/S x W/S in one streaming pass (paper eq. 1 and after).

    Returns
      residual uint8 (T,Ha,Wa): |R| = sqrt(sum_c R_c^2) per pixel, divided by the frame's max,
          area-downscaled by ``scale``, x255 (all zero in I-frames);
      mv int8 (T,2,Ha,Wa): block-mean (dx, dy) in full-resolution pixels, clipped to +-127;
      mv_magnitude uint8 (T,Ha,Wa): length of those block-mean vectors, divided by the frame's
          max, x255 (computed at H/S x W/S: the mean vector's length, not the mean length);
      gray uint8 (T,Ha,Wa): the decoded luma plane, area-downscaled;
      pict_type uint8 (T,), gop_index int32 (T,), frame_size int32 (2,) = (H, W),
      truncated_at int32 (-1 when the whole file decoded).
    ``accumulated`` chooses the CoViAR-accumulated fields (default) or the per-frame ones.

    The per-pixel work of a P-frame (reference, trace, residual magnitude, block sums) is one
    compiled pass (:func:`_p_frame_kernel`); the result equals downscaling the :func:`extract`
    fields (tested).
    """
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    state: dict = {}
    keys = ("residual", "mv", "mv_magnitude", "gray", "pict_type", "gop_index")
    out = {k: [] for k in keys}
    frames = None
    gop = -1
    for index, frame, kind, vectors in _coded_frames(path, max_frames, state):
        h, w = frame.height, frame.width
        if frames is None:
            if h // scale < 1 or w // scale < 1:
                raise VideoError(f"{path}: frame {h}x{w} is smaller than the downscale factor {scale}")
            frames = _LNetFrames(h, w, scale, accumulated)
        words = frames.words(frame)
        if kind == PICT_I or index == 0:
            gop += 1
            frames.i_frame(words)
            residual, mv, mv_magnitude = frames.blank, frames.still, frames.blank
        else:
            residual, mv, mv_magnitude = frames.p_frame(words, previous_words, block_motion(vectors, h, w))
        out["gray"].append(frames.gray(frame))
        out["residual"].append(residual)
        out["mv"].append(mv)
        out["mv_magnitude"].append(mv_magnitude)
        out["pict_type"].append(kind)
        out["gop_index"].append(gop)
        previous_words = words
    result = _stacked(path, out, state, min_frames)
    result["frame_size"] = np.array([h, w], np.int32)
    return result
