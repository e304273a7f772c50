"""Maze constants, geometry and dynamics, shared by the env, the batched task and the generators."""

from __future__ import annotations

import numpy as np

from ambient_bench.envs.maze_layout import Layout

DT_S = 0.1
HISTORY = 4
OBS_DIM = 2 * HISTORY + 2
ACTION_DIM = 2
GOAL_TOLERANCE_M = 0.1
MAX_SPEED_M_S = 1.0
MIN_SEPARATION_M = 2.0
START_CLEARANCE_M = 0.1
# Datasets store float32 positions (rounding ~5e-7 m on a 0.1 m step): allowed speed excess.
SPEED_TOLERANCE = 1e-4
# Episodes per evaluation batch whose executed positions are stored in the eval records.
N_STORED_ROLLOUTS = 16


def segment_collides(p0: np.ndarray, p1: np.ndarray, walls: np.ndarray, bounds: np.ndarray | None = None) -> np.ndarray:
    """(N,) bool: does the straight segment p0[i] -> p1[i] touch any closed wall box?

    Slab test per segment and box: the segment ``p0 + t (p1 - p0)``, t in [0, 1], meets
    the box iff the intersection of the per-axis parameter intervals where it lies inside
    the slab is non-empty within [0, 1]. With ``bounds``, a segment with an end point
    outside ``[xmin, ymin, xmax, ymax]`` (or non-finite) also collides; bounds are convex,
    so the end points decide.
    """
    p0 = np.asarray(p0, dtype=float).reshape(-1, 2)
    p1 = np.asarray(p1, dtype=float).reshape(-1, 2)
    d = (p1 - p0)[:, None, :]  # (N, 1, 2)
    lo = walls[None, :, :2] - p0[:, None, :]  # (N, M, 2), relative to p0
    hi = walls[None, :, 2:] - p0[:, None, :]
    moving = np.abs(d) > 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        t_a, t_b = lo / d, hi / d
    inside_slab = (lo <= 0) & (hi >= 0)  # a still axis: the whole segment is in or out
    t_enter = np.where(moving, np.minimum(t_a, t_b), np.where(inside_slab, -np.inf, np.inf))
    t_exit = np.where(moving, np.maximum(t_a, t_b), np.where(inside_slab, np.inf, -np.inf))
    enter, exit_ = t_enter.max(axis=2), t_exit.min(axis=2)
    hits = ((enter <= exit_) & (exit_ >= 0.0) & (enter <= 1.0)).any(axis=1)
    if bounds is not None:
        hits |= ~(in_bounds(p0, bounds) & in_bounds(p1, bounds))
    return hits


def in_bounds(points_xy: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """(N,) bool: finite and inside the closed box ``bounds``."""
    return ((points_xy >= bounds[:2]) & (points_xy <= bounds[2:])).all(axis=-1)


def kinematic_step(
    layout: Layout, positions_xy: np.ndarray, commanded_xy: np.ndarray, goals_xy: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One control step for N robots: the commanded position becomes the state unless the
    segment travelled collides (then the robot stays and the episode fails).

    Returns ``(next_xy (N, 2), collided (N,), reached (N,))``; ``reached`` means within
    ``GOAL_TOLERANCE_M`` of the goal after a collision-free move.
    """
    collided = segment_collides(positions_xy, commanded_xy, layout.walls, layout.bounds)
    next_xy = np.where(collided[:, None], positions_xy, commanded_xy)
    reached = ~collided & (np.linalg.norm(next_xy - goals_xy, axis=-1) <= GOAL_TOLERANCE_M)
    return next_xy, collided, reached


def observation(history_xy: np.ndarray, goals_xy: np.ndarray) -> np.ndarray:
    """(..., 10) float32: the (..., 4, 2) position history, oldest first, then the goal."""
    flat = history_xy.reshape(*history_xy.shape[:-2], 2 * HISTORY)
    return np.concatenate([flat, goals_xy], axis=-1).astype(np.float32)


def sample_start_goal(
    layout: Layout,
    rng: np.random.Generator,
    min_separation_m: float = MIN_SEPARATION_M,
    clearance_m: float = START_CLEARANCE_M,
) -> tuple[np.ndarray, np.ndarray]:
    """Start and goal from ``layout.sample_free_point`` (``clearance_m`` from the walls, so
    both lie in the GCS cover), at least ``min_separation_m`` apart; the start is the
    layout's ``start_xy`` when it fixes one."""
    while True:
        start = layout.sample_free_point(rng, clearance_m) if layout.start_xy is None else layout.start_xy.copy()
        goal = layout.sample_free_point(rng, clearance_m)
        if np.linalg.norm(goal - start) >= min_separation_m:
            return start, goal


def start_goal_for_seed(layout: Layout, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The start/goal pair of an episode seed; identical to ``Maze2D-v0.reset(seed=seed)``."""
    return sample_start_goal(layout, np.random.default_rng(int(seed)))
