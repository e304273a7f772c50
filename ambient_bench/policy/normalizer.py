"""Per-dimension min-max normalisation to [-1, 1], fitted on the union of a run's datasets.

Dimensions with (almost) no range map to 0 and back to their constant value, so a
constant input (e.g. a fixed goal in a dataset) never divides by zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

MIN_RANGE = 1e-6


@dataclass
class Normalizer:
    obs_min: np.ndarray
    obs_max: np.ndarray
    action_min: np.ndarray
    action_max: np.ndarray

    @classmethod
    def fit(cls, obs: Iterable[np.ndarray], actions: Iterable[np.ndarray]) -> "Normalizer":
        o = np.concatenate(list(obs))
        a = np.concatenate(list(actions))
        return cls(o.min(0), o.max(0), a.min(0), a.max(0))

    @staticmethod
    def _scale(x, lo, hi):
        rng = hi - lo
        safe = np.where(rng > MIN_RANGE, rng, 1.0)
        return np.where(rng > MIN_RANGE, 2.0 * (x - lo) / safe - 1.0, 0.0).astype(np.float32)

    @staticmethod
    def _unscale(y, lo, hi):
        rng = hi - lo
        return np.where(rng > MIN_RANGE, (y + 1.0) / 2.0 * rng + lo, lo).astype(np.float32)

    def normalize_obs(self, obs: np.ndarray) -> np.ndarray:
        return self._scale(obs, self.obs_min, self.obs_max)

    def normalize_action(self, action: np.ndarray) -> np.ndarray:
        return self._scale(action, self.action_min, self.action_max)

    def unnormalize_action(self, action: np.ndarray) -> np.ndarray:
        return self._unscale(action, self.action_min, self.action_max)

    def state_dict(self) -> dict[str, list[float]]:
        return {k: np.asarray(v, dtype=np.float64).tolist() for k, v in self.__dict__.items()}

    @classmethod
    def from_state_dict(cls, state: dict[str, list[float]]) -> "Normalizer":
        return cls(**{k: np.asarray(v, dtype=np.float64) for k, v in state.items()})
