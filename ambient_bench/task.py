"""The contracts between suites and the core: generated episodes, batched evaluation tasks, figures.

A suite contributes (1) generators, registered in ``GENERATORS``, that turn seeds into
validated episodes, (2) a batched task, registered in ``TASKS``, that the one evaluator
steps with a policy, and optionally (3) figures for the report, a ``SuiteFigures``
registered in ``FIGURES`` under the task's name. Nothing in the core knows a suite by name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class Episode:
    """One demonstration: ``obs[k]`` is what the policy sees at step k, ``action[k]`` what it did.

    Both are float32 arrays with the same first dimension (the episode length).
    ``seed`` is the seed the episode was generated from.
    """

    obs: np.ndarray
    action: np.ndarray
    seed: int

    def __post_init__(self) -> None:
        self.obs = np.asarray(self.obs, dtype=np.float32)
        self.action = np.asarray(self.action, dtype=np.float32)
        if self.obs.ndim != 2 or self.action.ndim != 2 or len(self.obs) != len(self.action):
            raise ValueError(
                f"episode {self.seed}: obs {self.obs.shape} and action {self.action.shape} "
                "must be 2-D with the same length"
            )
        if len(self.obs) == 0 or not (np.isfinite(self.obs).all() and np.isfinite(self.action).all()):
            raise ValueError(f"episode {self.seed}: empty or non-finite arrays")


@dataclass
class GeneratorOutput:
    """What a generator returns for a list of seeds: the valid episodes and an account of failures."""

    episodes: list[Episode]
    solver: str
    n_failed: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


def first_valid_attempt(
    attempts: Sequence[Any],
    plan: Callable[[Any], tuple[np.ndarray | None, str]],
    check: Callable[[np.ndarray], str | None],
    failures: dict[str, int],
) -> tuple[np.ndarray, str] | None:
    """The first attempt whose plan passes ``check``, as (plan, solver name), or None.

    ``plan(attempt) -> (array | None, solver name or failure reason)``; the array is
    rounded to float32 first, so ``check(array) -> reason | None`` sees exactly what a
    dataset stores. Failed attempts (no plan, a failed check, a solver ``RuntimeError``)
    are counted by reason in ``failures``: one problem never ends a long run.
    """
    for attempt in attempts:
        try:
            result, name = plan(attempt)
            if result is not None:
                result = np.asarray(result, dtype=np.float32).astype(float)
            reason = name if result is None else check(result)
        except RuntimeError as err:
            reason = f"{type(err).__name__}: {str(err)[:80]}"
        if reason is None:
            return result, name
        failures[reason] = failures.get(reason, 0) + 1
        log.debug("attempt %s failed: %s", attempt, reason)
    return None


class Generator(Protocol):
    """``generate(seeds, **params)``: one episode per seed, each a pure function of its seed,
    so shards produced by any number of workers concatenate to the same dataset."""

    def __call__(self, seeds: Sequence[int], **params: Any) -> GeneratorOutput: ...


class BatchedTask(Protocol):
    """Many evaluation episodes stepped together.

    The evaluator calls ``reset(seeds)``, then repeatedly ``step(chunks)`` with an action
    chunk for every episode that is not done, until all are done; then ``records()``.
    """

    obs_dim: int
    action_dim: int

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        """Start one episode per seed; returns obs of shape (B, obs_dim)."""

    @property
    def done(self) -> np.ndarray:
        """(B,) bool: episodes that have ended (success, failure or step cap)."""

    def step(self, chunks: np.ndarray) -> np.ndarray:
        """Execute ``chunks`` (n_active, n_steps, action_dim), one per not-done episode in
        order, step by step (an episode may end mid-chunk); returns obs (B, obs_dim)."""

    def records(self) -> list[dict[str, Any]]:
        """One JSON-serialisable record per episode (seed, success, suite metrics...)."""

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, float]:
        """Suite metrics over records, e.g. success_rate, its 95 % interval, accel_sq_mean.
        ``aggregate([])`` returns every metric name (the config is validated against them)."""


class SuiteFigures:
    """The report's per-suite figures. Every hook is optional: the defaults draw nothing and
    return False; a suite overrides the ones it has and registers the class with
    ``@FIGURES.register("<task name>")``. A hook writes one PNG at ``path`` (atomically)
    and returns True; the report calls all three on every run and never runs a policy."""

    def render_scene(self, task_params: dict[str, Any], path: Path, seed: int) -> bool:
        """scene.png: the scene of test episode ``seed`` (False where it cannot render, e.g. no GL)."""
        return False

    def plot_datasets(self, datasets: dict[str, Any], task_params: dict[str, Any], path: Path) -> bool:
        """datasets.png: a few demonstrations of each of the suite's datasets (by name)."""
        return False

    def plot_rollouts(self, records_by_label: dict[str, list[dict[str, Any]]], task_params: dict[str, Any],
                      path: Path) -> bool:
        """rollouts.png: each selected policy's test episodes, from the records its evaluation
        stored (``BatchedTask.records``: store what this figure needs there)."""
        return False
