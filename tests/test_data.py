"""Dataset format: round trip, validation and corruption detection."""

import json

import numpy as np
import pytest
from conftest import smooth_episodes, write_dataset

from ambient_bench.data import DatasetError, load_dataset, write_annotation
from ambient_bench.task import Episode


def test_round_trip_across_shards(tmp_path):
    episodes = smooth_episodes(25, seed=3)
    ds = write_dataset(tmp_path / "d", episodes, "clean", shard_size=10)
    assert ds.n_episodes == 25 and len(list((tmp_path / "d").glob("shard-*.npz"))) == 3
    for i in (0, 9, 10, 24):
        ep = ds.episode(i)
        np.testing.assert_array_equal(ep.obs, episodes[i].obs)
        np.testing.assert_array_equal(ep.action, episodes[i].action)
        assert ep.seed == episodes[i].seed
    meta = json.loads((tmp_path / "d" / "meta.json").read_text())
    assert meta["schema_version"] == 1 and meta["n_episodes"] == 25
    assert set(meta["shards"][0]["sha256"]) == {"obs", "action", "episode_ends", "episode_seed", "episode_source"}
    assert "torch" in meta["package_versions"]


def test_modified_shard_is_detected(tmp_path):
    write_dataset(tmp_path / "d", smooth_episodes(5, seed=3), "clean")
    shard = tmp_path / "d" / "shard-00000.npz"
    with np.load(shard) as z:
        arrays = dict(z)
    arrays["action"][0, 0] += 1.0
    np.savez(shard, **arrays)
    with pytest.raises(DatasetError, match="checksum mismatch for action"):
        load_dataset(tmp_path / "d")


def test_truncated_shard_and_schema_mismatch_are_clear_errors(tmp_path):
    write_dataset(tmp_path / "d", smooth_episodes(5, seed=3), "clean")
    shard = tmp_path / "d" / "shard-00000.npz"
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(DatasetError, match="truncated"):
        load_dataset(tmp_path / "d")
    write_dataset(tmp_path / "e", smooth_episodes(5, seed=3), "clean")
    meta = json.loads((tmp_path / "e" / "meta.json").read_text())
    meta["schema_version"] = 99
    (tmp_path / "e" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="schema version 99"):
        load_dataset(tmp_path / "e")


def test_unfinished_dataset_is_rejected(tmp_path):
    with pytest.raises(DatasetError, match="no meta.json"):
        load_dataset(tmp_path)


def test_invalid_episodes_are_rejected_on_write():
    with pytest.raises(ValueError, match="same length"):
        Episode(np.zeros((5, 3)), np.zeros((4, 2)), seed=0)
    with pytest.raises(ValueError, match="non-finite"):
        Episode(np.full((5, 3), np.nan), np.zeros((5, 2)), seed=0)


def test_annotation_round_trip_per_episode_and_per_step(tmp_path):
    ds = write_dataset(tmp_path / "d", smooth_episodes(6, seed=3), "corrupt")
    write_annotation(ds, "per_episode", {"sigma_min": np.linspace(0, 0.5, 6)}, {"by": "test"})
    write_annotation(ds, "per_step", {"sigma_min": np.full(len(ds.obs), 0.3)}, {"by": "test"})
    again = load_dataset(tmp_path / "d")
    per_step = again.annotation("per_episode", "sigma_min")
    assert per_step.shape == (len(ds.obs),)
    assert per_step[ds.episode_ends[-1] - 1] == 0.5 and per_step[0] == 0.0
    assert np.all(again.annotation("per_step", "sigma_min") == 0.3)
    with pytest.raises(DatasetError, match=r"\[0, 1\]"):
        write_annotation(ds, "bad", {"sigma_min": np.full(6, 1.5)}, {})


def test_atomic_writes_leave_no_temp_files_and_readable_modes(tmp_path):
    import os
    import stat

    from ambient_bench.data import atomic_write_json

    target = tmp_path / "out" / "result.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_failed_atomic_write_leaves_no_temp_file(tmp_path):
    from ambient_bench.data import atomic_write_bytes

    target = tmp_path / "taken"
    target.mkdir()  # os.replace cannot put a file over a directory
    with pytest.raises(OSError, match="cannot write"):
        atomic_write_bytes(target, b"payload")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
