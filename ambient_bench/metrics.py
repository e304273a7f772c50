"""Suite-independent statistics of evaluation records."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a rate (95 % for z = 1.96):
    (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n); (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def squared_accelerations(samples: np.ndarray, dt_s: float) -> np.ndarray:
    """``||(x[k+1] - 2 x[k] + x[k-1]) / dt_s**2||**2`` at each interior sample k = 1..T-2 of a
    trajectory sampled every ``dt_s`` (finite differences; units^2/s^4); empty below 3 samples."""
    x = np.asarray(samples, dtype=float)
    return np.sum(((x[2:] - 2 * x[1:-1] + x[:-2]) / dt_s**2) ** 2, axis=1)


def average_squared_acceleration(samples: np.ndarray, dt_s: float) -> float:
    """The mean of ``squared_accelerations`` (the paper's smoothness metric); 0.0 below 3 samples."""
    accel_sq = squared_accelerations(samples, dt_s)
    return float(accel_sq.mean()) if len(accel_sq) else 0.0


def planning_summary(records: list[dict[str, Any]]) -> dict[str, float]:
    """Aggregates of planning-style records (``success``, ``collision``, ``accel_sq``):
    success_rate with its Wilson 95 % interval, the mean / std of ``accel_sq`` over
    successes (NaN if none, the paper's metric), its mean over every plan with a finite
    value (``accel_sq_all_mean``: defined at 0 % success), collision_rate and n_trials."""
    n = len(records)
    n_success = sum(bool(r["success"]) for r in records)
    low, high = wilson_interval(n_success, n)
    accel = np.array([r["accel_sq"] for r in records if r["success"]])
    accel_all = np.array([r["accel_sq"] for r in records], dtype=float)
    accel_all = accel_all[np.isfinite(accel_all)]
    return {
        "success_rate": n_success / n if n else 0.0,
        "success_ci95_low": low,
        "success_ci95_high": high,
        "accel_sq_mean": float(accel.mean()) if len(accel) else float("nan"),
        "accel_sq_std": float(accel.std()) if len(accel) else float("nan"),
        "accel_sq_all_mean": float(accel_all.mean()) if len(accel_all) else float("nan"),
        "collision_rate": sum(bool(r["collision"]) for r in records) / n if n else 0.0,
        "n_trials": float(n),
    }
