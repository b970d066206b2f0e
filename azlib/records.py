"""Run records: a run's configuration hash, its folder, atomic JSON, and statistics over seeds.

A run is one fully resolved configuration (profile values + experiment overrides + seed). The
first 12 hex digits of the sha256 of its canonical JSON name ``<out>/runs/<hash>/``, which holds
``config.json``, ``metrics.json`` (written last: its presence means the run finished),
``predictions.npz``, ``log.jsonl`` and ``checkpoint.pt`` (never committed).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.npz"
CROPS_FILE = "crops.json"
LOG_FILE = "log.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
BACKBONE_WEIGHTS_FILE = "checkpoint_backbone.pt"  # pretraining output; 'checkpoint' keeps it out of git


RUN_REFERENCE = "run:"  # model.pretrained = "run:<hash>": the backbone weights of that run


def run_reference(config: dict) -> str:
    """How a configuration names another run's weights: by hash, never by path, so that its own
    hash is the same wherever the results folder lives (and runs are reused across machines)."""
    return RUN_REFERENCE + config_hash(config)


def resolve_weights(pretrained, out_dir):
    """``model.pretrained`` as a file: "run:<hash>" is that run's backbone weights in ``out_dir``."""
    if isinstance(pretrained, str) and pretrained.startswith(RUN_REFERENCE):
        return str(Path(out_dir) / "runs" / pretrained[len(RUN_REFERENCE):] / BACKBONE_WEIGHTS_FILE)
    return pretrained


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same configuration gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(value: Any):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.ndarray,)):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def config_hash(config: dict) -> str:
    """First 12 hex digits of sha256(canonical JSON of ``config``)."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:12]


def run_dir(out_dir: str | os.PathLike, config: dict) -> Path:
    return Path(out_dir) / "runs" / config_hash(config)


def write_json(path: str | os.PathLike, value: Any) -> Path:
    """Write ``value`` as indented JSON to a temporary name, then rename (atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1, sort_keys=True, default=_jsonable)
        f.write("\n")
    os.replace(tmp, path)
    return path


def read_json(path: str | os.PathLike) -> Any:
    with open(path) as f:
        return json.load(f)


def is_complete(folder: str | os.PathLike) -> bool:
    return (Path(folder) / METRICS_FILE).is_file()


def load_run(folder: str | os.PathLike) -> dict:
    """``{'hash', 'dir', 'config', 'metrics', 'crops'}`` of one finished run."""
    folder = Path(folder)
    crops = folder / CROPS_FILE
    return {
        "hash": folder.name,
        "dir": folder,
        "config": read_json(folder / CONFIG_FILE),
        "metrics": read_json(folder / METRICS_FILE),
        "crops": read_json(crops) if crops.is_file() else None,
    }


def load_runs(out_dir: str | os.PathLike) -> list[dict]:
    """Every finished run under ``<out_dir>/runs``."""
    runs = Path(out_dir) / "runs"
    if not runs.is_dir():
        return []
    return [load_run(d) for d in sorted(runs.iterdir()) if is_complete(d)]


def load_predictions(folder: str | os.PathLike, variant: str | None = None) -> dict:
    """Per-video predictions of a run (``variant``: a Table 7 crop, or None for the run's own)."""
    name = PREDICTIONS_FILE if variant is None else f"predictions_{variant}.npz"
    with np.load(Path(folder) / name, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# --- statistics -------------------------------------------------------------------------------

def t_interval(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and the two ends of a Student-t confidence interval over seeds (NaN ends for n < 2)."""
    from scipy import stats

    values = np.asarray(list(values), dtype=float)
    mean = float(values.mean()) if values.size else float("nan")
    if values.size < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, values.size - 1) * stats.sem(values)
    return mean, float(mean - half), float(mean + half)


def paired_bootstrap(correct_a: np.ndarray, correct_b: np.ndarray, n_boot: int = 10000,
                     confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``correct_b - correct_a`` (percentage points) and a bootstrap interval.

    Both arrays hold per-video correctness on the same test videos (averaged over seeds when
    several seeds are pooled); videos are resampled with replacement, keeping pairs together.
    """
    a, b = np.asarray(correct_a, float), np.asarray(correct_b, float)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"paired_bootstrap: need two equal-length 1-D arrays, got {a.shape}, {b.shape}")
    diff = (b - a) * 100.0
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, diff.size, size=(n_boot, diff.size))
    means = diff[picks].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(diff.mean()), float(lo), float(hi)


def topk_correct(scores: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per-video bool: is the label among the ``k`` highest scores."""
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return (top == np.asarray(labels)[:, None]).any(axis=1)
