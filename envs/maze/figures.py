"""The maze's report figures: stored rollouts and demonstrations drawn on the layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ambient_bench.envs.maze_layout import DEFAULT_LAYOUT, Layout, load_layout
from ambient_bench.metrics import average_squared_acceleration
from ambient_bench.registry import FIGURES
from ambient_bench.task import SuiteFigures

from .episodes import positions_from_episode
from .geometry import DT_S

OUTCOME_COLOURS = {"success": "tab:green", "collision": "tab:red", "timeout": "tab:orange"}


@FIGURES.register("maze")
class MazeFigures(SuiteFigures):
    """The maze's report figures: stored rollouts and demonstrations drawn on the layout."""

    def plot_rollouts(self, records_by_label: dict[str, list[dict[str, Any]]], task_params: dict[str, Any],
                      path: str | Path) -> bool:
        """One panel per policy: its stored rollouts from the same test starts, coloured by outcome."""
        layout = load_layout(task_params.get("layout", DEFAULT_LAYOUT))
        panels = {}
        for label, records in records_by_label.items():
            stored = [r for r in records if "positions" in r]
            counts = {o: sum(r["outcome"] == o for r in records) for o in OUTCOME_COLOURS}
            title = f"{label}\n" + ", ".join(f"{o} {100 * n / max(len(records), 1):.1f} %" for o, n in counts.items())
            panels[title] = [(np.asarray(r["positions"]), r["outcome"], np.asarray(r["goal"])) for r in stored]
        plot_outcome_panels(layout, panels, path)
        return True

    def plot_datasets(self, datasets: dict[str, Any], task_params: dict[str, Any], path: str | Path,
                      n_per_dataset: int = 8) -> bool:
        """The first few demonstrations of each dataset side by side (smooth GCS vs jagged RRT)."""
        layout = load_layout(task_params.get("layout", DEFAULT_LAYOUT))
        panels = {}
        for name, ds in datasets.items():
            trajectories = [positions_from_episode(ds.episode(i)) for i in range(min(n_per_dataset, ds.n_episodes))]
            accel = np.mean([average_squared_acceleration(p, DT_S) for p in trajectories]) if trajectories else float("nan")
            title = f"{name}: {ds.meta.get('generator', '')} ({ds.n_episodes} plans; shown: acc² {accel:.1f} m²/s⁴)"
            panels[title] = {name: trajectories}
        plot_panels(layout, panels, path)
        return True


def draw_walls(ax, layout: Layout, title: str) -> None:
    """Obstacles, bounds, metre axes and a title on ``ax``."""
    from matplotlib.patches import Rectangle

    for x0, y0, x1, y1 in layout.walls:
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, color="0.25", lw=0))
    x0, y0, x1, y1 = layout.bounds
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="0.25", lw=1.0))
    pad = layout.plot_margin_m
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(title, fontsize=9)


def draw_maze(ax, layout: Layout, trajectories_by_label: dict[str, Sequence[np.ndarray]], title: str) -> None:
    """Walls and, per label, (T, 2) trajectories in one colour (start dot, end cross) on ``ax``."""
    import matplotlib.pyplot as plt

    draw_walls(ax, layout, title)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, trajectories) in enumerate(trajectories_by_label.items()):
        colour = colours[i % len(colours)]
        for j, traj in enumerate(trajectories):
            traj = np.asarray(traj)
            ax.plot(traj[:, 0], traj[:, 1], "-", color=colour, lw=1.0, alpha=0.85, label=label if j == 0 else None)
            ax.plot(*traj[0], "o", color=colour, ms=4)
            ax.plot(*traj[-1], "x", color=colour, ms=6)
    if trajectories_by_label:
        ax.legend(loc="upper right", fontsize=7, framealpha=0.9)


def draw_outcomes(ax, layout: Layout, rollouts: Sequence[tuple[np.ndarray, str, np.ndarray]], title: str) -> None:
    """Walls and rollouts (positions, outcome, goal) coloured by outcome, start (circle)
    and goal (star) marked, with one legend entry per outcome."""
    from matplotlib.lines import Line2D

    draw_walls(ax, layout, title)
    for positions, outcome, goal in rollouts:
        colour = OUTCOME_COLOURS[outcome]
        ax.plot(positions[:, 0], positions[:, 1], "-", color=colour, lw=1.0, alpha=0.85)
        ax.plot(*positions[0], "o", color="k", ms=3.5)
        ax.plot(*goal, "*", color=colour, mec="k", mew=0.5, ms=9)
    handles = [Line2D([], [], color=c, lw=2, label=o) for o, c in OUTCOME_COLOURS.items()]
    handles += [Line2D([], [], color="k", marker="o", ls="", ms=4, label="start"),
                Line2D([], [], color="0.5", marker="*", mec="k", ls="", ms=9, label="goal")]
    ax.legend(handles=handles, loc="upper right", fontsize=6.5, framealpha=0.9)


def plot_outcome_panels(layout: Layout, panels: dict[str, Sequence[tuple[np.ndarray, str, np.ndarray]]],
                        path: str | Path) -> Path:
    """A grid of panels (title -> rollouts coloured by outcome), written atomically."""
    return _save_panels(layout, panels, draw_outcomes, path)


def plot_maze(
    layout: Layout | str | Path,
    trajectories_by_label: dict[str, Sequence[np.ndarray]],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """One maze panel with trajectories per label; writes ``path`` (PNG/PDF by suffix)."""
    return plot_panels(layout, {title or "": trajectories_by_label}, path)


def plot_panels(layout: Layout | str | Path, panels: dict[str, dict[str, Sequence[np.ndarray]]],
                path: str | Path) -> Path:
    """A grid of maze panels (title -> trajectories by label)."""
    layout = layout if isinstance(layout, Layout) else load_layout(layout)
    return _save_panels(layout, panels, lambda ax, lay, trajs, title: draw_maze(ax, lay, trajs, title or lay.version), path)


def _save_panels(layout: Layout, panels: dict[str, Any], draw: Any, path: str | Path) -> Path:
    """Draw each panel with ``draw(ax, layout, content, title)`` (Agg backend) and write the
    figure atomically (PNG/PDF by suffix)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ambient_bench.data import atomic_write_bytes

    n = max(len(panels), 1)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.8 * rows), squeeze=False)
    for ax, (title, content) in zip(axes.flat, panels.items()):
        draw(ax, layout, content, title)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
