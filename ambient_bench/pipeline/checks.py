"""One validation pass over everything a run will use, before any work starts.

Loading a suite already checks keys, types and ranges of its sections (``config.py``).
This pass checks what needs the registries: generator names and parameters, the task and
its parameters (names and types from their signatures, values by building the task, calling
the generator with no seeds, and their optional ``check_params``; a generator that reads
episodes from a file also against the task's dimensions, ``source_shape``), metric names (selection, tie-break, table, Pareto axes) against the
metrics the task reports, baseline names and every grid point, the classifier settings.
The first problem is a ``ConfigError`` naming the key, the bad value and the valid choices.
"""

from __future__ import annotations

import logging

import torch

from ..classifier.annotation import CHUNK_FEATURES
from ..classifier.model import ClassifierConfig
from ..config.sections import ConfigError, SuiteConfig
from ..config.typed import check_call_params, from_dict
from ..jobs.plan import Plan, RunSpec
from ..policy.baseline import make_baseline
from ..registry import BASELINES, GENERATORS, TASKS, UnknownNameError
from ..report.tables import read_previous_report

log = logging.getLogger(__name__)

# What a task or generator raises for a bad parameter value when it is built.
PARAM_ERRORS = (ValueError, TypeError, KeyError, OSError)


def validate_run(plan: Plan) -> None:
    suite = plan.suite
    metrics = check_task(suite, "")
    check_metrics(suite, metrics)
    classifier = from_dict(ClassifierConfig, suite.classifier, "classifier")
    classifier.validate("classifier")
    if classifier.features not in CHUNK_FEATURES:
        raise ConfigError(f"classifier.features: {classifier.features!r} is not one of {', '.join(CHUNK_FEATURES)}")
    for i, entry in enumerate(suite.report.pareto_sweeps):
        if entry not in suite.baselines:
            raise ConfigError(f"report.pareto_sweeps[{i}]: {entry!r} is not an entry of the suite; "
                              f"valid: {', '.join(suite.baselines)}")
    read_previous_report(plan.root)  # a damaged report on disk would stop the run at its end
    checked: list[SuiteConfig] = []
    bf16_entries = []
    for entry in plan.entries:
        check_entry(plan, entry)
        variant = plan.entry_suite(entry)
        if variant.policy.precision == "bf16":
            bf16_entries.append(entry)
        if variant in checked:
            continue
        checked.append(variant)
        prefix = f"baselines.{entry}.suite_overrides." if variant is not suite else ""
        if variant is not suite:
            check_task(variant, prefix)
        for name in variant.datasets:
            check_generator(variant, name, prefix)
    warn_emulated_bf16(plan.device, bf16_entries)


def native_bf16_cpu() -> bool:
    """Whether oneDNN has bf16 instructions on this CPU (AVX512-BF16 or AMX)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def warn_emulated_bf16(device: str, entries: list[str]) -> None:
    """bf16 on a CPU without bf16 instructions is emulated and far slower than fp32 (24x per
    maze quick training step on an AVX2 AMD EPYC): legal, but worth one line before hours of it."""
    if entries and device == "cpu" and not native_bf16_cpu():
        log.warning("policy.precision=bf16 (%s) on a CPU without bf16 instructions (AVX512-BF16 or AMX): it is "
                    "emulated, about 24x slower per training step than fp32 on an AVX2 CPU; use fp32 here, or a "
                    "GPU", ", ".join(entries))


def check_task(suite: SuiteConfig, prefix: str) -> list[str]:
    """Builds the task with its parameters; returns the metric names it reports."""
    try:
        task_cls = TASKS.get(suite.task)
    except UnknownNameError as err:
        raise ConfigError(f"{prefix}task: {err}") from None
    params = check_call_params(task_cls, suite.task_params, f"{prefix}task_params")
    try:
        run_check_params(task_cls, params)
        task = task_cls(**params)
    except PARAM_ERRORS as err:
        raise ConfigError(f"{prefix}task_params: {err}") from None
    return sorted(task.aggregate([]))


def run_check_params(obj, params: dict) -> None:
    """A task's or generator's own ``check_params(**params)``, where it has one (checks that
    need the suite's knowledge, e.g. valid scene names)."""
    check = getattr(obj, "check_params", None)
    if check is not None:
        check(**params)


def check_metrics(suite: SuiteConfig, metrics: list[str]) -> None:
    named = [("selection_metric", suite.selection_metric), ("report.pareto_x", suite.report.pareto_x),
             ("report.pareto_y", suite.report.pareto_y)]
    named += [(f"report.metrics[{i}]", m) for i, m in enumerate(suite.report.metrics)]
    named += [(f"report.breakdown[{i}]", m) for i, m in enumerate(suite.report.breakdown)]
    if suite.tiebreak_metric:
        named.append(("tiebreak_metric", suite.tiebreak_metric))
    for key, value in named:
        if value not in metrics:
            raise ConfigError(f"{key}: unknown metric {value!r} for task {suite.task}; valid: {', '.join(metrics)}")


def check_entry(plan: Plan, entry: str) -> None:
    spec = plan.suite.baselines[entry]
    key = f"baselines.{entry}.baseline" if spec.baseline else f"baselines.{entry}"
    try:
        BASELINES.get(plan.baseline_name(entry))
    except UnknownNameError as err:
        raise ConfigError(f"{key}: {err}") from None
    for point in plan.grid_points(entry):
        make_baseline(plan.baseline_name(entry), RunSpec(entry, point, 0).baseline_params, key=f"baselines.{entry}")
    sources = {d.source for d in plan.entry_suite(entry).datasets.values()}
    if plan.finetunes(entry) and "clean" not in sources:
        raise ConfigError(f"baselines.{entry}.finetune_steps: the finetuning phase trains on clean data, and this "
                          f"entry's datasets have none (sources: {', '.join(sorted(sources))})")


def check_generator(suite: SuiteConfig, name: str, prefix: str) -> None:
    """Generator name and parameters; the generator is called with no seeds, which checks
    what it checks up front (e.g. a maze layout) without generating anything."""
    spec = suite.datasets[name]
    key = f"{prefix}datasets.{name}"
    try:
        generate = GENERATORS.get(spec.generator)
    except UnknownNameError as err:
        raise ConfigError(f"{key}.generator: {err}") from None
    params = check_call_params(generate, spec.params, f"{key}.params", n_supplied=1)
    try:
        run_check_params(generate, params)
        generate([], **params)
        shape = generate.source_shape(**params) if hasattr(generate, "source_shape") else None
    except PARAM_ERRORS as err:
        raise ConfigError(f"{key}.params: {err}") from None
    if shape is not None:
        check_source_shape(suite, name, key, shape)


def check_source_shape(suite: SuiteConfig, name: str, key: str, shape: tuple[int, int, int]) -> None:
    """A generator that reads a fixed set of episodes (``source_shape``: episodes, obs dim,
    action dim) must hold enough of them, of the task's dimensions."""
    n_episodes, obs_dim, action_dim = shape
    task = TASKS.get(suite.task)(**suite.task_params)
    if (obs_dim, action_dim) != (task.obs_dim, task.action_dim):
        raise ConfigError(f"{key}.params: the episodes have obs dim {obs_dim} and action dim {action_dim}; task "
                          f"{suite.task} needs {task.obs_dim} and {task.action_dim} (map them with obs_slice, "
                          "action_slice or transform)")
    wanted = suite.datasets[name].n_episodes
    if wanted > n_episodes:
        raise ConfigError(f"{key}.n_episodes: {wanted}, but the source holds {n_episodes} episodes")
