"""The book's front page (azlib.front), the cost claim, and the one palette every figure shares."""

from __future__ import annotations

import math

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from azlib import claims, front, viz


def _claims_frame() -> pd.DataFrame:
    rows = [
        {"claim": "AZ beats the baseline for every backbone (Tables 1-3)", "key": "az_every_backbone",
         "comparison": "R3D + AZ − R3D", "unit": claims.ACCURACY_UNIT, "paper_diff": 4.84,
         "diff": 8.2, "lo": 4.7, "hi": 11.8},
        {"claim": "AZ beats the baseline for every backbone (Tables 1-3)", "key": "az_every_backbone",
         "comparison": "X3D + AZ − X3D", "unit": claims.ACCURACY_UNIT, "paper_diff": 1.57,
         "diff": 6.5, "lo": 3.9, "hi": 9.1},
        {"claim": "θ augmentation helps (Table 5)", "key": "augmentation_helps", "comparison": "Yes − No",
         "unit": claims.ACCURACY_UNIT, "paper_diff": 0.53, "diff": 1.0, "lo": -2.0, "hi": 4.0},
    ]
    frame = pd.DataFrame(rows)
    frame["verdict"] = frame.groupby("key")["lo"].transform(lambda lo: "holds" if (lo > 0).all() else "inconclusive")
    cost = pd.DataFrame([{"claim": claims.COST_CLAIM[1], "key": claims.COST_CLAIM[0], "unit": claims.COST_UNIT,
                          **r} for r in [
        {"comparison": "added MACs, R3D (fvcore, paper's sizes)", "paper_diff": 0.072, "diff": 0.14,
         "lo": 0.14, "hi": 0.14},
        {"comparison": "added step time, R3D (measured)", "paper_diff": math.nan, "diff": 20.0,
         "lo": 15.0, "hi": 25.0}]])
    cost["verdict"] = claims.cost_verdict(cost.to_dict("records"))
    return pd.concat([frame, cost], ignore_index=True).reindex(columns=claims.CLAIM_COLUMNS)


def _table1() -> pd.DataFrame:
    rows = []
    for model, base, az in (("R3D", 54.9, 63.1), ("R(2+1)D", 75.7, 87.9), ("X3D", 84.9, 91.4)):
        rows.append({"row": model, "key": model, "dataset": "SynthActions", "split": 1, "seeds": 3,
                     "top1": base, "top1_lo": base - 3, "top1_hi": base + 3})
        rows.append({"row": f"{model} + AZ", "key": f"{model}+AZ", "dataset": "SynthActions", "split": 1,
                     "seeds": 3, "top1": az, "top1_lo": az - 3, "top1_hi": az + 3, "vs": model,
                     "diff_top1": az - base, "diff_lo": az - base - 3, "diff_hi": az - base + 3})
    return pd.DataFrame(rows)


@pytest.fixture
def results(tmp_path):
    """A results folder as chapters 02 and 09 leave it: tables/table1.csv, tables/claims.csv and
    the forest plot."""
    frame = _claims_frame()
    claims.save_claims(frame, tmp_path)
    _table1().to_csv(tmp_path / "tables" / "table1.csv", index=False)
    fig = viz.claims_forest(frame, negligible=claims.NEGLIGIBLE_PERCENT)
    viz.save_figure(fig, tmp_path, front.FOREST_FIGURE)
    return tmp_path


def test_front_page_answers_the_readers_question(results):
    page = front.front_page("cpu", results)
    assert page.startswith(f"# {front.TITLE}")
    # what was reproduced on what: SynthActions, never presented as the paper's datasets
    assert "SynthActions" in page and "synthetic benchmark" in page
    assert "never HMDB51, UCF101 or Kinetics numbers" in page
    # the verdicts table: one row per claim, the paper's Δ beside ours with its interval
    assert "| claim | verdict | deciding comparison (of n) | paper | ours, 95 % interval |" in page
    assert "| AZ beats the baseline for every backbone (Tables 1-3) | **holds** |" in page
    assert "+6.5 [+3.9, +9.1]" in page  # the deciding comparison: the lowest lower end
    assert "| θ augmentation helps (Table 5) | inconclusive |" in page
    assert "**does not hold**" in page  # the cost claim: step time 15-25 % is not negligible
    assert "Of the paper's 3 claims checked here, on this data: 1 holds, 1 does not hold, 1 inconclusive." in page
    # the forest plot, by the path chapter 09 saves it under
    assert f"figures/{front.FOREST_FIGURE}.png" in page
    # Table 1, ours beside the paper's (HMDB51 split 1) with both differences
    assert "54.94" in page and "59.78" in page and "+4.84" in page
    assert "paper (HMDB51 split 1)" in page and "63.1 [60.1, 66.1]" in page
    # how to cite, from CITATION.cff
    assert "## Cite" in page and "Shahabinejad, Kezele" in page and "azlib developers" in page
    assert "every claim holds" not in page.lower() and "every claim of the paper holds" not in page.lower()


def test_front_page_without_results_says_what_is_missing(tmp_path):
    page = front.front_page("smoke", tmp_path)
    assert page.count(front.NOT_COMPUTED) >= 3  # claims, forest plot, Table 1
    assert "measure nothing" in page and "Shahabinejad" in page


def test_front_page_shows_the_central_comparison_on_every_draw(results):
    assert "other draws of actors" not in front.front_page("cpu", results)  # no robustness table
    lines = {"Centre crop, top-1 %": ["65.73", "59.8", "57.3"],
             "AZ − centre [95 %]": ["+2.75", "14.3 [8.1, 20.6]", "14.6 [7.8, 20.5]"],
             "AZ − centre per seed": [None, "+13.6 / +12.2 / +16.9", "+15.6 / +15.8 / +12.5"],
             "share of the scale-only headroom AZ captures": [None, "72 %", "63 %"],
             "synth seed; training seeds": [None, "421580; 1, 2, 3", "436752; 10, 11, 12"]}
    frame = pd.DataFrame(lines, index=["paper, R(2+1)D (HMDB51 split 1)", "main draw", "draw 436752"]).T
    frame.to_csv(results / "tables" / "robustness.csv")
    page = front.front_page("cpu", results)
    assert "## The central comparison on other draws of actors" in page
    assert "| draw 436752 | 14.6 [7.8, 20.5] | +15.6 / +15.8 / +12.5 | 63 % | 436752; 10, 11, 12 |" in page
    assert "| paper, R(2+1)D (HMDB51 split 1) | +2.75 | — | — | — |" in page
    frame.drop(index="share of the scale-only headroom AZ captures").to_csv(results / "tables" / "robustness.csv")
    with pytest.raises(ValueError, match="share of the scale-only headroom"):
        front.front_page("cpu", results)


def test_front_page_of_the_paper_profile_names_the_datasets(results):
    sentence = front.data_sentence("paper")
    assert "HMDB51" in sentence and "UCF101" in sentence and "Kinetics-32" in sentence
    assert "SynthActions" not in sentence


def test_cost_claim_verdicts_and_missing_tables(tmp_path):
    small = {"diff": 0.1, "lo": 0.1, "hi": 0.1}
    big = {"diff": 20.0, "lo": 15.0, "hi": 25.0}
    across = {"diff": 4.0, "lo": 1.0, "hi": 9.0}
    assert claims.cost_verdict([small, small]) == "holds"
    assert claims.cost_verdict([small, big]) == "does not hold"
    assert claims.cost_verdict([small, across]) == "inconclusive"
    # chapter 08 has not run: every comparison is there, unmeasured
    frame = claims.check_cost_claim(tmp_path)
    assert len(frame) == 6 and (frame["verdict"] == "not measured").all()
    assert frame["paper_diff"].iloc[0] == pytest.approx(100 * 0.006 / 8.33)


def test_one_name_and_one_colour_per_method():
    colours = [colour for _, colour in viz.METHODS.values()]
    names = [name for name, _ in viz.METHODS.values()]
    assert len(set(colours)) == len(colours) and len(set(names)) == len(names)
    assert set(colours) <= set(viz.OKABE_ITO.values())
    # every spelling of a method gets the same name and colour
    assert viz.method_colour("centre") == viz.method_colour("Centre crop") == viz.CENTRE_COLOUR
    assert viz.method_name("oracle") == viz.method_name("oracle_box") == "Oracle box, trained"
    # the names are the oracle table's row labels (chapter 10 shows both)
    from azlib.grid import TABLES
    assert {viz.method_name(r.key) for r in TABLES["oracle"].rows} == {r.label for r in TABLES["oracle"].rows}
    with pytest.raises(KeyError, match="not a method"):
        viz.method_colour("zoom-ish")


def test_figures_draw_each_method_in_its_colour():
    frame = pd.DataFrame({"method": ["centre", "centre", "adaptive", "adaptive"],
                          "size": ["small", "big"] * 2, "top1": [40.0, 80.0, 70.0, 85.0]})
    fig = viz.accuracy_by_bin(frame, "size", "top1", "method", "figure height", "top-1 (%)")
    bars = {mcolors.to_hex(p.get_facecolor()) for p in fig.axes[0].patches}
    assert bars == {viz.method_colour("centre").lower(), viz.method_colour("adaptive").lower()}
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["Centre crop", "Adaptive zoom"]
    assert legend.get_bbox_to_anchor().x0 > fig.axes[0].get_window_extent().x1 - 1  # outside the data
    image = np.zeros((20, 30, 3))
    fig = viz.boxes_figure([image], [image[..., 0]], [(2, 2, 28, 18)], [(5, 5, 20, 15)],
                           ["true: clap, predicted: squat"])
    edges = {mcolors.to_hex(p.get_edgecolor()) for ax in fig.axes for p in ax.patches}
    assert {viz.method_colour("centre").lower(), viz.method_colour("adaptive").lower()} <= edges


def test_comparisons_show_per_seed_differences_and_what_the_design_detects():
    frame = _claims_frame()
    frame["per_seed"] = frame["per_seed"].astype(object)
    frame.loc[0, ["se", "per_seed"]] = [1.5, "+9.0 / +7.1 / +8.5"]
    frame.loc[2, ["se", "per_seed"]] = [1.0, "+2.0 / -1.0 / +2.0"]  # interval [-2, 4]: inconclusive
    shown = front.comparisons_frame(frame)
    assert shown.loc[0, "per seed"] == "+9.0 / +7.1 / +8.5" and shown.loc[0, "detectable"] == "4.2"
    assert shown.loc[2, "detectable"] == "2.8 (≥ 24 seeds)"  # 3 × (2.8 × 1.0 / 1.0)² seeds
    assert shown.loc[1, "per seed"] == "–" and shown.loc[1, "detectable"] == "–"
