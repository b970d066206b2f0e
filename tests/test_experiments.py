"""The experiment grid as data: planning, sharing, pretraining, run-or-reuse, our tables."""

from __future__ import annotations

import numpy as np
import pytest

from azlib import experiments, records, train
from azlib.config import ConfigError, deep_merge, load_profile


def _cpu(**overrides):
    """The cpu profile without pretraining unless asked (its planning is tested on its own)."""
    base = {"experiments": {"seeds": [0, 1, 2], "jobs": 1}, "pretrain": {"enabled": False}}
    return load_profile("cpu", deep_merge(base, overrides))


def test_table4_plan_varies_theta_mode_on_the_ablation_backbone(tmp_path):
    cfg = _cpu()
    planned = experiments.plan(4, cfg, tmp_path)
    assert len(planned) == 4 * 3
    modes = {p.config["model"]["theta_mode"] for p in planned}
    assert modes == {"scale", "scale_translation", "scale_shear", "all"}
    assert {p.config["model"]["backbone"] for p in planned} == {experiments._ablation_backbone(cfg)}
    assert all(p.config["model"]["augment"] is False and p.config["model"]["zoom"] == "adaptive"
               for p in planned)
    assert {p.seed for p in planned} == {0, 1, 2} and len({p.hash for p in planned}) == 12


def test_configurations_shared_by_tables_have_one_hash(tmp_path):
    cfg = _cpu()
    hashes = lambda t, label: {p.hash for p in experiments.plan(t, cfg, tmp_path) if p.row.label == label}
    assert hashes(5, "Yes") == hashes(6, "Res") == hashes(7, "Adaptive")
    assert hashes(4, "Adaptive scale") == hashes(5, "No")
    # on SynthActions, Tables 1-3 are one grid (labelled SynthActions), trained once
    t1 = {p.hash for p in experiments.plan(1, cfg, tmp_path)}
    assert t1 == {p.hash for p in experiments.plan(3, cfg, tmp_path)}
    assert len(t1) == 6 * 3
    baseline = next(p for p in experiments.plan(1, cfg, tmp_path) if p.row.label == "R3D")
    assert baseline.config["model"]["zoom"] == "none"


def test_paper_profile_uses_each_papers_dataset_and_split(tmp_path):
    paper = load_profile("paper", {"data_root": str(tmp_path)})
    t1 = experiments.plan(1, paper, tmp_path)
    assert {(p.dataset, p.split) for p in t1} == {("hmdb51", s) for s in (1, 2, 3)}
    assert {p.config["data_root"] for p in t1} == {str(tmp_path)}  # DATA_ROOT is HMDB51 itself
    (tmp_path / "hmdb51").mkdir()  # ... or holds one folder per dataset
    assert {p.config["data_root"] for p in experiments.plan(1, paper, tmp_path)} == {str(tmp_path / "hmdb51")}
    t3 = experiments.plan(3, paper, tmp_path)
    assert {p.dataset for p in t3} == {"kinetics_temporal", "kinetics_static"}
    assert all(p.config["train"]["lr"] == 0.001 for p in t3)
    assert all(p.config["data_root"] == str(tmp_path / p.dataset) for p in t3)
    x3d = next(p for p in t1 if p.row.backbone == "X3D")
    assert x3d.config["clip"]["crop"] == 224
    with pytest.raises(ConfigError, match="synthactions"):
        experiments.plan("oracle", paper, tmp_path)
    with pytest.raises(ConfigError, match="--table"):
        experiments.plan(8, paper, tmp_path)


def test_uniform_placement_table_changes_only_the_generator(tmp_path):
    cfg = _cpu()
    t4, t4u = experiments.plan(4, cfg, tmp_path), experiments.plan("4u", cfg, tmp_path)
    assert all(p.config["synth"]["placement"] == "uniform" for p in t4u)
    assert {p.hash for p in t4}.isdisjoint({p.hash for p in t4u})
    assert train.synth_root(tmp_path, t4[0].config["synth"]) != train.synth_root(tmp_path, t4u[0].config["synth"])


def test_pretraining_is_a_run_whose_weights_enter_the_fine_tuning_hash(tmp_path):
    cfg = _cpu(pretrain={"enabled": True, "seed": 5, "data_seed": 77, "videos_per_actor_class": 3,
                         "train": {"epochs": 2}})
    planned = experiments.plan(1, cfg, tmp_path)
    for p in planned:
        assert p.config["model"]["pretrained"] == experiments.pretrained_weights(p.pretrain)
        # The reference names the run, not a path: the hash does not depend on where results live.
        assert p.config["model"]["pretrained"] == "run:" + records.config_hash(p.pretrain)
        elsewhere = experiments.plan("1", cfg, tmp_path / "elsewhere")
        assert [q.hash for q in elsewhere] == [q.hash for q in planned]
        assert p.pretrain["kind"] == "pretrain" and p.pretrain["model"]["zoom"] == "none"
        assert p.pretrain["model"]["backbone"] == p.config["model"]["backbone"]
        assert p.pretrain["synth"]["seed"] == 77 and p.pretrain["train"]["epochs"] == 2
        assert p.pretrain["seed"] == 5 and p.pretrain["synth"]["videos_per_actor_class"] == 3
        assert p.pretrain["synth"]["seed"] != p.config["synth"]["seed"]  # its own videos
    assert len({records.config_hash(p.pretrain) for p in planned}) == 3  # one per backbone
    without = {p.hash for p in experiments.plan(1, _cpu(pretrain={"enabled": False}), tmp_path)}
    assert without.isdisjoint({p.hash for p in planned})


def _fake_train_run(calls):
    """Stands in for train.train_run: writes a record whose numbers depend on the row."""

    def fake(run, out_dir, crops=False, progress=True, **_):
        calls.append(records.config_hash(run))
        folder = records.run_dir(out_dir, run)
        rng = np.random.default_rng(run["seed"])
        labels = np.arange(40) % 4
        right = 0.5 + (0.3 if run["model"]["zoom"] == "adaptive" else 0.0)
        correct = rng.random(40) < right
        scores = np.eye(4)[np.where(correct, labels, (labels + 1) % 4)]
        records.write_json(folder / records.CONFIG_FILE, run)
        np.savez(folder / records.PREDICTIONS_FILE, scores=scores, labels=labels)
        metrics = {"top1": 100 * correct.mean(), "top5": 100.0, "wall_time_s": 2.0}
        if crops:
            records.write_json(folder / records.CROPS_FILE, {
                "variants": {v: {"top1": 40.0 + i, "top5": 90.0} for i, v in enumerate(train.CROP_VARIANTS)},
                "wall_time_s": 1.0})
        records.write_json(folder / records.METRICS_FILE, metrics)
        return metrics

    return fake


def test_run_table_runs_what_is_missing_then_reuses_and_builds_the_table(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(train, "train_run", _fake_train_run(calls))
    cfg = _cpu()
    summary = experiments.run_table(1, cfg, tmp_path, progress=False)
    assert len(calls) == 18 and summary["complete"] == 18 and summary["missing"] == 0
    assert summary["wall_time_s"] == pytest.approx(36.0)
    assert records.read_json(tmp_path / "tables" / "table1.json")["runs"] == summary["runs"]
    experiments.run_table(3, cfg, tmp_path, progress=False)  # the same runs on SynthActions
    assert len(calls) == 18
    # a call that reuses every run keeps the wall time of the call that computed them
    record = tmp_path / "tables" / "table1.json"
    records.write_json(record, {**records.read_json(record), "invocation_time_s": 1234.5})
    assert experiments.run_table(1, cfg, tmp_path, progress=False)["invocation_time_s"] == 1234.5
    assert records.read_json(record)["invocation_time_s"] == 1234.5 and len(calls) == 18

    frame = experiments.table(1, tmp_path, cfg)
    assert frame.attrs["dataset"] == "SynthActions" and frame.attrs["profile"] == "cpu"
    assert frame.attrs["paper_dataset"] == "HMDB51" and frame.attrs["runs_missing"] == 0
    az = frame.loc["R3D + AZ"]
    assert az["seeds"] == 3 and az["top1_lo"] < az["top1"] < az["top1_hi"]
    assert az["paper_top1"] == 59.78 and frame.loc["R3D", "paper_top1"] == 54.94
    assert az["vs"] == "R3D" and az["diff_lo"] < az["diff_top1"] < az["diff_hi"]
    assert az["diff_lo"] > 0  # +30 points of correctness in the fake
    assert np.isnan(frame.loc["R3D"].get("diff_top1", np.nan))

    t7 = experiments.run_table(7, cfg, tmp_path, progress=False)
    frame7 = experiments.table(7, tmp_path, cfg)
    assert "Center (60%)" in frame7.index and "Oracle box (beyond the paper)" in frame7.index
    assert frame7.loc["Center (60%)", "paper_top1"] == 9.81
    assert t7["wall_time_s"] == pytest.approx(3 * (2.0 + 1.0))


def test_a_bad_field_stops_the_table_before_any_run(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(train, "train_run", _fake_train_run(calls))
    with pytest.raises(ConfigError, match="model.backbone"):
        experiments.run_table(1, _cpu(experiments={"backbones": {"X3D": "x3d_huge"}}), tmp_path,
                              progress=False)
    assert calls == [] and not (tmp_path / "runs").exists()
