"""Command line: ``python -m ambient_bench.run --suite maze`` (also ``ambient-bench``).

Generates the suite's data, trains every baseline over its sweep and seeds, evaluates
each on validation and test trials, and writes tables and figures under
``<out>/<suite>/<preset>/`` (``runs/`` by default; the committed reference results under
``results/`` are written only with ``--out results``). Finished jobs are skipped, so a
killed run resumes and a repeated call does no work.

Every bad input is found before any work starts and reported as one line with exit code 2
(``-v`` adds the traceback). Ctrl-C and SIGTERM stop all workers, remove partial files and
print one line saying what finished and how to resume.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
import time
import traceback
from pathlib import Path

import torch

from .. import logs
from ..config.sections import ConfigError, SuiteConfig
from ..config.suites import PRESETS, load_suite, preset_names, suite_names
from ..data import DatasetError, remove_temp_files
from ..jobs.executors import Executor, Interrupted, JobLostError, make_executor
from ..pipeline.runner import STAGES, Runner
from ..registry import BASELINES, UnknownNameError

log = logging.getLogger("ambient_bench")

EXECUTORS = ("local", "pool", "ray")
RAY_MISSING = ('--executor ray needs Ray, which is not installed: pip install "ray>=2.9" '
               '(or the project with its ray extra: pip install -e ".[ray]")')

EXIT_BAD_INPUT = 2


class OneLineParser(argparse.ArgumentParser):
    """Argument errors as one line (the usage is in --help), exit code 2."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def cpu_count() -> int:
    """Cores this process may use (its affinity mask, e.g. a container's or a job's share)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m ambient_bench.run",
        description="Reproduce a suite's table: datagen -> (annotate) -> train sweeps -> select on "
                    "validation -> train final seeds -> evaluate on test -> report.",
    )
    p.add_argument("--suite", help=f"suite name or path to a suite YAML ({', '.join(suite_names())})")
    p.add_argument("--preset", default="quick", help=f"size preset: {', '.join(PRESETS)} (default: quick)")
    p.add_argument("--baselines", help="comma-separated table entries to run (default: all of the suite's); "
                                       "a registered baseline the suite does not list runs with its defaults")
    p.add_argument("--seeds", type=positive_int, help="training seeds per selected configuration (overrides final_seeds)")
    p.add_argument("--out", type=Path, default=Path("runs"),
                   help="output root (default: runs/, git-ignored; --out results rewrites the committed reference)")
    p.add_argument("--workers", type=positive_int, default=cpu_count(),
                   help=f"local worker processes, or the CPUs of a local Ray instance (default: the number "
                        f"of cores, here {cpu_count()})")
    p.add_argument("--executor", choices=EXECUTORS,
                   help="local: one job at a time in this process; pool: --workers local processes; ray: one "
                        "Ray task per job (needs the ray extra) (default: pool if --workers > 1, else local)")
    p.add_argument("--ray-address", help="join a running Ray cluster: auto or HOST:PORT "
                   "(default: start a local Ray instance of --workers CPUs)")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch threads per job (default: 1; part of every run's key, since it can change results)")
    p.add_argument("--device", default="cpu",
                   help="where policies train and run: cpu, cuda or cuda:N (default: cpu; a non-CPU device is "
                        "part of every run's key); batches, noise and simulation stay on the CPU")
    p.add_argument("--stage", default="all", choices=STAGES,
                   help="run the pipeline up to and including this stage (default: all)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a suite config value, e.g. --set train.steps=500 (repeatable)")
    p.add_argument("--list", action="store_true", help="list suites, each suite's presets and the registered baselines, then exit")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    return p


def configure_logging(verbose: bool) -> None:
    """Our INFO lines (DEBUG with -v); other libraries only from WARNING up, Drake's INFO with -v."""
    logs.configure(logging.DEBUG if verbose else logging.INFO)
    import pydrake.common  # noqa: F401  (importing pydrake sets its logger to INFO: set it afterwards)

    logging.getLogger("drake").setLevel(logging.INFO if verbose else logging.WARNING)


def list_names() -> None:
    print("suites:    " + ", ".join(suite_names()))
    print("presets:   " + "; ".join(f"{name}: {', '.join(preset_names(name))}" for name in suite_names()))
    print("baselines: " + ", ".join(BASELINES.names()))
    sys.stdout.flush()  # a closed pipe shows here, inside main's handler, not at exit


def ray_installed() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def make_job_executor(args: argparse.Namespace, suite: SuiteConfig) -> Executor:
    """The executor the flags ask for; ConfigError for flags that do not fit together."""
    name = args.executor or ("pool" if args.workers > 1 else "local")
    if name != "ray":
        if args.ray_address:
            raise ConfigError("--ray-address needs --executor ray")
        return make_executor(1 if name == "local" else args.workers, not args.no_progress)
    if not ray_installed():
        raise ConfigError(RAY_MISSING)
    from ..jobs.ray_executor import RayExecutor, task_resources

    return RayExecutor(args.ray_address, None if args.ray_address else args.workers,
                       task_resources(suite.resources), progress=not args.no_progress)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        return run(args, argv)
    except BrokenPipeError:  # e.g. `--list | head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE  # what a shell reports for a writer its reader left


def check_device(device: str) -> str | None:
    """Why ``device`` cannot run policies here (None if it can): a typo or a missing GPU."""
    if device == "cpu":
        return None
    kind, _, index = device.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        return f"--device: {device!r} is not cpu, cuda or cuda:N"
    if not torch.cuda.is_available():
        return f"--device {device}: torch {torch.__version__} sees no CUDA device here; use --device cpu"
    if index and int(index) >= torch.cuda.device_count():
        return f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)"
    return None


def check_out(out: Path) -> str | None:
    """Why ``out`` cannot hold the run's outputs (None if it can): it, or the nearest of its
    parents that exists, is not a directory this user may write into. Nothing is created,
    so a bad input leaves nothing behind."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == out else f"cannot be created: {existing} is a file"
        return f"--out {out} {what}; pass a directory (it is created if missing)"
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "" if existing == out else f" cannot be created: {existing}"
        return f"--out {out}{what} is not writable by this user; pass a directory you may write into"
    return None


def fail(message: str, verbose: bool) -> int:
    if verbose and sys.exc_info()[0] is not None:
        traceback.print_exc()
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def config_overrides(args: argparse.Namespace) -> list[str]:
    """The suite overrides the flags give: every --set, then --seeds as ``final_seeds``."""
    return list(args.overrides) + ([f"final_seeds={args.seeds}"] if args.seeds else [])


def run(args: argparse.Namespace, argv: list[str]) -> int:
    if args.list:
        list_names()
        return 0
    if not args.suite:
        return fail("--suite is required; valid suites: " + ", ".join(suite_names()), args.verbose)
    flag_error = check_device(args.device) or check_out(args.out.resolve())
    if flag_error:
        return fail(flag_error, args.verbose)
    torch.set_num_threads(args.threads)
    try:
        suite = load_suite(args.suite, args.preset, config_overrides(args))
        entries = args.baselines.split(",") if args.baselines else None
        runner = Runner(suite, args.preset, args.out.resolve(), args.workers, entries,
                        progress=not args.no_progress, torch_threads=args.threads, device=args.device)
        runner.executor = make_job_executor(args, suite)  # after validation: Ray takes seconds to start
    except (ConfigError, UnknownNameError, ConnectionError) as err:
        return fail(str(err), args.verbose)
    resume = "python -m ambient_bench.run " + " ".join(shlex.quote(a) for a in argv)
    received = [signal.SIGINT]

    def on_sigterm(signum, frame):
        """SIGTERM takes Ctrl-C's path: workers stopped, partial files removed, one line."""
        received[0] = signum
        raise KeyboardInterrupt

    previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)
    start = time.perf_counter()
    try:
        runner.run(args.stage)
    except (ConfigError, DatasetError) as err:
        regenerate = f"; to regenerate it: rm -r {shlex.quote(str(err.directory))} && {resume}" \
            if getattr(err, "directory", None) else ""
        return fail(f"{err}{regenerate}", args.verbose)
    except (OSError, JobLostError) as err:  # a full disk, a worker that kept dying: the same command resumes
        if args.verbose:
            traceback.print_exc()
        remove_temp_files(runner.root)
        print(f"error: {err}; finished outputs are kept in {runner.root}; resume with: {resume}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Interrupted) as err:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        remove_temp_files(runner.root)
        where = f" during {err}" if isinstance(err, Interrupted) else ""
        print(f"interrupted{where}; finished outputs are kept in {runner.root}; resume with: {resume}",
              file=sys.stderr)
        return 128 + received[0]
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
    log.info("%s/%s stage %s done in %.1f s; outputs in %s", suite.name, args.preset, args.stage,
             time.perf_counter() - start, runner.root)
    return 0
