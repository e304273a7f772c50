"""Study script (results/maze/STUDY.md): do a maze policy's failures lie where the clean plans
do not reach?

Ambient trains its clean-only band (sigma <= sigma_min) on the GCS plans alone. If that band
misleads where the clean plans give it nothing to imitate, a policy's failures should gather
at goals far from every clean plan's goal. For each test trial this takes the distance from
its goal to the nearest goal of the clean dataset (metres), bins the trials by it, and prints
success and collision rates per bin (from the stored eval records; no checkpoint needed).

``--figure`` shows where the failures happen: it re-evaluates each run's checkpoint on
``--n`` validation-stream seeds (never the test seeds; stored records keep only a few
rollouts) and draws every failed rollout over the clean plans, coloured by outcome.

    python results/maze/study/goal_coverage.py --clean-data DATA_DIR RUN_DIR [RUN_DIR ...] \
        [--split test] [--bins-m 0.25 0.5 1.0] [--figure failures.png --n 500]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ambient_bench.config.sections import EvalConfig
from ambient_bench.data import load_dataset
from ambient_bench.envs.maze_layout import DEFAULT_LAYOUT, load_layout
from ambient_bench.envs.maze.episodes import positions_from_episode
from ambient_bench.envs.maze.figures import OUTCOME_COLOURS, draw_walls
from ambient_bench.evaluation.evaluator import evaluate
from ambient_bench.policy.policy import load_checkpoint, policy_from_checkpoint
from ambient_bench.registry import TASKS
from ambient_bench.seeds import split_seeds


def clean_plans(data_dir: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """The clean dataset's plans as (T, 2) positions (m) and their goals, (N, 2) m."""
    ds = load_dataset(data_dir)
    episodes = [ds.episode(i) for i in range(ds.n_episodes)]
    return [positions_from_episode(ep) for ep in episodes], np.array([ep.obs[0, -2:] for ep in episodes])


def nearest_distance_m(points: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Distance from each point to its nearest reference point."""
    return np.linalg.norm(points[:, None, :] - references[None, :, :], axis=-1).min(axis=1)


def coverage_rows(records: list[dict], clean_goals: np.ndarray, edges_m: list[float]) -> list[tuple[str, int, float, float]]:
    """(distance bin, trials, success %, collision %) per bin of goal-to-nearest-clean-goal distance."""
    distance = nearest_distance_m(np.array([r["goal"] for r in records]), clean_goals)
    bounds = [0.0, *edges_m, np.inf]
    rows = []
    for low, high in zip(bounds[:-1], bounds[1:]):
        inside = [r for r, d in zip(records, distance) if low <= d < high]
        n = len(inside)
        success = 100 * sum(r["success"] for r in inside) / n if n else float("nan")
        collision = 100 * sum(r["collision"] for r in inside) / n if n else float("nan")
        rows.append((f"[{low:g}, {high:g}) m", n, success, collision))
    return rows


def failed_rollouts(run_dir: Path, n: int) -> list[tuple[np.ndarray, str]]:
    """(positions (T, 2) m, outcome) of every failed rollout of the run's checkpoint on ``n``
    validation-stream seeds."""
    config = json.loads((run_dir / "config.json").read_text())
    policy = policy_from_checkpoint(load_checkpoint(run_dir / "checkpoint.pt"))
    task = TASKS.get(config["suite"]["task"])(**config["suite"]["task_params"])
    # one batch of n episodes, so the task still holds every episode's positions afterwards
    eval_config = EvalConfig(**{**config["suite"]["eval"], "batch_size": n})
    records = evaluate(policy, task, split_seeds("validation", n), eval_config, progress=False)["records"]
    return [(task.positions[i, : task.steps[i] + 1], r["outcome"]) for i, r in enumerate(records) if not r["success"]]


def plot_failures(runs: dict[str, list[tuple[np.ndarray, str]]], n: int, plans: list[np.ndarray],
                  layout_name: str, path: Path) -> None:
    """One panel per run: the clean plans (grey) and its failed rollouts by outcome, each
    ending in a cross where it collided or timed out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    layout = load_layout(layout_name)
    fig, axes = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 4.4), squeeze=False)
    for ax, (name, failed) in zip(axes[0], runs.items()):
        draw_walls(ax, layout, f"{name}\n{len(failed)} of {n} validation rollouts failed")
        for plan in plans:
            ax.plot(plan[:, 0], plan[:, 1], "-", color="0.65", lw=0.6, alpha=0.7)
        for positions, outcome in failed:
            ax.plot(positions[:, 0], positions[:, 1], "-", color=OUTCOME_COLOURS[outcome], lw=0.9, alpha=0.85)
            ax.plot(*positions[-1], "x", color=OUTCOME_COLOURS[outcome], ms=6, mew=1.5)
        handles = [Line2D([], [], color="0.65", lw=1, label=f"clean plans ({len(plans)})")]
        handles += [Line2D([], [], color=OUTCOME_COLOURS[o], marker="x", lw=1, ms=6, mew=1.5, label=o)
                    for o in ("collision", "timeout")]
        ax.legend(handles=handles, loc="upper right", fontsize=6.5, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument("--clean-data", type=Path, required=True, help="the runs' clean dataset directory")
    parser.add_argument("--split", default="test")
    parser.add_argument("--bins-m", type=float, nargs="+", default=[0.25, 0.5, 1.0],
                        help="bin edges of the goal's distance to the nearest clean goal (m)")
    parser.add_argument("--figure", type=Path, help="draw failed validation rollouts over the clean plans here (PNG)")
    parser.add_argument("--n", type=int, default=500, help="validation-stream trials per run for --figure")
    args = parser.parse_args()
    plans, clean_goals = clean_plans(args.clean_data)
    runs = {d.name: json.loads((d / f"eval-{args.split}.json").read_text())["records"] for d in args.run_dirs}
    print(f"clean plans: {len(plans)}; distance = test goal to the nearest clean plan's goal")
    print("run | distance bin | trials | success % | collision %")
    for name, records in runs.items():
        for label, n, success, collision in coverage_rows(records, clean_goals, args.bins_m):
            print(f"{name} | {label} | {n} | {success:.1f} | {collision:.1f}")
    if args.figure:
        torch.set_num_threads(1)
        config = json.loads((args.run_dirs[0] / "config.json").read_text())
        failures = {d.name: failed_rollouts(d, args.n) for d in args.run_dirs}
        for name, failed in failures.items():
            counts = {o: sum(outcome == o for _, outcome in failed) for o in ("collision", "timeout")}
            print(f"{name}: {args.n} validation rollouts, {counts['collision']} collisions, {counts['timeout']} timeouts")
        plot_failures(failures, args.n, plans, config["suite"]["task_params"].get("layout", DEFAULT_LAYOUT), args.figure)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
