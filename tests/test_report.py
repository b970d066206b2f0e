"""Claims as data, their verdicts, and the presentation of our numbers beside the paper's."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest

from azlib import claims, grid, report


def test_verdicts_follow_the_intervals():
    above = {"diff": 5.0, "lo": 1.0, "hi": 9.0}
    across = {"diff": 1.0, "lo": -2.0, "hi": 4.0}
    below = {"diff": -5.0, "lo": -9.0, "hi": -1.0}
    missing = {"diff": math.nan, "lo": math.nan, "hi": math.nan}
    assert claims.verdict([above, above]) == "holds"
    assert claims.verdict([above, across]) == "inconclusive"
    assert claims.verdict([above, below]) == "does not hold"
    assert claims.verdict([above, missing]) == "not measured"
    assert claims.verdict([]) == "not measured"


def test_claims_name_rows_by_key_so_a_renamed_label_drops_nothing(monkeypatch):
    keys = {(c.table, c.better, c.worse) for claim in claims.CLAIMS for c in claim.comparisons}
    assert ("1", "R3D+AZ", "R3D") in keys and ("6", "residual", "rgb") in keys
    # a renamed label changes what a table shows, not which runs a claim compares
    table = grid.TABLES["1"]
    renamed = replace(table, rows=tuple(replace(r, label=r.label.upper()) for r in table.rows))
    monkeypatch.setitem(grid.TABLES, "1", renamed)
    claims._check_keys()
    assert claims.CLAIMS[0].comparisons[0].label() == "R3D + AZ − R3D".upper()
    # a row key that names no row stops, naming it
    gone = replace(table, rows=tuple(r for r in table.rows if r.key != "R3D"))
    monkeypatch.setitem(grid.TABLES, "1", gone)
    with pytest.raises(KeyError, match="table 1 has no row 'R3D'"):
        claims._check_keys()


def test_paper_differences_of_the_claims():
    first = claims.CLAIMS[0].comparisons[0]
    assert first.paper_diff() == pytest.approx(59.78 - 54.94)
    crop = next(c for claim in claims.CLAIMS for c in claim.comparisons if c.variant == "centre_0.875")
    assert crop.paper_diff() == pytest.approx(68.48 - 65.73)


def _main_frame(table="1"):
    frame = pd.DataFrame({"split": [1, 1], "seeds": [3, 3], "top1": [70.0, 80.0], "top1_lo": [65.0, 75.0],
                          "top1_hi": [75.0, 85.0], "top5": [99.0, 99.5], "top5_lo": [98.0, 99.0],
                          "top5_hi": [100.0, 100.0], "paper_top1": [65.73, 68.48],
                          "paper_top5": [91.43, 93.33]}, index=pd.Index(["R(2+1)D", "R(2+1)D + AZ"], name="row"))
    frame.attrs.update({"dataset": "SynthActions", "paper_dataset": "HMDB51", "profile": "cpu",
                        "table": table})
    return frame


def test_present_names_datasets_and_puts_the_paper_beside_ours():
    frame = _main_frame()
    shown = report.present(frame, classes=51)
    assert list(shown.columns) == ["top-1, ours (SynthActions)", "top-1, paper (HMDB51 split 1)",
                                   "top-5, ours (SynthActions)", "top-5, paper (HMDB51 split 1)"]
    assert shown.loc["R(2+1)D + AZ", "top-1, ours (SynthActions)"] == "80.0 [75.0, 85.0]"
    assert shown.loc["R(2+1)D", "top-1, paper (HMDB51 split 1)"] == "65.73"
    # the rows' name heads their column: no header row holding only it
    assert shown.index.name is None and shown.columns.name == "backbone"
    assert "<th>row</th>" not in shown.to_html()
    assert "SynthActions" in report.caption(frame) and "HMDB51 split 1" in report.caption(frame)
    frame = frame.assign(vs=[None, "R(2+1)D"], diff_top1=[float("nan"), 10.0], diff_lo=[float("nan"), 2.0],
                         diff_hi=[float("nan"), 18.0], diff_per_seed=[float("nan"), "+12.0 / +3.0 / +15.0"])
    shown = report.present(frame, classes=51)
    assert shown.loc["R(2+1)D + AZ", "Δ per seed"] == "+12.0 / +3.0 / +15.0"
    assert shown.loc["R(2+1)D", "Δ per seed"] == "–" and "per-seed" in report.caption(frame)


def test_present_shows_top5_only_for_many_classes_and_no_paper_column_beyond_the_paper():
    frame = _main_frame()
    shown = report.present(frame, classes=10)
    assert list(shown.columns) == ["top-1, ours (SynthActions)", "top-1, paper (HMDB51 split 1)"]
    assert "Top-5 is left out" in report.caption(frame, 10)
    beyond = _main_frame(table="4u")
    beyond.attrs["paper_dataset"] = report.BEYOND_THE_PAPER
    shown = report.present(beyond, classes=10)
    assert list(shown.columns) == ["top-1, ours (SynthActions)"]
    assert "beyond the paper" in report.caption(beyond, 10)


def test_step_times_of_every_cpu_backbone_even_for_a_batch_of_one():
    """Chapter 08 on the cpu profile: X3D's head normalises over the batch, so one clip cannot
    train; the timing still runs (at two clips) and times every backbone with and without zoom."""
    from azlib.config import load_profile

    frame = report.step_times(load_profile("cpu"), repeats=1, warmup=0, batch=1)
    assert list(frame.index) == ["R3D", "R(2+1)D", "X3D"]
    assert (frame["ms per clip, fixed crop"] > 0).all() and (frame["ms per clip, adaptive zoom"] > 0).all()


def test_chapter_06_states_the_measured_outcome():
    frame = pd.DataFrame({"key": ["centre_mean_adaptive", "adaptive"], "seeds": [3, 3],
                          "top1": [60.0, 70.0], "top1_lo": [55.0, 65.0], "top1_hi": [65.0, 75.0],
                          "vs": ["Adaptive", None], "diff_top1": [-10.0, math.nan],
                          "diff_lo": [-14.0, math.nan], "diff_hi": [-6.0, math.nan]},
                         index=pd.Index(["Center (mean adaptive ratio)", "Adaptive"], name="row"))
    frame.attrs.update({"profile": "cpu", "dataset": "SynthActions"})
    text = report.crop_outcome(frame)
    assert "**10.0 [6.0, 14.0]** points" in text
    assert "above zero" in text and "If" not in text
    frame.loc["Center (mean adaptive ratio)", ["diff_top1", "diff_lo", "diff_hi"]] = [-1.0, -4.0, 2.0]
    assert "cannot be told apart" in report.crop_outcome(frame)
