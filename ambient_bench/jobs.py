"""Jobs of a run and the executors that run them.

A run is a graph of jobs: dataset shards -> datasets -> (annotations) -> training runs ->
evaluations -> report. Each job writes its output under a directory keyed by the hash of
its resolved config, atomically, and is skipped when that output exists and is valid; so
a run killed at any moment completes, when started again, without redoing finished jobs.
Job functions are top-level and take one picklable argument, so any executor (in-process,
a local process pool, a cluster engine) can run them.
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .baseline import make_baseline
from .config import EvalConfig, PolicyConfig, TrainConfig, config_hash, from_dict
from .data import (
    Dataset, atomic_write_json, finalize_dataset, is_complete, load_dataset, write_shard,
)
from .evaluate import evaluate
from .policy import CheckpointError, load_checkpoint, policy_from_checkpoint
from .provenance import provenance
from .registry import GENERATORS, TASKS

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------


class Executor(Protocol):
    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any], desc: str) -> list[Any]: ...


class InProcessExecutor:
    def __init__(self, progress: bool = True):
        self.progress = progress

    def map(self, fn, jobs, desc):
        return [fn(job) for job in tqdm(jobs, desc=desc, leave=False, disable=not self.progress or len(jobs) <= 1)]


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


class ProcessPoolJobExecutor:
    """A local process pool; each worker gets an equal share of the cores for torch."""

    def __init__(self, workers: int, progress: bool = True):
        self.workers, self.progress = workers, progress
        self.threads = max(1, (os.cpu_count() or 1) // workers)

    def map(self, fn, jobs, desc):
        if len(jobs) <= 1:
            return InProcessExecutor(self.progress).map(fn, jobs, desc)
        with ProcessPoolExecutor(self.workers, initializer=_init_worker, initargs=(self.threads,)) as pool:
            return list(tqdm(pool.map(fn, jobs), total=len(jobs), desc=desc, leave=False, disable=not self.progress))


def make_executor(workers: int, progress: bool = True) -> Executor:
    return InProcessExecutor(progress) if workers <= 1 else ProcessPoolJobExecutor(workers, progress)


# --------------------------------------------------------------------------------------
# Data generation
# --------------------------------------------------------------------------------------


@dataclass
class ShardJob:
    generator: str
    params: dict[str, Any]
    source: str
    seeds: list[int]
    path: Path  # shard .npz; its record goes to the .json beside it


def run_shard(job: ShardJob) -> dict[str, Any]:
    record_path = job.path.with_suffix(".json")
    if record_path.exists() and job.path.exists():
        try:
            return json.loads(record_path.read_text())
        except json.JSONDecodeError:
            log.warning("recomputing shard %s: its record is truncated", job.path)
    out = GENERATORS.get(job.generator)(job.seeds, **job.params)
    if not out.episodes:
        raise RuntimeError(f"generator {job.generator} produced no valid episode for seeds "
                           f"{job.seeds[0]}..{job.seeds[-1]} ({out.n_failed} failed)")
    record = write_shard(job.path, out.episodes, job.source)
    record.update(solver=out.solver, n_failed=out.n_failed, n_requested=len(job.seeds), stats=out.stats)
    atomic_write_json(record_path, record)
    return record


def finalize(directory: Path, records: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    if not is_complete(directory):
        meta = dict(meta, solvers=sorted({r["solver"] for r in records}),
                    n_failed=sum(r["n_failed"] for r in records))
        finalize_dataset(directory, [{k: r[k] for k in ("file", "sha256", "shape")} for r in records], meta)


# --------------------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------------------


@dataclass
class TrainJob:
    run_dir: Path
    datasets: dict[str, str]  # name -> dataset directory
    baseline: str
    params: dict[str, Any]
    policy: dict[str, Any]
    train: dict[str, Any]
    seed: int
    config: dict[str, Any] = field(default_factory=dict)  # the resolved config, saved beside
    progress: bool = True


_DATASETS: dict[str, Dataset] = {}


def cached_dataset(path: str) -> Dataset:
    """Load each dataset once per process (the in-process executor reuses it across jobs)."""
    if path not in _DATASETS:
        _DATASETS[path] = load_dataset(Path(path))
    return _DATASETS[path]


def checkpoint_valid(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        load_checkpoint(path)
        return True
    except CheckpointError as err:
        log.warning("recomputing %s: %s", path, err)
        return False


def run_train(job: TrainJob) -> Path:
    from .train import train

    final = job.run_dir / "checkpoint.pt"
    if checkpoint_valid(final):
        return final
    datasets = {name: cached_dataset(p) for name, p in job.datasets.items()}
    atomic_write_json(job.run_dir / "config.json", job.config)
    atomic_write_json(job.run_dir / "provenance.json",
                      provenance({name: ds.sha256 for name, ds in datasets.items()}))
    return train(
        job.run_dir,
        datasets,
        make_baseline(job.baseline, job.params),
        from_dict(PolicyConfig, job.policy),
        from_dict(TrainConfig, job.train),
        job.seed,
        progress=job.progress,
    )


@dataclass
class EvalJob:
    run_dir: Path
    split: str
    seeds: list[int]
    task: str
    task_params: dict[str, Any]
    eval: dict[str, Any]
    progress: bool = True

    @property
    def path(self) -> Path:
        return self.run_dir / f"eval-{self.split}.json"

    @property
    def key(self) -> str:
        """What the evaluation depends on besides the checkpoint: seeds, task, evaluator settings."""
        return config_hash({"seeds": self.seeds, "task": self.task, "task_params": self.task_params,
                            "eval": self.eval})


def read_eval(path: Path, key: str, n_trials: int) -> dict[str, Any] | None:
    """An evaluation file if it is complete and made with the same settings, else None."""
    if not path.exists():
        return None
    try:
        result = json.loads(path.read_text())
    except json.JSONDecodeError:
        log.warning("recomputing %s: the file is truncated", path)
        return None
    if len(result.get("records", [])) != n_trials or "aggregate" not in result:
        log.warning("recomputing %s: incomplete", path)
        return None
    if result.get("key") != key:
        log.warning("recomputing %s: evaluation settings changed", path)
        return None
    return result


def run_eval(job: EvalJob) -> dict[str, Any]:
    cached = read_eval(job.path, job.key, len(job.seeds))
    if cached is not None:
        return cached
    policy = policy_from_checkpoint(load_checkpoint(job.run_dir / "checkpoint.pt"))
    task = TASKS.get(job.task)(**job.task_params)
    result = evaluate(policy, task, np.asarray(job.seeds), from_dict(EvalConfig, job.eval),
                      sampler_seed=0, progress=job.progress)
    result.update(split=job.split, n_trials=len(job.seeds), key=job.key)
    atomic_write_json(job.path, result)
    return result

