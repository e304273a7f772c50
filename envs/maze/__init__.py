"""2-D maze suite: segment collision, the ``Maze2D-v0`` env, the batched task and figures
(worlds are data: ``maze_layout``).

A point robot moves kinematically among box obstacles: the action is the next absolute
position, which becomes the state unless the straight segment travelled touches a wall
(or leaves the bounds), which ends the episode as a failure. Success is reaching within
``GOAL_TOLERANCE_M`` of the goal collision-free before the step cap. The gymnasium env
(one episode) and ``MazeTask`` (many episodes in numpy) share ``kinematic_step``,
``segment_collides`` and ``sample_start_goal``, so evaluation and the env cannot drift.

Observation (float32, 10): the last 4 positions, oldest first (padded with the start),
then the goal. ``episode_from_positions`` builds the same observations for datasets.

Modules: ``geometry`` (constants, collisions, the kinematic step, observations, starts and
goals), ``episodes`` (plans <-> episodes, resampling), ``env`` (gymnasium), ``task``
(batched evaluation), ``figures`` (the report's drawings on the layout).
"""

from ambient_bench.envs.maze_layout import Layout, load_layout  # noqa: F401  (the worlds, as the suite's names)
from ambient_bench.metrics import average_squared_acceleration  # noqa: F401

from . import figures  # noqa: F401  (registers)
from .env import Maze2DEnv  # noqa: F401
from .episodes import (  # noqa: F401
    episode_from_positions,
    plan_episodes,
    positions_from_episode,
    resample_polyline,
    step_through_vertices,
    trajectory_problem,
)
from .geometry import (  # noqa: F401
    DT_S,
    MAX_SPEED_M_S,
    MIN_SEPARATION_M,
    OBS_DIM,
    SPEED_TOLERANCE,
    START_CLEARANCE_M,
    observation,
    segment_collides,
    start_goal_for_seed,
)
from .task import MazeTask  # noqa: F401
