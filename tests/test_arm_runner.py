"""The arm suite end to end through the runner (smoke preset) and its config errors."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ambient_bench.config.suites import load_suite
from ambient_bench.data import load_dataset
from ambient_bench.envs import arm
from ambient_bench.pipeline.runner import Runner

pytestmark = pytest.mark.slow


def test_arm_smoke_end_to_end(tmp_path):
    suite = load_suite("arm", "smoke")
    runner = Runner(suite, "smoke", tmp_path, progress=False)
    runner.run()
    root = runner.root
    for name in ("summary.csv", "table.md", "pareto.png", "rollouts.png", "datasets.png", "scene.png"):
        assert (root / name).stat().st_size > 0, name
    summary = pd.read_csv(root / "summary.csv")
    assert set(summary.baseline) == set(suite.baselines)
    assert {"collision_rate", "accel_sq_mean", "accel_sq_all_mean"} <= set(summary.columns)
    assert summary.accel_sq_all_mean.notna().all()  # defined whatever the success rate
    scene = arm.arm_scene()
    for name in suite.datasets:
        directory = runner.plan.dataset_dir(suite, name)
        ds = load_dataset(directory)
        assert ds.n_episodes >= 1
        for i in range(ds.n_episodes):  # the dataset holds only plans the evaluator accepts
            episode = ds.episode(i)
            assert arm.plan_problem(scene, arm.plan_from_episode(episode), episode.obs[0, 7:]) is None
        records = [json.loads(p.read_text()) for p in directory.glob("shard-*.json")]
        n_failed = sum(r["n_failed"] for r in records)
        assert ds.n_episodes + n_failed == suite.datasets[name].n_episodes
        counted = sum(sum(r["stats"]["failed_slot_pairs"].values()) + r["stats"]["failed_attempts"].get(
            "no start/goal (IK)", 0) for r in records)
        assert counted == n_failed
    run = next(p for p in (root / "runs").iterdir() if p.name.startswith("ambient-"))
    policy = json.loads((run / "config.json").read_text())["suite"]["policy"]
    assert policy["window_starts"] == "episode_start" and policy["final_action"] == "zero"
    evaluation = json.loads((run / "eval-test.json").read_text())
    assert evaluation["n_trials"] == suite.eval.n_test


@pytest.mark.parametrize("override, message", [
    ("task_params.slots=[table, attic]", "unknown slot 'attic'"),
    ("datasets.corrupt.params.slots=[cellar, table]", "unknown slot 'cellar'"),
    ("task_params.goal_tolerance_rad=2.0", "goal_tolerance_rad"),
    ("task_params.problems=garden", "unknown problems 'garden'"),
    ("policy.final_action=one", "policy.final_action"),
])
def test_arm_config_errors_exit_2_before_any_work(override, message, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ambient_bench.run", "--suite", "arm", "--preset", "smoke",
                           "--set", override, "--out", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not any(tmp_path.iterdir())
