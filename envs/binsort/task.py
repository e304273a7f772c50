"""The batched evaluation task (``TASKS["binsort"]``): every trial stepped together."""

from __future__ import annotations

from typing import Any

import numpy as np

from ambient_bench.metrics import wilson_interval
from ambient_bench.registry import TASKS

from .rules import OUTCOMES, default_max_steps, obs_dim, sorting_rates
from .scene import RULES
from .sim import BinSortSim


@TASKS.register("binsort")
class BinSortTask:
    """Many bin-sorting episodes side by side in one ``BinSortSim`` (one shared MjModel).

    An episode ends when every block rests in a bin (right or wrong) or at the step cap;
    its record is scored at that moment: counts, each block's outcome (``rules.OUTCOMES``),
    and for the first ``REPLAYED_EPISODES`` the executed actions, so a figure can replay
    them exactly (``figures``). ``threads`` (default: all cores) run the physics.
    """

    action_dim = 4
    REPLAYED_EPISODES = 2

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
        self._executed: dict[int, list[list[float]]] = {i: [] for i in range(min(self.REPLAYED_EPISODES, len(seeds)))}
        return self._obs.copy()

    @property
    def physics_s(self) -> float:
        """Wall time spent inside MuJoCo since the sim was built (for the bench)."""
        return self._sim.physics_s if self._sim is not None else 0.0

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
            episodes, actions = active[running], chunks[running, k]
            for j in np.flatnonzero(episodes < self.REPLAYED_EPISODES):
                self._executed[int(episodes[j])].append(actions[j].tolist())
            self._obs[episodes] = self._sim.step(actions, episodes)
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
            "outcomes": [OUTCOMES[o] for o in self._sim.outcomes([i])[0]],
            "hand_final_m": [round(float(v), 4) for v in self._obs[i, :3]],
        }
        if i in self._executed:
            self._records[i].update(rule=self.rule, task_conditioning=self.task_conditioning,
                                    actions=self._executed.pop(i))

    def records(self) -> list[dict[str, Any]]:
        if not self._done.all():
            raise RuntimeError("records() before every episode is done")
        return list(self._records)

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, float]:
        n_blocks = sum(r["n_blocks"] for r in records)
        n_success = sum(bool(r["success"]) for r in records)
        out = sorting_rates(sum(r["n_placed"] for r in records), sum(r["n_correct"] for r in records), n_blocks)
        lo, hi = wilson_interval(n_success, len(records))
        outcomes = [o for r in records for o in r["outcomes"]]
        out.update({f"outcome_{name}": outcomes.count(name) / n_blocks if n_blocks else float("nan")
                    for name in OUTCOMES})
        out.update(
            episode_success_rate=n_success / len(records) if records else 0.0,
            episode_success_rate_lo=lo,
            episode_success_rate_hi=hi,
            n_trials=float(len(records)),
            n_blocks_total=float(n_blocks),
        )
        return out
