"""Bin-sorting suite: env API, determinism, the scripted demonstrator, metrics, placement rules."""

from __future__ import annotations

import logging

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from ambient_bench.datagen.binsort_scripted import scripted_episode
from ambient_bench.envs.binsort import (
    BIN_CENTRE_Y_M,
    BIN_INNER_HALF_XY_M,
    BIN_RIM_HEIGHT_M,
    BIN_WALL_HALF_THICKNESS_M,
    BLOCK_HALF_M,
    BLUE,
    HAND_HOME_M,
    LEFT_BIN,
    NO_BIN,
    OUTCOMES,
    RED,
    RIGHT_BIN,
    BinSortEnv,
    BinSortSim,
    BinSortTask,
    block_bins,
    block_outcomes,
    episode_counts,
    intended_bins,
    render_frame,
    sorting_rates,
)
from ambient_bench.registry import GENERATORS, TASKS

RULES_AND_SEEDS = [("red_left", s) for s in (0, 1, 2)] + [("red_right", s) for s in (3, 4, 5)]


@pytest.fixture(scope="module")
def demos():
    """(rule, seed) -> scripted episode, generated once for the module."""
    return {(rule, seed): scripted_episode(seed, rule) for rule, seed in RULES_AND_SEEDS}


@pytest.mark.parametrize("task_conditioning", [False, True])
def test_check_env(task_conditioning):
    env = gymnasium.make("ambient_bench/BinSort-v0", task_conditioning=task_conditioning, rule="red_right")
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4 + 4 * 4 + 2 * task_conditioning,)
    if task_conditioning:
        np.testing.assert_array_equal(obs[-2:], [0.0, 1.0])


def test_seeded_reset_and_step_are_deterministic():
    actions = np.array([[0.1, -0.1, 0.05, 1.0]] * 6 + [[-0.2, 0.3, 0.2, -1.0]] * 6, dtype=np.float32)
    runs = []
    for _ in range(2):
        env = BinSortEnv()
        obs, info = env.reset(seed=42)
        runs.append(np.stack([obs] + [env.step(a)[0] for a in actions]))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(BinSortEnv().reset(seed=43)[0], runs[0][0])
    # The batched task's episode s is exactly the env's reset(seed=s) stepped with the same actions,
    # whichever other episodes run beside it and however many threads simulate them.
    for threads in (1, 2):
        task = BinSortTask(threads=threads, max_steps=100)
        np.testing.assert_array_equal(task.reset(np.array([42, 7, 3]))[0], runs[0][0])
        batched = [task.step(np.stack([actions[k : k + 4]] * 3))[0] for k in range(0, len(actions), 4)]
        np.testing.assert_array_equal(np.stack(batched), runs[0][4::4])
    colours = runs[0][0][7::4]
    assert set(colours) <= {RED, BLUE}


@pytest.mark.parametrize("rule,seed", RULES_AND_SEEDS)
def test_demonstrator_places_every_block_in_its_intended_bin(demos, rule, seed):
    episode = demos[(rule, seed)]
    assert episode is not None, f"scripted demo for seed {seed} failed its own verification"
    # Replaying the actions in a fresh env reproduces the demo (a pure function of the seed)
    # and ends with every block resting in the bin the rule asks for.
    env = BinSortEnv(rule=rule)
    obs, _ = env.reset(seed=seed)
    np.testing.assert_array_equal(obs, episode.obs[0])
    ever_held = np.zeros(4, dtype=bool)
    for k, action in enumerate(episode.action):
        np.testing.assert_array_equal(obs, episode.obs[k])
        obs, *_ = env.step(action)
        ever_held |= env.sim.held[0]
    bins = env.sim.bins()[0]
    np.testing.assert_array_equal(bins, intended_bins(env.sim.colours[0], rule))
    # the touch sensors saw every block in the hand, and none is touched at the end
    assert ever_held.all() and not env.sim.held[0].any()
    assert env.action_space.contains(episode.action[0])


def test_registered_generators_use_opposite_rules():
    clean = GENERATORS.get("binsort_clean")([11], vary_motion=False)
    wrong = GENERATORS.get("binsort_wrong_logic")([11], vary_motion=False)
    assert clean.n_failed == wrong.n_failed == 0
    a, b = clean.episodes[0], wrong.episodes[0]
    np.testing.assert_array_equal(a.obs[0], b.obs[0])  # same scene
    # The same controller: same speed, one grasp per block; only the destinations differ.
    for episode in (a, b):
        step_m = np.linalg.norm(np.diff(episode.action[:, :3], axis=0), axis=1)
        assert step_m.max() == pytest.approx(0.035, abs=1e-6)
        assert (np.diff(np.sign(episode.action[:, 3])) > 0).sum() == 4
    assert not np.allclose(a.action[-1, :2], b.action[-1, :2])


def _replay_in_task(episodes, rule):
    """Run demos through the batched task in 8-step chunks (held at their last action when over)."""
    task = TASKS.get("binsort")(rule=rule)
    task.reset(np.array([e.seed for e in episodes]))
    k = 0
    while not task.done.all():
        active = np.flatnonzero(~task.done)
        chunks = np.stack([
            np.stack([episodes[i].action[min(j, len(episodes[i].action) - 1)] for j in range(k, k + 8)])
            for i in active
        ])
        task.step(chunks)
        k += 8
    records = task.records()
    return records, task.aggregate(records)


def test_batched_task_scores_demos_by_rule(demos):
    clean = [demos[("red_left", s)] for s in (0, 1, 2)]
    records, agg = _replay_in_task(clean, "red_left")
    assert [r["seed"] for r in records] == [0, 1, 2]
    assert all(r["success"] and r["n_correct"] == 4 for r in records)
    assert agg["success_rate"] == agg["motion_rate"] == agg["logic_rate"] == agg["episode_success_rate"] == 1.0
    assert all(r["n_steps"] <= len(e.action) for r, e in zip(records, clean))  # ends once all are placed
    assert all(r["outcomes"] == ["correct"] * 4 for r in records) and agg["outcome_correct"] == 1.0
    # The same correct motions scored under the opposite rule: all placed, all wrong.
    records, agg = _replay_in_task(clean, "red_right")
    assert agg["motion_rate"] == 1.0 and agg["logic_rate"] == 0.0 and agg["success_rate"] == 0.0
    assert agg["n_trials"] == 3 and agg["n_blocks_total"] == 12
    assert agg["outcome_wrong_bin"] == 1.0 and sum(agg[f"outcome_{o}"] for o in OUTCOMES) == 1.0


def test_records_replay_exactly(demos):
    """The first episodes' records carry their executed actions; replaying them in a fresh
    one-episode sim ends in the same state, so figures can re-render a test rollout."""
    episodes = [demos[("red_left", s)] for s in (0, 1, 2)]
    records, _ = _replay_in_task(episodes, "red_left")
    assert "actions" not in records[2]
    for record in records[:2]:
        sim = BinSortSim(1, record["n_blocks"], record["rule"], record["task_conditioning"])
        sim.reset([record["seed"]])
        for action in record["actions"]:
            sim.step(np.array(action))
        assert len(record["actions"]) == record["n_steps"]
        assert tuple(int(c[0]) for c in sim.counts()) == (record["n_placed"], record["n_correct"])
        assert [OUTCOMES[o] for o in sim.outcomes()[0]] == record["outcomes"]


def _carrying_step(demo) -> tuple[int, int]:
    """(step, block): a step where the demo carries its first block at travel height, over the
    table, gripper closed, and which block that is (the highest one)."""
    hand = demo.action[:, :3]
    closed = demo.action[:, 3] > 0
    over_table = np.abs(hand[:, 1]) < BIN_CENTRE_Y_M - BIN_INNER_HALF_XY_M[1] - 0.05
    k = int(np.flatnonzero(closed & over_table & (hand[:, 2] > 0.1))[0])
    return k, int(np.argmax(demo.obs[k + 1, 6::4]))


def test_failure_taxonomy_of_truncated_and_dropped_demos(demos):
    """Physical failures get their names: a demo cut off while carrying (held_at_timeout), one
    that opens its gripper over the table (dropped_in_transit), an idle hand (not_reached)."""
    demo = demos[("red_left", 0)]
    k, carried = _carrying_step(demo)
    others = [i for i in range(4) if i != carried]
    task = BinSortTask(max_steps=k + 1)
    task.reset(np.array([demo.seed]))
    task.step(demo.action[None, : k + 1])
    outcomes = task.records()[0]["outcomes"]
    assert outcomes[carried] == "held_at_timeout" and {outcomes[i] for i in others} == {"not_reached"}
    np.testing.assert_allclose(task.records()[0]["hand_final_m"], demo.action[k, :3], atol=0.02)  # it is carrying

    dropped = demo.action.copy()
    dropped[k:, 3] = -1.0  # let go over the table and hold still
    dropped[k:, :3] = dropped[k, :3]
    task = BinSortTask(max_steps=k + 30)
    task.reset(np.array([demo.seed]))
    task.step(dropped[None, : k + 30])
    outcomes = task.records()[0]["outcomes"]
    assert outcomes[carried] == "dropped_in_transit" and {outcomes[i] for i in others} == {"not_reached"}


def test_block_outcomes_rules():
    """One block per rule, in OUTCOMES order; the first rule that holds names the block."""
    over_left = [0.0, BIN_CENTRE_Y_M + BIN_INNER_HALF_XY_M[1]]  # above the left bin's wall
    over_table = [0.0, 0.0]
    nan = [np.nan, np.nan]
    bins = [LEFT_BIN, RIGHT_BIN, NO_BIN, NO_BIN, NO_BIN, NO_BIN, NO_BIN]
    intended = [LEFT_BIN, LEFT_BIN, LEFT_BIN, LEFT_BIN, LEFT_BIN, LEFT_BIN, LEFT_BIN]
    held = [True, False, True, False, True, False, False]
    touched = [True, True, True, False, True, True, True]
    lifted = [True, True, True, False, False, True, True]
    release = [over_left, over_left, over_table, nan, nan, over_left, over_table]
    names = [OUTCOMES[i] for i in block_outcomes(np.array(bins), np.array(intended), np.array(held),
                                                 np.array(touched), np.array(lifted), np.array(release))]
    assert names == list(OUTCOMES)


def test_step_cap_ends_idle_episodes():
    task = BinSortTask(max_steps=5)
    task.reset(np.array([0, 1]))
    task.step(np.tile(np.append(HAND_HOME_M, -1.0), (2, 8, 1)))
    assert task.done.all()
    records = task.records()
    assert [r["n_steps"] for r in records] == [5, 5]
    assert task.aggregate(records)["motion_rate"] == 0.0
    assert task.aggregate(records)["outcome_not_reached"] == 1.0


# --------------------------------------------------------------------------------------
# Metrics on hand-built end states
# --------------------------------------------------------------------------------------


def _in_bin(code: int, dx: float = 0.0, dy: float = 0.0) -> list[float]:
    return [dx, code * BIN_CENTRE_Y_M + dy, BLOCK_HALF_M]


COLOURS = np.array([RED, RED, BLUE, BLUE])
AT_REST = (np.zeros(4), np.zeros(4, dtype=bool))


def test_metrics_all_correct():
    positions = [_in_bin(LEFT_BIN, -0.05), _in_bin(LEFT_BIN, 0.05), _in_bin(RIGHT_BIN, -0.05), _in_bin(RIGHT_BIN, 0.05)]
    bins = block_bins(np.array(positions), *AT_REST)
    np.testing.assert_array_equal(bins, [LEFT_BIN, LEFT_BIN, RIGHT_BIN, RIGHT_BIN])
    assert episode_counts(bins, COLOURS, "red_left") == (4, 4)
    rates = sorting_rates(4, 4, 4)
    assert rates["motion_rate"] == rates["logic_rate"] == rates["success_rate"] == 1.0


def test_metrics_all_swapped():
    positions = [_in_bin(RIGHT_BIN, -0.05), _in_bin(RIGHT_BIN, 0.05), _in_bin(LEFT_BIN, -0.05), _in_bin(LEFT_BIN, 0.05)]
    n_placed, n_correct = episode_counts(block_bins(np.array(positions), *AT_REST), COLOURS, "red_left")
    assert (n_placed, n_correct) == (4, 0)
    assert episode_counts(block_bins(np.array(positions), *AT_REST), COLOURS, "red_right") == (4, 4)
    rates = sorting_rates(n_placed, n_correct, 4)
    assert rates["motion_rate"] == 1.0 and rates["logic_rate"] == 0.0 and rates["success_rate"] == 0.0


def test_metrics_some_dropped_on_the_table():
    positions = [_in_bin(LEFT_BIN), [0.0, 0.1, BLOCK_HALF_M], _in_bin(RIGHT_BIN), [0.2, -0.2, BLOCK_HALF_M]]
    n_placed, n_correct = episode_counts(block_bins(np.array(positions), *AT_REST), COLOURS, "red_left")
    assert (n_placed, n_correct) == (2, 2)
    rates = sorting_rates(n_placed, n_correct, 4)
    assert rates["motion_rate"] == 0.5 and rates["logic_rate"] == 1.0 and rates["success_rate"] == 0.5
    assert rates["success_rate"] == pytest.approx(rates["motion_rate"] * rates["logic_rate"])
    assert rates["motion_rate_lo"] < 0.5 < rates["motion_rate_hi"]


def test_logic_is_undefined_when_nothing_was_placed_and_tables_show_a_dash():
    import pandas as pd

    from ambient_bench.report.tables import UNDEFINED, mean_std

    rates = sorting_rates(0, 0, 4)
    assert rates["motion_rate"] == 0.0 and rates["success_rate"] == 0.0
    assert np.isnan(rates["logic_rate"]) and (rates["logic_rate_lo"], rates["logic_rate_hi"]) == (0.0, 1.0)
    assert mean_std(pd.Series([rates["logic_rate"]] * 2), 100.0) == UNDEFINED == "–"
    assert mean_std(pd.Series([rates["logic_rate"], 0.5]), 100.0) == "50.0 ± 0.0"


def test_moving_or_held_blocks_are_not_placed():
    positions = np.array([_in_bin(LEFT_BIN)] * 3)
    bins = block_bins(positions, np.array([0.0, 0.2, 0.0]), np.array([False, False, True]))
    np.testing.assert_array_equal(bins, [LEFT_BIN, NO_BIN, NO_BIN])


def test_block_on_rim_or_stacked_outside_is_not_placed():
    """Physically: set blocks on a bin rim, on another block outside, and inside a bin; let them settle."""
    sim = BinSortSim(n_blocks=4)
    sim.reset([0])
    rim_y = BIN_CENTRE_Y_M + BIN_INNER_HALF_XY_M[1] + BIN_WALL_HALF_THICKNESS_M
    h = BLOCK_HALF_M
    positions = [[0.0, rim_y, BIN_RIM_HEIGHT_M + h], [0.1, 0.0, h], [0.1, 0.0, 3 * h], _in_bin(RIGHT_BIN)]
    sim.set_block_positions(np.array(positions))
    for _ in range(10):
        sim.step(np.append(HAND_HOME_M, -1.0))
    settled = sim.block_positions()[0]
    np.testing.assert_allclose(settled, positions, atol=5e-3)  # they really rest there
    np.testing.assert_array_equal(sim.bins()[0], [NO_BIN, NO_BIN, NO_BIN, RIGHT_BIN])


def test_render_frame_writes_a_png_or_skips_with_a_message(tmp_path, caplog, monkeypatch):
    path = tmp_path / "frame.png"
    assert render_frame(path, seed=0) == path.exists()
    monkeypatch.setenv("MUJOCO_GL", "osmesa")  # not installed here: must skip, not crash
    with caplog.at_level(logging.WARNING):
        ok = render_frame(tmp_path / "none.png", seed=0)
    assert ok or "render skipped" in caplog.text
