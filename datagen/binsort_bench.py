"""Speed of the bin-sorting suite: demo generation (one core, 2-process pool) and batched simulation."""

from __future__ import annotations

import functools
import multiprocessing
import time

import numpy as np

from ambient_bench.cli.bench import eval_figures
from ambient_bench.datagen.binsort_scripted import generate_binsort
from ambient_bench.envs.binsort import HAND_HOME_M, BinSortTask
from ambient_bench.registry import SUITE_BENCHES


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_binsort(n_demos: int = 16, n_episodes: int = 32, n_steps: int = 64) -> dict[str, float]:
    """demos/s on one core; pool speed-up = serial time / 2-process time (pool start included)
    for the same ``n_demos`` seeds in 2 shards; batched-task control steps/s and the share of
    that time spent inside MuJoCo's physics (the rest is the Python around it)."""
    seeds = list(range(n_demos))
    generate = functools.partial(generate_binsort, rule="red_left")
    serial_s = _timed(lambda: generate(seeds))
    shards = [seeds[: n_demos // 2], seeds[n_demos // 2 :]]

    def pooled() -> None:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            pool.map(generate, shards)

    pool_s = _timed(pooled)

    # A hand sweeping over the blocks and opening/closing: contacts as in real evaluation.
    t = np.arange(n_steps) * 0.1
    path = HAND_HOME_M + np.stack([0.12 * np.sin(t), 0.3 * np.sin(0.5 * t), -0.12 * (1 - np.cos(t)) / 2], axis=1)
    actions = np.concatenate([path, np.sign(np.sin(2 * t))[:, None]], axis=1)
    task = BinSortTask(max_steps=n_steps)
    task.reset(np.arange(n_episodes))
    chunk = 8
    sim_s = _timed(lambda: [task.step(np.repeat(actions[None, k : k + chunk], int((~task.done).sum()), axis=0))
                            for k in range(0, n_steps, chunk)])
    return {
        "binsort.demos_per_s": n_demos / serial_s,
        "binsort.pool_speedup_2": serial_s / pool_s,
        "binsort.sim_steps_per_s": n_episodes * n_steps / sim_s,
        "binsort.sim_physics_share": task.physics_s / sim_s,
    }


@SUITE_BENCHES.register("binsort")
def bench_binsort_suite(quick: bool = True) -> dict[str, float]:
    """The binsort figures of ``python -m ambient_bench.bench``: data generation and the evaluation's env share."""
    return {**bench_binsort(), **eval_figures("binsort", (-0.3, 0.3), "eval_sim_share")}
