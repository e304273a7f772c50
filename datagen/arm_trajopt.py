"""Clean arm data: smooth Drake ``KinematicTrajectoryOptimization`` plans (the paper's §7.2).

Per seed: a B-spline (12 control points, order 4) from start to goal with duration and
path-length costs, position and velocity bounds, zero end velocities and a minimum
distance of ``margin_m`` at ``n_collision_points`` interior samples, solved by SNOPT with
loosened tolerances (the defaults hit iteration limits). The plan is stored as 65
configurations uniform in normalised time; a repair loop checks exactly that polyline
with the evaluator's ``plan_problem`` and adds collision constraints at the colliding
chords, re-solving from the last solution. The first attempt starts from the straight
line, the second from a shortcut RRTConnect path. Only ``is_success()`` results count:
an iteration-limit spline that happens to be collision-free is not a valid plan.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ambient_bench.datagen.arm_rrt import plan_rrt_connect
from ambient_bench.datagen.ompl_seeding import ompl_seed
from ambient_bench.envs.arm import (IK_CLEARANCE_M, N_JOINTS, N_WAYPOINTS, Q_LOWER, Q_UPPER, VELOCITY_LIMIT,
                                    ArmScene, Problem, check_slots, plan_episodes, resample_uniform)
from ambient_bench.registry import GENERATORS
from ambient_bench.task import GeneratorOutput

ATTEMPTS = ("straight line", "RRTConnect seed")
SNOPT_OPTIONS = {"Major optimality tolerance": 1e-4, "Major feasibility tolerance": 1e-5,
                 "Major iterations limit": 300}


def plan_trajopt(scene: ArmScene, problem: Problem, seed: int, attempt: str, n_control_points: int = 12,
                 margin_m: float = 0.01, n_collision_points: int = 30,
                 n_repairs: int = 5) -> tuple[np.ndarray | None, str]:
    """65 configurations of one optimised plan, or (None, reason)."""
    from pydrake.multibody.inverse_kinematics import MinimumDistanceLowerBoundConstraint
    from pydrake.planning import KinematicTrajectoryOptimization
    from pydrake.solvers import SnoptSolver, SolverOptions
    from pydrake.trajectories import BsplineTrajectory

    q_start, q_goal = problem.q_start, problem.q_goal
    trajopt = KinematicTrajectoryOptimization(N_JOINTS, n_control_points, 4)
    trajopt.AddDurationCost(1.0)
    trajopt.AddPathLengthCost(1.0)
    trajopt.AddPositionBounds(Q_LOWER, Q_UPPER)
    trajopt.AddVelocityBounds(-VELOCITY_LIMIT, VELOCITY_LIMIT)
    trajopt.AddDurationConstraint(0.1, 20.0)
    trajopt.AddPathPositionConstraint(q_start, q_start, 0.0)
    trajopt.AddPathPositionConstraint(q_goal, q_goal, 1.0)
    zero = np.zeros(N_JOINTS)
    trajopt.AddPathVelocityConstraint(zero, zero, 0.0)
    trajopt.AddPathVelocityConstraint(zero, zero, 1.0)
    collision = MinimumDistanceLowerBoundConstraint(scene.plant, margin_m, scene.plant_context, None, 0.01)
    for s in np.linspace(0.0, 1.0, n_collision_points + 2)[1:-1]:
        trajopt.AddPathPositionConstraint(collision, s)

    if attempt == "straight line":
        guide = np.stack([q_start, q_goal])
    else:
        guide = plan_rrt_connect(scene, q_start, q_goal, ompl_seed(seed, 0), simplify=True)
        if guide is None:
            return None, "no RRTConnect seed"
    points = resample_uniform(guide, n_control_points)
    guess = BsplineTrajectory(trajopt.basis(), [p.reshape(-1, 1) for p in points])
    # The initial duration of the basis is 1 s; the solver rescales.
    trajopt.SetInitialGuess(guess)

    options = SolverOptions()
    for name, value in SNOPT_OPTIONS.items():
        options.SetOption(SnoptSolver.id(), name, value)
    s_stored = np.linspace(0.0, 1.0, N_WAYPOINTS + 1)
    for repair in range(n_repairs + 1):
        result = SnoptSolver().Solve(trajopt.prog(), None, options)
        if not result.is_success():
            return None, f"SNOPT: {result.get_solution_result().name}"
        trajectory = trajopt.ReconstructTrajectory(result)
        t0, duration = trajectory.start_time(), trajectory.end_time() - trajectory.start_time()
        waypoints = trajectory.vector_values(t0 + s_stored * duration).T
        waypoints[0], waypoints[-1] = q_start, q_goal
        stored = waypoints.astype(np.float32).astype(float)
        bad = [k for k in range(N_WAYPOINTS) if not scene.edge_free(stored[k], stored[k + 1])]
        if not bad:
            return waypoints, f"drake.KinematicTrajectoryOptimization/SNOPT ({attempt})"
        if repair == n_repairs:
            break
        for k in bad:  # constrain the colliding chord at its ends and middle, re-solve from here
            for s in (s_stored[k], (s_stored[k] + s_stored[k + 1]) / 2, s_stored[k + 1]):
                trajopt.AddPathPositionConstraint(collision, s)
        trajopt.SetInitialGuess(trajectory)
    return None, "collides after repairs"


@dataclass(frozen=True)
class TrajoptParams:
    """The generator's parameters; constructing them validates (unknown or bad values raise).
    ``margin_m`` must stay below the problems' start/goal clearance, else repairs are infeasible."""

    problems: str = "home"  # PROBLEM_SETS: "home" (fixed start) or "slot_pairs"
    slots: tuple[str, ...] | None = None  # None: the problem set's default slots
    n_control_points: int = 12
    margin_m: float = 0.01
    n_collision_points: int = 30
    n_repairs: int = 5

    def __post_init__(self):
        check_slots(self.slots, self.problems)
        if (self.n_control_points < 4 or not 0 <= self.margin_m < IK_CLEARANCE_M or self.n_collision_points < 1
                or self.n_repairs < 0):
            raise ValueError(f"{self}: need n_control_points >= 4, margin_m in [0, {IK_CLEARANCE_M}), "
                             "n_collision_points >= 1, n_repairs >= 0")


@GENERATORS.register("arm_trajopt")
def generate_arm_trajopt(seeds: Sequence[int], **params) -> GeneratorOutput:
    """One clean trajopt episode per seed (``TrajoptParams``; straight-line guess, then an
    RRTConnect guess); failures are skipped and counted by reason and slot pair, never raised."""
    p = TrajoptParams(**params)
    plan = functools.partial(plan_trajopt, n_control_points=p.n_control_points, margin_m=p.margin_m,
                             n_collision_points=p.n_collision_points, n_repairs=p.n_repairs)
    return plan_episodes(seeds, ATTEMPTS, plan, p.slots, p.problems, "drake.KinematicTrajectoryOptimization/SNOPT")


generate_arm_trajopt.check_params = TrajoptParams  # the runner's check before any work
