"""The gymnasium env ``ambient_bench/BinSort-v0``: one episode through ``BinSortSim``."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from .rules import default_max_steps, obs_dim
from .scene import WORKSPACE_HIGH_M, WORKSPACE_LOW_M
from .sim import BinSortSim


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
