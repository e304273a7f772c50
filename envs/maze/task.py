"""The batched evaluation task (``TASKS["maze"]``): many episodes stepped together in numpy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ambient_bench.envs.maze_layout import DEFAULT_LAYOUT, load_layout
from ambient_bench.metrics import average_squared_acceleration, planning_summary
from ambient_bench.registry import TASKS

from .episodes import path_length
from .geometry import (
    ACTION_DIM,
    DT_S,
    HISTORY,
    N_STORED_ROLLOUTS,
    OBS_DIM,
    kinematic_step,
    observation,
    start_goal_for_seed,
)


@TASKS.register("maze")
class MazeTask:
    """Many maze episodes stepped together in numpy (the ``BatchedTask`` protocol).

    Same start/goal sampler and ``kinematic_step`` as ``Maze2D-v0``; the executed
    positions are kept to compute per-episode path length and average squared
    acceleration (``average_squared_acceleration`` with this task's ``dt_s``).
    """

    obs_dim = OBS_DIM
    action_dim = ACTION_DIM

    def __init__(self, layout: str | Path = DEFAULT_LAYOUT, max_steps: int | None = None, dt_s: float = DT_S):
        if (max_steps is not None and max_steps < 1) or dt_s <= 0:
            raise ValueError(f"max_steps={max_steps} must be >= 1 (or null) and dt_s={dt_s} > 0")
        self.layout = load_layout(layout)
        self.dt_s = dt_s
        self.max_steps = max_steps or self.layout.max_steps(dt_s)
        self.reset(np.zeros(0, dtype=np.int64))

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        self.seeds = np.asarray(seeds, dtype=np.int64)
        n = len(self.seeds)
        pairs = [start_goal_for_seed(self.layout, s) for s in self.seeds]
        self.starts = np.array([p[0] for p in pairs]).reshape(n, 2)
        self.goals = np.array([p[1] for p in pairs]).reshape(n, 2)
        self.positions = np.zeros((n, self.max_steps + 1, 2))
        self.positions[:, 0] = self.starts
        self.steps = np.zeros(n, dtype=np.int64)
        self.success = np.zeros(n, dtype=bool)
        self.collision = np.zeros(n, dtype=bool)
        self._done = np.zeros(n, dtype=bool)
        return self._observations()

    @property
    def done(self) -> np.ndarray:
        return self._done.copy()

    def _observations(self) -> np.ndarray:
        rows = np.arange(len(self.seeds))[:, None]
        idx = np.maximum(self.steps[:, None] + np.arange(-HISTORY + 1, 1), 0)
        return observation(self.positions[rows, idx], self.goals)

    def step(self, chunks: np.ndarray) -> np.ndarray:
        active = np.flatnonzero(~self._done)
        chunks = np.asarray(chunks, dtype=float)
        if chunks.shape[:1] != (len(active),) or chunks.shape[2:] != (2,):
            raise ValueError(f"chunks {chunks.shape}: expected ({len(active)}, n_steps, 2) for the not-done episodes")
        for j in range(chunks.shape[1]):
            live = ~self._done[active]
            idx, commanded = active[live], chunks[live, j]
            if len(idx) == 0:
                break
            current = self.positions[idx, self.steps[idx]]
            next_xy, collided, reached = kinematic_step(self.layout, current, commanded, self.goals[idx])
            self.steps[idx] += 1
            self.positions[idx, self.steps[idx]] = next_xy
            self.collision[idx] |= collided
            self.success[idx] |= reached
            self._done[idx] |= collided | reached | (self.steps[idx] >= self.max_steps)
        return self._observations()

    def records(self) -> list[dict[str, Any]]:
        """Per episode: outcome (success / collision / timeout) and metrics; the executed
        positions (m, rounded to 0.1 mm) of the first ``N_STORED_ROLLOUTS`` of the batch,
        so figures are drawn from stored records, never by re-running a policy."""
        records = []
        for i, seed in enumerate(self.seeds):
            executed = self.positions[i, : self.steps[i] + 1]
            outcome = "success" if self.success[i] else "collision" if self.collision[i] else "timeout"
            record = {
                "seed": int(seed),
                "start": self.starts[i].tolist(),
                "goal": self.goals[i].tolist(),
                "outcome": outcome,
                "success": bool(self.success[i]),
                "collision": bool(self.collision[i]),
                "steps": int(self.steps[i]),
                "path_length": path_length(executed),
                "accel_sq": average_squared_acceleration(executed, self.dt_s),
            }
            if i < N_STORED_ROLLOUTS:
                record["positions"] = np.round(executed, 4).tolist()
            records.append(record)
        return records

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, float]:
        """``metrics.planning_summary``: success rate (Wilson 95 % interval), collision rate,
        mean / std of the average squared acceleration over successful rollouts."""
        return planning_summary(records)
