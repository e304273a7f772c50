"""Ray executor figures for ``python -m ambient_bench.bench`` (keys ``ray.*``), on a local
2-CPU Ray instance against a 2-process pool:

- ``ray.init_s``: starting the local Ray instance (once per run).
- ``ray.task_overhead_ms`` / ``ray.pool_task_overhead_ms``: wall time per job of a stage of
  200 jobs that do nothing (median of 5 stages; the pool's includes starting its processes,
  which it does once per stage).
- ``ray.maze_datagen_ray_s`` / ``ray.maze_datagen_pool_s`` / ``ray.maze_datagen_speedup_vs_pool``:
  the maze datagen stage of the quick preset (``quick``: 20 GCS + 500 RRT plans) from freshly
  started workers, each executor into its own directory; the datasets are checked to be identical.
"""

from __future__ import annotations

import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..config.suites import load_suite
from ..jobs.executors import Executor, ProcessPoolJobExecutor
from ..pipeline.runner import Runner

log = logging.getLogger(__name__)

N_NOOP_JOBS = 200
CPUS = 2


def noop(job: int) -> int:
    return job


def per_job_ms(executor: Executor, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        executor.map(noop, list(range(N_NOOP_JOBS)), "no-op jobs")
        times.append(time.perf_counter() - start)
    return statistics.median(times) / N_NOOP_JOBS * 1e3


def datagen_s(executor: Executor, out: Path, overrides: list[str]) -> tuple[float, dict[str, str]]:
    runner = Runner(load_suite("maze", "quick", overrides), "quick", out, progress=False, executor=executor)
    start = time.perf_counter()
    runner.datagen()
    elapsed = time.perf_counter() - start
    return elapsed, {d.name: (d / "meta.json").read_text() for d in (runner.root / "data").iterdir()}


def bench_ray(quick: bool = True) -> dict[str, float]:
    try:
        import ray
    except ImportError:
        log.warning("ray figures skipped: Ray is not installed (pip install -e \".[ray]\")")
        return {}
    from ..jobs.ray_executor import RayExecutor

    overrides = ["datasets.clean.n_episodes=20", "datasets.clean.shard_size=5",
                 "datasets.corrupt.n_episodes=500", "datasets.corrupt.shard_size=125"] if quick else []
    # Read the planners' libraries once in a throw-away process, so neither executor pays
    # for the cold disk reads, and neither starts with them already imported.
    subprocess.run([sys.executable, "-c", "import ompl.geometric, pydrake.planning"], check=True)
    pool = ProcessPoolJobExecutor(CPUS, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        pool_s, pool_data = datagen_s(pool, Path(tmp) / "pool", overrides)
        start = time.perf_counter()
        ray.init(num_cpus=CPUS)
        init_s = time.perf_counter() - start
        try:
            executor = RayExecutor(progress=False)
            ray_s, ray_data = datagen_s(executor, Path(tmp) / "ray", overrides)
            ray_ms = per_job_ms(executor)
        finally:
            ray.shutdown()
    if ray_data != pool_data:
        raise RuntimeError("Ray and pool datagen differ: the datasets must be identical")
    return {
        "ray.init_s": init_s,
        "ray.task_overhead_ms": ray_ms,
        "ray.pool_task_overhead_ms": per_job_ms(pool),
        "ray.maze_datagen_pool_s": pool_s,
        "ray.maze_datagen_ray_s": ray_s,
        "ray.maze_datagen_speedup_vs_pool": pool_s / ray_s,
    }
