"""Run a stage's jobs as Ray tasks, one task per job, on a local Ray instance or a cluster.

The jobs are the same functions the local executors run: each writes its own output,
keyed and atomically (temp file + rename), under the run's output root. So on a cluster
every node must mount that root at the same path (shared storage); a task returns what
the job returns locally (a shard's record, a checkpoint path, an evaluation's records).
Datasets and checkpoints never pass through the object store: the jobs read their inputs
(datasets for training, checkpoints for evaluation) from that storage anyway, and
shipping every shard and checkpoint back to one driver would make it the bottleneck.

A worker that dies (killed, out of memory, node lost) has its task retried up to
``max_retries`` times; a retried job finds at most a torn output (a temp file, a shard
without its record) and redoes it, so outputs are identical. An exception raised by a
job is not retried (it would fail again) and is re-raised here as itself, without Ray's
wrapping.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from dataclasses import dataclass
from typing import Any, Callable

import ray
from ray.exceptions import RayError, RayTaskError

from ..config.sections import ResourcesConfig
from .executors import MAX_RETRIES, JobExecutor, JobLostError, describe_job
from .functions import run_eval, run_shard, run_train

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskResources:
    """What one Ray task asks the scheduler for."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0


def task_resources(config: ResourcesConfig) -> dict[Callable[[Any], Any], TaskResources]:
    """Per job function, the resources its tasks request (from the suite's ``resources``)."""
    return {
        run_shard: TaskResources(config.datagen_cpus, 0.0),
        run_train: TaskResources(config.train_cpus, config.train_gpus),
        run_eval: TaskResources(config.eval_cpus, config.eval_gpus),
    }


def _run_job(fn: Callable[[Any], Any], job: Any) -> Any:
    return fn(job)


_remote_run_job = ray.remote(_run_job)


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a wrong HOST:PORT (ray.init would keep retrying for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except (OSError, ValueError) as err:
        raise ConnectionError(f"no Ray head node answers at {address} ({err}); start one with "
                              "`ray start --head` or pass --ray-address auto on a cluster node") from None


def cpus_for(job: Any, request: TaskResources) -> float:
    """The configured CPUs, and never fewer than the torch threads the job will use."""
    return max(request.num_cpus, getattr(job, "torch_threads", 0))


def cancel(refs: list[Any], grace_s: float = 30.0) -> None:
    """Stop these tasks, queued or running (a running one's worker is killed), as the pool
    stops its workers, and wait until they have ended, so that no worker writes a temp
    file after the caller cleaned up; cancelled tasks are not retried."""
    for ref in refs:
        ray.cancel(ref, force=True)
    if refs:
        ray.wait(refs, num_returns=len(refs), timeout=grace_s)


def without_progress_bar(job: Any) -> Any:
    """The job with its own progress bar off: Ray forwards worker output line by line, so
    bars from many tasks would interleave; the stage's bar on the driver shows progress."""
    return dataclasses.replace(job, progress=False) if hasattr(job, "progress") else job


class RayExecutor(JobExecutor):
    """The executor protocol on Ray, one task per job: ``submit`` starts a task, ``next_done``
    waits for any, and the driver shows progress as tasks finish.

    ``address`` None starts a local Ray instance (``num_cpus`` of it, default all cores)
    unless this process is already connected; ``"auto"`` or ``HOST:PORT`` joins a running
    cluster. A local instance runs its workers at this process's niceness, as the pool's
    workers do: Ray's default adds 15, which starves them on a busy machine.
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None,
                 resources: dict[Callable[[Any], Any], TaskResources] | None = None,
                 max_retries: int = MAX_RETRIES, progress: bool = True):
        self.resources = resources or {}
        self.max_retries, self.progress = max_retries, progress
        self._jobs: dict[Any, Any] = {}  # running task -> its job (for error messages)
        if not ray.is_initialized():
            if address and address != "auto":
                check_reachable(address)
            local = {} if address else {"_system_config": {"worker_niceness": 0}}
            context = ray.init(address=address, num_cpus=num_cpus, **local)
            if context.dashboard_url:
                log.info("Ray dashboard: http://%s", context.dashboard_url)
        cluster = ray.cluster_resources()
        log.info("Ray cluster: %g CPUs, %g GPUs", cluster.get("CPU", 0), cluster.get("GPU", 0))

    def submit(self, fn, job):
        request = self.resources.get(fn, TaskResources())
        ref = _remote_run_job.options(num_cpus=cpus_for(job, request), num_gpus=request.num_gpus,
                                      max_retries=self.max_retries).remote(fn, without_progress_bar(job))
        self._jobs[ref] = job
        return ref

    def next_done(self, desc):
        [ref], _ = ray.wait(list(self._jobs), num_returns=1)
        job = self._jobs.pop(ref)
        try:
            return ref, ray.get(ref)
        except RayError as err:
            raise self._job_error(err, desc, job) from None

    def stop(self):
        cancel(list(self._jobs))
        self._jobs.clear()

    def _job_error(self, err: RayError, desc: str, job: Any) -> BaseException:
        """The job's own exception, or, when its worker kept dying, a one-line JobLostError."""
        if isinstance(err, RayTaskError):
            cause = err.cause
            cause.add_note(f"raised by a Ray task of {desc}: {describe_job(job)}")
            return cause
        return JobLostError(f"{desc}: {describe_job(job)} did not finish after {self.max_retries} retries "
                            f"({type(err).__name__}: {str(err).splitlines()[0]})")
