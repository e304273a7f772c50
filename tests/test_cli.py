"""The command line's contract for bad input: one line naming the key, the bad value and the
valid choices, exit code 2, no traceback, nothing written; -v adds the traceback."""

import os
import subprocess
import sys

import pytest

from ambient_bench.cli.run import main

SMOKE = ["--suite", "maze", "--preset", "smoke", "--workers", "1", "--no-progress"]

BAD_INPUTS = [
    # (extra arguments, text the one line must contain)
    (["--suite", "mase"], "valid suites: arm, binsort, maze"),
    (["--suite", "nowhere/maze.yaml"], "nowhere/maze.yaml does not exist"),
    (["--preset", "huge"], "valid presets: smoke, quick, paper"),
    (["--baselines", "clean_only,ambiant"], "'ambiant'"),
    (["--stage", "bogus"], "invalid choice: 'bogus'"),
    (["--workers", "0"], "--workers: 0 must be >= 1"),
    (["--threads", "two"], "--threads: 'two' is not an integer"),
    (["--device", "gpu"], "--device: 'gpu' is not cpu, cuda or cuda:N"),
    (["--set", "train.stepz=3"], "unknown key train.stepz; valid keys here: batch_size"),
    (["--set", "train.lr=fast"], "train.lr: expected a number, got 'fast'"),
    (["--set", "train.steps=1.5"], "train.steps: expected an integer, got 1.5"),
    (["--set", "train.lr=[1,"], "override 'train.lr=[1,': the value is not valid YAML"),
    (["--set", "eval.n_validation=0"], "eval.n_validation: 0 must be >= 1"),
    (["--set", "eval.sampler=euler"], "eval.sampler: must be 'ddim' or 'ddpm'"),
    (["--set", "policy.precision=fp16"], "policy.precision: 'fp16' is not one of fp32, bf16"),
    (["--set", "classifier.stepz=3"], "unknown key classifier.stepz"),
    (["--set", "classifier.tau=high"], "classifier.tau: expected a number, got 'high'"),
    (["--set", "classifier.steps=-5"], "classifier.steps: -5 must be >= 1"),
    (["--set", "classifier.tau=0.7"], "classifier.tau: 0.7 must be in [0, 0.5)"),
    (["--set", "task_params.max_steps=-1"], "task_params: max_steps=-1 must be >= 1"),
    (["--set", "task_params.max_steps=many"], "task_params.max_steps: expected an integer, got 'many'"),
    (["--set", "task_params.layout=nowhere"], "maze layout 'nowhere' not found; built-in layouts"),
    (["--set", "task_params.colour=red"], "unknown key task_params.colour; valid keys here: dt_s, layout, max_steps"),
    (["--set", "task=mazes"], "task: unknown task 'mazes'; valid names: arm, binsort, maze"),
    (["--set", "datasets.clean.generator=maze_gsc"], "datasets.clean.generator: unknown generator 'maze_gsc'"),
    (["--set", "datasets.clean.params.bogus=1"], "unknown key datasets.clean.params.bogus; valid keys here: dt_s"),
    (["--set", "datasets.corrupt.params.speed_m_s=9"], "datasets.corrupt.params: speed_m_s=9"),
    (["--set", "selection_metric=sucess_rate"], "selection_metric: unknown metric 'sucess_rate' for task maze; valid:"),
    (["--set", "tiebreak_metric=accel"], "tiebreak_metric: unknown metric 'accel'"),
    (["--set", "report.pareto_x=acc"], "report.pareto_x: unknown metric 'acc'"),
    (["--set", "report.metrics=[success_rate, foo]"], "report.metrics[1]: unknown metric 'foo'"),
    (["--set", "report.breakdown=[success_rate, lost]"], "report.breakdown[1]: unknown metric 'lost'"),
    (["--set", "report.pareto_sweeps=[nobody]"], "report.pareto_sweeps[0]: 'nobody' is not an entry"),
    (["--set", "report.pareto_x_better=up"], "report.pareto_x_better: must be 'higher' or 'lower'"),
    (["--set", "baselines.ambient.grid.sigma_min=[a, b]"], "baselines.ambient.sigma_min: expected a number, got 'a'"),
    (["--set", "baselines.ambient.grid.sigma_min=[0.1, 1.0]"], "baselines.ambient.sigma_min: 1.0 must be in [0, 1)"),
    (["--set", "baselines.ambient.grid.sigma_min=[]"], "baselines.ambient.grid.sigma_min: must be a non-empty list"),
    (["--set", "baselines.cotrain.baseline=cotrian"], "baselines.cotrain.baseline: unknown baseline 'cotrian'"),
]


def run_cli(argv: list[str]) -> int:
    """``main`` as the shell sees it: argparse's errors exit through SystemExit."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize("extra,message", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(extra, message, tmp_path, capsys):
    out = tmp_path / "out"
    code = run_cli(SMOKE + ["--out", str(out)] + extra)
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert not out.exists()


def test_yaml_syntax_error_and_non_mapping_suite_files(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: maze\ntask: [maze\n")
    listed = tmp_path / "listed.yaml"
    listed.write_text("- maze\n")
    assert main(["--suite", str(broken), "--out", str(tmp_path / "out")]) == 2
    assert main(["--suite", str(listed), "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert "broken.yaml: not valid YAML (" in lines[0] and "line 2" in lines[0]
    assert "listed.yaml: a suite file must be a mapping" in lines[1]
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_without_a_gpu_is_bad_input(tmp_path, capsys):
    assert main([*SMOKE, "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "sees no CUDA device here; use --device cpu" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("where", ["file", "file/sub", "read-only/sub"])
def test_an_out_that_cannot_be_a_writable_directory_is_bad_input(where, tmp_path, capsys):
    (tmp_path / "file").write_text("not a directory")
    (tmp_path / "read-only").mkdir(mode=0o555)
    if where.startswith("read-only") and os.access(tmp_path / "read-only", os.W_OK):
        pytest.skip("this user may write into a read-only directory (root)")
    before = sorted(tmp_path.rglob("*"))
    assert run_cli(SMOKE + ["--out", str(tmp_path / where)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --out {tmp_path / where} "), lines
    assert ("not writable" if where.startswith("read-only") else "is a file") in lines[0]
    assert sorted(tmp_path.rglob("*")) == before


def test_a_lost_job_is_one_line_with_the_resume_command_exit_1(tmp_path, capsys, monkeypatch):
    from ambient_bench.jobs.executors import JobLostError
    from ambient_bench.pipeline.runner import Runner

    def lose_a_job(runner, stage):
        (runner.root / "runs").mkdir(parents=True)
        (runner.root / "runs" / ".checkpoint.pt.x1.tmp").write_bytes(b"torn")  # a dead worker's write
        raise JobLostError("training runs: runs/a did not finish after 3 retries (its worker process died)")

    monkeypatch.setattr(Runner, "run", lose_a_job)
    assert run_cli(SMOKE + ["--out", str(tmp_path)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["error: training runs: runs/a did not finish after 3 retries (its worker process died); "
                     f"finished outputs are kept in {tmp_path}/maze/smoke; resume with: python -m ambient_bench.run "
                     f"{' '.join(SMOKE)} --out {tmp_path}"]
    assert not list(tmp_path.rglob("*.tmp"))


def test_verbose_adds_the_traceback(tmp_path, capsys):
    assert main(SMOKE + ["--out", str(tmp_path), "-v", "--set", "selection_metric=x"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("error: selection_metric")


def test_list_names_each_suites_presets(capsys):
    assert main(["--list"]) == 0
    lines = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["presets"].strip() == ("arm: smoke, quick, slot_pairs, paper; binsort: smoke, quick, paper; "
                                        "maze: smoke, quick, paper")


def test_list_into_a_closed_pipe_exits_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written, as with `| head` done early
    proc = subprocess.run([sys.executable, "-m", "ambient_bench.run", "--list"], stdout=write_end,
                          stderr=subprocess.PIPE, text=True)
    os.close(write_end)
    assert proc.stderr == "" and proc.returncode == 141
