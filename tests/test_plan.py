"""The plan of a run: what a resolved suite config implies, computed without running or writing anything."""

from __future__ import annotations

import pytest

from ambient_bench.config.sections import ConfigError
from ambient_bench.config.suites import load_suite
from ambient_bench.jobs.plan import Plan, RunSpec, eval_path


@pytest.fixture
def plan(tmp_path):
    return Plan(load_suite("maze", "smoke"), "smoke", tmp_path)


def test_plan_computes_paths_without_writing(plan, tmp_path):
    runs = plan.sweep_runs()
    dirs = [plan.run_dir(r) for r in runs] + list(plan.datasets()) + [plan.annotate_dir]
    assert all(d.is_relative_to(tmp_path / "maze" / "smoke") for d in dirs)
    assert list(tmp_path.iterdir()) == []


def test_entries_default_to_the_suite_and_reject_unknown_names(tmp_path):
    suite = load_suite("maze", "smoke")
    assert Plan(suite, "smoke", tmp_path).entries == list(suite.baselines)
    with pytest.raises(ConfigError, match="unknown entry 'nope'"):
        Plan(suite, "smoke", tmp_path, entries=["nope"])


def test_a_registered_baseline_outside_the_suite_joins_with_its_defaults(tmp_path):
    suite = load_suite("maze", "smoke")
    assert "locality" not in suite.baselines
    plan = Plan(suite, "smoke", tmp_path, entries=["locality"])
    assert plan.grid_points("locality") == [()]
    assert plan.sweep_runs() == [RunSpec("locality", (), 0)]


def test_sweep_covers_every_grid_point_and_seed(plan):
    grids = {e: plan.grid_points(e) for e in plan.entries}
    assert grids["ambient"] == [(("sigma_min", 0.074),), (("sigma_min", 0.2),)]
    runs = plan.sweep_runs()
    assert len(runs) == sum(len(points) for points in grids.values()) * plan.suite.sweep_seeds
    assert len({plan.run_dir(r) for r in runs}) == len(runs)  # every run has its own directory


def test_each_dataset_once_keyed_by_its_spec(plan):
    wanted = plan.datasets()
    assert sorted(name for _, name in wanted.values()) == ["clean", "corrupt"]
    suite = plan.suite
    bigger = load_suite("maze", "smoke", ["datasets.clean.n_episodes=5"])
    assert plan.dataset_dir(bigger, "clean") != plan.dataset_dir(suite, "clean")
    assert plan.dataset_dir(bigger, "corrupt") == plan.dataset_dir(suite, "corrupt")


def test_run_keys(tmp_path):
    suite = load_suite("maze", "smoke")
    plan = Plan(suite, "smoke", tmp_path)
    run = RunSpec("ambient", (("sigma_min", 0.2),), 0)
    assert plan.run_dir(run).name.startswith("ambient-sigma_min=0.2-s0-")
    assert plan.run_dir(run) != plan.run_dir(RunSpec("ambient", (("sigma_min", 0.2),), 1))
    assert plan.run_dir(run) != Plan(suite, "smoke", tmp_path, torch_threads=2).run_dir(run)
    # a GPU run gets its own key; the CPU key is the one runs had before devices were an option
    assert plan.run_dir(run) != Plan(suite, "smoke", tmp_path, device="cuda").run_dir(run)
    assert plan.run_dir(run) == Plan(suite, "smoke", tmp_path, device="cpu").run_dir(run)
    # a policy option is part of the key
    v = Plan(load_suite("maze", "smoke", ["policy.prediction=v"]), "smoke", tmp_path)
    v_sample = Plan(load_suite("maze", "smoke", ["policy.prediction=v", "policy.loss_weight_cap=1"]), "smoke", tmp_path)
    assert v.run_dir(run) != v_sample.run_dir(run)
    edm = [Plan(load_suite("maze", "smoke", ["policy.prediction=edm", f"policy.sigma_data={d}"]), "smoke", tmp_path)
           for d in (0.5, 0.1)]
    assert len({v.run_dir(run), edm[0].run_dir(run), edm[1].run_dir(run)}) == 3
    # a later option at its default keeps the key runs had before it existed
    pinned = Plan(load_suite("maze", "smoke", ["policy.final_action=zero"]), "smoke", tmp_path)
    assert pinned.run_dir(run) != plan.run_dir(run)
    assert Plan(load_suite("maze", "smoke", ["policy.final_action=free"]), "smoke", tmp_path).run_dir(run) == plan.run_dir(run)
    # Only runs that read the classifier's annotation depend on its config.
    other = Plan(load_suite("maze", "smoke", ["classifier.steps=21"]), "smoke", tmp_path)
    classified = RunSpec("ambient_classifier", (("granularity", "dataset"),), 0)
    assert other.run_dir(classified) != plan.run_dir(classified)
    assert other.run_dir(run) == plan.run_dir(run)
    assert other.classifier_key() != plan.classifier_key()


def test_precision_is_part_of_a_runs_key_only_when_not_fp32(tmp_path):
    """fp32 (the default) leaves the key as it was before the option; bf16 is a key of its own."""
    run = RunSpec("ambient", (("sigma_min", 0.2),), 0)
    plans = {p: Plan(load_suite("maze", "smoke", [f"policy.precision={p}"]), "smoke", tmp_path) for p in ("fp32", "bf16")}
    default = Plan(load_suite("maze", "smoke"), "smoke", tmp_path)
    assert "precision" not in plans["fp32"].run_key(run)["policy"]
    assert plans["fp32"].run_dir(run) == default.run_dir(run)
    assert plans["bf16"].run_key(run)["policy"]["precision"] == "bf16"
    assert plans["bf16"].run_dir(run) != default.run_dir(run)


def test_selection_picks_the_best_validation_mean_then_the_lower_tiebreak(plan):
    a, b = plan.grid_points("ambient")
    validation = {RunSpec("ambient", a, 0): {"aggregate": {"success_rate": 0.5, "accel_sq_mean": 5.0}},
                  RunSpec("ambient", b, 0): {"aggregate": {"success_rate": 0.5, "accel_sq_mean": 1.0}},
                  RunSpec("cotrain", plan.grid_points("cotrain")[0], 0): {"aggregate": {"success_rate": float("nan")}}}
    plan.entries = ["ambient", "cotrain"]
    chosen = {entry: plan.select_entry(entry, validation) for entry in plan.entries}
    assert chosen == {"ambient": b, "cotrain": plan.grid_points("cotrain")[0]}
    assert plan.final_runs(chosen) == [RunSpec("ambient", b, s) for s in range(plan.suite.final_seeds)] + [
        RunSpec("cotrain", chosen["cotrain"], s) for s in range(plan.suite.final_seeds)]
    plan.suite.baselines["cotrain"].seeds = plan.suite.final_seeds + 2  # an entry's own seeds
    cotrain_seeds = [run.seed for run in plan.final_runs(chosen) if run.entry == "cotrain"]
    assert cotrain_seeds == list(range(plan.suite.final_seeds + 2))
    assert len(plan.final_runs(chosen)) == 2 * plan.suite.final_seeds + 2


def test_evaluation_seeds_and_paths(plan):
    validation, test = plan.eval_seeds("validation"), plan.eval_seeds("test")
    assert len(validation) == plan.suite.eval.n_validation and len(test) == plan.suite.eval.n_test
    assert not set(validation) & set(test)
    with pytest.raises(ValueError, match="unknown split"):
        plan.eval_seeds("train")
    run_dir = plan.run_dir(plan.sweep_runs()[0])
    assert eval_path(run_dir, "test") == run_dir / "eval-test.json"


def test_a_suite_package_is_keyed_as_a_whole():
    """Constants imported from one module of a suite package carry no module name, so every
    module of the package counts for the dataset key; a top-level suite module counts alone."""
    import ambient_bench.envs.binsort  # noqa: F401
    from ambient_bench.jobs.provenance import suite_modules

    package = suite_modules("ambient_bench.envs.binsort.rules")
    assert {"ambient_bench.envs.binsort.scene", "ambient_bench.envs.binsort.sim", "ambient_bench.envs.binsort"} <= set(package)
    assert suite_modules("ambient_bench.envs.maze_layout") == ["ambient_bench.envs.maze_layout"]
