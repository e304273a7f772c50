"""Study script (results/binsort/STUDY.md): what limits the motion of bin-sorting policies?

Evaluates trained checkpoints on validation-stream seeds (never the test seeds) and prints
motion, logic and success with each block's outcome (``envs/binsort/rules.OUTCOMES``).
With ``--compose HIGH LOW`` it evaluates a two-network sampler instead: HIGH's denoiser
at every DDIM step with sigma_t > sigma_max and LOW's at the others -- locality's split
done by two separately trained networks (e.g. clean-only above, corrupt-only below). If
that composition places as many blocks as LOW alone while keeping HIGH's logic, the
low-noise band can carry the motion skill and locality's shortfall is in training one
network on both; if it does not, the motions that fail are decided above sigma_max.

    python results/binsort/study/outcomes.py RUN_DIR [RUN_DIR ...] [--n 100]
    python results/binsort/study/outcomes.py --compose HIGH_RUN LOW_RUN --sigma-max 0.2 0.462 [--n 100]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from ambient_bench.config.sections import EvalConfig
from ambient_bench.envs.binsort import OUTCOMES
from ambient_bench.evaluation.evaluator import evaluate
from ambient_bench.policy.policy import DiffusionPolicy, load_checkpoint, policy_from_checkpoint
from ambient_bench.registry import TASKS
from ambient_bench.seeds import split_seeds

INFERENCE_STEPS = 8


class ComposedPolicy:
    """``high``'s denoiser where sigma_t > sigma_max, ``low``'s elsewhere.

    The two networks were trained with their own normalisers, so ``low`` sees the sample
    mapped affinely into its action space (x_t,low = a x_t,high + sqrt(abar_t) c); its x0
    estimate is mapped back and handed to the sampler in ``high``'s parameterisation
    (x0, epsilon or v); the sampler runs in ``high``'s space.
    """

    def __init__(self, high: DiffusionPolicy, low: DiffusionPolicy, sigma_max: float):
        self.high, self.low, self.sigma_max = high, low, sigma_max
        self.config, self.normalizer, self.schedule = high.config, high.normalizer, high.schedule
        nh, nl = high.normalizer, low.normalizer
        range_high, range_low = nh.action_max - nh.action_min, nl.action_max - nl.action_min
        self.a = torch.from_numpy((range_high / range_low).astype(np.float32))
        self.c = torch.from_numpy((range_high / range_low - 1 + 2 * (nh.action_min - nl.action_min) / range_low)
                                  .astype(np.float32))

    @torch.no_grad()
    def predict_action(self, obs, generator, sampler="ddim", inference_steps=INFERENCE_STEPS):
        obs = np.asarray(obs, dtype=np.float32)
        cond_high = torch.from_numpy(self.high.normalizer.normalize_obs(obs))
        cond_low = torch.from_numpy(self.low.normalizer.normalize_obs(obs))

        def denoise(x, t):
            step = int(t[0])
            if self.schedule.t_to_sigma(step) > self.sigma_max:
                return self.high.net(x, t, cond_high)
            root_abar = math.sqrt(self.schedule.alphas_cumprod[step].item())
            x_low = self.a * x + root_abar * self.c
            x0_low = self.low.schedule.predict_x0(self.low.net(x_low, t, cond_low), x_low, t)
            return self.schedule.target_from_x0((x0_low - self.c) / self.a, x, t)

        chunk = self.schedule.sample(denoise, (len(obs), self.config.horizon, self.high.action_dim),
                                     generator=generator, method=sampler, num_inference_steps=inference_steps)
        return self.normalizer.unnormalize_action(chunk.numpy())


def load(run_dir: Path):
    config = json.loads((run_dir / "config.json").read_text())
    return policy_from_checkpoint(load_checkpoint(run_dir / "checkpoint.pt")).eval(), config["suite"]["task_params"]


def report(label: str, policy, task_params: dict, seeds: np.ndarray) -> None:
    task = TASKS.get("binsort")(**task_params)
    agg = evaluate(policy, task, seeds, EvalConfig(inference_steps=INFERENCE_STEPS, batch_size=len(seeds)),
                   progress=False)["aggregate"]
    shares = "  ".join(f"{name} {100 * agg[f'outcome_{name}']:4.1f}" for name in OUTCOMES)
    print(f"{label:60s} motion {100 * agg['motion_rate']:5.1f}  logic {100 * agg['logic_rate']:5.1f}  "
          f"success {100 * agg['success_rate']:5.1f}  | {shares}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="*", type=Path)
    parser.add_argument("--compose", nargs=2, type=Path, metavar=("HIGH_RUN", "LOW_RUN"))
    parser.add_argument("--sigma-max", nargs="+", type=float, default=[0.2, 0.462])
    parser.add_argument("--n", type=int, default=100, help="validation-stream episodes per policy")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = split_seeds("validation", args.n)
    for run_dir in args.run_dirs:
        policy, task_params = load(run_dir)
        report(run_dir.name, policy, task_params, seeds)
    if args.compose:
        (high, task_params), (low, _) = load(args.compose[0]), load(args.compose[1])
        for sigma_max in args.sigma_max:
            label = f"{args.compose[0].name.split('-s')[0]} > {sigma_max} >= {args.compose[1].name.split('-s')[0]}"
            report(label, ComposedPolicy(high, low, sigma_max), task_params, seeds)


if __name__ == "__main__":
    main()
