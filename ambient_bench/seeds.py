"""Disjoint seed ranges per split, so data generation never sees an evaluation start.

Every seed is ``offset(split) + index`` with offsets 10**9 apart; a split may use at
most 10**9 seeds, so the ranges cannot overlap by construction.
"""

from __future__ import annotations

import numpy as np

SPLIT_OFFSETS = {
    "datagen_clean": 0,
    "datagen_corrupt": 1_000_000_000,
    "validation": 2_000_000_000,
    "test": 3_000_000_000,
}
SPLIT_SIZE = 1_000_000_000


def split_seeds(split: str, n: int, start: int = 0) -> np.ndarray:
    """Seeds ``start .. start + n - 1`` of ``split`` as int64."""
    if split not in SPLIT_OFFSETS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLIT_OFFSETS)}")
    if start < 0 or n < 0 or start + n > SPLIT_SIZE:
        raise ValueError(f"seed range [{start}, {start + n}) outside [0, {SPLIT_SIZE})")
    return SPLIT_OFFSETS[split] + np.arange(start, start + n, dtype=np.int64)


def split_of(seed: int) -> str:
    """The split a seed belongs to."""
    for name, offset in SPLIT_OFFSETS.items():
        if offset <= seed < offset + SPLIT_SIZE:
            return name
    raise ValueError(f"seed {seed} belongs to no split")
