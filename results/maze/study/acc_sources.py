"""Study script (results/maze/STUDY.md): is a maze policy's acc^2 made at re-planning
junctions or inside its action chunks?

A policy executes ``n_action_steps`` actions of each chunk, then re-plans from the new
observation. If the chunks disagree where they meet, the acceleration at the junction
steps dominates acc^2; if the chunks are jittery inside, it does not. Reads the executed
positions that an evaluation keeps for its first episodes (successful ones only, as acc^2
itself), so it needs no checkpoint.

    python results/maze/study/acc_sources.py RUN_DIR [RUN_DIR ...] [--split test] [--n-action-steps 8] [--dt 0.1]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ambient_bench.metrics import squared_accelerations


def junction_and_inner_accel_sq(positions_m: np.ndarray, n_action_steps: int, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Squared accelerations (m^2/s^4) at the steps where a new chunk starts, and at all others."""
    accel_sq = squared_accelerations(positions_m, dt_s)
    middle_step = np.arange(1, len(positions_m) - 1)  # the step each second difference is centred on
    at_junction = middle_step % n_action_steps == 0
    return accel_sq[at_junction], accel_sq[~at_junction]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--n-action-steps", type=int, default=8)
    parser.add_argument("--dt", type=float, default=0.1, help="control period in seconds")
    args = parser.parse_args()
    print("run | episodes | acc2 at junctions | acc2 inside chunks | junction share of acc2 (junction steps are 1/n of all)")
    for run_dir in args.run_dirs:
        records = json.loads((run_dir / f"eval-{args.split}.json").read_text())["records"]
        kept = [np.asarray(r["positions"]) for r in records if r["success"] and r.get("positions")]
        parts = [junction_and_inner_accel_sq(p, args.n_action_steps, args.dt) for p in kept]
        junction = np.concatenate([j for j, _ in parts])
        inner = np.concatenate([i for _, i in parts])
        share = junction.sum() / (junction.sum() + inner.sum())
        print(f"{run_dir.name} | {len(kept)} | {junction.mean():.1f} | {inner.mean():.1f} | {share:.2f}")


if __name__ == "__main__":
    main()
