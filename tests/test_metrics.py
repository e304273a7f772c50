"""Shared statistics."""

import pytest

import math

from ambient_bench.metrics import planning_summary, wilson_interval


def test_wilson_interval_known_values():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(0.7225, abs=1e-4)


def test_planning_summary_defines_acc2_over_all_plans_at_zero_success():
    records = [{"success": False, "collision": True, "accel_sq": 4.0},
               {"success": False, "collision": False, "accel_sq": 8.0},
               {"success": False, "collision": True, "accel_sq": float("nan")}]  # a non-finite plan
    summary = planning_summary(records)
    assert summary["success_rate"] == 0.0 and math.isnan(summary["accel_sq_mean"])
    assert summary["accel_sq_all_mean"] == 6.0
    records[1]["success"] = True
    summary = planning_summary(records)
    assert summary["accel_sq_mean"] == 8.0 and summary["accel_sq_all_mean"] == 6.0
