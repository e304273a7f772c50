"""Shared fixtures: small synthetic clean/corrupt datasets written in the real format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ambient_bench.data import finalize_dataset, load_dataset, write_shard
from ambient_bench.task import Episode


def smooth_episodes(n: int, seed: int, jitter: float = 0.0, length: int = 24) -> list[Episode]:
    """Straight-ish 2-D paths toward a goal; ``jitter`` adds high-frequency noise (corruption)."""
    rng = np.random.default_rng(seed)
    episodes = []
    for i in range(n):
        start, goal = rng.uniform(-1, 1, 2), rng.uniform(-1, 1, 2)
        s = np.linspace(0, 1, length + 1)[:, None]
        path = start + (goal - start) * (3 * s**2 - 2 * s**3) + jitter * rng.normal(size=(length + 1, 2))
        obs = np.concatenate([path[:-1], np.repeat(goal[None], length, 0)], axis=1)
        episodes.append(Episode(obs, path[1:], seed * 1000 + i))
    return episodes


def write_dataset(directory: Path, episodes: list[Episode], source: str, shard_size: int = 10):
    records = [
        write_shard(directory / f"shard-{i // shard_size:05d}.npz", episodes[i : i + shard_size], source)
        for i in range(0, len(episodes), shard_size)
    ]
    finalize_dataset(directory, records, {"dataset_id": directory.name, "generator": "synthetic"})
    return load_dataset(directory)


@pytest.fixture
def clean_corrupt(tmp_path):
    return {
        "clean": write_dataset(tmp_path / "clean", smooth_episodes(8, seed=1), "clean"),
        "corrupt": write_dataset(tmp_path / "corrupt", smooth_episodes(40, seed=2, jitter=0.05), "corrupt"),
    }
