"""Executors: what runs a stage's jobs (in this process, or a local process pool).

An executor maps a job function over picklable jobs and returns their results in order;
Ctrl-C stops the stage with ``Interrupted`` (finished outputs are kept).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Protocol, Sequence

from tqdm.auto import tqdm

from .. import logs


log = logging.getLogger(__name__)


def report_done(progress: bool, desc: str, n_done: int, n_jobs: int) -> None:
    """Without progress bars (``--no-progress``, e.g. into a log file), one line per finished job."""
    if not progress and n_jobs > 1:
        log.info("%s: %d of %d jobs done", desc, n_done, n_jobs)


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
                report_done(self.progress, desc, len(results), len(jobs))
        except KeyboardInterrupt:
            raise Interrupted(desc, len(results), len(jobs)) from None
        return results


def _init_worker(drake_log_level: int, package_log_level: int) -> None:
    """Workers leave Ctrl-C to the parent, which stops them all, and die at once on SIGTERM.
    A fork-server worker does not inherit the parent's logging: it logs in the command
    line's format at the parent's level, and filters Drake's records at the parent's level.
    A filter, not a level: importing pydrake (later, in a job) resets the level to INFO but
    keeps the logger's filters, and the worker need not import it now."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    logs.configure(package_log_level)
    logging.getLogger("drake").addFilter(lambda record: record.levelno >= drake_log_level)


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
    context.set_forkserver_preload(["ambient_bench.jobs.functions"])
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
                                   initargs=(logging.getLogger("drake").getEffectiveLevel(),
                                             logging.getLogger("ambient_bench").getEffectiveLevel()))
        futures = [pool.submit(fn, job) for job in jobs]
        n_done = 0
        try:
            for future in tqdm(as_completed(futures), total=len(jobs), desc=desc, leave=False,
                               disable=not self.progress):
                future.result()  # a failed job stops the stage now
                n_done += 1
                report_done(self.progress, desc, n_done, len(jobs))
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

