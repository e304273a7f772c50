"""``python -m ambient_bench.bench``: measured speed figures (medians), printed and as JSON.

Keys are ``<area>.<figure>``: ``train.*`` (the default maze network at batch 256: steps/s,
samples/s, data-pipeline share of a step, ambient vs clean-only step time, achieved
GFLOP/s; bf16 vs fp32 step time at the maze quick and paper presets' sizes), ``maze.*``
(GCS/RRT plans per second, process-pool speed-up, the RRT/GCS smoothness gap, the
evaluation's environment share), ``binsort.*``, ``arm.*`` (collision checks/s, trajopt and
RRT plans/s, pool speed-up, environment time of 1000 evaluation trials), ``ray.*`` (the Ray
executor's per-task overhead and maze datagen against the process pool) and, only when
asked for, ``gpu.*`` (``cli.gpu_check``: ``--device`` end to end and its speed).
Every printed figure names the machine and torch thread count it was measured with. Ratios
of two step times are measured interleaved (A B A B ...: the median over turns of B / A), so
a change in the machine's load hits both alike. Targets live here, not in timed unit tests.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config.sections import EvalConfig, PolicyConfig
from ..config.suites import load_suite
from ..data import atomic_write_json
from ..evaluation.evaluator import evaluate
from ..jobs.provenance import machine
from ..policy.baseline import make_baseline
from ..policy.policy import DiffusionPolicy
from ..policy.trainer import training_loss
from ..registry import SUITE_BENCHES, TASKS
from ..seeds import split_seeds
from .gpu_check import bench_gpu
from .run import check_device
from .step_timing import bench_datasets, interleaved_times, median_ratio, median_time, precision_figures, training_step

log = logging.getLogger("ambient_bench.bench")


def bench_train(repeats: int) -> dict[str, float]:
    from torch.utils.flop_counter import FlopCounterMode

    with tempfile.TemporaryDirectory() as tmp:
        datasets = bench_datasets(Path(tmp))
    config = PolicyConfig()  # the maze default: 64/128/256, kernel 3, step embedding 64
    batch_size = 256
    steps = {}
    for name, params in (("clean_only", {}), ("ambient", {"sigma_min": 0.2})):
        steps[name], policy, sampler = training_step(datasets, name, params, config, batch_size)
        if name == "clean_only":
            gen = torch.Generator().manual_seed(0)
            pipeline = median_time(lambda: sampler.sample(batch_size, gen), repeats * 5)
            with FlopCounterMode(display=False) as counter:
                training_loss(policy, make_baseline(name, params), sampler.sample(batch_size, gen), gen).backward()
            flops = counter.get_total_flops()
    times = interleaved_times(steps, repeats)
    clean = statistics.median(times["clean_only"])
    return {
        "train.step_ms": clean * 1e3,
        "train.steps_per_s": 1.0 / clean,
        "train.samples_per_s": batch_size / clean,
        "train.pipeline_share": pipeline / clean,
        "train.ambient_over_clean_step_time": median_ratio(times, "ambient", "clean_only"),
        "train.gflop_per_step": flops / 1e9,
        "train.gflops": flops / 1e9 / clean,
        **precision_figures(datasets, repeats, "cpu", "train"),
    }


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
    """The training loop, every registered suite's figures, the Ray executor, the GPU check."""
    return {"train": bench_train, **{name: SUITE_BENCHES.get(name) for name in SUITE_BENCHES.names()},
            "ray": bench_ray, "gpu": bench_gpu}


def main(argv: list[str] | None = None) -> int:
    all_areas = bench_areas()
    default_areas = [a for a in all_areas if a != "gpu"]
    p = argparse.ArgumentParser(prog="python -m ambient_bench.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--areas", default=",".join(default_areas),
                   help=f"comma-separated subset of {', '.join(all_areas)} (default: all but gpu)")
    p.add_argument("--repeats", type=int, default=7, help="timed repetitions per figure (median reported)")
    p.add_argument("--quick", action="store_true", help="fewer plans in the datagen figures; the gpu area's dry run")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help=f"torch threads while measuring (default: torch's, here {torch.get_num_threads()})")
    p.add_argument("--device", default="cpu", help="the gpu area's device: cuda, cuda:N, or cpu for a dry run")
    p.add_argument("--json", type=Path, help="also write the figures as a flat JSON object")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("drake").setLevel(logging.WARNING)
    areas = [a for a in args.areas.split(",") if a]
    unknown = [a for a in areas if a not in all_areas]
    if unknown or args.repeats < 1 or args.threads < 1:
        print(f"error: unknown area {unknown[0] if unknown else ''}; valid: {', '.join(all_areas)} "
              "(and --repeats >= 1, --threads >= 1)", file=sys.stderr)
        return 2
    device_error = check_device(args.device)
    if device_error:
        print(f"error: {device_error}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    figures: dict[str, float | str] = {"machine": machine()}
    measured_on: dict[str, str] = {}  # figure -> the machine and thread count it was measured with
    for area in areas:
        log.info("measuring %s ...", area)
        if area == "train":
            result = bench_train(args.repeats)
        elif area == "gpu":
            result = bench_gpu(args.device, args.quick, args.repeats)
        else:
            result = all_areas[area](args.quick)
        figures.update(result)
        measured_on.update(dict.fromkeys(result, machine()))
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {text:<8}  {measured_on.get(key, '')}".rstrip())
    if args.json:
        atomic_write_json(args.json, figures)
    return 0
