"""Maze plans as episodes (and back), the planning problem of a seed, resampling at a speed, and
the smoothness metrics.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Sequence

import numpy as np

from ambient_bench.envs.maze_layout import Layout
from ambient_bench.task import Episode, first_valid_attempt

from .geometry import (
    DT_S,
    GOAL_TOLERANCE_M,
    HISTORY,
    MAX_SPEED_M_S,
    SPEED_TOLERANCE,
    observation,
    segment_collides,
    start_goal_for_seed,
)

log = logging.getLogger(__name__)


def episode_from_positions(positions_xy: np.ndarray, goal_xy: np.ndarray, seed: int) -> Episode:
    """A dataset episode from positions p_0..p_K at ``DT_S``:
    ``obs[k] = [p_{k-3}, p_{k-2}, p_{k-1}, p_k, goal]`` (history padded with p_0) and
    ``action[k] = p_{k+1}``, for k = 0..K-1."""
    positions_xy = np.asarray(positions_xy, dtype=float)
    padded = np.concatenate([np.repeat(positions_xy[:1], HISTORY - 1, axis=0), positions_xy[:-1]])
    windows = np.stack([padded[i : i + len(positions_xy) - 1] for i in range(HISTORY)], axis=1)
    goals = np.broadcast_to(np.asarray(goal_xy, dtype=float), (len(windows), 2))
    return Episode(obs=observation(windows, goals), action=positions_xy[1:], seed=int(seed))


def positions_from_episode(episode: Episode) -> np.ndarray:
    """The positions p_0..p_K (float64) an episode was built from; inverse of ``episode_from_positions``."""
    return np.vstack([episode.obs[:, 2 * HISTORY - 2 : 2 * HISTORY], episode.action[-1:]]).astype(float)


def trajectory_problem(
    layout: Layout,
    positions_xy: np.ndarray,
    goal_xy: np.ndarray,
    dt_s: float = DT_S,
    max_speed_m_s: float = MAX_SPEED_M_S,
) -> str | None:
    """Why a sampled trajectory is not valid data, or None: it must be finite, collision-free
    along every segment (against the unpadded walls), no faster than ``max_speed_m_s``
    between samples, and end within ``GOAL_TOLERANCE_M`` of the goal. Used by every
    generator, so clean and corrupt data pass the same check."""
    p = np.asarray(positions_xy, dtype=float)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) < 2 or not np.isfinite(p).all():
        return "fewer than 2 finite positions"
    if segment_collides(p[:-1], p[1:], layout.walls, layout.bounds).any():
        return "collides"
    speed = np.linalg.norm(np.diff(p, axis=0), axis=1).max() / dt_s
    if speed > max_speed_m_s * (1 + SPEED_TOLERANCE):
        return "faster than max_speed_m_s"
    if np.linalg.norm(p[-1] - goal_xy) > GOAL_TOLERANCE_M:
        return "does not end at the goal"
    return None


def plan_episodes(
    seeds: Sequence[int],
    layout: Layout,
    attempts: Sequence[Any],
    plan: Any,
    dt_s: float = DT_S,
    max_speed_m_s: float = MAX_SPEED_M_S,
) -> tuple[list[Episode], int, dict[str, Any]]:
    """The loop every maze generator shares: per seed, the env's start/goal, then
    ``plan(layout, start, goal, seed, attempt) -> (positions_xy | None, solver_or_reason)``
    for each attempt in order until a plan passes ``trajectory_problem``.

    A seed whose attempts all fail (or raise) is skipped and counted, never fatal.
    Returns (episodes, n_failed, stats) with failure reasons and solver names counted.
    """
    episodes: list[Episode] = []
    failures: dict[str, int] = {}
    solvers: dict[str, int] = {}
    n_failed = 0
    for seed in seeds:
        start, goal = start_goal_for_seed(layout, seed)
        found = first_valid_attempt(
            attempts,
            lambda attempt: plan(layout, start, goal, int(seed), attempt),
            lambda positions: trajectory_problem(layout, positions, goal, dt_s, max_speed_m_s),
            failures,
        )
        if found is None:
            n_failed += 1
            log.warning("seed %d: no valid plan after %d attempts", seed, len(attempts))
            continue
        positions, solver = found
        episodes.append(episode_from_positions(positions, goal, seed))
        solvers[solver] = solvers.get(solver, 0) + 1
    return episodes, n_failed, {"solvers": solvers, "failed_attempts": failures}


def resample_polyline(waypoints_xy: np.ndarray, speed_m_s: float, dt_s: float = DT_S) -> np.ndarray:
    """Positions every ``dt_s`` along a polyline traversed at constant ``speed_m_s``,
    ending exactly at the last waypoint (the last step may be shorter)."""
    waypoints_xy = np.asarray(waypoints_xy, dtype=float)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(waypoints_xy, axis=0), axis=1))])
    s = np.arange(0.0, arc[-1], speed_m_s * dt_s)
    s = np.append(s, arc[-1]) if arc[-1] - s[-1] > 1e-9 else s
    return np.stack([np.interp(s, arc, waypoints_xy[:, i]) for i in range(2)], axis=1)


def step_through_vertices(waypoints_xy: np.ndarray, max_step_m: float) -> np.ndarray:
    """Positions that visit every waypoint, one per ``dt``: a segment no longer than
    ``max_step_m`` is one step, a longer one is split into equal steps of at most
    ``max_step_m`` (repeated waypoints are dropped). The authors' timing of RRT paths: the
    speed changes from step to step with the tree's segment lengths."""
    waypoints_xy = np.asarray(waypoints_xy, dtype=float)
    points = [waypoints_xy[0]]
    for a, b in zip(waypoints_xy[:-1], waypoints_xy[1:]):
        length = float(np.linalg.norm(b - a))
        if length < 1e-12:
            continue
        n = math.ceil(length / max_step_m - 1e-9)
        points.extend(a + (b - a) * (np.arange(1, n + 1)[:, None] / n))
    return np.array(points)


def path_length(positions_xy: np.ndarray) -> float:
    """Sum of ``||x[k+1] - x[k]||`` (m)."""
    return float(np.linalg.norm(np.diff(np.asarray(positions_xy, dtype=float), axis=0), axis=1).sum())
