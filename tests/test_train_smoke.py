"""The real smoke configuration end to end: SynthActions -> store -> model -> train -> record."""

from __future__ import annotations

import json

import numpy as np
import pytest

from azlib import experiments, records, train
from azlib.config import load_profile


# the smoke profile with half its videos (16) and smaller frames: plumbing, not accuracy
TINY = {"synth": {"videos_per_actor_class": 1}, "clip": {"resize": [40, 54], "crop": 32}}


def _smoke(extra=None):
    from azlib.config import deep_merge

    return load_profile("smoke", deep_merge(TINY, extra or {}))


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory):
    return tmp_path_factory.mktemp("smoke_results")


def test_smoke_run_writes_its_record_and_is_reused(smoke_out):
    run = train.run_config(_smoke())
    metrics = train.train_run(run, smoke_out, crops=True, progress=False)
    folder = records.run_dir(smoke_out, run)
    assert json.loads((folder / records.CONFIG_FILE).read_text()) == json.loads(records.canonical_json(run))
    for name in (records.METRICS_FILE, records.PREDICTIONS_FILE, records.LOG_FILE,
                 records.CHECKPOINT_FILE, records.CROPS_FILE):
        assert (folder / name).is_file(), name
    assert 0 <= metrics["top1"] <= metrics["top5"] <= 100
    assert metrics["dataset"] == "synthactions" and metrics["profile"] == "smoke"
    assert metrics["wall_time_s"] > 0 and metrics["hash"] == folder.name
    pred = records.load_predictions(folder)
    assert len(pred["labels"]) == metrics["num_test"] and pred["scores"].shape[1] == metrics["num_classes"]
    assert (pred["clips"] == run["clip"]["test_clips"]).all()
    assert np.isfinite(pred["box"]).all()  # SynthActions knows the true box
    crops = records.read_json(folder / records.CROPS_FILE)["variants"]
    assert set(crops) == set(train.CROP_VARIANTS)
    assert crops["adaptive"]["top1"] == pytest.approx(metrics["top1"])
    # a second call reuses the record (same numbers, nothing retrained)
    before = (folder / records.METRICS_FILE).stat().st_mtime_ns
    again = train.train_run(run, smoke_out, crops=True, progress=False)
    assert again == metrics and (folder / records.METRICS_FILE).stat().st_mtime_ns == before


def test_smoke_baseline_from_the_cli(smoke_out, capsys):
    from azlib.__main__ import main

    assert main(["train", "--profile", "smoke", "--out", str(smoke_out), "--no-progress",
                 "--set", "model.zoom=none", "--set", "pretrain.enabled=false",
                 "--set", "synth.videos_per_actor_class=1", "--set", "clip.resize=[40, 54]",
                 "--set", "clip.crop=32"]) == 0
    printed = capsys.readouterr().out
    assert '"top1"' in printed and "record:" in printed
    run = train.run_config(_smoke({"model": {"zoom": "none"}}))
    assert printed.strip().endswith(str(records.run_dir(smoke_out, run)))
    assert records.is_complete(records.run_dir(smoke_out, run))
    assert records.read_json(records.run_dir(smoke_out, run) / records.CONFIG_FILE)["model"]["zoom"] == "none"


def test_smoke_pretraining_then_fine_tuning(smoke_out):
    cfg = _smoke({"pretrain": {"enabled": True, "data_seed": 99, "seed": 0,
                                              "videos_per_actor_class": 1},
                                 "experiments": {"seeds": [0]}})
    planned = [p for p in experiments.plan(5, cfg, smoke_out) if p.row.label == "No"]
    experiments.run_table(5, cfg, smoke_out, progress=False)
    pre = planned[0].pretrain
    weights = records.run_dir(smoke_out, pre) / records.BACKBONE_WEIGHTS_FILE
    assert weights.is_file() and planned[0].config["model"]["pretrained"] == "run:" + records.config_hash(pre)
    assert records.resolve_weights(planned[0].config["model"]["pretrained"], smoke_out) == str(weights)
    assert records.read_json(records.run_dir(smoke_out, pre) / records.METRICS_FILE)["kind"] == "pretrain"
    frame = experiments.table(5, smoke_out, cfg)
    assert list(frame.index) == ["No", "Yes"] and frame.attrs["dataset"] == "SynthActions"
    assert (smoke_out / "tables" / "table5.json").is_file()


def test_runs_side_by_side_give_the_records_of_runs_one_after_the_other(smoke_out, tmp_path):
    """--jobs 2: the same table in two processes writes the same numbers as the serial run above."""
    cfg = _smoke({"pretrain": {"enabled": True, "data_seed": 99, "seed": 0,
                               "videos_per_actor_class": 1},
                  "experiments": {"seeds": [0], "jobs": 2}})
    experiments.run_table(5, cfg, smoke_out, progress=False, jobs=1)  # serial (reused if done above)
    parallel = experiments.run_table(5, cfg, tmp_path, progress=False)
    assert parallel["complete"] == 3 and parallel["missing"] == 0
    for p in experiments.plan(5, cfg, tmp_path):
        serial_run, parallel_run = records.run_dir(smoke_out, p.config), records.run_dir(tmp_path, p.config)
        assert records.read_json(parallel_run / records.METRICS_FILE)["top1"] == \
            records.read_json(serial_run / records.METRICS_FILE)["top1"]
        np.testing.assert_array_equal(records.load_predictions(parallel_run)["scores"],
                                      records.load_predictions(serial_run)["scores"])
    with pytest.raises(Exception, match="jobs"):
        experiments.run_table(5, _smoke({"experiments": {"jobs": 0}}), tmp_path, progress=False)


def test_smoke_interrupted_run_resumes_to_the_same_metrics(smoke_out):
    import shutil

    run = train.run_config(_smoke({"train": {"epochs": 2}}))
    folder = records.run_dir(smoke_out, run)
    shutil.rmtree(folder, ignore_errors=True)
    whole = train.train_run(run, smoke_out, progress=False)
    whole_scores = records.load_predictions(folder)["scores"]
    whole_log = [json.loads(line) for line in open(folder / records.LOG_FILE)]
    shutil.rmtree(folder)

    def stop_after_first_epoch(epoch, row):
        if epoch == 0:
            raise train.Interrupted("simulated crash after epoch 1")

    with pytest.raises(train.Interrupted):
        train.train_run(run, smoke_out, progress=False, on_epoch_end=stop_after_first_epoch)
    assert not records.is_complete(folder) and (folder / records.CHECKPOINT_FILE).is_file()
    resumed = train.train_run(run, smoke_out, progress=False)
    for key in ("top1", "top5", "final_loss", "mean_scale"):
        assert resumed[key] == whole[key], key
    np.testing.assert_array_equal(records.load_predictions(folder)["scores"], whole_scores)
    resumed_log = [json.loads(line) for line in open(folder / records.LOG_FILE)]
    assert [r["loss"] for r in resumed_log] == [r["loss"] for r in whole_log]
