"""Bin sorting in MuJoCo (the paper's §3.4): right motions, possibly the wrong task logic.

A mocap-driven hand (a weld from a mocap body to a free hand body, two coupled slide
fingers driven by one position actuator) picks red and blue blocks off a table and
drops them into a left (+y) or right (-y) bin. Grasping is by friction, nothing is
teleported. A block counts as placed only if, at the end, it rests inside a bin: its
centre inside the bin's inner footprint, below the rim, slow, and not held by the hand.

Observation (float32): hand position (3), finger opening in metres (1), then per block
its position (3) and colour (+1 red, -1 blue), and with ``task_conditioning`` a one-hot
of the sorting rule (2). Action (float32): hand target position (3) and a gripper
command in [-1, 1] (-1 open, +1 closed). One step is ``CONTROL_DT_S`` of physics; the
mocap moves toward the target at most ``MAX_HAND_SPEED_M_S``.

The env, the batched evaluation task and the scripted demonstrator all step through
``BinSortSim`` (``sim``), and score with the same pure functions (``rules``). Modules:
``scene`` (constants and the MJCF scene), ``rules`` (block sampling, bins and rates),
``sim`` (many episodes of physics), ``env`` (gymnasium), ``task`` (batched evaluation),
``figures`` (the report's rendered frame).
"""

from .env import BinSortEnv  # noqa: F401
from .figures import render_frame  # noqa: F401
from .rules import (  # noqa: F401
    OUTCOMES,
    block_bins,
    block_outcomes,
    default_max_steps,
    episode_counts,
    intended_bins,
    sorting_rates,
)
from .scene import (  # noqa: F401
    BIN_CENTRE_Y_M,
    BIN_INNER_HALF_XY_M,
    BIN_RIM_HEIGHT_M,
    BIN_WALL_HALF_THICKNESS_M,
    BLOCK_HALF_M,
    BLUE,
    CONTROL_DT_S,
    HAND_HOME_M,
    LEFT_BIN,
    NO_BIN,
    RED,
    RIGHT_BIN,
)
from .sim import BinSortSim  # noqa: F401
from .task import BinSortTask  # noqa: F401
