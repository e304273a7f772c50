"""Executors: what runs a run's jobs (in this process, or a local process pool; Ray in
``ray_executor``).

Each executor starts picklable jobs (``submit``) and hands back finished ones
(``next_done``); ``JobExecutor`` builds the two ways the runner uses them on that, once:
``map`` (a stage's jobs, results in order) and ``run_graph`` (jobs that start as soon as
the results they depend on are in). Ctrl-C stops either with ``Interrupted`` (finished
outputs are kept); a failed job stops them at once; a job whose worker process dies is
retried up to ``MAX_RETRIES`` times, then stops them with ``JobLostError``.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Hashable, Iterable, NamedTuple, Protocol, Sequence

from tqdm.auto import tqdm

from .. import logs


log = logging.getLogger(__name__)


def report_done(progress: bool, desc: str, n_done: int, n_jobs: int) -> None:
    """Without progress bars (``--no-progress``, e.g. into a log file), one line per finished job."""
    if not progress and n_jobs > 1:
        log.info("%s: %d of %d jobs done", desc, n_done, n_jobs)


# How often a job whose worker died is run again (Ray's max_retries; the pool's likewise).
MAX_RETRIES = 3


class JobLostError(RuntimeError):
    """A job whose worker kept dying (killed, out of memory, node lost) until its retries ran out."""


def describe_job(job: Any) -> str:
    """A short name for a job in messages: the output it writes."""
    return str(getattr(job, "path", None) or getattr(job, "run_dir", None) or type(job).__name__)


# A job to run: (a key the caller names it by, the job function, its picklable argument).
Task = tuple[Hashable, Callable[[Any], Any], Any]


class Executor(Protocol):
    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any], desc: str) -> list[Any]: ...

    def run_graph(self, tasks: Iterable[Task], then: Callable[[Hashable, Any], Iterable[Task]], desc: str) -> None: ...


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped a stage; finished jobs' outputs are kept (a re-run resumes)."""

    def __init__(self, desc: str, n_done: int, n_jobs: int):
        super().__init__(f"{desc}: {n_done} of {n_jobs} jobs finished")
        self.desc, self.n_done, self.n_jobs = desc, n_done, n_jobs


class JobExecutor:
    """``map`` and ``run_graph`` on an executor's ``submit`` (start a job, return a handle),
    ``next_done`` (block until a job ends: its handle and result, or its exception),
    ``stop`` (end every job, queued or running) and ``close`` (nothing left: release workers).
    ``slots``: how many jobs it runs at once (None: as many as it is given, queued by its
    own scheduler)."""

    progress: bool
    slots: int | None = None

    def map(self, fn, jobs, desc):
        results: dict[int, Any] = {}

        def keep(index, result):
            results[index] = result
            return ()

        self.run_graph([(i, fn, job) for i, job in enumerate(jobs)], keep, desc, bar=len(jobs) > 1)
        return [results[i] for i in range(len(jobs))]

    def run_graph(self, tasks, then, desc, bar: bool = True, total: int | None = None):
        """Run ``tasks`` and, as each ends, the tasks ``then(key, result)`` returns, until none
        is left: a job waits only for the results it needs, never for a whole stage. Work a
        finished job unlocks starts before work not started yet (e.g. a run's evaluations
        before the next training), so results that gate more work come first. ``total``: the
        graph's job count, where the caller knows it up front, so that progress reads "k of
        total" from the start; without it the total grows as tasks are added."""
        ready: deque[Task] = deque(tasks)
        running: dict[Any, Hashable] = {}
        n_done, n_added = 0, len(ready)
        n_jobs = max(total or 0, n_added)
        with tqdm(total=n_jobs, desc=desc, leave=False, disable=not self.progress or not bar) as progress:
            try:
                while ready or running:
                    while ready and (self.slots is None or len(running) < self.slots):
                        key, fn, job = ready.popleft()
                        running[self.submit(fn, job)] = key
                    handle, result = self.next_done(desc)
                    key = running.pop(handle)
                    n_done += 1
                    progress.update(1)
                    report_done(self.progress, desc, n_done, n_jobs)
                    unlocked = list(then(key, result))
                    ready.extendleft(reversed(unlocked))
                    n_added += len(unlocked)
                    n_jobs = max(n_jobs, n_added)
                    progress.total = n_jobs
                    progress.refresh()
            except KeyboardInterrupt:
                self.stop_through_interrupts()
                raise Interrupted(desc, n_done, n_jobs) from None
            except BaseException:
                self.stop_through_interrupts()
                raise
        self.close()

    def stop_through_interrupts(self) -> None:
        """``stop``, to the end even if more Ctrl-C or SIGTERMs arrive meanwhile (two workers
        may each signal the run): a stop cut short leaves workers that the exit waits for forever."""
        while True:
            try:
                return self.stop()
            except KeyboardInterrupt:
                continue

    def submit(self, fn: Callable[[Any], Any], job: Any) -> Hashable:
        raise NotImplementedError

    def next_done(self, desc: str) -> tuple[Hashable, Any]:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class InProcessExecutor(JobExecutor):
    """One job at a time in this process, in the order they were submitted."""

    slots = 1

    def __init__(self, progress: bool = True):
        self.progress = progress
        self._queue: deque[tuple[int, Callable[[Any], Any], Any]] = deque()
        self._n_submitted = 0

    def submit(self, fn, job):
        self._n_submitted += 1
        self._queue.append((self._n_submitted, fn, job))
        return self._n_submitted

    def next_done(self, desc):
        handle, fn, job = self._queue.popleft()
        return handle, fn(job)

    def stop(self):
        self._queue.clear()


def _init_worker(drake_log_level: int, package_log_level: int) -> None:
    """Workers leave Ctrl-C to the parent, which stops them all, and die at once on SIGTERM.
    Their progress bars lock with a thread lock, not tqdm's default multiprocessing one: that
    is a named semaphore which a worker dying on SIGTERM never releases, so the parent's exit
    warned of one "leaked semaphore" per worker. (Each worker's lock was its own anyway.)
    A fork-server worker does not inherit the parent's logging: it logs in the command
    line's format at the parent's level, and filters Drake's records at the parent's level.
    A filter, not a level: importing pydrake (later, in a job) resets the level to INFO but
    keeps the logger's filters, and the worker need not import it now."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    tqdm.set_lock(threading.RLock())
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


class Attempt(NamedTuple):
    """One run of a job in a pool: its handle (the same across retries), the job, how often it
    was retried before, and the pool it runs in."""

    handle: int
    fn: Callable[[Any], Any]
    job: Any
    retries: int
    pool: ProcessPoolExecutor


class ProcessPoolJobExecutor(JobExecutor):
    """A local process pool, started at the first job and ended when none is left. Jobs set
    their own torch thread count (part of their key), so the worker count changes neither
    results nor cache keys.

    A worker that dies (killed, out of memory) breaks the pool, which then ends its other
    workers: every job running in it is lost. Each is run again on a fresh pool, up to
    ``max_retries`` times as on Ray, and finds at most a torn output (a temp file, a shard
    without its record), which it redoes. A job whose retries run out is a ``JobLostError``.
    Which worker died is not known, so every job the broken pool held counts a retry: the
    one whose worker died, those whose workers the pool ended, and any still queued in it."""

    def __init__(self, workers: int, progress: bool = True, max_retries: int = MAX_RETRIES):
        self.workers, self.progress, self.max_retries = workers, progress, max_retries
        self.slots = workers
        self._pool: ProcessPoolExecutor | None = None
        self._running: dict[Future, Attempt] = {}
        self._n_submitted = 0

    def map(self, fn, jobs, desc):
        if len(jobs) <= 1:  # not worth starting workers for
            return InProcessExecutor(self.progress).map(fn, jobs, desc)
        return super().map(fn, jobs, desc)

    def submit(self, fn, job):
        self._n_submitted += 1
        self._start(self._n_submitted, fn, job, retries=0)
        return self._n_submitted

    def _start(self, handle: int, fn: Callable[[Any], Any], job: Any, retries: int) -> None:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=worker_context(), initializer=_init_worker,
                initargs=(logging.getLogger("drake").getEffectiveLevel(),
                          logging.getLogger("ambient_bench").getEffectiveLevel()))
        try:
            future = self._pool.submit(fn, job)
        except BrokenProcessPool:  # broke since its last result came in: its lost jobs are retried in next_done
            self._discard(self._pool)
            self._start(handle, fn, job, retries)
            return
        self._running[future] = Attempt(handle, fn, job, retries, self._pool)

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Release a broken pool (its workers are gone) so that the next job starts a fresh one."""
        if pool is self._pool:
            pool.shutdown()
            self._pool = None

    def next_done(self, desc):
        while True:
            done, _ = wait(self._running, return_when=FIRST_COMPLETED)
            future = next(iter(done))
            attempt = self._running.pop(future)
            try:
                return attempt.handle, future.result()  # a failed job raises here: run_graph stops the rest
            except BrokenProcessPool:
                self._discard(attempt.pool)
            name = describe_job(attempt.job)
            if attempt.retries >= self.max_retries:
                raise JobLostError(f"{desc}: {name} did not finish after {self.max_retries} retries (its worker "
                                   "process died: killed, or out of memory)")
            log.warning("%s: the worker process running %s died; running it again (retry %d of %d)", desc, name,
                        attempt.retries + 1, self.max_retries)
            self._start(attempt.handle, attempt.fn, attempt.job, attempt.retries + 1)

    def stop(self):
        if self._pool is not None:
            stop_workers(self._pool)
        self._pool, self._running = None, {}

    def close(self):
        if self._pool is not None:
            self._pool.shutdown()
        self._pool = None


def make_executor(workers: int, progress: bool = True) -> Executor:
    return InProcessExecutor(progress) if workers <= 1 else ProcessPoolJobExecutor(workers, progress)

