"""Finetuning as a table entry: the entry's baseline trains as usual (its pretraining, a job of
its own that a plain row of that baseline and every finetuning of it share), then continues on
clean data only for ``finetune_steps`` steps."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import ambient_bench.policy.trainer as trainer_module
from ambient_bench.config.sections import ConfigError
from ambient_bench.config.suites import load_suite
from ambient_bench.jobs.executors import InProcessExecutor
from ambient_bench.jobs.plan import FINETUNE_BASELINE, Plan, RunSpec
from ambient_bench.pipeline.checks import validate_run
from ambient_bench.pipeline.runner import Runner
from ambient_bench.data import load_dataset
from ambient_bench.policy.baseline import make_baseline
from ambient_bench.policy.policy import load_checkpoint, policy_from_checkpoint
from ambient_bench.policy.sampler import NoiseBandSampler

FINETUNED = [
    "baselines.ambient={grid: {sigma_min: [0.2]}}",
    "baselines.ambient_ft={baseline: ambient, grid: {sigma_min: [0.2]}, finetune_steps: 6}",
    "baselines.ambient_ft_long={baseline: ambient, grid: {sigma_min: [0.2]}, finetune_steps: 12}",
    "baselines.cotrain_ft={baseline: cotrain, grid: {alpha: [0.1]}, finetune_steps: 6}",
]
ENTRIES = ["ambient", "ambient_ft", "ambient_ft_long", "cotrain_ft"]


def finetune_plan(tmp_path, extra=()) -> Plan:
    return Plan(load_suite("maze", "smoke", [*FINETUNED, "final_seeds=1", *extra]), "smoke", tmp_path, ENTRIES)


def test_a_finetuned_runs_pretraining_is_the_plain_row_of_its_baseline(tmp_path):
    plan = finetune_plan(tmp_path)
    point = (("sigma_min", 0.2),)
    plain, finetuned, longer = (RunSpec(e, point, 0) for e in ("ambient", "ambient_ft", "ambient_ft_long"))
    assert plan.pretraining(plain) is None
    assert plan.run_dir(plan.pretraining(finetuned)) == plan.run_dir(plain)
    assert plan.run_dir(plan.pretraining(longer)) == plan.run_dir(plain)
    assert len({plan.run_dir(r) for r in (plain, finetuned, longer)}) == 3
    assert plan.run_key(finetuned)["finetune"]["baseline"] == FINETUNE_BASELINE
    assert plan.run_key(finetuned)["finetune"]["train"]["steps"] == 6
    assert "finetune" not in plan.run_key(plain)


def test_a_finetune_learning_rate_keys_only_the_clean_phase(tmp_path):
    plan = finetune_plan(tmp_path, ["baselines.ambient_ft.finetune_lr=3.0e-5"])
    default = finetune_plan(tmp_path)
    point = (("sigma_min", 0.2),)
    slow, fast = RunSpec("ambient_ft", point, 0), RunSpec("ambient_ft_long", point, 0)
    assert plan.finetune_train(slow).lr == 3.0e-5
    assert plan.finetune_train(fast).lr == plan.suite.train.lr
    assert plan.run_dir(plan.pretraining(slow)) == plan.run_dir(plan.pretraining(fast))
    assert plan.run_dir(slow) != default.run_dir(slow)
    assert plan.run_dir(fast) == default.run_dir(fast)


@pytest.fixture
def trainings(monkeypatch) -> list[str]:
    """The directory name of every training run in this process, in order."""
    names = []
    real_train = trainer_module.train

    def counted_train(run_dir, *args, **kwargs):
        names.append(run_dir.name)
        return real_train(run_dir, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "train", counted_train)
    return names


def test_the_pretraining_trains_once_for_every_run_that_needs_it_and_the_clean_phase_starts_from_it(
        tmp_path, trainings):
    started = []

    class Recording(InProcessExecutor):
        def submit(self, fn, job):
            if fn.__name__ == "run_train":
                started.append(job)
            return super().submit(fn, job)

    plan = finetune_plan(tmp_path)
    runner = Runner(plan.suite, "smoke", tmp_path, entries=ENTRIES, progress=False, executor=Recording(progress=False))
    runner.run("eval")

    point = (("sigma_min", 0.2),)
    shared = plan.run_dir(RunSpec("ambient", point, 0))
    cotrain_pre = plan.run_dir(plan.pretraining(RunSpec("cotrain_ft", (("alpha", 0.1),), 0)))
    assert sorted(trainings) == sorted({shared.name, cotrain_pre.name, *(plan.run_dir(r).name for r in
                                        plan.sweep_runs() if r.entry != "ambient")})
    assert len(trainings) == 5  # ambient (shared by both finetunings), cotrain, and three clean phases
    by_dir = {job.run_dir: job for job in started}
    for entry, steps in (("ambient_ft", 6), ("ambient_ft_long", 12)):
        job = by_dir[plan.run_dir(RunSpec(entry, point, 0))]
        assert job.baseline == FINETUNE_BASELINE and job.params == {}
        assert job.train["steps"] == steps and job.init_checkpoint == str(shared / "checkpoint.pt")

    pretrained = load_checkpoint(shared / "checkpoint.pt")
    finetuned = load_checkpoint(plan.run_dir(RunSpec("ambient_ft", point, 0)) / "checkpoint.pt")
    assert finetuned["finetuned_from"] == {"step": pretrained["step"], **pretrained["baseline"]}
    assert finetuned["baseline"]["name"] == FINETUNE_BASELINE and finetuned["step"] == 6
    # the normaliser is the pretraining's (fitted on both sources), the weights moved on
    assert finetuned["normalizer"] == pretrained["normalizer"]
    assert any(not torch.equal(finetuned["ema"][k], pretrained["ema"][k]) for k in pretrained["ema"])
    for entry in ENTRIES:
        assert (plan.run_dir(RunSpec(entry, plan.grid_points(entry)[0], 0)) / "eval-test.json").exists()

    # the clean phase's data rule draws clean samples only
    datasets = {name: load_dataset(d) for d, (_, name) in plan.datasets().items()}
    policy = policy_from_checkpoint(pretrained)
    sampler = NoiseBandSampler(datasets, make_baseline(FINETUNE_BASELINE, {}), policy.schedule,
                               policy.config.horizon, policy.normalizer, policy.config.window_starts)
    assert not sampler.sample(512, torch.Generator().manual_seed(0)).is_corrupt.any()

    trainings.clear()
    Runner(plan.suite, "smoke", tmp_path, entries=ENTRIES, progress=False).run("eval")
    assert trainings == []  # every phase comes from the cache


@pytest.mark.parametrize("override, message", [
    ("baselines.ambient_ft.finetune_steps=-1", "baselines.ambient_ft.finetune_steps: must be >= 0"),
    ("baselines.ambient_ft.finetune_lr=0", "baselines.ambient_ft.finetune_lr: must be > 0"),
    ("baselines.ambient_ft.grid.finetune_steps=[6, -1]",
     "baselines.ambient_ft.grid.finetune_steps: -1 must be an integer >= 0"),
    ("baselines.ambient_ft.grid.finetune_lr=[0.0]", "baselines.ambient_ft.grid.finetune_lr: 0.0 must be > 0 "
                                                    "(or null: the suite's lr)"),
])
def test_a_bad_finetune_setting_is_one_line_and_exit_2(override, message, tmp_path):
    args = [sys.executable, "-m", "ambient_bench.run", "--suite", "maze", "--preset", "smoke", "--out",
            str(tmp_path / "out"), "--baselines", "ambient_ft", "--set", FINETUNED[1], "--set", override]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {message}"]
    assert not (tmp_path / "out").exists()


def test_finetuning_needs_a_clean_dataset(tmp_path):
    plan = finetune_plan(tmp_path, ["datasets.clean.source=corrupt"])
    with pytest.raises(ConfigError, match="finetune_steps: the finetuning phase trains on clean data"):
        validate_run(plan)


SELECTED = "baselines.ambient_sel={baseline: ambient, grid: {sigma_min: [0.2], finetune_steps: [0, 6]}}"


def test_a_grid_over_finetune_steps_shares_one_pretraining_and_keys_each_phase_as_an_entry_would(tmp_path):
    """Sweeping ``finetune_steps`` lets validation choose it: its 0 point is the plain row of
    the baseline (the same directory), its other points finetune that run, keyed exactly as
    an entry with the same ``finetune_steps`` is. The baseline never sees the setting."""
    plan = Plan(load_suite("maze", "smoke", [*FINETUNED, SELECTED, "baselines.ambient_sel.grid.finetune_lr=[null, "
                                             "3.0e-5]"]), "smoke", tmp_path, [*ENTRIES, "ambient_sel"])
    runs = {(dict(p)["finetune_steps"], dict(p)["finetune_lr"]): RunSpec("ambient_sel", p, 0)
            for p in plan.grid_points("ambient_sel")}
    assert len(runs) == 4
    plain = plan.run_dir(RunSpec("ambient", (("sigma_min", 0.2),), 0))
    assert plan.run_dir(runs[0, None]) == plan.run_dir(runs[0, 3.0e-5]) == plain
    assert plan.pretraining(runs[0, None]) is None
    assert plan.run_dir(plan.pretraining(runs[6, None])) == plan.run_dir(plan.pretraining(runs[6, 3.0e-5])) == plain
    assert plan.run_key(runs[6, None]) == plan.run_key(RunSpec("ambient_ft", (("sigma_min", 0.2),), 0))
    assert plan.finetune_train(runs[6, 3.0e-5]).lr == 3.0e-5 and plan.finetune_train(runs[6, None]).steps == 6
    assert all(r.baseline_params == {"sigma_min": 0.2} for r in runs.values())
    assert plan.run_dir(runs[6, None]).name.startswith("ambient_sel-finetune_lr=None,finetune_steps=6,sigma_min=0.2-")


def test_validation_chooses_among_finetune_steps_and_the_zero_point_trains_no_second_time(tmp_path, trainings):
    suite = load_suite("maze", "smoke", [SELECTED, "final_seeds=1"])
    Runner(suite, "smoke", tmp_path, entries=["ambient_sel"], progress=False).run("all")
    plan = Plan(suite, "smoke", tmp_path, ["ambient_sel"])
    zero, six = (RunSpec("ambient_sel", p, 0) for p in plan.grid_points("ambient_sel"))
    assert sorted(trainings) == sorted([plan.run_dir(zero).name, plan.run_dir(six).name])
    baseline = load_checkpoint(plan.run_dir(zero) / "checkpoint.pt")["baseline"]
    assert baseline["name"] == "ambient" and baseline["params"]["sigma_min"] == 0.2
    assert "finetune_steps" not in baseline["params"]
    for run in (zero, six):
        assert (plan.run_dir(run) / "eval-validation.json").exists()
    table = (plan.root / "table.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| ambient_sel |"))
    assert row.split(" | ")[1] in ("finetune_steps=0,sigma_min=0.2", "finetune_steps=6,sigma_min=0.2")
