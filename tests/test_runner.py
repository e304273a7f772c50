"""The runner end to end on the maze smoke preset: outputs, caching, resume, selection."""

import json
import logging
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import ambient_bench.jobs.functions as jobs
from ambient_bench.config.suites import load_suite
from ambient_bench.jobs.plan import Plan
from ambient_bench.pipeline.runner import Runner
from ambient_bench.policy.schedule import NoiseSchedule

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    suite = load_suite("maze", "smoke")
    runner = Runner(suite, "smoke", out, progress=False)
    runner.run()
    return runner


def test_smoke_run_writes_every_output(smoke_run):
    root = smoke_run.root
    for name in ("summary.csv", "table.md", "pareto.png", "rollouts.png", "datasets.png", "provenance.json",
                 "config.json"):
        assert (root / name).exists(), name
    summary = pd.read_csv(root / "summary.csv")
    for column in ("suite", "preset", "baseline", "params", "seed", "split", "n_trials", "success_rate",
                   "accel_sq_mean", "selected"):
        assert column in summary.columns, column
    assert set(summary.split) == {"validation", "test"}
    assert ",," not in (root / "summary.csv").read_text()  # undefined metrics are written as NaN
    assert set(summary.baseline) == set(smoke_run.plan.suite.baselines)
    table = (root / "table.md").read_text()
    for entry in smoke_run.plan.suite.baselines:
        assert f"| {entry} |" in table
    run_dir = next((root / "runs").iterdir())
    for name in ("config.json", "provenance.json", "train_log.jsonl", "checkpoint.pt", "eval-validation.json"):
        assert (run_dir / name).exists(), name
    provenance = json.loads((run_dir / "provenance.json").read_text())
    assert {"git_sha", "git_dirty", "package_versions", "machine", "datasets_sha256"} <= set(provenance)
    # the SIMD level torch dispatches to decides whether another machine's rerun matches to the last digit
    assert f"{torch.backends.cpu.get_cpu_capability()} kernels" in provenance["machine"]


def test_the_job_graphs_progress_counts_the_final_seeds_from_the_start(tmp_path, monkeypatch, caplog):
    """With more final seeds than sweep seeds, selection unlocks more training: the progress
    total counts those jobs from the first line, so it never grows ("14 of 16", "15 of 18")."""
    import ambient_bench.pipeline.runner as runner_module

    monkeypatch.setattr(runner_module, "run_train", lambda job: job.run_dir)
    monkeypatch.setattr(runner_module, "run_eval", lambda job: {"aggregate": {"success_rate": 0.5}})
    runner = Runner(load_suite("maze", "smoke", ["final_seeds=3"]), "smoke", tmp_path, progress=False)
    with caplog.at_level("INFO", logger="ambient_bench.jobs.executors"):
        runner.train_select_test(runner.plan.sweep_runs())
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("training runs and evaluations")]
    n_sweep, n_entries = len(runner.plan.sweep_runs()), len(runner.plan.entries)
    n_jobs = 3 * n_sweep + 2 * 2 * n_entries  # two more seeds per entry, each trained and tested
    assert lines == [f"training runs and evaluations: {k} of {n_jobs} jobs done" for k in range(1, n_jobs + 1)]


def test_selection_uses_validation_only(smoke_run):
    summary = pd.read_csv(smoke_run.root / "summary.csv")
    val = summary[summary.split == "validation"]
    for entry, rows in val.groupby("baseline"):
        means = rows.groupby("params").success_rate.mean()
        selected = summary[(summary.baseline == entry) & summary.selected].params.unique()
        assert len(selected) == 1
        assert means[selected[0]] == means.max()


def test_select_ignores_test_results(tmp_path):
    from ambient_bench.jobs.plan import Plan, RunSpec

    plan = Plan(load_suite("maze", "smoke"), "smoke", tmp_path, entries=["ambient"])
    a, b = plan.grid_points("ambient")
    validation = {RunSpec("ambient", a, 0): {"aggregate": {"success_rate": 0.9, "accel_sq_mean": 5.0}},
                  RunSpec("ambient", b, 0): {"aggregate": {"success_rate": 0.5, "accel_sq_mean": 1.0}}}
    assert plan.select_entry("ambient", validation) == a


def test_second_invocation_does_no_work(smoke_run, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a cached job was recomputed")

    monkeypatch.setattr("ambient_bench.policy.trainer.train", forbidden)
    monkeypatch.setattr(jobs, "evaluate", forbidden)
    monkeypatch.setattr(jobs, "write_shard", forbidden)
    Runner(smoke_run.plan.suite, "smoke", smoke_run.root.parent.parent, progress=False).run()


def test_cached_evaluation_is_reused_only_when_whole_and_made_the_same_way(tmp_path, caplog):
    """A stored evaluation is a cache: a different key or trial count, or a damaged file, is
    recomputed, each with one line that says why."""
    path = tmp_path / "eval-test.json"
    stored = {"records": [{"success": True}] * 3, "aggregate": {"success_rate": 1.0}, "key": "k"}
    path.write_text(json.dumps(stored))
    assert jobs.read_eval(path, "k", 3) == stored
    with caplog.at_level("INFO", logger=jobs.log.name):
        assert jobs.read_eval(path, "other", 3) is None
        assert jobs.read_eval(path, "k", 5) is None
        path.write_text(json.dumps({"records": 3}))
        assert jobs.read_eval(path, "k", 3) is None
        path.write_text('{"records": [')
        assert jobs.read_eval(path, "k", 3) is None
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records] == [
        "the checkpoint or the evaluation settings changed",
        "it holds 3 trials, this evaluation asks for 5",
        "malformed (no records or aggregate)",
        "the file is not valid JSON (truncated?)"]


def validate(runner: Runner, runs: list) -> dict:
    results = runner.executor.map(jobs.run_eval, [runner.eval_job(run, "validation") for run in runs], "validation")
    return dict(zip(runs, results))


def test_swapped_checkpoints_are_both_re_evaluated(smoke_run, monkeypatch):
    """An evaluation is keyed by its checkpoint's bytes: replacing a checkpoint (a retrain, new
    code) re-evaluates it, and the evaluator is deterministic, so the swapped pair trade results."""
    runs = [r for r in smoke_run.plan.sweep_runs() if r.entry in ("clean_only", "corrupt_only")]
    before = validate(smoke_run, runs)
    a, b = (smoke_run.plan.run_dir(r) / "checkpoint.pt" for r in runs)

    def swap():
        tmp = a.with_name("swap.pt")
        a.rename(tmp)
        b.rename(a)
        tmp.rename(b)

    calls = []
    real = jobs.evaluate
    monkeypatch.setattr(jobs, "evaluate", lambda *args, **kw: calls.append(1) or real(*args, **kw))
    swap()
    try:
        after = validate(smoke_run, runs)
    finally:
        swap()
    assert len(calls) == 2
    assert after[runs[0]]["records"] == before[runs[1]]["records"]
    assert after[runs[1]]["records"] == before[runs[0]]["records"]
    assert after[runs[0]]["key"] != before[runs[0]]["key"]
    restored = validate(smoke_run, runs)
    assert len(calls) == 4 and restored[runs[0]]["records"] == before[runs[0]]["records"]


def test_an_evaluation_is_recomputed_when_the_samplers_steps_change(smoke_run, monkeypatch):
    """The steps at which the sampler calls the network follow from code as well as from the
    settings (the flow sampler's start moved from tau 0.85 to 1): an evaluation made with other
    steps is not reused, and one made with these is."""
    run = next(r for r in smoke_run.plan.sweep_runs() if r.entry == "clean_only")
    before = validate(smoke_run, [run])[run]
    calls = []
    real = jobs.evaluate
    monkeypatch.setattr(jobs, "evaluate", lambda *args, **kw: calls.append(1) or real(*args, **kw))
    assert validate(smoke_run, [run])[run]["key"] == before["key"] and not calls
    steps = NoiseSchedule.ddim_timesteps
    monkeypatch.setattr(NoiseSchedule, "ddim_timesteps", lambda self, n: [t + 1 for t in steps(self, n)])
    changed = validate(smoke_run, [run])[run]
    assert len(calls) == 1 and changed["key"] != before["key"]
    monkeypatch.setattr(NoiseSchedule, "ddim_timesteps", steps)
    assert validate(smoke_run, [run])[run]["records"] == before["records"] and len(calls) == 2


def test_no_stage_barrier_an_entrys_final_seeds_train_once_its_own_sweep_is_validated(tmp_path):
    """The sweep, validation, selection, final seeds and test evaluations are one job graph: the
    entry with the most grid points starts first, its final seed trains as soon as its own grid
    points are validated (before other entries' sweep runs), and each run's evaluations follow
    its training at once."""
    from ambient_bench.jobs.executors import InProcessExecutor

    started = []

    class Recording(InProcessExecutor):
        def submit(self, fn, job):
            if hasattr(job, "run_dir"):
                started.append((fn.__name__, job.run_dir.name, getattr(job, "split", None)))
            return super().submit(fn, job)

    suite = load_suite("maze", "smoke", ["final_seeds=2"])
    runner = Runner(suite, "smoke", tmp_path, progress=False, executor=Recording(progress=False))
    runner.run("eval")
    plan = runner.plan
    sweep = {plan.run_dir(run).name: run for run in plan.sweep_runs()}
    trained = [name for fn, name, _ in started if fn == "run_train"]
    assert [sweep[name].entry for name in trained[:2]] == ["ambient", "ambient"]  # 2 grid points, the most
    assert trained[2] not in sweep and trained[2].startswith("ambient-") and "-s1-" in trained[2]
    for i, (fn, name, _) in enumerate(started):
        if fn == "run_train":  # its first evaluation next: validation for a sweep run, else test
            assert started[i + 1] == ("run_eval", name, "validation" if name in sweep else "test"), started[i:i + 2]
    assert len(trained) == len(sweep) + len(plan.entries)
    assert sorted(n for f, n, split in started if split == "test") == sorted(trained)


def test_dataset_key_covers_generator_code_and_task(smoke_run, monkeypatch):
    import ambient_bench.jobs.plan as plan_module

    suite = smoke_run.plan.suite
    before = smoke_run.plan.dataset_dir(suite, "clean")
    monkeypatch.setattr(plan_module, "suite_code_version", lambda module: "edited")
    assert smoke_run.plan.dataset_dir(suite, "clean") != before
    monkeypatch.undo()
    other_task = load_suite("maze", "smoke", ["task_params.max_steps=40"])
    assert smoke_run.plan.dataset_dir(other_task, "clean") != before


def test_resume_after_kill_between_jobs_and_inside_writes(smoke_run):
    runs = sorted((smoke_run.root / "runs").iterdir())
    killed_before_eval, torn_eval, torn_checkpoint = runs[0], runs[1], runs[2]
    (killed_before_eval / "eval-test.json").unlink()
    eval_path = torn_eval / "eval-validation.json"
    eval_path.write_text(eval_path.read_text()[:200])
    ckpt = torn_checkpoint / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    untouched = runs[3] / "checkpoint.pt"
    mtime = untouched.stat().st_mtime_ns
    Runner(smoke_run.plan.suite, "smoke", smoke_run.root.parent.parent, progress=False).run()
    assert (killed_before_eval / "eval-test.json").exists()
    assert json.loads(eval_path.read_text())["n_trials"] == smoke_run.plan.suite.eval.n_validation
    jobs.load_checkpoint(ckpt)  # readable again
    assert untouched.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("args,message", [
    (["--suite", "mase"], "valid suites"),
    (["--suite", "maze", "--preset", "huge"], "valid presets"),
    (["--suite", "maze", "--baselines", "clean_only,ambiant"], "valid: clean_only"),
    (["--suite", "maze", "--set", "train.stepz=3"], "train.stepz"),
    (["--suite", "maze", "--set", "classifier.features=relative"], "not one of absolute, centred"),
    (["--suite", "maze", "--set", "baselines.ambient.seeds=0"],
     "baselines.ambient.seeds: 0 must be >= 1 (or null: final_seeds)"),
])
def test_cli_bad_input_exits_2_with_valid_names(args, message, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ambient_bench.run", *args, "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not any(tmp_path.iterdir())


def test_binsort_smoke_through_the_same_runner(tmp_path):
    """The second suite through the same CLI path, including a task-conditioned entry
    (suite_overrides change the datasets and the task) and the logic/motion metrics."""
    suite = load_suite("binsort", "smoke")
    runner = Runner(suite, "smoke", tmp_path, entries=["clean_only", "locality_task_conditioned"], progress=False)
    runner.run()
    summary = pd.read_csv(runner.root / "summary.csv")
    assert set(summary.baseline) == {"clean_only", "locality_task_conditioned"}
    assert {"logic_rate", "motion_rate", "success_rate"} <= set(summary.columns)
    datasets = sorted(p.name.split("-")[0] for p in (runner.root / "data").iterdir())
    assert datasets == ["clean", "clean", "corrupt", "corrupt"]  # plain and task-conditioned variants
    assert (runner.root / "pareto.png").exists() and (runner.root / "breakdown.png").exists()
    # the outcome breakdown: every block of a test episode has exactly one outcome
    test = summary[summary.split == "test"]
    outcomes = [c for c in summary.columns if c.startswith("outcome_")]
    assert len(outcomes) == 7 and np.allclose(test[outcomes].sum(axis=1), 1.0)
    table = (runner.root / "table.md").read_text()
    assert "## Outcome breakdown" in table and "| baseline | correct | wrong_bin | held_at_timeout |" in table
    records = json.loads(next((runner.root / "runs").glob("clean_only-s0-*/eval-test.json")).read_text())["records"]
    assert "actions" in records[0] and all(len(r["outcomes"]) == r["n_blocks"] for r in records)
    # the rollout frames replay those actions; they are drawn wherever the scene can be rendered (GL)
    assert (runner.root / "rollouts.png").exists() == (runner.root / "scene.png").exists()


def test_subset_run_merges_into_the_report(smoke_run):
    """Re-running one entry keeps every other entry's rows; columns and rows keep their order."""
    from ambient_bench.report.tables import ID_COLUMNS

    root = smoke_run.root
    before = pd.read_csv(root / "summary.csv")
    table_before = (root / "table.md").read_text()
    Runner(smoke_run.plan.suite, "smoke", root.parent.parent, entries=["clean_only"], progress=False).run()
    after = pd.read_csv(root / "summary.csv")
    pd.testing.assert_frame_equal(after, before)
    assert list(after.columns[:len(ID_COLUMNS)]) == ID_COLUMNS
    metrics = list(after.columns[len(ID_COLUMNS):])
    assert metrics == sorted(metrics)
    assert (root / "table.md").read_text() == table_before
    assert set(json.loads((root / "selection.json").read_text())) == set(smoke_run.plan.suite.baselines)


def test_a_report_made_before_an_option_was_added_still_merges(smoke_run):
    """An option added since the report was written, at its default, is not another config:
    a subset run keeps the other entries' rows."""
    root = smoke_run.root
    before = pd.read_csv(root / "summary.csv")
    config = json.loads((root / "config.json").read_text())
    for entry in config["baselines"].values():
        del entry["finetune_lr"]
    (root / "config.json").write_text(json.dumps(config))
    Runner(smoke_run.plan.suite, "smoke", root.parent.parent, entries=["clean_only"], progress=False).run()
    pd.testing.assert_frame_equal(pd.read_csv(root / "summary.csv"), before)
    assert "finetune_lr" in json.loads((root / "config.json").read_text())["baselines"]["clean_only"]


def copy_of_report(smoke_run, tmp_path: Path) -> Path:
    """The smoke run's whole root (report, data, runs) under ``tmp_path``, to change freely."""
    root = tmp_path / "maze" / "smoke"
    shutil.copytree(smoke_run.root, root)
    return root


def test_an_entrys_own_seeds_add_seeds_to_its_row_and_a_definition_added_keeps_the_other_rows(smoke_run, tmp_path):
    """``seeds`` on one entry trains that many seeds of its selected point (seed 0 from the
    cache: its key does not change); defining another entry, not run, drops no row."""
    root = copy_of_report(smoke_run, tmp_path)
    before = pd.read_csv(root / "summary.csv")
    runs_before = {p.name for p in (root / "runs").iterdir()}
    suite = load_suite("maze", "smoke", ["baselines.clean_only.seeds=2", "baselines.unrun={baseline: ambient}"])
    Runner(suite, "smoke", tmp_path, entries=["clean_only"], progress=False).run()
    after = pd.read_csv(root / "summary.csv")
    new_runs = {p.name for p in (root / "runs").iterdir()} - runs_before
    assert len(new_runs) == 1 and next(iter(new_runs)).startswith("clean_only-s1-")
    test = after[(after.baseline == "clean_only") & (after.split == "test")]
    assert sorted(test.seed) == [0, 1]
    seed0 = before[(before.baseline == "clean_only") & (before.split == "test")]
    pd.testing.assert_frame_equal(test[test.seed == 0].reset_index(drop=True), seed0.reset_index(drop=True))
    others = [frame[frame.baseline != "clean_only"].reset_index(drop=True) for frame in (after, before)]
    pd.testing.assert_frame_equal(*others)
    table = (root / "table.md").read_text()
    assert "(or the entry's own `seeds`: the seeds column)" in table
    assert re.search(r"^\| clean_only \| [^|]* \| 2 \|", table, re.M)


def test_a_changed_definition_of_another_entry_rewrites_the_report_with_this_runs_rows(smoke_run, tmp_path, caplog):
    root = copy_of_report(smoke_run, tmp_path)
    suite = load_suite("maze", "smoke", ["baselines.ambient.grid.sigma_min=[0.3]"])
    with caplog.at_level(logging.WARNING):
        Runner(suite, "smoke", tmp_path, entries=["clean_only"], progress=False).run()
    assert set(pd.read_csv(root / "summary.csv").baseline) == {"clean_only"}
    assert "was made with another config" in caplog.text


def test_the_reports_provenance_is_taken_before_any_of_its_files_is_written(smoke_run, monkeypatch):
    """A report rebuilt inside the repository must record the tree it came from, not one its own files dirtied."""
    import ambient_bench.report.writer as writer

    summary = smoke_run.root / "summary.csv"
    before, seen, real = summary.stat().st_mtime_ns, [], writer.provenance
    monkeypatch.setattr(writer, "provenance", lambda *a: seen.append(summary.stat().st_mtime_ns) or real(*a))
    Runner(smoke_run.plan.suite, "smoke", smoke_run.root.parent.parent, progress=False).run()
    assert seen == [before] and summary.stat().st_mtime_ns != before


def test_the_reports_provenance_names_only_the_datasets_its_rows_use(smoke_run):
    """A dataset directory under the root that no reported entry reads (another variant's, or
    one copied in) is not listed as the report's data."""
    root = smoke_run.root
    used = {p.name for p in smoke_run.plan.datasets()}
    stray = root / "data" / "corrupt-0123456789abcdef"
    shutil.copytree(root / "data" / sorted(used)[0], stray)
    try:
        Runner(smoke_run.plan.suite, "smoke", root.parent.parent, entries=["clean_only"], progress=False).run()
        listed = json.loads((root / "provenance.json").read_text())["datasets_sha256"]
    finally:
        shutil.rmtree(stray)
    assert set(listed) == used and len(used) == 2


def test_damaged_shard_is_found_before_the_report_is_rewritten(smoke_run, capsys):
    """One line naming the file and the command that regenerates it; nothing downstream rewritten;
    running that command restores the dataset."""
    import shlex

    from ambient_bench.cli.run import main

    root = smoke_run.root
    shard = sorted((root / "data").glob("clean-*/shard-00000.npz"))[0]
    shard.write_bytes(shard.read_bytes()[:-100])
    summary_mtime = (root / "summary.csv").stat().st_mtime_ns
    argv = ["--suite", "maze", "--preset", "smoke", "--workers", "1", "--no-progress", "--out", str(root.parent.parent)]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(shard) in lines[0], lines
    assert (root / "summary.csv").stat().st_mtime_ns == summary_mtime
    command = lines[0].split("to regenerate it: ", 1)[1]
    remove, rerun = command.split(" && ")
    assert shlex.split(remove) == ["rm", "-r", str(shard.parent)]
    assert shlex.split(rerun)[3:] == argv
    subprocess.run(shlex.split(remove), check=True)
    assert main(argv) == 0
    jobs.load_dataset(shard.parent)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _gone_within(pids: list[int], timeout_s: float) -> bool:
    """Whether every process in ``pids`` has ended (or is a zombie) within ``timeout_s``: the
    run's children (the fork server, workers) finish exiting just after the run does."""
    deadline = time.monotonic() + timeout_s
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_sigterm_stops_two_workers_cleanly_and_the_run_resumes_to_the_same_results(smoke_run, tmp_path):
    """SIGTERM mid-training with --workers 2: exit within seconds, no worker left, no temp file,
    one line saying how to resume; the resumed run's summary equals the one-worker run's."""
    command = [sys.executable, "-m", "ambient_bench.run", "--suite", "maze", "--preset", "smoke", "--workers", "2",
               "--no-progress", "--out", str(tmp_path)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = tmp_path / "maze" / "smoke" / "runs"
    deadline = time.monotonic() + 300
    while not (runs.exists() and any(runs.iterdir()) and _children(proc.pid)):  # training in the pool
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted during training runs and evaluations: ") and "resume with: python -m ambient_bench.run --suite maze" in last
    assert _gone_within(workers, timeout_s=10)
    assert not list(tmp_path.rglob("*.tmp"))
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    resumed = pd.read_csv(tmp_path / "maze" / "smoke" / "summary.csv")
    pd.testing.assert_frame_equal(resumed, pd.read_csv(smoke_run.root / "summary.csv"))


def test_bf16_on_a_cpu_without_bf16_instructions_gets_one_warning_before_any_work(tmp_path, monkeypatch, caplog):
    """Emulated bf16 is legal but about 24x slower than fp32: the check says so once, and only
    when bf16 is asked for on such a CPU."""
    from ambient_bench.pipeline import checks

    bf16 = Plan(load_suite("maze", "smoke", ["policy.precision=bf16"]), "smoke", tmp_path)
    fp32 = Plan(load_suite("maze", "smoke"), "smoke", tmp_path)
    for native, plan, expected in ((False, bf16, 1), (True, bf16, 0), (False, fp32, 0)):
        monkeypatch.setattr(checks, "native_bf16_cpu", lambda: native)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ambient_bench.pipeline.checks"):
            checks.validate_run(plan)
        assert sum("without bf16 instructions" in r.getMessage() for r in caplog.records) == expected
    assert list(tmp_path.iterdir()) == []
