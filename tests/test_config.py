"""Typed profiles: every default in one place, unknown or mistyped keys named, run specs resolved."""

from __future__ import annotations

import pytest

from azlib import records
from azlib.config import (PROFILES, ClipSettings, ModelSettings, Profile, load_profile, parse_sets,
                          pretrain_synth, run_spec, with_overrides)
from azlib.errors import ConfigError
from azlib.settings import result_dict, to_dict


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_loads_typed(name):
    profile = load_profile(name)
    assert isinstance(profile, Profile) and profile.name == name
    assert isinstance(profile.clip, ClipSettings) and isinstance(profile.model, ModelSettings)
    assert all(isinstance(t, str) for t in profile.experiments.tables)


def test_the_defaults_are_the_papers_settings():
    paper = load_profile("paper")
    assert (paper.clip.frames, paper.clip.resize, paper.clip.crop, paper.clip.test_clips) == (16, (128, 171), 112, 10)
    assert (paper.train.optimizer, paper.train.lr, paper.train.momentum, paper.train.batch_size) == ("sgd", 0.01, 0.1, 256)
    assert (paper.extract.scale, paper.model.lnet, paper.model.theta_mode) == (4, "efficientnet_b0", "scale")


def test_unknown_and_mistyped_keys_are_named():
    with pytest.raises(ConfigError, match=r"^train\.lrr: unknown setting \(did you mean train\.lr\?\)"):
        load_profile("cpu", {"train": {"lrr": 0.1}})
    with pytest.raises(ConfigError, match=r"^tarin: unknown setting \(did you mean train\?\)"):
        load_profile("cpu", {"tarin": {"lr": 0.1}})
    with pytest.raises(ConfigError, match=r"^train\.epochs: expected int, got 'many'"):
        load_profile("cpu", {"train": {"epochs": "many"}})
    with pytest.raises(ConfigError, match=r"^model\.backbone: expected one of 'r3d_18'.*got 'vgg'"):
        load_profile("cpu", {"model": {"backbone": "vgg"}})
    with pytest.raises(ConfigError, match=r"^clip\.resize: expected a list of 2"):
        load_profile("cpu", {"clip": {"resize": [60]}})
    with pytest.raises(ConfigError, match=r"^train\.lr: expected a positive number"):
        load_profile("cpu", {"train": {"lr": 0}})
    with pytest.raises(ConfigError, match="nosuch"):
        load_profile("nosuch")
    with pytest.raises(ConfigError, match="expected key.sub=value"):
        parse_sets(["train.lr"])


def test_set_overrides_merge_deeply():
    profile = load_profile("smoke", parse_sets(["model.backbone=x3d_s", "clip.resize=[40, 54]", "clip.crop=32"]))
    assert profile.model.backbone == "x3d_s" and profile.clip.resize == (40, 54)
    assert profile.model.theta_mode == load_profile("smoke").model.theta_mode


def test_run_spec_resolves_x3d_sizes_and_kinetics_lr():
    paper = load_profile("paper")
    spec = run_spec(paper, {"model": {"backbone": "x3d_m"}}, dataset="kinetics_static")
    assert (spec.clip.resize, spec.clip.crop, spec.train.lr) == ((256, 342), 224, 0.001)
    hmdb = run_spec(paper, dataset="hmdb51")
    assert (hmdb.clip.crop, hmdb.train.lr, hmdb.synth) == (112, 0.01, None)
    with pytest.raises(ConfigError, match="theta_source"):
        run_spec(paper, {"train": {"theta_source": "oracle"}}, dataset="hmdb51")


def test_execution_settings_never_change_a_run_key():
    cpu = load_profile("cpu")
    key = records.run_key(run_spec(cpu))
    for overrides in ({"clip": {"workers": 4}}, {"clip": {"cache_mib": 0}}, {"synth": {"workers": 1}},
                      {"experiments": {"jobs": 1}},
                      {"data_root": "/mnt/somewhere/else/"}, {"allow_missing": 3}):
        assert records.run_key(run_spec(with_overrides(cpu, overrides))) == key, overrides
    assert "workers" not in result_dict(run_spec(cpu).clip) and "workers" in to_dict(run_spec(cpu).clip)
    assert records.run_key(run_spec(with_overrides(cpu, {"train": {"lr": 0.002}}))) != key


def test_pretraining_synth_is_the_main_synth_with_its_changes():
    cpu = load_profile("cpu")
    pre = pretrain_synth(cpu)
    assert pre.seed == 4321 and pre.num_classes == 12 and pre.width == cpu.synth.width


def test_validation_is_keyed_only_when_set_so_published_keys_stay():
    """Every published record is found again: its key is recomputed from its config by this code.
    ``validation`` was added after the first records were made: at its default (0, no hold-out)
    it leaves a key as it was without the field; any other share is a new run."""
    import json

    from azlib.config import REPO_ROOT, RunSpec
    from azlib.settings import parse

    runs = REPO_ROOT / "results" / "cpu" / "runs"
    published = [json.loads(p.read_text()) for p in sorted(runs.glob("*/provenance.json"))]
    configs = {p["spec_key"]: json.loads((runs / p["key"] / "config.json").read_text()) for p in published}
    assert len(configs) >= 50
    for key, config in configs.items():
        assert records.spec_key(parse(RunSpec, config, "run")) == key
    adaptive = next(c for c in configs.values() if c["model"]["zoom"] == "adaptive" and c["kind"] == "train")
    without = {k: v for k, v in adaptive.items() if k != "validation"}
    assert records.spec_key(parse(RunSpec, without, "run")) == \
        records.spec_key(parse(RunSpec, without | {"validation": 0.0}, "run"))
    cpu = load_profile("cpu")
    base = run_spec(with_overrides(cpu, {"validation": 0.0}))
    held = run_spec(with_overrides(cpu, {"validation": 0.2}))
    assert base.validation == 0.0 and "validation" not in result_dict(base)
    assert held.validation == 0.2 and records.spec_key(held) != records.spec_key(base)
    assert run_spec(with_overrides(cpu, {"validation": 0.2}), kind="pretrain").validation == 0.0
    with pytest.raises(ConfigError, match="validation"):
        run_spec(with_overrides(cpu, {"validation": 1.0}))


def test_a_baseline_is_keyed_only_by_what_it_reads():
    """A baseline (model.zoom: none) builds a fixed crop and reads no store: LNet, θ and extraction
    settings leave its key alone (so per-row LNet tuning keeps its records) and its model and
    optimiser are the same; an adaptive run is keyed by all of them."""
    import torch

    from azlib.config import BASELINE_UNREAD
    from azlib.models.az import build_model
    from azlib.training.fit import param_groups
    from azlib.training.run import reads_lnet_input

    cpu = load_profile("cpu")
    changes = {"model": {"lnet": "efficientnet_b0", "lnet_width": 4, "lnet_input": "mv", "lnet_moments": False,
                         "lnet_norm": "sample", "theta_mode": "all", "augment": False, "s_min": 0.5,
                         "init_scale": 1.0, "augment_shear": 0.2, "augment_translation": 0.2, "max_shear": 0.1},
               "train": {"lnet_lr_mult": 7.0}, "extract": {"scale": 2}}
    changes["model"]["lnet_pretrained"] = "lnet.pt"
    assert set(changes["model"]) == set(BASELINE_UNREAD["model"]) and set(changes["train"]) == set(BASELINE_UNREAD["train"])
    base = run_spec(with_overrides(cpu, {"model": {"zoom": "none"}}))
    moved = run_spec(with_overrides(cpu, {**changes, "model": {**changes["model"], "zoom": "none"}}))
    assert records.spec_key(base) == records.spec_key(moved)
    assert not reads_lnet_input(base) and not reads_lnet_input(moved)
    for setting in ({"model": {"crop_alpha": 0.5}}, {"model": {"backbone": "r2plus1d_18"}}, {"train": {"lr": 0.01}},
                    {"clip": {"crop": 40}}):
        assert records.spec_key(run_spec(with_overrides(cpu, {**setting, "model": {
            "zoom": "none", **setting.get("model", {})}}))) != records.spec_key(base), setting
    built = []
    for spec in (base, moved):
        torch.manual_seed(0)
        kwargs = {k: v for k, v in to_dict(spec.model).items() if k != "pretrained"}
        model = build_model(num_classes=10, crop=spec.clip.crop, frames=spec.clip.frames,
                            frame_size=tuple(spec.clip.resize), **kwargs)
        groups = param_groups(model, spec.train.lr, spec.train.lnet_lr_mult)
        built.append((model.state_dict(), [(g.get("name"), g["lr"], len(g["params"])) for g in groups]))
    assert built[0][1] == built[1][1] and built[0][0].keys() == built[1][0].keys()
    assert all(torch.equal(built[0][0][k], built[1][0][k]) for k in built[0][0])
    adaptive = run_spec(cpu)
    assert adaptive.model.zoom == "adaptive"
    for section, values in changes.items():
        for name, value in values.items():
            other = run_spec(with_overrides(cpu, {section: {name: value}}))
            assert records.spec_key(other) != records.spec_key(adaptive), (section, name)


def test_choices_are_made_with_a_seed_no_table_reports():
    cpu = load_profile("cpu")
    assert cpu.validation > 0 and cpu.experiments.tune_seed not in cpu.experiments.seeds
    with pytest.raises(ConfigError, match="experiments.tune_seed"):
        with_overrides(cpu, {"experiments": {"tune_seed": cpu.experiments.seeds[0]}})
    # without a validation set there is nothing to tune: no constraint (the paper profile)
    with_overrides(cpu, {"validation": 0.0, "experiments": {"tune_seed": cpu.experiments.seeds[0]}})
