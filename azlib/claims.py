"""The paper's claims as data, each checked on the run records with its verdict.

A claim names the rows it compares by their stable keys (:class:`azlib.grid.Row`); the rule that
gives its verdict is :func:`verdict`: **holds** when every comparison's interval lies above zero,
**does not hold** when one lies below zero, **inconclusive** otherwise, **not measured** while a
row has no finished run. A key that names no row raises at import (see :func:`_check_keys`), so
renaming a table row cannot drop a claim silently.

The cost claim (Section 4.2: zooming adds 0.006 GMac, "negligible") is checked the same way on
the cost chapter's tables (``tables/cost_paper_sizes.csv``, ``tables/cost_step_times.csv``):
each comparison is the cost zooming adds, in % of the backbone's; it **holds** when every
interval lies below :data:`NEGLIGIBLE_PERCENT`, **does not hold** when one lies above it.
:func:`check_all` gives both kinds in one frame, which chapter 09 saves as ``tables/claims.csv``
(:func:`save_claims`) for the book's front page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from azlib import paper
from azlib.config import Profile
from azlib.files import atomic_path
from azlib.grid import CROP_LABELS, MAIN_MODELS, TABLES
from azlib.tables import by_seed, difference, paper_figure, per_seed_text, row_runs


@dataclass(frozen=True)
class Comparison:
    table: str
    better: str                  # row key expected to be better
    worse: str                   # row key it is compared with
    variant: str | None = None   # Table 7: the crop of the ``worse`` row's model (the baseline's)

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
          tuple(Comparison("7", "adaptive", "baseline", variant)
                for variant in paper.TABLE7_CROPS if variant != "adaptive")),
)


def _check_keys() -> None:
    for claim in CLAIMS:
        for c in claim.comparisons:
            TABLES[c.table].row(c.better), TABLES[c.table].row(c.worse)  # KeyError names the row
            if c.variant is not None and c.variant not in CROP_LABELS:
                raise KeyError(f"claim {claim.key}: unknown crop variant {c.variant!r}")


_check_keys()


def compare(c: Comparison, profile: Profile, out_dir) -> dict:
    """better − worse in top-1 points over the same test videos and seeds, with the seed × actor ×
    video bootstrap interval, its standard error and the per-seed differences
    (:func:`azlib.tables.difference`); NaN when a row has no finished run."""
    if c.variant is not None:  # the adaptive model's own crop against the baseline with this crop
        better = by_seed(row_runs(c.table, c.better, profile, out_dir))
        worse = by_seed(row_runs(c.table, c.worse, profile, out_dir, crops=True), c.variant)
    else:
        better = by_seed(row_runs(c.table, c.better, profile, out_dir))
        worse = by_seed(row_runs(c.table, c.worse, profile, out_dir))
    if not better or not worse or not better.keys() & worse.keys():
        return {"diff": float("nan"), "lo": float("nan"), "hi": float("nan"), "se": float("nan"),
                "per_seed": ""}
    result = difference(worse, better)
    return {"diff": result["diff"], "lo": result["lo"], "hi": result["hi"], "se": result["se"],
            "per_seed": per_seed_text(result)}


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
                         "unit": ACCURACY_UNIT, "paper_diff": c.paper_diff(), **r, "verdict": judged})
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


# --- the cost claim ---------------------------------------------------------------------------

ACCURACY_UNIT = "top-1 points"
COST_UNIT = "% of the backbone's cost"
#: what "negligible" is taken to mean: zooming adds less than this share of the backbone's cost
#: (MACs or step time). The paper's own figure, 0.006 GMac, is 0.01-0.12 % of its backbones;
#: 5 % is far looser, and still small enough not to change which model one would deploy.
NEGLIGIBLE_PERCENT = 5.0
COST_CLAIM = ("cost_negligible",
              f"Zooming's cost is negligible: +{paper.AZ_EXTRA_GMACS} GMac per clip (Section 4.2)")
COST_TABLES = {"macs": "cost_paper_sizes", "time": "cost_step_times"}
CLAIM_COLUMNS = ["claim", "key", "comparison", "unit", "paper_diff", "diff", "lo", "hi", "se", "per_seed",
                 "verdict"]


def cost_verdict(comparisons: list[dict], threshold: float = NEGLIGIBLE_PERCENT) -> str:
    """holds: every interval below ``threshold``; does not hold: some interval above it."""
    if not comparisons or any(math.isnan(c["diff"]) for c in comparisons):
        return "not measured"
    if all(c["hi"] < threshold for c in comparisons):
        return "holds"
    if any(c["lo"] > threshold for c in comparisons):
        return "does not hold"
    return "inconclusive"


def _read_table(out_dir, name: str) -> pd.DataFrame | None:
    path = Path(out_dir) / "tables" / f"{name}.csv"
    return pd.read_csv(path) if path.is_file() else None


def cost_comparisons(out_dir) -> list[dict]:
    """The cost zooming adds, in % of the backbone's: MACs counted by fvcore for the paper's
    backbones at their inputs behind the paper's EfficientNet-B0 LNet (exact counts: no
    interval), and the measured training-step time of this profile's models (mean of paired
    rounds with its 95 % t-interval). NaN rows when chapter 08 has not written its tables."""
    rows = []
    macs = _read_table(out_dir, COST_TABLES["macs"])
    for model, backbone in paper.BACKBONES.items():
        label = f"added MACs, {model} (fvcore, paper's sizes)"
        found = None if macs is None else macs[macs["backbone"] == backbone]
        value = float(found["zoom %"].iloc[0]) if found is not None and len(found) else float("nan")
        rows.append({"comparison": label, "paper_diff": 100 * paper.AZ_EXTRA_GMACS / paper.GMACS[model],
                     "diff": value, "lo": value, "hi": value})
    times = _read_table(out_dir, COST_TABLES["time"])
    for model in paper.BACKBONES:
        label = f"added step time, {model} (measured)"
        found = None if times is None else times[times["model"] == model]
        if found is not None and len(found):
            got = found.iloc[0]
            diff, lo, hi = (float(got[c]) for c in ("zoom overhead %", "overhead lo %", "overhead hi %"))
            if math.isnan(lo):  # a single round has no interval: the point is all there is
                lo = hi = diff
        else:
            diff = lo = hi = float("nan")
        # the paper gives no time; its 0.006 GMac implies the same share of the backbone's MACs
        rows.append({"comparison": label, "paper_diff": float("nan"), "diff": diff, "lo": lo, "hi": hi})
    return rows


def check_cost_claim(out_dir) -> pd.DataFrame:
    """The cost claim, one row per comparison (same columns as :func:`check_claims`)."""
    results = cost_comparisons(out_dir)
    judged = cost_verdict(results)
    key, text = COST_CLAIM
    return pd.DataFrame([{"claim": text, "key": key, "unit": COST_UNIT, **r, "verdict": judged}
                         for r in results], columns=CLAIM_COLUMNS)


def check_all(profile: Profile, out_dir) -> pd.DataFrame:
    """Every claim of the paper: the accuracy claims, then the cost claim."""
    return pd.concat([check_claims(profile, out_dir), check_cost_claim(out_dir)], ignore_index=True)


CLAIMS_TABLE = "claims"


def save_claims(frame: pd.DataFrame, out_dir) -> Path:
    """``<out_dir>/tables/claims.csv`` (atomic): what the book's front page shows."""
    path = Path(out_dir) / "tables" / f"{CLAIMS_TABLE}.csv"
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def load_claims(out_dir) -> pd.DataFrame | None:
    """The claims table chapter 09 saved, or None when it has not run."""
    path = Path(out_dir) / "tables" / f"{CLAIMS_TABLE}.csv"
    return pd.read_csv(path) if path.is_file() else None


def verdicts(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: its text and verdict, in the order of the claims."""
    return frame.groupby("key", sort=False).agg(claim=("claim", "first"), verdict=("verdict", "first"))
