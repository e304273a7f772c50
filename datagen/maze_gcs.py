"""Clean maze data: smooth, near time-optimal Drake GCS plans (the paper's §3.1).

Per seed: the env's start/goal, ``GcsTrajectoryOptimization`` over a convex cover of
the free space (``Layout.free_boxes``, ``margin_m`` from the walls: the authors' 0.1 m
padding by default), Bezier
order 3, path continuity 1..K, time + path-length cost, per-axis velocity bounds. If
its speed norm exceeds 1 anywhere, the whole curve is slowed by one time scale; it is
then sampled every 0.1 s and re-checked by ``trajectory_problem`` (the same check as the corrupt data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ambient_bench.envs.maze_layout import DEFAULT_LAYOUT
from ambient_bench.envs.maze import DT_S, MAX_SPEED_M_S, Layout, load_layout, plan_episodes
from ambient_bench.registry import GENERATORS
from ambient_bench.task import GeneratorOutput


@dataclass(frozen=True)
class GcsAttempt:
    """Solver settings of one try; later tries are the fallbacks for numerical failures."""

    continuity: int
    preprocessing: bool


ATTEMPTS = (
    GcsAttempt(continuity=2, preprocessing=False),
    GcsAttempt(continuity=1, preprocessing=False),
    GcsAttempt(continuity=1, preprocessing=True),
)


def plan_gcs(
    layout: Layout,
    start_xy: np.ndarray,
    goal_xy: np.ndarray,
    attempt: GcsAttempt,
    order: int = 3,
    margin_m: float = 0.1,
    max_speed_m_s: float = MAX_SPEED_M_S,
    dt_s: float = DT_S,
    max_rounded_paths: int = 10,
) -> tuple[np.ndarray | None, str]:
    """One GCS plan sampled every ``dt_s``: (positions (T, 2), solver name), or (None, reason)."""
    from pydrake.common import Parallelism
    from pydrake.geometry.optimization import GraphOfConvexSetsOptions, HPolyhedron, Point
    from pydrake.planning import GcsTrajectoryOptimization

    gcs = GcsTrajectoryOptimization(2)
    boxes = [HPolyhedron.MakeBox(lo, hi) for lo, hi in layout.free_boxes(margin_m)]
    free = gcs.AddRegions(boxes, order)
    source = gcs.AddRegions([Point(start_xy)], 0)
    target = gcs.AddRegions([Point(goal_xy)], 0)
    gcs.AddEdges(source, free)
    gcs.AddEdges(free, target)
    gcs.AddTimeCost()
    gcs.AddPathLengthCost()
    # Per-axis bounds are convex on the control points; the norm is enforced by re-timing below.
    gcs.AddVelocityBounds(-max_speed_m_s * np.ones(2), max_speed_m_s * np.ones(2))
    for k in range(1, attempt.continuity + 1):
        gcs.AddPathContinuityConstraints(k)

    options = GraphOfConvexSetsOptions()
    options.preprocessing = attempt.preprocessing
    options.max_rounded_paths = max_rounded_paths  # the authors' 10 (Drake's default is 5)
    options.parallelism = Parallelism(1)  # one core per plan; parallelism comes from shards
    trajectory, result = gcs.SolvePath(source, target, options)
    solver = result.get_solver_id().name()
    if not result.is_success():
        return None, f"GCS {solver}: {result.get_solution_result()}"
    return sample_trajectory(trajectory, max_speed_m_s, dt_s, goal_xy), solver


def sample_trajectory(trajectory: Any, max_speed_m_s: float, dt_s: float, goal_xy: np.ndarray) -> np.ndarray:
    """Positions every ``dt_s`` along a Drake trajectory slowed uniformly (time scale s >= 1)
    so that its speed norm, evaluated densely, stays <= ``max_speed_m_s``; ends at the goal."""
    t0, duration_s = trajectory.start_time(), trajectory.end_time() - trajectory.start_time()
    dense_t = t0 + np.linspace(0.0, duration_s, int(np.ceil(duration_s / dt_s)) * 20 + 1)
    speed = np.linalg.norm(trajectory.MakeDerivative().vector_values(dense_t), axis=0)
    scale = max(1.0, speed.max() / max_speed_m_s)
    times = np.arange(0.0, duration_s * scale + 1e-9, dt_s) / scale
    positions = trajectory.vector_values(t0 + times).T
    if np.linalg.norm(positions[-1] - goal_xy) > 1e-9:
        positions = np.vstack([positions, goal_xy])
    return positions


@GENERATORS.register("maze_gcs")
def generate_maze_gcs(
    seeds: Sequence[int],
    layout: str = DEFAULT_LAYOUT,
    order: int = 3,
    margin_m: float = 0.1,
    max_speed_m_s: float = MAX_SPEED_M_S,
    dt_s: float = DT_S,
    max_rounded_paths: int = 10,
) -> GeneratorOutput:
    """One clean GCS episode per seed (skipped and counted in ``n_failed`` if every
    attempt in ``ATTEMPTS`` fails); deterministic per seed."""
    maze = load_layout(layout)

    def plan(maze: Layout, start: np.ndarray, goal: np.ndarray, seed: int, attempt: GcsAttempt):
        return plan_gcs(maze, start, goal, attempt, order, margin_m, max_speed_m_s, dt_s, max_rounded_paths)

    episodes, n_failed, stats = plan_episodes(seeds, maze, ATTEMPTS, plan, dt_s, max_speed_m_s)
    solver_names = "+".join(sorted(stats["solvers"])) or "none"
    stats["layout_version"] = maze.version
    return GeneratorOutput(episodes, f"drake.GcsTrajectoryOptimization/{solver_names}", n_failed, stats)
