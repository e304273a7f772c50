"""From a suite config to results: plan the job graph and run it.

Stages: datagen -> annotate -> train (sweep) -> eval on validation -> select -> train
(final seeds of the selected configurations) -> eval on test -> report. Selection looks at
validation trials only; test trials are evaluated for every run (so the Pareto fronts
show the whole sweep) but never used to choose anything.

From the sweep to the test evaluations the stages are one job graph, not barriers: a run's
evaluations start when its training ends, and an entry's final seeds when its own grid
points are validated, so no worker waits for another entry's slowest run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Hashable

from ..config.sections import ConfigError, SuiteConfig
from ..config.typed import to_dict
from ..data import load_dataset, remove_temp_files
from ..jobs.executors import Executor, make_executor
from ..jobs.functions import EvalJob, ShardJob, TrainJob, finalize, run_eval, run_shard, run_train
from ..jobs.plan import FINETUNE_BASELINE, Plan, RunSpec
from ..jobs.provenance import git_state
from ..report.writer import write_report
from ..seeds import split_seeds
from .annotate import annotate_for_entries
from .checks import validate_run

log = logging.getLogger(__name__)

STAGES = ("datagen", "annotate", "train", "eval", "report", "all")


class Runner:
    """Runs a ``Plan`` on an executor: datagen and annotate as stages, then one job graph."""

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

    def train_job(self, run: RunSpec) -> TrainJob:
        """A run's training job; for a finetuned run, its clean phase, which starts from its
        pretraining's checkpoint. A grid point that sweeps finetuning to 0 steps is trained as
        the other points' pretraining (the same directory, whichever asks first)."""
        plan = self.plan
        if plan.unfinetuned_point(run):
            run = run.first_phase
        suite = plan.entry_suite(run.entry)
        resolved = {"suite": to_dict(suite), "preset": plan.preset, "entry": run.entry,
                    "baseline": plan.baseline_name(run.entry), "params": run.params_dict, "seed": run.seed}
        baseline, params, train, init = plan.baseline_name(run.entry), run.baseline_params, suite.train, ""
        pretraining = plan.pretraining(run)
        if run.pretraining:
            resolved["pretraining"] = True
        elif pretraining is not None:
            baseline, params, train = FINETUNE_BASELINE, {}, plan.finetune_train(run)
            init = str(plan.run_dir(pretraining) / "checkpoint.pt")
            resolved["finetune"] = {"baseline": baseline, "train": to_dict(train), "from": init}
        return TrainJob(
            run_dir=plan.run_dir(run),
            datasets={n: str(plan.dataset_dir(suite, n)) for n in suite.datasets},
            baseline=baseline, params=params, policy=to_dict(suite.policy), train=to_dict(train), seed=run.seed,
            config=resolved, progress=self.progress, torch_threads=plan.torch_threads, device=plan.device,
            init_checkpoint=init,
        )

    def eval_job(self, run: RunSpec, split: str) -> EvalJob:
        plan = self.plan
        suite = plan.entry_suite(run.entry)
        return EvalJob(plan.run_dir(run), split, plan.eval_seeds(split), suite.task, suite.task_params,
                       to_dict(suite.eval), progress=self.progress, torch_threads=plan.torch_threads,
                       device=plan.device)

    def train_select_test(self, sweep: list[RunSpec]) -> tuple[dict, dict, dict]:
        """Sweep training, validation, per-entry selection, final seeds and test evaluations
        as one job graph; returns (validation, test, chosen) as ``write_report`` takes them.
        Entries with more grid points start first: their selection gates the most work."""
        plan = self.plan
        validation: dict[RunSpec, dict[str, Any]] = {}
        test: dict[RunSpec, dict[str, Any]] = {}
        chosen: dict[str, tuple] = {}
        in_sweep = set(sweep)
        unvalidated = {entry: {run for run in sweep if run.entry == entry} for entry in plan.entries}
        waiting: dict[Path, list[RunSpec]] = {}  # a training directory in flight -> the runs waiting for it
        trained: set[Path] = set()

        def train(run: RunSpec) -> list[tuple]:
            """The next training toward ``run``: its pretraining first where it has one. A
            directory is trained once; runs that need it while it trains wait for it."""
            pretraining = plan.pretraining(run)
            step = pretraining if pretraining is not None and plan.run_dir(pretraining) not in trained else run
            directory = plan.run_dir(step)
            if directory in trained:
                return evaluations(run)
            if directory in waiting:
                waiting[directory].append(run)
                return []
            waiting[directory] = [run]
            return [(("train", step), run_train, self.train_job(step))]

        def evaluations(run: RunSpec) -> list[tuple]:
            splits = ("validation", "test") if run in in_sweep else ("test",)
            return [((split, run), run_eval, self.eval_job(run, split)) for split in splits]

        def then(key: Hashable, result: Any) -> list[tuple]:
            kind, run = key
            if kind == "train":
                directory = plan.run_dir(run)
                trained.add(directory)
                return [job for waiter in waiting.pop(directory) for job in train(waiter)]
            if kind == "test":
                test[run] = result
                return []
            validation[run] = result
            unvalidated[run.entry].discard(run)
            if unvalidated[run.entry]:
                return []
            chosen[run.entry] = plan.select_entry(run.entry, validation)
            return [job for r in plan.final_runs({run.entry: chosen[run.entry]}) if r not in in_sweep
                    for job in train(r)]

        order = sorted(sweep, key=lambda run: -len(plan.grid_points(run.entry)))
        # Each sweep run: validation, test and its training directories (a finetuned run's
        # pretraining may be another run's); each entry's final seeds beyond the sweep's:
        # training (two phases when finetuned: a count that shared pretrainings can only
        # lower), test. Which grid point is chosen does not change the count.
        n_final = sum(max(0, plan.final_seeds(e) - plan.suite.sweep_seeds) * (3 if plan.finetunes(e) else 2)
                      for e in plan.entries)
        n_trainings = len({plan.run_dir(r) for run in sweep for r in (run, plan.pretraining(run)) if r is not None})
        self.executor.run_graph([job for run in order for job in train(run)], then, "training runs and evaluations",
                                total=n_trainings + 2 * len(sweep) + n_final)
        return validation, test, {entry: chosen[entry] for entry in plan.entries}

    def run(self, stage: str = "all") -> None:
        if stage not in STAGES:
            raise ConfigError(f"unknown stage {stage!r}; valid stages: {', '.join(STAGES)}")
        self.run_stages(stage)
        torn = remove_temp_files(self.root)  # every job has ended: no write is under way
        if torn:
            log.info("removed %d temp files of writes whose worker died (their jobs were run again)", len(torn))

    def run_stages(self, stage: str) -> None:
        plan = self.plan
        self.datagen()
        if stage == "datagen":
            return
        self.annotate()
        if stage == "annotate":
            return
        sweep = plan.sweep_runs()
        if stage == "train":
            pretrainings = {plan.run_dir(r): r for r in map(plan.pretraining, sweep) if r is not None}
            self.executor.map(run_train, [self.train_job(run) for run in pretrainings.values()], "pretraining runs")
            self.executor.map(run_train, [self.train_job(run) for run in sweep], "training runs")
            return
        validation, test, chosen = self.train_select_test(sweep)
        if stage == "eval":
            return
        write_report(plan, validation, test, chosen)
