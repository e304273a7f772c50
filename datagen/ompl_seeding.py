"""Deterministic OMPL planners for every suite's generators (maze and arm RRT).

Its own module so that a suite's dataset key (``jobs.provenance.suite_code_version``)
covers the seeding its generator uses and no other suite's generator code.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np


def ompl_seed(seed: int, attempt: int) -> int:
    """A non-zero 32-bit OMPL seed derived from the episode seed and the attempt number."""
    return int(np.random.SeedSequence([int(seed), attempt]).generate_state(1)[0]) or 1


@contextlib.contextmanager
def seeded_ompl(seed: int) -> Iterator[None]:
    """OMPL seeds every new RNG from one global generator: re-seeding it before building a
    planner makes that planner deterministic. OMPL logs an error when the generator is
    re-seeded after first use; here that is intended, so its log is silenced meanwhile."""
    from ompl import util as ou

    level = ou.getLogLevel()
    ou.setLogLevel(ou.LOG_NONE)
    ou.RNG.setSeed(seed)
    try:
        yield
    finally:
        ou.setLogLevel(level)
