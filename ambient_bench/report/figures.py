"""The run's figures: pareto.png, and the suite's own figures through its declared hooks
(scene, datasets, rollouts from stored evaluation records), spectrum.png.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import load_dataset
from ..jobs.plan import Plan, RunSpec, eval_path
from ..registry import FIGURES
from ..seeds import split_seeds
from ..task import SuiteFigures
from .png import save_figure
from .spectrum import plot_spectrum as draw_spectrum
from .tables import breakdown_label, breakdown_means

log = logging.getLogger(__name__)


def pareto_mask(x: np.ndarray, y: np.ndarray, x_lower_better: bool) -> np.ndarray:
    """Non-dominated points when y is maximised and x minimised (or maximised)."""
    xs = x if x_lower_better else -x
    keep = np.ones(len(x), dtype=bool)
    for i in range(len(x)):
        dominated = (xs <= xs[i]) & (y >= y[i]) & ((xs < xs[i]) | (y > y[i]))
        keep[i] = not dominated.any()
    return keep


def plot_pareto(plan: Plan, summary: pd.DataFrame, path: Path) -> None:
    """Test means of every configuration, each sweep's front, and the paper's points (grey stars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    cfg = plan.suite.report
    test = summary[summary.split == "test"]
    points = test.groupby(["baseline", "params"], as_index=False)[[cfg.pareto_x, cfg.pareto_y]].mean()
    points = points.dropna()
    fig, ax = plt.subplots(figsize=(7, 5))
    if points.empty:  # e.g. no successful rollout, so no acceleration to plot
        log.warning("no test point has both %s and %s; the Pareto plot says so", cfg.pareto_x, cfg.pareto_y)
        ax.text(0.5, 0.5, f"no configuration has both {cfg.pareto_x} and {cfg.pareto_y}\n"
                "(e.g. no successful rollout)", ha="center", va="center", transform=ax.transAxes)
        save_figure(fig, path)
        return
    sns.scatterplot(data=points, x=cfg.pareto_x, y=cfg.pareto_y, hue="baseline", style="baseline", s=70, ax=ax)
    for entry in cfg.pareto_sweeps:
        sweep = points[points.baseline == entry]
        if len(sweep) < 2:
            continue
        front = sweep[pareto_mask(sweep[cfg.pareto_x].to_numpy(), sweep[cfg.pareto_y].to_numpy(),
                                  cfg.pareto_x_better == "lower")].sort_values(cfg.pareto_x)
        ax.plot(front[cfg.pareto_x], front[cfg.pareto_y], "--", lw=1, label=f"{entry} front")
    all_front = pareto_mask(points[cfg.pareto_x].to_numpy(), points[cfg.pareto_y].to_numpy(),
                            cfg.pareto_x_better == "lower")
    ax.scatter(points[cfg.pareto_x][all_front], points[cfg.pareto_y][all_front], s=200, facecolors="none",
               edgecolors="k", label="non-dominated")
    paper = paper_points(plan, set(points.baseline), cfg.pareto_x, cfg.pareto_y)
    labels = []
    for i, (entry, x, y) in enumerate(paper):
        ax.scatter([x], [y], marker="*", s=90, color="0.5", label="paper" if i == 0 else None, zorder=1)
        labels.append((f"paper: {entry}", x, y, {"fontsize": 6, "color": "0.4"}))
    for _, row in points.iterrows():
        if row.params != "-":  # every hyper-parameter, e.g. sigma_max=0.9,sigma_min=0.2
            labels.append((row.params, row[cfg.pareto_x], row[cfg.pareto_y], {"fontsize": 7}))
    better = "lower" if cfg.pareto_x_better == "lower" else "higher"
    ax.set_title(f"{plan.suite.name} / {plan.preset}: test mean per configuration ({better} {cfg.pareto_x} is better)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    place_labels(ax, labels)
    save_figure(fig, path)


# Where a label may sit around its point (offset in points, then its alignment), nearest first;
# further rings repeat these at growing distances, with a leader line back to the point.
LABEL_SPOTS = [((5, 3), "left", "bottom"), ((5, -3), "left", "top"), ((-5, 3), "right", "bottom"),
               ((-5, -3), "right", "top"), ((0, 7), "center", "bottom"), ((0, -7), "center", "top")]
LABEL_RINGS = (1, 3, 5, 8)
LABEL_CANDIDATES = [(ring, spot) for ring in LABEL_RINGS for spot in LABEL_SPOTS]
POINT_RADIUS_PT = 4.0  # a plotted point's half-size, which no label may cover


def place_labels(ax, labels: list[tuple[str, float, float, dict[str, Any]]]) -> list[Any]:
    """Annotate each (text, x, y, style) at the first spot around its point where it stays
    inside the axes and overlaps neither a label placed before it nor another plotted point,
    so points that sit close together (a sweep's winner and the classifier's sigma_min) get
    readable labels; a label with no free spot takes the nearest. Call once the layout is
    final: it measures the text on the canvas."""
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    radius = ax.figure.dpi / 72 * POINT_RADIUS_PT
    dots = np.concatenate([c.get_transform().transform(c.get_offsets()) for c in ax.collections] or [np.zeros((0, 2))])
    boxes, placed = [], []
    for text, x, y, style in labels:
        anchor = ax.transData.transform((x, y))
        others = dots[np.hypot(*(dots - anchor).T) > 1.0]  # every point but the label's own

        def fits(box) -> bool:
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            covers = ((box.x0 - radius < others[:, 0]) & (others[:, 0] < box.x1 + radius)
                      & (box.y0 - radius < others[:, 1]) & (others[:, 1] < box.y1 + radius)).any()
            return inside and not covers and not any(box.overlaps(other) for other in boxes)

        spots = LABEL_CANDIDATES + LABEL_CANDIDATES[:1]  # no free spot: the nearest, overlapping
        for i, (ring, ((dx, dy), ha, va)) in enumerate(spots):
            where = {"xytext": (dx * ring, dy * ring), "textcoords": "offset points", "ha": ha, "va": va, **style}
            label = ax.annotate(text, (x, y), **where)
            box = label.get_window_extent(renderer)  # the text alone: measured before any leader line
            if fits(box) or i == len(spots) - 1:
                break
            label.remove()
        if ring > 1:  # far from its point: redrawn with a leader line back to it
            label.remove()
            label = ax.annotate(text, (x, y), **where, arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5})
        boxes.append(box)
        placed.append(label)
    return placed


def paper_points(plan: Plan, entries: set[str], x: str, y: str) -> list[tuple[str, float, float]]:
    """The paper's (entry, x, y) for the entries this run drew, so a preset that leaves entries
    out is not crowded by paper points it has nothing to compare with."""
    return [(entry, values[x], values[y]) for entry, values in plan.suite.paper.items()
            if entry in entries and isinstance(values.get(x), (int, float)) and isinstance(values.get(y), (int, float))]


def plot_breakdown(plan: Plan, summary: pd.DataFrame, path: Path) -> bool:
    """breakdown.png: each selected configuration's test outcomes (``report.breakdown``) as one
    stacked bar, mean over training seeds; False (nothing drawn) when the suite names none."""
    means = breakdown_means(plan, summary)
    if means.empty:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = list(means.columns)
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(means) + 1.4))
    left = np.zeros(len(means))
    colours = plt.get_cmap("tab10").colors
    for i, metric in enumerate(metrics):
        values = 100 * means[metric].fillna(0).to_numpy()
        ax.barh(means.index, values, left=left, color=colours[i % len(colours)],
                label=breakdown_label(metric, metrics))
        left += values
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% (test, mean over training seeds)")
    ax.set_title(f"{plan.suite.name} / {plan.preset}: outcome breakdown of the selected configurations")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    save_figure(fig, path)
    return True


def suite_figures(plan: Plan) -> SuiteFigures:
    """The figures the suite registered for its task (``SuiteFigures``: none drawn if it registered none)."""
    figures = FIGURES.find(plan.suite.task)
    return figures() if figures is not None else SuiteFigures()


def render_scene(plan: Plan, path: Path) -> None:
    """The scene of the first test episode."""
    suite_figures(plan).render_scene(plan.suite.task_params, path, int(split_seeds("test", 1)[0]))


def load_suite_datasets(plan: Plan) -> dict[str, Any]:
    """The suite's datasets by name, loaded once for every figure that reads them."""
    return {name: load_dataset(plan.dataset_dir(plan.suite, name)) for name in plan.suite.datasets}


def plot_datasets(plan: Plan, datasets: dict[str, Any], path: Path) -> None:
    """A few demonstrations of each dataset."""
    suite_figures(plan).plot_datasets(datasets, plan.suite.task_params, path)


def plot_spectrum(plan: Plan, datasets: dict[str, Any], selection: dict[str, dict[str, Any]],
                  path: Path) -> None:
    """The action-chunk spectrum of the suite's datasets with the noise floor of every swept
    sigma_min, the selected ones drawn bold (``spectrum.plot_spectrum``)."""
    sigmas = sorted({float(v) for entry in plan.suite.baselines.values()
                     for v in entry.grid.get("sigma_min", []) if float(v) < 1})
    selected = {float(params["sigma_min"]) for params in selection.values() if "sigma_min" in params}
    draw_spectrum(datasets, plan.suite.policy.horizon, sigmas, selected, plan.suite.name, path)


def plot_rollouts(plan: Plan, selection: dict[str, dict[str, Any]], path: Path) -> None:
    """Stored test rollouts of each selected policy (training seed 0), read from its evaluation
    records, so the report never runs a policy."""
    records = {entry: json.loads(eval_path(plan.run_dir(RunSpec(entry, tuple(sorted(params.items())), 0)),
                                           "test").read_text())["records"]
               for entry, params in selection.items()
               if entry in plan.suite.baselines}  # not a plug-in entry of an earlier run that this suite lacks
    suite_figures(plan).plot_rollouts(records, plan.suite.task_params, path)
