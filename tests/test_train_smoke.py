"""The real smoke configuration end to end: SynthActions -> store -> model -> train -> record,
its provenance, reuse across code versions, locks between processes, resume."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from azlib import files, grid, provenance, records, runner, tables
from azlib.config import REPO_ROOT, deep_merge, load_profile, run_spec
from azlib.settings import to_dict
from azlib.training.evaluate import CROP_VARIANTS
from azlib.training.fit import Interrupted
from azlib.training.run import train_run

# the smoke profile with half its videos (16) and smaller frames: plumbing, not accuracy
TINY = {"synth": {"videos_per_actor_class": 1}, "clip": {"resize": [40, 54], "crop": 32}}
TINY_SETS = ["--set", "synth.videos_per_actor_class=1", "--set", "clip.resize=[40, 54]",
             "--set", "clip.crop=32"]


def _smoke(extra=None):
    return load_profile("smoke", deep_merge(TINY, extra or {}))


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory):
    return tmp_path_factory.mktemp("smoke_results")


def test_smoke_run_writes_its_record_and_is_reused(smoke_out):
    spec = run_spec(_smoke())
    metrics = train_run(spec, smoke_out, crops=True, progress=False)
    folder = records.run_dir(smoke_out, spec)
    assert files.read_json(folder / records.CONFIG_FILE) == json.loads(json.dumps(to_dict(spec)))
    for name in (records.METRICS_FILE, records.PREDICTIONS_FILE, records.LOG_FILE, records.PROVENANCE_FILE,
                 records.CHECKPOINT_FILE, records.CROPS_FILE):
        assert (folder / name).is_file(), name
    assert 0 <= metrics["top1"] <= metrics["top5"] <= 100
    assert metrics["dataset"] == "synthactions" and metrics["key"] == folder.name
    assert metrics["wall_time_s"] > 0
    pred = records.load_predictions(folder)
    assert len(pred["labels"]) == metrics["num_test"] and pred["scores"].shape[1] == metrics["num_classes"]
    assert (pred["clips"] == spec.clip.test_clips).all()
    assert np.isfinite(pred["box"]).all()  # SynthActions knows the true box
    crops = files.read_json(folder / records.CROPS_FILE)["variants"]
    assert set(crops) == set(CROP_VARIANTS)
    assert crops["adaptive"]["top1"] == pytest.approx(metrics["top1"])
    # a second call reuses the record (same numbers, nothing retrained)
    before = (folder / records.METRICS_FILE).stat().st_mtime_ns
    again = train_run(spec, smoke_out, crops=True, progress=False)
    assert again == metrics and (folder / records.METRICS_FILE).stat().st_mtime_ns == before


def test_a_record_says_what_produced_it(smoke_out):
    spec = run_spec(_smoke())
    train_run(spec, smoke_out, progress=False)
    made = records.load_run(records.run_dir(smoke_out, spec)).provenance
    assert made["fingerprint"] == provenance.fingerprint() and made["spec_key"] == records.spec_key(spec)
    assert re.fullmatch(r"[0-9a-f]{40}", made["commit"]) and isinstance(made["dirty"], bool)
    versions = made["environment"]["versions"]
    assert versions["torch"] == "2.14.1" and versions["av"] and versions["python"]
    assert made["environment"]["cpu"] and made["environment"]["torch_threads"] >= 1
    assert made["started"] <= made["finished"] and made["wall_time_s"] > 0
    assert made["excluded_videos"] == [] and "16 usable" in made["dataset"]


def test_a_run_with_validation_trains_without_the_held_out_actors_and_scores_them(smoke_out):
    spec = run_spec(_smoke({"validation": 0.25, "experiments": {"tune_seed": 5}}))
    metrics = train_run(spec, smoke_out, progress=False)
    folder = records.run_dir(smoke_out, spec)
    held = records.load_predictions(folder, "validation")
    test = records.load_predictions(folder)
    assert metrics["num_validation"] == len(held["labels"]) > 0 and 0 <= metrics["validation_top1"] <= 100
    whole = train_run(run_spec(_smoke()), smoke_out, progress=False)
    assert metrics["num_train"] + metrics["num_validation"] == whole["num_train"]
    actor = lambda name: str(name).split("_")[-2]
    assert {actor(n) for n in held["name"]}.isdisjoint(actor(n) for n in test["name"])


def test_table7_row_at_the_baselines_own_crop_is_the_baseline_itself(smoke_out):
    """The paper's "Center (87.5%)" is its baseline's own test crop (112 of 128): our row whose α
    is clip.crop / short side (here 32 of 40: 80 %) must give the baseline's top-1 exactly."""
    spec = run_spec(_smoke({"model": {"zoom": "none"}}))
    alpha = spec.clip.crop / min(spec.clip.resize)
    assert f"centre_{alpha:g}" in CROP_VARIANTS
    metrics = train_run(spec, smoke_out, crops=(0.55, 0.7), progress=False)
    folder = records.run_dir(smoke_out, spec)
    crops = json.loads((folder / records.CROPS_FILE).read_text())
    assert crops["variants"][f"centre_{alpha:g}"]["top1"] == metrics["top1"]
    own, same = records.load_predictions(folder), records.load_predictions(folder, f"centre_{alpha:g}")
    np.testing.assert_array_equal(own["scores"], same["scores"])
    # the centre crop at the mean adaptive ratio is the adaptive scale it was given
    mean_crop = records.load_predictions(folder, "centre_mean_adaptive")
    np.testing.assert_allclose(mean_crop["theta"][:, 0, 0], 0.55, atol=1e-6)
    assert crops["adaptive_scale"] == [0.55, 0.7]


def test_smoke_baseline_from_the_cli(smoke_out, capsys):
    from azlib.__main__ import main

    assert main(["train", "--profile", "smoke", "--out", str(smoke_out), "--no-progress",
                 "--set", "model.zoom=none", "--set", "pretrain.enabled=false", *TINY_SETS]) == 0
    printed = capsys.readouterr().out
    spec = run_spec(_smoke({"model": {"zoom": "none"}, "pretrain": {"enabled": False}}))
    assert '"top1"' in printed and printed.strip().endswith(str(records.run_dir(smoke_out, spec)))
    assert records.load_run(records.run_dir(smoke_out, spec)).config["model"]["zoom"] == "none"


def test_smoke_pretraining_then_fine_tuning(smoke_out):
    cfg = _smoke({"pretrain": {"enabled": True, "seed": 0, "synth": {"seed": 99, "videos_per_actor_class": 1}},
                  "experiments": {"seeds": [0]}})
    planned = [p for p in grid.plan(5, cfg) if p.row.key == "no_augment"]
    runner.run_table(5, cfg, smoke_out, progress=False)
    pre = planned[0].pretrain
    weights = records.run_dir(smoke_out, pre) / records.BACKBONE_WEIGHTS_FILE
    assert weights.is_file() and planned[0].spec.model.pretrained == "run:" + records.spec_key(pre)
    assert records.resolve_weights(planned[0].spec.model.pretrained, smoke_out) == str(weights)
    assert records.load_run(records.run_dir(smoke_out, pre)).metrics["kind"] == "pretrain"
    frame = tables.table(5, cfg, smoke_out)
    assert list(frame.index) == ["No", "Yes"] and frame.attrs["dataset"] == "SynthActions"
    assert (smoke_out / "tables" / "table5.json").is_file()


def test_runs_side_by_side_give_the_records_of_runs_one_after_the_other(smoke_out, tmp_path):
    """--jobs 2: the same table in two processes writes the same numbers as the serial run above."""
    cfg = _smoke({"pretrain": {"enabled": True, "seed": 0, "synth": {"seed": 99, "videos_per_actor_class": 1}},
                  "experiments": {"seeds": [0], "jobs": 2}})
    runner.run_table(5, cfg, smoke_out, progress=False, jobs=1)  # serial (reused if done above)
    parallel = runner.run_table(5, cfg, tmp_path, progress=False)
    assert parallel["complete"] == 3 and parallel["missing"] == 0
    for p in grid.plan(5, cfg):
        serial_run, parallel_run = records.run_dir(smoke_out, p.spec), records.run_dir(tmp_path, p.spec)
        assert files.read_json(parallel_run / records.METRICS_FILE)["top1"] == \
            files.read_json(serial_run / records.METRICS_FILE)["top1"]
        np.testing.assert_array_equal(records.load_predictions(parallel_run)["scores"],
                                      records.load_predictions(serial_run)["scores"])


def test_smoke_interrupted_run_resumes_to_the_same_metrics(smoke_out):
    spec = run_spec(_smoke({"train": {"epochs": 2}}))
    folder = records.run_dir(smoke_out, spec)
    shutil.rmtree(folder, ignore_errors=True)
    whole = train_run(spec, smoke_out, progress=False)
    whole_scores = records.load_predictions(folder)["scores"]
    whole_log = [json.loads(line) for line in open(folder / records.LOG_FILE)]
    shutil.rmtree(folder)

    def stop_after_first_epoch(epoch, row):
        if epoch == 0:
            raise Interrupted("simulated crash after epoch 1")

    with pytest.raises(Interrupted):
        train_run(spec, smoke_out, progress=False, on_epoch_end=stop_after_first_epoch)
    assert not records.is_complete(folder) and (folder / records.CHECKPOINT_FILE).is_file()
    resumed = train_run(spec, smoke_out, progress=False)
    for key in ("top1", "top5", "final_loss", "mean_scale"):
        assert resumed[key] == whole[key], key
    np.testing.assert_array_equal(records.load_predictions(folder)["scores"], whole_scores)
    resumed_log = [json.loads(line) for line in open(folder / records.LOG_FILE)]
    assert [r["loss"] for r in resumed_log] == [r["loss"] for r in whole_log]


def _experiments(package_root, out, *extra, table="5"):
    """``python -m azlib experiments`` on the tiny smoke table, with azlib from ``package_root``."""
    env = {**os.environ, "PYTHONPATH": str(package_root), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "azlib", "experiments", "--profile", "smoke", "--table", table,
               "--out", str(out), "--no-progress", "--jobs", "1", "--set", "pretrain.enabled=false",
               *TINY_SETS, *extra]
    return subprocess.Popen(command, cwd=package_root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(process):
    """The command's whole output: the result on stdout, the run log on stderr."""
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    return out + err


def test_only_an_edit_to_code_that_decides_numbers_makes_records_stale(tmp_path):
    package = tmp_path / "package"
    shutil.copytree(REPO_ROOT / "azlib", package / "azlib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "params", package / "params")
    out = tmp_path / "results"
    _finish(_experiments(package, out))  # trains the table's two runs

    def planned(*extra):
        return re.search(r"runs, (\d+) done[^,]*, (\d+) to train;", _finish(_experiments(package, out, "--dry-run", *extra)))

    assert planned().groups() == ("2", "0")
    # execution settings and another spelling of the data root keep every key
    assert planned("--set", "clip.workers=1", "--set", "synth.workers=1", "--jobs", "2").groups() == ("2", "0")
    report = package / "azlib" / "report.py"  # presentation only: records are reused
    report.write_text(report.read_text().replace("def caption(", "def caption_(").replace(
        "return text\n\n\ndef present", "return text\n\n\ncaption = caption_\n\n\ndef present"))
    zoom = package / "azlib" / "models" / "zoom.py"
    zoom.write_text(zoom.read_text().replace('"""θ (B,2,3) of a square crop', '"""θ (B, 2, 3) of a square crop'))
    assert planned().groups() == ("2", "0")  # a docstring is not code
    # θ x 0.9 in the sampler: every run that samples is stale, retrained, never silently reused
    zoom.write_text(zoom.read_text().replace("theta = theta.to(clip.dtype)", "theta = 0.9 * theta.to(clip.dtype)"))
    assert planned().groups() == ("0", "2")
    assert "2 stale" in _finish(_experiments(package, out, "--dry-run", "--reuse-stale"))


def test_two_processes_on_one_folder_train_each_run_once(tmp_path):
    out = tmp_path / "shared"
    first, second = _experiments(REPO_ROOT, out, table="4"), _experiments(REPO_ROOT, out, table="4")
    outputs = [_finish(first), _finish(second)]
    trained = [int(re.search(r"\((\d+) trained by this process\)", o).group(1)) for o in outputs]
    assert sum(trained) == 4, outputs  # Table 4: four θ parameterisations, one seed
    assert len(list((out / "runs").glob(f"*/{records.METRICS_FILE}"))) == 4
    assert not list((out / "runs").glob("*/.lock"))
