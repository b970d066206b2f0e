"""Chapter helpers: claim verdicts and the presentation of our numbers beside the paper's."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from azlib import report


def test_verdicts_follow_the_intervals():
    above = {"diff": 5.0, "lo": 1.0, "hi": 9.0}
    across = {"diff": 1.0, "lo": -2.0, "hi": 4.0}
    below = {"diff": -5.0, "lo": -9.0, "hi": -1.0}
    missing = {"diff": math.nan, "lo": math.nan, "hi": math.nan}
    assert report.verdict([above, above]) == "holds"
    assert report.verdict([above, across]) == "inconclusive"
    assert report.verdict([above, below]) == "does not hold"
    assert report.verdict([above, missing]) == "not measured"
    assert report.verdict([]) == "not measured"


def test_compare_is_better_minus_worse_in_points():
    better = np.array([1.0, 1.0, 1.0, 1.0, 0.0] * 20)
    worse = np.array([1.0, 0.0, 0.0, 1.0, 0.0] * 20)
    result = report.compare(better, worse)
    assert math.isclose(result["diff"], 40.0) and result["lo"] > 0
    assert math.isnan(report.compare(None, worse)["diff"])


def test_present_names_datasets_and_puts_the_paper_beside_ours():
    frame = pd.DataFrame({"split": [1, 1], "seeds": [3, 3], "top1": [70.0, 80.0], "top1_lo": [65.0, 75.0],
                          "top1_hi": [75.0, 85.0], "top5": [99.0, 99.5], "top5_lo": [98.0, 99.0],
                          "top5_hi": [100.0, 100.0], "paper_top1": [65.73, 68.48],
                          "paper_top5": [91.43, 93.33]}, index=pd.Index(["R(2+1)D", "R(2+1)D + AZ"], name="row"))
    frame.attrs.update({"dataset": "SynthActions", "paper_dataset": "HMDB51", "profile": "cpu"})
    shown = report.present(frame)
    assert list(shown.columns) == ["top-1, ours (SynthActions)", "top-1, paper (HMDB51)",
                                   "top-5, ours (SynthActions)", "top-5, paper (HMDB51)"]
    assert shown.loc["R(2+1)D + AZ", "top-1, ours (SynthActions)"] == "80.0 [75.0, 85.0]"
    assert shown.loc["R(2+1)D", "top-1, paper (HMDB51)"] == "65.73"
    assert "SynthActions" in report.caption(frame) and "HMDB51" in report.caption(frame)


def test_step_times_of_every_cpu_backbone_even_for_a_batch_of_one():
    """Chapter 08 on the cpu profile: X3D's head normalises over the batch, so one clip cannot
    train; the timing still runs (at two clips) and times every backbone with and without zoom."""
    from azlib.config import load_profile

    frame = report.step_times(load_profile("cpu"), repeats=1, warmup=0, batch=1)
    assert list(frame.index) == ["R3D", "R(2+1)D", "X3D"]
    assert (frame["ms per clip, fixed crop"] > 0).all() and (frame["ms per clip, adaptive zoom"] > 0).all()
