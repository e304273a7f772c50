"""Maze worlds: stored layouts, free-space covers (what GCS plans in), start/goal sampling."""

import json

import numpy as np
import pytest

from ambient_bench.envs import maze_layout
from ambient_bench.envs.maze import segment_collides

LAYOUTS = {name: maze_layout.load_layout(name) for name in ("boxes", "corridors")}


def test_stored_layouts_are_the_built_in_ones(tmp_path):
    for name, (built, _) in maze_layout.built_in_layouts().items():
        stored = maze_layout.load_layout(name)
        assert type(stored) is type(built) and stored.to_json() == built.to_json()
        np.testing.assert_array_equal(stored.walls, built.walls)
        np.testing.assert_array_equal(stored.bounds, built.bounds)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(stored.to_json()))
        assert maze_layout.load_layout(path).to_json() == stored.to_json()
    assert maze_layout.load_layout().version == LAYOUTS["boxes"].version  # the default
    with pytest.raises(FileNotFoundError, match="built-in layouts"):
        maze_layout.load_layout("no_such_layout")


def test_box_world_is_the_authors():
    boxes = LAYOUTS["boxes"]
    assert boxes.bounds.tolist() == [0.0, 0.0, 5.0, 5.0] and len(boxes.walls) == 10
    assert [3.0, 2.5, 4.5, 3.5] in boxes.walls.tolist()


def test_fixed_start_layout_starts_every_episode_at_the_authors_start():
    from ambient_bench.envs.maze import start_goal_for_seed

    fixed = maze_layout.load_layout("boxes_fixed_start")
    assert fixed.walls.tolist() == LAYOUTS["boxes"].walls.tolist() and LAYOUTS["boxes"].start_xy is None
    pairs = [start_goal_for_seed(fixed, seed) for seed in range(20)]
    assert all(start.tolist() == maze_layout.AUTHORS_FIXED_START for start, _ in pairs)
    assert len({tuple(goal) for _, goal in pairs}) == 20  # goals still vary


def test_corridor_maze_has_loops():
    grid = LAYOUTS["corridors"]
    # A spanning tree of 36 cells has 35 passages; every extra one closes a loop.
    assert len(grid.passages) == grid.n_rows * grid.n_cols - 1 + maze_layout.CORRIDORS_PARAMS["extra_openings"]


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.parametrize("margin_m", [0.05, 0.1])
def test_free_cover_is_clear_and_covers_the_free_space(name, margin_m):
    layout = LAYOUTS[name]
    boxes = layout.free_boxes(margin_m)
    lo = np.array([b[0] for b in boxes])
    hi = np.array([b[1] for b in boxes])
    assert (hi - lo > 0).all()
    # Clear: no box reaches closer than margin_m to a wall (touching allowed, up to rounding).
    grown = layout.walls + np.array([-1, -1, 1, 1]) * margin_m
    overlap = (lo[:, None] < grown[None, :, 2:] - 1e-9) & (hi[:, None] > grown[None, :, :2] + 1e-9)
    assert not overlap.all(axis=2).any()
    assert (lo >= layout.bounds[:2] - 1e-12).all() and (hi <= layout.bounds[2:] + 1e-12).all()
    # Covers: every point sampled clear of the walls (as starts and goals are) lies in a box.
    rng = np.random.default_rng(0)
    points = np.array([layout.sample_free_point(rng, margin_m + 1e-9) for _ in range(2000)])
    inside = ((points[:, None] >= lo[None] - 1e-12) & (points[:, None] <= hi[None] + 1e-12)).all(axis=2)
    assert inside.any(axis=1).all()
    # Connected: boxes that overlap by a positive area link every box to the first one.
    linked = ((np.minimum(hi[:, None], hi[None]) - np.maximum(lo[:, None], lo[None])) > 1e-9).all(axis=2)
    reached, frontier = {0}, [0]
    while frontier:
        i = frontier.pop()
        for j in np.flatnonzero(linked[i]):
            if j not in reached:
                reached.add(int(j))
                frontier.append(int(j))
    assert len(reached) == len(boxes)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_free_points_keep_their_clearance(name):
    layout = LAYOUTS[name]
    rng = np.random.default_rng(1)
    points = np.array([layout.sample_free_point(rng, 0.1) for _ in range(500)])
    grown = layout.walls + np.array([-1, -1, 1, 1]) * 0.1
    assert not segment_collides(points, points, grown).any()
    assert (points >= layout.bounds[:2]).all() and (points <= layout.bounds[2:]).all()
