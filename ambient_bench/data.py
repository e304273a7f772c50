"""On-disk dataset format: a directory of ``.npz`` shards plus ``meta.json``.

Layout (schema version ``SCHEMA_VERSION``)::

    <dataset>/
      meta.json                 id, env, generator + params, seeds, solver, package
                                versions, and per shard: sha256 and shape of each array
      shard-00000.npz           obs (N, obs_dim), action (N, act_dim), episode_ends (E,),
                                episode_seed (E,), episode_source (E,) -- concatenated
      annotations/<name>.npz    optional sigma_min / sigma_max per episode or per step
      annotations/<name>.json   its checksums and provenance (e.g. the classifier's)

Shards are written independently (one per worker job) and atomically; ``meta.json`` is
written last, so a directory without it is an unfinished dataset. Loading verifies the
schema, every checksum and every shape; a mismatch is a ``DatasetError``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .task import Episode

SCHEMA_VERSION = 1
_UMASK = os.umask(0o022)
os.umask(_UMASK)
TEMP_SUFFIX = ".tmp"
SHARD_ARRAYS = ("obs", "action", "episode_ends", "episode_seed", "episode_source")


class DatasetError(RuntimeError):
    """A dataset on disk is missing, corrupt, or of another schema; ``directory`` is the
    dataset to regenerate."""

    def __init__(self, message: str, directory: Path | None = None):
        super().__init__(message)
        self.directory = directory


# --------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write via a temp file in the same directory + rename, so readers never see half a file."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; results are meant to be shared
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:  # a full disk, Ctrl-C: leave no temp file behind
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise OSError(err.errno, f"cannot write {path}: {err.strerror}") from err
        raise


def remove_temp_files(root: Path) -> list[Path]:
    """Delete the temp files of atomic writes under ``root`` that a killed process left."""
    found = sorted(Path(root).rglob(f".*{TEMP_SUFFIX}")) if Path(root).exists() else []
    for path in found:
        path.unlink(missing_ok=True)
    return found


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def file_sha256(path: Path) -> str:
    """Digest of a file's bytes (e.g. a checkpoint: the identity an evaluation is keyed by)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_array(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("ambient-bench", "numpy", "torch", "drake", "ompl", "mujoco", "gymnasium"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def shard_arrays(episodes: Sequence[Episode], source: str) -> dict[str, np.ndarray]:
    """Concatenate validated episodes into the arrays + episode_ends layout."""
    if not episodes:
        raise DatasetError("a shard needs at least one episode")
    obs_dim, act_dim = episodes[0].obs.shape[1], episodes[0].action.shape[1]
    for ep in episodes:
        if ep.obs.shape[1] != obs_dim or ep.action.shape[1] != act_dim:
            raise DatasetError(
                f"episode {ep.seed}: dims ({ep.obs.shape[1]}, {ep.action.shape[1]}) differ from "
                f"the shard's ({obs_dim}, {act_dim})"
            )
    lengths = np.array([len(ep.obs) for ep in episodes], dtype=np.int64)
    return {
        "obs": np.concatenate([ep.obs for ep in episodes]).astype(np.float32),
        "action": np.concatenate([ep.action for ep in episodes]).astype(np.float32),
        "episode_ends": np.cumsum(lengths),
        "episode_seed": np.array([ep.seed for ep in episodes], dtype=np.int64),
        "episode_source": np.array([source] * len(episodes)),
    }


def write_shard(path: Path, episodes: Sequence[Episode], source: str) -> dict[str, Any]:
    """Write one shard atomically; returns its checksum/shape record for meta.json."""
    arrays = shard_arrays(episodes, source)
    atomic_write_bytes(path, npz_bytes(arrays))
    return shard_record(path.name, arrays)


def shard_record(name: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    return {
        "file": name,
        "sha256": {k: sha256_array(v) for k, v in arrays.items()},
        "shape": {k: list(v.shape) for k, v in arrays.items()},
    }


def finalize_dataset(directory: Path, shards: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    """Write meta.json last: it is what makes a directory a complete dataset."""
    meta = dict(meta)
    meta.update(schema_version=SCHEMA_VERSION, shards=shards, package_versions=package_versions())
    meta["n_episodes"] = sum(s["shape"]["episode_ends"][0] for s in shards)
    meta["n_steps"] = sum(s["shape"]["obs"][0] for s in shards)
    atomic_write_json(Path(directory) / "meta.json", meta)


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """A loaded dataset: concatenated arrays, episode bounds, labels and annotations."""

    path: Path
    meta: dict[str, Any]
    obs: np.ndarray
    action: np.ndarray
    episode_ends: np.ndarray  # exclusive end index of each episode in obs/action
    episode_seed: np.ndarray
    episode_source: np.ndarray
    annotations: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def n_episodes(self) -> int:
        return len(self.episode_ends)

    @property
    def episode_starts(self) -> np.ndarray:
        return np.concatenate([[0], self.episode_ends[:-1]])

    @property
    def step_episode(self) -> np.ndarray:
        """(N,) episode index of every step."""
        return np.repeat(np.arange(self.n_episodes), np.diff(np.concatenate([[0], self.episode_ends])))

    def episode(self, i: int) -> Episode:
        s, e = int(self.episode_starts[i]), int(self.episode_ends[i])
        return Episode(self.obs[s:e], self.action[s:e], int(self.episode_seed[i]))

    @property
    def sha256(self) -> str:
        return dataset_sha256(self.meta)

    def annotation(self, name: str, key: str) -> np.ndarray | None:
        """Per-step values of annotation ``name`` (per-episode ones are broadcast), or None."""
        arrays = self.annotations.get(name)
        if arrays is None or key not in arrays:
            return None
        values = arrays[key]
        if len(values) == self.n_episodes and len(values) != len(self.obs):
            values = values[self.step_episode]
        return values


def dataset_sha256(meta: dict[str, Any]) -> str:
    """One digest of all shard checksums: the dataset's identity in provenance records."""
    text = json.dumps([s["sha256"] for s in meta["shards"]], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def is_complete(directory: Path) -> bool:
    return (Path(directory) / "meta.json").exists()


def load_dataset(directory: Path) -> Dataset:
    """Load and verify a dataset (schema, every checksum and shape); a ``DatasetError`` names
    the damaged file and carries the dataset's directory."""
    directory = Path(directory)
    try:
        return _load_dataset(directory)
    except DatasetError as err:
        err.directory = err.directory or directory
        raise


def _load_dataset(directory: Path) -> Dataset:
    meta_path = directory / "meta.json"
    if not meta_path.exists():
        raise DatasetError(f"{directory} is not a finished dataset (no meta.json)")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f"{meta_path} is not valid JSON ({err})") from err
    if not isinstance(meta, dict) or meta.get("schema_version") != SCHEMA_VERSION:
        version = meta.get("schema_version") if isinstance(meta, dict) else None
        raise DatasetError(f"{meta_path}: schema version {version} but this code reads {SCHEMA_VERSION}")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in SHARD_ARRAYS}
    offset = 0
    for shard in meta["shards"]:
        arrays = _load_verified(directory / shard["file"], shard)
        for k in SHARD_ARRAYS:
            parts[k].append(arrays[k] + offset if k == "episode_ends" else arrays[k])
        offset += len(arrays["obs"])
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    ds = Dataset(directory, meta, **cat)
    for sidecar in sorted((directory / "annotations").glob("*.json")):
        try:
            record = json.loads(sidecar.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DatasetError(f"{sidecar} is not valid JSON ({err})") from err
        ds.annotations[sidecar.stem] = _load_verified(sidecar.with_suffix(".npz"), record)
        for key, values in ds.annotations[sidecar.stem].items():
            if len(values) not in (ds.n_episodes, len(ds.obs)):
                raise DatasetError(f"{sidecar}: {key} has {len(values)} entries, "
                                   f"expected {ds.n_episodes} episodes or {len(ds.obs)} steps")
    return ds


def _load_verified(path: Path, record: dict[str, Any]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DatasetError(f"cannot read {path} ({err}); the file is missing or truncated") from err
    for key, digest in record["sha256"].items():
        if key not in arrays:
            raise DatasetError(f"{path}: array {key!r} is missing")
        if list(arrays[key].shape) != record["shape"][key]:
            raise DatasetError(f"{path}: {key} has shape {list(arrays[key].shape)}, meta says {record['shape'][key]}")
        if sha256_array(arrays[key]) != digest:
            raise DatasetError(f"{path}: checksum mismatch for {key}; the file was modified or corrupted")
    return arrays


def write_annotation(ds: Dataset, name: str, arrays: dict[str, np.ndarray], provenance: dict[str, Any]) -> None:
    """Store sigma_min / sigma_max annotations (per episode or per step) beside a dataset."""
    for key, values in arrays.items():
        if key not in ("sigma_min", "sigma_max"):
            raise DatasetError(f"annotation key {key!r} must be sigma_min or sigma_max")
        if len(values) not in (ds.n_episodes, len(ds.obs)):
            raise DatasetError(f"annotation {key}: {len(values)} values for {ds.n_episodes} episodes / {len(ds.obs)} steps")
        if not np.all((values >= 0) & (values <= 1)):
            raise DatasetError(f"annotation {key}: sigma values must lie in [0, 1]")
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    directory = ds.path / "annotations"
    atomic_write_bytes(directory / f"{name}.npz", npz_bytes(arrays))
    record = shard_record(f"{name}.npz", arrays)
    record["provenance"] = provenance
    atomic_write_json(directory / f"{name}.json", record)
    ds.annotations[name] = arrays
