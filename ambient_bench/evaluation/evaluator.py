"""The one evaluator: step a batched task with a policy, all trials together.

Policy inference is batched across every episode that is still running; the task
executes the first ``n_action_steps`` of each predicted chunk, then the policy replans
(receding horizon). The diffusion sampler's RNG is seeded, so an evaluation is
reproducible.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..config.sections import EvalConfig
from ..policy.policy import DiffusionPolicy
from ..task import BatchedTask


def evaluate(
    policy: DiffusionPolicy,
    task: BatchedTask,
    seeds: np.ndarray,
    config: EvalConfig,
    sampler_seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Run one episode per seed; returns {"records", "aggregate", "timing"}."""
    generator = torch.Generator().manual_seed(sampler_seed)
    records: list[dict[str, Any]] = []
    policy_s = env_s = 0.0
    n_exec = policy.config.n_action_steps
    bar = tqdm(total=len(seeds), desc="eval", disable=not progress, leave=False)
    for begin in range(0, len(seeds), config.batch_size):
        chunk_seeds = np.asarray(seeds[begin : begin + config.batch_size])
        t0 = time.perf_counter()
        obs = task.reset(chunk_seeds)
        env_s += time.perf_counter() - t0
        while not task.done.all():
            active = ~task.done
            t0 = time.perf_counter()
            actions = policy.predict_action(obs[active], generator, config.sampler, config.inference_steps)
            t1 = time.perf_counter()
            obs = task.step(actions[:, :n_exec])
            t2 = time.perf_counter()
            policy_s += t1 - t0
            env_s += t2 - t1
        records.extend(task.records())
        bar.update(len(chunk_seeds))
    bar.close()
    return {
        "records": records,
        "aggregate": task.aggregate(records),
        "timing": {"policy_s": policy_s, "env_s": env_s, "env_over_policy": env_s / max(policy_s, 1e-9)},
    }
