"""Worker deaths for the executors' tests, as an out-of-memory kill would cause them (SIGKILL):
a shard job whose worker dies mid-write once, and a job whose worker dies every time; and a
job that stops its run with SIGTERM while its progress bar is drawn. They
live in a module of their own so that pool workers can import them (Ray's get them by value)."""

import functools
import os
import signal
import threading
from pathlib import Path

from tqdm.auto import tqdm

from ambient_bench.jobs.functions import ShardJob, run_shard


def write_shard_then_die_once(marker: str, job: ShardJob):
    """The shard job; in the one job that claims ``marker``, its worker process is SIGKILLed
    after the shard's .npz is written, in the middle of writing its record: a crash mid-job
    that leaves a torn output behind (a shard without its record, the record's temp file)."""
    import ambient_bench.jobs.functions as jobs

    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return jobs.run_shard(job)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    real_replace = os.replace

    def die_before_the_record_lands(src, dst):
        if str(dst).endswith(".json"):
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)

    os.replace = die_before_the_record_lands  # this worker dies with the patch
    return jobs.run_shard(job)


class KillOneShardWorker:
    """An executor that runs shard jobs through ``write_shard_then_die_once``."""

    def __init__(self, inner, marker):
        self.inner, self.marker = inner, marker

    def map(self, fn, jobs, desc):
        if fn is run_shard:
            fn = functools.partial(write_shard_then_die_once, str(self.marker))
        return self.inner.map(fn, jobs, desc)


def die_every_time(job: ShardJob):
    """A job whose worker is SIGKILLed whenever it runs; each run adds a line to ``<path>.runs``."""
    with open(Path(job.path).with_suffix(".runs"), "a") as fh:
        fh.write(f"{os.getpid()}\n")
    os.kill(os.getpid(), signal.SIGKILL)


def stop_the_run_mid_progress_bar(run_pid: int):
    """Draw a progress bar, SIGTERM the run's process (``run_pid``) and wait for the run to end
    this worker: a run stopped while its jobs' bars are on screen."""
    with tqdm(total=2, desc="busy") as bar:
        bar.update(1)
        os.kill(run_pid, signal.SIGTERM)
        threading.Event().wait()
