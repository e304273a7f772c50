"""Scripted pick-and-place demonstrations for bin sorting (PAPER §3.4).

The clean generator sorts red→left and blue→right; the corrupt one uses the opposite
rule with exactly the same controller, so the two differ in task logic only, never in
motion quality. Each block gets its own slot in its bin (dropping every block at the
bin centre stacks them and fails). The controller is closed-loop per block: it reads
the block's observed position when that pick starts. Every demo is verified (all
blocks rest in the intended bin) or skipped and counted as failed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from ambient_bench.envs.binsort import (
    BIN_CENTRE_Y_M,
    BIN_INNER_HALF_XY_M,
    BLOCK_HALF_M,
    CONTROL_DT_S,
    LEFT_BIN,
    RIGHT_BIN,
    BinSortSim,
    default_max_steps,
    intended_bins,
)
from ambient_bench.registry import GENERATORS
from ambient_bench.task import Episode, GeneratorOutput

log = logging.getLogger(__name__)

OPEN, CLOSE = -1.0, 1.0
SLOT_Y_OFFSET_M = 0.05  # slot columns at ±this from the bin's centre line (fingers close along y)
RELEASE_DROP_M = 0.015  # the block is let go this far above the floor
OPEN_STEPS = 3
SETTLE_STEPS = 3


@dataclass(frozen=True)
class MotionStyle:
    """How one demo moves; drawn from the seed when ``vary_motion``."""

    speed_m_s: float
    travel_height_m: float  # carrying height: a held block clears the bin rim
    grasp_height_m: float  # hand height when closing on a block (block centre at BLOCK_HALF_M)
    close_steps: int
    order: tuple[int, ...]  # the order the blocks are picked in


def sample_style(rng: np.random.Generator, n_blocks: int, vary_motion: bool) -> MotionStyle:
    if not vary_motion:
        return MotionStyle(0.35, 0.15, 0.03, 3, tuple(range(n_blocks)))
    return MotionStyle(
        speed_m_s=float(rng.uniform(0.25, 0.45)),
        travel_height_m=float(rng.uniform(0.13, 0.18)),
        grasp_height_m=float(rng.uniform(0.027, 0.033)),
        close_steps=int(rng.integers(2, 5)),
        order=tuple(int(i) for i in rng.permutation(n_blocks)),
    )


def bin_slots(bin_code: int, n_slots: int) -> np.ndarray:
    """(n_slots, 2) slot centres_xy in a bin: two columns along y, rows spread along x."""
    n_rows = -(-n_slots // 2)
    half_x = BIN_INNER_HALF_XY_M[0] - BLOCK_HALF_M - 0.015
    xs = np.linspace(-half_x, half_x, n_rows) if n_rows > 1 else np.zeros(1)
    centre_y = bin_code * BIN_CENTRE_Y_M
    slots = [(x, centre_y + side * SLOT_Y_OFFSET_M) for x in xs for side in (-1, 1)]
    return np.array(slots[:n_slots])


def pick_and_place_script(sim: BinSortSim, style: MotionStyle, rule: str) -> Iterator[np.ndarray]:
    """Yields the demonstrator's actions (target xyz, gripper command) for ``sim``'s one episode,
    one control step at a time.

    The target moves at ``style.speed_m_s`` (below the env's hand speed limit, so the
    hand follows the action exactly) through: above block, down, close, up, above its
    slot, down, open, up; then a few settling steps.
    """
    target = sim.observation()[0, :3].astype(float)
    step_m = style.speed_m_s * CONTROL_DT_S

    def move_to(goal, grip: float) -> Iterator[np.ndarray]:
        nonlocal target
        goal = np.asarray(goal, dtype=float)
        while True:
            dist = np.linalg.norm(goal - target)
            target = goal if dist <= step_m else target + (goal - target) * (step_m / dist)
            yield np.append(target, grip)
            if dist <= step_m:
                return

    def hold(grip: float, n_steps: int) -> Iterator[np.ndarray]:
        for _ in range(n_steps):
            yield np.append(target, grip)

    goals = intended_bins(sim.colours[0], rule)
    slots = {code: iter(bin_slots(code, sim.n_blocks)) for code in (LEFT_BIN, RIGHT_BIN)}
    travel, grasp = style.travel_height_m, style.grasp_height_m
    release = grasp + RELEASE_DROP_M
    for i in style.order:
        bx, by = sim.observation()[0, 4 + 4 * i : 6 + 4 * i]
        sx, sy = next(slots[goals[i]])
        yield from move_to((bx, by, travel), OPEN)
        yield from move_to((bx, by, grasp), OPEN)
        yield from hold(CLOSE, style.close_steps)
        yield from move_to((bx, by, travel), CLOSE)
        yield from move_to((sx, sy, travel), CLOSE)
        yield from move_to((sx, sy, release), CLOSE)
        yield from hold(OPEN, OPEN_STEPS)
        yield from move_to((sx, sy, travel), OPEN)
    yield from hold(OPEN, SETTLE_STEPS)


def scripted_episode(seed: int, rule: str, n_blocks: int = 4, task_conditioning: bool = False,
                     vary_motion: bool = True) -> Episode | None:
    """The demo for ``seed`` (a pure function of it), or None if a block missed its bin."""
    sim = BinSortSim(1, n_blocks, rule, task_conditioning)
    obs = sim.reset([seed])[0]
    style = sample_style(np.random.default_rng([seed, 1]), n_blocks, vary_motion)
    observations, actions = [], []
    for target in pick_and_place_script(sim, style, rule):
        action = target.astype(np.float32)  # step with exactly what the dataset stores
        observations.append(obs)
        actions.append(action)
        obs = sim.step(action)[0]
    if len(actions) > default_max_steps(n_blocks) or not (sim.bins()[0] == intended_bins(sim.colours[0], rule)).all():
        return None
    return Episode(np.array(observations), np.array(actions), seed)


def generate_binsort(seeds: Sequence[int], rule: str, n_blocks: int = 4, task_conditioning: bool = False,
                     vary_motion: bool = True) -> GeneratorOutput:
    """One verified scripted demo per seed; failed seeds are skipped and counted."""
    t0 = time.perf_counter()
    episodes, failed = [], []
    for seed in seeds:
        episode = scripted_episode(int(seed), rule, n_blocks, task_conditioning, vary_motion)
        if episode is None:
            failed.append(int(seed))
            log.info("binsort demo for seed %d failed verification; skipped", seed)
        else:
            episodes.append(episode)
    lengths = [len(e.obs) for e in episodes]
    stats: dict[str, Any] = {
        "wall_s": time.perf_counter() - t0,
        "failed_seeds": failed,
        "mean_length": float(np.mean(lengths)) if lengths else 0.0,
        "max_length": int(max(lengths, default=0)),
    }
    return GeneratorOutput(episodes, solver="binsort_scripted", n_failed=len(failed), stats=stats)


@GENERATORS.register("binsort_clean")
def generate_binsort_clean(seeds: Sequence[int], **params: Any) -> GeneratorOutput:
    """Clean demos: red→left, blue→right."""
    return generate_binsort(seeds, rule="red_left", **params)


@GENERATORS.register("binsort_wrong_logic")
def generate_binsort_wrong_logic(seeds: Sequence[int], **params: Any) -> GeneratorOutput:
    """Corrupt demos: the same motions, the opposite rule (red→right, blue→left)."""
    return generate_binsort(seeds, rule="red_right", **params)
