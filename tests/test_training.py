"""azlib.training on small stand-ins: resume, schedules, evaluation, oracle crops."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from azlib import records
from azlib.config import load_profile, run_spec
from azlib.errors import ConfigError, DataError
from azlib.models.zoom import oracle_theta, theta_to_normalised_box
from azlib.training.evaluate import (CROP_VARIANTS, accuracy, evaluate, evaluate_crops, mean_scale,
                                     save_predictions, topk_correct)
from azlib.training.fit import Interrupted, build_optimizer, fit
from azlib.training.run import check_data
from train_standins import TRAIN_CFG, ClipTensors, TinyZoomModel


def _model(seed=0):
    torch.manual_seed(seed)
    return TinyZoomModel()


def _run(folder, cfg=TRAIN_CFG, seed=0, interrupt_after=None, data_seed=0):
    def stop(epoch, row):
        if interrupt_after is not None and epoch == interrupt_after:
            raise Interrupted(f"stopped after epoch {epoch}")

    model = _model(seed)
    summary = fit(model, ClipTensors(seed=data_seed), cfg, folder, seed=seed,
                        on_epoch_end=stop, progress=False, frame_hw=(8, 8))
    return model, summary


def _evaluate(model):
    test = ClipTensors(train=False, seed=1)
    return evaluate(model, test, test.videos, 3, batch_size=5, progress=False)


def test_resume_after_interruption_gives_the_same_model_and_metrics(tmp_path):
    full, full_summary = _run(tmp_path / "full")
    with pytest.raises(Interrupted):
        _run(tmp_path / "resumed", interrupt_after=0)
    log = [json.loads(line) for line in open(tmp_path / "resumed" / records.LOG_FILE)]
    assert [row["epoch"] for row in log] == [1]
    assert (tmp_path / "resumed" / records.CHECKPOINT_FILE).is_file()
    resumed, resumed_summary = _run(tmp_path / "resumed")

    for (name, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    losses = lambda s: [row["loss"] for row in s["log"]]
    assert losses(full_summary) == losses(resumed_summary)
    assert len(resumed_summary["log"]) == 3
    np.testing.assert_array_equal(_evaluate(full)["scores"], _evaluate(resumed)["scores"])
    # a finished run does not train again
    again, _ = _run(tmp_path / "resumed")
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(),
                                                 resumed.state_dict().values()))


def test_same_seed_same_numbers_and_another_seed_differs(tmp_path):
    _, a = _run(tmp_path / "a", seed=3)
    _, b = _run(tmp_path / "b", seed=3)
    _, c = _run(tmp_path / "c", seed=4)
    assert [r["loss"] for r in a["log"]] == [r["loss"] for r in b["log"]]
    assert [r["loss"] for r in a["log"]] != [r["loss"] for r in c["log"]]


def test_training_learns_the_standin_task(tmp_path):
    cfg = replace(TRAIN_CFG, epochs=6)
    model, summary = _run(tmp_path, cfg)
    assert summary["log"][-1]["loss"] < summary["log"][0]["loss"]
    assert accuracy(_evaluate(model))["top1"] > 60  # chance is 33 %


def test_lnet_learning_rate_multiplier_and_linear_warm_up(tmp_path):
    cfg = replace(TRAIN_CFG, lr=0.05, lnet_lr_mult=10.0, warmup_epochs=2, epochs=3)
    optimizer = build_optimizer(_model(), cfg)
    lrs = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert lrs == {"backbone": 0.05, "lnet": pytest.approx(0.5)}
    _, summary = _run(tmp_path, cfg)
    backbone_lr = [row["lr"]["backbone"] for row in summary["log"]]
    # 12 videos / batch 4 = 3 steps per epoch, 6 warm-up steps: lr at the last step of each epoch
    assert backbone_lr == pytest.approx([0.05 * 3 / 6, 0.05 * 6 / 6, 0.05])
    assert summary["log"][1]["lr"]["lnet"] == pytest.approx(0.5)


def test_plateau_multiplies_lr_by_a_tenth_when_the_loss_stops_improving(tmp_path):
    # One possible clip per video, θ given (no jitter), lr too small to change anything: the
    # epoch loss stays flat, so with patience 0 every epoch after the first divides lr by 10.
    cfg = replace(TRAIN_CFG, lr=1e-12, momentum=0.0, plateau_patience=0, epochs=3,
           theta_source="oracle")
    summary = fit(_model(), ClipTensors(frames=2, clip_len=2), cfg, tmp_path,
                        progress=False, frame_hw=(8, 8))
    lrs = [row["lr"]["backbone"] for row in summary["log"]]
    assert lrs == pytest.approx([1e-12, 1e-13, 1e-14], rel=1e-6)


def test_adamw_and_bf16_autocast_train(tmp_path):
    cfg = replace(TRAIN_CFG, optimizer="adamw", lr=1e-3, amp_bf16=True, epochs=1)
    model, summary = _run(tmp_path, cfg)
    assert np.isfinite(summary["log"][0]["loss"])
    assert all(p.dtype == torch.float32 for p in model.parameters())


class _ByVideo(torch.nn.Module):
    """Logits that depend only on the clip's index, to check the per-video averaging."""

    def forward(self, rgb, lnet=None, theta=None):
        first = rgb[:, 0, 0, 0, 0]
        logits = torch.stack([first, -first, torch.zeros_like(first)], 1)
        return {"logits": logits, "theta": torch.zeros(len(rgb), 2, 3) if theta is None else theta}


def test_evaluate_averages_softmax_over_each_videos_clips():
    test = ClipTensors(videos=5, train=False, test_clips=3)
    pred = evaluate(_ByVideo(), test, 5, 3, batch_size=4, progress=False)
    assert pred["clips"].tolist() == [3] * 5
    for v in range(5):
        clips = [test[v * 3 + c]["rgb"][0, 0, 0, 0] for c in range(3)]
        expected = np.mean([torch.stack([x, -x, torch.zeros(())]).softmax(0).numpy()
                            for x in clips], axis=0)
        np.testing.assert_allclose(pred["scores"][v], expected, rtol=1e-6)
    assert pred["labels"].tolist() == list(test.labels)
    np.testing.assert_allclose(pred["box"], test.boxes.numpy(), rtol=1e-6)
    acc = accuracy(pred)
    assert acc["top5"] == 100.0 and 0 <= acc["top1"] <= 100


def test_topk_and_predictions_file(tmp_path):
    pred = {"scores": np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]]), "labels": np.array([2, 0]),
            "clips": np.array([2, 2]), "theta": np.zeros((2, 2, 3)), "box": np.zeros((2, 4))}
    assert accuracy(pred)["top1"] == 50.0
    assert topk_correct(pred["scores"], pred["labels"], 2).tolist() == [True, True]
    save_predictions(tmp_path / records.PREDICTIONS_FILE, pred, ["a", "b"])
    loaded = records.load_predictions(tmp_path)
    assert loaded["name"].tolist() == ["a", "b"] and loaded["video"].tolist() == [0, 1]
    np.testing.assert_array_equal(loaded["scores"], pred["scores"])


def test_oracle_theta_covers_the_box_and_scale_only_stays_centred():
    box = torch.tensor([[0.1, -0.5, 0.3, 0.4], [-0.9, -0.2, -0.7, 0.2]])
    for translate in (True, False):
        theta = oracle_theta(box, (60, 80), translate=translate)
        crop = theta_to_normalised_box(theta)
        assert (crop[:, :2] <= box[:, :2] + 1e-6).all() and (crop[:, 2:] >= box[:, 2:] - 1e-6).all()
        assert (crop >= -1 - 1e-6).all() and (crop <= 1 + 1e-6).all()
        # square in pixels: width/height ratio of the normalised crop equals H/W
        side_ratio = (theta[:, 0, 0] * 80) / (theta[:, 1, 1] * 60)
        assert torch.allclose(side_ratio[0], torch.tensor(1.0))
    centred = oracle_theta(box, (60, 80), translate=False)
    assert torch.all(centred[:, :, 2] == 0)
    with pytest.raises(ValueError, match="NaN"):
        oracle_theta(torch.full((1, 4), float("nan")), (60, 80))


def test_crop_variants_pass_explicit_theta():
    test = ClipTensors(videos=4, train=False, test_clips=2)
    model = _model()
    variants = evaluate_crops(model, test, 4, 3, (8, 8), progress=False)
    assert set(variants) == set(CROP_VARIANTS)
    assert np.allclose(variants["centre_0.6"]["theta"][:, 0, 0], 0.6)
    mean = mean_scale(variants["adaptive"])
    assert np.allclose(variants["centre_mean_adaptive"]["theta"][:, 0, 0], mean[0], atol=1e-6)
    random_scale = variants["random"]["theta"][:, 0, 0]
    assert ((random_scale ** 2 >= 0.8 - 1e-5) & (random_scale ** 2 <= 1 + 1e-5)).all()


def test_a_real_dataset_without_data_root_or_data_stops_before_work(tmp_path):
    paper = load_profile("paper", {"device": "cpu"})
    with pytest.raises(ConfigError, match="data_root: dataset 'hmdb51' needs a data root"):
        check_data(run_spec(paper), tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="HMDB51 split folder.*empty"):
        check_data(run_spec(paper, data_root=str(tmp_path / "empty")), tmp_path)


def test_a_diverging_run_stops_with_a_message_instead_of_a_nan_record(tmp_path):
    cfg = replace(TRAIN_CFG, lr=1e30, epochs=2)
    with pytest.raises(FloatingPointError, match="train.lr"):
        _run(tmp_path, cfg)
    assert not (tmp_path / records.METRICS_FILE).exists()
