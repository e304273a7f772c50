"""The arm suite: offline model, collision checks, problems, generators (every stored plan valid)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ambient_bench.envs import arm


@pytest.fixture(scope="module")
def scene():
    return arm.arm_scene()


def test_model_is_offline_primitives_with_published_kinematics(scene):
    urdf, sdf = arm.iiwa14_urdf(), arm.scene_sdf()
    assert "mesh" not in urdf + sdf and "package://" not in urdf + sdf
    assert scene.plant.num_positions() == 7
    # Straight up, the tool point sits on the z axis at the sum of the link offsets.
    expected_z = sum(abs(sum(origin)) for origin, *_ in arm.IIWA14_JOINTS) + arm.FLANGE_OFFSET_M + arm.TOOL_POINT_M[2]
    np.testing.assert_allclose(scene.tool_points(np.zeros(7))[0], [0.0, 0.0, expected_z], atol=1e-5)
    np.testing.assert_allclose(expected_z, 1.306 + 0.12, atol=1e-9)


def test_collision_checker_agrees_on_known_configurations(scene):
    free = [np.zeros(7), np.array([0, 1.0, 0, 1.0, 0, 1.0, 0]), np.array([0, 0.7, 0, -1.6, 0, 0.8, 0])]
    into_table = np.array([0, 2.0, 0, 0, 0, 0, 0])  # shoulder bent forward 115 deg: tool below the table top
    folded = np.array([0, 0, 0, 2.09, 0, 2.09, 0])  # elbow and wrist folded back onto the arm
    for q in free:
        assert scene.config_free(q) and scene.clearance_m(q) > 0
    assert scene.tool_points(into_table)[0, 2] < 0
    for q in (into_table, folded):
        assert not scene.config_free(q) and scene.clearance_m(q) < 0
    assert scene.edge_free(free[0], free[1])
    assert not scene.edge_free(free[0], into_table)


def test_plan_check_reasons(scene):
    q0, q1 = np.zeros(7), np.array([0, 1.0, 0, 1.0, 0, 1.0, 0])
    line = np.linspace(q0, q1, 65)
    assert arm.plan_problem(scene, line, q1) is None
    assert arm.plan_problem(scene, line, q1 + 0.2) == "misses the goal"
    assert arm.plan_problem(scene, np.linspace(q0, [0, 2.0, 0, 0, 0, 0, 0], 65), q1) == "collides"
    beyond = line.copy()
    beyond[10, 1] = arm.Q_UPPER[1] + 0.01
    assert arm.plan_problem(scene, beyond, q1) == "joint limits"
    assert arm.plan_problem(scene, line[:, :6], q1) == "not finite (K, 7)"


def assert_in_slot(scene, q, name):
    assert scene.clearance_m(q) >= arm.IK_CLEARANCE_M - 1e-4
    slot = arm.SLOTS[name]
    offset = np.abs(scene.tool_points(q)[0] - slot.centre_m)
    assert (offset <= np.array(slot.half_extent_m) + arm.IK_POSITION_BOX_M + 1e-5).all()


def test_home_problems_start_at_home_and_are_deterministic_clear_and_in_their_slots(scene):
    assert scene.clearance_m(arm.HOME_Q_RAD) > arm.IK_CLEARANCE_M
    goals = set()
    for seed in range(6):
        a, b = arm.problem(seed), arm.problem(seed)
        np.testing.assert_array_equal(a.q_goal, b.q_goal)
        np.testing.assert_array_equal(a.q_start, arm.HOME_Q_RAD)
        assert a.start_slot == "home" and a.goal_slot in arm.PROBLEM_SETS["home"]
        assert_in_slot(scene, a.q_goal, a.goal_slot)
        goals.add(a.goal_slot)
    assert len(goals) >= 2 and not np.array_equal(arm.problem(0).q_goal, arm.problem(1).q_goal)


def test_slot_pair_problems_are_deterministic_clear_and_in_their_slots(scene):
    for seed in range(3):
        a, b = arm.problem(seed, problems="slot_pairs"), arm.problem(seed, problems="slot_pairs")
        np.testing.assert_array_equal(a.q_start, b.q_start)
        np.testing.assert_array_equal(a.q_goal, b.q_goal)
        assert a.start_slot != a.goal_slot
        for q, name in ((a.q_start, a.start_slot), (a.q_goal, a.goal_slot)):
            assert_in_slot(scene, q, name)


def test_problem_identical_in_a_fresh_process():
    code = "from ambient_bench.envs import arm; print(arm.problem(5).q_goal.tolist())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(other.strip().splitlines()[-1]) == arm.problem(5).q_goal.tolist()


def test_unknown_slot_problem_set_and_bad_tolerance_are_rejected():
    with pytest.raises(ValueError, match="unknown slot 'attic'"):
        arm.check_slots(["table", "attic"])
    with pytest.raises(ValueError, match="unknown problems 'garden'"):
        arm.check_slots(None, "garden")
    with pytest.raises(ValueError, match="at least 2 distinct"):
        arm.check_slots(["table", "table"], "slot_pairs")
    assert arm.check_slots(["table"], "home") == ["table"]
    assert arm.check_slots(None, "slot_pairs") == list(arm.SLOTS)
    for bad in (0.0, -0.1, 2.0):
        with pytest.raises(ValueError, match="goal_tolerance_rad"):
            arm.check_goal_tolerance(bad)


def test_episode_layout_round_trips_as_deviations_from_the_straight_line(scene):
    q0, q1 = np.zeros(7), np.ones(7) * 0.5
    bent = arm.straight_line(q0, q1) + np.sin(np.linspace(0, np.pi, 65))[:, None] * 0.1
    ep = arm.episode_from_plan(bent, q1, seed=3)
    assert ep.obs.shape == (64, 14) and ep.action.shape == (64, 7)
    np.testing.assert_allclose(ep.obs[:, 7:], np.repeat(q1[None], 64, 0), atol=1e-7)
    np.testing.assert_allclose(ep.action[:-1], bent[1:-1] - arm.straight_line(q0, q1)[1:-1], atol=1e-6)
    assert (ep.action[-1] == 0).all()
    np.testing.assert_allclose(arm.plan_from_episode(ep), bent, atol=1e-6)
    assert arm.average_squared_acceleration(arm.straight_line(q0, q1), arm.DT_S) == pytest.approx(0.0, abs=1e-9)


def test_zero_deviations_are_the_straight_line_and_any_output_hits_both_ends():
    rng = np.random.default_rng(0)
    q_start, q_goal = rng.uniform(-1, 1, 7), rng.uniform(-1, 1, 7)
    np.testing.assert_array_equal(arm.plan_from_deviations(q_start, q_goal, np.zeros((64, 7))),
                                  arm.straight_line(q_start, q_goal))
    for scale in (0.01, 1.0, 100.0):
        plan = arm.plan_from_deviations(q_start, q_goal, rng.normal(0, scale, (64, 7)))
        assert plan.shape == (65, 7)
        np.testing.assert_array_equal(plan[0], q_start)
        np.testing.assert_array_equal(plan[-1], q_goal)


@pytest.mark.parametrize("name, seeds", [("arm_rrt", [0, 1, 2]), ("arm_trajopt", [2, 3])])
def test_every_stored_plan_passes_the_evaluators_check(scene, name, seeds):
    from ambient_bench.registry import GENERATORS

    out = GENERATORS.get(name)(seeds)
    assert len(out.episodes) + out.n_failed == len(seeds)
    assert len(out.episodes) >= 1
    for ep in out.episodes:
        q = arm.plan_from_episode(ep)
        assert q.shape == (arm.N_WAYPOINTS + 1, 7)
        assert arm.plan_problem(scene, q, ep.obs[0, 7:]) is None
        prob = arm.problem(ep.seed)
        np.testing.assert_allclose(q[0], prob.q_start, atol=1e-6)
        np.testing.assert_allclose(q[-1], prob.q_goal, atol=1e-6)


def test_solver_failures_are_counted_not_raised():
    from ambient_bench.datagen.arm_rrt import generate_arm_rrt

    out = generate_arm_rrt([0, 1], max_checks=1, n_attempts=2)
    assert out.n_failed == 2 and not out.episodes
    assert sum(out.stats["failed_attempts"].values()) == 4
    assert sum(out.stats["failed_slot_pairs"].values()) == 2


def test_gym_env_passes_check_env_and_matches_the_task_problems():
    import gymnasium
    from gymnasium.utils.env_checker import check_env

    env = gymnasium.make("ambient_bench/Arm7-v0").unwrapped
    check_env(env)
    obs, info = env.reset(seed=7)
    prob = arm.problem(7)
    np.testing.assert_allclose(obs, np.concatenate([prob.q_start, prob.q_goal]).astype(np.float32))
    _, reward, terminated, truncated, record = env.step(np.zeros((64, 7), dtype=np.float32))  # the straight line
    assert terminated and not truncated
    assert reward == float(arm.plan_problem(env.scene, arm.straight_line(prob.q_start, prob.q_goal), prob.q_goal) is None)


def test_task_checks_whole_plans_however_they_are_chunked(scene):
    from ambient_bench.datagen.arm_rrt import generate_arm_rrt

    stored = generate_arm_rrt([4]).episodes[0]
    seeds = np.array([4, 4, 5])
    task = arm.ArmTask()
    obs = task.reset(seeds)
    np.testing.assert_allclose(obs[0], stored.obs[0], atol=1e-6)
    into_the_table = np.tile([0.0, 2.0, 0, 0, 0, 0, 0], (64, 1))  # shoulder bent far forward mid-plan
    plans = np.stack([stored.action, stored.action, into_the_table])
    task.step(plans[:, :40])
    assert not task.done.any()
    task.step(plans[:, 40:])
    assert task.done.all()
    one_shot = arm.ArmTask()
    one_shot.reset(seeds)
    one_shot.step(plans)
    assert task.records() == one_shot.records()
    first, second, third = task.records()
    assert first["success"] and first == second and first["goal_error_rad"] < 1e-6
    assert np.asarray(first["tool_path"]).shape == (65, 3)
    assert not third["success"] and third["failure"] in ("collides", "joint limits")
    agg = task.aggregate(task.records())
    assert agg["success_rate"] == pytest.approx(2 / 3)
    assert agg["accel_sq_mean"] == pytest.approx(first["accel_sq"])
    assert task.aggregate(task.records())["collision_rate"] == float(third["collision"]) / 3


def test_task_rejects_unknown_slots_problem_sets_and_tolerances():
    with pytest.raises(ValueError, match="unknown slot"):
        arm.ArmTask(slots=["table", "garage"])
    with pytest.raises(ValueError, match="unknown problems"):
        arm.ArmTask(problems="anywhere")
    with pytest.raises(ValueError, match="goal_tolerance_rad"):
        arm.ArmTask(goal_tolerance_rad=3.0)
