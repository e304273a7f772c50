"""2-D maze suite: segment collision, the ``Maze2D-v0`` env, the batched task and figures
(worlds are data: ``maze_layout``).

A point robot moves kinematically among box obstacles: the action is the next absolute
position, which becomes the state unless the straight segment travelled touches a wall
(or leaves the bounds), which ends the episode as a failure. Success is reaching within
``GOAL_TOLERANCE_M`` of the goal collision-free before the step cap. The gymnasium env
(one episode) and ``MazeTask`` (many episodes in numpy) share ``kinematic_step``,
``segment_collides`` and ``sample_start_goal``, so evaluation and the env cannot drift.

Observation (float32, 10): the last 4 positions, oldest first (padded with the start),
then the goal. ``episode_from_positions`` builds the same observations for datasets.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Sequence

import gymnasium
import numpy as np

from ambient_bench.envs.maze_layout import DEFAULT_LAYOUT, Layout, load_layout
from ambient_bench.metrics import planning_summary
from ambient_bench.registry import FIGURES, TASKS
from ambient_bench.task import Episode, SuiteFigures, first_valid_attempt

log = logging.getLogger(__name__)

DT_S = 0.1
HISTORY = 4
OBS_DIM = 2 * HISTORY + 2
ACTION_DIM = 2
GOAL_TOLERANCE_M = 0.1
MAX_SPEED_M_S = 1.0
MIN_SEPARATION_M = 2.0
START_CLEARANCE_M = 0.1
# Datasets store float32 positions (rounding ~5e-7 m on a 0.1 m step): allowed speed excess.
SPEED_TOLERANCE = 1e-4
# Episodes per evaluation batch whose executed positions are stored in the eval records.
N_STORED_ROLLOUTS = 16
OUTCOME_COLOURS = {"success": "tab:green", "collision": "tab:red", "timeout": "tab:orange"}


# --------------------------------------------------------------------------------------
# Geometry and dynamics (shared by the env, the batched task and the generators)
# --------------------------------------------------------------------------------------


def segment_collides(p0: np.ndarray, p1: np.ndarray, walls: np.ndarray, bounds: np.ndarray | None = None) -> np.ndarray:
    """(N,) bool: does the straight segment p0[i] -> p1[i] touch any closed wall box?

    Slab test per segment and box: the segment ``p0 + t (p1 - p0)``, t in [0, 1], meets
    the box iff the intersection of the per-axis parameter intervals where it lies inside
    the slab is non-empty within [0, 1]. With ``bounds``, a segment with an end point
    outside ``[xmin, ymin, xmax, ymax]`` (or non-finite) also collides; bounds are convex,
    so the end points decide.
    """
    p0 = np.asarray(p0, dtype=float).reshape(-1, 2)
    p1 = np.asarray(p1, dtype=float).reshape(-1, 2)
    d = (p1 - p0)[:, None, :]  # (N, 1, 2)
    lo = walls[None, :, :2] - p0[:, None, :]  # (N, M, 2), relative to p0
    hi = walls[None, :, 2:] - p0[:, None, :]
    moving = np.abs(d) > 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        t_a, t_b = lo / d, hi / d
    inside_slab = (lo <= 0) & (hi >= 0)  # a still axis: the whole segment is in or out
    t_enter = np.where(moving, np.minimum(t_a, t_b), np.where(inside_slab, -np.inf, np.inf))
    t_exit = np.where(moving, np.maximum(t_a, t_b), np.where(inside_slab, np.inf, -np.inf))
    enter, exit_ = t_enter.max(axis=2), t_exit.min(axis=2)
    hits = ((enter <= exit_) & (exit_ >= 0.0) & (enter <= 1.0)).any(axis=1)
    if bounds is not None:
        hits |= ~(in_bounds(p0, bounds) & in_bounds(p1, bounds))
    return hits


def in_bounds(points_xy: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """(N,) bool: finite and inside the closed box ``bounds``."""
    return ((points_xy >= bounds[:2]) & (points_xy <= bounds[2:])).all(axis=-1)


def kinematic_step(
    layout: Layout, positions_xy: np.ndarray, commanded_xy: np.ndarray, goals_xy: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One control step for N robots: the commanded position becomes the state unless the
    segment travelled collides (then the robot stays and the episode fails).

    Returns ``(next_xy (N, 2), collided (N,), reached (N,))``; ``reached`` means within
    ``GOAL_TOLERANCE_M`` of the goal after a collision-free move.
    """
    collided = segment_collides(positions_xy, commanded_xy, layout.walls, layout.bounds)
    next_xy = np.where(collided[:, None], positions_xy, commanded_xy)
    reached = ~collided & (np.linalg.norm(next_xy - goals_xy, axis=-1) <= GOAL_TOLERANCE_M)
    return next_xy, collided, reached


def observation(history_xy: np.ndarray, goals_xy: np.ndarray) -> np.ndarray:
    """(..., 10) float32: the (..., 4, 2) position history, oldest first, then the goal."""
    flat = history_xy.reshape(*history_xy.shape[:-2], 2 * HISTORY)
    return np.concatenate([flat, goals_xy], axis=-1).astype(np.float32)


def sample_start_goal(
    layout: Layout,
    rng: np.random.Generator,
    min_separation_m: float = MIN_SEPARATION_M,
    clearance_m: float = START_CLEARANCE_M,
) -> tuple[np.ndarray, np.ndarray]:
    """Start and goal from ``layout.sample_free_point`` (``clearance_m`` from the walls, so
    both lie in the GCS cover), at least ``min_separation_m`` apart; the start is the
    layout's ``start_xy`` when it fixes one."""
    while True:
        start = layout.sample_free_point(rng, clearance_m) if layout.start_xy is None else layout.start_xy.copy()
        goal = layout.sample_free_point(rng, clearance_m)
        if np.linalg.norm(goal - start) >= min_separation_m:
            return start, goal


def start_goal_for_seed(layout: Layout, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The start/goal pair of an episode seed; identical to ``Maze2D-v0.reset(seed=seed)``."""
    return sample_start_goal(layout, np.random.default_rng(int(seed)))


def episode_from_positions(positions_xy: np.ndarray, goal_xy: np.ndarray, seed: int) -> Episode:
    """A dataset episode from positions p_0..p_K at ``DT_S``:
    ``obs[k] = [p_{k-3}, p_{k-2}, p_{k-1}, p_k, goal]`` (history padded with p_0) and
    ``action[k] = p_{k+1}``, for k = 0..K-1."""
    positions_xy = np.asarray(positions_xy, dtype=float)
    padded = np.concatenate([np.repeat(positions_xy[:1], HISTORY - 1, axis=0), positions_xy[:-1]])
    windows = np.stack([padded[i : i + len(positions_xy) - 1] for i in range(HISTORY)], axis=1)
    goals = np.broadcast_to(np.asarray(goal_xy, dtype=float), (len(windows), 2))
    return Episode(obs=observation(windows, goals), action=positions_xy[1:], seed=int(seed))


def positions_from_episode(episode: Episode) -> np.ndarray:
    """The positions p_0..p_K (float64) an episode was built from; inverse of ``episode_from_positions``."""
    return np.vstack([episode.obs[:, 2 * HISTORY - 2 : 2 * HISTORY], episode.action[-1:]]).astype(float)


def trajectory_problem(
    layout: Layout,
    positions_xy: np.ndarray,
    goal_xy: np.ndarray,
    dt_s: float = DT_S,
    max_speed_m_s: float = MAX_SPEED_M_S,
) -> str | None:
    """Why a sampled trajectory is not valid data, or None: it must be finite, collision-free
    along every segment (against the unpadded walls), no faster than ``max_speed_m_s``
    between samples, and end within ``GOAL_TOLERANCE_M`` of the goal. Used by every
    generator, so clean and corrupt data pass the same check."""
    p = np.asarray(positions_xy, dtype=float)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) < 2 or not np.isfinite(p).all():
        return "fewer than 2 finite positions"
    if segment_collides(p[:-1], p[1:], layout.walls, layout.bounds).any():
        return "collides"
    speed = np.linalg.norm(np.diff(p, axis=0), axis=1).max() / dt_s
    if speed > max_speed_m_s * (1 + SPEED_TOLERANCE):
        return "faster than max_speed_m_s"
    if np.linalg.norm(p[-1] - goal_xy) > GOAL_TOLERANCE_M:
        return "does not end at the goal"
    return None


def plan_episodes(
    seeds: Sequence[int],
    layout: Layout,
    attempts: Sequence[Any],
    plan: Any,
    dt_s: float = DT_S,
    max_speed_m_s: float = MAX_SPEED_M_S,
) -> tuple[list[Episode], int, dict[str, Any]]:
    """The loop every maze generator shares: per seed, the env's start/goal, then
    ``plan(layout, start, goal, seed, attempt) -> (positions_xy | None, solver_or_reason)``
    for each attempt in order until a plan passes ``trajectory_problem``.

    A seed whose attempts all fail (or raise) is skipped and counted, never fatal.
    Returns (episodes, n_failed, stats) with failure reasons and solver names counted.
    """
    episodes: list[Episode] = []
    failures: dict[str, int] = {}
    solvers: dict[str, int] = {}
    n_failed = 0
    for seed in seeds:
        start, goal = start_goal_for_seed(layout, seed)
        found = first_valid_attempt(
            attempts,
            lambda attempt: plan(layout, start, goal, int(seed), attempt),
            lambda positions: trajectory_problem(layout, positions, goal, dt_s, max_speed_m_s),
            failures,
        )
        if found is None:
            n_failed += 1
            log.warning("seed %d: no valid plan after %d attempts", seed, len(attempts))
            continue
        positions, solver = found
        episodes.append(episode_from_positions(positions, goal, seed))
        solvers[solver] = solvers.get(solver, 0) + 1
    return episodes, n_failed, {"solvers": solvers, "failed_attempts": failures}


def resample_polyline(waypoints_xy: np.ndarray, speed_m_s: float, dt_s: float = DT_S) -> np.ndarray:
    """Positions every ``dt_s`` along a polyline traversed at constant ``speed_m_s``,
    ending exactly at the last waypoint (the last step may be shorter)."""
    waypoints_xy = np.asarray(waypoints_xy, dtype=float)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(waypoints_xy, axis=0), axis=1))])
    s = np.arange(0.0, arc[-1], speed_m_s * dt_s)
    s = np.append(s, arc[-1]) if arc[-1] - s[-1] > 1e-9 else s
    return np.stack([np.interp(s, arc, waypoints_xy[:, i]) for i in range(2)], axis=1)


def step_through_vertices(waypoints_xy: np.ndarray, max_step_m: float) -> np.ndarray:
    """Positions that visit every waypoint, one per ``dt``: a segment no longer than
    ``max_step_m`` is one step, a longer one is split into equal steps of at most
    ``max_step_m`` (repeated waypoints are dropped). The authors' timing of RRT paths: the
    speed changes from step to step with the tree's segment lengths."""
    waypoints_xy = np.asarray(waypoints_xy, dtype=float)
    points = [waypoints_xy[0]]
    for a, b in zip(waypoints_xy[:-1], waypoints_xy[1:]):
        length = float(np.linalg.norm(b - a))
        if length < 1e-12:
            continue
        n = math.ceil(length / max_step_m - 1e-9)
        points.extend(a + (b - a) * (np.arange(1, n + 1)[:, None] / n))
    return np.array(points)


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------


def average_squared_acceleration(positions_xy: np.ndarray, dt_s: float) -> float:
    """Mean over k = 1..T-2 of ``||(x[k+1] - 2 x[k] + x[k-1]) / dt_s**2||**2`` (m^2/s^4).

    Finite differences of positions sampled every ``dt_s``; 0.0 for fewer than 3 samples.
    """
    x = np.asarray(positions_xy, dtype=float)
    if len(x) < 3:
        return 0.0
    acc = (x[2:] - 2 * x[1:-1] + x[:-2]) / dt_s**2
    return float(np.mean(np.sum(acc**2, axis=1)))


def path_length(positions_xy: np.ndarray) -> float:
    """Sum of ``||x[k+1] - x[k]||`` (m)."""
    return float(np.linalg.norm(np.diff(np.asarray(positions_xy, dtype=float), axis=0), axis=1).sum())


# --------------------------------------------------------------------------------------
# Gymnasium env
# --------------------------------------------------------------------------------------


class Maze2DEnv(gymnasium.Env):
    """One maze episode; see the module docstring. Reward 1 on success, else 0.

    Terminates on success or collision, truncates at ``max_steps`` (default:
    ``layout.max_steps(dt_s)``).
    """

    metadata = {"render_modes": []}

    def __init__(self, layout: str | Path = DEFAULT_LAYOUT, max_steps: int | None = None, dt_s: float = DT_S):
        self.layout = load_layout(layout)
        self.dt_s = dt_s
        self.max_steps = max_steps or self.layout.max_steps(dt_s)
        lo, hi = self.layout.bounds[:2].astype(np.float32), self.layout.bounds[2:].astype(np.float32)
        self.action_space = gymnasium.spaces.Box(lo, hi, dtype=np.float32)
        self.observation_space = gymnasium.spaces.Box(
            np.tile(lo, HISTORY + 1), np.tile(hi, HISTORY + 1), dtype=np.float32
        )
        self._history = np.zeros((HISTORY, 2))
        self._goal = np.zeros(2)
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        start, self._goal = sample_start_goal(self.layout, self.np_random)
        self._history = np.repeat(start[None], HISTORY, axis=0)
        self._steps = 0
        return observation(self._history, self._goal), {"start": start, "goal": self._goal}

    def step(self, action):
        commanded = np.asarray(action, dtype=float).reshape(1, 2)
        next_xy, collided, reached = kinematic_step(self.layout, self._history[-1:], commanded, self._goal[None])
        self._history = np.concatenate([self._history[1:], next_xy])
        self._steps += 1
        success, collision = bool(reached[0]), bool(collided[0])
        truncated = not (success or collision) and self._steps >= self.max_steps
        info = {"success": success, "collision": collision}
        return observation(self._history, self._goal), float(success), success or collision, truncated, info


# --------------------------------------------------------------------------------------
# Batched evaluation task
# --------------------------------------------------------------------------------------


@TASKS.register("maze")
class MazeTask:
    """Many maze episodes stepped together in numpy (the ``BatchedTask`` protocol).

    Same start/goal sampler and ``kinematic_step`` as ``Maze2D-v0``; the executed
    positions are kept to compute per-episode path length and average squared
    acceleration (``average_squared_acceleration`` with this task's ``dt_s``).
    """

    obs_dim = OBS_DIM
    action_dim = ACTION_DIM

    def __init__(self, layout: str | Path = DEFAULT_LAYOUT, max_steps: int | None = None, dt_s: float = DT_S):
        if (max_steps is not None and max_steps < 1) or dt_s <= 0:
            raise ValueError(f"max_steps={max_steps} must be >= 1 (or null) and dt_s={dt_s} > 0")
        self.layout = load_layout(layout)
        self.dt_s = dt_s
        self.max_steps = max_steps or self.layout.max_steps(dt_s)
        self.reset(np.zeros(0, dtype=np.int64))

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        self.seeds = np.asarray(seeds, dtype=np.int64)
        n = len(self.seeds)
        pairs = [start_goal_for_seed(self.layout, s) for s in self.seeds]
        self.starts = np.array([p[0] for p in pairs]).reshape(n, 2)
        self.goals = np.array([p[1] for p in pairs]).reshape(n, 2)
        self.positions = np.zeros((n, self.max_steps + 1, 2))
        self.positions[:, 0] = self.starts
        self.steps = np.zeros(n, dtype=np.int64)
        self.success = np.zeros(n, dtype=bool)
        self.collision = np.zeros(n, dtype=bool)
        self._done = np.zeros(n, dtype=bool)
        return self._observations()

    @property
    def done(self) -> np.ndarray:
        return self._done.copy()

    def _observations(self) -> np.ndarray:
        rows = np.arange(len(self.seeds))[:, None]
        idx = np.maximum(self.steps[:, None] + np.arange(-HISTORY + 1, 1), 0)
        return observation(self.positions[rows, idx], self.goals)

    def step(self, chunks: np.ndarray) -> np.ndarray:
        active = np.flatnonzero(~self._done)
        chunks = np.asarray(chunks, dtype=float)
        if chunks.shape[:1] != (len(active),) or chunks.shape[2:] != (2,):
            raise ValueError(f"chunks {chunks.shape}: expected ({len(active)}, n_steps, 2) for the not-done episodes")
        for j in range(chunks.shape[1]):
            live = ~self._done[active]
            idx, commanded = active[live], chunks[live, j]
            if len(idx) == 0:
                break
            current = self.positions[idx, self.steps[idx]]
            next_xy, collided, reached = kinematic_step(self.layout, current, commanded, self.goals[idx])
            self.steps[idx] += 1
            self.positions[idx, self.steps[idx]] = next_xy
            self.collision[idx] |= collided
            self.success[idx] |= reached
            self._done[idx] |= collided | reached | (self.steps[idx] >= self.max_steps)
        return self._observations()

    def records(self) -> list[dict[str, Any]]:
        """Per episode: outcome (success / collision / timeout) and metrics; the executed
        positions (m, rounded to 0.1 mm) of the first ``N_STORED_ROLLOUTS`` of the batch,
        so figures are drawn from stored records, never by re-running a policy."""
        records = []
        for i, seed in enumerate(self.seeds):
            executed = self.positions[i, : self.steps[i] + 1]
            outcome = "success" if self.success[i] else "collision" if self.collision[i] else "timeout"
            record = {
                "seed": int(seed),
                "start": self.starts[i].tolist(),
                "goal": self.goals[i].tolist(),
                "outcome": outcome,
                "success": bool(self.success[i]),
                "collision": bool(self.collision[i]),
                "steps": int(self.steps[i]),
                "path_length": path_length(executed),
                "accel_sq": average_squared_acceleration(executed, self.dt_s),
            }
            if i < N_STORED_ROLLOUTS:
                record["positions"] = np.round(executed, 4).tolist()
            records.append(record)
        return records

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, float]:
        """``metrics.planning_summary``: success rate (Wilson 95 % interval), collision rate,
        mean / std of the average squared acceleration over successful rollouts."""
        return planning_summary(records)


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


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------


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
