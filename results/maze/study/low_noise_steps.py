"""Study script (results/maze/STUDY.md): which denoising steps make a maze policy jittery?

Evaluates trained maze checkpoints twice on the same validation-stream seeds (never the
test seeds): with the run's DDIM schedule (8 steps, t = 84 ... 12, 0), with the last
step dropped (t = 84 ... 12, x0 taken from the t = 12 prediction), and with the last step
split into four (t = 84 ... 12, 3, 2, 1, 0). For ambient with sigma_min = 0.074 (t = 3)
the step at t = 0 is the only one its clean-only band serves; if dropping it removes
ambient's extra jitter, the clean-only low-noise denoiser is where it comes from, and the
split schedule shows whether smaller steps through that band help.

With ``--ddpm`` it also samples with stochastic DDPM over all T steps (the authors'
evaluation sampler), which gives the clean-only band its four steps t = 3 ... 0.

    python results/maze/study/low_noise_steps.py RUN_DIR [RUN_DIR ...] [--n 500] [--ddpm]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ambient_bench.config.sections import EvalConfig
from ambient_bench.evaluation.evaluator import evaluate
from ambient_bench.policy.policy import load_checkpoint, policy_from_checkpoint
from ambient_bench.registry import TASKS
from ambient_bench.seeds import split_seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument("--n", type=int, default=500, help="validation-stream trials per policy")
    parser.add_argument("--ddpm", action="store_true", help="also sample with DDPM over all T steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = split_seeds("validation", args.n)
    for run_dir in args.run_dirs:
        config = json.loads((run_dir / "config.json").read_text())
        policy = policy_from_checkpoint(load_checkpoint(run_dir / "checkpoint.pt"))
        full = policy.schedule.ddim_timesteps(8)
        rows = {}
        above_band = [t for t in full if t > 3]
        schedules = [("all 8 steps", full, "ddim"), ("without t=0", [t for t in full if t > 0], "ddim"),
                     ("t=3,2,1,0 end", above_band + [3, 2, 1, 0], "ddim")]
        if args.ddpm:
            schedules.append((f"DDPM, {policy.schedule.num_steps}", None, "ddpm"))
        for label, steps, sampler in schedules:
            if steps is not None:
                policy.schedule.ddim_timesteps = lambda n, steps=steps: steps
            task = TASKS.get(config["suite"]["task"])(**config["suite"]["task_params"])
            eval_config = EvalConfig(n_test=args.n, sampler=sampler, inference_steps=8, batch_size=1000)
            out = evaluate(policy, task, seeds, eval_config, progress=False)
            rows[label] = out["aggregate"]
        for label, agg in rows.items():
            print(f"{run_dir.name:45s} {label:13s} success {100 * agg['success_rate']:5.1f} %  "
                  f"acc2 {agg['accel_sq_mean']:6.1f}  collisions {100 * agg['collision_rate']:4.1f} %")


if __name__ == "__main__":
    main()
