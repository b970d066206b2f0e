"""Run records: keys from the settings and the code, atomic files, statistics over seeds and videos."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from scipy import stats as scipy_stats

from azlib import files, records, stats
from azlib.config import load_profile, run_spec
from azlib.errors import DataError
from azlib.settings import result_dict
from conftest import dead_writer_partial


def test_keys_hash_the_settings_and_the_code():
    spec = run_spec(load_profile("smoke"))
    text = json.dumps(result_dict(spec), sort_keys=True, separators=(",", ":"))
    assert records.spec_key(spec) == hashlib.sha256(text.encode()).hexdigest()[:12]  # anyone can recompute it
    assert records.run_key(spec) == records.key_for(records.spec_key(spec))
    assert records.key_for(records.spec_key(spec), code="other") != records.run_key(spec)
    assert records.run_dir("out", spec).as_posix() == f"out/runs/{records.run_key(spec)}"
    # a pretraining run is named by its settings, resolved under the current code wherever results are
    reference = records.run_reference(spec)
    assert reference == "run:" + records.spec_key(spec)
    assert records.resolve_weights(reference, "elsewhere") == \
        f"elsewhere/runs/{records.run_key(spec)}/{records.BACKBONE_WEIGHTS_FILE}"
    assert records.resolve_weights("kinetics400", "x") == "kinetics400"


def test_canonical_json_is_order_free():
    a = {"model": {"backbone": "r3d_18", "width": 8}, "seed": 0}
    b = {"seed": 0, "model": {"width": 8, "backbone": "r3d_18"}}
    assert files.digest(a) == files.digest(b) != files.digest({**a, "seed": 1})


def test_write_json_is_atomic_and_leaves_no_temporary(tmp_path):
    path = files.write_json(tmp_path / "x" / "metrics.json", {"top1": np.float32(50.0), "n": np.int64(3)})
    assert json.loads(path.read_text()) == {"n": 3, "top1": 50.0}
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]
    with pytest.raises(TypeError):
        files.write_json(tmp_path / "bad.json", {"x": object()})
    assert not list(tmp_path.glob("*bad*")) and not list(tmp_path.glob(".*"))


def test_damaged_files_are_named_never_trusted(tmp_path):
    (tmp_path / "m.json").write_text('{"top1": 5')
    with pytest.raises(DataError, match=r"m\.json: not valid JSON"):
        files.read_json(tmp_path / "m.json")
    path = files.save_npz(tmp_path / "p.npz", {"scores": np.arange(1000.0)})
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=r"p\.npz: damaged"):
        files.load_npz(path)


def test_leftovers_of_dead_writers_are_removed_live_ones_kept(tmp_path):
    dead = dead_writer_partial(tmp_path / "a" / "metrics.json")
    with files.atomic_path(tmp_path / "a" / "live.json") as live:
        live.write_text("{}")
        assert files.remove_stale_partials(tmp_path) == [dead]  # this process is alive
        assert live.exists() and not dead.exists()
    assert (tmp_path / "a" / "live.json").is_file()


def test_t_interval_matches_scipy_and_handles_one_seed():
    values = [60.0, 64.0, 62.0]
    mean, lo, hi = stats.t_interval(values)
    ref = scipy_stats.t.interval(0.95, 2, loc=62.0, scale=scipy_stats.sem(values))
    assert mean == 62.0 and (lo, hi) == pytest.approx(ref)
    one = stats.t_interval([70.0])
    assert one[0] == 70.0 and np.isnan(one[1]) and np.isnan(one[2])
    assert stats.accuracy_interval([99.0, 100.0, 100.0])[2] == 100.0  # clipped
