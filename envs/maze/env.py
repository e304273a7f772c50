"""The gymnasium env ``ambient_bench/Maze2D-v0``: one episode of the kinematic point robot."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np

from ambient_bench.envs.maze_layout import DEFAULT_LAYOUT, load_layout

from .geometry import DT_S, HISTORY, kinematic_step, observation, sample_start_goal


class Maze2DEnv(gymnasium.Env):
    """One maze episode; see the module docstring. Reward 1 on success, else 0.

    Terminates on success or collision, truncates at ``max_steps`` (default:
    ``layout.max_steps(dt_s)``).
    """

    metadata = {"render_modes": []}

    def __init__(self, layout: str | Path = DEFAULT_LAYOUT, max_steps: int | None = None, dt_s: float = DT_S):
        self.layout = load_layout(layout)
        self.dt_s = dt_s
        self.max_steps = max_steps or self.layout.max_steps(dt_s)
        lo, hi = self.layout.bounds[:2].astype(np.float32), self.layout.bounds[2:].astype(np.float32)
        self.action_space = gymnasium.spaces.Box(lo, hi, dtype=np.float32)
        self.observation_space = gymnasium.spaces.Box(
            np.tile(lo, HISTORY + 1), np.tile(hi, HISTORY + 1), dtype=np.float32
        )
        self._history = np.zeros((HISTORY, 2))
        self._goal = np.zeros(2)
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        start, self._goal = sample_start_goal(self.layout, self.np_random)
        self._history = np.repeat(start[None], HISTORY, axis=0)
        self._steps = 0
        return observation(self._history, self._goal), {"start": start, "goal": self._goal}

    def step(self, action):
        commanded = np.asarray(action, dtype=float).reshape(1, 2)
        next_xy, collided, reached = kinematic_step(self.layout, self._history[-1:], commanded, self._goal[None])
        self._history = np.concatenate([self._history[1:], next_xy])
        self._steps += 1
        success, collision = bool(reached[0]), bool(collided[0])
        truncated = not (success or collision) and self._steps >= self.max_steps
        info = {"success": success, "collision": collision}
        return observation(self._history, self._goal), float(success), success or collision, truncated, info
