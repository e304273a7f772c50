"""7-DoF arm suite: an offline iiwa14 in a shelf-and-bins scene, problems, the plan check,
the ``Arm7-v0`` env and the batched task (PAPER.md §7.2 "neural motion planning").

The robot is written here from the KUKA LBR iiwa 14 R820's published kinematics (joint
origins, axes, position and velocity limits) with primitive collision geometry only:
Drake's packaged arm models fetch their meshes over the network at parse time and fail
offline. A WSG-50-like gripper is a row of spheres; the shelf, two bins, the table and a
few clutter boxes are one static SDF model built in code.

One episode is one whole plan of ``N_WAYPOINTS`` = 64 steps, uniform in the plan's own
normalised time: ``obs[k] = [q_k, q_goal]``, ``action[k] = q_{k+1}``. The policy predicts
the plan open-loop (one ``step``). A plan succeeds iff ``plan_problem`` finds nothing:
within joint limits, every chord ``q_k -> q_{k+1}`` collision-free (Drake checks every
``EDGE_STEP_RAD``, no padding) and ``||q_64 - q_goal|| <= goal_tolerance_rad``. Datasets
are stored only if their float32 waypoints pass exactly this check.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import gymnasium
import numpy as np

from ambient_bench.metrics import planning_summary
from ambient_bench.registry import FIGURES, TASKS
from ambient_bench.task import Episode, GeneratorOutput, SuiteFigures, first_valid_attempt

log = logging.getLogger(__name__)

N_JOINTS = 7
N_WAYPOINTS = 64  # actions per episode; the plan has N_WAYPOINTS + 1 configurations
OBS_DIM = 2 * N_JOINTS
ACTION_DIM = N_JOINTS
DT_S = 0.1  # nominal time step for acc^2
EDGE_STEP_RAD = 0.01
GOAL_TOLERANCE_RAD = 0.1
MAX_GOAL_TOLERANCE_RAD = 1.0
IK_CLEARANCE_M = 0.02  # start/goal clearance: more than the trajopt margin, so repairs stay feasible
IK_POSITION_BOX_M = 0.01
APPROACH_ANGLE_RAD = 0.25
PROBLEM_ATTEMPTS = 30
# Episodes per evaluation batch whose tool-point paths are stored in the eval records.
N_STORED_ROLLOUTS = 16
# Datasets store float32 configurations: a joint at its limit may round ~1e-7 rad past it.
LIMIT_TOLERANCE_RAD = 1e-6

# The iiwa14: (joint origin xyz in the parent link frame (m), origin rpy (rad),
# position limit (+-rad), velocity limit (rad/s)); every joint turns about its own z axis.
_PI = math.pi
IIWA14_JOINTS = (
    ((0.0, 0.0, 0.1575), (0.0, 0.0, 0.0), 2.96706, 1.48353),
    ((0.0, 0.0, 0.2025), (_PI / 2, 0.0, _PI), 2.09440, 1.48353),
    ((0.0, 0.2045, 0.0), (_PI / 2, 0.0, _PI), 2.96706, 1.74533),
    ((0.0, 0.0, 0.2155), (_PI / 2, 0.0, 0.0), 2.09440, 1.30900),
    ((0.0, 0.1845, 0.0), (-_PI / 2, _PI, 0.0), 2.96706, 2.26893),
    ((0.0, 0.0, 0.2155), (_PI / 2, 0.0, 0.0), 2.09440, 2.35619),
    ((0.0, 0.081, 0.0), (-_PI / 2, _PI, 0.0), 3.05433, 2.35619),
)
FLANGE_OFFSET_M = 0.045  # link 7 origin to the tool flange, along z
Q_LOWER = -np.array([j[2] for j in IIWA14_JOINTS])
Q_UPPER = np.array([j[2] for j in IIWA14_JOINTS])
VELOCITY_LIMIT = np.array([j[3] for j in IIWA14_JOINTS])

# Collision spheres per link (centre in the link frame (m), radius (m)), interior to each
# segment so that only truly folded configurations self-collide. Link 0 (the base on the
# table) has none: it never moves.
LINK_SPHERES = (
    (((0, 0, 0.0), 0.08), ((0, 0, 0.1), 0.08)),
    (((0, 0, 0), 0.08), ((0, 0.1, 0), 0.075)),
    (((0, 0, 0.03), 0.075), ((0, 0, 0.13), 0.075)),
    (((0, 0, 0), 0.075), ((0, 0.1, 0), 0.07)),
    (((0, 0, 0.03), 0.07), ((0, 0, 0.13), 0.065)),
    (((0, 0, 0), 0.07), ((0, 0.03, 0), 0.06)),
    (((0, 0, 0.02), 0.05),),
)
# WSG-50-like gripper in the flange frame (z = approach): mount, a palm of 5 spheres across
# y, two fingers of 2 spheres each.
GRIPPER_SPHERES = (
    ((0, 0, 0.03), 0.035),
    *(((0, y, 0.06), 0.028) for y in (-0.06, -0.03, 0.0, 0.03, 0.06)),
    *(((0, y, z), 0.014) for y in (-0.035, 0.035) for z in (0.1, 0.125)),
)
TOOL_POINT_M = np.array([0.0, 0.0, 0.12])  # between the fingers, in the flange frame

# Static scene boxes: name -> (centre xyz (m), size xyz (m)). Shelf centred at (0.85, 0, 0.4)
# with three compartments, bins at y = +-0.6, the table top at z = 0, three clutter boxes.
SHELF_X, SHELF_Z = 0.85, 0.4
SCENE_BOXES = {
    "table": ((0.3, 0.0, -0.025), (1.6, 2.0, 0.05)),
    "shelf_back": ((SHELF_X + 0.14, 0.0, SHELF_Z), (0.02, 0.6, 0.8)),
    "shelf_left": ((SHELF_X, 0.29, SHELF_Z), (0.3, 0.02, 0.8)),
    "shelf_right": ((SHELF_X, -0.29, SHELF_Z), (0.3, 0.02, 0.8)),
    **{f"shelf_board{i}": ((SHELF_X, 0.0, SHELF_Z + z), (0.3, 0.6, 0.02))
       for i, z in enumerate((-0.39, -0.13, 0.13, 0.39))},
    **{f"bin_{side}_{wall}": ((0.0 + dx, sign * 0.6 + dy, 0.075), size)
       for side, sign in (("left", 1), ("right", -1))
       for wall, (dx, dy, size) in {"front": (0.2, 0.0, (0.02, 0.4, 0.15)), "back": (-0.2, 0.0, (0.02, 0.4, 0.15)),
                                     "inner": (0.0, -0.19 * sign, (0.42, 0.02, 0.15)),
                                     "outer": (0.0, 0.19 * sign, (0.42, 0.02, 0.15))}.items()},
    "clutter_table": ((0.42, 0.32, 0.06), (0.08, 0.08, 0.12)),
    "clutter_table2": ((0.3, -0.34, 0.05), (0.1, 0.1, 0.1)),
    "clutter_shelf": ((SHELF_X + 0.05, -0.2, SHELF_Z - 0.05), (0.08, 0.08, 0.14)),
}


@dataclass(frozen=True)
class Slot:
    """Where a start or goal may be: the tool point within ``half_extent_m`` of ``centre_m``
    (then +-``IK_POSITION_BOX_M``), the gripper's approach axis within ``APPROACH_ANGLE_RAD``
    of ``approach``."""

    centre_m: tuple[float, float, float]
    half_extent_m: tuple[float, float, float]
    approach: tuple[float, float, float]


_FORWARD, _DOWN = (1.0, 0.0, 0.0), (0.0, 0.0, -1.0)
SLOTS = {
    "shelf_bottom": Slot((0.78, 0.0, SHELF_Z - 0.26), (0.03, 0.1, 0.02), _FORWARD),
    "shelf_middle": Slot((0.78, 0.05, SHELF_Z), (0.03, 0.1, 0.02), _FORWARD),
    "shelf_top": Slot((0.78, 0.0, SHELF_Z + 0.26), (0.03, 0.1, 0.02), _FORWARD),
    "bin_left": Slot((0.0, 0.6, 0.2), (0.08, 0.06, 0.03), _DOWN),
    "bin_right": Slot((0.0, -0.6, 0.2), (0.08, 0.06, 0.03), _DOWN),
    "table": Slot((0.5, 0.0, 0.14), (0.06, 0.15, 0.02), _DOWN),
}


def check_slots(slots: Sequence[str]) -> list[str]:
    """The slot names, or ValueError naming the unknown one and the valid ones."""
    slots = list(slots)
    unknown = [s for s in slots if s not in SLOTS]
    if unknown:
        raise ValueError(f"unknown slot {unknown[0]!r}; valid slots: {', '.join(SLOTS)}")
    if len(set(slots)) < 2:
        raise ValueError(f"slots {slots}: need at least 2 distinct slots (start and goal differ)")
    return slots


def check_goal_tolerance(goal_tolerance_rad: float) -> float:
    if not 0 < goal_tolerance_rad <= MAX_GOAL_TOLERANCE_RAD:
        raise ValueError(f"goal_tolerance_rad={goal_tolerance_rad} must be in (0, {MAX_GOAL_TOLERANCE_RAD}]")
    return float(goal_tolerance_rad)


# --------------------------------------------------------------------------------------
# Model files (written in code)
# --------------------------------------------------------------------------------------


def iiwa14_urdf() -> str:
    """The iiwa14 + gripper URDF: kinematics, limits, nominal inertias, collision spheres."""

    def xyz(v) -> str:
        return " ".join(f"{float(x):.6g}" for x in v)

    def link(name: str, spheres) -> str:
        collisions = "".join(
            f'<collision><origin xyz="{xyz(c)}"/><geometry><sphere radius="{r}"/></geometry></collision>'
            for c, r in spheres)
        inertial = ('<inertial><mass value="1"/><inertia ixx="0.01" ixy="0" ixz="0" iyy="0.01" '
                    'iyz="0" izz="0.01"/></inertial>')
        return f'<link name="{name}">{inertial}{collisions}</link>\n'

    parts = ['<?xml version="1.0"?>\n<robot name="iiwa14">\n', link("iiwa_link_0", ())]
    for i, ((origin, rpy, limit, velocity), spheres) in enumerate(zip(IIWA14_JOINTS, LINK_SPHERES), start=1):
        parts.append(
            f'<joint name="iiwa_joint_{i}" type="revolute"><parent link="iiwa_link_{i - 1}"/>'
            f'<child link="iiwa_link_{i}"/><origin xyz="{xyz(origin)}" rpy="{xyz(rpy)}"/>'
            f'<axis xyz="0 0 1"/><limit lower="{-limit}" upper="{limit}" effort="300" '
            f'velocity="{velocity}"/></joint>\n')
        parts.append(link(f"iiwa_link_{i}", spheres))
    parts.append(f'<joint name="gripper_mount" type="fixed"><parent link="iiwa_link_7"/><child link="gripper"/>'
                 f'<origin xyz="0 0 {FLANGE_OFFSET_M}"/></joint>\n')
    parts.append(link("gripper", GRIPPER_SPHERES))
    parts.append("</robot>\n")
    return "".join(parts)


def scene_sdf() -> str:
    """The static scene as one SDF model (static: its link is welded to the world)."""
    collisions = "".join(
        f'<collision name="{name}"><pose>{c[0]} {c[1]} {c[2]} 0 0 0</pose>'
        f"<geometry><box><size>{s[0]} {s[1]} {s[2]}</size></box></geometry></collision>"
        for name, (c, s) in SCENE_BOXES.items())
    return (f'<?xml version="1.0"?><sdf version="1.7"><model name="scene"><static>true</static>'
            f'<link name="scene">{collisions}</link></model></sdf>')


# --------------------------------------------------------------------------------------
# The scene: plant, collision checker, kinematics, IK
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    q_start: np.ndarray
    q_goal: np.ndarray
    start_slot: str
    goal_slot: str

    @property
    def slot_pair(self) -> str:
        return f"{self.start_slot}->{self.goal_slot}"


def problem_from_rng(scene: ArmScene, rng: np.random.Generator, slots: Sequence[str] = tuple(SLOTS)) -> Problem:
    """Start and goal in two different slots, each by IK from a random guess in the middle
    half of the joint box (guesses over the whole box give contorted, joint-limit-hugging
    postures whose plans take several times longer); up to ``PROBLEM_ATTEMPTS`` draws
    (slot pair, targets, guesses), then RuntimeError."""
    slots = list(slots)
    for _ in range(PROBLEM_ATTEMPTS):
        names = [slots[i] for i in rng.choice(len(slots), size=2, replace=False)]
        qs = []
        for name in names:
            slot = SLOTS[name]
            target = np.array(slot.centre_m) + rng.uniform(-1, 1, 3) * np.array(slot.half_extent_m)
            q = scene.solve_ik(slot, target, rng.uniform(Q_LOWER / 2, Q_UPPER / 2))
            if q is None:
                break
            qs.append(q)
        if len(qs) == 2:
            return Problem(qs[0], qs[1], names[0], names[1])
    raise RuntimeError(f"no start/goal found in {PROBLEM_ATTEMPTS} IK draws over slots {slots}")


def problem(seed: int, slots: Sequence[str] = tuple(SLOTS)) -> Problem:
    """The problem of an episode seed; identical to ``Arm7-v0.reset(seed=seed)``."""
    return problem_from_rng(arm_scene(), np.random.default_rng(int(seed)), slots)


# --------------------------------------------------------------------------------------
# The plan check (shared by generators, the task and the env) and metrics
# --------------------------------------------------------------------------------------


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


def average_squared_acceleration(waypoints: np.ndarray, dt_s: float = DT_S) -> float:
    """Mean over interior samples of ||(q[k+1] - 2 q[k] + q[k-1]) / dt_s**2||^2 (rad^2/s^4)."""
    q = np.asarray(waypoints, dtype=float)
    if len(q) < 3:
        return 0.0
    return float(np.mean(np.sum(((q[2:] - 2 * q[1:-1] + q[:-2]) / dt_s**2) ** 2, axis=1)))


def resample_uniform(waypoints: np.ndarray, n_points: int = N_WAYPOINTS + 1) -> np.ndarray:
    """``n_points`` configurations at constant joint-space speed along a polyline (ends kept)."""
    q = np.asarray(waypoints, dtype=float)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(q, axis=0), axis=1))])
    s = np.linspace(0.0, arc[-1], n_points)
    return np.stack([np.interp(s, arc, q[:, j]) for j in range(q.shape[1])], axis=1)


def episode_from_plan(waypoints: np.ndarray, q_goal: np.ndarray, seed: int) -> Episode:
    """obs[k] = [q_k, q_goal], action[k] = q_{k+1}, k = 0..K-1."""
    q = np.asarray(waypoints, dtype=float)
    obs = np.concatenate([q[:-1], np.repeat(np.asarray(q_goal, dtype=float)[None], len(q) - 1, 0)], axis=1)
    return Episode(obs, q[1:], seed)


def plan_from_episode(episode: Episode) -> np.ndarray:
    """(K+1, 7) configurations q_0..q_K of a stored episode."""
    return np.concatenate([episode.obs[:1, :N_JOINTS], episode.action], axis=0).astype(float)


def plan_episodes(
    seeds: Sequence[int],
    attempts: Sequence[Any],
    plan: Callable[[ArmScene, Problem, int, Any], tuple[np.ndarray | None, str]],
    slots: Sequence[str],
    solver: str,
) -> GeneratorOutput:
    """The loop both arm generators share: per seed its problem, then
    ``plan(scene, problem, seed, attempt) -> (waypoints (65, 7) | None, solver_or_reason)``
    per attempt until the float32 plan passes ``plan_problem`` (what the dataset stores).

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
            prob = problem_from_rng(scene, np.random.default_rng(int(seed)), slots)
        except RuntimeError:
            failed_attempts["no start/goal (IK)"] = failed_attempts.get("no start/goal (IK)", 0) + 1
            n_failed += 1
            continue
        found = first_valid_attempt(attempts, lambda attempt: plan(scene, prob, int(seed), attempt),
                                    lambda waypoints: plan_problem(scene, waypoints, prob.q_goal.astype(np.float32)),
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


# --------------------------------------------------------------------------------------
# Gymnasium env and batched task
# --------------------------------------------------------------------------------------


def plan_record(scene: ArmScene, seed: int, prob: Problem, actions: np.ndarray,
                goal_tolerance_rad: float) -> dict[str, Any]:
    """The evaluation record of one predicted plan (``actions`` (64, 7) = q_1..q_64)."""
    waypoints = np.concatenate([prob.q_start[None], np.asarray(actions, dtype=float)])
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
        "accel_sq": average_squared_acceleration(waypoints),
        "path_length_rad": float(np.linalg.norm(np.diff(waypoints, axis=0), axis=1).sum()),
    }


class Arm7Env(gymnasium.Env):
    """One planning problem per episode, one step: the action is the whole plan q_1..q_64
    (64, 7); reward 1 iff ``plan_problem`` accepts it. Observation [q_start, q_goal]."""

    metadata = {"render_modes": []}

    def __init__(self, goal_tolerance_rad: float = GOAL_TOLERANCE_RAD, slots: Sequence[str] = tuple(SLOTS)):
        self.goal_tolerance_rad = check_goal_tolerance(goal_tolerance_rad)
        self.slots = check_slots(slots)
        self.scene = arm_scene()
        lo, hi = Q_LOWER.astype(np.float32), Q_UPPER.astype(np.float32)
        self.observation_space = gymnasium.spaces.Box(np.tile(lo, 2), np.tile(hi, 2), dtype=np.float32)
        self.action_space = gymnasium.spaces.Box(np.tile(lo, (N_WAYPOINTS, 1)), np.tile(hi, (N_WAYPOINTS, 1)),
                                                 dtype=np.float32)
        self._problem: Problem | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._problem = problem_from_rng(self.scene, self.np_random, self.slots)
        obs = np.concatenate([self._problem.q_start, self._problem.q_goal]).astype(np.float32)
        return obs, {"slot_pair": self._problem.slot_pair}

    def step(self, action):
        record = plan_record(self.scene, -1, self._problem, np.asarray(action, dtype=float).reshape(N_WAYPOINTS, 7),
                             self.goal_tolerance_rad)
        obs = np.concatenate([np.asarray(action, dtype=np.float32).reshape(N_WAYPOINTS, 7)[-1],
                              self._problem.q_goal.astype(np.float32)])
        obs = np.clip(obs, self.observation_space.low, self.observation_space.high)
        return obs, float(record["success"]), True, False, record


@TASKS.register("arm")
class ArmTask:
    """Many planning problems evaluated together (the ``BatchedTask`` protocol): actions are
    collected until each episode has its 64 waypoints (one ``step`` for a whole-plan
    policy), then every plan is checked with ``plan_problem``. The records of the first
    ``N_STORED_ROLLOUTS`` episodes of a batch keep their tool-point paths (m, 0.1 mm)."""

    obs_dim = OBS_DIM
    action_dim = ACTION_DIM

    def __init__(self, goal_tolerance_rad: float = GOAL_TOLERANCE_RAD, slots: Sequence[str] = tuple(SLOTS)):
        self.check_params(goal_tolerance_rad, slots)
        self.goal_tolerance_rad, self.slots = goal_tolerance_rad, list(slots)
        self.scene = arm_scene()
        self.reset(np.zeros(0, dtype=np.int64))

    @staticmethod
    def check_params(goal_tolerance_rad: float = GOAL_TOLERANCE_RAD, slots: Sequence[str] = tuple(SLOTS)) -> None:
        """ValueError for an unknown slot or a goal tolerance outside (0, 1] rad."""
        check_goal_tolerance(goal_tolerance_rad)
        check_slots(slots)

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        self.seeds = np.asarray(seeds, dtype=np.int64)
        self.problems = [problem_from_rng(self.scene, np.random.default_rng(int(s)), self.slots) for s in self.seeds]
        self.plans = np.zeros((len(self.seeds), N_WAYPOINTS + 1, N_JOINTS))
        for i, prob in enumerate(self.problems):
            self.plans[i, 0] = prob.q_start
        self.steps = np.zeros(len(self.seeds), dtype=np.int64)
        self._records: list[dict[str, Any] | None] = [None] * len(self.seeds)
        return self._observations()

    @property
    def done(self) -> np.ndarray:
        return self.steps >= N_WAYPOINTS

    def _observations(self) -> np.ndarray:
        goals = np.array([p.q_goal for p in self.problems]).reshape(-1, N_JOINTS)
        current = self.plans[np.arange(len(self.seeds)), self.steps]
        return np.concatenate([current, goals], axis=1).astype(np.float32)

    def step(self, chunks: np.ndarray) -> np.ndarray:
        active = np.flatnonzero(~self.done)
        chunks = np.asarray(chunks, dtype=float)
        if chunks.shape[:1] != (len(active),) or chunks.shape[2:] != (N_JOINTS,):
            raise ValueError(f"chunks {chunks.shape}: expected ({len(active)}, n_steps, {N_JOINTS})")
        for i, chunk in zip(active, chunks):
            n = min(len(chunk), N_WAYPOINTS - self.steps[i])
            self.plans[i, self.steps[i] + 1: self.steps[i] + 1 + n] = chunk[:n]
            self.steps[i] += n
            if self.steps[i] == N_WAYPOINTS:
                record = plan_record(self.scene, int(self.seeds[i]), self.problems[i], self.plans[i, 1:],
                                     self.goal_tolerance_rad)
                if i < N_STORED_ROLLOUTS and np.isfinite(self.plans[i]).all():  # for figures, never re-run
                    record["tool_path"] = np.round(self.scene.tool_points(self.plans[i]), 4).tolist()
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


@FIGURES.register("arm")
class ArmFigures(SuiteFigures):
    """The arm's report figures: tool-point paths (top and side views) and the robot in the scene."""

    def plot_rollouts(self, records_by_label: dict[str, list[dict[str, Any]]], task_params: dict[str, Any],
                      path: str | Path) -> bool:
        """One column per policy: the stored tool-point paths of its test plans, by outcome."""
        panels = {}
        for label, records in records_by_label.items():
            stored = [r for r in records if "tool_path" in r]
            rate = 100 * sum(r["success"] for r in records) / max(len(records), 1)
            groups = {outcome: [np.asarray(r["tool_path"]) for r in stored if r["success"] == (outcome == "success")]
                      for outcome in ("success", "failure")}
            panels[f"{label} ({rate:.1f} % success)"] = {k: v for k, v in groups.items() if v}
        plot_views(panels, path)
        return True

    def plot_datasets(self, datasets: dict[str, Any], task_params: dict[str, Any], path: str | Path,
                      n_per_dataset: int = 8) -> bool:
        """Tool-point paths of the first few plans of each dataset (smooth trajopt vs jagged RRT)."""
        scene = arm_scene()
        panels = {}
        for name, ds in datasets.items():
            plans = [plan_from_episode(ds.episode(i)) for i in range(min(n_per_dataset, ds.n_episodes))]
            accel = np.mean([average_squared_acceleration(q) for q in plans]) if plans else float("nan")
            panels[f"{name} ({ds.n_episodes} plans; shown: acc² {accel:.1f})"] = {
                name: [scene.tool_points(q) for q in plans]}
        plot_views(panels, path)
        return True

    def render_scene(self, task_params: dict[str, Any], path: str | Path, seed: int) -> bool:
        """A 3-D drawing of the scene with the robot at the start and goal of problem ``seed``."""
        task = ArmTask(**task_params)
        render_robot(task.scene, problem_from_rng(task.scene, np.random.default_rng(int(seed)), task.slots), path)
        return True


# --------------------------------------------------------------------------------------
# Figures (matplotlib, Agg: no GL needed)
# --------------------------------------------------------------------------------------

_VIEWS = (("top view", 0, 1, "x (m)", "y (m)"), ("side view", 0, 2, "x (m)", "z (m)"))


def plot_views(panels: dict[str, dict[str, Sequence[np.ndarray]]], path: str | Path) -> Path:
    """Columns = panels (title -> tool-point paths by label), rows = top and side views of the
    scene's boxes, each path drawn with a start dot and an end cross."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, axes = plt.subplots(2, len(panels), figsize=(4.2 * len(panels), 7.5), squeeze=False)
    for col, (title, paths_by_label) in enumerate(panels.items()):
        for row, (view, a, b, xlabel, ylabel) in enumerate(_VIEWS):
            ax = axes[row, col]
            for name, (centre, size) in SCENE_BOXES.items():
                if name != "table" or b == 2:
                    ax.add_patch(Rectangle((centre[a] - size[a] / 2, centre[b] - size[b] / 2), size[a], size[b],
                                           color="0.55", alpha=0.35, lw=0))
            for i, (label, paths) in enumerate(paths_by_label.items()):
                colour = {"success": "tab:green", "failure": "tab:red"}.get(label, colours[i % len(colours)])
                for j, p in enumerate(paths):
                    ax.plot(p[:, a], p[:, b], "-", color=colour, lw=1.0, alpha=0.8, label=label if j == 0 else None)
                    ax.plot(p[0, a], p[0, b], "o", color=colour, ms=3)
                    ax.plot(p[-1, a], p[-1, b], "x", color=colour, ms=5)
            ax.set_xlim(-0.5, 1.1)
            ax.set_ylim((-0.9, 0.9) if b == 1 else (-0.1, 1.45))
            ax.set_aspect("equal")
            ax.set_xlabel(xlabel, fontsize=8)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.set_title(f"{title}: {view}", fontsize=9)
            if paths_by_label and row == 0:
                ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def render_robot(scene: ArmScene, prob: Problem, path: str | Path) -> Path:
    """The scene's boxes and the robot's collision spheres at the start (blue) and goal (orange)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    corners = np.array([[i, j, k] for i in (-0.5, 0.5) for j in (-0.5, 0.5) for k in (-0.5, 0.5)])
    faces = [[0, 1, 3, 2], [4, 5, 7, 6], [0, 1, 5, 4], [2, 3, 7, 6], [0, 2, 6, 4], [1, 3, 7, 5]]
    for name, (centre, size) in SCENE_BOXES.items():
        v = np.array(centre) + corners * np.array(size)
        ax.add_collection3d(Poly3DCollection([v[f] for f in faces], facecolor="0.7" if name != "table" else "0.85",
                                             edgecolor="0.4", linewidths=0.3, alpha=0.35))
    for q, colour, label in ((prob.q_start, "tab:blue", f"start ({prob.start_slot})"),
                             (prob.q_goal, "tab:orange", f"goal ({prob.goal_slot})")):
        centres, radii = robot_spheres(scene, q)
        ax.scatter(*centres.T, s=(radii * 900) ** 2 / 40, color=colour, alpha=0.6, label=label, depthshade=False)
    ax.set_xlim(-0.6, 1.1)
    ax.set_ylim(-0.85, 0.85)
    ax.set_zlim(-0.05, 1.3)
    ax.set_box_aspect((1.7, 1.7, 1.35))
    ax.view_init(elev=25, azim=-60)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_zlabel("z (m)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("iiwa14 (collision spheres), shelf, bins, table, clutter", fontsize=9)
    return _save(fig, path)


def robot_spheres(scene: ArmScene, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World centres (N, 3) and radii (N,) of the robot's collision spheres at ``q``."""
    scene.plant.SetPositions(scene.plant_context, np.asarray(q, dtype=float))
    centres, radii = [], []
    frames = [f"iiwa_link_{i}" for i in range(1, 8)] + ["gripper"]
    for frame, spheres in zip(frames, (*LINK_SPHERES, GRIPPER_SPHERES)):
        body_frame = scene.plant.GetFrameByName(frame)
        for centre, radius in spheres:
            centres.append(scene.plant.CalcPointsPositions(scene.plant_context, body_frame, np.array(centre, float),
                                                           scene.plant.world_frame())[:, 0])
            radii.append(radius)
    return np.array(centres), np.array(radii)


def _save(fig: Any, path: str | Path) -> Path:
    import io

    import matplotlib.pyplot as plt

    from ambient_bench.data import atomic_write_bytes

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
