"""Corrupt maze data: raw, unsimplified OMPL RRT paths (the paper's maze experiment).

Valid but jagged: each path is re-timed at constant ``speed_m_s`` (<= 1), sampled every
0.1 s and re-checked by ``trajectory_problem``, the same check as the clean data, so
corrupt means low quality, never invalid. Two kinds of tree:

- ``tree="per_plan"``: a fresh RRT from each start to its goal, seeded from the episode
  seed. Its jitter is random per plan, so a policy trained on it learns its smooth mean.
- ``tree="shared"`` (the authors' recipe): ONE tree of ``tree_samples`` RRT iterations,
  seeded by ``tree_seed`` and shared by every episode of the dataset; a path runs from the
  start to its nearest visible tree vertex, along the tree, and off it to the goal. The
  jaggedness is then a fixed function of position — learnable, which is what
  co-training inherits and ambient is meant to avoid.

With ``range_m`` = 0.1 (the authors' step) and no shortcutting the paths carry dense
high-frequency jitter. Two timings: ``constant_speed`` re-times the polyline at
``speed_m_s``, so only its direction jitters; ``per_vertex`` (the authors' data) takes one
step per tree vertex (longer segments split into steps of at most ``speed_m_s * dt_s``),
so the speed also jitters with the tree's segment lengths. Every episode is a pure
function of its seed (and ``tree_seed``).
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
from typing import Sequence

import numpy as np

from ambient_bench.datagen.ompl_seeding import ompl_seed, seeded_ompl
from ambient_bench.envs.maze_layout import DEFAULT_LAYOUT
from ambient_bench.envs.maze import (
    DT_S, MAX_SPEED_M_S, Layout, load_layout, plan_episodes, resample_polyline, segment_collides,
    step_through_vertices,
)
from ambient_bench.registry import GENERATORS
from ambient_bench.task import GeneratorOutput


TREES = ("per_plan", "shared")
TIMINGS = ("constant_speed", "per_vertex")
# Tree vertices tried, nearest first, when joining a start or goal to the shared tree.
N_JOIN_CANDIDATES = 64


def space_information(layout: Layout, clearance_m: float, resolution_m: float):
    """OMPL's 2-D space over the layout's bounds: states valid outside every wall grown by
    ``clearance_m``, motions checked every ``resolution_m``."""
    from ompl import base as ob

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
    return space, si


def _state(space, xy: np.ndarray):
    state = space.allocState()
    for i in range(2):
        state[i] = float(xy[i])
    return state


def plan_rrt(
    layout: Layout,
    start_xy: np.ndarray,
    goal_xy: np.ndarray,
    seed: int,
    clearance_m: float,
    resolution_m: float,
    range_m: float,
    time_limit_s: float,
) -> tuple[np.ndarray | None, str]:
    """One raw RRT path from start to goal (waypoints (W, 2) ending at the goal), or
    (None, reason). ``range_m`` = 0 keeps OMPL's default step (a fifth of the space's
    extent). The path is returned as planned: no shortcutting, no smoothing."""
    from ompl import base as ob, geometric as og

    with seeded_ompl(seed):
        space, si = space_information(layout, clearance_m, resolution_m)
        problem = ob.ProblemDefinition(si)
        problem.setStartAndGoalStates(_state(space, start_xy), _state(space, goal_xy), 1e-6)
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
    waypoints[-1] = goal_xy  # within 1e-6 of the goal; make it exact
    return waypoints, "ompl.RRT"


@dataclass(frozen=True)
class RrtTree:
    """An RRT tree: vertex positions (V, 2) and each vertex's parent index (-1 at the root)."""

    vertices_xy: np.ndarray
    parent: np.ndarray

    def path_to_root(self, vertex: int) -> list[int]:
        path = [vertex]
        while self.parent[path[-1]] >= 0:
            path.append(int(self.parent[path[-1]]))
        return path

    def path(self, a: int, b: int) -> np.ndarray:
        """Vertex positions along the unique tree path from vertex ``a`` to vertex ``b``."""
        up_a, up_b = self.path_to_root(a), self.path_to_root(b)
        on_b = set(up_b)
        meet = next(v for v in up_a if v in on_b)  # the lowest common ancestor
        down = up_b[: up_b.index(meet)][::-1]
        return self.vertices_xy[up_a[: up_a.index(meet) + 1] + down]


@functools.lru_cache(maxsize=4)
def grow_tree(layout_name: str, clearance_m: float, resolution_m: float, range_m: float,
              n_samples: int, tree_seed: int) -> RrtTree:
    """OMPL RRT grown for exactly ``n_samples`` iterations from the layout's fixed start
    (the authors' recipe: every path then runs down the tree from its root) or, with random
    starts, from a root drawn from ``tree_seed`` (an iteration count, not a time limit,
    keeps it a pure function of its arguments). The goal is an unreachable point inside an obstacle with zero goal bias,
    so the tree only explores. Cached per process: every shard reads the same tree."""
    from ompl import base as ob, geometric as og

    layout = load_layout(layout_name)
    root_xy = (layout.sample_free_point(np.random.default_rng(tree_seed), clearance_m)
               if layout.start_xy is None else layout.start_xy)
    inside_wall = (layout.walls[0, :2] + layout.walls[0, 2:]) / 2
    with seeded_ompl(ompl_seed(tree_seed, 0)):
        space, si = space_information(layout, clearance_m, resolution_m)
        problem = ob.ProblemDefinition(si)
        problem.setStartAndGoalStates(_state(space, root_xy), _state(space, inside_wall), 1e-9)
        planner = og.RRT(si)
        planner.setRange(range_m)
        planner.setGoalBias(0.0)
        planner.setProblemDefinition(problem)
        planner.setup()
        iterations = [0]

        def done() -> bool:
            iterations[0] += 1
            return iterations[0] > n_samples

        planner.solve(ob.PlannerTerminationCondition(done))
        data = ob.PlannerData(si)
        planner.getPlannerData(data)
        n = data.numVertices()
        vertices = np.array([[data.getVertex(i).getState()[0], data.getVertex(i).getState()[1]] for i in range(n)])
        parent = np.array([(data.getIncomingEdges(i) or [-1])[0] for i in range(n)], dtype=np.int64)
    if (parent < 0).sum() != 1:
        raise RuntimeError(f"OMPL planner data is not one tree: {(parent < 0).sum()} roots among {n} vertices")
    return RrtTree(vertices, parent)


def join_tree(layout: Layout, tree: RrtTree, point_xy: np.ndarray, clearance_m: float) -> int | None:
    """The nearest tree vertex reachable from ``point_xy`` by a straight segment that keeps
    ``clearance_m`` from every wall, among the ``N_JOIN_CANDIDATES`` nearest; None if none."""
    distance = np.linalg.norm(tree.vertices_xy - point_xy, axis=1)
    candidates = np.argsort(distance, kind="stable")[:N_JOIN_CANDIDATES]
    grown = layout.walls + np.array([-1, -1, 1, 1]) * clearance_m
    blocked = segment_collides(np.repeat(point_xy[None], len(candidates), 0), tree.vertices_xy[candidates], grown)
    free = candidates[~blocked]
    return int(free[0]) if len(free) else None


def plan_on_tree(layout: Layout, tree: RrtTree, start_xy: np.ndarray, goal_xy: np.ndarray,
                 clearance_m: float) -> tuple[np.ndarray | None, str]:
    """Start -> nearest visible vertex -> along the tree -> nearest visible vertex -> goal."""
    a, b = join_tree(layout, tree, start_xy, clearance_m), join_tree(layout, tree, goal_xy, clearance_m)
    if a is None or b is None:
        return None, "shared RRT tree: start or goal not visible from the tree"
    return np.vstack([start_xy, tree.path(a, b), goal_xy]), "ompl.RRT(shared tree)"


@GENERATORS.register("maze_rrt")
def generate_maze_rrt(
    seeds: Sequence[int],
    layout: str = DEFAULT_LAYOUT,
    tree: str = "shared",
    timing: str = "constant_speed",
    speed_m_s: float = MAX_SPEED_M_S,
    clearance_m: float = 0.1,
    resolution_m: float = 0.005,
    range_m: float = 0.1,
    tree_samples: int = 5000,
    tree_seed: int = 0,
    time_limit_s: float = 2.0,
    n_attempts: int = 3,
    dt_s: float = DT_S,
) -> GeneratorOutput:
    """One corrupt RRT episode per seed, timed by ``timing`` at most ``speed_m_s``; a seed without a valid
    plan (after ``n_attempts`` fresh trees, or on the shared tree) is counted in ``n_failed``.

    Defaults are the authors' recipe: the padding ``clearance_m`` 0.1 m, the step
    ``range_m`` 0.1 m and one shared tree of 5000 iterations. A per-plan tree is
    deterministic per seed unless it hits ``time_limit_s`` (then that attempt fails).
    """
    if not 0 < speed_m_s <= MAX_SPEED_M_S:
        raise ValueError(f"speed_m_s={speed_m_s} must be in (0, {MAX_SPEED_M_S}]")
    if tree not in TREES:
        raise ValueError(f"tree={tree!r} must be one of {TREES}")
    if timing not in TIMINGS:
        raise ValueError(f"timing={timing!r} must be one of {TIMINGS}")
    if tree == "shared" and not (range_m > 0 and tree_samples > 0):
        raise ValueError("a shared tree needs range_m > 0 and tree_samples > 0")
    maze = load_layout(layout)

    if tree == "shared":
        shared = grow_tree(layout, clearance_m, resolution_m, range_m, tree_samples, tree_seed)
        attempts = range(1)

        def route(maze: Layout, start: np.ndarray, goal: np.ndarray, seed: int, attempt: int):
            return plan_on_tree(maze, shared, start, goal, clearance_m)
    else:
        attempts = range(n_attempts)

        def route(maze: Layout, start: np.ndarray, goal: np.ndarray, seed: int, attempt: int):
            return plan_rrt(maze, start, goal, ompl_seed(seed, attempt), clearance_m, resolution_m, range_m,
                            time_limit_s)

    def plan(maze: Layout, start: np.ndarray, goal: np.ndarray, seed: int, attempt: int):
        waypoints, solver = route(maze, start, goal, seed, attempt)
        if waypoints is None:
            return None, solver
        if timing == "per_vertex":
            return step_through_vertices(waypoints, speed_m_s * dt_s), solver
        return resample_polyline(waypoints, speed_m_s, dt_s), solver

    episodes, n_failed, stats = plan_episodes(seeds, maze, attempts, plan, dt_s, MAX_SPEED_M_S)
    stats["layout_version"] = maze.version
    return GeneratorOutput(episodes, "ompl.RRT", n_failed, stats)
