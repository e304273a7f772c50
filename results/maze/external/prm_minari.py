"""A maze source built outside the benchmark: OMPL PRM plans, unsimplified, stepped through
the public ``ambient_bench/Maze2D-v0`` env and written as a Minari dataset.

Only public pieces are used: the gymnasium env (its ``reset(seed)`` draws start and goal,
its ``step`` records the observations), OMPL and Minari. One PRM roadmap answers every
query (multi-query), with the authors' 0.1 m padding around the walls; each path is kept
as the roadmap gives it (no shortcutting) and traversed at a constant 1 m/s, one 0.1 m
step per env step. An episode is kept if the env reports success without a collision.
PRM stops at a query's first solution, so its paths are the roadmap's detours rather than an
RRT's jitter; it runs on wall-clock time, so the dataset may differ between machines (the
benchmark keys it by its checksum).

    python results/maze/external/prm_minari.py --episodes 5000 --out exports
    python -m ambient_bench.run --suite maze --set datasets.corrupt.generator=external \\
        --set 'datasets.corrupt.params={format: minari, path: exports/ambient_bench/maze/prm-v0}' \\
        --baselines corrupt_only,cotrain,ambient --seeds 1 --out results/maze/external

Its result, against the suite's RRT source: results/maze/external/STUDY.md.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import gymnasium
import numpy as np

import ambient_bench  # noqa: F401  (registers the gymnasium ids)

log = logging.getLogger("prm_minari")

DATASET_ID = "ambient_bench/maze/prm-v0"
SPEED_M_S, DT_S, PADDING_M = 1.0, 0.1, 0.1
FIRST_SEED = 5_000_000_000  # outside the benchmark's seed splits: episodes no split has seen


def roadmap_planner(layout, time_per_query_s: float):
    """OMPL PRM over the layout's bounds; states valid outside every wall grown by PADDING_M."""
    from ompl import base as ob, geometric as og, util as ou

    from ambient_bench.datagen.maze_rrt import space_information

    ou.setLogLevel(ou.LOG_WARN)  # not PRM's line per query
    space, si = space_information(layout, PADDING_M, 0.005)
    planner = og.PRM(si)
    planner.setup()

    def plan(start_xy: np.ndarray, goal_xy: np.ndarray) -> np.ndarray | None:
        states = []
        for xy in (start_xy, goal_xy):
            state = space.allocState()
            state[0], state[1] = float(xy[0]), float(xy[1])
            states.append(state)
        problem = ob.ProblemDefinition(si)
        problem.setStartAndGoalStates(states[0], states[1], 1e-6)
        planner.clearQuery()
        planner.setProblemDefinition(problem)
        planner.solve(time_per_query_s)
        if not problem.hasExactSolution():
            return None
        path = problem.getSolutionPath()
        waypoints = np.array([[path.getState(i)[0], path.getState(i)[1]] for i in range(path.getStateCount())])
        waypoints[-1] = goal_xy
        return waypoints

    return plan


def constant_speed(waypoints_xy: np.ndarray) -> np.ndarray:
    """Positions every DT_S along the polyline at SPEED_M_S, ending at its last point."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(waypoints_xy, axis=0), axis=1))])
    s = np.append(np.arange(0.0, arc[-1], SPEED_M_S * DT_S), arc[-1])
    return np.stack([np.interp(s, arc, waypoints_xy[:, i]) for i in range(2)], axis=1)


def record_episode(env, seed: int, plan) -> dict | None:
    """Reset with ``seed``, plan from its start to its goal, step the env along the plan;
    the episode's arrays if the env reports success, else None."""
    obs, info = env.reset(seed=seed)
    waypoints = plan(info["start"], info["goal"])
    if waypoints is None:
        return None
    observations, actions = [obs], []
    for target in constant_speed(waypoints)[1:]:
        obs, _, terminated, truncated, info = env.step(target.astype(np.float32))
        observations.append(obs)
        actions.append(target.astype(np.float32))
        if terminated or truncated:
            break
    if not info.get("success"):
        return None
    steps = len(actions)
    return {"seed": seed, "observations": np.array(observations), "actions": np.array(actions),
            "rewards": np.r_[np.zeros(steps - 1), 1.0], "terminations": np.arange(steps) == steps - 1,
            "truncations": np.zeros(steps, dtype=bool)}


def build(n_episodes: int, out: Path, layout: str, time_per_query_s: float) -> int:
    """Write ``n_episodes`` successful PRM episodes as DATASET_ID under ``out``; returns the failures."""
    import minari
    from minari.data_collector import EpisodeBuffer

    env = gymnasium.make("ambient_bench/Maze2D-v0", layout=layout)
    plan = roadmap_planner(env.unwrapped.layout, time_per_query_s)
    buffers, failed, seed = [], 0, FIRST_SEED
    while len(buffers) < n_episodes:
        episode = record_episode(env, seed, plan)
        seed += 1
        if episode is None:
            failed += 1
            continue
        buffers.append(EpisodeBuffer(id=len(buffers), infos={}, **episode))
    os.environ["MINARI_DATASETS_PATH"] = str(out)
    minari.create_dataset_from_buffers(
        DATASET_ID, buffers, env=env.spec, eval_env=env.spec, algorithm_name="ompl.PRM (unsimplified)",
        author="ambient_bench", author_email="none", code_permalink="results/maze/external/prm_minari.py",
        description=f"{n_episodes} unsimplified OMPL PRM plans in the {layout} maze at {SPEED_M_S} m/s")
    return failed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--episodes", type=int, default=5000)
    p.add_argument("--out", type=Path, required=True, help="the Minari datasets root (MINARI_DATASETS_PATH)")
    p.add_argument("--layout", default="boxes_fixed_start", help="the maze.yaml default")
    p.add_argument("--time-per-query", type=float, default=0.2, help="PRM roadmap growth per query, s")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    failed = build(args.episodes, args.out, args.layout, args.time_per_query)
    log.info("%s: %d episodes (%d seeds failed) under %s", DATASET_ID, args.episodes, failed, args.out)


if __name__ == "__main__":
    main()
