"""The plan of a run: which datasets, training runs and evaluations a resolved suite config
implies, and where each output lives.

A ``Plan`` only computes names, keys and paths (no job runs, nothing is written), so the
stages that act on a run (the runner, its executors, the annotate stage, the report) all
read the same answers from it.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..config.sections import (LATER_POLICY_OPTIONS, BaselineSpec, ConfigError, SuiteConfig, TrainConfig,
                               without_later_defaults)
from ..config.suites import deep_merge
from ..config.typed import config_hash, from_dict, to_dict
from ..registry import BASELINES, GENERATORS
from ..seeds import split_seeds
from .provenance import suite_code_version

SPLITS = ("validation", "test")
FINETUNE_BASELINE = "clean_only"  # the finetuning phase's data rule
# An entry's finetuning settings, which its grid may sweep too (selected on validation like
# any parameter); they are the run's, not its baseline's.
FINETUNE_PARAMS = ("finetune_steps", "finetune_lr")


@dataclass(frozen=True)
class RunSpec:
    """One training run: a table entry, one point of its grid, one seed; ``pretraining`` marks
    the first phase of a finetuned entry's run (its baseline alone, before the clean phase)."""

    entry: str
    params: tuple[tuple[str, Any], ...]
    seed: int
    pretraining: bool = False

    @property
    def params_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def params_label(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.params) or "-"

    @property
    def baseline_params(self) -> dict[str, Any]:
        """The parameters its baseline is built with (its finetuning settings left out)."""
        return dict(self.first_phase.params)

    @property
    def first_phase(self) -> RunSpec:
        """Its baseline's run alone, with the same baseline parameters: a finetuned run's pretraining."""
        return RunSpec(self.entry, tuple((k, v) for k, v in self.params if k not in FINETUNE_PARAMS), self.seed,
                       pretraining=True)


def device_key(device: str) -> dict[str, str]:
    """The device's part of a run's or an evaluation's key: none for the CPU (CPU keys
    predate the option), else the device, since it can change the last bits."""
    return {} if device == "cpu" else {"device": device}


class Plan:
    """What ``suite`` at ``preset`` implies for the table ``entries``, under ``out/<suite>/<preset>/``.

    ``entries`` default to the suite's; a registered baseline the suite does not list (e.g.
    a plug-in) is added to the suite with its defaults (its grid can be set with
    ``--set baselines.<name>.grid.<param>=[...]``). An unknown entry is a ``ConfigError``.
    """

    def __init__(self, suite: SuiteConfig, preset: str, out: Path, entries: list[str] | None = None,
                 torch_threads: int = 1, device: str = "cpu"):
        self.preset, self.torch_threads, self.device = preset, torch_threads, device
        self.root = Path(out) / suite.name / preset
        self.entries = list(entries or suite.baselines)
        for name in self.entries:
            if name in suite.baselines:
                continue
            if name not in BASELINES.names():
                raise ConfigError(f"--baselines: unknown entry {name!r} for suite {suite.name}; valid: "
                                  f"{', '.join(suite.baselines)} (or any registered baseline: "
                                  f"{', '.join(BASELINES.names())})")
            suite = dataclasses.replace(suite, baselines={**suite.baselines, name: BaselineSpec()})
        self.suite = suite

    # ---------------------------------------------------------------------- entries
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

    def needs_classifier(self, entry: str) -> bool:
        return BASELINES.get(self.baseline_name(entry)).requires_annotation == "classifier"

    def grid_points(self, entry: str) -> list[tuple[tuple[str, Any], ...]]:
        spec = self.suite.baselines[entry]
        keys = sorted(spec.grid)
        points = []
        for values in itertools.product(*(spec.grid[k] for k in keys)):
            params = {**spec.params, **dict(zip(keys, values))}
            points.append(tuple(sorted(params.items())))
        return points

    # --------------------------------------------------------------------- datasets
    def dataset_dir(self, suite: SuiteConfig, name: str) -> Path:
        """Keyed by the dataset's spec (generator, params, sizes), the task it is for, the
        generator's code version and, for a generator that reads a file (``input_sha256``),
        the file's digest."""
        spec = suite.datasets[name]
        generator = GENERATORS.get(spec.generator)
        key = {"spec": to_dict(spec), "task": suite.task, "task_params": suite.task_params,
               "code": suite_code_version(generator.__module__)}
        if hasattr(generator, "input_sha256"):
            key["input_sha256"] = generator.input_sha256(**spec.params)
        return self.root / "data" / f"{name}-{config_hash(key)}"

    def datasets(self, entries: Iterable[str] | None = None) -> dict[Path, tuple[SuiteConfig, str]]:
        """Every dataset the entries (default: this run's) use, once: its directory -> (the suite
        variant, its name)."""
        wanted: dict[Path, tuple[SuiteConfig, str]] = {}
        for entry in self.entries if entries is None else entries:
            suite = self.entry_suite(entry)
            for name in suite.datasets:
                wanted.setdefault(self.dataset_dir(suite, name), (suite, name))
        return wanted

    def classifier_key(self) -> str:
        """What the classifier's annotation depends on (a run that reads it includes this key)."""
        return config_hash({"classifier": self.suite.classifier, "horizon": self.suite.policy.horizon,
                            "num_steps": self.suite.policy.num_diffusion_steps})

    @property
    def annotate_dir(self) -> Path:
        return self.root / "annotate"

    # ------------------------------------------------------------------------- runs
    def run_dir(self, run: RunSpec) -> Path:
        """A pretraining run is named after its baseline, not its entry, so it is the very
        directory of a plain row of that baseline with the same key: one job serves both. So
        is a grid point that sweeps ``finetune_steps`` to 0: it is the other points' pretraining."""
        if run.pretraining or self.unfinetuned_point(run):
            run = run.first_phase
            name = self.baseline_name(run.entry)
        else:
            name = run.entry
        label = f"{name}-{run.params_label}" if run.params else name
        return self.root / "runs" / f"{label}-s{run.seed}-{config_hash(self.run_key(run))[:8]}"

    def run_key(self, run: RunSpec) -> dict[str, Any]:
        """Everything a training run depends on; its hash names the run's directory. A
        finetuned run's key is its pretraining's plus the finetuning phase."""
        suite = self.entry_suite(run.entry)
        policy = without_later_defaults(suite.policy, LATER_POLICY_OPTIONS)
        key = {
            "datasets": {n: self.dataset_dir(suite, n).name for n in suite.datasets},
            "baseline": self.baseline_name(run.entry),
            "params": run.baseline_params,
            "policy": policy,
            "train": to_dict(suite.train),
            "seed": run.seed,
            "torch_threads": self.torch_threads,
            **device_key(self.device),
        }
        if self.needs_classifier(run.entry):
            key["annotation"] = self.classifier_key()
        if self.pretraining(run) is not None:
            key["finetune"] = {"baseline": FINETUNE_BASELINE, "train": to_dict(self.finetune_train(run))}
        return key

    def finetuning(self, run: RunSpec) -> dict[str, Any]:
        """The run's ``finetune_steps`` and ``finetune_lr``: its grid point's, else its entry's."""
        spec = self.suite.baselines[run.entry]
        return {name: run.params_dict.get(name, getattr(spec, name)) for name in FINETUNE_PARAMS}

    def unfinetuned_point(self, run: RunSpec) -> bool:
        """A grid point that sweeps ``finetune_steps`` to 0: the entry's baseline alone."""
        return "finetune_steps" in run.params_dict and not run.params_dict["finetune_steps"]

    def pretraining(self, run: RunSpec) -> RunSpec | None:
        """The run a finetuned run continues from (its entry's baseline with the same
        parameters, trained as usual), or None for a run without a finetuning phase."""
        if run.pretraining or not self.finetuning(run)["finetune_steps"]:
            return None
        return run.first_phase

    def finetunes(self, entry: str) -> bool:
        """Whether any of the entry's grid points has a finetuning phase."""
        return any(self.pretraining(RunSpec(entry, point, 0)) for point in self.grid_points(entry))

    def finetune_train(self, run: RunSpec) -> TrainConfig:
        """The finetuning phase's training: the suite's settings for ``finetune_steps`` steps
        (at ``finetune_lr`` if set), a fresh optimiser and learning-rate schedule, on clean data only."""
        train = self.entry_suite(run.entry).train
        finetuning = self.finetuning(run)
        steps, lr = finetuning["finetune_steps"], finetuning["finetune_lr"]
        return dataclasses.replace(train, steps=steps, warmup_steps=min(train.warmup_steps, steps),
                                   lr=train.lr if lr is None else lr)

    def sweep_runs(self) -> list[RunSpec]:
        return [RunSpec(e, p, s) for e in self.entries for p in self.grid_points(e)
                for s in range(self.suite.sweep_seeds)]

    def select_entry(self, entry: str, validation: dict[RunSpec, dict[str, Any]]) -> tuple:
        """The entry's grid point with the best mean validation metric (ties: lower tiebreak);
        undefined (NaN) metrics rank worst. Only the entry's own runs are read, so it can be
        chosen as soon as they are validated."""
        metric, tiebreak = self.suite.selection_metric, self.suite.tiebreak_metric
        scores = []
        for point in self.grid_points(entry):
            aggs = [r["aggregate"] for run, r in validation.items() if run.entry == entry and run.params == point]
            values = np.array([a.get(metric, np.nan) for a in aggs], dtype=float)
            main = -np.inf if np.isnan(values).all() else float(np.nanmean(values))
            ties = [a.get(tiebreak, np.nan) for a in aggs] if tiebreak else [0.0]
            tie = np.inf if np.all(np.isnan(ties)) else float(np.nanmean(ties))
            scores.append((-main, tie, point))
        return min(scores, key=lambda s: (s[0], s[1]))[2]

    def final_seeds(self, entry: str) -> int:
        """Training seeds of the entry's selected point: its own ``seeds``, else the suite's."""
        return self.suite.baselines[entry].seeds or self.suite.final_seeds

    def final_runs(self, chosen: dict[str, tuple]) -> list[RunSpec]:
        return [RunSpec(e, p, s) for e, p in chosen.items() for s in range(self.final_seeds(e))]

    # ------------------------------------------------------------------ evaluations
    def eval_seeds(self, split: str) -> list[int]:
        """The trial seeds of a split (disjoint ranges per split)."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
        n = self.suite.eval.n_validation if split == "validation" else self.suite.eval.n_test
        return split_seeds(split, n).tolist()


def eval_path(run_dir: Path, split: str) -> Path:
    """A run's evaluation records and aggregates on one split."""
    return run_dir / f"eval-{split}.json"
