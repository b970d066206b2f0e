"""Figures: modality maps, the paper's Fig. 2 boxes, learning curves, accuracy by figure size,
the claims' forest plot.

One name and one colour per method across the book (:data:`METHODS`, Okabe–Ito's colour-blind
safe palette): every figure that shows a method takes both from :func:`method_name` and
:func:`method_colour`. Legends sit outside the data; axes say their units.

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
import matplotlib.figure  # noqa: E402
import matplotlib.lines  # noqa: E402
import matplotlib.patches as patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
#: deficiency
OKABE_ITO = {"orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00",
             "reddish purple": "#CC79A7", "black": "#000000", "grey": "#999999"}
#: every method the book shows, by the row key the tables and runs use: (name, colour). The
#: paper's Fig. 2 draws the centre crop red and the adaptive box green: vermillion and bluish
#: green keep that reading.
METHODS = {
    "centre": ("Centre crop", OKABE_ITO["vermillion"]),
    "adaptive": ("Adaptive zoom", OKABE_ITO["bluish green"]),
    "oracle_box": ("Oracle box, trained", OKABE_ITO["blue"]),
    "oracle_scale": ("Oracle scale (centred), trained", OKABE_ITO["reddish purple"]),
    "true_box": ("True figure box", OKABE_ITO["sky blue"]),
    "random": ("Random crop", OKABE_ITO["orange"]),
    "pretraining": ("Pretraining", OKABE_ITO["grey"]),
}
#: other spellings of a method (its name in any case, table labels, crop variants) and its key
_ALIASES = {**{name.lower(): key for key, (name, _) in METHODS.items()},
            "center": "centre", "none": "centre", "adaptive": "adaptive", "oracle": "oracle_box",
            "oracle box": "oracle_box", "oracle scale": "oracle_scale",
            "oracle scale (centred)": "oracle_scale", "pretrain": "pretraining"}
#: the claims' verdicts, coloured the same way everywhere
VERDICT_COLOURS = {"holds": OKABE_ITO["bluish green"], "does not hold": OKABE_ITO["vermillion"],
                   "inconclusive": OKABE_ITO["orange"], "not measured": OKABE_ITO["grey"]}


def _method_key(method: str) -> str:
    key = str(method)
    if key in METHODS:
        return key
    lowered = key.lower()
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    raise KeyError(f"{method!r}: not a method of azlib.viz.METHODS ({', '.join(METHODS)})")


def method_name(method: str) -> str:
    """The one name the book gives ``method`` (a row key or one of its spellings)."""
    return METHODS[_method_key(method)][0]


def method_colour(method: str) -> str:
    """The one colour the book gives ``method`` (a row key or one of its spellings)."""
    return METHODS[_method_key(method)][1]


CENTRE_COLOUR = method_colour("centre")
ADAPTIVE_COLOUR = method_colour("adaptive")
TRUE_COLOUR = method_colour("true_box")


def legend_outside(ax_or_fig, handles=None, labels=None, **kwargs):
    """A legend to the right of the axes (or below a figure), never over the data."""
    if isinstance(ax_or_fig, matplotlib.figure.Figure):
        return ax_or_fig.legend(handles=handles, **({"labels": labels} if labels else {}),
                                loc="lower center", bbox_to_anchor=(0.5, -0.02), frameon=False, **kwargs)
    args = (handles, labels) if handles is not None and labels is not None else ()
    extra = {"handles": handles} if handles is not None and labels is None else {}
    return ax_or_fig.legend(*args, **extra, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                            frameon=False, borderaxespad=0.0, **kwargs)


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
               col_titles: Sequence[str] | None = None, keys: Sequence | None = None,
               cmap: str = "magma", size: float = 1.9):
    """A grid of images, one row per modality, one column per frame.

    ``keys``: per row, what its colours mean, drawn at the row's right end: None (an RGB row),
    ``("bar", label)`` (a scalar map: one colour scale for the whole row, with a colour bar), or
    ``("wheel", max_magnitude)`` (a vector field drawn by :func:`flow_to_rgb` at that maximum:
    a colour wheel, hue is direction and brightness magnitude)."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    keys = list(keys) if keys is not None else [None] * n_rows
    fig, axes = plt.subplots(n_rows, n_cols + 1, figsize=(size * n_cols * 4 / 3 + 1.6, size * n_rows),
                             squeeze=False, gridspec_kw={"width_ratios": [1] * n_cols + [0.35]})
    for r, row in enumerate(rows):
        key = keys[r]
        scalar = [image for image in row if image.ndim == 2]
        vmax = max((float(np.max(image)) for image in scalar), default=1.0) or 1.0
        shown = None
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([]), ax.set_yticks([])
            if c < len(row):
                image = row[c]
                if image.ndim == 3:
                    ax.imshow(image, interpolation="nearest")
                else:
                    shown = ax.imshow(image, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
            else:
                ax.axis("off")
            if c == 0:
                ax.set_ylabel(row_titles[r], fontsize=9)
            if r == 0 and col_titles is not None and c < len(col_titles):
                ax.set_title(col_titles[c], fontsize=9)
        side = axes[r][n_cols]
        side.axis("off")
        if key and key[0] == "bar" and shown is not None:
            bar = fig.colorbar(shown, ax=side, fraction=0.9, aspect=8)
            bar.set_label(key[1], fontsize=7)
            bar.ax.tick_params(labelsize=7)
        elif key and key[0] == "wheel":
            inset = side.inset_axes((0.05, 0.15, 0.7, 0.7))
            inset.imshow(colour_wheel(), interpolation="bilinear")
            inset.set_xticks([]), inset.set_yticks([])
            inset.set_title(f"direction;\nbright = {key[1]:.0f} px", fontsize=7)
    fig.tight_layout()
    return fig


def colour_wheel(size: int = 64) -> np.ndarray:
    """The key of :func:`flow_to_rgb`: the vector from the centre to each pixel, at full
    brightness on the rim."""
    y, x = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]
    wheel = flow_to_rgb(np.stack([x, y], axis=-1), max_magnitude=1.0)
    wheel[np.hypot(x, y) > 1] = 1.0
    return wheel


def draw_box(ax, box: Sequence[float], colour: str, label: str | None = None, width: float = 2.0):
    """Draw a pixel box (x0, y0, x1, y1) on ``ax``."""
    x0, y0, x1, y1 = (float(v) for v in box)
    ax.add_patch(patches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour,
                                   linewidth=width, label=label))


def boxes_figure(frames: Sequence[np.ndarray], residual_means: Sequence[np.ndarray],
                 centre_boxes: Sequence[Sequence[float]], adaptive_boxes: Sequence[Sequence[float]],
                 titles: Sequence[str], true_boxes: Sequence[Sequence[float]] | None = None,
                 columns: int = 3):
    """The paper's Fig. 2: pairs of (middle frame, mean residual magnitude) with the centre crop
    and the adaptive box (and, where known, the true figure box), in the methods' colours;
    ``titles`` name each pair (e.g. "true: clap, predicted: squat")."""
    n = len(frames)
    columns = max(1, min(columns, n))
    rows = int(np.ceil(n / columns))
    fig, axes = plt.subplots(rows, 2 * columns, figsize=(3.0 * 2 * columns, 2.7 * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
        ax.axis("off")
    for i in range(n):
        r, c = divmod(i, columns)
        for j, image in enumerate((frames[i], residual_means[i])):
            ax = axes[r][2 * c + j]
            ax.axis("on")
            ax.imshow(image, cmap=None if image.ndim == 3 else "gray")
            draw_box(ax, centre_boxes[i], CENTRE_COLOUR, width=2.2)
            draw_box(ax, adaptive_boxes[i], ADAPTIVE_COLOUR, width=2.2)
            if true_boxes is not None:
                draw_box(ax, true_boxes[i], TRUE_COLOUR, width=1.4)
            ax.set_xlabel("middle frame" if j == 0 else "mean |residual|", fontsize=8)
        axes[r][2 * c].set_title(titles[i], fontsize=10, loc="left")
    handles = [patches.Patch(edgecolor=CENTRE_COLOUR, fill=False, linewidth=2, label=method_name("centre")),
               patches.Patch(edgecolor=ADAPTIVE_COLOUR, fill=False, linewidth=2, label=method_name("adaptive"))]
    if true_boxes is not None:
        handles.append(patches.Patch(edgecolor=TRUE_COLOUR, fill=False, linewidth=2, label=method_name("true_box")))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


METRIC_LABELS = {"loss": "training loss (cross-entropy)", "train_accuracy": "training accuracy (%)"}


def learning_curves(logs: Mapping[str, "pandas.DataFrame"], metrics=("loss", "train_accuracy"),
                    methods: Mapping[str, str] | None = None):
    """Per-epoch curves of several runs: ``logs`` maps a label to a frame with an ``epoch`` column
    (training loss and training accuracy, on the clips each epoch drew: not test accuracy).
    ``methods`` maps a label to its method (:data:`METHODS`), which gives the curve's colour."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics) + 2.2, 3.4), squeeze=False)
    styles = ("-", "--", ":", "-.")
    seen: dict[str, int] = {}
    for ax, metric in zip(axes[0], metrics):
        for label, log in logs.items():
            if metric not in log:
                continue
            method = (methods or {}).get(label)
            colour = method_colour(method) if method else None
            style = styles[seen.setdefault(label, sum(1 for m in seen if (methods or {}).get(m) == method)) % 4]
            ax.plot(log["epoch"], log[metric], marker="o", markersize=3, color=colour, linestyle=style,
                    label=label)
        ax.set_xlabel("epoch"), ax.set_ylabel(METRIC_LABELS.get(metric, metric.replace("_", " ")))
        ax.grid(alpha=0.3)
    legend_outside(axes[0][-1], fontsize=8)
    fig.tight_layout()
    return fig


def accuracy_by_bin(frame: "pandas.DataFrame", x: str, y: str, hue: str, xlabel: str, ylabel: str):
    """Bar chart of ``y`` per bin ``x`` for each ``hue`` (e.g. accuracy per figure-size bin); the
    hue values are methods (:data:`METHODS`), named and coloured as everywhere in the book."""
    frame = frame.assign(**{hue: [method_name(m) for m in frame[hue]]})
    order = list(dict.fromkeys(frame[hue]))
    bins = list(dict.fromkeys(frame[x]))
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / max(len(order), 1)
    for i, method in enumerate(order):
        part = frame[frame[hue] == method].set_index(x).reindex(bins)
        ax.bar(np.arange(len(bins)) + (i - (len(order) - 1) / 2) * width, part[y], width=width,
               color=method_colour(method), label=method)
    ax.set_xticks(np.arange(len(bins)), bins)
    ax.set_xlabel(xlabel), ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    legend_outside(ax, fontsize=8)
    fig.tight_layout()
    return fig


def scatter_with_identity(x: np.ndarray, y: np.ndarray, xlabel: str, ylabel: str, title: str = "",
                          method: str = "adaptive"):
    """Scatter of ``y`` against ``x`` with the identity line (learned vs true box size), in the
    colour of ``method``."""
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.scatter(x, y, s=10, alpha=0.6, color=method_colour(method), label=method_name(method))
    lo, hi = float(min(np.min(x), np.min(y))), float(max(np.max(x), np.max(y)))
    ax.plot([lo, hi], [lo, hi], color="gray", linestyle="--", linewidth=1, label="identity")
    ax.set_xlabel(xlabel), ax.set_ylabel(ylabel), ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    legend_outside(ax, fontsize=8)
    fig.tight_layout()
    return fig


def claims_forest(frame: "pandas.DataFrame", negligible: float | None = None):
    """Dot-and-whisker plot of the claims (a :func:`azlib.claims.check_all` frame): per
    comparison, ours (dot, its interval as whiskers, coloured by the claim's verdict) beside the
    paper's figure (open diamond); one panel per unit (top-1 points; % of the backbone's cost,
    with the ``negligible`` threshold as a dashed line), zero marked."""
    import pandas as pd

    units = list(dict.fromkeys(frame["unit"]))
    heights = [max(1, (frame["unit"] == u).sum()) for u in units]
    fig, axes = plt.subplots(len(units), 1, figsize=(8, 0.32 * sum(heights) + 1.2 * len(units)),
                             squeeze=False, gridspec_kw={"height_ratios": heights})
    for ax, unit in zip(axes[:, 0], units):
        part = frame[frame["unit"] == unit].reset_index(drop=True)
        y = np.arange(len(part))[::-1]
        for yi, row in zip(y, part.itertuples()):
            colour = VERDICT_COLOURS.get(row.verdict, OKABE_ITO["grey"])
            if not pd.isna(row.diff):
                ax.errorbar(row.diff, yi, xerr=[[row.diff - row.lo], [row.hi - row.diff]], fmt="o",
                            color=colour, ecolor=colour, capsize=3, markersize=5)
            if not pd.isna(row.paper_diff):
                ax.plot(row.paper_diff, yi, marker="D", markersize=6, markerfacecolor="none",
                        markeredgecolor="black", linestyle="none")
        ax.set_yticks(y, [f"{c}" for c in part["comparison"]], fontsize=7)
        # claims apart: a thin line between them, the claim named above its comparisons
        starts = [i for i in range(len(part)) if i == 0 or part["key"][i] != part["key"][i - 1]]
        for i in starts:
            if i:
                ax.axhline(y[i] + 0.5, color="lightgray", linewidth=0.8)
            ax.text(0.01, y[i] + 0.32, part["claim"][i], transform=ax.get_yaxis_transform(), fontsize=7,
                    fontweight="bold", va="bottom", color="dimgray")
        ax.axvline(0, color="black", linewidth=0.8)
        if unit.startswith("%") and negligible is not None:
            ax.axvline(negligible, color=OKABE_ITO["grey"], linestyle="--", linewidth=1)
            ax.text(negligible, -0.6, f" negligible: < {negligible:g} %", fontsize=7, color="dimgray",
                    va="bottom")
        ax.set_xlabel(f"Δ ({unit})" if not unit.startswith("%") else f"added cost ({unit})")
        ax.grid(axis="x", alpha=0.3)
        ax.set_ylim(-0.7, len(part) - 0.1)
    handles = [matplotlib.lines.Line2D([], [], marker="o", color=c, linestyle="none", label=f"ours: {v}")
               for v, c in VERDICT_COLOURS.items() if v in set(frame["verdict"])]
    handles.append(matplotlib.lines.Line2D([], [], marker="D", markerfacecolor="none", markeredgecolor="black",
                                           linestyle="none", label="paper"))
    legend_outside(axes[0][0], handles=handles, fontsize=8)
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
    legend_outside(ax, handles=handles, fontsize=7)
    fig.tight_layout()
    return fig
