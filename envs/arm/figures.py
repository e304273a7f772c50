"""The arm's report figures (matplotlib, Agg: no GL needed): tool-point paths in top and side
views, and the robot's spheres in the scene.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ambient_bench.metrics import average_squared_acceleration
from ambient_bench.registry import FIGURES
from ambient_bench.task import SuiteFigures

from .model import DT_S, GRIPPER_SPHERES, LINK_SPHERES, SCENE_BOXES
from .plans import plan_from_episode
from .scene import ArmScene, Problem, arm_scene
from .task import ArmTask


@FIGURES.register("arm")
class ArmFigures(SuiteFigures):
    """The arm's report figures: tool-point paths (top and side views) and the robot in the scene."""

    def plot_rollouts(self, records_by_label: dict[str, list[dict[str, Any]]], task_params: dict[str, Any],
                      path: str | Path) -> bool:
        """One column per policy: the stored tool-point paths of its test plans, by outcome, and
        its success per goal slot (all test plans)."""
        panels, bars = {}, {}
        for label, records in records_by_label.items():
            stored = [r for r in records if "tool_path" in r]
            rate = 100 * sum(r["success"] for r in records) / max(len(records), 1)
            groups = {outcome: [np.asarray(r["tool_path"]) for r in stored if r["success"] == (outcome == "success")]
                      for outcome in ("success", "failure")}
            title = f"{label} ({rate:.1f} % success)"
            panels[title] = {k: v for k, v in groups.items() if v}
            by_goal: dict[str, list[bool]] = {}
            for r in records:
                by_goal.setdefault(r["slot_pair"].split("->")[-1], []).append(bool(r["success"]))
            bars[title] = {goal: 100 * float(np.mean(v)) for goal, v in sorted(by_goal.items())}
        plot_views(panels, path, bars)
        return True

    def plot_datasets(self, datasets: dict[str, Any], task_params: dict[str, Any], path: str | Path,
                      n_per_dataset: int = 8) -> bool:
        """Tool-point paths of the first few plans of each dataset (smooth trajopt vs jagged RRT)."""
        scene = arm_scene()
        panels = {}
        for name, ds in datasets.items():
            plans = [plan_from_episode(ds.episode(i)) for i in range(min(n_per_dataset, ds.n_episodes))]
            accel = np.mean([average_squared_acceleration(q, DT_S) for q in plans]) if plans else float("nan")
            panels[f"{name} ({ds.n_episodes} plans; shown: acc² {accel:.1f})"] = {
                name: [scene.tool_points(q) for q in plans]}
        plot_views(panels, path)
        return True

    def render_scene(self, task_params: dict[str, Any], path: str | Path, seed: int) -> bool:
        """A 3-D drawing of the scene with the robot at the start and goal of problem ``seed``."""
        task = ArmTask(**task_params)
        task.reset(np.array([seed]))
        render_robot(task.scene, task.problems[0], path)
        return True


_VIEWS = (("top view", 0, 1, "x (m)", "y (m)"), ("side view", 0, 2, "x (m)", "z (m)"))


def plot_views(panels: dict[str, dict[str, Sequence[np.ndarray]]], path: str | Path,
               bars: dict[str, dict[str, float]] | None = None) -> Path:
    """Columns = panels (title -> tool-point paths by label), rows = top and side views of the
    scene's boxes, each path drawn with a start dot and an end cross; with ``bars`` (title ->
    success % per goal slot) a third row of bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    n_rows = 3 if bars else 2
    fig, axes = plt.subplots(n_rows, len(panels), figsize=(4.2 * len(panels), 3.75 * n_rows), squeeze=False)
    for col, (title, paths_by_label) in enumerate(panels.items()):
        for row, (view, a, b, xlabel, ylabel) in enumerate(_VIEWS):
            ax = axes[row, col]
            for name, (centre, size) in SCENE_BOXES.items():
                if name != "table" or b == 2:
                    ax.add_patch(Rectangle((centre[a] - size[a] / 2, centre[b] - size[b] / 2), size[a], size[b],
                                           color="0.55", alpha=0.35, lw=0))
            for i, (label, paths) in enumerate(paths_by_label.items()):
                colour = {"success": "tab:green", "failure": "tab:red"}.get(label, colours[i % len(colours)])
                for j, p in enumerate(paths):
                    ax.plot(p[:, a], p[:, b], "-", color=colour, lw=1.0, alpha=0.8, label=label if j == 0 else None)
                    ax.plot(p[0, a], p[0, b], "o", color=colour, ms=3)
                    ax.plot(p[-1, a], p[-1, b], "x", color=colour, ms=5)
            ax.set_xlim(-0.5, 1.1)
            ax.set_ylim((-0.9, 0.9) if b == 1 else (-0.1, 1.45))
            ax.set_aspect("equal")
            ax.set_xlabel(xlabel, fontsize=8)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.set_title(f"{title}: {view}", fontsize=9)
            if paths_by_label and row == 0:
                ax.legend(loc="upper left", fontsize=7)
        if bars:
            ax, rates = axes[2, col], bars[title]
            ax.bar(range(len(rates)), list(rates.values()), color="tab:green")
            ax.set_xticks(range(len(rates)), [g.replace("_", "\n") for g in rates], fontsize=7)
            ax.set_ylim(0, 100)
            ax.set_ylabel("success (%)", fontsize=8)
            ax.set_title(f"{title}: by goal slot", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def render_robot(scene: ArmScene, prob: Problem, path: str | Path) -> Path:
    """The scene's boxes and the robot's collision spheres at the start (blue) and goal (orange)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    corners = np.array([[i, j, k] for i in (-0.5, 0.5) for j in (-0.5, 0.5) for k in (-0.5, 0.5)])
    faces = [[0, 1, 3, 2], [4, 5, 7, 6], [0, 1, 5, 4], [2, 3, 7, 6], [0, 2, 6, 4], [1, 3, 7, 5]]
    for name, (centre, size) in SCENE_BOXES.items():
        v = np.array(centre) + corners * np.array(size)
        ax.add_collection3d(Poly3DCollection([v[f] for f in faces], facecolor="0.7" if name != "table" else "0.85",
                                             edgecolor="0.4", linewidths=0.3, alpha=0.35))
    for q, colour, label in ((prob.q_start, "tab:blue", f"start ({prob.start_slot})"),
                             (prob.q_goal, "tab:orange", f"goal ({prob.goal_slot})")):
        centres, radii = robot_spheres(scene, q)
        ax.scatter(*centres.T, s=(radii * 900) ** 2 / 40, color=colour, alpha=0.6, label=label, depthshade=False)
    ax.set_xlim(-0.6, 1.1)
    ax.set_ylim(-0.85, 0.85)
    ax.set_zlim(-0.05, 1.3)
    ax.set_box_aspect((1.7, 1.7, 1.35))
    ax.view_init(elev=25, azim=-60)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_zlabel("z (m)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("iiwa14 (collision spheres), shelf, bins, table, clutter", fontsize=9)
    return _save(fig, path)


def robot_spheres(scene: ArmScene, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World centres (N, 3) and radii (N,) of the robot's collision spheres at ``q``."""
    scene.plant.SetPositions(scene.plant_context, np.asarray(q, dtype=float))
    centres, radii = [], []
    frames = [f"iiwa_link_{i}" for i in range(1, 8)] + ["gripper"]
    for frame, spheres in zip(frames, (*LINK_SPHERES, GRIPPER_SPHERES)):
        body_frame = scene.plant.GetFrameByName(frame)
        for centre, radius in spheres:
            centres.append(scene.plant.CalcPointsPositions(scene.plant_context, body_frame, np.array(centre, float),
                                                           scene.plant.world_frame())[:, 0])
            radii.append(radius)
    return np.array(centres), np.array(radii)


def _save(fig: Any, path: str | Path) -> Path:
    import io

    import matplotlib.pyplot as plt

    from ambient_bench.data import atomic_write_bytes

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
