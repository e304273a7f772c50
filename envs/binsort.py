"""Bin sorting in MuJoCo (PAPER §3.4): right motions, possibly the wrong task logic.

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
``BinSortSim``, and score with the same pure metric functions below.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from ambient_bench.metrics import wilson_interval
from ambient_bench.registry import FIGURES, TASKS
from ambient_bench.task import SuiteFigures

log = logging.getLogger(__name__)

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
MAX_STEPS_PER_BLOCK = 75  # scripted demos take ≈42 steps per block, at most ≈57

RULE_ONE_HOT = {"red_left": (1.0, 0.0), "red_right": (0.0, 1.0)}


# --------------------------------------------------------------------------------------
# Scene
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Episode sampling and metrics (pure functions)
# --------------------------------------------------------------------------------------


def sample_blocks(rng: np.random.Generator, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Block positions_xy (n, 2) in the spawn area, pairwise clear for the fingers, and colours (n,)."""
    positions_xy: list[np.ndarray] = []
    for _ in range(n_blocks):
        for _try in range(1000):
            p = rng.uniform(SPAWN_LOW_XY_M, SPAWN_HIGH_XY_M)
            if all((np.abs(p - q) >= SPAWN_CLEARANCE_XY_M).any() for q in positions_xy):
                positions_xy.append(p)
                break
        else:
            raise ValueError(f"cannot fit {n_blocks} blocks in the spawn area; use fewer")
    colours = np.where(rng.random(n_blocks) < 0.5, RED, BLUE)
    return np.array(positions_xy), colours


def block_bins(positions_m: np.ndarray, speeds_m_s: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Bin code per block (LEFT_BIN, RIGHT_BIN or NO_BIN); any leading shape, positions (..., 3).

    in bin b  ⇔  |x| ≤ inner_half_x  ∧  |y − y_b| ≤ inner_half_y  ∧  z < rim height
                 ∧  speed < REST_SPEED_M_S  ∧  not held by the hand.
    A block on the rim (centre over the wall, above the rim) or stacked on a block
    outside a bin is not placed.
    """
    positions_m = np.asarray(positions_m, dtype=float)
    resting = (np.asarray(speeds_m_s) < REST_SPEED_M_S) & ~np.asarray(held, dtype=bool)
    low = positions_m[..., 2] < BIN_RIM_HEIGHT_M
    bins = np.full(positions_m.shape[:-1], NO_BIN)
    for code in (LEFT_BIN, RIGHT_BIN):
        offset = np.abs(positions_m[..., :2] - [0.0, code * BIN_CENTRE_Y_M])
        inside = (offset <= BIN_INNER_HALF_XY_M).all(axis=-1)
        bins[inside & low & resting] = code
    return bins


def intended_bins(colours: np.ndarray, rule: str) -> np.ndarray:
    """Bin code each block should go to: red_left sends red (+1) left (+1), red_right the opposite."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; valid: {', '.join(RULES)}")
    sign = 1 if rule == "red_left" else -1
    return (sign * np.sign(colours)).astype(int)


def episode_counts(bins: np.ndarray, colours: np.ndarray, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """(n_placed, n_correct) over the last axis: blocks in any bin, and blocks in their intended bin."""
    bins = np.asarray(bins)
    return (bins != NO_BIN).sum(axis=-1), (bins == intended_bins(colours, rule)).sum(axis=-1)


def sorting_rates(n_placed: int, n_correct: int, n_blocks: int) -> dict[str, float]:
    """Block-level rates with Wilson intervals.

    motion = placed / all,  logic = correct / placed,  success = correct / all = motion × logic.
    A rate over nothing (logic when no block was placed) is undefined: NaN, interval [0, 1].
    """
    out: dict[str, float] = {}
    for name, k, n in (
        ("motion", n_placed, n_blocks),
        ("logic", n_correct, n_placed),
        ("success", n_correct, n_blocks),
    ):
        lo, hi = wilson_interval(k, n)
        out.update({f"{name}_rate": k / n if n else float("nan"), f"{name}_rate_lo": lo, f"{name}_rate_hi": hi})
    return out


def obs_dim(n_blocks: int, task_conditioning: bool) -> int:
    return 4 + 4 * n_blocks + (2 if task_conditioning else 0)


def default_max_steps(n_blocks: int) -> int:
    return MAX_STEPS_PER_BLOCK * n_blocks


# --------------------------------------------------------------------------------------
# Physics of many episodes
# --------------------------------------------------------------------------------------


class BinSortSim:
    """``n_episodes`` episodes on one shared model, each a row of state arrays.

    A control step is one ``mujoco.rollout`` over the stepped episodes: the finger
    command and the mocap path are open-loop inputs for the ``CONTROL_DT_S`` of
    physics, so the C thread pool does every physics step and Python runs once per
    control step, not once per episode and physics step. The env and the scripted
    demonstrator use one episode, the batched evaluation many; all step identically.
    """

    def __init__(self, n_episodes: int = 1, n_blocks: int = 4, rule: str = "red_left",
                 task_conditioning: bool = False, threads: int | None = None):
        import mujoco
        import mujoco.rollout

        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; valid: {', '.join(RULES)}")
        self._mujoco = mujoco
        self.model = m = build_model(n_blocks)
        self.n_episodes, self.n_blocks, self.rule, self.task_conditioning = n_episodes, n_blocks, rule, task_conditioning
        threads = max(1, min(n_episodes, threads or os.cpu_count() or 1))
        self._datas = [mujoco.MjData(m) for _ in range(threads)]
        self._rollout = mujoco.rollout.Rollout(nthread=threads if threads > 1 else 0)
        self._state_spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self._control_spec = mujoco.mjtState.mjSTATE_CTRL | mujoco.mjtState.mjSTATE_MOCAP_POS
        self._physics_steps = round(CONTROL_DT_S / PHYSICS_DT_S)
        self._mocap_fraction = np.repeat(np.arange(1, MOCAP_MOVES_PER_STEP + 1) / MOCAP_MOVES_PER_STEP,
                                         self._physics_steps // MOCAP_MOVES_PER_STEP)

        joint = lambda name: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name)  # noqa: E731
        xyz = np.arange(3)
        blocks = [joint(f"block{i}") for i in range(n_blocks)]
        qpos = mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_TIME)  # qpos and qvel offsets in a state row
        qvel = mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_TIME | mujoco.mjtState.mjSTATE_QPOS)
        self._hand_qpos = m.jnt_qposadr[joint("hand")]
        self._finger_qpos = m.jnt_qposadr[[joint("finger_l"), joint("finger_r")]]
        self._finger_cols = qpos + self._finger_qpos
        self._block_qpos = m.jnt_qposadr[blocks]
        # columns of a state row: each block's free joint (n_blocks, 7) and its velocity (n_blocks, 6)
        self._block_qpos_cols = qpos + self._block_qpos[:, None] + np.arange(7)
        self._block_qvel_cols = qvel + m.jnt_dofadr[blocks][:, None] + np.arange(6)
        self._block_pos_cols = self._block_qpos_cols[:, :3]
        self._block_vel_cols = self._block_qvel_cols[:, :3]
        # observation = state columns gathered into these slots, plus the opening, colours and rule
        self._obs_cols = np.concatenate([qpos + self._hand_qpos + xyz, self._block_pos_cols.ravel()])
        self._obs_pos_slots = np.concatenate([xyz, (4 + 4 * np.arange(n_blocks)[:, None] + xyz).ravel()])
        self._obs_colour_slots = 7 + 4 * np.arange(n_blocks)
        self._obs_rule = RULE_ONE_HOT[rule] if task_conditioning else ()

        n = n_episodes
        self.state = np.zeros((n, mujoco.mj_stateSize(m, self._state_spec)))
        self.mocap_m = np.tile(HAND_HOME_M, (n, 1))
        self.colours = np.zeros((n, n_blocks))
        self.held = np.zeros((n, n_blocks), dtype=bool)  # blocks touching the hand
        self.n_steps = np.zeros(n, dtype=int)

    def _all(self, episodes) -> np.ndarray:
        return np.arange(self.n_episodes) if episodes is None else np.asarray(episodes, dtype=int)

    def reset(self, seeds) -> np.ndarray:
        """Episode i from ``np.random.default_rng(seeds[i])``: its blocks and colours; the hand open at home."""
        seeds = np.asarray(seeds, dtype=np.int64).reshape(self.n_episodes)
        m, d = self.model, self._datas[0]
        for i, seed in enumerate(seeds):
            positions_xy, self.colours[i] = sample_blocks(np.random.default_rng(int(seed)), self.n_blocks)
            self._mujoco.mj_resetData(m, d)
            d.qpos[self._hand_qpos : self._hand_qpos + 7] = [*HAND_HOME_M, 1, 0, 0, 0]
            d.qpos[self._finger_qpos] = FINGER_OPEN_M
            for adr, xy in zip(self._block_qpos, positions_xy):
                d.qpos[adr : adr + 7] = [xy[0], xy[1], BLOCK_HALF_M, 1, 0, 0, 0]
            self._mujoco.mj_getState(m, d, self.state[i], self._state_spec)
        self.mocap_m[:] = HAND_HOME_M
        self.held[:] = False
        self.n_steps[:] = 0
        return self.observation()

    def step(self, actions: np.ndarray, episodes=None) -> np.ndarray:
        """One control step of ``episodes`` (default: all) with actions (k, 4); their new observations.

        The finger target follows the gripper command; the mocap moves toward the
        workspace-clipped target by at most MAX_HAND_SPEED_M_S · CONTROL_DT_S, in
        MOCAP_MOVES_PER_STEP increments.
        """
        idx = self._all(episodes)
        actions = np.asarray(actions, dtype=float).reshape(len(idx), 4)
        start = self.mocap_m[idx]
        delta = np.clip(actions[:, :3], WORKSPACE_LOW_M, WORKSPACE_HIGH_M) - start
        length = np.linalg.norm(delta, axis=1, keepdims=True)
        delta *= np.minimum(1.0, MAX_HAND_SPEED_M_S * CONTROL_DT_S / np.maximum(length, 1e-12))
        finger_m = FINGER_OPEN_M * (1 - np.clip(actions[:, 3], -1, 1)) / 2
        control = np.empty((len(idx), self._physics_steps, 4))
        control[:, :, 0] = finger_m[:, None]
        control[:, :, 1:] = start[:, None] + self._mocap_fraction[None, :, None] * delta[:, None]
        state, touch = self._rollout.rollout(
            self.model, self._datas, self.state[idx], control,
            control_spec=self._control_spec, nstep=self._physics_steps,
        )
        self.state[idx] = state[:, -1]
        self.held[idx] = touch[:, -1] > 0
        self.mocap_m[idx] = start + delta
        self.n_steps[idx] += 1
        return self.observation(idx)

    def observation(self, episodes=None) -> np.ndarray:
        """(k, obs_dim) float32: hand xyz, opening, per block xyz and colour, (rule one-hot)."""
        idx = self._all(episodes)
        rows = self.state[idx]
        obs = np.zeros((len(idx), obs_dim(self.n_blocks, self.task_conditioning)), dtype=np.float32)
        obs[:, self._obs_pos_slots] = rows[:, self._obs_cols]
        obs[:, 3] = rows[:, self._finger_cols].sum(axis=1)
        obs[:, self._obs_colour_slots] = self.colours[idx]
        if self.task_conditioning:
            obs[:, -2:] = self._obs_rule
        return obs

    def block_positions(self, episodes=None) -> np.ndarray:
        """(k, n_blocks, 3) in metres."""
        return self.state[self._all(episodes)][:, self._block_pos_cols]

    def set_block_positions(self, positions_m: np.ndarray, episode: int = 0) -> None:
        """Put episode ``episode``'s blocks at rest, upright, at positions_m (n_blocks, 3): hand-built scenes."""
        self.state[episode, self._block_qpos_cols] = np.concatenate(
            [positions_m, np.tile([1.0, 0, 0, 0], (self.n_blocks, 1))], axis=1)
        self.state[episode, self._block_qvel_cols] = 0.0

    def bins(self, episodes=None) -> np.ndarray:
        """(k, n_blocks) bin codes now."""
        idx = self._all(episodes)
        speeds = np.linalg.norm(self.state[idx][:, self._block_vel_cols], axis=-1)
        return block_bins(self.block_positions(idx), speeds, self.held[idx])

    def counts(self, episodes=None) -> tuple[np.ndarray, np.ndarray]:
        """(n_placed, n_correct) per episode now."""
        idx = self._all(episodes)
        return episode_counts(self.bins(idx), self.colours[idx], self.rule)

    def mjdata(self, episode: int = 0):
        """A fresh MjData holding episode ``episode``'s state (for rendering)."""
        d = self._mujoco.MjData(self.model)
        self._mujoco.mj_setState(self.model, d, self.state[episode], self._state_spec)
        d.mocap_pos[0] = self.mocap_m[episode]
        self._mujoco.mj_forward(self.model, d)
        return d


# --------------------------------------------------------------------------------------
# Gymnasium environment
# --------------------------------------------------------------------------------------


def _spaces(n_blocks: int, task_conditioning: bool):
    action_space = gymnasium.spaces.Box(
        np.append(WORKSPACE_LOW_M, -1).astype(np.float32),
        np.append(WORKSPACE_HIGH_M, 1).astype(np.float32),
        dtype=np.float32,
    )
    dim = obs_dim(n_blocks, task_conditioning)
    observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (dim,), dtype=np.float32)
    return observation_space, action_space


class BinSortEnv(gymnasium.Env):
    """Sort the blocks into bins; reward = newly correct blocks; ends when every block is in a bin."""

    metadata = {"render_modes": []}

    def __init__(self, n_blocks: int = 4, max_steps: int | None = None, rule: str = "red_left",
                 task_conditioning: bool = False):
        self.sim = BinSortSim(1, n_blocks, rule, task_conditioning)
        self.max_steps = max_steps or default_max_steps(n_blocks)
        self.observation_space, self.action_space = _spaces(n_blocks, task_conditioning)
        self._n_correct = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        # An unseeded reset draws the episode seed from the env's generator, so that
        # reset(seed=s) is exactly the batched task's episode s.
        episode_seed = seed if seed is not None else int(self.np_random.integers(2**31))
        obs = self.sim.reset([episode_seed])[0]
        self._n_correct = 0
        return obs, {"seed": episode_seed}

    def step(self, action):
        obs = self.sim.step(action)[0]
        n_placed, n_correct = (int(c[0]) for c in self.sim.counts())
        reward = float(n_correct - self._n_correct)
        self._n_correct = n_correct
        terminated = n_placed == self.sim.n_blocks
        truncated = bool(self.sim.n_steps[0] >= self.max_steps)
        return obs, reward, terminated, truncated, {"n_placed": n_placed, "n_correct": n_correct}


# --------------------------------------------------------------------------------------
# Batched evaluation
# --------------------------------------------------------------------------------------


@TASKS.register("binsort")
class BinSortTask:
    """Many bin-sorting episodes side by side in one ``BinSortSim`` (one shared MjModel).

    An episode ends when every block rests in a bin (right or wrong) or at the step cap;
    its record is scored at that moment. ``threads`` (default: all cores) run the physics.
    """

    action_dim = 4

    def __init__(self, n_blocks: int = 4, max_steps: int | None = None, task_conditioning: bool = False,
                 rule: str = "red_left", threads: int | None = None):
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; valid: {', '.join(RULES)}")
        if n_blocks < 1 or (max_steps is not None and max_steps < 1):
            raise ValueError(f"n_blocks={n_blocks} and max_steps={max_steps} must be >= 1")
        self.n_blocks, self.max_steps = n_blocks, max_steps or default_max_steps(n_blocks)
        self.task_conditioning, self.rule, self.threads = task_conditioning, rule, threads
        self.obs_dim = obs_dim(n_blocks, task_conditioning)
        self._sim: BinSortSim | None = None
        self._seeds = np.zeros(0, dtype=np.int64)
        self._obs = np.zeros((0, self.obs_dim), dtype=np.float32)
        self._done = np.zeros(0, dtype=bool)
        self._records: list[dict[str, Any]] = []

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        self._seeds = np.asarray(seeds, dtype=np.int64)
        if self._sim is None or self._sim.n_episodes != len(self._seeds):
            self._sim = BinSortSim(len(self._seeds), self.n_blocks, self.rule, self.task_conditioning, self.threads)
        self._obs = self._sim.reset(self._seeds)
        self._done = np.zeros(len(self._seeds), dtype=bool)
        self._records = [{} for _ in self._seeds]
        return self._obs.copy()

    @property
    def done(self) -> np.ndarray:
        return self._done.copy()

    def step(self, chunks: np.ndarray) -> np.ndarray:
        """Execute each running episode's chunk, one control step of all of them at a time."""
        active = np.flatnonzero(~self._done)
        chunks = np.asarray(chunks, dtype=float)
        if len(chunks) != len(active):
            raise ValueError(f"got {len(chunks)} chunks for {len(active)} running episodes")
        running = np.ones(len(active), dtype=bool)  # which of the chunks are still being executed
        for k in range(chunks.shape[1]):
            episodes = active[running]
            self._obs[episodes] = self._sim.step(chunks[running, k], episodes)
            n_placed, n_correct = self._sim.counts(episodes)
            finished = (n_placed == self.n_blocks) | (self._sim.n_steps[episodes] >= self.max_steps)
            for i, placed, correct in zip(episodes[finished], n_placed[finished], n_correct[finished]):
                self._finish(i, int(placed), int(correct))
            running[np.flatnonzero(running)[finished]] = False
            if not running.any():
                break
        return self._obs.copy()

    def _finish(self, i: int, n_placed: int, n_correct: int) -> None:
        self._done[i] = True
        self._records[i] = {
            "seed": int(self._seeds[i]),
            "n_blocks": self.n_blocks,
            "n_placed": n_placed,
            "n_correct": n_correct,
            "success": n_correct == self.n_blocks,
            "n_steps": int(self._sim.n_steps[i]),
        }

    def records(self) -> list[dict[str, Any]]:
        if not self._done.all():
            raise RuntimeError("records() before every episode is done")
        return list(self._records)

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, float]:
        n_blocks = sum(r["n_blocks"] for r in records)
        n_success = sum(bool(r["success"]) for r in records)
        out = sorting_rates(sum(r["n_placed"] for r in records), sum(r["n_correct"] for r in records), n_blocks)
        lo, hi = wilson_interval(n_success, len(records))
        out.update(
            episode_success_rate=n_success / len(records) if records else 0.0,
            episode_success_rate_lo=lo,
            episode_success_rate_hi=hi,
            n_trials=float(len(records)),
            n_blocks_total=float(n_blocks),
        )
        return out


@FIGURES.register("binsort")
class BinSortFigures(SuiteFigures):
    """The bin-sorting report figure: a rendered frame of the scene (MuJoCo, needs GL)."""

    def render_scene(self, task_params: dict[str, Any], path: str | Path, seed: int) -> bool:
        """A rendered first frame of episode ``seed`` (False if no GL)."""
        return render_frame(path, seed, BinSortTask(**task_params).n_blocks)


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def _render_in_this_process(path: str, seed: int, n_blocks: int) -> None:
    import mujoco
    from PIL import Image

    sim = BinSortSim(1, n_blocks)
    sim.reset([seed])
    model = sim.model
    for i, colour in enumerate(sim.colours[0]):
        geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f"block{i}")
        model.geom_rgba[geom] = (0.85, 0.15, 0.15, 1) if colour == RED else (0.15, 0.3, 0.85, 1)
    renderer = mujoco.Renderer(model, 480, 640)
    renderer.update_scene(sim.mjdata(0), camera="overview")
    Image.fromarray(renderer.render()).save(path)
    renderer.close()


def render_frame(path: str | Path, seed: int, n_blocks: int = 4, timeout_s: float = 60.0) -> bool:
    """Render episode ``seed``'s first frame to a PNG with headless EGL; False (logged) if no GL.

    The GL backend is fixed when mujoco is imported and a broken EGL can crash the
    process, so the frame is rendered in a fresh child process with MUJOCO_GL=egl.
    """
    env = dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    code = f"from ambient_bench.envs.binsort import _render_in_this_process as r; r({str(path)!r}, {int(seed)}, {int(n_blocks)})"
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        log.warning("binsort render skipped: no frame after %.0f s (MUJOCO_GL=%s)", timeout_s, env["MUJOCO_GL"])
        return False
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no message)"]
        log.warning("binsort render skipped: no usable OpenGL (MUJOCO_GL=%s): %s", env["MUJOCO_GL"], tail[0])
        return False
    return True
