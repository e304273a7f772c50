"""The arm scene in Drake (plant, collision checker, kinematics, IK) and the problems posed in it."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .model import (
    APPROACH_ANGLE_RAD,
    EDGE_STEP_RAD,
    HOME_Q_RAD,
    IK_CLEARANCE_M,
    IK_POSITION_BOX_M,
    N_JOINTS,
    PROBLEM_ATTEMPTS,
    Q_LOWER,
    Q_UPPER,
    SLOTS,
    TOOL_POINT_M,
    Slot,
    check_slots,
    iiwa14_urdf,
    scene_sdf,
)


class ArmScene:
    """The robot in its scene with a ``SceneGraphCollisionChecker`` and a spare context for
    kinematics, IK and trajectory optimisation. Build once per process (``arm_scene()``):
    Drake objects don't pickle, so workers receive seeds only."""

    def __init__(self):
        from pydrake.planning import RobotDiagramBuilder, SceneGraphCollisionChecker

        builder = RobotDiagramBuilder(time_step=0.0)
        parser = builder.parser()
        (robot,) = parser.AddModelsFromString(iiwa14_urdf(), "urdf")
        parser.AddModelsFromString(scene_sdf(), "sdf")
        plant = builder.plant()
        plant.WeldFrames(plant.world_frame(), plant.GetFrameByName("iiwa_link_0", robot))
        plant.Finalize()
        self.checker = SceneGraphCollisionChecker(
            model=builder.Build(), robot_model_instances=[robot], edge_step_size=EDGE_STEP_RAD,
            env_collision_padding=0.0, self_collision_padding=0.0, implicit_context_parallelism=False)
        self.plant = self.checker.plant()
        self.diagram_context = self.checker.model().CreateDefaultContext()
        self.plant_context = self.plant.GetMyMutableContextFromRoot(self.diagram_context)
        self.gripper_frame = self.plant.GetFrameByName("gripper")

    def config_free(self, q: np.ndarray) -> bool:
        return bool(self.checker.CheckConfigCollisionFree(np.asarray(q, dtype=float)))

    def edge_free(self, q0: np.ndarray, q1: np.ndarray) -> bool:
        return bool(self.checker.CheckEdgeCollisionFree(np.asarray(q0, dtype=float), np.asarray(q1, dtype=float)))

    def clearance_m(self, q: np.ndarray, influence_m: float = 0.2) -> float:
        """Smallest signed distance of the robot to anything (m), capped at ``influence_m``."""
        distances = self.checker.CalcRobotClearance(np.asarray(q, dtype=float), influence_m).distances()
        return float(distances.min()) if len(distances) else influence_m

    def tool_points(self, qs: np.ndarray) -> np.ndarray:
        """(N, 3) tool-point positions in the world for (N, 7) configurations."""
        out = []
        for q in np.asarray(qs, dtype=float).reshape(-1, N_JOINTS):
            self.plant.SetPositions(self.plant_context, q)
            out.append(self.plant.CalcPointsPositions(self.plant_context, self.gripper_frame, TOOL_POINT_M,
                                                      self.plant.world_frame())[:, 0])
        return np.array(out).reshape(-1, 3)

    def solve_ik(self, slot: Slot, target_m: np.ndarray, q_guess: np.ndarray) -> np.ndarray | None:
        """A collision-free configuration with the tool point within ``IK_POSITION_BOX_M`` of
        ``target_m``, the approach axis within ``APPROACH_ANGLE_RAD`` of the slot's, and
        ``IK_CLEARANCE_M`` from everything; None if SNOPT fails from ``q_guess``."""
        from pydrake.multibody.inverse_kinematics import InverseKinematics
        from pydrake.solvers import SnoptSolver

        ik = InverseKinematics(self.plant, self.plant_context, with_joint_limits=True)
        world = self.plant.world_frame()
        ik.AddPositionConstraint(self.gripper_frame, TOOL_POINT_M, world,
                                 target_m - IK_POSITION_BOX_M, target_m + IK_POSITION_BOX_M)
        ik.AddAngleBetweenVectorsConstraint(world, np.array(slot.approach), self.gripper_frame,
                                            np.array([0.0, 0.0, 1.0]), 0.0, APPROACH_ANGLE_RAD)
        ik.AddMinimumDistanceLowerBoundConstraint(IK_CLEARANCE_M)
        result = SnoptSolver().Solve(ik.prog(), q_guess)
        if not result.is_success():
            return None
        q = np.clip(result.GetSolution(ik.q()), Q_LOWER, Q_UPPER)
        return q if self.config_free(q) else None


@functools.lru_cache(maxsize=1)
def arm_scene() -> ArmScene:
    """The process's one scene (building takes ~0.1 s; every generator and task shares it)."""
    return ArmScene()


@dataclass(frozen=True)
class Problem:
    q_start: np.ndarray
    q_goal: np.ndarray
    start_slot: str
    goal_slot: str

    @property
    def slot_pair(self) -> str:
        return f"{self.start_slot}->{self.goal_slot}"


def problem_from_rng(scene: ArmScene, rng: np.random.Generator, slots: Sequence[str] | None = None,
                     problems: str = "home") -> Problem:
    """One problem of the set ``problems`` (``PROBLEM_SETS``) over ``slots`` (None: its default).

    "home": the start is ``HOME_Q_RAD``; the goal is a target in one slot, solved by IK seeded
    at home (so each slot's goals share one posture family). "slot_pairs": start and goal in
    two different slots, each by IK from a random guess in the middle half of the joint box
    (guesses over the whole box give contorted, joint-limit-hugging postures whose plans take
    several times longer). Up to ``PROBLEM_ATTEMPTS`` draws (slots, targets, guesses), then
    RuntimeError.
    """
    slots = check_slots(slots, problems)
    for _ in range(PROBLEM_ATTEMPTS):
        if problems == "home":
            names, guesses = [slots[rng.integers(len(slots))]], [HOME_Q_RAD]
        else:
            names = [slots[i] for i in rng.choice(len(slots), size=2, replace=False)]
            guesses = []
        qs = []
        for i, name in enumerate(names):
            slot = SLOTS[name]
            target = np.array(slot.centre_m) + rng.uniform(-1, 1, 3) * np.array(slot.half_extent_m)
            q = scene.solve_ik(slot, target, guesses[i] if guesses else rng.uniform(Q_LOWER / 2, Q_UPPER / 2))
            if q is None:
                break
            qs.append(q)
        if len(qs) == len(names):
            if problems == "home":
                return Problem(HOME_Q_RAD.copy(), qs[0], "home", names[0])
            return Problem(qs[0], qs[1], names[0], names[1])
    raise RuntimeError(f"no start/goal found in {PROBLEM_ATTEMPTS} IK draws over slots {slots} ({problems})")


def problem(seed: int, slots: Sequence[str] | None = None, problems: str = "home") -> Problem:
    """The problem of an episode seed; identical to ``Arm7-v0.reset(seed=seed)`` with the same set."""
    return problem_from_rng(arm_scene(), np.random.default_rng(int(seed)), slots, problems)
