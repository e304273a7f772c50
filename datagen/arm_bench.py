"""Arm benchmarks for ``python -m ambient_bench.bench`` (keys ``arm.*``).

- ``arm.collision_checks_per_s``: ``SceneGraphCollisionChecker`` configuration checks of
  random configurations in the joint box, one thread.
- ``arm.problem_ms``: median time of one ``problem(seed)`` (two IK solves: a reset).
- ``arm.trajopt_plans_per_s`` / ``arm.rrt_plans_per_s``: valid plans per second, one
  process (failed seeds' time included), and the valid fractions.
- ``arm.pool_speedup_2``: RRT shards through a 2-process pool vs the same seeds in one
  process (the pooled episodes are checked to be identical to the serial ones).
- ``arm.eval_1000_reset_s`` / ``arm.eval_1000_check_s``: ``ArmTask`` resets (IK) and plan
  checks of 1000 valid plans (stored RRT plans, repeated), i.e. the environment's share of
  a 1000-trial evaluation; ``arm.plan_check_ms`` is the check per plan.
- ``arm.accel_sq_rrt_over_trajopt``: mean acc^2 of the RRT over the trajopt episodes.
"""

from __future__ import annotations

import multiprocessing
import time

import numpy as np

from ambient_bench.cli.bench import eval_figures
from ambient_bench.datagen.arm_rrt import generate_arm_rrt
from ambient_bench.datagen.arm_trajopt import generate_arm_trajopt
from ambient_bench.datagen.maze_bench import _import_planners, _same_episodes
from ambient_bench.envs.arm import (DT_S, Q_LOWER, Q_UPPER, ArmTask, arm_scene, average_squared_acceleration,
                                    plan_from_episode, problem)
from ambient_bench.registry import SUITE_BENCHES
from ambient_bench.seeds import split_seeds
from ambient_bench.task import GeneratorOutput


def _mean_accel_sq(output: GeneratorOutput) -> float:
    return float(np.mean([average_squared_acceleration(plan_from_episode(e), DT_S) for e in output.episodes]))


def _warm_worker(pause_s: float) -> None:
    _import_planners(pause_s)
    arm_scene()


def bench_arm(quick: bool = True) -> dict[str, float]:
    """Time the arm's checker, problems, generators and evaluation; ``quick`` uses 8 trajopt /
    20 RRT plans (about a minute on 2 busy cores)."""
    n_trajopt, n_rrt = (8, 20) if quick else (32, 100)
    scene = arm_scene()
    configs = np.random.default_rng(0).uniform(Q_LOWER, Q_UPPER, (5000, 7))
    start = time.perf_counter()
    for q in configs:
        scene.config_free(q)
    checks_per_s = len(configs) / (time.perf_counter() - start)

    problem_s = []
    for seed in split_seeds("validation", 50):
        start = time.perf_counter()
        problem(int(seed))
        problem_s.append(time.perf_counter() - start)

    start = time.perf_counter()
    trajopt = generate_arm_trajopt(split_seeds("datagen_clean", n_trajopt))
    trajopt_s = time.perf_counter() - start
    rrt_seeds = split_seeds("datagen_corrupt", n_rrt)
    start = time.perf_counter()
    rrt = generate_arm_rrt(rrt_seeds)
    rrt_s = time.perf_counter() - start

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_warm_worker, [1.0, 1.0], chunksize=1)
        start = time.perf_counter()
        pooled = pool.map(generate_arm_rrt, np.array_split(rrt_seeds, 4))
        pool_s = time.perf_counter() - start
    if not _same_episodes(rrt.episodes, [e for out in pooled for e in out.episodes]):
        raise RuntimeError("pooled RRT shards differ from the serial run: generation is not a pure function of seeds")

    repeats = -(-1000 // len(rrt.episodes))
    episodes = (rrt.episodes * repeats)[:1000]
    task = ArmTask()
    start = time.perf_counter()
    task.reset(np.array([e.seed for e in episodes]))
    reset_s = time.perf_counter() - start
    start = time.perf_counter()
    task.step(np.stack([e.action for e in episodes]))
    check_s = time.perf_counter() - start
    if task.aggregate(task.records())["success_rate"] != 1.0:
        raise RuntimeError("a stored RRT plan failed the evaluator's check")

    return {
        "arm.collision_checks_per_s": checks_per_s,
        "arm.problem_ms": float(np.median(problem_s)) * 1e3,
        "arm.trajopt_plans_per_s": len(trajopt.episodes) / trajopt_s,
        "arm.trajopt_valid_fraction": len(trajopt.episodes) / n_trajopt,
        "arm.rrt_plans_per_s": len(rrt.episodes) / rrt_s,
        "arm.rrt_valid_fraction": len(rrt.episodes) / n_rrt,
        "arm.pool_speedup_2": rrt_s / pool_s,
        "arm.eval_1000_reset_s": reset_s,
        "arm.eval_1000_check_s": check_s,
        "arm.plan_check_ms": check_s,  # 1000 plans: seconds per 1000 = ms per plan
        "arm.accel_sq_rrt_over_trajopt": _mean_accel_sq(rrt) / _mean_accel_sq(trajopt),
    }


@SUITE_BENCHES.register("arm")
def bench_arm_suite(quick: bool = True) -> dict[str, float]:
    """The arm figures of ``python -m ambient_bench.bench``: data generation and the evaluation's env share."""
    return {**bench_arm(quick=quick), **eval_figures("arm", (-3.0, 3.0), "eval_env_share")}
