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
    for overrides in ({"clip": {"workers": 4}}, {"synth": {"workers": 1}}, {"experiments": {"jobs": 1}},
                      {"data_root": "/mnt/somewhere/else/"}, {"allow_missing": 3}):
        assert records.run_key(run_spec(with_overrides(cpu, overrides))) == key, overrides
    assert "workers" not in result_dict(run_spec(cpu).clip) and "workers" in to_dict(run_spec(cpu).clip)
    assert records.run_key(run_spec(with_overrides(cpu, {"train": {"lr": 0.002}}))) != key


def test_pretraining_synth_is_the_main_synth_with_its_changes():
    cpu = load_profile("cpu")
    pre = pretrain_synth(cpu)
    assert pre.seed == 4321 and pre.num_classes == 12 and pre.width == cpu.synth.width


def test_validation_is_keyed_only_when_set_so_published_keys_stay():
    """``validation`` was added after the cpu records were published: at its default (0, no
    hold-out, how they were made) it leaves every key as it was; any other share is a new run."""
    import json

    from azlib.config import REPO_ROOT

    published = [json.loads(p.read_text()) for p in sorted((REPO_ROOT / "results" / "cpu" / "runs").glob("*/provenance.json"))]
    configs = {p["spec_key"]: json.loads((REPO_ROOT / "results" / "cpu" / "runs" / p["key"] / "config.json").read_text())
               for p in published[:5]}
    assert configs
    from azlib.config import RunSpec
    from azlib.settings import parse
    for key, config in configs.items():
        config.pop("validation", None)
        assert records.spec_key(parse(RunSpec, config, "run")) == key
    cpu = load_profile("cpu")
    base = run_spec(cpu)
    held = run_spec(with_overrides(cpu, {"validation": 0.2}))
    assert base.validation == 0.0 and "validation" not in result_dict(base)
    assert held.validation == 0.2 and records.spec_key(held) != records.spec_key(base)
    assert run_spec(with_overrides(cpu, {"validation": 0.2}), kind="pretrain").validation == 0.0
    with pytest.raises(ConfigError, match="validation"):
        run_spec(with_overrides(cpu, {"validation": 1.0}))
