"""The bin-sorting world: its constants (sizes in metres, timing, rules) and the MJCF scene."""

from __future__ import annotations

import functools

import numpy as np

RULES = ("red_left", "red_right")  # red_left is the clean rule
RED, BLUE = 1.0, -1.0
LEFT_BIN, RIGHT_BIN, NO_BIN = 1, -1, 0  # bin codes; the left bin is at +y
MAX_BLOCKS = 6  # each bin has room for every block (colours are drawn independently)

BLOCK_HALF_M = 0.02
BIN_CENTRE_Y_M = 0.36
BIN_INNER_HALF_XY_M = np.array([0.10, 0.12])
BIN_RIM_HEIGHT_M = 0.07
BIN_WALL_HALF_THICKNESS_M = 0.01
SPAWN_LOW_XY_M = np.array([-0.12, -0.14])
SPAWN_HIGH_XY_M = np.array([0.12, 0.14])
# Two blocks are far enough apart for the open fingers (which close along y) to reach
# one without touching the other if they are this far apart along x OR along y.
SPAWN_CLEARANCE_XY_M = np.array([0.06, 0.09])

FINGER_OPEN_M = 0.05  # per finger: inner face distance from the hand axis when open
HAND_HOME_M = np.array([0.0, 0.0, 0.15])
WORKSPACE_LOW_M = np.array([-0.25, -0.55, 0.025])
WORKSPACE_HIGH_M = np.array([0.25, 0.55, 0.30])

CONTROL_DT_S = 0.1
PHYSICS_DT_S = 0.01  # 0.004 gives the same demos at half the speed
MOCAP_MOVES_PER_STEP = 5  # the mocap advances in this many increments per control step
MAX_HAND_SPEED_M_S = 0.5
REST_SPEED_M_S = 0.05  # a placed block is slower than this
LIFTED_ABOVE_TABLE_M = 0.02  # a held block this far above resting on the table counts as lifted
MAX_STEPS_PER_BLOCK = 75  # scripted demos take ≈42 steps per block, at most ≈57

RULE_ONE_HOT = {"red_left": (1.0, 0.0), "red_right": (0.0, 1.0)}


def _box(name: str, pos, size, rgba: str, extra: str = "") -> str:
    p = " ".join(f"{v:.4f}" for v in pos)
    s = " ".join(f"{v:.4f}" for v in size)
    return f'<geom name="{name}" type="box" pos="{p}" size="{s}" rgba="{rgba}" {extra}/>'


def _bin_walls(name: str, centre_y: float) -> list[str]:
    hx, hy = BIN_INNER_HALF_XY_M
    t, hz = BIN_WALL_HALF_THICKNESS_M, BIN_RIM_HEIGHT_M / 2
    grey = "0.55 0.55 0.6 1"
    return [
        _box(f"{name}_wall_xlo", (-hx - t, centre_y, hz), (t, hy + 2 * t, hz), grey),
        _box(f"{name}_wall_xhi", (hx + t, centre_y, hz), (t, hy + 2 * t, hz), grey),
        _box(f"{name}_wall_ylo", (0, centre_y - hy - t, hz), (hx, t, hz), grey),
        _box(f"{name}_wall_yhi", (0, centre_y + hy + t, hz), (hx, t, hz), grey),
    ]


def scene_xml(n_blocks: int) -> str:
    """The MJCF of the scene with ``n_blocks`` blocks (all parked; ``BinSortSim.reset`` places them)."""
    if not 1 <= n_blocks <= MAX_BLOCKS:
        raise ValueError(f"n_blocks={n_blocks}: the bins hold 1..{MAX_BLOCKS} blocks each")
    h = BLOCK_HALF_M
    blocks = "\n".join(
        f'<body name="block{i}" pos="0 {0.1 * i:.2f} {h}"><freejoint name="block{i}"/>'
        f'<geom name="block{i}" type="box" size="{h} {h} {h}" mass="0.05" rgba="0.8 0.2 0.2 1"/></body>'
        for i in range(n_blocks)
    )
    walls = "\n".join(_bin_walls("left", BIN_CENTRE_Y_M) + _bin_walls("right", -BIN_CENTRE_Y_M))
    home = " ".join(f"{v:.3f}" for v in HAND_HOME_M)
    # one sensor per block: does any hand geom touch it (so "held" comes out of a rollout)
    touch_sensors = "".join(
        f'<contact name="touch{i}" body1="block{i}" subtree2="hand" data="found" num="1"/>' for i in range(n_blocks)
    )
    finger = 'type="box" size="0.015 0.005 0.0225" pos="0 {y} 0.0025" friction="1.5 0.01 0.001" rgba="0.3 0.3 0.3 1"'
    return f"""
<mujoco model="binsort">
  <option timestep="{PHYSICS_DT_S}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <visual><global offwidth="640" offheight="480"/></visual>
  <default><geom friction="1 0.005 0.0001"/></default>
  <worldbody>
    <light pos="0 0 1.5" dir="0 0 -1" directional="true"/>
    <camera name="overview" pos="-0.9 0 0.75" xyaxes="0 -1 0 0.6 0 0.8"/>  <!-- behind the hand: left bin on the left -->
    {_box("table", (0, 0, -0.02), (0.4, 0.6, 0.02), "0.8 0.7 0.55 1")}
    {walls}
    {blocks}
    <body name="target" mocap="true" pos="{home}"/>
    <body name="hand" pos="{home}" gravcomp="1">
      <freejoint name="hand"/>
      {_box("palm", (0, 0, 0.035), (0.02, 0.065, 0.01), "0.3 0.3 0.3 1", 'mass="0.3"')}
      <body name="finger_l" gravcomp="1">
        <joint name="finger_l" type="slide" axis="0 1 0" range="0 {FINGER_OPEN_M}" damping="2" armature="0.01"/>
        <geom name="finger_l" mass="0.02" {finger.format(y=0.005)} />
      </body>
      <body name="finger_r" gravcomp="1">
        <joint name="finger_r" type="slide" axis="0 -1 0" range="0 {FINGER_OPEN_M}" damping="2" armature="0.01"/>
        <geom name="finger_r" mass="0.02" {finger.format(y=-0.005)} />
      </body>
    </body>
  </worldbody>
  <contact><exclude body1="finger_l" body2="finger_r"/></contact>
  <equality>
    <weld body1="target" body2="hand" solref="0.01 1"/>
    <joint joint1="finger_r" joint2="finger_l" polycoef="0 1 0 0 0"/>
  </equality>
  <actuator>
    <position name="grip" joint="finger_l" kp="300" ctrlrange="0 {FINGER_OPEN_M}" forcerange="-8 8"/>
  </actuator>
  <sensor>{touch_sensors}</sensor>
</mujoco>"""


@functools.lru_cache(maxsize=None)
def build_model(n_blocks: int):
    """One compiled model per block count, shared (read-only) by every episode's MjData."""
    import mujoco

    return mujoco.MjModel.from_xml_string(scene_xml(n_blocks))
