"""The iiwa14 and its scene as data: joint and collision constants, task slots, and the URDF and
SDF written from them (no network, no meshes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

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
# The fixed start of the "home" problems (the public iiwa shelf-and-bins planning demos' q0):
# collision-free with 3.1 cm clearance, tool point at about (0.48, 0, 0.31) m.
HOME_Q_RAD = np.array([0.0, 0.3, 0.0, -1.8, 0.0, 1.0, 1.57])
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


# How problems are posed: "home" starts every plan at HOME_Q_RAD and puts the goal in one of
# ``slots`` (IK seeded at home: one posture family per slot, few modes, like the maze's fixed
# start); "slot_pairs" draws start and goal in two different slots from random IK guesses
# (a 14-D space of problems: the harder variant). Each has its default slots: from home, the
# three shelf compartments (the straight line fails into most of them), the bins and table
# being nearly free.
PROBLEM_SETS = {
    "home": ("shelf_bottom", "shelf_middle", "shelf_top"),
    "slot_pairs": tuple(SLOTS),
}


def check_slots(slots: Sequence[str] | None, problems: str = "home") -> list[str]:
    """The slot names (None: the problem set's default), or ValueError naming the unknown
    problem set or slot and the valid ones."""
    if problems not in PROBLEM_SETS:
        raise ValueError(f"unknown problems {problems!r}; valid: {', '.join(PROBLEM_SETS)}")
    slots = list(PROBLEM_SETS[problems] if slots is None else slots)
    unknown = [s for s in slots if s not in SLOTS]
    if unknown:
        raise ValueError(f"unknown slot {unknown[0]!r}; valid slots: {', '.join(SLOTS)}")
    if len(set(slots)) < (1 if problems == "home" else 2):
        raise ValueError(f"slots {slots}: need at least {1 if problems == 'home' else 2} distinct slot(s) "
                         f"for problems={problems!r}")
    return slots


def check_goal_tolerance(goal_tolerance_rad: float) -> float:
    if not 0 < goal_tolerance_rad <= MAX_GOAL_TOLERANCE_RAD:
        raise ValueError(f"goal_tolerance_rad={goal_tolerance_rad} must be in (0, {MAX_GOAL_TOLERANCE_RAD}]")
    return float(goal_tolerance_rad)


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
