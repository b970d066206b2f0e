"""Per-row tuning: candidates scored on the validation actors only, choices read by the grid."""

from __future__ import annotations

import json

import numpy as np
import pytest

from azlib import grid, records, tuning
from azlib.config import deep_merge, load_profile
from azlib.errors import ConfigError

# smoke SynthActions (4 actors: 3 train, 1 test); one training actor held out for validation
TINY = {"synth": {"videos_per_actor_class": 1}, "clip": {"resize": [40, 54], "crop": 32},
        "validation": 0.25, "pretrain": {"enabled": False}, "experiments": {"tune_seed": 5}}


def _smoke(extra=None):
    return load_profile("smoke", deep_merge(TINY, extra or {}))


def test_candidates_are_every_combination_in_order():
    got = tuning.candidates(["train.lnet_lr_mult=1,3", "model.s_min=0.2,0.3"])
    assert got == [{"train": {"lnet_lr_mult": 1}, "model": {"s_min": 0.2}},
                   {"train": {"lnet_lr_mult": 1}, "model": {"s_min": 0.3}},
                   {"train": {"lnet_lr_mult": 3}, "model": {"s_min": 0.2}},
                   {"train": {"lnet_lr_mult": 3}, "model": {"s_min": 0.3}}]
    with pytest.raises(ConfigError, match="--grid"):
        tuning.candidates(["train.lr"])


def test_tuning_needs_a_validation_set_and_row_settings_name_real_rows():
    with pytest.raises(ConfigError, match="validation"):
        tuning.tuning_runs("5", _smoke({"validation": 0.0}), [{}], seed=0)
    with pytest.raises(ConfigError, match="row_settings.*5/nosuch"):
        grid.plan("5", _smoke({"experiments": {"row_settings": {"5/nosuch": {"train": {"lr": 0.1}}}}}))


def test_the_grid_applies_a_rows_chosen_settings_to_that_row_only():
    profile = _smoke({"experiments": {"row_settings": {"5/augment": {"train": {"lnet_lr_mult": 7.0}}}}})
    mults = {p.row.key: p.spec.train.lnet_lr_mult for p in grid.plan("5", profile, seeds=[0])}
    assert mults["augment"] == 7.0 and mults["no_augment"] == _smoke().train.lnet_lr_mult


def test_tuning_chooses_on_validation_and_never_reads_the_test_set(tmp_path):
    profile = _smoke({"experiments": {"row_settings": {"5/augment": {"train": {"lnet_lr_mult": 7.0}}}}})
    choices = tuning.candidates(["train.lnet_lr_mult=1,2"])
    result = tuning.tune("5", profile, tmp_path, choices, seed=5, progress=False)
    assert set(result["rows"]) == {"no_augment", "augment"}
    saved = json.loads((tmp_path / "tuning" / "table5.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(result["rows"]))
    for entry in result["rows"].values():  # each candidate was trained as given (row settings dropped)
        assert [c["settings"]["train"]["lnet_lr_mult"] for c in entry["candidates"]] == [1, 2]
        best = max(entry["candidates"], key=lambda c: c["validation_top1"])
        assert entry["chosen"] == best["settings"]
    found = tuning.tuning_runs("5", profile, choices, seed=5)
    # wreck every test number: the choices stay; change a validation score: the choice follows it
    for _, _, planned in found:
        folder = records.run_dir(tmp_path, planned.spec)
        metrics = json.loads((folder / records.METRICS_FILE).read_text())
        metrics["top1"] = float(np.random.default_rng(0).uniform(0, 100))
        (folder / records.METRICS_FILE).write_text(json.dumps(metrics))
        (folder / records.PREDICTIONS_FILE).write_bytes(b"not read")
    again = tuning.score("5", found, tmp_path, seed=5)
    assert {r: e["chosen"] for r, e in again["rows"].items()} == {r: e["chosen"] for r, e in result["rows"].items()}
    row, choice, planned = next(f for f in found if f[0] == "augment" and f[1] != result["rows"]["augment"]["chosen"])
    folder = records.run_dir(tmp_path, planned.spec)
    metrics = json.loads((folder / records.METRICS_FILE).read_text())
    metrics["validation_top1"] = 101.0
    (folder / records.METRICS_FILE).write_text(json.dumps(metrics))
    assert tuning.score("5", found, tmp_path, seed=5)["rows"]["augment"]["chosen"] == choice
    assert "5/augment" in tuning.row_settings_yaml(again) and "&id" not in tuning.row_settings_yaml(again)
    # chapter 10's table of the scores: every candidate of every row, the chosen one marked
    frame = tuning.scores_frame(tuning.find_scores(tmp_path, "smoke"))
    assert len(frame) == 4 and set(frame["row"]) == {"no_augment", "augment"}
    last = json.loads((tmp_path / "tuning" / "table5.json").read_text())
    chosen = frame[frame["chosen"] == "yes"]
    assert sorted(chosen["row"]) == ["augment", "no_augment"]
    assert chosen["candidate"].tolist() == [f"train.lnet_lr_mult={last['rows'][r]['chosen']['train']['lnet_lr_mult']}"
                                            for r in chosen["row"]]
    assert tuning.scores_frame(tmp_path / "nowhere").empty
