"""``python -m ambient_bench.bench --areas gpu --device cuda --json gpu.json``: does a GPU run
the pipeline, and what do the maze presets cost on it? Sized to finish in under 8 minutes on
one GPU, so that one lent machine answers in one call:

1. ``--device`` end to end: every suite's smoke preset through the command line, in a fresh
   process (``gpu.smoke_<suite>_ok``: 1 when it exits 0 with its summary written; ``_s``: wall time);
2. the training step at the maze quick and paper presets' sizes in fp32 and bf16, interleaved
   (``gpu.<preset>_<precision>_step_ms``, ``gpu.<preset>_bf16_over_fp32_step_time``);
3. one maze quick training run: the preset's network, batch, steps and precision, on
   maze-sized synthetic data (a step's cost does not depend on the data): ``gpu.maze_quick_train_s``.

``--quick`` is the dry run the tests make on the CPU (``--device cpu``): the maze smoke
preset only, and a training run of 20 steps (``gpu.maze_quick_train_steps`` says how many).
"""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..config.suites import load_suite, suite_names
from ..policy.baseline import make_baseline
from ..policy.trainer import train
from .step_timing import bench_datasets, precision_figures

log = logging.getLogger("ambient_bench.bench")

DRY_RUN_TRAIN_STEPS = 20


def smoke_figures(suite: str, device: str, out: Path) -> dict[str, float]:
    """The suite's smoke preset end to end on ``device``, as a user would run it."""
    command = [sys.executable, "-m", "ambient_bench.run", "--suite", suite, "--preset", "smoke", "--device", device,
               "--out", str(out), "--no-progress"]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall_s = time.perf_counter() - start
    ok = proc.returncode == 0 and (out / suite / "smoke" / "summary.csv").exists()
    if not ok:
        last = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        log.warning("%s smoke on %s failed with exit code %d: %s", suite, device, proc.returncode, last[0])
    return {f"gpu.smoke_{suite}_ok": float(ok), f"gpu.smoke_{suite}_s": wall_s}


def training_run_figures(datasets: dict, device: str, steps: int | None, directory: Path) -> dict[str, float]:
    """Wall time of one maze quick training run (``steps`` overrides the preset's)."""
    suite = load_suite("maze", "quick")
    config = suite.train if steps is None else dataclasses.replace(suite.train, steps=steps)
    start = time.perf_counter()
    train(directory, datasets, make_baseline("clean_only", {}), suite.policy, config, seed=0,
          progress=False, device=device)
    return {"gpu.maze_quick_train_s": time.perf_counter() - start, "gpu.maze_quick_train_steps": float(config.steps)}


def bench_gpu(device: str, quick: bool, repeats: int) -> dict[str, float]:
    figures: dict[str, float] = {}

    def record(new: dict[str, float]) -> None:
        """Log each figure as it comes, so a run cut short still shows what it measured."""
        for key, value in new.items():
            log.info("%s = %.4g", key, value)
        figures.update(new)

    with tempfile.TemporaryDirectory() as tmp:
        for suite in ["maze"] if quick else suite_names():
            record(smoke_figures(suite, device, Path(tmp) / "smoke"))
        datasets = bench_datasets(Path(tmp) / "data")
        record(precision_figures(datasets, repeats, device, "gpu"))
        record(training_run_figures(datasets, device, DRY_RUN_TRAIN_STEPS if quick else None, Path(tmp) / "run"))
    return figures
