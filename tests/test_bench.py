"""The bench's measurement rules (interleaved turns, per-turn ratios) and the GPU check's dry run on the CPU."""

import json

import pytest

from ambient_bench.cli.bench import main
from ambient_bench.cli.step_timing import interleaved_times, median_ratio
from ambient_bench.jobs.provenance import machine


def test_functions_are_timed_in_turns_after_untimed_warmup_turns():
    calls = []
    times = interleaved_times({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4
    assert [len(t) for t in times.values()] == [3, 3]


def test_a_ratio_is_the_median_of_the_turns_ratios():
    """A load spike in one turn slows both of its timings: the per-turn ratio stays 2, while
    the ratio of medians would mix turns (here 4 / 1.5)."""
    times = {"a": [1.0, 1.5, 10.0], "b": [2.0, 3.0, 20.0]}
    assert median_ratio(times, "b", "a") == 2.0


@pytest.mark.slow
def test_the_gpu_checks_dry_run_on_the_cpu_writes_every_figure(tmp_path, capsys):
    path = tmp_path / "gpu.json"
    assert main(["--areas", "gpu", "--device", "cpu", "--quick", "--repeats", "1", "--threads", "1",
                 "--json", str(path)]) == 0
    figures = json.loads(path.read_text())
    assert figures["gpu.smoke_maze_ok"] == 1.0 and figures["gpu.maze_quick_train_steps"] == 20
    for size in ("quick", "paper"):
        assert figures[f"gpu.{size}_fp32_step_ms"] > 0 and figures[f"gpu.{size}_bf16_step_ms"] > 0
        assert figures[f"gpu.{size}_bf16_over_fp32_step_time"] > 0
    assert figures["gpu.maze_quick_train_s"] > 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("gpu.")]
    assert len(printed) == len([k for k in figures if k.startswith("gpu.")])
    assert all(line.endswith(machine()) and "1 torch threads" in line for line in printed)


def test_a_gpu_check_without_a_gpu_is_one_line_and_exit_2(capsys):
    if __import__("torch").cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    assert main(["--areas", "gpu", "--device", "cuda"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: --device cuda: torch " + __import__("torch").__version__ + " sees no CUDA device here; use --device cpu"]
