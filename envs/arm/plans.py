"""The plan check shared by the generators, the task and the env; plans <-> episodes (as
deviations from the straight line); acc^2."""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import numpy as np

from ambient_bench.metrics import average_squared_acceleration
from ambient_bench.task import Episode, GeneratorOutput, first_valid_attempt

from .model import DT_S, GOAL_TOLERANCE_RAD, LIMIT_TOLERANCE_RAD, N_JOINTS, N_WAYPOINTS, Q_LOWER, Q_UPPER
from .scene import ArmScene, Problem, arm_scene, problem_from_rng

log = logging.getLogger(__name__)


def plan_problem(scene: ArmScene, waypoints: np.ndarray, q_goal: np.ndarray,
                 goal_tolerance_rad: float = GOAL_TOLERANCE_RAD) -> str | None:
    """Why a plan q_0..q_K (K+1, 7) is not valid, or None: finite, within joint limits,
    every chord collision-free (checked every ``EDGE_STEP_RAD``, no padding) and ending
    within ``goal_tolerance_rad`` (joint-space norm) of ``q_goal``."""
    q = np.asarray(waypoints, dtype=float)
    if q.ndim != 2 or q.shape[1] != N_JOINTS or len(q) < 2 or not np.isfinite(q).all():
        return "not finite (K, 7)"
    if ((q < Q_LOWER - LIMIT_TOLERANCE_RAD) | (q > Q_UPPER + LIMIT_TOLERANCE_RAD)).any():
        return "joint limits"
    if not all(scene.edge_free(a, b) for a, b in zip(q[:-1], q[1:])):
        return "collides"
    if np.linalg.norm(q[-1] - q_goal) > goal_tolerance_rad:
        return "misses the goal"
    return None


def resample_uniform(waypoints: np.ndarray, n_points: int = N_WAYPOINTS + 1) -> np.ndarray:
    """``n_points`` configurations at constant joint-space speed along a polyline (ends kept)."""
    q = np.asarray(waypoints, dtype=float)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(q, axis=0), axis=1))])
    s = np.linspace(0.0, arc[-1], n_points)
    return np.stack([np.interp(s, arc, q[:, j]) for j in range(q.shape[1])], axis=1)


def straight_line(q_start: np.ndarray, q_goal: np.ndarray, n_points: int = N_WAYPOINTS + 1) -> np.ndarray:
    """(n_points, 7) configurations evenly spaced on the joint-space line from start to goal."""
    s = np.linspace(0.0, 1.0, n_points)[:, None]
    q_start, q_goal = np.asarray(q_start, dtype=float), np.asarray(q_goal, dtype=float)
    return q_start + s * (q_goal - q_start)


def plan_from_deviations(q_start: np.ndarray, q_goal: np.ndarray, deviations: np.ndarray) -> np.ndarray:
    """The plan q_0..q_K (K+1, 7) that ``deviations`` (K, 7) describe: q_k = line_k + d_k for
    0 < k < K, with q_0 = q_start and q_K = q_goal exactly whatever d_K is (the sampler pins
    it to 0). An all-zero output is exactly the straight line."""
    deviations = np.asarray(deviations, dtype=float)
    plan = straight_line(q_start, q_goal, len(deviations) + 1)
    plan[1:-1] += deviations[:-1]
    return plan


def episode_from_plan(waypoints: np.ndarray, q_goal: np.ndarray, seed: int) -> Episode:
    """obs[k] = [q_k, q_goal], action[k] = q_{k+1} - line_{k+1}, k = 0..K-1: the plan as its
    deviation from the straight joint-space line between its (float32) ends, 0 at the goal."""
    q = np.asarray(waypoints, dtype=np.float32).astype(float)
    goal = np.asarray(q_goal, dtype=np.float32).astype(float)
    obs = np.concatenate([q[:-1], np.repeat(goal[None], len(q) - 1, 0)], axis=1)
    deviations = q[1:] - straight_line(q[0], goal, len(q))[1:]
    deviations[-1] = 0.0
    return Episode(obs, deviations, seed)


def plan_from_episode(episode: Episode) -> np.ndarray:
    """(K+1, 7) configurations q_0..q_K of a stored episode (its start and goal from obs[0])."""
    first = episode.obs[0].astype(float)
    return plan_from_deviations(first[:N_JOINTS], first[N_JOINTS:], episode.action)


def plan_episodes(
    seeds: Sequence[int],
    attempts: Sequence[Any],
    plan: Callable[[ArmScene, Problem, int, Any], tuple[np.ndarray | None, str]],
    slots: Sequence[str] | None,
    problems: str,
    solver: str,
) -> GeneratorOutput:
    """The loop both arm generators share: per seed its problem, then
    ``plan(scene, problem, seed, attempt) -> (waypoints (65, 7) | None, solver_or_reason)``
    per attempt until the plan the stored episode describes passes ``plan_problem``.

    Never raises on one problem: IK failures, solver errors and invalid plans are skipped
    and counted by reason, and failed seeds by slot pair, in the output's stats.
    """
    scene = arm_scene()
    episodes: list[Episode] = []
    failed_attempts: dict[str, int] = {}
    failed_pairs: dict[str, int] = {}
    solvers: dict[str, int] = {}
    n_failed = 0
    for seed in seeds:
        try:
            prob = problem_from_rng(scene, np.random.default_rng(int(seed)), slots, problems)
        except RuntimeError:
            failed_attempts["no start/goal (IK)"] = failed_attempts.get("no start/goal (IK)", 0) + 1
            n_failed += 1
            continue
        found = first_valid_attempt(
            attempts, lambda attempt: plan(scene, prob, int(seed), attempt),
            lambda waypoints: plan_problem(scene, plan_from_episode(episode_from_plan(waypoints, prob.q_goal, seed)),
                                           prob.q_goal.astype(np.float32)),
            failed_attempts)
        if found is None:
            n_failed += 1
            failed_pairs[prob.slot_pair] = failed_pairs.get(prob.slot_pair, 0) + 1
            log.warning("seed %d (%s): no valid plan after %d attempts", seed, prob.slot_pair, len(attempts))
            continue
        waypoints, name = found
        episodes.append(episode_from_plan(waypoints, prob.q_goal, seed))
        solvers[name] = solvers.get(name, 0) + 1
    return GeneratorOutput(episodes, solver, n_failed, {"solvers": solvers, "failed_attempts": failed_attempts,
                                                         "failed_slot_pairs": failed_pairs})


def plan_record(scene: ArmScene, seed: int, prob: Problem, deviations: np.ndarray,
                goal_tolerance_rad: float) -> dict[str, Any]:
    """The evaluation record of one predicted plan (``deviations`` (64, 7) from the straight line)."""
    waypoints = plan_from_deviations(prob.q_start, prob.q_goal, deviations)
    reason = plan_problem(scene, waypoints, prob.q_goal, goal_tolerance_rad)
    finite = np.isfinite(waypoints).all()
    tool = scene.tool_points(np.stack([waypoints[-1], prob.q_goal])) if finite else np.full((2, 3), np.nan)
    return {
        "seed": int(seed),
        "slot_pair": prob.slot_pair,
        "success": reason is None,
        "collision": reason == "collides",
        "failure": reason or "",
        "goal_error_rad": float(np.linalg.norm(waypoints[-1] - prob.q_goal)),
        "tool_goal_error_m": float(np.linalg.norm(tool[0] - tool[1])),
        "accel_sq": average_squared_acceleration(waypoints, DT_S),
        "path_length_rad": float(np.linalg.norm(np.diff(waypoints, axis=0), axis=1).sum()),
    }
