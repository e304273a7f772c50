"""Command line: ``python -m ambient_bench.run --suite maze`` (also ``ambient-bench``).

Generates the suite's data, trains every baseline over its sweep and seeds, evaluates
each on validation and test trials, and writes tables and figures under
``<out>/<suite>/<preset>/``. Finished jobs are skipped, so a killed run resumes and a
repeated call does no work.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from .config import PRESETS, ConfigError, load_suite, suite_names
from .data import DatasetError
from .registry import BASELINES, UnknownNameError
from .runner import STAGES, Runner

log = logging.getLogger("ambient_bench")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ambient_bench.run",
        description="Reproduce a suite's table: datagen -> (annotate) -> train sweeps -> select on "
                    "validation -> train final seeds -> evaluate on test -> report.",
    )
    p.add_argument("--suite", help=f"suite name or path to a suite YAML ({', '.join(suite_names())})")
    p.add_argument("--preset", default="quick", help=f"size preset: {', '.join(PRESETS)} (default: quick)")
    p.add_argument("--baselines", help="comma-separated table entries to run (default: all of the suite's)")
    p.add_argument("--seeds", type=int, help="training seeds per selected configuration (overrides final_seeds)")
    p.add_argument("--out", type=Path, default=Path("results"), help="output root (default: results/)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default: 1)")
    p.add_argument("--stage", default="all", choices=STAGES,
                   help="run the pipeline up to and including this stage (default: all)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a suite config value, e.g. --set train.steps=500 (repeatable)")
    p.add_argument("--list", action="store_true", help="list suites, presets and registered baselines, then exit")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not args.verbose:
        logging.getLogger("drake").setLevel(logging.WARNING)  # three INFO lines per GCS plan
    if args.list:
        print("suites:    " + ", ".join(suite_names()))
        print("presets:   " + ", ".join(PRESETS))
        print("baselines: " + ", ".join(BASELINES.names()))
        return 0
    if not args.suite:
        print("error: --suite is required; valid suites: " + ", ".join(suite_names()), file=sys.stderr)
        return 2
    if args.workers < 1 or (args.seeds is not None and args.seeds < 1):
        print("error: --workers and --seeds must be >= 1", file=sys.stderr)
        return 2
    overrides = list(args.overrides) + ([f"final_seeds={args.seeds}"] if args.seeds else [])
    try:
        suite = load_suite(args.suite, args.preset, overrides)
        entries = args.baselines.split(",") if args.baselines else None
        runner = Runner(suite, args.preset, args.out, args.workers, entries, progress=not args.no_progress)
    except (ConfigError, UnknownNameError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        runner.run(args.stage)
    except (DatasetError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    log.info("%s/%s stage %s done in %.1f s; outputs in %s", suite.name, args.preset, args.stage,
             time.perf_counter() - start, runner.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
