"""Command line: ``python -m ambient_bench.datasets export --suite maze --format zarr --out DIR``.

Exports every dataset a suite's run uses (clean and corrupt, and the variants of entries
with their own datasets) to a format other code reads (``ambient_bench.interop``):

    zarr     <out>/<suite>/<name>.zarr              a diffusion_policy ReplayBuffer (zarr format 2)
    minari   <out>/ambient_bench/<suite>/<name>-v0  Minari dataset ``ambient_bench/<suite>/<name>-v0``
                                                    (load it with MINARI_DATASETS_PATH=<out>)

``<name>`` is the dataset's name in the suite (its source: clean, corrupt); a dataset that
only an entry's ``suite_overrides`` makes is named by its key (``clean-<hash>``). Datasets
missing from ``--runs`` (the run command's output root) are generated there first, by the
run's own datagen stage and cache. An export already at its place is kept if it was made
from the same dataset (key); one made from another dataset is bad input, like a missing
extra: one line, exit code 2, before any work.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from ..config.sections import ConfigError, SuiteConfig
from ..config.suites import PRESETS, load_suite, suite_names
from ..data import DatasetError, load_dataset
from ..interop import EXTRAS, export_metadata, gymnasium_spec, minari_dataset_id, missing_extra, recorded_key, \
    write_minari, write_zarr
from ..jobs.provenance import git_state
from ..pipeline.runner import Runner
from ..registry import UnknownNameError
from .run import OneLineParser, configure_logging, cpu_count, fail, positive_int

log = logging.getLogger("ambient_bench")


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m ambient_bench.datasets",
                      description="Export a suite's datasets to formats other robot-learning code reads.")
    commands = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    export = commands.add_parser("export", help="write every dataset of a suite as zarr or Minari")
    export.add_argument("--suite", required=True, help=f"suite name or path to a suite YAML ({', '.join(suite_names())})")
    export.add_argument("--preset", default="quick", help=f"size preset: {', '.join(PRESETS)} (default: quick)")
    export.add_argument("--format", required=True, choices=sorted(EXTRAS),
                        help="zarr: diffusion_policy ReplayBuffer; minari: a Minari dataset per dataset")
    export.add_argument("--out", type=Path, required=True, help="where the exports are written")
    export.add_argument("--runs", type=Path, default=Path("runs"),
                        help="the run output root whose datasets are exported, generated there if missing "
                             "(default: runs/, the run command's)")
    export.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a suite config value, as for the run command (repeatable)")
    export.add_argument("--workers", type=positive_int, default=cpu_count(),
                        help=f"local worker processes for generating missing datasets (default: {cpu_count()})")
    export.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    return p


@dataclass
class Target:
    suite: SuiteConfig  # the suite variant the dataset belongs to (an entry's suite_overrides)
    name: str  # the export's name: the dataset's name in the suite, or its key for a variant's
    path: Path


def export_targets(runner: Runner, fmt: str, out: Path) -> dict[Path, Target]:
    """Dataset directory -> where and under which name it is exported, for every dataset of the run."""
    plan = runner.plan
    targets = {}
    for directory, (variant, name) in plan.datasets().items():
        own = name in plan.suite.datasets and plan.dataset_dir(plan.suite, name) == directory
        export_name = name if own else directory.name
        path = out / plan.suite.name / f"{export_name}.zarr" if fmt == "zarr" \
            else out / minari_dataset_id(plan.suite.name, export_name)
        targets[directory] = Target(variant, export_name, path)
    return targets


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(args.verbose)
    missing = missing_extra(args.format)
    if missing:
        return fail(missing, args.verbose)
    try:
        suite = load_suite(args.suite, args.preset, args.overrides)
        runner = Runner(suite, args.preset, args.runs.resolve(), args.workers, progress=False)
        targets = export_targets(runner, args.format, args.out.resolve())
        for directory, target in targets.items():
            if target.path.exists() and recorded_key(target.path, args.format) != directory.name:
                raise ConfigError(f"{target.path} exists and was not exported from dataset {directory.name}; "
                                  "remove it or choose another --out")
    except (ConfigError, UnknownNameError) as err:
        return fail(str(err), args.verbose)
    try:
        runner.datagen()
    except DatasetError as err:
        return fail(f"{err}; remove {err.directory} and export again to regenerate it", args.verbose)
    try:
        for directory, target in targets.items():
            export(directory, target, args)
    except OSError as err:  # a full disk, a read-only --out: not bad input, but still one line
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def export(directory: Path, target: Target, args: argparse.Namespace) -> None:
    if target.path.exists():
        log.info("%s is up to date", target.path)
        return
    ds = load_dataset(directory)
    metadata = export_metadata(ds, target.suite.name, args.preset, target.name) | {"git_sha": git_state()["git_sha"]}
    if args.format == "zarr":
        write_zarr(ds, target.path, metadata)
    else:
        write_minari(ds, args.out.resolve(), minari_dataset_id(target.suite.name, target.name),
                     gymnasium_spec(target.suite.task, target.suite.task_params), metadata)
    log.info("exported %s (%d episodes, %d steps) to %s", directory.name, ds.n_episodes, len(ds.obs), target.path)
