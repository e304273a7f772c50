"""From a suite config to results: plan the job graph and run it stage by stage.

Stages: datagen -> annotate -> train (sweep) -> eval on validation -> select -> train
(final seeds of the selected configurations) -> eval on test -> report. Selection looks at
validation trials only; test trials are evaluated for every run (so the Pareto fronts
show the whole sweep) but never used to choose anything.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import BaselineSpec, ConfigError, SuiteConfig, config_hash, deep_merge, from_dict, to_dict
from .data import load_dataset
from .jobs import (
    EvalJob, Executor, ShardJob, TrainJob, finalize, make_executor, run_eval, run_shard, run_train,
)
from .provenance import git_state, suite_code_version
from .registry import BASELINES, GENERATORS
from .seeds import split_seeds
from .validation import validate_run

log = logging.getLogger(__name__)

STAGES = ("datagen", "annotate", "train", "eval", "report", "all")


@dataclass(frozen=True)
class RunSpec:
    """One training run: a table entry, one point of its grid, one seed."""

    entry: str
    params: tuple[tuple[str, Any], ...]
    seed: int

    @property
    def params_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def params_label(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.params) or "-"


class Runner:
    def __init__(self, suite: SuiteConfig, preset: str, out: Path, workers: int = 1,
                 entries: list[str] | None = None, progress: bool = True, torch_threads: int = 1,
                 executor: Executor | None = None):
        self.suite, self.preset, self.progress, self.torch_threads = suite, preset, progress, torch_threads
        self.root = Path(out) / suite.name / preset
        self.executor = executor or make_executor(workers, progress)
        self.entries = entries or list(suite.baselines)
        for name in self.entries:
            if name in suite.baselines:
                continue
            if name not in BASELINES.names():
                raise ConfigError(f"--baselines: unknown entry {name!r} for suite {suite.name}; valid: "
                                  f"{', '.join(suite.baselines)} (or any registered baseline: "
                                  f"{', '.join(BASELINES.names())})")
            # A registered baseline the suite does not list (e.g. a plug-in) runs with its
            # defaults; its grid can be set with --set baselines.<name>.grid.<param>=[...].
            self.suite = suite = dataclasses.replace(suite, baselines={**suite.baselines, name: BaselineSpec()})
        validate_run(self)
        git_state()  # pin the code version this process reports, before any job runs

    # ----------------------------------------------------------------------------- plan
    def entry_suite(self, entry: str) -> SuiteConfig:
        """The suite as this entry sees it (its suite_overrides applied)."""
        overrides = self.suite.baselines[entry].suite_overrides
        if not overrides:
            return self.suite
        merged = from_dict(SuiteConfig, deep_merge(to_dict(self.suite), overrides), f"baselines.{entry}.suite_overrides")
        merged.validate()
        return merged

    def baseline_name(self, entry: str) -> str:
        return self.suite.baselines[entry].baseline or entry

    def grid_points(self, entry: str) -> list[tuple[tuple[str, Any], ...]]:
        spec = self.suite.baselines[entry]
        keys = sorted(spec.grid)
        points = []
        for values in itertools.product(*(spec.grid[k] for k in keys)):
            params = {**spec.params, **dict(zip(keys, values))}
            points.append(tuple(sorted(params.items())))
        return points

    def dataset_dir(self, suite: SuiteConfig, name: str) -> Path:
        """Keyed by the dataset's spec (generator, params, sizes), the task it is for and the
        generator's code version."""
        spec = suite.datasets[name]
        generator = GENERATORS.get(spec.generator)
        key = {"spec": to_dict(spec), "task": suite.task, "task_params": suite.task_params,
               "code": suite_code_version(generator.__module__)}
        return self.root / "data" / f"{name}-{config_hash(key)}"

    def run_dir(self, run: RunSpec) -> Path:
        suite = self.entry_suite(run.entry)
        policy = to_dict(suite.policy)
        if policy["window_starts"] == "every_step":  # the default keeps the keys of runs cached before the option
            del policy["window_starts"]
        key = {
            "datasets": {n: self.dataset_dir(suite, n).name for n in suite.datasets},
            "baseline": self.baseline_name(run.entry),
            "params": run.params_dict,
            "policy": policy,
            "train": to_dict(suite.train),
            "seed": run.seed,
            "torch_threads": self.torch_threads,
        }
        if BASELINES.get(key["baseline"]).requires_annotation == "classifier":
            from .annotate import classifier_key

            key["annotation"] = classifier_key(self)
        label = f"{run.entry}-{run.params_label}" if run.params else run.entry
        return self.root / "runs" / f"{label}-s{run.seed}-{config_hash(key)[:8]}"

    def sweep_runs(self) -> list[RunSpec]:
        return [RunSpec(e, p, s) for e in self.entries for p in self.grid_points(e)
                for s in range(self.suite.sweep_seeds)]

    # ---------------------------------------------------------------------------- stages
    def datagen(self) -> None:
        wanted: dict[Path, tuple[SuiteConfig, str]] = {}
        for entry in self.entries:
            suite = self.entry_suite(entry)
            for name in suite.datasets:
                wanted.setdefault(self.dataset_dir(suite, name), (suite, name))
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

    def train_runs(self, runs: list[RunSpec]) -> None:
        jobs = []
        for run in runs:
            suite = self.entry_suite(run.entry)
            resolved = {"suite": to_dict(suite), "preset": self.preset, "entry": run.entry,
                        "baseline": self.baseline_name(run.entry), "params": run.params_dict, "seed": run.seed}
            jobs.append(TrainJob(
                run_dir=self.run_dir(run),
                datasets={n: str(self.dataset_dir(suite, n)) for n in suite.datasets},
                baseline=self.baseline_name(run.entry), params=run.params_dict,
                policy=to_dict(suite.policy), train=to_dict(suite.train), seed=run.seed,
                config=resolved, progress=self.progress, torch_threads=self.torch_threads,
            ))
        self.executor.map(run_train, jobs, "training runs")

    def eval_runs(self, runs: list[RunSpec], split: str) -> dict[RunSpec, dict[str, Any]]:
        n = self.suite.eval.n_validation if split == "validation" else self.suite.eval.n_test
        seeds = split_seeds(split, n).tolist()
        jobs = []
        for run in runs:
            suite = self.entry_suite(run.entry)
            jobs.append(EvalJob(self.run_dir(run), split, seeds, suite.task, suite.task_params,
                                to_dict(suite.eval), progress=self.progress, torch_threads=self.torch_threads))
        results = self.executor.map(run_eval, jobs, f"{split} evaluations")
        return dict(zip(runs, results))

    def select(self, validation: dict[RunSpec, dict[str, Any]]) -> dict[str, tuple]:
        """Per entry, the grid point with the best mean validation metric (ties: lower tiebreak)."""
        metric, tiebreak = self.suite.selection_metric, self.suite.tiebreak_metric
        chosen = {}
        for entry in self.entries:
            scores = []
            for point in self.grid_points(entry):
                aggs = [r["aggregate"] for run, r in validation.items() if run.entry == entry and run.params == point]
                values = np.array([a.get(metric, np.nan) for a in aggs], dtype=float)
                main = -np.inf if np.isnan(values).all() else float(np.nanmean(values))  # undefined: worst
                ties = [a.get(tiebreak, np.nan) for a in aggs] if tiebreak else [0.0]
                tie = np.inf if np.all(np.isnan(ties)) else float(np.nanmean(ties))
                scores.append((-main, tie, point))
            chosen[entry] = min(scores, key=lambda s: (s[0], s[1]))[2]
        return chosen

    def final_runs(self, chosen: dict[str, tuple]) -> list[RunSpec]:
        return [RunSpec(e, p, s) for e, p in chosen.items() for s in range(self.suite.final_seeds)]

    def run(self, stage: str = "all") -> None:
        from .report import write_report

        if stage not in STAGES:
            raise ConfigError(f"unknown stage {stage!r}; valid stages: {', '.join(STAGES)}")
        self.datagen()
        if stage == "datagen":
            return
        self.annotate()
        if stage == "annotate":
            return
        sweep = self.sweep_runs()
        self.train_runs(sweep)
        if stage == "train":
            return
        validation = self.eval_runs(sweep, "validation")
        chosen = self.select(validation)
        final = self.final_runs(chosen)
        self.train_runs(final)
        runs = list(dict.fromkeys(sweep + final))
        test = self.eval_runs(runs, "test")
        if stage == "eval":
            return
        write_report(self, validation, test, chosen)

    def annotate(self) -> None:
        """Classifier annotations for entries that need them (see ambient_bench.annotate)."""
        from .annotate import annotate_for_entries

        annotate_for_entries(self)
