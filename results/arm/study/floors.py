"""The floors a learned arm planner must beat, on the quick preset's validation and test problems.

usage: python results/arm/study/floors.py RUN_ROOT OUT_JSON   (RUN_ROOT = <--out>/arm/quick)

Two planners that learn nothing, evaluated with the suite's own task (``ArmTask``):
- the straight joint-space line from start to goal (the all-zero deviation);
- a memoriser: the stored plan whose goal is nearest the problem's (joint space), its
  deviations from its own straight line put onto the problem's line; once with the clean
  plans, once with clean + corrupt.
Also data facts per dataset (plans, acc^2, valid straight lines, per goal slot). No policy
runs and nothing is selected: these are references, reported beside the table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ambient_bench.config.suites import load_suite
from ambient_bench.data import load_dataset, atomic_write_bytes
from ambient_bench.envs.arm import DT_S, ArmTask, average_squared_acceleration, plan_from_episode, problem
from ambient_bench.jobs.plan import Plan

root, out = Path(sys.argv[1]), Path(sys.argv[2])
suite = load_suite("arm", "quick")
plan = Plan(suite, "quick", root.parent.parent)
task = ArmTask(**suite.task_params)


def evaluate(seeds: list[int], deviations_of) -> dict:
    """Success, collision, acc^2 (over successes and all plans) and success per goal slot."""
    task.reset(np.array(seeds))
    task.step(np.stack([deviations_of(p) for p in task.problems]))
    records = task.records()
    summary = task.aggregate(records)
    per_slot = {}
    for record in records:
        per_slot.setdefault(record["slot_pair"], []).append(record["success"])
    return {"success_rate": summary["success_rate"], "ci95": [summary["success_ci95_low"], summary["success_ci95_high"]],
            "collision_rate": summary["collision_rate"], "accel_sq_mean": summary["accel_sq_mean"],
            "accel_sq_all_mean": summary["accel_sq_all_mean"], "trials": len(records),
            "success_by_goal": {k: float(np.mean(v)) for k, v in sorted(per_slot.items())}}


datasets = {name: load_dataset(plan.dataset_dir(suite, name)) for name in suite.datasets}
stored = {name: [ds.episode(i) for i in range(ds.n_episodes)] for name, ds in datasets.items()}
result: dict = {"data": {}}
for name, episodes in stored.items():
    plans = [plan_from_episode(e) for e in episodes]
    goals = [problem(e.seed, suite.task_params.get("slots"), suite.task_params["problems"]).goal_slot for e in episodes]
    result["data"][name] = {
        "plans": len(plans), "failed_seeds": suite.datasets[name].n_episodes - len(plans),
        "accel_sq_median": float(np.median([average_squared_acceleration(q, DT_S) for q in plans])),
        "accel_sq_mean": float(np.mean([average_squared_acceleration(q, DT_S) for q in plans])),
        "max_deviation_rad_median": float(np.median([np.abs(e.action).max() for e in episodes])),
        "plans_by_goal": {g: goals.count(g) for g in sorted(set(goals))},
    }


def memoriser(episodes):
    goals = np.stack([e.obs[0, 7:] for e in episodes])
    return lambda prob: episodes[int(np.argmin(np.linalg.norm(goals - prob.q_goal, axis=1)))].action


planners = {"straight line": lambda prob: np.zeros((64, 7)),
            "nearest clean plan": memoriser(stored["clean"]),
            "nearest clean or corrupt plan": memoriser(stored["clean"] + stored["corrupt"])}
for split in ("validation", "test"):
    result[split] = {name: evaluate(plan.eval_seeds(split), fn) for name, fn in planners.items()}
atomic_write_bytes(out, (json.dumps(result, indent=1) + "\n").encode())
for split in ("validation", "test"):
    for name, r in result[split].items():
        print(f"{split:10s} {name:30s} success {100 * r['success_rate']:5.1f} % "
              f"[{100 * r['ci95'][0]:.1f}, {100 * r['ci95'][1]:.1f}]  acc2(all) {r['accel_sq_all_mean']:.2f}  "
              f"by goal {r['success_by_goal']}")
