"""Calibration of the cpu protocol on SynthActions: is the benchmark learnable, and can zooming
matter on it?

From saved run records only (no re-run): accuracy per true figure-size bin for the centre crop,
the oracle crops and adaptive zoom (``predictions.npz`` holds per-video scores, the mean θ and
the mean true box), the correlation of the learned scale with the true figure size, the share of
the scale-only headroom that adaptive zoom captures, learning curves from ``log.jsonl``, the
measured time per run, and the attempts record (``results/<profile>/calibration/attempts.jsonl``,
one JSON object per configuration tried, failures included). Methods are the rows of the
'oracle' table, named by their stable keys (centre, adaptive, oracle_box, oracle_scale).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from azlib import records
from azlib.config import REPO_ROOT, Profile
from azlib.files import to_jsonable, write_text
from azlib.grid import MAIN_MODELS, TABLES
from azlib.models.zoom import ThetaHead
from azlib.records import RunRecord
from azlib.runner import find_record
from azlib.settings import to_dict
from azlib.tables import planned_records, row_runs, table
from azlib.training.evaluate import correct

#: edges of the figure-height bins (fraction of the frame height)
SIZE_BINS = (0.0, 0.35, 0.5, 0.7, 1.01)
#: fields every attempt record must have
ATTEMPT_FIELDS = ("name", "changed", "backbone", "seeds", "baseline_top1", "adaptive_top1",
                  "oracle_scale_top1", "scale_size_corr", "seconds_per_run", "verdict")


#: the θ head's translation margin (half-widths of the frame beyond the box-inside-frame bound),
#: read from its signature so that the model code, which keys every record, stays as it is
T_MARGIN = inspect.signature(ThetaHead).parameters["t_margin"].default

#: the protocol log: one line per protocol version (or re-run) of the cpu profile
PROTOCOL_FIELDS = ("version", "date", "commit", "changed", "chosen_on", "test_seen_before", "published")


def attempts_path(out_dir) -> Path:
    return Path(out_dir) / "calibration" / "attempts.jsonl"


def find_attempts(out_dir) -> Path:
    """The attempts record of ``out_dir``, else the committed cpu one (the calibration is done
    once, on the cpu profile; other profiles show its record)."""
    own = attempts_path(out_dir)
    return own if own.is_file() else attempts_path(REPO_ROOT / "results" / "cpu")


# --- per-video quantities ---------------------------------------------------------------------

def figure_height(predictions: Mapping) -> np.ndarray:
    """True figure height per test video as a fraction of the frame height, from the mean true
    box (normalised [-1, 1] coordinates) saved with the predictions."""
    box = np.asarray(predictions["box"], dtype=float)
    if box.ndim != 2 or box.shape[1] != 4:
        raise ValueError(f"predictions['box']: expected (videos, 4), got {box.shape}")
    if np.isnan(box).any():
        raise ValueError("predictions['box'] holds NaN: figure sizes are known on SynthActions only")
    return (box[:, 3] - box[:, 1]) / 2.0


def size_bin_labels(bins: Sequence[float] = SIZE_BINS) -> list[str]:
    edges = list(bins)
    return [f"{lo:.2f}–{min(hi, 1.0):.2f}" for lo, hi in zip(edges[:-1], edges[1:])]


def accuracy_by_size(predictions: Mapping[str, Sequence[Mapping]],
                     bins: Sequence[float] = SIZE_BINS) -> pd.DataFrame:
    """Top-1 (%) per figure-height bin for each method.

    ``predictions`` maps a method name to the predictions of its runs (one per seed, same test
    videos); correctness is averaged over seeds. Columns: method, size (bin label), top1, videos.
    """
    labels = size_bin_labels(bins)
    rows = []
    for method, runs in predictions.items():
        runs = list(runs)
        if not runs:
            continue
        height = figure_height(runs[0])
        hits = np.mean([correct(p) for p in runs], axis=0)
        which = np.digitize(height, bins[1:-1])
        for b, label in enumerate(labels):
            mask = which == b
            rows.append({"method": method, "size": label, "videos": int(mask.sum()),
                         "top1": float(100 * hits[mask].mean()) if mask.any() else float("nan")})
    return pd.DataFrame(rows, columns=["method", "size", "top1", "videos"])


SCALE_AXES = ("area", "x", "y")


def learned_scale(predictions: Mapping, axis: str = "area") -> np.ndarray:
    """The learned scale per video (frame = 1): θ[0,0] ('x', half the box width), θ[1,1] ('y',
    half its height) or their geometric mean ('area': the side of the square of the same area,
    the crop's size whatever its aspect; a scale-only θ has two scales and may trade one for
    the other)."""
    theta = np.asarray(predictions["theta"], dtype=float)
    if axis == "x":
        return theta[:, 0, 0]
    if axis == "y":
        return theta[:, 1, 1]
    if axis == "area":
        return np.sqrt(np.abs(theta[:, 0, 0] * theta[:, 1, 1]))
    raise ValueError(f"axis: unknown value {axis!r}; expected one of {', '.join(SCALE_AXES)}")


def scale_size_correlation(predictions: Mapping, axis: str = "area") -> float:
    """Pearson correlation of the learned scale (:func:`learned_scale`) with the true figure
    height (NaN when either is constant, e.g. a fixed crop)."""
    scale, height = learned_scale(predictions, axis), figure_height(predictions)
    if np.std(scale) < 1e-9 or np.std(height) < 1e-9:
        return float("nan")
    return float(np.corrcoef(scale, height)[0, 1])


def translation_reach(predictions: Mapping, t_margin: float = T_MARGIN) -> dict:
    """How far a learned θ with translation moves its crop toward the figure, per axis (x, y):
    the mean learned scale, the crop centre's mean reach ``1 - s + t_margin`` (the θ head's
    bound, :class:`azlib.models.zoom.ThetaHead`), the share of test videos whose true figure
    centre lies beyond that reach on either axis, and the least-squares slope of the learned
    translation on the true centre (1: the crop follows the figure; 0: it stays put)."""
    theta = np.asarray(predictions["theta"], dtype=float)
    box = np.asarray(predictions["box"], dtype=float)
    if np.isnan(box).any():
        raise ValueError("predictions['box'] holds NaN: figure positions are known on SynthActions only")
    out, beyond = {}, np.zeros(len(theta), dtype=bool)
    for axis, i, (lo, hi) in (("x", 0, (0, 2)), ("y", 1, (1, 3))):
        scale, shift = theta[:, i, i], theta[:, i, 2]
        centre = (box[:, lo] + box[:, hi]) / 2
        reach = 1.0 - scale + t_margin
        beyond |= np.abs(centre) > reach
        out[f"scale_{axis}"] = float(scale.mean())
        out[f"reach_{axis}"] = float(reach.mean())
        out[f"slope_{axis}"] = float(np.polyfit(centre, shift, 1)[0]) if np.std(centre) > 1e-9 else float("nan")
    out["beyond_reach"] = float(beyond.mean())
    return out


def headroom_captured(baseline: float, adaptive: float, oracle_scale: float) -> float:
    """Share of the way from the baseline to the scale-only oracle that adaptive zoom goes
    (1: all of it; NaN when the oracle does not beat the baseline)."""
    gap = oracle_scale - baseline
    return float("nan") if gap <= 0 else float((adaptive - baseline) / gap)


def box_table(predictions: Mapping) -> pd.DataFrame:
    """Per test video: the learned box (from mean θ) beside the true box, normalised coords."""
    theta = np.asarray(predictions["theta"], dtype=float)
    sx, sy, tx, ty = theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2]
    box = np.asarray(predictions["box"], dtype=float)
    return pd.DataFrame({"learned_x0": tx - sx, "learned_y0": ty - sy, "learned_x1": tx + sx,
                         "learned_y1": ty + sy, "true_x0": box[:, 0], "true_y0": box[:, 1],
                         "true_x1": box[:, 2], "true_y1": box[:, 3],
                         "learned_height": sy, "true_height": (box[:, 3] - box[:, 1]) / 2})


# --- from the run records ---------------------------------------------------------------------

def learning_curve(folder) -> pd.DataFrame:
    """A run's per-epoch log (epoch, loss, training accuracy, time_s)."""
    path = Path(folder) / records.LOG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no training log; the run has not trained an epoch")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return pd.DataFrame(rows).rename(columns={"acc": "train_accuracy"})


def oracle_runs(profile: Profile, out_dir) -> dict[str, list[RunRecord]]:
    """Finished records (one per seed) of each row of the 'oracle' table, by row key."""
    found: dict[str, list[RunRecord]] = {row.key: [] for row in TABLES["oracle"].rows}
    for p, record, _ in planned_records("oracle", profile, out_dir):
        if record is not None:
            found[p.row.key].append(record)
    return found


def pretraining_runs(profile: Profile, out_dir, table_id: str = "oracle") -> list[RunRecord]:
    """Finished pretraining records (SynthActions-Pretrain) the table's runs fine-tune from."""
    found = {}
    for p, _, _ in planned_records(table_id, profile, out_dir):
        if p.pretrain is not None:
            record = find_record(p.pretrain, out_dir).record
            if record is not None:
                found[record.key] = record
    return [found[k] for k in sorted(found)]


def predictions_of(runs: Sequence[RunRecord]) -> list[dict]:
    return [records.load_predictions(r.folder) for r in runs]


def summary(runs: Mapping[str, Sequence[RunRecord]]) -> pd.DataFrame:
    """Per method: top-1 mean, min and max over seeds, seconds per run, and the correlations
    of the learned scale (area, x, y) with the true figure height (mean over seeds; NaN for a
    fixed crop)."""
    rows = []
    for method, runs_ in runs.items():
        if not runs_:
            continue
        top1 = np.array([r.metrics["top1"] for r in runs_])
        preds = predictions_of(runs_)
        row = {"method": method, "seeds": len(runs_), "top1": top1.mean(),
               "top1_min": top1.min(), "top1_max": top1.max(), "spread": top1.max() - top1.min()}
        for axis in SCALE_AXES:
            corr = np.array([scale_size_correlation(p, axis) for p in preds])
            name = "scale_size_corr" if axis == "area" else f"scale_{axis}_size_corr"
            row[name] = float(np.nanmean(corr)) if not np.isnan(corr).all() else float("nan")
        row["seconds_per_run"] = float(np.mean([r.metrics.get("wall_time_s", np.nan) for r in runs_]))
        rows.append(row)
    return pd.DataFrame(rows).set_index("method") if rows else pd.DataFrame()


#: the issue's thresholds (top-1 points), shared by :func:`goals` and :func:`main_table_goals`
BASELINE_RANGE = (50, 90)   # a centre-crop baseline far above chance, with room left for zooming
MAX_SEED_SPREAD = 5         # largest minus smallest top-1 over seeds
MIN_GAIN = 5                # adaptive zoom (and the oracle box) over the centre crop


def _baseline_in_range(top1: float) -> bool:
    return BASELINE_RANGE[0] <= top1 <= BASELINE_RANGE[1]


def goals(frame: pd.DataFrame) -> pd.DataFrame:
    """The calibration goals checked on a :func:`summary` of the oracle table."""
    get = lambda m, c: float(frame.loc[m, c]) if m in frame.index else float("nan")
    base, az = get("centre", "top1"), get("adaptive", "top1")
    oracle, oracle_scale = get("oracle_box", "top1"), get("oracle_scale", "top1")
    checks = [
        (f"centre crop top-1 in [{BASELINE_RANGE[0]}, {BASELINE_RANGE[1]}] %", base, _baseline_in_range(base)),
        (f"centre-crop seeds within {MAX_SEED_SPREAD} points", get("centre", "spread"),
         get("centre", "spread") <= MAX_SEED_SPREAD),
        (f"oracle box − centre crop ≥ {MIN_GAIN} points", oracle - base, oracle - base >= MIN_GAIN),
        (f"adaptive − centre crop ≥ {MIN_GAIN} points", az - base, az - base >= MIN_GAIN),
        ("adaptive captures ≥ 2/3 of the scale-only headroom",
         headroom_captured(base, az, oracle_scale), headroom_captured(base, az, oracle_scale) >= 2 / 3),
        ("learned scale ~ true size correlation ≥ +0.6", get("adaptive", "scale_size_corr"),
         get("adaptive", "scale_size_corr") >= 0.6),
    ]
    return pd.DataFrame([{"goal": g, "measured": v, "met": bool(ok) and not np.isnan(v)}
                         for g, v, ok in checks]).set_index("goal")


def main_table_goals(profile: Profile, out_dir, table_id: str = "1") -> pd.DataFrame:
    """The per-backbone goals on the main table's first cell (SynthActions split 1): each
    centre-crop baseline in [50, 90] % with its seeds within 5 points, and adaptive zoom ≥ +5
    points over it with its bootstrap interval (seeds, actors, videos) above zero. One row per backbone."""
    frame = table(table_id, profile, out_dir)
    found = planned_records(table_id, profile, out_dir)
    cell = (found[0][0].dataset, found[0][0].split)
    seeds: dict[str, list[float]] = {}
    for p, record, _ in found:
        if (p.dataset, p.split) == cell and record is not None:
            seeds.setdefault(p.row.key, []).append(record.metrics["top1"])
    if not frame.empty:  # Tables 1-3 may hold several cells; the goals are about the first
        frame = frame[(frame["key"].isin(seeds)) & (frame["split"] == cell[1])].set_index("key")
    rows = []
    for name in MAIN_MODELS:
        az = f"{name}+AZ"
        if name not in seeds or az not in seeds:  # not run yet (chapter 02 runs Table 1)
            continue
        baseline, spread = float(frame.loc[name, "top1"]), float(np.ptp(seeds[name]))
        gain, lo, hi = (float(frame.loc[az, c]) for c in ("diff_top1", "diff_lo", "diff_hi"))
        rows.append({"backbone": name, "seeds": len(seeds[name]), "baseline": baseline,
                     "baseline_spread": spread,
                     "adaptive": float(frame.loc[az, "top1"]), "gain": gain, "gain_lo": lo, "gain_hi": hi,
                     f"baseline in [{BASELINE_RANGE[0]}, {BASELINE_RANGE[1]}] %": _baseline_in_range(baseline),
                     f"seeds within {MAX_SEED_SPREAD} points": spread <= MAX_SEED_SPREAD,
                     f"gain ≥ {MIN_GAIN}, interval > 0": gain >= MIN_GAIN and lo > 0})
    return pd.DataFrame(rows).set_index("backbone") if rows else pd.DataFrame()


#: Table 4u's rows whose θ translates, in the order chapter 03 shows them
TRANSLATING_ROWS = ("scale_translation", "all")


def translation_reach_table(profile: Profile, out_dir, table_id: str = "4u") -> pd.DataFrame:
    """Per training seed of each translating row of ``table_id``: top-1 (%) and
    :func:`translation_reach` of its test predictions (finished runs only; ``beyond_reach`` in %)."""
    rows = []
    for key in TRANSLATING_ROWS:
        label = TABLES[table_id].row(key).label
        for record in sorted(row_runs(table_id, key, profile, out_dir), key=lambda r: r.config["seed"]):
            reach = translation_reach(records.load_predictions(record.folder))
            reach["beyond_reach"] *= 100
            rows.append({"row": label, "seed": int(record.config["seed"]), "top1": record.metrics["top1"],
                         **reach})
    return pd.DataFrame(rows, columns=["row", "seed", "top1", "scale_x", "reach_x", "slope_x",
                                       "scale_y", "reach_y", "slope_y", "beyond_reach"])


def translation_reach_text(frame: pd.DataFrame) -> str:
    """What :func:`translation_reach_table` shows, in one paragraph computed from it."""
    if frame.empty:
        return "No run of Table 4u with a learned translation has been measured yet."
    wide = frame["beyond_reach"] > 50
    scale = (frame["scale_x"] * frame["scale_y"]) ** 0.5
    zoomed = frame.loc[scale.idxmin()]
    return (f"In {int(wide.sum())} of {len(frame)} runs more than half of the test figures' centres lie "
            f"beyond the learned crop's reach. θ's head bounds a translation by 1 − s + {T_MARGIN:g} "
            f"(the crop stays in the frame), so only a crop that zooms in can move far, and the LNet "
            f"keeps it wide (median learned scale {scale.median():.2f}). The run that zooms in most "
            f"({zoomed['row']}, seed {int(zoomed['seed'])}, scale {scale.min():.2f}) leaves "
            f"{zoomed['beyond_reach']:.0f} % of the figures out of reach, follows them most closely "
            f"(slope {zoomed['slope_x']:.2f} / {zoomed['slope_y']:.2f}) and scores {zoomed['top1']:.1f} % "
            f"(median of all: {frame['top1'].median():.1f} %). A bound that lets a wide crop move "
            f"(or a zoomed-in start) is the lever this suggests; it changes the model and is not tried "
            f"in this protocol.")


def run_times(runs: Sequence[RunRecord]) -> pd.DataFrame:
    """Measured seconds of finished runs: training, evaluation, whole run (data included)."""
    rows = []
    for run in runs:
        m, c = run.metrics, run.config
        rows.append({"run": run.key, "kind": m.get("kind"), "backbone": c["model"]["backbone"],
                     "zoom": c["model"]["zoom"], "theta_source": c["train"]["theta_source"],
                     "epochs": m.get("epochs"), "train_s": m.get("train_time_s"),
                     "eval_s": m.get("eval_time_s"), "wall_s": m.get("wall_time_s")})
    return pd.DataFrame(rows)


def profile_values(profile: Profile, sections=("synth", "pretrain", "clip", "model", "train")) -> pd.DataFrame:
    """The chosen profile values, one row per key (for display beside their cost)."""
    rows = []
    for section in sections:
        for key, value in to_dict(getattr(profile, section)).items():
            rows.append({"section": section, "key": key, "value": json.dumps(value)})
    return pd.DataFrame(rows)


# --- the attempts record ----------------------------------------------------------------------

def append_attempt(path, attempt: Mapping) -> Path:
    """Append one attempt (a JSON object with :data:`ATTEMPT_FIELDS`) to ``path`` (atomic:
    the whole file is rewritten under a temporary name, then renamed)."""
    missing = [f for f in ATTEMPT_FIELDS if f not in attempt]
    if missing:
        raise ValueError(f"attempt {attempt.get('name')!r}: missing field(s) {missing}")
    path = Path(path)
    old = path.read_text() if path.is_file() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    return write_text(path, old + json.dumps(dict(attempt), sort_keys=True, default=to_jsonable) + "\n")


def attempts_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """The attempts record, narrow: per attempt, what changed, top-1 of centre crop / adaptive
    zoom / oracle scale in one cell ("–" where not measured), and the verdict."""
    def top1(row) -> str:
        values = [row.get(c) for c in ("baseline_top1", "adaptive_top1", "oracle_scale_top1")]
        if all(v is None or pd.isna(v) for v in values):
            return "–"
        return " / ".join("–" if v is None or pd.isna(v) else f"{v:.1f}" for v in values)

    rows = [{"attempt": row["name"], "what changed": row["changed"],
             "top-1: centre / adaptive / oracle scale": top1(row), "verdict": row["verdict"]}
            for _, row in frame.iterrows()]
    shown = pd.DataFrame(rows)
    shown.index = pd.RangeIndex(1, len(shown) + 1)
    return shown


def find_protocol(out_dir) -> Path:
    """The protocol log of ``out_dir``, else the committed cpu one."""
    own = Path(out_dir) / "calibration" / "protocol.jsonl"
    return own if own.is_file() else REPO_ROOT / "results" / "cpu" / "calibration" / "protocol.jsonl"


def load_protocol(path) -> pd.DataFrame:
    """The protocol log as a table: per version, what changed, what the choice was scored on,
    whether test numbers had been seen before it, whether its grid was published."""
    rows = _jsonl(path, PROTOCOL_FIELDS, "protocol log")
    frame = pd.DataFrame(rows)[list(PROTOCOL_FIELDS)]
    frame["test_seen_before"] = frame["test_seen_before"].map({True: "yes", False: "no"})
    frame["published"] = frame["published"].map({True: "yes", False: "no"})
    return frame.rename(columns={"chosen_on": "choice scored on", "test_seen_before": "test numbers seen before",
                                 "published": "grid published"}).set_index("version")


def _jsonl(path, fields, what: str) -> list[dict]:
    """The lines of a JSON-lines record, each checked for ``fields``; a bad line names its number."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no {what}")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not JSON ({error.msg}); fix or delete the line") from error
        missing = [f for f in fields if f not in row]
        if missing:
            raise ValueError(f"{path}:{number}: missing field(s) {missing}")
        rows.append(row)
    return rows


def load_attempts(path) -> pd.DataFrame:
    """The attempts record as a table, in the order tried; a bad line names its number."""
    rows = _jsonl(path, ATTEMPT_FIELDS, "attempts record (the calibration writes it)")
    frame = pd.DataFrame(rows)
    front = [f for f in ATTEMPT_FIELDS if f in frame]
    return frame[front + [c for c in frame.columns if c not in front]]
