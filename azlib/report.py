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

from azlib import grid, paper, records
from azlib.codec import decode_rgb
from azlib.config import REPO_ROOT, Profile, draw_profile, load_profile, run_spec
from azlib.datasets.check import DatasetCheck
from azlib.datasets.splits import DATASET_CLASSES
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
from azlib.tables import (draw_summary, per_seed_text, planned_records, row_difference, save_table,
                          swapped_crops, table)
from azlib.training.run import check_data, lnet_store
from azlib.viz import flow_to_rgb


def setup(profile: str, out_dir=None, data_root=None, device=None) -> tuple[Profile, Path]:
    """The profile (with the notebook's parameters) and the results folder: ``out_dir``, which
    papermill always passes, or else (a chapter run by hand in JupyterLab) the scratch folder
    ``build/<profile>/lab``, so that only ``make publish`` ever writes to ``results/``."""
    overrides = {}
    if data_root:
        overrides["data_root"] = data_root
    if device:
        overrides["device"] = device
    return load_profile(profile, overrides), Path(out_dir or REPO_ROOT / "build" / profile / "lab")


def dataset(profile: Profile, out_dir) -> DatasetCheck:
    """The profile's dataset, checked (SynthActions generated first when missing)."""
    return check_data(run_spec(profile), out_dir)


def modality_maps(video_path, frame_indices, scale: int = 4):
    """One video through the pipeline, for :func:`azlib.viz.image_grid`: rows of images (RGB
    frames; per-frame and accumulated motion vectors as colour wheels; residual magnitudes; the
    LNet inputs at H/S x W/S), the row titles, the column titles and each row's colour key (one
    scale per row)."""
    last = max(frame_indices) + 1
    rgb = decode_rgb(video_path, max_frames=last)
    fields = extract(video_path, max_frames=last)
    small = lnet_inputs(video_path, scale=scale, accumulated=True, max_frames=last)
    per_frame = lnet_inputs(video_path, scale=scale, accumulated=False, max_frames=last)

    def magnitude(residual):
        return np.sqrt((residual.astype(np.float32) ** 2).sum(-1))

    def longest(name):  # one brightness scale for a row of vector fields (pixels)
        return max(float(np.hypot(*np.moveaxis(fields[name][t].astype(np.float32), -1, 0)).max())
                   for t in frame_indices) or 1.0

    mv_max, mv_acc_max = longest("mv"), longest("mv_accumulated")
    types = [chr(int(fields["pict_type"][t])) for t in frame_indices]
    rows = [
        [rgb[t] for t in frame_indices],
        [flow_to_rgb(fields["mv"][t], mv_max) for t in frame_indices],
        [flow_to_rgb(fields["mv_accumulated"][t], mv_acc_max) for t in frame_indices],
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
    normalised = "× 255 / frame max"
    keys = [None, ("wheel", mv_max), ("wheel", mv_acc_max),
            ("bar", "|residual| (RGB levels)"), ("bar", "|residual| (RGB levels)"),
            ("bar", normalised), ("bar", normalised), ("bar", normalised), ("bar", "luma (0–255)")]
    return rows, titles, [f"frame {t} ({k})" for t, k in zip(frame_indices, types)], keys


# --- tables -----------------------------------------------------------------------------------

def _cell(mean, lo, hi, digits=1) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if lo is None or (isinstance(lo, float) and math.isnan(lo)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _paper(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


#: top-5 says something only when a dataset has many classes: with fewer, a model's top-5 is near
#: 100 % whatever it learned (SynthActions' 10 classes), so tables show top-1 alone
TOP5_MIN_CLASSES = 20
BEYOND_THE_PAPER = "(beyond the paper)"


def dataset_classes(profile: Profile) -> int:
    """How many classes the profile's dataset has (SynthActions: its motions)."""
    if profile.dataset == "synthactions":
        return profile.synth.num_classes
    return profile.dataset_classes or DATASET_CLASSES[profile.dataset]


def _shows_top5(classes: int | None) -> bool:
    return classes is None or classes >= TOP5_MIN_CLASSES


def _paper_label(frame: pd.DataFrame) -> str | None:
    """The paper's dataset for our table, with its split where the table shows one (None: the
    paper has no such table)."""
    a = frame.attrs
    label = a.get("paper_dataset")
    if not label or label == BEYOND_THE_PAPER:
        return None
    if a.get("table") in ("1", "2") and "split" in frame and frame["split"].nunique() == 1:
        split = frame["split"].iloc[0]
        label += f" split {split}" if str(split).isdigit() and int(split) <= 3 else ""
    return label


def caption(frame: pd.DataFrame, classes: int | None = None) -> str:
    """Says which dataset and profile produced our numbers, and where the paper's come from."""
    a = frame.attrs
    seeds = int(frame["seeds"].max()) if "seeds" in frame and len(frame) else 0
    metric = "top-1 / top-5" if _shows_top5(classes) else "top-1"
    paper_label = _paper_label(frame)
    text = (f"**Ours:** {a.get('dataset')} (profile `{a.get('profile')}`), {metric} in %, mean "
            f"over {seeds} seed(s) with a 95 % t-interval in brackets. ")
    text += (f"**Paper:** {paper_label}. " if paper_label else
             "The paper has no such table: this one is beyond the paper. ")
    if not _shows_top5(classes):
        text += f"Top-5 is left out: with {classes} classes it says little. "
    if "diff_top1" in frame:
        text += ("Δ: top-1 difference to the compared row (seed s paired with seed s, same test videos), "
                 "95 % interval of a bootstrap that resamples training seeds, test actors and videos within "
                 "them; per-seed Δs in the last column. ")
    if a.get("runs_missing"):
        text += f"**{a['runs_missing']} run(s) of this table have not finished.** "
    if a.get("runs_stale"):
        text += (f"**{a['runs_stale']} run(s) of this table are stale: computed by other code "
                 "(see the status page).**")
    return text


def present(frame: pd.DataFrame, dataset_label: str | None = None, classes: int | None = None) -> pd.DataFrame:
    """Our numbers (mean [95 % interval]) beside the paper's, as strings for display: top-1
    first, top-5 only for a dataset of at least :data:`TOP5_MIN_CLASSES` ``classes`` (None: shown),
    the paper's columns only where the paper has the table, the Δ to the compared row."""
    ours = dataset_label or frame.attrs.get("dataset", "ours")
    paper_label = _paper_label(frame)
    shown = pd.DataFrame(index=frame.index)
    if "split" in frame and frame["split"].nunique() > 1:
        shown["split"] = frame["split"]
    metrics = ("top1", "top5") if _shows_top5(classes) else ("top1",)
    for metric in metrics:
        name = f"top-{metric[-1]}"
        shown[f"{name}, ours ({ours})"] = [_cell(getattr(r, metric), getattr(r, f"{metric}_lo"),
                                                 getattr(r, f"{metric}_hi")) for r in frame.itertuples()]
        if paper_label:
            shown[f"{name}, paper ({paper_label})"] = [_paper(v) for v in frame[f"paper_{metric}"]]
    if "diff_top1" in frame:
        shown["Δ top-1 vs"] = [
            f"{_cell(r.diff_top1, r.diff_lo, r.diff_hi)} vs {r.vs}" if isinstance(r.vs, str) else "–"
            for r in frame.itertuples()]
    if "diff_per_seed" in frame:
        shown["Δ per seed"] = [v if isinstance(v, str) else "–" for v in frame["diff_per_seed"]]
    if "chosen" in frame and frame["chosen"].fillna("").astype(bool).any():
        shown["chosen on validation"] = [v if isinstance(v, str) and v else "–" for v in frame["chosen"]]
    if "stale" in frame and frame["stale"].sum():
        shown["stale seeds"] = frame["stale"]
    # the rows' name heads the label column (no second header row holding only it)
    shown.columns.name = TABLE_ROW_NAMES.get(str(frame.attrs.get("table")))
    shown.index.name = None
    return shown


#: what the rows of each table are (the header of their column)
TABLE_ROW_NAMES = {"1": "backbone", "2": "backbone", "3": "backbone", "4": "θ parameters",
                   "4u": "θ parameters", "5": "θ augmentation", "6": "LNet input", "7": "inference crop",
                   "oracle": "crop", "oracle_u": "crop"}


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
    classes = dataset_classes(profile)
    display(Markdown(title + caption(frame, classes)))
    display(present(frame, classes=classes))
    return frame


def show_swapped_crops(profile: Profile, out_dir) -> pd.DataFrame:
    """Chapter 06's second table: the fixed crops swapped into the adaptive model at test time
    (``tables/table7_swapped.csv``); the runs are Table 7's, so nothing more trains."""
    from IPython.display import Markdown, display  # notebooks only

    frame = swapped_crops(profile, out_dir)
    save_frame(frame, out_dir, "table7_swapped")
    classes = dataset_classes(profile)
    display(Markdown(caption(frame, classes)))
    display(present(frame, classes=classes))
    return frame


def own_crop_text(profile: Profile) -> str:
    """Which Table 7 row is the baseline's own test crop: ``clip.crop`` of the short side."""
    spec = run_spec(profile)
    short = min(spec.clip.resize)
    return (f"The baseline's own test crop is {spec.clip.crop} pixels of the frame's short side ({short}): "
            f"α = {spec.clip.crop / short:.3g}, the row *Center ({100 * spec.clip.crop / short:g}%)*, "
            "which is therefore the baseline's own top-1.")


def crop_outcome(frame: pd.DataFrame) -> str:
    """Chapter 06's conclusion, computed from our Table 7: does the adaptive crop beat the
    centre crop at the mean adaptive ratio, by how much, and how sure is that?"""
    rows = frame.set_index("key") if "key" in frame else frame
    if "centre_mean_adaptive" not in rows.index or "adaptive" not in rows.index:
        return "The adaptive crop and the centre crop at its mean ratio have not both been measured yet."
    mean_crop, adaptive = rows.loc["centre_mean_adaptive"], rows.loc["adaptive"]
    # the table's Δ is this crop − adaptive; the conclusion reads adaptive − this crop
    d, lo, hi = (0.0 - float(mean_crop.get(c, float("nan"))) for c in ("diff_top1", "diff_hi", "diff_lo"))
    text = (f"Measured (profile `{frame.attrs.get('profile')}`, {frame.attrs.get('dataset')}): the adaptive "
            f"crop scores **{_cell(adaptive.top1, adaptive.top1_lo, adaptive.top1_hi)}** top-1 against "
            f"**{_cell(mean_crop.top1, mean_crop.top1_lo, mean_crop.top1_hi)}** for the centre crop at the "
            f"mean adaptive ratio, a difference of **{_cell(d, lo, hi)}** points (paper: "
            f"{paper.TABLE7_CROPS['adaptive'][0] - paper.TABLE7_CROPS['centre_mean_adaptive'][0]:+.2f}). ")
    if math.isnan(d):
        return text + "The difference has no interval yet."
    if lo > 0:
        return text + "The interval lies above zero: adapting the crop to each clip helps beyond a better global zoom."
    if hi < 0:
        return text + "The interval lies below zero: here a fixed crop at the same mean zoom does better."
    return text + "The interval includes zero: on this data the two cannot be told apart."


def translation_outcome(profile: Profile, out_dir) -> str:
    """Chapter 03's answer to "when does translation pay?", computed on actors anywhere in the
    frame: the headroom for translation (oracle box − oracle scale, both trained, table
    ``oracle_u``) against what the learned θ gains by adding translation (Table 4u: scale and
    translation − scale only), each with its seed × actor × video interval."""
    headroom = row_difference(profile, out_dir, ("oracle_u", "oracle_box"), ("oracle_u", "oracle_scale"))
    zoom = row_difference(profile, out_dir, ("oracle_u", "oracle_scale"), ("oracle_u", "centre"))
    learned = row_difference(profile, out_dir, ("4u", "scale_translation"), ("4u", "scale"))
    if headroom is None or learned is None or zoom is None:
        return "The oracles on actors anywhere and Table 4u have not all been measured yet."

    def cell(r):
        return f"{_cell(r['diff'], r['lo'], r['hi'])} (per seed {per_seed_text(r)})"

    text = (f"Measured (profile `{profile.name}`, SynthActions with actors anywhere): zooming to the true "
            f"scale at the centre gains {cell(zoom)} points over the centre crop; moving the crop onto "
            f"the true box as well gains a further {cell(headroom)}: that is the headroom for translation. "
            f"The learned θ gains {cell(learned)} by adding translation to scale (Table 4u). ")
    if headroom["lo"] <= 0:
        return text + ("The oracle finds no reliable headroom for translation on this data, so no learned "
                       "translation could pay here: framing the figure's size is what matters.")
    if learned["lo"] > 0:
        share = 100 * learned["diff"] / headroom["diff"]
        return text + (f"Translation pays where figures can be anywhere, and the learned θ captures "
                       f"{share:.0f} % of the oracle's headroom.")
    return text + ("The headroom is real but the learned translation does not reliably capture it; "
                   "how far the learned crops move is measured below.")


# --- robustness: other draws -------------------------------------------------------------------

def robustness(profile: Profile, out_dir, progress: bool = True) -> pd.DataFrame:
    """The oracle table on the main draw and on every draw of ``experiments.draws`` (trained
    here when missing), one column per draw: each row's top-1, AZ's and the oracles' gains over
    the centre crop with their intervals, and the share of the scale-only headroom AZ captures;
    the paper's R(2+1)D on HMDB51 beside them (it has no oracle). Saved as ``tables/robustness.csv``."""
    draws = [("main draw", profile)] + [(f"draw {seed}", draw_profile(profile, seed))
                                        for seed in profile.experiments.draws]
    centre, adaptive = (paper.TABLE1_HMDB51[("R(2+1)D", az)]["top1"][0] for az in (False, True))
    columns = {"paper, R(2+1)D (HMDB51 split 1)": {
        grid.draw_line("centre", "top1"): f"{centre:.2f}", grid.draw_line("adaptive", "top1"): f"{adaptive:.2f}",
        grid.draw_line("adaptive", "diff"): f"{adaptive - centre:+.2f}"}}
    for name, drawn in draws:
        run_table("oracle", drawn, out_dir, progress=progress)
        summary = draw_summary(drawn, out_dir)
        column = {}
        for key, what, label in grid.DRAW_LINES:
            row = summary["rows"][key]
            if what == "top1":
                column[label] = f"{row['top1']:.1f}" if row["top1_per_seed"] else "—"
            elif what == "diff":
                column[label] = _cell(row["diff"], row["lo"], row["hi"]) if "diff" in row else "—"
            else:
                column[label] = " / ".join(f"{d:+.1f}" for d in row["per_seed"]) if "diff" in row else "—"
        share = summary.get("headroom_share")
        column[grid.DRAW_HEADROOM_LINE] = "—" if share is None else f"{100 * share:.0f} %"
        column[grid.DRAW_SEEDS_LINE] = f"{summary['synth_seed']}; {', '.join(map(str, summary['seeds']))}"
        columns[name] = column
    frame = pd.DataFrame(columns).fillna("—")
    save_frame(frame, out_dir, "robustness")
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
