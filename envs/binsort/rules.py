"""Episode sampling and the sorting metrics, as pure functions shared by the env, the task and the demonstrator."""

from __future__ import annotations

import numpy as np

from ambient_bench.metrics import wilson_interval

from .scene import (
    BIN_CENTRE_Y_M,
    BIN_INNER_HALF_XY_M,
    BIN_RIM_HEIGHT_M,
    BIN_WALL_HALF_THICKNESS_M,
    BLUE,
    LEFT_BIN,
    MAX_STEPS_PER_BLOCK,
    NO_BIN,
    RED,
    REST_SPEED_M_S,
    RIGHT_BIN,
    RULES,
    SPAWN_CLEARANCE_XY_M,
    SPAWN_HIGH_XY_M,
    SPAWN_LOW_XY_M,
)


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


# What became of a block, in the order the rules are tried: the first that holds names it.
OUTCOMES = ("correct", "wrong_bin", "held_at_timeout", "not_reached", "grasp_missed", "placed_outside",
            "dropped_in_transit")


def block_outcomes(bins: np.ndarray, intended: np.ndarray, held: np.ndarray, touched: np.ndarray,
                   lifted: np.ndarray, release_xy_m: np.ndarray) -> np.ndarray:
    """Index into ``OUTCOMES`` per block (any leading shape; ``release_xy_m`` (..., 2)).

    correct / wrong_bin: resting in its intended / the other bin. The rest are failures:
    held_at_timeout: still in the hand, lifted, when the episode ended;
    not_reached: the hand never touched it;  grasp_missed: touched but never lifted;
    placed_outside: last let go over a bin (walls included) but not resting inside it
    (on the rim, bounced out, still moving);  dropped_in_transit: let go anywhere else.
    """
    bins, held, touched, lifted = (np.asarray(a) for a in (bins, held, touched, lifted))
    offset_y = np.abs(np.abs(np.asarray(release_xy_m)[..., 1]) - BIN_CENTRE_Y_M)
    over_bin = ((np.abs(np.asarray(release_xy_m)[..., 0]) <= BIN_INNER_HALF_XY_M[0] + 2 * BIN_WALL_HALF_THICKNESS_M)
                & (offset_y <= BIN_INNER_HALF_XY_M[1] + 2 * BIN_WALL_HALF_THICKNESS_M))
    rules = [bins == intended, bins != NO_BIN, held & lifted, ~touched, ~lifted, over_bin]
    return np.select(rules, np.arange(len(rules)), default=len(rules))


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
