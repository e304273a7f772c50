"""Maze generators: validity, per-seed determinism, the smoothness gap, and an oracle in MazeTask.

About 6 GCS plans (~1 s each) and a few dozen RRT plans in all.
"""

import numpy as np
import pytest

from ambient_bench.envs import maze
from ambient_bench.registry import GENERATORS
from ambient_bench.seeds import split_seeds

LAYOUT = maze.load_layout()
CLEAN_SEEDS = [int(s) for s in split_seeds("datagen_clean", 3)]
CORRUPT_SEEDS = [int(s) for s in split_seeds("datagen_corrupt", 20)]
TEST_SEEDS = [int(s) for s in split_seeds("test", 3)]


@pytest.fixture(scope="module")
def gcs():
    return GENERATORS.get("maze_gcs")(CLEAN_SEEDS)


@pytest.fixture(scope="module")
def rrt():
    return GENERATORS.get("maze_rrt")(CORRUPT_SEEDS)


def episode_bytes(output):
    return {e.seed: (e.obs.tobytes(), e.action.tobytes()) for e in output.episodes}


def assert_valid(output, seeds, layout=LAYOUT):
    assert output.n_failed == 0 and [e.seed for e in output.episodes] == seeds
    for episode in output.episodes:
        start, goal = maze.start_goal_for_seed(layout, episode.seed)
        positions = maze.positions_from_episode(episode)
        np.testing.assert_allclose(positions[0], start, atol=1e-6)
        np.testing.assert_allclose(episode.obs[:, 8:], np.tile(goal, (len(episode.obs), 1)), atol=1e-6)
        assert maze.trajectory_problem(LAYOUT, positions, goal) is None
        # Independent of the slab test: no point sampled along the path lies in a wall.
        s = np.linspace(0, 1, 30)[None, :, None]
        points = (positions[:-1, None] * (1 - s) + positions[1:, None] * s).reshape(-1, 2)
        w = LAYOUT.walls
        inside = (points[:, None, 0] >= w[:, 0]) & (points[:, None, 0] <= w[:, 2])
        inside &= (points[:, None, 1] >= w[:, 1]) & (points[:, None, 1] <= w[:, 3])
        assert not inside.any()
        speed = np.linalg.norm(np.diff(positions, axis=0), axis=1) / maze.DT_S
        assert speed.max() <= maze.MAX_SPEED_M_S * (1 + maze.SPEED_TOLERANCE)


def test_gcs_episodes_are_valid(gcs):
    assert_valid(gcs, CLEAN_SEEDS)
    assert gcs.solver.startswith("drake.GcsTrajectoryOptimization/") and gcs.stats["solvers"]


def test_rrt_episodes_are_valid(rrt):
    assert_valid(rrt, CORRUPT_SEEDS)
    assert rrt.solver == "ompl.RRT"


def test_gcs_is_a_pure_function_of_the_seed(gcs):
    # Another subset in another order (a different shard) gives the same bytes per seed.
    again = GENERATORS.get("maze_gcs")([CLEAN_SEEDS[2], CLEAN_SEEDS[0]])
    reference = episode_bytes(gcs)
    assert all(reference[seed] == data for seed, data in episode_bytes(again).items())


def test_rrt_is_a_pure_function_of_the_seed(rrt):
    again = GENERATORS.get("maze_rrt")([CORRUPT_SEEDS[5], CORRUPT_SEEDS[1], CORRUPT_SEEDS[5]])
    reference = episode_bytes(rrt)
    assert [e.seed for e in again.episodes] == [CORRUPT_SEEDS[5], CORRUPT_SEEDS[1], CORRUPT_SEEDS[5]]
    assert all(reference[e.seed] == (e.obs.tobytes(), e.action.tobytes()) for e in again.episodes)
    # ... and different OMPL seeds give different paths for the same start and goal.
    start, goal = maze.start_goal_for_seed(LAYOUT, CORRUPT_SEEDS[0])
    from ambient_bench.datagen.maze_rrt import plan_rrt

    path_a, _ = plan_rrt(LAYOUT, start, goal, 1, 0.1, 0.005, 0.1, 2.0)
    path_b, _ = plan_rrt(LAYOUT, start, goal, 2, 0.1, 0.005, 0.1, 2.0)
    assert path_a.shape != path_b.shape or not np.array_equal(path_a, path_b)
    # RRT steps are at most the range (the authors' 0.1 m): no long straight segments.
    for path in (path_a, path_b):
        assert np.linalg.norm(np.diff(path, axis=0), axis=1).max() <= 0.1 + 1e-9


def test_rrt_data_is_much_less_smooth_than_gcs(gcs, rrt):
    def mean_accel(output):
        return np.mean([maze.average_squared_acceleration(maze.positions_from_episode(e), maze.DT_S) for e in output.episodes])

    assert mean_accel(rrt) >= 3 * mean_accel(gcs)


def test_generator_failures_are_counted_not_raised():
    episodes, n_failed, stats = maze.plan_episodes([1, 2], LAYOUT, [0, 1], lambda *a: (None, "no path"))
    assert episodes == [] and n_failed == 2 and stats["failed_attempts"] == {"no path": 4}

    def raising(*args):
        raise RuntimeError("solver crashed")

    assert maze.plan_episodes([1], LAYOUT, [0], raising)[1] == 1

    def through_wall(*args):  # crosses the box [0.5, 1, 1.5, 1.5]
        return np.array([[0.2, 1.25], [1.0, 1.25]]), "fake"

    _, n_failed, stats = maze.plan_episodes([1], LAYOUT, [0], through_wall)
    assert n_failed == 1 and stats["failed_attempts"] == {"collides": 1}


def test_oracle_following_gcs_plans_succeeds():
    from ambient_bench.datagen.maze_gcs import generate_maze_gcs

    plans = {e.seed: maze.positions_from_episode(e) for e in generate_maze_gcs(TEST_SEEDS).episodes}
    assert len(plans) == len(TEST_SEEDS)
    task = maze.MazeTask()
    task.reset(np.array(TEST_SEEDS))
    while not task.done.all():
        chunks = []
        for i in np.flatnonzero(~task.done):
            plan = plans[TEST_SEEDS[i]]
            k = task.steps[i]
            chunks.append(plan[np.minimum(np.arange(k + 1, k + 9), len(plan) - 1)])
        task.step(np.array(chunks))
    agg = task.aggregate(task.records())
    assert agg["success_rate"] == 1.0 and agg["collision_rate"] == 0.0
    assert agg["accel_sq_mean"] < 5.0


def test_shared_tree_has_bounded_steps_and_every_path_follows_it():
    from ambient_bench.datagen import maze_rrt

    tree = maze_rrt.grow_tree("boxes", 0.1, 0.005, 0.1, 2000, 0)
    root = np.flatnonzero(tree.parent < 0)
    assert len(root) == 1 and len(tree.vertices_xy) > 500
    child = np.flatnonzero(tree.parent >= 0)
    steps = np.linalg.norm(tree.vertices_xy[child] - tree.vertices_xy[tree.parent[child]], axis=1)
    assert steps.max() <= 0.1 + 1e-9  # every RRT extension is at most the range
    grown = LAYOUT.walls + np.array([-1, -1, 1, 1]) * 0.1
    assert not maze.segment_collides(tree.vertices_xy[child], tree.vertices_xy[tree.parent[child]], grown).any()
    # A tree path between two vertices climbs to their common ancestor and back down.
    a, b = int(child[10]), int(child[-10])
    path = tree.path(a, b)
    np.testing.assert_array_equal(path[0], tree.vertices_xy[a])
    np.testing.assert_array_equal(path[-1], tree.vertices_xy[b])
    assert np.linalg.norm(np.diff(path, axis=0), axis=1).max() <= 0.1 + 1e-9


def test_fixed_start_tree_is_rooted_at_the_start_and_paths_run_down_it():
    from ambient_bench.datagen import maze_rrt

    fixed = maze.load_layout("boxes_fixed_start")
    tree = maze_rrt.grow_tree("boxes_fixed_start", 0.1, 0.005, 0.1, 2000, 0)
    np.testing.assert_array_equal(tree.vertices_xy[tree.parent < 0][0], fixed.start_xy)
    output = GENERATORS.get("maze_rrt")(CORRUPT_SEEDS[:5], layout="boxes_fixed_start", tree_samples=2000)
    assert_valid(output, CORRUPT_SEEDS[:5], fixed)  # starts at the fixed start, valid in the same world


def test_per_vertex_timing_visits_every_tree_vertex_within_the_step_bound(rrt):
    from ambient_bench.datagen import maze_rrt

    per_vertex = GENERATORS.get("maze_rrt")(CORRUPT_SEEDS[:5], timing="per_vertex")
    assert_valid(per_vertex, CORRUPT_SEEDS[:5])
    tree = maze_rrt.grow_tree("boxes", 0.1, 0.005, 0.1, 5000, 0)
    inner_steps = []
    for episode in per_vertex.episodes:
        positions = maze.positions_from_episode(episode)
        steps = np.linalg.norm(np.diff(positions, axis=0), axis=1)
        assert steps.max() <= 0.1 + 1e-6 and steps.min() > 0  # episodes store float32 positions
        # every position but the start, the goal and the joins' interior points is a tree vertex
        on_tree = np.isclose(positions[:, None], tree.vertices_xy[None]).all(-1).any(1)
        assert on_tree.mean() > 0.8
        inner_steps.extend(steps[1:-1])
    # the speed follows the tree's segment lengths (constant-speed timing keeps every inner step equal)
    assert np.ptp(inner_steps) > 0.02
    with pytest.raises(ValueError, match="timing="):
        GENERATORS.get("maze_rrt")(CORRUPT_SEEDS[:1], timing="jittered")


def test_per_plan_and_shared_trees_give_valid_distinct_data(rrt):
    per_plan = GENERATORS.get("maze_rrt")(CORRUPT_SEEDS[:5], tree="per_plan")
    assert_valid(per_plan, CORRUPT_SEEDS[:5])
    shared = episode_bytes(rrt)
    assert all(shared[e.seed] != (e.obs.tobytes(), e.action.tobytes()) for e in per_plan.episodes)
    with pytest.raises(ValueError, match="tree="):
        GENERATORS.get("maze_rrt")(CORRUPT_SEEDS[:1], tree="forest")


def test_gcs_plans_keep_the_planning_clearance(gcs):
    # The curve stays inside the free cover, 0.1 m (the authors' padding) from every obstacle.
    grown = LAYOUT.walls + np.array([-1, -1, 1, 1]) * (0.1 - 1e-5)
    for episode in gcs.episodes:
        positions = maze.positions_from_episode(episode)
        assert not maze.segment_collides(positions, positions, grown).any()


def test_rrt_chunks_carry_more_high_frequency_power_than_gcs(gcs, rrt):
    from ambient_bench.report.spectrum import action_chunks, high_frequency_share

    share = {name: high_frequency_share(action_chunks([e.action for e in out.episodes], 16))
             for name, out in (("gcs", gcs), ("rrt", rrt))}
    assert share["rrt"] > 2 * share["gcs"]


def test_policy_cutting_a_corner_collides():
    # A scripted policy that walks straight at the goal at 1 m/s, from a start whose straight
    # line to the goal crosses an obstacle: it must be stopped by a collision.
    seeds = [s for s in split_seeds("test", 400)
             if maze.segment_collides(*[p[None] for p in maze.start_goal_for_seed(LAYOUT, s)], LAYOUT.walls)[0]][:5]
    assert len(seeds) == 5
    task = maze.MazeTask()
    obs = task.reset(np.array(seeds))
    while not task.done.all():
        here, goal = obs[~task.done, 6:8].astype(float), obs[~task.done, 8:10].astype(float)
        step = goal - here
        step *= np.minimum(1.0, 0.1 / np.maximum(np.linalg.norm(step, axis=1, keepdims=True), 1e-9))
        obs = task.step(here[:, None] + step[:, None] * np.arange(1, 9)[None, :, None])
    records = task.records()
    assert all(r["outcome"] == "collision" for r in records)
    assert all(len(r["positions"]) == r["steps"] + 1 for r in records)
