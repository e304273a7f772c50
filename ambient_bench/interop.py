"""Episodes in the formats other robot-learning code reads: diffusion_policy's zarr
ReplayBuffer, Minari, and a plain ``.npz``. Writers export our datasets; readers bring
external episodes in (``datagen/external.py``). zarr and Minari are optional extras.

zarr (zarr format 2, the layout of diffusion_policy's ``ReplayBuffer``)::

    <name>.zarr/
      .zattrs              {"ambient_bench": the dataset's metadata (see ``export_metadata``)}
      data/obs             (N, obs_dim) float32: every episode's observations, concatenated in time
      data/action          (N, action_dim) float32: the action taken at each of those steps
      meta/episode_ends    (E,) int64: exclusive end of each episode in data/*
      meta/episode_seed    (E,) int64: the seed each episode was generated from

Minari (``<root>/ambient_bench/<suite>/<name>-v0/data/``, loaded with
``MINARI_DATASETS_PATH=<root>``): one Minari episode per episode, with our gymnasium env as
``env`` and ``eval_env``. Minari stores observations one step longer than actions; our
episodes do not record the state after the last action, so the last observation is repeated
(rewards are 0, the last step is marked truncated). Our metadata is under the key
``ambient_bench`` of the dataset's metadata.

``.npz`` of episodes: ``obs`` (N, obs_dim), ``action`` (N, action_dim), ``episode_ends``
(E,), concatenated as in the zarr layout (our dataset shards are such files).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .data import TEMP_SUFFIX, Dataset, atomic_write_bytes, file_sha256

log = logging.getLogger(__name__)

FORMATS = ("zarr", "minari", "npz")
# What each optional format needs, and the pip line that installs it.
EXTRAS = {
    "zarr": (("zarr",), 'pip install "zarr>=2.16,<3"', "zarr"),
    "minari": (("minari", "h5py"), 'pip install "minari[hdf5]>=0.5"', "minari"),
}
# Key names of the zarr and npz layouts (a Minari episode has fixed fields).
OBS_KEY, ACTION_KEY = "obs", "action"
MINARI_NAMESPACE = "ambient_bench"


def missing_extra(fmt: str) -> str | None:
    """Why ``fmt`` cannot be read or written here (its packages are not installed), with
    the command that installs them; None if it can."""
    if fmt not in EXTRAS:
        return None
    modules, pip_line, extra = EXTRAS[fmt]
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            return (f"format {fmt} needs {module}, which is not installed: {pip_line} "
                    f'(or the project with its {extra} extra: pip install -e ".[{extra}]")')
    return None


@dataclass
class EpisodeArrays:
    """Episodes concatenated in time: ``obs[i]`` and ``action[i]`` belong to the episode
    whose exclusive end is the first of ``episode_ends`` above i."""

    obs: np.ndarray
    action: np.ndarray
    episode_ends: np.ndarray

    def episodes(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        start = 0
        for end in self.episode_ends:
            yield self.obs[start:end], self.action[start:end]
            start = int(end)


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def read_episodes(path: Path, fmt: str, obs_key: str = "", action_key: str = "") -> EpisodeArrays:
    """Episodes of a zarr ReplayBuffer, a Minari dataset (its directory, or its ``data/``)
    or an ``.npz``; empty key names mean the layout's own (``obs``/``action``; Minari's
    observations/actions, where ``obs_key`` picks one entry of dict observations). A file
    that cannot be read, a missing key or episode bounds that do not fit the arrays is a
    ``ValueError`` of one line."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    missing = missing_extra(fmt)
    if missing:
        raise ValueError(missing)
    path = Path(path)
    reader = {"zarr": _read_zarr, "minari": _read_minari, "npz": _read_npz}[fmt]
    try:
        arrays = reader(path, obs_key, action_key)
    except (OSError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read {path} as {fmt} ({type(err).__name__}: {_first_line(err)})") from err
    check_bounds(arrays, path)
    return arrays


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [""])[0]


def _pick(arrays: Any, key: str, path: Path, where: str) -> np.ndarray:
    if key not in arrays:
        raise ValueError(f"{path} has no {where}{key}; its keys there: {', '.join(sorted(arrays)) or 'none'}")
    return np.asarray(arrays[key][...])


def _read_npz(path: Path, obs_key: str, action_key: str) -> EpisodeArrays:
    try:
        npz = np.load(path, allow_pickle=False)
    except ValueError as err:  # numpy's answer to bytes that are no .npy or .npz
        raise OSError("not an .npz file") from err
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise OSError("an .npy array, not an .npz of named arrays")
    with npz:
        return EpisodeArrays(_pick(npz, obs_key or OBS_KEY, path, ""), _pick(npz, action_key or ACTION_KEY, path, ""),
                             _pick(npz, "episode_ends", path, ""))


def _read_zarr(path: Path, obs_key: str, action_key: str) -> EpisodeArrays:
    import zarr

    try:
        root = zarr.open_group(str(path), mode="r")
    except (zarr.errors.GroupNotFoundError, zarr.errors.FSPathExistNotDir) as err:
        raise OSError(f"not a zarr group ({type(err).__name__})") from err
    for group in ("data", "meta"):
        if group not in root:
            raise ValueError(f"{path} is not a ReplayBuffer: it has no {group}/ group")
    data, meta = root["data"], root["meta"]
    return EpisodeArrays(_pick(data, obs_key or OBS_KEY, path, "data/"), _pick(data, action_key or ACTION_KEY, path, "data/"),
                         _pick(meta, "episode_ends", path, "meta/"))


def _read_minari(path: Path, obs_key: str, action_key: str) -> EpisodeArrays:
    import minari

    data_path = path / "data" if (path / "data").is_dir() else path
    if not (data_path / "metadata.json").exists():
        raise OSError(f"no Minari metadata.json in {data_path}")
    dataset = minari.MinariDataset(str(data_path))
    obs, action, lengths = [], [], []
    for episode in dataset.iterate_episodes():
        observations = _entry(episode.observations, obs_key, path, "observations/")
        actions = _entry(episode.actions, action_key, path, "actions/")
        if len(observations) != len(actions) + 1:
            raise ValueError(f"{path}: episode {episode.id} has {len(observations)} observations for "
                             f"{len(actions)} actions; Minari stores one more observation than actions")
        obs.append(np.asarray(observations[:-1]).reshape(len(actions), -1))
        action.append(np.asarray(actions).reshape(len(actions), -1))
        lengths.append(len(actions))
    if not lengths:
        raise ValueError(f"{path} holds no episode")
    return EpisodeArrays(np.concatenate(obs), np.concatenate(action), np.cumsum(lengths))


def _entry(values: Any, key: str, path: Path, where: str) -> np.ndarray:
    """An episode's array, or the entry ``key`` of its dict (a dict space); a key for a
    plain array names nothing there."""
    if isinstance(values, dict) or key:
        return _pick(values if isinstance(values, dict) else {}, key, path, where)
    return values


def check_bounds(arrays: EpisodeArrays, path: Path) -> None:
    """Arrays of two dimensions, as long as each other, cut into non-empty episodes."""
    for name in ("obs", "action"):
        if getattr(arrays, name).ndim != 2:
            raise ValueError(f"{path}: {name} has shape {getattr(arrays, name).shape}; expected (steps, dim)")
    ends = arrays.episode_ends
    if ends.ndim != 1 or len(ends) == 0 or not np.issubdtype(ends.dtype, np.integer):
        raise ValueError(f"{path}: episode_ends must be a non-empty 1-D integer array, got {ends.dtype} {ends.shape}")
    lengths = np.diff(np.concatenate([[0], ends]))
    if (lengths <= 0).any():
        raise ValueError(f"{path}: episode {int(np.argmax(lengths <= 0))} is empty (episode_ends must increase)")
    if len(arrays.obs) != len(arrays.action) or int(ends[-1]) != len(arrays.obs):
        raise ValueError(f"{path}: {len(arrays.obs)} observations and {len(arrays.action)} actions, but the "
                         f"episodes end at step {int(ends[-1])}")


def tree_sha256(path: Path) -> str:
    """Digest of a file's bytes, or of every file under a directory (names and bytes):
    the identity of an external dataset, recomputed only when a file's size or time changes."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    signature = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _tree_sha256(path, signature)


@functools.lru_cache(maxsize=32)
def _tree_sha256(path: Path, signature: tuple) -> str:
    if not path.is_dir():
        return file_sha256(path)
    h = hashlib.sha256()
    for name, _, _ in signature:
        h.update(f"{Path(name).relative_to(path).as_posix()}\0{file_sha256(Path(name))}\n".encode())
    return h.hexdigest()


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def export_metadata(ds: Dataset, suite: str, preset: str, name: str) -> dict[str, Any]:
    """What an exported dataset records about itself: our dataset's meta.json (generator and
    its parameters, source, seeds, solvers, env, package versions) without the per-shard
    records, plus its key (the cache directory's name), its sha256, suite, preset and name."""
    meta = {k: v for k, v in ds.meta.items() if k != "shards"}
    meta.update(key=ds.path.name, sha256=ds.sha256, suite=suite, preset=preset, name=name)
    return meta


def recorded_key(path: Path, fmt: str) -> str | None:
    """The dataset key an earlier export at ``path`` recorded (None if it recorded none)."""
    record = path / ".zattrs" if fmt == "zarr" else path / "data" / "metadata.json"
    try:
        return json.loads(record.read_text()).get("ambient_bench", {}).get("key")
    except (OSError, ValueError, AttributeError):  # absent, unreadable or not our record
        return None


@contextmanager
def staging_dir(target: Path) -> Iterator[Path]:
    """A temp directory beside ``target`` that becomes ``target`` by one rename when the
    block ends without an error (and is removed otherwise)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX))
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_zarr(ds: Dataset, target: Path, metadata: dict[str, Any]) -> None:
    """The dataset as a zarr-format-2 ReplayBuffer at ``target`` (see the module docstring)."""
    import zarr

    with staging_dir(target) as tmp:
        root = zarr.open_group(str(tmp), mode="w")
        data, meta = root.create_group("data"), root.create_group("meta")
        data.array(OBS_KEY, ds.obs, chunks=(min(len(ds.obs), 10_000), ds.obs.shape[1]))
        data.array(ACTION_KEY, ds.action, chunks=(min(len(ds.action), 10_000), ds.action.shape[1]))
        for key, values in (("episode_ends", ds.episode_ends), ("episode_seed", ds.episode_seed)):
            meta.array(key, values.astype(np.int64), chunks=values.shape, compressor=None)
        root.attrs["ambient_bench"] = json.loads(json.dumps(metadata, default=str))


def minari_dataset_id(suite: str, name: str) -> str:
    return f"{MINARI_NAMESPACE}/{suite}/{name}-v0"


def gymnasium_spec(task: str, task_params: dict[str, Any]):
    """The gymnasium EnvSpec of a task: the registered id whose entry point's package holds
    the task's class, with the task's parameters that the env's constructor takes."""
    import gymnasium

    from . import GYMNASIUM_IDS
    from .registry import TASKS

    task_module = TASKS.get(task).__module__
    ids = [i for i, entry in GYMNASIUM_IDS.items() if task_module.startswith(entry.partition(":")[0] + ".")]
    if len(ids) != 1:
        raise ValueError(f"task {task} has {len(ids)} gymnasium ids in GYMNASIUM_IDS, expected one")
    env_cls = gymnasium.envs.registration.load_env_creator(GYMNASIUM_IDS[ids[0]])
    accepted = inspect.signature(env_cls).parameters
    kwargs = {k: v for k, v in task_params.items() if k in accepted}
    dropped = sorted(set(task_params) - set(kwargs))
    if dropped:
        log.info("%s takes no %s: left out of the exported env spec", ids[0], ", ".join(dropped))
    return gymnasium.make(ids[0], **kwargs).spec


def write_minari(ds: Dataset, root: Path, dataset_id: str, env_spec, metadata: dict[str, Any]) -> None:
    """The dataset as Minari dataset ``dataset_id`` under datasets root ``root`` (see the
    module docstring). Minari writes under ``MINARI_DATASETS_PATH``: it is pointed at a temp
    directory beside the target for the call, so nothing is written elsewhere (e.g. ~/.minari)
    and the dataset appears by one rename."""
    import gymnasium
    import minari
    from minari.data_collector import EpisodeBuffer

    env = gymnasium.make(env_spec)
    env_spaces = env.observation_space, env.action_space
    env.close()
    obs_space, action_space = (step_space(space, steps.shape[1:])
                               for space, steps in zip(env_spaces, (ds.obs, ds.action)))
    if (obs_space, action_space) != env_spaces:
        log.info("%s: the env's spaces (shapes %s / %s) differ from the episodes' steps (%s / %s): stored as "
                 "one step's spaces", dataset_id, *(space.shape for space in (*env_spaces, obs_space, action_space)))
    buffers = []
    for i in range(ds.n_episodes):
        episode = ds.episode(i)
        steps = len(episode.action)
        buffers.append(EpisodeBuffer(
            id=i, seed=int(episode.seed), observations=np.concatenate([episode.obs, episode.obs[-1:]]),
            actions=episode.action, rewards=np.zeros(steps), terminations=np.zeros(steps, dtype=bool),
            truncations=np.arange(steps) == steps - 1, infos={}))
    target = root / dataset_id
    root.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=root, prefix=".minari-", suffix=TEMP_SUFFIX))
    try:
        with minari_datasets_path(stage), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="`author_email` is set to None")
            dataset = minari.create_dataset_from_buffers(
                dataset_id, buffers, env=env_spec, eval_env=env_spec, algorithm_name=metadata["generator"],
                author="ambient_bench", code_permalink=f"ambient_bench git {metadata.get('git_sha', 'unknown')}",
                action_space=action_space, observation_space=obs_space,
                description=f"ambient_bench {metadata['suite']}/{metadata['preset']} dataset {metadata['name']} "
                            f"({metadata['source']}), generator {metadata['generator']}")
            dataset.storage.update_metadata({"ambient_bench": json.loads(json.dumps(metadata, default=str))})
        namespace = dataset_id.rpartition("/")[0].split("/")
        for depth in range(1, len(namespace) + 1):  # Minari's namespace records, which list_local_datasets reads
            record = Path(*namespace[:depth]) / "namespace_metadata.json"
            if (stage / record).exists() and not (root / record).exists():
                atomic_write_bytes(root / record, (stage / record).read_bytes())
        os.replace(stage / dataset_id, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def step_space(env_space, step_shape: tuple[int, ...]):
    """The space of one stored step under an env's space: the env's own when the shapes agree;
    when the env takes a stack of steps at once (the arm: a whole plan, (64, 7), against a
    waypoint's (7,)), the box that bounds every row of it; else unbounded, of the step's shape."""
    import gymnasium

    if env_space.shape == step_shape:
        return env_space
    if isinstance(env_space, gymnasium.spaces.Box) and env_space.shape[1:] == step_shape:
        return gymnasium.spaces.Box(env_space.low.min(0), env_space.high.max(0), dtype=env_space.dtype)
    return gymnasium.spaces.Box(-np.inf, np.inf, step_shape, np.float32)


@contextmanager
def minari_datasets_path(path: Path) -> Iterator[None]:
    """Minari reads and writes its datasets under ``MINARI_DATASETS_PATH``: ``path`` for the block."""
    previous = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = previous
