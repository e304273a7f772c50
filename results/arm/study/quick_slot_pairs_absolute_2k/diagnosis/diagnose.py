"""Why the arm quick preset's policies score what they score, on validation trials only.

usage: python results/arm/quick/diagnosis/diagnose.py RUN_ROOT OUT_DIR   (RUN_ROOT = <--out>/arm/quick)

Reads the run's datasets and every run with an eval-validation.json and writes to OUT_DIR:
  diagnosis.json   data facts; planners that learn nothing (the straight line, the nearest stored
                   plan bent onto the problem's start and goal) on the validation problems; per
                   run: failure reasons, goal errors, acc^2 of all plans, and how many of its plans
                   would be valid with their end moved onto the goal by a linear ramp (a
                   diagnostic only: the benchmark never corrects plans)
  goal_error.png   per run, the distribution of ||q_64 - q_goal|| and of acc^2 over all plans
  plans.png        tool-point paths of the same validation problems: straight line, nearest
                   clean and corrupt plans, each run's plans
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from ambient_bench.config.sections import EvalConfig
from ambient_bench.config.suites import load_suite
from ambient_bench.config.typed import from_dict, to_dict
from ambient_bench.data import load_dataset
from ambient_bench.envs.arm import N_WAYPOINTS, ArmTask, average_squared_acceleration, plan_from_episode, plan_problem
from ambient_bench.envs.arm.figures import plot_views
from ambient_bench.evaluation.evaluator import evaluate
from ambient_bench.policy.policy import load_checkpoint, policy_from_checkpoint
from ambient_bench.seeds import split_seeds

N_SHOWN = 4  # validation problems drawn in plans.png

torch.set_num_threads(1)
root, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
config = to_dict(load_suite("arm", "quick"))
tol = config["task_params"]["goal_tolerance_rad"]
task = ArmTask(**config["task_params"])
scene = task.scene
ramp = np.linspace(0.0, 1.0, N_WAYPOINTS + 1)[:, None]
result: dict = {"goal_tolerance_rad": tol, "split": "validation", "trials": config["eval"]["n_validation"]}


def line(q0, q1):
    return q0 + ramp * (q1 - q0)


def deviation_rad(plan):
    """Largest joint-space distance of a plan's waypoints from the straight line of its ends."""
    return float(np.max(np.linalg.norm(plan - line(plan[0], plan[-1]), axis=1)))


def outcome(reasons):
    return {"success_rate": float(np.mean([r is None for r in reasons])),
            "collision_rate": float(np.mean([r == "collides" for r in reasons]))}


# data
data_plans = {}
for d in sorted((root / "data").iterdir()):
    ds = load_dataset(d)
    plans = [plan_from_episode(ds.episode(i)) for i in range(ds.n_episodes)]
    data_plans[d.name.split("-")[0]] = plans
    result[f"data {d.name}"] = {
        "plans": len(plans),
        "accel_sq_median": float(np.median([average_squared_acceleration(p) for p in plans])),
        "path_length_rad_median": float(np.median([np.linalg.norm(np.diff(p, axis=0), axis=1).sum() for p in plans])),
        "start_goal_distance_rad_median": float(np.median([np.linalg.norm(p[-1] - p[0]) for p in plans])),
        "max_deviation_from_line_rad_median": float(np.median([deviation_rad(p) for p in plans])),
        "straight_line_valid_share": outcome([plan_problem(scene, line(p[0], p[-1]), p[-1]) for p in plans])["success_rate"],
    }
data_plans["clean+corrupt"] = [q for plans in list(data_plans.values()) for q in plans]

# planners that learn nothing
seeds = split_seeds("validation", config["eval"]["n_validation"])
task.reset(seeds)
problems = task.problems
shown = {"straight line": [line(p.q_start, p.q_goal) for p in problems]}
result["straight line"] = outcome([plan_problem(scene, q, p.q_goal, tol) for q, p in zip(shown["straight line"], problems)])
for name, plans in data_plans.items():
    ends = np.array([np.concatenate([q[0], q[-1]]) for q in plans])
    bent = []
    for p in problems:
        q = plans[int(np.argmin(np.linalg.norm(ends - np.concatenate([p.q_start, p.q_goal]), axis=1)))]
        bent.append(q + line(p.q_start - q[0], p.q_goal - q[-1]))
    shown[f"nearest {name} plan, bent"] = bent
    result[f"nearest {name} plan, bent"] = outcome([plan_problem(scene, q, p.q_goal, tol)
                                                                     for q, p in zip(bent, problems)])
panels = {f"{name} ({100 * result[name]['success_rate']:.0f} %)":
          {f"problem {i}": [scene.tool_points(q)] for i, q in enumerate(plans[:N_SHOWN])}
          for name, plans in shown.items() if "+" not in name}

# runs
errors, accels = {}, {}
for d in sorted((root / "runs").iterdir()):
    path = d / "eval-validation.json"
    if not path.exists():
        continue
    cfg = json.loads((d / "config.json").read_text())
    label = d.name.rsplit("-", 2)[0] if cfg["params"] else cfg["entry"]
    records = json.loads(path.read_text())["records"]
    errors[label] = np.array([r["goal_error_rad"] for r in records])
    accels[label] = np.array([r["accel_sq"] for r in records])
    cache = out / "replays" / f"{d.name}.json"  # the replay is the slow part: once per run
    if not cache.exists():
        policy = policy_from_checkpoint(load_checkpoint(d / "checkpoint.pt"))
        replay = evaluate(policy, task, seeds, from_dict(EvalConfig, config["eval"]), sampler_seed=0, progress=False)
        assert np.allclose([r["goal_error_rad"] for r in replay["records"]], [r["goal_error_rad"] for r in records])
        plans = task.plans
        cache.parent.mkdir(exist_ok=True)
        cache.write_text(json.dumps({
            "max_deviation_from_line_rad_median": float(np.median([deviation_rad(q) for q in plans])),
            "goal_snapped": outcome([plan_problem(scene, q + ramp * (p.q_goal - q[-1]), p.q_goal, tol)
                                     for q, p in zip(plans, problems)])}))
    result[f"run {d.name}"] = {
        "failures": {f or "success": sum(r["failure"] == f for r in records) for f in sorted({r["failure"] for r in records})},
        "goal_error_rad_median": float(np.median(errors[label])),
        "within_goal_tolerance_share": float(np.mean(errors[label] <= tol)),
        "accel_sq_median_all_plans": float(np.median(accels[label])),
        **json.loads(cache.read_text()),
    }
    panels[f"{label} ({100 * np.mean([r['success'] for r in records]):.0f} %)"] = {
        f"problem {i}": [np.asarray(r["tool_path"])] for i, r in enumerate(records[:N_SHOWN])}
    print(d.name, result[f"run {d.name}"], flush=True)

(out / "diagnosis.json").write_text(json.dumps(result, indent=2) + "\n")
plot_views(panels, out / "plans.png")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.5))
for label, e in errors.items():
    x = np.sort(e)
    ax0.plot(x, np.arange(1, len(x) + 1) / len(x), label=f"{label} (median {np.median(e):.2f})")
ax0.axvline(tol, color="k", ls="--", lw=1, label=f"success tolerance {tol} rad")
ax0.set_xscale("log")
ax0.set_xlabel("‖q_64 − q_goal‖ (rad)")
ax0.set_ylabel("share of validation trials ≤ x")
ax0.legend(fontsize=7)
ax0.set_title("where the predicted plans end")
ax1.boxplot(list(accels.values()), orientation="horizontal", tick_labels=list(accels), whis=(5, 95), showfliers=False)
for name, colour in (("clean", "tab:green"), ("corrupt", "tab:red")):
    key = next(k for k in result if k.startswith(f"data {name}-"))
    ax1.axvline(result[key]["accel_sq_median"], color=colour, ls="--", lw=1, label=f"{name} data median")
ax1.set_xscale("log")
ax1.set_xlabel("acc² of every plan (rad²/s⁴, dt 0.1 s), 5–95 % whiskers")
ax1.legend(fontsize=7)
ax1.set_title("how smooth the predicted plans are")
ax1.tick_params(axis="y", labelsize=7)
fig.suptitle(f"arm / quick, {config['eval']['n_validation']} validation trials per run (seed 0)")
fig.tight_layout()
fig.savefig(out / "goal_error.png", dpi=120)
print("wrote", *(out / n for n in ("diagnosis.json", "plans.png", "goal_error.png")))
