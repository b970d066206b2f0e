"""Statistics over runs: intervals over seeds, paired differences over the same test videos
(seeds, test actors and videos resampled together).

Accuracies are percentages; differences are in percentage points.
"""

from __future__ import annotations

import re
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


#: how a test video's name gives its group (the actor, or UCF101's group): SynthActions
#: ``<class>_a<NN>_v<NN>``, UCF101 ``v_<Class>_g<NN>_c<NN>``
_GROUP_PATTERN = re.compile(r"_(a\d+)_v\d+$|_(g\d+)_c\d+$")


def video_groups(names: Iterable[str]) -> np.ndarray:
    """The group of each test video (its actor), read from its name; a name that carries none is
    a group of its own (HMDB51 names no actor), so resampling groups then resamples videos."""
    groups = []
    for name in names:
        match = _GROUP_PATTERN.search(str(name))
        groups.append(next(g for g in match.groups() if g) if match else f"video:{name}")
    return np.asarray(groups)


def seed_group_bootstrap(correct_a: np.ndarray, correct_b: np.ndarray, groups: Iterable[str],
                         n_boot: int = 10000, confidence: float = 0.95, seed: int = 0) -> dict:
    """``correct_b − correct_a`` (percentage points) with an interval that counts every source of
    variation the design has: training seeds, test groups (actors) and videos within them.

    ``correct_a`` and ``correct_b`` are (seeds × videos) per-video top-1 correctness on the same
    test videos, seed ``i`` of one paired with seed ``i`` of the other (same seed, same data order).
    Each bootstrap draw resamples seeds, then groups, then videos within each drawn group, all
    with replacement (a hierarchical bootstrap). Returns the mean difference, the interval, the
    bootstrap standard error and the per-seed differences.
    """
    a, b = np.atleast_2d(np.asarray(correct_a, float)), np.atleast_2d(np.asarray(correct_b, float))
    groups = np.asarray(list(groups))
    if a.shape != b.shape or a.size == 0 or groups.shape != (a.shape[1],):
        raise ValueError(f"seed_group_bootstrap: need two equal (seeds × videos) arrays and one group "
                         f"per video, got {a.shape}, {b.shape} and {groups.shape} groups")
    diff = (b - a) * 100.0
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for i in range(n_boot):
        per_video = diff[rng.integers(0, diff.shape[0], diff.shape[0])].mean(axis=0)
        drawn = [members[j] for j in rng.integers(0, len(members), len(members))]
        picks = np.concatenate([m[rng.integers(0, m.size, m.size)] for m in drawn])
        means[i] = per_video[picks].mean()
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return {"diff": float(diff.mean()), "lo": float(lo), "hi": float(hi), "se": float(means.std(ddof=1)),
            "per_seed": [float(d) for d in diff.mean(axis=1)], "seeds": int(diff.shape[0]),
            "groups": len(members)}


#: z-scores of a two-sided 5 % test with 80 % power: the smallest difference a design can detect
#: is about (1.96 + 0.84) standard errors
DETECTABLE_Z = 1.96 + 0.84


def detectable_difference(se: float) -> float:
    """The smallest difference (points) the design detects with 80 % power at the 5 % level."""
    return DETECTABLE_Z * se


def seeds_needed(diff: float, se: float, seeds: int) -> int | None:
    """Seeds that would make ``diff`` detectable if the standard error shrank as 1/√seeds (a
    lower bound: the test groups' share of the error does not shrink with more seeds)."""
    if not np.isfinite(diff) or diff == 0 or se <= 0:
        return None
    return int(np.ceil(seeds * (DETECTABLE_Z * se / abs(diff)) ** 2))
