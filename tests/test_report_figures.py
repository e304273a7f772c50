"""The report's own logic: the Pareto front, the paper's points beside it, labels, the classifier's line."""

from __future__ import annotations

import numpy as np

from ambient_bench.config.suites import load_suite
from ambient_bench.jobs.plan import Plan
from ambient_bench.report.figures import paper_points, pareto_mask, place_labels


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


def test_labels_of_points_that_nearly_coincide_do_not_overlap():
    """The maze's ambient winner, classifier and co-training points sit within a few pixels;
    at the default offset their labels overlapped (the first quick report's pareto.png)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    x, y = np.array([13.7, 14.0, 23.6, 23.3, 25.5]), np.array([0.966, 0.963, 0.964, 0.966, 0.912])
    ax.scatter(x, y)
    ax.set_xlim(0, 150)
    ax.set_ylim(0.45, 1.02)
    fig.tight_layout()
    texts = ["sigma_min=0.074", "granularity=dataset", "alpha=0.019", "corrupt_only", "sigma_min=0.2"]
    labels = place_labels(ax, [(t, a, b, {"fontsize": 7}) for t, a, b in zip(texts, x, y)])
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [Text.get_window_extent(label, renderer) for label in labels]  # the text, not its leader line
    frame = ax.get_window_extent(renderer)
    assert [label.get_text() for label in labels] == texts
    for i, box in enumerate(boxes):
        assert frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1), texts[i]
        for j in range(i):
            assert not box.overlaps(boxes[j]), (texts[i], texts[j])
    plt.close(fig)


def test_the_table_says_when_the_classifiers_sigma_min_is_not_informative(tmp_path):
    import json

    import pandas as pd

    from ambient_bench.report.tables import classifier_lines

    plan = Plan(load_suite("arm", "quick"), "quick", tmp_path)
    plan.annotate_dir.mkdir(parents=True)
    record = {"accuracy": 0.545, "accuracy_per_t": [0.528, 0.56], "granularities": {
        "dataset": {"sigma_min_mean": 0.947}, "bucket": {"sigma_min_mean": 0.959},
        "datapoint": {"sigma_min_median": 0.996, "n_never_crossed": 316}}}
    empty = pd.DataFrame({"baseline": []})
    for flagged in (True, False):
        (plan.annotate_dir / "classifier-corrupt-x.json").write_text(json.dumps({**record, "uninformative": flagged}))
        line = next(s for s in classifier_lines(plan, empty) if s.startswith("- classifier on `corrupt-x`"))
        assert ("not informative" in line and "(accuracy 0.528)" in line) == flagged, line
