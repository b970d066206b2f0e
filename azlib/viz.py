"""Figures: modality maps, the paper's Fig. 2 boxes, learning curves, accuracy by figure size.

Each function returns a matplotlib Figure; ``save_figure`` writes it as PNG under
``<out_dir>/figures/`` atomically, so a chapter never shows half a file; ``show_figure`` (what
the chapters call) also embeds that PNG in the notebook, so the executed notebook and the book
show exactly the file that was saved.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

# Agg everywhere, the notebook kernel included: chapters embed the saved PNG (show_figure), so the
# inline backend would only show every figure twice; papermill and CI have no display anyway
matplotlib.use("Agg")
import matplotlib.patches as patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CENTRE_COLOUR = "red"  # the paper's Fig. 2: centre crop in red, adaptive box in green
ADAPTIVE_COLOUR = "lime"
TRUE_COLOUR = "deepskyblue"


def save_figure(fig, out_dir: str | os.PathLike, name: str, dpi: int = 110) -> Path:
    """Write ``fig`` to ``<out_dir>/figures/<name>.png`` (temporary file, then rename)."""
    folder = Path(out_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    tmp = folder / f".{name}.partial.png"
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def show_figure(fig, out_dir: str | os.PathLike, name: str, dpi: int = 110) -> None:
    """Save ``fig`` (:func:`save_figure`), close it and display the saved PNG in the notebook."""
    from IPython.display import Image, display

    path = save_figure(fig, out_dir, name, dpi=dpi)
    plt.close(fig)
    display(Image(filename=str(path)))


def flow_to_rgb(vectors: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-wheel image of a (H, W, 2) vector field: hue is direction, value is magnitude."""
    dx, dy = vectors[..., 0].astype(np.float32), vectors[..., 1].astype(np.float32)
    magnitude = np.hypot(dx, dy)
    scale = max_magnitude or max(float(magnitude.max()), 1e-6)
    hue = (np.arctan2(dy, dx) + np.pi) / (2 * np.pi)
    hsv = np.stack([hue, np.ones_like(hue), np.clip(magnitude / scale, 0, 1)], axis=-1)
    return matplotlib.colors.hsv_to_rgb(hsv)


def image_grid(rows: Sequence[Sequence[np.ndarray]], row_titles: Sequence[str],
               col_titles: Sequence[str] | None = None, cmap: str = "magma", size: float = 1.9):
    """A grid of images, one row per modality, one column per frame."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(size * n_cols * 4 / 3, size * n_rows), squeeze=False)
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([]), ax.set_yticks([])
            if c < len(row):
                image = row[c]
                ax.imshow(image, cmap=None if image.ndim == 3 else cmap, interpolation="nearest")
            else:
                ax.axis("off")
            if c == 0:
                ax.set_ylabel(row_titles[r], fontsize=9)
            if r == 0 and col_titles is not None and c < len(col_titles):
                ax.set_title(col_titles[c], fontsize=9)
    fig.tight_layout()
    return fig


def draw_box(ax, box: Sequence[float], colour: str, label: str | None = None, width: float = 2.0):
    """Draw a pixel box (x0, y0, x1, y1) on ``ax``."""
    x0, y0, x1, y1 = (float(v) for v in box)
    ax.add_patch(patches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour,
                                   linewidth=width, label=label))


def boxes_figure(frames: Sequence[np.ndarray], residual_means: Sequence[np.ndarray],
                 centre_boxes: Sequence[Sequence[float]], adaptive_boxes: Sequence[Sequence[float]],
                 titles: Sequence[str], true_boxes: Sequence[Sequence[float]] | None = None,
                 columns: int = 3):
    """The paper's Fig. 2: pairs of (middle frame, channel-mean residual) with the centre crop
    in red and the adaptive box in green (and, where known, the true box in blue)."""
    n = len(frames)
    rows = int(np.ceil(n / columns))
    fig, axes = plt.subplots(rows, 2 * columns, figsize=(2.6 * 2 * columns, 2.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
        ax.axis("off")
    for i in range(n):
        r, c = divmod(i, columns)
        for j, image in enumerate((frames[i], residual_means[i])):
            ax = axes[r][2 * c + j]
            ax.axis("on")
            ax.imshow(image, cmap=None if image.ndim == 3 else "gray")
            draw_box(ax, centre_boxes[i], CENTRE_COLOUR)
            draw_box(ax, adaptive_boxes[i], ADAPTIVE_COLOUR)
            if true_boxes is not None:
                draw_box(ax, true_boxes[i], TRUE_COLOUR, width=1.2)
        axes[r][2 * c].set_title(titles[i], fontsize=8, loc="left")
    handles = [patches.Patch(edgecolor=CENTRE_COLOUR, fill=False, label="centre crop"),
               patches.Patch(edgecolor=ADAPTIVE_COLOUR, fill=False, label="adaptive")]
    if true_boxes is not None:
        handles.append(patches.Patch(edgecolor=TRUE_COLOUR, fill=False, label="true figure box"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def learning_curves(logs: Mapping[str, "pandas.DataFrame"], metrics=("loss", "train_accuracy")):
    """Per-epoch curves of several runs: ``logs`` maps a label to a frame with an ``epoch`` column
    (training loss and training accuracy, on the clips each epoch drew)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for label, log in logs.items():
            if metric in log:
                ax.plot(log["epoch"], log[metric], marker="o", label=label)
        ax.set_xlabel("epoch"), ax.set_ylabel(metric.replace("_", " ") + (" (%)" if "accuracy" in metric else ""))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def accuracy_by_bin(frame: "pandas.DataFrame", x: str, y: str, hue: str, xlabel: str, ylabel: str):
    """Bar chart of ``y`` per bin ``x`` for each ``hue`` (e.g. accuracy per figure-size bin)."""
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(7, 3.6))
    sns.barplot(data=frame, x=x, y=y, hue=hue, ax=ax, errorbar=None)
    ax.set_xlabel(xlabel), ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def scatter_with_identity(x: np.ndarray, y: np.ndarray, xlabel: str, ylabel: str, title: str = ""):
    """Scatter of ``y`` against ``x`` with the identity line (learned vs true box size)."""
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(x, y, s=10, alpha=0.6)
    lo, hi = float(min(np.min(x), np.min(y))), float(max(np.max(x), np.max(y)))
    ax.plot([lo, hi], [lo, hi], color="gray", linestyle="--", linewidth=1)
    ax.set_xlabel(xlabel), ax.set_ylabel(ylabel), ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def picture_types_figure(pict_type: np.ndarray, gop_index: np.ndarray):
    """A strip of the picture types along the video (I in red, P in blue), GoPs numbered."""
    colours = {ord("I"): "tab:red", ord("P"): "tab:blue", ord("B"): "tab:green"}
    fig, ax = plt.subplots(figsize=(min(14, 0.18 * len(pict_type) + 2), 1.4))
    for t, code in enumerate(pict_type):
        ax.bar(t, 1, width=0.9, color=colours.get(int(code), "gray"))
        if int(code) == ord("I"):
            ax.text(t, 1.05, f"GoP {int(gop_index[t])}", fontsize=7, ha="left")
    ax.set_yticks([]), ax.set_xlabel("frame"), ax.set_ylim(0, 1.4)
    handles = [patches.Patch(color=c, label=chr(k)) for k, c in colours.items() if k in set(map(int, pict_type))]
    ax.legend(handles=handles, loc="upper right", fontsize=7, ncol=3, frameon=False)
    fig.tight_layout()
    return fig
