"""Study script (results/binsort/STUDY.md): where is the hand when a block was never reached?

Evaluates checkpoints on 100 validation-stream episodes (never test seeds) and prints, for
the episodes with a never-touched block and those with a touched-but-never-lifted one, how
many there are and where the hand ended. A hand parked over a bin (|y| near 0.36 m) at
travel height means the policy left for a bin without a block: a phase error, not a grasp
a few millimetres off.

    python results/binsort/study/where_hands_end.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from ambient_bench.config.sections import EvalConfig
from ambient_bench.envs.binsort import BIN_CENTRE_Y_M, BIN_INNER_HALF_XY_M
from ambient_bench.evaluation.evaluator import evaluate
from ambient_bench.policy.policy import load_checkpoint, policy_from_checkpoint
from ambient_bench.registry import TASKS
from ambient_bench.seeds import split_seeds

N_EPISODES = 100


def main(run_dirs: list[Path]) -> None:
    torch.set_num_threads(1)
    for run_dir in run_dirs:
        task_params = json.loads((run_dir / "config.json").read_text())["suite"]["task_params"]
        policy = policy_from_checkpoint(load_checkpoint(run_dir / "checkpoint.pt"))
        task = TASKS.get("binsort")(**task_params)
        records = evaluate(policy, task, split_seeds("validation", N_EPISODES),
                           EvalConfig(inference_steps=8, batch_size=N_EPISODES), progress=False)["records"]
        hand_m = np.array([r["hand_final_m"] for r in records])
        over_bin = np.abs(np.abs(hand_m[:, 1]) - BIN_CENTRE_Y_M) <= BIN_INNER_HALF_XY_M[1]
        print(run_dir.name)
        for outcome in ("not_reached", "grasp_missed"):
            episodes = [i for i, r in enumerate(records) if outcome in r["outcomes"]]
            print(f"  {len(episodes):3d} episodes with a block {outcome}: mean length {np.mean([records[i]['n_steps'] for i in episodes]):.0f} steps, "
                  f"hand ends over a bin in {over_bin[episodes].sum()}, at mean height {hand_m[episodes, 2].mean():.3f} m")


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]])
