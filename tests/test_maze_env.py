"""Maze env, batched task, collision geometry and metrics (fast, no planners)."""

import json
import math

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from ambient_bench.envs import maze
from ambient_bench.registry import TASKS
from ambient_bench.seeds import split_seeds

LAYOUT = maze.load_layout()  # the authors' box world
CORRIDORS = maze.load_layout("corridors")
# One vertical wall from (1, 0) to (1, 2), 0.1 thick.
WALL = np.array([[0.95, 0.0, 1.05, 2.0]])


@pytest.mark.parametrize(
    "p0, p1, hit",
    [
        ((0.5, 1.0), (1.5, 1.0), True),  # crosses the wall, both ends free
        ((0.5, 0.5), (1.5, 1.5), True),  # diagonal crossing
        ((0.5, 2.5), (1.5, 2.5), False),  # passes above the wall's end
        ((0.9, 0.5), (0.9, 1.9), False),  # runs beside the wall, 0.05 away
        ((0.5, 1.0), (0.95, 1.0), True),  # ends exactly on the face: touching counts
        ((0.8, 2.3), (1.3, 1.8), False),  # grazes past the corner (1.05, 2.0) outside
        ((1.0, 1.0), (1.0, 1.0), True),  # zero-length inside the wall
        ((0.5, 1.0), (0.5, 1.0), False),  # zero-length in free space
        ((1.0, 2.5), (1.0, 1.5), True),  # axis-aligned, enters from above
    ],
)
def test_segment_collision_hand_made(p0, p1, hit):
    assert maze.segment_collides(np.array([p0]), np.array([p1]), WALL)[0] == hit


def test_segment_collision_matches_dense_sampling():
    rng = np.random.default_rng(0)
    p0, p1 = rng.uniform(0, 6, (2000, 2)), rng.uniform(0, 6, (2000, 2))
    p1 = p0 + (p1 - p0) * 0.15  # short segments, so both outcomes are common
    s = np.linspace(0, 1, 400)[None, :, None]
    points = p0[:, None] * (1 - s) + p1[:, None] * s
    w = LAYOUT.walls
    inside = (
        (points[..., None, 0] >= w[:, 0]) & (points[..., None, 0] <= w[:, 2])
        & (points[..., None, 1] >= w[:, 1]) & (points[..., None, 1] <= w[:, 3])
    ).any(axis=(1, 2))
    exact = maze.segment_collides(p0, p1, w)
    assert 100 < exact.sum() < 1900
    assert not (inside & ~exact).any()  # every sampled hit is found
    assert (exact & ~inside).sum() <= 5  # misses of the sampling only for tiny overlaps


def test_out_of_bounds_and_nan_collide():
    p0 = np.array([[0.5, 0.5], [0.5, 0.5]])
    p1 = np.array([[-0.01, 0.5], [np.nan, 0.5]])
    assert maze.segment_collides(p0, p1, np.zeros((0, 4)), LAYOUT.bounds).all()


def test_check_env_and_seeded_reset():
    env = gymnasium.make("ambient_bench/Maze2D-v0").unwrapped
    check_env(env, skip_render_check=True)
    seed = int(split_seeds("test", 1)[0])
    obs_a, info = env.reset(seed=seed)
    obs_b, _ = env.reset(seed=seed)
    np.testing.assert_array_equal(obs_a, obs_b)
    start, goal = maze.start_goal_for_seed(LAYOUT, seed)
    np.testing.assert_array_equal(obs_a, maze.observation(np.repeat(start[None], 4, 0), goal))
    task_obs = maze.MazeTask().reset(np.array([seed]))
    np.testing.assert_array_equal(task_obs[0], obs_a)
    assert not np.array_equal(env.reset(seed=seed + 1)[0], obs_a)


def test_start_goal_sampler_respects_separation_and_clearance():
    for seed in range(200):
        start, goal = maze.start_goal_for_seed(LAYOUT, seed)
        assert np.linalg.norm(goal - start) >= maze.MIN_SEPARATION_M
        for p in (start, goal):
            lo, hi = LAYOUT.walls[:, :2] - maze.START_CLEARANCE_M, LAYOUT.walls[:, 2:] + maze.START_CLEARANCE_M
            assert not ((p > lo) & (p < hi)).all(axis=1).any()


def test_env_collision_and_success():
    env = gymnasium.make("ambient_bench/Maze2D-v0").unwrapped
    obs, _ = env.reset(seed=5)
    goal = obs[8:10]
    _, reward, terminated, truncated, info = env.step(np.array([-1.0, -1.0], dtype=np.float32))
    assert terminated and not truncated and info["collision"] and reward == 0.0

    env._history[:] = goal + np.array([0.05, 0.0])  # next to the goal: one short free step reaches it
    obs, reward, terminated, _, info = env.step(goal)
    assert terminated and info["success"] and reward == 1.0
    np.testing.assert_allclose(obs[6:8], goal)


def test_episode_from_positions_layout():
    positions = np.array([[0.0, 0.0], [0.1, 0.0], [0.2, 0.0], [0.3, 0.0], [0.4, 0.0], [0.5, 0.0]])
    goal = np.array([0.5, 0.0])
    ep = maze.episode_from_positions(positions, goal, seed=7)
    assert ep.obs.shape == (5, 10) and ep.action.shape == (5, 2) and ep.seed == 7
    np.testing.assert_allclose(ep.obs[0, :8], [0, 0] * 4)
    np.testing.assert_allclose(ep.obs[1, :8], [0, 0, 0, 0, 0, 0, 0.1, 0], atol=1e-7)
    np.testing.assert_allclose(ep.obs[4, :8], [0.1, 0, 0.2, 0, 0.3, 0, 0.4, 0], atol=1e-7)
    np.testing.assert_allclose(ep.obs[:, 8:], np.tile(goal, (5, 1)))
    np.testing.assert_allclose(ep.action, positions[1:], atol=1e-7)
    np.testing.assert_allclose(maze.positions_from_episode(ep), positions, atol=1e-7)


def test_acceleration_metric_on_known_curves():
    dt_s = 0.01
    t = np.arange(0, 5, dt_s)
    line = np.stack([0.3 + 0.7 * t, 1.0 - 0.2 * t], axis=1)
    assert maze.average_squared_acceleration(line, dt_s) == pytest.approx(0.0, abs=1e-12)
    r_m, v_m_s = 1.5, 0.8
    angle = v_m_s * t / r_m
    circle = r_m * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    assert maze.average_squared_acceleration(circle, dt_s) == pytest.approx(v_m_s**4 / r_m**2, rel=1e-3)
    parabola = np.stack([t, 1.5 * t**2], axis=1)  # acceleration (0, 3)
    assert maze.average_squared_acceleration(parabola, dt_s) == pytest.approx(9.0, rel=1e-6)


def test_task_steps_chunks_and_ends_mid_chunk():
    task = TASKS.get("maze")(max_steps=20)
    seeds = split_seeds("test", 3)
    obs = task.reset(seeds)
    assert obs.shape == (3, maze.OBS_DIM) and not task.done.any()
    # Episode 0 stands still (capped at 20 steps); 1 jumps out of bounds; 2 walks straight
    # to its goal, which ends it at success or collision before the cap.
    current = obs[:, 6:8].astype(float)
    chunks = np.repeat(current[:, None], 8, axis=1)
    chunks[1] = -1.0
    goal = obs[2, 8:10].astype(float)
    steps = np.arange(1, 9)[:, None] / 8
    for _ in range(3):
        chunks[2] = current[2] + (goal - current[2]) * steps
        obs = task.step(chunks[~task.done])
        if task.done[2]:
            break
        current = obs[:, 6:8].astype(float)
    while not task.done.all():
        active = ~task.done
        task.step(np.repeat(obs[active, None, 6:8], 8, axis=1))
    records = task.records()
    assert records[0]["steps"] == 20 and not records[0]["success"] and not records[0]["collision"]
    assert records[1]["steps"] == 1 and records[1]["collision"]
    assert records[2]["success"] != records[2]["collision"]
    # float32 observations fed back: the robot moves by rounding only
    assert records[0]["path_length"] < 1e-5 and records[0]["accel_sq"] < 1e-6
    json.dumps(records)
    agg = task.aggregate(records)
    assert agg["n_trials"] == 3 and agg["collision_rate"] >= 1 / 3


def test_wall_walker_is_caught():
    task = maze.MazeTask(layout="corridors")
    seeds = split_seeds("test", 200)
    obs = task.reset(seeds)
    while not task.done.all():
        active = ~task.done
        here, goal = obs[active, 6:8].astype(float), obs[active, 8:10].astype(float)
        step = goal - here
        step *= np.minimum(1.0, 0.1 / np.maximum(np.linalg.norm(step, axis=1, keepdims=True), 1e-9))
        obs = task.step(here[:, None] + step[:, None] * np.arange(1, 9)[None, :, None])
    records = task.records()
    agg = task.aggregate(records)
    assert agg["collision_rate"] > 0.5  # most straight lines cross a wall
    assert agg["collision_rate"] + agg["success_rate"] == pytest.approx(1.0)
    for r in records:  # every success really had a clear line of sight
        if r["success"]:
            start, goal = np.array(r["start"]), np.array(r["goal"])
            assert not maze.segment_collides(start[None], goal[None], CORRIDORS.walls)[0]
            assert r["path_length"] == pytest.approx(np.linalg.norm(goal - start), abs=0.1)


def test_step_caps():
    cap = CORRIDORS.max_steps(maze.DT_S)  # three times the longest corridor plan
    assert cap % 30 == 0 and 3 * 6 / 0.1 <= cap <= 3 * 36 / 0.1
    assert math.isclose(maze.MazeTask(layout="corridors").max_steps, cap)
    assert maze.MazeTask().max_steps == 300  # the authors' cap in their box world
