"""Corrupt maze data: raw, unsimplified OMPL RRT paths (PAPER.md §3.1).

Valid but jagged: each path is re-timed at constant ``speed_m_s`` (<= 1), sampled every
0.1 s and re-checked by ``trajectory_problem``, the same check as the clean data, so
corrupt means low quality, never invalid. OMPL's random numbers are seeded from the
episode seed, so every episode is a pure function of its seed.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ambient_bench.envs.maze import DT_S, MAX_SPEED_M_S, Layout, load_layout, plan_episodes, resample_polyline
from ambient_bench.registry import GENERATORS
from ambient_bench.task import GeneratorOutput


def ompl_seed(seed: int, attempt: int) -> int:
    """A non-zero 32-bit OMPL seed derived from the episode seed and the attempt number."""
    return int(np.random.SeedSequence([int(seed), attempt]).generate_state(1)[0]) or 1


def plan_rrt(
    layout: Layout,
    start_xy: np.ndarray,
    goal_xy: np.ndarray,
    seed: int,
    clearance_m: float = 0.02,
    resolution_m: float = 0.005,
    range_m: float = 0.0,
    time_limit_s: float = 2.0,
) -> tuple[np.ndarray | None, str]:
    """One raw RRT path (waypoints (W, 2) ending at the goal), or (None, reason).

    States are valid outside every wall grown by ``clearance_m``; motions are checked
    every ``resolution_m``. ``range_m`` = 0 keeps OMPL's default step (a fifth of the
    space's extent). The path is returned as planned: no shortcutting, no smoothing.
    """
    from ompl import base as ob, geometric as og, util as ou

    # OMPL seeds every new RNG instance from one global generator; re-seeding it before
    # building the planner makes this plan deterministic. OMPL logs an error when the
    # generator is re-seeded after first use; here that is intended, so silence it.
    level = ou.getLogLevel()
    ou.setLogLevel(ou.LOG_NONE)
    ou.RNG.setSeed(seed)
    try:
        space = ob.RealVectorStateSpace(2)
        bounds = ob.RealVectorBounds(2)
        for i in range(2):
            bounds.setLow(i, float(layout.bounds[i]))
            bounds.setHigh(i, float(layout.bounds[2 + i]))
        space.setBounds(bounds)
        si = ob.SpaceInformation(space)
        grown = [tuple(w) for w in (layout.walls + np.array([-1, -1, 1, 1]) * clearance_m).tolist()]

        def is_valid(state) -> bool:
            x, y = state[0], state[1]
            return not any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in grown)

        si.setStateValidityChecker(is_valid)
        si.setStateValidityCheckingResolution(resolution_m / space.getMaximumExtent())
        si.setup()
        start, goal = space.allocState(), space.allocState()
        for i in range(2):
            start[i], goal[i] = float(start_xy[i]), float(goal_xy[i])
        problem = ob.ProblemDefinition(si)
        problem.setStartAndGoalStates(start, goal, 1e-6)
        planner = og.RRT(si)
        if range_m > 0:
            planner.setRange(range_m)
        planner.setProblemDefinition(problem)
        planner.setup()
        planner.solve(time_limit_s)
        if not problem.hasExactSolution():
            return None, f"RRT: no exact solution in {time_limit_s} s"
        path = problem.getSolutionPath()
        waypoints = np.array([[path.getState(i)[0], path.getState(i)[1]] for i in range(path.getStateCount())])
    finally:
        ou.setLogLevel(level)
    waypoints[-1] = goal_xy  # within 1e-6 of the goal; make it exact
    return waypoints, "ompl.RRT"


@GENERATORS.register("maze_rrt")
def generate_maze_rrt(
    seeds: Sequence[int],
    layout: str = "default",
    speed_m_s: float = MAX_SPEED_M_S,
    clearance_m: float = 0.02,
    resolution_m: float = 0.005,
    range_m: float = 0.0,
    time_limit_s: float = 2.0,
    n_attempts: int = 3,
    dt_s: float = DT_S,
) -> GeneratorOutput:
    """One corrupt RRT episode per seed at constant ``speed_m_s``; a seed whose
    ``n_attempts`` plans (each with its own OMPL seed) all fail is counted in ``n_failed``.

    Deterministic per seed unless a plan hits ``time_limit_s`` (then that attempt fails).
    """
    if not 0 < speed_m_s <= MAX_SPEED_M_S:
        raise ValueError(f"speed_m_s={speed_m_s} must be in (0, {MAX_SPEED_M_S}]")
    maze = load_layout(layout)

    def plan(maze: Layout, start: np.ndarray, goal: np.ndarray, seed: int, attempt: int):
        waypoints, solver = plan_rrt(
            maze, start, goal, ompl_seed(seed, attempt), clearance_m, resolution_m, range_m, time_limit_s
        )
        return (None if waypoints is None else resample_polyline(waypoints, speed_m_s, dt_s)), solver

    episodes, n_failed, stats = plan_episodes(seeds, maze, range(n_attempts), plan, dt_s, MAX_SPEED_M_S)
    stats["layout_version"] = maze.version
    return GeneratorOutput(episodes, "ompl.RRT", n_failed, stats)
