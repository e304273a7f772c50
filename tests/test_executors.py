"""Local executors: job graphs, what a run without progress bars tells its log, worker log
lines, and a pool that survives a killed worker."""

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ambient_bench.config.suites import load_suite
from ambient_bench.jobs.executors import InProcessExecutor, Interrupted, ProcessPoolJobExecutor
from ambient_bench.pipeline.runner import Runner

from faults import KillOneShardWorker


def test_without_progress_bars_each_finished_job_is_one_log_line(caplog):
    with caplog.at_level(logging.INFO, logger="ambient_bench.jobs.executors"):
        assert InProcessExecutor(progress=False).map(str, [1, 2], "demo") == ["1", "2"]
        InProcessExecutor(progress=True).map(str, [1, 2], "bars")
    assert [r.getMessage() for r in caplog.records] == ["demo: 1 of 2 jobs done", "demo: 2 of 2 jobs done"]


# A fresh interpreter: workers come from the process's one fork server, which keeps the stderr
# it was started with, so in-process the lines would follow whichever test started it first.
POOL_LOG_SCRIPT = """
import functools, logging, sys
from pathlib import Path
from ambient_bench import logs
from ambient_bench.jobs import functions as jobs
from ambient_bench.jobs.executors import ProcessPoolJobExecutor
logs.configure(logging.INFO)
read = functools.partial(jobs.read_eval, key="k", n_trials=5)
assert ProcessPoolJobExecutor(2, progress=False).map(read, [Path(p) for p in sys.argv[1:]], "read") == [None, None]
"""


def test_workers_log_in_the_command_lines_format_at_its_level(tmp_path):
    """A fork-server worker starts with no logging: an INFO line of a job (here a recomputed
    evaluation) must reach stderr formatted like the parent's lines, not be dropped."""
    paths = []
    for name in ("a", "b"):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps({"records": [{}] * 3, "aggregate": {}, "key": "k"}))
    proc = subprocess.run([sys.executable, "-c", POOL_LOG_SCRIPT, *map(str, paths)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    for path in paths:
        assert re.search(rf"^\d\d:\d\d:\d\d INFO ambient_bench\.jobs\.functions: recomputing {re.escape(str(path))}: "
                         r"it holds 3 trials, this evaluation asks for 5$", proc.stderr, re.MULTILINE), proc.stderr


def test_run_graph_starts_unlocked_work_before_work_not_started_yet():
    """Each finished job may unlock more: that work runs next (it gates what follows), before
    the tasks still waiting from the start; every result reaches ``then`` once."""
    ran, seen = [], []

    def job(name):
        ran.append(name)
        return name.upper()

    def then(key, result):
        seen.append((key, result))
        return [(key + "1", job, key + "1"), (key + "2", job, key + "2")] if key in ("a", "a1") else []

    InProcessExecutor(progress=False).run_graph([(k, job, k) for k in "abc"], then, "graph")
    assert ran == ["a", "a1", "a11", "a12", "a2", "b", "c"]
    assert seen == [(name, name.upper()) for name in ran]


def test_a_second_interrupt_during_the_stop_does_not_cut_the_stop_short():
    """Two workers may each SIGTERM the run: the second interrupt can land inside the stop
    that the first began. The stop still ends (else the exit waits on live workers forever),
    and the run ends in ``Interrupted``."""
    stops = []

    class SecondSignalMidStop(InProcessExecutor):
        def stop(self):
            stops.append("started")
            if len(stops) == 1:
                raise KeyboardInterrupt  # the second signal, before this stop ended its workers
            stops.append("ended")

    def interrupted(_):
        raise KeyboardInterrupt

    with pytest.raises(Interrupted, match="graph: 0 of 1 jobs finished"):
        SecondSignalMidStop(progress=False).run_graph([("a", interrupted, None)], lambda *_: [], "graph")
    assert stops == ["started", "started", "ended"]


def test_the_pool_runs_a_graph_to_the_same_results():
    results = {}

    def keep(key, result):
        results[key] = result
        return [(key + "!", str, key + "!")] if len(key) == 1 else []

    ProcessPoolJobExecutor(2, progress=False).run_graph([(k, str, k) for k in "xyz"], keep, "graph")
    assert results == {k: k for k in ("x", "y", "z", "x!", "y!", "z!")}


def dataset_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "data").rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_a_killed_pool_worker_is_replaced_and_the_data_equal_an_undisturbed_runs(tmp_path, caplog):
    """A worker SIGKILLed mid-write (a shard written, its record half-written) breaks the pool:
    its jobs run again on a fresh one, the torn shard is redone and the temp file removed."""
    undisturbed = Runner(load_suite("maze", "smoke"), "smoke", tmp_path / "undisturbed", progress=False)
    undisturbed.run("datagen")
    marker = tmp_path / "killed-worker-pid"
    killed = Runner(load_suite("maze", "smoke"), "smoke", tmp_path / "killed", progress=False,
                    executor=KillOneShardWorker(ProcessPoolJobExecutor(2, progress=False), marker))
    with caplog.at_level(logging.INFO, logger="ambient_bench"):
        killed.run("datagen")
    with pytest.raises(ProcessLookupError):
        os.kill(int(marker.read_text()), 0)  # that worker really died
    assert "died; running it again (retry 1 of 3)" in caplog.text
    assert "removed 1 temp files of writes whose worker died" in caplog.text
    assert dataset_files(killed.root) == dataset_files(undisturbed.root)


# A fresh interpreter, so that its exit shows whatever the pool leaked (semaphores, workers).
DOOMED_SCRIPT = """
import multiprocessing, sys
from pathlib import Path
from faults import die_every_time
from ambient_bench.jobs.executors import JobLostError, ProcessPoolJobExecutor
from ambient_bench.jobs.functions import ShardJob
jobs = [ShardJob("maze_gcs", {}, "clean", [i], Path(sys.argv[1]) / f"doomed-{i}.npz") for i in range(2)]
try:
    ProcessPoolJobExecutor(2, progress=False).map(die_every_time, jobs, "doomed shards")
except JobLostError as err:
    print(err)
print("workers left:", len(multiprocessing.active_children()))
"""


def test_a_job_whose_worker_always_dies_ends_in_one_error_after_three_retries(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", DOOMED_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    error, workers = proc.stdout.strip().splitlines()
    assert re.fullmatch(rf"doomed shards: {re.escape(str(tmp_path))}/doomed-\d\.npz did not finish after 3 retries "
                        r"\(its worker process died: killed, or out of memory\)", error), error
    named = error.split(": ")[1].split(" did not")[0]
    # Every job a broken pool held is retried and counts it, started or still queued (which
    # worker died is not known), so the job ran at most 4 times: its first run and 3 retries;
    # it may have run none, if the other job's worker broke each pool before it started.
    retries = [f"the worker process running {named} died; running it again (retry {k} of 3)" for k in (1, 2, 3)]
    assert all(line in proc.stderr for line in retries), proc.stderr
    runs = [len(path.read_text().splitlines()) for path in tmp_path.glob("doomed-*.runs")]
    assert runs and max(runs) <= 4  # some job ran, none more than its first run and 3 retries
    assert workers == "workers left: 0"
    assert "Traceback" not in proc.stderr and "leaked" not in proc.stderr, proc.stderr


STOPPED_SCRIPT = """
import os, signal
from faults import stop_the_run_mid_progress_bar
from ambient_bench.jobs.executors import Interrupted, ProcessPoolJobExecutor
def on_sigterm(signum, frame):  # the run command's handler
    raise KeyboardInterrupt
signal.signal(signal.SIGTERM, on_sigterm)
try:
    ProcessPoolJobExecutor(2, progress=False).map(stop_the_run_mid_progress_bar, [os.getpid()] * 2, "busy jobs")
except Interrupted as err:
    print(err)
"""


def test_a_run_stopped_by_sigterm_while_workers_draw_bars_leaks_nothing_at_exit(tmp_path):
    """Workers die on SIGTERM without clean-up: nothing of theirs may outlive them (tqdm's
    default lock, a named semaphore, did: the exit warned of one per worker)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", STOPPED_SCRIPT], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "busy jobs: 0 of 2 jobs finished"
    assert "busy:   0%" in proc.stderr  # the bar was drawn
    assert "leaked" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
