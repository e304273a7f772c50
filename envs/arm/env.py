"""The gymnasium env ``ambient_bench/Arm7-v0``: one problem, one whole plan per step."""

from __future__ import annotations


import gymnasium
import numpy as np

from .model import GOAL_TOLERANCE_RAD, N_JOINTS, N_WAYPOINTS, Q_LOWER, Q_UPPER, check_goal_tolerance, check_slots
from .plans import plan_record
from .scene import Problem, arm_scene, problem_from_rng


class Arm7Env(gymnasium.Env):
    """One planning problem per episode, one step: the action is the whole plan as deviations
    (64, 7) of q_1..q_64 from the straight line (``plan_from_deviations``: the ends are the
    start and goal whatever the last row); reward 1 iff ``plan_problem`` accepts it.
    Observation [q_start, q_goal]."""

    metadata = {"render_modes": []}

    def __init__(self, goal_tolerance_rad: float = GOAL_TOLERANCE_RAD, problems: str = "home",
                 slots: list[str] | None = None):
        self.goal_tolerance_rad = check_goal_tolerance(goal_tolerance_rad)
        self.problem_set, self.slots = problems, check_slots(slots, problems)
        self.scene = arm_scene()
        lo, hi = Q_LOWER.astype(np.float32), Q_UPPER.astype(np.float32)
        self.observation_space = gymnasium.spaces.Box(np.tile(lo, 2), np.tile(hi, 2), dtype=np.float32)
        span = (hi - lo)[None]
        self.action_space = gymnasium.spaces.Box(np.tile(-span, (N_WAYPOINTS, 1)), np.tile(span, (N_WAYPOINTS, 1)),
                                                 dtype=np.float32)
        self._problem: Problem | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._problem = problem_from_rng(self.scene, self.np_random, self.slots, self.problem_set)
        obs = np.concatenate([self._problem.q_start, self._problem.q_goal]).astype(np.float32)
        return obs, {"slot_pair": self._problem.slot_pair}

    def step(self, action):
        deviations = np.asarray(action, dtype=float).reshape(N_WAYPOINTS, N_JOINTS)
        record = plan_record(self.scene, -1, self._problem, deviations, self.goal_tolerance_rad)
        obs = np.concatenate([self._problem.q_goal, self._problem.q_goal]).astype(np.float32)
        return obs, float(record["success"]), True, False, record
