"""What the chapters show: a table of the grid beside the paper, Fig. 2's boxes, step times.

Notebooks call these and display the result, so that a chapter is a parameters cell, a few
calls, tables, figures and a sentence on what they show. Training happens only through
:func:`azlib.runner.run_table` (which reuses every finished run); the rest reads records.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from azlib import grid, records
from azlib.codec import decode_rgb
from azlib.config import REPO_ROOT, Profile, load_profile, run_spec
from azlib.datasets.check import DatasetCheck
from azlib.datasets.synthetic import load_boxes
from azlib.extraction import extract, lnet_inputs
from azlib.files import atomic_path
from azlib.models.az import build_model
from azlib.models.cost import step_time_samples
from azlib.models.cost import training_step
from azlib.models.zoom import centre_crop_theta, pixel_crop_fraction, theta_to_box
from azlib.runner import run_table
from azlib.settings import replace, to_dict
from azlib.stats import t_interval
from azlib.store import LNET_CHANNELS
from azlib.tables import planned_records, save_table, table
from azlib.training.run import check_data, lnet_store
from azlib.viz import flow_to_rgb


def setup(profile: str, out_dir=None, data_root=None, device=None) -> tuple[Profile, Path]:
    """The profile (with the notebook's parameters) and the results folder."""
    overrides = {}
    if data_root:
        overrides["data_root"] = data_root
    if device:
        overrides["device"] = device
    return load_profile(profile, overrides), Path(out_dir or REPO_ROOT / "results" / profile)


def dataset(profile: Profile, out_dir) -> DatasetCheck:
    """The profile's dataset, checked (SynthActions generated first when missing)."""
    return check_data(run_spec(profile), out_dir)


def modality_maps(video_path, frame_indices, scale: int = 4):
    """One video through the pipeline, for :func:`azlib.viz.image_grid`: rows of images (RGB
    frames; per-frame and accumulated motion vectors as colour wheels; residual magnitudes; the
    LNet inputs at H/S x W/S), the row titles and the column titles."""
    last = max(frame_indices) + 1
    rgb = decode_rgb(video_path, max_frames=last)
    fields = extract(video_path, max_frames=last)
    small = lnet_inputs(video_path, scale=scale, accumulated=True, max_frames=last)
    per_frame = lnet_inputs(video_path, scale=scale, accumulated=False, max_frames=last)

    def magnitude(residual):
        return np.sqrt((residual.astype(np.float32) ** 2).sum(-1))

    types = [chr(int(fields["pict_type"][t])) for t in frame_indices]
    rows = [
        [rgb[t] for t in frame_indices],
        [flow_to_rgb(fields["mv"][t]) for t in frame_indices],
        [flow_to_rgb(fields["mv_accumulated"][t]) for t in frame_indices],
        [magnitude(fields["residual"][t]) for t in frame_indices],
        [magnitude(fields["residual_accumulated"][t]) for t in frame_indices],
        [per_frame["residual"][t] for t in frame_indices],
        [small["residual"][t] for t in frame_indices],
        [small["mv_magnitude"][t] for t in frame_indices],
        [small["gray"][t] for t in frame_indices],
    ]
    titles = ["RGB", "MV", "MV accumulated", "|residual|", "|residual| accumulated",
              f"LNet Res, per-frame (÷{scale})", f"LNet Res, accumulated (÷{scale})",
              f"LNet |MV| accumulated (÷{scale})", f"LNet RGB grey (÷{scale})"]
    return rows, titles, [f"frame {t} ({k})" for t, k in zip(frame_indices, types)]


# --- tables -----------------------------------------------------------------------------------

def _cell(mean, lo, hi, digits=1) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if lo is None or (isinstance(lo, float) and math.isnan(lo)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _paper(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


def caption(frame: pd.DataFrame) -> str:
    """Says which dataset and profile produced our numbers, and where the paper's come from."""
    a = frame.attrs
    seeds = int(frame["seeds"].max()) if "seeds" in frame and len(frame) else 0
    text = (f"**Ours:** {a.get('dataset')} (profile `{a.get('profile')}`), top-1 / top-5 in %, mean "
            f"over {seeds} seed(s) with a 95 % t-interval in brackets. **Paper:** "
            f"{a.get('paper_dataset')}. ")
    if "diff_top1" in frame:
        text += ("Δ: top-1 difference to the compared row, paired bootstrap 95 % interval over the "
                 "same test videos. ")
    if a.get("runs_missing"):
        text += f"**{a['runs_missing']} run(s) of this table have not finished.** "
    if a.get("runs_stale"):
        text += (f"**{a['runs_stale']} run(s) of this table are stale: computed by other code "
                 "(see the status page).**")
    return text


def present(frame: pd.DataFrame, dataset_label: str | None = None) -> pd.DataFrame:
    """Our numbers (mean [95 % interval]) beside the paper's, as strings for display."""
    ours = dataset_label or frame.attrs.get("dataset", "ours")
    shown = pd.DataFrame(index=frame.index)
    if "split" in frame and frame["split"].nunique() > 1:
        shown["split"] = frame["split"]
    shown[f"top-1, ours ({ours})"] = [_cell(r.top1, r.top1_lo, r.top1_hi) for r in frame.itertuples()]
    shown[f"top-1, paper ({frame.attrs.get('paper_dataset')})"] = [_paper(v) for v in frame["paper_top1"]]
    shown[f"top-5, ours ({ours})"] = [_cell(r.top5, r.top5_lo, r.top5_hi) for r in frame.itertuples()]
    shown[f"top-5, paper ({frame.attrs.get('paper_dataset')})"] = [_paper(v) for v in frame["paper_top5"]]
    if "diff_top1" in frame:
        shown["Δ top-1 vs"] = [
            f"{_cell(r.diff_top1, r.diff_lo, r.diff_hi)} vs {r.vs}" if isinstance(r.vs, str) else "–"
            for r in frame.itertuples()]
    if "stale" in frame and frame["stale"].sum():
        shown["stale seeds"] = frame["stale"]
    shown.index.name = frame.index.name
    return shown


def run_and_tabulate(table_id, profile: Profile, out_dir, progress: bool = True) -> pd.DataFrame:
    """Run what is missing of one table (reusing every finished run), then tabulate it and save
    ``tables/table<id>.csv``."""
    run_table(table_id, profile, out_dir, progress=progress)
    frame = table(table_id, profile, out_dir)
    save_table(frame, out_dir)
    return frame


def save_frame(frame: pd.DataFrame, out_dir, name: str, index: bool = True) -> Path:
    """``<out_dir>/tables/<name>.csv``, written atomically (what later chapters and the book's
    front page read)."""
    path = Path(out_dir) / "tables" / f"{name}.csv"
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=index)
    return path


def show_table(table_id, profile: Profile, out_dir, heading: str = "") -> pd.DataFrame:
    """A chapter's table: run what is missing (:func:`run_and_tabulate`), then display the
    caption under ``heading`` (``{title}`` is the table's title) and our numbers beside the
    paper's (:func:`present`). Returns the full frame."""
    from IPython.display import Markdown, display  # notebooks only

    frame = run_and_tabulate(table_id, profile, out_dir)
    title = heading.format(title=frame.attrs.get("title", "")) + "\n\n" if heading else ""
    display(Markdown(title + caption(frame)))
    display(present(frame))
    return frame


# --- Fig. 2 -----------------------------------------------------------------------------------

def fig2_data(profile: Profile, out_dir, count: int = 9, table_id: str = "1",
              row_key: str = "R(2+1)D+AZ"):
    """Middle frame, clip-mean residual magnitude, centre-crop box and adaptive box of ``count``
    test videos, from the first finished seed of ``row_key`` (per-video mean θ saved at
    evaluation). Returns (items, predictions, run spec)."""
    grid.table_spec(table_id).row(row_key)
    done = [(p, r) for p, r, _ in planned_records(table_id, profile, out_dir)
            if p.row.key == row_key and r is not None]
    if not done:
        raise FileNotFoundError(f"Table {table_id} row {row_key!r} has no finished run under {out_dir}; "
                                "run its chapter first")
    planned, record = done[0]
    spec = planned.spec
    predictions = records.load_predictions(record.folder)
    index = check_data(spec, out_dir, progress=False).index()
    store = lnet_store(spec, out_dir)
    chosen = np.linspace(0, len(index.test) - 1, min(count, len(index.test))).astype(int)
    items = []
    for i in chosen:
        video = index.test[i]
        frames = decode_rgb(video.path)
        height, width = frames.shape[1:3]
        middle = len(frames) // 2
        alpha = pixel_crop_fraction(spec.clip.resize, (spec.clip.crop, spec.clip.crop))
        theta = torch.as_tensor(predictions["theta"][i][None]).float()
        residual = store.get(video.path)["residual"].astype(np.float32).mean(0)
        scale = spec.extract.scale
        items.append({
            "name": video.name, "class": index.classes[video.label],
            "predicted": index.classes[int(np.argmax(predictions["scores"][i]))],
            "frame": frames[middle],
            # the video's mean residual magnitude (LNet resolution) at the frame's size
            "residual_mean": np.kron(residual, np.ones((scale, scale)))[:height, :width],
            "centre_box": theta_to_box(centre_crop_theta(1, alpha), height, width)[0].tolist(),
            "adaptive_box": theta_to_box(theta, height, width)[0].tolist(),
            "true_box": load_boxes(index.root, video)[middle].tolist() if spec.synthetic else None,
            "scale_x": float(theta[0, 0, 0]), "scale_y": float(theta[0, 1, 1]),
        })
    return items, predictions, spec


def scale_vs_size(predictions: dict, spec) -> pd.DataFrame:
    """Per test video: the learned θ scales and (SynthActions) the true figure height fraction."""
    frame = pd.DataFrame({"scale_x": predictions["theta"][:, 0, 0], "scale_y": predictions["theta"][:, 1, 1]})
    if spec.synthetic:
        box = predictions["box"]  # mean true box over the test clips, normalised [-1, 1] coordinates
        frame["true_height"] = (box[:, 3] - box[:, 1]) / 2
        frame["true_width"] = (box[:, 2] - box[:, 0]) / 2
    return frame


# --- compute cost -----------------------------------------------------------------------------

def step_times(profile: Profile, repeats: int = 5, warmup: int = 2, batch: int | None = None) -> pd.DataFrame:
    """Measured forward+backward time per clip of each profile backbone, behind the fixed crop
    and behind the adaptive zoom, at the profile's input sizes and a training batch of ``batch``
    clips (default ``train.batch_size``, at most 16; at least 2, since batch norm in training
    mode needs two samples); median of ``repeats``, and the zoom overhead as the mean of the
    rounds' paired overheads with its 95 % t-interval; a measurement, never an assertion."""
    batch = max(2, int(batch if batch is not None else min(16, profile.train.batch_size)))
    clip, model = profile.clip, profile.model
    k, (height, width), crop = clip.frames, clip.resize, clip.crop
    channels = k * LNET_CHANNELS[model.lnet_input]
    scale = profile.extract.scale
    rgb = torch.randn(batch, 3, k, height, width)
    lnet = torch.rand(batch, channels, height // scale, width // scale)
    labels = torch.zeros(batch, dtype=torch.long)
    rows = []
    for paper_name, backbone in grid.backbones(profile).items():
        steps = {}
        for zoom in ("none", "adaptive"):
            torch.manual_seed(0)
            settings = replace(model, "model", backbone=backbone, zoom=zoom, pretrained=None,
                               require_weights=False)
            net = build_model(**to_dict(settings), num_classes=10, crop=crop, frames=k,
                              frame_size=(height, width)).train()
            steps[zoom] = training_step(net, (rgb, lnet), labels)
        samples = step_time_samples(steps, repeats=repeats, warmup=warmup)
        fixed, adaptive = (1000 * float(np.median(samples[z])) / batch for z in ("none", "adaptive"))
        # each round ran both models back to back: the overhead of every round, then a t-interval
        overhead, lo, hi = t_interval(100 * (np.array(samples["adaptive"]) / np.array(samples["none"]) - 1))
        rows.append({"model": paper_name, "backbone": backbone, "input": f"{k}x{crop}x{crop}",
                     "ms per clip, fixed crop": fixed, "ms per clip, adaptive zoom": adaptive,
                     "zoom overhead %": overhead, "overhead lo %": lo, "overhead hi %": hi,
                     "rounds": len(samples["none"])})
    return pd.DataFrame(rows).set_index("model")
