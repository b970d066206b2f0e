"""benchmarks/replicate.py: the oracle table on another SynthActions draw, with a row-only override."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from azlib.records import load_run

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "replicate.py"


def _module():
    spec = importlib.util.spec_from_file_location("replicate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_replicate_trains_a_draw_changes_only_the_adaptive_row_and_reports(tmp_path, capsys):
    replicate = _module()
    out = tmp_path / "draw"
    args = ["--profile", "smoke", "--synth-seed", "77", "--seeds", "0", "--out", str(out), "--jobs", "1",
            "--adaptive-set", "train.lnet_lr_mult=1.5"]
    assert replicate.main(args) == 0
    printed = capsys.readouterr().out
    assert "SynthActions draw 77 (smoke profile)" in printed and "  adaptive " in printed
    result = json.loads((out / "replicate.json").read_text())
    assert result["synth_seed"] == 77 and set(result["rows"]) == {"centre", "adaptive", "oracle_scale", "oracle_box"}
    assert all("diff" in row for key, row in result["rows"].items() if key != "centre")
    runs = [load_run(p.parent) for p in (out / "runs").glob("*/metrics.json")]
    finetuned = [r for r in runs if r.config["kind"] == "train"]
    # one pretraining run, shared by every row (the adaptive row's change does not re-key it)
    assert len([r for r in runs if r.config["kind"] == "pretrain"]) == 1
    assert len({r.config["model"]["pretrained"] for r in finetuned}) == 1
    assert len(finetuned) == 4 and {r.config["synth"]["seed"] for r in finetuned} == {77}
    mults = {r.config["model"]["zoom"] == "adaptive": r.config["train"]["lnet_lr_mult"] for r in finetuned
             if r.config["model"]["zoom"] == "adaptive" or r.config["train"]["theta_source"] == "model"}
    assert mults[True] == 1.5 and mults[False] != 1.5
    # a second call reuses every run and reports the same numbers
    assert replicate.main(args + ["--report-only"]) == 0
    assert json.loads((out / "replicate.json").read_text())["rows"] == result["rows"]


def test_a_draw_named_in_the_profile_can_be_replicated():
    """replicate.py on one of the profile's own robustness draws: that draw's profile (its seed,
    the draws' training seeds), not an error for naming a draw that is also listed."""
    from azlib.config import load_profile

    cpu = load_profile("cpu")
    for seed in cpu.experiments.draws:
        profile, adaptive = _module().profiles("cpu", seed, [], [])
        assert profile.synth.seed == seed and adaptive.synth.seed == seed and profile.experiments.draws == ()
        assert profile.experiments.seeds == (cpu.experiments.draw_seeds or cpu.experiments.seeds)
