"""Physics of many bin-sorting episodes at once (MuJoCo, batched rollouts)."""

from __future__ import annotations

import os
import time

import numpy as np

from .rules import block_bins, block_outcomes, episode_counts, intended_bins, obs_dim, sample_blocks
from .scene import (
    BLOCK_HALF_M,
    CONTROL_DT_S,
    FINGER_OPEN_M,
    HAND_HOME_M,
    LIFTED_ABOVE_TABLE_M,
    MAX_HAND_SPEED_M_S,
    MOCAP_MOVES_PER_STEP,
    PHYSICS_DT_S,
    RULE_ONE_HOT,
    RULES,
    WORKSPACE_HIGH_M,
    WORKSPACE_LOW_M,
    build_model,
)


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
        self.physics_s = 0.0  # wall time inside MuJoCo (the rest of a step is Python and numpy)
        # each block's history, from every physics step, for the failure taxonomy (rules.block_outcomes)
        self.touched = np.zeros((n, n_blocks), dtype=bool)  # the hand ever touched it
        self.lifted = np.zeros((n, n_blocks), dtype=bool)  # ever held clear of the table
        self.release_xy_m = np.full((n, n_blocks, 2), np.nan)  # where it was last held clear of the table

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
        self.touched[:] = self.lifted[:] = False
        self.release_xy_m[:] = np.nan
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
        t0 = time.perf_counter()
        state, touch = self._rollout.rollout(
            self.model, self._datas, self.state[idx], control,
            control_spec=self._control_spec, nstep=self._physics_steps,
        )
        self.physics_s += time.perf_counter() - t0
        self.state[idx] = state[:, -1]
        self.held[idx] = touch[:, -1] > 0
        self.mocap_m[idx] = start + delta
        self.n_steps[idx] += 1
        self._track_blocks(idx, state, touch > 0)
        return self.observation(idx)

    def _track_blocks(self, idx: np.ndarray, states: np.ndarray, touching: np.ndarray) -> None:
        """Update touched / lifted / release point from the physics steps of one control step
        (states (k, nstep, nstate), touching (k, nstep, n_blocks))."""
        positions = states[:, :, self._block_pos_cols]  # (k, nstep, n_blocks, 3)
        held_up = touching & (positions[..., 2] > BLOCK_HALF_M + LIFTED_ABOVE_TABLE_M)
        self.touched[idx] |= touching.any(axis=1)
        self.lifted[idx] |= held_up.any(axis=1)
        episode, block = np.nonzero(held_up.any(axis=1))
        last = held_up.shape[1] - 1 - np.argmax(held_up[episode, ::-1, block], axis=1)
        self.release_xy_m[idx[episode], block] = positions[episode, last, block, :2]

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

    def outcomes(self, episodes=None) -> np.ndarray:
        """(k, n_blocks) indices into ``rules.OUTCOMES``: what became of each block so far."""
        idx = self._all(episodes)
        return block_outcomes(self.bins(idx), intended_bins(self.colours[idx], self.rule), self.held[idx],
                              self.touched[idx], self.lifted[idx], self.release_xy_m[idx])

    def mjdata(self, episode: int = 0):
        """A fresh MjData holding episode ``episode``'s state (for rendering)."""
        d = self._mujoco.MjData(self.model)
        self._mujoco.mj_setState(self.model, d, self.state[episode], self._state_spec)
        d.mocap_pos[0] = self.mocap_m[episode]
        self._mujoco.mj_forward(self.model, d)
        return d
