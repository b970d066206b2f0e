"""The paper's claims as data, each checked on the run records with its verdict.

A claim names the rows it compares by their stable keys (:class:`azlib.grid.Row`); the rule that
gives its verdict is :func:`verdict`: **holds** when every comparison's interval lies above zero,
**does not hold** when one lies below zero, **inconclusive** otherwise, **not measured** while a
row has no finished run. A key that names no row raises at import (see :func:`_check_keys`), so
renaming a table row cannot drop a claim silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from azlib import paper
from azlib.config import Profile
from azlib.grid import CROP_LABELS, MAIN_MODELS, TABLES
from azlib.stats import paired_bootstrap
from azlib.tables import paper_figure, row_predictions
from azlib.training.evaluate import correct


@dataclass(frozen=True)
class Comparison:
    table: str
    better: str                  # row key expected to be better
    worse: str                   # row key it is compared with
    variant: str | None = None   # Table 7: the crop variant standing for ``worse`` (same model)

    def label(self) -> str:
        table = TABLES[self.table]
        if self.variant is not None:
            return f"{table.row(self.better).label} − {CROP_LABELS[self.variant]}"
        return f"{table.row(self.better).label} − {table.row(self.worse).label}"

    def paper_diff(self) -> float:
        """The paper's top-1 difference (its first split where it reports several)."""
        table = TABLES[self.table]
        if self.variant is not None:
            return paper.TABLE7_CROPS["adaptive"][0] - paper.TABLE7_CROPS[self.variant][0]
        better = paper_figure(self.table, table.row(self.better), table.paper_datasets[0], 1)[0]
        worse = paper_figure(self.table, table.row(self.worse), table.paper_datasets[0], 1)[0]
        return better - worse


@dataclass(frozen=True)
class Claim:
    key: str
    text: str
    comparisons: tuple[Comparison, ...]


CLAIMS = (
    Claim("az_every_backbone", "AZ beats the baseline for every backbone (Tables 1-3)",
          tuple(Comparison("1", f"{m}+AZ", m) for m in MAIN_MODELS)),
    Claim("scale_only_best", "Scale-only θ is best (Table 4)",
          tuple(Comparison("4", "scale", mode) for mode in ("all", "scale_translation", "scale_shear"))),
    Claim("augmentation_helps", "θ augmentation helps (Table 5)",
          (Comparison("5", "augment", "no_augment"),)),
    Claim("residuals_best", "Residuals are the best LNet input (Table 6)",
          (Comparison("6", "residual", "mv"), Comparison("6", "residual", "rgb"))),
    Claim("adaptive_beats_fixed_crops", "Adaptive beats every fixed crop (Table 7)",
          tuple(Comparison("7", "adaptive", "adaptive", variant)
                for variant in paper.TABLE7_CROPS if variant != "adaptive")),
)


def _check_keys() -> None:
    for claim in CLAIMS:
        for c in claim.comparisons:
            TABLES[c.table].row(c.better), TABLES[c.table].row(c.worse)  # KeyError names the row
            if c.variant is not None and c.variant not in CROP_LABELS:
                raise KeyError(f"claim {claim.key}: unknown crop variant {c.variant!r}")


_check_keys()


def _pooled(predictions: list[dict]) -> np.ndarray | None:
    """Per-video top-1 correctness averaged over the seeds' runs."""
    return np.mean([correct(p) for p in predictions], axis=0) if predictions else None


def compare(c: Comparison, profile: Profile, out_dir) -> dict:
    """Paired bootstrap of better − worse over the same test videos (points; NaN when a row has
    no finished run)."""
    if c.variant is not None:
        better = _pooled(row_predictions(c.table, c.better, profile, out_dir, variant="adaptive"))
        worse = _pooled(row_predictions(c.table, c.worse, profile, out_dir, variant=c.variant))
    else:
        better = _pooled(row_predictions(c.table, c.better, profile, out_dir))
        worse = _pooled(row_predictions(c.table, c.worse, profile, out_dir))
    if better is None or worse is None:
        return {"diff": float("nan"), "lo": float("nan"), "hi": float("nan")}
    d, lo, hi = paired_bootstrap(worse, better, seed=0)
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


def check_claims(profile: Profile, out_dir, claims=CLAIMS) -> pd.DataFrame:
    """One row per comparison: the claim, the paper's Δ, ours with its interval, the verdict."""
    rows = []
    for claim in claims:
        results = [compare(c, profile, out_dir) for c in claim.comparisons]
        judged = verdict(results)
        for c, r in zip(claim.comparisons, results):
            rows.append({"claim": claim.text, "key": claim.key, "comparison": c.label(),
                         "paper_diff": c.paper_diff(), **r, "verdict": judged})
    return pd.DataFrame(rows)
