"""Run records: stable hashes, atomic JSON, statistics over seeds and paired over videos."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from azlib import records, results


def test_config_hash_is_stable_order_free_and_sensitive():
    a = {"model": {"backbone": "r3d_18", "width": 8}, "seed": 0}
    b = {"seed": 0, "model": {"width": 8, "backbone": "r3d_18"}}
    assert records.config_hash(a) == records.config_hash(b)
    assert len(records.config_hash(a)) == 12 and int(records.config_hash(a), 16) >= 0
    assert records.config_hash(a) != records.config_hash({**a, "seed": 1})
    # sha256 of the canonical JSON, so anyone can recompute it
    import hashlib
    text = json.dumps(a, sort_keys=True, separators=(",", ":"))
    assert records.config_hash(a) == hashlib.sha256(text.encode()).hexdigest()[:12]
    assert records.run_dir("out", a).as_posix() == f"out/runs/{records.config_hash(a)}"


def test_write_json_is_atomic_and_leaves_no_temporary(tmp_path):
    path = records.write_json(tmp_path / "x" / "metrics.json", {"top1": np.float32(50.0), "n": np.int64(3)})
    assert json.loads(path.read_text()) == {"n": 3, "top1": 50.0}
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]
    with pytest.raises(TypeError):
        records.write_json(tmp_path / "bad.json", {"x": object()})
    assert not (tmp_path / "bad.json").exists()


def test_t_interval_matches_scipy_and_handles_one_seed():
    values = [60.0, 64.0, 62.0]
    mean, lo, hi = records.t_interval(values)
    ref = stats.t.interval(0.95, 2, loc=62.0, scale=stats.sem(values))
    assert mean == 62.0 and (lo, hi) == pytest.approx(ref)
    one = records.t_interval([70.0])
    assert one[0] == 70.0 and np.isnan(one[1]) and np.isnan(one[2])


def test_paired_bootstrap_interval_brackets_the_difference():
    rng = np.random.default_rng(0)
    base = (rng.random(400) < 0.5).astype(float)
    better = np.where(rng.random(400) < 0.3, 1.0, base)  # flips some wrong answers to right
    diff, lo, hi = records.paired_bootstrap(base, better, n_boot=2000)
    assert diff == pytest.approx(100 * (better.mean() - base.mean()))
    assert 0 < lo < diff < hi
    same, lo0, hi0 = records.paired_bootstrap(base, base, n_boot=500)
    assert same == lo0 == hi0 == 0.0
    with pytest.raises(ValueError, match="equal-length"):
        records.paired_bootstrap(base, base[:10])


def test_results_reexports_records_and_keeps_the_paper_numbers():
    assert results.config_hash is records.config_hash
    assert results.PAPER_TABLE1_HMDB51[("R3D", False)]["top1"][0] == 54.94
    assert callable(results.our_table)
