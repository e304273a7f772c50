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
from ambient_bench.registry import TASKS

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
    """Bin code per block (LEFT_BIN, RIGHT_BIN or NO_BIN).

    in bin b  ⇔  |x| ≤ inner_half_x  ∧  |y − y_b| ≤ inner_half_y  ∧  z < rim height
                 ∧  speed < REST_SPEED_M_S  ∧  not held by the hand.
    A block on the rim (centre over the wall, above the rim) or stacked on a block
    outside a bin is not placed.
    """
    positions_m = np.asarray(positions_m, dtype=float).reshape(-1, 3)
    resting = (np.asarray(speeds_m_s) < REST_SPEED_M_S) & ~np.asarray(held, dtype=bool)
    low = positions_m[:, 2] < BIN_RIM_HEIGHT_M
    bins = np.full(len(positions_m), NO_BIN)
    for code in (LEFT_BIN, RIGHT_BIN):
        offset = np.abs(positions_m[:, :2] - [0.0, code * BIN_CENTRE_Y_M])
        inside = (offset <= BIN_INNER_HALF_XY_M).all(axis=1)
        bins[inside & low & resting] = code
    return bins


def intended_bins(colours: np.ndarray, rule: str) -> np.ndarray:
    """Bin code each block should go to: red_left sends red (+1) left (+1), red_right the opposite."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; valid: {', '.join(RULES)}")
    sign = 1 if rule == "red_left" else -1
    return (sign * np.sign(colours)).astype(int)


def episode_counts(bins: np.ndarray, colours: np.ndarray, rule: str) -> tuple[int, int]:
    """(n_placed, n_correct): blocks in any bin, and blocks in their intended bin."""
    bins = np.asarray(bins)
    return int((bins != NO_BIN).sum()), int((bins == intended_bins(colours, rule)).sum())


def sorting_rates(n_placed: int, n_correct: int, n_blocks: int) -> dict[str, float]:
    """Block-level rates with Wilson intervals.

    motion = placed / all,  logic = correct / placed,  success = correct / all = motion × logic.
    (logic is 0 with interval [0, 1] when nothing was placed.)
    """
    out: dict[str, float] = {}
    for name, k, n in (
        ("motion", n_placed, n_blocks),
        ("logic", n_correct, n_placed),
        ("success", n_correct, n_blocks),
    ):
        lo, hi = wilson_interval(k, n)
        out.update({f"{name}_rate": k / n if n else 0.0, f"{name}_rate_lo": lo, f"{name}_rate_hi": hi})
    return out


def obs_dim(n_blocks: int, task_conditioning: bool) -> int:
    return 4 + 4 * n_blocks + (2 if task_conditioning else 0)


def default_max_steps(n_blocks: int) -> int:
    return MAX_STEPS_PER_BLOCK * n_blocks


# --------------------------------------------------------------------------------------
# One episode's physics
# --------------------------------------------------------------------------------------


class BinSortSim:
    """One episode (an MjData on a shared model): seeded reset, one control step, observation, scoring."""

    def __init__(self, n_blocks: int = 4, rule: str = "red_left", task_conditioning: bool = False):
        import mujoco

        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; valid: {', '.join(RULES)}")
        self._mujoco = mujoco
        self.model = build_model(n_blocks)
        self.data = mujoco.MjData(self.model)
        self.n_blocks, self.rule, self.task_conditioning = n_blocks, rule, task_conditioning
        m = self.model
        joint = lambda name: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name)  # noqa: E731
        body = lambda name: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, name)  # noqa: E731
        geom = lambda name: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, name)  # noqa: E731
        xyz = np.arange(3)
        self._hand_qpos = m.jnt_qposadr[joint("hand")]
        self._finger_qpos = m.jnt_qposadr[[joint("finger_l"), joint("finger_r")]]
        self._mocap = m.body_mocapid[body("target")]
        self._block_qpos = m.jnt_qposadr[[joint(f"block{i}") for i in range(n_blocks)]]
        self._block_pos_index = self._block_qpos[:, None] + xyz  # (n, 3) into qpos
        self._block_vel_index = m.jnt_dofadr[[joint(f"block{i}") for i in range(n_blocks)]][:, None] + xyz
        self._block_geoms = np.array([geom(f"block{i}") for i in range(n_blocks)])
        self._block_of_geom = np.full(m.ngeom, -1)
        self._block_of_geom[self._block_geoms] = np.arange(n_blocks)
        self._is_hand_geom = np.zeros(m.ngeom, dtype=bool)
        self._is_hand_geom[[geom(n) for n in ("palm", "finger_l", "finger_r")]] = True
        # observation = qpos gathered at these indices, with the opening and colours filled in
        blocks = np.arange(n_blocks)[:, None]
        self._obs_qpos_index = np.concatenate([self._hand_qpos + xyz, self._block_pos_index.ravel()])
        self._obs_pos_slots = np.concatenate([xyz, (4 + 4 * blocks + xyz).ravel()])
        self._obs_colour_slots = 7 + 4 * np.arange(n_blocks)
        self._obs = np.zeros(obs_dim(n_blocks, task_conditioning), dtype=np.float32)
        if task_conditioning:
            self._obs[-2:] = RULE_ONE_HOT[rule]
        self._substeps = round(CONTROL_DT_S / PHYSICS_DT_S / MOCAP_MOVES_PER_STEP)
        self.colours = np.zeros(n_blocks)
        self.n_steps = 0

    def reset(self, seed: int) -> np.ndarray:
        """Blocks and colours from ``np.random.default_rng(seed)``; the hand starts open at home."""
        positions_xy, self.colours = sample_blocks(np.random.default_rng(seed), self.n_blocks)
        m, d = self.model, self.data
        self._mujoco.mj_resetData(m, d)
        d.qpos[self._hand_qpos : self._hand_qpos + 7] = [*HAND_HOME_M, 1, 0, 0, 0]
        d.mocap_pos[self._mocap] = HAND_HOME_M
        d.qpos[self._finger_qpos] = FINGER_OPEN_M
        d.ctrl[0] = FINGER_OPEN_M
        for adr, xy in zip(self._block_qpos, positions_xy):
            d.qpos[adr : adr + 7] = [xy[0], xy[1], BLOCK_HALF_M, 1, 0, 0, 0]
        self._mujoco.mj_forward(m, d)
        self._obs[self._obs_colour_slots] = self.colours
        self.n_steps = 0
        return self.observation()

    def step(self, action: np.ndarray) -> np.ndarray:
        """One control step: finger target from the command, mocap toward the clipped target."""
        action = np.asarray(action, dtype=float)
        m, d = self.model, self.data
        d.ctrl[0] = FINGER_OPEN_M * (1 - np.clip(action[3], -1, 1)) / 2
        start = d.mocap_pos[self._mocap].copy()
        delta = np.clip(action[:3], WORKSPACE_LOW_M, WORKSPACE_HIGH_M) - start
        max_move = MAX_HAND_SPEED_M_S * CONTROL_DT_S
        delta *= min(1.0, max_move / max(np.linalg.norm(delta), 1e-12))
        for k in range(1, MOCAP_MOVES_PER_STEP + 1):
            d.mocap_pos[self._mocap] = start + delta * k / MOCAP_MOVES_PER_STEP
            self._mujoco.mj_step(m, d, nstep=self._substeps)
        self.n_steps += 1
        return self.observation()

    def observation(self) -> np.ndarray:
        q = self.data.qpos
        obs = self._obs.copy()
        obs[self._obs_pos_slots] = q[self._obs_qpos_index]
        obs[3] = q[self._finger_qpos].sum()
        return obs

    def block_positions(self) -> np.ndarray:
        return self.data.qpos[self._block_pos_index]

    def _held(self) -> np.ndarray:
        """(n,) bool: blocks touching the hand."""
        d = self.data
        pairs = d.contact.geom[: d.ncon]
        other = pairs[:, ::-1][self._is_hand_geom[pairs]]  # the other geom of each hand contact
        held = np.zeros(self.n_blocks, dtype=bool)
        blocks = self._block_of_geom[other]
        held[blocks[blocks >= 0]] = True
        return held

    def bins(self) -> np.ndarray:
        speeds = np.linalg.norm(self.data.qvel[self._block_vel_index], axis=1)
        return block_bins(self.block_positions(), speeds, self._held())

    def counts(self) -> tuple[int, int]:
        """(n_placed, n_correct) now."""
        return episode_counts(self.bins(), self.colours, self.rule)


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
        self.sim = BinSortSim(n_blocks, rule, task_conditioning)
        self.max_steps = max_steps or default_max_steps(n_blocks)
        self.observation_space, self.action_space = _spaces(n_blocks, task_conditioning)
        self._n_correct = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        # An unseeded reset draws the episode seed from the env's generator, so that
        # reset(seed=s) is exactly the batched task's episode s.
        episode_seed = seed if seed is not None else int(self.np_random.integers(2**31))
        obs = self.sim.reset(episode_seed)
        self._n_correct = 0
        return obs, {"seed": episode_seed}

    def step(self, action):
        obs = self.sim.step(action)
        n_placed, n_correct = self.sim.counts()
        reward = float(n_correct - self._n_correct)
        self._n_correct = n_correct
        terminated = n_placed == self.sim.n_blocks
        truncated = self.sim.n_steps >= self.max_steps
        return obs, reward, terminated, truncated, {"n_placed": n_placed, "n_correct": n_correct}


gymnasium.register(id="ambient_bench/BinSort-v0", entry_point=BinSortEnv)


# --------------------------------------------------------------------------------------
# Batched evaluation
# --------------------------------------------------------------------------------------


@TASKS.register("binsort")
class BinSortTask:
    """Many bin-sorting episodes side by side: one MjData each on one shared MjModel.

    An episode ends when every block rests in a bin (right or wrong) or at the step cap;
    its record is scored at that moment.
    """

    action_dim = 4

    def __init__(self, n_blocks: int = 4, max_steps: int | None = None, task_conditioning: bool = False,
                 rule: str = "red_left"):
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; valid: {', '.join(RULES)}")
        self.n_blocks, self.max_steps = n_blocks, max_steps or default_max_steps(n_blocks)
        self.task_conditioning, self.rule = task_conditioning, rule
        self.obs_dim = obs_dim(n_blocks, task_conditioning)
        self._sims: list[BinSortSim] = []
        self._seeds = np.zeros(0, dtype=np.int64)
        self._obs = np.zeros((0, self.obs_dim), dtype=np.float32)
        self._done = np.zeros(0, dtype=bool)
        self._records: list[dict[str, Any]] = []

    def render_scene(self, path: str | Path, seed: int) -> bool:
        """A rendered first frame of episode ``seed`` for the report (False if no GL)."""
        return render_frame(path, seed, self.n_blocks)

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        self._seeds = np.asarray(seeds, dtype=np.int64)
        while len(self._sims) < len(self._seeds):
            self._sims.append(BinSortSim(self.n_blocks, self.rule, self.task_conditioning))
        self._obs = np.stack([sim.reset(int(s)) for sim, s in zip(self._sims, self._seeds)])
        self._done = np.zeros(len(self._seeds), dtype=bool)
        self._records = [{} for _ in self._seeds]
        return self._obs.copy()

    @property
    def done(self) -> np.ndarray:
        return self._done.copy()

    def step(self, chunks: np.ndarray) -> np.ndarray:
        active = np.flatnonzero(~self._done)
        if len(chunks) != len(active):
            raise ValueError(f"got {len(chunks)} chunks for {len(active)} running episodes")
        for i, chunk in zip(active, np.asarray(chunks, dtype=float)):
            sim = self._sims[i]
            for action in chunk:
                self._obs[i] = sim.step(action)
                n_placed, n_correct = sim.counts()
                if n_placed == self.n_blocks or sim.n_steps >= self.max_steps:
                    self._finish(i, n_placed, n_correct)
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
            "n_steps": self._sims[i].n_steps,
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


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def _render_in_this_process(path: str, seed: int, n_blocks: int) -> None:
    import mujoco
    from PIL import Image

    sim = BinSortSim(n_blocks)
    sim.reset(seed)
    for geom, colour in zip(sim._block_geoms, sim.colours):
        sim.model.geom_rgba[geom] = (0.85, 0.15, 0.15, 1) if colour == RED else (0.15, 0.3, 0.85, 1)
    renderer = mujoco.Renderer(sim.model, 480, 640)
    renderer.update_scene(sim.data, camera="overview")
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
