"""The report's own figure logic: the Pareto front and the paper's points beside it."""

from __future__ import annotations

import numpy as np

from ambient_bench.config.suites import load_suite
from ambient_bench.jobs.plan import Plan
from ambient_bench.report.figures import paper_points, pareto_mask


def test_pareto_mask_keeps_exactly_the_non_dominated_points():
    acc = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    success = np.array([0.5, 0.9, 0.95, 0.8, 0.5])
    # (2.0, 0.8) is dominated by (2.0, 0.9); the two (1.0, 0.5) tie, so neither dominates the other
    assert pareto_mask(acc, success, x_lower_better=True).tolist() == [True, True, True, False, True]
    # maximising x as well: (3.0, 0.95) dominates everything else
    assert pareto_mask(acc, success, x_lower_better=False).tolist() == [False, False, True, False, False]


def test_paper_points_are_drawn_only_for_entries_the_run_has(tmp_path):
    plan = Plan(load_suite("binsort", "quick"), "quick", tmp_path)
    points = paper_points(plan, {"clean_only", "locality", "not_in_the_paper"}, "logic_rate", "motion_rate")
    assert points == [("clean_only", 0.986, 0.619), ("locality", 0.982, 0.950)]
    assert len(paper_points(plan, set(plan.suite.paper), "logic_rate", "motion_rate")) == len(plan.suite.paper)
