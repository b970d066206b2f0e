"""The experiment grid as data, run-or-reuse with locks and stale records, our tables."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time

import numpy as np
import pytest

from azlib import files, grid, records, reproduction, runner, tables
from azlib.config import deep_merge, load_profile
from azlib.errors import ConfigError
from azlib.settings import to_dict
from azlib.training.evaluate import CROP_VARIANTS


def _cpu(**overrides):
    """The cpu profile without pretraining unless asked (its planning is tested on its own)."""
    base = {"experiments": {"seeds": [0, 1, 2], "tune_seed": 99, "jobs": 1}, "pretrain": {"enabled": False}}
    return load_profile("cpu", deep_merge(base, overrides))


def test_table4_plan_varies_theta_mode_on_the_ablation_backbone():
    cfg = _cpu()
    planned = grid.plan(4, cfg)
    assert len(planned) == 4 * 3
    assert {p.spec.model.theta_mode for p in planned} == {"scale", "scale_translation", "scale_shear", "all"}
    assert {p.spec.model.backbone for p in planned} == {grid.ablation_backbone(cfg)}
    assert all(p.spec.model.augment is False and p.spec.model.zoom == "adaptive" for p in planned)
    assert {p.seed for p in planned} == {0, 1, 2}
    assert len({records.run_key(p.spec) for p in planned}) == 12


def test_configurations_shared_by_tables_have_one_key():
    cfg = _cpu()
    keys = lambda t, row: {records.run_key(p.spec) for p in grid.plan(t, cfg) if p.row.key == row}
    assert keys(5, "augment") == keys(6, "residual") == keys(7, "adaptive")
    assert keys(4, "scale") == keys(5, "no_augment")
    # on SynthActions, Tables 1-3 are one grid (labelled SynthActions), trained once
    t1 = {records.run_key(p.spec) for p in grid.plan(1, cfg)}
    assert t1 == {records.run_key(p.spec) for p in grid.plan(3, cfg)} and len(t1) == 6 * 3
    baseline = next(p for p in grid.plan(1, cfg) if p.row.key == "R3D")
    assert baseline.spec.model.zoom == "none" and baseline.row.label == "R3D"


def test_paper_profile_uses_each_papers_dataset_and_split(tmp_path):
    paper = load_profile("paper", {"data_root": str(tmp_path)})
    t1 = grid.plan(1, paper)
    assert {(p.dataset, p.split) for p in t1} == {("hmdb51", s) for s in (1, 2, 3)}
    assert {p.spec.data_root for p in t1} == {str(tmp_path)}  # DATA_ROOT is HMDB51 itself
    (tmp_path / "hmdb51").mkdir()  # ... or holds one folder per dataset
    assert {p.spec.data_root for p in grid.plan(1, paper)} == {str(tmp_path / "hmdb51")}
    t3 = grid.plan(3, paper)
    assert {p.dataset for p in t3} == {"kinetics_temporal", "kinetics_static"}
    assert all(p.spec.train.lr == 0.001 for p in t3)
    assert all(p.spec.data_root == str(tmp_path / p.dataset) for p in t3)
    assert next(p for p in t1 if p.row.backbone == "X3D").spec.clip.crop == 224
    with pytest.raises(ConfigError, match="synthactions"):
        grid.plan("oracle", paper)
    with pytest.raises(ConfigError, match="--table"):
        grid.plan(8, paper)


def test_uniform_placement_table_changes_only_the_generator():
    cfg = _cpu()
    t4, t4u = grid.plan(4, cfg), grid.plan("4u", cfg)
    assert all(p.spec.synth.placement == "uniform" for p in t4u)
    assert {records.run_key(p.spec) for p in t4}.isdisjoint({records.run_key(p.spec) for p in t4u})
    assert {p.spec.synth.placement for p in t4} == {"centred"}


def test_pretraining_is_a_run_whose_settings_enter_the_fine_tuning_key(tmp_path):
    cfg = _cpu(pretrain={"enabled": True, "seed": 5, "synth": {"seed": 77, "videos_per_actor_class": 3},
                         "train": {"epochs": 2}})
    planned = grid.plan(1, cfg)
    for p in planned:
        # the reference names the run by its settings, not a path or a code version
        assert p.spec.model.pretrained == "run:" + records.spec_key(p.pretrain)
        assert p.pretrain.kind == "pretrain" and p.pretrain.model.zoom == "none"
        assert p.pretrain.model.backbone == p.spec.model.backbone
        assert p.pretrain.synth.seed == 77 and p.pretrain.train.epochs == 2
        assert p.pretrain.seed == 5 and p.pretrain.synth.videos_per_actor_class == 3
    assert len({records.run_key(p.pretrain) for p in planned}) == 3  # one per backbone
    without = {records.run_key(p.spec) for p in grid.plan(1, _cpu(pretrain={"enabled": False}))}
    assert without.isdisjoint({records.run_key(p.spec) for p in planned})


def _fake_train_run(calls):
    """Stands in for train_run: writes a whole record whose numbers depend on the row."""

    def fake(spec, out_dir, crops=False, progress=True, **_):
        calls.append(records.run_key(spec))
        folder = records.run_dir(out_dir, spec)
        rng = np.random.default_rng(spec.seed)
        labels = np.arange(40) % 4
        right = 0.5 + (0.3 if spec.model.zoom == "adaptive" else 0.0) + (0.3 if spec.train.theta_source == "oracle" else 0.0)
        correct = rng.random(40) < right
        scores = np.eye(4)[np.where(correct, labels, (labels + 1) % 4)]
        files.write_json(folder / records.CONFIG_FILE, to_dict(spec))
        files.save_npz(folder / records.PREDICTIONS_FILE, {"scores": scores, "labels": labels})
        files.write_json(folder / records.PROVENANCE_FILE, {
            "spec_key": records.spec_key(spec), "fingerprint": "code-now", "commit": "abc123",
            "finished": "2026-11-29T12:00:00+00:00", "environment": {"cpu": "test cpu"}})
        metrics = {"top1": 100 * correct.mean(), "top5": 100.0, "wall_time_s": 2.0,
                   "mean_scale": [0.5 + spec.seed / 100, 0.7]}
        if crops:
            files.write_json(folder / records.CROPS_FILE, {
                "variants": {v: {"top1": 40.0 + i, "top5": 90.0} for i, v in enumerate(CROP_VARIANTS)},
                "wall_time_s": 1.0, "adaptive_scale": list(crops) if isinstance(crops, tuple) else None})
            for v in CROP_VARIANTS:
                files.save_npz(folder / f"predictions_{v}.npz", {"scores": scores, "labels": labels})
        files.write_json(folder / records.METRICS_FILE, metrics)
        return metrics

    return fake


@pytest.fixture
def fake_training(monkeypatch):
    calls = []
    monkeypatch.setattr(runner, "train_run", _fake_train_run(calls))
    monkeypatch.setattr(records, "fingerprint", lambda patterns=None: "code-now")
    return calls


def test_run_table_runs_what_is_missing_then_reuses_and_builds_the_table(tmp_path, fake_training):
    calls, cfg = fake_training, _cpu()
    summary = runner.run_table(1, cfg, tmp_path, progress=False)
    assert len(calls) == 18 and summary["complete"] == 18 and summary["missing"] == 0
    assert summary["trained_here"] == 18 and summary["wall_time_s"] == pytest.approx(36.0)
    assert summary["made_by"]["commits"] == ["abc123"] and summary["made_by"]["cpus"] == ["test cpu"]
    written = files.read_json(tmp_path / "tables" / "table1.json")
    assert written["runs"] == summary["runs"] and "trained_here" not in written
    assert runner.run_table(3, cfg, tmp_path, progress=False)["trained_here"] == 0  # the same runs
    assert len(calls) == 18
    # a call that reuses every run keeps the wall time of the call that computed them
    record = tmp_path / "tables" / "table1.json"
    files.write_json(record, {**files.read_json(record), "invocation_time_s": 1234.5})
    assert runner.run_table(1, cfg, tmp_path, progress=False)["invocation_time_s"] == 1234.5
    assert len(calls) == 18

    frame = tables.table(1, cfg, tmp_path)
    assert frame.attrs["dataset"] == "SynthActions" and frame.attrs["profile"] == "cpu"
    assert frame.attrs["paper_dataset"] == "HMDB51" and frame.attrs["runs_missing"] == 0
    az = frame.loc["R3D + AZ"]
    assert az["seeds"] == 3 and az["top1_lo"] < az["top1"] < az["top1_hi"] and az["key"] == "R3D+AZ"
    assert az["paper_top1"] == 59.78 and frame.loc["R3D", "paper_top1"] == 54.94
    assert az["vs"] == "R3D" and az["diff_lo"] < az["diff_top1"] < az["diff_hi"]
    assert az["diff_lo"] > 0  # +30 points of correctness in the fake
    assert np.isnan(frame.loc["R3D"].get("diff_top1", np.nan))
    assert len(tables.row_runs(1, "R3D+AZ", cfg, tmp_path)) == 3
    assert sorted(tables.by_seed(tables.row_runs(1, "R3D+AZ", cfg, tmp_path))) == [0, 1, 2]
    assert az["diff_per_seed"].count("/") == 2  # one difference per seed
    with pytest.raises(KeyError, match=r"no row 'R3D \+ AZ'"):
        tables.row_runs(1, "R3D + AZ", cfg, tmp_path)  # a label is not a key

    t7 = runner.run_table(7, cfg, tmp_path, progress=False)
    frame7 = tables.table(7, cfg, tmp_path)
    # the paper's rows are the baseline's crops; the oracle crops are only in the swapped table
    assert "Center (60%)" in frame7.index and "Center (mean adaptive ratio)" in frame7.index
    assert not any("Oracle" in row for row in frame7.index)
    assert frame7.loc["Center (60%)", "paper_top1"] == 9.81 and frame7.loc["Adaptive", "paper_top1"] == 68.48
    # every crop has its Δ to the adaptive model's own crop (seed s with seed s); the adaptive row has none
    assert frame7.loc["Center (60%)", "vs"] == "Adaptive" and not np.isnan(frame7.loc["Center (60%)", "diff_top1"])
    assert np.isnan(frame7.loc["Adaptive"].get("diff_top1", np.nan))
    # the baseline's centre crop at the mean adaptive ratio used the adaptive run of its own seed
    for p in grid.plan(7, cfg):
        crops = files.read_json(records.run_dir(tmp_path, p.spec) / records.CROPS_FILE)
        if p.row.key == "baseline":
            assert crops["adaptive_scale"] == [0.5 + p.seed / 100, 0.7]
        else:
            assert crops["adaptive_scale"] is None
    swapped = tables.swapped_crops(cfg, tmp_path)
    assert "Oracle box, swapped in at test" in swapped.index and swapped.attrs["table"] == "7s"
    assert swapped.loc["Center (60%), swapped into the adaptive model", "vs"] == "Adaptive"
    # a row compared with one listed after it still gets its Δ (Table 4: every θ vs scale-only)
    runner.run_table(4, cfg, tmp_path, progress=False)
    frame4 = tables.table(4, cfg, tmp_path)
    assert frame4.loc["Adaptive all", "vs"] == "Adaptive scale"
    assert not np.isnan(frame4.loc["Adaptive all", "diff_top1"])
    assert t7["wall_time_s"] == pytest.approx(6 * (2.0 + 1.0))  # baseline and adaptive, 3 seeds


def test_records_of_other_code_are_retrained_or_used_only_when_asked_and_marked(tmp_path, fake_training,
                                                                                 monkeypatch):
    calls, cfg = fake_training, _cpu(experiments={"seeds": [0]})
    runner.run_table(5, cfg, tmp_path, progress=False)
    assert len(calls) == 2
    monkeypatch.setattr(records, "fingerprint", lambda patterns=None: "code-edited")  # an edit
    assert tables.table(5, cfg, tmp_path).attrs["runs_missing"] == 2  # never used silently
    reused = runner.run_table(5, cfg, tmp_path, progress=False, reuse_stale=True)
    assert len(calls) == 2 and len(reused["stale"]) == 2 and reused["stale"][0]["commit"] == "abc123"
    frame = tables.table(5, cfg, tmp_path, reuse_stale=True)
    assert frame.attrs["runs_stale"] == 2 and frame["stale"].tolist() == [1, 1]
    runner.run_table(5, cfg, tmp_path, progress=False)  # without the flag: retrained
    assert len(calls) == 4 and tables.table(5, cfg, tmp_path).attrs["runs_stale"] == 0


def test_reproduction_report_finds_published_records_by_key_or_by_settings(tmp_path, fake_training):
    cfg = _cpu(experiments={"seeds": [0], "tables": [5]})
    published, reproduced = tmp_path / "published", tmp_path / "reproduced"
    runner.run_table(5, cfg, published, progress=False)
    tables.save_table(tables.table(5, cfg, published), published)  # as chapter 04 does
    runner.run_table(5, cfg, reproduced, progress=False)
    report = reproduction.compare(cfg, reproduced, published)
    assert [r["verdict"] for r in report["runs"]] == ["identical"] * 2
    assert [r["verdict"] for r in report["tables"]] == ["identical"] * 2
    # records written before records carried provenance: found by the settings they name
    for i, provenance in enumerate(sorted(published.glob("runs/*/provenance.json"))):
        provenance.unlink()
        config = provenance.parent / records.CONFIG_FILE
        written = files.read_json(config)
        written["train"]["momentum"] = 0.9  # an older default, never read by AdamW: not a difference
        files.write_json(config, written)
        provenance.parent.rename(provenance.parent.with_name(f"legacy{i}"))  # keys of older code
    assert tables.table(5, cfg, published, reuse_stale=True)["top1"].isna().all()
    report = reproduction.compare(cfg, reproduced, published)
    assert [r["verdict"] for r in report["runs"]] == ["identical"] * 2
    assert [r["verdict"] for r in report["tables"]] == ["identical"] * 2
    # a different prediction is seen, a second record with the same settings is not guessed at
    changed = next(reproduced.glob("runs/*/predictions.npz"))
    arrays = files.load_npz(changed)
    files.save_npz(changed, {**arrays, "scores": arrays["scores"][::-1]})
    assert sorted(r["verdict"] for r in reproduction.compare(cfg, reproduced, published)["runs"]) == [
        "different", "identical"]
    twin = next(published.glob("runs/*/"))
    shutil.copytree(twin, twin.with_name("twin"))
    verdicts = [r["verdict"] for r in reproduction.compare(cfg, reproduced, published)["runs"]]
    assert "not published" in verdicts
    # publish: the reproduced records replace the published ones
    (reproduced / "notebooks").mkdir()
    reproduction.publish(reproduced, published)
    assert not (published / "runs" / "twin").exists()
    assert len(list(published.glob("runs/*/provenance.json"))) == 2


def test_a_bad_setting_stops_before_any_run(tmp_path, fake_training):
    with pytest.raises(ConfigError, match="experiments.backbones.X3D"):
        _cpu(experiments={"backbones": {"X3D": "x3d_huge"}})
    with pytest.raises(ConfigError, match="experiments.jobs"):
        _cpu(experiments={"jobs": 0})
    assert fake_training == [] and not (tmp_path / "runs").exists()


def test_a_lock_is_exclusive_refreshed_and_broken_only_when_stale(tmp_path, monkeypatch):
    first, second = runner.RunLock(tmp_path / "run"), runner.RunLock(tmp_path / "run")
    assert first.acquire() and not second.acquire()  # a live holder keeps it
    assert json.loads(first.path.read_text())["pid"] == os.getpid()
    first.release()
    assert not first.path.exists() and second.acquire()
    second.release()
    # a holder on this machine whose process is gone: stale at once
    files.write_json(first.path, {"host": socket.gethostname(), "pid": 999999, "since": 0})
    assert runner.RunLock(tmp_path / "run").is_stale()
    # another machine's holder: stale only when its heartbeat stops for LOCK_STALE_AFTER_S
    files.write_json(first.path, {"host": "elsewhere", "pid": 1, "since": 0})
    assert not runner.RunLock(tmp_path / "run").is_stale()
    old = time.time() - runner.LOCK_STALE_AFTER_S - 5
    os.utime(first.path, (old, old))
    taker = runner.RunLock(tmp_path / "run")
    assert taker.is_stale() and taker.acquire()
    taker.release()


def test_translation_outcome_compares_the_learned_translation_with_the_oracles_headroom(tmp_path, fake_training):
    """Chapter 03's answer: headroom = oracle box − oracle scale on actors anywhere (oracle_u),
    learned = Table 4u's scale+translation − scale; both tables test the same videos."""
    from azlib import report

    cfg = _cpu(experiments={"seeds": [0, 1]})
    assert report.translation_outcome(cfg, tmp_path).startswith("The oracles on actors anywhere")
    runner.run_table("oracle_u", cfg, tmp_path, progress=False)
    runner.run_table("4u", cfg, tmp_path, progress=False)
    assert {p.spec.synth.placement for p in grid.plan("oracle_u", cfg) + grid.plan("4u", cfg)} == {"uniform"}
    text = report.translation_outcome(cfg, tmp_path)
    # the fake's box oracle is right 30 points more often; its adaptive runs do not depend on θ's mode
    assert "headroom for translation" in text and "does not reliably capture it" in text, text
    assert "per seed" in text


def test_robustness_trains_the_oracle_table_on_each_draw_with_its_own_seeds(tmp_path, fake_training):
    from azlib import report
    from azlib.config import draw_profile

    cfg = _cpu(experiments={"seeds": [0], "draws": [77, 78], "draw_seeds": [5, 6]})
    drawn = draw_profile(cfg, 77)
    assert drawn.synth.seed == 77 and drawn.experiments.seeds == (5, 6) and drawn.experiments.draws == ()
    frame = report.robustness(cfg, tmp_path, progress=False)
    assert list(frame.columns) == ["paper, R(2+1)D (HMDB51 split 1)", "main draw", "draw 77", "draw 78"]
    assert frame.loc["AZ − centre [95 %]", "paper, R(2+1)D (HMDB51 split 1)"] == "+2.75"
    assert frame.loc["Oracle box, trained, top-1 %", "paper, R(2+1)D (HMDB51 split 1)"] == "—"
    assert frame.loc["synth seed; training seeds", "draw 78"] == "78; 5, 6"
    assert frame.loc["synth seed; training seeds", "main draw"] == f"{cfg.synth.seed}; 0"
    assert frame.loc["AZ − centre per seed", "draw 77"].count("/") == 1
    assert (tmp_path / "tables" / "robustness.csv").exists()
    trained = {(c["synth"]["seed"], c["seed"]) for c in
               (files.read_json(p) for p in (tmp_path / "runs").glob("*/config.json")) if c["kind"] == "train"}
    assert trained == {(cfg.synth.seed, 0), (77, 5), (77, 6), (78, 5), (78, 6)}
    assert len(fake_training) == 4 * 5  # four rows per (draw, seed)
    with pytest.raises(ConfigError, match="experiments.draws"):
        _cpu(experiments={"draws": [cfg.synth.seed]})


def test_a_rows_chosen_settings_stand_beside_it(tmp_path, fake_training):
    from azlib import report

    from azlib.settings import replace

    base = _cpu(experiments={"seeds": [0]})
    untuned = replace(base, "", experiments=replace(base.experiments, "experiments", row_settings={}))
    cfg = replace(untuned, "", experiments=replace(untuned.experiments, "experiments",
                                                   row_settings={"5/augment": {"train": {"lnet_lr_mult": 7.0}}}))
    runner.run_table(5, cfg, tmp_path, progress=False)
    frame = tables.table(5, cfg, tmp_path)
    assert frame.loc["Yes", "chosen"] == "train.lnet_lr_mult=7.0" and frame.loc["No", "chosen"] == ""
    shown = report.present(frame)
    assert shown.loc["Yes", "chosen on validation"] == "train.lnet_lr_mult=7.0" and shown.loc["No", "chosen on validation"] == "–"
    runner.run_table(5, untuned, tmp_path, progress=False)
    assert "chosen on validation" not in report.present(tables.table(5, untuned, tmp_path))
