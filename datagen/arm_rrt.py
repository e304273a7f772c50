"""Corrupt arm data: raw OMPL RRTConnect plans in the 7-D joint box (the paper's §7.2).

Valid but jerky: each unsimplified path (range ``range_rad``, motions checked every
``EDGE_STEP_RAD`` with the suite's collision checker) is resampled at constant
joint-space speed to the episode's 65 configurations and re-checked with exactly the
evaluator's ``plan_problem``; resampling can cut a corner into an obstacle, so a failed
check retries with a new seed. Plain RRT (goal bias) solved only half of the deep shelf
goals in the feasibility study, RRTConnect all of them: this is the corrupt planner.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ambient_bench.datagen.ompl_seeding import ompl_seed, seeded_ompl
from ambient_bench.envs.arm import (EDGE_STEP_RAD, N_JOINTS, Q_LOWER, Q_UPPER, ArmScene, Problem, check_slots,
                                    plan_episodes, resample_uniform)
from ambient_bench.registry import GENERATORS
from ambient_bench.task import GeneratorOutput

# Configuration checks per plan before giving up (~4 s at 20 us per check on an idle core).
MAX_CHECKS = 200_000


def plan_rrt_connect(scene: ArmScene, q_start: np.ndarray, q_goal: np.ndarray, seed: int, range_rad: float = 1.0,
                     max_checks: int = MAX_CHECKS, simplify: bool = False) -> np.ndarray | None:
    """RRTConnect waypoints (W, 7) from ``q_start`` to exactly ``q_goal``, or None when
    ``max_checks`` configuration checks found no path. The budget counts checks, not
    seconds: a wall-clock limit made plans (and so datasets) depend on the machine's load.

    ``simplify`` runs OMPL's shortcutting (the trajopt fallback seed wants a short path;
    the corrupt data must stay raw).
    """
    from ompl import base as ob, geometric as og

    with seeded_ompl(seed):
        space = ob.RealVectorStateSpace(N_JOINTS)
        bounds = ob.RealVectorBounds(N_JOINTS)
        for j in range(N_JOINTS):
            bounds.setLow(j, float(Q_LOWER[j]))
            bounds.setHigh(j, float(Q_UPPER[j]))
        space.setBounds(bounds)
        si = ob.SpaceInformation(space)
        n_checks = 0

        def is_valid(state) -> bool:
            nonlocal n_checks
            n_checks += 1
            return scene.config_free([state[j] for j in range(N_JOINTS)])

        si.setStateValidityChecker(is_valid)
        si.setStateValidityCheckingResolution(EDGE_STEP_RAD / space.getMaximumExtent())
        si.setup()
        start, goal = space.allocState(), space.allocState()
        for j in range(N_JOINTS):
            start[j], goal[j] = float(q_start[j]), float(q_goal[j])
        problem = ob.ProblemDefinition(si)
        problem.setStartAndGoalStates(start, goal, 1e-6)
        planner = og.RRTConnect(si)
        planner.setRange(range_rad)
        planner.setProblemDefinition(problem)
        planner.setup()
        planner.solve(ob.PlannerTerminationCondition(lambda: n_checks >= max_checks))
        if not problem.hasExactSolution():
            return None
        path = problem.getSolutionPath()
        if simplify:
            og.PathSimplifier(si).simplifyMax(path)
        waypoints = np.array([[path.getState(i)[j] for j in range(N_JOINTS)] for i in range(path.getStateCount())])
    waypoints[-1] = q_goal
    return waypoints


def plan_rrt_episode(scene: ArmScene, problem: Problem, seed: int, attempt: int, range_rad: float = 1.0,
                     max_checks: int = MAX_CHECKS) -> tuple[np.ndarray | None, str]:
    """One raw RRTConnect plan (its own OMPL seed per attempt) resampled to 65 configurations."""
    waypoints = plan_rrt_connect(scene, problem.q_start, problem.q_goal, ompl_seed(seed, attempt), range_rad,
                                 max_checks)
    if waypoints is None:
        return None, f"RRTConnect: no solution in {max_checks} checks"
    return resample_uniform(waypoints), "ompl.RRTConnect"


@dataclass(frozen=True)
class RrtParams:
    """The generator's parameters; constructing them validates (unknown or bad values raise)."""

    problems: str = "home"  # PROBLEM_SETS: "home" (fixed start) or "slot_pairs"
    slots: tuple[str, ...] | None = None  # None: the problem set's default slots
    range_rad: float = 1.0
    max_checks: int = MAX_CHECKS
    n_attempts: int = 3

    def __post_init__(self):
        check_slots(self.slots, self.problems)
        if not (self.range_rad > 0 and self.max_checks >= 1 and self.n_attempts >= 1):
            raise ValueError(f"{self}: range_rad must be > 0, max_checks and n_attempts >= 1")


@GENERATORS.register("arm_rrt")
def generate_arm_rrt(seeds: Sequence[int], **params) -> GeneratorOutput:
    """One corrupt RRTConnect episode per seed (``RrtParams``); a seed whose ``n_attempts``
    plans all fail is counted in ``n_failed`` with reasons in ``stats``."""
    p = RrtParams(**params)
    plan = functools.partial(plan_rrt_episode, range_rad=p.range_rad, max_checks=p.max_checks)
    return plan_episodes(seeds, range(p.n_attempts), plan, p.slots, p.problems, "ompl.RRTConnect")


generate_arm_rrt.check_params = RrtParams  # the runner's check before any work
