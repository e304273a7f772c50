"""Maze data-generation benchmarks for ``python -m ambient_bench.bench`` (keys ``maze.*``).

- ``maze.gcs_plans_per_s`` / ``maze.rrt_plans_per_s``: valid plans per second, one process.
- ``maze.pool_speedup_2``: GCS shards through a 2-process pool vs the same seeds in one
  process (the pooled dataset is checked to be byte-identical to the serial one).
- ``maze.accel_sq_rrt_over_gcs``: mean average squared acceleration of the RRT episodes
  over that of the GCS episodes (the smoothness gap in the data; the paper expects >= 3).
"""

from __future__ import annotations

import multiprocessing
import time

import numpy as np

from ambient_bench.cli.bench import eval_figures
from ambient_bench.datagen.maze_gcs import generate_maze_gcs
from ambient_bench.datagen.maze_rrt import generate_maze_rrt
from ambient_bench.envs.maze import DT_S, average_squared_acceleration, positions_from_episode
from ambient_bench.registry import SUITE_BENCHES
from ambient_bench.seeds import split_seeds
from ambient_bench.task import GeneratorOutput


def _import_planners(pause_s: float = 0.0) -> None:
    """Import Drake and OMPL (about a second), so timings measure planning only."""
    import ompl.geometric  # noqa: F401
    import pydrake.planning  # noqa: F401

    time.sleep(pause_s)  # keeps this worker busy so the pool's other worker takes the next call


def _mean_accel_sq(output: GeneratorOutput) -> float:
    return float(np.mean([average_squared_acceleration(positions_from_episode(e), DT_S) for e in output.episodes]))


def _same_episodes(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        x.seed == y.seed and x.obs.tobytes() == y.obs.tobytes() and x.action.tobytes() == y.action.tobytes()
        for x, y in zip(a, b)
    )


def bench_maze(quick: bool = True) -> dict[str, float]:
    """Time the maze generators; ``quick`` uses 8 GCS / 100 RRT plans (about 15 s on 2 cores)."""
    n_gcs, n_rrt = (8, 100) if quick else (32, 1000)
    gcs_seeds = split_seeds("datagen_clean", n_gcs)
    _import_planners()

    start = time.perf_counter()
    gcs = generate_maze_gcs(gcs_seeds)
    gcs_serial_s = time.perf_counter() - start

    start = time.perf_counter()
    rrt = generate_maze_rrt(split_seeds("datagen_corrupt", n_rrt))
    rrt_s = time.perf_counter() - start

    shards = np.array_split(gcs_seeds, 4)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_import_planners, [1.0, 1.0], chunksize=1)
        start = time.perf_counter()
        pooled = pool.map(generate_maze_gcs, shards)
        gcs_pool_s = time.perf_counter() - start
    if not _same_episodes(gcs.episodes, [e for out in pooled for e in out.episodes]):
        raise RuntimeError("pooled GCS shards differ from the serial run: generation is not a pure function of the seed")

    return {
        "maze.gcs_plans_per_s": len(gcs.episodes) / gcs_serial_s,
        "maze.rrt_plans_per_s": len(rrt.episodes) / rrt_s,
        "maze.pool_speedup_2": gcs_serial_s / gcs_pool_s,
        "maze.accel_sq_rrt_over_gcs": _mean_accel_sq(rrt) / _mean_accel_sq(gcs),
    }


@SUITE_BENCHES.register("maze")
def bench_maze_suite(quick: bool = True) -> dict[str, float]:
    """The maze figures of ``python -m ambient_bench.bench``: data generation and the evaluation's env share."""
    return {**bench_maze(quick=quick), **eval_figures("maze", (0.0, 6.0), "eval_env_share")}
