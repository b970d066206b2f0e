"""The seed × actor × video bootstrap: groups from names, intervals that widen with actor spread."""

import numpy as np
import pytest

from azlib import stats


def test_video_groups_read_actor_and_ucf_group():
    groups = stats.video_groups(["bow_a05_v00", "jump_a12_v03", "v_ApplyEyeMakeup_g08_c01", "brush_hair_x"])
    assert list(groups[:3]) == ["a05", "a12", "g08"]
    assert groups[3] == "video:brush_hair_x"  # no actor in the name: its own group


def _design(gain_by_actor, seeds=3, actors=6, videos=40, base=0.6, seed=1):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"a{i:02d}" for i in range(actors)], videos)
    a = (rng.random((seeds, groups.size)) < base).astype(float)
    p_b = base + np.repeat(gain_by_actor, videos)
    b = (rng.random((seeds, groups.size)) < p_b).astype(float)
    return a, b, groups


def test_consistent_gain_is_detected_and_per_seed_reported():
    a, b, groups = _design([0.2] * 6)
    r = stats.seed_group_bootstrap(a, b, groups, n_boot=2000)
    assert r["lo"] > 0 and r["lo"] < r["diff"] < r["hi"]
    assert r["seeds"] == 3 and r["groups"] == 6
    assert np.allclose(r["per_seed"], (b - a).mean(axis=1) * 100)
    assert r["diff"] == pytest.approx(np.mean(r["per_seed"]))


def test_gain_carried_by_one_actor_widens_the_interval_beyond_the_video_bootstrap():
    a, b, groups = _design([0.35, -0.05, -0.05, 0.0, -0.05, 0.0])
    hier = stats.seed_group_bootstrap(a, b, groups, n_boot=2000)
    # resampling videos only (one pooled seed, each video its own group): far narrower
    videos = stats.seed_group_bootstrap(a.mean(axis=0), b.mean(axis=0), groups.size and
                                        [str(i) for i in range(groups.size)], n_boot=2000)
    assert (hier["hi"] - hier["lo"]) > 1.5 * (videos["hi"] - videos["lo"])


def test_no_difference_is_not_detected_and_detectable_difference_follows_the_error():
    a, b, groups = _design([0.0] * 6)
    r = stats.seed_group_bootstrap(a, b, groups, n_boot=2000)
    assert r["lo"] < 0 < r["hi"]
    assert stats.detectable_difference(r["se"]) == pytest.approx(2.8 * r["se"])
    assert stats.seeds_needed(r["se"], r["se"], 3) == int(np.ceil(3 * 2.8 ** 2))
    assert stats.seeds_needed(0.0, r["se"], 3) is None


def test_shapes_are_checked():
    with pytest.raises(ValueError):
        stats.seed_group_bootstrap(np.ones((3, 10)), np.ones((2, 10)), ["a01"] * 10)
    with pytest.raises(ValueError):
        stats.seed_group_bootstrap(np.ones((3, 10)), np.ones((3, 10)), ["a01"] * 9)
