"""The paper's numbers in azlib/paper.py are the paper's: each one appears in paper.md."""

from __future__ import annotations

import re

import pytest

from azlib import paper
from azlib.config import REPO_ROOT

PAPER = REPO_ROOT.parent / "shared" / "paper" / "paper.md"


def _all_numbers():
    for table in (paper.TABLE1_HMDB51, paper.TABLE2_UCF101, paper.TABLE3_KINETICS32):
        for metrics in table.values():
            yield from metrics["top1"]
            yield from metrics["top5"]
    for table in (paper.TABLE4_THETA, paper.TABLE5_AUGMENT,
                  paper.TABLE6_LNET_INPUT, paper.TABLE7_CROPS):
        for top1, top5 in table.values():
            yield top1
            yield top5
    yield from paper.GMACS.values()


@pytest.mark.skipif(not PAPER.is_file(), reason="../shared/paper/paper.md is not beside the checkout")
def test_every_paper_number_is_in_the_paper():
    text = PAPER.read_text()
    found = set(re.findall(r"\d+\.\d+", text))
    missing = [v for v in _all_numbers() if f"{v:.2f}" not in found and f"{v}" not in found]
    assert not missing, f"numbers not in paper.md: {missing}"


def test_table_rows_in_paper_order_and_averages_consistent():
    # The stated averages are the mean of the three splits (to rounding) in Tables 1 and 2.
    for table in (paper.TABLE1_HMDB51, paper.TABLE2_UCF101):
        for key, metrics in table.items():
            for metric in ("top1", "top5"):
                *splits, average = metrics[metric]
                assert abs(sum(splits) / 3 - average) < 0.02, (key, metric)
    frame = paper.table(1)
    assert list(frame.index) == ["R3D", "R3D + AZ", "R(2+1)D", "R(2+1)D + AZ", "X3D", "X3D + AZ"]
    assert frame.loc["R(2+1)D + AZ", ("top1", "1")] == 68.48
    assert paper.table(7).loc["Adaptive", "Top-5"] == 99.33


def test_inconsistencies_are_recorded():
    text = " ".join(i["what"] for i in paper.INCONSISTENCIES)
    for phrase in ("99.33", "93.33", "8.33", "40.7", "momentum 0.1"):
        assert phrase in text


def test_the_lnet_cost_in_the_inconsistencies_is_fvcores_count():
    """The LNet-cost inconsistency quotes fvcore's count, not a guess: recount it."""
    from azlib.models.cost import macs_table

    row = macs_table(("r2plus1d_18",), lnet="efficientnet_b0").iloc[0]
    assert row["lnet input"] == "16x64x86" and row["input"] == "16x112x112"
    assert row["LNet GMac"] == pytest.approx(paper.MEASURED_LNET_GMACS, abs=5e-4)
    assert row["zoom GMac"] == pytest.approx(paper.MEASURED_ZOOM_GMACS_R2PLUS1D, abs=5e-4)
    assert any(str(paper.MEASURED_LNET_GMACS) in item["what"] for item in paper.INCONSISTENCIES)
