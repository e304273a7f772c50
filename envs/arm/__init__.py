"""7-DoF arm suite: an offline iiwa14 in a shelf-and-bins scene, problems, the plan check,
the ``Arm7-v0`` env and the batched task (the paper's §7.2, "neural motion planning").

The robot is written here from the KUKA LBR iiwa 14 R820's published kinematics (joint
origins, axes, position and velocity limits) with primitive collision geometry only:
Drake's packaged arm models fetch their meshes over the network at parse time and fail
offline. A WSG-50-like gripper is a row of spheres; the shelf, two bins, the table and a
few clutter boxes are one static SDF model built in code.

Problems (``PROBLEM_SETS``): "home" starts at ``HOME_Q_RAD`` with the goal in a shelf
compartment; "slot_pairs" draws start and goal in two slots (the harder variant).

One episode is one whole plan of ``N_WAYPOINTS`` = 64 steps, uniform in the plan's own
normalised time: ``obs[k] = [q_k, q_goal]``, ``action[k]`` = q_{k+1} minus the straight
joint-space line from start to goal at that step (0 at the goal; an all-zero output is the
line, and ``plan_from_deviations`` puts the ends on start and goal exactly). The policy
predicts the plan open-loop (one ``step``). A plan succeeds iff ``plan_problem`` finds nothing:
within joint limits, every chord ``q_k -> q_{k+1}`` collision-free (Drake checks every
``EDGE_STEP_RAD``, no padding) and ``||q_64 - q_goal|| <= goal_tolerance_rad``. Datasets
are stored only if their float32 waypoints pass exactly this check.

Modules: ``model`` (robot and scene, written in code; slots), ``scene`` (Drake plant, collision
checker, kinematics, IK; problems), ``plans`` (the plan check, episodes), ``env``
(gymnasium), ``task`` (batched evaluation), ``figures`` (the report's drawings).
"""

from ambient_bench.metrics import average_squared_acceleration  # noqa: F401

from . import figures  # noqa: F401  (registers)
from .env import Arm7Env  # noqa: F401
from .model import (  # noqa: F401
    DT_S,
    EDGE_STEP_RAD,
    FLANGE_OFFSET_M,
    HOME_Q_RAD,
    IIWA14_JOINTS,
    IK_CLEARANCE_M,
    IK_POSITION_BOX_M,
    N_JOINTS,
    N_WAYPOINTS,
    PROBLEM_SETS,
    Q_LOWER,
    Q_UPPER,
    SLOTS,
    TOOL_POINT_M,
    VELOCITY_LIMIT,
    check_goal_tolerance,
    check_slots,
    iiwa14_urdf,
    scene_sdf,
)
from .plans import (  # noqa: F401
    episode_from_plan,
    plan_episodes,
    plan_from_deviations,
    plan_from_episode,
    plan_problem,
    resample_uniform,
    straight_line,
)
from .scene import ArmScene, Problem, arm_scene, problem  # noqa: F401
from .task import ArmTask  # noqa: F401
