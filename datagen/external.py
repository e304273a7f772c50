"""Bring your own episodes: a zarr ReplayBuffer, a Minari dataset or an ``.npz`` of
episodes (``ambient_bench.interop``) as a suite's clean or corrupt source, e.g.

    --set datasets.corrupt.generator=external --set datasets.corrupt.n_episodes=5000
    --set 'datasets.corrupt.params={format: minari, path: /data/ambient_bench/maze/prm-v0}'

Seed ``s`` of the source's split is the file's episode ``s - offset`` (``seeds.py``), so
``n_episodes: N`` takes the first N episodes in the file's order. Observations and actions
can be mapped to the task's: ``obs_slice`` / ``action_slice`` ([start, stop] or
[start, stop, step] of the columns), then ``transform``, a function by dotted path
(``package.module.function``) from one episode's ``(obs, action)`` (steps x dim each) to
the task's ``(obs, action)``.

Everything is checked before any work (``pipeline.checks`` calls the generator with no
seeds and compares ``source_shape`` with the task): the file is readable and has the keys,
every episode is non-empty and finite after the mapping, and the dimensions are the task's.
The dataset's key holds the file's sha256 (``input_sha256``): new bytes, new dataset.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ambient_bench.interop import EpisodeArrays, read_episodes, tree_sha256
from ambient_bench.registry import GENERATORS
from ambient_bench.seeds import SPLIT_OFFSETS, split_of
from ambient_bench.task import Episode, GeneratorOutput


def column_slice(bounds: list[int], name: str) -> slice:
    if not (len(bounds) in (2, 3) and all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)):
        raise ValueError(f"{name}={bounds!r} must be [start, stop] or [start, stop, step] of integers")
    return slice(*bounds)


def load_function(dotted: str) -> Callable:
    """``package.module.function`` -> the function."""
    module_name, _, attribute = dotted.rpartition(".")
    try:
        function = getattr(importlib.import_module(module_name), attribute) if module_name else None
    except (ImportError, AttributeError) as err:
        raise ValueError(f"transform={dotted!r} cannot be imported ({err})") from None
    if not callable(function):
        raise ValueError(f"transform={dotted!r} is not a function given as package.module.function")
    return function


@functools.lru_cache(maxsize=8)
def mapped_episodes(path: str, format: str, obs_key: str, action_key: str, obs_slice: tuple[int, ...],
                    action_slice: tuple[int, ...], transform: str, sha256: str) -> EpisodeArrays:
    """The file's episodes after the mapping, each checked (non-empty, finite, 2-D, as long
    as its actions); cached per process by the file's digest, so shards read it once."""
    source = read_episodes(Path(path), format, obs_key, action_key)
    columns_obs = column_slice(list(obs_slice), "obs_slice") if obs_slice else slice(None)
    columns_action = column_slice(list(action_slice), "action_slice") if action_slice else slice(None)
    function = load_function(transform) if transform else None
    obs, action, lengths = [], [], []
    for i, (o, a) in enumerate(source.episodes()):
        o, a = o[:, columns_obs], a[:, columns_action]
        if function is not None:
            o, a = (np.asarray(x) for x in function(o, a))
        if o.ndim != 2 or a.ndim != 2 or len(o) != len(a) or len(o) == 0:
            raise ValueError(f"{path}: episode {i} maps to obs {o.shape} and action {a.shape}; "
                             "expected two non-empty (steps, dim) arrays of equal length")
        for name, values in (("obs", o), ("action", a)):
            if not np.isfinite(values).all():
                raise ValueError(f"{path}: episode {i} has NaN or inf in {name}")
        obs.append(o.astype(np.float32))
        action.append(a.astype(np.float32))
        lengths.append(len(o))
    dims = {(x.shape[1], y.shape[1]) for x, y in zip(obs, action)}
    if len(dims) > 1:
        raise ValueError(f"{path}: episodes differ in (obs, action) dims: {sorted(dims)}")
    return EpisodeArrays(np.concatenate(obs), np.concatenate(action), np.cumsum(lengths))


def _source(path: str, format: str, obs_key: str, action_key: str, obs_slice: list[int], action_slice: list[int],
            transform: str) -> EpisodeArrays:
    if not Path(path).exists():
        raise ValueError(f"path={path!r} does not exist")
    return mapped_episodes(str(Path(path).resolve()), format, obs_key, action_key, tuple(obs_slice or ()),
                           tuple(action_slice or ()), transform, tree_sha256(Path(path)))


@GENERATORS.register("external")
def generate_external(
    seeds: Sequence[int],
    path: str = "",
    format: str = "npz",
    obs_key: str = "",
    action_key: str = "",
    obs_slice: list[int] | None = None,
    action_slice: list[int] | None = None,
    transform: str = "",
) -> GeneratorOutput:
    """One episode of the file per seed (see the module docstring); ``obs_key`` / ``action_key``
    name the arrays (empty: the format's own, ``obs`` / ``action``)."""
    if not path:
        raise ValueError("path is required: the zarr ReplayBuffer, Minari dataset or .npz to read")
    source = _source(path, format, obs_key, action_key, obs_slice, action_slice, transform)
    starts = np.concatenate([[0], source.episode_ends[:-1]])
    episodes = []
    for seed in seeds:
        index = int(seed) - SPLIT_OFFSETS[split_of(int(seed))]
        if index >= len(starts):
            raise ValueError(f"{path} holds {len(starts)} episodes; seed {seed} asks for episode {index}")
        s, e = int(starts[index]), int(source.episode_ends[index])
        episodes.append(Episode(source.obs[s:e], source.action[s:e], int(seed)))
    return GeneratorOutput(episodes, f"external:{format}", 0, {"path": path})


def source_shape(path: str = "", format: str = "npz", obs_key: str = "", action_key: str = "",
                 obs_slice: list[int] | None = None, action_slice: list[int] | None = None,
                 transform: str = "") -> tuple[int, int, int]:
    """(episodes, obs dim, action dim) of the mapped file, for the checks against the task."""
    source = _source(path, format, obs_key, action_key, obs_slice, action_slice, transform)
    return len(source.episode_ends), source.obs.shape[1], source.action.shape[1]


def input_sha256(path: str = "", **params: Any) -> str:
    """The file's sha256 (every file's, for a directory): part of the dataset's key ("" without
    a path, which the checks report before any key is needed)."""
    return tree_sha256(Path(path)) if path else ""


generate_external.source_shape = source_shape
generate_external.input_sha256 = input_sha256
