"""The batched evaluation task (``TASKS["arm"]``): every trial's plan checked together."""

from __future__ import annotations

from typing import Any

import numpy as np

from ambient_bench.metrics import planning_summary
from ambient_bench.registry import TASKS

from .model import (
    ACTION_DIM,
    GOAL_TOLERANCE_RAD,
    N_JOINTS,
    N_STORED_ROLLOUTS,
    N_WAYPOINTS,
    OBS_DIM,
    check_goal_tolerance,
    check_slots,
)
from .plans import plan_from_deviations, plan_record
from .scene import arm_scene, problem_from_rng


@TASKS.register("arm")
class ArmTask:
    """Many planning problems evaluated together (the ``BatchedTask`` protocol): actions (each
    waypoint's deviation from the straight line) are collected until each episode has its 64
    (one ``step`` for a whole-plan policy), then every plan is checked with ``plan_problem``. The records of the first
    ``N_STORED_ROLLOUTS`` episodes of a batch keep their tool-point paths (m, 0.1 mm)."""

    obs_dim = OBS_DIM
    action_dim = ACTION_DIM

    def __init__(self, goal_tolerance_rad: float = GOAL_TOLERANCE_RAD, problems: str = "home",
                 slots: list[str] | None = None):
        self.check_params(goal_tolerance_rad, problems, slots)
        self.goal_tolerance_rad, self.problem_set, self.slots = goal_tolerance_rad, problems, check_slots(slots, problems)
        self.scene = arm_scene()
        self.reset(np.zeros(0, dtype=np.int64))

    @staticmethod
    def check_params(goal_tolerance_rad: float = GOAL_TOLERANCE_RAD, problems: str = "home",
                     slots: list[str] | None = None) -> None:
        """ValueError for an unknown problem set or slot, or a goal tolerance outside (0, 1] rad."""
        check_goal_tolerance(goal_tolerance_rad)
        check_slots(slots, problems)

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        self.seeds = np.asarray(seeds, dtype=np.int64)
        self.problems = [problem_from_rng(self.scene, np.random.default_rng(int(s)), self.slots, self.problem_set)
                         for s in self.seeds]
        self.deviations = np.zeros((len(self.seeds), N_WAYPOINTS, N_JOINTS))
        self.steps = np.zeros(len(self.seeds), dtype=np.int64)
        self._records: list[dict[str, Any] | None] = [None] * len(self.seeds)
        return self._observations()

    @property
    def done(self) -> np.ndarray:
        return self.steps >= N_WAYPOINTS

    def _observations(self) -> np.ndarray:
        goals = np.array([p.q_goal for p in self.problems]).reshape(-1, N_JOINTS)
        current = np.array([plan_from_deviations(p.q_start, p.q_goal, d)[k]
                            for p, d, k in zip(self.problems, self.deviations, self.steps)]).reshape(-1, N_JOINTS)
        return np.concatenate([current, goals], axis=1).astype(np.float32)

    def step(self, chunks: np.ndarray) -> np.ndarray:
        active = np.flatnonzero(~self.done)
        chunks = np.asarray(chunks, dtype=float)
        if chunks.shape[:1] != (len(active),) or chunks.shape[2:] != (N_JOINTS,):
            raise ValueError(f"chunks {chunks.shape}: expected ({len(active)}, n_steps, {N_JOINTS})")
        for i, chunk in zip(active, chunks):
            n = min(len(chunk), N_WAYPOINTS - self.steps[i])
            self.deviations[i, self.steps[i]: self.steps[i] + n] = chunk[:n]
            self.steps[i] += n
            if self.steps[i] == N_WAYPOINTS:
                prob = self.problems[i]
                record = plan_record(self.scene, int(self.seeds[i]), prob, self.deviations[i], self.goal_tolerance_rad)
                plan = plan_from_deviations(prob.q_start, prob.q_goal, self.deviations[i])
                if i < N_STORED_ROLLOUTS and np.isfinite(plan).all():  # for figures, never re-run
                    record["tool_path"] = np.round(self.scene.tool_points(plan), 4).tolist()
                self._records[i] = record
        return self._observations()

    def records(self) -> list[dict[str, Any]]:
        return [r for r in self._records if r is not None]

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, float]:
        """``planning_summary`` (success rate and interval, collision rate, acc^2 over
        successes) plus the mean goal errors (joint, tool point) over all trials."""
        n = len(records)
        return {
            **planning_summary(records),
            "goal_error_rad_mean": float(np.mean([r["goal_error_rad"] for r in records])) if n else float("nan"),
            "tool_goal_error_m_mean": float(np.mean([r["tool_goal_error_m"] for r in records])) if n else float("nan"),
        }
