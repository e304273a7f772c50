"""Local executors: job graphs, what a run without progress bars tells its log, and worker log lines."""

import json
import logging
import re
import subprocess
import sys

from ambient_bench.jobs.executors import InProcessExecutor, ProcessPoolJobExecutor


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


def test_the_pool_runs_a_graph_to_the_same_results():
    results = {}

    def keep(key, result):
        results[key] = result
        return [(key + "!", str, key + "!")] if len(key) == 1 else []

    ProcessPoolJobExecutor(2, progress=False).run_graph([(k, str, k) for k in "xyz"], keep, "graph")
    assert results == {k: k for k in ("x", "y", "z", "x!", "y!", "z!")}
