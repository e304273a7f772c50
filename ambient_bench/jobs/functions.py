"""Jobs of a run: dataset shards, training runs, evaluations.

Each job writes its output under a directory or file keyed by the hash of everything it
depends on (see ``jobs.plan``), atomically, and is skipped when that output exists and is
valid: the keyed output tree is the cache, so a run killed at any moment completes, when
started again, without redoing finished jobs. Job functions are top-level and take one
picklable argument, so any executor (in-process, a local process pool, Ray) can run them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config.sections import EvalConfig, PolicyConfig, TrainConfig
from ..config.typed import config_hash, from_dict
from ..data import Dataset, atomic_write_json, file_sha256, finalize_dataset, is_complete, load_dataset, write_shard
from ..evaluation.evaluator import evaluate
from ..policy.baseline import make_baseline
from ..policy.policy import CheckpointError, load_checkpoint, policy_from_checkpoint
from ..registry import GENERATORS, TASKS
from .plan import device_key, eval_path
from .provenance import provenance

log = logging.getLogger(__name__)


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
    device: str = "cpu"  # where the network trains (cpu, cuda, cuda:1); part of the run's key unless cpu
    init_checkpoint: str = ""  # a finetuning phase starts from this (its pretraining's) checkpoint


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
    from ..policy.trainer import train

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
        device=job.device,
        init_checkpoint=Path(job.init_checkpoint) if job.init_checkpoint else None,
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
    device: str = "cpu"  # where the network runs; the sampler's noise is drawn on the CPU either way

    @property
    def path(self) -> Path:
        return eval_path(self.run_dir, self.split)

    @property
    def checkpoint(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    def key(self, checkpoint_sha256: str, sampling_steps: list[int]) -> str:
        """Everything the evaluation depends on: the checkpoint's bytes, seeds, task, evaluator
        settings, the sampler's seed and the steps at which it calls the network (they follow
        from the settings, the checkpoint's generative model and the sampler's code), and the
        thread count and device of its inference."""
        return config_hash({"checkpoint_sha256": checkpoint_sha256, "seeds": self.seeds, "task": self.task,
                            "task_params": self.task_params, "eval": self.eval, "sampler_seed": self.sampler_seed,
                            "sampling_steps": sampling_steps, "torch_threads": self.torch_threads,
                            **device_key(self.device)})


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
            and isinstance(result.get("aggregate"), dict)):
        log.warning("recomputing %s: malformed (no records or aggregate)", path)
        return None
    if len(result["records"]) != n_trials:
        log.info("recomputing %s: it holds %d trials, this evaluation asks for %d", path,
                 len(result["records"]), n_trials)
        return None
    if result.get("key") != key:
        log.info("recomputing %s: the checkpoint or the evaluation settings changed", path)
        return None
    return result


def run_eval(job: EvalJob) -> dict[str, Any]:
    config = from_dict(EvalConfig, job.eval)
    policy = policy_from_checkpoint(load_checkpoint(job.checkpoint))
    key = job.key(file_sha256(job.checkpoint), policy.schedule.sampling_steps(config.sampler, config.inference_steps))
    cached = read_eval(job.path, key, len(job.seeds))
    if cached is not None:
        return cached
    torch.set_num_threads(job.torch_threads)
    policy.to(job.device)
    task = TASKS.get(job.task)(**job.task_params)
    result = evaluate(policy, task, np.asarray(job.seeds), config, sampler_seed=job.sampler_seed, progress=job.progress)
    result.update(split=job.split, n_trials=len(job.seeds), key=key)
    atomic_write_json(job.path, result)
    return result
