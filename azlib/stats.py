"""Statistics over runs: intervals over seeds, paired differences over the same test videos.

Accuracies are percentages; differences are in percentage points.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
from scipy import stats


def t_interval(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and the two ends of a Student-t confidence interval over seeds (NaN ends for n < 2)."""
    values = np.asarray(list(values), dtype=float)
    mean = float(values.mean()) if values.size else float("nan")
    if values.size < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, values.size - 1) * stats.sem(values)
    return mean, float(mean - half), float(mean + half)


def accuracy_interval(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """:func:`t_interval` of accuracies, clipped to [0, 100] (few seeds can overshoot)."""
    return tuple(float(v) for v in np.clip(t_interval(values, confidence), 0.0, 100.0))


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
