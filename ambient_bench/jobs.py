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
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .baseline import make_baseline
from .config import EvalConfig, PolicyConfig, TrainConfig, config_hash, from_dict
from .data import (
    Dataset, atomic_write_json, file_sha256, finalize_dataset, is_complete, load_dataset, write_shard,
)
from .evaluate import evaluate
from .plan import eval_path
from .policy import CheckpointError, load_checkpoint, policy_from_checkpoint
from .provenance import provenance
from .registry import GENERATORS, TASKS

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------


class JobLostError(RuntimeError):
    """A job whose worker kept dying (killed, out of memory, node lost) until its retries ran out."""


class Executor(Protocol):
    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any], desc: str) -> list[Any]: ...


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped a stage; finished jobs' outputs are kept (a re-run resumes)."""

    def __init__(self, desc: str, n_done: int, n_jobs: int):
        super().__init__(f"{desc}: {n_done} of {n_jobs} jobs finished")
        self.desc, self.n_done, self.n_jobs = desc, n_done, n_jobs


class InProcessExecutor:
    def __init__(self, progress: bool = True):
        self.progress = progress

    def map(self, fn, jobs, desc):
        results = []
        try:
            for job in tqdm(jobs, desc=desc, leave=False, disable=not self.progress or len(jobs) <= 1):
                results.append(fn(job))
        except KeyboardInterrupt:
            raise Interrupted(desc, len(results), len(jobs)) from None
        return results


def _init_worker(drake_log_level: int) -> None:
    """Workers leave Ctrl-C to the parent, which stops them all, and die at once on SIGTERM.
    A fork-server worker does not inherit the parent's logging: it takes Drake's level from
    the parent (importing pydrake resets it to INFO, so import first, then set)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    import pydrake.common  # noqa: F401

    logging.getLogger("drake").setLevel(drake_log_level)


def stop_workers(pool: ProcessPoolExecutor, grace_s: float = 5.0) -> None:
    """Cancel queued jobs and end the worker processes: SIGTERM, then SIGKILL after ``grace_s``.
    (Every multiprocessing child of this process is ended: in a run, those are the pool's.)"""
    pool.shutdown(wait=False, cancel_futures=True)
    workers = multiprocessing.active_children()
    for process in workers:
        process.terminate()
    for process in workers:
        process.join(grace_s)
        if process.is_alive():
            process.kill()
            process.join()


def worker_context() -> multiprocessing.context.BaseContext:
    """Workers are forked from a clean fork server, never from this process: a fork copies
    whatever locks this process's threads hold (torch, Drake, Ray, logging), and a child
    born with one held deadlocks (seen in the test suite). The server imports the job code
    once, so starting a worker stays cheap; registries load their suites lazily."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["ambient_bench.jobs"])
    return context


class ProcessPoolJobExecutor:
    """A local process pool. Jobs set their own torch thread count (part of their key), so
    the worker count changes neither results nor cache keys."""

    def __init__(self, workers: int, progress: bool = True):
        self.workers, self.progress = workers, progress

    def map(self, fn, jobs, desc):
        if len(jobs) <= 1:
            return InProcessExecutor(self.progress).map(fn, jobs, desc)
        pool = ProcessPoolExecutor(min(self.workers, len(jobs)), mp_context=worker_context(),
                                   initializer=_init_worker,
                                   initargs=(logging.getLogger("drake").getEffectiveLevel(),))
        futures = [pool.submit(fn, job) for job in jobs]
        n_done = 0
        try:
            for future in tqdm(as_completed(futures), total=len(jobs), desc=desc, leave=False,
                               disable=not self.progress):
                future.result()  # a failed job stops the stage now
                n_done += 1
        except KeyboardInterrupt:
            stop_workers(pool)
            raise Interrupted(desc, n_done, len(jobs)) from None
        except BaseException:
            stop_workers(pool)
            raise
        pool.shutdown()
        return [f.result() for f in futures]


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
    torch_threads: int = 1  # part of the run's key: the thread count can change the last bits


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
    torch.set_num_threads(job.torch_threads)
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
    torch_threads: int = 1
    sampler_seed: int = 0

    @property
    def path(self) -> Path:
        return eval_path(self.run_dir, self.split)

    @property
    def checkpoint(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    def key(self, checkpoint_sha256: str) -> str:
        """Everything the evaluation depends on: the checkpoint's bytes, seeds, task, evaluator
        settings, the sampler's seed and the thread count of its inference."""
        return config_hash({"checkpoint_sha256": checkpoint_sha256, "seeds": self.seeds, "task": self.task,
                            "task_params": self.task_params, "eval": self.eval, "sampler_seed": self.sampler_seed,
                            "torch_threads": self.torch_threads})


def read_eval(path: Path, key: str, n_trials: int) -> dict[str, Any] | None:
    """An evaluation file if it is well-formed, complete and made with the same key, else None
    (a cache: anything else is recomputed, with one warning line naming the file)."""
    if not path.exists():
        return None
    try:
        result = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        log.warning("recomputing %s: the file is not valid JSON (truncated?)", path)
        return None
    if not (isinstance(result, dict) and isinstance(result.get("records"), list)
            and isinstance(result.get("aggregate"), dict) and len(result["records"]) == n_trials):
        log.warning("recomputing %s: malformed or incomplete", path)
        return None
    if result.get("key") != key:
        log.info("recomputing %s: the checkpoint or the evaluation settings changed", path)
        return None
    return result


def run_eval(job: EvalJob) -> dict[str, Any]:
    key = job.key(file_sha256(job.checkpoint))
    cached = read_eval(job.path, key, len(job.seeds))
    if cached is not None:
        return cached
    torch.set_num_threads(job.torch_threads)
    policy = policy_from_checkpoint(load_checkpoint(job.checkpoint))
    task = TASKS.get(job.task)(**job.task_params)
    result = evaluate(policy, task, np.asarray(job.seeds), from_dict(EvalConfig, job.eval),
                      sampler_seed=job.sampler_seed, progress=job.progress)
    result.update(split=job.split, n_trials=len(job.seeds), key=key)
    atomic_write_json(job.path, result)
    return result

