"""What the chapters show: run a table of the grid, present it beside the paper, judge claims.

Notebooks call these and display the result; the logic lives here so that a chapter is a
parameters cell, a few calls, tables, figures and a sentence on what they show.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from azlib import experiments, records
from azlib.config import REPO_ROOT, load_profile


def setup(profile: str, out_dir=None, data_root=None, device=None) -> tuple[dict, Path]:
    """The profile's configuration (with the notebook's parameters) and the results folder."""
    overrides = {}
    if data_root:
        overrides["data_root"] = data_root
    if device:
        overrides["device"] = device
    cfg = load_profile(profile, overrides)
    return cfg, Path(out_dir or REPO_ROOT / "results" / profile)


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
        text += f"**{a['runs_missing']} run(s) of this table have not finished.**"
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
    shown.index.name = frame.index.name
    return shown


def run_and_tabulate(table_id, cfg: dict, out_dir, progress: bool = True) -> pd.DataFrame:
    """Run what is missing of one table (reusing every finished run), then tabulate it and save
    ``tables/table<id>.csv``."""
    experiments.run_table(table_id, cfg, out_dir, progress=progress)
    frame = experiments.table(table_id, out_dir, cfg)
    folder = Path(out_dir) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".table{table_id}.partial.csv"
    frame.to_csv(tmp)
    tmp.replace(folder / f"table{table_id}.csv")
    return frame


def show_table(table_id, cfg: dict, out_dir, heading: str = "") -> pd.DataFrame:
    """A chapter's table: run what is missing (:func:`run_and_tabulate`), then display the
    caption under ``heading`` (``{title}`` is the table's title) and our numbers beside the
    paper's (:func:`present`). Returns the full frame."""
    from IPython.display import Markdown, display

    frame = run_and_tabulate(table_id, cfg, out_dir)
    title = heading.format(title=frame.attrs.get("title", "")) + "\n\n" if heading else ""
    display(Markdown(title + caption(frame)))
    display(present(frame))
    return frame


# --- claims -----------------------------------------------------------------------------------

def row_runs(table_id, label: str, cfg: dict, out_dir) -> list[Path]:
    """The finished run folders (one per seed) of one row of a table."""
    return [records.run_dir(out_dir, p.config) for p in experiments.plan(table_id, cfg, out_dir)
            if p.row.label == label and records.is_complete(records.run_dir(out_dir, p.config))]


def per_video_correct(folders: list[Path], variant: str | None = None) -> np.ndarray | None:
    """Top-1 correctness per test video, averaged over the seeds' runs."""
    if not folders:
        return None
    values = []
    for folder in folders:
        pred = records.load_predictions(folder, variant)
        values.append(records.topk_correct(pred["scores"], pred["labels"], 1).astype(float))
    return np.mean(values, axis=0)


def compare(better, worse) -> dict:
    """Paired bootstrap of ``better - worse`` (per-video correctness, in points)."""
    if better is None or worse is None:
        return {"diff": float("nan"), "lo": float("nan"), "hi": float("nan")}
    d, lo, hi = records.paired_bootstrap(worse, better, seed=0)
    return {"diff": d, "lo": lo, "hi": hi}


def verdict(comparisons: list[dict]) -> str:
    """holds: every interval above zero; does not hold: some interval below zero; else inconclusive."""
    if not comparisons or any(math.isnan(c["diff"]) for c in comparisons):
        return "not measured"
    if all(c["lo"] > 0 for c in comparisons):
        return "holds"
    if any(c["hi"] < 0 for c in comparisons):
        return "does not hold"
    return "inconclusive"


def claims(cfg: dict, out_dir) -> pd.DataFrame:
    """The paper's claims, each checked on this run's records with a paired interval."""
    def rows(table_id, label, variant=None):
        return per_video_correct(row_runs(table_id, label, cfg, out_dir), variant)

    checks = []
    main = experiments.TABLES["1"]
    for row in main.rows:
        if row.compare_to:
            checks.append(("AZ beats the baseline for every backbone", f"{row.label} − {row.compare_to}",
                           compare(rows("1", row.label), rows("1", row.compare_to))))
    for mode_label in ("Adaptive all", "Adaptive scale and translation", "Adaptive scale and shear"):
        checks.append(("Scale-only θ is best (Table 4)", f"Adaptive scale − {mode_label}",
                       compare(rows("4", "Adaptive scale"), rows("4", mode_label))))
    checks.append(("θ augmentation helps (Table 5)", "Yes − No", compare(rows("5", "Yes"), rows("5", "No"))))
    for other in ("MV", "RGB"):
        checks.append(("Residuals are the best LNet input (Table 6)", f"Res − {other}",
                       compare(rows("6", "Res"), rows("6", other))))
    crop_runs = row_runs("7", "Adaptive", cfg, out_dir)
    crops_done = [f for f in crop_runs if (f / records.CROPS_FILE).is_file()]
    for variant, label in experiments.CROP_LABELS.items():
        if variant in ("adaptive", "oracle", "oracle_scale"):
            continue
        checks.append(("Adaptive beats every fixed crop (Table 7)", f"Adaptive − {label}",
                       compare(per_video_correct(crops_done, "adaptive") if crops_done else None,
                               per_video_correct(crops_done, variant) if crops_done else None)))
    frame = pd.DataFrame([{"claim": c, "comparison": what, "Δ top-1": _cell(r["diff"], r["lo"], r["hi"]),
                           "diff": r["diff"], "lo": r["lo"], "hi": r["hi"]} for c, what, r in checks])
    verdicts = frame.groupby("claim", sort=False).apply(
        lambda g: verdict(g[["diff", "lo", "hi"]].to_dict("records")),
        include_groups=False)
    frame["verdict"] = frame["claim"].map(verdicts)
    return frame


# --- Fig. 2 -----------------------------------------------------------------------------------

def fig2_data(cfg: dict, out_dir, count: int = 9, table_id: str = "1", label: str = "R(2+1)D + AZ"):
    """Middle frame, clip-mean residual magnitude, centre-crop box and adaptive box of ``count``
    test videos, from the seed-0 run of ``label`` (per-video mean θ saved at evaluation)."""
    from azlib.codec import decode_rgb, lnet_inputs
    from azlib.datasets.splits import load_index
    from azlib.datasets.synthetic import load_boxes
    from azlib.models.zoom import theta_to_box

    import torch

    planned = [p for p in experiments.plan(table_id, cfg, out_dir) if p.row.label == label]
    done = [p for p in planned if records.is_complete(records.run_dir(out_dir, p.config))]
    if not done:
        raise FileNotFoundError(f"Table {table_id} row {label!r} has no finished run under {out_dir}; "
                                "run its chapter first")
    run = done[0].config
    folder = records.run_dir(out_dir, run)
    pred = records.load_predictions(folder)
    root = run.get("data_root")
    if run["dataset"] == "synthactions" and not root:
        from azlib.train import synth_root
        root = synth_root(out_dir, run["synth"])
    index = load_index(run["dataset"], root, run["split"])
    resize_h, resize_w = run["clip"]["resize"]
    crop = run["clip"]["crop"]
    chosen = np.linspace(0, len(index.test) - 1, min(count, len(index.test))).astype(int)
    items = []
    for i in chosen:
        record = index.test[i]
        frames = decode_rgb(record.path)
        height, width = frames.shape[1:3]
        middle = len(frames) // 2
        residual = lnet_inputs(record.path, scale=run["extract"]["scale"])["residual"]
        centre_h, centre_w = crop / resize_h * height, crop / resize_w * width
        centre_box = [(width - centre_w) / 2, (height - centre_h) / 2,
                      (width + centre_w) / 2, (height + centre_h) / 2]
        adaptive_box = theta_to_box(torch.as_tensor(pred["theta"][i][None]).float(), height, width)[0].tolist()
        true_box = None
        if run["dataset"] == "synthactions":
            true_box = load_boxes(root, record)[middle].tolist()
        items.append({
            "name": record.name, "class": index.classes[record.label],
            "predicted": index.classes[int(np.argmax(pred["scores"][i]))],
            # Residual magnitude (LNet resolution) averaged over the video, brought back to the
            # frame's size so the same pixel boxes frame it.
            "frame": frames[middle],
            "residual_mean": np.kron(residual.astype(np.float32).mean(0),
                                     np.ones((run["extract"]["scale"],) * 2))[:height, :width],
            "centre_box": centre_box, "adaptive_box": adaptive_box, "true_box": true_box,
            "scale_x": float(pred["theta"][i][0, 0]), "scale_y": float(pred["theta"][i][1, 1]),
        })
    return items, pred, run


def scale_vs_size(pred: dict, run: dict) -> pd.DataFrame:
    """Per test video: the learned θ scales and (SynthActions) the true figure height fraction."""
    frame = pd.DataFrame({"scale_x": pred["theta"][:, 0, 0], "scale_y": pred["theta"][:, 1, 1]})
    if "box" in pred and run["dataset"] == "synthactions":
        box = pred["box"]  # mean true box over the test clips, normalised [-1, 1] coordinates
        frame["true_height"] = (box[:, 3] - box[:, 1]) / 2
        frame["true_width"] = (box[:, 2] - box[:, 0]) / 2
    return frame


# --- compute cost -----------------------------------------------------------------------------

def profile_backbones(cfg: dict) -> dict:
    """The profile's backbone for each of the paper's models (R3D, R(2+1)D, X3D)."""
    return experiments._backbone_names(cfg)


def step_times(cfg: dict, repeats: int = 5, warmup: int = 2, batch: int | None = None) -> pd.DataFrame:
    """Measured forward+backward time per clip of each profile backbone, behind the fixed crop
    and behind the adaptive zoom, at the profile's input sizes and a training batch of ``batch``
    clips (default ``train.batch_size``, at most 16; at least 2, since batch norm in training
    mode needs two samples); median of ``repeats``, a benchmark, never an assertion."""
    import time

    import torch

    batch = max(2, int(batch if batch is not None else min(16, cfg["train"]["batch_size"])))

    from azlib.models.az import build_model
    from azlib.store import LNET_CHANNELS

    clip = cfg["clip"]
    k, (height, width), crop = clip["frames"], clip["resize"], clip["crop"]
    scale = cfg["extract"]["scale"]
    channels = k * LNET_CHANNELS[cfg["model"].get("lnet_input", "residual")]
    rgb = torch.randn(batch, 3, k, height, width)
    lnet = torch.rand(batch, channels, height // scale, width // scale)
    label = torch.zeros(batch, dtype=torch.long)

    def step(model):
        start = time.perf_counter()
        out = model(rgb, lnet)
        torch.nn.functional.cross_entropy(out["logits"], label).backward()
        model.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    rows = []
    for paper_name, backbone in profile_backbones(cfg).items():
        models = {}
        for zoom in ("none", "adaptive"):
            torch.manual_seed(0)
            model_cfg = {**cfg["model"], "backbone": backbone, "zoom": zoom, "pretrained": None,
                         "require_weights": False}
            models[zoom] = build_model(model_cfg, 10, crop, frames=k, in_size=(height, width)).train()
        times = {zoom: [] for zoom in models}
        for i in range(warmup + repeats):  # alternate, so a change in machine load hits both alike
            for zoom, model in models.items():
                elapsed = step(model)
                if i >= warmup:
                    times[zoom].append(elapsed)
        fixed, adaptive = (1000 * float(np.median(times[z])) / batch for z in ("none", "adaptive"))
        rows.append({"model": paper_name, "backbone": backbone, "input": f"{k}x{crop}x{crop}",
                     "ms per clip, fixed crop": fixed, "ms per clip, adaptive zoom": adaptive,
                     "zoom overhead %": 100 * (adaptive / fixed - 1)})
    return pd.DataFrame(rows).set_index("model")
