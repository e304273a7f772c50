"""``python -m ambient_bench.bench``: measured speed figures (medians), printed and as JSON.

Keys are ``<area>.<figure>``: ``train.*`` (the default maze network at batch 256: steps/s,
samples/s, data-pipeline share of a step, ambient vs clean-only step time, achieved
GFLOP/s), ``maze.*`` (GCS/RRT plans per second, process-pool speed-up, the RRT/GCS
smoothness gap, the evaluation's environment share), ``binsort.*``, ``arm.*`` (collision
checks/s, trajopt and RRT plans/s, pool speed-up, environment time of 1000 evaluation trials)
and ``ray.*`` (the Ray executor's per-task overhead and maze datagen against the process pool).
Targets live here, not in timed unit tests.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config.sections import EvalConfig, PolicyConfig
from ..config.suites import load_suite
from ..data import atomic_write_json, finalize_dataset, load_dataset, write_shard
from ..evaluation.evaluator import evaluate
from ..jobs.provenance import machine
from ..policy.baseline import make_baseline
from ..policy.policy import DiffusionPolicy
from ..policy.sampler import NoiseBandSampler
from ..policy.trainer import build_policy, train_step, training_loss
from ..registry import SUITE_BENCHES, TASKS
from ..seeds import split_seeds
from ..task import Episode

log = logging.getLogger("ambient_bench.bench")


def median_time(fn: Callable[[], None], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def synthetic_maze_like(directory: Path, n_episodes: int, source: str, seed: int):
    """Random-walk episodes with maze dims (obs 10, action 2), ~100 steps each."""
    rng = np.random.default_rng(seed)
    episodes = []
    for i in range(n_episodes):
        path = np.cumsum(rng.normal(scale=0.1, size=(101, 2)), axis=0)
        obs = np.concatenate([np.repeat(path[:-1], 4, axis=1), np.repeat(path[-1:], 100, axis=0)], axis=1)
        episodes.append(Episode(obs, path[1:], i))
    finalize_dataset(directory, [write_shard(directory / "shard-00000.npz", episodes, source)], {"dataset_id": source})
    return load_dataset(directory)


def bench_train(repeats: int) -> dict[str, float]:
    from torch.utils.flop_counter import FlopCounterMode

    with tempfile.TemporaryDirectory() as tmp:
        datasets = {
            "clean": synthetic_maze_like(Path(tmp) / "clean", 50, "clean", 0),
            "corrupt": synthetic_maze_like(Path(tmp) / "corrupt", 2000, "corrupt", 1),
        }
    config = PolicyConfig()  # the maze default: 64/128/256, kernel 3, step embedding 64
    batch_size = 256
    out = {}
    step_times = {}
    for name, params in (("clean_only", {}), ("ambient", {"sigma_min": 0.2})):
        baseline = make_baseline(name, params)
        torch.manual_seed(0)
        policy = build_policy(datasets, baseline, config)
        sampler = NoiseBandSampler(datasets, baseline, policy.schedule, config.horizon, policy.normalizer)
        opt = torch.optim.AdamW(policy.net.parameters(), lr=1e-4)
        gen = torch.Generator().manual_seed(0)

        step_times[name] = median_time(lambda: train_step(policy, baseline, sampler, opt, batch_size, gen), repeats)
        if name == "clean_only":
            pipeline = median_time(lambda: sampler.sample(batch_size, gen), repeats * 5)
            batch = sampler.sample(batch_size, gen)
            with FlopCounterMode(display=False) as counter:
                training_loss(policy, baseline, batch, gen).backward()
            flops = counter.get_total_flops()
    clean = step_times["clean_only"]
    out["train.step_ms"] = clean * 1e3
    out["train.steps_per_s"] = 1.0 / clean
    out["train.samples_per_s"] = batch_size / clean
    out["train.pipeline_share"] = pipeline / clean
    out["train.ambient_over_clean_step_time"] = step_times["ambient"] / clean
    out["train.gflop_per_step"] = flops / 1e9
    out["train.gflops"] = flops / 1e9 / clean
    return out


def eval_share(suite_name: str, range_: tuple[float, float]) -> dict[str, float]:
    """Env time / policy time of a batched evaluation at the suite's quick preset (its task,
    network, sampler, inference steps and test-trial count) with an untrained policy
    (inference cost does not depend on the weights); ``range_`` spans its actions."""
    from ..policy.normalizer import Normalizer

    suite = load_suite(suite_name, "quick")
    task = TASKS.get(suite.task)(**suite.task_params)
    low, high = range_
    normalizer = Normalizer(np.full(task.obs_dim, low), np.full(task.obs_dim, high),
                            np.full(task.action_dim, low), np.full(task.action_dim, high))
    torch.manual_seed(0)
    policy = DiffusionPolicy(suite.policy, task.obs_dim, task.action_dim, normalizer).eval()
    n_trials = suite.eval.n_test
    config = EvalConfig(sampler=suite.eval.sampler, inference_steps=suite.eval.inference_steps, batch_size=n_trials)
    timing = evaluate(policy, task, split_seeds("validation", n_trials), config, progress=False)["timing"]
    return {"policy_s": timing["policy_s"], "env_s": timing["env_s"], "env_over_policy": timing["env_over_policy"],
            "n_trials": n_trials}


def eval_figures(suite_name: str, range_: tuple[float, float], share_name: str) -> dict[str, float]:
    """``eval_share`` as bench figures: ``<suite>.eval_<n>_policy_s``, ``..._env_s`` and ``<suite>.<share_name>``."""
    share = eval_share(suite_name, range_)
    return {f"{suite_name}.eval_{share['n_trials']}_policy_s": share["policy_s"],
            f"{suite_name}.eval_{share['n_trials']}_env_s": share["env_s"],
            f"{suite_name}.{share_name}": share["env_over_policy"]}


def bench_ray(quick: bool) -> dict[str, float]:
    from .ray_bench import bench_ray as bench_ray_executor

    return bench_ray_executor(quick)


def bench_areas() -> dict[str, Callable]:
    """The training loop, every registered suite's figures, the Ray executor."""
    return {"train": bench_train, **{name: SUITE_BENCHES.get(name) for name in SUITE_BENCHES.names()},
            "ray": bench_ray}


def main(argv: list[str] | None = None) -> int:
    all_areas = bench_areas()
    p = argparse.ArgumentParser(prog="python -m ambient_bench.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--areas", default=",".join(all_areas), help=f"comma-separated subset of {', '.join(all_areas)}")
    p.add_argument("--repeats", type=int, default=7, help="timed repetitions per figure (median reported)")
    p.add_argument("--quick", action="store_true", help="fewer plans in the datagen figures")
    p.add_argument("--json", type=Path, help="also write the figures as a flat JSON object")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("drake").setLevel(logging.WARNING)
    areas = [a for a in args.areas.split(",") if a]
    unknown = [a for a in areas if a not in all_areas]
    if unknown or args.repeats < 1:
        print(f"error: unknown area {unknown[0] if unknown else ''}; valid: {', '.join(all_areas)} "
              "(and --repeats >= 1)", file=sys.stderr)
        return 2
    figures: dict[str, float | str] = {"machine": machine()}
    for area in areas:
        log.info("measuring %s ...", area)
        result = all_areas[area](args.repeats) if area == "train" else all_areas[area](args.quick)
        figures.update(result)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:.4g}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    if args.json:
        atomic_write_json(args.json, figures)
    return 0
