"""Timing a training step: functions timed in turns (A B A B ...) so that their ratios
survive a busy machine, the maze-sized data and networks they step, and the bf16 / fp32
figures that the bench (``cli.bench``) and the GPU check (``cli.gpu_check``) both report.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config.sections import PRECISIONS, PolicyConfig
from ..config.suites import load_suite
from ..data import finalize_dataset, load_dataset, write_shard
from ..policy.baseline import make_baseline
from ..policy.policy import DiffusionPolicy
from ..policy.sampler import NoiseBandSampler
from ..policy.trainer import build_policy, train_step
from ..task import Episode


def median_time(fn: Callable[[], None], repeats: int, warmup: int = 2) -> float:
    return statistics.median(interleaved_times({"fn": fn}, repeats, warmup)["fn"])


def interleaved_times(fns: dict[str, Callable[[], None]], repeats: int, warmup: int = 2) -> dict[str, list[float]]:
    """Wall times of each of ``fns``, run in turns (A B A B ...) after ``warmup`` untimed turns:
    a change in the machine's load then hits every one of them alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def median_ratio(times: dict[str, list[float]], numerator: str, denominator: str) -> float:
    """The median over turns of one function's time over the other's in the same turn."""
    return statistics.median(a / b for a, b in zip(times[numerator], times[denominator]))


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


def bench_datasets(directory: Path) -> dict:
    """Maze-sized synthetic datasets: 50 clean and 2000 corrupt random walks (a step's cost
    does not depend on what the data show)."""
    return {"clean": synthetic_maze_like(directory / "clean", 50, "clean", 0),
            "corrupt": synthetic_maze_like(directory / "corrupt", 2000, "corrupt", 1)}


def training_step(datasets: dict, baseline_name: str, params: dict, config: PolicyConfig, batch_size: int,
                  device: str = "cpu") -> tuple[Callable[[], None], DiffusionPolicy, NoiseBandSampler]:
    """One training step (a fresh batch, forward, backward, AdamW) of a policy initialised from
    seed 0, waiting for the device to finish it; and the policy and sampler it uses."""
    baseline = make_baseline(baseline_name, params)
    torch.manual_seed(0)
    policy = build_policy(datasets, baseline, config).to(device)
    sampler = NoiseBandSampler(datasets, baseline, policy.schedule, config.horizon, policy.normalizer)
    optimizer = torch.optim.AdamW(policy.net.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)

    def step():
        train_step(policy, baseline, sampler, optimizer, batch_size, generator)
        if policy.device.type == "cuda":
            torch.cuda.synchronize(policy.device)

    return step, policy, sampler


def maze_sizes() -> dict[str, tuple[PolicyConfig, int]]:
    """The maze suite's quick and paper presets' network and batch size (quick: 32/64/128 at
    batch 128; paper: 64/128/256 at batch 256)."""
    suites = {preset: load_suite("maze", preset) for preset in ("quick", "paper")}
    return {preset: (suite.policy, suite.train.batch_size) for preset, suite in suites.items()}


def precision_figures(datasets: dict, repeats: int, device: str, prefix: str) -> dict[str, float]:
    """fp32 and bf16 step times at the maze quick and paper sizes, interleaved, and their ratio."""
    out = {}
    for size, (config, batch_size) in maze_sizes().items():
        steps = {p: training_step(datasets, "clean_only", {}, dataclasses.replace(config, precision=p), batch_size,
                                  device)[0] for p in PRECISIONS}
        times = interleaved_times(steps, repeats)
        for precision in PRECISIONS:
            out[f"{prefix}.{size}_{precision}_step_ms"] = statistics.median(times[precision]) * 1e3
        out[f"{prefix}.{size}_bf16_over_fp32_step_time"] = median_ratio(times, "bf16", "fp32")
    return out
