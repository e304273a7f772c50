"""From a suite config to results: plan the job graph and run it stage by stage.

Stages: datagen -> annotate -> train (sweep) -> eval on validation -> select -> train
(final seeds of the selected configurations) -> eval on test -> report. Selection looks at
validation trials only; test trials are evaluated for every run (so the Pareto fronts
show the whole sweep) but never used to choose anything.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..config.sections import ConfigError, SuiteConfig
from ..config.typed import to_dict
from ..data import load_dataset
from ..jobs.executors import Executor, make_executor
from ..jobs.functions import EvalJob, ShardJob, TrainJob, finalize, run_eval, run_shard, run_train
from ..jobs.plan import Plan, RunSpec
from ..jobs.provenance import git_state
from ..report.writer import write_report
from ..seeds import split_seeds
from .annotate import annotate_for_entries
from .checks import validate_run

log = logging.getLogger(__name__)

STAGES = ("datagen", "annotate", "train", "eval", "report", "all")


class Runner:
    """Runs a ``Plan`` stage by stage on an executor."""

    def __init__(self, suite: SuiteConfig, preset: str, out: Path, workers: int = 1,
                 entries: list[str] | None = None, progress: bool = True, torch_threads: int = 1,
                 executor: Executor | None = None, device: str = "cpu"):
        self.plan = Plan(suite, preset, out, entries, torch_threads, device)
        self.progress = progress
        self.executor = executor or make_executor(workers, progress)
        validate_run(self.plan)
        git_state()  # pin the code version this process reports, before any job runs

    @property
    def root(self) -> Path:
        return self.plan.root

    # ---------------------------------------------------------------------------- stages
    def datagen(self) -> None:
        wanted = self.plan.datasets()
        jobs, owners = [], []
        for directory, (suite, name) in wanted.items():
            spec = suite.datasets[name]
            seeds = split_seeds(f"datagen_{spec.source}", spec.n_episodes).tolist()
            for i in range(0, len(seeds), spec.shard_size):
                jobs.append(ShardJob(spec.generator, spec.params, spec.source, seeds[i:i + spec.shard_size],
                                     directory / f"shard-{i // spec.shard_size:05d}.npz"))
                owners.append(directory)
        records = self.executor.map(run_shard, jobs, "datagen shards")
        for directory, (suite, name) in wanted.items():
            spec = suite.datasets[name]
            mine = [r for r, d in zip(records, owners) if d == directory]
            finalize(directory, mine, {
                "dataset_id": directory.name, "env": suite.task, "env_params": suite.task_params,
                "generator": spec.generator, "params": spec.params, "source": spec.source,
                "seeds": {"split": f"datagen_{spec.source}", "start": 0, "count": spec.n_episodes},
            })
        for directory in wanted:  # damage is found here, before anything downstream is rewritten
            load_dataset(directory)
        log.info("datasets ready: %s", ", ".join(d.name for d in wanted))

    def annotate(self) -> None:
        """Classifier annotations for entries that need them (see pipeline.annotate)."""
        annotate_for_entries(self.plan)

    def train_runs(self, runs: list[RunSpec]) -> None:
        plan, jobs = self.plan, []
        for run in runs:
            suite = plan.entry_suite(run.entry)
            resolved = {"suite": to_dict(suite), "preset": plan.preset, "entry": run.entry,
                        "baseline": plan.baseline_name(run.entry), "params": run.params_dict, "seed": run.seed}
            jobs.append(TrainJob(
                run_dir=plan.run_dir(run),
                datasets={n: str(plan.dataset_dir(suite, n)) for n in suite.datasets},
                baseline=plan.baseline_name(run.entry), params=run.params_dict,
                policy=to_dict(suite.policy), train=to_dict(suite.train), seed=run.seed,
                config=resolved, progress=self.progress, torch_threads=plan.torch_threads, device=plan.device,
            ))
        self.executor.map(run_train, jobs, "training runs")

    def eval_runs(self, runs: list[RunSpec], split: str) -> dict[RunSpec, dict[str, Any]]:
        plan, jobs = self.plan, []
        seeds = plan.eval_seeds(split)
        for run in runs:
            suite = plan.entry_suite(run.entry)
            jobs.append(EvalJob(plan.run_dir(run), split, seeds, suite.task, suite.task_params,
                                to_dict(suite.eval), progress=self.progress, torch_threads=plan.torch_threads,
                                device=plan.device))
        results = self.executor.map(run_eval, jobs, f"{split} evaluations")
        return dict(zip(runs, results))

    def run(self, stage: str = "all") -> None:
        if stage not in STAGES:
            raise ConfigError(f"unknown stage {stage!r}; valid stages: {', '.join(STAGES)}")
        plan = self.plan
        self.datagen()
        if stage == "datagen":
            return
        self.annotate()
        if stage == "annotate":
            return
        sweep = plan.sweep_runs()
        self.train_runs(sweep)
        if stage == "train":
            return
        validation = self.eval_runs(sweep, "validation")
        chosen = plan.select(validation)
        final = plan.final_runs(chosen)
        self.train_runs(final)
        runs = list(dict.fromkeys(sweep + final))
        test = self.eval_runs(runs, "test")
        if stage == "eval":
            return
        write_report(plan, validation, test, chosen)
